"""docs/reproduction.md, amendments 23 and 24: each new run against the run it is read beside, by the study's tie rule
at each length (a tie when each accuracy lies inside the other's 95 % Wilson interval), with the mean over 4k, 8k and
16k; then LM2's ratio to RMT over 4k-16k where both runs of a pair exist. A run not (yet) evaluated is said so.
Usage: python results/reproduction/amendment24/compare.py"""

from pathlib import Path

from lm2.evaluation.study import interval_order, pooled_accuracy

R = Path(__file__).resolve().parent.parent
PAIRS = [  # (the run, its folder), (the run it is read beside, its folder)
    (("BK0", "amendment20"), ("BL0", "amendment20")),  # 24: keys of the rows' own against the dot address, recipe 20
    (("LBK0", "amendment21"), ("LBL0", "amendment21")),  # 24: the same after amendment 21's 500 steps
    (("XLBL0", "amendment23"), ("LBL0", "amendment21")),  # 23: 1,000 more steps on 64 segments, LM2
    (("XLBR0", "amendment23"), ("LBR0", "amendment21")),  # 23: the same, RMT
]
RATIOS = [("XLBL0", "XLBR0"), ("LBL0", "LBR0"), ("LBK0", "LBR0"), ("BK0", "BR0")]  # LM2 / RMT, seed 0 each
LENGTHS = ("0k", "1k", "4k", "8k", "16k")
FAR = ("4k", "8k", "16k")  # the targets average these
FOLDERS = {"B": "amendment20", "L": "amendment21", "X": "amendment23"}


def cells(name: str, folder: str) -> dict | None:
    path = R / folder / f"eval-{name}" / "results.json"
    return pooled_accuracy([path]) if path.is_file() else None


def far_mean(table: dict) -> float:
    return 100 * sum(table[length][0] for length in FAR) / len(FAR)


def main() -> None:
    for (name, folder), (other, other_folder) in PAIRS:
        a, b = cells(name, folder), cells(other, other_folder)
        if a is None or b is None:
            print(f"{name} against {other}: not run yet")
            continue
        signs = ", ".join(f"{length} {100 * a[length][0]:.1f} {interval_order(a[length], b[length])} "
                          f"{100 * b[length][0]:.1f}" for length in LENGTHS)  # fmt: skip
        print(f"{name} against {other}: {signs}; 4k-16k {far_mean(a):.1f} against {far_mean(b):.1f}")
    for lm2, rmt in RATIOS:
        a, b = cells(lm2, FOLDERS[lm2[0]]), cells(rmt, FOLDERS[rmt[0]])
        if a is None or b is None:
            print(f"{lm2} / {rmt} over 4k-16k: not run yet")
            continue
        print(f"{lm2} / {rmt} over 4k-16k: {far_mean(a):.1f} / {far_mean(b):.1f} = {far_mean(a) / far_mean(b):.2f}")


if __name__ == "__main__":
    main()
