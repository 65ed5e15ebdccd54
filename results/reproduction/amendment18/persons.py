"""docs/reproduction.md, amendment 18b: every person of each test input asked in turn — does a model's answer depend
on whom it is asked about?

    python results/reproduction/amendment18/persons.py build DATA_DIR TOKENIZER_DIR LENGTH...
    python results/reproduction/amendment18/persons.py score OUT.json DATA_DIR EVAL_DIR=SHIPPED_DIR...

`build`: the study's qa1 test inputs (`lm2 eval`'s: bAbI test split, evaluation seed 0, 100 inputs, held-out books; a
length's token counts are TOKENIZER_DIR's), each asked "Where is P?" for every person P its story names, P's latest
place the target; written as DATA_DIR/qa1/<length>.json for `lm2 eval --data DATA_DIR`, with DATA_DIR/index.json
(per length, each question's input and whether it is the test's own question).

`score`: per evaluation folder (`lm2 eval --data DATA_DIR` of a model) and length, accuracy over all those questions
with its 95 % Wilson interval, beside the person-blind bound: a model that gives one input the same answer whoever is
asked is right, on that input, at most as often as the most frequent latest place among its persons; summed over the
inputs, that bounds every such model. Accuracy above the bound (the interval's lower end above it) shows that the
answer depends on the person. Also the share of inputs given more than one answer, and a check that the test's own
questions get the answers of the model's shipped evaluation SHIPPED_DIR (the same prompts; stops when more than
`MISMATCH` of them differ).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from lm2.data import latest_places, save_babilong
from lm2.data.metric import compare_answers
from lm2.evaluation.answers import person_blind_bound, several_answers
from lm2.evaluation.sources import GeneratedSource
from lm2.evaluation.study import wilson
from lm2.integrations.pretrained import load_pretrained

BABI = Path("../shared/data/babi")
HELDOUT = "runs/reproduction/books/heldout"
MISMATCH = 0.05


def build(data: str, tokenizer_dir: str, lengths: list[str]) -> None:
    _, tokenizer = load_pretrained(tokenizer_dir)
    source = GeneratedSource(tokenizer, "qa1", lengths, samples=100, seed=0, babi=BABI, haystack=HELDOUT)
    index = {}
    for length in lengths:
        records, rows = [], []
        for n, sample in enumerate(source.build("qa1", length)):
            places = latest_places(sample.facts)
            if places.get(sample.question.removeprefix("Where is ").removesuffix("?")) != sample.target:
                raise SystemExit(f"{length}, input {n}: the test's own question is not among the persons' questions")
            for person, place in places.items():
                records.append({"input": sample.input, "question": f"Where is {person}?", "target": place})
                rows.append({"input": n, "own": f"Where is {person}?" == sample.question})
        save_babilong(records, data, "qa1", length)
        index[length] = rows
        print(f"{length}: {len(rows)} questions on {len(set(r['input'] for r in rows))} inputs")
    (Path(data) / "index.json").write_text(json.dumps(index))


def score(out: str, data: str, folders: list[str]) -> None:
    index = json.loads((Path(data) / "index.json").read_text())
    result = {}
    for pair in folders:
        folder, shipped = pair.split("=", 1)
        result[folder] = {}
        for length, rows in index.items():
            path = Path(folder) / f"qa1_{length}_instruction_no_examples_no_post_prompt_no.csv"
            if not path.is_file():
                continue
            answers = list(csv.DictReader(path.open(encoding="utf-8")))
            if len(answers) != len(rows):
                raise SystemExit(f"{path}: {len(answers)} answers for {len(rows)} questions")
            right = [compare_answers(a["target"], a["output"], a["question"], "qa1", "fixed") for a in answers]
            grouped = [{"target": a["target"], "group": row["input"]} for a, row in zip(answers, rows, strict=True)]
            inputs = len({row["input"] for row in rows})
            bound = person_blind_bound(grouped)
            varied = several_answers(grouped, [a["output"] for a in answers])
            own = [answers[i]["output"] for i, row in enumerate(rows) if row["own"]]
            ref = Path(shipped) / path.name
            before = [a["output"] for a in csv.DictReader(ref.open(encoding="utf-8"))]
            differ = sum(a != b for a, b in zip(own, before, strict=True))
            if differ > MISMATCH * len(own):
                raise SystemExit(f"{path}: the test's own questions differ from {ref} on {differ} of {len(own)}")
            low, high = wilson(sum(right), len(right))
            result[folder][length] = cell = {
                "questions": len(right),
                "inputs": inputs,
                "accuracy": round(100 * sum(right) / len(right), 1),
                "interval": [round(100 * low, 1), round(100 * high, 1)],
                "person_blind_bound": round(100 * bound, 1),
                "uses_person": low > bound,
                "inputs_with_several_answers": round(100 * varied, 1),
                "own_questions_differing_from_shipped": differ,
            }
            print(f"{folder} {length}: {cell['accuracy']} % [{cell['interval'][0]}, {cell['interval'][1]}] of "
                  f"{cell['questions']} against the person-blind bound {cell['person_blind_bound']} %"
                  f"{' (uses the person)' if cell['uses_person'] else ''}; several answers on "
                  f"{cell['inputs_with_several_answers']} % of inputs; own questions differing: {differ}")  # fmt: skip
    Path(out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        raise SystemExit(__doc__)
