"""Attachments as people use them: upload a file, put it into a ticket or a comment, download it —
and nobody else's files, no disguised programs, no paths smuggled in through names."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import pytest

from tests.server.test_api_tickets import NEW, as_user, form

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
UPLOAD = "/api/v1/attachments"


@pytest.fixture
def people(web):
    web.user("cathy")
    web.user("dave")
    web.user("ann", roles={"complaint": ["agent"]})
    return web


def upload(client: Any, content: bytes, name: str) -> Any:
    return client.post(UPLOAD, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_the_uploader_downloads_their_file_with_its_name_and_type(people):
    web = people
    cathy = as_user(web, "cathy")
    answer = upload(cathy, PNG, "截图 1.png")
    assert answer.status_code == 201, answer.json
    ref = answer.json
    assert ref["name"] == "截图 1.png" and ref["mime"] == "image/png" and ref["size"] == len(PNG)
    got = cathy.get(ref["url"])
    assert got.status_code == 200
    assert got.data == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('截图 1.png', safe='')}" in disposition
    assert as_user(web, "dave").get(ref["url"]).status_code == 404
    assert as_user(web, "ann").get(ref["url"]).status_code == 404  # not on a ticket yet: the uploader's alone


def test_a_file_on_a_ticket_is_downloadable_by_whoever_may_see_the_ticket(people):
    web = people
    cathy = as_user(web, "cathy")
    ref = upload(cathy, PNG, "screen.png").json
    ticket = cathy.post(NEW, json=form(web, screenshots=[ref]))
    assert ticket.status_code == 201, ticket.json
    assert ticket.json["data"]["screenshots"][0]["id"] == ref["id"]
    assert as_user(web, "ann").get(ref["url"]).data == PNG  # an agent who sees every complaint
    assert as_user(web, "dave").get(ref["url"]).status_code == 404  # another customer


def test_a_file_attached_to_a_comment_follows_the_ticket(people):
    web = people
    cathy = as_user(web, "cathy")
    ticket = cathy.post(NEW, json=form(web)).json
    ref = upload(cathy, b"order SO-1 receipt\n", "receipt.txt").json
    said = cathy.post(
        f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "收据见附件", "attachments": [ref["id"]]}
    )
    assert said.status_code == 201, said.json
    assert said.json["comment"]["attachments"] == [{k: ref[k] for k in ("id", "name", "size", "mime")}]
    got = as_user(web, "ann").get(ref["url"])
    assert got.status_code == 200 and got.data == b"order SO-1 receipt\n"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert as_user(web, "dave").get(ref["url"]).status_code == 404


def test_someone_elses_upload_cannot_be_borrowed_into_a_ticket(people):
    web = people
    theirs = upload(as_user(web, "dave"), PNG, "dave.png").json
    cathy = as_user(web, "cathy")
    answer = cathy.post(NEW, json=form(web, screenshots=[theirs]))
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["screenshots[0]"]
    ticket = cathy.post(NEW, json=form(web)).json
    said = cathy.post(
        f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "看图", "attachments": [theirs["id"]]}
    )
    assert said.status_code == 422
    assert cathy.get(theirs["url"]).status_code == 404
    # A forged reference to one's own upload (a bigger size than it has) is refused too.
    mine = upload(cathy, PNG, "mine.png").json
    forged = cathy.post(NEW, json=form(web, screenshots=[{**mine, "size": 1}]))
    assert forged.status_code == 422
    assert [t["id"] for t in cathy.get("/api/v1/tickets").json["items"]] == [ticket["id"]]


def test_a_program_disguised_as_a_document_is_refused(people):
    web = people
    cathy = as_user(web, "cathy")
    answer = upload(cathy, b"MZ\x90\x00" + b"\x00" * 200, "invoice.pdf")
    assert answer.status_code == 415
    assert answer.json["code"] == "file.executable"
    assert not list((web.platform.settings.home / "files").rglob("*.json"))


def test_a_path_in_the_file_name_is_dropped(people):
    web = people
    cathy = as_user(web, "cathy")
    answer = upload(cathy, b"hello\n", "../../../etc/passwd.txt")
    assert answer.status_code == 201
    assert answer.json["name"] == "passwd.txt"
    assert "etc" not in answer.json["url"]
    windows = upload(cathy, b"hello\n", "..\\..\\boot.ini.txt").json
    assert windows["name"].endswith("boot.ini.txt") and not {"/", "\\"} & set(windows["name"])


def test_too_large_and_malformed_uploads_are_refused(people):
    web = people
    cathy = as_user(web, "cathy")
    web.app.config["GONGDAN_UPLOAD_MAX_BYTES"] = 1024
    try:
        assert upload(cathy, PNG + b"\x00" * 2048, "big.png").status_code == 413
    finally:
        del web.app.config["GONGDAN_UPLOAD_MAX_BYTES"]
    assert cathy.post(UPLOAD, json={"file": "x"}).status_code == 415
    assert cathy.post(UPLOAD, data={"other": "x"}, content_type="multipart/form-data").status_code == 400
    assert upload(cathy, b"", "empty.txt").status_code == 400
    assert cathy.get("/api/v1/attachments/../../etc/passwd").status_code == 404
    assert cathy.get("/api/v1/attachments/0123456789abcdef0123456789abcdef").status_code == 404


def test_a_read_only_token_cannot_upload(people):
    web = people
    client = web.anonymous()
    client.environ_base["HTTP_AUTHORIZATION"] = web.token("cathy", ["read"])["Authorization"]
    assert upload(client, PNG, "x.png").status_code == 403
    assert web.anonymous().get("/api/v1/attachments/0123456789abcdef0123456789abcdef").status_code == 401
