"""Batched text generation with the causal LM: one forward pass per step for the whole batch.

Prompts are left-padded so every row's next token sits in the last column; the key/value cache
holds the past. Each row samples with its own parameters and its own seeded generator, so a
seeded request gives the same text whatever else shares its batch, up to the rounding of a padded
batch's arithmetic: about 1e-7 of a logit in float32 on the CPU, far more in bfloat16 on a GPU,
where a sampled token can now and then flip. Rows stop at their own
length or at end-of-sequence; the loop stops when every row has.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from shared.client_errors import ClientFacingError
from shared.model_store import ModelVersion
from training.device import bf16_is_fast
from worker.sampling import SamplingParams, sample

TokenSink = Callable[[int, str], None]
# (row, its output): called as soon as a row has its answer, before the rest of the batch ends
RowSink = Callable[[int, dict[str, Any]], None]


def cache_argument(model: torch.nn.Module) -> str:
    """The name of the key/value cache in the model's forward pass and its output: ``cache`` in
    recent transformers (5.25 here, where ``past_key_values`` is deprecated, to go in 5.40),
    ``past_key_values`` in the older releases that the requirements still admit."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class InputOutgrowsContextError(ClientFacingError, ValueError):
    """A request whose prompt and length do not fit the served model's positions: the client's to
    change (the API answers 422), found only here, where the model's context is known."""


class IncrementalText:
    """Text pieces whose concatenation is exactly the decoded continuation (no split characters)."""

    def __init__(self, tokenizer: Any, lock: threading.Lock | None = None) -> None:
        self.tokenizer = tokenizer
        self.lock = lock or threading.Lock()
        self.tokens: list[int] = []
        self.emitted = ""

    def add(self, token: int) -> str:
        self.tokens.append(token)
        text = self.text()
        if text.endswith("\ufffd"):  # a multi-byte character is not complete yet
            return ""
        piece, self.emitted = text[len(self.emitted) :], text
        return piece

    def text(self) -> str:
        with self.lock:
            return str(self.tokenizer.decode(self.tokens, skip_special_tokens=True))

    def complete_text(self) -> str:
        """The text less a character that ``length`` cut mid-way (its bytes alone decode to
        U+FFFD, which the stream never sent)."""
        return self.text().rstrip("\ufffd")


