"""Which running tickets a publish would affect: the designer's publish preview.

A ticket keeps running on the version it was created with until it is upgraded (Runtime.upgrade),
so publishing changes nothing for it at once — but whoever upgrades it, or reads it next to the new
version, meets what the candidate changed. For every version that still has open tickets, this
module compares that version with the candidate and counts the open tickets that are

* at a node the candidate removes or changes (its settings, or where its edges lead) — a ticket is
  "at" a node when it is its stage or one of its live tasks waits there (parallel branches);
* holding a value in a field the candidate removes or whose type it changes;
* of a ticket type the candidate removes.

Counts and up to ``limit`` example ticket numbers per change come from one SQL statement for the
nodes and one for the fields (window functions; never one query per ticket), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, cast, func, literal, select, union, union_all

from engine.definitions.build import build_app
from engine.definitions.loader import Loaded, canonical_data
from engine.definitions.model import AppDef, FlowDef, thaw
from engine.reports.sql import json_value
from engine.store.models import App, AppVersion, Record, Task

R, T = Record.__table__, Task.__table__
EXAMPLES = 20
LIVE_TASKS = ("open", "waiting")
EMPTY_VALUES = ("", "[]", "{}")

#: What a change is, per kind: the part of the definition it concerns (for its path).
KINDS = ("ticket_type_removed", "node_removed", "node_changed", "field_removed", "field_type_changed")


@dataclass
class AffectedChange:
    """One change of the candidate and the open tickets it concerns."""

    kind: str  # one of KINDS
    ticket_type: str
    target: str  # the node id, field key or ticket type
    path: str  # where in the definition, e.g. ticket_types.complaint.flow.nodes[fix]
    count: int = 0
    examples: list[str] = field(default_factory=list)  # ticket numbers, oldest first
    versions: list[int] = field(default_factory=list)  # the running versions these tickets are on
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"from": "text", "to": "number"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ticket_type": self.ticket_type,
            "target": self.target,
            "path": self.path,
            "count": self.count,
            "examples": self.examples,
            "versions": self.versions,
            "detail": self.detail,
        }


@dataclass
class Impact:
    """The running tickets a publish would affect, change by change (only changes with tickets)."""

    app: str
    open_tickets: int = 0
    changes: list[AffectedChange] = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "open_tickets": self.open_tickets,
            "changes": [c.as_dict() for c in self.changes],
        }


# ----------------------------------------------------------------------------- comparing definitions
def _app_of(candidate: Any) -> AppDef:
    if isinstance(candidate, Loaded):
        return candidate.app
    if isinstance(candidate, AppDef):
        return candidate
    return build_app(canonical_data(candidate))


def _node_signatures(flow: FlowDef) -> dict[str, str]:
    """Per node: what it is and where it leads, as comparable text."""
    out: dict[str, list[Any]] = {}
    for edge in flow.edges:
        out.setdefault(edge.source, []).append([edge.target, edge.action, edge.condition, edge.default])
    return {
        n.id: json.dumps(
            [n.type, thaw(n.name), thaw(n.options), sorted(out.get(n.id, []), key=json.dumps)],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        for n in flow.nodes
    }


def _changes(old: AppDef, new: AppDef) -> list[AffectedChange]:
    """What the candidate ``new`` removes or changes of version ``old`` that tickets may sit on."""
    out: list[AffectedChange] = []
    for tkey, told in old.ticket_types.items():
        base = f"ticket_types.{tkey}"
        tnew = new.ticket_types.get(tkey)
        if tnew is None:
            out.append(AffectedChange("ticket_type_removed", tkey, tkey, base))
            continue
        before, after = _node_signatures(told.flow), _node_signatures(tnew.flow)
        for node_id, signature in before.items():
            path = f"{base}.flow.nodes[{node_id}]"
            if node_id not in after:
                out.append(AffectedChange("node_removed", tkey, node_id, path))
            elif after[node_id] != signature:
                out.append(AffectedChange("node_changed", tkey, node_id, path))
        new_fields = {f.key: f for f in tnew.form.fields}
        for f in told.form.fields:
            path = f"{base}.form.fields[{f.key}]"
            if f.key not in new_fields:
                renamed = next((n.key for n in new_fields.values() if n.get("renamed_from") == f.key), None)
                detail = {"renamed_to": renamed} if renamed else {}
                out.append(AffectedChange("field_removed", tkey, f.key, path, detail=detail))
            elif new_fields[f.key].type != f.type:
                detail = {"from": f.type, "to": new_fields[f.key].type}
                out.append(AffectedChange("field_type_changed", tkey, f.key, path, detail=detail))
    return out


# ----------------------------------------------------------------------------- counting tickets
def publish_impact(conn: Connection, app_key: str, candidate: Any, limit: int = EXAMPLES) -> Impact:
    """The open tickets of ``app_key`` that publishing ``candidate`` (data or a Loaded definition)
    would affect, with counts and up to ``limit`` example numbers per change. Read only."""
    impact = Impact(app_key)
    app_id = conn.execute(select(App.id).where(App.key == app_key)).scalar()
    if app_id is None:
        return impact  # a new app: nothing runs yet
    open_rows = and_(R.c.app_id == app_id, R.c.status == "open")
    running = dict(
        conn.execute(select(R.c.app_version, func.count()).where(open_rows).group_by(R.c.app_version)).all()
    )
    impact.open_tickets = sum(running.values())
    if not running:
        return impact
    new = _app_of(candidate)
    stored = conn.execute(
        select(AppVersion.version, AppVersion.definition).where(
            AppVersion.app_id == app_id, AppVersion.version.in_(sorted(running))
        )
    ).all()
    wanted: list[tuple[int, str, str, str]] = []  # (version, kind, ticket type, target)
    merged: dict[tuple[str, str, str], AffectedChange] = {}  # the same change over several versions
    for version, data in stored:
        for change in _changes(build_app(data), new):
            wanted.append((version, change.kind, change.ticket_type, change.target))
            merged.setdefault((change.kind, change.ticket_type, change.target), change)
    rows = _node_rows(conn, app_id, wanted, limit) + _field_rows(conn, app_id, wanted, limit)
    for version, kind, ticket_type, target, _id, number, total in sorted(rows, key=lambda r: r[4]):
        change = merged[(kind, ticket_type, target)]
        if version not in change.versions:
            change.versions.append(version)
            change.count += total
        change.examples.append(number)
    for change in merged.values():
        if change.count:
            change.versions.sort()
            change.examples = change.examples[:limit]
            impact.changes.append(change)
    impact.changes.sort(key=lambda c: (c.ticket_type, KINDS.index(c.kind), c.target))
    return impact


def _ranked(positions: Any, limit: int) -> Any:
    """Per (version, kind, type, target): the first ``limit`` tickets (id, number) and the group's size."""
    group = (positions.c.version, positions.c.kind, positions.c.ticket_type, positions.c.target)
    inner = (
        select(
            *group,
            R.c.id,
            R.c.number,
            func.count().over(partition_by=group).label("total"),
            func.row_number().over(partition_by=group, order_by=R.c.id).label("rank"),
        )
        .join(R, R.c.id == positions.c.record_id)
        .subquery("ranked")
    )
    shown = (inner.c.version, inner.c.kind, inner.c.ticket_type, inner.c.target, inner.c.id, inner.c.number)
    return select(*shown, inner.c.total).where(inner.c.rank <= limit)


