"""`gongdan demo --tickets N` for big N: millions of realistic tickets in minutes, not days.

Going through the Runtime costs a few milliseconds a ticket (validation, flow, rules, metrics), so
the bulk load walks only a few *template* tickets per app through their flows for real (as the small
demo does) and then clones them: every row the templates own in the ticket tables (the record, its
flow instance, tasks, events, SLA clocks, metrics, stage times, watchers, fired timers) is copied
with fresh ids, the references between them moved along, all its moments shifted by one random
offset into the past, and a fresh ticket number drawn from the app's own number pattern and
counters. The rows go in with Core ``executemany`` batches (PostgreSQL: ``COPY``), one transaction
per batch, so a stopped load leaves whole tickets only.

Not cloned, on purpose: the outbox (no notification storm), pending timers (no mass escalation when
the worker starts), rule logs, attachments, inbound messages and unique-value claims. Ids are
reserved from the tables' sequences (PostgreSQL) or taken above the highest id in the batch's write
transaction (SQLite); run a bulk load on a quiet site.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Table, func, select, text

from engine.i18n import t as say
from engine.store.models import (
    Counter,
    Event,
    FlowInstance,
    Record,
    SlaClock,
    Task,
    TicketMetrics,
    TicketStageTime,
    Timer,
    Watcher,
)
from engine.store.types import utcnow

#: The tables a ticket owns, in insert order, and for each the columns that point at another
#: cloned table's id (moved along with the clone). ``id`` is the table's own id when it has one.
OWNED: dict[str, dict[str, str]] = {
    "records": {"id": "records"},
    "flow_instances": {
        "id": "flow_instances", "record_id": "records", "parent_instance_id": "flow_instances",
    },
    "tasks": {"id": "tasks", "record_id": "records", "instance_id": "flow_instances"},
    "events": {"id": "events", "record_id": "records"},
    "sla_clocks": {"id": "sla_clocks", "record_id": "records"},
    "timers": {
        "id": "timers", "record_id": "records", "instance_id": "flow_instances", "task_id": "tasks",
        "clock_id": "sla_clocks",
    },
    "ticket_metrics": {"record_id": "records"},
    "ticket_stage_times": {"record_id": "records"},
    "watchers": {"record_id": "records"},
}  # fmt: skip
TABLES: dict[str, Table] = {
    m.__table__.name: m.__table__
    for m in (Record, FlowInstance, Task, Event, SlaClock, Timer, TicketMetrics, TicketStageTime, Watcher)
}
#: Keys inside event payloads that name a task (the timeline links them).
PAYLOAD_IDS = {"task": "tasks"}
TEMPLATES_PER_APP = 40
WALK_TRIES = 20
BATCH = 2_000
#: Tickets per transaction when PostgreSQL copies the rows itself.
SERVER_BATCH = 20_000
SPAN = dt.timedelta(days=2 * 365)

Progress = Callable[[int], None]


# ----------------------------------------------------------------------------- templates
def read_templates(conn: Connection, record_ids: list[int]) -> list[dict[str, list[dict[str, Any]]]]:
    """For each template ticket, its rows per owned table (pending timers left out)."""
    per_ticket: dict[int, dict[str, list[dict[str, Any]]]] = {rid: defaultdict(list) for rid in record_ids}
    for name, table in TABLES.items():
        key = table.c.id if name == "records" else table.c.record_id
        query = select(table).where(key.in_(record_ids))
        if name == "timers":
            query = query.where(table.c.status != "pending")
        for row in conn.execute(query).mappings():
            owner = row["id"] if name == "records" else row["record_id"]
            per_ticket[owner][name].append(dict(row))
    return [per_ticket[rid] for rid in record_ids]


# ----------------------------------------------------------------------------- ids
def _reserve(conn: Connection, table: str, n: int) -> int:
    """The first of ``n`` fresh ids of ``table`` (they are ``first … first + n - 1``)."""
    if n == 0:
        return 0
    if conn.dialect.name == "postgresql":
        seq = f"pg_get_serial_sequence('{table}', 'id')"
        last = conn.execute(text(f"SELECT setval({seq}, nextval({seq}) + :n - 1)"), {"n": n}).scalar_one()
        return int(last) - n + 1
    return int(conn.execute(select(func.coalesce(func.max(TABLES[table].c.id), 0))).scalar_one()) + 1


# ----------------------------------------------------------------------------- cloning
class Cloner:
    """Makes the rows of cloned tickets from templates: new ids, moved references, shifted times."""

    def __init__(self, templates: list[dict[str, list[dict[str, Any]]]], numbering: Any, now: dt.datetime):
        self.templates = templates
        self.numbering = numbering  # (app_id, ticket_type) -> (app key, compiled NumberPattern)
        self.now = now
        self.datetimes = {
            name: [c.name for c in table.columns if "DateTime" in type(c.type).__name__]
            for name, table in TABLES.items()
        }

    def batch(self, conn: Connection, rng: random.Random, n: int) -> dict[str, list[dict[str, Any]]]:
        picks = [self.templates[rng.randrange(len(self.templates))] for _ in range(n)]
        need = {t: sum(len(p.get(t, ())) for p in picks) for t in OWNED if "id" in OWNED[t]}
        next_id = {t: _reserve(conn, t, k) for t, k in need.items()}
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for template in picks:
            root = template["records"][0]
            age = dt.timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
            shift = (self.now - age) - root["created_at"]
            moved: dict[str, dict[int, int]] = defaultdict(dict)
            for name in OWNED:  # ids first: rows may point at rows of a later table (timers → tasks)
                if "id" in OWNED[name]:
                    for row in template.get(name, ()):
                        moved[name][row["id"]] = next_id[name]
                        next_id[name] += 1
            for name, refs in OWNED.items():
                for row in template.get(name, ()):
                    out[name].append(self._clone(name, row, refs, moved, shift))
        self._numbers(conn, out["records"])
        return out

    def _clone(self, name: str, row: dict[str, Any], refs: dict[str, str], moved: Any, shift: dt.timedelta):
        new = dict(row)
        for column, target in refs.items():
            old = row.get(column)
            if old is not None:
                new[column] = moved[target].get(old, old)
        for column in self.datetimes[name]:
            if new.get(column) is not None:
                new[column] = new[column] + shift
        if name == "events" and isinstance(new.get("payload"), dict):
            payload = dict(new["payload"])
            for key, target in PAYLOAD_IDS.items():
                if isinstance(payload.get(key), int):
                    payload[key] = moved[target].get(payload[key], payload[key])
            new["payload"] = payload
        return new

    def _numbers(self, conn: Connection, records: list[dict[str, Any]]) -> None:
        """Fresh numbers from the apps' own patterns and counters: one counter step per period."""
        wanted: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            app_key, pattern = self.numbering[(record["app_id"], record["ticket_type"])]
            wanted[f"{app_key}:{record['ticket_type']}:{pattern.period(record['created_at'])}"].append(record)
        for key, group in wanted.items():
            first = _take(conn, key, len(group))
            for seq, record in enumerate(group, start=first):
                pattern = self.numbering[(record["app_id"], record["ticket_type"])][1]
                record["number"] = pattern.render(record["created_at"], seq)


