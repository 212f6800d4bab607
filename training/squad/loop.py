"""The fine-tuning loop: hand-written PyTorch, no Trainer.

Fused AdamW, linear warm-up then cosine decay, gradient accumulation, clipping, bf16 autocast where
the hardware runs it natively (a recent GPU, a CPU with AVX512-BF16), optional torch.compile,
periodic evaluation (loss, then EM/F1 by greedy generation on held-out questions). The new version
is published into the store only when the run completes: a failure or a cancel leaves the served
version as it was.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer

from shared.data_files import DataUnavailableError
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from shared.schemas import FINETUNE_LEAST, warmup_past_the_run
from training.cli import UsageError, check_seed
from training.device import bf16_autocast, get_device, uses_bf16
from training.finite_loss import require_finite, require_finite_weights
from training.length_grouping import length_grouped_batches
from training.llm_base import held_out_perplexity, newest_import
from training.plots import save_loss_plot
from training.squad.data import load_squad
from training.squad.evaluation import generate_answers, squad_scores
from training.squad.features import IGNORE, Encoder, collate, encoded_with_targets, first_with_targets

logger = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]


# Chooses the held-out articles and the questions scored; the run's own seed chooses the rest.
EVAL_SPLIT_SEED = 0
WITHIN_STEP_EVERY_S = 2.0  # progress inside a step of several batches, at most this often


class TrainingCancelledError(Exception):
    """The run was asked to stop; nothing was published."""


@dataclass(frozen=True)
class FinetuneConfig:
    max_steps: int = 20
    batch_size: int = 4
    grad_accum_steps: int = 1
    learning_rate: float = 5e-5
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_questions: int = 16
    eval_every: int = 0
    eval_batch_size: int = 16
    max_seq_len: int = 384
    seed: int = 0
    compile: bool = False
    zero_shot_eval: bool = False
    dataset: Literal["squad"] = "squad"
    source: Literal["local", "hub"] = "local"
    eval_articles: int = 8
    mixed_precision: bool = True  # bf16 autocast where native; False: fp32 everywhere

    def __post_init__(self) -> None:
        at_least = {**FINETUNE_LEAST, "eval_batch_size": 1, "eval_articles": 1}
        for name, least in at_least.items():
            if getattr(self, name) < least:
                raise UsageError(f"{name} must be at least {least}, not {getattr(self, name)}")
        if not 0 < self.learning_rate < math.inf:
            raise UsageError(f"learning_rate must be above 0 and finite, not {self.learning_rate}")
        if not 0 <= self.weight_decay <= 1:
            raise UsageError(f"weight_decay must be between 0 and 1, not {self.weight_decay}")
        if not 0 < self.max_grad_norm < math.inf:
            raise UsageError(f"max_grad_norm must be above 0 and finite, not {self.max_grad_norm}")
        if self.dataset != "squad":
            raise UsageError(f"dataset must be 'squad', not {self.dataset!r}")
        if self.source not in ("local", "hub"):
            raise UsageError(f"source must be 'local' or 'hub', not {self.source!r}")
        if refusal := warmup_past_the_run(self.warmup_steps, self.max_steps):
            raise UsageError(refusal)
        check_seed(self.seed)


def learning_rate_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _epochs(
    features: list[dict[str, Any]], batch_size: int, seed: int, pad: Callable[..., dict[str, torch.Tensor]]
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of similar lengths, for ever: each pass over the data in an order of its own."""
    lengths = [len(feature["input_ids"]) for feature in features]
    epoch = 0
    while True:
        loader = DataLoader(
            features,  # type: ignore[arg-type]
            batch_sampler=length_grouped_batches(lengths, batch_size, seed + epoch),
            collate_fn=pad,
        )
        batches = 0
        for batch in loader:
            batches += 1
            yield batch
        if not batches:  # would spin for ever, past every cancel and time-limit check
            raise ValueError("the training data holds no batch")
        epoch += 1


