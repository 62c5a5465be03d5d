"""The inbound endpoint over HTTP: the signed JSON webhook, DingTalk's outgoing robot and Feishu's event
callback each become tickets; unsigned, forged, replayed and oversized requests are refused."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from engine.bootstrap import open_platform
from engine.config import load_settings
from engine.definitions.source import read_source
from engine.rules.inbound import MAX_BODY_BYTES
from server import create_app
from tests.conftest import APPS

SECRET = "inbound-s3cret"
DINGTALK_SECRET = "SEC-dingtalk-app-secret"
FEISHU_TOKEN = "feishu-verification-token"
HOOK = "/api/v1/inbound/complaint/webhook"


@pytest.fixture
def client(database_url, tmp_path, complaint_app, monkeypatch):
    monkeypatch.setenv("GONGDAN_INBOUND_SECRET", SECRET)
    monkeypatch.setenv("GONGDAN_INBOUND_DINGTALK_SECRET", DINGTALK_SECRET)
    monkeypatch.setenv("GONGDAN_INBOUND_FEISHU_TOKEN", FEISHU_TOKEN)
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url})
    platform = open_platform(settings)  # outbox rows wait in the queue: nothing is delivered here
    yield create_app(platform).test_client()
    platform.close()


def call_centre_message(**overrides: Any) -> dict[str, Any]:
    body = {
        "timestamp": int(time.time()),
        "message_id": "cc-20261201-0007",
        "sender": {"name": "ACME 有限公司", "phone": "13800138000"},
        "subject": "发票开错了",
        "text": "客户来电：发票抬头开错,需要重开。",
    }
    body.update(overrides)
    return body


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and the headers a sender adds: HMAC-SHA256 of exactly those bytes, as documented."""
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Gongdan-Signature": f"sha256={signature}"}


def test_a_signed_webhook_call_creates_a_ticket_once(client):
    raw, headers = signed(call_centre_message())
    first = client.post(HOOK, data=raw, headers=headers)
    assert first.status_code == 201, first.json
    assert first.json["created"] and first.json["number"].startswith("TS-")
    again = client.post(HOOK, data=raw, headers=headers)  # the sender retried: same ticket, nothing new
    assert again.status_code == 200
    assert again.json == {**first.json, "created": False}


def test_an_unsigned_call_is_refused_in_the_callers_language(client):
    raw, _ = signed(call_centre_message())
    zh = client.post(HOOK, data=raw, headers={"Accept-Language": "zh-CN"})
    en = client.post(HOOK + "?lang=en", data=raw)
    assert zh.status_code == en.status_code == 401
    assert zh.json["code"] == en.json["code"] == "inbound.no_signature"
    assert "签名" in zh.json["message"] and "X-Gongdan-Signature" in en.json["message"]


def test_a_forged_or_altered_call_is_refused(client):
    raw, headers = signed(call_centre_message(), secret="not-the-secret")
    forged = client.post(HOOK + "?lang=en", data=raw, headers=headers)
    assert forged.status_code == 401 and forged.json["code"] == "inbound.bad_signature"
    assert "GONGDAN_INBOUND_SECRET" in forged.json["message"] and SECRET not in forged.json["message"]
    raw, headers = signed(call_centre_message())
    altered = client.post(HOOK, data=raw.replace("重开".encode(), "退款".encode()), headers=headers)
    assert altered.status_code == 401 and altered.json["code"] == "inbound.bad_signature"


def test_a_call_stamped_more_than_five_minutes_away_is_refused_as_a_replay(client):
    for stamp in (int(time.time()) - 301, int(time.time()) + 600):
        raw, headers = signed(call_centre_message(timestamp=stamp))
        answer = client.post(HOOK + "?lang=en", data=raw, headers=headers)
        assert answer.status_code == 401 and answer.json["code"] == "inbound.stale"
        assert "replay" in answer.json["message"]
    raw, headers = signed(call_centre_message(timestamp="yesterday"))
    assert client.post(HOOK, data=raw, headers=headers).json["code"] == "inbound.bad_timestamp"


