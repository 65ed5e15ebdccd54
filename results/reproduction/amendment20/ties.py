"""docs/reproduction.md, amendments 20-24: the summary table "qa1 from (VS0)'s backbone". Each row pools its seeds'
questions (100 per seed and cell) into one accuracy and 95 % Wilson interval per length, and prints the mean over 4k,
8k and 16k (a seed not evaluated yet is left out: the row names the runs it pools); then the ratios to RMT and full
attention of LM2 with the delta write and with keys of the rows' own (amendment 24), and, for amendment 20's recipe,
every row against (BS0), `vanilla-segmented` (one segment's span, no memory), by the study's tie rule: at each length
a tie when each accuracy lies inside the other's interval.
Usage: python results/reproduction/amendment20/ties.py"""

from pathlib import Path

from lm2.evaluation.study import interval_order, pooled_accuracy

HERE = Path(__file__).parent
RECIPES = {  # recipe: (folder, {row: runs})
    "20 + 21": (HERE.parent / "amendment21", {
        "lm2": ["LBL0", "LBL1"], "rmt": ["LBR0", "LBR1"], "armt": ["LBA0", "LBA1"],
        "lm2 (keys of the rows' own)": ["LBK0", "LBK1"],
    }),
    "20": (HERE, {
        "lm2": ["BL0", "BL1"], "rmt": ["BR0", "BR1"], "armt": ["BA0", "BA1"], "lm2 (library default)": ["BD0"],
        "lm2-paper": ["BP0"], "vanilla": ["BV0", "BV1"], "vanilla-segmented": ["BS0"],
        "lm2 (keys of the rows' own)": ["BK0", "BK1"],
    }),
}  # fmt: skip
LENGTHS = ("0k", "1k", "4k", "8k", "16k")
FAR = ("4k", "8k", "16k")  # the targets average these


def main() -> None:
    for recipe, (folder, rows) in RECIPES.items():
        done = {
            row: [n for n in names if (folder / f"eval-{n}" / "results.json").is_file()] for row, names in rows.items()
        }
        rows = {row: names for row, names in done.items() if names}  # runs not evaluated yet are left out, by name
        table = {
            row: pooled_accuracy([folder / f"eval-{name}" / "results.json" for name in names])
            for row, names in rows.items()
        }
        far = {row: 100 * sum(table[row][length][0] for length in FAR) / len(FAR) for row in rows}
        print(f"recipe {recipe}:")
        for row, names in rows.items():
            cells = " | ".join(f"{length} {100 * table[row][length][0]:.1f}" for length in LENGTHS)
            print(f"  {row} ({', '.join(names)}): {cells} | 4k-16k {far[row]:.1f}")
        for lm2 in ("lm2", "lm2 (keys of the rows' own)"):
            for other in ("rmt", "vanilla"):
                if lm2 in far and other in far:
                    print(f"  {lm2} / {other} over 4k-16k: {far[lm2] / far[other]:.2f}")
        if "vanilla-segmented" not in table:
            continue
        base = table["vanilla-segmented"]
        for row in [row for row in rows if row != "vanilla-segmented"]:
            signs = [f"{length} {interval_order(table[row][length], base[length])}" for length in LENGTHS]
            print(f"  {row} against vanilla-segmented: {', '.join(signs)}")


if __name__ == "__main__":
    main()
