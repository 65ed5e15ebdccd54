"""lm2: Large Memory Models (Kang et al., 2025) with RMT and Transformer baselines on one Llama backbone.

Importing `lm2` registers the model with `AutoConfig` / `AutoModelForCausalLM` (no remote code needed).
"""

from transformers import AutoConfig, AutoModelForCausalLM

from .model import LayerCache, LM2Config, LM2ForCausalLM, LM2Model, LM2Output, MemoryState

__version__ = "0.1.0"

AutoConfig.register("lm2", LM2Config, exist_ok=True)
AutoModelForCausalLM.register(LM2Config, LM2ForCausalLM, exist_ok=True)

__all__ = ["LM2Config", "LM2ForCausalLM", "LM2Model", "LM2Output", "LayerCache", "MemoryState", "__version__"]
