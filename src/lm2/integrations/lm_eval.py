"""lm-evaluation-harness adapter: the model name `lm2` (install with `pip install lm2[eval]`).

    lm_eval --model lm2 --model_args pretrained=DIR --tasks ...        # lm-eval with plugin entry points
    python -m lm2.integrations.lm_eval --model lm2 --model_args pretrained=DIR --tasks ...   # any lm-eval

`lm2` is declared under the `lm_eval.models` entry-point group, which lm-eval releases with plugin discovery
read by themselves. lm-eval 0.4.13 (the current release) reads no entry points, so `python -m
lm2.integrations.lm_eval` registers the model and then runs lm-eval's own command line with the same
arguments; in Python, `import lm2.integrations.lm_eval` before `lm_eval.simple_evaluate(model="lm2", ...)`.

Inputs are never truncated: the model cuts any length into segments itself. Each context is streamed in
chunks with `logits_to_keep=1` (the state carries it exactly, DESIGN §3); only the scored tokens' logits are
ever materialised, and the continuations of one context share its state.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import model_registry
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from lm_eval.models.utils_hf import stop_sequences_criteria
from torch import Tensor

from lm2.integrations.pretrained import load_pretrained
from lm2.integrations.stream import prefill, split_columns
from lm2.model import MemoryState

logger = logging.getLogger(__name__)

MODEL_NAME = "lm2"


class LM2EvalLM(TemplateLM):
    """An `lm2` checkpoint folder (`save_pretrained` or `lm2 convert`, with its tokenizer) as an lm-eval LM.

    model_args: `pretrained` (folder), `dtype` (`auto`, `float32`, `bfloat16`, `float16`, `float64`),
    `device`, `batch_size` (continuations of one context scored together; `auto` = 32),
    `max_gen_toks` (default generation budget), `add_bos_token` (prepend the tokenizer's BOS to every
    input), `chunk_size` (tokens per forward call when streaming a context).
    """

    def __init__(
        self,
        pretrained: str | Path,
        dtype: str = "auto",
        device: str | None = None,
        batch_size: int | str = 1,
        max_batch_size: int | None = None,
        max_gen_toks: int = 256,
        add_bos_token: bool = False,
        chunk_size: int = 4096,
        **unknown: Any,
    ) -> None:
        super().__init__()
        if unknown:
            raise ValueError(
                f"unknown lm2 model_args {sorted(unknown)}; allowed: pretrained, dtype, device, batch_size, "
                "max_batch_size, max_gen_toks, add_bos_token, chunk_size"
            )
        self._device = _available(device or "cpu")
        self.model, self.tokenizer = load_pretrained(pretrained, self._device, dtype)
        self.pretrained = str(pretrained)
        self.batch_size = _batch_size(batch_size, max_batch_size)
        self.max_gen_toks = _positive("max_gen_toks", max_gen_toks)
        self.chunk_size = _positive("chunk_size", chunk_size)
        self.add_bos_token = bool(add_bos_token)

    # ------------------------------------------------------------------ tokens
    @property
    def eot_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        if eos is None:
            eos = self.model.config.eos_token_id
        return eos[0] if isinstance(eos, list) else eos

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return self.eot_token_id if bos is None else bos

    @property
    def max_length(self) -> int:
        """No limit: inputs of any length are cut into segments inside the model."""
        return 2**62

    @property
    def tokenizer_name(self) -> str:
        return self.tokenizer.name_or_path.replace("/", "__")

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        ids = self.tokenizer.encode(string, add_special_tokens=False)
        add_bos = self.add_bos_token if add_special_tokens is None else add_special_tokens
        bos = self.tokenizer.bos_token_id
        if add_bos and bos is not None and ids[:1] != [bos]:
            ids = [bos, *ids]
        return ids

    def tok_decode(self, tokens: list[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def get_model_info(self) -> dict:
        cfg = self.model.config
        return {
            "model_num_parameters": sum(p.numel() for p in self.model.parameters()),
            "model_dtype": str(self.model.dtype),
            "arch": cfg.arch,
            "segment_length": cfg.segment_length,
        }

    # ------------------------------------------------------------------ scoring
    def _state_after(self, tokens: list[int]) -> MemoryState | None:
        """The state after streaming `tokens` (None for no tokens: a fresh stream)."""
        if not tokens:
            return None
        ids = torch.tensor([tokens], device=self._device)
        return prefill(self.model, split_columns(ids, self.chunk_size))

    @torch.no_grad()
    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], disable_tqdm: bool = False
    ) -> list[tuple[float, bool]]:
        """Log-probability of each continuation after its context, and whether greedy decoding gives it.

        Requests sharing a context are scored from one streamed state, `batch_size` continuations at a time
        (right-padded; padding never changes a sample's result)."""
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        by_context: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, (_, context, _) in enumerate(requests):
            by_context[tuple(context)].append(i)
        for context, indices in by_context.items():
            state = self._state_after(list(context[:-1]))
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start : start + self.batch_size]
                scores = self._score_batch(context[-1], [requests[i][2] for i in batch], state)
                for i, score in zip(batch, scores, strict=True):
                    results[i] = score
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], score)
        return results

    def _score_batch(
        self, last: int, continuations: list[list[int]], state: MemoryState | None
    ) -> list[tuple[float, bool]]:
        """Score continuations after the context's last token `last` (the state holds the tokens before)."""
        width = max(len(c) for c in continuations)
        if width == 0:
            return [(0.0, True)] * len(continuations)
        pad = self.model.config.pad_token_id or 0
        ids = torch.full((len(continuations), width), pad, dtype=torch.long, device=self._device)
        mask = torch.zeros_like(ids)
        for row, cont in enumerate(continuations):
            inputs = [last, *cont[:-1]]
            ids[row, : len(inputs)] = torch.tensor(inputs)
            mask[row, : len(inputs)] = 1
        memory = None if state is None else state.repeat_interleave(len(continuations))
        logits = self.model(ids, attention_mask=mask, memory=memory).logits  # (b, width, vocab)
        logprobs = _log_softmax(logits)
        scores = []
        for row, cont in enumerate(continuations):
            target = torch.tensor(cont, device=self._device)
            lp = logprobs[row, : len(cont)]
            total = lp.gather(-1, target[:, None]).sum().item()
            scores.append((total, bool((lp.argmax(-1) == target).all())))
        return scores

    @torch.no_grad()
    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
        """Log-probability of each whole string after the prefix token, with no truncation: the string is
        streamed in chunks of `chunk_size` tokens and every token is scored with its full history."""
        results = []
        for request in requests:
            (string,) = request.args
            tokens = self.tok_encode(string)
            inputs = torch.tensor([[self.prefix_token_id, *tokens[:-1]]], device=self._device)
            targets = torch.tensor([tokens], device=self._device)
            state, total = None, 0.0
            chunks = zip(split_columns(inputs, self.chunk_size), split_columns(targets, self.chunk_size), strict=True)
            for ids, tgt in chunks:
                out = self.model(ids, memory=state)
                state = out.memory
                total += _log_softmax(out.logits).gather(-1, tgt[..., None]).sum().item()
            results.append(total)
            self.cache_hook.add_partial("loglikelihood_rolling", (string,), total)
        return results

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        """Generate from each context (streamed first, any length) until a stop string or the budget."""
        eos = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
        results = []
        for request in requests:
            context, gen_kwargs = request.args
            kwargs = normalize_gen_kwargs(gen_kwargs, self.max_gen_toks)
            until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
            max_new_tokens = kwargs.pop("max_gen_toks")
            if not kwargs.get("do_sample"):
                kwargs.pop("temperature", None)
            tokens = self.tok_encode(context) or [self.prefix_token_id]
            state = self._state_after(tokens[:-1])
            out = self.model.generate(
                torch.tensor([tokens[-1:]], device=self._device),
                memory=state,
                max_new_tokens=max_new_tokens,
                stopping_criteria=stop_sequences_criteria(self.tokenizer, until, 1, 1),
                pad_token_id=self.model.config.pad_token_id,
                **kwargs,
            )
            text = postprocess_generated_text(self.tok_decode(out[0, 1:].tolist()), until, None)
            results.append(text)
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
        return results


