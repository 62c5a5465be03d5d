"""What every page shares: the signed-in user, the language, CSRF, dates in the user's zone.

Pages are server-rendered Jinja2 (templates extend ``base.html``) with htmx and Alpine.js from
npm. A page view calls :func:`page` (render with the shared context) behind :func:`signed_in`
(anonymous visitors go to /login and come back). Pages never query tables themselves: they call
the Runtime and engine.access like the API does.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import g, redirect, render_template, request

from engine.i18n import register, t, text_of

register(
    {
        "nav.portal": {"zh": "提交工单", "en": "New ticket"},
        "nav.my_tickets": {"zh": "我的工单", "en": "My tickets"},
        "nav.inbox": {"zh": "待办", "en": "Inbox"},
        "nav.dashboards": {"zh": "仪表盘", "en": "Dashboards"},
        "nav.admin": {"zh": "管理", "en": "Admin"},
        "nav.designer": {"zh": "设计器", "en": "Designer"},
        "nav.api": {"zh": "API 文档", "en": "API docs"},
        "nav.logout": {"zh": "退出", "en": "Sign out"},
        "nav.login": {"zh": "登录", "en": "Sign in"},
        "login.title": {"zh": "登录 Gongdan 工单", "en": "Sign in to Gongdan"},
        "login.username": {"zh": "用户名", "en": "Username"},
        "login.password": {"zh": "密码", "en": "Password"},
        "login.submit": {"zh": "登录", "en": "Sign in"},
        "page.error_title": {"zh": "出错了", "en": "Something went wrong"},
        "page.back_home": {"zh": "返回首页", "en": "Back to the start page"},
    }
)


def user_zone() -> ZoneInfo:
    principal = g.get("principal")
    try:
        return ZoneInfo(principal.tz if principal is not None else "Asia/Shanghai")
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def local_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC moment shown in the signed-in user's time zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(user_zone()).strftime(fmt)


def _may_design(principal: Any) -> bool:
    """Admins, and members of an app's ``designer`` role (engine/designer.py), see the designer."""
    from engine.designer import DESIGNER_ROLE

    return principal is not None and (
        principal.is_admin or any(DESIGNER_ROLE in roles for roles in principal.roles.values())
    )


def context() -> dict[str, Any]:
    lang = g.get("lang", "zh")
    return {
        "lang": lang,
        "principal": g.get("principal"),
        "may_design": _may_design(g.get("principal")),
        "csrf_token": g.get("csrf") or "",
        "t": lambda code, **params: t(code, lang, **params),
        "text_of": lambda value: text_of(value, lang),
        "local_time": local_time,
        "here": request.full_path.rstrip("?"),
    }


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    """Render a page template with the shared context."""
    return render_template(template, **context(), **values), status


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to /login?next=<this page>."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("principal") is None:
            return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
        return view(*args, **kwargs)

    return wrapped
