"""The agent inbox page: my todos, my team's queue and what is overdue, with filters, saved views,
SLA countdowns, bulk claim/transfer and keys (j/k, Enter, c, x — server/static/inbox.js).

The filter form and the list speak htmx: the list is a fragment (/inbox/list) the form reloads;
claiming and transferring post the list's form and get the fragment back with the outcome. Without
JavaScript the same forms work as plain GET/POST.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, redirect, request

from engine import inbox
from engine.errors import GongdanError, InputError
from engine.i18n import register, t
from engine.people import user_id
from server.api.core import decode_cursor, encode_cursor
from server.api.tasks import bulk
from server.app import platform
from server.auth import current
from server.web import page, signed_in

bp = Blueprint("inbox", __name__)

register(
    {
        "inbox.title": {"zh": "待办", "en": "Inbox"},
        "inbox.tab.todos": {"zh": "我的待办", "en": "My todos"},
        "inbox.tab.queue": {"zh": "团队待领", "en": "Team queue"},
        "inbox.tab.overdue": {"zh": "已超时", "en": "Overdue"},
        "inbox.col.number": {"zh": "编号", "en": "Number"},
        "inbox.col.title": {"zh": "标题", "en": "Title"},
        "inbox.col.stage": {"zh": "环节", "en": "Stage"},
        "inbox.col.priority": {"zh": "优先级", "en": "Priority"},
        "inbox.col.due": {"zh": "截止时间", "en": "Due"},
        "inbox.col.sla": {"zh": "时限", "en": "SLA"},
        "inbox.col.select": {"zh": "选择", "en": "Select"},
        "inbox.select_all": {"zh": "全选", "en": "Select all"},
        "inbox.filter.app": {"zh": "应用", "en": "App"},
        "inbox.filter.type": {"zh": "工单类型", "en": "Ticket type"},
        "inbox.filter.node": {"zh": "环节", "en": "Stage"},
        "inbox.filter.priority": {"zh": "优先级", "en": "Priority"},
        "inbox.filter.any": {"zh": "全部", "en": "Any"},
        "inbox.filter.overdue": {"zh": "只看超时", "en": "Overdue only"},
        "inbox.filter.q": {"zh": "搜索", "en": "Search"},
        "inbox.filter.q_hint": {"zh": "编号或标题", "en": "Number or title"},
        "inbox.filter.apply": {"zh": "筛选", "en": "Filter"},
        "inbox.filter.clear": {"zh": "清除筛选", "en": "Clear filters"},
        "inbox.views": {"zh": "我的视图", "en": "My views"},
        "inbox.views.none": {"zh": "还没有保存的视图。", "en": "No saved views yet."},
        "inbox.views.name": {"zh": "视图名称", "en": "View name"},
        "inbox.views.save": {"zh": "保存当前筛选", "en": "Save these filters"},
        "inbox.views.delete": {"zh": "删除视图「{name}」", "en": "Delete view '{name}'"},
        "inbox.views.saved": {"zh": "已保存视图「{name}」。", "en": "Saved the view '{name}'."},
        "inbox.claim": {"zh": "领取", "en": "Claim"},
        "inbox.claim_task": {"zh": "领取 {number}", "en": "Claim {number}"},
        "inbox.claim_selected": {"zh": "领取所选", "en": "Claim selected"},
        "inbox.transfer_selected": {"zh": "转派所选", "en": "Transfer selected"},
        "inbox.transfer_to": {"zh": "转派给", "en": "Transfer to"},
        "inbox.pick_person": {"zh": "选择同事…", "en": "Pick a colleague…"},
        "inbox.or_username": {"zh": "或输入用户名", "en": "or type a username"},
        "inbox.empty.todos": {"zh": "没有分配给您的待办。", "en": "Nothing is assigned to you."},
        "inbox.empty.queue": {
            "zh": "团队队列中没有可领取的任务。",
            "en": "Nothing waits in your team's queue.",
        },
        "inbox.empty.overdue": {"zh": "没有超时的任务。", "en": "Nothing is overdue."},
        "inbox.more": {"zh": "更多", "en": "More"},
        "inbox.keys": {
            "zh": "快捷键:j / k 上下移动,Enter 打开,c 领取,x 选中",
            "en": "Keys: j / k move, Enter opens, c claims, x selects",
        },
        "inbox.done": {
            "zh": "{ok} 个任务已处理,{failed} 个未成功。",
            "en": "{ok} task(s) done, {failed} not done.",
        },
        "inbox.failed_one": {"zh": "任务 {task}:{message}", "en": "Task {task}: {message}"},
        "inbox.no_selection": {"zh": "请先勾选任务。", "en": "Select some tasks first."},
        "inbox.too_many": {"zh": "一次最多处理 100 个任务。", "en": "Act on at most 100 tasks at a time."},
        "inbox.pick_user": {"zh": "请选择或输入转派对象。", "en": "Pick or type whom to transfer to."},
        "inbox.unknown_user": {
            "zh": "没有用户名为「{name}」的用户。",
            "en": "There is no user named '{name}'.",
        },
        "inbox.overdue_badge": {"zh": "超时", "en": "Overdue"},
        "inbox.app_label": {"zh": "{app} · {type}", "en": "{app} · {type}"},
    }
)

FILTER_KEYS = ("app", "ticket_type", "node", "priority", "overdue", "q")
BULK_LIMIT = 100


def _tab() -> str:
    tab = request.values.get("tab", "todos")
    return tab if tab in inbox.TABS else "todos"


def _filters() -> tuple[inbox.Filters, dict[str, Any] | None]:
    """The filters of this request: a saved view's (?view=ID), else the form's."""
    view_id = request.args.get("view", "")
    if view_id.isdigit():
        with platform().db.read() as conn:
            view = inbox.saved_view(conn, current().user_id, int(view_id))
        return inbox.Filters.of(view["filters"]), view
    return inbox.Filters.of(request.values), None


def _query(tab: str, filters: inbox.Filters, **extra: Any) -> str:
    values = {"tab": tab, **{k: ("1" if v is True else v) for k, v in filters.as_dict().items()}}
    values.update({k: v for k, v in extra.items() if v is not None})
    return urlencode(values)


def _list_values(tab: str, filters: inbox.Filters, cursor: str | None = None) -> dict[str, Any]:
    """What the list fragment shows: one page of the tab, the tab counts, the next page's link."""
    principal = current()
    runtime = platform().runtime
    now = runtime.clock()
    with platform().db.read() as conn:
        found = inbox.inbox(
            conn, principal, tab, runtime.spec_for, filters=filters, now=now, lang=g.lang,
            cursor=decode_cursor(cursor), limit=50,
        )  # fmt: skip
        counts = inbox.counts(conn, principal, now=now, filters=filters)
        people = inbox.teammates(conn, principal)
    more = encode_cursor(found.next_cursor) if found.next_cursor is not None else None
    return {
        "tab": tab,
        "tabs": inbox.TABS,
        "filters": filters,
        "rows": found.items,
        "people": people,
        "counts": counts,
        "now": now,
        "countdown": lambda due: inbox.countdown(due, now, g.lang),
        "more_query": _query(tab, filters, cursor=more) if more else None,
        "tab_query": lambda name: _query(name, filters),
        "list_query": _query(tab, filters),
    }


