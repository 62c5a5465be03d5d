"""A command PostgreSQL rolls back to break a deadlock (SQLSTATE 40P01) — a worker firing a ticket's
timer while a person acts on the same ticket — wrote nothing, so the API runs it again and the
person gets the answer, not a 503. A trigger makes PostgreSQL itself raise the real error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from engine.store.models import Record
from tests.support import complaint_form

#: PostgreSQL only: SQLite has one writer at a time, so there is no deadlock for it to break.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

SUBMIT = "/api/v1/apps/complaint/ticket_types/complaint/tickets"

#: Raise deadlock_detected on the first ``times`` inserts into records (a sequence is not rolled back).
TRIGGER = """
CREATE SEQUENCE deadlock_once;
CREATE FUNCTION deadlock_once() RETURNS trigger AS $$
BEGIN
  IF nextval('deadlock_once') <= {times} THEN
    RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER deadlock_once BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION deadlock_once();
"""


def _deadlock_first(web, times: int) -> None:
    with web.db.write() as conn:
        conn.execute(text(TRIGGER.format(times=times)))


def _tickets(web) -> int:
    with web.db.read() as conn:
        return conn.execute(select(func.count()).select_from(Record)).scalar_one()


DROP = """
DROP TRIGGER IF EXISTS deadlock_once ON records;
DROP FUNCTION IF EXISTS deadlock_once();
DROP SEQUENCE IF EXISTS deadlock_once;
"""


@pytest.fixture
def pg_web(web):
    yield web
    with web.db.write() as conn:  # the database is kept for the worker's next tests
        conn.execute(text(DROP))


def test_a_submit_rolled_back_to_break_a_deadlock_is_run_again_and_creates_one_ticket(pg_web) -> None:
    _deadlock_first(pg_web, times=1)
    headers = pg_web.token("admin")
    form = complaint_form(pg_web.runtime.definition("complaint")[1])
    answer = pg_web.app.test_client().post(SUBMIT, json=form, headers=headers)
    assert answer.status_code == 201, answer.json
    assert _tickets(pg_web) == 1


def test_a_deadlock_that_keeps_coming_back_answers_503_and_writes_nothing(pg_web) -> None:
    _deadlock_first(pg_web, times=10)
    headers = pg_web.token("admin")
    form = complaint_form(pg_web.runtime.definition("complaint")[1])
    answer = pg_web.app.test_client().post(SUBMIT, json=form, headers=headers)
    assert answer.status_code == 503 and answer.json["code"] == "error.unavailable"
    assert answer.headers["Retry-After"]
    assert _tickets(pg_web) == 0
