"""lm2: Large Memory Models (Kang et al., 2025) with RMT, ARMT and Transformer baselines on one Llama backbone.

`import lm2` loads the model classes and registers them with transformers' `AutoConfig` /
`AutoModelForCausalLM` (no remote code needed), as DESIGN §5 promises. The `lm2` command (`lm2_command`)
sets `LM2_LAZY_IMPORT=1` first, so that `lm2 --help` starts without torch: the classes then load, and
register, on first use (`lm2.LM2ForCausalLM`, or `import lm2.model`).
"""

from __future__ import annotations

import os

__version__ = "0.1.0"
__all__ = ["LM2Config", "LM2ForCausalLM", "LM2Model", "LM2Output", "LayerCache", "MemoryState", "__version__"]

if not os.environ.get("LM2_LAZY_IMPORT"):
    from .model import LayerCache, LM2Config, LM2ForCausalLM, LM2Model, LM2Output, MemoryState


def __getattr__(name: str) -> object:
    """The model classes, imported (and registered with transformers' Auto classes) when first asked for."""
    if name in __all__:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'lm2' has no attribute {name!r}")