def _choices(conn: Any, filters: inbox.Filters) -> dict[str, Any]:
    """The filter form's options; a stage filter of an older link or saved view (a plain node id,
    every app's) stays selected, named by the stages it covers."""
    choices = inbox.filter_choices(conn, platform().runtime.spec_for, g.lang)
    node = filters.node
    if node and all(o["value"] != node for o in choices["nodes"]):
        app_key, node_id = inbox.node_filter(node)
        same = [] if app_key else [o for o in choices["nodes"] if o["value"].endswith(f":{node_id}")]
        choices["nodes"].append({"value": node, "label": " / ".join(o["label"] for o in same) or node_id})
    return choices


@bp.get("/inbox")
@signed_in
def inbox_page():
    tab = _tab()
    filters, view = _filters()
    principal = current()
    with platform().db.read() as conn:
        choices = _choices(conn, filters)
        views = inbox.saved_views(conn, principal.user_id)
    return page(
        "pages/inbox.html",
        **_list_values(tab, filters, request.args.get("cursor")),
        choices=choices,
        views=views,
        view=view,
        notice=request.args.get("saved") and t("inbox.views.saved", g.lang, name=request.args["saved"]),
    )


@bp.get("/inbox/list")
@signed_in
def inbox_list():
    """The list fragment (htmx): rows, the next-page link and the tab counts (swapped out of band);
    with ``rows=1`` only the rows of a further page."""
    tab = _tab()
    filters, _ = _filters()
    values = _list_values(tab, filters, request.args.get("cursor"))
    if request.args.get("rows") == "1":
        return page("pages/inbox_rows.html", **values)
    return page("pages/inbox_list.html", oob=True, **values)


