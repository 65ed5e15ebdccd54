"""Memory ablations of the reproduction study's trained LM2 (docs/reproduction.md), without retraining, each
evaluated like `lm2 eval` (same samples: bAbI test questions, the same background text and seed):

- `carry-cut`: the bank is reset to M_0 at every segment boundary, so nothing crosses segments through the
  memory; inside a segment the model runs exactly as trained. What the model loses here is what it carried
  across segments.
- `memory-off`, `memory-off-block<i>`: the gated memory (E_gated, eq. 3) of all blocks / of block i adds
  nothing to the residual stream (a per-channel gain set to 0; at gain 1.0 the model is the trained one,
  which is checked on the logits). This removes the memory read altogether, inside segments too.

    python scripts/repro_ablate.py results/repro/lm2/model results/repro/ablations --lengths 0k,2k,8k

Writes OUT/<variant>/ (results.json, CSVs, heatmap) and OUT/ablations.md (a table against the unablated
model, whose results are read from --reference when given, and against retrained variants given by --retrained,
e.g. the LM2 with memory in block 0 only, configs/repro/lm2-block0.yaml). Started again, finished cells are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lm2 import LM2ForCausalLM
from lm2.data import load_tokenizer
from lm2.data.paths import data_dir
from lm2.evaluation import GeneratedSource, comparison_table, evaluate, load_results


def cut_carry(model: LM2ForCausalLM) -> LM2ForCausalLM:
    """Reset each sample's bank to M_0 whenever a segment completes (in place; returns the model)."""
    inner = model.model
    segment = inner._segment

    def reset_at_boundaries(ids, valid, start, state):
        hidden, new = segment(ids, valid, start, state)
        done = (new.offset == 0) & valid.any(1)  # this pass completed the sample's segment
        if new.memory is not None and bool(done.any()):
            fresh = inner.initial_state(ids.shape[0], ids.device).memory.to(new.memory.dtype)
            new.memory = torch.where(done[:, None, None], fresh, new.memory)
        return hidden, new

    inner._segment = reset_at_boundaries
    return model


def memory_off(source: Path, blocks: list[int]) -> LM2ForCausalLM:
    """The model with the memory read of `blocks` switched off (gain 0), checked to be exact at gain 1."""
    reference = LM2ForCausalLM.from_pretrained(source).eval()
    model = LM2ForCausalLM.from_pretrained(source, memory_gain=1.0).eval()
    ids = torch.randint(4, model.config.vocab_size, (2, 3 * model.config.segment_length + 5))
    with torch.no_grad():
        if not torch.equal(model(ids).logits, reference(ids).logits):
            raise SystemExit("repro_ablate: memory_gain=1.0 changed the logits; the ablation would be wrong")
        for i in blocks:
            model.model.layers[i].memory.gain.zero_()
    return model


def restrict(results: dict, lengths: list[str]) -> dict:
    """`results` with only the cells at `lengths` (the table compares the lengths evaluated here)."""
    missing = [n for n in lengths if n not in results["lengths"]]
    if missing:
        raise SystemExit(f"repro_ablate: {results['model']['path']} was not evaluated at {', '.join(missing)}")
    results["lengths"] = [n for n in results["lengths"] if n in lengths]
    results["cells"] = {t: {n: c for n, c in cells.items() if n in lengths} for t, cells in results["cells"].items()}
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="the trained LM2 (save_pretrained folder with its tokenizer)")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--tasks", default="qa1,qa2,qa3,qa4,qa5")
    p.add_argument("--lengths", default="0k,2k,8k")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--variants", default="carry-cut,memory-off,memory-off-block0,memory-off-block1")
    p.add_argument("--reference", type=Path, help="results.json (or folder) of the unablated model")
    p.add_argument(
        "--retrained",
        type=Path,
        nargs="*",
        default=[],
        metavar="DIR",
        help="results of retrained variants (e.g. results/repro/ablations/lm2-block0/eval) for the table",
    )
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    root = data_dir()
    if root is None:
        raise SystemExit("repro_ablate: no data folder; set LM2_DATA_DIR to the folder holding babi/ and haystack/")
    tokenizer = load_tokenizer(a.model)
    source = GeneratedSource(tokenizer, tasks=a.tasks.split(","), lengths=a.lengths.split(","), samples=a.samples,
                             seed=0, babi=root / "babi", haystack=root / "haystack" / "dev")  # fmt: skip
    names, runs = [], []
    if a.reference is not None:
        names.append("lm2 (trained)")
        runs.append(restrict(load_results(a.reference), source.lengths))
    for variant in a.variants.split(","):
        if variant == "carry-cut":
            model = cut_carry(LM2ForCausalLM.from_pretrained(a.model).eval())
        elif variant == "memory-off":
            model = memory_off(a.model, list(range(len(LM2ForCausalLM.from_pretrained(a.model).model.layers))))
        elif variant.startswith("memory-off-block") and variant.removeprefix("memory-off-block").isdigit():
            model = memory_off(a.model, [int(variant.removeprefix("memory-off-block"))])
        else:
            raise SystemExit(f"repro_ablate: unknown variant {variant!r} (carry-cut, memory-off, memory-off-block<i>)")
        print(f"evaluating {variant}", flush=True)
        names.append(variant)
        runs.append(evaluate(model, tokenizer, source, a.out / variant, model_path=a.model))
    for folder in a.retrained:
        names.append(f"{folder.parent.name if folder.name == 'eval' else folder.name} (retrained)")
        runs.append(restrict(load_results(folder), source.lengths))
    table = comparison_table(runs, names)
    (a.out / "ablations.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
