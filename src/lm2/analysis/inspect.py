"""Memory inspection (the paper's analysis section): what each LM2 memory block reads and how it gates.

`record_memory(model, input_ids)` runs an input segment by segment and records, without changing the model,
per memory block:
- the memory read attention, tokens × bank rows (eq. 2's softmax; the paper's Figure 6 heatmaps),
- the input, forget and output gates per token (eqs. 3–5, averaged over channels),
- the norm of the row each token writes (eq. 6),
and the norm of every bank row entering the input and after each segment.

Forward hooks on `model.model.layers[i].memory` see each memory step's keyword inputs and ask the block for
its intermediates (`LM2Memory(..., return_step=True)`, the model's own equations, not a copy of them).
Notation: `b` batch, `L` tokens, `n` tokens of one step, `m` bank rows, `h` memory heads, `e` head dim,
`d` width, `k` recorded memory blocks, `S` segments.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from lm2.files import save_atomic
from lm2.model import LM2ForCausalLM
from lm2.model.memory import LM2Memory, MemoryOutput


@dataclass
class MemoryTrace:
    """What `record_memory` recorded; tensors on the CPU in fp32, sample-major after the block axis."""

    blocks: list[int]  # the recorded memory blocks, in depth order
    segment_length: int
    input_ids: Tensor  # (b, L)
    read: Tensor  # (k, b, L, m) read attention of each token over the bank rows (heads averaged),
    # or (k, b, h, L, m) with keep_heads; rows a token cannot see have weight 0. With
    # memory_read_center="split" or "gated" m + 1 columns: the last is the rows' mean, which the first memory block
    # reads too (with "gated" the mean's gate, not a softmax weight: see `mean_gate`)
    gate_in: Tensor  # (k, b, L) channel mean of g_in
    gate_forget: Tensor | None  # (k, b, L) channel mean of g_f; None with memory_write="addressed" (no forget gate)
    gate_out: Tensor  # (k, b, L) channel mean of g_out
    # (k, b, L) |M_{t+1}[i]|, the norm of the row token i leaves after the block; None with memory_write="addressed",
    # where no row belongs to a token (the bank takes the segment's writes when it completes: see bank_norm)
    row_norm: Tensor | None
    bank_norm: Tensor  # (b, S + 1, m) row norms of the bank entering the input (M_0), then after each segment
    # (k, b, L) fraction of g_in's channels exactly 0: hard gates past −3, which the hard sigmoid's own gradient
    # never brings back (LM2Config.memory_gate_grad); None in traces saved before it was recorded
    gate_in_shut: Tensor | None = None
    # (b, S + 1) mean cosine between two different bank rows, entering the input and after each segment (M_0's
    # rows are orthogonal: 0); near 1 the rows point one way and the read's keys cannot tell them apart. None in
    # traces saved before it was recorded
    bank_similarity: Tensor | None = None
    # memory_read_center="gated": read's last column is the gate through which the first block adds the rows' mean,
    # so a token's weights sum to 1 + that gate and `read_entropy` leaves the column out
    mean_gate: bool = False

    @property
    def segments(self) -> int:
        return self.bank_norm.shape[1] - 1

    def save(self, path: str | Path) -> None:
        save_atomic(path, lambda tmp: torch.save(asdict(self), tmp))

    @classmethod
    def load(cls, path: str | Path) -> MemoryTrace:
        return cls(**torch.load(path, weights_only=True))


class _Recorder:
    """Forward hooks that collect per-block, per-step quantities into lists."""

    def __init__(self, keep_heads: bool, rows: int) -> None:
        self.keep_heads, self.rows = keep_heads, rows
        self.steps: dict[int, list[dict[str, Tensor]]] = {}

    def hook(self, block: int):
        def record(module: LM2Memory, args: tuple, kwargs: dict, output: MemoryOutput) -> None:
            # `forward` directly: calling the module would run this hook again.
            step = module.forward(*args, **{**kwargs, "return_step": True}).step
            weights = step.weights if self.keep_heads else step.weights.mean(1)  # (b, [h,] n, w)
            pad = self.rows - weights.shape[-1]
            weights = torch.nn.functional.pad(weights, (0, pad))  # to all m rows
            recorded = {
                "read": weights.float().cpu(),
                "gate_in": step.gate_in.mean(-1).float().cpu(),
                "gate_in_shut": (step.gate_in == 0).float().mean(-1).cpu(),
                "gate_out": step.gate_out.mean(-1).float().cpu(),
            }
            if output.rows is not None:  # a row per token (not with memory_write="addressed")
                recorded["gate_forget"] = step.gate_forget.mean(-1).float().cpu()
                recorded["row_norm"] = output.rows.norm(dim=-1).float().cpu()
            self.steps.setdefault(block, []).append(recorded)

        return record

    def stacked(self, name: str, blocks: list[int]) -> Tensor | None:
        """`name` over the recorded steps, blocks first; None for what the model does not have."""
        if name not in self.steps[blocks[0]][0]:
            return None
        axis = -2 if name == "read" else -1  # the token axis
        return torch.stack([torch.cat([s[name] for s in self.steps[i]], axis) for i in blocks])


@torch.no_grad()
def record_memory(
    model: LM2ForCausalLM, input_ids: Tensor, blocks: list[int] | None = None, keep_heads: bool = False
) -> MemoryTrace:
    """Run `input_ids` `(b, L)` (no padding, a fresh stream) one segment at a time and record the memory.

    blocks: memory blocks to record (default: all); keep_heads keeps the read attention per memory head.
    Raises `ValueError` for a model that is not `arch="lm2"` or blocks without memory."""
    cfg = model.config
    if cfg.arch != "lm2":
        raise ValueError(f"memory inspection needs arch='lm2' (a memory bank), got arch={cfg.arch!r}")
    if input_ids.ndim != 2 or input_ids.shape[1] == 0:
        shape = tuple(input_ids.shape)
        raise ValueError(f"input_ids must be a (batch, length) tensor with tokens, got shape {shape}")
    blocks = list(cfg.memory_layer_ids) if blocks is None else sorted(set(blocks))
    bad = sorted(set(blocks) - set(cfg.memory_layer_ids))
    if bad:
        raise ValueError(f"blocks={blocks} has {bad} without memory; memory blocks: {cfg.memory_layer_ids}")
    recorder = _Recorder(keep_heads, cfg.memory_slots + (cfg.memory_read_center in ("split", "gated")))  # the mean
    handles = [model.model.layers[i].memory.register_forward_hook(recorder.hook(i), with_kwargs=True) for i in blocks]
    state = model.model.initial_state(input_ids.shape[0], input_ids.device)
    bank_norms = [state.memory.norm(dim=-1).float().cpu()]  # (b, m) M_0
    similarity = [row_similarity(state.memory)]
    try:
        for segment in input_ids.split(cfg.segment_length, dim=1):
            state = model(segment, memory=state, logits_to_keep=1).memory
            bank_norms.append(state.memory.norm(dim=-1).float().cpu())
            similarity.append(row_similarity(state.memory))
    finally:
        for handle in handles:
            handle.remove()
    return MemoryTrace(
        blocks=blocks,
        segment_length=cfg.segment_length,
        input_ids=input_ids.cpu(),
        read=recorder.stacked("read", blocks),
        gate_in=recorder.stacked("gate_in", blocks),
        gate_forget=recorder.stacked("gate_forget", blocks),
        gate_out=recorder.stacked("gate_out", blocks),
        row_norm=recorder.stacked("row_norm", blocks),
        bank_norm=torch.stack(bank_norms, 1),
        gate_in_shut=recorder.stacked("gate_in_shut", blocks),
        bank_similarity=torch.stack(similarity, 1),
        mean_gate=cfg.memory_read_center == "gated",
    )


def row_similarity(bank: Tensor) -> Tensor:
    """Mean cosine between two different rows of each sample's bank `(b, m, d)` → `(b,)` (fp32, CPU)."""
    rows = torch.nn.functional.normalize(bank.double(), dim=-1)
    cosine = rows @ rows.transpose(-1, -2)  # (b, m, m)
    m = bank.shape[1]
    off_diagonal = cosine.sum((-1, -2)) - cosine.diagonal(dim1=-2, dim2=-1).sum(-1)
    return (off_diagonal / (m * (m - 1))).float().cpu() if m > 1 else torch.zeros(bank.shape[0])


