"""Approving from an IM card: the card goes out to the robot (a local HTTP stand-in), its button comes
back signed the vendor's way to /im/callback/<provider> and moves the flow; forged, expired, replayed
and wrong-person presses are refused with a clear reason and change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import insert, update

from engine.im_cards import button_token
from engine.org_sync import event_id_provider
from engine.store.models import UserIdentity
from engine.store.types import utcnow

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
DING_SECRET = "ding-app-secret"
WECOM_TOKEN = "wecomtoken"
WECOM_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")  # 43 characters, as WeCom shows it
CORP = "ww-corp-1"
FEISHU_KEY = "feishu-encrypt-key"
SUBJECTS = {"dingtalk": "ding-alice", "wecom": "alice.wx", "feishu": "ou_alice"}


# ------------------------------------------------------------------------------ the vendors' side
def ding_headers(stamp_ms: int, secret: str = DING_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{stamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(stamp_ms), "sign": base64.b64encode(digest).decode()}


def ding_body(user: str, token: str) -> dict:
    private = {"cardPrivateData": {"actionIds": ["approve"], "params": {"button": token}}}
    return {"outTrackId": "track-1", "corpId": "ding-corp", "userId": user, "content": json.dumps(private)}


def wecom_encrypt(plain: bytes, key: str = WECOM_KEY, corp: str = CORP) -> str:
    raw_key = base64.b64decode(key + "=")
    raw = os.urandom(16) + struct.pack(">I", len(plain)) + plain + corp.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(raw_key), modes.CBC(raw_key[:16])).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def wecom_decrypt(text: str) -> bytes:
    raw_key = base64.b64decode(WECOM_KEY + "=")
    dec = Cipher(algorithms.AES(raw_key), modes.CBC(raw_key[:16])).decryptor()
    raw = dec.update(base64.b64decode(text)) + dec.finalize()
    raw = raw[: -raw[-1]]
    (length,) = struct.unpack(">I", raw[16:20])
    return raw[20 : 20 + length]


def wecom_request(user: str, key: str, stamp: int, nonce: str = "n1") -> tuple[str, bytes]:
    event = (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[template_card_event]]></Event><AgentID>1000002</AgentID>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[gongdan-1]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType></xml>"
    ).encode()
    encrypted = wecom_encrypt(event)
    signature = hashlib.sha1(
        "".join(sorted([WECOM_TOKEN, str(stamp), nonce, encrypted])).encode()
    ).hexdigest()
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return f"msg_signature={signature}&timestamp={stamp}&nonce={nonce}", body.encode()


def feishu_headers(body: bytes, stamp: int, nonce: str = "fn1", key: str = FEISHU_KEY) -> dict[str, str]:
    signature = hashlib.sha256((str(stamp) + nonce + key).encode() + body).hexdigest()
    return {
        "X-Lark-Request-Timestamp": str(stamp),
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
        "Content-Type": "application/json",
    }


def feishu_body(user: str, token: str) -> bytes:
    event = {
        "schema": "2.0",
        "header": {"event_type": "card.action.trigger", "token": "v"},
        "event": {
            "operator": {"user_id": user, "open_id": "ou_x"},
            "action": {"tag": "button", "value": {"button": token}},
        },
    }
    return json.dumps(event).encode()


def feishu_encrypt(plain: bytes) -> bytes:
    key, iv = hashlib.sha256(FEISHU_KEY.encode()).digest(), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    raw = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return json.dumps({"encrypt": base64.b64encode(iv + enc.update(raw) + enc.finalize()).decode()}).encode()


# ------------------------------------------------------------------------------ the site
@pytest.fixture
def im(web, httpserver, monkeypatch):
    monkeypatch.setenv("GONGDAN_SECRET_KEY", "deployment-secret")
    monkeypatch.setenv("GONGDAN_IM_DINGTALK_APP_SECRET", DING_SECRET)
    monkeypatch.setenv("GONGDAN_IM_WECOM_TOKEN", WECOM_TOKEN)
    monkeypatch.setenv("GONGDAN_IM_WECOM_AES_KEY", WECOM_KEY)
    monkeypatch.setenv("GONGDAN_IM_WECOM_CORP_ID", CORP)
    monkeypatch.setenv("GONGDAN_IM_FEISHU_ENCRYPT_KEY", FEISHU_KEY)
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")
    for vendor in ("dingtalk", "wecom", "feishu"):
        monkeypatch.setenv(
            f"GONGDAN_ROBOT_{vendor.upper()}", f"{vendor}+" + httpserver.url_for(f"/robot/{vendor}")
        )
        answer = {"code": 0} if vendor == "feishu" else {"errcode": 0}
        httpserver.expect_request(f"/robot/{vendor}").respond_with_json(answer)
    web.runtime.publish(LAB)
    web.user("alice")
    web.user("dave")
    web.user("bob")
    with web.db.write() as conn:
        for name, uid in (("alice", web.id("alice")), ("bob", web.id("bob"))):
            for provider, subject in SUBJECTS.items():
                subject = subject.replace("alice", name)
                conn.execute(
                    insert(UserIdentity).values(
                        user_id=uid, provider=provider, subject=subject, created_at=utcnow()
                    )
                )
    web.anon = web.anonymous()
    web.httpserver = httpserver
    return web


def at_review(im) -> tuple[int, int]:
    """A complaint handled by dave, now waiting for alice's approval: (ticket id, task id)."""
    runtime = im.runtime
    ticket = runtime.submit("importlab", "complaint", {"title": "退款未到账"}, actor=im.id("dave"))
    handle = runtime.tasks(ticket.id)[0]
    runtime.act(handle["id"], "complete", None, actor=im.id("dave"))
    review = runtime.tasks(ticket.id)[0]
    assert review["node_id"] == "review" and review["assignee_id"] == im.id("alice")
    return ticket.id, review["id"]


