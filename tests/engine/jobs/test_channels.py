"""The webhook channel against a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pytest_httpserver import HTTPServer

from engine.jobs.channels import CHANNELS, DeliveryError, send_webhook


def test_the_webhook_channel_is_registered():
    assert CHANNELS["webhook"] is send_webhook


def test_a_webhook_posts_the_body_as_json_signed_with_the_secret(httpserver: HTTPServer):
    httpserver.expect_request("/in", method="POST").respond_with_data("", status=204)
    body = {"ticket": {"number": "TS-1"}, "text": "退款未到账"}
    send_webhook({"url": httpserver.url_for("/in"), "secret": "k", "body": body}, "webhook:crm:1:1", 5)
    ((request, _),) = httpserver.log
    raw = request.get_data()
    assert json.loads(raw) == body
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "webhook:crm:1:1"
    assert request.headers["User-Agent"] == "Gongdan"
    expected = hmac.new(b"k", raw, hashlib.sha256).hexdigest()
    assert request.headers["X-Gongdan-Signature"] == f"sha256={expected}"


def test_a_key_naming_a_chinese_rule_is_sent_percent_encoded_the_same_every_time(httpserver: HTTPServer):
    # Outbox keys carry the rule's name; an HTTP header carries ASCII only.
    httpserver.expect_request("/in", method="POST").respond_with_data("", status=204)
    key = "webhook:P1 投诉通知运维:7:3"
    for _ in range(2):  # a retry sends the same header
        send_webhook({"url": httpserver.url_for("/in"), "secret": None, "body": {}}, key, 5)
    sent = [request.headers["Idempotency-Key"] for request, _ in httpserver.log]
    assert sent == ["webhook:P1 %E6%8A%95%E8%AF%89%E9%80%9A%E7%9F%A5%E8%BF%90%E7%BB%B4:7:3"] * 2


def test_a_webhook_without_a_secret_is_not_signed(httpserver: HTTPServer):
    httpserver.expect_request("/in", method="POST").respond_with_data("ok")
    send_webhook({"url": httpserver.url_for("/in"), "secret": None, "body": {}}, "k1", 5)
    ((request, _),) = httpserver.log
    assert "X-Gongdan-Signature" not in request.headers


def test_a_refusal_names_the_status_and_the_start_of_the_answer(httpserver: HTTPServer):
    httpserver.expect_request("/in", method="POST").respond_with_data("x" * 1000, status=502)
    with pytest.raises(DeliveryError) as err:
        send_webhook({"url": httpserver.url_for("/in"), "body": {}}, "k1", 5)
    assert err.value.reason == "HTTP 502: " + "x" * 200
    assert err.value.permanent is False


def test_a_redirect_is_not_followed_and_counts_as_a_failure(httpserver: HTTPServer):
    httpserver.expect_request("/in", method="POST").respond_with_data(
        "", status=302, headers={"Location": "/x"}
    )
    with pytest.raises(DeliveryError) as err:
        send_webhook({"url": httpserver.url_for("/in"), "body": {}}, "k1", 5)
    assert err.value.reason.startswith("HTTP 302") and not err.value.permanent


def test_a_malformed_url_is_a_permanent_failure():
    with pytest.raises(DeliveryError) as err:
        send_webhook({"url": "ftp://example.invalid/hook", "body": {}}, "k1", 5)
    assert err.value.permanent is True
