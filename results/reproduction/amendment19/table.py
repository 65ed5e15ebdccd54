"""docs/reproduction.md, amendments 19–22b and 32: one row per run — validation at 0k (best, last, the first
evaluation at 70 % or more), then every cell of its test (`eval-<NAME>/`) and, on qa1, its persons test
(`persons-<NAME>/`) with 95 % Wilson intervals and, for the persons test, the share of inputs given more than one
answer.
Usage: python results/reproduction/amendment19/table.py [--task qa2] FOLDER NAME...
(FOLDER: results/reproduction/amendment19, amendment20 or amendment21; amendment32 with --task qa2)"""

import argparse
import json
from pathlib import Path

from lm2.evaluation.study import wilson


def cells(path: Path, task: str) -> str:
    if not path.is_file():
        return "not run"
    out = []
    for length, cell in json.loads(path.read_text())["cells"][task].items():
        n, acc = cell["samples"], cell["accuracy"]
        low, high = wilson(acc * n, n)
        text = f"{length} {100 * acc:.1f} [{100 * low:.0f}, {100 * high:.0f}]"
        if "inputs_with_several_answers" in cell:
            text += f" / {100 * cell['inputs_with_several_answers']:.0f}"
        out.append(text)
    return "; ".join(out)


def main(folder: str, names: list[str], task: str = "qa1") -> None:
    root = Path(folder)
    for name in names:
        rows = [json.loads(line) for line in (root / f"run-{name}" / "metrics.jsonl").read_text().splitlines()]
        evals = [row["eval"] for row in rows if "eval" in row]
        zero = [(e["step"], e["accuracy"][f"{task}/0seg"]) for e in evals if f"{task}/0seg" in e["accuracy"]]
        first = next((step for step, acc in zero if acc >= 0.7), None)
        print(f"{name}: validation at 0k best {100 * max(a for _, a in zero):.1f}, last {100 * zero[-1][1]:.1f} "
              f"(step {zero[-1][0]}), first at >= 70 %: {first if first is not None else 'never'}")  # fmt: skip
        longest = [(e["step"], k, v) for e in evals for k, v in e["accuracy"].items() if k != f"{task}/0seg"]
        if longest:
            step, key, acc = longest[-1]
            print(f"  validation at step {step}, {key}: {100 * acc:.1f}")
        print(f"  test:    {cells(root / f'eval-{name}' / 'results.json', task)}")
        if task == "qa1":  # the persons test asks qa1's question of every person
            print(f"  persons: {cells(root / f'persons-{name}' / 'results.json', task)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="qa1", help="the bAbI task of the runs (default qa1)")
    parser.add_argument("folder")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    main(args.folder, args.names, args.task)
