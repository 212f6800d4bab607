"""A training CLI given a bad setting or a missing file says so in one line, not a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from shared.config import PROJECT_ROOT
from training.cli import SourceUnavailableError, loading_from
from worker.job_errors import job_error

BAD_COMMANDS = [
    (["training.squad", "--max-steps", "0"], "max_steps must be at least 1, not 0"),
    (["training.squad", "--source", "Hub"], "invalid choice: 'Hub'"),
    (["training.squad", "--learning-rate", "inf"], "learning_rate must be above 0 and finite, not inf"),
    (["training.rnn", "--epochs", "0"], "must be at least 1, not 0"),
    (["training.squad", "--seed", "-1"], "seed must be between 0 and 4294967295, not -1"),
    (["training.rnn", "--seed", str(2**64)], "seed must be between 0 and 4294967295"),
    (["training.course_ner", "--seed", str(2**32)], "seed must be between 0 and 4294967295"),
    (["training.course_ner", "--ensemble-size", "0"], "must be at least 1, not 0"),
    (["training.course_ner", "--catalog-share", "1.5"], "catalog_share must be between 0 and 1, not 1.5"),
    (["training.course_ner", "--learning-rate", "0"], "learning_rate must be above 0 and finite, not 0.0"),
    (["training.course_ner", "--written-refills", "-1"], "written_refills must be 0 or more, not -1"),
    (["training.course_ner", "--train-size", "100000000"], "train_size must be at most 500,000"),
    (["training.bigram", "--corpus", "/no/such/corpus.txt"], "error: [Errno 2] No such file or directory"),
    (
        ["training.course_ner", "--base", "bert-base-typo"],
        "'bert-base-typo' is not an allowed extractor base",
    ),
    (["training.llm_base", "--base", "gpt-typo"], "'gpt-typo' is not an allowed"),
    (["training.course_ner.evaluate", "--show", "-1"], "argument --show: must be 0 or more, not -1"),
    (["training.course_ner.evaluate", "--reveal", "apart4"], "argument --reveal: invalid choice: 'apart4'"),
]


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("To be, or not to be: that is the question.\n" * 20)  # 240 words
    return str(path)


def test_a_corpus_too_short_for_the_lstm_is_a_one_line_error(tiny_corpus: str) -> None:
    """It trained, then failed on a held-out part with no window to score (ZeroDivisionError)."""
    completed = subprocess.run(
        [sys.executable, "-m", "training.rnn", "--corpus", tiny_corpus],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2, completed.stderr
    assert "the corpus is too short" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(("command", "message"), BAD_COMMANDS)
def test_a_bad_setting_or_missing_file_exits_2_with_a_message(command: list[str], message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", *command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr
    if "usage:" in completed.stderr:  # argparse's errors: named as typed, not "usage: __main__.py"
        assert f"usage: python -m {command[0]} " in completed.stderr


def test_a_corpus_that_is_not_utf8_is_a_one_line_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("corpus") / "latin1.txt"
    path.write_bytes("Café crème, s'il vous plaît. ".encode("latin-1") * 50)
    completed = subprocess.run(
        [sys.executable, "-m", "training.bigram", "--corpus", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2, completed.stderr
    assert "the corpus 'latin1.txt' is not UTF-8 text" in completed.stderr
    assert str(path.parent) not in completed.stderr  # a fine-tune job would report it to its client
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("corpus", ["/no/such/corpus.txt", "short"])
def test_bootstrap_given_a_corpus_it_cannot_train_on_says_so_in_one_line(
    corpus: str, tiny_corpus: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make run` runs it first: a traceback from each model it trains, not what to fix."""
    models = tmp_path_factory.mktemp("models")
    env = {
        **os.environ,
        "MODEL_DIR": str(models),
        "CORPUS_FILE": tiny_corpus if corpus == "short" else corpus,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "training.bootstrap", "rnn"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert completed.returncode == 2, completed.stderr
    assert ("No such file" if corpus != "short" else "the corpus is too short") in completed.stderr
    assert "Traceback" not in completed.stderr


NO_MODEL = "holds no model in save_pretrained layout"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["training.llm_base", "--base", "{empty}"], "holds no model in save_pretrained layout"),
        (
            ["training.course_ner", "--base", "{empty}", "--epochs", "1"],
            "holds no model in save_pretrained layout",
        ),
        (
            ["training.squad", "--source", "hub", "--max-steps", "1"],
            "could not load rajpurkar/squad",
        ),  # offline
    ],
)
def test_a_base_or_dataset_that_cannot_be_loaded_is_a_one_line_error(
    command: list[str], message: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A directory that holds no model, or the Hub offline, ended in a traceback (the SQuAD one only
    after the model had loaded)."""
    empty = str(tmp_path_factory.mktemp("no-model"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # the Hub unreachable
    completed = subprocess.run(
        [sys.executable, "-m", *(part.format(empty=empty) for part in command)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2, completed.stderr
    assert "error: " in completed.stderr and message in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_source_that_cannot_be_read_is_reported_to_a_jobs_client_by_its_type_only() -> None:
    """Made a client-facing error, a fine-tune job's client read the host's cache paths in it."""
    with pytest.raises(SourceUnavailableError) as raised, loading_from("org/some-model"):
        raise OSError("We couldn't connect to 'https://huggingface.co' (cache: /home/operator/.cache)")
    reported = job_error(raised.value, "job-1")
    assert reported["type"] == "InternalError" and "SourceUnavailableError" in reported["message"]
    assert "/home/operator" not in reported["message"]
    with pytest.raises(OSError) as kept, loading_from("org/some-model"):  # memory or disk exhausted
        raise OSError(errno.ENOSPC, "No space left on device")
    assert type(kept.value) is OSError
