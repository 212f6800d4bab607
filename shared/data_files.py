"""Find the data sets the project trains on, through the one ``DATA_DIR`` setting.

``DATA_DIR`` defaults to ``../shared/data`` beside the project when that folder exists, else to
``var/data``, which is filled on first use by downloading each file from its original public
source (the one its SOURCE.md names) and checking its checksum. Offline with neither, a
``DataUnavailableError`` says what to put where.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import io
import logging
import os
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from shared.config import get_settings

logger = logging.getLogger(__name__)


class DataFile(StrEnum):
    CORPUS = "corpus"
    COURSE_TITLES = "course_titles"
    SQUAD_DEV = "squad"


@dataclass(frozen=True)
class DataSource:
    folder: str
    file_name: str  # as stored under DATA_DIR/<folder>/
    url: str  # original public source
    sha256: str | None  # of the uncompressed content, when the source publishes it
    git_blob_sha1: str | None = None  # when only the git blob id is known


SOURCES: dict[DataFile, DataSource] = {
    DataFile.CORPUS: DataSource(
        "corpus",
        "tinyshakespeare.txt.gz",
        "https://raw.githubusercontent.com/karpathy/char-rnn/"
        "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    DataFile.SQUAD_DEV: DataSource(
        "squad",
        "dev-v1.1.json.gz",
        "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json",
        sha256="95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
    ),
    DataFile.COURSE_TITLES: DataSource(
        "course_titles",
        "catalog_titles.txt",
        "https://raw.githubusercontent.com/kjiwa/uw-course-catalog/"
        "af48bd6bc5529328763dd6aa82a23c943f026b59/uwcourses.csv",
        sha256=None,
        git_blob_sha1="ee97cf0f66fa613d4891b0af77ebd45e6bacc486",
    ),
}


# The course titles the project's data folder holds: a random half of the catalog, whose seed is
# not published (the other half is what the extractor is judged on), so no download rebuilds it.
PUBLISHED_COURSE_TITLES_SHA256 = "f48a475630c8a919f55a80be61373029306345da054cbbfdcb3bc4e14c013dcb"


class DataUnavailableError(RuntimeError):
    """A data file is neither on disk nor downloadable."""


def data_path(kind: DataFile) -> Path:
    """Local path of a data file, downloading it into DATA_DIR first when missing."""
    source = SOURCES[kind]
    path = get_settings().data_dir / source.folder / source.file_name
    if not path.is_file():
        _download(source, path)
    return path


def read_bytes(kind: DataFile) -> bytes:
    """The file's content (uncompressed), checked as a download is: a file someone put in DATA_DIR
    that is cut short, not gzip where it should be, empty, or another file is refused with what to
    put there, not read as a smaller data set."""
    source = SOURCES[kind]
    path = data_path(kind)
    try:
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise DataUnavailableError(_unusable(source, path, f"it cannot be read ({error})")) from error
    if not content.strip():
        raise DataUnavailableError(_unusable(source, path, "it is empty"))
    if source.sha256 and (found := hashlib.sha256(content).hexdigest()) != source.sha256:
        raise DataUnavailableError(
            _unusable(source, path, f"its content's sha256 is {found}, not the source's {source.sha256}")
        )
    return content


def _unusable(source: DataSource, path: Path, why: str) -> str:
    return (
        f"{path} is not usable: {why}. Put {how_to_place(source)} there, or delete it to download it again."
    )


def read_text(kind: DataFile) -> str:
    """The file as text: UTF-8, a byte-order mark dropped (an editor's "UTF-8 with BOM"). A file
    in another encoding, which only a placed course-titles file can be (the others are checked
    by their sha256), is refused with what to put there."""
    content = read_bytes(kind)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        why = f"it is not UTF-8 text (byte {error.start} is 0x{content[error.start]:02x})"
        raise DataUnavailableError(_unusable(SOURCES[kind], data_path(kind), why)) from error
    if kind is DataFile.COURSE_TITLES and _is_csv_header(text.partition("\n")[0]):
        why = "it is the catalog's CSV, not its Name column"
        raise DataUnavailableError(_unusable(SOURCES[kind], data_path(kind), why))
    return text


def _is_csv_header(line: str) -> bool:
    """Whether a line is the header of a CSV with a Name column ("Campus,Department,Code,Name,..."):
    a title's commas have a space after them."""
    fields = line.strip().split(",")
    return len(fields) >= 3 and "Name" in fields and all(field == field.strip() for field in fields)


def sha256_of(kind: DataFile) -> str:
    return hashlib.sha256(read_bytes(kind)).hexdigest()


def how_to_place(source: DataSource) -> str:
    """What a user without a network puts where, in the form the project reads."""
    if source.git_blob_sha1:
        made = f"the Name column of the CSV at {source.url}, one title per line"
    elif source.file_name.endswith(".gz"):
        made = f"the file at {source.url}, gzip-compressed"
    else:
        made = f"the file at {source.url}"
    return f"{source.folder}/{source.file_name} ({made})"


def _download(source: DataSource, target: Path) -> None:
    logger.info("downloading %s from %s", source.file_name, source.url)
    try:
        with urllib.request.urlopen(source.url, timeout=60) as response:  # noqa: S310 (fixed https URLs)
            content = response.read()
    except (OSError, http.client.HTTPException) as error:  # a cut connection is an IncompleteRead
        raise DataUnavailableError(
            f"{source.file_name} is not in {target.parent} and could not be downloaded from "
            f"{source.url} ({error!r}). Put {how_to_place(source)} under DATA_DIR ({target.parent.parent}),"
            " or set DATA_DIR to a folder that has it."
        ) from error
    _verify(source, content)
    if source.git_blob_sha1:
        content = _course_titles_from_catalog_csv(content)
        logger.warning(
            "%s holds the whole public catalog (%d titles). The project's own file (../shared/data,"
            " sha256 %s...) holds a random half of it, and the extractor's published scores, its"
            " held-out split and its test sets were made with that half: an extractor trained on"
            " this one has seen titles that those sets call unseen, so its scores are not comparable.",
            target,
            content.count(b"\n"),
            PUBLISHED_COURSE_TITLES_SHA256[:12],
        )
    try:
        _write_whole(target, gzip.compress(content, mtime=0) if target.suffix == ".gz" else content)
    except OSError as error:
        raise DataUnavailableError(
            f"downloaded {source.file_name} but could not write it to {target} ({error}): set DATA_DIR"
            f" to a folder this process can write, or put {how_to_place(source)} there."
        ) from error


def _write_whole(target: Path, content: bytes) -> None:
    """Write to a temporary file of this process's own, then rename it into place: readers never
    see part of a file, and two processes downloading at once never write into one file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.chmod(partial, 0o644)  # mkstemp's 0600 would keep a shared DATA_DIR from other users
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _verify(source: DataSource, content: bytes) -> None:
    """A download that is not the file the source names (a proxy's or captive portal's page, a
    changed file) is refused, with what a user without that source puts where instead."""
    if source.sha256 and (found := hashlib.sha256(content).hexdigest()) != source.sha256:
        raise DataUnavailableError(_refused_download(source, f"sha256 {found}, not {source.sha256}"))
    if source.git_blob_sha1:
        blob = hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
        if blob != source.git_blob_sha1:
            raise DataUnavailableError(
                _refused_download(source, f"git blob id {blob}, not {source.git_blob_sha1}")
            )


def _refused_download(source: DataSource, mismatch: str) -> str:
    return (
        f"what {source.url} sent has {mismatch}: refusing to use it. Put {how_to_place(source)} under"
        " DATA_DIR, or set DATA_DIR to a folder that has it."
    )


def _course_titles_from_catalog_csv(content: bytes) -> bytes:
    """The catalog's ``Name`` column: whitespace collapsed, empties and duplicates dropped."""
    rows = csv.DictReader(io.StringIO(content.decode("utf-8")))
    titles = {" ".join(row["Name"].split()) for row in rows}
    return "".join(f"{title}\n" for title in sorted(titles) if title).encode()
