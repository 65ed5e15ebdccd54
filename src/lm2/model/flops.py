"""Analytic cost of the architectures: parameter counts and FLOPs per token.

FLOPs count a multiply-add as 2 and ignore element-wise work (norms, gates' sigmoid, softmax); a training
step costs 3 forward passes (backward = 2 x forward). Used to state parameter counts in experiments and to
set measured time ratios against FLOP ratios in benchmarks.
"""

from __future__ import annotations

from .config import ADDRESSED_WRITES, DELTA_WRITES, LM2Config


def parameter_counts(config: LM2Config) -> dict[str, int]:
    """Parameters by part: `embedding`, `backbone` (blocks + final norm), `memory`, `lm_head`, `total`."""
    d, f, e = config.hidden_size, config.intermediate_size, config.head_dim
    h, kv, layers = config.num_attention_heads, config.num_key_value_heads, config.num_hidden_layers
    attn = d * h * e + 2 * d * kv * e + h * e * d
    if config.attention_bias:
        attn += h * e + 2 * kv * e + d
    mlp = 3 * d * f + ((2 * f + d) if config.mlp_bias else 0)
    backbone = layers * (attn + mlp + 2 * d) + d
    per_block = 6 * d * d + 3 * d + (d if config.memory_gain is not None else 0)  # W_Q, W_K, W_V, 3 gates
    if config.memory_write in ADDRESSED_WRITES:
        per_block -= d  # W_A instead of W_forget, which has a bias
        if config.memory_address == "cosine":
            per_block += (d + 1) * config.memory_heads  # W_β and b_β, a key strength per memory head
        if config.memory_address == "slots":
            per_block += config.memory_slots * d - d * d  # κ, a key per row and memory head, instead of W_K
    if config.memory_candidate == "input":
        per_block += d * d  # W_C
    memory = len(config.memory_layer_ids) * per_block
    if config.memory_read_center_fraction is not None and config.memory_layer_ids:
        memory += d  # α of the first memory block, the one that reads the whole bank
    if config.arch == "lm2" and config.memory_init == "learned":
        memory += config.memory_slots * d
    if config.arch in ("rmt", "armt"):
        memory += config.num_memory_tokens * d
    if config.arch == "armt":  # per block W_Q, W_K (d x key_dim), W_V (d x d), W_β (d + bias), the read gain
        gain = d if config.armt_read_gain is not None else 0
        memory += layers * (2 * d * config.armt_key_dim + d * d + d + 1 + gain)
    embedding = config.vocab_size * d
    lm_head = 0 if config.tie_word_embeddings else config.vocab_size * d
    total = embedding + backbone + memory + lm_head
    return {
        "embedding": embedding,
        "backbone": backbone,
        "memory": memory,
        "lm_head": lm_head,
        "total": total,
    }


def parameter_table(config: LM2Config) -> dict[str, dict[str, int]]:
    """`parameter_counts` of `lm2`, `rmt`, `armt` and `vanilla` built on the backbone of `config`, so an
    experiment can state what the memory costs in parameters."""
    fields = config.to_dict()
    table = {}
    for arch in ("lm2", "rmt", "armt", "vanilla"):
        overrides = {"arch": arch, "memory_slots": config.segment_length if arch == "lm2" else None}
        table[arch] = parameter_counts(LM2Config(**{**fields, **overrides}))
    return table


def forward_flops_per_token(config: LM2Config, length: int) -> float:
    """Forward FLOPs per input token, averaged over an input of `length` tokens cut into full segments."""
    d, f, e = config.hidden_size, config.intermediate_size, config.head_dim
    h, kv, layers = config.num_attention_heads, config.num_key_value_heads, config.num_hidden_layers
    span = config.segment_span or length
    span = min(span, length)
    block_linear = 2 * (d * h * e + 2 * d * kv * e + h * e * d + 3 * d * f)
    causal_keys = (span + 1) / 2  # average keys a query sees inside a segment
    attention = 2 * 2 * h * e * causal_keys  # q·k and weights·v
    per_token = layers * (block_linear + attention) + 2 * d * config.vocab_size
    if config.arch == "lm2":
        ids = config.memory_layer_ids
        first = config.memory_slots + (config.memory_read_center in ("split", "gated"))  # the rows' mean too
        addressed = config.memory_write in ADDRESSED_WRITES  # every block reads and addresses every row
        rows = [first if i == ids[0] or addressed else (span + 1) / 2 for i in ids]
        # W_Q, W_K, W_V, 3 gates (W_A instead of W_forget when addressed) and W_C
        projections = 7 if config.memory_candidate == "input" else 6
        if addressed and config.memory_address == "slots":
            projections -= 1  # κ: the rows' keys are parameters, not W_K of the rows
        per_token += len(ids) * 2 * projections * d * d + sum(2 * 2 * d * r for r in rows)
        if addressed:  # the write key's scores over the m rows, then Σ_i u_ij and Σ_i u_ij c_i
            per_token += len(ids) * 3 * 2 * d * config.memory_slots
        if config.memory_write in DELTA_WRITES:  # what each address reads, a_i M, for the error
            per_token += len(ids) * 2 * d * config.memory_slots
        if config.memory_write == "sequential":  # each write's overlaps with the segment's earlier writes (m per
            writes = len(ids) * span  # head) and its row of the triangular solve (one per channel), about N each
            per_token += len(ids) * (config.memory_heads * config.memory_slots + d) * writes
        if addressed and config.memory_address == "cosine":  # the key strengths, E_t W_β
            per_token += len(ids) * 2 * d * config.memory_heads
    elif config.arch == "rmt":
        k = config.num_memory_tokens
        # Every segment token also sees the k read tokens; each segment adds 2k memory-token passes (read and
        # write), the write copy seeing the whole segment.
        per_token += layers * 2 * 2 * h * e * k
        extra_tokens = 2 * k / span
        per_token += extra_tokens * layers * (block_linear + 2 * 2 * h * e * (span / 2 + k))
    elif config.arch == "armt":
        per_token += _armt_flops_per_token(config, span, block_linear)
    return float(per_token)


def _armt_flops_per_token(config: LM2Config, span: int, block_linear: float) -> float:
    """ARMT's forward FLOPs per segment token on top of the backbone: every token entering a block reads A;
    each segment adds the write copy of the k memory tokens (and the read copy, when they recur), their
    reads, attention and the delta-rule write of every block's A and z."""
    d, k, h, e = config.hidden_size, config.num_memory_tokens, config.num_attention_heads, config.head_dim
    key, f, layers = config.armt_key_dim, config.armt_feature_dim, config.num_hidden_layers
    read = 2 * d * key + 2 * f * d + 2 * f  # W_Q h, φᵀA and zᵀφ
    write = 2 * d * key + 2 * d * d + 2 * d + 4 * f * d + 2 * f  # W_K, W_V, W_β, v̄ and A's update, zᵀφ
    recurrent = config.recurrent_memory_tokens
    prefix = k if recurrent else 0  # read tokens every segment token sees
    copies = 2 if recurrent else 1
    keys_seen = span + (k + 1) / 2 + (prefix + (k + 1) / 2 if recurrent else 0)  # by the copies, per token
    per_segment = k * layers * (copies * (block_linear + read) + write + 2 * 2 * h * e * keys_seen)
    return layers * (read + 2 * 2 * h * e * prefix) + per_segment / span


def training_flops(config: LM2Config, batch: int, length: int) -> float:
    """FLOPs of one training step (forward + backward) on `batch` sequences of `length` tokens."""
    return 3.0 * forward_flops_per_token(config, length) * batch * length
