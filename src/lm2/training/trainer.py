"""The training loop: a thin loop over data, model, optimizer, checkpoint and metrics.

`Trainer(config).fit()` trains, validates, checkpoints and resumes: started again with the same
configuration in the same `run.out`, it continues from the last complete checkpoint and ends with the
weights an uninterrupted run would have (batches are a function of (seed, step), see `data.py`); with a
configuration that would compute something else it refuses to start (`resume.py`). `request_stop()` (the
command line calls it on SIGINT/SIGTERM) ends the run at the next step boundary with a checkpoint.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lm2.data import default_tokenizer, load_haystack, load_tokenizer
from lm2.device import resolve_device
from lm2.evaluation.answers import accuracy, generate_answers
from lm2.files import atomic_folder
from lm2.integrations.pretrained import backbone_keys, load_weights, no_progress_bars
from lm2.model import LM2ForCausalLM
from lm2.model.config import LM2Config, memory_fields

from . import distributed
from .checkpoint import latest_checkpoint, load_trainer_state, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .data import IGNORE, BabilongStream, Batch, TextStream, collate, input_length
from .metrics import Metrics
from .optim import build_optimizer, build_scheduler
from .resume import check_resume, plain, write_config
from .shards import ShardStream

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingStopped(Exception):
    """`request_stop()` ended the run at `step`, after writing the checkpoint `checkpoint`."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"stopped at step {step}; checkpoint {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


class Trainer:
    """`on_step(step, loss)`, when given, is called after every optimizer step (progress reporting)."""

    def __init__(self, config: TrainConfig, on_step: Callable[[int, float], None] | None = None) -> None:
        config.validate()
        self.config, self.on_step, self.stop_requested = config, on_step, False
        run = config.run
        self.out = Path(run.out)
        # A run.out with checkpoints continues the run that wrote them, and nothing else (resume.py).
        self.resume_from = latest_checkpoint(self.out)
        self.resume_state = None if self.resume_from is None else load_trainer_state(self.resume_from)
        if self.resume_state is not None:
            check_resume(self.resume_from, self.resume_state.get("config"), config)
        self.device = resolve_device(run.device, "run.device")
        self.dist = distributed.setup(self.device.type)
        if self.device.type == "cuda" and self.dist.active:
            self.device = torch.device("cuda", self.dist.local_rank)
        if run.threads:
            torch.set_num_threads(run.threads)
        bf16 = run.precision == "bf16" or (run.precision == "auto" and self.device.type == "cuda")
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)
        if self.dist.main:
            write_config(self.out, config)
        self.tokenizer = (
            load_tokenizer(config.data.tokenizer)
            if config.data.tokenizer
            else default_tokenizer(config.data.vocab_size)
        )
        self.model_config = config.model_config(len(self.tokenizer))
        self.stream = self._build_stream()
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
        self.metrics = Metrics(self.out, self.dist.main, run.tensorboard, keep_until=self.step)

    # ------------------------------------------------------------------ setup
    def _build_stream(self) -> BabilongStream | TextStream | ShardStream:
        data, seed = self.config.data, self.config.run.seed
        if data.task == "lm" and data.shards:
            return ShardStream(data.shards, self.tokenizer, data.sequence_length, seed, self.config.run.batch_size,
                               data.documents, data.validation_windows)  # fmt: skip
        if data.task == "lm":
            return TextStream(data.text_dir, self.tokenizer, data.sequence_length, seed, self.out / "cache")
        return BabilongStream(
            data.babi_tasks, data.babi, load_haystack(data.haystack, seed, split="train"), self.tokenizer, seed,
            data.validation_fraction, data.generated_questions, data.drop_shortcut,
        )  # fmt: skip

    def _build_model(self) -> LM2ForCausalLM:
        model = LM2ForCausalLM(self.model_config)  # the same draws from the seed whether or not weights follow
        start = self.resume_from or self.config.run.init_from  # a checkpoint resumes; init_from starts a run
        moved = []
        backbone_only = None  # from a vanilla model's backbone: which of this model's keys the file lacks (its memory)
        if self.resume_from is None and start is not None:  # a resumed run was checked against its own config
            saved = LM2Config.from_pretrained(start)
            here = self.model_config
            if saved.arch != here.arch:
                backbone_only = backbone_transfer(start, saved.arch, here)
            # memory_output is not a preset field (its default never moved), but the addressed writes change it too
            fields = (*memory_fields(saved.arch), *(("memory_output",) if saved.arch == "lm2" else ()))
            moved = [f"{k}={getattr(saved, k)!r} there, {getattr(here, k)!r} here" for k in fields
                     if getattr(saved, k) != getattr(here, k)]  # fmt: skip
            if moved:  # allowed (a new variant from pretrained weights), but never by accident
                log.warning("%s was trained with other memory fields than this run's: %s", start, "; ".join(moved))
        if start is not None:
            # A new run from weights may price writes otherwise than they were trained (its own count from 0), and a
            # new memory variant may have memory parameters the weights lack, or lack some they have.
            new_run, other = self.resume_from is None, bool(moved)
            model = load_weights(start, torch.float32, config=self.model_config, new_parameter=backbone_only,
                                 new_run=new_run, other_memory=other)  # fmt: skip
            log.info("weights from %s", start)
        model.to(self.device).train()
        if self.config.run.compile:
            for layer in model.model.layers:
                layer.compile()
        return model

    def _restore(self) -> None:
        state, self.resume_state = self.resume_state, None
        distributed.load_optimizer_state(self.model, self.optimizer, state["optimizer"], self.sharded)
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        if state.get("data") != getattr(self.stream, "fingerprint", None):  # same config, other shard contents
            raise ValueError(f"{self.resume_from} was trained on other data (data.shards changed); use another run.out")
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
                saved = (run.save_every and self.step % run.save_every == 0) or self.step == run.steps
                if saved:
                    self.save()
                if self._stop_now():
                    if not saved:
                        self.save()
                    raise TrainingStopped(self.step, latest_checkpoint(self.out))
        finally:
            bar.close()
            self.metrics.close()
        self.export(self.out / "model")
        if self.dist.active:
            # DDP's reducer holds the process group: release it before the group goes, or its destructor can
            # wait on a peer that has already exited (a rare hang at the end of 2-process gloo runs). The
            # trainer's own `model` stays usable.
            self.wrapped = None
            gc.collect()  # DDP's hooks make reference cycles: free it now, not at some later collection
            distributed.teardown()
        return last_eval

    def request_stop(self) -> None:
        """End the run at the next step boundary, with a checkpoint (`fit` raises `TrainingStopped`)."""
        self.stop_requested = True

    def _stop_now(self) -> bool:
        """Whether any process was asked to stop; all processes agree, so that they save the same step."""
        if not self.dist.active:
            return self.stop_requested
        flag = torch.tensor(float(self.stop_requested), device=self.device)
        return bool(distributed.all_sum(flag, self.dist).item() > 0)

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
        # The global batch's scored targets and real tokens (the write cost's count), over every process.
        counts = [[int((b.labels[:, 1:] != IGNORE).sum()), int(b.attention_mask.sum())] for b in batches]
        counted = torch.tensor(counts, dtype=torch.float64, device=self.device).sum(0)  # nccl reduces on the GPU
        totals = distributed.all_sum(counted, self.dist)
        totals = (max(int(totals[0]), 1), max(int(totals[1]), 1))
        loss_sum = torch.zeros((), device=self.device)
        for i, batch in enumerate(batches):
            batch = batch.to(self.device)
            sync = i == len(batches) - 1 or not hasattr(self.wrapped, "no_sync")
            with self.autocast, contextlib.nullcontext() if sync else self.wrapped.no_sync():
                # This micro-batch's share of the global batch's loss (`LossOnly`); DDP/FSDP average
                # gradients over processes, hence the world factor.
                piece = self.wrapped(batch.input_ids, batch.attention_mask, batch.labels, batch.starts, totals).float()
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
                if isinstance(self.stream, ShardStream):  # held-out windows, documents as in training
                    batch = self.stream.validation_batch().to(self.device)
                    with self.autocast:
                        loss = distributed.LossOnly(model)(batch.input_ids, None, batch.labels, batch.starts)
                    result["val_loss"] = loss.item()
                elif isinstance(self.stream, TextStream):
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
        limit = curriculum.steps_of(self.stage)
        by_steps = limit > 0 and in_stage >= limit
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
            "rng": rng_state(), "config": plain(self.config), "data": getattr(self.stream, "fingerprint", None),
        }  # fmt: skip
        save_checkpoint(self.out, self.step, self.model, self.tokenizer, state, self.config.run.keep_last, weights)

    def export(self, path: Path) -> None:
        """The final model in `save_pretrained` form with its tokenizer (what `lm2 eval` reads)."""
        weights = distributed.full_model_state(self.model, self.sharded)
        if not self.dist.main:
            return
        with atomic_folder(path) as tmp, no_progress_bars():
            self.model.save_pretrained(tmp, state_dict=weights)
            self.tokenizer.save_pretrained(tmp)


