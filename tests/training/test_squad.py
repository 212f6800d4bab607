"""SQuAD fine-tuning on a tiny GPT-2: data split, features, scores, the loop, cancel, reload."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training import llm_base
from training.cli import UsageError
from training.device import bf16_is_fast
from training.finite_loss import NonFiniteLossError
from training.squad import FinetuneConfig, TrainingCancelled, finetune
from training.squad import loop as squad_loop
from training.squad.data import flatten, load_squad, split_by_article
from training.squad.evaluation import exact_match, f1, normalize_answer, squad_scores
from training.squad.features import IGNORE, Encoder, collate, encoded_with_targets, first_with_targets
from worker.predictors.llm import load

EXAMPLE = {
    "context": "The Normans were in Normandy. " * 40
    + "Their leader was Rollo, a Viking. "
    + "Filler text. " * 40,
    "question": "Who led the Normans?",
    "answers": {"text": ["Rollo"], "answer_start": [len("The Normans were in Normandy. " * 40) + 17]},
}


@pytest.fixture(scope="module")
def tiny_store(tiny_gpt2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    store = ModelStore(tmp_path_factory.mktemp("squad-store"))
    llm_base.import_base(store, tiny_gpt2_dir)
    return store


def test_split_is_by_article_disjoint_and_deterministic() -> None:
    splits = load_squad(eval_articles=8, seed=0)
    assert len(splits.eval_articles) == 8
    assert len(splits.train_articles) == 40
    assert not set(splits.train_articles) & set(splits.eval_articles)
    assert set(splits.eval["title"]) == set(splits.eval_articles)
    assert not set(splits.train["context"]) & set(splits.eval["context"])
    assert load_squad(eval_articles=8, seed=0).eval_articles == splits.eval_articles
    assert load_squad(eval_articles=8, seed=1).eval_articles != splits.eval_articles


def test_flatten_and_split_of_official_json() -> None:
    qa = {"question": "q", "answers": [{"text": "c", "answer_start": 0}]}
    squad = {
        "data": [{"title": t, "paragraphs": [{"context": "c", "qas": [{"id": t, **qa}]}]} for t in "ABCDE"]
    }
    rows = flatten(squad)
    assert [r["title"] for r in rows] == list("ABCDE")
    train, held_out = split_by_article(rows, 2, seed=0)
    assert len(held_out) == 2
    assert sorted(train + held_out) == list("ABCDE")
    for every_or_none in (5, 0):  # no article left to train on, or none to evaluate
        with pytest.raises(UsageError, match="between 1 and 4"):
            split_by_article(rows, every_or_none, seed=0)


def test_loss_mask_covers_exactly_the_answer_and_truncation_keeps_it(tiny_gpt2_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    encoder = Encoder(tokenizer, max_length=96)
    features = encoder.encode(EXAMPLE)
    assert len(features["input_ids"]) <= 96
    assert encoder.truncated == 1
    answer_ids = [
        t for t, label in zip(features["input_ids"], features["labels"], strict=True) if label != IGNORE
    ]
    assert tokenizer.decode(answer_ids[:-1]) == " Rollo"
    assert answer_ids[-1] == tokenizer.eos_token_id


def test_a_window_cut_from_a_long_context_starts_at_a_word_as_evaluation_prompts_do(
    tiny_gpt2_dir: Path,
) -> None:
    """A byte-level BPE token's offsets take in the space before it: windows started with it, and
    training prompts read "Context:  word" where evaluation prompts have one space."""
    encoder = Encoder(AutoTokenizer.from_pretrained(tiny_gpt2_dir), max_length=96)
    answer_start = EXAMPLE["answers"]["answer_start"][0]
    windows = [encoder.fit_context(EXAMPLE["context"], answer_start, "Rollo", b) for b in range(16, 60)]
    assert all("Rollo" in window and not window[0].isspace() for window in windows)


def test_a_question_whose_prompt_fills_the_window_is_left_out(tiny_gpt2_dir: Path) -> None:
    """Its answer was cut off entirely: a batch of such questions alone had a NaN loss, and the run
    failed blaming the learning rate (max_seq_len 64, batch_size 1: step 1,102 of SQuAD, seed 0)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    encoder = Encoder(tokenizer, max_length=64)
    long_question = {**EXAMPLE, "question": " ".join(["Which of the duchies of Normandy"] * 12) + "?"}
    assert all(label == IGNORE for label in encoder.encode(long_question)["labels"])
    kept = encoded_with_targets(encoder, [long_question, EXAMPLE])
    assert kept == [encoder.encode(EXAMPLE)]
    # training takes the next question in its place
    other = {**EXAMPLE, "question": "Who was Rollo?"}
    assert first_with_targets(encoder, [long_question, EXAMPLE, other], count=1) == [encoder.encode(EXAMPLE)]


