"""Path traversal in attachments and imports, YAML bombs and oversized imports: a hostile file id or
file name never reads or writes outside the files folder; a billion-laughs YAML, a deeply nested one
and one larger than the limit are refused with a clear 4xx in bounded time and memory."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.security.conftest import PNG
from tests.security.tally import TRIED

BAD_IDS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "00/00/../../../etc/passwd",
    "0" * 32 + "/../../../etc/passwd",
    "0" * 31 + "\x00",
    "a" * 2000,
    "~root/.ssh/id_rsa",
    "%00",
    ".tmp",
    "..",
]
BAD_NAMES = [
    "../../../../tmp/gongdan-h7-evil.png",
    "..\\..\\..\\tmp\\gongdan-h7-evil.png",
    "/tmp/gongdan-h7-evil.png",
    "C:\\Windows\\gongdan-h7-evil.png",
    "\x00gongdan-h7-evil.png",
    "gongdan-h7-evil.png\x00.exe",
    ".\u202egnp.exe",
    "con.png",
    "." * 300 + ".png",
]


def upload(client: Any, content: bytes, name: str, path: str = "/api/v1/attachments") -> Any:
    return client.post(path, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_hostile_file_ids_read_nothing_outside_the_files_folder(web: Any) -> None:
    admin = web.client("admin")
    for bad in BAD_IDS:
        for path in (f"/api/v1/attachments/{quote(bad, safe='')}", f"/api/v1/attachments/{bad}"):
            answer = admin.get(path)
            TRIED["path traversal (file ids and names)"] += 1
            assert answer.status_code in (400, 404, 405), (bad, answer.status_code)
            assert b"root:" not in answer.data


def test_hostile_file_names_are_kept_as_names_inside_the_files_folder(web: Any) -> None:
    admin = web.client("admin")
    files = web.platform.settings.home / "files"
    for name in BAD_NAMES:
        answer = upload(admin, PNG, name)
        TRIED["path traversal (file ids and names)"] += 1
        assert answer.status_code in (201, 400, 415), (name, answer.status_code)
        if answer.status_code == 201:
            kept = answer.json["name"]
            assert "/" not in kept and "\\" not in kept and "\x00" not in kept and ".." not in kept.strip(".")
    assert not Path("/tmp/gongdan-h7-evil.png").exists()
    stored = [p for p in files.rglob("*") if p.is_file()]
    assert all(files in p.parents for p in stored)


def test_hostile_names_in_a_ticket_import_write_nothing_outside(web: Any) -> None:
    admin = web.client("admin")
    csv = "客户名称,问题摘要\nACME,hello\n".encode()
    for name in BAD_NAMES[:4]:
        answer = upload(admin, csv, name.replace(".png", ".csv"), "/api/v1/imports/complaint/complaint")
        TRIED["path traversal (imports)"] += 1
        assert answer.status_code < 500, (name, answer.status_code)
    assert not Path("/tmp/gongdan-h7-evil.csv").exists()


BILLION_LAUGHS = "\n".join(
    ["a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
       f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]
    + ["app: bomb", "name: Bomb", "ticket_types: {}"]
)  # fmt: skip
DEEP = "app: deep\nname: Deep\nx: " + "[" * 5000 + "]" * 5000 + "\nticket_types: {}\n"
MERGE_BOMB = "base: &b {k: v}\n" + "\n".join(f"m{i}: {{<<: *b}}" for i in range(200)) + "\napp: m\n"
PYTHON_TAGS = "app: !!python/object/apply:os.system ['touch /tmp/gongdan-h7-pwned']\nname: x\n"


@pytest.mark.parametrize(
    "source", [BILLION_LAUGHS, DEEP, MERGE_BOMB, PYTHON_TAGS], ids=["billion-laughs", "deep", "merge", "tags"]
)
def test_yaml_bombs_are_refused_with_a_clear_answer(web: Any, source: str) -> None:
    admin = web.client("admin")
    for dry in ("true", "false"):
        answer = upload(admin, source.encode(), "bomb.yaml", f"/api/v1/admin/apps/import?dry_run={dry}")
        TRIED["yaml bombs and oversized imports"] += 1
        assert answer.status_code in (400, 413, 422), answer.status_code
        assert answer.json["message"]
    assert not Path("/tmp/gongdan-h7-pwned").exists()
    with web.db.read() as conn:
        from sqlalchemy import select

        from engine.store.models import App

        assert conn.execute(select(App.key).where(App.key.in_(["bomb", "deep", "m"]))).first() is None


def test_oversized_imports_are_refused_before_they_are_parsed(web: Any) -> None:
    admin = web.client("admin")
    big = ("app: big\nname: Big\nticket_types: {}\n# " + "x" * (6 * 1024 * 1024)).encode()
    answer = upload(admin, big, "big.yaml", "/api/v1/admin/apps/import")
    TRIED["yaml bombs and oversized imports"] += 1
    assert answer.status_code in (413, 422), answer.status_code
    if answer.status_code == 422:
        assert [p["code"] for p in answer.json["problems"]] == ["source.too_large"]
    web.app.config["GONGDAN_IMPORT_MAX_BYTES"] = 16 * 1024 * 1024  # sheets have their own limit (256 MiB)
    huge = b"x" * (17 * 1024 * 1024)  # over the import's limit
    answer = upload(admin, huge, "huge.csv", "/api/v1/imports/complaint/complaint")
    TRIED["yaml bombs and oversized imports"] += 1
    assert answer.status_code == 413
    answer = admin.post("/api/v1/apps/validate", json={"app": "x", "name": "y" * (6 * 1024 * 1024)})
    TRIED["yaml bombs and oversized imports"] += 1
    assert answer.status_code in (413, 422)
