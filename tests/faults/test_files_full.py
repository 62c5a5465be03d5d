"""The files folder fills up: uploads are refused with a clear 507 (JSON, what to do), nothing half
written is left behind, the rest of the site keeps working, and uploads work again once space is
freed. The folder is a real 256 KB tmpfs mounted over <GONGDAN_HOME>/files (we run as root)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.files import LocalStorage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(40_000)


@pytest.fixture
def tiny_files_folder(web) -> Iterator[Path]:
    folder = web.platform.settings.home / "files"
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode:
        pytest.fail(f"cannot mount a small tmpfs (root and CAP_SYS_ADMIN are needed): {mounted.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def upload(client, lang: str = "en"):
    return client.post(
        f"/api/v1/attachments?lang={lang}",
        data={"file": (io.BytesIO(PNG), "shot.png")},
        content_type="multipart/form-data",
    )


def test_a_full_files_folder_refuses_uploads_clearly_and_recovers_when_freed(web, tiny_files_folder) -> None:
    admin = web.client("admin")
    kept: list[str] = []
    answer = upload(admin)
    for _ in range(20):  # 256 KB hold six of these 40 KB files at most
        if answer.status_code != 201:
            break
        kept.append(answer.json["id"])
        answer = upload(admin)
    assert kept, "not even one upload fitted"
    assert answer.status_code == 507, answer.json
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json["code"] == "file.storage_full"
    assert "administrator" in answer.json["message"]
    zh = upload(admin, lang="zh")
    assert zh.status_code == 507 and "管理员" in zh.json["message"]

    # nothing half-written is left, the files that were kept are whole
    leftovers = (
        [p for p in (tiny_files_folder / ".tmp").iterdir()] if (tiny_files_folder / ".tmp").exists() else []
    )
    assert leftovers == []
    storage = LocalStorage(tiny_files_folder)
    assert all(storage.info(file_id).size == len(PNG) for file_id in kept)
    # the rest of the site still answers
    assert admin.get("/healthz").status_code == 200
    assert admin.get("/api/v1/tickets").status_code == 200

    for file_id in kept[:2]:  # an administrator frees space
        storage.delete(file_id)
    again = upload(admin)
    assert again.status_code == 201, again.json
    assert admin.get(again.json["url"]).data == PNG