def _take(conn: Connection, key: str, n: int) -> int:
    """Step counter ``key`` by ``n`` at once (as engine.store.counters does by one); the first value."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    last = conn.execute(
        dialect_insert(Counter)
        .values(key=key, value=n)
        .on_conflict_do_update(index_elements=[Counter.key], set_={"value": Counter.value + n})
        .returning(Counter.value)
    ).scalar_one()
    return int(last) - n + 1


def insert_rows(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> int:
    """Write the rows table by table (Core executemany); how many rows."""
    total = 0
    for name in OWNED:
        batch = rows.get(name)
        if batch:
            total += len(batch)
            conn.execute(TABLES[name].insert(), batch)
    return total


class ServerCloner(Cloner):
    """PostgreSQL: the database copies the template rows itself (one INSERT … SELECT a table a
    batch); Python only sends the plan — which template each clone copies, its time shift, its
    number and where its ids start — by COPY into a temporary table. No row passes through Python.
    """

    def __init__(self, templates: list[dict[str, list[dict[str, Any]]]], numbering: Any, now: dt.datetime):
        super().__init__(templates, numbering, now)
        self.counts = [{t: len(tpl.get(t, ())) for t in OWNED} for tpl in templates]
        self.ready = False

    def _prepare(self, conn: Connection) -> None:
        """Temporary tables (this connection only): each template row's position in its ticket,
        and the plan of a batch."""
        with_ids = [t for t in OWNED if "id" in OWNED[t]]
        for name in with_ids:
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE tmpl_{name} (old_id bigint PRIMARY KEY, tid bigint, pos int)"
            )
            rows = [
                (row["id"], tpl["records"][0]["id"], pos)
                for tpl in self.templates
                for pos, row in enumerate(tpl.get(name, ()))
            ]
            _copy_rows(conn, f"tmpl_{name}", rows)
        offsets = ", ".join(f"off_{t} bigint" for t in with_ids)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE bulk_plan (tid bigint, shift interval, number text, {offsets})"
        )
        conn.exec_driver_sql("ANALYZE " + ", ".join(f"tmpl_{t}" for t in with_ids))
        self.ready = True

    def load(self, conn: Connection, rng: random.Random, n: int) -> int:
        """Clone ``n`` tickets in the caller's transaction; how many rows were written."""
        if not self.ready:
            self._prepare(conn)
        with_ids = [t for t in OWNED if "id" in OWNED[t]]
        picks = [rng.randrange(len(self.templates)) for _ in range(n)]
        need = {t: sum(self.counts[i][t] for i in picks) for t in with_ids}
        base = {t: _reserve(conn, t, need[t]) for t in with_ids}
        running = dict.fromkeys(with_ids, 0)
        plan, records = [], []
        for i in picks:
            root = self.templates[i]["records"][0]
            age = dt.timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
            shift = (self.now - age) - root["created_at"]
            entry = [root["id"], shift, None, *(running[t] for t in with_ids)]
            for t in with_ids:
                running[t] += self.counts[i][t]
            record = {
                "app_id": root["app_id"],
                "ticket_type": root["ticket_type"],
                "created_at": root["created_at"] + shift,
            }
            plan.append(entry)
            records.append(record)
        self._numbers(conn, records)
        for entry, record in zip(plan, records, strict=True):
            entry[2] = record["number"]
        conn.exec_driver_sql("TRUNCATE bulk_plan")
        _copy_rows(conn, "bulk_plan", plan)
        written = 0
        for name in OWNED:
            written += conn.execute(
                text(self._statement(name)), {f"base_{t}": base[t] for t in with_ids}
            ).rowcount
        return written

    def _statement(self, name: str) -> str:
        table = TABLES[name]
        refs = OWNED[name]
        joins = []
        if "id" in refs:
            joins.append(f"JOIN tmpl_{name} m ON m.old_id = t.id JOIN bulk_plan p ON p.tid = m.tid")
        else:
            joins.append("JOIN bulk_plan p ON p.tid = t.record_id")
        exprs = []
        for column in table.columns:
            c = column.name
            target = refs.get(c)
            if c == "id" and target == name:
                expr = f"CAST(:base_{name} AS bigint) + p.off_{name} + m.pos"
            elif target == "records":
                expr = "CAST(:base_records AS bigint) + p.off_records"
            elif target is not None:
                joins.append(f"LEFT JOIN tmpl_{target} r_{c} ON r_{c}.old_id = t.{c}")
                moved = f"CAST(:base_{target} AS bigint) + p.off_{target} + r_{c}.pos"
                expr = f"CASE WHEN t.{c} IS NULL THEN NULL ELSE {moved} END"
            elif name == "records" and c == "number":
                expr = "p.number"
            elif c in self.datetimes[name]:
                expr = f"t.{c} + p.shift"
            elif name == "events" and c == "payload":
                joins.append(
                    "LEFT JOIN tmpl_tasks r_task ON r_task.old_id = CASE "
                    "WHEN jsonb_typeof(t.payload->'task') = 'number' THEN (t.payload->>'task')::bigint END"
                )
                expr = (
                    "CASE WHEN r_task.old_id IS NULL THEN t.payload ELSE jsonb_set(t.payload, '{task}', "
                    "to_jsonb(CAST(:base_tasks AS bigint) + p.off_tasks + r_task.pos)) END"
                )
            else:
                expr = f"t.{c}"
            exprs.append(expr)
        where = " WHERE t.status <> 'pending'" if name == "timers" else ""
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        selected = ", ".join(exprs)
        return f'INSERT INTO "{name}" ({columns}) SELECT {selected} FROM "{name}" t {" ".join(joins)}{where}'


