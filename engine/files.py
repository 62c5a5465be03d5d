"""Uploaded files: a storage interface, the local-disk storage, and what a file *is* (from its bytes).

A file's type is sniffed from its content (magic numbers), never taken from its name or from what
the browser claims: ``report.png`` holding a PDF is a PDF, and an executable is refused whatever
it is called. ``Storage.put`` reads the upload in chunks and stops as soon as it passes the size
limit, so a 2 GB upload costs at most the limit (plus one chunk) of reading, never 2 GB of memory.

On disk (``LocalStorage``) a file lives at ``<GONGDAN_HOME>/files/<aa>/<bb>/<id>`` with its
metadata beside it in ``<id>.json``. Ids are random (``uuid4().hex``), not content hashes:

* deleting one upload never removes another ticket's attachment that happens to have the same
  bytes (content addressing would need reference counting to delete safely);
* an id reveals nothing about the content and cannot be guessed, so nobody can probe whether a
  known document was uploaded by computing its hash;
* the SHA-256 is still computed and kept (``StoredFile.sha256``) for integrity checks and any
  later de-duplication.

Writes are atomic: the bytes go to a temporary file under ``<root>/.tmp`` (same file system),
are flushed to disk, and only then renamed into place; a failed or refused upload leaves nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import engine.forms.file_messages  # noqa: F401  (the file.* messages)
from engine.errors import GongdanError, NotFoundError

CHUNK = 64 * 1024
MIB = 1024 * 1024
MAX_NAME = 255
HEAD = 64  # bytes kept from the start of a file for magic-number checks


# --------------------------------------------------------------------------- errors and results
#: The rest: 415 Unsupported Media Type. A full disk is 507 Insufficient Storage.
_REFUSAL_STATUS = {"file.too_large": 413, "file.empty": 400, "file.storage_full": 507}


class FileRefused(GongdanError):
    """An upload the storage will not keep; ``code`` says why (too large, executable, unknown type)."""

    code = "file.unsupported_type"
    http_status = 415

    def __init__(self, code: str, **params: Any):
        super().__init__(code, **params)
        self.http_status = _REFUSAL_STATUS.get(code, 415)


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    size: int
    mime: str
    sha256: str

    def reference(self) -> dict[str, Any]:
        """What an attachment/image field stores: ``{"id", "name", "size", "mime"}``."""
        return {"id": self.id, "name": self.name, "size": self.size, "mime": self.mime}


# --------------------------------------------------------------------------- the kinds of file we keep
@dataclass(frozen=True)
class FileKind:
    key: str
    mime: str
    extensions: tuple[str, ...]

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


#: Every kind a sniffed file can be, by key; nothing else is stored.
KINDS: dict[str, FileKind] = {}


def register_kind(key: str, mime: str, *extensions: str) -> FileKind:
    kind = FileKind(key, mime, tuple(e.lower() for e in extensions))
    KINDS[key] = kind
    return kind


_OOXML = "application/vnd.openxmlformats-officedocument."
register_kind("png", "image/png", ".png")
register_kind("jpeg", "image/jpeg", ".jpg", ".jpeg", ".jfif")
register_kind("gif", "image/gif", ".gif")
register_kind("webp", "image/webp", ".webp")
register_kind("pdf", "application/pdf", ".pdf")
register_kind("docx", _OOXML + "wordprocessingml.document", ".docx")
register_kind("xlsx", _OOXML + "spreadsheetml.sheet", ".xlsx")
register_kind("pptx", _OOXML + "presentationml.presentation", ".pptx")
register_kind("mp4", "video/mp4", ".mp4", ".m4v")
register_kind("csv", "text/csv", ".csv")
register_kind("text", "text/plain", ".txt", ".log", ".md", ".json", ".xml", ".yaml", ".yml")

#: The kinds by mime type (what a stored reference carries).
KIND_OF_MIME: dict[str, FileKind] = {k.mime: k for k in KINDS.values()}


def is_image(mime: str) -> bool:
    kind = KIND_OF_MIME.get(mime)
    return kind is not None and kind.is_image


def accepts(mime: str, accept: Iterable[str]) -> bool:
    """Whether a file of (sniffed) ``mime`` fits a field's ``accept`` list.

    Tokens: ``*/*``; ``image/*`` (a family); ``application/pdf`` (exact); ``.pdf`` — an extension
    means "the kind of file that extension names", matched against the *sniffed* kind, not the
    file's name (``x.pdf`` holding a PNG does not fit ``.pdf``).
    """
    kind = KIND_OF_MIME.get(mime)
    for raw in accept:
        token = raw.strip().lower()
        if token in ("*", "*/*"):
            return True
        if token.startswith("."):
            if kind is not None and token in kind.extensions:
                return True
        elif token.endswith("/*"):
            if mime.startswith(token[:-1]):
                return True
        elif token == mime:
            return True
    return False


