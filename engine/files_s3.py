"""Uploaded files in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Aliyun OSS in S3 mode …).

Configured with ``GONGDAN_FILES_URL=s3://ACCESS_KEY:SECRET_KEY@bucket/prefix?endpoint=https://…&region=…``
so that every web and worker process, on any machine, sees the same files. Objects are laid out as
on disk (``prefix/aa/bb/<id>`` and ``<id>.json`` for the metadata) and addressed path-style
(``endpoint/bucket/key``), which every S3-compatible store understands.

Requests are signed with AWS Signature Version 4 (:func:`sign`), written here on top of httpx —
no SDK. An upload is taken in exactly as for the local disk (engine.files.receive: the size limit,
the SHA-256, the sniffed type) into a temporary file, then sent with its SHA-256 as the signed
payload hash, so the store itself rejects a body that arrived damaged. The metadata object is
written first and the bytes last: a file exists once its bytes do, as on disk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

import engine.ops_messages  # noqa: F401  (the files.* messages)
from engine.errors import GongdanError, InputError, NotFoundError
from engine.files import StoredFile, Stream, clean_name, receive

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT_S = 30.0
SPOOL_BYTES = 8 * 1024 * 1024
_ID_CHARS = frozenset("0123456789abcdef")


class StoreFailed(GongdanError):
    """The object store answered with an error (or not at all); nothing was kept."""

    code = "files.store_failed"
    http_status = 502


# ----------------------------------------------------------------------------- signing
def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: dt.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus ``x-amz-date``, ``x-amz-content-sha256`` and the SigV4 ``Authorization``."""
    parts = urlsplit(url)
    amz_date = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_sha256
    names = sorted(signed)
    query = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, values in parse_qs(parts.query, keep_blank_values=True).items()
        for v in values
    )
    canonical = "\n".join(
        [
            method.upper(),
            quote(unquote(parts.path) or "/", safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items() if k.lower() != "host"}
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_sha256
    credential = f"Credential={access_key}/{scope}"
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 {credential}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


# ----------------------------------------------------------------------------- the storage
@dataclass(frozen=True)
class S3Location:
    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key: str
    secret_key: str = ""

    def __repr__(self) -> str:  # the secret never shows
        return f"S3Location({self.endpoint}/{self.bucket}/{self.prefix}, region={self.region})"


def parse_url(url: str) -> S3Location:
    """``s3://ACCESS:SECRET@bucket/prefix?endpoint=…&region=…``; InputError says what is missing."""
    parts = urlsplit(url)
    args = {k: v[-1] for k, v in parse_qs(parts.query).items()}

    def bad(reason: str) -> InputError:
        return InputError("files.bad_url", reason=reason)

    if parts.scheme != "s3":
        raise bad("the scheme is s3://")
    if not parts.hostname:
        raise bad("no bucket")
    if not parts.username or not parts.password:
        raise bad("no ACCESS_KEY:SECRET_KEY@ before the bucket")
    endpoint = args.get("endpoint", "").rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise bad("endpoint=https://… is missing")
    return S3Location(
        endpoint=endpoint,
        bucket=parts.hostname,
        prefix=parts.path.strip("/"),
        region=args.get("region") or "us-east-1",
        access_key=unquote(parts.username),
        secret_key=unquote(parts.password),
    )


class S3Storage:
    """Files in a bucket of an S3-compatible store (see the module's docstring)."""

    def __init__(self, where: S3Location, client: httpx.Client | None = None):
        self.where = where
        self.client = client or httpx.Client(timeout=TIMEOUT_S)

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        return cls(parse_url(url))

    # -- plumbing
    def key_of(self, file_id: str) -> str | None:
        if not isinstance(file_id, str) or len(file_id) != 32 or not set(file_id) <= _ID_CHARS:
            return None
        key = f"{file_id[:2]}/{file_id[2:4]}/{file_id}"
        return f"{self.where.prefix}/{key}" if self.where.prefix else key

    def _url(self, key: str = "") -> str:
        return f"{self.where.endpoint}/{quote(self.where.bucket)}/{quote(key)}".rstrip("/")

    def request(
        self,
        method: str,
        key: str = "",
        body: bytes | BinaryIO = b"",
        sha256: str | None = None,
        **headers: str,
    ) -> httpx.Response:
        url = self._url(key)
        if sha256 is None:
            sha256 = hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else "UNSIGNED-PAYLOAD"
        w = self.where
        signed = sign(
            method, url, headers, sha256, w.access_key, w.secret_key, w.region, dt.datetime.now(dt.UTC)
        )
        try:
            content = body if isinstance(body, bytes) else _read_all(body)
            return self.client.request(method, url, headers=signed, content=content or None)
        except httpx.HTTPError as exc:
            raise StoreFailed(error=type(exc).__name__) from None

    def _check(self, answer: httpx.Response, file_id: str = "") -> httpx.Response:
        if answer.status_code == 404:
            raise NotFoundError("file.not_found", id=str(file_id)[:64])
        if answer.status_code >= 300:
            raise StoreFailed(error=f"HTTP {answer.status_code}")
        return answer

    def create_bucket(self) -> None:
        """Make the bucket (first setup, tests); an existing bucket of ours is fine."""
        body = b""
        if self.where.region != "us-east-1":  # elsewhere S3 wants the region named in the body
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{self.where.region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        answer = self.request("PUT", "", body)
        if answer.status_code not in (200, 409):
            self._check(answer)

    # -- the Storage interface
    def put(self, stream: Stream, name: str, limit_bytes: int) -> StoredFile:
        name = clean_name(name)
        file_id = uuid.uuid4().hex
        key = self.key_of(file_id)
        assert key is not None
        fd, tmp_name = tempfile.mkstemp(prefix="gongdan-upload-", suffix=".part")
        tmp = Path(tmp_name)
        try:
            stored = receive(stream, file_id, name, limit_bytes, fd, tmp)
            meta = json.dumps(asdict(stored), ensure_ascii=False).encode()
            self._check(self.request("PUT", key + ".json", meta, **{"content-type": "application/json"}))
            with tmp.open("rb") as f:
                answer = self.request("PUT", key, f, stored.sha256, **{"content-type": stored.mime})
            if answer.status_code >= 300:
                self.request("DELETE", key + ".json")
                self._check(answer)
            return stored
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, file_id: str) -> BinaryIO:
        key = self.key_of(file_id)
        if key is None:
            raise NotFoundError("file.not_found", id=str(file_id)[:64])
        answer = self._check(self.request("GET", key), file_id)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 — the caller closes it
        spool.write(answer.content)
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def info(self, file_id: str) -> StoredFile:
        key = self.key_of(file_id)
        if key is None or not self.exists(file_id):
            raise NotFoundError("file.not_found", id=str(file_id)[:64])
        answer = self._check(self.request("GET", key + ".json"), file_id)
        return StoredFile(**json.loads(answer.content))

    def exists(self, file_id: str) -> bool:
        key = self.key_of(file_id)
        if key is None:
            return False
        answer = self.request("HEAD", key)
        if answer.status_code == 404:
            return False
        self._check(answer, file_id)
        return True

    def delete(self, file_id: str) -> bool:
        existed = self.exists(file_id)
        key = self.key_of(file_id)
        if key is None:
            return False
        self._check(self.request("DELETE", key))  # the bytes first, as on disk
        self._check(self.request("DELETE", key + ".json"))
        return existed


def _read_all(f: BinaryIO) -> bytes:
    f.seek(0, os.SEEK_SET)
    return f.read()


__all__ = ["S3Location", "S3Storage", "StoreFailed", "parse_url", "sign"]
