"""No credential hides anywhere in an app definition: not in a ``call``'s URL, query or body, not in a
``webhook`` action's or an app webhook's URL (a group robot's address least of all), not in the
settings. Each is refused at its path, in Chinese and English, saying where to store it and what to
write instead; ``${secrets.name}`` — and a query value that reads the ticket — is accepted. A designer
draft holding one is refused the same way, and nothing of it is stored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from engine import designer
from engine.definitions.loader import load_definition
from engine.definitions.secret_checks import is_credential_name
from engine.definitions.source import read_source
from engine.errors import DefinitionError, Problem
from engine.store.models import AppDraft
from tests.conftest import APPS
from tests.support import complaint_form

RULE = "ticket_types.complaint.rules[0].do[0]"
LEAK = "Lk9-leaked-Zq81"  # every literal credential below holds it: no message may show it


def complaint(*actions: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped complaint app whose one rule runs ``actions``; ``settings`` added to its own."""
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    if actions:
        data["ticket_types"]["complaint"]["rules"] = [{"name": "out", "on": "created", "do": list(actions)}]
    data["settings"] = {**data["settings"], **(settings or {})}
    return data


def problems(data: dict[str, Any]) -> list[Problem]:
    try:
        load_definition(data)
    except DefinitionError as exc:
        return list(exc.problems)
    return []


def found(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems(data)]


def call(**keys: Any) -> dict[str, Any]:
    return {"call": {"url": "https://crm.example.cn/api", **keys}}


