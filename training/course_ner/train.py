"""Fine-tune the extractor: a plain PyTorch loop, entity-level scores, and the versions published
(the encoders', then, where wanted, the same with an echo member)."""

from __future__ import annotations

import itertools
import logging
import random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import PreTrainedModel

from shared.config import EchoMemberChoice, get_settings
from shared.data_files import PUBLISHED_COURSE_TITLES_SHA256, DataFile, sha256_of
from shared.job_store import JobStore
from shared.model_registry import ModelName
from shared.model_store import METADATA_FILE, ModelStore, ModelVersion
from shared.retention import remove_versions_past
from training.course_ner.challenge import (
    apart_catalog_sets,
    apart_examples,
    apart_examples_with_new_titles,
    challenge_examples,
    unseen_examples,
)
from training.course_ner.config import NerTrainingConfig
from training.course_ner.data import Example, Splits, build_splits
from training.course_ner.echo_member import (
    EchoEncoder,
    has_echo_member,
    save_echo_member,
    train_echo_member,
)
from training.course_ner.encoding import OUTSIDE, bio_labels, encode
from training.course_ner.extractor import Extractor, load_extractor
from training.course_ner.model import (
    ALLOWED_BASES,
    base_name,
    load_base,
    save_ensemble,
    save_one_word_titles,
    save_title_words,
)
from training.course_ner.optimization import optimization_step, optimizer_and_schedule
from training.course_ner.scoring import PredictedOnce, score
from training.course_ner.step_budget import TIMED_BATCHES, seconds_per_step, steps_within
from training.course_ner.title_rules import one_word_titles, title_vocabulary
from training.device import bf16_is_fast, get_device, uses_bf16
from training.finite_loss import require_finite, require_finite_weights
from training.length_grouping import length_grouped_batches
from training.llm_base import newest_import
from training.plots import save_loss_plot

logger = logging.getLogger(__name__)

NOT_COMPARABLE = (
    "these course titles are not the project's own (../shared/data's half of the catalog): the"
    " extractor trains on titles that its held-out, unseen and catalog sets call unseen, so its scores"
    " there are not comparable with the published ones (metadata: scores_comparable=false)"
)
MEMBER_SEED_STRIDE = 100  # member k trains with seed + 100 k; an epoch's batches with that + epoch


def mask_context(
    input_ids: torch.Tensor, labels: torch.Tensor, mask_id: int, share: float, generator: torch.Generator
) -> torch.Tensor:
    """Replace a share of the tokens outside every name with the mask token."""
    outside = labels == OUTSIDE
    chosen = torch.rand(input_ids.shape, generator=generator) < share
    return torch.where(outside & chosen, torch.full_like(input_ids, mask_id), input_ids)


def _batches(
    tokenizer: Any, examples: list[Example], batch_size: int, seed: int, context_mask_share: float
) -> DataLoader:
    """Shuffled batches of sentences of similar length, each padded to its own longest."""
    generator = torch.Generator().manual_seed(seed)
    mask_id = tokenizer.unk_token_id if tokenizer.mask_token_id is None else tokenizer.mask_token_id

    def collate(batch: list[Example]) -> dict[str, torch.Tensor]:
        encoded = encode(tokenizer, [e.text for e in batch])
        inputs = encoded["model_inputs"]
        labels = torch.tensor(
            [
                bio_labels(offsets, batch[i].spans)
                for offsets, i in zip(encoded["offsets"], encoded["window_of"], strict=True)
            ]
        )
        if context_mask_share:
            inputs["input_ids"] = mask_context(
                inputs["input_ids"], labels, mask_id, context_mask_share, generator
            )
        return {**inputs, "labels": labels}

    lengths = [len(example.text) for example in examples]
    return DataLoader(
        examples,  # type: ignore[arg-type]
        batch_sampler=length_grouped_batches(lengths, batch_size, seed),
        collate_fn=collate,
    )


def _train_member(
    base: str | Path | None,
    splits: Splits,
    config: NerTrainingConfig,
    member: int,
    device: torch.device,
    on_step: Callable[[float], None],
) -> tuple[PreTrainedModel, Any, list[float]]:
    """Fine-tune one member of the ensemble: its own head initialisation, batch order and masking."""
    seed = config.seed + MEMBER_SEED_STRIDE * member
    torch.manual_seed(seed)
    model, tokenizer = load_base(base)
    model.to(device)
    loaders = [
        _batches(tokenizer, splits.train, config.batch_size, seed + epoch, config.context_mask_share)
        for epoch in range(config.epochs)
    ]
    total_steps = member_steps(config, len(loaders[0]))
    model.get_input_embeddings().weight.requires_grad_(config.train_word_embeddings)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer, schedule = optimizer_and_schedule(
        trainable, config.learning_rate, total_steps, config.warmup_share
    )
    losses: list[float] = []
    model.train()
    for batch in itertools.islice(itertools.chain.from_iterable(loaders), total_steps):
        loss = optimization_step(model, batch, trainable, optimizer, schedule, device, config.mixed_precision)
        losses.append(require_finite(loss, len(losses) + 1, config.learning_rate))
        on_step(losses[-1])
    return model, tokenizer, losses


