"""What operators watch: /metrics after real requests, JSON request logs, /readyz and /healthz."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from engine.bootstrap import open_platform
from engine.config import load_settings
from engine.store import migrate
from engine.store.models import Outbox, Record, Timer
from engine.store.types import utcnow
from server import create_app
from tests.server.conftest import Web
from tests.support import complaint_form

ELSEWHERE = {"REMOTE_ADDR": "10.9.8.7"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client, **kwargs) -> str:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.text
    assert answer.content_type.startswith("text/plain")
    return answer.text


# ----------------------------------------------------------------------------- /metrics
def test_metrics_count_requests_by_route_and_status_with_latency(web):
    site = web.anonymous()
    before = scrape(site)
    key = {"method": "GET", "endpoint": "/api/v1/apps/<key>"}
    for _ in range(3):
        assert site.get("/api/v1/apps/nope").status_code in (401, 404)
    status = str(site.get("/api/v1/apps/nope").status_code)
    after = scrape(site)
    got = value(after, "gongdan_http_requests_total", status=status, **key)
    assert got - value(before, "gongdan_http_requests_total", status=status, **key) == 4
    count = value(after, "gongdan_http_request_duration_seconds_count", **key)
    assert count - value(before, "gongdan_http_request_duration_seconds_count", **key) == 4
    assert value(after, "gongdan_http_request_duration_seconds_bucket", le="+Inf", **key) >= 4


def test_metrics_show_command_latency_queue_depth_outbox_lag_and_due_sla_timers(web):
    site = web.anonymous()
    before = scrape(site)
    ticket = web.runtime.submit(
        "complaint", "complaint", complaint_form(web.runtime.definition("complaint")[1])
    )
    old = utcnow() - dt.timedelta(minutes=5)
    with web.db.write() as conn:
        conn.execute(
            insert(Outbox),
            {"idempotency_key": "lagging", "record_id": ticket.id, "channel": "webhook",
             "payload": {}, "next_attempt_at": old, "created_at": old},
        )  # fmt: skip
        conn.execute(
            insert(Timer),
            {"record_id": ticket.id, "kind": "sla", "due_at": old, "payload": {}, "created_at": old},
        )
    after = scrape(site)
    submits = value(after, "gongdan_command_duration_seconds_count", command="submit", outcome="ok")
    assert (
        submits - value(before, "gongdan_command_duration_seconds_count", command="submit", outcome="ok") == 1
    )
    assert value(after, "gongdan_outbox_rows", status="pending") >= 1
    assert value(after, "gongdan_outbox_lag_seconds") >= 299
    assert value(after, "gongdan_sla_timers_due") == 1
    assert value(after, "gongdan_timers_due", kind="sla") == 1


def test_metrics_count_rule_errors_by_app(web):
    definition = web.runtime.definition("complaint")[1]
    definition["ticket_types"]["complaint"].setdefault("rules", []).append(
        {"name": "broken sum", "on": "created", "if": "sum(customer) > 1", "do": [{"comment": "'never'"}]}
    )
    web.runtime.publish(definition)
    before = value(scrape(web.anonymous()), "gongdan_rule_errors_total", app="complaint")
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(definition))
    assert "rule_failed" in {e["type"] for e in web.runtime.events(ticket.id)}
    after = value(scrape(web.anonymous()), "gongdan_rule_errors_total", app="complaint")
    assert after - before == 1


def test_metrics_are_refused_to_other_machines_and_behind_a_proxy_unless_admin(web):
    refused = web.anonymous().get("/metrics", environ_base=ELSEWHERE)
    assert refused.status_code == 403 and "GONGDAN_METRICS_TOKEN" in refused.text
    proxied = web.anonymous().get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert web.client("admin").get("/metrics", environ_base=ELSEWHERE).status_code == 200
    web.user("ann")
    assert web.client("ann").get("/metrics", environ_base=ELSEWHERE).status_code == 403


@pytest.fixture
def token_site(database_url, tmp_path, complaint_app) -> Iterator[Web]:
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_METRICS_TOKEN": "scrape-me-42"}
    )
    platform = open_platform(settings, immediate=True)
    yield Web(platform)
    platform.close()


def test_a_configured_metrics_token_lets_a_scraper_in_and_closes_loopback(token_site):
    site = token_site.anonymous()
    ok = site.get("/metrics", headers={"Authorization": "Bearer scrape-me-42"}, environ_base=ELSEWHERE)
    assert ok.status_code == 200 and "gongdan_outbox_rows" in ok.text
    assert site.get("/metrics").status_code == 403  # loopback alone is no longer enough
    wrong = site.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401


# ----------------------------------------------------------------------------- JSON logs
@pytest.fixture
def json_site(database_url, tmp_path, complaint_app) -> Iterator[tuple[Web, io.StringIO]]:
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LOG_FORMAT": "json"}
    )
    platform = open_platform(settings, immediate=True)
    site = Web(platform)
    site.user("admin", admin=True)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_gongdan", False))
    out = io.StringIO()
    old = handler.setStream(out)
    yield site, out
    handler.setStream(old)
    logging.getLogger().removeHandler(handler)
    platform.close()


def test_json_log_has_one_line_per_request_with_its_id_and_no_secrets(json_site):
    site, out = json_site
    client = site.client("admin")  # signs in: the password goes in a body, the session in a cookie
    token = site.token("admin")
    answer = client.get(
        "/api/v1/apps?access_token=leaky-query-secret",
        headers={**token, "X-Request-Id": "req-abc-123"},
    )
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == "req-abc-123"
    fresh = client.get("/api/v1/apps")
    generated = fresh.headers["X-Request-Id"]
    assert len(generated) == 32

    text = out.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [x for x in lines if x["logger"] == "gongdan.request"]
    mine = next(x for x in requests if x["request_id"] == "req-abc-123")
    assert mine["method"] == "GET" and mine["path"] == "/api/v1/apps" and mine["status"] == 200
    assert mine["level"] == "info" and mine["duration_ms"] >= 0
    assert mine["user_id"] == site.id("admin")
    assert dt.datetime.fromisoformat(mine["time"]).tzinfo is not None
    assert any(x["request_id"] == generated for x in requests)
    login = next(x for x in requests if x["path"] == "/api/v1/auth/login")
    assert login["status"] == 200
    for secret in ("pw-admin", token["Authorization"][7:], "leaky-query-secret", client.csrf):
        assert secret not in text
    cookie = client.get_cookie("gongdan_session")
    assert cookie is not None and cookie.value not in text


def test_a_request_id_that_is_not_an_id_is_replaced(json_site):
    site, _ = json_site
    answer = site.anonymous().get("/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert answer.headers["X-Request-Id"] != "bad id <script>" and len(answer.headers["X-Request-Id"]) == 32


# ----------------------------------------------------------------------------- /readyz and /healthz
def test_readyz_is_ready_when_database_schema_and_queue_answer(web):
    answer = web.anonymous().get("/readyz")
    assert answer.status_code == 200, answer.json
    checks = answer.json["checks"]
    assert answer.json["status"] == "ready"
    assert checks["database"]["ok"] and checks["migrations"]["current"] == checks["migrations"]["head"]
    assert checks["queue"]["ok"]


def test_readyz_fails_clearly_when_the_database_is_unreachable(tmp_path):
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"}
    )
    platform = open_platform(settings, immediate=True)
    answer = create_app(platform).test_client().get("/readyz?lang=en")
    platform.close()
    assert answer.status_code == 503 and answer.json["status"] == "not_ready"
    database = answer.json["checks"]["database"]
    assert database["ok"] is False and database["error"] == "OperationalError"
    assert "DATABASE_URL" in database["message"] and "pw" not in json.dumps(answer.json)
    assert answer.json["checks"]["queue"]["ok"]  # the SQLite queue beside it still answers


def test_readyz_asks_for_gongdan_migrate_when_the_schema_is_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0009")
    platform = open_platform(
        load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": url}), immediate=True
    )
    answer = create_app(platform).test_client().get("/readyz?lang=en")
    platform.close()
    assert answer.status_code == 503
    behind = answer.json["checks"]["migrations"]
    assert behind["ok"] is False and behind["current"] == "0009"
    assert "gongdan migrate" in behind["message"]


def test_readyz_fails_clearly_when_the_queue_is_unreachable(database_url, tmp_path):
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    platform = open_platform(settings)  # a real Redis queue (immediate mode keeps tasks in memory)
    answer = create_app(platform).test_client().get("/readyz?lang=zh")
    platform.close()
    assert answer.status_code == 503
    queue = answer.json["checks"]["queue"]
    assert queue["ok"] is False and "REDIS_URL" in queue["message"]
    assert answer.json["checks"]["database"]["ok"]


def test_healthz_stays_a_cheap_liveness_probe(web):
    answer = web.anonymous().get("/healthz")
    assert answer.status_code == 200 and answer.json["status"] == "ok"
    with web.db.read() as conn:
        assert conn.execute(select(Record.id)).first() is None


# ----------------------------------------------------------------------------- many processes
def test_metrics_of_all_gunicorn_workers_add_up_in_multiprocess_mode(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    url = f"sqlite:///{tmp_path / 'gongdan.db'}"
    migrate(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "GONGDAN_HOME": str(tmp_path),
        "DATABASE_URL": url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base + "/healthz"):  # poll until gunicorn answers
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        for _ in range(40):  # new connections: the two workers share them
            assert httpx.get(base + "/readyz", timeout=10).status_code == 200
        text = httpx.get(base + "/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=30)
    served = value(text, "gongdan_http_requests_total", method="GET", endpoint="/readyz", status="200")
    assert served == 40
    assert len(list(metrics_dir.glob("*.db"))) >= 2  # both workers wrote their figures


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
