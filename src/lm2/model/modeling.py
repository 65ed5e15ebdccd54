"""LM2, RMT, ARMT and the standard Transformer on one Llama backbone (DESIGN §1–§5).

`LM2Model` runs any input length segment by segment on the segment grid (`layout.py`) through the decoder
blocks (`block.py`), carrying the memory across segments and calls (`state.py`). `LM2ForCausalLM` adds the
LM head, the loss and `generate`.
Notation: `b` batch, `n` columns of one segment pass, `L` input length, `m` bank rows, `d` width.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.checkpoint import checkpoint
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .armt import AssociativeMemory, associations, check_associative, initial_associations, write_associative
from .backbone import RMSNorm, RotaryEmbedding, SegmentContext
from .block import DecoderLayer
from .config import ADDRESSED_WRITES, LM2Config
from .layout import gather_outputs, grid_layout, segment_slices
from .loss import causal_lm_loss
from .memory import (
    Gate,
    LM2Memory,
    apply_delta_writes,
    apply_ordered_writes,
    apply_writes,
    bank_dtype,
    initial_bank,
    write_rows,
)
from .rmt import read_prefix, write_memory
from .state import LayerCache, MemoryState


class LM2PreTrainedModel(PreTrainedModel):
    config_class = LM2Config
    config: LM2Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["DecoderLayer"]
    _supports_sdpa = True

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, Gate):
            init.constant_(module.bias, module.bias_init)
        elif isinstance(module, LM2Memory):
            if module.gain is not None:
                init.constant_(module.gain, self.config.memory_gain)
            if module.center_fraction is not None:
                init.constant_(module.center_fraction, self.config.memory_read_center_fraction)
            if module.slot_keys is not None:  # the spread W_K gives the keys of M_0's unit-RMS rows: std · sqrt(d)
                init.normal_(module.slot_keys, std=std * self.config.hidden_size**0.5)
        elif isinstance(module, AssociativeMemory) and module.gain is not None:
            init.constant_(module.gain, self.config.armt_read_gain)
        elif isinstance(module, RotaryEmbedding):
            init.copy_(module.inv_freq, module.compute_inv_freq(module.config)[0])
        elif isinstance(module, nn.Embedding) and self.config.embedding_init_std is not None:
            init.normal_(module.weight, std=self.config.embedding_init_std)  # the token embedding
            if module.padding_idx is not None:
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, LM2ForCausalLM) and hasattr(module, "write_sequences"):
            init.zeros_(module.write_sequences)
        elif isinstance(module, LM2Model):
            if module.memory_init is not None:
                init.copy_(module.memory_init, initial_bank(*module.memory_init.shape))
            if module.memory_tokens is not None:
                init.normal_(module.memory_tokens, std=std)


class LM2Model(LM2PreTrainedModel):
    """Embeddings, blocks and final norm, run segment by segment. Returns final hidden states."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        learned = config.arch == "lm2" and config.memory_init == "learned"
        self.memory_init = nn.Parameter(initial_bank(config.memory_slots, config.hidden_size)) if learned else None
        tokens = config.arch in ("rmt", "armt")
        self.memory_tokens = nn.Parameter(torch.zeros(config.num_memory_tokens, config.hidden_size)) if tokens else None
        self.gradient_checkpointing = False
        self.post_init()

    # ------------------------------------------------------------------ state
    def initial_state(self, batch: int, device: torch.device) -> MemoryState:
        """A fresh stream's state: M_0 per sample (lm2), the learned memory tokens (rmt, recurrent armt),
        A = 0 and z = 0 in every block (armt), nothing else."""
        cfg, dtype = self.config, bank_dtype(self.embed_tokens.weight.dtype)
        memory = associative = normalizer = None
        if cfg.arch == "lm2":
            m0 = self.memory_init if self.memory_init is not None else initial_bank(cfg.memory_slots, cfg.hidden_size)
            memory = m0.to(device=device, dtype=dtype).expand(batch, -1, -1)
        elif cfg.recurrent_memory_tokens:
            memory = self.memory_tokens.expand(batch, -1, -1)
        if cfg.arch == "armt":
            associative, normalizer = initial_associations(cfg, batch, dtype, device)
        offset = torch.zeros(batch, dtype=torch.long, device=device)
        return MemoryState(memory, offset, None, cfg.arch, associative, normalizer)

    def check_state(self, state: MemoryState, batch: int) -> None:
        """Raise `ValueError` if `state` did not come from a model of this shape and this batch size."""
        cfg = self.config
        if not isinstance(state, MemoryState):
            raise ValueError(f"memory must be a MemoryState returned by this model, got {type(state).__name__}")
        if state.arch != cfg.arch:
            raise ValueError(f"memory comes from arch={state.arch!r}, this model is arch={cfg.arch!r}")
        if state.batch_size != batch:
            raise ValueError(f"memory has batch size {state.batch_size}, input_ids has batch size {batch}")
        rows = ("memory_slots", cfg.memory_slots) if cfg.arch == "lm2" else ("num_memory_tokens", cfg.num_memory_tokens)
        if cfg.arch == "lm2" or cfg.recurrent_memory_tokens:
            name, count = rows
            if state.memory is None or tuple(state.memory.shape) != (batch, count, cfg.hidden_size):
                got = None if state.memory is None else tuple(state.memory.shape)
                raise ValueError(
                    f"memory.memory has shape {got}, this model needs "
                    f"{(batch, count, cfg.hidden_size)} (batch, {name}, hidden_size)"
                )
        elif state.memory is not None:
            raise ValueError(f"memory.memory must be None for this model (arch={cfg.arch!r} carries no such memory)")
        if cfg.arch == "armt":
            check_associative(state, cfg, batch)
        if state.layers is not None and len(state.layers) != cfg.num_hidden_layers:
            raise ValueError(
                f"memory has caches for {len(state.layers)} blocks, this model has {cfg.num_hidden_layers}"
            )
        if state.layers is None and bool((state.offset > 0).any()):
            raise ValueError("memory has samples inside a segment (offset > 0) but no caches")

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        memory: MemoryState | None = None,
        logits_to_keep: int = 0,
        return_writes: bool = False,
    ) -> tuple[Tensor, MemoryState] | tuple[Tensor, MemoryState, Tensor | None]:
        """input_ids `(b, L)` → hidden `(b, L or logits_to_keep, d)` after the final norm, and the state.

        `return_writes=True` adds the write tally that `LM2Config.write_penalty` prices: a `(2,)` tensor (the
        sum over real tokens of each token's input gate averaged over the memory blocks and the width, and the
        number of real tokens; `write_cost` turns it into the mean), None without LM2 memory."""
        b = input_ids.shape[0]
        state = self.initial_state(b, input_ids.device) if memory is None else memory
        layout = grid_layout(input_ids, attention_mask, state.offset, self.config.pad_token_id or 0)
        keep = layout.source if logits_to_keep <= 0 else layout.source[:, -logits_to_keep:]
        span = self.config.segment_span
        use_checkpoint = (self.gradient_checkpointing or self.config.segment_checkpointing) and torch.is_grad_enabled()
        pieces, kept, writes = [], None, None
        for count, (first, last) in enumerate(segment_slices(layout.low, layout.low + layout.width, span), 1):
            columns = slice(first - layout.low, last - layout.low)
            start = first if span is None else first % span
            args = (layout.ids[:, columns], layout.valid[:, columns], start, state, return_writes)
            if use_checkpoint:
                h, state, tally = checkpoint(self._segment, *args, use_reentrant=False)
            else:
                h, state, tally = self._segment(*args)
            if tally is not None:
                writes = tally if writes is None else writes + tally
            if self.config.bptt_segments and count % self.config.bptt_segments == 0:
                state = state.detach_memory()  # the memory (and ARMT's A, z) leave the graph here
            if logits_to_keep <= 0:
                pieces.append(h)
            else:  # keep only the requested positions, so long inputs never hold all hidden states
                inside = (keep >= columns.start) & (keep < columns.stop)
                got = gather_outputs(h, torch.where(inside, keep - columns.start, -1))
                kept = got if kept is None else torch.where(inside[..., None], got, kept)
        if logits_to_keep > 0:
            hidden = kept
        elif layout.identity:  # every position reports its own column: no gather (and no copy for one piece)
            hidden = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)
        else:
            hidden = gather_outputs(torch.cat(pieces, 1), keep)
        return (hidden, state, writes) if return_writes else (hidden, state)

    def _segment(
        self, ids: Tensor, valid: Tensor, start: int, state: MemoryState, count_writes: bool = False
    ) -> tuple[Tensor, MemoryState, Tensor | None]:
        """One pass over columns `[start, start + n)` of the current segment, for the whole batch; returns the
        hidden states, the state after it and, with `count_writes`, its write tally (`forward`'s
        `return_writes`; None without LM2 memory)."""
        cfg = self.config
        n = ids.shape[1]
        h = self.embed_tokens(ids)  # (b, n, d)
        cos, sin = self.rotary_emb(torch.arange(start, start + n, device=ids.device), h.dtype)
        ctx = SegmentContext(start, state.offset, bool((state.offset == start).all()), cos, sin, valid)
        caches = state.layers or [LayerCache() for _ in self.layers]
        dtype = self.embed_tokens.weight.dtype
        assoc = associations(state) if cfg.arch == "armt" else [None] * len(self.layers)  # (A, z) per block
        if cfg.recurrent_memory_tokens:
            caches = read_prefix(self.layers, self.norm, state, caches, dtype, assoc)
        bank = state.memory if cfg.arch == "lm2" else None
        addressed = bank is not None and cfg.memory_write in ADDRESSED_WRITES  # no row belongs to a token
        rows = None if bank is None or addressed else bank[:, start : start + n]  # (b, n, d) rows entering block 0
        new_caches, written = [], []
        for layer, cache, association in zip(self.layers, caches, assoc, strict=True):
            h, rows, cache, writes = layer(
                h, ctx=ctx, cache=cache, rows=rows, bank=bank, association=association, count_writes=count_writes
            )
            new_caches.append(cache)
            if writes is not None:
                written.append(writes)
        h = self.norm(h)
        offset = state.offset + valid.sum(1)
        memory, associative, normalizer = state.memory, state.associative, state.normalizer
        complete = offset == cfg.segment_length  # memory tokens write only after a complete segment
        if addressed:  # inside a segment (every generated token) nothing is computed here
            if bool(complete.any()):
                memory = take_writes(memory, new_caches, complete, cfg.memory_write, cfg.memory_row_clip)
        elif bank is not None:  # only real tokens write their rows; the others pass through (DESIGN §2)
            memory = write_rows(bank, rows, start, valid)
        if cfg.arch == "rmt":
            memory = write_memory(self.layers, self.norm, state, new_caches, complete, dtype)
        elif cfg.arch == "armt":
            tokens = None if cfg.recurrent_memory_tokens else self.memory_tokens
            memory, associative, normalizer = write_associative(
                self.layers, self.norm, state, new_caches, complete, tokens, dtype
            )
        if cfg.segment_span is not None:
            offset = torch.where(offset == cfg.segment_span, 0, offset)  # completed segments roll over
        layers = None if bool((offset == 0).all()) else new_caches
        tally = None
        if written:  # only real tokens write, so only they pay (padding columns' gates do not count)
            real = valid.to(written[0].dtype)
            tally = torch.stack([(torch.stack(written).mean(0) * real).sum(), real.sum()])
        return h, MemoryState(memory, offset, layers, cfg.arch, associative, normalizer), tally


