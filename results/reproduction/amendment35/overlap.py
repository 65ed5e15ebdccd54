"""docs/reproduction.md, amendment 35's motive: are the qa1 test questions a run misses at 16k the ones it misses at
shorter lengths? Every length of a run's `lm2 eval` asks the same 100 questions (evaluation seed 0; checked here), so
the overlap of the wrong answers at 16k with those at each shorter length is read beside what independent errors
would share (wrong at 16k x wrong there / 100).
Usage: python results/reproduction/amendment35/overlap.py [FOLDER RUN ...]   (default: amendment 23's XLBL0, XLBL1)"""

import csv
import sys
from pathlib import Path

R = Path(__file__).resolve().parent.parent
SHORTER = ("0k", "1k", "4k", "8k")


def answers(folder: Path, length: str) -> list[tuple[str, str, bool]]:
    with open(folder / f"qa1_{length}_instruction_no_examples_no_post_prompt_no.csv", newline="") as f:
        return [(row["question"], row["target"], row["target"] == row["output"]) for row in csv.DictReader(f)]


def main(args: list[str]) -> None:
    if len(args) % 2:
        raise SystemExit(f"arguments={args}: expected pairs of FOLDER RUN (e.g. amendment23 XLBL0)")
    pairs = list(zip(args[::2], args[1::2], strict=True)) or [("amendment23", "XLBL0"), ("amendment23", "XLBL1")]
    totals = {length: [0, 0.0, 0] for length in SHORTER}  # shared, independent, wrong there
    wrong_far_total = 0
    for folder, run in pairs:
        path = R / folder / f"eval-{run}"
        far = answers(path, "16k")
        wrong_far = {i for i, (_, _, right) in enumerate(far) if not right}
        wrong_far_total += len(wrong_far)
        for length in SHORTER:
            near = answers(path, length)
            if [q[:2] for q in near] != [q[:2] for q in far]:
                raise SystemExit(f"{path}: the questions at {length} are not those at 16k")
            wrong = {i for i, (_, _, right) in enumerate(near) if not right}
            shared = len(wrong & wrong_far)
            totals[length][0] += shared
            totals[length][1] += len(wrong) * len(wrong_far) / len(far)
            totals[length][2] += len(wrong)
            print(f"{run}: wrong at 16k {len(wrong_far)}, at {length} {len(wrong)}, both {shared} "
                  f"(independent errors: {len(wrong) * len(wrong_far) / len(far):.1f})")  # fmt: skip
    names = ", ".join(run for _, run in pairs)
    for length, (shared, independent, wrong) in totals.items():
        print(f"{names}: of {wrong_far_total} wrong at 16k, {shared} also wrong at {length} (of {wrong} wrong there; "
              f"independent errors: {independent:.1f})")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