def read_entropy(trace: MemoryTrace) -> Tensor:
    """Entropy in bits of each token's read attention `(k, b, L)` (heads averaged first), over the softmax's
    columns (without the mean's gate of a `mean_gate` trace)."""
    read = trace.read if trace.read.ndim == 4 else trace.read.mean(2)
    read = read[..., :-1] if trace.mean_gate else read
    return -(read * read.clamp_min(1e-30).log2()).sum(-1)


# ---------------------------------------------------------------------------------------- plotting
def plot_read_attention(trace: MemoryTrace, path: str | Path, sample: int = 0) -> Path:
    """Heatmaps of the read attention, bank rows × tokens, one panel per recorded block (Figure 6 style);
    white lines mark segment boundaries."""
    from matplotlib.figure import Figure

    read = trace.read if trace.read.ndim == 4 else trace.read.mean(2)  # (k, b, L, m)
    cols = min(len(trace.blocks), 4)
    rows = math.ceil(len(trace.blocks) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(trace.blocks) :]:
        ax.set_visible(False)
    for ax, block, weights in zip(axes.flat, trace.blocks, read[:, sample], strict=False):
        image = ax.imshow(weights.T.numpy(), aspect="auto", origin="lower", cmap="viridis", vmin=0)
        _segment_lines(ax, trace, color="white")
        ax.set(title=f"block {block}: memory read", xlabel="token", ylabel="bank row")
        fig.colorbar(image, ax=ax, fraction=0.05)
    return _save(fig, path)


