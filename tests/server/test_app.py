"""The web skeleton: health, JSON errors in the caller's language, the published schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine.bootstrap import open_platform
from engine.config import load_settings
from server import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(web):
    return web.client("admin")


def test_healthz_answers_ok_when_the_database_answers(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json["status"] == "ok"
    assert answer.json["database"] in ("sqlite", "postgresql")


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path):
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    platform = open_platform(settings, immediate=True)
    answer = create_app(platform).test_client().get("/healthz")
    platform.close()
    assert answer.status_code == 503 and answer.json["status"] == "error"


def test_api_errors_are_json_in_the_callers_language(client):
    zh = client.get("/api/v1/apps/nope", headers={"Accept-Language": "zh-CN"})
    en = client.get("/api/v1/apps/nope?lang=en")
    assert zh.status_code == en.status_code == 404
    assert zh.json["code"] == en.json["code"] == "runtime.unknown_app"
    assert "不存在" in zh.json["message"]
    assert "does not exist" in en.json["message"] and "gongdan import" in en.json["message"]


def test_unknown_address_is_a_json_404(client):
    answer = client.get("/api/v1/nothing-here?lang=en")
    assert answer.status_code == 404 and answer.json["code"] == "http.404"


def test_apps_and_their_definitions_are_listed(client):
    apps = client.get("/api/v1/apps").json["items"]
    assert [a["key"] for a in apps] == ["complaint"]
    one = client.get("/api/v1/apps/complaint").json
    assert one["version"] == 1 and one["definition"]["app"] == "complaint"


def test_the_definition_schema_is_published(client):
    schema = client.get("/api/v1/schemas/app.json").json
    assert schema["$schema"].endswith("2020-12/schema")
    assert "ticket_types" in schema["properties"]


def test_validate_endpoint_lists_problems_with_paths(client):
    good = client.get("/api/v1/apps/complaint").json["definition"]
    assert client.post("/api/v1/apps/validate", json=good).json == {"valid": True}
    bad = dict(good, colour="red")
    answer = client.post("/api/v1/apps/validate?lang=en", json=bad)
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["colour"]
    garbage = client.post("/api/v1/apps/validate", data="not json", content_type="application/json")
    assert garbage.status_code == 400 and garbage.json["code"] == "api.not_json"
    as_text = client.post("/api/v1/apps/validate", data="{}", content_type="text/plain")
    assert as_text.status_code == 415 and as_text.json["code"] == "http.415"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gongdan_serve_answers_health_through_gunicorn(tmp_path):
    port = _free_port()
    env = dict(os.environ, GONGDAN_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    gongdan = [sys.executable, "-m", "engine.cli"]
    subprocess.run([*gongdan, "init"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*gongdan, "serve", "--port", str(port), "--workers", "1"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # gunicorn says when it listens; no polling, no sleeps
            if "Booting worker" in line:
                break
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        assert "gunicorn" in answer.headers.get("server", "")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_landing_page_lists_published_apps_in_the_chosen_language(web):
    visitor = web.anonymous()  # signed-in people go on to their portal or inbox
    zh = visitor.get("/?lang=zh").get_data(as_text=True)
    en = visitor.get("/?lang=en").get_data(as_text=True)
    assert "客户投诉" in zh and "已发布的应用" in zh
    assert "Customer complaint" in en and "Published apps" in en
    assert 'href="/api/v1/apps/complaint"' in en


def test_each_ticket_type_publishes_the_json_schema_of_its_form(client):
    from jsonschema import Draft202012Validator

    schema = client.get("/api/v1/apps/complaint/ticket_types/complaint/schema.json?lang=en").json
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["customer"]["title"] == "Customer"
    assert "customer" in schema["required"]
    assert client.get("/api/v1/apps/complaint/ticket_types/nope/schema.json").status_code == 404


def test_a_wrong_method_says_which_methods_are_allowed(client):
    answer = client.delete("/api/v1/apps")
    assert answer.status_code == 405 and "GET" in answer.headers["Allow"]
    assert answer.json["code"] == "http.405"