def take_writes(bank: Tensor, caches: list[LayerCache], complete: Tensor, write: str, clip: bool) -> Tensor:
    """The bank `(b, m, d)` after the addressed writes waiting in the memory blocks' caches, for the samples whose
    segment is `complete` `(b,)`: with `write="delta"` (`memory_write`, docs/memory.md "Stage 31") every block's in
    one step; with `"sequential"` ("Stage 35") one write after another, token by token and within a token block by
    block; either then with `clip` (`memory_row_clip`, "Stage 32") clipped to [-1, 1]; with `"addressed"` block by
    block, convex mixes ("Stage 30")."""
    done = complete[:, None, None]
    if write == "sequential":
        parts = [(c.write_address, c.write_rate, c.write_value) for c in caches if c.write_address is not None]
        # (b, h, n, L, ·) -> (b, h, n L, ·): token-major, a token's memory blocks in their order
        address, rate, value = (torch.stack(p, 3).flatten(2, 3) for p in zip(*parts, strict=True))
        new = apply_ordered_writes(bank, address.to(bank.dtype), rate.to(bank.dtype), value.to(bank.dtype))
        return torch.where(done, new.clamp(-1.0, 1.0) if clip else new, bank)
    sums = [(cache.write_weight, cache.write_sum) for cache in caches if cache.write_weight is not None]
    if write == "delta":
        weight, total = (torch.stack(parts).sum(0) for parts in zip(*sums, strict=True))
        new = apply_delta_writes(bank, weight, total)
        return torch.where(done, new.clamp(-1.0, 1.0) if clip else new, bank)
    for weight, total in sums:
        bank = torch.where(done, apply_writes(bank, weight, total), bank)
    return bank