def plot_gates(trace: MemoryTrace, path: str | Path, sample: int = 0) -> Path:
    """Gate traces over the input (channel means of g_in, g_f, g_out per token) and the norm of the row
    each token writes, one line per recorded block; dashed lines mark segment boundaries."""
    from matplotlib.figure import Figure

    panels = [
        ("input gate g_in", trace.gate_in),
        ("forget gate g_f", trace.gate_forget),
        ("output gate g_out", trace.gate_out),
        ("|written row|", trace.row_norm),
    ]
    panels = [(title, values) for title, values in panels if values is not None]  # the addressed write: two
    fig = Figure(figsize=(9, 8), layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True)
    for ax, (title, values) in zip(axes, panels, strict=True):
        for block, trace_line in zip(trace.blocks, values[:, sample], strict=True):
            ax.plot(trace_line.numpy(), linewidth=0.9, label=f"block {block}")
        _segment_lines(ax, trace, color="grey", linestyle="--")
        ax.set_ylabel(title)
    axes[0].legend(loc="upper right", fontsize="small", ncol=min(len(trace.blocks), 4))
    axes[-1].set_xlabel("token")
    return _save(fig, path)


def plot_bank_norms(trace: MemoryTrace, path: str | Path, sample: int = 0) -> Path:
    """The norm of every bank row entering the input (segment 0 = M_0) and after each segment."""
    from matplotlib.figure import Figure

    norms = trace.bank_norm[sample]  # (S + 1, m)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    image = left.imshow(norms.T.numpy(), aspect="auto", origin="lower", cmap="magma")
    left.set(title="bank row norms", xlabel="after segment (0: M_0)", ylabel="bank row")
    fig.colorbar(image, ax=left, fraction=0.05)
    right.plot(norms.mean(1).numpy(), marker="o", label="mean")
    right.plot(norms.max(1).values.numpy(), marker=".", label="max")
    right.set(title="row norm over segments", xlabel="after segment")
    right.legend()
    return _save(fig, path)


def plot_trace(trace: MemoryTrace, out_dir: str | Path, sample: int = 0) -> list[Path]:
    """All three figures as PNG files in `out_dir`: read_attention.png, gates.png, bank_norms.png."""
    if not 0 <= sample < trace.input_ids.shape[0]:
        raise ValueError(f"sample={sample} is out of range; the trace has {trace.input_ids.shape[0]} samples")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        plot_read_attention(trace, out_dir / "read_attention.png", sample),
        plot_gates(trace, out_dir / "gates.png", sample),
        plot_bank_norms(trace, out_dir / "bank_norms.png", sample),
    ]


def _segment_lines(ax, trace: MemoryTrace, **style) -> None:
    length = trace.input_ids.shape[1]
    for boundary in range(trace.segment_length, length, trace.segment_length):
        ax.axvline(boundary - 0.5, linewidth=0.6, **style)


def _save(fig, path: str | Path) -> Path:
    return save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