def _log_softmax(logits: Tensor) -> Tensor:
    """Log-probabilities in at least fp32 (bf16/fp16 logits are upcast)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return logits.log_softmax(-1)


def _available(device: str) -> torch.device:
    """The requested device, or the CPU when CUDA is asked for but absent (lm-eval's CLI default is cuda)."""
    wanted = torch.device(device)
    if wanted.type == "cuda" and not torch.cuda.is_available():
        logger.warning("device=%r is not available; using the CPU", device)
        return torch.device("cpu")
    return wanted


def _positive(field: str, value: int | str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{field}={value!r} must be a positive integer")
    return number


def _batch_size(value: int | str, maximum: int | None) -> int:
    if isinstance(value, str) and value.startswith("auto"):
        size = 32
    else:
        try:
            size = _positive("batch_size", value)
        except (TypeError, ValueError):
            raise ValueError(f"batch_size={value!r} must be a positive integer or 'auto'") from None
    return min(size, int(maximum)) if maximum else size


def register() -> None:
    """Make `lm2` a model name of lm-eval in this process (idempotent; keeps lm-eval's own models)."""
    import lm_eval.models  # noqa: F401  (registers the built-in names first, as lm-eval's own lookup would)

    if MODEL_NAME not in model_registry:
        model_registry.register(MODEL_NAME)(LM2EvalLM)


def main() -> None:
    """`python -m lm2.integrations.lm_eval ARGS`: lm-eval's command line with `lm2` registered."""
    from lm_eval.__main__ import cli_evaluate

    import lm2.integrations.lm_eval  # noqa: F401  (registers the importable class, not this __main__ copy)

    cli_evaluate()


if __name__ == "__main__":
    main()
else:
    register()
