"""docs/reproduction.md, amendment 10: the 64-segment round's qa1 table from the evaluations on disk (seed 0 from
amendment 9, seed 1 and full attention from this amendment), with round 2's rows (trained to 16 segments) beside,
each cell the mean of two seeds with a 95 % Wilson interval over their answers pooled, and the issue's targets.
Usage: python results/reproduction/amendment10/table.py (after every run of run.sh has been evaluated)"""

import json
from pathlib import Path

from lm2.evaluation.study import wilson

HERE = Path(__file__).resolve().parent
A7, A9, A11 = HERE.parent / "amendment7", HERE.parent / "amendment9", HERE.parent / "amendment11"
A13, A14, A15 = HERE.parent / "amendment13", HERE.parent / "amendment14", HERE.parent / "amendment15"
A16, A17 = HERE.parent / "amendment16", HERE.parent / "amendment17"
R2 = HERE.parent / "round2" / "eval" / "qa1"
LENGTHS = ("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k")
ROWS = {  # row: (label, evaluation folder per seed)
    "lm2-64": ("`lm2`, alive writes (no price), 64 segments", [A9 / "eval-L", HERE / "eval-L1"]),
    # amendment 11b: the same with the gated read (memory_read_center="gated") from round 2's recipe on
    "lm2-gated-64": ("`lm2`, alive writes, gated read, 64 segments", [A11 / "eval-LG0", A11 / "eval-LG1"]),
    # amendment 13: writes addressed by key of the token's own content (memory_write="addressed", candidate "input")
    "lm2-addressed-64": ("`lm2`, alive writes addressed by key, 64 segments", [A13 / "eval-LA0", A13 / "eval-LA1"]),
    # amendment 14: the same by the normalised delta rule (memory_write="delta", docs/memory.md stage 31)
    "lm2-delta-64": ("`lm2`, alive writes by the delta rule, 64 segments", [A14 / "eval-LD0", A14 / "eval-LD1"]),
    # amendment 15: the same with the bank clipped to [-1, 1] (memory_row_clip, stage 32): trained so, and amendment
    # 14's models with the clip at evaluation only (16k-64k)
    "lm2-delta-clip-64": ("`lm2`, delta write, bank clipped, 64 segments", [A15 / "eval-LC0", A15 / "eval-LC1"]),
    "lm2-delta-clip-test": ("`lm2`, delta write, clipped at evaluation only", [A15 / "eval-TC0", A15 / "eval-TC1"]),
    # amendment 16: the delta write addressed by content with a key strength (memory_address="cosine", stage 33)
    "lm2-delta-cosine-64": ("`lm2`, delta write, cosine address, 64 segments", [A16 / "eval-LK0", A16 / "eval-LK1"]),
    # amendment 17: amendment 14's and 16's (G) models with the write price in the 500 steps on 1..64 segments only
    "lm2-delta-price-64": ("`lm2`, delta write, priced on 64 segments", [A17 / "eval-LW0", A17 / "eval-LW1"]),
    "lm2-delta-cosine-price-64": (
        "`lm2`, delta write, cosine address, priced on 64 segments", [A17 / "eval-LWK0", A17 / "eval-LWK1"]),
    # amendment 17b: amendment 14's (LD) with every input gate's bias lowered by δ at test time (nothing trained)
    **{f"lm2-delta-edge-{d}": (f"`lm2`, delta write, gate biases −{d} at test time",
                               [A17 / f"eval-edge-LD{s}-{d}" for s in (0, 1)]) for d in ("0.25", "0.5", "1.0")},
    "rmt-64": ("`rmt`, 64 segments", [A9 / "eval-L-rmt", HERE / "eval-L-rmt1"]),
    "armt-64": ("`armt`, 64 segments", [A9 / "eval-L-armt", HERE / "eval-L-armt1"]),
    # (V1) was stopped at step 271 and finished in the next session (docs/reproduction.md, "How the queue ended")
    "vanilla-64": ("`vanilla`, 64 segments", [HERE / "eval-V0", HERE / "eval-V1"]),
    # seed 1 ran in amendment 12a (amendment 10b's run, withdrawn in this amendment's session)
    "lm2-paper-64": ("`lm2-paper`, 64 segments", [A9 / "eval-L-lm2-paper", HERE / "eval-L-lm2-paper1"]),
    "lm2-alive-16": ("`lm2`, alive writes, 16 segments ((G), (G1))", [A7 / "eval-G", HERE / "eval-G1"]),
    **{f"{m}-16": (f"`{m}`, round 2 (16 segments)", [R2 / f"{m}-seed{s}" for s in (0, 1)])
       for m in ("lm2", "lm2-paper", "rmt", "armt", "vanilla")},
}  # fmt: skip


