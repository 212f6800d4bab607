"""SQuAD v1.1 through ``datasets``: the Hub's train/validation splits, or local official JSON.

Offline, the default is the official dev set in DATA_DIR (no train file ships there). It is
split by article, with a seed: about 40 articles to train on and 8 held out, so no evaluation
context is ever trained on. The article titles of each part go into the version's metadata.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset

from shared.data_files import DataFile, read_bytes, sha256_of
from training.cli import UsageError, loading_from

HUB_DATASET = "rajpurkar/squad"


@dataclass(frozen=True)
class SquadSplits:
    train: Dataset
    eval: Dataset
    train_articles: list[str]
    eval_articles: list[str]
    source: str
    data_sha256: str | None


def flatten(squad_json: dict[str, Any]) -> list[dict[str, Any]]:
    """Official nested JSON to one row per question (with the article title)."""
    rows = []
    for article in squad_json["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                rows.append(
                    {
                        "id": qa["id"],
                        "title": article["title"],
                        "context": paragraph["context"],
                        "question": qa["question"],
                        "answers": {
                            "text": [a["text"] for a in qa["answers"]],
                            "answer_start": [a["answer_start"] for a in qa["answers"]],
                        },
                    }
                )
    return rows


def split_by_article(
    rows: list[dict[str, Any]], eval_articles: int, seed: int
) -> tuple[list[str], list[str]]:
    titles = sorted({row["title"] for row in rows})
    if not 0 < eval_articles < len(titles):
        raise UsageError(
            f"eval_articles must be between 1 and {len(titles) - 1} (the data has {len(titles)})"
        )
    random.Random(seed).shuffle(titles)
    return sorted(titles[eval_articles:]), sorted(titles[:eval_articles])


def load_squad(
    source: Literal["local", "hub"] = "local",
    *,
    files: list[Path] | None = None,
    eval_articles: int = 8,
    seed: int = 0,
) -> SquadSplits:
    if source == "hub":
        from datasets import load_dataset

        with loading_from(HUB_DATASET):  # offline: --source local reads DATA_DIR/squad
            hub = load_dataset(HUB_DATASET)
        train, evaluation = hub["train"], hub["validation"]
        return SquadSplits(
            train,
            evaluation,
            sorted(set(train["title"])),
            sorted(set(evaluation["title"])),
            HUB_DATASET,
            None,
        )
    if files:
        rows = [row for path in files for row in flatten(json.loads(Path(path).read_text()))]
        origin, digest = ", ".join(str(f) for f in files), None
    else:
        rows = flatten(json.loads(read_bytes(DataFile.SQUAD_DEV)))
        origin, digest = "DATA_DIR/squad/dev-v1.1.json.gz (split by article)", sha256_of(DataFile.SQUAD_DEV)
    train_titles, eval_titles = split_by_article(rows, eval_articles, seed)
    held_out = set(eval_titles)
    train_rows = [row for row in rows if row["title"] not in held_out]
    eval_rows = [row for row in rows if row["title"] in held_out]
    return SquadSplits(
        Dataset.from_list(train_rows), Dataset.from_list(eval_rows), train_titles, eval_titles, origin, digest
    )
