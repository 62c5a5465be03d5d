"""Files behind one storage interface: the local folder by default, an S3-compatible store when
GONGDAN_FILES_URL says so. The S3 half runs against a real S3-compatible server on 127.0.0.1
(moto's server), with requests signed by our own SigV4 code."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import InputError, NotFoundError
from engine.files import FileRefused, LocalStorage, Storage, storage_for
from engine.files_s3 import S3Storage, StoreFailed, parse_url, sign

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_for(load_settings({"GONGDAN_HOME": str(tmp_path)}))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"gd-{tmp_path.name.lower().replace('_', '-')}"[:60]
    url = f"s3://AKIDTEST:secret%2Fkey@{bucket}/site-a?endpoint={endpoint}&region=eu-west-1"
    store = storage_for(load_settings({"GONGDAN_HOME": str(tmp_path), "GONGDAN_FILES_URL": url}))
    assert isinstance(store, S3Storage)
    store.create_bucket()
    return store


def test_a_stored_file_comes_back_byte_for_byte_with_what_it_is(storage):
    stored = storage.put(io.BytesIO(PNG), "截图.png", limit_bytes=MIB)
    assert (stored.name, stored.size, stored.mime) == ("截图.png", len(PNG), "image/png")
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    assert storage.exists(stored.id) and storage.info(stored.id) == stored
    with storage.open(stored.id) as f:
        assert f.read() == PNG


def test_deleting_removes_the_file_and_twice_is_harmless(storage):
    stored = storage.put([PNG[:10], PNG[10:]], "a.png", limit_bytes=MIB)  # chunks work too
    assert storage.delete(stored.id) is True
    assert not storage.exists(stored.id)
    assert storage.delete(stored.id) is False
    with pytest.raises(NotFoundError):
        storage.open(stored.id)
    with pytest.raises(NotFoundError):
        storage.info(stored.id)


def test_refused_uploads_leave_nothing_behind(storage):
    with pytest.raises(FileRefused) as too_big:
        storage.put(io.BytesIO(PNG * 100), "big.png", limit_bytes=1000)
    assert too_big.value.code == "file.too_large"
    with pytest.raises(FileRefused):
        storage.put(io.BytesIO(b"MZ\x90\x00" + bytes(100)), "setup.png", limit_bytes=MIB)  # an executable


def test_ids_that_are_not_ours_are_simply_not_found(storage):
    for probe in ("../../etc/passwd", "0" * 31, "G" * 32, ""):
        assert not storage.exists(probe)
        with pytest.raises(NotFoundError):
            storage.open(probe)


def test_two_sites_sharing_a_bucket_keep_apart_by_prefix(s3_endpoint, tmp_path):
    base = f"s3://AKIDTEST:secret@shared-bucket/{{}}?endpoint={s3_endpoint}"
    one, other = S3Storage.from_url(base.format("one")), S3Storage.from_url(base.format("other"))
    one.create_bucket()
    stored = one.put(io.BytesIO(PNG), "x.png", limit_bytes=MIB)
    assert one.exists(stored.id) and not other.exists(stored.id)


def test_files_go_to_s3_when_configured_and_to_the_home_folder_otherwise(tmp_path):
    assert isinstance(storage_for(load_settings({"GONGDAN_HOME": str(tmp_path)})), LocalStorage)
    settings = load_settings({"GONGDAN_FILES_URL": "s3://AK:SK@b/p?endpoint=https://s3.example.cn"})
    assert "SK" not in repr(settings) and "SK" not in repr(storage_for(settings).where)


def test_a_bad_files_url_says_what_is_wrong():
    for url, hint in [
        ("s3://b/p?endpoint=https://x", "ACCESS_KEY"),
        ("s3://AK:SK@b/p", "endpoint"),
        ("ftp://AK:SK@b/p?endpoint=https://x", "s3://"),
    ]:
        with pytest.raises(InputError) as bad:
            parse_url(url)
        assert hint in bad.value.message("en") and "GONGDAN_FILES_URL" in bad.value.message("en")


def test_an_unreachable_store_fails_clearly(tmp_path):
    store = S3Storage.from_url("s3://AK:SK@b/p?endpoint=http://127.0.0.1:1")
    with pytest.raises(StoreFailed) as failed:
        store.put(io.BytesIO(PNG), "x.png", limit_bytes=MIB)
    assert failed.value.http_status == 502 and "GONGDAN_FILES_URL" in failed.value.message("en")


def test_signatures_match_the_published_aws_sigv4_example():
    # "GET Object" in AWS's Signature Version 4 documentation for S3.
    headers = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        hashlib.sha256(b"").hexdigest(),
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