def sent_cards(im) -> dict[str, dict]:
    return {req.path.rsplit("/", 1)[1]: json.loads(req.get_data()) for req, _ in im.httpserver.log}


def approve_token(vendor: str, card: dict) -> str:
    """The Approve button's value, read out of the card as the vendor received it."""
    if vendor == "dingtalk":
        url = card["actionCard"]["btns"][0]["actionURL"]  # /h5/dingtalk?next=/tickets/<id>?act=…&button=…
        ticket_page = parse_qs(urlsplit(url).query)["next"][0]
        return parse_qs(urlsplit(ticket_page).query)["button"][0]
    if vendor == "wecom":
        return card["template_card"]["button_list"][0]["key"]
    actions = next(e for e in card["card"]["elements"] if e["tag"] == "action")["actions"]
    return actions[0]["value"]["button"]


def press(
    im, vendor: str, token: str, user: str | None = None, stamp: float | None = None, nonce: str = "n1"
):
    user = user or SUBJECTS[vendor]
    stamp = stamp or time.time()
    if vendor == "dingtalk":
        return im.anon.post(
            "/im/callback/dingtalk", json=ding_body(user, token), headers=ding_headers(int(stamp * 1000))
        )
    if vendor == "wecom":
        query, body = wecom_request(user, token, int(stamp), nonce)
        return im.anon.post(f"/im/callback/wecom?{query}", data=body, content_type="text/xml")
    body = feishu_body(user, token)
    return im.anon.post("/im/callback/feishu", data=body, headers=feishu_headers(body, int(stamp), nonce))


def ticket_status(im, ticket_id: int) -> tuple[str, str | None]:
    t = im.runtime.ticket(ticket_id)
    return t.status, t.stage


