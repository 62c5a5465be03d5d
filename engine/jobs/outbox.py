"""Outbox delivery: claim a row with a lease, call its channel outside any transaction, record the result.

States: ``pending`` (waiting for ``next_attempt_at``) → ``sending`` (claimed until ``lease_until``)
→ ``sent``, or back to ``pending`` with a backoff, or ``dead`` (out of attempts, or refused for good).
The conditional UPDATE in :func:`claim` is what keeps two workers from sending the same row at once;
a worker that dies mid-send leaves a ``sending`` row whose lease expires, and :func:`sweep` retries it.
The sweep takes rows one at a time with :func:`claim_next` (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, see engine/jobs/claiming.py), so many workers sweeping at once share the work instead
of queueing on the same rows; a lease counts from the moment of its claim, not from the start of a
long sweep, so a slow sweep never hands out leases that have already run out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, update

from engine.i18n import LANGS, Message, current_lang, t
from engine.jobs.channels import CHANNELS, DeliveryError
from engine.jobs.claiming import locked
from engine.store.db import Database
from engine.store.models import Outbox
from engine.store.types import utcnow

OB = Outbox.__table__
log = logging.getLogger("gongdan.jobs")

AfterDelivery = Callable[[Database, Any, Any], None]
#: Per channel, what to do with a delivered row's answer (e.g. map a CRM's JSON into the ticket).
AFTER_DELIVERY: dict[str, AfterDelivery] = {}

SEND_TIMEOUT_S = 10.0
#: How long a claim holds a row before another worker may try it again (a worker that died mid-send):
#: GONGDAN_OUTBOX_LEASE_S, default 60, never under twice ``SEND_TIMEOUT_S``.
LEASE_S = max(int(os.environ.get("GONGDAN_OUTBOX_LEASE_S") or 60), int(2 * SEND_TIMEOUT_S))
BACKOFF_BASE_S = 10
BACKOFF_CAP_S = 3600
SWEEP_BATCH = 100
ERROR_LIMIT = 500


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 10 s, 20 s, 40 s, … doubling, at most an hour."""
    return dt.timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S))


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(OB.c.status == "pending", OB.c.next_attempt_at <= now),
        and_(OB.c.status == "sending", OB.c.lease_until < now),
    )


def claim(db: Database, outbox_id: int, now: dt.datetime, lease_s: int = LEASE_S) -> Any | None:
    """Take the row for ``lease_s`` seconds if it is due; the row when this caller won, else None."""
    with db.write() as conn:
        return conn.execute(
            update(OB)
            .where(OB.c.id == outbox_id, _due(now))
            .values(status="sending", lease_until=now + dt.timedelta(seconds=lease_s))
            .returning(*OB.c)
        ).first()


def claim_next(db: Database, now: dt.datetime, lease_s: int = LEASE_S) -> Any | None:
    """Take the oldest due row nobody else holds for ``lease_s`` seconds; None when none is left."""
    with db.write() as conn:
        outbox_id = conn.execute(locked(select(OB.c.id).where(_due(now)).order_by(OB.c.id).limit(1))).scalar()
        if outbox_id is None:
            return None
        return conn.execute(
            update(OB)
            .where(OB.c.id == outbox_id, _due(now))
            .values(status="sending", lease_until=now + dt.timedelta(seconds=lease_s))
            .returning(*OB.c)
        ).first()


# ----------------------------------------------------------------------------- stored errors
#: A parameter of a stored error is cut to this many characters (the message around it stays whole).
PARAM_LIMIT = 300


def stored_error(exc: DeliveryError) -> str:
    """What ``outbox.last_error`` keeps of a failed delivery: when the error was worded from a
    message code, JSON with the code, its masked parameters and its text in every language (each
    reader sees it in their own); else the error's text (an HTTP answer, an exception's)."""
    if exc.code is None:
        return exc.reason[:ERROR_LIMIT]
    params = _plain(exc.params)
    stored: dict[str, Any] = {"code": exc.code, "params": params}
    for lang in LANGS:
        stored[lang] = t(exc.code, lang, **_revived(params))[:ERROR_LIMIT]
    return json.dumps(stored, ensure_ascii=False)


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Message):
            out[key] = {"code": value.code, "params": _plain(value.params)}
        elif isinstance(value, str):
            out[key] = value[:PARAM_LIMIT]
        else:
            out[key] = value
    return out


