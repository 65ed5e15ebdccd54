"""The model against DESIGN §2 transcribed plainly: loops over segments and tokens, no caches, no grid, no
fused attention. Every LM2 memory variant, whole, padded on either side and streamed in chunks must give the
reference's logits and final bank (float64, so the tolerance only absorbs summation order)."""

from __future__ import annotations

import math

import pytest
import torch

from lm2.model.backbone import apply_rotary
from lm2.model.memory import initial_bank
from tests.conftest import VARIANTS, random_ids, tiny_model

LM2_VARIANTS = [kw for arch, kw in VARIANTS if arch == "lm2"] + [
    {"memory_gain": 0.5, "forget_bias": 3.0},
    {"memory_update": "mean", "memory_output": "read"},
    {"memory_layers": [0, 2], "memory_read_center": "keys"},
    {
        "memory_write": "addressed",
        "memory_output": "read",
        "memory_gates": "sigmoid",
        "memory_candidate": "input",
        "memory_query": "attention",
        "memory_read_norm": False,
        "memory_gain": 0.5,
    },
    {"memory_write": "delta", "memory_output": "read", "memory_gates": "sigmoid", "memory_query": "attention"},
    {
        "memory_write": "delta",
        "memory_output": "read",
        "memory_gates": "sigmoid",
        "memory_address": "cosine",
        "memory_heads": 2,
        "memory_address_strength": 4.0,
    },
    {"memory_write": "addressed", "memory_output": "read", "memory_address": "slots", "memory_gates": "sigmoid"},
    {"memory_write": "sequential", "memory_output": "read", "memory_gates": "sigmoid", "memory_layers": [0, 2]},
    {
        "memory_write": "sequential",
        "memory_output": "read",
        "memory_gates": "hard",
        "input_bias": 0.0,
        "memory_candidate": "input",
        "memory_address": "slots",
        "memory_heads": 2,
    },
]
TOL = dict(rtol=1e-9, atol=1e-10)


def softmax_read(q, k, v, visible):  # q (h, e), k/v (h, w, e): one query over its first `visible` keys
    w = torch.softmax(q[:, None] @ k[:, :visible].transpose(1, 2) / math.sqrt(q.shape[-1]), -1)
    return (w @ v[:, :visible])[:, 0]  # (h, e)


def heads(x, h):  # (T, h * e) -> (h, T, e)
    return x.view(x.shape[0], h, -1).transpose(0, 1)


