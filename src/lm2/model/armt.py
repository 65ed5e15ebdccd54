"""The Associative Recurrent Memory Transformer path (`arch="armt"`, DESIGN §4; Rodkin et al. 2024).

ARMT is memory tokens (`armt_memory_tokens`: `"write"`, the paper's code — learned tokens that follow each
complete segment only to write; or `"recurrent"`, RMT's) plus, in every block l, an associative memory: a
matrix `A_l` `(f, d)` and a normaliser `z_l` `(f,)` per sample (f = 2·ν·key_dim, the width of the DPFP-ν
feature map φ). Every token
entering block l reads it into its hidden state before the block (`AssociativeMemory.read`):

    o = φ(W_Q h)ᵀ A / (zᵀ φ(W_Q h) + ε),    h ← h + o                              (read)

and when a segment is complete, the write copy of the memory tokens runs through the blocks (`rmt.py`) and
block l's output states m of those tokens write into `A_l`, `z_l` by the delta rule (`associate`):

    k = φ(W_K m),  v = W_V m,  β = σ(W_β m),  v̄ = Aᵀk / (zᵀk + ε)
    A ← A + Σ_i k_i (β_i (v_i − v̄_i))ᵀ,   z ← z + Σ_i γ_i k_i,   γ = clip(1 − zᵀk / ‖k‖², 0, 1)   (write)

with every v̄_i and γ_i against the A and z the segment found (`armt_write="joint"`, the paper's code), or one
memory token after another, each against the A and z the tokens before it left (`"sequential"`). Where the k
tokens' keys coincide and z has seen the key (zᵀk ≥ ‖k‖², so γ = 0 and z does not move), the joint write moves what
the memory reads for it by 1 − Σ_i β_i ‖k‖² / (zᵀk + ε) of its error: below −1 once the strengths sum past about
2·zᵀk/‖k‖², and the read and A then grow geometrically. Taken in turn, each token's factor is 1 − β_i ‖k‖² / (zᵀk + ε),
between 0 and 1 (docs/memory.md "Stage 36").

A and z start at zero, so the first segment reads exactly 0. Under bf16 autocast the projections run in bf16
with fp32 accumulation (`state_projection`), while A, z, φ and the read and write arithmetic stay in fp32
(fp64 for fp64 models). The choices the paper leaves open, and why, are in docs/architecture.md ("ARMT").
Notation: `b` batch, `n` tokens, `k` memory tokens, `l` blocks, `e` key dim, `f` feature dim, `d` width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbone import state_projection
from .config import LM2Config
from .rmt import memory_pass, write_prefixes
from .state import LayerCache, MemoryState

EPS = 1e-5  # ε of the read and of v̄ (the paper's code)


def dpfp(x: Tensor, nu: int) -> Tensor:
    """DPFP-ν (Schlag et al. 2021, "deterministic parameter-free projection"): `(..., e)` → `(..., 2·ν·e)`.

    With r = [relu(x), relu(−x)], the features are r_j · r_{j−i} for i = 1..ν (indices cyclic): products of
    non-negative numbers, so φ ≥ 0 and zᵀφ(q) (a sum of such products) never cancels."""
    r = torch.cat([F.relu(x), F.relu(-x)], dim=-1)  # (..., 2e)
    return torch.cat([r * r.roll(shifts=i, dims=-1) for i in range(1, nu + 1)], dim=-1)  # (..., 2νe)


def recall(matrix: Tensor, normalizer: Tensor, features: Tensor) -> Tensor:
    """`A φ / (zᵀφ + ε)`: features φ `(b, n, f)`, matrix A `(b, f, d)`, normalizer z `(b, f)` → `(b, n, d)`."""
    scale = features @ normalizer[..., None] + EPS  # (b, n, 1) zᵀφ + ε
    return (features @ matrix) / scale


def associate(
    matrix: Tensor, normalizer: Tensor, keys: Tensor, values: Tensor, beta: Tensor, order: str = "joint"
) -> tuple[Tensor, Tensor]:
    """The delta rule with the γ correction: A, z after writing `keys` φ(k) `(b, k, f)` → `values` `(b, k, d)`
    with strengths `beta` `(b, k, 1)`. `order="joint"` (the paper's code): all k memory tokens write at once,
    against the A and z they found; `"sequential"`: token i writes against the A and z tokens 1..i−1 left.

    A key already stored with the same value leaves A unchanged (v − v̄ = 0); a stored key with a new value
    and β = 1 replaces the old value. γ is the share of the key that z has not seen yet, so z counts each
    direction once; it is detached (the paper's code): a bookkeeping weight, not something to learn through.
    """
    if order == "sequential":
        for i in range(keys.shape[1]):
            one = slice(i, i + 1)
            matrix, normalizer = associate(matrix, normalizer, keys[:, one], values[:, one], beta[:, one])
        return matrix, normalizer
    previous = recall(matrix, normalizer, keys)  # v̄ (b, k, d): what A returns for these keys now
    matrix = matrix + keys.transpose(1, 2) @ (beta * (values - previous))  # (b, f, d)
    seen = keys @ normalizer[..., None]  # (b, k, 1) zᵀφ(k)
    size = keys.pow(2).sum(-1, keepdim=True).clamp_min(torch.finfo(keys.dtype).tiny)  # ‖φ(k)‖² (0 → γ = 1)
    gamma = (1 - seen / size).clamp(0, 1).detach()
    return matrix, normalizer + (gamma * keys).sum(1)


class AssociativeMemory(nn.Module):
    """One block's associative memory: its projections (`model.layers.{i}.associative.*`). A and z are
    per-sample state, passed in and returned, never kept on the module."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__()
        d, e = config.hidden_size, config.armt_key_dim
        self.nu = config.armt_dpfp_nu
        self.unit = config.armt_feature_norm
        self.order = config.armt_write
        self.q_proj = nn.Linear(d, e, bias=False)  # W_Q (read)
        self.k_proj = nn.Linear(d, e, bias=False)  # W_K (write)
        self.v_proj = nn.Linear(d, d, bias=False)  # W_V (write)
        self.beta_proj = nn.Linear(d, 1)  # W_β, one write strength per memory token
        # Optional learnable gain on the read (not in the paper): 0 at init switches the read off exactly.
        gain = config.armt_read_gain
        self.gain = None if gain is None else nn.Parameter(torch.full((d,), float(gain)))

    def features(self, x: Tensor) -> Tensor:
        """φ(x): DPFP-ν, scaled to unit L2 norm with `armt_feature_norm` (a zero φ stays zero)."""
        features = dpfp(x, self.nu)
        return F.normalize(features, dim=-1) if self.unit else features

    def read(self, h: Tensor, matrix: Tensor, normalizer: Tensor) -> Tensor:
        """h `(b, n, d)` the hidden states entering the block → o `(b, n, d)` (in h's dtype) to add to them."""
        dtype = matrix.dtype
        query = state_projection(self.q_proj, h, dtype)  # W_Q h (b, n, e), in the autocast dtype under autocast
        with torch.autocast(device_type=h.device.type, enabled=False):  # the state's arithmetic: fp32
            features = self.features(query)  # φ(W_Q h) (b, n, f)
            out = recall(matrix, normalizer, features)  # (b, n, d)
            if self.gain is not None:
                out = self.gain.to(dtype) * out
        return out.to(h.dtype)

    def write(self, states: Tensor, matrix: Tensor, normalizer: Tensor) -> tuple[Tensor, Tensor]:
        """states `(b, k, d)` the memory tokens' outputs of this block → A `(b, f, d)`, z `(b, f)` after."""
        dtype = matrix.dtype
        key = state_projection(self.k_proj, states, dtype)  # W_K m (b, k, e)
        values = state_projection(self.v_proj, states, dtype)  # W_V m (b, k, d)
        strength = state_projection(self.beta_proj, states, dtype)  # W_β m (b, k, 1)
        with torch.autocast(device_type=states.device.type, enabled=False):  # the state's arithmetic: fp32
            return associate(matrix, normalizer, self.features(key), values, torch.sigmoid(strength), self.order)


def initial_associations(config: LM2Config, batch: int, dtype: torch.dtype, device: torch.device):
    """A fresh stream's A `(b, l, f, d)` and z `(b, l, f)`: zeros (nothing stored, every read is 0)."""
    layers, f, d = config.num_hidden_layers, config.armt_feature_dim, config.hidden_size
    matrix = torch.zeros(1, layers, f, d, dtype=dtype, device=device).expand(batch, -1, -1, -1)
    return matrix, torch.zeros(1, layers, f, dtype=dtype, device=device).expand(batch, -1, -1)


def associations(state: MemoryState) -> list[tuple[Tensor, Tensor]]:
    """Each block's (A `(b, f, d)`, z `(b, f)`) from the state (views, no copy)."""
    count = state.associative.shape[1]
    return [(state.associative[:, i], state.normalizer[:, i]) for i in range(count)]


def write_associative(
    blocks: Sequence[nn.Module],
    norm: nn.Module,
    state: MemoryState,
    caches: list[LayerCache],
    complete: Tensor,
    tokens: Tensor | None,
    dtype: torch.dtype,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """The carried memory after this segment pass: (memory tokens, A, z).

    For samples whose segment is now complete (`complete` `(b,)`), the write copy of the memory tokens runs
    through the blocks, seeing the segment (and the read prefix, when the tokens recur), and every block's
    output states of it write that block's A and z. `tokens` `(k, d)`: the learned tokens the write copy
    starts from (`armt_memory_tokens="write"`); `None`: it starts from `state.memory`, and its outputs after
    the final norm become the next memory tokens (`"recurrent"`). Other samples keep their memory."""
    if not bool(complete.any()):
        return state.memory, state.associative, state.normalizer
    b = complete.shape[0]
    source = state.memory if tokens is None else tokens.expand(b, -1, -1)
    written, _, outputs = memory_pass(blocks, norm, source.to(dtype), write_prefixes(caches), associations(state))
    pairs = [
        block.associative.write(m, matrix, normalizer)
        for block, m, (matrix, normalizer) in zip(blocks, outputs, associations(state), strict=True)
    ]
    matrix = torch.where(complete[:, None, None, None], torch.stack([a for a, _ in pairs], 1), state.associative)
    normalizer = torch.where(complete[:, None, None], torch.stack([z for _, z in pairs], 1), state.normalizer)
    memory = None
    if tokens is None:
        memory = torch.where(complete[:, None, None], written.to(state.memory.dtype), state.memory)
    return memory, matrix, normalizer


def check_associative(state: MemoryState, config: LM2Config, batch: int) -> None:
    """Raise `ValueError` unless the state's A and z fit an `armt` model of `config` and this batch size."""
    layers, f, d = config.num_hidden_layers, config.armt_feature_dim, config.hidden_size
    for name, tensor, shape, what in (
        ("associative", state.associative, (batch, layers, f, d), "(batch, layers, armt_feature_dim, hidden_size)"),
        ("normalizer", state.normalizer, (batch, layers, f), "(batch, layers, armt_feature_dim)"),
    ):
        got = None if tensor is None else tuple(tensor.shape)
        if got != shape:
            raise ValueError(f"memory.{name} has shape {got}, this model needs {shape} {what}")