def _listed(items: list[tuple[int, str, str, str]]) -> Any:
    """The changes looked for, as a small table (version, kind, ticket_type, target) to join with."""
    rows = [
        select(
            literal(v, Integer()).label("version"),
            literal(k, String()).label("kind"),
            literal(t, String()).label("ticket_type"),
            literal(n, String()).label("target"),
        )
        for v, k, t, n in items
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("wanted")


def _node_rows(
    conn: Connection, app_id: int, wanted: list[tuple[int, str, str, str]], limit: int
) -> list[Any]:
    """Open tickets at removed or changed nodes, and of removed ticket types (one statement)."""
    items = [key for key in wanted if key[1] in ("node_removed", "node_changed", "ticket_type_removed")]
    if not items:
        return []
    listed = _listed(items)
    open_rows = and_(R.c.app_id == app_id, R.c.status == "open")
    at_stage = select(
        R.c.id.label("record_id"), R.c.app_version, R.c.ticket_type, R.c.stage.label("node")
    ).where(open_rows, R.c.stage.is_not(None))
    at_task = (
        select(T.c.record_id, R.c.app_version, R.c.ticket_type, T.c.node_id.label("node"))
        .join(R, R.c.id == T.c.record_id)
        .where(open_rows, T.c.status.in_(LIVE_TASKS))
    )
    where = union(at_stage, at_task).subquery("at")  # each ticket once per node it is at
    at_nodes = select(
        where.c.record_id, listed.c.version, listed.c.kind, listed.c.ticket_type, listed.c.target
    ).join(
        listed,
        and_(
            listed.c.version == where.c.app_version,
            listed.c.ticket_type == where.c.ticket_type,
            listed.c.target == where.c.node,
            listed.c.kind != "ticket_type_removed",
        ),
    )
    of_types = select(
        R.c.id.label("record_id"), listed.c.version, listed.c.kind, listed.c.ticket_type, listed.c.target
    ).join(
        listed,
        and_(
            open_rows,
            listed.c.kind == "ticket_type_removed",
            listed.c.version == R.c.app_version,
            listed.c.ticket_type == R.c.ticket_type,
        ),
    )
    positions = union_all(at_nodes, of_types).subquery("positions")
    return list(conn.execute(_ranked(positions, limit)).all())


def _field_rows(
    conn: Connection, app_id: int, wanted: list[tuple[int, str, str, str]], limit: int
) -> list[Any]:
    """Open tickets holding a value in a removed or retyped field (one statement)."""
    fields = [key for key in wanted if key[1] in ("field_removed", "field_type_changed")]
    if not fields:
        return []
    dialect = conn.dialect.name
    arms = []
    for version, kind, ticket_type, key in fields:
        value = json_value(dialect, R.c.data, key, "text")
        if dialect == "sqlite":  # json_extract gives arrays and objects as JSON text, booleans as 0/1
            value = cast(value, String())
        arms.append(
            select(
                R.c.id.label("record_id"),
                literal(version, Integer()).label("version"),
                literal(kind, String()).label("kind"),
                literal(ticket_type, String()).label("ticket_type"),
                literal(key, String()).label("target"),
            ).where(
                R.c.app_id == app_id,
                R.c.status == "open",
                R.c.app_version == version,
                R.c.ticket_type == ticket_type,
                value.is_not(None),
                value.not_in(EMPTY_VALUES),
            )
        )
    positions = (union_all(*arms) if len(arms) > 1 else arms[0]).subquery("positions")
    return list(conn.execute(_ranked(positions, limit)).all())


__all__ = ["KINDS", "AffectedChange", "Impact", "publish_impact"]