def _revived(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and isinstance(value.get("code"), str):
            out[key] = Message(value["code"], _revived(value.get("params") or {}))
        else:
            out[key] = value
    return out


def error_text(stored: str | None, lang: str | None = None) -> str:
    """A stored ``last_error`` in ``lang``: a coded error in that language; plain text (an HTTP
    answer, or a row stored before errors were kept this way) as it was written."""
    if not stored:
        return ""
    if stored.startswith('{"code"'):
        try:
            data = json.loads(stored)
            lang = current_lang(lang)
            if isinstance(data.get(lang), str):
                return data[lang]
            return t(data["code"], lang, **_revived(data.get("params") or {}))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return stored


def _send(row: Any) -> tuple[DeliveryError | None, Any]:
    """Call the row's channel: (None, answer) when delivered, else (the error, None)."""
    send = CHANNELS.get(row.channel)
    if send is None:
        known = ", ".join(sorted(CHANNELS))
        return DeliveryError.of("channel.unknown_channel", True, channel=row.channel, known=known), None
    try:
        answer = send(row.payload, row.idempotency_key, SEND_TIMEOUT_S)
    except DeliveryError as exc:
        return exc, None
    except Exception as exc:
        log.exception("outbox %s: channel %s crashed", row.id, row.channel)
        return DeliveryError(f"{type(exc).__name__}: {exc}"), None
    return None, answer


def deliver_one(db: Database, outbox_id: int, now: dt.datetime | None = None) -> str:
    """Try to deliver one row if it is due and nobody else holds it; the row's status afterwards."""
    now = now or utcnow()
    row = claim(db, outbox_id, now)
    if row is None:
        with db.read() as conn:
            return conn.execute(select(OB.c.status).where(OB.c.id == outbox_id)).scalar() or "missing"
    return _deliver_claimed(db, row, now)


def _deliver_claimed(db: Database, row: Any, now: dt.datetime) -> str:
    """Send a row this caller holds and record the outcome (unless its lease was lost meanwhile)."""
    outbox_id = row.id
    failure, answer = _send(row)
    error = failure.reason if failure is not None else None
    attempts = row.attempts + 1
    if failure is None:
        values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
    elif failure.permanent or attempts >= row.max_attempts:
        values = {"status": "dead", "last_error": stored_error(failure)}
    else:
        values = {
            "status": "pending",
            "next_attempt_at": now + backoff(attempts),
            "last_error": stored_error(failure),
        }
    with db.write() as conn:
        done = conn.execute(
            update(OB)
            .where(OB.c.id == outbox_id, OB.c.status == "sending", OB.c.lease_until == row.lease_until)
            .values(attempts=attempts, lease_until=None, **values)
        )
    if done.rowcount != 1:
        log.warning("outbox %s: lease lost while sending; another worker owns the row now", outbox_id)
        return "sending"
    if error is not None:
        log.warning("outbox %s (%s) attempt %s: %s", outbox_id, row.channel, attempts, error)
    elif row.channel in AFTER_DELIVERY:
        try:
            AFTER_DELIVERY[row.channel](db, row, answer)
        except Exception:
            log.exception("outbox %s: handling the answer of %s failed", outbox_id, row.channel)
    return values["status"]


def due_ids(db: Database, now: dt.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Rows to deliver now: pending and due, or stuck in ``sending`` past their lease; oldest first."""
    with db.read() as conn:
        return list(conn.execute(select(OB.c.id).where(_due(now)).order_by(OB.c.id).limit(limit)).scalars())


def sweep(db: Database, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Deliver every row due at ``now`` (catches lost dispatches and retries); how many were tried.

    Rows are claimed one at a time, so workers sweeping together split the rows between them. A
    tried row is never due again at ``now`` (sent, dead, backed off or leased), so this ends. The
    lease grows by the time the sweep has run, because ``now`` stays fixed while real time goes on.
    ``batch`` is kept for callers of the older batched sweep; it no longer changes anything.
    """
    now = now or utcnow()
    started = time.monotonic()
    tried = 0
    while True:
        lease = LEASE_S + math.ceil(time.monotonic() - started)
        row = claim_next(db, now, lease)
        if row is None:
            return tried
        tried += 1
        _deliver_claimed(db, row, now)


def retry_dead(db: Database, outbox_id: int, now: dt.datetime | None = None) -> bool:
    """Give a dead row a fresh set of attempts, due at once; False when the row is not dead."""
    with db.write() as conn:
        done = conn.execute(
            update(OB)
            .where(OB.c.id == outbox_id, OB.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now or utcnow(), lease_until=None)
        )
    return done.rowcount == 1


def dead_rows(
    db: Database, limit: int = 50, before: int | None = None, lang: str | None = None
) -> list[dict[str, Any]]:
    """Dead letters, newest first (``before``: an id, for the next page); secrets stay in the payload
    column and are never part of what is listed. ``last_error`` is worded in ``lang`` (default: the
    server's language) and ``last_error_texts`` holds it in every language, for pages that pick."""
    q = (
        select(OB.c.id, OB.c.channel, OB.c.record_id, OB.c.attempts, OB.c.last_error, OB.c.created_at)
        .where(OB.c.status == "dead")
        .order_by(OB.c.id.desc())
        .limit(min(limit, 500))
    )
    if before is not None:
        q = q.where(OB.c.id < before)
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for row in rows:
        stored = row["last_error"]
        row["last_error"] = error_text(stored, lang) if stored else stored
        row["last_error_texts"] = {code: error_text(stored, code) for code in LANGS} if stored else None
    return rows
