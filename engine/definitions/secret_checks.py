"""No credential hides in an app definition: it is exported, versioned, diffed and shown in the designer.

Besides a webhook's inline ``secret`` and a ``call``'s credential headers (engine.definitions.checks),
a credential is refused, at its path, wherever a definition could carry one:

* in a URL — a ``call``'s, a ``webhook`` action's, an app webhook's, a URL-valued setting: a password in
  ``user:password@``, a credential-named query or fragment parameter (``?access_token=…&sign=…``), and
  the well-known group-robot addresses (DingTalk, WeCom, Feishu), whose token belongs in the channel
  settings (``robot.<name>``, engine.channel_settings);
* in a ``call``'s ``query`` (values are expressions) or ``body`` (plain JSON) under a credential-named key;
* in ``settings`` under a credential-named key.

Only literal constants are refused. ``${secrets.<name>}`` is accepted where a credential belongs (the
worker fills it in at delivery, engine.jobs.channels); a query value that reads the ticket (a field,
``ticket.number``) is data, not a credential. A query value that names nothing the ticket type knows
(``access_token: ghp_4f…``, which an expression would read as an unknown name) is a pasted constant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from engine.config import ROBOT_PREFIX, SECRET_PLACEHOLDER
from engine.definitions.checks import Found, _field_entries, gate, suggested_secret
from engine.expressions import ExprError, compile_expr
from engine.forms.names import form_names

Path = tuple[str | int, ...]

#: Key words that end a credential's name (``access_token``, ``clientSecret``, ``X-Signature``, ``appkey``).
CREDENTIAL_ENDINGS = (
    "token", "secret", "password", "passwd", "passphrase", "pwd", "signature", "credential", "credentials",
    "cookie", "authorization", "apikey", "appkey", "accesskey", "secretkey", "privatekey",
)  # fmt: skip
#: Short names that are credentials on their own or as the last word (``sign``, ``auth``, ``robot_key``).
CREDENTIAL_WORDS = frozenset({"key", "sign", "sig", "auth", "pass", "ak", "sk"})
#: What may come before a final ``key`` for it to be a credential (``sort_key`` is not, ``api_key`` is).
KEY_QUALIFIERS = frozenset({
    "api", "app", "access", "secret", "private", "client", "auth", "sign", "signing", "robot", "bot",
    "webhook", "hook", "license", "subscription", "master", "session", "encryption", "service", "sdk",
})  # fmt: skip
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SETTING_REF = re.compile(r"\$\{settings\.([a-z][a-z0-9_]*)\}")
_SETTING_NAME = re.compile(r"\bsettings\.([A-Za-z_][A-Za-z0-9_]*)")
_USERINFO = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://([^/?#]*)@")
#: Group robots whose address carries their token: (pattern, vendor, Gongdan channel kind).
ROBOT_URLS = (
    (re.compile(r"^https?://oapi\.dingtalk\.com/robot/send\b", re.I), ("DingTalk", "钉钉"), "dingtalk"),
    (
        re.compile(r"^https?://qyapi\.weixin\.qq\.com/cgi-bin/webhook/send\b", re.I),
        ("WeCom", "企业微信"),
        "wecom",
    ),
    (
        re.compile(r"^https?://open\.(?:feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/", re.I),
        ("Feishu", "飞书"),
        "feishu",
    ),
)


def is_credential_name(name: Any) -> bool:
    """Whether a header, parameter, body or setting key names a credential: its last word is one
    (``access_token``, ``clientSecret``, ``pwd``, ``sign``, ``api_key``), not merely holds one
    (``token_type``, ``sign_type``, ``sort_key``, ``ticket_no`` are not)."""
    words = [w.lower() for w in _WORDS.findall(str(name))]
    if not words:
        return False
    last = words[-1]
    if last.endswith(CREDENTIAL_ENDINGS) or "".join(words[-2:]) in CREDENTIAL_ENDINGS:
        return True
    if last not in CREDENTIAL_WORDS:
        return False
    return last != "key" or len(words) == 1 or words[-2] in KEY_QUALIFIERS


def _literal(value: Any) -> bool:
    """A constant that holds something and names no stored secret: text, or a number (a PIN)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(value.strip()) and not SECRET_PLACEHOLDER.search(value)


def _settings_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    settings = data.get("settings")
    return settings if isinstance(settings, Mapping) else {}


def _via_credential_setting(text: str, settings: Mapping[str, Any], pattern: re.Pattern[str]) -> bool:
    """Whether ``text`` takes its value from a credential-named setting (refused at the setting itself)."""
    return any(is_credential_name(key) and key in settings for key in pattern.findall(text))


def url_problems(url: Any, path: Path, settings: Mapping[str, Any]) -> Iterator[Found]:
    """Credentials written into a URL: a robot's token, ``user:password@``, credential parameters."""
    if not isinstance(url, str):
        return
    base, _, fragment = url.partition("#")
    base, _, query = base.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True) + parse_qsl(fragment, keep_blank_values=True)
    for pattern, (vendor, vendor_zh), kind in ROBOT_URLS:
        robot = pattern.match(url)
        if robot:
            token = base[robot.end() :].strip("/") if kind == "feishu" else ""
            if _literal(token) or any(_literal(v) for k, v in pairs if is_credential_name(k)):
                env = f"{ROBOT_PREFIX}{kind.upper()}"
                yield (
                    path,
                    "check.robot_url",
                    {"vendor": vendor, "vendor_zh": vendor_zh, "kind": kind, "name": kind, "env": env},
                )
                return
    userinfo = _USERINFO.match(base)
    if userinfo:
        user, has_password, password = userinfo.group(1).partition(":")
        if _literal(password if has_password else user):
            yield path, "check.url_userinfo_secret", suggested_secret(f"{_host_label(base)}_password")
    for key, value in pairs:
        if not is_credential_name(key) or not _literal(value):
            continue
        resolved = _SETTING_REF.sub(lambda m: str(settings.get(m.group(1), "")), value)
        if SECRET_PLACEHOLDER.search(resolved) or _via_credential_setting(value, settings, _SETTING_REF):
            continue
        yield path, "check.url_query_secret", suggested_secret(key, param=key)