# --------------------------------------------------------------------------- sniffing
_EXECUTABLES = (
    b"\x7fELF",  # Linux/Unix ELF
    b"MZ",  # Windows PE / DOS
    b"\xfe\xed\xfa\xce",  # Mach-O 32-bit (big-endian)
    b"\xfe\xed\xfa\xcf",  # Mach-O 64-bit (big-endian)
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit (little-endian)
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit (little-endian)
    b"\xca\xfe\xba\xbe",  # Mach-O universal (also Java classes)
    b"#!",  # scripts with an interpreter line
)
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash",
    b"mmp4", b"MSNV",
}  # fmt: skip


def _magic(head: bytes) -> str | None:
    """The kind named by the first bytes, ``"zip"`` for an OOXML candidate, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "mp4"
    return None


def _office_kind(path: Path) -> FileKind:
    """A ZIP is kept only as a Word/Excel/PowerPoint document without macros."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileRefused("file.unsupported_type") from None
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise FileRefused("file.macros")
    if "[Content_Types].xml" in names:
        for part, key in (
            ("word/document.xml", "docx"),
            ("xl/workbook.xml", "xlsx"),
            ("ppt/presentation.xml", "pptx"),
        ):
            if part in names:
                return KINDS[key]
    raise FileRefused("file.unsupported_type")


class Sniffer:
    """Decides a file's kind from its chunks as they stream past (no second read of the bytes).

    Executables are refused as soon as their first bytes are seen. Text is UTF-8 without NUL
    bytes, checked over the whole content with an incremental decoder.
    """

    def __init__(self) -> None:
        self.head = b""
        self._checked = False
        self._text = True
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < HEAD:
            self.head += chunk[: HEAD - len(self.head)]
        if not self._checked and len(self.head) >= 4:
            self._refuse_executables()
        if self._text:
            if b"\x00" in chunk:
                self._text = False
            else:
                try:
                    self._decoder.decode(chunk)
                except UnicodeDecodeError:
                    self._text = False

    def _refuse_executables(self) -> None:
        self._checked = True
        if self.head.startswith(_EXECUTABLES):
            raise FileRefused("file.executable")

    def kind(self, name: str, path: Path | None = None) -> FileKind:
        """The kind of everything fed; ``path`` (the bytes on disk) is needed to look inside ZIPs."""
        if not self._checked:
            self._refuse_executables()
        found = _magic(self.head)
        if found == "zip":
            if path is None:
                raise FileRefused("file.unsupported_type")
            return _office_kind(path)
        if found is not None:
            return KINDS[found]
        if self._text:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise FileRefused("file.unsupported_type") from None
            # Text is text; only its flavour follows the name (a CSV is served as text/csv).
            return KINDS["csv"] if name.lower().endswith(".csv") else KINDS["text"]
        raise FileRefused("file.unsupported_type")