def member_steps(config: NerTrainingConfig, batches_per_epoch: int) -> int:
    """The steps each member trains: its epochs' batches, or config.max_steps if fewer."""
    every = config.epochs * batches_per_epoch
    return every if config.max_steps is None else min(every, config.max_steps)


def _with_steps_that_fit(
    base: str | Path | None, splits: Splits, config: NerTrainingConfig, device: torch.device
) -> NerTrainingConfig:
    """The config with max_steps as many as fit in config.step_seconds here, by a few timed steps
    of the base model on training batches (a few seconds on 2 CPU cores)."""
    assert config.step_seconds is not None
    model, tokenizer = load_base(base)
    model.to(device)
    loader = _batches(tokenizer, splits.train, config.batch_size, config.seed, config.context_mask_share)
    step = seconds_per_step(
        model, itertools.islice(loader, TIMED_BATCHES + 1), device, config.mixed_precision
    )
    wanted = member_steps(config, len(loader))
    steps = steps_within(config.step_seconds, step, wanted, config.min_steps)
    logger.info(
        "a training step takes %.2f s here: %d of %d steps for about %d s (at most %d s wanted)",
        step,
        steps,
        wanted,
        steps * step,
        config.step_seconds,
    )
    return replace(config, max_steps=steps)


def _scores(extractor: Extractor, splits: Splits) -> dict[str, dict[str, float]]:
    sets = {
        "held_out": splits.held_out,
        "hand_written": challenge_examples(),
        "unseen_sentences": unseen_examples(),
        "written_apart": apart_examples(),
        "written_apart_new_titles": apart_examples_with_new_titles(),
    }
    for name, examples in apart_catalog_sets():  # catalog-dev, catalog-test
        sets["written_apart_" + name.replace("-", "_")] = examples
    predictor = PredictedOnce(extractor)
    return {name: score(predictor, examples) for name, examples in sets.items()}


def _metadata(
    base: str | Path | None, config: NerTrainingConfig, splits: Splits, steps: int
) -> dict[str, Any]:
    titles_sha256 = sha256_of(DataFile.COURSE_TITLES)
    comparable = titles_sha256 == PUBLISHED_COURSE_TITLES_SHA256
    if not comparable:
        logger.warning(NOT_COMPARABLE)
    return {
        "base": base_name(base),
        "kind": "finetuned",
        "data_sha256": titles_sha256,
        # False: trained on other titles than the project's (the whole downloaded catalog), so the
        # sets that call their titles unseen are not unseen to it
        "scores_comparable": comparable,
        "negatives_data_sha256": sha256_of(DataFile.SQUAD_DEV),  # the Wikipedia sentences
        "training": {
            **asdict(config),
            "bf16_autocast": uses_bf16(get_device(), config.mixed_precision),
            "train_examples": len(splits.train),
            "steps": steps,
        },
        "held_out": {
            "examples": len(splits.held_out),
            "titles": len(splits.held_out_titles),
            "templates": len(splits.held_out_templates),
        },
    }


def _splits_and_batches(config: NerTrainingConfig) -> tuple[Splits, int]:
    """The config's sentences, and how many batches an epoch cuts them into: the same for every
    member, whatever its seed."""
    splits = build_splits(
        config.seed,
        config.train_size,
        config.held_out_size,
        config.written_refills,
        config.informal_share,
        config.catalog_share,
    )
    return splits, len(length_grouped_batches([len(e.text) for e in splits.train], config.batch_size, 0))