def _set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def eval_loss(
    model: Any, loader: DataLoader, device: torch.device, before_each_batch: Callable[[], None] | None = None
) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        if before_each_batch:  # a cancel stops the evaluation before the next batch
            before_each_batch()
        tokens = answer_tokens(batch)
        batch = {k: v.to(device) for k, v in batch.items()}
        if tokens:  # a batch with none has a NaN loss
            total += float(model(**batch).loss) * tokens
        count += tokens
    model.train()
    return total / max(1, count)


def optimizer_step(
    forward: Any,
    model: Any,
    batches: Iterator[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    config: FinetuneConfig,
    device: torch.device,
    before_each_batch: Callable[[], None] | None = None,
    after_each_batch: Callable[[int, int], None] | None = None,
) -> tuple[float, int]:
    """One optimizer step over ``grad_accum_steps`` batches; returns its loss and real (non-pad) tokens.

    The loss is the mean over every answer token of the step, as one batch of them all would
    give: each batch's mean weighed by its share of the step's answer tokens, not by 1 /
    ``grad_accum_steps`` (batches grouped by length hold from a few answer tokens to hundreds).
    ``before_each_batch`` may raise to stop the step (a cancel, a time limit): one step of 64
    batches of 8,192 tokens takes half an hour on 2 CPU cores. ``after_each_batch`` is told how
    many of the step's batches are done and their real tokens (progress within a long step)."""
    step_batches = [next(batches) for _ in range(config.grad_accum_steps)]
    step_targets = max(1, sum(answer_tokens(batch) for batch in step_batches))
    step_loss, tokens = 0.0, 0
    for done, cpu_batch in enumerate(step_batches, start=1):
        if before_each_batch:
            before_each_batch()
        batch = {k: v.to(device, non_blocking=True) for k, v in cpu_batch.items()}
        tokens += int(batch["attention_mask"].sum())
        with bf16_autocast(device, config.mixed_precision):
            loss = forward(**batch).loss * (answer_tokens(cpu_batch) / step_targets)
        loss.backward()
        step_loss += loss.item()
        if after_each_batch:
            after_each_batch(done, tokens)
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return step_loss, tokens


def answer_tokens(batch: dict[str, torch.Tensor]) -> int:
    """The tokens a batch's loss is taken over: its labels, shifted as the model shifts them."""
    return int((batch["labels"][:, 1:] != IGNORE).sum())


def new_optimizer(model: Any, config: FinetuneConfig) -> tuple[Any, Any]:
    """Fused AdamW (one kernel for all parameters, on CPUs too) with linear warm-up then cosine decay."""
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=True,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, config.warmup_steps, config.max_steps)
    )
    return optimizer, schedule


def _perplexity_beside_the_base(
    model: torch.nn.Module, tokenizer: Any, base: ModelVersion, before_each_window: Callable[[], None]
) -> dict[str, Any]:
    """The fine-tuned model's perplexity on the corpus's held-out words, as its base's import
    measured it, and the base's own beside it: how much general text the run made it forget.
    Nothing where the corpus cannot be read (it is not the run's data)."""
    try:
        measured = held_out_perplexity(model, tokenizer, before_each_window=before_each_window)
    except (DataUnavailableError, UsageError, OSError) as error:  # OSError: a CORPUS_FILE gone, unreadable
        logger.warning("no held-out corpus perplexity for this version: %s", error)
        return {}
    base_metrics = base.metadata.get("metrics", {})
    if base_metrics.get("perplexity_corpus_sha256") != measured["perplexity_corpus_sha256"]:
        # another corpus, or one an import made before corpora were recorded did not say
        logger.warning("the base's held-out perplexity is not known on this corpus: not shown beside")
        return measured
    return {**measured, "base_held_out_corpus_perplexity": base_metrics.get("held_out_corpus_perplexity")}


