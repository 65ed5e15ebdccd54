"""docs/reproduction.md, amendment 18: does a model answer the asked person's place, or the latest fact's?
An analysis of the shipped qa1 answers; nothing is trained or evaluated again.

    python results/reproduction/amendment18/answers.py [OUT.json]

For each of the study's qa1 test questions (bAbI test split, evaluation seed 0, 100 questions, the same at every
length, in `lm2 eval`'s order), the latest fact's place is the place named last in the story's statements before the
question (qa1's last-label shortcut on the story alone, so the books' place words do not count). "Shortcut-wrong"
questions are those where it is not the answer: the asked person moved earlier and someone else moved since.
Per model row and length, both seeds' answers pooled: accuracy on the shortcut-wrong questions with its 95 % Wilson
interval, the share of those answers that name the latest fact's place, and accuracy on the rest. Every answer file's
questions and targets must be the pool's, in its order, or the script stops.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from lm2.data.metric import compare_answers
from lm2.data.shortcuts import story_last_label
from lm2.evaluation.sources import GeneratedSource
from lm2.evaluation.study import wilson
from lm2.integrations.pretrained import load_pretrained

HERE = Path(__file__).resolve().parent
R = HERE.parent
R2 = R / "round2" / "eval" / "qa1"
BABI = Path("../shared/data/babi")
LENGTHS = ("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k")
BAR = 20.0  # % : guessing among the five places other than the latest fact's
ROWS = {  # row: evaluation folders, one per seed (each with its eval-far-<name> beside it where one was run)
    **{f"{m}, round 2": [R2 / f"{m}-seed{s}" for s in (0, 1)]
       for m in ("lm2", "lm2-paper", "rmt", "armt", "vanilla", "vanilla-segmented")},
    "lm2 (alive writes), 64 segments": [R / "amendment9" / "eval-L", R / "amendment10" / "eval-L1"],
    "lm2, gated read (11b)": [R / "amendment11" / f"eval-LG{s}" for s in (0, 1)],
    "lm2, addressed (13)": [R / "amendment13" / f"eval-LA{s}" for s in (0, 1)],
    "lm2, delta write (14)": [R / "amendment14" / f"eval-LD{s}" for s in (0, 1)],
    "lm2, delta write, cosine address (16)": [R / "amendment16" / f"eval-LK{s}" for s in (0, 1)],
    "lm2-paper, 64 segments": [R / "amendment9" / "eval-L-lm2-paper", R / "amendment10" / "eval-L-lm2-paper1"],
    "rmt, 64 segments": [R / "amendment9" / "eval-L-rmt", R / "amendment10" / "eval-L-rmt1"],
    "armt, 64 segments": [R / "amendment9" / "eval-L-armt", R / "amendment10" / "eval-L-armt1"],
    "vanilla, 64 segments": [R / "amendment10" / f"eval-V{s}" for s in (0, 1)],
    # amendment 18b: (LD) + 1,000 steps on 1..16 segments, without the shortcut's questions (S) and with them (C)
    "lm2, delta write, shortcut dropped (18b)": [HERE / f"eval-S{s}" for s in (0, 1)],
    "lm2, delta write, its control (18b)": [HERE / f"eval-C{s}" for s in (0, 1)],
}  # fmt: skip


def answer_files(folder: Path) -> dict[str, Path]:
    """Per length, the folder's qa1 answer file (or the one in its eval-far-<name> folder, beside it or, for
    amendment 9's runs, in amendment 10)."""
    far = folder.name.replace("eval-", "eval-far-", 1)
    found = {}
    for place in (folder, folder.parent / far, R / "amendment10" / far):
        for length in LENGTHS:
            path = place / f"qa1_{length}_instruction_no_examples_no_post_prompt_no.csv"
            if path.is_file():
                found.setdefault(length, path)
    return found