def reference(model, ids):
    """One sample's token ids (L,) -> logits (L, vocab), final bank (m, d) and the sum over its tokens and
    memory blocks of each token's input gate averaged over the width (the write cost's numerator)."""
    cfg, net = model.config, model.model
    gates = 0.0
    bank = (
        initial_bank(cfg.memory_slots, cfg.hidden_size, torch.float64) if net.memory_init is None else net.memory_init
    )
    logits = []
    addressed = cfg.memory_write in ("addressed", "delta", "sequential")
    delta, sequential = cfg.memory_write == "delta", cfg.memory_write == "sequential"
    for seg in ids.split(cfg.segment_length):  # the bank crosses segments; positions restart at 0
        T, h, rows = len(seg), net.embed_tokens(seg), bank.clone()
        sums = []  # addressed: each memory block's (Σ_i u_ij, Σ_i u_ij c_i) of the segment
        ordered = []  # sequential: every write of the segment, (token, block, channels, a, β, c)
        cos, sin = net.rotary_emb(torch.arange(T), h.dtype)
        for layer in net.layers:
            x, sa, mem = layer.input_layernorm(h), layer.self_attn, layer.memory
            q, k, v = heads(sa.q_proj(x), sa.heads), heads(sa.k_proj(x), sa.kv_heads), heads(sa.v_proj(x), sa.kv_heads)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin).repeat_interleave(sa.heads // sa.kv_heads, 0)
            v = v.repeat_interleave(sa.heads // sa.kv_heads, 0)
            a = sa.o_proj(torch.stack([softmax_read(q[:, i], k, v, i + 1).reshape(-1) for i in range(T)]))
            if mem is None:
                h = h + a
            else:  # eqs. 1-6; the first memory block reads every row, later ones rows j <= i (addressed: all)
                first = layer is net.layers[cfg.memory_layer_ids[0]] or addressed
                mq = heads(mem.q_proj(x if cfg.memory_query == "input" else a), mem.heads)
                normed = lambda r: r * (r.pow(2).mean(-1, keepdim=True) + 1e-6).rsqrt() if cfg.memory_read_norm else r  # noqa: E731
                read = normed(rows)
                share = 1.0 if cfg.memory_read_center else mem.center_fraction  # α: the share of the mean not read
                keyed = normed(rows - share * rows.mean(0)) if first and share is not None else read  # centred read
                valued = read if cfg.memory_read_center == "keys" else keyed  # "keys": W_V reads the rows as they are
                if first and cfg.memory_read_center == "split":  # the centred rows, then their mean as one more row
                    keyed = valued = normed(torch.cat([rows - rows.mean(0), rows.mean(0, keepdim=True)]))
                if first and cfg.memory_read_center == "gated":  # the centred rows, and apart from them their mean
                    keyed = valued = normed(rows - rows.mean(0))
                    mean = normed(rows.mean(0, keepdim=True))
                mv = heads(mem.v_proj(valued), mem.heads)
                mk = mem.slot_keys if cfg.memory_address == "slots" else heads(mem.k_proj(keyed), mem.heads)
                e_mem = torch.stack(
                    [softmax_read(mq[:, i], mk, mv, len(keyed) if first else i + 1).reshape(-1) for i in range(T)]
                )
                if first and cfg.memory_read_center == "gated":  # + σ(q · k_mean / sqrt(e)) W_V mean, per head
                    k_mean, v_mean = heads(mem.k_proj(mean), mem.heads), heads(mem.v_proj(mean), mem.heads)
                    gate = torch.sigmoid((mq * k_mean).sum(-1, keepdim=True) / math.sqrt(mq.shape[-1]))  # (h, T, 1)
                    e_mem = e_mem + (gate * v_mean).transpose(0, 1).reshape(T, -1)
                gated = torch.sigmoid(mem.out_gate(e_mem)) * (read[:T] if cfg.memory_output == "bank" else e_mem)
                h = h + a + (gated if mem.gain is None else mem.gain * gated)
                squash = torch.sigmoid if cfg.memory_gates == "sigmoid" else lambda z: (z / 6 + 0.5).clamp(0, 1)
                if addressed:  # token i writes u_ij = a_ij g_in,i to row j, a from its write key over the rows' keys
                    g_in = squash(mem.in_gate(x))
                    c = torch.tanh(e_mem if cfg.memory_candidate == "read" else mem.candidate_proj(x))
                    wq, e = heads(mem.address_proj(x), mem.heads), mq.shape[-1]
                    weight, total = torch.zeros_like(rows), torch.zeros_like(rows)
                    for i in range(T):
                        for head in range(mem.heads):
                            if cfg.memory_address == "cosine":  # softmax(β cos), β = softplus(E_t W_β + b_β)
                                beta = torch.nn.functional.softplus(mem.strength_proj(x[i]))[head]
                                unit = lambda v: v / v.norm(dim=-1, keepdim=True)  # noqa: E731
                                a = torch.softmax(beta * (unit(mk[head]) @ unit(wq[head, i])), 0)
                            else:
                                a = torch.softmax(mk[head] @ wq[head, i] / math.sqrt(e), 0)  # (m,)
                            part = slice(head * e, (head + 1) * e)
                            if sequential:  # kept for the segment's end, where the writes apply in order
                                ordered.append((i, len(sums), part, a, g_in[i, part] / (a @ a), c[i, part]))
                                continue
                            written = c[i, part]
                            if delta:  # the error of what the address reads from the entering bank, a / |a|²
                                written = written - a @ rows[:, part]
                                a = a / (a @ a)
                            weight[:, part] += a[:, None] * g_in[i, part]
                            total[:, part] += a[:, None] * (g_in[i, part] * written)
                    sums.append((weight, total))
                    gates = gates + g_in.mean(-1).sum()
                    h = h + layer.mlp(layer.post_attention_layernorm(h))
                    continue
                g_in, g_f, c, m = (
                    squash(mem.in_gate(x)),
                    cfg.forget_floor + (1 - cfg.forget_floor) * squash(mem.forget_gate(e_mem)),
                    torch.tanh(e_mem if cfg.memory_candidate == "read" else mem.candidate_proj(x)),
                    rows[:T],
                )
                new = {"paper": g_in * c + g_f * m, "mean": (g_in * c + g_f * m) / (g_in + g_f)}.get(
                    cfg.memory_update,
                    g_f * m + g_in * (c - g_f * m),  # "delta"
                )
                rows = torch.cat([new, rows[T:]])
                gates = gates + g_in.mean(-1).sum()
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        logits.append(model.lm_head(net.norm(h)))
        if sequential and cfg.segment_length == T:  # token by token, a token's blocks in order: M += a β (c − a M)
            for _, _, part, a, beta, c in sorted(ordered, key=lambda w: w[:2]):
                rows[:, part] = rows[:, part] + a[:, None] * (beta * (c - a @ rows[:, part]))[None, :]
        elif delta and cfg.segment_length == T:  # a complete segment: every block's errors in one normalised step
            rows = rows + sum(t for _, t in sums) / sum(w for w, _ in sums).clamp(min=1)
        elif addressed and cfg.segment_length == T:  # a complete segment: each block's writes in turn, convex mixes
            for weight, total in sums:
                rows = (1 - weight).clamp(min=0) * rows + total / weight.clamp(min=1)
        bank = rows
    return torch.cat(logits), bank, gates


@pytest.fixture(params=LM2_VARIANTS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def lm2(request):
    return tiny_model("lm2", **request.param)


@torch.no_grad()
def test_whole_input_matches_the_reference(lm2):
    ids = random_ids(2, 15)  # two full segments of 6 and a ragged one of 3
    out = lm2(ids)
    for i in range(2):
        logits, bank, _ = reference(lm2, ids[i])
        torch.testing.assert_close(out.logits[i], logits, **TOL)
        torch.testing.assert_close(out.memory.memory[i], bank, **TOL)


@torch.no_grad()
def test_padded_batch_matches_each_sample_alone(lm2):
    ids = random_ids(3, 14, seed=2)
    lengths = [14, 9, 5]
    mask = torch.zeros(3, 14, dtype=torch.long)
    mask[0], mask[1, 14 - 9 :], mask[2, :5] = 1, 1, 1  # full, left-padded, right-padded
    out = lm2(ids.masked_fill(mask == 0, 0), attention_mask=mask)
    for i, length in enumerate(lengths):
        logits, bank, _ = reference(lm2, ids[i][mask[i].bool()])
        torch.testing.assert_close(out.logits[i][mask[i].bool()], logits, **TOL)
        torch.testing.assert_close(out.memory.memory[i], bank, **TOL)
        assert logits.shape[0] == length


@torch.no_grad()
def test_streamed_chunks_match_the_reference(lm2):
    ids = random_ids(2, 20, seed=3)
    state, pieces = None, []
    for chunk in ids.split([4, 9, 1, 6], dim=1):  # cuts inside segments, across boundaries, single tokens
        out = lm2(chunk, memory=state)
        state = out.memory
        pieces.append(out.logits)
    for i in range(2):
        logits, bank, _ = reference(lm2, ids[i])
        torch.testing.assert_close(torch.cat(pieces, 1)[i], logits, **TOL)
        torch.testing.assert_close(state.memory[i], bank, **TOL)


@pytest.mark.parametrize("penalty", [0.0, 0.7])
@pytest.mark.parametrize("overrides", LM2_VARIANTS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_loss_is_the_cross_entropy_plus_the_write_cost_of_the_reference(overrides, penalty):
    """`write_penalty` λ: loss = mean cross-entropy + λ · (Σ g_in over real tokens and memory blocks, averaged
    over the width) / (real tokens × memory blocks). A padded batch: padding neither predicts nor pays."""
    model = tiny_model("lm2", **{**overrides, "write_penalty": penalty, "write_penalty_warmup": 0})  # λ at once
    ids = random_ids(3, 14, seed=5)
    mask = torch.zeros(3, 14, dtype=torch.long)
    mask[0], mask[1, 14 - 9 :], mask[2, :5] = 1, 1, 1  # full, left-padded, right-padded
    padded = ids.masked_fill(mask == 0, 0)
    with torch.no_grad():
        loss = model(padded, attention_mask=mask, labels=ids).loss
        _, _, tally = model.model(padded, mask, return_writes=True)
        nll, targets, gates, tokens = 0.0, 0, 0.0, 0
        for i in range(3):
            real = ids[i][mask[i].bool()]
            logits, _, sample_gates = reference(model, real)
            nll += torch.nn.functional.cross_entropy(logits[:-1], real[1:], reduction="sum")
            targets += len(real) - 1
            gates, tokens = gates + sample_gates, tokens + len(real)
    blocks = len(model.config.memory_layer_ids)
    torch.testing.assert_close(tally, torch.tensor([gates / blocks, tokens], dtype=torch.float64), **TOL)
    # The cross-entropy is taken in fp32 (as the trainer's), hence the looser tolerance for the loss.
    expected = nll / targets + penalty * gates / (tokens * blocks)
    torch.testing.assert_close(loss, expected.float(), rtol=1e-6, atol=1e-6)


def test_the_write_price_rises_over_the_warm_up_sequences_counted_at_each_step(tmp_path):
    """`write_penalty_warmup` W: after optimizer steps over t training sequences the price is t/W of λ (then
    λ); the sequences of a step's calls count at its end, so every micro-batch of one step pays the same;
    evaluation and no-grad calls do not count; the trainer's loss view counts the same way; the count is a
    buffer, so a saved model resumes it."""
    from lm2 import LM2ForCausalLM
    from lm2.training.distributed import LossOnly

    model = tiny_model("lm2", write_penalty=0.8, write_penalty_warmup=8).train()
    ids = random_ids(2, 14, seed=7)

    def price(call, rows=2):  # what a call on the first `rows` samples adds to the cross-entropy, per write cost
        x = ids[:rows]
        with torch.no_grad():
            _, _, tally = model.model(x, None, return_writes=True)
            nll = torch.nn.functional.cross_entropy(model(x).logits[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        return float((call(x).detach() - nll) / (tally[0] / tally[1]))

    def step():  # any optimizer's step counts the sequences seen since the last one (lr 0: weights unchanged)
        torch.optim.SGD(model.parameters(), lr=0.0).step()

    loss = lambda x: model(x, labels=x).loss  # noqa: E731
    # The loss's cross-entropy is taken in fp32 (~4e-7 relative); divided by a write cost of ~0.05 that is a
    # few 1e-5 of the price, far below the 0.1 that one sequence adds.
    assert [price(loss, 2), price(loss, 1)] == pytest.approx([0.0, 0.0], abs=1e-4)  # one step, two micro-batches
    step()
    assert price(loss, 2) == pytest.approx(0.3, abs=1e-4)  # after the 3 sequences of the first step
    step()
    with torch.no_grad():
        assert price(loss) == pytest.approx(0.5, abs=1e-4)  # not counted
    model.eval()
    assert price(loss) == pytest.approx(0.5, abs=1e-4)  # not counted
    model.train()
    step()
    assert price(lambda x: LossOnly(model)(x, None, x)) == pytest.approx(0.5, abs=1e-4)  # the trainer's view
    step()
    model.save_pretrained(tmp_path)
    assert int(model.write_sequences) == 7
    model = LM2ForCausalLM.from_pretrained(tmp_path).to(torch.float64).train()
    assert int(model.write_sequences) == 7
    paid = []
    for _ in range(3):
        paid.append(price(loss, 1))
        step()
    assert paid == pytest.approx([0.7, 0.8, 0.8], abs=1e-4)
    assert not hasattr(tiny_model("lm2", write_penalty_warmup=0), "write_sequences")  # no warm-up, no count
