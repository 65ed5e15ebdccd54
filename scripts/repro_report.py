"""The report of the reproduction study (scripts/reproduce.sh, docs/reproduction.md; the work is
`lm2.evaluation.reproduction.write_report`), from the files under results/repro/: the paper-layout table and
heatmaps (`lm2 compare`), the training curves of the three runs, and the issue's targets checked against the
evaluation.

    python scripts/repro_report.py results/repro

Writes comparison.md, comparison.png, training_curves.png, curves.md, timings.json and targets.json into that
folder and prints the table, the timings and the target check. When the bank-size ablation has been run
(`ARCHS="lm2-bank16 lm2-bank64" RESULTS=results/repro/ablations scripts/reproduce.sh`: LM2 retrained with banks
of 16 and 64 rows), it also writes ablations/bank_size/ (comparison.md, comparison.png, bank_size.md with the
long-length means, validation and wall times, curves.md, training_curves.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm2.evaluation.reproduction import write_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, nargs="?", default=Path("results/repro"))
    a = p.parse_args()
    try:
        print(write_report(a.results))
    except FileNotFoundError as err:
        p.error(str(err))


if __name__ == "__main__":
    main()
