"""Memory ablations of a trained LM2 without retraining (`lm2 ablate`, docs/reproduction.md), each evaluated
like `lm2 eval` (same samples for the same source):

- `carry-cut`: the bank is reset to M_0 at every segment boundary, so nothing crosses segments through the
  memory; inside a segment the model runs exactly as trained. What the model loses here is what it carried
  across segments.
- `memory-off`, `memory-off-block<i>`: the gated memory (E_gated, eq. 3) of all blocks / of block i adds
  nothing to the residual stream (a per-channel gain set to 0; at gain 1.0 the model is the trained one,
  which is checked on the logits). This removes the memory read altogether, inside segments too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from lm2.evaluation.report import comparison_table
from lm2.evaluation.results import load_results
from lm2.evaluation.run import evaluate
from lm2.evaluation.sources import SampleSource
from lm2.integrations.pretrained import load_weights
from lm2.model import LM2Config, LM2ForCausalLM

logger = logging.getLogger(__name__)

VARIANTS = ("carry-cut", "memory-off", "memory-off-block<i>")
DEFAULT_VARIANTS = ("carry-cut", "memory-off", "memory-off-block0", "memory-off-block1")


def cut_carry(model: LM2ForCausalLM) -> LM2ForCausalLM:
    """Reset each sample's bank to M_0 whenever a segment completes (in place; returns the model)."""
    inner = model.model
    segment = inner._segment

    def reset_at_boundaries(ids, valid, start, state, count_writes=False):
        hidden, new, writes = segment(ids, valid, start, state, count_writes)
        done = (new.offset == 0) & valid.any(1)  # this pass completed the sample's segment
        if new.memory is not None and bool(done.any()):
            fresh = inner.initial_state(ids.shape[0], ids.device).memory.to(new.memory.dtype)
            new.memory = torch.where(done[:, None, None], fresh, new.memory)
        return hidden, new, writes

    inner._segment = reset_at_boundaries
    return model


def memory_off(source: str | Path, blocks: Sequence[int] | None = None) -> LM2ForCausalLM:
    """The model saved in `source` with the memory read of `blocks` (None: all) switched off (gain 0),
    checked to give the saved model's logits at gain 1 (to float tolerance)."""
    reference = load_weights(source).eval()
    with_gain = LM2Config.from_pretrained(source, memory_gain=1.0)  # a gain the saved model may not have
    model = load_weights(source, config=with_gain, new_parameter=lambda name: name.endswith(".memory.gain")).eval()
    layers = model.model.layers
    blocks = range(len(layers)) if blocks is None else blocks
    if any(not 0 <= i < len(layers) for i in blocks):
        raise ValueError(f"memory-off blocks {list(blocks)}: {source} has blocks 0..{len(layers) - 1}")
    ids = torch.randint(4, model.config.vocab_size, (2, 3 * model.config.segment_length + 5))
    with torch.no_grad():
        # Mathematically equal (x * 1.0 == x); two loaded instances may take other kernel paths, so a tolerance.
        if not torch.allclose(model(ids).logits, reference(ids).logits, rtol=1e-5, atol=1e-6):
            raise ValueError(f"memory_gain=1.0 changed the logits of {source}; the ablation would be wrong")
        for i in blocks:
            layers[i].memory.gain.zero_()
    return model


def check_variant(variant: str) -> None:
    """Raise ValueError unless `variant` is one of VARIANTS."""
    block = variant.removeprefix("memory-off-block")
    if variant not in ("carry-cut", "memory-off") and not (block != variant and block.isdigit()):
        raise ValueError(f"unknown ablation {variant!r}; allowed: {', '.join(VARIANTS)}")


def ablated_model(model_dir: str | Path, variant: str) -> LM2ForCausalLM:
    """The LM2 saved in `model_dir` with the ablation `variant` applied, in eval mode."""
    check_variant(variant)
    if variant == "carry-cut":
        return cut_carry(load_weights(model_dir).eval())
    if variant == "memory-off":
        return memory_off(model_dir)
    return memory_off(model_dir, [int(variant.removeprefix("memory-off-block"))])


def restrict(results: dict, lengths: Sequence[str]) -> dict:
    """`results` with only the cells at `lengths` (the table compares the lengths evaluated here)."""
    missing = [n for n in lengths if n not in results["lengths"]]
    if missing:
        raise ValueError(f"{results['model']['path']} was not evaluated at {', '.join(missing)}")
    results["lengths"] = [n for n in results["lengths"] if n in lengths]
    results["cells"] = {t: {n: c for n, c in cells.items() if n in lengths} for t, cells in results["cells"].items()}
    return results


def ablate(
    model_dir: str | Path,
    tokenizer,
    source: SampleSource,
    out: str | Path,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    *,
    reference: str | Path | None = None,
    retrained: Sequence[str | Path] = (),
) -> str:
    """Evaluate every ablation `variant` of the LM2 in `model_dir` on `source` into `out/<variant>/` (finished
    cells of an earlier run are skipped) and write `out/ablations.md`: one table of the variants, beside
    the unablated model's results (`reference`: its results.json or eval folder) and those of retrained
    variants (`retrained`: eval folders, named by their model folder), at the lengths of `source`.
    Returns the table."""
    for variant in variants:  # every name checked before hours of evaluation
        check_variant(variant)
    out = Path(out)
    names, runs = [], []
    if reference is not None:
        names.append("lm2 (trained)")
        runs.append(restrict(load_results(reference), source.lengths))
    for variant in variants:
        logger.info("evaluating %s", variant)
        model = ablated_model(model_dir, variant)
        names.append(variant)
        runs.append(evaluate(model, tokenizer, source, out / variant, model_path=model_dir))
    for folder in map(Path, retrained):
        names.append(f"{folder.parent.name if folder.name == 'eval' else folder.name} (retrained)")
        runs.append(restrict(load_results(folder), source.lengths))
    table = comparison_table(runs, names)
    (out / "ablations.md").write_text(table)
    return table
