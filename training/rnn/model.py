"""The word-level LSTM language model and its vocabulary, saved as safetensors + JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

UNKNOWN = "<unk>"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class LstmConfig:
    vocab_size: int
    embedding_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 1
    dropout: float = 0.1


class Vocabulary:
    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.index = {word: i for i, word in enumerate(words)}
        self.unknown_id = self.index[UNKNOWN]

    @classmethod
    def build(cls, corpus: list[str], max_size: int) -> Vocabulary:
        """The ``max_size - 1`` most common words and the unknown word. Where every word would fit
        (a small corpus), those seen once stand for the unknown instead: otherwise it never trains,
        and the held-out text's unknown words, at a near-zero probability, ruled its perplexity."""
        counts = Counter(corpus)
        common = [word for word, _ in counts.most_common(max_size - 1)]
        if len(counts) < max_size:
            seen_twice = [word for word in common if counts[word] > 1]
            common = seen_twice if seen_twice else common
        return cls([UNKNOWN, *common])

    def ids(self, words: list[str]) -> list[int]:
        return [self.index.get(word, self.unknown_id) for word in words]

    def __len__(self) -> int:
        return len(self.words)


class WordLstm(nn.Module):
    def __init__(self, config: LstmConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_dim, config.vocab_size)

    def forward(
        self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        output, state = self.lstm(self.dropout(self.embedding(ids)), state)
        return self.head(self.dropout(output)), state


def save(model: WordLstm, vocabulary: Vocabulary, directory: Path) -> None:
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / WEIGHTS_FILE))
    (directory / CONFIG_FILE).write_text(json.dumps(asdict(model.config), indent=2))
    (directory / VOCAB_FILE).write_text(json.dumps(vocabulary.words))


def load(directory: Path, device: torch.device) -> tuple[WordLstm, Vocabulary]:
    model = WordLstm(LstmConfig(**json.loads((directory / CONFIG_FILE).read_text())))
    model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
    vocabulary = Vocabulary(json.loads((directory / VOCAB_FILE).read_text()))
    return model.to(device).eval(), vocabulary
