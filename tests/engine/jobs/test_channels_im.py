"""IM robots (DingTalk, WeCom, Feishu) and SMS (a JSON gateway, Aliyun SendSms) against a real local HTTP
server: fixed signature vectors computed here from the vendors' documented algorithms, the messages
sent, error codes, retries and idempotency through the outbox."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import quote, quote_plus

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import insert
from werkzeug import Request, Response

from engine.jobs.channels import (
    aliyun_signature,
    dingtalk_sign,
    feishu_sign,
    send_dingtalk,
    send_feishu,
    send_sms,
    send_wecom,
)
from engine.jobs.outbound import DeliveryError
from engine.jobs.outbox import backoff, claim, deliver_one, sweep
from engine.store.models import Outbox
from tests.engine.jobs.conftest import T0, outbox_row

CARD = {
    "robot": "ops",
    "title": "工单 IT-000001 即将超时",
    "text": "响应时限已用去 80%,请尽快处理。",
    "link": "http://127.0.0.1:8000/tickets/1",
    "lang": "zh",
    "at_mobiles": [],
}


# ----------------------------------------------------------------------------- signature vectors
def test_dingtalk_signature_is_hmac_sha256_of_timestamp_newline_secret_keyed_with_the_secret():
    secret, timestamp = "SEC0123456789abcdef", 1700000000000
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert dingtalk_sign(timestamp, secret) == expected
    assert dingtalk_sign(timestamp, secret) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="  # openssl dgst


def test_feishu_signature_is_hmac_sha256_of_nothing_keyed_with_timestamp_newline_secret():
    secret, timestamp = "feishu-secret", 1700000000
    expected = base64.b64encode(
        hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert feishu_sign(timestamp, secret) == expected
    assert feishu_sign(timestamp, secret) == "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="  # openssl dgst


#: The worked example of Aliyun's SMS API signature documentation (AccessKeySecret "testSecret").
ALIYUN_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def aliyun_expected(params: dict[str, str], secret: str) -> str:
    """Aliyun's algorithm written out again: RFC 3986 encoding, sorted pairs, GET&%2F&…, HMAC-SHA1."""

    def enc(v: str) -> str:
        return quote(v, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
    to_sign = "GET&" + enc("/") + "&" + enc(canonical)
    return base64.b64encode(
        hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()


def test_aliyun_signature_matches_the_documented_example():
    assert aliyun_signature(ALIYUN_EXAMPLE, "testSecret") == aliyun_expected(ALIYUN_EXAMPLE, "testSecret")
    assert aliyun_signature(ALIYUN_EXAMPLE, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_encodes_spaces_stars_and_tildes_as_documented():
    params = {**ALIYUN_EXAMPLE, "TemplateParam": '{"content":"a b*c~d+e"}'}
    assert aliyun_signature(params, "k") == aliyun_expected(params, "k")


# ----------------------------------------------------------------------------- DingTalk
@pytest.fixture
def robot(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch):
    """Configure GONGDAN_ROBOT_OPS as ``kind`` pointing at the local server; returns the path used."""

    def configure(kind: str, path: str, query: str = "", secret: str | None = None) -> str:
        url = f"{kind}+{httpserver.url_for(path)}{query}" + (f"#secret={secret}" if secret else "")
        monkeypatch.setenv("GONGDAN_ROBOT_OPS", url)
        return path

    return configure


def test_dingtalk_posts_an_action_card_signed_with_timestamp_and_sign(httpserver: HTTPServer, robot):
    secret = "SECdingtalk42"
    robot("dingtalk", "/robot/send", "?access_token=tok123", secret)
    httpserver.expect_request("/robot/send", method="POST").respond_with_json({"errcode": 0, "errmsg": "ok"})
    send_dingtalk(dict(CARD), "notify:1:dingtalk:a", 5)
    ((request, _),) = httpserver.log
    args = request.args
    assert args["access_token"] == "tok123"
    timestamp = args["timestamp"]
    assert abs(int(timestamp) - dt.datetime.now(dt.UTC).timestamp() * 1000) < 60_000  # milliseconds
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert args["sign"] == expected
    assert f"sign={quote_plus(expected)}" in request.query_string.decode()  # urlencoded, as documented
    body = json.loads(request.get_data())
    assert body["msgtype"] == "actionCard"
    card = body["actionCard"]
    assert card["title"] == CARD["title"] and CARD["text"] in card["text"]
    assert (card["singleTitle"], card["singleURL"]) == ("查看工单", CARD["link"])
    assert request.headers["Idempotency-Key"] == "notify:1:dingtalk:a"


def test_dingtalk_mentions_people_by_phone_in_a_markdown_message(httpserver: HTTPServer, robot):
    robot("dingtalk", "/robot/send", "?access_token=t")
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0})
    send_dingtalk({**CARD, "at_mobiles": ["13800138000"], "lang": "en"}, "k", 5)
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    assert "@13800138000" in body["markdown"]["text"]
    assert f"[Open ticket]({CARD['link']})" in body["markdown"]["text"]
    assert "timestamp" not in httpserver.log[0][0].args  # no secret, no signature


@pytest.mark.parametrize(
    ("errcode", "permanent"),
    [(310000, True), (300001, True), (130101, False), (-1, False)],
)
def test_dingtalk_errcodes_fail_final_or_retryable(httpserver: HTTPServer, robot, errcode, permanent):
    robot("dingtalk", "/robot/send", "?access_token=t")
    httpserver.expect_request("/robot/send").respond_with_json(
        {"errcode": errcode, "errmsg": "keywords not in content"}
    )
    with pytest.raises(DeliveryError) as caught:
        send_dingtalk(dict(CARD), "k", 5)
    assert caught.value.permanent is permanent
    assert str(errcode) in caught.value.reason and "DingTalk" in caught.value.reason


def test_a_robot_answering_something_else_than_json_is_a_failure(httpserver: HTTPServer, robot):
    robot("dingtalk", "/robot/send")
    httpserver.expect_request("/robot/send").respond_with_data("<html>gateway</html>")
    with pytest.raises(DeliveryError) as caught:
        send_dingtalk(dict(CARD), "k", 5)
    assert "<html>gateway</html>" in caught.value.reason


def test_an_unconfigured_robot_names_the_variable_to_set(monkeypatch):
    monkeypatch.setenv("GONGDAN_LANG", "en")
    with pytest.raises(DeliveryError) as caught:
        send_dingtalk({**CARD, "robot": "night_shift"}, "k", 5)
    assert caught.value.permanent and "GONGDAN_ROBOT_NIGHT_SHIFT" in caught.value.reason


def test_a_robot_of_another_kind_is_refused(httpserver: HTTPServer, robot, monkeypatch):
    monkeypatch.setenv("GONGDAN_LANG", "en")
    robot("wecom", "/cgi-bin/webhook/send", "?key=k")
    with pytest.raises(DeliveryError) as caught:
        send_dingtalk(dict(CARD), "k", 5)
    assert caught.value.permanent and "wecom robot" in caught.value.reason
    assert httpserver.log == []


# ----------------------------------------------------------------------------- WeCom
def test_wecom_posts_markdown_with_a_link_to_the_webhook_key(httpserver: HTTPServer, robot):
    robot("wecom", "/cgi-bin/webhook/send", "?key=693a91f6-7xxx")
    httpserver.expect_request("/cgi-bin/webhook/send", query_string="key=693a91f6-7xxx").respond_with_json(
        {"errcode": 0, "errmsg": "ok"}
    )
    send_wecom(dict(CARD), "k", 5)
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith(f"**{CARD['title']}**") and f"[查看工单]({CARD['link']})" in content


def test_wecom_mentions_people_by_phone_in_a_text_message(httpserver: HTTPServer, robot):
    robot("wecom", "/send", "?key=k")
    httpserver.expect_request("/send").respond_with_json({"errcode": 0})
    send_wecom({**CARD, "at_mobiles": ["13900000000"]}, "k", 5)
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13900000000"]
    assert CARD["link"] in body["text"]["content"]


@pytest.mark.parametrize(("errcode", "permanent"), [(93000, True), (40008, True), (45009, False)])
def test_wecom_errcodes_fail_final_or_retryable(httpserver: HTTPServer, robot, errcode, permanent):
    robot("wecom", "/send", "?key=k")
    httpserver.expect_request("/send").respond_with_json(
        {"errcode": errcode, "errmsg": "invalid webhook url"}
    )
    with pytest.raises(DeliveryError) as caught:
        send_wecom(dict(CARD), "k", 5)
    assert caught.value.permanent is permanent


# ----------------------------------------------------------------------------- Feishu
def test_feishu_posts_an_interactive_card_signed_in_the_body(httpserver: HTTPServer, robot):
    secret = "feishu-secret"
    robot("feishu", "/open-apis/bot/v2/hook/0f8a9c2e-1b2c-4d5e-8f90-123456789abc", secret=secret)
    httpserver.expect_request(
        "/open-apis/bot/v2/hook/0f8a9c2e-1b2c-4d5e-8f90-123456789abc"
    ).respond_with_json({"code": 0, "msg": "success", "data": {}})
    send_feishu(dict(CARD), "k", 5)
    body = json.loads(httpserver.log[0][0].get_data())
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - dt.datetime.now(dt.UTC).timestamp()) < 60  # seconds
    expected = base64.b64encode(
        hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"]["content"] == CARD["title"]
    assert card["elements"][0]["text"]["content"] == CARD["text"]
    (button,) = card["elements"][1]["actions"]
    assert (button["text"]["content"], button["url"]) == ("查看工单", CARD["link"])


def test_feishu_old_style_status_code_zero_is_delivered(httpserver: HTTPServer, robot):
    robot("lark", "/hook/x")
    httpserver.expect_request("/hook/x").respond_with_json({"StatusCode": 0, "StatusMessage": "success"})
    send_feishu(dict(CARD), "k", 5)


@pytest.mark.parametrize(("code", "permanent"), [(19021, True), (9499, True), (11232, False)])
def test_feishu_codes_fail_final_or_retryable(httpserver: HTTPServer, robot, code, permanent):
    robot("feishu", "/hook/x")
    httpserver.expect_request("/hook/x").respond_with_json({"code": code, "msg": "sign match fail"})
    with pytest.raises(DeliveryError) as caught:
        send_feishu(dict(CARD), "k", 5)
    assert caught.value.permanent is permanent and str(code) in caught.value.reason


# ----------------------------------------------------------------------------- SMS
SMS = {"to": ["13800138000", "13900139000"], "text": "工单 IT-000001 即将超时", "lang": "zh"}


def test_the_sms_gateway_gets_a_signed_json_post(httpserver: HTTPServer, monkeypatch):
    monkeypatch.setenv("GONGDAN_SMS_URL", httpserver.url_for("/sms") + "#secret=gw-secret&token=T0KEN")
    httpserver.expect_request("/sms", method="POST").respond_with_json({"ok": True})
    send_sms(dict(SMS), "notify:9:sms:x", 5)
    ((request, _),) = httpserver.log
    raw = request.get_data()
    assert json.loads(raw) == {"to": SMS["to"], "text": SMS["text"], "idempotency_key": "notify:9:sms:x"}
    assert (
        request.headers["X-Gongdan-Signature"]
        == "sha256=" + hmac.new(b"gw-secret", raw, hashlib.sha256).hexdigest()
    )
    assert request.headers["Authorization"] == "Bearer T0KEN"
    assert request.headers["Idempotency-Key"] == "notify:9:sms:x"


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (400, True)])
def test_the_sms_gateway_status_decides_retry(httpserver: HTTPServer, monkeypatch, status, permanent):
    monkeypatch.setenv("GONGDAN_SMS_URL", httpserver.url_for("/sms"))
    httpserver.expect_request("/sms").respond_with_data("nope", status=status)
    with pytest.raises(DeliveryError) as caught:
        send_sms(dict(SMS), "k", 5)
    assert caught.value.permanent is permanent and caught.value.reason == f"HTTP {status}: nope"


