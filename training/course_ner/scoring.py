"""Entity-level precision, recall and F1 of an extractor, and the sentences it got wrong."""

from __future__ import annotations

from typing import Protocol

from tqdm import tqdm

from training.course_ner.data import Example


class Predictor(Protocol):
    def predict(self, texts: list[str]) -> list[list[str]]: ...


class PredictedOnce:
    """An extractor whose predictions are kept by text, so that a set holding sentences of another
    (apart-new, of the 993) is scored without predicting them again."""

    def __init__(self, extractor: Predictor) -> None:
        self.extractor = extractor
        self.known: dict[str, list[str]] = {}

    def predict(self, texts: list[str]) -> list[list[str]]:
        new = [text for text in dict.fromkeys(texts) if text not in self.known]
        if new:
            self.known.update(zip(new, self.extractor.predict(new), strict=True))
        return [self.known[text] for text in texts]


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Exact-match entity precision, recall and F1 (multiset per sentence)."""
    true_positive = found = expected = 0
    for gold_names, predicted_names in zip(gold, predicted, strict=True):
        remaining = list(gold_names)
        for name in predicted_names:
            if name in remaining:
                remaining.remove(name)
                true_positive += 1
        found += len(predicted_names)
        expected += len(gold_names)
    precision = true_positive / found if found else 1.0
    recall = true_positive / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "entities": expected,
    }


SCORING_CHUNK = 256  # sentences predicted between two updates of the progress bar


def score_with_mistakes(extractor: Predictor, examples: list[Example]) -> tuple[dict[str, float], list[str]]:
    """Entity scores on the examples, and each sentence whose names were not exactly the expected."""
    texts, predicted = [e.text for e in examples], []
    # A bar on a terminal only (disable=None): scoring all the sets takes minutes on a CPU.
    with tqdm(total=len(texts), desc="scoring", unit="sentence", disable=None, leave=False) as bar:
        for start in range(0, len(texts), SCORING_CHUNK):
            chunk = texts[start : start + SCORING_CHUNK]
            predicted += extractor.predict(chunk)
            bar.update(len(chunk))
    gold = [e.names() for e in examples]
    mistakes = [
        f"{e.text!r}\n    expected {g}\n    found    {p}"
        for e, g, p in zip(examples, gold, predicted, strict=True)
        if sorted(g) != sorted(p)
    ]
    return entity_scores(gold, predicted), mistakes


def score(extractor: Predictor, examples: list[Example]) -> dict[str, float]:
    return score_with_mistakes(extractor, examples)[0]
