"""docs/reproduction.md, amendment 26 (2): why the segmented models stop short of the 0k gate. Each model answers the
qa1 questions of the bAbI test split at 0k (no background; the story alone), and every answer is filed by where the
last supporting fact's place word stands: in the segment of 64 tokens that holds the question's end (the answer is
predicted there, so a segment's attention sees the fact) or in an earlier one (only a memory carries it). Accuracy and
95 % Wilson interval per group and model, and each group against full attention's by the study's tie rule. Then,
added after the registration (a look, no rule): of each model's wrong answers on the earlier facts, the share that
names the place of the input's latest fact (the last-label shortcut's answer), and the share that names a place
where the asked person was earlier in the story (a stale fact of that person).

Usage: python results/reproduction/amendment26/zero_k.py [--samples 1000] NAME=MODEL_DIR ...
The first NAME is the reference (full attention). Answers are kept per model in zero-k.json beside this file;
a model already there with the same samples is not answered again."""

import argparse
import json
import re
from pathlib import Path

import torch

from lm2.analysis.retention import segments_back
from lm2.data.babilong import encode_sample
from lm2.data.metric import compare_answers
from lm2.data.shortcuts import shortcut_answers
from lm2.evaluation.run import answer_in_batches
from lm2.evaluation.sources import GeneratedSource
from lm2.evaluation.study import interval_order, wilson
from lm2.files import write_atomic
from lm2.integrations.pretrained import load_pretrained

SEGMENT = 64  # the study's segment length, also for full attention (which has none)
OUT = Path(__file__).resolve().parent / "zero-k.json"
BABI = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "babi"


def in_view(sample, tokenizer) -> bool:
    """Whether the last token of the last supporting fact lies in the segment of the prompt's last token."""
    return segments_back(sample, tokenizer, SEGMENT) == 0


def asked_person(sample) -> str | None:
    """The person a qa1 question ("Where is Mary?") asks about."""
    names = [w for w in re.findall(r"[A-Z][a-z]+", sample.question) if w != "Where"]
    return names[0] if names else None


def stale(sample, output: str) -> bool:
    """Whether a wrong `output` names the place of another fact about the person the qa1 question asks about."""
    words, person = output.lower().split(), asked_person(sample)
    if not words or words[0] == sample.target.lower() or person is None:
        return False
    return any(person in fact and re.search(rf"\b{re.escape(words[0])}\b", fact.lower()) for fact in sample.facts)


def answer(model_dir: str, samples: int) -> dict:
    torch.set_num_threads(1)
    model, tokenizer = load_pretrained(model_dir)
    source = GeneratedSource(tokenizer, tasks="qa1", lengths="0k", samples=samples, seed=0, babi=str(BABI),
                             haystack="prose")  # fmt: skip
    built = source.build("qa1", "0k")
    prompts = [encode_sample(tokenizer, s, with_answer=False)["input_ids"] for s in built]
    outputs, _ = answer_in_batches(model, tokenizer, prompts, 32, 8)
    latest = [shortcut_answers(s, s.task)["last_label"] for s in built]
    return {"model": model_dir, "samples": samples, "outputs": outputs,
            "correct": [compare_answers(s.target, o, s.question, s.task, mode="fixed")
                        for s, o in zip(built, outputs, strict=True)],
            "latest_fact": [compare_answers(guess, o, s.question, s.task, mode="fixed")
                            for s, o, guess in zip(built, outputs, latest, strict=True)],
            "stale": [stale(s, o) for s, o in zip(built, outputs, strict=True)],
            "in_view": [in_view(s, tokenizer) for s in built]}  # fmt: skip


def groups(record: dict) -> dict[str, tuple[float, float, float, int]]:
    out = {}
    for name, keep in (("all", lambda v: True), ("in view", lambda v: v), ("earlier", lambda v: not v)):
        hits = [c for c, v in zip(record["correct"], record["in_view"], strict=True) if keep(v)]
        out[name] = (sum(hits) / len(hits), *wilson(sum(hits), len(hits)), len(hits))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("models", nargs="+", metavar="NAME=MODEL_DIR")
    args = p.parse_args()
    store = json.loads(OUT.read_text()) if OUT.is_file() else {}
    named = [m.split("=", 1) for m in args.models]
    for name, folder in named:
        kept = store.get(name, {})
        if kept.get("samples") != args.samples or kept.get("model") != folder or "stale" not in kept:
            print(f"answering {name} ({folder})", flush=True)
            store[name] = answer(folder, args.samples)
            write_atomic(OUT, json.dumps(store) + "\n")
    reference = groups(store[named[0][0]])
    print("| model | all | fact in the question's segment | fact in an earlier segment |")
    print("|---|---|---|---|")
    for name, _ in named:
        row = groups(store[name])
        texts = []
        for group, (acc, low, high, n) in row.items():
            sign = "" if name == named[0][0] else f" {interval_order(row[group][:3], reference[group][:3])} ref"
            texts.append(f"{100 * acc:.1f} [{100 * low:.0f}, {100 * high:.0f}] (n {n}){sign}")
        print(f"| {name} | " + " | ".join(texts) + " |")
    print("\nWrong answers on the earlier facts: how many; naming the input's latest place; naming a stale place "
          "of the asked person")  # fmt: skip
    for name, _ in named:
        record = store[name]
        rows = zip(record["correct"], record["in_view"], record["latest_fact"], record["stale"], strict=True)
        wrong = [(latest, old) for right, view, latest, old in rows if not view and not right]
        n = max(1, len(wrong))
        latest, old = sum(w[0] for w in wrong), sum(w[1] for w in wrong)
        print(
            f"  {name}: {len(wrong)}; latest {latest} ({100 * latest / n:.0f} %); stale {old} ({100 * old / n:.0f} %)"
        )


if __name__ == "__main__":
    main()