def cells(folder: Path) -> dict:
    """The folder's qa1 cells, with the longer cells (eval-far-<R>/ beside it or, for amendment 9's runs, beside
    this file) added."""
    out, far = {}, folder.name.replace("eval-", "eval-far-", 1)
    for f in (folder, folder.parent / far, HERE / far):
        if (f / "results.json").is_file():
            out.update(json.loads((f / "results.json").read_text())["cells"]["qa1"])
    return out


def row(folders: list[Path]) -> dict:
    """Per length: mean accuracy (%), its interval over the pooled answers, and each seed's %; None where missing."""
    out, seeds = {}, [cells(f) for f in folders]
    for length in LENGTHS:
        got = [c for c in (seed.get(length) for seed in seeds) if c and c.get("status") == "done"]
        if len(got) < len(folders):
            out[length] = None
            continue
        right = sum(round(c["accuracy"] * c["samples"]) for c in got)
        n = sum(c["samples"] for c in got)
        low, high = wilson(right, n)
        out[length] = (100 * right / n, 100 * low, 100 * high, [round(100 * c["accuracy"]) for c in got])
    return out


table = {key: row(folders) for key, (_, folders) in ROWS.items()}


def far_mean(key: str) -> float | None:
    """The issue's target measure: the mean over 4k, 8k and 16k; None where a cell is missing."""
    r = table[key]
    return sum(r[x][0] for x in ("4k", "8k", "16k")) / 3 if all(r[x] for x in ("4k", "8k", "16k")) else None


print("| model | " + " | ".join(LENGTHS) + " | mean 4k-16k |")
print("|---|" + "---:|" * (len(LENGTHS) + 1))
for key, (label, _) in ROWS.items():
    text = [
        f"{c[0]:.1f} [{c[1]:.0f}–{c[2]:.0f}] ({' / '.join(map(str, c[3]))})" if c else "—" for c in table[key].values()
    ]
    mean = far_mean(key)
    print(f"| {label} | " + " | ".join(text) + f" | {'—' if mean is None else f'{mean:.1f}'} |")
print("(each cell: the mean of the seeds, %, [95 % Wilson interval over their answers pooled] (each seed's %))")


lm2, rmt, full = far_mean("lm2-64"), far_mean("rmt-64"), far_mean("vanilla-64")
if None not in (lm2, rmt, full):
    at16 = table["lm2-64"]["16k"][0]
    print(
        f"\ntargets (64 segments, two seeds): LM2 / RMT = {lm2:.1f} / {rmt:.1f} = {lm2 / rmt:.2f}x (>= 1.3); "
        f"LM2 / full attention = {lm2:.1f} / {full:.1f} = {lm2 / full:.2f}x (>= 1.5); "
        f"LM2 at 16k {at16:.1f} % (>= 90)"
    )


def candidate(key: str, label: str, above: float | None) -> None:
    """A later LM2 row against the targets, with its amendment's rule: the study's LM2 row only if its mean over
    4k-16k is at least 10 points above `above` and its 0k at most 5 points below amendment 10's LM2."""
    mean = far_mean(key)
    if None in (mean, above, rmt, full):
        return
    print(
        f"{label}; the study's LM2 row only if >= {above + 10:.1f} over 4k-16k and >= "
        f"{table['lm2-64']['0k'][0] - 5:.1f} at 0k): {mean:.1f} over 4k-16k, {table[key]['0k'][0]:.1f} at 0k; "
        f"LM2 / RMT = {mean / rmt:.2f}x, LM2 / full attention = {mean / full:.2f}x, "
        f"LM2 at 16k {table[key]['16k'][0]:.1f} %"
    )


candidate("lm2-gated-64", "gated read (amendment 11b", lm2)
candidate("lm2-addressed-64", "addressed write (amendment 13", far_mean("lm2-gated-64"))
candidate("lm2-delta-64", "delta write (amendment 14", far_mean("lm2-gated-64"))
candidate("lm2-delta-clip-64", "delta write, bank clipped (amendment 15", far_mean("lm2-delta-64"))
candidate("lm2-delta-cosine-64", "delta write, cosine address (amendment 16", far_mean("lm2-delta-64"))
candidate("lm2-delta-price-64", "delta write, priced on 64 segments (amendment 17", far_mean("lm2-delta-64"))
candidate("lm2-delta-cosine-price-64", "cosine address, priced on 64 segments (amendment 17", far_mean("lm2-delta-64"))


