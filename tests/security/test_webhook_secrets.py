"""An app's webhook secrets live in the write-only store, never in the definition: a signed webhook is
delivered signed with the stored secret, while the secret is absent from the exported YAML, the
diff, the stored versions, the outbox rows, the dead letters, the channel list, the audit log and
every log line; a definition with an inline secret is refused at its path, in both languages; a
secret nobody stored makes the delivery a dead letter, never an unsigned request."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select, update

from engine.definitions.build import build_app
from engine.definitions.source import read_source
from engine.observability import JsonFormatter
from engine.store.models import AppVersion, Outbox
from tests.security.tally import TRIED
from tests.support import complaint_form

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
SECRET = "whsec-Q7pX2mZk9RtL4vN8"
IMPORT = "/api/v1/admin/apps/import"


def with_hooks(*hooks: dict[str, Any]) -> dict[str, Any]:
    """The shipped complaint app, without its rules (so the webhooks are its only effects), plus ``hooks``."""
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    for ticket_type in data["ticket_types"].values():
        ticket_type.pop("rules", None)
    data["webhooks"] = list(hooks)
    return data


@pytest.fixture
def worker_env(web: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process worker reads the site's database (for the stored secret) and may post to the
    local stand-in."""
    monkeypatch.setenv("DATABASE_URL", web.platform.settings.database_url)
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")