def _copy_rows(conn: Connection, table: str, rows: list[Any]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# ----------------------------------------------------------------------------- the load
def bulk_load(
    platform: Any,
    tickets: int,
    seed: int,
    echo: Callable[[str], Any],
    progress: Callable[..., Any],
    walk_one: Callable[[random.Random, str], int],
) -> int:
    """Create ``tickets`` demo tickets (templates walked by ``walk_one(rng, app)``, the rest cloned)."""
    db, runtime = platform.db, platform.runtime
    rng = random.Random(seed)
    apps = [a["key"] for a in runtime.apps()]
    walked = min(tickets, TEMPLATES_PER_APP * len(apps))
    record_ids = [_walk_again(walk_one, rng, apps[i % len(apps)]) for i in range(walked)]
    with db.read() as conn:
        templates = read_templates(conn, record_ids)
    numbering = {}
    for app in apps:
        spec, _ = runtime.type_spec(app, _first_type(runtime, app))
        app_id = _app_id(db, app)
        for tkey, tspec in spec.types.items():
            numbering[(app_id, tkey)] = (app, tspec.number)
    left = tickets - walked
    written = 0
    server = db.dialect == "postgresql"
    cloner = (ServerCloner if server else Cloner)(templates, numbering, utcnow())
    started = time.perf_counter()
    with progress(length=tickets, label=say("demo.progress_bulk")) as bar, db.engine.connect() as conn:
        bar.update(walked)
        for size in _batches(left, SERVER_BATCH if server else BATCH):
            with conn.begin():
                if server:
                    written += cloner.load(conn, rng, size)
                else:
                    written += insert_rows(conn, cloner.batch(conn, rng, size))
            bar.update(size)
    seconds = max(time.perf_counter() - started, 1e-9)
    echo(
        say(
            "demo.bulk_done",
            tickets=tickets,
            walked=walked,
            left=left,
            written=written,
            seconds=f"{seconds:.1f}",
            per_ticket=f"{left / seconds:,.0f}",
            per_row=f"{written / seconds:,.0f}",
        )
    )
    return written


def _walk_again(walk_one: Callable[[random.Random, str], int], rng: random.Random, app: str) -> int:
    """A template ticket; sample data that hits a unique value already taken (a site loaded
    before) is drawn again, a few times."""
    from engine.errors import FormError

    for _ in range(WALK_TRIES - 1):
        try:
            return walk_one(rng, app)
        except FormError:
            continue
    return walk_one(rng, app)


def _batches(total: int, batch: int) -> Iterator[int]:
    while total > 0:
        size = min(batch, total)
        yield size
        total -= size


def _first_type(runtime: Any, app: str) -> str:
    _, definition = runtime.definition(app)
    return next(iter(definition["ticket_types"]))


def _app_id(db: Any, app: str) -> int:
    from engine.store.models import App

    with db.read() as conn:
        return int(conn.execute(select(App.id).where(App.key == app)).scalar_one())


__all__ = ["BATCH", "SERVER_BATCH", "Cloner", "ServerCloner", "bulk_load", "insert_rows", "read_templates"]
