"""SQuAD v1.1 exact match and F1 with the official answer normalisation, by greedy generation."""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm

from training.squad.features import Encoder

ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles, collapse white space (the official script's rules)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1(prediction: str, truth: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(predicted) & collections.Counter(gold)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_over_truths(metric: Callable[[str, str], float], prediction: str, truths: list[str]) -> float:
    return max(metric(prediction, truth) for truth in truths)


@torch.inference_mode()
def generate_answers(
    model: Any,
    tokenizer: Any,
    encoder: Encoder,
    examples: list[dict[str, Any]],
    batch_size: int,
    max_new_tokens: int = 24,
    before_each_batch: Callable[[], None] = lambda: None,
) -> list[str]:
    """Greedy answers to the questions; ``before_each_batch`` may raise to stop (a cancelled job)."""
    device = next(model.parameters()).device
    model.eval()
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    answers = []
    starts = range(0, len(examples), batch_size)
    # A bar on a terminal only (disable=None): a worker's log gets the job's progress instead.
    for start in tqdm(starts, desc="answering held-out questions", unit="batch", disable=None, leave=False):
        before_each_batch()
        prompts = [
            encoder.prompt_only(example, max_new_tokens) for example in examples[start : start + batch_size]
        ]
        batch = tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            truncation=True,  # a long question must not push the answer past the model's window
            max_length=encoder.max_length - max_new_tokens,
            add_special_tokens=False,
        ).to(device)
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        for row in output[:, batch["input_ids"].shape[1] :]:
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip().split("\n")[0].strip())
    tokenizer.padding_side = tokenizer.truncation_side = "right"
    return answers


def squad_scores(predictions: list[str], examples: list[dict[str, Any]]) -> dict[str, float]:
    if not examples:
        return {"exact_match": 0.0, "f1": 0.0, "questions": 0}
    em = sum(
        best_over_truths(exact_match, p, e["answers"]["text"])
        for p, e in zip(predictions, examples, strict=True)
    )
    f = sum(best_over_truths(f1, p, e["answers"]["text"]) for p, e in zip(predictions, examples, strict=True))
    return {
        "exact_match": round(100 * em / len(examples), 2),
        "f1": round(100 * f / len(examples), 2),
        "questions": len(examples),
    }
