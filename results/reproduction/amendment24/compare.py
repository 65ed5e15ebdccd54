"""docs/reproduction.md, amendments 23 to 28: runs against the runs they are read beside, by the study's tie rule at
each length (a tie when each accuracy lies inside the other's 95 % Wilson interval; a group of runs pools its
questions), with the means over 4k, 8k and 16k and their ratio (LM2 to RMT or ARMT where the pair is one). A run
not (yet) evaluated is said so. A run's folder follows from its name: B... amendment 20, L... 21, X... 23, Y... 33,
Z... 34, D... 36.
Usage: python results/reproduction/amendment24/compare.py"""

from pathlib import Path

from lm2.evaluation.study import interval_order, pooled_accuracy

R = Path(__file__).resolve().parent.parent
FOLDERS = {
    "B": "amendment20", "L": "amendment21", "X": "amendment23", "Y": "amendment33", "Z": "amendment34",
    "D": "amendment36",
}  # fmt: skip
PAIRS = [  # (runs read, runs read beside)
    ("BK0", "BL0"),  # 24: keys of the rows' own against the dot address, amendment 20's recipe
    ("LBK0", "LBL0"),  # 24: the same after amendment 21's 500 steps
    ("LBK0", "LBA0"),  # 24: against ARMT's and RMT's seed 0
    ("LBK0", "LBR0"),
    ("LBK1", "LBL1"),  # 24b: seed 1
    ("LBK0,LBK1", "LBL0,LBL1"),  # 24b: two seeds pooled
    ("XLBL0", "LBL0"),  # 23: 1,000 more steps on 64 segments, LM2
    ("XLBL0", "LBA1"),  # 23: against ARMT after 500 (an unequal budget)
    ("XLBL0", "LBA0,LBA1"),
    ("XLBR0", "LBR0"),  # 23: the same, RMT
    ("XLBL0", "XLBR0"),
    ("XLBL1", "LBL1"),  # 25: LM2's seed 1 at amendment 23's budget
    ("XLBL0,XLBL1", "LBL0,LBL1"),
    ("XLBL0,XLBL1", "XLBR0"),
    ("XLBA0", "LBA0"),  # 25: ARMT at amendment 23's budget
    ("XLBL0,XLBL1", "XLBA0"),
    ("XLBR1", "LBR1"),  # 25b: RMT's and ARMT's seed 1 at amendment 23's budget
    ("XLBA1", "LBA1"),
    ("XLBL0,XLBL1", "XLBR0,XLBR1"),
    ("XLBL0,XLBL1", "XLBA0,XLBA1"),
    ("LBL0,LBL1", "LBV0"),  # 26: full attention at amendment 21's budget, then at amendment 23's
    ("LBR0,LBR1", "LBV0"),
    ("LBV0", "BV0"),
    ("XLBL0,XLBL1", "XLBV0"),
    ("XLBR0,XLBR1", "XLBV0"),
    ("XLBV0", "LBV0"),
    ("XLBK0", "XLBL0"),  # 26b: keys of the rows' own at amendment 23's budget
    ("XLBK0", "LBK0"),
    ("LBQ0", "LBL0"),  # 28: the ordered write after amendment 21's steps, then after amendment 23's
    ("LBQ1", "LBL1"),
    ("LBQ0,LBQ1", "LBL0,LBL1"),
    ("LBQ0,LBQ1", "LBR0,LBR1"),  # read beside the other models at amendment 21's budget
    ("LBQ0,LBQ1", "LBA0,LBA1"),
    ("LBQ0,LBQ1", "LBV0"),
    ("XLBQ0", "XLBL0"),
    ("XLBQ1", "XLBL1"),
    ("XLBQ0,XLBQ1", "XLBL0,XLBL1"),
    ("XLBQ0,XLBQ1", "XLBR0,XLBR1"),
    ("XLBQ0,XLBQ1", "XLBV0"),
    ("LBV1", "BV1"),  # 30: full attention's seed 1, at amendment 21's budget, then at amendment 23's
    ("LBL0,LBL1", "LBV0,LBV1"),
    ("LBQ0,LBQ1", "LBV0,LBV1"),
    ("LBR0,LBR1", "LBV0,LBV1"),
    ("XLBV1", "LBV1"),
    ("XLBL0,XLBL1", "XLBV0,XLBV1"),
    ("XLBQ0,XLBQ1", "XLBV0,XLBV1"),
    ("XLBR0,XLBR1", "XLBV0,XLBV1"),
    ("YLBL0", "XLBL0"),  # 33: the study's LM2 given amendment 23's steps again
    ("ZLBL0", "YLBL0"),  # 34: the same tokens on inputs of up to 128 segments, against 33 and against its start
    ("ZLBL0", "XLBL0"),
    ("DBL0", "BL0"),  # 36: the study's chain at twice the depth, against the study's at each budget, seed by seed
    ("DBL1", "BL1"),
    ("DBL0,DBL1", "BL0,BL1"),
    ("DLBL0", "LBL0"),
    ("DLBL1", "LBL1"),
    ("DLBL0,DLBL1", "LBL0,LBL1"),
    ("DXLBL0", "XLBL0"),
    ("DXLBL1", "XLBL1"),
    ("DXLBL0,DXLBL1", "XLBL0,XLBL1"),
    ("LBL0", "LBR0"),  # read beside: amendment 21's seed-0 pair; 24's keys against RMT's seeds; 24 after recipe 20
    ("LBK0", "LBR0,LBR1"),
    ("LBK0,LBK1", "LBR0,LBR1"),
    ("BK0", "BR0"),
]
LENGTHS = ("0k", "1k", "4k", "8k", "16k")
FAR = ("4k", "8k", "16k")  # the targets average these


def cells(runs: str) -> dict | None:
    """The pooled cells of comma-separated runs; None when one of them has no evaluation yet."""
    paths = [R / FOLDERS[name[0]] / f"eval-{name}" / "results.json" for name in runs.split(",")]
    return pooled_accuracy(paths) if all(path.is_file() for path in paths) else None


def far_mean(table: dict) -> float:
    return 100 * sum(table[length][0] for length in FAR) / len(FAR)


def main() -> None:
    for runs, beside in PAIRS:
        a, b = cells(runs), cells(beside)
        if a is None or b is None:
            print(f"{runs} against {beside}: not run yet")
            continue
        signs = ", ".join(f"{length} {100 * a[length][0]:.1f} {interval_order(a[length], b[length])} "
                          f"{100 * b[length][0]:.1f}" for length in LENGTHS)  # fmt: skip
        print(f"{runs} against {beside}: {signs}; 4k-16k {far_mean(a):.1f} against {far_mean(b):.1f} "
              f"({far_mean(a) / far_mean(b):.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
