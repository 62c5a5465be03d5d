"""Record scopes: who sees which tickets — one SQL condition, the same for every surface."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.access import can_see, load_principal, scope_clause
from engine.people import create_department, create_user
from engine.store.models import Record
from tests.support import give_role

ACCESS_LAB = {
    "app": "acclab",
    "name": "Access lab",
    "settings": {"calendar": "24x7"},
    "roles": {
        "desk": {"name": {"zh": "服务台", "en": "Desk"}, "scope": "all"},
        "region": {"name": "Region", "scope": "department"},
        "team": "Team",
    },
    "ticket_types": {
        "req": {
            "name": "Request",
            "number": "AC-{seq:4}",
            "form": {"sections": [{"fields": [{"key": "title", "type": "text"}]}]},
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start"},
                    {"id": "work", "type": "task", "assignee": {"role": "team"}},
                    {"id": "end", "type": "end"},
                ],
                "edges": [["start", "work"], ["work", "end"]],
            },
        }
    },
}


@pytest.fixture
def lab(runtime, db):
    runtime.publish(ACCESS_LAB)
    north = create_department(db, "North")
    north_east = create_department(db, "North-East", parent_id=north)
    south = create_department(db, "South")
    people = {
        "gina": create_user(db, "gina", department_id=north_east),  # a customer in North-East
        "hugo": create_user(db, "hugo", department_id=south),  # a customer in the South
        "desk": create_user(db, "desk"),
        "reg": create_user(db, "reg", department_id=north),
        "tom": create_user(db, "tom"),
        "tim": create_user(db, "tim"),
        "root": create_user(db, "root", is_admin=True),
    }
    give_role(db, people["desk"], "acclab", "desk")
    give_role(db, people["reg"], "acclab", "region")
    give_role(db, people["tom"], "acclab", "team")
    give_role(db, people["tim"], "acclab", "team")
    return people


def visible(db, user: int) -> set[int]:
    R = Record.__table__
    with db.read() as conn:
        who = load_principal(conn, user)
        return set(
            conn.execute(select(R.c.id).where(scope_clause(who, "acclab", R, conn.dialect.name))).scalars()
        )


def test_a_customer_sees_only_the_tickets_they_submitted(runtime, db, lab):
    mine = runtime.submit("acclab", "req", {"title": "mine"}, actor=lab["gina"])
    theirs = runtime.submit("acclab", "req", {"title": "theirs"}, actor=lab["hugo"])
    assert visible(db, lab["gina"]) == {mine.id}
    assert visible(db, lab["hugo"]) == {theirs.id}
    with db.read() as conn:
        gina = load_principal(conn, lab["gina"])
        assert can_see(conn, gina, mine.id) and not can_see(conn, gina, theirs.id)
        assert not can_see(conn, gina, 999_999)  # a missing id answers like a hidden one


def test_scope_all_and_admins_see_every_ticket(runtime, db, lab):
    ids = {runtime.submit("acclab", "req", {"title": t}, actor=lab["gina"]).id for t in "abc"}
    assert visible(db, lab["desk"]) == ids
    assert visible(db, lab["root"]) == ids


def test_department_scope_reaches_the_departments_below(runtime, db, lab):
    north_east = runtime.submit("acclab", "req", {"title": "ne"}, actor=lab["gina"])
    runtime.submit("acclab", "req", {"title": "south"}, actor=lab["hugo"])
    assert visible(db, lab["reg"]) == {north_east.id}


def test_a_pool_task_is_visible_to_the_pool_until_someone_claims_it(runtime, db, lab):
    ticket = runtime.submit("acclab", "req", {"title": "pool"}, actor=lab["gina"])
    task = runtime.tasks(ticket.id)[0]
    assert task["assignee_id"] is None and task["pool_key"] == "role:team"
    assert ticket.id in visible(db, lab["tom"]) and ticket.id in visible(db, lab["tim"])
    runtime.claim(task["id"], actor=lab["tom"])
    assert ticket.id in visible(db, lab["tom"])
    assert ticket.id not in visible(db, lab["tim"])  # claimed by a colleague: no longer theirs


def test_who_worked_on_a_ticket_keeps_seeing_it(runtime, db, lab):
    ticket = runtime.submit("acclab", "req", {"title": "done"}, actor=lab["gina"])
    task = runtime.tasks(ticket.id)[0]
    runtime.claim(task["id"], actor=lab["tom"])
    runtime.act(task["id"], "complete", actor=lab["tom"])
    assert runtime.ticket(ticket.id).status == "closed"
    assert ticket.id in visible(db, lab["tom"])


def test_a_role_of_another_app_grants_nothing_here(runtime, db, lab, complaint_app):
    give_role(db, lab["hugo"], "complaint", "agent")  # scope all — in the complaint app only
    ticket = runtime.submit("acclab", "req", {"title": "x"}, actor=lab["gina"])
    assert ticket.id not in visible(db, lab["hugo"])


def test_an_inactive_user_is_nobody(db, lab):
    from sqlalchemy import update

    from engine.store.models import User

    with db.write() as conn:
        conn.execute(update(User).where(User.id == lab["desk"]).values(is_active=False))
    with db.read() as conn:
        assert load_principal(conn, lab["desk"]) is None
