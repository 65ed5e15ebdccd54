"""The training loop: a thin loop over data, model, optimizer, checkpoint and metrics.

`Trainer(config).fit()` trains, validates, checkpoints and resumes: started again with the same
configuration in the same `run.out`, it continues from the last complete checkpoint and ends with the
weights an uninterrupted run would have (batches are a function of (seed, step), see `data.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lm2.data import default_tokenizer, load_haystack, load_tokenizer
from lm2.evaluation.answers import accuracy, generate_answers
from lm2.model import LM2ForCausalLM

from . import distributed
from .checkpoint import latest_checkpoint, load_trainer_state, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .data import IGNORE, BabilongStream, Batch, TextStream, collate, input_length
from .optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Trainer:
    """`on_step(step, loss)`, when given, is called after every optimizer step (progress reporting)."""

    def __init__(self, config: TrainConfig, on_step: Callable[[int, float], None] | None = None) -> None:
        config.validate()
        self.config, self.on_step = config, on_step
        run = config.run
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if run.device == "auto" else run.device
        )
        self.dist = distributed.setup(self.device.type)
        if self.device.type == "cuda" and self.dist.active:
            self.device = torch.device("cuda", self.dist.local_rank)
        if run.threads:
            torch.set_num_threads(run.threads)
        bf16 = run.precision == "bf16" or (run.precision == "auto" and self.device.type == "cuda")
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)
        self.out = Path(run.out)
        self.tokenizer = (
            load_tokenizer(config.data.tokenizer)
            if config.data.tokenizer
            else default_tokenizer(config.data.vocab_size)
        )
        self.model_config = config.model_config(len(self.tokenizer))
        self.stream = self._build_stream()
        self.resume_from = latest_checkpoint(self.out)
        self._check_resume()
        torch.manual_seed(run.seed)
        self.model = self._build_model()
        # Wrap before building the optimizer: FSDP2 replaces the parameters with sharded ones.
        self.wrapped = distributed.wrap(self.model, self.dist, run.distributed, self.device)
        self.sharded = self.dist.active and run.distributed == "fsdp"
        self.optimizer = build_optimizer(self.model, config.optim, fused=self.device.type == "cuda")
        self.scheduler = build_scheduler(self.optimizer, config.optim, run.steps)
        self.step, self.stage, self.stage_start = 0, 0, 0
        if self.resume_from is not None:
            self._restore()
        self.metrics = _Metrics(self.out, self.dist.main, run.tensorboard, keep_until=self.step)

    # ------------------------------------------------------------------ setup
    def _build_stream(self) -> BabilongStream | TextStream:
        data, seed = self.config.data, self.config.run.seed
        if data.task == "lm":
            return TextStream(data.text_dir, self.tokenizer, data.sequence_length, seed, self.out / "cache")
        return BabilongStream(
            data.babi_tasks, data.babi, load_haystack(data.haystack, seed, split="train"), self.tokenizer, seed,
            data.validation_fraction, data.generated_questions,
        )  # fmt: skip

    def _check_resume(self) -> None:
        """A checkpoint in `run.out` must come from the same model; anything else stops before training."""
        if self.resume_from is None:
            return
        saved = json.loads((self.resume_from / "config.json").read_text())
        ours = self.model_config.to_dict()
        keys = ("arch", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "num_key_value_heads", "segment_length", "memory_slots", "memory_layers",
                "num_memory_tokens")  # fmt: skip
        differ = {k: (saved.get(k), ours.get(k)) for k in keys if saved.get(k) != ours.get(k)}
        if differ:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in differ.items())
            raise ValueError(f"{self.resume_from} is from a different model ({detail}); use another run.out")

    def _build_model(self) -> LM2ForCausalLM:
        model = LM2ForCausalLM(self.model_config)
        if self.resume_from is not None:
            model = LM2ForCausalLM.from_pretrained(self.resume_from, dtype=torch.float32)
        model.to(self.device).train()
        if self.config.run.compile:
            for layer in model.model.layers:
                layer.compile()
        return model

    def _restore(self) -> None:
        state = load_trainer_state(self.resume_from)
        distributed.load_optimizer_state(self.model, self.optimizer, state["optimizer"], self.sharded)
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        self.step, self.stage, self.stage_start = state["step"], state["stage"], state["stage_start"]
        log.info("resumed from %s at step %d", self.resume_from, self.step)

    # ------------------------------------------------------------------ loop
    @property
    def segments(self) -> int:
        return self.config.curriculum.segments[self.stage]

    @property
    def max_facts(self) -> int:
        caps = self.config.curriculum.max_facts
        return caps[self.stage] if caps else 0

    def length(self, segments: int) -> int:
        return input_length(segments, self.model_config.segment_length, self.config.data.reserve)

    def fit(self) -> dict:
        run = self.config.run
        bar = _progress(run, self.step, self.dist.main)
        last_eval: dict = {}
        try:
            while self.step < run.steps:
                start = time.time()
                loss, tokens = self.train_step()
                self.step += 1
                bar.update(1)
                if self.on_step is not None:
                    self.on_step(self.step, loss)
                if self.step % run.log_every == 0 or self.step == run.steps:
                    self._log(loss, tokens / (time.time() - start), bar)
                evaluated = (run.eval_every and self.step % run.eval_every == 0) or self.step == run.steps
                if evaluated:
                    last_eval = self.evaluate()
                self._advance(last_eval if evaluated else None)
                if (run.save_every and self.step % run.save_every == 0) or self.step == run.steps:
                    self.save()
        finally:
            bar.close()
            self.metrics.close()
        self.export(self.out / "model")
        distributed.teardown()
        return last_eval

    def _micro_batches(self) -> list[Batch]:
        run = self.config.run
        size = run.batch_size // (self.dist.world * run.accumulation)
        if size == 0:
            raise ValueError(f"run.batch_size={run.batch_size} is smaller than processes x accumulation")
        first = [(m * self.dist.world + self.dist.rank) * size for m in range(run.accumulation)]
        jitter = int(self.config.data.length_jitter * (self.model_config.segment_length or 0))
        n, cap = self.segments, self.max_facts
        if self.config.curriculum.draw_segments and n > 1:  # each sample draws its length from 1..n segments
            length: int | list[int] = [self.length(k) for k in range(1, n + 1)]
        else:
            length = self.length(n)
        return [self.stream.batch(self.step, range(a, a + size), length, jitter, cap) for a in first]

    def train_step(self) -> tuple[float, int]:
        """One optimizer step over the global batch; returns its mean loss and the tokens it read."""
        batches = self._micro_batches()
        counts = [int((b.labels[:, 1:] != IGNORE).sum()) for b in batches]
        total = int(distributed.all_sum(torch.tensor(float(sum(counts))), self.dist).item())
        loss_sum = torch.zeros((), device=self.device)
        for i, (batch, count) in enumerate(zip(batches, counts, strict=True)):
            batch = batch.to(self.device)
            sync = i == len(batches) - 1 or not hasattr(self.wrapped, "no_sync")
            with self.autocast, contextlib.nullcontext() if sync else self.wrapped.no_sync():
                loss = self.wrapped(batch.input_ids, batch.attention_mask, batch.labels)
                # Sum over this micro-batch's scored tokens, normalised by the global count; DDP/FSDP
                # average gradients over processes, hence the world factor.
                piece = loss.float() * count / max(total, 1)
                (piece * self.dist.world).backward()
            loss_sum += piece.detach()
        loss = distributed.all_sum(loss_sum, self.dist).item()
        if not math.isfinite(loss):
            previous = latest_checkpoint(self.out)
            raise TrainingDiverged(
                f"loss became {loss} at step {self.step + 1}; stopped before the optimizer step. "
                f"Last good checkpoint: {previous if previous else 'none'}"
            )
        if self.config.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = sum(int(b.attention_mask.sum()) for b in batches) * self.dist.world
        return loss, tokens

    def _log(self, loss: float, tokens_per_s: float, bar) -> None:
        lr = self.scheduler.get_last_lr()[0]
        record = {"step": self.step, "loss": loss, "lr": lr, "stage": self.stage, "segments": self.segments,
                  "tokens_per_s": round(tokens_per_s, 1), "time": time.time()}  # fmt: skip
        self.metrics.write(record)
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", seg=self.segments)

    # ------------------------------------------------------------------ validation and curriculum
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss and (babilong) answer accuracy under the BABILong metric, per task and length."""
        model = self.model.eval()
        result: dict = {"step": self.step}
        try:
            with distributed.gathered(self.wrapped, self.sharded):
                if isinstance(self.stream, TextStream):
                    items = [self.stream.item(0, i, validation=True) for i in range(16)]
                    batch = collate(items, 0).to(self.device)
                    with self.autocast:
                        result["val_loss"] = model(batch.input_ids, labels=batch.labels).loss.item()
                else:
                    result.update(self._evaluate_babilong(model))
        finally:
            model.train()
        self.metrics.write({"eval": result, "step": self.step})
        return result

    def _evaluate_babilong(self, model) -> dict:
        data = self.config.data
        lengths = sorted({self.segments, *data.validation_lengths})
        scores, losses = {}, []
        for task in self.stream.tasks:
            for segments in lengths:
                items = self.stream.validation_set(task, self.length(segments), data.validation_samples)
                prompts = [item["input_ids"][: item["answer_start"]] for item in items]
                with self.autocast:
                    outputs = generate_answers(model, self.tokenizer, prompts, max_new_tokens=8)
                    batch = collate(items[:64], self.tokenizer.pad_token_id).to(self.device)
                    losses.append(model(batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels)
                                  .loss.item())  # fmt: skip
                samples = [item["sample"] for item in items]
                scores[f"{task}/{segments}seg"] = accuracy(
                    [s.target for s in samples], outputs, [s.question for s in samples], task
                )
        current = [v for k, v in scores.items() if k.endswith(f"/{self.segments}seg")]
        return {
            "accuracy": scores,
            "val_loss": sum(losses) / len(losses),
            "stage_accuracy": sum(current) / len(current),
        }

    def _advance(self, result: dict | None) -> None:
        """Move to the next curriculum stage after `stage_steps` steps (checked every step) or, in accuracy
        mode, when a validation `result` reaches the threshold."""
        curriculum = self.config.curriculum
        if self.stage + 1 >= len(curriculum.segments):
            return
        in_stage = self.step - self.stage_start
        by_steps = curriculum.stage_steps > 0 and in_stage >= curriculum.stage_steps
        by_accuracy = (
            curriculum.advance == "accuracy"
            and result is not None
            and result.get("stage_accuracy", 0.0) >= curriculum.threshold
        )
        if by_steps or by_accuracy:
            self.stage, self.stage_start = self.stage + 1, self.step
            log.info("step %d: curriculum stage %d (%d segments, max_facts %d)", self.step, self.stage,
                     self.segments, self.max_facts)  # fmt: skip
            self.metrics.write(
                {"step": self.step, "stage": self.stage, "segments": self.segments, "max_facts": self.max_facts}
            )

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        """Every process takes part (FSDP gathers full states); only rank 0 writes."""
        weights = distributed.full_model_state(self.model, self.sharded)
        optimizer = distributed.full_optimizer_state(self.model, self.optimizer, self.sharded)
        if not self.dist.main:
            return
        state = {
            "step": self.step, "stage": self.stage, "stage_start": self.stage_start,
            "optimizer": optimizer, "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(), "config": dataclasses.asdict(self.config),
        }  # fmt: skip
        save_checkpoint(self.out, self.step, self.model, self.tokenizer, state, self.config.run.keep_last, weights)

    def export(self, path: Path) -> None:
        """The final model in `save_pretrained` form with its tokenizer (what `lm2 eval` reads)."""
        weights = distributed.full_model_state(self.model, self.sharded)
        if not self.dist.main:
            return
        tmp = path.with_name(path.name + ".tmp")
        self.model.save_pretrained(tmp, state_dict=weights)
        self.tokenizer.save_pretrained(tmp)
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)


