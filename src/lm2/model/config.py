"""`LM2Config`: one configuration for the three architectures that share the Llama backbone.

Field names follow Hugging Face's `LlamaConfig`, so a Llama `config.json` reads into it; the memory fields
are ours. Every check runs at construction and raises `ValueError` naming the field, the value and what is
allowed (DESIGN §5), never later inside a matmul.
"""

from __future__ import annotations

import contextvars
import functools
import math
from typing import Any

from transformers import PreTrainedConfig

ARCHS = ("lm2", "rmt", "armt", "vanilla")
MEMORY_QUERIES = ("input", "attention")
MEMORY_OUTPUTS = ("bank", "read")
MEMORY_INITS = ("identity", "learned")
MEMORY_UPDATES = ("paper", "mean", "delta")
MEMORY_GATES = ("sigmoid", "hard")
MEMORY_GATE_GRADS = ("exact", "reopen")
MEMORY_CANDIDATES = ("read", "input")
MEMORY_WRITES = ("rows", "addressed", "delta", "sequential")
ADDRESSED_WRITES = ("addressed", "delta", "sequential")  # no row belongs to a token: each goes where its key points
DELTA_WRITES = ("delta", "sequential")  # a write replaces what its address reads
MEMORY_ADDRESSES = ("dot", "cosine", "slots")
# Named settings of the memory-variant fields (DESIGN §2, "Memory at length"; docs/memory.md).
MEMORY_PRESETS = {
    "paper": {
        "memory_read_norm": False,
        "memory_read_center": False,
        "memory_read_center_fraction": None,
        "memory_update": "paper",
        "forget_bias": 1.0,
        "input_bias": 0.0,
        "forget_floor": 0.0,
        "memory_gates": "sigmoid",
        "memory_gate_grad": "exact",
        "write_penalty": 0.0,
        "write_penalty_warmup": 0,
        "memory_candidate": "read",
        "memory_write": "rows",
        "memory_row_clip": False,
        "memory_address": "dot",
    },
}
VANILLA_MODES = ("full", "segmented")
ARMT_MEMORY_TOKENS = ("write", "recurrent")
ARMT_WRITES = ("joint", "sequential")


def memory_fields(arch: str) -> tuple[str, ...]:
    """The memory-variant fields that act in a model of `arch` (`lm2`: every field of the paper's preset; `armt`:
    its feature map; none for the others): those whose defaults have moved (docs/memory.md, "`lm2` is the
    default of its time"), so what a run from saved weights must take from them to compute what they learned."""
    return {"lm2": tuple(MEMORY_PRESETS["paper"]), "armt": ("armt_feature_norm",)}.get(arch, ())


