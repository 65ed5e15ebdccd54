"""docs/reproduction.md, amendment 17: did the price limit the writes? Per priced model and memory block, the mean
input gate over all (token, head) writes (amendment 15c's `addresses.py`: the share of writes open times the open
gates' mean) against its unpriced model's ((LD<s>) for (LW<s>), (LK<s>) for (LWK<s>)), and the rule fixed before the
runs: the price limited a pair's writes if the ratio is at most 0.5 in both blocks on both seeds.
Usage: python results/reproduction/amendment17/writes.py (after `run.sh addr`)"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
A14, A15, A16 = (HERE.parent / f"amendment{n}" for n in (14, 15, 16))


def load(path: Path) -> dict[str, dict]:
    """addresses.py's JSON, keyed by the run's folder name (run-LD0, ...)."""
    return {Path(model).parent.name: blocks for model, blocks in json.loads(path.read_text()).items()}


found = {
    **load(A15 / "addresses-LD0.json"),
    **load(A15 / "addresses-LD1.json"),
    **load(A16 / "addresses-LK.json"),
    **load(HERE / "addresses.json"),
}
print("| priced run | unpriced run | mean input gate, block 0 / 1 | unpriced | ratio | limited (<= 0.5 in both) |")
print("|---|---|---|---|---|---|")
pairs = {"LW": "LD", "LWK": "LK"}
for priced, free in pairs.items():
    verdicts = []
    for seed in (0, 1):
        a, b = found[f"run-{priced}{seed}"], found[f"run-{free}{seed}"]
        mean = [a[k]["writes_open"] * a[k]["gate_mean_open"] for k in ("0", "1")]
        base = [b[k]["writes_open"] * b[k]["gate_mean_open"] for k in ("0", "1")]
        ratio = [x / y for x, y in zip(mean, base, strict=True)]
        limited = all(r <= 0.5 for r in ratio)
        verdicts.append(limited)
        print(
            f"| ({priced}{seed}) | ({free}{seed}) | {mean[0]:.4f} / {mean[1]:.4f} | {base[0]:.4f} / {base[1]:.4f} | "
            f"{ratio[0]:.2f} / {ratio[1]:.2f} | {'yes' if limited else 'no'} |"
        )
    tested = "tests" if all(verdicts) else "does not test"
    print(f"\n({priced}) {tested} the question (both seeds limited: {verdicts})\n")
