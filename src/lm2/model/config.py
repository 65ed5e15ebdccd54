"""`LM2Config`: one configuration for the three architectures that share the Llama backbone.

Field names follow Hugging Face's `LlamaConfig`, so a Llama `config.json` reads into it; the memory fields
are ours. Every check runs at construction and raises `ValueError` naming the field, the value and what is
allowed (DESIGN §5), never later inside a matmul.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

ARCHS = ("lm2", "rmt", "vanilla")
MEMORY_QUERIES = ("input", "attention")
MEMORY_OUTPUTS = ("bank", "read")
MEMORY_INITS = ("identity", "learned")
VANILLA_MODES = ("full", "segmented")


class LM2Config(PreTrainedConfig):
    r"""Configuration of `LM2ForCausalLM`.

    Backbone (Llama-3 names and meaning): `vocab_size`, `hidden_size`, `intermediate_size`,
    `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads` (grouped-query attention),
    `head_dim`, `rms_norm_eps`, `rope_parameters`, `tie_word_embeddings`, `initializer_range`.

    arch: `"lm2"` (memory bank, DESIGN §2), `"rmt"` (memory tokens, DESIGN §4) or `"vanilla"`.
    segment_length: tokens per segment. Self-attention stays inside a segment; only the memory crosses
        segment boundaries. `None` is allowed for `vanilla` in `"full"` mode only.
    memory_slots: rows N of the LM2 bank; row i belongs to token i of a segment, so it must equal
        `segment_length` (defaults to it).
    memory_heads: heads of the memory cross-attention (head dim `hidden_size // memory_heads`).
    memory_layers: indices of the blocks that have memory (`None`: all).
    memory_query: `"input"` (query from the block input E_t, as the paper's equations) or `"attention"`
        (from the self-attention output, as the paper's code).
    memory_output: `"bank"` (add g_out * M_t[i], eq. 3) or `"read"` (add g_out * E_mem).
    memory_init: `"identity"` (fixed M_0: identity / orthonormal rows / unit-norm random rows) or
        `"learned"` (a parameter initialised the same way).
    forget_bias: initial bias of the forget gate (+1 starts by keeping the memory).
    memory_gain: `None` (the paper: the gated memory is added as is) or the initial value of a learnable
        per-channel gain on it; `0.0` makes a model whose memory starts switched off exactly (converting a
        pretrained Llama without changing its outputs) while still receiving gradient.
    num_memory_tokens: memory embeddings of `rmt`.
    bptt_segments: detach the memory every k segments (0: full backpropagation through time).
    segment_checkpointing: recompute each segment's activations in the backward pass.
    vanilla_mode: `"full"` (causal attention over the whole input) or `"segmented"` (attention inside a
        segment, nothing carried: the memory-less ablation).
    embedding_init_std: standard deviation of the token-embedding initialisation; `None` uses
        `initializer_range` (Llama). Tiny models trained from scratch on bAbI learned far faster with `1.0`
        in our runs (docs/training.md) — presumably because small embeddings are soon outweighed by the
        blocks' outputs in the residual stream. Keep `None` with tied embeddings (the logits would be huge).
    """

    model_type = "lm2"
    keys_to_ignore_at_inference = ["memory"]

    arch: str = "lm2"
    vocab_size: int = 1024
    hidden_size: int = 256
    intermediate_size: int = 1024
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-5
    rope_parameters: dict | None = None
    attention_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    use_cache: bool = True

    segment_length: int | None = 128
    memory_slots: int | None = None
    memory_heads: int | None = None
    memory_layers: list[int] | None = None
    memory_query: str = "input"
    memory_output: str = "bank"
    memory_init: str = "identity"
    forget_bias: float = 1.0
    memory_gain: float | None = None
    num_memory_tokens: int = 16
    bptt_segments: int = 0
    segment_checkpointing: bool = False
    vanilla_mode: str = "full"
    embedding_init_std: float | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None and self.num_attention_heads and self.hidden_size % self.num_attention_heads == 0:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.arch == "lm2" and self.memory_slots is None:
            self.memory_slots = self.segment_length
        if self.memory_heads is None:
            self.memory_heads = self.num_attention_heads
        if self.memory_layers is not None:
            self.memory_layers = sorted({int(i) for i in self.memory_layers})
        super().__post_init__(**kwargs)
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise `ValueError` for any inconsistent field (called at construction)."""
        _choice("arch", self.arch, ARCHS)
        _choice("memory_query", self.memory_query, MEMORY_QUERIES)
        _choice("memory_output", self.memory_output, MEMORY_OUTPUTS)
        _choice("memory_init", self.memory_init, MEMORY_INITS)
        _choice("vanilla_mode", self.vanilla_mode, VANILLA_MODES)
        for name in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
        ):
            _positive(name, getattr(self, name))
        _positive("num_key_value_heads", self.num_key_value_heads)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} must divide hidden_size={self.hidden_size}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_key_value_heads={self.num_key_value_heads} must divide "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if self.head_dim is None or self.head_dim <= 0 or self.head_dim % 2:
            raise ValueError(f"head_dim={self.head_dim} must be a positive even integer (rotary embeddings)")
        if self.embedding_init_std is not None and not self.embedding_init_std > 0:
            raise ValueError(f"embedding_init_std={self.embedding_init_std} must be > 0 (or None: initializer_range)")
        if self.bptt_segments < 0:
            raise ValueError(f"bptt_segments={self.bptt_segments} must be >= 0 (0: full backpropagation)")
        if self.segment_length is None:
            if not (self.arch == "vanilla" and self.vanilla_mode == "full"):
                raise ValueError(
                    f"segment_length=None is only allowed for arch='vanilla' with vanilla_mode='full' "
                    f"(got arch={self.arch!r}, vanilla_mode={self.vanilla_mode!r}); give a positive integer"
                )
        else:
            _positive("segment_length", self.segment_length)
        if self.arch == "lm2":
            self._validate_lm2()
        if self.arch == "rmt" and (not isinstance(self.num_memory_tokens, int) or self.num_memory_tokens < 1):
            raise ValueError(f"num_memory_tokens={self.num_memory_tokens!r} must be a positive integer for arch='rmt'")

    def _validate_lm2(self) -> None:
        if self.memory_slots != self.segment_length:
            raise ValueError(
                f"memory_slots={self.memory_slots} must equal segment_length={self.segment_length} for "
                "arch='lm2': bank row i belongs to token i of a segment (DESIGN §2)"
            )
        _positive("memory_heads", self.memory_heads)
        if self.hidden_size % self.memory_heads:
            raise ValueError(f"memory_heads={self.memory_heads} must divide hidden_size={self.hidden_size}")
        if self.memory_layers is not None:
            if not self.memory_layers:
                raise ValueError("memory_layers=[] gives lm2 no memory; use None (all blocks) or block indices")
            bad = [i for i in self.memory_layers if not 0 <= i < self.num_hidden_layers]
            if bad:
                raise ValueError(
                    f"memory_layers={self.memory_layers} has out-of-range blocks {bad}; "
                    f"allowed: 0..{self.num_hidden_layers - 1}"
                )

    # ------------------------------------------------------------------ derived
    @property
    def memory_layer_ids(self) -> list[int]:
        """Blocks with an LM2 memory path (empty unless `arch == "lm2"`)."""
        if self.arch != "lm2":
            return []
        return list(range(self.num_hidden_layers)) if self.memory_layers is None else list(self.memory_layers)

    @property
    def segment_span(self) -> int | None:
        """Tokens per segment as the model uses it: `None` means one unbounded segment (full attention)."""
        if self.arch == "vanilla" and self.vanilla_mode == "full":
            return None
        return self.segment_length


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")


def _positive(field: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{field}={value!r} must be a positive integer")