class LM2Config(PreTrainedConfig):
    r"""Configuration of `LM2ForCausalLM`.

    Backbone (Llama-3 names and meaning): `vocab_size`, `hidden_size`, `intermediate_size`,
    `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads` (grouped-query attention),
    `head_dim`, `rms_norm_eps`, `rope_parameters`, `tie_word_embeddings`, `initializer_range`.

    arch: `"lm2"` (memory bank, DESIGN §2), `"rmt"` (memory tokens, DESIGN §4) or `"vanilla"`.
    segment_length: tokens per segment. Self-attention stays inside a segment; only the memory crosses
        segment boundaries. `None` is allowed for `vanilla` in `"full"` mode only.
    max_position_embeddings: the longest input of a full-attention model (Llama's meaning; `generate` warns
        past it). A segmented model has no maximum length — positions restart in every segment — so it is
        `None` for every model with a `segment_span`, whatever was stated or saved (a stated value still
        becomes a scaled RoPE's `original_max_position_embeddings` when that is not given).
    memory_slots: rows N of the LM2 bank; row i belongs to token i of a segment, so it must equal
        `segment_length` (defaults to it).
    memory_heads: heads of the memory cross-attention (head dim `hidden_size // memory_heads`).
    memory_layers: indices of the blocks that have memory (`None`: all).
    memory_query: `"input"` (query from the block input E_t, as the paper's equations) or `"attention"`
        (from the self-attention output, as the paper's code).
    memory_output: `"bank"` (add g_out * M_t[i], eq. 3) or `"read"` (add g_out * E_mem).
    memory_init: `"identity"` (fixed M_0: identity / orthonormal rows / unit-norm random rows) or
        `"learned"` (a parameter initialised the same way).
    The memory fields below default to the memory ladder's choice (docs/memory.md "Stage 11", registry name
    `lm2-hard-floor-write0.1-warm`; "Stage 26" kept it): read norm, delta update, hard gates at +3 / −3, forget
    floor 0.999, write penalty 0.1 rising over the first 19,200 training sequences. `memory_preset="paper"`
    restores the paper's equations (and loss).
    forget_bias: initial bias of the forget gate (default +3: the edge of a hard gate's "keep"; the paper's +1).
    input_bias: initial bias of the input gate (default −3: the edge of a hard gate's "shut", a row must earn
        a write; the paper's 0).
    memory_read_norm: RMS-normalise bank rows where they are read (before W_K and W_V, and in
        g_out * M_t[i]), so the read does not depend on the bank's scale (default; not in the paper).
    memory_read_center: how the first memory block, which reads the whole bank entering the segment, reads its
        rows (before the normalisation, W_K and W_V); later memory blocks and g_out * M_t[i] are unchanged.
        `False` (default): the rows as they are (the paper's read); `"split"`: the centred rows (each row minus
        the mean of the rows) and, as one more row, their mean, so that the read takes how the rows differ and
        what they share — what many segments of writes leave in all of them — apart, each at the scale of a row
        (docs/memory.md "Stage 23"; the default from stage 24 to stage 26, which found that it costs track
        learned with the curriculum); `True`: the centred rows only (docs/memory.md "Stage 19"); `"keys"`:
        centred keys (W_K) only, so which rows it reads is decided on how they differ while what it reads (W_V)
        is the rows as they are (docs/memory.md "Stage 22"); `"gated"`: the centred rows by the softmax and their
        mean added through a gate of its own, σ(q · k_mean / sqrt(e)) per token and head, so what the rows share
        does not take the softmax's mass from the rows (docs/memory.md "Stage 28"). None but `False` is in the
        paper.
    memory_read_center_fraction: `None` (default: no such parameter) or the initial value of a learnable
        per-channel fraction α of the rows' mean that the first memory block subtracts where it reads the bank,
        rows − α ⊙ mean (before the normalisation, W_K and W_V), so that training decides, channel by channel,
        how much of what every row shares the read sees (`0.0`: the uncentred read exactly at the start; `1.0`:
        `memory_read_center=True` at the start; docs/memory.md "Stage 21"). Not with `memory_read_center` (True is
        α = 1 fixed).
    memory_update: eq. 6 as `"paper"` (g_in * c + g_f * M); `"mean"`, the gates' weighted mean
        (g_in * c + g_f * M) / (g_in + g_f); or `"delta"` (default), g_f * M + g_in * (c - g_f * M), which moves
        the kept row towards the candidate c = tanh(E_mem). Both alternatives keep rows within [-1, 1] once there.
    forget_floor: the least value of the forget gate, g_f = floor + (1 − floor) σ(E_mem W_forget + b_f)
        (default 0.999; 0 is the paper's σ). A floor f bounds the horizon of every row below by 1/(1 − f)
        segments whatever training does to the gate (docs/memory.md "Stage 6"); it must lie in [0, 1).
    memory_gates: the squashing of the input and forget gates: `"sigmoid"` (the paper's σ) or `"hard"`
        (default), the hard sigmoid clamp(x / 6 + 1/2, 0, 1), exactly 0 below −3 and exactly 1 above +3, so a
        token can leave a row exactly as it was over any number of segments (docs/memory.md "Stage 7").
    memory_gate_grad: the backward pass of hard gates (`memory_gates="hard"` only; the forward pass is the same):
        `"exact"` (default), the hard sigmoid's own gradient, zero past ±3, so a gate that training pushes past
        its edge (a shut input gate, a keeping forget gate) gets no gradient again and stays there; or
        `"reopen"`, where a gate past its edge passes the gradient at the linear range's slope (1/6) when, and
        only when, the gradient would bring it back (a shut gate that the loss wants open) — never one that
        would push it further out, so nothing drifts past the edge (docs/memory.md "Stage 15").
    memory_candidate: what a write moves a row towards: `"read"` (the paper's eq. 6, c = tanh(E_mem), the read
        of the bank itself, so a token's content reaches the bank only through which rows it attended to) or
        `"input"`, c = tanh(E_t W_C), a projection of the token's own block input, the same E_t the input gate
        sees (an extra d × d matrix per memory block; docs/memory.md "Stage 11").
    memory_write: where a token's write goes. `"rows"` (default, the paper's): token i rewrites row i of the bank,
        block after block, as eqs. 4–6 state (the bank is row-aligned). `"addressed"` (not in the paper;
        docs/memory.md "Stage 30"): every memory block reads the whole bank entering the segment, and each token
        writes where a key it computes points, a = softmax((E_t W_A) Kᵀ / sqrt(e)) over the bank's rows per memory
        head, with K the block's keys of those rows; at the end of each complete segment every memory block in
        turn moves each row to a convex mix of itself and the candidates written to it,
        M[j] ← (1 − s_j)₊ M[j] + Σ_i u_ij c_i / max(s_j, 1), with u_ij = a_ij g_in,i (per channel) and
        s_j = Σ_i u_ij, so a row stays within [-1, 1] once there and a token whose input gate is shut leaves every
        row exactly as it was. It needs `memory_output="read"` (no row belongs to a token) and
        `memory_read_center=False` with no `memory_read_center_fraction` (every block reads the bank as the first
        does); there is no forget gate, so `forget_bias`, `forget_floor` and `memory_update` do not act. One
        more d × d matrix (W_A) per memory block. The writes of an unfinished segment wait in the blocks' caches,
        so the state's bank is the one entering that segment, as RMT's memory tokens are. `"delta"` (not in the
        paper; docs/memory.md "Stage 31"): the same read, address and caches, but a write replaces what its key
        reads instead of blending into the rows: token i's error e_i = c_i − a_i M (a_i M the bank's rows as its
        address mixes them, per memory head) goes to row j with weight u_ij = g_in,i a_ij / |a_i|² (the normalised
        delta rule), and when the segment completes the bank takes every memory block's writes in one step,
        M[j] ← M[j] + Σ u_ij e_i / max(Σ u_ij, 1), both sums over the segment's tokens and the memory blocks. A
        token writing with its gate fully open to one row, or spread evenly over all, leaves a_i M = c_i (in
        between, each row takes min(a_ij / |a_i|², 1) of the error); an evenly spread address moves every row
        alike, so the rows keep their differences where the convex mix shrinks them. The same fields as
        `"addressed"`: `memory_output="read"`, no centring, W_A instead of the forget gate. `"sequential"` (not in
        the paper; docs/memory.md "Stage 35"): the delta rule applied write after write, in the segment's token
        order (a token's memory blocks in their order), each error taken against the bank as the earlier writes of
        the segment left it: M ← M + a_iᵀ (β_i ⊙ (c_i − a_i M)) with β_i = g_in,i / |a_i|² per channel, so a
        write moves what its address reads g_in of the way to its candidate (no row's step capped as `"delta"`
        caps it; the step stays non-expansive), and a later write
        to the same rows replaces an earlier one instead of being averaged with it (with `"delta"` two facts about
        one person in one segment leave no trace of which came last: docs/reproduction.md, amendment 26c). The bank
        still takes the segment's writes when it completes, from the addresses, rates and candidates the blocks'
        caches hold, in closed form over 16 writes at a time (a triangular system per channel). Same fields as
        `"delta"`.
    memory_row_clip: with `memory_write="delta"` or `"sequential"` only (not in the paper; docs/memory.md "Stage
        32"): after each segment's writes every entry of the bank is clipped to [-1, 1], the range of the
        candidates (tanh) and of M_0, which the convex mix of `"addressed"` never leaves and the delta rule's step
        does (its rows' norms grow with the input's length, docs/reproduction.md "Amendment 15"). The clip is the
        projection onto that box:
        it is non-expansive and leaves a bank inside the box as it is, so shut gates still leave it bit for bit.
        In the reproduction study it bounded the rows and changed qa1 at no length (amendment 15).
    memory_address: how an addressed write's key picks its rows (`memory_write` "addressed", "delta" or
        "sequential" only; not in the paper). `"dot"` (default): a = softmax((E_t W_A) Kᵀ / sqrt(e)) over the rows'
        keys K, per memory head.
        `"cosine"`: content addressing with a key strength, as in the Neural Turing Machine: a_j = softmax_j(β cos(q,
        k_j)) with q = E_t W_A, and β = softplus(E_t W_β + b_β) ≥ 0 per token and memory head, so that each write sets
        how sharply it addresses, independently of the key's and the rows' magnitudes (one more d × h map and its
        bias per memory block). The study's addressed writes learned near-even dot addresses (docs/reproduction.md
        "Amendment 15c").
        `"slots"` (docs/memory.md "Stage 34"): every row has a key of its own, κ_j, a learned parameter of each
        memory block (h × m × e) that the row's content does not change; a write goes to a = softmax((E_t W_A) κᵀ /
        sqrt(e)) and the read attends over the same keys, softmax((E_t W_Q) κᵀ / sqrt(e)) V with V = M W_V, so a key
        finds the rows it wrote whatever has been written there since, and a first write of a new key lands where
        that key points instead of spreading over rows whose content it does not match (content addressing has no
        way to allocate a row). The block's keys no longer come from the rows, so it has no W_K: κ replaces the d × d
        matrix with m × d numbers. ARMT's memory is addressed the same way, by a fixed map of its key.
    memory_address_strength: the key strength β that `memory_address="cosine"` starts at (b_β = softplus⁻¹ of it,
        W_β from the usual initialisation); > 0, default 10, at which a key's cosine margin of 0.5 over the 63 other
        rows of a 64-row bank puts 1 / (1 + 63 e⁻⁵) = 70 % of a write on its row.
    write_penalty: λ ≥ 0 of a write cost added to the training loss (default 0.1; 0 is the paper's loss): the
        loss of `LM2ForCausalLM(labels=...)` and of `lm2 train` becomes cross-entropy + λ · mean g_in, the
        input gate averaged over real tokens, memory blocks and width (with `num_items_in_batch`, and in
        `lm2 train`'s micro-batches, over the accumulated batch's tokens, so that the parts add up). A row then
        has to earn every write; with hard gates the unneeded ones shut exactly
        (docs/memory.md "Stage 9"). Logits, streaming and generation do not change. Like the other memory
        fields it only acts in `arch="lm2"` (the other architectures have no input gates).
    write_penalty_warmup: training sequences over which the write price rises linearly from 0 to
        `write_penalty` (default 19,200, half of the memory ladder's 1,200 steps of 32, where it was measured;
        0: the whole price from the first batch). The model counts them itself, in a buffer that checkpoints
        keep: the rows of every forward call with labels in training mode with gradients on (the model's own
        loss and `lm2 train`'s loss view), times the number of processes when torch.distributed runs, added to
        the count at the next optimizer step (any optimizer's: a global step hook), so that every micro-batch
        of a step pays the same price and any split of a global batch over micro-batches and processes gives
        the same gradient. A large price from the start shuts the gates of a task the read has not learned
        yet (docs/memory.md "Stage 10", "Stage 11").
    memory_preset: a name from `MEMORY_PRESETS` (`"paper"`: the paper's exact equations) that sets the
        fields above; giving a preset and a conflicting field raises.
    memory_gain: `None` (the paper: the gated memory is added as is) or the initial value of a learnable
        per-channel gain on it; `0.0` makes a model whose memory starts switched off exactly (converting a
        pretrained Llama without changing its outputs) while still receiving gradient.
    num_memory_tokens: memory embeddings of `rmt` and `armt`.
    armt_memory_tokens: `armt` (DESIGN §4, docs/architecture.md "ARMT"): `"write"` (the paper's code: the
        learned memory tokens follow each complete segment only to write A and z; segment tokens never see
        them and only A, z cross segments) or `"recurrent"` (RMT's memory tokens plus A, z: the tokens'
        write outputs become the next segment's memory, read as a prefix by every segment token).
    armt_dpfp_nu: ν of the DPFP-ν feature map φ of `armt`'s keys and queries (the paper: 3).
    armt_feature_norm: `True` (default; the paper's public code: φ of every key and query scaled to unit L2
        norm, so the memory is blind to the scale of keys and queries) or `False` (the paper's equations: φ =
        DPFP-ν as is; it diverged in training on the memory ladder, docs/memory.md "Stage 3").
    armt_write: how `armt`'s k memory tokens write A and z after a segment: `"joint"` (default; the paper's
        code: all at once, each against the A and z the segment found) or `"sequential"` (one token after
        another, each against what the tokens before it left: the delta rule taken in turn). Where the tokens'
        keys coincide the joint write can grow A geometrically (docs/memory.md "Stage 36").
    armt_key_dim: width of `armt`'s keys and queries before φ (`None`: `head_dim`); A is
        `2·armt_dpfp_nu·armt_key_dim × hidden_size` per block and sample.
    armt_read_gain: `None` (the paper: the associative read is added as is) or the initial value of a
        learnable per-channel gain on it; `0.0` switches the read off exactly at the start (with
        `armt_memory_tokens="write"`, a converted Llama then gives the Llama's logits) while it still learns.
    bptt_segments: detach the memory every k segments (0: full backpropagation through time).
    segment_checkpointing: recompute each segment's activations in the backward pass (transformers'
        `gradient_checkpointing_enable()` switches the same on; `lm2 train` sets it from `run.segment_checkpointing`).
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
    max_position_embeddings: int | None = 2048
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
    forget_bias: float = 3.0
    input_bias: float = -3.0
    memory_read_norm: bool = True
    memory_read_center: bool | str = False
    memory_read_center_fraction: float | None = None
    memory_update: str = "delta"
    forget_floor: float = 0.999
    memory_gates: str = "hard"
    memory_gate_grad: str = "exact"
    memory_candidate: str = "read"
    memory_write: str = "rows"
    memory_row_clip: bool = False
    memory_address: str = "dot"
    memory_address_strength: float = 10.0
    write_penalty: float = 0.1
    write_penalty_warmup: int = 19_200
    memory_preset: str | None = None
    memory_gain: float | None = None
    num_memory_tokens: int = 16
    bptt_segments: int = 0
    segment_checkpointing: bool = False
    vanilla_mode: str = "full"
    embedding_init_std: float | None = None

    # arch="armt" (the associative memory; docs/architecture.md "ARMT")
    armt_memory_tokens: str = "write"
    armt_dpfp_nu: int = 3
    armt_feature_norm: bool = True
    armt_write: str = "joint"
    armt_key_dim: int | None = None
    armt_read_gain: float | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None and self.num_attention_heads and self.hidden_size % self.num_attention_heads == 0:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.arch == "lm2" and self.memory_slots is None:
            self.memory_slots = self.segment_length
        if self.memory_heads is None:
            self.memory_heads = self.num_attention_heads
        if self.armt_key_dim is None:
            self.armt_key_dim = self.head_dim
        if self.memory_layers is not None:
            self.memory_layers = sorted({int(i) for i in self.memory_layers})
        if self.memory_preset is not None:
            self._apply_memory_preset()
        super().__post_init__(**kwargs)  # standardises rope_parameters with the stated maximum
        if self.segment_span is not None:
            # No maximum length: transformers' generate reads this field to warn past it and to cap its
            # default max_length, neither of which applies when positions restart in every segment.
            self.max_position_embeddings = None
        self.validate()

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> LM2Config:
        """As transformers', except that a config saved before a field that changed its meaning existed loads
        as it was trained, whatever today's defaults are: `lm2` without `memory_update` with the paper's memory
        fields; `lm2` without `forget_floor`, `memory_gates`, `write_penalty`, `write_penalty_warmup` or
        `memory_candidate` (saved between stage 4 and stage 11 of docs/memory.md) with the value each field gave
        every model before it existed (the paper's); `armt` without `armt_feature_norm` with the raw DPFP
        features (`False`)."""
        arch = config_dict.get("arch", cls.arch)
        if arch == "lm2" and "memory_update" not in config_dict:
            config_dict = {**MEMORY_PRESETS["paper"], **config_dict}
        if arch == "lm2":
            later = ("forget_floor", "memory_gates", "write_penalty", "write_penalty_warmup", "memory_candidate")
            config_dict = {**{k: MEMORY_PRESETS["paper"][k] for k in later}, **config_dict}
        if arch == "armt" and "armt_feature_norm" not in config_dict:
            config_dict = {"armt_feature_norm": False, **config_dict}
        return super().from_dict(config_dict, **kwargs)

    def _apply_memory_preset(self) -> None:
        _choice("memory_preset", self.memory_preset, tuple(MEMORY_PRESETS))
        passed = _PASSED_FIELDS.get()
        for field, value in MEMORY_PRESETS[self.memory_preset].items():
            given = getattr(self, field)
            if given != value and (passed is None or field in passed):
                raise ValueError(
                    f"memory_preset={self.memory_preset!r} sets {field}={value!r}, but {field}={given!r} was "
                    "given; drop one of them"
                )
            setattr(self, field, value)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise `ValueError` for any inconsistent field (called at construction)."""
        _choice("arch", self.arch, ARCHS)
        _choice("memory_query", self.memory_query, MEMORY_QUERIES)
        _choice("memory_output", self.memory_output, MEMORY_OUTPUTS)
        _choice("memory_init", self.memory_init, MEMORY_INITS)
        _choice("memory_update", self.memory_update, MEMORY_UPDATES)
        _choice("memory_gates", self.memory_gates, MEMORY_GATES)
        _choice("memory_gate_grad", self.memory_gate_grad, MEMORY_GATE_GRADS)
        if self.memory_gate_grad == "reopen" and self.memory_gates != "hard":
            raise ValueError(
                f"memory_gate_grad='reopen' acts on hard gates only, but memory_gates={self.memory_gates!r}; "
                "use memory_gates='hard' or memory_gate_grad='exact'"
            )
        _choice("memory_candidate", self.memory_candidate, MEMORY_CANDIDATES)
        _choice("memory_write", self.memory_write, MEMORY_WRITES)
        if not isinstance(self.memory_read_norm, bool):
            raise ValueError(f"memory_read_norm={self.memory_read_norm!r} must be true or false")
        if not isinstance(self.memory_row_clip, bool):
            raise ValueError(f"memory_row_clip={self.memory_row_clip!r} must be true or false")
        if self.memory_row_clip and self.memory_write not in DELTA_WRITES:
            raise ValueError(
                f"memory_row_clip=True needs memory_write='delta' or 'sequential' (it bounds the delta rule's rows), "
                f"got memory_write={self.memory_write!r}"
            )
        _choice("memory_address", self.memory_address, MEMORY_ADDRESSES)
        if self.memory_address != "dot" and self.memory_write not in ADDRESSED_WRITES:
            raise ValueError(
                f"memory_address={self.memory_address!r} needs an addressed write (memory_write 'addressed', "
                f"'delta' or 'sequential'), got memory_write={self.memory_write!r}"
            )
        strength = self.memory_address_strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength < math.inf:
            raise ValueError(f"memory_address_strength={strength!r} must be a finite number > 0")
        if not (isinstance(self.memory_read_center, bool) or self.memory_read_center in ("keys", "split", "gated")):
            raise ValueError(
                f"memory_read_center={self.memory_read_center!r} must be true, false, 'keys' (the keys only), "
                "'split' (the centred rows and their mean as one more row) or 'gated' (the centred rows and their "
                "mean through a gate of its own)"
            )
        fraction = self.memory_read_center_fraction
        number = isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
        if fraction is not None and not (number and math.isfinite(fraction)):
            raise ValueError(
                f"memory_read_center_fraction={fraction!r} must be a finite number or None (no learned centring)"
            )
        if fraction is not None and self.memory_read_center is not False:
            raise ValueError(
                f"memory_read_center_fraction={fraction!r} learns a centring, but memory_read_center="
                f"{self.memory_read_center!r} fixes one; give one of them"
            )
        for name in ("forget_bias", "input_bias", "forget_floor", "write_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}={value!r} must be a finite number")
        if not 0.0 <= self.forget_floor < 1.0:
            raise ValueError(f"forget_floor={self.forget_floor!r} must be in [0, 1) (0: the paper's forget gate)")
        if self.write_penalty < 0:
            raise ValueError(f"write_penalty={self.write_penalty!r} must be >= 0 (0: no write cost)")
        warmup = self.write_penalty_warmup
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"write_penalty_warmup={warmup!r} must be a whole number of sequences >= 0 (0: none)")
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
        self._validate_max_length()
        if self.arch == "lm2":
            self._validate_lm2()
        if self.arch in ("rmt", "armt") and (not isinstance(self.num_memory_tokens, int) or self.num_memory_tokens < 1):
            raise ValueError(
                f"num_memory_tokens={self.num_memory_tokens!r} must be a positive integer for arch={self.arch!r}"
            )
        self._validate_armt()

    def _validate_armt(self) -> None:
        _choice("armt_memory_tokens", self.armt_memory_tokens, ARMT_MEMORY_TOKENS)
        _choice("armt_write", self.armt_write, ARMT_WRITES)
        _positive("armt_dpfp_nu", self.armt_dpfp_nu)
        _positive("armt_key_dim", self.armt_key_dim)
        if self.armt_dpfp_nu > 2 * self.armt_key_dim - 1:
            raise ValueError(
                f"armt_dpfp_nu={self.armt_dpfp_nu} must be at most 2*armt_key_dim-1={2 * self.armt_key_dim - 1}: "
                "DPFP-ν pairs each of the 2*armt_key_dim rectified features with the next ν (cyclically)"
            )
        if not isinstance(self.armt_feature_norm, bool):
            raise ValueError(f"armt_feature_norm={self.armt_feature_norm!r} must be true or false")
        gain = self.armt_read_gain
        number = isinstance(gain, (int, float)) and not isinstance(gain, bool)
        if gain is not None and not (number and math.isfinite(gain)):
            raise ValueError(f"armt_read_gain={gain!r} must be a finite number or None (no gain, the paper)")

    def _validate_max_length(self) -> None:
        if self.max_position_embeddings is not None:
            _positive("max_position_embeddings", self.max_position_embeddings)
            return
        rope = self.rope_parameters or {}
        kind = rope.get("rope_type", "default")
        if kind == "dynamic":
            raise ValueError(
                "max_position_embeddings=None (no maximum length, as in every segmented model) leaves "
                "rope_type='dynamic' nothing to scale with; use rope_type 'default' (the frequencies 'dynamic' "
                "starts from, and this backbone never rescales them)"
            )
        needs = ("factor",) if kind in ("yarn", "longrope") else ()
        needs += ("original_max_position_embeddings",) if kind in ("llama3", "yarn", "longrope") else ()
        missing = [key for key in needs if rope.get(key) is None]
        if missing:
            raise ValueError(
                f"max_position_embeddings=None (no maximum length, as in every segmented model) leaves "
                f"rope_type={kind!r} without {' and '.join(missing)}; give it in rope_parameters"
            )

    def _validate_addressed(self) -> None:
        if self.memory_output != "read":
            raise ValueError(
                f"memory_write={self.memory_write!r} needs memory_output='read' (a token adds its read: no bank "
                f"row belongs to it), got memory_output={self.memory_output!r}"
            )
        if self.memory_read_center is not False or self.memory_read_center_fraction is not None:
            raise ValueError(
                f"memory_write={self.memory_write!r} reads the bank in every memory block as it is, so it needs "
                f"memory_read_center=False and memory_read_center_fraction=None, got "
                f"{self.memory_read_center!r} and {self.memory_read_center_fraction!r}"
            )

    def _validate_lm2(self) -> None:
        if self.memory_slots != self.segment_length:
            raise ValueError(
                f"memory_slots={self.memory_slots} must equal segment_length={self.segment_length} for "
                "arch='lm2': bank row i belongs to token i of a segment (DESIGN §2)"
            )
        _positive("memory_heads", self.memory_heads)
        if self.memory_write in ADDRESSED_WRITES:
            self._validate_addressed()
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
    def armt_feature_dim(self) -> int:
        """Width f of φ(key) in `armt`: rows of each block's associative matrix A (f × hidden_size)."""
        return 2 * self.armt_dpfp_nu * self.armt_key_dim

    @property
    def recurrent_memory_tokens(self) -> bool:
        """Memory tokens that carry over and that every segment token reads as a prefix: `rmt`, and `armt`
        with `armt_memory_tokens="recurrent"`."""
        return self.arch == "rmt" or (self.arch == "armt" and self.armt_memory_tokens == "recurrent")

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


# The fields a caller passed to `LM2Config(...)`, so that a preset can tell a field given with its default value
# (a conflict: `memory_preset="paper", memory_read_norm=True` raises) from one left out. The dataclass that
# transformers makes of the class takes keyword arguments only; `None` outside a construction.
_PASSED_FIELDS: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar("passed", default=None)


def _record_passed_fields(init):
    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        token = _PASSED_FIELDS.set(frozenset(kwargs))
        try:
            init(self, *args, **kwargs)
        finally:
            _PASSED_FIELDS.reset(token)

    return __init__


LM2Config.__init__ = _record_passed_fields(LM2Config.__init__)
