"""Loading a saved model folder — weights, config and tokenizer — for the tools that run a trained model
(`lm2 eval`, `lm2 generate`, `lm2 inspect`, `lm2 demo`, the lm-eval adapter) and for training from one.

`load_weights` is `from_pretrained` that never loads silently wrong: a weight the config asks for and the file
lacks (transformers would initialise it at random), a weight the config has no place for, a shape mismatch,
a NaN or infinite value, or an unreadable file (truncated, missing) is a `ValueError` naming the folder and
what is wrong. Only a conversion passes `new_parameter`: the memory parameters a Llama does not have (or a
`vanilla` model, whose backbone starts a memory model: `backbone_keys`); and only a new training run whose memory
fields differ from the weights' (`lm2 train --init-from`, a variant started from another's weights) passes
`other_memory`: memory parameters one of the two variants has and the other lacks.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from lm2.device import resolve_device
from lm2.model import LM2Config, LM2ForCausalLM

DTYPES = {
    "auto": "auto",
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
log = logging.getLogger(__name__)
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


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """Inside: no per-file progress bars from transformers (loading and writing weights) and no load report
    (`load_weights` checks the keys itself); both as before afterwards."""
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_weights(
    path: str | Path,
    dtype: str | torch.dtype = "auto",
    config=None,
    new_parameter: Callable[[str], bool] | None = None,
    new_run: bool = False,
    other_memory: bool = False,
) -> LM2ForCausalLM:
    """`LM2ForCausalLM.from_pretrained(path, config=config)`, refusing what would load silently wrong (module
    docstring). `new_parameter(name)`: parameters that may be missing from the file (they keep the model's
    own initialisation) — a conversion's memory; nothing otherwise. `new_run`: the weights start a new run
    whose write price may differ from theirs (`lm2 train --init-from`), so the price's count of training
    sequences (`write_sequences`, not a weight) may be missing from the file (the count starts at 0) or in it
    without a place in the model (dropped); a file that has it and a model that counts keep the file's.
    `other_memory`: the config's memory variant is not the weights' (`memory_fields` differ), so memory-path
    parameters (those of `model.layers.<i>.memory.`) that the file lacks keep the model's own initialisation and
    those the model has no place for are dropped, each named in a warning; every other key must still match."""
    path = Path(path)
    try:
        with no_progress_bars():
            model, info = LM2ForCausalLM.from_pretrained(
                str(path),
                config=config,
                dtype=parse_dtype(dtype),
                output_loading_info=True,
                ignore_mismatched_sizes=True,  # reported in `info`, then refused below with the others
            )
    except (OSError, SafetensorError) as err:
        raise ValueError(f"cannot load the model in {path}: {' '.join(str(err).split())}") from err
    counter = {"write_sequences"} if new_run else set()
    memory = {k for k in (*info["missing_keys"], *info["unexpected_keys"]) if other_memory and _memory_key(k)}
    if memory:
        new = sorted(memory & set(info["missing_keys"]))
        gone = sorted(memory & set(info["unexpected_keys"]))
        log.warning(
            "%s holds another memory variant: %d memory parameters start from this model's initialisation (%s), "
            "%d of the weights are not used (%s)", path, len(new), ", ".join(new) or "none", len(gone),
            ", ".join(gone) or "none",
        )  # fmt: skip
    problems = {
        "missing from the weights": sorted(
            k
            for k in info["missing_keys"]
            if not (new_parameter and new_parameter(k)) and k not in counter and k not in memory
        ),
        "not in the model": sorted(set(info["unexpected_keys"]) - counter - memory),
        "of another shape": sorted(str(k) for k in info["mismatched_keys"]),
    }
    found = [f"{len(keys)} {what} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
             for what, keys in problems.items() if keys]  # fmt: skip
    if found:
        raise ValueError(
            f"the weights in {path} do not match its config.json: {'; '.join(found)}; "
            "the folder was changed or mixed with another model's files"
        )
    if counter & set(info["missing_keys"]):
        model.write_sequences.zero_()  # a new count, not whatever an uninitialised buffer holds
    bad = [name for name, tensor in model.state_dict().items() if not bool(torch.isfinite(tensor).all())]
    if bad:
        raise ValueError(
            f"the weights in {path} hold NaN or infinite values in {len(bad)} tensors ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); the file is damaged or the training diverged"
        )
    return model


def backbone_keys(config: LM2Config) -> set[str]:
    """The state-dict keys of the backbone a model of `config` shares with a `vanilla` model of the same shapes (the
    token embeddings, every block's attention, MLP and norms, the final norm and the head): what a vanilla model's
    weights give a memory model (`lm2 train --init-from` a vanilla model), whose memory keeps its own
    initialisation. Built on the meta device, so nothing is allocated."""
    vanilla = copy.deepcopy(config)
    vanilla.arch = "vanilla"
    with torch.device("meta"):
        return set(LM2ForCausalLM(vanilla).state_dict())


def _memory_key(name: str) -> bool:
    """Whether a state-dict key belongs to a block's LM2 memory path (`model.layers.<i>.memory.`)."""
    parts = name.split(".")
    return len(parts) > 3 and parts[:2] == ["model", "layers"] and parts[3] == "memory"


def load_pretrained(
    path: str | Path, device: str | torch.device = "cpu", dtype: str | torch.dtype = "auto"
) -> tuple[LM2ForCausalLM, PreTrainedTokenizerBase]:
    """Load `LM2ForCausalLM` and its tokenizer from a folder written by `save_pretrained` or `lm2 convert`.

    Raises `FileNotFoundError` for a missing folder, config or tokenizer, and `ValueError` for a folder
    that holds another model type (a Llama must be converted first), weights that do not load exactly
    (`load_weights`), a device this machine lacks, or a tokenizer larger than the model's vocabulary.
    """
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no model at {path} (expected config.json, written by save_pretrained)")
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_file} is not valid JSON ({err}); the folder is damaged") from None
    if model_type != "lm2":
        hint = " — convert it first: lm2 convert --from-llama DIR --out DIR" if model_type == "llama" else ""
        raise ValueError(f"{config_file} has model_type={model_type!r}, expected 'lm2'{hint}")
    device = resolve_device(device)
    tokenizer = load_tokenizer_for(path)
    model = load_weights(path, dtype).to(device).eval()
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer in {path} has {len(tokenizer)} tokens but the model's vocab_size is "
            f"{model.config.vocab_size}; they must come from the same training run"
        )
    return model, tokenizer
