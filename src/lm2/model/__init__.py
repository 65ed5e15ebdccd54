"""The models: LM2, RMT and the standard Transformer on one Llama backbone."""

from .config import LM2Config
from .modeling import LM2ForCausalLM, LM2Model, LM2Output
from .state import LayerCache, MemoryState

__all__ = ["LM2Config", "LM2ForCausalLM", "LM2Model", "LM2Output", "LayerCache", "MemoryState"]
