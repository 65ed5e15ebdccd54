"""Process-group setup under `torchrun` and model wrapping (DDP or FSDP2). Without torchrun everything
here is a no-op and the run is a single process."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from lm2.model.loss import causal_lm_loss
from lm2.model.modeling import write_cost

from .documents import document_forward


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str) -> Dist:
    """Join the process group when launched by torchrun (RANK/WORLD_SIZE set): nccl on GPU, gloo on CPU."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist()
    info = Dist(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return info


def teardown() -> None:
    """Leave the process group together: the barrier keeps a rank from destroying it while another is
    still in a collective (the last step's, or the export's state gathering)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class LossOnly(nn.Module):
    """Training view of a model: the loss `model(input_ids, attention_mask, labels=labels).loss` (with the
    write cost of `LM2Config.write_penalty`), computed without the logits of unscored positions, and tied
    with weight 0 to the memory the model hands on.

    - BABILong scores one or two answer tokens per sample: applying the LM head (and the softmax over the
      vocabulary) only where a label is scored makes a tiny model's step about twice as fast.
    - The last memory block's gates only shape the bank passed to the next segment, so the loss of a
      one-segment batch does not depend on them, while DDP and FSDP2 wait for a gradient of every
      parameter. The zero-weighted term gives them an exact zero gradient and leaves the loss unchanged.
      ARMT's write projections likewise only shape the A and z it hands on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, labels, starts=None, totals=None) -> torch.Tensor:
        """`starts` `(b, L)` (optional): where a document starts and the sample's memory restarts.

        `totals` (optional): (targets, tokens) of the whole global batch. The loss is then this micro-batch's
        share of the global batch's: its cross-entropy summed and divided by the targets, its write cost (the
        input gates summed) divided by the tokens — so the shares of any split over micro-batches and processes
        add up to the loss of one batch (`Trainer.train_step`)."""
        priced = self.model.prices_writes
        if starts is None:  # hidden (b, L, d), final norm applied; the write tally only when it is priced
            hidden, state, *writes = self.model.model(input_ids, attention_mask, return_writes=priced)
        else:
            hidden, state, *writes = document_forward(self.model.model, input_ids, attention_mask, starts, priced)
        targets, tokens = (None, None) if totals is None else totals
        loss = causal_lm_loss(hidden, labels, attention_mask, head=self.model.lm_head, num_items_in_batch=targets)
        if priced:  # the write cost of LM2Config.write_penalty: the same loss as the model's own
            price = self.model.write_price(input_ids.shape[0])
            loss = loss + (price * write_cost(writes[0], tokens)).to(loss.dtype)
        for carried in (state.memory, state.associative, state.normalizer):
            if carried is not None and carried.requires_grad:
                loss = loss + 0.0 * carried.float().sum()
        return loss


def wrap(model: nn.Module, info: Dist, strategy: str, device: torch.device) -> nn.Module:
    """A `LossOnly` view of `model`, under DDP or FSDP2 (`fully_shard` per decoder block, then the root)
    when the run is distributed."""
    view = LossOnly(model)
    if not info.active:
        return view
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        # Per-block units gather and reduce once per block call, so every rank must call the blocks in
        # the same order. A segmented model calls each block once per segment and its backward order
        # follows the data (padding, completed segments), so only single-pass full attention is sharded
        # per block; segmented models are one unit (parameters gathered once per step, gradients and
        # optimizer state still sharded).
        if model.config.segment_span is None:
            for layer in model.model.layers:
                fully_shard(layer)
        fully_shard(view)  # the root; direct calls of the model (validation) run inside `gathered(view)`
        return view
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(view, device_ids=ids)


def all_sum(value: torch.Tensor, info: Dist) -> torch.Tensor:
    if info.active:
        value = value.clone()
        dist.all_reduce(value)
    return value


@contextlib.contextmanager
def gathered(view: nn.Module, sharded: bool):
    """Unshard the root FSDP unit (embeddings, final norm, LM head, memory init) for direct calls of the
    model that bypass the training view, e.g. validation and `generate`."""
    if not sharded:
        yield
        return
    view.unshard()
    try:
        yield
    finally:
        view.reshard()


def full_model_state(model: nn.Module, sharded: bool) -> dict | None:
    """The full (unsharded, CPU) state dict under FSDP — a collective, every rank must call it; None
    otherwise (the live module is saved as is)."""
    if not sharded:
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, sharded: bool) -> dict:
    if not sharded:
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict, sharded: bool) -> None:
    if not sharded:
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=False)
    set_optimizer_state_dict(model, optimizer, optim_state_dict=state, options=options)
