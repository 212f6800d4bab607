"""Importing an LLM base into the store, and batched generation with per-row seeds."""

from __future__ import annotations

import json
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from shared.config import LLMBase
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training import llm_base
from worker.predictors.llm import load
from worker.runtime import WorkerRuntime


@pytest.fixture(scope="module")
def tiny_llm_store(tiny_gpt2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    store = ModelStore(tmp_path_factory.mktemp("llm-store"))
    llm_base.import_base(store, tiny_gpt2_dir)
    return store


def test_import_base_from_a_local_gpt2(tiny_llm_store: ModelStore) -> None:
    version = tiny_llm_store.served_version(ModelName.LLM)
    assert version is not None
    assert version.metadata["kind"] == "base"
    assert version.metadata["architecture"] == "GPT2LMHeadModel"
    assert version.metadata["metrics"]["held_out_corpus_perplexity"] > 1
    assert (version.path / "model.safetensors").is_file()


def test_a_changed_base_is_imported_and_served_once(
    tiny_gpt2_dir: Path, tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hub ids cannot load offline: each stands for a tiny local model of its architecture
    hub = {LLMBase.GPT2_HUB.value: tiny_gpt2_dir, LLMBase.SMOLLM2_HUB.value: tiny_llama_dir}
    load_local = llm_base.load_base
    monkeypatch.setattr(llm_base, "load_base", lambda base: load_local(hub.get(str(base), base)))
    store = ModelStore(tmp_path)
    first = llm_base.ensure_imported(store, LLMBase.GPT2_HUB.value)
    assert llm_base.ensure_imported(store, LLMBase.GPT2_HUB.value).version == first.version

    switched = llm_base.ensure_imported(store, LLMBase.SMOLLM2_HUB.value)
    assert switched.metadata["architecture"] == "LlamaForCausalLM"
    assert store.served_version(ModelName.LLM).version == switched.version
    assert llm_base.ensure_imported(store, LLMBase.SMOLLM2_HUB.value).version == switched.version

    back = llm_base.ensure_imported(store, LLMBase.GPT2_HUB.value)
    assert back.metadata["architecture"] == "GPT2LMHeadModel"
    versions = [v.version for v in store.versions(ModelName.LLM)]
    assert versions == [first.version, switched.version, back.version]

    by_hand = llm_base.import_base(store, tiny_llama_dir)  # `--base DIR`: kept, whatever LLM_BASE says
    assert llm_base.ensure_imported(store, LLMBase.GPT2_HUB.value).version == by_hand.version


def test_unknown_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(llm_base.UnknownBaseError):
        llm_base.import_base(ModelStore(tmp_path), "someone/arbitrary-model")


def test_seeded_rows_do_not_depend_on_batch_mates(tiny_llm_store: ModelStore) -> None:
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))
    request = {"start_word": "Once", "length": 8, "seed": 11, "temperature": 0.8}
    alone = predictor.predict_batch([request])[0]
    mates = [
        {"start_word": "The queen said", "length": 3, "seed": 2},
        request,
        {"start_word": "I", "length": 12},
    ]
    assert predictor.predict_batch(mates)[1] == alone
    assert alone["generated_text"].startswith("Once")
    assert alone["generated_tokens"] <= 8


def test_a_length_past_the_models_context_is_refused_before_any_compute(tiny_llm_store: ModelStore) -> None:
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))  # 128 positions
    with pytest.raises(ValueError, match="context of 128 tokens: ask for a length of at most 127"):
        predictor.predict_batch([{"start_word": "The", "length": 200}])
    assert predictor.predict_batch([{"start_word": "The", "length": 127}])[0]["generated_tokens"] <= 127


def test_a_row_no_longer_wanted_stops_and_the_others_are_unchanged(tiny_llm_store: ModelStore) -> None:
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))
    rows = [{"start_word": "Once", "length": 20, "top_k": 1}, {"start_word": "The", "length": 20, "top_k": 1}]
    asked: list[int] = []

    def wanted(row: int) -> bool:
        asked.append(row)
        return row == 1 or asked.count(0) <= 3  # row 0's caller stops waiting after 3 tokens

    out = predictor.predict_batch(rows, wanted=wanted)
    assert out[0]["generated_tokens"] <= 3
    assert out[1] == predictor.predict_batch(rows[1:])[0]
    nobody = predictor.predict_batch(rows, wanted=lambda row: False)
    assert [o["generated_tokens"] for o in nobody] == [0, 0]


def test_greedy_output_is_exact_and_streamed_pieces_add_up(tiny_llm_store: ModelStore) -> None:
    version = tiny_llm_store.served_version(ModelName.LLM)
    predictor = load(version, torch.device("cpu"))
    pieces: list[tuple[int, str]] = []
    out = predictor.predict_batch(
        [{"start_word": "The", "length": 6, "top_k": 1}], on_token=lambda r, p: pieces.append((r, p))
    )
    again = load(version, torch.device("cpu")).predict_batch([{"start_word": "The", "length": 6, "top_k": 1}])
    assert out == again
    assert out[0]["generated_text"] == "The" + "".join(piece for _, piece in pieces)


