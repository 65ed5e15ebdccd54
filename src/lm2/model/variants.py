"""The named model variants that commands compare (`lm2 demo`, `lm2 recall`, `lm2 bench`).

A variant is what makes a compared model what it is: the `LM2Config` fields that set its memory mechanism.
Everything else (widths, depth, segment length, how many RMT memory tokens) is the backbone, chosen by each
command, so that a comparison on one backbone measures the memory mechanism and nothing else (DESIGN §4).

    config = variant_config("rmt", {"hidden_size": 64, "num_hidden_layers": 2, "segment_length": 32})
    names = parse_variants("lm2,vanilla-segmented")    # ValueError naming the option for unknown names
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import MEMORY_PRESETS, LM2Config


def _lm2(**fields: Any) -> dict[str, Any]:
    """An LM2 memory variant stated in full: the paper's memory fields with `fields` changed, so that its
    meaning does not move when `LM2Config`'s defaults do."""
    return {"arch": "lm2", **MEMORY_PRESETS["paper"], **fields}


def _hard(forget_floor: float = 0.0, **fields: Any) -> dict[str, Any]:
    """`lm2-hard` (stage 7 of docs/memory.md: delta update, read norm, hard gates at +3 / −3) with a forget
    floor and `fields` changed."""
    return _lm2(**{"memory_update": "delta", "memory_read_norm": True, "memory_gates": "hard", "forget_bias": 3.0,
                   "input_bias": -3.0, "forget_floor": forget_floor, **fields})  # fmt: skip


# Writes addressed by key of the token's own content (stages 30b and 31): stage 11's price, the read added as it is.
_BY_KEY_OWN_CONTENT = {
    "write_penalty": 0.1,
    "write_penalty_warmup": 19_200,
    "memory_output": "read",
    "memory_candidate": "input",
}

# The reproduction study's write: by the delta rule, of the token's own content, the read added as it is, no price.
_STUDY = {"memory_write": "delta", "memory_output": "read", "memory_candidate": "input", "write_penalty": 0.0}