class _Metrics:
    """metrics.jsonl always (rank 0), TensorBoard when asked."""

    def __init__(self, out: Path, main: bool, tensorboard: bool, keep_until: int) -> None:
        self.main, self.writer = main, None
        if not main:
            return
        out.mkdir(parents=True, exist_ok=True)
        path = out / "metrics.jsonl"
        if path.exists():  # a resumed run redoes the steps after its checkpoint: drop their old lines
            kept = [line for line in path.read_text().splitlines() if _step_of(line) <= keep_until]
            path.write_text("".join(line + "\n" for line in kept))
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(out / "tensorboard")

    def write(self, record: dict) -> None:
        if not self.main:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.writer is not None:
            flat = record.get("eval", record)
            for key, value in _flatten(flat).items():
                if isinstance(value, int | float) and key != "step":
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self.main:
            self.file.close()
            if self.writer is not None:
                self.writer.close()


def _step_of(line: str) -> float:
    """The step of a metrics line; a line cut short by a crash counts as after every checkpoint."""
    try:
        return json.loads(line).get("step", 0)
    except json.JSONDecodeError:
        return math.inf


def _flatten(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[prefix + key] = value
    return flat


def _progress(run, start: int, main: bool):
    if main and run.progress:
        from tqdm import tqdm

        return tqdm(total=run.steps, initial=start, desc="train", unit="step", dynamic_ncols=True)
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs) -> None: ...

    def close(self) -> None: ...