def main(out: str | None) -> None:
    _, tokenizer = load_pretrained(ROWS["lm2, delta write (14)"][0].parent / "run-LD0" / "model")
    pool = GeneratedSource(tokenizer, "qa1", "0k", samples=100, seed=0, babi=BABI).build("qa1", "0k")  # as `lm2 eval`
    latest = [story_last_label(q.facts, q.question, "qa1") for q in pool]
    wrong = [place != q.target for place, q in zip(latest, pool, strict=True)]
    print(f"{sum(wrong)} of {len(pool)} questions are shortcut-wrong (the latest fact's place is not the answer)")
    rows: dict[str, dict[str, dict]] = {}
    for name, folders in ROWS.items():
        per_seed = [answer_files(f) for f in folders]
        rows[name] = {}
        for length in LENGTHS:
            if not all(length in files for files in per_seed):
                continue
            stats = {"wrong_right": 0, "wrong_follows": 0, "wrong_n": 0, "right_right": 0, "right_n": 0}
            for files in per_seed:
                answers = list(csv.DictReader(files[length].open(encoding="utf-8")))
                if [(a["question"], a["target"]) for a in answers] != [(q.question, q.target) for q in pool]:
                    raise SystemExit(f"{files[length]}: its questions are not the pool's, in its order")
                for a, q, place, w in zip(answers, pool, latest, wrong, strict=True):
                    correct = compare_answers(q.target, a["output"], q.question, "qa1", "fixed")
                    if w:
                        stats["wrong_n"] += 1
                        stats["wrong_right"] += correct
                        stats["wrong_follows"] += compare_answers(place, a["output"], q.question, "qa1", "fixed")
                    else:
                        stats["right_n"] += 1
                        stats["right_right"] += correct
            low, high = wilson(stats["wrong_right"], stats["wrong_n"])
            stats |= {
                "wrong_accuracy": round(100 * stats["wrong_right"] / stats["wrong_n"], 1),
                "wrong_interval": [round(100 * low, 1), round(100 * high, 1)],
                "follows": round(100 * stats["wrong_follows"] / stats["wrong_n"], 1),
                "right_accuracy": round(100 * stats["right_right"] / stats["right_n"], 1),
                "answers_person": 100 * low > BAR,
                "follows_latest": stats["wrong_follows"] >= stats["wrong_n"] / 2,
            }
            rows[name][length] = stats
    print(
        f"\nshortcut-wrong questions, seeds pooled: accuracy % [95 % interval] / % naming the latest fact's place;"
        f" '*' = answers the person (lower end > {BAR:.0f} %), '^' = follows the latest fact (>= 50 %)"
    )
    print("| model | " + " | ".join(LENGTHS) + " |\n|---|" + "---|" * len(LENGTHS))
    rows = {name: cells for name, cells in rows.items() if cells}  # rows not yet evaluated are left out
    for name, cells in rows.items():
        shown = []
        for length in LENGTHS:
            c = cells.get(length)
            mark = "" if c is None else ("*" if c["answers_person"] else "") + ("^" if c["follows_latest"] else "")
            shown.append("" if c is None else f"{c['wrong_accuracy']:.1f} [{c['wrong_interval'][0]:.0f}, "
                         f"{c['wrong_interval'][1]:.0f}] / {c['follows']:.0f}{mark}")  # fmt: skip
        print(f"| {name} | " + " | ".join(shown) + " |")
    print("\nshortcut-right questions (the latest fact is the asked person's), seeds pooled: accuracy %")
    print("| model | " + " | ".join(LENGTHS) + " |\n|---|" + "---|" * len(LENGTHS))
    for name, cells in rows.items():
        shown = ["" if (c := cells.get(length)) is None else f"{c['right_accuracy']:.1f}" for length in LENGTHS]
        print(f"| {name} | " + " | ".join(shown) + " |")
    if out:
        Path(out).write_text(json.dumps({"shortcut_wrong": sum(wrong), "questions": len(pool), "rows": rows}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
