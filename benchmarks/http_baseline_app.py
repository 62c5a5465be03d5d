"""The bare app that `http.submit` compares us with: the logic of the shared baseline
../shared/baselines/bench_f_http_app.py, on benchmarks/ticket30.py's 30-field schema.

GET  /hello    -> "Hello, World!" (readiness probe)
POST /tickets  -> JSON body validated with jsonschema (Draft202012Validator built once, format
                  checker on), then one row inserted via the SQLAlchemy ORM into SQLite (WAL,
                  synchronous=NORMAL, busy timeout 30 s); answers 201 {"id": ...}.

The database file comes from the environment variable BENCH_HTTP_DB. Create the table first:
``python -m benchmarks.http_baseline_app initdb``; serve with
``python -m gunicorn benchmarks.http_baseline_app:app``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from flask import Flask, jsonify, request
from jsonschema import Draft202012Validator
from sqlalchemy import JSON, DateTime, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchmarks.ticket30 import SCHEMA

DB = os.environ.get("BENCH_HTTP_DB", "/tmp/gongdan-bench/http-baseline.sqlite")
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

engine = create_engine(f"sqlite:///{DB}", connect_args={"timeout": 30})


@event.listens_for(engine, "connect")
def _pragmas(dbapi_conn, _):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    assignee: Mapped[str] = mapped_column(String(64), index=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    data: Mapped[dict] = mapped_column(JSON)


app = Flask(__name__)


@app.get("/hello")
def hello():
    return "Hello, World!"


@app.post("/tickets")
def create_ticket():
    body = request.get_json(silent=True)
    if body is None:
        return jsonify(error="expected a JSON body"), 400
    errors = [
        {"path": "/".join(map(str, e.absolute_path)), "message": e.message}
        for e in VALIDATOR.iter_errors(body)
    ]
    if errors:
        return jsonify(errors=errors), 422
    with Session(engine) as s, s.begin():
        t = Ticket(
            title=body["title"],
            status="new",
            assignee=body.get("assignee"),
            created_at=dt.datetime.now(dt.UTC),
            data=body,
        )
        s.add(t)
        s.flush()
        tid = t.id
    return jsonify(id=tid), 201


def initdb() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    Base.metadata.create_all(engine)


if __name__ == "__main__" and sys.argv[1:] == ["initdb"]:
    initdb()
    print(f"created {DB}")