def aliyun_peer(answer: dict, seen: list[dict]):
    """A SendSms endpoint that checks the signature as Aliyun would, then answers ``answer``."""

    def handle(request: Request) -> Response:
        params = {k: v for k, v in request.args.items() if k != "Signature"}
        seen.append(params)
        if request.args.get("Signature") != aliyun_expected(params, "testSecret"):
            return Response(json.dumps({"Code": "SignatureDoesNotMatch", "Message": "bad"}), status=400)
        return Response(json.dumps(answer), content_type="application/json")

    return handle


def test_aliyun_sendsms_is_a_signed_get_with_the_text_as_template_parameter(
    httpserver: HTTPServer, monkeypatch
):
    monkeypatch.setenv(
        "GONGDAN_SMS_URL",
        f"aliyun+http://testId:testSecret@127.0.0.1:{httpserver.port}?sign_name=工单平台&template_code=SMS_1234",
    )
    seen: list[dict] = []
    httpserver.expect_request("/", method="GET").respond_with_handler(
        aliyun_peer({"Code": "OK", "Message": "OK", "BizId": "9006197469364984400"}, seen)
    )
    send_sms(dict(SMS), "notify:9:sms:x", 5)
    (params,) = seen
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["AccessKeyId"] == "testId" and params["SignatureMethod"] == "HMAC-SHA1"
    assert params["PhoneNumbers"] == "13800138000,13900139000"
    assert params["SignName"] == "工单平台" and params["TemplateCode"] == "SMS_1234"
    assert json.loads(params["TemplateParam"]) == {"content": SMS["text"]}
    assert params["OutId"] == "notify:9:sms:x"
    dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("code", "permanent"),
    [("isv.MOBILE_NUMBER_ILLEGAL", True), ("isv.BUSINESS_LIMIT_CONTROL", False), ("isp.SYSTEM_ERROR", False)],
)
def test_aliyun_error_codes_fail_final_or_retryable(httpserver: HTTPServer, monkeypatch, code, permanent):
    monkeypatch.setenv(
        "GONGDAN_SMS_URL",
        f"aliyun+http://testId:testSecret@127.0.0.1:{httpserver.port}?sign_name=s&template_code=t",
    )
    httpserver.expect_request("/").respond_with_handler(aliyun_peer({"Code": code, "Message": "no"}, []))
    with pytest.raises(DeliveryError) as caught:
        send_sms(dict(SMS), "k", 5)
    assert caught.value.permanent is permanent and code in caught.value.reason
    assert "testSecret" not in caught.value.reason