def _host_label(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2].split(":", 1)[0]
    labels = [part for part in host.split(".") if part not in ("www", "api")]
    return labels[0] if labels and "{" not in host else "url"


def _query_value_problem(value: Any, settings: Mapping[str, Any], known: set[str] | None) -> str | None:
    """What is wrong with a credential-named query value (an expression), or None when it is fine:
    ``inline`` for a constant (or a pasted token read as an unknown name), ``unquoted`` for a bare
    ``${secrets.x}`` (not an expression)."""
    if not isinstance(value, str):
        return "inline" if _literal(value) else None
    try:
        expression = compile_expr(value)
    except ExprError as exc:
        if exc.code != "expr.syntax":
            return None  # a construct the language refuses: not a constant, and not ours to report
        return "unquoted" if SECRET_PLACEHOLDER.search(value) else "inline"
    names = set(expression.names)
    if names <= {"settings"}:  # a constant, or one read from the app's settings (part of the definition)
        if "settings" in names and _via_credential_setting(value, settings, _SETTING_NAME):
            return None
        try:
            result = expression({"settings": dict(settings)})
        except ExprError:
            return None
        return "inline" if _literal(result) else None
    if known is not None and not names & known:
        return "inline"  # names nothing the ticket type has: a token pasted without quotes
    return None


def _body_problems(value: Any, path: Path) -> Iterator[Found]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_credential_name(key) and _literal(item):
                yield (*path, key), "check.body_secret", suggested_secret(key, key=key)
            else:
                yield from _body_problems(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _body_problems(item, (*path, i))


def _known_names(data: Mapping[str, Any], path: Path) -> set[str] | None:
    """What an expression of the ticket type holding ``path`` may read (None: not in a ticket type)."""
    if len(path) < 2 or path[0] != "ticket_types":
        return None
    tt = (data.get("ticket_types") or {}).get(path[1])
    if not isinstance(tt, Mapping):
        return None
    fields = [f for _, f in _field_entries(tt)]
    names = form_names(fields, data.get("option_sets") or {}, _settings_of(data))
    return {*names, "event", "response"}


def _actions(value: Any, path: Path) -> Iterator[tuple[Path, str, Mapping[str, Any]]]:
    """Every ``call`` and ``webhook`` action in ticket types (rules, escalations, automatic nodes), in
    one walk over plain definition data: (path of the action's value, kind, value)."""
    if type(value) is dict:
        for kind in ("call", "webhook"):
            if type(value.get(kind)) is dict:
                yield (*path, kind), kind, value[kind]
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                yield from _actions(item, (*path, key))
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                yield from _actions(item, (*path, i))


def _call_problems(
    data: Mapping[str, Any], path: Path, call: Mapping[str, Any], settings: Mapping[str, Any]
) -> Iterator[Found]:
    yield from url_problems(call.get("url"), (*path, "url"), settings)
    query = call.get("query")
    credentials = [k for k in query if is_credential_name(k)] if isinstance(query, Mapping) else []
    known = _known_names(data, path) if credentials else None
    for key in credentials:
        problem = _query_value_problem(query[key], settings, known)
        if problem == "inline":
            yield (*path, "query", key), "check.query_secret", suggested_secret(key, param=key)
        elif problem == "unquoted":
            yield (*path, "query", key), "check.query_secret_unquoted", suggested_secret(key, param=key)
    yield from _body_problems(call.get("body"), (*path, "body"))


@gate
def actions_hold_no_credential(data: Mapping[str, Any]) -> Iterator[Found]:
    """A ``call``'s URL, query and body and a ``webhook`` action's URL name their credentials
    (``${secrets.name}``), never hold them; a robot's address goes to the channel settings
    (``robot.<name>``) and is used with ``notify: {channel, robot}``."""
    settings = _settings_of(data)
    for path, kind, action in _actions(data.get("ticket_types"), ("ticket_types",)):
        if kind == "call":
            yield from _call_problems(data, path, action, settings)
        elif "url" in action:
            yield from url_problems(action.get("url"), (*path, "url"), settings)


@gate
def app_webhook_urls_hold_no_credential(data: Mapping[str, Any]) -> Iterator[Found]:
    settings = _settings_of(data)
    hooks = data.get("webhooks")
    for i, hook in enumerate(hooks if isinstance(hooks, list) else ()):
        if isinstance(hook, Mapping):
            yield from url_problems(hook.get("url"), ("webhooks", i, "url"), settings)


@gate
def settings_hold_no_credential(data: Mapping[str, Any]) -> Iterator[Found]:
    """A setting named like a credential holds ``${secrets.name}``; a URL-valued setting holds none."""
    settings = _settings_of(data)
    for key, value in settings.items():
        if isinstance(value, str) and "://" in value:
            yield from url_problems(value, ("settings", key), settings)
        elif is_credential_name(key) and _literal(value):
            yield ("settings", key), "check.setting_secret", suggested_secret(key, key=key)