def train(
    store: ModelStore,
    *,
    base: str | Path | None = None,
    config: NerTrainingConfig | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    echo_base: Path | None = None,
) -> ModelVersion:
    """Train the encoder members and publish them as a version. With ``config.echo_member``, then
    train the echo member on the same sentences and publish a second version with it: the first is
    served meanwhile."""
    config = config or NerTrainingConfig()
    random.seed(config.seed)
    splits, batches_per_epoch = _splits_and_batches(config)
    device = get_device()
    if config.step_seconds is not None:
        config = _with_steps_that_fit(base, splits, config, device)
    encoder_steps = member_steps(config, batches_per_epoch) * config.ensemble_size
    echo_steps = config.echo_epochs * batches_per_epoch if config.echo_member else 0
    with _progress_bar(encoder_steps + echo_steps, progress) as on_step:
        trained = [
            _train_member(base, splits, config, member, device, on_step)
            for member in range(config.ensemble_size)
        ]
        models, tokenizer = [model for model, _, _ in trained], trained[0][1]
        require_finite_weights(*models)
        title_words = title_vocabulary(splits.train_titles)
        lone_titles = one_word_titles(splits.train_titles)
        encoders = Extractor(models, tokenizer, title_words, lone_titles)
        scores = _scores(encoders, splits)
        alone = [_scores(replace(encoders, members=[m]), splits) for m in models] if len(models) > 1 else []
        logger.info("entity scores: %s; each member alone: %s", scores, alone)
        metadata = _metadata(base, replace(config, echo_member=False), splits, encoder_steps)
        metadata["metrics"] = {
            **scores.pop("held_out"),
            **scores,
            "members_alone": alone,
            "final_train_loss": [round(losses[-1], 4) for _, _, losses in trained],
        }
        with store.new_version(ModelName.COURSE_EXTRACTOR, metadata) as writable:
            save_ensemble(writable.path, models, tokenizer)
            save_title_words(writable.path, title_words)
            save_one_word_titles(writable.path, lone_titles)
            save_loss_plot(
                [losses for _, _, losses in trained],
                writable.path / "loss_curve.png",
                title="course-name extractor: training loss (one line per member)",
            )
        version = store.published(writable)
        if config.echo_member:
            logger.info("published %s; now the echo member", version.version)
            version = _publish_with_echo_member(store, version, encoders, splits, config, on_step, echo_base)
    remove_old_versions(store)
    return version


def remove_old_versions(store: ModelStore) -> list[str]:
    """The versions past KEEP_EXTRACTOR_VERSIONS, once a run has published (one or two versions
    each, up to 700 MB with the echo member), but none a live inference worker holds. Returns the
    removed ids."""
    settings = get_settings()
    job_store = JobStore.from_url(settings.redis_url, settings.result_ttl, outage_seconds=0)
    try:
        keep = settings.keep_extractor_versions
        return remove_versions_past(store, job_store, ModelName.COURSE_EXTRACTOR, keep)
    except OSError:  # the new version is published and served
        logger.warning("could not remove old extractor versions", exc_info=True)
        return []
    finally:
        job_store.close()


@contextmanager
def _progress_bar(
    total_steps: int, progress: Callable[[dict[str, Any]], None] | None
) -> Iterator[Callable[[float], None]]:
    """A tqdm bar over the training steps, and the callback that advances it (and reports progress)."""
    steps = 0
    with tqdm(total=total_steps, desc="course-ner") as bar:

        def on_step(loss: float) -> None:
            nonlocal steps
            steps += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if progress:
                progress({"step": steps, "total_steps": total_steps, "loss": loss})

        yield on_step


def add_echo_member(
    store: ModelStore,
    version: ModelVersion,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    echo_base: Path | None = None,
) -> ModelVersion:
    """A new version: the encoder members of ``version`` and an echo member trained on the same
    sentences (rebuilt from the version's training settings)."""
    known = {field.name for field in fields(NerTrainingConfig)}
    settings = {k: v for k, v in version.metadata.get("training", {}).items() if k in known}
    settings.setdefault("informal_share", 0.0)  # versions from before shortened titles trained none
    config = replace(NerTrainingConfig(**settings), echo_member=True, preview=False)
    splits, batches_per_epoch = _splits_and_batches(config)
    encoders = load_extractor(version).to(get_device())
    with _progress_bar(config.echo_epochs * batches_per_epoch, progress) as on_step:
        published = _publish_with_echo_member(store, version, encoders, splits, config, on_step, echo_base)
    remove_old_versions(store)
    return published


