"""docs/reproduction.md, amendment 26c: do the memories lose which of a person's places came last when two facts about
that person share a segment? On the 10,000 qa1 questions of the bAbI training split (en-10k) at 0k, each model's
answers to the questions whose supporting fact lies in a segment before the question's, split into "crowded" (that
segment also holds an older fact about the asked person) and "alone" (it holds none): accuracy and 95 % Wilson interval
of each, the order of the two by the study's tie rule, and the share of the wrong "crowded" answers that name an older
place of the person from that segment. LM2's two seeds are also pooled (the row the rule reads).

Usage: python results/reproduction/amendment26/order.py   (answers kept in order.json beside this file)"""

import json
import re
from pathlib import Path

import torch
from zero_k import BABI, SEGMENT, asked_person

from lm2.analysis.retention import fact_spans
from lm2.data.babilong import encode_sample
from lm2.data.metric import compare_answers, task_labels
from lm2.evaluation.run import answer_in_batches
from lm2.evaluation.sources import GeneratedSource
from lm2.evaluation.study import interval_order, wilson
from lm2.files import write_atomic
from lm2.integrations.pretrained import load_pretrained

HERE = Path(__file__).resolve().parent
OUT = HERE / "order.json"
R = HERE.parent
MODELS = {
    "full": R / "amendment20/run-BV0/model",
    "segmented": R / "amendment20/run-BS0/model",
    "lm2-0": R / "amendment23/run-XLBL0/model",
    "lm2-1": R / "amendment23/run-XLBL1/model",
    "armt-0": R / "amendment23/run-XLBA0/model",
    "armt-1": R / "amendment23/run-XLBA1/model",
    "rmt-0": R / "amendment23/run-XLBR0/model",
    "rmt-1": R / "amendment23/run-XLBR1/model",
}
SAMPLES = 10000
LABELS = [label.lower() for label in task_labels("qa1")]
WHERE = ("in view", "alone", "crowded")  # where a question's supporting fact stands (`layout`), stored as its index
ROOT = HERE.parents[2]


def layout(sample, tokenizer) -> dict:
    """Where the supporting fact stands ("in view", "alone", "crowded") and the older places of the asked person
    in its segment."""
    ids = encode_sample(tokenizer, sample, with_answer=False)["input_ids"]
    segments = [end // SEGMENT for _, end in fact_spans(sample, tokenizer)]  # ids index of each fact's last token
    support = max(sample.supporting)
    if segments[support] == (len(ids) - 1) // SEGMENT:
        return {"where": "in view", "older": []}
    person = asked_person(sample)
    older = [
        i for i in range(support) if segments[i] == segments[support] and re.search(rf"\b{person}\b", sample.facts[i])
    ]
    places = [label for i in older for label in LABELS if re.search(rf"\b{label}\b", sample.facts[i].lower())]
    return {"where": "crowded" if older else "alone", "older": sorted(set(places) - {sample.target.lower()})}


def answer(folder: Path) -> dict:
    """The model's answers, kept compactly: 1/0 per question for right and for naming an older place of the asked
    person, and where its supporting fact stands as an index into WHERE."""
    torch.set_num_threads(1)
    model, tokenizer = load_pretrained(folder)
    source = GeneratedSource(tokenizer, tasks="qa1", lengths="0k", samples=SAMPLES, seed=0, babi=str(BABI),
                             haystack="prose", split="train")  # fmt: skip
    built = source.build("qa1", "0k")
    prompts = [encode_sample(tokenizer, s, with_answer=False)["input_ids"] for s in built]
    outputs, _ = answer_in_batches(model, tokenizer, prompts, 32, 8)
    layouts = [layout(s, tokenizer) for s in built]
    return {"model": name_of(folder), "samples": SAMPLES, "data": source.describe(),
            "correct": [int(compare_answers(s.target, o, s.question, s.task, mode="fixed"))
                        for s, o in zip(built, outputs, strict=True)],
            "where": [WHERE.index(x["where"]) for x in layouts],
            "names_older": [int(bool(o.split()) and o.split()[0].lower() in x["older"])
                            for o, x in zip(outputs, layouts, strict=True)]}  # fmt: skip


def name_of(folder: Path) -> str:
    """A model folder as the store names it: relative to the repository's root."""
    return str(folder.relative_to(ROOT))


def group_accuracy(records: list[dict], group: str) -> tuple[float, float, float, int]:
    """Accuracy, its 95 % Wilson interval and the number of questions of `group` ("in view", "alone", "crowded")
    over the records together."""
    code = WHERE.index(group)
    hits = [c for r in records for c, w in zip(r["correct"], r["where"], strict=True) if w == code]
    return (sum(hits) / len(hits), *wilson(sum(hits), len(hits)), len(hits))


def row(records: list[dict]) -> str:
    cells, groups = [], {}
    for group in ("alone", "crowded"):
        acc, low, high, n = groups[group] = group_accuracy(records, group)
        cells.append(f"{100 * acc:.1f} [{100 * low:.0f}, {100 * high:.0f}] (n {n})")
    crowded = WHERE.index("crowded")
    wrong = [named for r in records for c, w, named in zip(r["correct"], r["where"], r["names_older"], strict=True)
             if w == crowded and not c]  # fmt: skip
    share = f"{sum(wrong)} of {len(wrong)} ({100 * sum(wrong) / max(1, len(wrong)):.0f} %)"
    order = interval_order(groups["crowded"][:3], groups["alone"][:3])
    return " | ".join([*cells, f"crowded {order} alone", share])


def main() -> None:
    store = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name, folder in MODELS.items():
        if store.get(name, {}).get("model") != name_of(folder):
            print(f"answering {name} ({folder})", flush=True)
            store[name] = answer(folder)
            write_atomic(OUT, json.dumps(store, separators=(",", ":")) + "\n")
    views = store["full"]["where"].count(WHERE.index("in view"))
    print(f"{SAMPLES} questions of the training split at 0k; the supporting fact in the question's segment: {views}")
    print("| model | alone | crowded | order | wrong crowded answers naming an older place of the person |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        print(f"| {name} | {row([store[name]])} |")
    print(f"| lm2, two seeds | {row([store['lm2-0'], store['lm2-1']])} |")


if __name__ == "__main__":
    main()
