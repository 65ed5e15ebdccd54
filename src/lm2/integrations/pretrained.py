"""Loading a saved model folder — weights, config and tokenizer — for the tools that run a trained model
(`lm2 generate`, `lm2 inspect`, the lm-eval adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from lm2.model import LM2ForCausalLM

DTYPES = {
    "auto": "auto",
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def parse_dtype(name: str | torch.dtype) -> torch.dtype | str:
    """`"auto"` (the dtype the weights were saved in) or a float dtype name → what `from_pretrained` takes."""
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise ValueError(f"dtype={name!r} is not allowed; choose one of {', '.join(map(repr, DTYPES))}")
    return DTYPES[name]


def load_tokenizer_for(path: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved beside a model (any Hugging Face tokenizer: ours or a converted Llama's)."""
    path = Path(path)
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"no tokenizer in {path} (expected one of {', '.join(TOKENIZER_FILES)}); save it beside the "
            "weights with tokenizer.save_pretrained(DIR) (lm2 convert copies the Llama's)"
        )
    return AutoTokenizer.from_pretrained(str(path))


def load_pretrained(
    path: str | Path, device: str | torch.device = "cpu", dtype: str | torch.dtype = "auto"
) -> tuple[LM2ForCausalLM, PreTrainedTokenizerBase]:
    """Load `LM2ForCausalLM` and its tokenizer from a folder written by `save_pretrained` or `lm2 convert`.

    Raises `FileNotFoundError` for a missing folder, config or tokenizer, and `ValueError` for a folder
    that holds another model type (a Llama must be converted first) or a tokenizer larger than the model's
    vocabulary.
    """
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no model at {path} (expected config.json, written by save_pretrained)")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type != "lm2":
        hint = " — convert it first: lm2 convert --from-llama DIR --out DIR" if model_type == "llama" else ""
        raise ValueError(f"{config_file} has model_type={model_type!r}, expected 'lm2'{hint}")
    tokenizer = load_tokenizer_for(path)
    model = LM2ForCausalLM.from_pretrained(str(path), dtype=parse_dtype(dtype)).to(device).eval()
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer in {path} has {len(tokenizer)} tokens but the model's vocab_size is "
            f"{model.config.vocab_size}; they must come from the same training run"
        )
    return model, tokenizer
