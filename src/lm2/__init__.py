"""lm2: Large Memory Models (Kang et al., 2025) with RMT and Transformer baselines on one Llama backbone.

`import lm2` is cheap (the `lm2` command line starts without torch); the model classes load on first use.
Loading them — `from lm2 import LM2ForCausalLM`, or `import lm2.model` — registers the model with
`AutoConfig` / `AutoModelForCausalLM` (no remote code needed).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["LM2Config", "LM2ForCausalLM", "LM2Model", "LM2Output", "LayerCache", "MemoryState", "__version__"]


def __getattr__(name: str) -> object:
    """The model classes, imported (and registered with transformers' Auto classes) when first asked for."""
    if name in __all__:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'lm2' has no attribute {name!r}")