def mean_over(key: str, lengths: tuple[str, ...]) -> float | None:
    """The mean of a row's cells over `lengths`; None where one is missing."""
    got = [table[key][x] for x in lengths]
    return sum(c[0] for c in got) / len(got) if all(got) else None


FAR = ("8k", "16k", "32k", "64k")
for amendment, key, lengths, bar, base in (
    (15, "lm2-delta-clip-64", FAR, "LC, the hypothesis", "lm2-delta-64"),
    (15, "lm2-delta-clip-test", ("16k", "32k", "64k"), "TC, the clip at evaluation only", "lm2-delta-64"),
    (16, "lm2-delta-cosine-64", FAR, "LK, far facts with a sharper address", "lm2-delta-64"),
    (17, "lm2-delta-price-64", FAR, "LW, far facts when fewer are written", "lm2-delta-64"),
    (17, "lm2-delta-cosine-price-64", FAR, "LWK, the same with the cosine address", "lm2-delta-cosine-64"),
    *(("17b", f"lm2-delta-edge-{d}", FAR, f"(LD), gate biases -{d}", "lm2-delta-64") for d in ("0.25", "0.5", "1.0")),
):
    changed, free = mean_over(key, lengths), mean_over(base, lengths)
    if None not in (changed, free):
        print(
            f"amendment {amendment}, {bar}: mean over {'-'.join((lengths[0], lengths[-1]))} {changed:.1f} against "
            f"{base}'s {free:.1f} ({changed - free:+.1f} points; the rule reads +-5)"
        )


def verdict(a: str, b: str) -> str:
    """Per length, a against b by the study's rule: a tie when each mean lies inside the other's interval."""
    out = []
    for length in LENGTHS:
        x, y = table[a][length], table[b][length]
        if not (x and y):
            continue
        tie = y[1] <= x[0] <= y[2] and x[1] <= y[0] <= x[2]
        out.append(f"{length} {'=' if tie else '>' if x[0] > y[0] else '<'}")
    return ", ".join(out)


PAIRS = (("lm2-64", "rmt-64"), ("lm2-64", "vanilla-64"), ("rmt-64", "vanilla-64"), ("armt-64", "rmt-64"))
GATED = (("lm2-gated-64", "lm2-64"), ("lm2-gated-64", "rmt-64"), ("lm2-gated-64", "vanilla-64"))  # amendment 11b
ADDRESSED = (("lm2-addressed-64", "lm2-gated-64"), ("lm2-addressed-64", "rmt-64"), ("lm2-addressed-64", "vanilla-64"),
             ("lm2-addressed-64", "armt-64"))  # amendment 13  # fmt: skip
DELTA = (("lm2-delta-64", "lm2-gated-64"), ("lm2-delta-64", "lm2-addressed-64"), ("lm2-delta-64", "rmt-64"),
         ("lm2-delta-64", "vanilla-64"), ("lm2-delta-64", "armt-64"))  # amendment 14  # fmt: skip
CLIP = (("lm2-delta-clip-64", "lm2-delta-64"), ("lm2-delta-clip-64", "rmt-64"), ("lm2-delta-clip-64", "vanilla-64"),
        ("lm2-delta-clip-64", "armt-64"), ("lm2-delta-clip-test", "lm2-delta-64"))  # amendment 15  # fmt: skip
COSINE = (("lm2-delta-cosine-64", "lm2-delta-64"), ("lm2-delta-cosine-64", "rmt-64"),
          ("lm2-delta-cosine-64", "vanilla-64"), ("lm2-delta-cosine-64", "armt-64"))  # amendment 16  # fmt: skip
# amendment 17
PRICE = (("lm2-delta-price-64", "lm2-delta-64"), ("lm2-delta-cosine-price-64", "lm2-delta-cosine-64"),
         ("lm2-delta-price-64", "rmt-64"), ("lm2-delta-price-64", "vanilla-64"),
         ("lm2-delta-cosine-price-64", "rmt-64"), ("lm2-delta-cosine-price-64", "vanilla-64"))  # fmt: skip
EDGE = tuple((f"lm2-delta-edge-{d}", "lm2-delta-64") for d in ("0.25", "0.5", "1.0"))  # amendment 17b
for a, b in PAIRS + GATED + ADDRESSED + DELTA + CLIP + COSINE + PRICE + EDGE:
    if found := verdict(a, b):
        print(f"{a} against {b}: {found}")