def write_cost(tally: Tensor, tokens: int | Tensor | None = None) -> Tensor:
    """What `LM2Config.write_penalty` multiplies: a write tally's (`LM2Model.forward(..., return_writes=True)`)
    gates averaged over its own real tokens (0 when there were none) or, given `tokens`, summed and divided by
    that count (the accumulated batch's, so that micro-batches' costs add up)."""
    return tally[0] / (tally[1].clamp(min=1) if tokens is None else tokens)


@dataclass
class LM2Output(ModelOutput):
    """`loss` (mean next-token cross-entropy over real, labelled tokens), `logits` `(b, L, vocab)`,
    `memory` (the `MemoryState` to pass back as `memory=` to continue). With `LM2Config.write_penalty` the
    loss includes the write cost."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    memory: MemoryState | None = None


class LM2ForCausalLM(LM2PreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: LM2Config) -> None:
        super().__init__(config)
        self.model = LM2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if self.prices_writes and config.write_penalty_warmup > 0:
            # Training sequences priced so far (LM2Config.write_penalty_warmup): a buffer, so checkpoints keep it.
            self.register_buffer("write_sequences", torch.zeros((), dtype=torch.long))
        self._pending_sequences = 0  # seen by training calls since the last optimizer step
        self.post_init()

    @property
    def prices_writes(self) -> bool:
        """Whether training adds a write cost to the loss: `LM2Config.write_penalty` > 0 on an LM2 bank (the
        other architectures have no input gates to price)."""
        return self.config.arch == "lm2" and self.config.write_penalty > 0

    def write_price(self, rows: int) -> float | Tensor:
        """λ of this call's write cost: `LM2Config.write_penalty`, risen linearly over the first
        `write_penalty_warmup` training sequences. A training call (training mode, gradients on) of `rows`
        sequences adds them (times the number of processes under torch.distributed, each of which sees its
        share of the global batch) to the count at the next optimizer step, so that the price is the same for
        every micro-batch of a step and any split of a batch gives the same gradient. The loss views that price
        writes call it once per forward. During a warm-up the price is a tensor on the count's device, so that
        reading it does not wait for the device."""
        penalty, warmup = self.config.write_penalty, self.config.write_penalty_warmup
        if not hasattr(self, "write_sequences"):
            return penalty
        if self.training and torch.is_grad_enabled():
            processes = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
            self._pending_sequences += rows * processes
            _count_at_next_step(self)
        return penalty * (self.write_sequences / warmup).clamp(max=1.0)

    def _count_pending_sequences(self) -> None:
        with torch.no_grad():
            self.write_sequences.add_(self._pending_sequences)
        self._pending_sequences = 0

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        memory: MemoryState | None = None,
        logits_to_keep: int = 0,
        return_dict: bool | None = None,
        use_cache: bool | None = None,
        num_items_in_batch: int | Tensor | None = None,
        **unused: object,
    ) -> LM2Output:
        """Run `input_ids` `(b, L)` of any length, continuing `memory` if given (DESIGN §5).

        `labels` follow the Hugging Face convention (same shape as `input_ids`, shifted inside, -100 ignored);
        padding positions never count. `logits_to_keep=k` returns only the last k positions' logits.
        `num_items_in_batch` (the Hugging Face Trainer passes it): the loss is the sum over this batch's
        targets divided by it, the count of the accumulated batch's targets (`causal_lm_loss`).
        With `LM2Config.write_penalty` λ > 0 the loss adds λ · the mean input gate of this call (`write_cost`;
        λ rises over the first `write_penalty_warmup` training sequences, `write_price`);
        with `num_items_in_batch`, λ · the tokens' gates summed and divided by it, so that micro-batches add up
        to the accumulated batch's cost as their cross-entropies do.
        """
        self._check_inputs(input_ids, attention_mask, labels, memory, logits_to_keep, unused)
        priced = labels is not None and self.prices_writes
        hidden, state, *writes = self.model(input_ids, attention_mask, memory, logits_to_keep, return_writes=priced)
        logits = self.lm_head(hidden)
        loss = None if labels is None else causal_lm_loss(logits, labels, attention_mask, None, num_items_in_batch)
        if priced:
            price = self.write_price(input_ids.shape[0])
            loss = loss + (price * write_cost(writes[0], num_items_in_batch)).to(loss.dtype)
        return LM2Output(loss=loss, logits=logits, memory=state)

    def _check_inputs(self, input_ids, attention_mask, labels, memory, logits_to_keep, unused) -> None:
        unknown = {k for k, v in unused.items() if v is not None and v is not False}
        if unknown:
            raise ValueError(f"unsupported forward arguments: {sorted(unknown)}")
        if input_ids is None or input_ids.ndim != 2:
            shape = None if input_ids is None else tuple(input_ids.shape)
            raise ValueError(f"input_ids must be a (batch, length) tensor of token ids, got shape {shape}")
        if input_ids.numel() == 0:
            raise ValueError(f"input_ids is empty (shape {tuple(input_ids.shape)}); give at least one token")
        if input_ids.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
            raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= self.config.vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"input_ids has token id {bad}; allowed ids are 0..{self.config.vocab_size - 1}")
        for name, t in (("attention_mask", attention_mask), ("labels", labels)):
            if t is not None and tuple(t.shape) != tuple(input_ids.shape):
                raise ValueError(f"{name} has shape {tuple(t.shape)}, input_ids has {tuple(input_ids.shape)}")
        if attention_mask is not None and not bool(attention_mask.bool().any()):
            raise ValueError("attention_mask marks no token as real; give at least one real token")
        if labels is not None and logits_to_keep:
            raise ValueError("labels need all logits; do not combine them with logits_to_keep")
        if memory is not None:
            self.model.check_state(memory, input_ids.shape[0])

    # ------------------------------------------------------------------ generation (GenerationMixin hooks)
    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # our own cache: the MemoryState, carried under the "cache" key

    def prepare_inputs_for_generation(
        self,
        input_ids: Tensor,
        next_sequence_length: int | None = None,
        cache: MemoryState | None = None,
        attention_mask: Tensor | None = None,
        memory: MemoryState | None = None,
        use_cache: bool = True,
        logits_to_keep: int = 1,
        **kwargs: object,
    ) -> dict:
        """Feed only the new tokens with the state after the previous ones (or the whole prompt with the
        caller's `memory` when there is no cache yet or caching is off)."""
        if use_cache and cache is not None:
            input_ids = input_ids[:, -(next_sequence_length or 1) :]
            state = cache
        else:
            state = memory
        if attention_mask is not None:
            attention_mask = attention_mask[:, -input_ids.shape[1] :]
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "memory": state,
            "logits_to_keep": logits_to_keep,
        }

    def _update_model_kwargs_for_generation(self, outputs, model_kwargs, is_encoder_decoder=False, num_new_tokens=1):
        model_kwargs = super()._update_model_kwargs_for_generation(
            outputs, model_kwargs, is_encoder_decoder=is_encoder_decoder, num_new_tokens=num_new_tokens
        )
        if model_kwargs.get("use_cache", True):
            model_kwargs["cache"] = outputs.memory
        return model_kwargs

    def _reorder_cache(self, cache: MemoryState, beam_idx: Tensor) -> MemoryState:
        return cache.index_select(beam_idx)

    def _expand_inputs_for_generation(self, expand_size=1, is_encoder_decoder=False, input_ids=None, **model_kwargs):
        state = model_kwargs.pop("memory", None)
        input_ids, model_kwargs = super()._expand_inputs_for_generation(
            expand_size, is_encoder_decoder, input_ids, **model_kwargs
        )
        if state is not None:
            model_kwargs["memory"] = state.repeat_interleave(expand_size) if expand_size > 1 else state
        return input_ids, model_kwargs


# Models whose training calls since the last optimizer step are not yet counted (`write_price`): a global
# optimizer step hook counts them, so the write price's warm-up follows steps in any training loop (lm2 train,
# the Hugging Face Trainer, a hand-written one) without the loop knowing about it.
_UNCOUNTED: weakref.WeakSet = weakref.WeakSet()
_STEP_HOOK = None


def _count_at_next_step(model: LM2ForCausalLM) -> None:
    global _STEP_HOOK
    _UNCOUNTED.add(model)
    if _STEP_HOOK is None:
        _STEP_HOOK = register_optimizer_step_post_hook(_count_sequences)


def _count_sequences(optimizer, args, kwargs) -> None:
    """After any optimizer step: every model with uncounted training sequences counts them."""
    for model in list(_UNCOUNTED):
        model._count_pending_sequences()
    _UNCOUNTED.clear()
