"""A process killed with SIGKILL in the middle of a stream of submits leaves whole tickets or none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from engine.store.models import Event, FlowInstance, Record, Task

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from pathlib import Path
from engine.runtime import Runtime
from engine.store import Database

db = Database(sys.argv[1])
runtime = Runtime(db)
data = {"customer": "ACME", "phone": "13800138000", "product": sys.argv[2].split("/"),
        "category": "billing", "summary": "退款未到账"}
while True:
    ticket = runtime.submit("complaint", "complaint", data)
    print(ticket.number, flush=True)
"""


def test_sigkill_mid_stream_leaves_each_ticket_whole_or_absent(database_url, runtime, complaint_app):
    _, definition = runtime.definition("complaint")
    top = definition["option_sets"]["products"][0]
    product = f"{top['value']}/{top['children'][0]['value']}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, product], stdout=subprocess.PIPE, text=True, env=env
    )
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line.strip())
        if len(seen) == 40:  # well into the stream: kill it while it is writing the next ones
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with runtime.db.read() as conn:
        records = conn.execute(select(Record.id, Record.number, Record.event_seq)).all()
        events = dict(conn.execute(select(Event.record_id, func.count()).group_by(Event.record_id)).all())
        firsts = dict(conn.execute(select(Event.record_id, Event.type).where(Event.seq == 1)).all())
        instances = dict(
            conn.execute(select(FlowInstance.record_id, func.count()).group_by(FlowInstance.record_id)).all()
        )
        tasks = dict(conn.execute(select(Task.record_id, func.count()).group_by(Task.record_id)).all())
    numbers = [r.number for r in records]
    # Everything the writer reported as committed is there …
    assert set(seen) <= set(numbers)
    # … numbers are unique and gap-free (a killed transaction consumed none) …
    assert len(numbers) == len(set(numbers))
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, len(numbers) + 1))
    # … and every ticket is complete: all its events, its flow instance and its first task.
    for r in records:
        assert events.get(r.id) == r.event_seq, r.number
        assert firsts[r.id] == "created"
        assert instances.get(r.id) == 1 and tasks.get(r.id) == 1
    # No orphans: events, instances and tasks only exist for tickets that exist.
    assert set(events) == set(instances) == set(tasks) == {r.id for r in records}