def _progress(run, start: int, main: bool):
    if main and run.progress:
        from tqdm import tqdm

        return tqdm(total=run.steps, initial=start, desc="train", unit="step", dynamic_ncols=True)
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs) -> None: ...

    def close(self) -> None: ...


def backbone_transfer(start: str, arch: str, config: LM2Config) -> Callable[[str], bool]:
    """`run.init_from` holds a model of another architecture (`arch`, the saved model's) than the run's
    (`config.arch`): allowed from a `vanilla` model only, whose backbone (embeddings, blocks, head) every architecture
    shares, so that memory models compared with each other can start from one trained backbone and differ only in
    their memory. Returns the test `load_weights` takes for the parameters the file may lack (this architecture's
    memory, which keeps the model's own initialisation); raises `ValueError` for any other architecture."""
    if arch != "vanilla":
        raise ValueError(
            f"run.init_from={start!r} holds an arch={arch!r} model and this run trains arch={config.arch!r}: weights "
            "cross architectures only from a 'vanilla' model (the backbone every architecture shares); start from "
            f"an arch={config.arch!r} model or a vanilla one"
        )
    backbone = backbone_keys(config)
    log.warning(
        "%s is a vanilla model: it gives this %s model its backbone (%d tensors); the memory starts from this "
        "model's initialisation", start, config.arch, len(backbone),
    )  # fmt: skip
    return lambda key: key not in backbone