# ------------------------------------------------------------------------------ approvals
@pytest.mark.parametrize("vendor", ["dingtalk", "wecom", "feishu"])
def test_the_assignee_approves_from_the_card_and_the_flow_moves_on(im, vendor):
    ticket_id, task_id = at_review(im)
    cards = sent_cards(im)
    assert set(cards) == {"dingtalk", "wecom", "feishu"}  # the rule's three cards went out
    assert cards["wecom"]["template_card"]["card_type"] == "button_interaction"
    assert [b["title"] for b in cards["dingtalk"]["actionCard"]["btns"]] == ["同意", "拒绝", "查看工单"]

    answer = press(im, vendor, approve_token(vendor, cards[vendor]))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert ticket_status(im, ticket_id) == ("closed", None)
    decided = [e for e in im.runtime.events(ticket_id) if e["type"] == "task_completed"][-1]
    assert decided["actor_id"] == im.id("alice") and decided["payload"]["task"] == task_id
    if vendor == "dingtalk":
        assert answer.json["cardData"]["cardParamMap"]["status_text"] == "已由 Alice 同意"
    elif vendor == "wecom":
        reply = answer.get_data(as_text=True)
        encrypted = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        assert "<ReplaceName><![CDATA[已由 Alice 同意]]></ReplaceName>" in wecom_decrypt(encrypted).decode()
    else:
        assert answer.json["toast"]["content"] == "已由 Alice 同意"
        assert answer.json["card"]["data"]["header"]["template"] == "green"


def test_a_dingtalk_user_linked_by_union_id_approves_with_the_userid_the_card_names(im):
    # sign-in and org sync link a DingTalk person by unionId and keep the userid the callbacks name apart
    with im.db.write() as conn:
        conn.execute(
            update(UserIdentity)
            .where(UserIdentity.user_id == im.id("alice"), UserIdentity.provider == "dingtalk")
            .values(subject="union-alice")
        )
        conn.execute(
            insert(UserIdentity).values(
                user_id=im.id("alice"), provider=event_id_provider("dingtalk"), subject=SUBJECTS["dingtalk"],
                created_at=utcnow(),
            )
        )  # fmt: skip
    ticket_id, _ = at_review(im)

    answer = press(im, "dingtalk", approve_token("dingtalk", sent_cards(im)["dingtalk"]))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert ticket_status(im, ticket_id) == ("closed", None)


def test_the_reject_button_sends_the_ticket_back(im):
    ticket_id, task_id = at_review(im)
    rejected = button_token(task_id, "reject")
    assert press(im, "dingtalk", rejected).status_code == 200
    assert ticket_status(im, ticket_id) == ("open", "handle")


def test_an_encrypted_feishu_callback_is_decrypted_and_acted_on(im):
    ticket_id, task_id = at_review(im)
    body = feishu_encrypt(feishu_body("ou_alice", button_token(task_id, "approve")))
    answer = im.anon.post("/im/callback/feishu", data=body, headers=feishu_headers(body, int(time.time())))
    assert answer.status_code == 200 and ticket_status(im, ticket_id)[0] == "closed"


def test_the_vendors_url_checks_are_answered(im):
    stamp, nonce = str(int(time.time())), "v1"
    echo = wecom_encrypt(b"echo-123")
    signature = hashlib.sha1("".join(sorted([WECOM_TOKEN, stamp, nonce, echo])).encode()).hexdigest()
    answer = im.anon.get(
        "/im/callback/wecom",
        query_string={"msg_signature": signature, "timestamp": stamp, "nonce": nonce, "echostr": echo},
    )
    assert answer.get_data(as_text=True) == "echo-123"
    body = json.dumps({"type": "url_verification", "challenge": "c-9", "token": "v"}).encode()
    answer = im.anon.post("/im/callback/feishu", data=body, headers=feishu_headers(body, int(stamp)))
    assert answer.json == {"challenge": "c-9"}


