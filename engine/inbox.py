"""The agent inbox: my todos, my team's claimable queue and what is overdue — one SQL statement a page.

A row is an open task with its ticket (number, title, stage, priority), its deadline and its SLA
state. The deadline is the task's own ``due_at`` (todos) or else the due time of the running SLA
clock of the task's node; paused clocks have none (the ticket waits on someone else). Rows sort
overdue first, then by deadline (none last), then oldest first; pages continue with a keyset cursor.

The team queue is the open unassigned tasks of pools the principal may claim: ``role:KEY`` pools
of *their roles in that task's app* (a role key of app A never matches app B's tasks), their
department's pool, and ``users`` pools naming them. Labels come from the flow spec of each
ticket's app version (compiled once and cached by the Runtime), so a page costs no query per row.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.util import find_tables

from engine.access import Principal, can_see, in_users_pool, pool_keys
from engine.errors import ConflictError, FormError, InputError, NotFoundError, Problem
from engine.i18n import register, t, text_of
from engine.specs import AppSpec
from engine.store.models import App, Record, Role, RoleMember, SavedView, SlaClock, Task, User
from engine.store.types import UTCDateTime

T, R, A, SC, SV, U = (m.__table__ for m in (Task, Record, App, SlaClock, SavedView, User))
RT, RM = Role.__table__, RoleMember.__table__
CLOCK = SC.alias("clock")

TABS = ("todos", "queue", "overdue")
#: The form fields a row's title is taken from, the first one a ticket has.
TITLE_FIELDS = ("summary", "title", "subject", "name")
PRIORITY_FIELD = "priority"
PAGE = "inbox"
#: The largest id a row can have (BIGINT); larger ones in a URL simply do not exist.
MAX_ID = 2**63 - 1
#: The same for INTEGER ids (users, saved views).
MAX_INT_ID = 2**31 - 1
MAX_VIEWS = 100
#: An open task whose SLA has fired a warning level (e.g. 80 %) shows as "warning".
SLA_STATES = ("none", "ok", "warning", "breached", "paused")

SpecFor = Callable[[Connection, int, int], AppSpec]

#: The moment "overdue" is measured against, bound at execution so a built statement is reused.
NOW = bindparam("now", type_=UTCDateTime())
STATEMENT_CACHE_SIZE = 512


class _Statements:
    """Built page and count statements by who asks and how (an LRU): building one costs more than
    running it on an indexed table, and an agent reloads the same inbox all day. The principal's
    roles and department are part of the key, so a changed role builds a new statement."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        built = build()
        with self._lock:
            self._items[key] = built
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return built


_statements = _Statements(STATEMENT_CACHE_SIZE)


def _who(principal: Principal) -> Hashable:
    roles = tuple(sorted((app, tuple(sorted(keys))) for app, keys in principal.roles.items()))
    return principal.user_id, principal.department_id, roles


register(
    {
        "inbox.bad_cursor": {
            "zh": "分页游标无效,请从第一页重新开始(去掉 cursor 参数)。",
            "en": "The page cursor is invalid; start again from the first page (drop the cursor parameter).",
        },
        "inbox.unknown_tab": {
            "zh": "没有「{tab}」这个待办分组;可选:{known}。",
            "en": "There is no inbox tab '{tab}'; use one of: {known}.",
        },
        "inbox.view_name": {
            "zh": "请给视图起一个 1 到 100 个字符的名字。",
            "en": "Give the view a name of 1 to 100 characters.",
        },
        "inbox.view_exists": {
            "zh": "您已有名为「{name}」的视图,请换一个名字或先删除旧的。",
            "en": "You already have a view named '{name}'; pick another name or delete the old one first.",
        },
        "inbox.too_many_views": {
            "zh": "视图最多 {max} 个,请先删除不用的。",
            "en": "You can keep at most {max} views; delete one you no longer use first.",
        },
        "inbox.left": {"zh": "剩余 {time}", "en": "{time} left"},
        "inbox.overdue_by": {"zh": "已超时 {time}", "en": "overdue {time}"},
        "inbox.unit.d": {"zh": "{n}天", "en": "{n}d"},
        "inbox.unit.h": {"zh": "{n}小时", "en": "{n}h"},
        "inbox.unit.m": {"zh": "{n}分钟", "en": "{n}m"},
        "inbox.sla.none": {"zh": "无时限", "en": "No deadline"},
        "inbox.sla.ok": {"zh": "正常", "en": "On time"},
        "inbox.sla.warning": {"zh": "即将超时", "en": "Due soon"},
        "inbox.sla.breached": {"zh": "已超时", "en": "Overdue"},
        "inbox.sla.paused": {"zh": "计时暂停", "en": "Paused"},
        "inbox.stage_of_app": {"zh": "{app} · {stage}", "en": "{app} · {stage}"},
    }
)