def finetune(
    store: ModelStore,
    config: FinetuneConfig,
    *,
    base: ModelVersion | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    commit: Callable[[], bool] | None = None,
    device: torch.device | None = None,
    job_id: str | None = None,
) -> ModelVersion:
    """Fine-tune the LLM base on SQuAD and publish the result as a new served version.

    ``should_stop`` is asked once the model is loaded, once the questions are tokenized, before each
    training batch, each batch of evaluation and each window of the corpus perplexity: True stops the
    run with nothing published. ``commit`` is asked once, just before publishing: False (a cancel came
    first) stops the run there; once it has said True, no cancel can reach the run any more.
    ``job_id``, the platform's job that runs it, is recorded in the version's metadata.
    """
    _set_seed(config.seed)
    device = device or get_device()
    # the same held-out articles and questions whatever the seed, so that versions' scores compare;
    # read first: data missing or --eval-articles out of range is said before any model loads
    splits = load_squad(config.source, eval_articles=config.eval_articles, seed=EVAL_SPLIT_SEED)
    base = base or newest_import(store)  # from the base, not from each other's fine-tunes
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    tokenizer.padding_side = "right"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    def stop_if_asked(where: str) -> None:
        if should_stop and should_stop():
            raise TrainingCancelledError(f"cancelled {where}")

    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32).to(device)
    stop_if_asked("once the model was loaded, before training")
    context = getattr(model.config, "max_position_embeddings", None) or getattr(
        model.config, "n_positions", 1024
    )
    encoder = Encoder(tokenizer, min(config.max_seq_len, context))

    train_features = first_with_targets(
        encoder,
        splits.train.shuffle(seed=config.seed),
        count=config.max_steps * config.batch_size * config.grad_accum_steps,
    )
    # training questions whose context was cut to a window around the answer (the evaluation's
    # encodings count on in the same encoder)
    truncated_train_contexts = encoder.truncated
    if not train_features:
        raise UsageError(
            f"no training question's answer fits whole within max_seq_len {encoder.max_length}:"
            " raise max_seq_len"
        )
    eval_examples = list(
        splits.eval.shuffle(seed=EVAL_SPLIT_SEED).select(range(min(len(splits.eval), config.eval_questions)))
    )
    eval_features = encoded_with_targets(encoder, eval_examples)
    stop_if_asked("once the questions were tokenized, before training")
    pad = collate(tokenizer.pad_token_id)
    # its own generator: each pass over a loader draws a seed, from torch's global generator by
    # default, which would move every dropout mask after it: evaluating would change the run
    eval_loader = DataLoader(
        eval_features,  # type: ignore[arg-type]
        batch_size=config.eval_batch_size,
        collate_fn=pad,
        generator=torch.Generator(),
    )

    def stop_if_cancelled() -> None:
        stop_if_asked("during the evaluation")

    def scores() -> dict[str, float]:
        answers = generate_answers(
            model,
            tokenizer,
            encoder,
            eval_examples,
            config.eval_batch_size,
            before_each_batch=stop_if_cancelled,
        )
        model.train()
        return squad_scores(answers, eval_examples)

    zero_shot = scores() if config.zero_shot_eval and eval_examples else None
    optimizer, schedule = new_optimizer(model, config)
    forward = torch.compile(model) if config.compile else model
    batches = _epochs(train_features, config.batch_size, config.seed, pad)
    losses: list[float] = []
    eval_history: list[tuple[int, float]] = []
    real_tokens, started, evaluating = 0, time.perf_counter(), 0.0  # seconds of evaluation among steps
    reported_at = -math.inf
    model.train()
    for step in range(1, config.max_steps + 1):

        def stop_if_cancelled_in_step(done: int = step - 1) -> None:
            stop_if_asked(f"at step {done} of {config.max_steps}")

        def within_step(
            done: int, step_tokens: int,
            step: int = step, before: int = real_tokens, evaluated: float = evaluating,
        ) -> None:  # fmt: skip
            """Progress inside a step of several batches (``grad_accum_steps``): a step of 64
            batches of 8,192 tokens takes half an hour on 2 CPU cores, and nothing moved meanwhile."""
            nonlocal reported_at
            now = time.perf_counter()
            if not progress or done == config.grad_accum_steps or now - reported_at < WITHIN_STEP_EVERY_S:
                return  # the step's own report follows its last batch
            reported_at, elapsed = now, now - started - evaluated
            steps_done = step - 1 + done / config.grad_accum_steps
            progress({
                "phase": "train",
                "step": step - 1,
                "total_steps": config.max_steps,
                "batch_in_step": done,
                "batches_per_step": config.grad_accum_steps,
                "loss": round(losses[-1], 4) if losses else None,
                "tokens_per_s": round((before + step_tokens) / elapsed, 1),
                "eta_s": round(elapsed / steps_done * (config.max_steps - steps_done), 1),
            })  # fmt: skip

        step_loss, tokens = optimizer_step(
            forward, model, batches, optimizer, schedule, config, device,
            before_each_batch=stop_if_cancelled_in_step, after_each_batch=within_step,
        )  # fmt: skip
        require_finite(step_loss, step, config.learning_rate)
        real_tokens += tokens
        losses.append(step_loss)
        elapsed = time.perf_counter() - started - evaluating
        if progress:
            progress({
                "phase": "train",
                "step": step,
                "total_steps": config.max_steps,
                "loss": round(step_loss, 4),
                "tokens_per_s": round(real_tokens / elapsed, 1),
                "eta_s": round(elapsed / step * (config.max_steps - step), 1),
            })  # fmt: skip
        if config.eval_every and step % config.eval_every == 0 and step < config.max_steps and eval_features:
            eval_started = time.perf_counter()
            eval_history.append((step, eval_loss(model, eval_loader, device, stop_if_cancelled)))
            evaluating += time.perf_counter() - eval_started
    train_seconds = time.perf_counter() - started - evaluating

    # The evaluation and publish phases keep the last step's loss and the run's speed in view.
    last_train = {
        "step": config.max_steps,
        "total_steps": config.max_steps,
        "loss": round(losses[-1], 4),
        "tokens_per_s": round(real_tokens / train_seconds, 1),
        "eta_s": None,
    }
    if progress:
        progress({"phase": "eval", **last_train})
    metrics: dict[str, Any] = {
        "final_train_loss": last_train["loss"],
        "train_tokens_per_s": last_train["tokens_per_s"],
    }
    if eval_features:
        eval_history.append((config.max_steps, eval_loss(model, eval_loader, device, stop_if_cancelled)))
        metrics["eval_loss"] = round(eval_history[-1][1], 4)
        metrics.update(scores())
    if zero_shot:
        metrics["zero_shot_exact_match"], metrics["zero_shot_f1"] = zero_shot["exact_match"], zero_shot["f1"]
    metrics.update(
        _perplexity_beside_the_base(
            model, tokenizer, base, lambda: stop_if_asked("while measuring the held-out corpus perplexity")
        )
    )
    require_finite_weights(model)
    stop_if_asked("just before publishing")
    if commit and not commit():
        raise TrainingCancelledError("cancelled just before publishing")
    if progress:
        progress({"phase": "publish", **last_train})

    metadata = {
        "base": base.metadata.get("base"),
        "base_version": base.version,
        "kind": "finetuned",
        "dataset": splits.source,
        "data_sha256": splits.data_sha256,
        "split": {"train_articles": splits.train_articles, "eval_articles": splits.eval_articles},
        "training": {
            **asdict(config),
            "device": str(device),
            "bf16_autocast": uses_bf16(device, config.mixed_precision),
            "truncated_contexts": truncated_train_contexts,
            "max_length": encoder.max_length,  # max_seq_len, cut to the model's context
        },
        "metrics": metrics,
        **({"job_id": job_id} if job_id else {}),
    }
    with store.new_version(ModelName.LLM, metadata) as version:
        model.save_pretrained(version.path, safe_serialization=True)
        tokenizer.save_pretrained(version.path)
        save_loss_plot(
            losses, version.path / "loss_curve.png", title="SQuAD fine-tuning", eval_losses=eval_history
        )
    return store.published(version)