# ------------------------------------------------------------------------------ refusals
def refused(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.json["code"] == code and answer.json["message"]


@pytest.mark.parametrize("vendor", ["dingtalk", "wecom", "feishu"])
def test_a_wrong_vendor_signature_is_refused_and_nothing_happens(im, vendor, monkeypatch):
    ticket_id, task_id = at_review(im)
    env = {"dingtalk": "GONGDAN_IM_DINGTALK_APP_SECRET", "wecom": "GONGDAN_IM_WECOM_TOKEN",
           "feishu": "GONGDAN_IM_FEISHU_ENCRYPT_KEY"}[vendor]  # fmt: skip
    monkeypatch.setenv(env, "another-secret")  # the server expects another secret than the sender used
    answer = press(im, vendor, button_token(task_id, "approve"))
    refused(answer, 401, "im.bad_signature")
    assert env in answer.json["message"]
    assert ticket_status(im, ticket_id) == ("open", "review")


def test_an_expired_timestamp_is_refused(im):
    ticket_id, task_id = at_review(im)
    answer = press(im, "dingtalk", button_token(task_id, "approve"), stamp=time.time() - 600)
    refused(answer, 401, "im.expired")
    assert ticket_status(im, ticket_id) == ("open", "review")


def test_a_forged_or_expired_button_is_refused_before_anything_else(im):
    ticket_id, task_id = at_review(im)
    genuine = button_token(task_id, "approve")
    forged = genuine.rsplit(".", 1)[0] + "." + "0" * 40
    other_task = button_token(task_id + 1, "approve").rsplit(".", 1)[0] + "." + genuine.rsplit(".", 1)[1]
    refused(press(im, "dingtalk", forged), 403, "im.forged_button")
    refused(press(im, "dingtalk", other_task, stamp=time.time() + 1), 403, "im.forged_button")
    stale = button_token(task_id, "approve", expires=int(time.time()) - 1)
    refused(press(im, "dingtalk", stale, stamp=time.time() + 2), 403, "im.button_expired")
    assert ticket_status(im, ticket_id) == ("open", "review")


@pytest.mark.parametrize("vendor", ["dingtalk", "wecom", "feishu"])
def test_a_replayed_callback_is_refused_and_the_action_is_done_once(im, vendor):
    ticket_id, task_id = at_review(im)
    token, stamp = button_token(task_id, "approve"), time.time()
    assert press(im, vendor, token, stamp=stamp).status_code == 200
    again = press(im, vendor, token, stamp=stamp)  # the very same request, sent again
    refused(again, 409, "im.replayed")
    decisions = [
        e
        for e in im.runtime.events(ticket_id)
        if e["type"] == "task_completed" and e["payload"]["task"] == task_id
    ]
    assert len(decisions) == 1


def test_someone_who_is_not_the_assignee_is_refused(im):
    ticket_id, task_id = at_review(im)
    answer = press(im, "dingtalk", button_token(task_id, "approve"), user="ding-bob")
    refused(answer, 403, "im.not_assignee")
    assert "Bob" in answer.json["message"]
    unknown = press(
        im, "dingtalk", button_token(task_id, "approve"), user="ding-stranger", stamp=time.time() + 1
    )
    refused(unknown, 403, "im.unknown_user")
    assert ticket_status(im, ticket_id) == ("open", "review")
    # the refused presses used no nonce: alice's genuine press still works
    assert press(im, "dingtalk", button_token(task_id, "approve"), stamp=time.time() + 2).status_code == 200


def test_a_press_on_a_task_already_decided_is_refused_as_done(im):
    ticket_id, task_id = at_review(im)
    im.runtime.act(task_id, "approve", None, actor=im.id("alice"))  # decided in the inbox meanwhile
    refused(press(im, "wecom", button_token(task_id, "reject")), 409, "im.task_not_open")
    assert ticket_status(im, ticket_id) == ("closed", None)


def test_an_unknown_provider_or_an_unconfigured_one_says_so(im, monkeypatch):
    refused(im.anon.post("/im/callback/slack", json={}), 404, "im.unknown_provider")
    monkeypatch.delenv("GONGDAN_IM_DINGTALK_APP_SECRET")
    answer = im.anon.post("/im/callback/dingtalk", json={}, headers=ding_headers(int(time.time() * 1000)))
    refused(answer, 401, "im.not_configured")
    assert "GONGDAN_IM_DINGTALK_APP_SECRET" in answer.json["message"]
    monkeypatch.setenv("GONGDAN_DINGTALK_CLIENT_SECRET", DING_SECRET)  # the sign-in's secret of the same app
    ticket_id, task_id = at_review(im)
    assert press(im, "dingtalk", button_token(task_id, "approve")).status_code == 200
    assert ticket_status(im, ticket_id) == ("closed", None)
