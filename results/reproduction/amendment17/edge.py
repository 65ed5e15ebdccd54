"""docs/reproduction.md, amendment 17b: how close the delta write's input gates sit to their shut edge, and the models
with every input gate's bias lowered by δ (fewer writes at test time, nothing trained).

    python results/reproduction/amendment17/edge.py measure OUT.json MODEL_DIR...
    python results/reproduction/amendment17/edge.py shift MODEL_DIR DELTA OUT_DIR
    python results/reproduction/amendment17/edge.py facts OUT.json MODEL_DIR...
    python results/reproduction/amendment17/edge.py context OUT.json MODEL_DIR...

`measure`: the first 16,384 tokens of each held-out book (amendment 15c's input), read one segment at a time from a
fresh stream; per memory block, the mean input gate g_in = hardsigmoid(E_t W_in + b_in) over tokens and channels, and
the same with the bias lowered by each of `DELTAS`, as a share of it (the stream is the unshifted model's: what the
lower bias would leave written on the same inputs). `shift`: a copy of the model (its tokenizer too) whose memory
blocks' input-gate biases are lowered by DELTA, for `lm2 eval`. `facts` (added after 17b's results): `measure` on
the statements of the first `STORIES` qa1 test stories instead of the books (each story its statements alone, from a
fresh stream), so that the facts' gates can be set beside the books'. `context` (added after `facts`): the first
`CONTEXT_SAMPLES` of the evaluation's own qa1 inputs at 16k (`lm2 eval`'s samples: bAbI test split, evaluation seed 0,
held-out books), each from a fresh stream, the same measure over the tokens of the facts and over the books' tokens
apart.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from torch.nn.functional import hardsigmoid, linear

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "amendment15"))
from bank_range import held_out  # noqa: E402

from lm2.evaluation.sources import GeneratedSource  # noqa: E402
from lm2.integrations.pretrained import load_pretrained  # noqa: E402

TOKENS = 16_384
DELTAS = (0.25, 0.5, 1.0)
STORIES = 100
CONTEXT_SAMPLES = 100
QA1 = Path("../shared/data/babi/en-10k/qa1_single-supporting-fact_test.txt")


@torch.no_grad()
def pre_gates(model, ids: torch.Tensor) -> dict[int, torch.Tensor]:
    """Per memory block, every token's input-gate pre-activation E_t W_in + b_in, flattened."""
    out: dict[int, list[torch.Tensor]] = {}

    def hook(block: int):
        def record(module, args, kwargs) -> None:
            gate = module.in_gate
            out.setdefault(block, []).append(linear(kwargs["x"].double(), gate.weight.double(), gate.bias.double()))

        return record

    blocks = [(i, model.model.layers[i].memory) for i in model.config.memory_layer_ids]
    hooks = [memory.register_forward_pre_hook(hook(i), with_kwargs=True) for i, memory in blocks]
    try:
        state = model.model.initial_state(1, ids.device)
        for segment in ids[None].split(model.config.segment_length, dim=1):
            state = model(segment, memory=state, logits_to_keep=1).memory
    finally:
        for handle in hooks:
            handle.remove()
    return {block: torch.cat([p.flatten() for p in parts]) for block, parts in out.items()}


def stories(tokenizer) -> dict[str, torch.Tensor]:
    """The statements of the first `STORIES` stories of qa1's test file, each story's joined by spaces, tokenized."""
    found: list[list[str]] = []
    for line in QA1.read_text(encoding="utf-8").splitlines():
        number, text = line.split(" ", 1)
        if number == "1":
            if len(found) == STORIES:
                break
            found.append([])
        if "?" not in text:
            found[-1].append(text)
    return {
        str(i): torch.tensor(tokenizer(" ".join(f), add_special_tokens=False)["input_ids"]) for i, f in enumerate(found)
    }