def _publish_with_echo_member(
    store: ModelStore,
    encoders_version: ModelVersion,
    encoders: Extractor,
    splits: Splits,
    config: NerTrainingConfig,
    on_step: Callable[[float], None],
    echo_base: Path | None,
) -> ModelVersion:
    """Train the echo member and publish the encoders' version again with it."""
    model, tokenizer, losses = train_echo_member(
        echo_base or newest_import(store).path, splits.train, config, get_device(), on_step
    )
    require_finite_weights(model)
    extractor = replace(encoders, echo=(model, EchoEncoder(tokenizer)), echo_weight=config.echo_weight)
    scores = _scores(extractor, splits)
    logger.info("entity scores with the echo member: %s", scores)
    previous = encoders_version.metadata
    metadata = {key: value for key, value in previous.items() if key not in {"version", "created_at"}}
    echo_settings = {key: value for key, value in asdict(config).items() if key.startswith("echo_")}
    metadata["training"] = {
        **previous["training"],
        **echo_settings,
        "steps": previous["training"]["steps"] + len(losses),
        "echo_member_of": encoders_version.version,
    }
    without = {k: v for k, v in previous["metrics"].items() if k not in {"members_alone", "final_train_loss"}}
    metadata["metrics"] = {
        **scores.pop("held_out"),
        **scores,
        "members_alone": previous["metrics"].get("members_alone", []),
        "final_train_loss": [*previous["metrics"].get("final_train_loss", []), round(losses[-1], 4)],
        "without_echo_member": without,
    }
    with store.new_version(ModelName.COURSE_EXTRACTOR, metadata) as writable:
        for path in encoders_version.path.iterdir():
            if path.is_file() and path.name != METADATA_FILE:
                shutil.copy2(path, writable.path / path.name)
        save_echo_member(writable.path, model, tokenizer)
        save_loss_plot(
            losses,
            writable.path / "echo_member_loss_curve.png",
            title="course-name extractor: the echo member's training loss",
        )
    return store.published(writable)


def is_preview(version: ModelVersion) -> bool:
    return bool(version.metadata.get("training", {}).get("preview"))


def served_of_extractor_base(store: ModelStore) -> ModelVersion | None:
    """The served version, if it counts as trained from EXTRACTOR_BASE: changing the setting
    trains a version of the new base at the next ``make run`` or ``make models``."""
    served = store.served_version(ModelName.COURSE_EXTRACTOR)
    wanted = get_settings().extractor_base.value
    # versions published before 2026-11-30 evening recorded the packaged MiniLM's directory:
    # as a base no allowlist names, it counts as made by hand and stays served
    if served is not None and not served.made_from(wanted, ALLOWED_BASES):
        found = served.metadata.get("base")
        logger.info(
            "the served extractor %s is of %s, EXTRACTOR_BASE is %s: training one",
            served.version,
            found,
            wanted,
        )
        return None
    return served


def ensure_preview(store: ModelStore, *, within_seconds: bool = False) -> ModelVersion:
    """The served version, or in an empty store (or one of another EXTRACTOR_BASE) a preview (one
    model, fewer epochs) trained in a quarter of the full training's time: the workers serve it
    until the full version replaces it. ``within_seconds``: fewer steps where that quarter would
    take longer than PREVIEW_STEP_SECONDS (`NerTrainingConfig.preview_config`)."""
    served = served_of_extractor_base(store)
    if served is not None:
        return served
    config = NerTrainingConfig.preview_config(within_seconds=within_seconds)
    logger.info("training a preview version first: %d model, %d epochs", config.ensemble_size, config.epochs)
    return train(store, config=config)


def wants_echo_member(choice: EchoMemberChoice, device: torch.device) -> bool:
    """EXTRACTOR_ECHO_MEMBER: ``auto`` takes the member where training runs on a GPU, or on a CPU
    that runs bfloat16 fast (a timed step says so): there its 298 steps take 14 to 45 minutes on 2
    cores, after the encoders are served. On a CPU without it, a step takes 40 s: hours."""
    if choice is not EchoMemberChoice.AUTO:
        return choice is EchoMemberChoice.TRUE
    return device.type == "cuda" or bf16_is_fast(device)


def ensure_trained(store: ModelStore) -> ModelVersion:
    """The served version, trained first if there is none, only a preview (training stopped
    before the full version was published) or one of another EXTRACTOR_BASE; where an echo
    member is wanted (EXTRACTOR_ECHO_MEMBER), given one if it has none (training stopped before
    that version was published)."""
    choice, device = get_settings().extractor_echo_member, get_device()
    echo = wants_echo_member(choice, device)
    served = served_of_extractor_base(store)
    if served is None or is_preview(served):
        _log_echo_choice(choice, echo, device)
        return train(store, config=NerTrainingConfig(echo_member=echo))
    if echo and not has_echo_member(served.path):
        _log_echo_choice(choice, echo, device)
        return add_echo_member(store, served)
    return served


def _log_echo_choice(choice: EchoMemberChoice, echo: bool, device: torch.device) -> None:
    if echo and device.type == "cpu":
        logger.info(
            "EXTRACTOR_ECHO_MEMBER=%s: the LLM trains as an echo member too, after the encoders are "
            "served (14 to 45 minutes on 2 CPU cores with bfloat16); false leaves it out",
            choice.value,
        )
    elif not echo and choice is EchoMemberChoice.AUTO:
        logger.info(
            "EXTRACTOR_ECHO_MEMBER=auto: no echo member on this CPU, where it would train in float32 "
            "(hours); true trains it anyway"
        )