def inference_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on a GPU that runs it natively (Ampere on), else float32: a GPU before Ampere
    emulates it slowly (T4, V100) or cannot multiply in it at all (P100: CUBLAS_STATUS_NOT_SUPPORTED
    on the first request). On a CPU float32, whose sampled tokens a padded batch moves least."""
    return torch.bfloat16 if device.type == "cuda" and bf16_is_fast(device) else torch.float32


class LLMPredictor:
    def __init__(self, version: ModelVersion, device: torch.device) -> None:
        self.version = version.version
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(version.path)
        # Task threads check inputs (check_fits) while the batcher's thread encodes and decodes: a
        # fast tokenizer's padding setting is the whole object's, and a call without padding amid
        # a padded one made a whole batch fail ("Unable to create tensor"), or raised "Already
        # borrowed". Every use of the tokenizer holds this lock.
        self.tokenizer_lock = threading.Lock()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = inference_dtype(device)
        self.model = AutoModelForCausalLM.from_pretrained(version.path, dtype=dtype).to(device).eval()
        self.cache_argument = cache_argument(self.model)
        # Only the last position's logits are read: the prompt's pass would otherwise make them for
        # every prompt token (32 rows of 300 tokens: 1.9 GB of float32 for SmolLM2's vocabulary).
        parameters = inspect.signature(self.model.forward).parameters
        self.last_logits_only = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
        config = self.model.config
        self.context = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None
        )

    def check_fits(self, inputs: list[dict[str, Any]]) -> None:
        """``_check_fits`` for inputs not yet batched: one that outgrows the context then fails its
        own job alone, and its batch-mates are not run again one at a time after the failure."""
        with self.tokenizer_lock:
            prompts = self.tokenizer([item["start_word"] for item in inputs]).input_ids
        self._check_fits(inputs, [len(ids) for ids in prompts])

    def encode_batch(self, prompts: list[str]) -> Any:
        """The prompts as one left-padded batch of tensors."""
        with self.tokenizer_lock:
            return self.tokenizer(prompts, return_tensors="pt", padding=True)

    def _check_fits(self, inputs: list[dict[str, Any]], prompt_tokens: list[int]) -> None:
        """Refuse, before any compute, a row whose prompt and new tokens outgrow the model's
        positions: past them GPT-2 fails with an index error (on a GPU, an assert that breaks the
        process)."""
        for item, used in zip(inputs, prompt_tokens, strict=True):
            if self.context and used + int(item["length"]) > self.context:
                raise InputOutgrowsContextError(
                    f"start_word ({used} tokens) plus length {item['length']} is more than this model's"
                    f" context of {self.context} tokens: ask for a length of at most {self.context - used}"
                )

    @torch.inference_mode()
    def predict_batch(
        self,
        inputs: list[dict[str, Any]],
        on_token: TokenSink | None = None,
        wanted: Callable[[int], bool] | None = None,
        on_row_done: RowSink | None = None,
    ) -> list[dict[str, Any]]:
        """``wanted(row)`` is asked before each of the row's tokens: False (its caller stopped
        waiting) ends the row there, and the batch once no row is left. ``on_row_done`` gets each
        row's output as soon as it has it: a short row need not wait for the longest."""
        encoded = self.encode_batch([item["start_word"] for item in inputs])
        self._check_fits(inputs, encoded.attention_mask.sum(dim=1).tolist())
        input_ids = encoded.input_ids.to(self.device)
        attention = encoded.attention_mask.to(self.device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        params = [SamplingParams.from_input(item) for item in inputs]
        generators = [p.generator() for p in params]
        remaining = [int(item["length"]) for item in inputs]
        texts = [IncrementalText(self.tokenizer, self.tokenizer_lock) for _ in inputs]
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id

        def output(row: int) -> dict[str, Any]:
            text = texts[row]
            return {
                "generated_text": inputs[row]["start_word"] + text.complete_text(),
                "generated_tokens": len(text.tokens),
            }

        def finish(row: int) -> None:
            remaining[row] = 0
            if on_row_done is not None:
                on_row_done(row, output(row))

        past = None
        while any(remaining):
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention,
                position_ids=positions,
                use_cache=True,
                **{self.cache_argument: past},
                **self.last_logits_only,
            )
            past = getattr(out, self.cache_argument)
            # rows sample on the CPU: one copy a step, not one a row
            logits = out.logits[:, -1, :].float().cpu()
            next_ids = []
            for row in range(len(inputs)):
                if remaining[row] and wanted is not None and not wanted(row):
                    remaining[row] = 0  # nobody reads its answer
                if not remaining[row]:
                    next_ids.append(pad)
                    continue
                token = sample(logits[row], params[row], generators[row])
                if token == eos:
                    finish(row)
                    next_ids.append(pad)
                    continue
                remaining[row] -= 1
                piece = texts[row].add(token)
                if piece and on_token is not None:
                    on_token(row, piece)
                if not remaining[row]:
                    finish(row)
                next_ids.append(token)
            input_ids = torch.tensor(next_ids, device=self.device).unsqueeze(1)
            attention = torch.cat([attention, attention.new_ones((len(inputs), 1))], dim=1)
            # a row that is done stays at its last position: advancing it while the longest row
            # goes on took it past the model's positions (GPT-2's 1,024), and failed its mates
            running = torch.tensor([bool(left) for left in remaining], device=self.device).unsqueeze(1)
            positions = positions[:, -1:] + running
        return [output(row) for row in range(len(inputs))]


def load(version: ModelVersion, device: torch.device) -> LLMPredictor:
    return LLMPredictor(version, device)