@bp.post("/inbox/act")
@signed_in
def inbox_act():
    """Claim one task (``claim_one``) or claim/transfer the ticked ones (``task``), each on its own."""
    form = request.form
    tab = _tab()
    filters = inbox.Filters.of(form)
    outcome: dict[str, Any]
    if form.get("claim_one", "").isdigit():
        action, tasks = "claim", [int(form["claim_one"])]
    else:
        action = "transfer" if form.get("action") == "transfer" else "claim"
        tasks = [int(v) for v in form.getlist("task") if v.isdigit() and int(v) <= inbox.MAX_ID]
    try:
        outcome = _run_bulk(action, list(dict.fromkeys(tasks)), form)
    except GongdanError as exc:
        outcome = {"problems": [exc.message(g.lang)], "ok": 0, "failed": 0}
    values = _list_values(tab, filters)
    if request.headers.get("HX-Request") == "true":
        return page("pages/inbox_list.html", oob=True, outcome=outcome, **values)
    with platform().db.read() as conn:
        choices = _choices(conn, filters)
        views = inbox.saved_views(conn, current().user_id)
    return page("pages/inbox.html", outcome=outcome, choices=choices, views=views, view=None, **values)


def _run_bulk(action: str, tasks: list[int], form: Any) -> dict[str, Any]:
    if not tasks:
        raise InputError("inbox.no_selection")
    if len(tasks) > BULK_LIMIT:
        raise InputError("inbox.too_many")
    to: int | None = None
    if action == "transfer":
        name = form.get("to_username", "").strip()
        if name:
            to = user_id(platform().db, name)
            if to is None:
                raise InputError("inbox.unknown_user", name=name)
        elif form.get("to", "").isdigit() and int(form["to"]) <= inbox.MAX_INT_ID:
            to = int(form["to"])
        else:
            raise InputError("inbox.pick_user")
    results = bulk(current(), action, tasks, to, None)
    failed = [r for r in results if not r["ok"]]
    return {
        "ok": len(results) - len(failed),
        "failed": len(failed),
        "problems": [t("inbox.failed_one", g.lang, task=r["task"], message=r["message"]) for r in failed],
    }


@bp.post("/inbox/views")
@signed_in
def save_view():
    """Save the filters on the form under a name, then show the inbox through that view."""
    runtime = platform().runtime
    filters = inbox.Filters.of(request.form)
    with platform().db.write() as conn:
        view = inbox.save_view(
            conn, current().user_id, request.form.get("name", ""), filters, runtime.clock()
        )
    query = urlencode({"tab": _tab(), "view": view["id"], "saved": view["name"]})
    return redirect(f"/inbox?{query}", code=303)


@bp.post("/inbox/views/<int:view_id>/delete")
@signed_in
def delete_view(view_id: int):
    with platform().db.write() as conn:
        inbox.delete_view(conn, current().user_id, view_id)
    return redirect(f"/inbox?{urlencode({'tab': _tab()})}", code=303)