def test_an_answer_the_window_cuts_short_is_left_out(tiny_gpt2_dir: Path) -> None:
    """Trained on, an answer without its end-of-sequence teaches the model not to stop (max_seq_len
    64: 6 of 3,000 SQuAD training questions, found by a review)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    encoder = Encoder(tokenizer, max_length=64)
    long_answer = "Rollo, " + "a Viking chief of the North who led his men up the Seine, " * 4
    start = len("The Normans were in Normandy. " * 40) + 17
    context = EXAMPLE["context"][:start] + long_answer + EXAMPLE["context"][start:]
    cut_short = {**EXAMPLE, "context": context, "answers": {"text": [long_answer], "answer_start": [start]}}
    labels = encoder.encode(cut_short)["labels"]
    assert any(label != IGNORE for label in labels) and labels[-1] != tokenizer.eos_token_id
    assert encoded_with_targets(encoder, [cut_short, EXAMPLE]) == [encoder.encode(EXAMPLE)]


def test_a_run_whose_every_question_leaves_no_answer_token_fails_at_once(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It spun for ever in the data loader, past every cancel and time-limit check (a job with
    max_seq_len 64, batch_size 1 and seed 5048 drew such a question first)."""
    from training.squad import loop

    long_question = {**EXAMPLE, "title": "Normans", "question": " ".join(["Which duchy"] * 60) + "?"}
    splits = loop.load_squad()
    only_long = Dataset.from_list([long_question] * 4)
    monkeypatch.setattr(loop, "load_squad", lambda *a, **k: replace(splits, train=only_long))
    config = FinetuneConfig(max_steps=2, batch_size=1, eval_questions=0, max_seq_len=128)
    base = tiny_store.versions(ModelName.LLM)[0]
    with pytest.raises(UsageError, match="raise max_seq_len"):
        finetune(tiny_store, config, base=base, should_stop=lambda: False, device=torch.device("cpu"))


def test_a_cancel_stops_the_eval_loss_before_its_next_batch(tiny_gpt2_dir: Path) -> None:
    from training.squad.loop import eval_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    features = [Encoder(tokenizer, max_length=96).encode(EXAMPLE)] * 3
    loader = torch.utils.data.DataLoader(features, batch_size=1, collate_fn=collate(tokenizer.eos_token_id))
    asked: list[int] = []

    def cancel_at_the_second() -> None:
        asked.append(1)
        if len(asked) == 2:
            raise TrainingCancelled("cancelled during the evaluation")

    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    with pytest.raises(TrainingCancelled):
        eval_loss(model, loader, torch.device("cpu"), cancel_at_the_second)
    assert len(asked) == 2


def test_the_prompt_scored_by_em_and_f1_is_cut_without_looking_at_the_answer(tiny_gpt2_dir: Path) -> None:
    encoder = Encoder(AutoTokenizer.from_pretrained(tiny_gpt2_dir), max_length=96)
    prompt = encoder.prompt_only(EXAMPLE, room_for_answer=24)
    elsewhere = {
        **EXAMPLE,
        "answers": {"text": ["Filler"], "answer_start": [EXAMPLE["context"].rindex("Filler")]},
    }
    assert encoder.prompt_only(elsewhere, room_for_answer=24) == prompt
    assert prompt.startswith("Context: The Normans were in Normandy.")
    assert "Rollo" not in prompt  # the answer lies past the window: the model cannot be told where
    assert len(encoder.tokenizer(prompt)["input_ids"]) <= 96 - 24


