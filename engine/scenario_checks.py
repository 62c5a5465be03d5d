"""The ``then`` checks of scenario tests (engine/scenarios.py): one function per key, as a registry.

Each check reads what the ticket shows after a step (:class:`Observed`) and returns the problems of
its key — at the key's path, with what was expected and what was found, in both languages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import engine.scenario_messages  # noqa: F401  (the scenario.* messages)
from engine.errors import Problem
from engine.i18n import LANGS, Localized, t
from engine.store.models import Record

if TYPE_CHECKING:  # pragma: no cover
    from engine.scenario_run import ScenarioRun

R = Record.__table__


@dataclass
class Observed:
    """What the ticket shows after a step, as the ``then`` checks read it."""

    ticket: Any  # the record row
    stage: str | None
    tasks: list[dict[str, Any]]  # open flow tasks: holder, pool role, team, holder's roles
    events: list[Any]  # this step's events of the ticket (type, payload)
    outbox: list[Any]  # rows queued in this step
    breached: set[str]  # nodes whose SLA target was missed (ever)


Check = Callable[["ScenarioRun", Observed, Any, str], list[Problem]]


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def said(code: str) -> Localized:
    """A message as a parameter of another, shown in whichever language that one is read in."""
    return Localized({lang: t(code, lang) for lang in LANGS})


def _listing(items: Iterable[str]) -> Any:
    shown = ", ".join(dict.fromkeys(items))
    return shown or said("scenario.nothing")


def _same(expected: Any, actual: Any) -> bool:
    """Equal as a person means it: 120 and "120.00" are the same amount, lists item by item."""
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(_same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (isinstance(actual, bool) and expected == actual)
    if expected == actual:
        return True
    if isinstance(expected, int | float | Decimal) and actual is not None:
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    if isinstance(expected, dt.date | dt.datetime):
        return str(actual) == expected.isoformat()
    return False


def _check_stage(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    if seen.stage == expected:
        return []
    return [Problem(path, "scenario.stage", {"expected": expected, "actual": seen.stage or "-"})]


def _check_status(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    if seen.ticket.status == expected:
        return []
    return [Problem(path, "scenario.status", {"expected": expected, "actual": seen.ticket.status})]


def _check_assignee(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    wanted = sorted(expected if isinstance(expected, list) else [expected])
    holders = sorted({run.name_of(x["holder"]) for x in seen.tasks if x["holder"] is not None})
    if holders == wanted:
        return []
    pools = [f"pool:{x['pool']}" for x in seen.tasks if x["holder"] is None and x["pool"]]
    actual = ", ".join(holders + pools) or said("scenario.nobody")
    return [Problem(path, "scenario.assignee", {"expected": ", ".join(wanted), "actual": actual})]


def _check_team(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    found = [x["team"] or x["pool"] for x in seen.tasks if x["team"] or x["pool"]]
    if expected in found:
        return []
    return [Problem(path, "scenario.assignee_team", {"expected": expected, "actual": _listing(found)})]


def _check_role(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    if any(x["pool"] == expected or expected in x["roles"] for x in seen.tasks):
        return []
    found = [f"pool:{x['pool']}" if x["pool"] else run.name_of(x["holder"]) for x in seen.tasks]
    return [Problem(path, "scenario.assignee_role", {"expected": expected, "actual": _listing(found)})]


def _check_fields(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    problems = []
    for key, want in (expected or {}).items():
        actual = run.shown_value(key, seen.ticket.data.get(key))
        if not _same(want, actual):
            params = {"field": key, "expected": _text(want), "actual": _text(actual)}
            problems.append(Problem(f"{path}.{key}", "scenario.field", params))
    return problems


def _row_text(row: Any) -> str:
    payload = row.payload or {}
    parts = [row.channel]
    if payload.get("robot"):
        parts.append(f"robot={payload['robot']}")
    if isinstance(payload.get("to"), list) and payload["to"] and isinstance(payload["to"][0], str):
        parts.append("to=" + ",".join(payload["to"]))
    if row.channel == "call" and payload.get("url"):
        parts.append(str(payload["url"]))
    return " ".join(parts)


def _to_matches(run: ScenarioRun, seen: Observed, row: Any, want: str) -> bool:
    """``to`` as the app wrote it (assignee, manager_of_assignee, a role …), a username or an address."""
    payload = row.payload or {}
    addresses = [a for a in payload.get("to") or () if isinstance(a, str)]
    person = run.email_of(want) if want in run.people else None
    if want in addresses or (person and person in addresses) or want in (payload.get("at_names") or ()):
        return True
    for event in seen.events:
        if event.type != "notification_queued" or event.payload.get("channel") != row.channel:
            continue
        written = event.payload.get("to") or ("assignee" if row.channel in ("email", "sms") else None)
        if written == want and event.payload.get("count", 0) > 0:
            return True
    return False


def _row_matches(run: ScenarioRun, seen: Observed, item: Mapping[str, Any], row: Any) -> bool:
    payload = row.payload or {}
    for key, want in item.items():
        if key == "channel":
            ok = row.channel == want
        elif key == "to":
            ok = _to_matches(run, seen, row, str(want))
        else:
            ok = _same(want, payload.get(key))
        if not ok:
            return False
    return True


def _check_queued(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    actual = _listing(_row_text(r) for r in seen.outbox)
    if not expected:
        return [] if not seen.outbox else [Problem(path, "scenario.queued_none", {"actual": actual})]
    return [
        Problem(f"{path}[{i}]", "scenario.queued", {"expected": _text(item), "actual": actual})
        for i, item in enumerate(expected)
        if not any(_row_matches(run, seen, item, row) for row in seen.outbox)
    ]


def _check_events(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    kinds = [e.type for e in seen.events]
    return [
        Problem(f"{path}[{i}]", "scenario.event", {"expected": kind, "actual": _listing(kinds)})
        for i, kind in enumerate(expected or ())
        if kind not in kinds
    ]


def _check_created(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    made = [e.payload for e in seen.events if e.type == "record_created"]
    data: dict[int, Any] = {}
    if made:
        with run.db.read() as conn:
            ids = [m.get("id") for m in made]
            data = dict(conn.execute(select(R.c.id, R.c.data).where(R.c.id.in_(ids))).all())
    problems = []
    for i, item in enumerate(expected or ()):
        app = item.get("app") or run.loaded.app.key
        fields = item.get("fields") or {}
        if not any(
            m.get("app") == app
            and m.get("ticket_type") == item["type"]
            and all(_same(v, (data.get(m.get("id")) or {}).get(k)) for k, v in fields.items())
            for m in made
        ):
            actual = _listing(f"{m.get('app')}/{m.get('ticket_type')}" for m in made)
            problems.append(
                Problem(f"{path}[{i}]", "scenario.created", {"expected": _text(item), "actual": actual})
            )
    return problems


def _check_breached(run: ScenarioRun, seen: Observed, expected: Any, path: str) -> list[Problem]:
    ok = bool(seen.breached) == expected if isinstance(expected, bool) else expected in seen.breached
    if ok:
        return []
    params = {"expected": _text(expected), "actual": _listing(sorted(seen.breached))}
    return [Problem(path, "scenario.sla_breached", params)]


#: One check per ``then`` key (the schema lists the same keys, so an unknown key never gets here).
THEN_CHECKS: dict[str, Check] = {
    "stage": _check_stage,
    "status": _check_status,
    "assignee": _check_assignee,
    "assignee_team": _check_team,
    "assignee_role": _check_role,
    "fields": _check_fields,
    "queued": _check_queued,
    "events": _check_events,
    "created": _check_created,
    "sla_breached": _check_breached,
}


__all__ = ["THEN_CHECKS", "Observed", "said"]
