"""docs/reproduction.md, amendment 29: the rows at amendment 23's budget in the paper's layout (0k-64k). Each row pools
its seeds' questions (amendment 23's cells at 0k-16k, amendment 29's at 2k, 32k and 64k, amendment 31's full-attention
cells at 32k and 64k); a cell not (yet) evaluated for every seed of its row is left empty. Then the tie rule at 2k,
32k and 64k between LM2 (two seeds pooled) and the others, and each seed's new cells with its accuracy on the questions
whose answer is not the latest fact's place.
Usage: python results/reproduction/amendment29/table.py"""

import json
from pathlib import Path

from lm2.evaluation.study import interval_order, pooled_accuracy

R = Path(__file__).resolve().parent.parent
ROWS = {  # row: its runs (seeds)
    "`lm2`, the delta write": ("XLBL0", "XLBL1"),
    "`lm2`, the delta write taken in order": ("XLBQ0", "XLBQ1"),
    "`armt`": ("XLBA0", "XLBA1"),
    "`rmt`": ("XLBR0", "XLBR1"),
    "`vanilla` (full attention, seed 0)": ("XLBV0",),
    "`vanilla` (full attention, two seeds; amendment 30)": ("XLBV0", "XLBV1"),
}
LENGTHS = ("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k")
NEW = ("2k", "32k", "64k")
LM2 = "`lm2`, the delta write"
READ = [(LM2, row) for row in ROWS if row != LM2] + [  # amendment 31: the claim's RMT > vanilla past 16k
    ("`rmt`", "`vanilla` (full attention, seed 0)"),
    ("`rmt`", "`vanilla` (full attention, two seeds; amendment 30)"),
]


FOLDERS = ("amendment23", "amendment29", "amendment31")  # where a run's cells are: 0k-16k; 2k, 32k, 64k; 32k, 64k


def pooled(runs: tuple[str, ...]) -> dict | None:
    """Accuracy and 95 % interval per length over the runs' questions together, at the lengths every run has scored;
    None while a run has no amendment 23 results."""
    if not all((R / "amendment23" / f"eval-{name}" / "results.json").is_file() for name in runs):
        return None
    paths = {name: [p for f in FOLDERS if (p := R / f / f"eval-{name}" / "results.json").is_file()] for name in runs}
    common = set.intersection(*(set(pooled_accuracy(found)) for found in paths.values()))  # lengths each run scored
    table = pooled_accuracy([p for found in paths.values() for p in found])
    return {n: cell for n, cell in table.items() if n in common}


def main() -> None:
    print("| model (seeds pooled) | " + " | ".join(LENGTHS) + " | 4k–16k |")
    print("|---|" + "---:|" * (len(LENGTHS) + 1))
    tables = {row: pooled(runs) for row, runs in ROWS.items()}
    for row, table in tables.items():
        if table is None:
            print(f"| {row} | not evaluated |")
            continue
        cells = [f"{100 * table[n][0]:.1f} [{100 * table[n][1]:.0f}, {100 * table[n][2]:.0f}]" if n in table else ""
                 for n in LENGTHS]  # fmt: skip
        far = sum(100 * table[n][0] for n in ("4k", "8k", "16k")) / 3
        print(f"| {row} ({', '.join(ROWS[row])}) | " + " | ".join(cells) + f" | {far:.1f} |")
    for read, row in READ:
        first, table = tables[read], tables[row]
        if first is None or table is None:
            continue
        signs = [f"{n} {100 * first[n][0]:.1f} {interval_order(first[n], table[n])} {100 * table[n][0]:.1f}"
                 for n in NEW if n in first and n in table]  # fmt: skip
        print(f"{read} against {row}: {'; '.join(signs) or 'no common new length'}")
    for name in dict.fromkeys(name for runs in ROWS.values() for name in runs):  # a run in two rows prints once
        for folder in FOLDERS[1:]:  # the cells past amendment 23's lengths
            path = R / folder / f"eval-{name}" / "results.json"
            if path.is_file():
                cells = json.loads(path.read_text())["cells"]["qa1"].items()
                wrong = {n: c["latest_fact_wrong"] for n, c in cells}
                shown = (f"{n} {100 * c['accuracy']:.1f} (latest fact wrong: {100 * wrong[n]['accuracy']:.1f} of "
                         f"{wrong[n]['samples']})" for n, c in cells)  # fmt: skip
                print(f"{name} ({folder}): " + "; ".join(shown))


if __name__ == "__main__":
    main()