def test_a_body_over_one_megabyte_is_refused_with_413(client):
    raw, headers = signed(call_centre_message(text="长" * (MAX_BODY_BYTES // 3 + 10)))
    answer = client.post(HOOK + "?lang=en", data=raw, headers=headers)
    assert answer.status_code == 413 and answer.json["code"] == "inbound.too_large"


def test_without_a_configured_secret_every_call_is_refused(client, monkeypatch):
    monkeypatch.delenv("GONGDAN_INBOUND_SECRET")
    raw, headers = signed(call_centre_message())
    answer = client.post(HOOK + "?lang=en", data=raw, headers=headers)
    assert answer.status_code == 401 and answer.json["code"] == "inbound.not_configured"
    assert "GONGDAN_INBOUND_SECRET" in answer.json["message"]


def test_a_message_the_form_rejects_names_the_field(client):
    raw, headers = signed(call_centre_message(sender={"name": "无名"}))
    answer = client.post(HOOK + "?lang=en", data=raw, headers=headers)
    assert answer.status_code == 422 and [p["path"] for p in answer.json["problems"]] == ["phone"]


def test_an_unknown_channel_is_a_404(client):
    assert client.post("/api/v1/inbound/complaint/sms", data=b"{}").status_code == 404


# ----------------------------------------------------------------------------- DingTalk
def dingtalk_headers(stamp_ms: int, secret: str = DINGTALK_SECRET) -> dict[str, str]:
    """DingTalk's documented signature: Base64(HmacSHA256(key=appSecret, timestamp + "\\n" + appSecret))."""
    digest = hmac.new(secret.encode(), f"{stamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(stamp_ms), "sign": base64.b64encode(digest).decode()}


def dingtalk_body(stamp_ms: int) -> dict[str, Any]:
    return {
        "msgtype": "text",
        "text": {"content": " 客户 13600136000 投诉快递三天没动 "},
        "msgId": "msgA1b2C3==",
        "createAt": stamp_ms,
        "conversationType": "2",
        "conversationId": "cid6KeBBLoveMJOGXoYKF5x7EeiodoA==",
        "conversationTitle": "客服一组",
        "senderId": "$:LWCP_v1:$ABC",
        "senderNick": "李雷",
        "senderStaffId": "manager4220",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "isInAtList": True,
    }


def test_a_dingtalk_robot_message_becomes_a_ticket_and_the_robot_answers_with_its_number(client):
    stamp = int(time.time() * 1000)
    answer = client.post(
        "/api/v1/inbound/complaint/dingtalk?to=complaints",
        json=dingtalk_body(stamp),
        headers={**dingtalk_headers(stamp), "Accept-Language": "zh-CN"},
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["msgtype"] == "text"
    assert answer.json["text"]["content"].startswith("已受理,工单号 TS-")


def test_a_dingtalk_call_with_a_wrong_sign_or_an_old_timestamp_is_refused(client):
    stamp = int(time.time() * 1000)
    url = "/api/v1/inbound/complaint/dingtalk?to=complaints"
    forged = client.post(url, json=dingtalk_body(stamp), headers=dingtalk_headers(stamp, "guess"))
    assert forged.status_code == 401 and forged.json["code"] == "inbound.bad_signature"
    old = stamp - 10 * 60 * 1000
    stale = client.post(url, json=dingtalk_body(old), headers=dingtalk_headers(old))
    assert stale.status_code == 401 and stale.json["code"] == "inbound.stale"
    unsigned = client.post(url, json=dingtalk_body(stamp))
    assert unsigned.status_code == 401 and unsigned.json["code"] == "inbound.no_signature"


# ----------------------------------------------------------------------------- Feishu
@pytest.fixture
def feishu_app(runtime, complaint_app):
    """The complaint app with an entry for messages sent to its Feishu bot."""
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    data["inbound"].append(
        {
            "channel": "feishu",
            "ticket_type": "complaint",
            "fields": {
                "customer": "coalesce(message.sender.name, message.sender.im_id)",
                "phone": "message.phones[0]",
                "summary": "message.title",
                "product": "['phone', 'screen']",
                "category": "'quality'",
            },
        }
    )
    runtime.publish(data)


def feishu_event(message_id: str, text: str, parent_id: str | None = None) -> dict[str, Any]:
    message = {
        "message_id": message_id,
        "chat_id": "oc_5ad11d72b830411d72b836c20",
        "chat_type": "group",
        "message_type": "text",
        "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
        "create_time": str(int(time.time() * 1000)),
    }
    if parent_id:
        message["parent_id"] = parent_id
    return {
        "schema": "2.0",
        "header": {
            "event_id": f"ev-{message_id}",
            "token": FEISHU_TOKEN,
            "create_time": str(int(time.time() * 1000)),
            "event_type": "im.message.receive_v1",
            "tenant_key": "2ca1d211f64f6438",
            "app_id": "cli_a1b2c3",
        },
        "event": {
            "sender": {
                "sender_id": {"union_id": "on_8ed6aa", "user_id": "e33ggbyz", "open_id": "ou_84aad35d"},
                "sender_type": "user",
                "tenant_key": "2ca1d211f64f6438",
            },
            "message": message,
        },
    }


def test_the_feishu_url_check_is_answered_with_its_challenge(client):
    check = {"challenge": "ajls384kdjx98XX", "token": FEISHU_TOKEN, "type": "url_verification"}
    answer = client.post("/api/v1/inbound/complaint/feishu", json=check)
    assert answer.status_code == 200 and answer.json == {"challenge": "ajls384kdjx98XX"}
    wrong = client.post("/api/v1/inbound/complaint/feishu", json={**check, "token": "guess"})
    assert wrong.status_code == 401 and wrong.json["code"] == "inbound.bad_token"


def test_a_feishu_message_becomes_a_ticket_and_a_reply_to_it_a_comment(client, feishu_app):
    url = "/api/v1/inbound/complaint/feishu"
    first = client.post(
        url, json=feishu_event("om_dc13264520392913993dd051dba21dcf", "13500135000 的屏幕碎了")
    )
    assert first.status_code == 201 and first.json["created"]
    reply = client.post(
        url, json=feishu_event("om_second", "照片已补充", parent_id="om_dc13264520392913993dd051dba21dcf")
    )
    assert reply.status_code == 200 and reply.json["commented"]
    assert reply.json["record_id"] == first.json["record_id"]
    forged = feishu_event("om_third", "x")
    forged["header"]["token"] = "guess"
    assert client.post(url, json=forged).status_code == 401


def test_feishu_events_other_than_messages_are_acknowledged_and_encrypted_ones_explained(client):
    url = "/api/v1/inbound/complaint/feishu?lang=en"
    other = feishu_event("om_x", "hi")
    other["header"]["event_type"] = "im.chat.member.user.added_v1"
    assert client.post(url, json=other).json == {"ignored": "im.chat.member.user.added_v1"}
    encrypted = client.post(url, json={"encrypt": "FIAfJPGRmFZWkaxPQ1XrJZVbv2JwdjfLk4jx0k"})
    assert encrypted.status_code == 400 and "Encrypt Key" in encrypted.json["message"]