def sniff(data: bytes, name: str = "") -> FileKind:
    """The kind of an in-memory file (ZIPs are opened from a temporary copy); raises FileRefused."""
    sniffer = Sniffer()
    sniffer.feed(data)
    if _magic(sniffer.head) != "zip":
        return sniffer.kind(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file"
        path.write_bytes(data)
        return sniffer.kind(name, path)


def clean_name(name: Any) -> str:
    """A display name safe to show and to send back: no folders, no control or bidi characters."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = dot + ext if stem and len(ext) < 16 else ""
        text = text[: MAX_NAME - len(ext)] + ext
    return text or "file"


# --------------------------------------------------------------------------- storage
Stream = BinaryIO | Iterable[bytes]


@runtime_checkable
class Storage(Protocol):
    """Where uploaded files are kept. Ids come from ``put``; any other id is simply not found."""

    def put(self, stream: Stream, name: str, limit_bytes: int) -> StoredFile:
        """Store the bytes of ``stream`` (a binary file or an iterable of byte chunks).

        Raises FileRefused (nothing kept) when the content passes ``limit_bytes``, is empty, is an
        executable, or is not a kind in ``KINDS``.
        """
        ...

    def open(self, file_id: str) -> BinaryIO:
        """The stored bytes, for reading; NotFoundError if there is no such file."""
        ...

    def info(self, file_id: str) -> StoredFile:
        """What ``put`` returned for this file; NotFoundError if there is no such file."""
        ...

    def exists(self, file_id: str) -> bool: ...

    def delete(self, file_id: str) -> bool:
        """Remove the file; False if there was none (deleting twice is harmless)."""
        ...


_ID = re.compile(r"[0-9a-f]{32}")


def _chunks(stream: Stream, budget: int) -> Iterator[bytes]:
    """Chunks of ``stream``; a file is read for at most ``budget`` bytes in total."""
    read = getattr(stream, "read", None)
    if read is not None:
        while budget > 0:
            chunk = read(min(CHUNK, budget))
            if not chunk:
                return
            budget -= len(chunk)
            yield bytes(chunk)
        return
    for chunk in stream:  # an iterable cannot be asked for less: the caller stops pulling
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"a file stream yields bytes, not {type(chunk).__name__}")
        if chunk:
            yield bytes(chunk)


def _mb(limit_bytes: int) -> int | float:
    mb = limit_bytes / MIB
    return int(mb) if mb == int(mb) else round(mb, 2)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def receive(stream: Stream, file_id: str, name: str, limit_bytes: int, fd: int, tmp: Path) -> StoredFile:
    """Write ``stream`` to the open temporary file ``fd`` (at ``tmp``), counting, hashing and
    sniffing as it goes; what the file is. FileRefused past the limit, when empty or unknown.
    Every storage takes uploads in through here, wherever it keeps them afterwards."""
    size, digest, sniffer = 0, hashlib.sha256(), Sniffer()
    with os.fdopen(fd, "wb") as out:
        for chunk in _chunks(stream, limit_bytes + 1):
            size += len(chunk)
            if size > limit_bytes:
                raise FileRefused("file.too_large", max_mb=_mb(limit_bytes), limit=limit_bytes)
            sniffer.feed(chunk)
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise FileRefused("file.empty")
    kind = sniffer.kind(name, tmp)
    return StoredFile(file_id, name, size, kind.mime, digest.hexdigest())


def storage_for(settings: Any) -> Storage:
    """The storage the settings name: ``GONGDAN_FILES_URL`` (``s3://…``, engine/files_s3.py) when
    set, else the local folder ``<GONGDAN_HOME>/files``. Every process of a site must name the same."""
    url = getattr(settings, "files_url", None)
    if url:
        from engine.files_s3 import S3Storage

        return S3Storage.from_url(url)
    return LocalStorage(settings.home / "files")


class LocalStorage:
    """Files on the local disk under ``root`` (normally ``<GONGDAN_HOME>/files``)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @classmethod
    def default(cls) -> LocalStorage:
        """The storage of the configured data folder (``GONGDAN_HOME``)."""
        from engine.config import load_settings

        return cls(load_settings().home / "files")

    def path_of(self, file_id: str) -> Path | None:
        """Where the bytes of ``file_id`` live, or None for anything that is not one of our ids."""
        if not isinstance(file_id, str) or _ID.fullmatch(file_id) is None:
            return None
        return self.root / file_id[:2] / file_id[2:4] / file_id

    def put(self, stream: Stream, name: str, limit_bytes: int) -> StoredFile:
        name = clean_name(name)
        file_id = uuid.uuid4().hex
        final = self.path_of(file_id)
        assert final is not None
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=file_id, suffix=".part")
        tmp = Path(tmp_name)
        meta_tmp: Path | None = None
        try:
            stored = receive(stream, file_id, name, limit_bytes, fd, tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            meta_tmp = tmp.with_suffix(".json")
            meta_tmp.write_text(json.dumps(asdict(stored), ensure_ascii=False), encoding="utf-8")
            os.replace(meta_tmp, final.with_suffix(".json"))
            os.replace(tmp, final)  # last: the file exists only once it is whole, with its metadata
            _fsync_dir(final.parent)
            return stored
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if meta_tmp is not None:
                meta_tmp.unlink(missing_ok=True)
                final.with_suffix(".json").unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise FileRefused("file.storage_full") from None  # a clear 507, nothing half-kept
            raise

    def open(self, file_id: str) -> BinaryIO:
        path = self.path_of(file_id)
        try:
            if path is None:
                raise FileNotFoundError(file_id)
            return path.open("rb")
        except FileNotFoundError:
            raise NotFoundError("file.not_found", id=str(file_id)[:64]) from None

    def info(self, file_id: str) -> StoredFile:
        path = self.path_of(file_id)
        if path is None or not path.is_file():
            raise NotFoundError("file.not_found", id=str(file_id)[:64])
        return StoredFile(**json.loads(path.with_suffix(".json").read_text("utf-8")))

    def exists(self, file_id: str) -> bool:
        path = self.path_of(file_id)
        return path is not None and path.is_file()

    def delete(self, file_id: str) -> bool:
        path = self.path_of(file_id)
        if path is None:
            return False
        existed = path.is_file()
        path.unlink(missing_ok=True)  # the bytes first: without them the file no longer exists
        path.with_suffix(".json").unlink(missing_ok=True)
        return existed


__all__ = [
    "KINDS",
    "KIND_OF_MIME",
    "FileKind",
    "FileRefused",
    "LocalStorage",
    "Sniffer",
    "Storage",
    "StoredFile",
    "accepts",
    "clean_name",
    "is_image",
    "receive",
    "register_kind",
    "sniff",
    "storage_for",
]