def test_a_signed_webhook_is_signed_with_the_stored_secret_which_shows_nowhere(
    web: Any, worker_env: None, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/crm", method="POST").respond_with_data("ok")
    admin = web.client("admin")
    stored = admin.put("/api/v1/admin/channels/hook.crm", json={"url": SECRET})
    assert stored.status_code == 200, stored.json
    assert stored.json["url"] == "***" and stored.json["source"] == "admin"
    definition = with_hooks(
        {"id": "crm", "url": httpserver.url_for("/crm"), "events": ["created"], "secret_ref": "crm"},
        {"id": "lost", "url": httpserver.url_for("/lost"), "events": ["created"], "secret_ref": "nobody_set"},
    )
    published = admin.post(IMPORT, json={"definition": definition})
    assert published.status_code == 200, published.json

    web.user("cathy")
    answer = web.client("cathy").post(
        "/api/v1/apps/complaint/ticket_types/complaint/tickets", json=complaint_form(definition)
    )
    assert answer.status_code == 201, answer.json

    ((request, _),) = httpserver.log  # the unsigned one was never sent
    raw = request.get_data()
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert request.path == "/crm" and request.headers["X-Gongdan-Signature"] == expected
    with web.db.read() as conn:
        rows = {r.idempotency_key.split(":")[1]: r for r in conn.execute(select(Outbox.__table__))}
        versions = [json.dumps(r.definition) for r in conn.execute(select(AppVersion.__table__))]
    assert rows["crm"].status == "sent" and rows["crm"].payload["secret_ref"] == "crm"
    assert rows["lost"].status == "dead"
    assert any(r.name.startswith("http") for r in caplog.records)  # the delivery was logged
    dead = admin.get("/api/v1/admin/outbox/dead").json["items"]
    assert "hook.nobody_set" in dead[0]["last_error"] and "GONGDAN_HOOK_NOBODY_SET" in dead[0]["last_error"]

    places = {
        "logs (as JSON lines)": "\n".join(JsonFormatter().format(r) for r in caplog.records),
        "outbox rows": json.dumps([dict(r._mapping) for r in rows.values()], default=str),
        "stored versions": "\n".join(versions),
        "app export": admin.get("/api/v1/admin/apps/complaint/export").get_data(as_text=True),
        "diff": admin.get("/api/v1/admin/apps/complaint/diff?from=1").get_data(as_text=True),
        "dead letters": json.dumps(dead),
        "channel settings": admin.get("/api/v1/admin/channels").get_data(as_text=True),
        "channels page": admin.get("/admin/channels").get_data(as_text=True),
        "audit": admin.get("/api/v1/admin/audit").get_data(as_text=True),
    }
    TRIED["webhook secret in exports, rows and logs (places)"] += len(places)
    assert [where for where, text in places.items() if SECRET in text] == []
    assert "secret_ref: crm" in places["app export"]
    assert "hook.crm" in places["channels page"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_inline_secret_is_refused_at_its_path_saying_where_to_store_it(web: Any, lang: str) -> None:
    admin = web.client("admin")
    definition = with_hooks(
        {"id": "crm", "url": "https://crm.example.cn/hook", "events": ["created"], "secret": SECRET}
    )
    answer = admin.post(f"{IMPORT}?lang={lang}", json={"definition": definition})
    assert answer.status_code == 422, answer.json
    (problem,) = [p for p in answer.json["problems"] if p["path"] == "webhooks[0].secret"]
    assert "hook.crm" in problem["message"] and "secret_ref: crm" in problem["message"]
    assert "GONGDAN_HOOK_CRM" in problem["message"]
    assert ("管理" in problem["message"]) is (lang == "zh")
    assert SECRET not in answer.get_data(as_text=True)
    assert web.runtime.definition("complaint")[0] == 1  # nothing published


def test_an_admin_stores_a_webhook_secret_from_the_channels_page_and_sees_only_that_it_is_set(
    web: Any,
) -> None:
    admin = web.client("admin")
    csrf, admin.csrf = admin.csrf, ""  # the page's form sends the CSRF field, not the header
    saved = admin.post(
        "/admin/channels", data={"csrf_token": csrf, "name": "hook.", "robot": "crm", "url": SECRET}
    )
    empty = admin.post(
        "/admin/channels?lang=en", data={"csrf_token": csrf, "name": "hook.", "robot": "x", "url": "a b"}
    )
    admin.csrf = csrf
    assert saved.status_code == 303 and empty.status_code == 422
    assert "Enter the signing secret" in empty.get_data(as_text=True)
    page = admin.get("/admin/channels").get_data(as_text=True)
    assert "hook.crm" in page and "GONGDAN_HOOK_CRM" in page and "***" in page
    assert SECRET not in page and SECRET not in admin.get("/admin/audit").get_data(as_text=True)


CRM_TOKEN = "crm-live-Zq81LmN0pW"


def with_crm_call(url: str, authorization: str) -> dict[str, Any]:
    """The complaint app whose one rule calls a CRM on a new ticket, with that Authorization header."""
    definition = with_hooks()
    call = {"url": url, "headers": {"Authorization": authorization}, "timeout_s": 3}
    rule = {"name": "CRM lookup", "on": "created", "do": [{"call": call, "map": {"vip": "response.vip"}}]}
    definition["ticket_types"]["complaint"]["rules"] = [rule]
    return definition


def test_a_call_names_its_credential_which_the_worker_fills_in_from_the_store(
    web: Any, worker_env: None, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGDAN_HOOK_CRM_TOKEN", CRM_TOKEN)
    httpserver.expect_request("/crm", headers={"Authorization": f"Bearer {CRM_TOKEN}"}).respond_with_json(
        {"vip": True}
    )
    admin = web.client("admin")
    definition = with_crm_call(httpserver.url_for("/crm"), "Bearer ${secrets.crm_token}")
    published = admin.post(IMPORT, json={"definition": definition})
    assert published.status_code == 200, published.json
    web.user("cathy")
    answer = web.client("cathy").post(
        "/api/v1/apps/complaint/ticket_types/complaint/tickets", json=complaint_form(definition)
    )
    assert answer.status_code == 201, answer.json

    assert len(httpserver.log) == 1 and httpserver.log[0][1].status_code == 200
    ticket = admin.get(f"/api/v1/tickets/{answer.json['id']}").json
    assert ticket["data"]["vip"] is True  # the answer came back through the authorised call
    with web.db.read() as conn:
        (row,) = conn.execute(select(Outbox.__table__).where(Outbox.channel == "call")).all()
    assert row.payload["headers"] == {"Authorization": "Bearer ${secrets.crm_token}"}
    export = admin.get("/api/v1/admin/apps/complaint/export").get_data(as_text=True)
    assert CRM_TOKEN not in export and CRM_TOKEN not in json.dumps(row.payload)


def test_a_call_whose_credential_is_not_stored_is_a_dead_letter_and_never_sent(
    web: Any, worker_env: None, httpserver: HTTPServer
) -> None:
    admin = web.client("admin")
    definition = with_crm_call(httpserver.url_for("/crm"), "Bearer ${secrets.crm_token}")
    assert admin.post(IMPORT, json={"definition": definition}).status_code == 200
    web.user("cathy")
    web.client("cathy").post(
        "/api/v1/apps/complaint/ticket_types/complaint/tickets", json=complaint_form(definition)
    )
    assert httpserver.log == []
    (dead,) = admin.get("/api/v1/admin/outbox/dead?lang=en").json["items"]
    assert "hook.crm_token" in dead["last_error"] and "GONGDAN_HOOK_CRM_TOKEN" in dead["last_error"]


@pytest.mark.parametrize("value", [f"Bearer {CRM_TOKEN}", "Bearer ${settings.crm_url}"])
def test_a_call_with_a_credential_written_in_its_definition_is_refused(web: Any, value: str) -> None:
    admin = web.client("admin")
    answer = admin.post(
        f"{IMPORT}?lang=en", json={"definition": with_crm_call("https://crm.example.cn", value)}
    )
    assert answer.status_code == 422, answer.json
    (problem,) = answer.json["problems"]
    assert problem["path"] == "ticket_types.complaint.rules[0].do[0].call.headers.Authorization"
    assert (
        "${secrets.authorization}" in problem["message"]
        and "GONGDAN_HOOK_AUTHORIZATION" in problem["message"]
    )
    assert CRM_TOKEN not in answer.get_data(as_text=True)


def test_a_version_stored_with_an_inline_secret_reads_as_a_reference_and_never_shows_it(web: Any) -> None:
    """A database from before this rule: its stored version still holds the secret. It is exported,
    diffed and rolled back to as ``secret_ref: <id>``, and its webhook is signed with hook.<id> only."""
    admin = web.client("admin")
    hook = {"id": "crm", "url": "https://crm.example.cn/hook", "events": ["created"], "secret_ref": "crm"}
    assert admin.post(IMPORT, json={"definition": with_hooks(hook)}).status_code == 200
    legacy = with_hooks({**{k: v for k, v in hook.items() if k != "secret_ref"}, "secret": SECRET})
    legacy.pop("version", None)
    with web.db.write() as conn:
        conn.execute(update(AppVersion.__table__).where(AppVersion.version == 2).values(definition=legacy))

    assert build_app(legacy).webhooks[0].secret_ref == "crm"
    export = admin.get("/api/v1/admin/apps/complaint/export?version=2").get_data(as_text=True)
    diff = admin.get("/api/v1/admin/apps/complaint/diff?from=1&to=2").get_data(as_text=True)
    assert admin.post(IMPORT, json={"definition": with_hooks()}).status_code == 200  # version 3
    rolled = admin.post("/api/v1/admin/apps/complaint/rollback", json={"version": 2})
    assert rolled.status_code == 200 and rolled.json["version"] == 4, rolled.json
    with web.db.read() as conn:
        newest = conn.execute(select(AppVersion.definition).order_by(AppVersion.id.desc())).scalar()
    assert "secret_ref: crm" in export
    assert [where for where, text in {"export": export, "diff": diff, "rollback": json.dumps(newest)}.items()
            if SECRET in text] == []  # fmt: skip
