"""The decoder block: the Llama block, plus the memory path of the architecture (DESIGN §2, §4).

One block serves every architecture. `lm2` adds the LM2 memory beside the self-attention output (eq. 3);
`rmt` runs its memory tokens through the same blocks with what RMT needs from them: no rotary rotation
(`ctx.cos is None`) and a prefix of keys/values every query sees (`cache.prefix_key`), see `rmt.py`;
`armt` adds to that an associative read into the hidden states entering the block, see `armt.py`.
Notation: `b` batch, `n` new columns of one segment pass, `d` width.
"""

from __future__ import annotations

from torch import Tensor, nn

from .armt import AssociativeMemory
from .backbone import MLP, RMSNorm, SegmentContext, SelfAttention
from .config import LM2Config
from .memory import LM2Memory
from .state import LayerCache


class DecoderLayer(nn.Module):
    """Llama block; with `memory`, eq. 3 adds the gated memory beside the self-attention output."""

    def __init__(self, config: LM2Config, index: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        ids = config.memory_layer_ids
        self.memory = LM2Memory(config, reads_whole_bank=index == ids[0]) if index in ids else None
        self.associative = AssociativeMemory(config) if config.arch == "armt" else None

    def forward(
        self,
        h: Tensor,
        *,
        ctx: SegmentContext,
        cache: LayerCache,
        rows: Tensor | None = None,
        bank: Tensor | None = None,
        association: tuple[Tensor, Tensor] | None = None,
        count_writes: bool = False,
    ) -> tuple[Tensor, Tensor | None, LayerCache, Tensor | None]:
        """h `(b, n, d)` the residual stream; cache this block's state of the segment; rows `(b, n, d)` and
        bank `(b, m, d)` the LM2 bank rows entering this block and the bank entering the segment;
        association the ARMT block's (A `(b, f, d)`, z `(b, f)`) entering the segment.
        Returns the new residual stream, the rows leaving the block, the block's new cache and, with
        `count_writes` in a memory block, each token's input gate averaged over the width `(b, n)`."""
        if self.associative is not None:
            h = h + self.associative.read(h, *association)  # ARMT: the read enters the block's input
        x = self.input_layernorm(h)  # E_t
        prefix = None if cache.prefix_key is None else (cache.prefix_key, cache.prefix_value)
        attn, key, value = self.self_attn(x, ctx, cache.key, cache.value, prefix)
        memory_key = memory_value = writes = write_weight = write_sum = None
        ordered = (None, None, None)
        if self.memory is None:
            h = h + attn
        else:
            out = self.memory(
                x=x,
                attn=attn,
                rows=rows,
                bank=bank,
                ctx=ctx,
                key=cache.memory_key,
                value=cache.memory_value,
                written=(cache.write_weight, cache.write_sum, cache.write_address, cache.write_rate, cache.write_value),
                count_writes=count_writes,
            )
            rows, memory_key, memory_value, writes = out.rows, out.key, out.value, out.writes
            write_weight, write_sum = out.write_weight, out.write_sum
            ordered = out.ordered or ordered
            h = h + attn + out.gated.to(h.dtype)  # eq. 3: E_next = E_attn + E_gated
        h = h + self.mlp(self.post_attention_layernorm(h))
        cache = LayerCache(
            key,
            value,
            memory_key,
            memory_value,
            cache.prefix_key,
            cache.prefix_value,
            write_weight,
            write_sum,
            *ordered,
        )
        return h, rows, cache, writes