@pytest.mark.parametrize("architecture", ["tiny_gpt2_dir", "tiny_llama_dir"])
def test_generation_passes_the_cache_by_a_name_transformers_keeps(
    architecture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`past_key_values` is deprecated in the transformers installed here (5.25) and goes in 5.40,
    which the requirements admit: passing it warns now and would break generation then."""
    store = ModelStore(tmp_path)
    llm_base.import_base(store, request.getfixturevalue(architecture))
    predictor = load(store.served_version(ModelName.LLM), torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        out = predictor.predict_batch([{"start_word": "The", "length": 5, "top_k": 1}])
    assert out[0]["generated_tokens"] == 5


@pytest.mark.slow
def test_packaged_smollm2_gguf_converts_to_a_fast_safetensors_version(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    version = llm_base.import_base(store, "smollm2-135m-instruct-gguf")
    assert version.metadata["architecture"] == "LlamaForCausalLM"
    assert version.metadata["metrics"]["held_out_corpus_perplexity"] < 200
    # stored as plain safetensors, read directly, not the GGUF de-quantized again at each load (20 s)
    assert (version.path / "model.safetensors").is_file()
    assert not list(version.path.glob("*.gguf"))
    assert "quantization_config" not in json.loads((version.path / "config.json").read_text())
    predictor = load(version, torch.device("cpu"))
    greedy = {"start_word": "The capital of France is", "length": 5, "top_k": 1}
    first, second = predictor.predict_batch([greedy, greedy])
    assert first == second
    assert "Paris" in first["generated_text"]


def test_a_row_that_has_its_tokens_is_answered_before_the_batch_ends(tiny_llm_store: ModelStore) -> None:
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))
    rows = [{"start_word": "Once", "length": 2, "top_k": 1}, {"start_word": "The", "length": 20, "top_k": 1}]
    asked: list[int] = []
    done: list[tuple[int, dict, int]] = []  # row, output, row 1's tokens asked for by then
    out = predictor.predict_batch(
        rows,
        wanted=lambda row: asked.append(row) or True,
        on_row_done=lambda row, output: done.append((row, output, asked.count(1))),
    )
    assert [(row, output) for row, output, _ in done] == [(0, out[0]), (1, out[1])]
    assert done[0][2] <= 2  # row 0 was answered while row 1 had 18 tokens to go
    assert out[0]["generated_tokens"] == 2


def test_a_character_cut_by_length_is_left_out_of_the_text(tiny_gpt2_dir: Path) -> None:
    """The text ended in U+FFFD, which the token stream had held back."""
    from transformers import AutoTokenizer

    from worker.predictors.llm import IncrementalText

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    ids = tokenizer("ok \U0001f389", add_special_tokens=False).input_ids  # the emoji takes 4 tokens
    text = IncrementalText(tokenizer)
    streamed = "".join(text.add(token) for token in ids[:-1])
    assert text.text().endswith("\ufffd")
    assert text.complete_text() == streamed == "ok "


def test_only_the_last_logits_are_made_and_the_outputs_are_the_same(tiny_llm_store: ModelStore) -> None:
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))
    assert predictor.last_logits_only == {"logits_to_keep": 1}
    rows = [
        {"start_word": "Once upon a time", "length": 6, "seed": 3},
        {"start_word": "I", "length": 6, "seed": 4},
    ]
    kept = predictor.predict_batch(rows)
    predictor.last_logits_only = {}
    assert predictor.predict_batch(rows) == kept


def test_a_request_that_outgrows_the_context_fails_before_it_joins_a_batch(
    runtime_with_tiny_llm: WorkerRuntime,
) -> None:
    """In a batch, it failed the batch, and each of its batch-mates then ran again alone."""
    from worker.predictors.llm import InputOutgrowsContextError

    runtime = runtime_with_tiny_llm
    with pytest.raises(InputOutgrowsContextError, match="context of 128 tokens"):
        runtime.predict(ModelName.LLM, {"start_word": "The", "length": 200})
    assert runtime.batcher.batch_sizes.total() == 0  # it never reached a batch
    out = runtime.predict(ModelName.LLM, {"start_word": "The", "length": 3, "top_k": 1})
    assert out["generated_tokens"] <= 3 and runtime.batcher.batch_sizes.total() == 1


def test_inputs_checked_in_task_threads_never_break_the_batch_being_encoded(
    tiny_llm_store: ModelStore,
) -> None:
    """The tokenizer's padding setting is the whole object's: a check without padding amid the
    batcher's padded encoding failed the whole LLM batch ("Unable to create tensor")."""
    predictor = load(tiny_llm_store.served_version(ModelName.LLM), torch.device("cpu"))
    prompts = [("the model " * (1 + row % 7)).strip() for row in range(32)]
    rows = [{"start_word": prompt, "length": 1} for prompt in prompts]
    stop = threading.Event()

    def check_until_stopped() -> int:
        checks = 0
        while not stop.is_set():
            predictor.check_fits(rows[:3])
            checks += 1
        return checks

    with ThreadPoolExecutor(3) as pool:
        checkers = [pool.submit(check_until_stopped) for _ in range(3)]
        try:
            shapes = {tuple(predictor.encode_batch(prompts).input_ids.shape) for _ in range(400)}
        finally:
            stop.set()
        assert all(checker.result() > 0 for checker in checkers)
    assert len(shapes) == 1
