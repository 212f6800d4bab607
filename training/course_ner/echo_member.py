"""An optional member of the extractor's ensemble: the platform's causal LM as a token classifier.

SmolLM2-135M (the LLM base in the store) knows far more English than the 22M-parameter MiniLM
encoder, but its attention is causal: a token sees nothing to its right, and where a name ends
is decided by what follows it ("Corporate Finance and Investments" against "Calculus and
Physics"). So the sentence is given twice, with a line break between, and only the second copy's
tokens are labelled: each of them has seen the whole sentence in the first copy ("echo"
embeddings). Its tokenizer is cased, so it needs no casing hint.

Its word scores are averaged with the encoder members' (`combine_word_scores`): the tokenizers
differ, so the two meet on whole words. A version with such a member keeps it in
``echo-member/`` (``save_pretrained`` layout, tokenizer beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from training.course_ner.config import NerTrainingConfig
from training.course_ner.data import Example
from training.course_ner.decoding import words_of_windows
from training.course_ner.encoding import MAX_TOKENS, STRIDE, bio_labels
from training.course_ner.model import with_fresh_head
from training.course_ner.optimization import optimization_step, optimizer_and_schedule
from training.device import bf16_autocast, uses_bf16
from training.finite_loss import require_finite
from training.length_grouping import length_grouped_batches

logger = logging.getLogger(__name__)
ECHO_MEMBER_DIR = "echo-member"
WordScores = tuple[list[tuple[int, int]], list[list[float]]]


class EchoEncoder:
    """Token ids of a text given twice; the labels and offsets of its second copy.

    A text longer than MAX_TOKENS tokens is cut into windows of MAX_TOKENS that overlap by STRIDE,
    as the encoder members' inputs are, and each window is given twice: a row of its own.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.separator = tokenizer("\n", add_special_tokens=False).input_ids
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def _windows(self, text: str) -> list[tuple[list[int], list[tuple[int, int]]]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = []
        # Byte-level BPE tokens carry the space before a word; the decoder's words start after it.
        for start, end in encoded.offset_mapping:
            while start < end and text[start].isspace():
                start += 1
            offsets.append((start, end))
        ids, step = encoded.input_ids, MAX_TOKENS - STRIDE
        starts = range(0, max(len(ids) - STRIDE, 1), step)
        return [(ids[start : start + MAX_TOKENS], offsets[start : start + MAX_TOKENS]) for start in starts]

    def encode(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None = None
    ) -> tuple[dict[str, torch.Tensor], list[list[tuple[int, int]]], list[int], list[int]]:
        """Model inputs (with ``labels`` when spans are given), and for each row: its window's
        offsets, where its second copy starts, and which text it is from."""
        rows, offsets, starts, window_of, labels = [], [], [], [], []
        for index, text in enumerate(texts):
            for ids, window_offsets in self._windows(text):
                first_copy = ids + self.separator
                rows.append(first_copy + ids)
                offsets.append(window_offsets)
                starts.append(len(first_copy))
                window_of.append(index)
                if spans is not None:
                    labels.append([-100] * len(first_copy) + bio_labels(window_offsets, spans[index]))
        width = max(map(len, rows))
        inputs = {
            "input_ids": torch.full((len(rows), width), self.pad_id),
            "attention_mask": torch.zeros((len(rows), width), dtype=torch.long),
        }
        if spans is not None:
            inputs["labels"] = torch.full((len(rows), width), -100)
        for row, ids in enumerate(rows):
            inputs["input_ids"][row, : len(ids)] = torch.tensor(ids)
            inputs["attention_mask"][row, : len(ids)] = 1
            if spans is not None:
                inputs["labels"][row, : len(ids)] = torch.tensor(labels[row])
        return inputs, offsets, starts, window_of


Echo = tuple[PreTrainedModel, EchoEncoder]  # the member and the encoder of its inputs


def load_for_training(base_directory: Path) -> tuple[PreTrainedModel, Any]:
    # Float32 weights whatever dtype a base was saved in (transformers loads that dtype by default):
    # the optimizer updates float32 weights, and autocast runs the forward pass in bfloat16.
    return with_fresh_head(base_directory, dtype=torch.float32), AutoTokenizer.from_pretrained(base_directory)


def train_echo_member(
    base_directory: Path,
    train: list[Example],
    config: NerTrainingConfig,
    device: torch.device,
    on_step: Callable[[float], None],
) -> tuple[PreTrainedModel, Any, list[float]]:
    torch.manual_seed(config.seed)
    model, tokenizer = load_for_training(base_directory)
    model.to(device)
    encoder = EchoEncoder(tokenizer)
    lengths = [len(example.text) for example in train]
    epochs = [
        length_grouped_batches(lengths, config.batch_size, config.seed + epoch)
        for epoch in range(config.echo_epochs)
    ]
    total_steps = sum(map(len, epochs))
    if device.type == "cpu" and not uses_bf16(device, config.mixed_precision):
        logger.warning(
            "the echo member trains in float32 on this CPU (no fast bfloat16): its %d steps may take "
            "hours (40 s each on 2 AMD EPYC cores without AVX512, against 3 to 9 s in bfloat16)",
            total_steps,
        )
    parameters = list(model.parameters())
    optimizer, schedule = optimizer_and_schedule(
        parameters, config.echo_learning_rate, total_steps, config.warmup_share
    )
    losses: list[float] = []
    model.train()
    for batches in epochs:
        for batch in batches:
            examples = [train[i] for i in batch]
            inputs, *_ = encoder.encode([e.text for e in examples], [e.spans for e in examples])
            loss = optimization_step(
                model, inputs, parameters, optimizer, schedule, device, config.mixed_precision
            )
            losses.append(require_finite(loss, len(losses) + 1, config.echo_learning_rate))
            on_step(losses[-1])
    return model, tokenizer, losses


@torch.inference_mode()
def echo_word_scores(model: PreTrainedModel, encoder: EchoEncoder, texts: Sequence[str]) -> list[WordScores]:
    """Each text's words and their label log-probabilities by the member, under bfloat16 autocast
    where it is fast (`bf16_autocast`): on a 2-core AMD EPYC with AVX512-BF16, 8 texts at the size
    limit took 24.8 s against 41.0 s in float32 (`bench.extractor_latency`), and the evaluation
    sets scored the same within 0.0005 (2026-12-04)."""
    model.eval()
    device = next(model.parameters()).device
    inputs, offsets, starts, window_of = encoder.encode(texts)
    with bf16_autocast(device, enabled=True):
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
    log_probs = logits.float().log_softmax(-1)
    scores = [log_probs[row, start : start + len(offsets[row])].tolist() for row, start in enumerate(starts)]
    return words_of_windows(texts, offsets, window_of, scores)


def combine_word_scores(encoder_words: WordScores, echo_words: WordScores, echo_weight: float) -> WordScores:
    """The encoder's words, each scored by the weighted mean of both members' log-probabilities
    where the member has the same word (the encoder's score alone where the tokenizers split a
    word differently)."""
    words, scores = encoder_words
    echo_of = dict(zip(*echo_words, strict=True))
    combined = []
    for word, score in zip(words, scores, strict=True):
        other = echo_of.get(word)
        combined.append(
            score
            if other is None
            else [(1 - echo_weight) * a + echo_weight * b for a, b in zip(score, other, strict=True)]
        )
    return words, combined


def save_echo_member(version_directory: Path, model: PreTrainedModel, tokenizer: Any) -> None:
    directory = version_directory / ECHO_MEMBER_DIR
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def echo_weight_of(metadata: dict[str, Any]) -> float:
    """The weight of the echo member's vote in a version (0 in a version without one)."""
    return float(metadata.get("training", {}).get("echo_weight", 0.0))


def has_echo_member(version_directory: Path) -> bool:
    return (version_directory / ECHO_MEMBER_DIR).is_dir()


def load_echo_member(version_directory: Path) -> Echo | None:
    """The version's echo member and its encoder, or None for a version without one."""
    if not has_echo_member(version_directory):
        return None
    directory = version_directory / ECHO_MEMBER_DIR
    model = AutoModelForTokenClassification.from_pretrained(directory, dtype=torch.float32)
    return model, EchoEncoder(AutoTokenizer.from_pretrained(directory))
