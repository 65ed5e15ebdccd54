"""The language-model loss, one implementation for `LM2ForCausalLM(labels=...)` and the training path.

Notation: `b` batch, `L` input length, `d` width, `s` scored positions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from .layout import compact_order


def causal_lm_loss(
    outputs: Tensor,
    labels: Tensor,
    attention_mask: Tensor | None,
    head: Callable[[Tensor], Tensor] | None = None,
    num_items_in_batch: int | Tensor | None = None,
) -> Tensor:
    """Mean cross-entropy of each real token predicting the next real token of its sample.

    outputs: the logits `(b, L, vocab)`; or, with `head`, the final hidden states `(b, L, d)`, of which only
    the scored positions go through `head` (BABILong scores one or two answer tokens per sample, so the
    training step skips the LM head and the softmax everywhere else).
    labels: `(b, L)` in the Hugging Face convention (not shifted, -100 ignored). With padding, positions are
    first compacted per sample, so a pad between two tokens never breaks the pair and never counts as a target.
    num_items_in_batch: the Hugging Face Trainer's contract: the sum over this batch's targets divided by this
    count of the targets of the whole (global, accumulated) batch, so that the gradients of its micro-batches
    add up to the gradient of one large batch. None: the mean over this batch's targets.
    """
    if attention_mask is not None:
        order = compact_order(attention_mask)
        outputs = outputs.gather(1, order[..., None].expand(-1, -1, outputs.shape[-1]))
        labels = labels.gather(1, order).masked_fill(~attention_mask.bool().gather(1, order), -100)
    # Position t predicts label t + 1. Shift the labels, not the outputs: slicing the `(b, L, vocab)` logits
    # would copy them, and the slice's backward would fill another zero gradient of that size.
    targets = F.pad(labels[:, 1:], (0, 1), value=-100).to(outputs.device)  # (b, L)
    reduction = "mean" if num_items_in_batch is None else "sum"
    if head is not None:
        scored = targets != -100
        loss = F.cross_entropy(head(outputs[scored]).float(), targets[scored], reduction=reduction)  # (s, vocab)
    else:
        flat = outputs.float().reshape(-1, outputs.shape[-1])  # a view of fp32 logits
        loss = F.cross_entropy(flat, targets.reshape(-1), ignore_index=-100, reduction=reduction)
    if num_items_in_batch is None:
        return loss
    if isinstance(num_items_in_batch, Tensor):
        num_items_in_batch = num_items_in_batch.to(loss.device)
    return loss / num_items_in_batch
