"""The models: LM2, RMT and the standard Transformer on one Llama backbone.

Importing this package registers the model with `AutoConfig` / `AutoModelForCausalLM`, so a saved folder
loads with `AutoModelForCausalLM.from_pretrained` (no remote code needed)."""

from transformers import AutoConfig, AutoModelForCausalLM

from .config import LM2Config
from .modeling import LM2ForCausalLM, LM2Model, LM2Output
from .state import LayerCache, MemoryState

AutoConfig.register("lm2", LM2Config, exist_ok=True)
AutoModelForCausalLM.register(LM2Config, LM2ForCausalLM, exist_ok=True)

__all__ = ["LM2Config", "LM2ForCausalLM", "LM2Model", "LM2Output", "LayerCache", "MemoryState"]
