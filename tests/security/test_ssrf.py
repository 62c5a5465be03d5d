"""Server-side request forgery through webhooks and CRM calls: a definition (or an admin) naming a
loopback, private, link-local or otherwise internal address — in any spelling — reaches nothing: a
real server listening on 127.0.0.1 counts zero requests, and the delivery is refused for good with a
reason. The allow-list (GONGDAN_OUTBOUND_ALLOW) admits exactly what it names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from engine.jobs.channels import CHANNELS, DeliveryError
from engine.store.models import Outbox
from tests.security.tally import TRIED

SPELLINGS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://127.1:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://0x7f000001:{port}/hook",
    "http://0177.0.0.1:{port}/hook",
    "http://0:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://[::ffff:7f00:1]:{port}/hook",
    "http://[64:ff9b::7f00:1]:{port}/hook",
    "http://[2002:7f00:1::]:{port}/hook",
    "http://user:pw@127.0.0.1:{port}/hook",
    "http://127.0.0.1:{port}#@example.com/hook",
    "HTTP://127.0.0.1:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_x",
    "ftp://127.0.0.1:{port}/",
]


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGDAN_OUTBOUND_ALLOW", raising=False)


def payloads(url: str) -> dict[str, dict[str, Any]]:
    return {
        "webhook": {"url": url, "body": {"x": 1}},
        "call": {"url": url, "method": "GET", "map": {}},
    }


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_internal_addresses_in_any_spelling_reach_nothing(
    spelling: str, httpserver: HTTPServer, no_allow_list: None
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    url = spelling.format(port=httpserver.port)
    for name, payload in payloads(url).items():
        TRIED["ssrf (webhook and call urls)"] += 1
        with pytest.raises(DeliveryError) as refused:
            CHANNELS[name](payload, "k-1", 3.0)
        assert refused.value.permanent, (name, url, refused.value.reason)
        assert refused.value.reason
    assert httpserver.log == []


def test_the_allow_list_admits_exactly_the_named_address(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")
    httpserver.expect_request("/hook").respond_with_json({"level": "gold"})
    url = f"http://127.0.0.1:{httpserver.port}/hook"
    CHANNELS["webhook"]({"url": url, "body": {"x": 1}}, "k-2", 3.0)
    assert CHANNELS["call"]({"url": url, "method": "GET"}, "k-3", 3.0) == {"level": "gold"}
    assert len(httpserver.log) == 2
    with pytest.raises(DeliveryError):  # localhost resolves to ::1 too; only 127.0.0.1 was named
        CHANNELS["webhook"]({"url": f"http://[::1]:{httpserver.port}/hook", "body": {}}, "k-4", 3.0)


def test_a_webhook_in_a_published_app_to_loopback_goes_dead_and_sends_nothing(
    web: Any, tmp_path: Any, httpserver: HTTPServer, no_allow_list: None
) -> None:
    httpserver.expect_request("/steal").respond_with_data("ok")
    steal = f"http://127.0.0.1:{httpserver.port}/steal"
    definition = {
        "app": "hooky",
        "name": "Hooky",
        "webhooks": [{"id": "out", "url": steal.replace("127.0.0.1", "localhost"), "events": ["created"]}],
        "ticket_types": {
            "t": {
                "name": "T",
                "number": "H-{seq:3}",
                "form": {"sections": [{"fields": [{"key": "s", "type": "text"}]}]},
                "flow": {
                    "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
                    "edges": [["start", "end"]],
                },
                "rules": [{"name": "crm", "on": "created", "do": [
                    {"call": {"url": steal}, "map": {"s": "response.x"}}]}],
            }
        },
    }  # fmt: skip
    path = tmp_path / "hooky.yaml"
    path.write_text(yaml.safe_dump(definition))
    web.runtime.publish(path)
    admin = web.client("admin")
    answer = admin.post("/api/v1/apps/hooky/ticket_types/t/tickets", json={"s": "x"})
    assert answer.status_code == 201, answer.json
    TRIED["ssrf (webhook and call urls)"] += 2
    with web.db.read() as conn:
        rows = conn.execute(select(Outbox.channel, Outbox.status, Outbox.last_error)).all()
    assert {r.channel for r in rows} >= {"webhook", "call"}
    assert all(r.status == "dead" and r.last_error for r in rows), rows
    assert httpserver.log == []
