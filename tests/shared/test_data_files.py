"""Data files through DATA_DIR: downloaded once from their source with the checksum checked, and
a clear message, never a traceback, when that cannot be done. A real HTTP server on a free port
stands in for the original public source."""

from __future__ import annotations

import gzip
import hashlib
import logging
import stat
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from launcher.ports import free_port
from shared import data_files
from shared.config import get_settings
from shared.data_files import DataFile, DataSource, DataUnavailableError

CORPUS = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"


class CountingHandler(SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def source_server(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "input.txt").write_bytes(CORPUS)
    CountingHandler.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(CountingHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def corpus_from(monkeypatch: pytest.MonkeyPatch, url: str, sha256: str) -> None:
    source = DataSource("corpus", "tinyshakespeare.txt.gz", url, sha256=sha256)
    monkeypatch.setitem(data_files.SOURCES, DataFile.CORPUS, source)


def test_a_missing_file_is_downloaded_once_checked_and_stored_compressed(
    source_server: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus_from(monkeypatch, f"{source_server}/input.txt", hashlib.sha256(CORPUS).hexdigest())
    assert data_files.read_bytes(DataFile.CORPUS) == CORPUS
    stored = data_dir / "corpus" / "tinyshakespeare.txt.gz"
    assert gzip.decompress(stored.read_bytes()) == CORPUS
    assert data_files.read_bytes(DataFile.CORPUS) == CORPUS
    assert CountingHandler.requests == 1
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no partial file left
    assert stat.S_IMODE(stored.stat().st_mode) == 0o644  # others sharing DATA_DIR can read it


def test_a_download_whose_checksum_differs_is_refused_and_not_stored(
    source_server: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus_from(monkeypatch, f"{source_server}/input.txt", "0" * 64)
    with pytest.raises(DataUnavailableError) as raised:
        data_files.data_path(DataFile.CORPUS)
    assert f"not {'0' * 64}: refusing to use it" in str(raised.value)
    assert "corpus/tinyshakespeare.txt.gz (the file at" in str(raised.value)  # what to put where
    assert not (data_dir / "corpus").exists()


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (gzip.compress(CORPUS)[:-20], "cannot be read"),  # cut short
        (CORPUS, "cannot be read"),  # not compressed
        (gzip.compress(b""), "is empty"),
        (gzip.compress(CORPUS + b"more"), "sha256"),  # another file
    ],
)
def test_a_file_put_in_data_dir_that_is_not_the_source_is_refused_with_what_to_put_there(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, stored: bytes, why: str
) -> None:
    """It was read as it was: a traceback from gzip, or a corpus of nothing trained and served."""
    corpus_from(monkeypatch, "http://127.0.0.1:9/input.txt", hashlib.sha256(CORPUS).hexdigest())
    path = data_dir / "corpus" / "tinyshakespeare.txt.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(stored)
    with pytest.raises(DataUnavailableError, match=why) as raised:
        data_files.read_text(DataFile.CORPUS)
    assert str(path) in str(raised.value)
    assert "Put corpus/tinyshakespeare.txt.gz (the file at http://127.0.0.1:9/input.txt" in str(raised.value)


def test_offline_the_message_says_what_to_put_where(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus_from(monkeypatch, f"http://127.0.0.1:{free_port()}/input.txt", hashlib.sha256(CORPUS).hexdigest())
    with pytest.raises(DataUnavailableError) as raised:
        data_files.data_path(DataFile.CORPUS)
    message = str(raised.value)
    assert f"under DATA_DIR ({data_dir})" in message
    assert "corpus/tinyshakespeare.txt.gz (the file at http://127.0.0.1:" in message
    assert "gzip-compressed" in message


def test_a_data_dir_that_cannot_be_written_is_a_clear_error_not_a_traceback(
    source_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a regular file where the folder should be: unwritable even for root, who ignores file modes
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("DATA_DIR", str(blocker))
    get_settings.cache_clear()
    corpus_from(monkeypatch, f"{source_server}/input.txt", hashlib.sha256(CORPUS).hexdigest())
    try:
        with pytest.raises(DataUnavailableError, match=r"could not write it to .* set DATA_DIR to a folder"):
            data_files.data_path(DataFile.CORPUS)
    finally:
        get_settings.cache_clear()


def test_the_course_titles_are_the_catalogs_name_column() -> None:
    csv = b'Code,Name\nCSE 142,"Computer  Programming I"\nCSE 143,Computer Programming II\nX 1,\n'
    titles = data_files._course_titles_from_catalog_csv(csv)
    assert titles == b"Computer Programming I\nComputer Programming II\n"


def test_course_titles_downloaded_from_the_catalog_warn_that_scores_are_not_comparable(
    source_server: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The project's file is a half of the catalog whose seed is unpublished; a download holds both."""
    csv = b"Code,Name\nA 1,Fatigue of Materials\nB 2,Second-Year Lithuanian\n"
    served = data_dir.parent / "served" / "uwcourses.csv"
    served.write_bytes(csv)
    blob = hashlib.sha1(b"blob %d\0" % len(csv) + csv, usedforsecurity=False).hexdigest()
    source = DataSource("course_titles", "catalog_titles.txt", f"{source_server}/uwcourses.csv", None, blob)
    monkeypatch.setitem(data_files.SOURCES, DataFile.COURSE_TITLES, source)
    with caplog.at_level(logging.WARNING, logger="shared.data_files"):
        assert (
            data_files.read_text(DataFile.COURSE_TITLES) == "Fatigue of Materials\nSecond-Year Lithuanian\n"
        )
    assert "holds the whole public catalog (2 titles)" in caplog.text
    assert "not comparable" in caplog.text


@pytest.mark.parametrize(
    ("placed", "why"),
    [
        ("Café Culture\n".encode("latin-1"), "it is not UTF-8 text (byte 3 is 0xe9)"),
        ("Café Culture\n".encode("utf-16"), "it is not UTF-8 text"),
        (
            b"Campus,Department,Code,Name,Credits\nBothell,B ACCT,501,Accounting Theory,4\n",
            "the catalog's CSV",
        ),
    ],
)
def test_a_placed_course_titles_file_that_is_no_title_list_is_refused_with_what_to_put_there(
    data_dir: Path, placed: bytes, why: str
) -> None:
    """It has no checksum to check (a user makes it from the catalog's CSV): a file in another
    encoding ended in a UnicodeDecodeError's traceback, and the CSV itself trained on its rows."""
    path = data_dir / "course_titles" / "catalog_titles.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(placed)
    with pytest.raises(DataUnavailableError, match=r"Put course_titles/catalog_titles\.txt") as raised:
        data_files.read_text(DataFile.COURSE_TITLES)
    assert why in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_placed_course_titles_file_saved_with_a_byte_order_mark_reads_as_its_titles(data_dir: Path) -> None:
    path = data_dir / "course_titles" / "catalog_titles.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        "Management of Site Remediation, Hazardous Waste, and On-Site Treatment\nCafé\n".encode("utf-8-sig")
    )
    assert data_files.read_text(DataFile.COURSE_TITLES).splitlines() == [
        "Management of Site Remediation, Hazardous Waste, and On-Site Treatment",
        "Café",
    ]
