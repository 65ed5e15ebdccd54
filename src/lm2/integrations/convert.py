"""Adding memory to a pretrained Hugging Face Llama (`LlamaForCausalLM`, safetensors).

Our backbone uses Llama's parameter names (DESIGN §4), so a Llama checkpoint loads into `LM2ForCausalLM`
as is; only the memory parameters are new. They are initialised so that the converted model starts as the
Llama it came from:

- `lm2`: `memory_gain=0.0` puts a learnable per-channel gain, initialised to 0, on each block's gated memory
  (eq. 3), so E_gated adds exactly 0 and the logits equal the Llama's, while the gain and through it the
  whole memory path receive gradient from the first step. Self-attention in lm2 stays inside a segment, so
  the equality holds for inputs of up to `segment_length` tokens; beyond, attention is segmented by design.
- `armt`: `armt_read_gain=0.0` puts a learnable per-channel gain, initialised to 0, on each block's
  associative read. With `armt_memory_tokens="write"` (the default, the paper's code) the segment tokens never
  attend to the memory tokens, so the read is their only path into the segment and the logits equal the
  Llama's within a segment (the segmented Llama's beyond), while the gain receives gradient once a segment
  has been written. With `"recurrent"` the memory tokens are read as in `rmt` and the start is not exact.
- `rmt`: memory tokens sit in the same softmax as the segment tokens and always take some attention, so no
  initialisation of the memory tokens alone makes the model exact (see docs/ecosystem.md for the measured
  deviation and the model option that would remove it). The memory tokens start at zero: their keys and
  values are then exactly zero in every block, so they only dilute each attention row slightly.
- `vanilla`: full attention; the model *is* the Llama (same logits at every length).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

from lm2.files import atomic_folder
from lm2.integrations.pretrained import TOKENIZER_FILES, load_weights, no_progress_bars
from lm2.model import LM2Config, LM2ForCausalLM

logger = logging.getLogger(__name__)

# LlamaConfig fields that LM2Config reads with the same name and meaning.
LLAMA_FIELDS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "rope_parameters",
    "attention_bias",
    "mlp_bias",
    "tie_word_embeddings",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
)
ARCHS = ("lm2", "rmt", "armt", "vanilla")
DEFAULT_SEGMENT_LENGTH = 2048  # and never more than the Llama's max_position_embeddings
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")  # single file or shards


def read_llama_config(source: str | Path | dict | LlamaConfig) -> LlamaConfig:
    """A `LlamaConfig` from a checkpoint folder, a `config.json` dict or a config; anything that is not a
    Llama raises `ValueError`."""
    if isinstance(source, LlamaConfig):
        return source
    if isinstance(source, dict):
        raw = source
    else:
        path = Path(source)
        file = path / "config.json" if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"no Llama checkpoint at {source} (expected a folder with config.json)")
        raw = json.loads(file.read_text())
    if raw.get("model_type") != "llama":
        raise ValueError(
            f"model_type={raw.get('model_type')!r} is not a Llama checkpoint; lm2 convert reads "
            "Hugging Face LlamaForCausalLM checkpoints (model_type 'llama')"
        )
    return LlamaConfig.from_dict(raw)


def memory_config_from_llama(
    llama: str | Path | dict | LlamaConfig,
    arch: str = "lm2",
    segment_length: int | None = None,
    **memory_options: Any,
) -> LM2Config:
    """The `LM2Config` of a Llama plus memory: the Llama's backbone fields, `arch`, `segment_length`
    (default: 2048, at most the Llama's `max_position_embeddings`; ignored by `vanilla`, which keeps full
    attention) and any memory field of `LM2Config` (`memory_layers`, `memory_heads`, `num_memory_tokens`,
    ...). For `lm2`, `memory_gain` defaults to 0.0 and for `armt` `armt_read_gain` does (the
    identity-preserving starts)."""
    llama = read_llama_config(llama)
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r} is not allowed; choose one of {', '.join(map(repr, ARCHS))}")
    if llama.hidden_act != "silu":
        raise ValueError(f"hidden_act={llama.hidden_act!r}: the lm2 backbone is Llama's SwiGLU ('silu') only")
    fields = {name: getattr(llama, name) for name in LLAMA_FIELDS}
    if arch == "vanilla":
        return LM2Config(arch="vanilla", segment_length=None, **fields, **memory_options)
    if segment_length is None:
        segment_length = min(DEFAULT_SEGMENT_LENGTH, llama.max_position_embeddings)
    if arch == "lm2":
        memory_options.setdefault("memory_gain", 0.0)
    if arch == "armt":
        memory_options.setdefault("armt_read_gain", 0.0)
    return LM2Config(arch=arch, segment_length=segment_length, **fields, **memory_options)


def is_memory_parameter(name: str) -> bool:
    """Parameters that a Llama checkpoint does not have: the LM2 memory path, M_0, RMT/ARMT memory tokens,
    ARMT's associative memory (and the write price's count of training sequences, a buffer that starts at 0)."""
    return ".memory." in name or ".associative." in name or name in ("model.memory_init", "model.memory_tokens",
                                                                     "write_sequences")  # fmt: skip


def convert_llama(
    source: str | Path,
    arch: str = "lm2",
    segment_length: int | None = None,
    dtype: str | torch.dtype = "auto",
    **memory_options: Any,
) -> LM2ForCausalLM:
    """Load a Llama checkpoint folder into `LM2ForCausalLM` of `arch` with fresh memory parameters.

    Every Llama parameter must load (none missing, none left over, no shape mismatch, every value finite;
    `load_weights`) — otherwise `ValueError`. Memory parameters get the model's own initialisation
    (forget-gate bias +1, gain 0 for lm2 and armt); memory tokens that segment tokens read (rmt, recurrent
    armt) start at zero."""
    config = memory_config_from_llama(source, arch, segment_length, **memory_options)
    if not any((Path(source) / name).is_file() for name in SAFETENSORS):
        raise FileNotFoundError(f"no safetensors weights in {source} (expected {' or '.join(SAFETENSORS)})")
    model = load_weights(source, dtype, config=config, new_parameter=is_memory_parameter)
    if config.recurrent_memory_tokens:
        with torch.no_grad():
            model.model.memory_tokens.zero_()
    added = sum(p.numel() for name, p in model.named_parameters() if is_memory_parameter(name))
    logger.debug("loaded %s into arch=%r; %d memory parameters added", source, arch, added)
    return model.eval()


def save_converted(model: LM2ForCausalLM, source: str | Path, out: str | Path) -> list[str]:
    """Save the converted model to `out` with the Llama's tokenizer and generation config, replacing
    whatever `out` held; returns the names of the files written."""
    out, source = Path(out), Path(source)
    with atomic_folder(out) as tmp, no_progress_bars():  # `out` is replaced whole, or not at all
        model.save_pretrained(tmp)
        if any((source / name).is_file() for name in TOKENIZER_FILES):
            AutoTokenizer.from_pretrained(str(source)).save_pretrained(tmp)
        else:
            logger.warning("%s has no tokenizer; lm2 generate/inspect/lm-eval need one in %s", source, out)
        if (source / "generation_config.json").is_file():
            GenerationConfig.from_pretrained(str(source)).save_pretrained(tmp)
    return sorted(p.name for p in out.iterdir())


@torch.no_grad()
def compare_with_llama(
    model: LM2ForCausalLM, source: str | Path, length: int = 64, batch: int = 2, seed: int = 0
) -> dict[str, float]:
    """Logits of the converted model against the source Llama (loaded with transformers) on random tokens.

    Returns `max_abs_diff` (largest |logit difference|), `max_logit` (largest |logit|, for scale) and
    `argmax_agreement` (fraction of positions with the same top token)."""
    with no_progress_bars():
        llama = LlamaForCausalLM.from_pretrained(str(source), dtype=model.dtype).to(model.device).eval()
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.vocab_size, (batch, length), generator=generator).to(model.device)
    ours, theirs = model(ids).logits.float(), llama(ids).logits.float()
    return {
        "tokens": float(length),
        "max_abs_diff": (ours - theirs).abs().max().item(),
        "max_logit": theirs.abs().max().item(),
        "argmax_agreement": (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item(),
    }