@pytest.mark.parametrize(
    ("data", "where", "code"),
    [
        pytest.param(
            complaint(call(url=f"https://svc:{LEAK}@crm.example.cn/api")),
            f"{RULE}.call.url",
            "check.url_userinfo_secret",
            id="call-url-password",
        ),
        pytest.param(
            complaint(call(url=f"https://crm.example.cn/api?lang=zh&access_token={LEAK}")),
            f"{RULE}.call.url",
            "check.url_query_secret",
            id="call-url-access-token",
        ),
        pytest.param(
            complaint(call(url=f"https://crm.example.cn/api#sign={LEAK}")),
            f"{RULE}.call.url",
            "check.url_query_secret",
            id="call-url-fragment-sign",
        ),
        pytest.param(
            complaint(call(url="https://crm.example.cn/api?key=${settings.crm_k}"), settings={"crm_k": LEAK}),
            f"{RULE}.call.url",
            "check.url_query_secret",
            id="call-url-key-from-a-plain-setting",
        ),
        pytest.param(
            complaint(call(query={"token": f"'{LEAK}'"})),
            f"{RULE}.call.query.token",
            "check.query_secret",
            id="query-quoted-constant",
        ),
        pytest.param(
            complaint(call(query={"access_token": "ghp_16C7e42F292c6912E7710c838347Ae178B4a"})),
            f"{RULE}.call.query.access_token",
            "check.query_secret",
            id="query-token-pasted-unquoted",
        ),
        pytest.param(
            complaint(call(query={"key": f"3f9a2b7c-{LEAK}"})),
            f"{RULE}.call.query.key",
            "check.query_secret",
            id="query-not-an-expression",
        ),
        pytest.param(
            complaint(call(query={"pwd": 123456})),
            f"{RULE}.call.query.pwd",
            "check.query_secret",
            id="query-number",
        ),
        pytest.param(
            complaint(call(query={"apiKey": "'abc' + 'def'"})),
            f"{RULE}.call.query.apiKey",
            "check.query_secret",
            id="query-constant-expression",
        ),
        pytest.param(
            complaint(call(query={"api_key": "${secrets.crm_key}"})),
            f"{RULE}.call.query.api_key",
            "check.query_secret_unquoted",
            id="query-placeholder-unquoted",
        ),
        pytest.param(
            complaint(call(method="POST", body={"auth": {"user": "gongdan", "password": LEAK}})),
            f"{RULE}.call.body.auth.password",
            "check.body_secret",
            id="body-nested-password",
        ),
        pytest.param(
            complaint(call(method="POST", body=[{"client_secret": LEAK}])),
            f"{RULE}.call.body[0].client_secret",
            "check.body_secret",
            id="body-list-client-secret",
        ),
        pytest.param(
            complaint({"webhook": {"url": f"https://hooks.example.cn/in?token={LEAK}"}}),
            f"{RULE}.webhook.url",
            "check.url_query_secret",
            id="webhook-action-token",
        ),
        pytest.param(
            complaint({"webhook": {"url": f"https://oapi.dingtalk.com/robot/send?access_token={LEAK}"}}),
            f"{RULE}.webhook.url",
            "check.robot_url",
            id="webhook-action-dingtalk-robot",
        ),
        pytest.param(
            complaint({"webhook": {"url": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={LEAK}"}}),
            f"{RULE}.webhook.url",
            "check.robot_url",
            id="webhook-action-wecom-robot",
        ),
        pytest.param(
            complaint({"webhook": {"url": f"https://open.feishu.cn/open-apis/bot/v2/hook/{LEAK}"}}),
            f"{RULE}.webhook.url",
            "check.robot_url",
            id="webhook-action-feishu-robot",
        ),
        pytest.param(
            complaint(settings={"crm_token": LEAK}),
            "settings.crm_token",
            "check.setting_secret",
            id="setting-token",
        ),
        pytest.param(
            complaint(settings={"smsPassword": 20260101}),
            "settings.smsPassword",
            "check.setting_secret",
            id="setting-number-password",
        ),
        pytest.param(
            complaint(settings={"crm_url": f"https://crm.example.cn/api?apikey={LEAK}"}),
            "settings.crm_url",
            "check.url_query_secret",
            id="setting-url-with-apikey",
        ),
    ],
)
def test_a_credential_written_into_a_definition_is_refused_at_its_path(
    data: dict[str, Any], where: str, code: str
) -> None:
    assert (where, code) in found(data)
    for problem in problems(data):
        for lang in ("zh", "en"):
            assert LEAK not in problem.message(lang) and LEAK not in json.dumps(problem.params)


def test_a_robot_address_in_an_app_webhook_is_refused_too() -> None:
    data = complaint()
    data["webhooks"] = [
        {
            "id": "ding",
            "url": f"https://oapi.dingtalk.com/robot/send?access_token={LEAK}",
            "events": ["created"],
        },
        {"id": "crm", "url": f"https://gongdan:{LEAK}@crm.example.cn/hook", "events": ["created"]},
    ]
    assert found(data) == [
        ("webhooks[0].url", "check.robot_url"),
        ("webhooks[1].url", "check.url_userinfo_secret"),
    ]


def test_a_call_in_an_escalation_is_checked_where_it_is() -> None:
    data = complaint()
    data["ticket_types"]["complaint"]["flow"]["escalation"][0]["do"] = [
        call(url=f"https://crm.example.cn/api?token={LEAK}")
    ]
    assert found(data) == [
        ("ticket_types.complaint.flow.escalation[0].do[0].call.url", "check.url_query_secret")
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            complaint(
                call(
                    url="https://gongdan:${secrets.crm_password}@crm.example.cn/api"
                    "?access_token=${secrets.crm_token}&lang=zh&token_type=bearer&sign_type=MD5",
                )
            ),
            id="url-placeholders-and-plain-parameters",
        ),
        pytest.param(
            complaint(
                call(
                    query={
                        "access_token": "phone",  # a field: the ticket's data, not a credential
                        "token": "ticket.number",
                        "key": "'${secrets.crm_key}'",
                        "sign": "settings.crm_sign",  # a setting that names its secret
                        "sort_key": "'created'",
                        "token_type": "'bearer'",
                    }
                ),
                settings={"crm_sign": "${secrets.crm_sign}"},
            ),
            id="query-fields-and-quoted-placeholders",
        ),
        pytest.param(
            complaint(
                call(
                    method="POST",
                    body={
                        "password": "${secrets.crm_password}",
                        "auth": {"token": "Bearer ${secrets.crm_token}"},
                        "token_type": "bearer",
                        "secret_ref": "crm",
                        "keyword": "refund",
                        "need_auth": True,
                    },
                )
            ),
            id="body-placeholders-and-plain-keys",
        ),
        pytest.param(
            complaint(
                {"webhook": {"url": "https://hooks.example.cn/in?token=${secrets.hook_token}"}},
                {"webhook": {"url": "https://oapi.dingtalk.com/robot/send?access_token=${secrets.ding}"}},
            ),
            id="webhook-placeholders",
        ),
        pytest.param(
            complaint(
                settings={
                    "api_token": "${secrets.api_token}",
                    "calendar": "24x7",
                    "max_retries": 3,
                    "portal": "https://portal.example.cn/tickets?lang=zh",
                }
            ),
            id="settings-placeholders-and-plain-values",
        ),
    ],
)
def test_named_secrets_and_values_read_from_the_ticket_are_accepted(data: dict[str, Any]) -> None:
    assert found(data) == []


def test_the_shipped_apps_hold_no_credential() -> None:
    for path in sorted(APPS.glob("*.yaml")):
        load_definition(path)  # settings.crm_url, the complaint's CRM lookup by phone


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        *[(n, True) for n in ("access_token", "accessToken", "key", "sign", "X-Api-Key", "appsecret", "pwd")],
        *[(n, True) for n in ("client_secret", "AccessKeySecret", "robot_key", "signature", "auth", "sig")],
        *[(n, False) for n in ("token_type", "sign_type", "sort_key", "ticket_no", "keyword", "author")],
        *[(n, False) for n in ("secret_ref", "access_key_id", "passport", "crm_url", "phone", "token_ttl")],
    ],
)
def test_a_credential_is_told_by_the_last_word_of_its_name(name: str, credential: bool) -> None:
    assert is_credential_name(name) is credential


