"""docs/reproduction.md, amendment 22c: every row of amendment 20's recipe against (BS0), `vanilla-segmented` (one
segment's span, no memory), by the study's tie rule: at each length a tie when each accuracy lies inside the other's
95 % Wilson interval; a row of two seeds pools their questions (200) for its accuracy and interval.
Usage: python results/reproduction/amendment20/ties.py"""

import json
from pathlib import Path

from lm2.evaluation.study import wilson

FOLDER = Path(__file__).parent
ROWS = {
    "lm2, the delta write": ["BL0", "BL1"],
    "rmt": ["BR0", "BR1"],
    "armt": ["BA0", "BA1"],
    "lm2, the library's default": ["BD0"],
    "lm2-paper": ["BP0"],
    "vanilla": ["BV0", "BV1"],
}
LENGTHS = ("0k", "1k", "4k", "8k", "16k")


def pooled(names: list[str]) -> dict[str, tuple[float, float, float]]:
    """Accuracy and 95 % interval per length over the runs' questions together."""
    counts: dict[str, list[float]] = {}
    for name in names:
        for length, cell in json.loads((FOLDER / f"eval-{name}" / "results.json").read_text())["cells"]["qa1"].items():
            right_total = counts.setdefault(length, [0.0, 0.0])
            right_total[0] += cell["accuracy"] * cell["samples"]
            right_total[1] += cell["samples"]
    return {length: (right / total, *wilson(right, total)) for length, (right, total) in counts.items()}


def main() -> None:
    base = pooled(["BS0"])
    for row, names in ROWS.items():
        cells = pooled(names)
        out = []
        for length in LENGTHS:
            (a, a_low, a_high), (b, b_low, b_high) = cells[length], base[length]
            tie = b_low <= a <= b_high and a_low <= b <= a_high
            sign = "=" if tie else ">" if a > b else "<"
            out.append(f"{length} {100 * a:.1f} [{100 * a_low:.0f}, {100 * a_high:.0f}] {sign} {100 * b:.1f}")
        print(f"{row} ({', '.join(names)}) against (BS0): " + "; ".join(out))


if __name__ == "__main__":
    main()