# Name → the LM2Config fields that define the variant (applied over the backbone).
VARIANTS: dict[str, dict[str, Any]] = {
    "lm2": {"arch": "lm2"},  # the memory bank (DESIGN §2) with LM2Config's default memory fields
    "lm2-paper": {"arch": "lm2", "memory_preset": "paper"},  # the paper's exact equations
    # The memory-at-length variants of the study (docs/memory.md), each a change from the paper's equations:
    "lm2-norm": _lm2(memory_read_norm=True),  # bank rows RMS-normalised where read
    "lm2-keep": _lm2(forget_bias=4.0, input_bias=-4.0),  # gates start by keeping: a row must earn a write
    "lm2-norm-keep": _lm2(memory_read_norm=True, forget_bias=4.0, input_bias=-4.0),
    "lm2-mean": _lm2(memory_update="mean"),  # bounded: the gates' weighted mean of row and candidate
    "lm2-delta": _lm2(memory_update="delta"),  # bounded: keep g_f of the row, move it by g_in to the candidate
    "lm2-delta-norm-keep": _lm2(memory_update="delta", memory_read_norm=True, forget_bias=4.0, input_bias=-4.0),
    # Stage 6: a forget gate whose horizon training cannot shorten below 1,000 segments (g_f >= 0.999).
    "lm2-floor": _lm2(memory_read_norm=True, forget_bias=4.0, input_bias=-4.0, forget_floor=0.999),
    "lm2-delta-floor": _lm2(
        memory_update="delta", memory_read_norm=True, forget_bias=4.0, input_bias=-4.0, forget_floor=0.999
    ),
    # Stage 7: hard-sigmoid input and forget gates (exactly 0 / 1 past ±3) with the delta update, so a token
    # can leave a row bit for bit as it was; biases at the edges of the linear range, where gradient still flows.
    "lm2-hard": _hard(),
    # Stage 8: both, a row can neither be forgotten (the floor) nor leak (hard input gates).
    "lm2-hard-floor": _hard(0.999),
    # Stage 9: a price on writes (`write_penalty` λ, two values fixed before the runs), so that training shuts
    # the input gates a short input never needed shut; with and without the forget floor. Stage 10: larger
    # prices with the floor. `lm2-hard-floor-write0.1` was LM2Config's default from stage 9 to stage 11.
    **{f"lm2-hard-write{penalty}": _hard(write_penalty=penalty) for penalty in (0.1, 0.01)},
    **{f"lm2-hard-floor-write{penalty}": _hard(0.999, write_penalty=penalty) for penalty in (0.1, 0.01, 0.3, 1.0)},
    # Stage 11: the price rising over the first 19,200 training sequences (600 ladder steps of 32, half the
    # stage-9 plan), so that the read learns a task before writes cost anything (`lm2-hard-floor-write0.1-warm`
    # is LM2Config's default since stage 11; stage 24 moved it to the split read and stage 26 back); and the
    # candidate from the token's own input (c = tanh(E_t W_C)) instead of the read of the bank.
    **{
        f"lm2-hard-floor-write{penalty}-warm": _hard(0.999, write_penalty=penalty, write_penalty_warmup=19_200)
        for penalty in (0.1, 0.3)
    },
    "lm2-hard-floor-input": _hard(0.999, memory_candidate="input"),
    # Stage 14: the default with the bank read as it is (no RMS normalisation), the part that slowed qa1 at 0k
    # most in the reproduction study's amendment 5 (docs/reproduction.md).
    "lm2-hard-floor-write0.1-warm-raw": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_norm=False
    ),
    # and the default with the paper's gate biases and no forget floor: gates that start half open, as the paper's.
    "lm2-hard-write0.1-warm-open": _hard(
        write_penalty=0.1, write_penalty_warmup=19_200, forget_bias=1.0, input_bias=0.0
    ),
    # Stage 15: the default whose hard gates get the gradient that would bring them back from past their edges
    # (LM2Config.memory_gate_grad): the same forward pass, so the same model at inference.
    "lm2-hard-floor-write0.1-warm-reopen": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_gate_grad="reopen"
    ),
    # Stage 19: the default whose first memory block reads the entering bank's rows minus their mean, so the part
    # that long inputs write into every row (stage 18b: rows at cosine 0.9 after 1,024 tokens) is not read.
    "lm2-hard-floor-write0.1-warm-center": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_center=True
    ),
    # Stage 21: the default whose first memory block reads the rows minus a learned per-channel fraction of their
    # mean, starting at 0 (the default's read), so that training weighs what stage 19 removed.
    "lm2-hard-floor-write0.1-warm-center-learned": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_center_fraction=0.0
    ),
    # Stage 22: the default whose first memory block centres the keys only: which rows it reads is decided on how
    # they differ (stage 19's gain), what it reads is the rows as they are (what stage 20's recall lost, perhaps).
    "lm2-hard-floor-write0.1-warm-center-keys": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_center="keys"
    ),
    # Stage 23: the default whose first memory block reads the centred rows and, as one more row, their mean: how the
    # rows differ (what stage 19's centring kept) and what they share (what stage 20's recall lost), apart.
    # LM2Config's default from stage 24 to stage 26 (it costs track learned with the curriculum).
    "lm2-hard-floor-write0.1-warm-center-split": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_center="split"
    ),
    # Stage 28: the split read whose mean is added through a gate of its own, σ(q · k_mean / sqrt(e)), instead of as
    # one more softmax column, so what the rows share cannot take the read's mass from the rows (stage 27's guess).
    "lm2-hard-floor-write0.1-warm-center-gated": _hard(
        0.999, write_penalty=0.1, write_penalty_warmup=19_200, memory_read_center="gated"
    ),
    # Stage 30: writes addressed by a key the token computes instead of its own row (`memory_write="addressed"`), so
    # that a fact can land where the same subject's last fact is and stay apart from what follows; every block reads
    # the whole bank, which takes the segment's writes as convex mixes when the segment completes. Stage 11's price
    # and hard input gates, so a token that does not write leaves the bank exactly as it was.
    "lm2-addressed": _hard(
        write_penalty=0.1, write_penalty_warmup=19_200, memory_write="addressed", memory_output="read"
    ),
    # Stage 30b: the same, writing the token's own content, c = tanh(E_t W_C), instead of a read of the bank.
    "lm2-addressed-input": _hard(memory_write="addressed", **_BY_KEY_OWN_CONTENT),
    # Stage 31: stage 30b's write with the normalised delta rule: a token replaces what its address reads from the bank
    # instead of blending its content into the rows, so a key's new value displaces its old one, and a spread address
    # moves all rows alike instead of pulling them together (stage 30b's collapse, its track).
    "lm2-delta-input": _hard(memory_write="delta", **_BY_KEY_OWN_CONTENT),
    # Stage 32: the same, each entry of the bank clipped to [-1, 1] after every segment's writes (`memory_row_clip`),
    # the range its rows start in and the convex mix keeps, since the delta rule's rows grow with the input's length.
    "lm2-delta-clip-input": _hard(memory_write="delta", memory_row_clip=True, **_BY_KEY_OWN_CONTENT),
    # Stage 33: stage 31's write addressed by content with a key strength (`memory_address="cosine"`), since the dot
    # address of the study's addressed writes stayed near even (docs/reproduction.md amendment 15c).
    "lm2-delta-cosine-input": _hard(memory_write="delta", memory_address="cosine", **_BY_KEY_OWN_CONTENT),
    # Stage 34: stage 31's write and read addressed by keys of the rows' own (`memory_address="slots"`, learned, not
    # projections of what the rows hold), so that a key's first write has a row to go to and finds it again later,
    # where content addresses spread over rows that hold nothing of that key (amendment 15c's near-even addresses).
    "lm2-delta-slots-input": _hard(memory_write="delta", memory_address="slots", **_BY_KEY_OWN_CONTENT),
    # The reproduction study's LM2 (docs/reproduction.md, amendments 14 and 20-25): stage 31's write on the stage-11
    # default's gates and forget floor, without the write price (LM2Config's defaults with `memory_write="delta"`,
    # `memory_output="read"`, `memory_candidate="input"`, `write_penalty=0`). `lm2 demo`'s act 2 trains it.
    "lm2-hard-floor-delta-input": _hard(0.999, **_STUDY),
    # Stage 35: the same write taken write after write in the segment's token order (`memory_write="sequential"`),
    # each error against the bank as the segment's earlier writes left it, so the later of two facts about one key in
    # one segment is the one the bank keeps (docs/reproduction.md, amendments 26c-28); same fields and parameters.
    "lm2-hard-floor-sequential-input": _hard(0.999, **{**_STUDY, "memory_write": "sequential"}),
    "rmt": {"arch": "rmt"},  # memory tokens (DESIGN §4); their number is a backbone setting
    "armt": {"arch": "armt"},  # memory tokens writing an associative memory per block (DESIGN §4)
    "armt-paper": {"arch": "armt", "armt_feature_norm": False},  # φ = DPFP-ν as the paper's equations state it
    # Stage 36: the memory tokens write A and z one after another (`armt_write="sequential"`), each against what the
    # tokens before it left, since the joint write of tokens whose keys coincide grew A to overflow (docs/memory.md).
    "armt-sequential": {"arch": "armt", "armt_write": "sequential"},
    "vanilla": {"arch": "vanilla", "vanilla_mode": "full"},  # full causal attention over the whole input
    "vanilla-segmented": {"arch": "vanilla", "vanilla_mode": "segmented"},  # lm2's attention span, no memory
}
# The comparison `lm2 demo` and `lm2 recall` run by default: LM2 (its default memory), the two recurrent-memory
# baselines, full attention and the same span without memory. The other variants are chosen by name (`--models`).
DEFAULT_MODELS = ("lm2", "rmt", "armt", "vanilla", "vanilla-segmented")


def variant_config(name: str, backbone: Mapping[str, Any] | None = None, **overrides: Any) -> LM2Config:
    """The `LM2Config` of variant `name` on `backbone` (LM2Config fields); `overrides` come last."""
    if name not in VARIANTS:
        raise ValueError(f"model variant {name!r} is not known; choose from {', '.join(VARIANTS)}")
    return LM2Config(**{**(backbone or {}), **VARIANTS[name], **overrides})


def parse_variants(text: str, option: str = "--models") -> list[str]:
    """`"lm2,rmt"` → `["lm2", "rmt"]`, in the order given; `ValueError` naming `option`, the value and the
    allowed names for an empty list, an unknown name or a repeated one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    allowed = ", ".join(VARIANTS)
    if not names:
        raise ValueError(f"{option}={text!r} names no model; choose from {allowed}")
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(f"{option}={text!r} has unknown names {unknown}; choose from {allowed}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{option}={text!r} names {', '.join(repeated)} more than once; give each model once")
    return names