def test_each_refusal_says_where_to_store_the_credential_and_what_to_write_in_both_languages() -> None:
    data = complaint(
        call(url=f"https://crm.example.cn/api?access_token={LEAK}", query={"token": f"'{LEAK}'"}),
        {"webhook": {"url": f"https://oapi.dingtalk.com/robot/send?access_token={LEAK}"}},
        settings={"crm_token": LEAK},
    )
    by_path = {p.path: p for p in problems(data)}
    url, query = by_path[f"{RULE}.call.url"], by_path[f"{RULE}.call.query.token"]
    robot, setting = (
        by_path["ticket_types.complaint.rules[0].do[1].webhook.url"],
        by_path["settings.crm_token"],
    )
    for lang in ("zh", "en"):
        assert "hook.access_token" in url.message(lang) and "GONGDAN_HOOK_ACCESS_TOKEN" in url.message(lang)
        assert "access_token=${secrets.access_token}" in url.message(lang)
        assert "'${secrets.token}'" in query.message(lang)
        assert "robot.dingtalk" in robot.message(lang) and "GONGDAN_ROBOT_DINGTALK" in robot.message(lang)
        assert "notify: {channel: dingtalk, robot: dingtalk}" in robot.message(lang)
        assert "crm_token: ${secrets.crm_token}" in setting.message(lang)
    assert "管理 → 渠道" in url.message("zh") and "钉钉" in robot.message("zh")
    assert "Admin → Channels" in url.message("en") and "DingTalk" in robot.message("en")


def test_a_draft_with_a_pasted_credential_is_refused_and_nothing_of_it_is_stored(
    runtime, complaint_app
) -> None:
    db = runtime.db
    draft = designer.load_draft(db, complaint_app)
    pasted = copy.deepcopy(draft.definition)
    pasted["ticket_types"]["complaint"]["rules"][0]["do"][0]["call"]["query"]["access_token"] = f"'{LEAK}'"
    pasted["settings"]["crm_password"] = LEAK

    with pytest.raises(designer.DraftRefused) as refused:
        designer.save_draft(db, complaint_app, draft.revision, pasted)

    paths = {(p.path, p.code) for p in refused.value.problems}
    assert paths >= {
        (f"{RULE}.call.query.access_token", "check.query_secret"),
        ("settings.crm_password", "check.setting_secret"),
    }
    assert LEAK not in json.dumps(refused.value.as_dict("en")) and LEAK not in json.dumps(
        refused.value.as_dict("zh")
    )
    with db.read() as conn:
        revision, stored = conn.execute(select(AppDraft.revision, AppDraft.definition)).one()
    assert revision == draft.revision and LEAK not in json.dumps(stored)

    named = copy.deepcopy(draft.definition)  # the same draft naming its secrets is saved
    named["ticket_types"]["complaint"]["rules"][0]["do"][0]["call"]["query"]["access_token"] = (
        "'${secrets.crm}'"
    )
    named["settings"]["crm_password"] = "${secrets.crm_password}"
    assert designer.save_draft(db, complaint_app, draft.revision, named).revision == draft.revision + 1


def test_a_version_published_before_the_credential_rules_still_runs_its_tickets(runtime) -> None:
    """The credential checks are publishing rules: a version stored before they existed (its robot
    address written into a webhook action) still compiles, so its running tickets keep working —
    while publishing that same definition anew is refused."""
    from sqlalchemy import update

    from engine.store.models import AppVersion

    leaky = complaint({"webhook": {"url": f"https://oapi.dingtalk.com/robot/send?access_token={LEAK}"}})
    assert ("ticket_types.complaint.rules[0].do[0].webhook.url", "check.robot_url") in found(leaky)
    clean = complaint({"comment": "hi"})
    runtime.publish(clean)
    with runtime.db.write() as conn:  # as an older Gongdan stored it, before the rule
        conn.execute(update(AppVersion).where(AppVersion.version == 1).values(definition=leaky))
    runtime._specs.clear()
    ticket = runtime.submit("complaint", "complaint", complaint_form(clean), actor=None)
    assert ticket.stage is not None and ticket.app_version == 1
    with pytest.raises(DefinitionError):
        runtime.publish(leaky)