def test_an_sms_nobody_can_receive_and_an_unconfigured_gateway_are_final(monkeypatch):
    monkeypatch.delenv("GONGDAN_SMS_URL", raising=False)
    with pytest.raises(DeliveryError) as caught:
        send_sms({"to": [], "text": "x", "unreachable": ["Alice"]}, "k", 5)
    assert caught.value.permanent and "Alice" in caught.value.reason
    with pytest.raises(DeliveryError) as caught:
        send_sms(dict(SMS), "k", 5)
    assert caught.value.permanent and "GONGDAN_SMS_URL" in caught.value.reason


# ----------------------------------------------------------------------------- through the outbox
def queue(db, channel: str, payload: dict, key: str) -> int:
    with db.write() as conn:
        return conn.execute(
            insert(Outbox)
            .values(
                idempotency_key=key, channel=channel, payload=payload, status="pending", attempts=0,
                max_attempts=8, next_attempt_at=T0, created_at=T0,
            )
            .returning(Outbox.id)
        ).scalar_one()  # fmt: skip


def test_a_robot_row_that_hits_a_rate_limit_is_retried_after_the_backoff(db, httpserver: HTTPServer, robot):
    robot("dingtalk", "/robot/send", "?access_token=t", "SECx")
    httpserver.expect_oneshot_request("/robot/send").respond_with_json(
        {"errcode": 130101, "errmsg": "send too fast"}
    )
    httpserver.expect_oneshot_request("/robot/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    row = queue(db, "dingtalk", dict(CARD), "notify:1:dingtalk:retry")
    assert deliver_one(db, row, now=T0) == "pending"
    assert "130101" in outbox_row(db, row).last_error
    assert sweep(db, now=T0 + backoff(1)) == 1
    assert outbox_row(db, row).status == "sent"
    assert [r.headers["Idempotency-Key"] for r, _ in httpserver.log] == ["notify:1:dingtalk:retry"] * 2


def test_a_robot_row_refused_for_good_goes_dead_and_can_be_resent(db, httpserver: HTTPServer, robot):
    from engine.jobs.outbox import retry_dead

    robot("feishu", "/hook/x", secret="s")
    httpserver.expect_oneshot_request("/hook/x").respond_with_json({"code": 19021, "msg": "sign match fail"})
    httpserver.expect_oneshot_request("/hook/x").respond_with_json({"code": 0})
    row = queue(db, "feishu", dict(CARD), "notify:1:feishu:dead")
    assert deliver_one(db, row, now=T0) == "dead"
    assert retry_dead(db, row, now=T0) and deliver_one(db, row, now=T0) == "sent"


def test_a_robot_row_delivered_twice_is_sent_once(db, httpserver: HTTPServer, robot):
    robot("wecom", "/send", "?key=k")
    httpserver.expect_request("/send").respond_with_json({"errcode": 0})
    row = queue(db, "wecom", dict(CARD), "notify:1:wecom:once")
    assert claim(db, row, T0) is not None  # another worker holds it …
    assert deliver_one(db, row, now=T0) == "sending"  # … so this one sends nothing
    assert httpserver.log == []
    assert deliver_one(db, row, now=T0 + dt.timedelta(minutes=2)) == "sent"  # the lease ran out
    assert deliver_one(db, row, now=T0 + dt.timedelta(minutes=3)) == "sent"  # already sent: nothing
    assert len(httpserver.log) == 1