def test_collate_pads_to_the_longest_in_the_batch() -> None:
    batch = collate(pad_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_official_normalisation_exact_match_and_f1() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the Eiffel tower", "Eiffel Tower.") == 1.0
    assert f1("Eiffel", "the Eiffel Tower") == pytest.approx(2 / 3)
    assert f1("Paris", "London") == 0.0
    scores = squad_scores(
        ["Rollo", "nobody"], [{"answers": {"text": ["Rollo"]}}, {"answers": {"text": ["x", "y"]}}]
    )
    assert scores == {"exact_match": 50.0, "f1": 50.0, "questions": 2}


def test_loss_goes_down_checkpoint_reloads_with_the_same_outputs(tiny_store: ModelStore) -> None:
    base = tiny_store.served_version(ModelName.LLM)
    progress: list[dict] = []
    config = FinetuneConfig(
        max_steps=20, batch_size=4, learning_rate=3e-3, eval_questions=4, eval_every=10, max_seq_len=128
    )
    version = finetune(tiny_store, config, base=base, progress=progress.append, device=torch.device("cpu"))
    train_steps = [p for p in progress if p["phase"] == "train"]
    assert [p["step"] for p in train_steps] == list(range(1, 21))
    assert set(train_steps[0]) == {"phase", "step", "total_steps", "loss", "tokens_per_s", "eta_s"}
    assert sum(p["loss"] for p in train_steps[-5:]) < sum(p["loss"] for p in train_steps[:5])
    metadata = version.metadata
    assert metadata["kind"] == "finetuned"
    assert metadata["base_version"] == base.version
    assert set(metadata["split"]["eval_articles"]).isdisjoint(metadata["split"]["train_articles"])
    assert {"eval_loss", "exact_match", "f1", "train_tokens_per_s"} <= set(metadata["metrics"])
    # the generators' measure, as the base's import took it, beside the base's own
    base_perplexity = base.metadata["metrics"]["held_out_corpus_perplexity"]
    assert metadata["metrics"]["base_held_out_corpus_perplexity"] == base_perplexity
    assert 1 < metadata["metrics"]["held_out_corpus_perplexity"] != base_perplexity
    assert metadata["training"]["bf16_autocast"] == bf16_is_fast(torch.device("cpu"))
    assert metadata["training"]["max_length"] == 128  # max_seq_len, within the model's context
    assert (version.path / "loss_curve.png").is_file()
    assert tiny_store.served_version_id(ModelName.LLM) == version.version

    request = [{"start_word": "Context:", "length": 8, "top_k": 1}]
    assert load(version, torch.device("cpu")).predict_batch(request) == load(
        version, torch.device("cpu")
    ).predict_batch(request)
    # the training questions' contexts cut to a window, not the evaluation's encodings too
    cpu = torch.device("cpu")
    unevaluated = finetune(tiny_store, replace(config, eval_questions=0), base=base, device=cpu)
    truncated = unevaluated.metadata["training"]["truncated_contexts"]
    assert metadata["training"]["truncated_contexts"] == truncated > 0


def test_the_corpus_perplexity_is_left_out_not_the_run_when_it_cannot_be_measured_alike(
    tiny_store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CORPUS_FILE gone failed the run after all its steps, nothing published; another corpus
    than the base's import read showed the two perplexities side by side as if they compared."""
    base = tiny_store.served_version(ModelName.LLM)
    config = FinetuneConfig(max_steps=1, batch_size=2, eval_questions=0, max_seq_len=128)
    cpu = torch.device("cpu")
    try:
        monkeypatch.setenv("CORPUS_FILE", str(tmp_path / "gone.txt"))
        get_settings.cache_clear()
        unmeasured = finetune(tiny_store, config, base=base, device=cpu)
        assert "held_out_corpus_perplexity" not in unmeasured.metadata["metrics"]

        other = tmp_path / "other.txt"
        other.write_text("Another text altogether, read by no import of the base. " * 200)
        monkeypatch.setenv("CORPUS_FILE", str(other))
        get_settings.cache_clear()
        measured = finetune(tiny_store, config, base=base, device=cpu).metadata["metrics"]
        assert measured["held_out_corpus_perplexity"] > 1
        assert measured["perplexity_corpus_sha256"] != base.metadata["metrics"]["perplexity_corpus_sha256"]
        assert "base_held_out_corpus_perplexity" not in measured
    finally:
        monkeypatch.delenv("CORPUS_FILE")
        get_settings.cache_clear()


def test_a_text_with_nothing_to_predict_has_no_perplexity(tiny_gpt2_dir: Path) -> None:
    """exp(0): a corpus whose held-out part was one token scored a perfect 1.0."""
    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    assert llm_base.corpus_perplexity(model, tokenizer, "one two three four five") > 1
    with pytest.raises(UsageError, match="fewer than 2 tokens"):
        llm_base.corpus_perplexity(model, tokenizer, "a")  # one token


def test_a_step_of_several_batches_shows_progress_within_it(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress came once a step: a step of 64 accumulated batches (half an hour on 2 CPU cores)
    showed nothing for its whole length."""
    monkeypatch.setattr(squad_loop, "WITHIN_STEP_EVERY_S", 0.0)
    config = FinetuneConfig(max_steps=2, batch_size=2, grad_accum_steps=3, eval_questions=0, max_seq_len=128)
    progress: list[dict] = []
    finetune(tiny_store, config, progress=progress.append, device=torch.device("cpu"))
    trained = [(p["step"], p.get("batch_in_step")) for p in progress if p["phase"] == "train"]
    assert trained == [(0, 1), (0, 2), (1, None), (1, 1), (1, 2), (2, None)]
    within = [p for p in progress if "batch_in_step" in p]
    assert all(p["batches_per_step"] == 3 and p["eta_s"] >= 0 and p["tokens_per_s"] > 0 for p in within)
    assert within[0]["loss"] is None and within[2]["loss"] == progress[2]["loss"]  # the last step's


def test_cancel_stops_without_publishing(tiny_store: ModelStore) -> None:
    before = [v.version for v in tiny_store.versions(ModelName.LLM)]
    base = tiny_store.versions(ModelName.LLM)[0]
    steps: list[int] = []
    config = FinetuneConfig(max_steps=50, batch_size=2, eval_questions=0, max_seq_len=128)
    with pytest.raises(TrainingCancelled):
        finetune(
            tiny_store,
            config,
            base=base,
            progress=lambda p: steps.append(p["step"]),
            should_stop=lambda: len(steps) >= 3,
        )
    assert steps == [1, 2, 3]
    assert [v.version for v in tiny_store.versions(ModelName.LLM)] == before
    assert not list(tiny_store.model_dir(ModelName.LLM).glob(".*"))


def test_a_cancel_during_the_evaluation_stops_it_before_the_answers_are_all_generated(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was asked only once every held-out question had been answered (minutes on a CPU for
    2,000); the evaluation and publish phases also keep the last loss and speed in the progress."""
    from training.squad import loop

    scored: list[int] = []
    monkeypatch.setattr(loop, "squad_scores", lambda answers, examples: scored.append(len(answers)) or {})
    base = tiny_store.versions(ModelName.LLM)[0]
    phases: list[dict] = []
    config = FinetuneConfig(max_steps=2, batch_size=2, eval_questions=6, eval_batch_size=2, max_seq_len=128)
    with pytest.raises(TrainingCancelled, match="during the evaluation"):
        finetune(
            tiny_store,
            config,
            base=base,
            progress=phases.append,
            should_stop=lambda: bool(phases) and phases[-1]["phase"] == "eval",
        )
    assert scored == []  # stopped before answering every question
    assert phases[-1]["phase"] == "eval"
    assert {"loss", "tokens_per_s"} <= set(phases[-1])


def test_a_cancel_before_the_commit_publishes_nothing_and_after_it_cannot_stop_the_run(
    tiny_store: ModelStore,
) -> None:
    base = tiny_store.versions(ModelName.LLM)[0]
    config = FinetuneConfig(max_steps=2, batch_size=2, eval_questions=0, max_seq_len=128)
    before = [v.version for v in tiny_store.versions(ModelName.LLM)]
    with pytest.raises(TrainingCancelled, match="just before publishing"):
        finetune(tiny_store, config, base=base, commit=lambda: False, device=torch.device("cpu"))
    assert [v.version for v in tiny_store.versions(ModelName.LLM)] == before

    phases: list[str] = []
    version = finetune(
        tiny_store,
        config,
        base=base,
        progress=lambda p: phases.append(p["phase"]),
        commit=lambda: True,
        device=torch.device("cpu"),
        job_id="job-7",
    )
    assert phases[-1] == "publish"
    assert tiny_store.served_version_id(ModelName.LLM) == version.version
    assert version.metadata["job_id"] == "job-7"  # the job that made it, should that job be lost


def test_a_loss_that_becomes_nan_fails_the_run_and_publishes_nothing(
    tiny_gpt2_dir: Path, tmp_path: Path
) -> None:
    poisoned = tmp_path / "poisoned"
    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    with torch.no_grad():
        model.transformer.ln_f.weight.fill_(float("nan"))
    model.save_pretrained(poisoned)
    AutoTokenizer.from_pretrained(tiny_gpt2_dir).save_pretrained(poisoned)
    store = ModelStore(tmp_path / "store")
    llm_base.import_base(store, poisoned)
    base = store.served_version(ModelName.LLM)
    progress: list[dict] = []
    config = FinetuneConfig(max_steps=3, batch_size=2, eval_questions=0, max_seq_len=128)
    with pytest.raises(NonFiniteLossError, match="became nan at step 1"):
        finetune(store, config, base=base, progress=progress.append, device=torch.device("cpu"))
    assert progress == []
    assert [v.version for v in store.versions(ModelName.LLM)] == [base.version]


def test_an_infinite_gradient_in_the_last_step_fails_the_run_and_publishes_nothing(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step's loss is taken before its update: clipping an infinite gradient norm made
    the weights NaN, no later loss showed it, and the version was published and served."""
    base = tiny_store.versions(ModelName.LLM)[0]
    before = [v.version for v in tiny_store.versions(ModelName.LLM)]
    config = FinetuneConfig(max_steps=2, batch_size=2, eval_questions=0, max_seq_len=128)
    real_step, steps = squad_loop.optimizer_step, []

    def last_gradient_infinite(forward, model, *args, **kwargs):  # type: ignore[no-untyped-def]
        steps.append(1)
        if len(steps) < config.max_steps:
            return real_step(forward, model, *args, **kwargs)
        hook = model.transformer.ln_f.weight.register_hook(lambda grad: grad * float("inf"))
        try:
            return real_step(forward, model, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(squad_loop, "optimizer_step", last_gradient_infinite)
    progress: list[dict] = []
    with pytest.raises(NonFiniteLossError, match=r"transformer\.ln_f\.weight holds NaN or infinite"):
        finetune(tiny_store, config, base=base, progress=progress.append, device=torch.device("cpu"))
    train_losses = [p["loss"] for p in progress if p["phase"] == "train"]
    assert len(train_losses) == 2 and all(math.isfinite(loss) for loss in train_losses)
    assert [v.version for v in tiny_store.versions(ModelName.LLM)] == before


def test_same_seed_same_run(tiny_store: ModelStore) -> None:
    base = tiny_store.versions(ModelName.LLM)[0]
    config = FinetuneConfig(max_steps=3, batch_size=2, eval_questions=0, max_seq_len=128, seed=5)
    losses = []
    for _ in range(2):
        run: list[float] = []
        finetune(
            tiny_store,
            config,
            base=base,
            progress=lambda p, run=run: run.append(p.get("loss")),
            device=torch.device("cpu"),
        )
        losses.append(run)
    assert losses[0] == losses[1]


def test_evaluating_during_the_run_leaves_its_training_as_it_was(tiny_store: ModelStore) -> None:
    """Each pass over the evaluation's loader drew a seed from torch's global generator, which
    moved every dropout mask after it (the tiny GPT-2 has dropout, as GPT-2 does)."""
    base = tiny_store.versions(ModelName.LLM)[0]
    losses = []
    for eval_every in (0, 1):
        config = FinetuneConfig(
            max_steps=4, batch_size=2, eval_questions=4, eval_every=eval_every, max_seq_len=128, seed=5
        )
        run: list[float] = []
        finetune(
            tiny_store,
            config,
            base=base,
            progress=lambda p, run=run: run.append(p["loss"]) if p["phase"] == "train" else None,
            device=torch.device("cpu"),
        )
        losses.append(run)
    assert losses[0] == losses[1]


def test_length_grouped_batches_cover_every_example_once_with_little_padding() -> None:
    from training.length_grouping import length_grouped_batches

    lengths = [(i * 37) % 300 + 10 for i in range(400)]
    batches = length_grouped_batches(lengths, batch_size=8, seed=0, window=10)
    assert sorted(i for batch in batches for i in batch) == list(range(400))
    assert batches == length_grouped_batches(lengths, batch_size=8, seed=0, window=10)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # random batches of 8 would pad about half


def test_a_cancel_within_a_step_stops_it_before_its_next_batch(tiny_store: ModelStore) -> None:
    """A cancel (or the time limit) was asked once a step: a step of 64 batches of 8,192 tokens
    runs half an hour on 2 CPU cores."""
    base = tiny_store.versions(ModelName.LLM)[0]
    asked: list[int] = []
    config = FinetuneConfig(max_steps=3, batch_size=1, grad_accum_steps=8, eval_questions=0, max_seq_len=128)
    with pytest.raises(TrainingCancelled, match="cancelled at step 0 of 3"):
        finetune(
            tiny_store,
            config,
            base=base,
            should_stop=lambda: asked.append(1) or len(asked) > 5,
            device=torch.device("cpu"),
        )
    # asked once the model was loaded and once the questions were tokenized, then before each
    # batch: three batches of the first step ran, the fourth was stopped
    assert len(asked) == 6


@pytest.mark.parametrize(
    ("asks_before_the_stop", "where"),
    [(0, "once the model was loaded"), (1, "once the questions were tokenized")],
)
def test_a_stop_before_training_ends_the_run_between_its_phases(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch, asks_before_the_stop: int, where: str
) -> None:
    """Loading the model and tokenizing the questions asked nothing: a cancel, or the stop of a
    worker that has 60 s to stop, waited for the first batch."""
    tokenized: list[int | None] = []
    tokenize = squad_loop.first_with_targets
    monkeypatch.setattr(
        squad_loop,
        "first_with_targets",
        lambda encoder, examples, count: tokenized.append(count) or tokenize(encoder, examples, count),
    )
    base = tiny_store.versions(ModelName.LLM)[0]
    before = [v.version for v in tiny_store.versions(ModelName.LLM)]
    asked: list[int] = []
    progress: list[dict] = []
    config = FinetuneConfig(max_steps=2, batch_size=2, eval_questions=2, max_seq_len=128)
    with pytest.raises(TrainingCancelled, match=where):
        finetune(
            tiny_store,
            config,
            base=base,
            progress=progress.append,
            should_stop=lambda: asked.append(1) or len(asked) > asks_before_the_stop,
            device=torch.device("cpu"),
        )
    assert progress == []  # no batch ran
    assert tokenized == [4] * asks_before_the_stop  # the training questions (2 steps of 2) tokenized or not
    assert [v.version for v in tiny_store.versions(ModelName.LLM)] == before


def test_a_stop_while_the_corpus_perplexity_is_measured_ends_it_between_two_windows(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out perplexity after the last step asked nothing: minutes of a large base on a CPU."""
    windows: list[int] = []
    measure = llm_base.corpus_perplexity

    def counted(model, tokenizer, text, window=256, before_each_window=None):  # type: ignore[no-untyped-def]
        def before() -> None:
            windows.append(1)
            if before_each_window:
                before_each_window()

        return measure(model, tokenizer, text, window, before_each_window=before)

    monkeypatch.setattr(llm_base, "corpus_perplexity", counted)
    base = tiny_store.versions(ModelName.LLM)[0]
    before = [v.version for v in tiny_store.versions(ModelName.LLM)]
    phases: list[str] = []
    config = FinetuneConfig(max_steps=1, batch_size=2, eval_questions=0, max_seq_len=128)
    with pytest.raises(TrainingCancelled, match="while measuring the held-out corpus perplexity"):
        finetune(
            tiny_store,
            config,
            base=base,
            progress=lambda p: phases.append(p["phase"]),
            should_stop=lambda: phases[-1:] == ["eval"] and len(windows) > 2,
            device=torch.device("cpu"),
        )
    assert len(windows) == 3  # two windows measured, the third stopped
    assert [v.version for v in tiny_store.versions(ModelName.LLM)] == before


def test_a_run_past_its_data_takes_a_new_batch_order_each_pass(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.squad import loop

    orders: list[list[list[int]]] = []
    grouped = loop.length_grouped_batches
    monkeypatch.setattr(
        loop,
        "length_grouped_batches",
        lambda *args, **kwargs: orders.append(grouped(*args, **kwargs)) or orders[-1],
    )
    monkeypatch.setattr(
        loop,
        "first_with_targets",
        lambda encoder, examples, count: encoded_with_targets(encoder, list(examples.select(range(6)))),
    )
    base = tiny_store.versions(ModelName.LLM)[0]
    config = FinetuneConfig(max_steps=7, batch_size=2, eval_questions=0, max_seq_len=128)
    finetune(tiny_store, config, base=base, device=torch.device("cpu"))
    assert len(orders) == 3  # 7 steps of 3 batches a pass
    every = sorted(index for batch in orders[0] for index in batch)
    assert all(sorted(index for batch in order for index in batch) == every for order in orders)
    assert orders[0] != orders[1] != orders[2]


def test_warm_up_longer_than_the_run_is_refused() -> None:
    with pytest.raises(UsageError, match=r"warmup_steps \(10\) must be at most max_steps \(3\)"):
        FinetuneConfig(max_steps=3, warmup_steps=10)


def test_runs_of_any_seed_are_scored_on_the_same_held_out_questions(
    tiny_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out articles and questions followed the run's seed: versions' scores did not compare."""
    from training.squad import loop

    scored: list[list[str]] = []
    monkeypatch.setattr(
        loop, "squad_scores", lambda answers, examples: scored.append([e["id"] for e in examples]) or {}
    )
    base = tiny_store.versions(ModelName.LLM)[0]
    versions = [
        finetune(
            tiny_store,
            FinetuneConfig(max_steps=1, batch_size=2, eval_questions=4, max_seq_len=128, seed=seed),
            base=base,
            device=torch.device("cpu"),
        )
        for seed in (0, 7)
    ]
    assert versions[0].metadata["split"] == versions[1].metadata["split"]
    assert scored[0] == scored[1] and len(scored[0]) == 4


def test_accumulated_batches_train_as_one_batch_of_them_all_would(tiny_gpt2_dir: Path) -> None:
    """Each batch's mean loss was divided by grad_accum_steps: a batch of 2 answer tokens weighed
    as much as one of 30, and --grad-accum-steps 2 --batch-size 1 trained otherwise than batch 2."""
    from training.squad.loop import optimizer_step

    def example(prompt: int, answer: int) -> dict[str, list[int]]:
        ids = [(7 * i) % 50 + 1 for i in range(prompt + answer)]
        return {"input_ids": ids, "labels": [IGNORE] * prompt + ids[prompt:]}

    short, long = example(12, 2), example(5, 30)
    pad = collate(pad_id=0)
    config = FinetuneConfig(grad_accum_steps=2, max_grad_norm=1e9, mixed_precision=False)

    class KeptGradients(torch.optim.SGD):
        """Keeps the step's gradients as the step clears them."""

        def zero_grad(self, set_to_none: bool = True) -> None:
            self.kept = [p.grad.clone() for group in self.param_groups for p in group["params"]]
            super().zero_grad(set_to_none)

    def gradients(batches: list[dict[str, torch.Tensor]], accumulate: int) -> list[torch.Tensor]:
        model = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir).to(torch.float64)
        optimizer = KeptGradients(model.parameters(), lr=0.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        step = replace(config, grad_accum_steps=accumulate)
        optimizer_step(model, model, iter(batches), optimizer, schedule, step, torch.device("cpu"))
        return optimizer.kept

    accumulated = gradients([pad([short]), pad([long])], accumulate=2)
    together = gradients([pad([short, long])], accumulate=1)
    for one, other in zip(accumulated, together, strict=True):
        torch.testing.assert_close(one, other, rtol=1e-6, atol=1e-9)
