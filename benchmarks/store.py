"""store.submit: Runtime.submit of a 30-field ticket (validated, numbered, flow started, events)
versus a bare SQLAlchemy ORM insert of one ticket row plus three event rows per transaction
(the shared baseline bench_d_storage.py, d1). Both on SQLite (WAL, synchronous=NORMAL)."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import JSON, DateTime, ForeignKey, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from benchmarks import Result, benchmark, median_rate
from benchmarks.ticket30 import make_valid

HERE = Path(__file__).parent
N = 2000


class _Base(DeclarativeBase):
    pass


class _Ticket(_Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(20), index=True)
    assignee: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    events: Mapped[list[_AuditEvent]] = relationship(back_populates="ticket")


class _AuditEvent(_Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict] = mapped_column(JSON)
    ticket: Mapped[_Ticket] = relationship(back_populates="events")


def _baseline_engine(path: Path):
    eng = create_engine(f"sqlite:///{path}")

    @event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn, _):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    _Base.metadata.create_all(eng)
    return eng


def _fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


@benchmark("store.submit")
def store_submit(repeats: int) -> Result:
    from engine.runtime import Runtime
    from engine.store import Database, migrate

    rng = random.Random(99)
    docs = [make_valid(rng) for _ in range(500)]
    base_t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-") as tmpdir:
        tmp = Path(tmpdir)

        def ours() -> float:
            path = _fresh(tmp, "ours.db")
            migrate(f"sqlite:///{path}")
            db = Database(f"sqlite:///{path}")
            runtime = Runtime(db)
            runtime.publish(HERE / "bench30.yaml")
            t0 = time.perf_counter()
            for i in range(N):
                runtime.submit("bench30", "ticket", docs[i % len(docs)])
            elapsed = time.perf_counter() - t0
            db.dispose()
            return elapsed

        def baseline() -> float:
            eng = _baseline_engine(_fresh(tmp, "baseline.db"))
            t0 = time.perf_counter()
            for i in range(N):
                d = docs[i % len(docs)]
                at = base_t + dt.timedelta(seconds=i)
                with Session(eng) as s, s.begin():
                    t = _Ticket(
                        title=d["title"],
                        priority=d["priority"],
                        status="new",
                        assignee=d["assignee"],
                        created_at=at,
                        data=d,
                    )
                    t.events = [
                        _AuditEvent(
                            kind=k, actor="agent_1", at=at, payload={"seq": j, "field": "status", "to": "new"}
                        )
                        for j, k in enumerate(("created", "field_set", "assigned"))
                    ]
                    s.add(t)
            elapsed = time.perf_counter() - t0
            eng.dispose()
            return elapsed

        ours_rate = median_rate(ours, N, repeats)
        base_rate = median_rate(baseline, N, repeats)
    return Result(
        "store.submit", ours_rate, base_rate, "tickets/s", "SQLAlchemy ORM, 1 ticket + 3 events per txn"
    )