# ----------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to; every filter is optional and all given ones must hold."""

    app: str | None = None
    ticket_type: str | None = None
    node: str | None = None
    priority: str | None = None
    overdue: bool = False
    q: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any] | None) -> Filters:
        """Filters from a query string, a form or a saved view (blank and unknown entries ignored)."""
        values = values or {}
        out: dict[str, Any] = {}
        for f in fields(cls):
            raw = values.get(f.name)
            if f.name == "overdue":
                out["overdue"] = raw is True or str(raw).lower() in ("1", "true", "on", "yes")
            elif isinstance(raw, str | int | float) and not isinstance(raw, bool):
                value = str(raw).replace("\x00", "").strip()[: 200 if f.name == "q" else 100]
                if value:
                    out[f.name] = value
        return cls(**out)

    def as_dict(self) -> dict[str, Any]:
        """Only the filters that are set (what a saved view stores)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False, "")}


def _filter_clause(filters: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.app:
        out.append(R.c.app_id == _app_id(filters.app))
    if filters.ticket_type:
        out.append(R.c.ticket_type == filters.ticket_type)
    if filters.node:
        app_key, node_id = node_filter(filters.node)
        out.append(T.c.node_id == node_id)
        if app_key:
            out.append(R.c.app_id == _app_id(app_key))
    if filters.priority:
        out.append(R.c.data[PRIORITY_FIELD].as_string() == filters.priority)
    if filters.q:
        needle = filters.q.lower()
        out.append(
            or_(
                func.lower(R.c.number).contains(needle, autoescape=True),
                func.lower(_title()).contains(needle, autoescape=True),
            )
        )
    return out


def node_filter(value: str) -> tuple[str | None, str]:
    """(app key, node id) of a stage filter: ``APP:NODE`` (node ids repeat across apps: ``fix`` is a
    stage of several), or a plain node id in any app, as older links and saved views hold it."""
    app_key, _, node_id = value.rpartition(":")
    return app_key or None, node_id


def _app_id(app_key: str) -> ColumnElement[Any]:
    """The id of app ``app_key`` as an uncorrelated subquery: the database looks it up once."""
    return select(A.c.id).where(A.c.key == app_key).scalar_subquery()


def _title() -> ColumnElement[Any]:
    return func.coalesce(*(R.c.data[key].as_string() for key in TITLE_FIELDS))


# ----------------------------------------------------------------------------- who sees which task
def claimable_clause(principal: Principal, dialect: str) -> ColumnElement[bool]:
    """Open unassigned tasks in a pool ``principal`` may claim (needs the task's record joined).
    The flat ``pool_key IN (...)`` lets the database use ix_tasks_pool_status."""
    uid = principal.user_id
    keys: list[str] = ["users"]
    terms: list[ColumnElement[bool]] = [
        and_(T.c.pool_key == "users", in_users_pool(dialect, T.c.candidates, uid))
    ]
    for app_key in sorted(principal.roles):
        mine = pool_keys(principal, app_key)
        keys += mine
        terms.append(and_(R.c.app_id == _app_id(app_key), T.c.pool_key.in_(mine)))
    if principal.department_id is not None:  # a department's pool is the same in every app
        department = f"department:{principal.department_id}"
        keys.append(department)
        terms.append(T.c.pool_key == department)
    return and_(
        T.c.status == "open",
        T.c.assignee_id.is_(None),
        T.c.pool_key.in_(sorted(set(keys))),
        or_(*terms),
    )


def _mine(principal: Principal) -> ColumnElement[bool]:
    return and_(T.c.assignee_id == principal.user_id, T.c.status == "open")


def _tab_clause(principal: Principal, tab: str, dialect: str) -> ColumnElement[bool]:
    if tab == "todos":
        return _mine(principal)
    if tab == "queue":
        return claimable_clause(principal, dialect)
    if tab == "overdue":
        return or_(_mine(principal), claimable_clause(principal, dialect))
    raise InputError("inbox.unknown_tab", tab=tab, known=", ".join(TABS))


def _due() -> ColumnElement[Any]:
    """A task's deadline: its own, else the earliest due time of its node's running SLA clocks."""
    sc = SC.alias("sc")
    clock_due = (
        select(func.min(sc.c.due_at))
        .where(sc.c.record_id == T.c.record_id, sc.c.node_id == T.c.node_id, sc.c.status == "running")
        .correlate(T)
        .scalar_subquery()
    )
    return func.coalesce(T.c.due_at, clock_due)


def _candidates(
    principal: Principal,
    dialect: str,
    where: Iterable[ColumnElement[bool]],
    claimable: bool | int = True,
) -> Any:
    """The tasks matching ``where`` with only what sorting and counting need (a subquery). The
    ``claimable`` column is worked out per row (True), a constant the tab implies (0 or 1: a task of
    mine is never claimable, a queue task always is), or left out (False). The record is joined
    only when a condition needs it: my todos are then read from the tasks' index alone."""
    where = list(where)
    columns = [T.c.id.label("task_id"), T.c.created_at, T.c.assignee_id, _due().label("due")]
    if claimable is True:
        flag = case((claimable_clause(principal, dialect), literal(1)), else_=literal(0))
        columns.append(flag.label("claimable"))
        where_and_columns = [*where, flag]
    else:
        if claimable is not False:
            columns.append(literal(int(claimable)).label("claimable"))
        where_and_columns = where
    needs_record = any(R in find_tables(c, check_columns=True) for c in where_and_columns)
    source = T.join(R, R.c.id == T.c.record_id) if needs_record else T
    return select(*columns).select_from(source).where(*where).subquery("candidates")


def _clock_join() -> ColumnElement[bool]:
    """The clock a row shows: its node's running clock due first, else a paused one."""
    sc = SC.alias("sc")
    first = (
        select(sc.c.id)
        .where(
            sc.c.record_id == T.c.record_id,
            sc.c.node_id == T.c.node_id,
            sc.c.status.in_(("running", "paused")),
        )
        .order_by(case((sc.c.status == "running", 0), else_=1), sc.c.due_at, sc.c.id)
        .limit(1)
        .correlate(T)
        .scalar_subquery()
    )
    return CLOCK.c.id == first


def _rows(chosen: Any) -> Select[Any]:
    """Everything a row shows, for the tasks of ``chosen`` (a few: one page) in the inbox order."""
    return (
        select(
            chosen.c.task_id,
            T.c.kind,
            T.c.status.label("task_status"),
            T.c.node_id,
            T.c.assignee_id,
            T.c.candidates,
            chosen.c.created_at,
            R.c.id.label("record_id"),
            R.c.number,
            R.c.app_id,
            R.c.app_version,
            R.c.ticket_type,
            R.c.stage,
            R.c.status.label("record_status"),
            _title().label("title"),
            R.c.data[PRIORITY_FIELD].as_string().label("priority"),
            A.c.key.label("app"),
            CLOCK.c.status.label("clock_status"),
            CLOCK.c.target.label("clock_target"),
            CLOCK.c.breached.label("clock_breached"),
            CLOCK.c.levels.label("clock_levels"),
            chosen.c.due,
            chosen.c.claimable,
        )
        .select_from(
            chosen.join(T, T.c.id == chosen.c.task_id)
            .join(R, R.c.id == T.c.record_id)
            .join(A, A.c.id == R.c.app_id)
            .outerjoin(CLOCK, _clock_join())
        )
        .order_by(*_sort_key(chosen))
    )


# ----------------------------------------------------------------------------- keyset pagination
def _sort_key(sub: Any) -> tuple[Any, ...]:
    return (sub.c.due.asc().nulls_last(), sub.c.created_at, sub.c.task_id)


def _after(sub: Any, cursor: Any) -> ColumnElement[bool]:
    """Rows after ``cursor`` ([due is null, due, created_at, task id]) in the inbox order."""
    no_due, due, created, task_id = _parse_cursor(cursor)
    later = or_(sub.c.created_at > created, and_(sub.c.created_at == created, sub.c.task_id > task_id))
    if no_due:
        return and_(sub.c.due.is_(None), later)
    return or_(sub.c.due.is_(None), sub.c.due > due, and_(sub.c.due == due, later))


def _parse_cursor(cursor: Any) -> tuple[bool, dt.datetime | None, dt.datetime, int]:
    try:
        no_due, due, created, task_id = cursor
        if not isinstance(task_id, int) or isinstance(task_id, bool) or not isinstance(no_due, bool):
            raise ValueError(cursor)
        due_at = None if no_due else _moment(due)
        return no_due, due_at, _moment(created), task_id
    except (TypeError, ValueError) as exc:
        raise InputError("inbox.bad_cursor") from exc


def _moment(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(value)
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


def cursor_of(row: Mapping[str, Any]) -> list[Any]:
    """The cursor continuing after ``row`` (a row this module returned)."""
    due = row["due_at"]
    return [due is None, due.isoformat() if due else None, row["created_at"].isoformat(), row["task"]]


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class InboxPage:
    items: list[dict[str, Any]]
    #: the cursor of the next page (JSON-able), None on the last page
    next_cursor: list[Any] | None


def inbox(
    conn: Connection,
    principal: Principal,
    tab: str,
    specs: SpecFor,
    *,
    filters: Filters | None = None,
    now: dt.datetime,
    lang: str | None = None,
    limit: int = 50,
    cursor: Any = None,
) -> InboxPage:
    """One page of a tab (``todos``, ``queue`` or ``overdue``), in one SQL statement."""
    filters = filters or Filters()
    dialect = conn.dialect.name
    if tab not in TABS:
        raise InputError("inbox.unknown_tab", tab=tab, known=", ".join(TABS))

    def build() -> Select[Any]:
        return _page(principal, tab, dialect, filters, limit, cursor)

    if cursor is None:
        statement = _statements.get(("page", _who(principal), tab, dialect, filters, limit), build)
    else:
        statement = build()
    rows = conn.execute(statement, {"now": now}).all()
    labels = _Labels(conn, principal, specs, lang)
    items = [_item(labels, row, now) for row in rows[:limit]]
    return InboxPage(items, cursor_of(items[-1]) if len(rows) > limit else None)


def _page(
    principal: Principal, tab: str, dialect: str, filters: Filters, limit: int, cursor: Any
) -> Select[Any]:
    """The statement of one page of ``tab`` (``now`` bound at execution)."""
    claimable: bool | int = {"todos": 0, "queue": 1}.get(tab, True)
    where = [_tab_clause(principal, tab, dialect), *_filter_clause(filters)]
    found = _candidates(principal, dialect, where, claimable)
    top: Select[Any] = select(found)
    if tab == "overdue" or filters.overdue:
        top = top.where(found.c.due < NOW)
    if cursor is not None:
        top = top.where(_after(found, cursor))
    chosen = top.order_by(*_sort_key(found)).limit(limit + 1).subquery("page")
    return _rows(chosen)


def my_todos(conn: Connection, principal: Principal, specs: SpecFor, **kw: Any) -> InboxPage:
    """Open tasks assigned to ``principal`` (work and approvals and todos, every app)."""
    return inbox(conn, principal, "todos", specs, **kw)


def team_queue(conn: Connection, principal: Principal, specs: SpecFor, **kw: Any) -> InboxPage:
    """Open unassigned tasks in the pools ``principal`` may claim."""
    return inbox(conn, principal, "queue", specs, **kw)


def overdue(conn: Connection, principal: Principal, specs: SpecFor, **kw: Any) -> InboxPage:
    """My todos and my team's queue past their deadline."""
    return inbox(conn, principal, "overdue", specs, **kw)


def counts(
    conn: Connection, principal: Principal, *, now: dt.datetime, filters: Filters | None = None
) -> dict[str, int]:
    """How many rows each tab has (with ``filters``), in one SQL statement."""
    filters = filters or Filters()
    dialect = conn.dialect.name

    def build() -> Select[Any]:
        # Every candidate is mine or claimable, and claimable ones have no assignee: no need to
        # test the pools a second time per row.
        where = [_tab_clause(principal, "overdue", dialect), *_filter_clause(filters)]
        sub = _candidates(principal, dialect, where, claimable=False)
        late = sub.c.due < NOW
        in_view = late if filters.overdue else literal(True)

        def total(cond: ColumnElement[bool]) -> Any:
            return func.coalesce(func.sum(case((and_(cond, in_view), 1), else_=0)), 0)

        return select(
            total(sub.c.assignee_id == principal.user_id).label("todos"),
            total(sub.c.assignee_id.is_(None)).label("queue"),
            total(late).label("overdue"),
        )

    statement = _statements.get(("counts", _who(principal), dialect, filters), build)
    row = conn.execute(statement, {"now": now}).one()
    return {"todos": int(row.todos), "queue": int(row.queue), "overdue": int(row.overdue)}


def task_row(
    conn: Connection,
    principal: Principal,
    task_id: int,
    specs: SpecFor,
    *,
    now: dt.datetime,
    lang: str | None = None,
) -> dict[str, Any] | None:
    """One task as an inbox row (any status) with what may be done with it; None if it does not
    exist. The caller checks that ``principal`` may see its ticket."""
    from engine.flows import stepping

    chosen = _candidates(principal, conn.dialect.name, [T.c.id == task_id])
    row = conn.execute(_rows(chosen)).first()
    if row is None:
        return None
    item = _item(_Labels(conn, principal, specs, lang), row, now)
    flow = specs(conn, row.app_id, row.app_version).types[row.ticket_type].flow
    live = row.task_status == "open" and row.kind != "todo" and row.node_id in flow.nodes
    item["actions"] = (
        ["done"] if row.kind == "todo" and row.task_status == "open" else
        stepping.available_actions(flow, row.node_id) if live else []
    )  # fmt: skip
    item["returns"] = [
        {"node": n, "name": text_of(flow.nodes[n].name, lang) or n}
        for n in (flow.returns.get(row.node_id, ()) if live else ())
        if n in flow.nodes
    ]
    return item


class _Labels:
    """Names (in ``lang``) and hidden fields per ticket type and stage, worked out once a page."""

    def __init__(self, conn: Connection, principal: Principal, specs: SpecFor, lang: str | None):
        self.conn, self.principal, self.specs, self.lang = conn, principal, specs, lang
        self._types: dict[tuple[int, int, str], dict[str, Any]] = {}
        self._hidden: dict[tuple[int, int, str, str | None], frozenset[str]] = {}

    def of_type(self, row: Any) -> dict[str, Any]:
        key = (row.app_id, row.app_version, row.ticket_type)
        if key not in self._types:
            spec = self.specs(self.conn, row.app_id, row.app_version)
            tspec = spec.types.get(row.ticket_type)
            lang = self.lang
            nodes = tspec.flow.nodes if tspec is not None else {}
            priority = (
                next((f for f in tspec.definition.form.fields if f.key == PRIORITY_FIELD), None)
                if tspec
                else None
            )
            options = (
                [o for o in (priority.get("options") or ()) if isinstance(o, Mapping)] if priority else []
            )
            self._types[key] = {
                "tspec": tspec,
                "app_name": text_of(spec.app.name, lang) or row.app,
                "type_name": (text_of(tspec.definition.name, lang) if tspec else "") or row.ticket_type,
                "nodes": {n: text_of(node.name, lang) or n for n, node in nodes.items()},
                "priorities": {str(o.get("value")): text_of(o.get("label"), lang) for o in options},
            }
        return self._types[key]

    def hidden(self, row: Any, tspec: Any) -> frozenset[str]:
        key = (row.app_id, row.app_version, row.ticket_type, row.stage)
        if key not in self._hidden:
            roles = self.principal.roles_in(row.app)
            self._hidden[key] = frozenset() if tspec is None else tspec.access(row.stage, roles).hidden()
        return self._hidden[key]


def _item(labels: _Labels, row: Any, now: dt.datetime) -> dict[str, Any]:
    kind = labels.of_type(row)
    hidden = labels.hidden(row, kind["tspec"])
    title = None if hidden & set(TITLE_FIELDS) else row.title
    priority = None if PRIORITY_FIELD in hidden else row.priority
    if row.kind == "todo":
        node_name = text_of((row.candidates or {}).get("title"), labels.lang)
    else:
        node_name = kind["nodes"].get(row.node_id)
    return {
        "task": row.task_id,
        "kind": row.kind,
        "status": row.task_status,
        "node": row.node_id,
        "node_name": node_name or row.node_id,
        "assignee": row.assignee_id,
        "claimable": bool(row.claimable),
        "created_at": row.created_at,
        "due_at": row.due,
        "sla": {"state": _sla_state(row, now), "target": row.clock_target},
        "ticket": {
            "id": row.record_id,
            "number": row.number,
            "app": row.app,
            "app_name": kind["app_name"],
            "ticket_type": row.ticket_type,
            "type_name": kind["type_name"],
            "title": title,
            "stage": row.stage,
            "stage_name": kind["nodes"].get(row.stage) if row.stage else None,
            "status": row.record_status,
            "priority": priority,
            "priority_label": (kind["priorities"].get(priority) or priority) if priority else None,
        },
    }


def _sla_state(row: Any, now: dt.datetime) -> str:
    if row.clock_status == "paused":
        return "paused"
    if row.due is None:
        return "none"
    if row.due < now or row.clock_breached:
        return "breached"
    if row.clock_levels:  # a warning level (below 100 %) has fired
        return "warning"
    return "ok"


def countdown(due: dt.datetime | None, now: dt.datetime, lang: str | None = None) -> str:
    """ "2h 10m left" / "overdue 35m" (minutes rounded down; days and hours above a day)."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [("d", days), ("h", hours)] if days else [("h", hours), ("m", mins)] if hours else [("m", mins)]
    sep = "" if (lang or "").startswith("zh") else " "
    time = sep.join(t(f"inbox.unit.{u}", lang, n=n) for u, n in parts if n or u == parts[-1][0])
    return t("inbox.left" if seconds >= 0 else "inbox.overdue_by", lang, time=time)


def visible_task(conn: Connection, principal: Principal, task_id: int) -> int:
    """The ticket id of task ``task_id`` if ``principal`` may see that ticket; 404 otherwise (whether
    the task exists or not, so ids cannot be probed)."""
    record_id = (
        None if task_id > MAX_ID else conn.execute(select(T.c.record_id).where(T.c.id == task_id)).scalar()
    )
    if record_id is None or not can_see(conn, principal, record_id):
        raise NotFoundError(what="task", ident=task_id)
    return int(record_id)


def default_action(conn: Connection, task_id: int) -> str:
    """What finishing a task means when no action is named: done (a todo), approve, else complete."""
    kind = conn.execute(select(T.c.kind).where(T.c.id == task_id)).scalar()
    return {"todo": "done", "approval": "approve"}.get(kind or "", "complete")


def filter_choices(conn: Connection, specs: SpecFor, lang: str | None = None) -> dict[str, Any]:
    """What the filter form offers: apps, their ticket types, their stages (``APP:NODE``, named as
    that app names them, with the app's name when there are several apps), priority values."""
    apps, types, nodes, priorities = [], [], {}, {}
    for app_id, key, version in conn.execute(select(A.c.id, A.c.key, A.c.current_version).order_by(A.c.key)):
        spec = specs(conn, app_id, version)
        app_name = text_of(spec.app.name, lang) or key
        apps.append({"value": key, "label": app_name})
        for type_key, tspec in spec.types.items():
            types.append({"value": type_key, "label": text_of(tspec.definition.name, lang) or type_key})
            for node in tspec.flow.nodes.values():
                if node.type in ("task", "approval"):
                    nodes.setdefault((key, node.id), (app_name, text_of(node.name, lang) or node.id))
            for f in tspec.definition.form.fields:
                if f.key == PRIORITY_FIELD:
                    for option in f.get("options") or ():
                        if isinstance(option, Mapping) and "value" in option:
                            value = str(option["value"])
                            priorities.setdefault(value, text_of(option.get("label"), lang) or value)
    several = len({app for app, _ in nodes}) > 1
    return {
        "apps": apps,
        "types": list({t["value"]: t for t in types}.values()),
        "nodes": [
            {
                "value": f"{app}:{node}",
                "label": t("inbox.stage_of_app", lang, app=app_name, stage=stage) if several else stage,
            }
            for (app, node), (app_name, stage) in nodes.items()
        ],
        "priorities": [{"value": k, "label": v} for k, v in sorted(priorities.items())],
    }


# ----------------------------------------------------------------------------- people to hand work to
def teammates(conn: Connection, principal: Principal, limit: int = 200) -> list[dict[str, Any]]:
    """Active people sharing a role (in any app) or the department with ``principal``: whom a
    transfer usually goes to. One statement."""
    my_roles = select(RM.c.role_id).where(RM.c.user_id == principal.user_id)
    same_role = select(RM.c.user_id).where(RM.c.role_id.in_(my_roles))
    near = [U.c.id.in_(same_role)]
    if principal.department_id is not None:
        near.append(U.c.department_id == principal.department_id)
    rows = conn.execute(
        select(U.c.id, U.c.username, U.c.display_name)
        .where(U.c.is_active.is_(True), U.c.id != principal.user_id, or_(*near))
        .order_by(U.c.display_name, U.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


# ----------------------------------------------------------------------------- saved views
def saved_views(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(SV.c.id, SV.c.name, SV.c.filters, SV.c.created_at)
        .where(SV.c.user_id == user_id, SV.c.page == PAGE)
        .order_by(SV.c.name, SV.c.id)
        .limit(MAX_VIEWS)
    )
    return [_view(r) for r in rows]


def saved_view(conn: Connection, user_id: int, view_id: int) -> dict[str, Any]:
    """One of the user's own views; 404 for anyone else's (ids are not probeable)."""
    if view_id > MAX_INT_ID:
        raise NotFoundError(what="view", ident=view_id)
    row = conn.execute(
        select(SV.c.id, SV.c.name, SV.c.filters, SV.c.created_at).where(
            SV.c.id == view_id, SV.c.user_id == user_id, SV.c.page == PAGE
        )
    ).first()
    if row is None:
        raise NotFoundError(what="view", ident=view_id)
    return _view(row)


def save_view(
    conn: Connection, user_id: int, name: str, filters: Filters, now: dt.datetime
) -> dict[str, Any]:
    """Save ``filters`` under ``name`` (unique per user)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100 or any(ord(c) < 32 for c in name):
        raise FormError(problems=[Problem("name", "inbox.view_name")])
    mine = SV.c.user_id == user_id, SV.c.page == PAGE
    if conn.execute(select(SV.c.id).where(*mine, SV.c.name == name)).first() is not None:
        raise ConflictError("inbox.view_exists", name=name)
    if conn.execute(select(func.count()).select_from(SV).where(*mine)).scalar_one() >= MAX_VIEWS:
        raise ConflictError("inbox.too_many_views", max=MAX_VIEWS)
    values = {"user_id": user_id, "name": name, "page": PAGE, "filters": filters.as_dict(), "created_at": now}
    try:
        with conn.begin_nested():
            view_id = conn.execute(insert(SV).values(**values).returning(SV.c.id)).scalar_one()
    except IntegrityError:  # the same name saved at the same moment in another request
        raise ConflictError("inbox.view_exists", name=name) from None
    return {"id": view_id, "name": name, "filters": values["filters"], "created_at": now}


def delete_view(conn: Connection, user_id: int, view_id: int) -> None:
    if view_id > MAX_INT_ID:
        raise NotFoundError(what="view", ident=view_id)
    done = conn.execute(delete(SV).where(SV.c.id == view_id, SV.c.user_id == user_id, SV.c.page == PAGE))
    if done.rowcount != 1:
        raise NotFoundError(what="view", ident=view_id)


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "filters": Filters.of(row.filters).as_dict(),
        "created_at": row.created_at,
    }


__all__ = [
    "MAX_ID",
    "MAX_INT_ID",
    "SLA_STATES",
    "TABS",
    "Filters",
    "InboxPage",
    "claimable_clause",
    "countdown",
    "counts",
    "cursor_of",
    "default_action",
    "delete_view",
    "filter_choices",
    "inbox",
    "my_todos",
    "node_filter",
    "overdue",
    "save_view",
    "saved_view",
    "saved_views",
    "task_row",
    "team_queue",
    "teammates",
    "visible_task",
]