def hard_gates(model, folder: str) -> None:
    """Stop unless the model's gates are the hard sigmoid these shares are computed with."""
    if model.config.memory_gates != "hard":
        raise SystemExit(f"{folder}: memory_gates={model.config.memory_gates!r}, this measures hard gates")


def shares(z: torch.Tensor) -> dict[str, float]:
    """The mean gate of pre-activations `z` and what each of `DELTAS` leaves of it."""
    base = hardsigmoid(z).mean()
    stats = {"gate_mean": round(float(base), 4)}
    return stats | {f"share_at_minus_{d}": round(float(hardsigmoid(z - d).mean() / base), 3) for d in DELTAS}


def context(out: str, folders: list[str]) -> None:
    rows = {}
    for folder in folders:
        model, tokenizer = load_pretrained(folder)
        model.eval()
        hard_gates(model, folder)
        source = GeneratedSource(
            tokenizer, "qa1", "16k", samples=CONTEXT_SAMPLES, seed=0, haystack="runs/reproduction/books/heldout"
        )
        found: dict[str, dict[int, list[torch.Tensor]]] = {"facts": {}, "books": {}}
        for sample in source.build("qa1", "16k"):
            encoded = tokenizer(sample.input, add_special_tokens=False, return_offsets_mapping=True)
            spans, start = [], 0
            for fact in sample.facts:  # in the input in their order
                start = sample.input.index(fact, start)
                spans.append((start, start + len(fact)))
                start += len(fact)
            is_fact = torch.tensor([any(a < e and b > s for s, e in spans) for a, b in encoded["offset_mapping"]])
            for block, z in pre_gates(model, torch.tensor(encoded["input_ids"])).items():
                z = z.view(len(is_fact), -1)
                found["facts"].setdefault(block, []).append(z[is_fact].flatten())
                found["books"].setdefault(block, []).append(z[~is_fact].flatten())
        rows[folder] = {
            kind: {b: shares(torch.cat(p)) for b, p in sorted(blocks.items())} for kind, blocks in found.items()
        }
        print(folder, f"({CONTEXT_SAMPLES} qa1 inputs at 16k)")
        for kind, blocks in rows[folder].items():
            for block, stats in blocks.items():
                print(f"  {kind}, block {block}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    Path(out).write_text(json.dumps(rows, indent=1))


def measure(out: str, folders: list[str], facts: bool = False) -> None:
    rows = {}
    for folder in folders:
        if facts:
            model, tokenizer = load_pretrained(folder)
            model, books = model.eval(), stories(tokenizer)
        else:
            model, books = held_out(folder, TOKENS)
        hard_gates(model, folder)
        found: dict[int, list[torch.Tensor]] = {}
        for ids in books.values():
            for block, z in pre_gates(model, ids).items():
                found.setdefault(block, []).append(z)
        rows[folder] = {}
        print(folder, f"({len(books)} {'stories' if facts else f'books, {TOKENS} tokens each'})")
        for block, parts in sorted(found.items()):
            rows[folder][block] = stats = shares(torch.cat(parts))
            print(f"  block {block}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    Path(out).write_text(json.dumps(rows, indent=1))


def shift(folder: str, delta: float, out: str) -> None:
    if not delta > 0:
        raise SystemExit(f"DELTA must be > 0, got {delta}")
    model, _ = load_pretrained(folder)
    with torch.no_grad():
        for i in model.config.memory_layer_ids:
            model.model.layers[i].memory.in_gate.bias -= delta
    shutil.copytree(folder, out, dirs_exist_ok=True)  # the tokenizer's files; config and weights are rewritten next
    model.save_pretrained(out)
    print(f"{out}: {folder} with its input-gate biases lowered by {delta}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) >= 4 and sys.argv[1] == "context":
        context(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] in ("measure", "facts"):
        measure(sys.argv[2], sys.argv[3:], facts=sys.argv[1] == "facts")
    elif len(sys.argv) == 5 and sys.argv[1] == "shift":
        shift(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)
