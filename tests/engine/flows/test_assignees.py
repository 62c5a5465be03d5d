"""Assignee strategies and dispatch: who gets the work, fairly, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from engine.flows.assignees import (
    STRATEGIES,
    AssignContext,
    Assignment,
    can_claim,
    choose_team,
    pick_least_open,
    pick_round_robin,
    pick_weighted,
    pool_members,
    resolve,
)
from engine.i18n import known, t
from engine.people import create_department, create_user, set_away, set_department_head
from engine.store.models import FlowInstance, Record, Task, User
from engine.store.types import utcnow
from tests.support import bare_app, give_role

TICKETS = 10_000


def ctx(conn: Any = None, app_id: int = 0, **kw: Any) -> AssignContext:
    kw.setdefault("data", {})
    kw.setdefault("submitter", None)
    return AssignContext(conn, app_id, "desk", kw.pop("ticket_type", "complaint"), **kw)


def assert_problem(found: Assignment, code: str) -> None:
    """The problem is ``code``, a registered message whose every placeholder was given."""
    assert found.problem == code
    assert known(code)
    for lang in ("zh", "en"):
        assert "…" not in t(code, lang, **found.params)


# --------------------------------------------------------------------------- balancing, pure
def test_round_robin_gives_every_member_the_same_count_within_one():
    members = [3, 7, 11, 20, 42]
    counts: Counter[int] = Counter()
    for turn in range(TICKETS):
        counts[pick_round_robin(members, turn)] += 1
        assert max(counts.values()) - min(counts[m] for m in members) <= 1
    assert sorted(counts.values()) == [2000] * 5


@pytest.mark.parametrize(
    "weights", [(1, 2, 3), (5, 1, 1), (2, 4, 6), (3, 3), (1, 1, 1, 7), (10, 0, 1)], ids=str
)
def test_weighted_counts_follow_the_weights_within_one_at_every_turn(weights):
    members = [(100 + i, w) for i, w in enumerate(weights)]
    total = sum(weights)
    counts: Counter[int] = Counter()
    for turn in range(1, TICKETS + 1):
        counts[pick_weighted(members, turn - 1)] += 1
        for uid, w in members:
            assert abs(counts[uid] - turn * w / total) <= 1
        if turn % total == 0:  # every full cycle is exact
            assert all(counts[uid] == turn // total * w for uid, w in members)


def test_weighted_spreads_a_heavy_member_out_instead_of_giving_a_run():
    picks = [pick_weighted([(1, 5), (2, 1), (3, 1)], turn) for turn in range(7)]
    assert Counter(picks) == {1: 5, 2: 1, 3: 1}
    assert picks[:5] != [1] * 5


def test_weighted_with_no_positive_weight_falls_back_to_taking_turns():
    assert [pick_weighted([(1, 0), (2, 0)], turn) for turn in range(4)] == [1, 2, 1, 2]


def test_least_open_picks_the_emptiest_member_and_breaks_ties_in_turn():
    assert pick_least_open([1, 2, 3], {1: 4, 2: 1, 3: 2}, turn=0) == 2
    assert [pick_least_open([1, 2, 3], {}, turn) for turn in range(6)] == [1, 2, 3, 1, 2, 3]
    assert pick_least_open([1, 2, 3], {1: 1, 2: 0, 3: 0}, turn=2) == 3


def test_least_open_keeps_loads_within_one_when_a_random_task_closes_between_tickets():
    rng = random.Random(20261125)
    members = [5, 8, 13, 21]
    open_tasks: list[int] = []  # one entry per open task: its assignee
    loads: Counter[int] = Counter()
    for turn in range(TICKETS):
        if open_tasks and rng.random() < 0.6:
            loads[open_tasks.pop(rng.randrange(len(open_tasks)))] -= 1
        picked = pick_least_open(members, loads, turn)
        open_tasks.append(picked)
        loads[picked] += 1
        assert max(loads[m] for m in members) - min(loads[m] for m in members) <= 1
    assert sum(loads.values()) == len(open_tasks) > 1000


# --------------------------------------------------------------------------- choosing the team, pure
KEYWORDS = {"by": "keyword", "field": "summary", "teams": {"退款": "billing", "发票": "invoice"}}


def test_keyword_dispatch_takes_the_first_team_in_the_order_written():
    found = choose_team(ctx(data={"summary": "发票开错了,还要退款"}), KEYWORDS)
    assert found == ("billing", "退款")
    assert choose_team(ctx(data={"summary": "要发票"}), KEYWORDS)[0] == "invoice"


def test_keyword_dispatch_ignores_case_and_falls_back_to_the_default():
    spec = {"by": "keyword", "field": "summary", "teams": {"Refund": "billing"}, "default": "desk"}
    assert choose_team(ctx(data={"summary": "please REFUND me"}), spec)[0] == "billing"
    assert choose_team(ctx(data={"summary": "hello"}), spec)[0] == "desk"
    assert choose_team(ctx(data={}), spec)[0] == "desk"


def test_type_dispatch_uses_the_ticket_type_or_the_named_field():
    teams = {"complaint": "cs", "network": "net"}
    assert choose_team(ctx(), {"by": "type", "teams": teams})[0] == "cs"
    by_field = {"by": "type", "field": "category", "teams": teams, "default": "desk"}
    assert choose_team(ctx(data={"category": "network"}), by_field)[0] == "net"
    assert choose_team(ctx(data={"category": "other"}), by_field)[0] == "desk"


def test_channel_dispatch_prefers_the_source_channel_over_the_form():
    spec = {"by": "channel", "teams": {"email": "mail_team", "web": "web_team"}}
    assert choose_team(ctx(channel="email", data={"channel": "web"}), spec)[0] == "mail_team"
    assert choose_team(ctx(data={"channel": "web"}), spec)[0] == "web_team"


def test_field_dispatch_matches_the_value_as_text():
    spec = {"by": "field", "field": "level", "teams": {"1": "first", "true": "vip", "b": "bee"}}
    assert choose_team(ctx(data={"level": 1}), spec)[0] == "first"
    assert choose_team(ctx(data={"level": True}), spec)[0] == "vip"
    assert choose_team(ctx(data={"level": ["a", "b"]}), spec)[0] == "bee"
    assert choose_team(ctx(data={"level": None}), spec)[0] is None


def test_dispatch_with_no_matching_team_and_no_default_is_a_problem():
    found = resolve(ctx(data={"summary": "hi"}), {"dispatch": KEYWORDS})
    assert found.users == () and found.pool == {}
    assert_problem(found, "assignee.no_team")


def test_a_spec_with_no_single_known_kind_is_a_problem():
    assert_problem(resolve(ctx(), {"user": "a", "role": "b"}), "assignee.unknown_kind")
    assert_problem(resolve(ctx(), {"robot": "x"}), "assignee.unknown_kind")
    assert resolve(ctx(), {}) == Assignment((), {})


def test_every_kind_of_the_schema_has_a_strategy():
    schema = json.loads(
        (Path(__file__).parents[3] / "engine/definitions/schema/app.schema.json").read_text("utf-8")
    )
    assert set(schema["$defs"]["assignee"]["properties"]) == set(STRATEGIES)


# --------------------------------------------------------------------------- the database
@dataclass
class Org:
    db: Any
    app_id: int
    users: dict[str, int]
    departments: dict[str, int]

    def resolve(self, spec: dict[str, Any], **kw: Any) -> Assignment:
        with self.db.write() as conn:
            return resolve(ctx(conn, kw.pop("app_id", self.app_id), **kw), spec)

    def claims(self, pool: dict[str, Any], *names: str) -> list[bool]:
        with self.db.read() as conn:
            return [can_claim(conn, self.app_id, pool, self.users[n]) for n in names]

    def members(self, pool: dict[str, Any]) -> list[int]:
        with self.db.read() as conn:
            return pool_members(conn, self.app_id, pool)

    def deactivate(self, name: str) -> None:
        with self.db.write() as conn:
            conn.execute(update(User).where(User.id == self.users[name]).values(is_active=False))


@pytest.fixture
def org(db) -> Org:
    """HQ (head: boss) > Support (head: lead: ann, bob, cat) and Quality (no head: quinn); dan is nowhere."""
    app_id = bare_app(db, "desk", ["agents", "quality", "nobody", "team"])
    hq = create_department(db, "HQ")
    support = create_department(db, "Support", parent_id=hq)
    quality = create_department(db, "Quality", parent_id=hq)
    users = {"boss": create_user(db, "boss", department_id=hq)}
    users["lead"] = create_user(db, "lead", department_id=support)
    users["ann"] = create_user(db, "ann", department_id=support, manager_id=users["lead"])
    for name in ("bob", "cat"):
        users[name] = create_user(db, name, department_id=support)
    users["quinn"] = create_user(db, "quinn", department_id=quality)
    users["dan"] = create_user(db, "dan")
    set_department_head(db, hq, users["boss"])
    set_department_head(db, support, users["lead"])
    for name in ("ann", "bob"):
        give_role(db, users[name], "desk", "agents")
    return Org(db, app_id, users, {"hq": hq, "support": support, "quality": quality})


def test_user_is_found_by_username(org):
    assert org.resolve({"user": "bob"}) == Assignment((org.users["bob"],), {})


def test_unknown_or_deactivated_user_is_a_problem_not_an_error(org):
    assert_problem(org.resolve({"user": "ghost"}), "assignee.unknown_user")
    org.deactivate("bob")
    found = org.resolve({"user": "bob"})
    assert found.users == ()
    assert_problem(found, "assignee.inactive_user")


def test_role_is_a_pool_that_only_its_active_members_may_claim(org):
    found = org.resolve({"role": "agents"})
    assert found == Assignment((), {"role": "agents"})
    assert org.claims(found.pool, "ann", "bob", "cat") == [True, True, False]
    assert org.members(found.pool) == sorted([org.users["ann"], org.users["bob"]])
    org.deactivate("ann")
    assert org.claims(found.pool, "ann") == [False]
    assert org.members(found.pool) == [org.users["bob"]]


def test_pools_of_unknown_shape_let_nobody_claim(org):
    for pool in ({}, {"field": "owner"}, {"department": "Support"}, {"role": "agents", "department": 1}):
        assert org.claims(pool, "ann") == [False]
        assert org.members(pool) == []
    assert org.claims({"users": [org.users["ann"], 10**30]}, "ann", "bob") == [True, False]


def test_a_role_of_another_app_with_the_same_key_does_not_let_its_members_claim(org):
    bare_app(org.db, "other", ["agents"])
    give_role(org.db, org.users["cat"], "other", "agents")
    assert org.claims({"role": "agents"}, "cat") == [False]


def test_unknown_and_empty_roles_are_problems_that_keep_the_pool(org):
    missing = org.resolve({"role": "ghosts"})
    assert missing.pool == {"role": "ghosts"}
    assert_problem(missing, "assignee.unknown_role")
    empty = org.resolve({"role": "nobody"})
    assert empty.pool == {"role": "nobody"}
    assert_problem(empty, "assignee.empty_role")


def test_department_gives_its_head(org):
    assert org.resolve({"department": "Support"}).users == (org.users["lead"],)


def test_department_without_a_head_goes_to_its_members_with_a_problem(org):
    found = org.resolve({"department": "Quality"})
    assert found.pool == {"department": org.departments["quality"]}
    assert_problem(found, "assignee.department_no_head")
    assert org.claims(found.pool, "quinn", "ann") == [True, False]


def test_unknown_and_ambiguous_departments_are_problems(org):
    assert_problem(org.resolve({"department": "Sales"}), "assignee.unknown_department")
    create_department(org.db, "Support")  # a second "Support", at the top level
    assert_problem(org.resolve({"department": "Support"}), "assignee.ambiguous_department")


def test_department_members_is_a_pool_of_its_active_members(org):
    found = org.resolve({"department_members": "Support"})
    assert found == Assignment((), {"department": org.departments["support"]})
    org.deactivate("cat")
    assert org.members(found.pool) == sorted(org.users[n] for n in ("lead", "ann", "bob"))
    assert org.claims(found.pool, "bob", "cat", "boss") == [True, False, False]


def test_department_with_no_active_members_is_a_problem(org):
    org.deactivate("quinn")
    assert_problem(org.resolve({"department_members": "Quality"}), "assignee.empty_department")


def test_field_names_its_users_in_order_without_duplicates(org):
    u = org.users
    assert org.resolve({"field": "owner"}, data={"owner": u["cat"]}).users == (u["cat"],)
    found = org.resolve({"field": "helpers"}, data={"helpers": [u["cat"], u["ann"], u["cat"]]})
    assert found == Assignment((u["cat"], u["ann"]), {})


def test_empty_field_or_unknown_ids_are_problems(org):
    assert_problem(org.resolve({"field": "owner"}, data={"owner": None}), "assignee.field_empty")
    assert_problem(org.resolve({"field": "owner"}, data={}), "assignee.field_empty")
    partly = org.resolve({"field": "helpers"}, data={"helpers": [org.users["ann"], 99999, 10**30, "x"]})
    assert partly.users == (org.users["ann"],)
    assert_problem(partly, "assignee.field_unknown_users")
    assert partly.params["ids"] == f"99999, {10**30}, x"


def test_submitter_is_the_ticket_creator(org):
    assert org.resolve({"submitter": True}, submitter=org.users["dan"]).users == (org.users["dan"],)
    assert_problem(org.resolve({"submitter": True}), "assignee.no_submitter")


def test_manager_of_the_submitter_is_their_manager(org):
    found = org.resolve({"manager_of": "submitter"}, submitter=org.users["ann"])
    assert found.users == (org.users["lead"],)


def test_manager_of_someone_without_a_manager_is_their_department_head(org):
    found = org.resolve({"manager_of": "submitter"}, submitter=org.users["bob"])
    assert found.users == (org.users["lead"],)


def test_manager_of_a_department_head_walks_up_to_the_next_head(org):
    found = org.resolve({"manager_of": "submitter"}, submitter=org.users["lead"])
    assert found.users == (org.users["boss"],)
    # Quality has no head: its people go to the head above.
    assert org.resolve({"manager_of": "submitter"}, submitter=org.users["quinn"]).users == (
        org.users["boss"],
    )


def test_a_deactivated_manager_is_passed_over_for_the_department_head(org):
    with org.db.write() as conn:
        conn.execute(update(User).where(User.id == org.users["bob"]).values(manager_id=org.users["cat"]))
    org.deactivate("cat")
    found = org.resolve({"manager_of": "submitter"}, submitter=org.users["bob"])
    assert found.users == (org.users["lead"],)


def test_manager_of_the_assignee_uses_the_current_assignee(org):
    found = org.resolve({"manager_of": "assignee"}, submitter=org.users["dan"], assignee=org.users["ann"])
    assert found.users == (org.users["lead"],)
    assert_problem(org.resolve({"manager_of": "assignee"}), "assignee.no_current_assignee")


def test_nobody_above_is_a_problem(org):
    no_dept = org.resolve({"manager_of": "submitter"}, submitter=org.users["dan"])
    assert_problem(no_dept, "assignee.no_manager")
    assert no_dept.params == {"user": "dan"}
    top = org.resolve({"manager_of": "submitter"}, submitter=org.users["boss"])
    assert_problem(top, "assignee.no_manager")


def test_expr_names_users_by_username_id_or_user_object(org):
    u = org.users
    env = {"priority": "P1", "user": {"id": u["dan"], "username": "dan"}}
    source = "['ann', 'bob'] if priority == 'P1' else 'cat'"
    assert org.resolve({"expr": source}, expr_context=lambda: env).users == (u["ann"], u["bob"])
    assert org.resolve({"expr": "user"}, expr_context=lambda: env).users == (u["dan"],)
    mixed = org.resolve({"expr": f"[{u['cat']}, 'ann', 'cat']"}, expr_context=lambda: env)
    assert mixed.users == (u["cat"], u["ann"])


def test_expr_without_a_context_reads_the_stored_fields(org):
    found = org.resolve({"expr": "owner_name"}, data={"owner_name": "cat"})
    assert found.users == (org.users["cat"],)


def test_expr_problems_never_raise(org):
    env = {"priority": "P1", "count": 3}
    partly = org.resolve({"expr": "['ann', 'ghost']"}, expr_context=lambda: env)
    assert partly.users == (org.users["ann"],)
    assert_problem(partly, "assignee.expr_unknown_users")
    assert partly.params["users"] == "ghost"
    assert_problem(org.resolve({"expr": "count / 0"}, expr_context=lambda: env), "assignee.expr_failed")
    assert_problem(org.resolve({"expr": "missing"}, expr_context=lambda: {}), "assignee.expr_empty")
    assert_problem(org.resolve({"expr": "1.5"}, expr_context=lambda: env), "assignee.expr_not_users")
    assert_problem(org.resolve({"expr": "[0, -1]"}, expr_context=lambda: env), "assignee.expr_unknown_users")


# --------------------------------------------------------------------------- dispatch on the database
@pytest.fixture
def team(org) -> list[int]:
    """Team ``team``: five members; zed is away and yan deactivated, so three are available."""
    names = ["vic", "uma", "tom", "zed", "yan"]
    for i, name in enumerate(names):
        org.users[name] = create_user(org.db, name)
        give_role(org.db, org.users[name], "desk", "team", weight=i + 1)
    set_away(org.db, org.users["zed"])
    org.deactivate("yan")
    return sorted(org.users[n] for n in ("vic", "uma", "tom"))


def dispatch(balance: str) -> dict[str, Any]:
    return {"dispatch": {"by": "type", "teams": {"complaint": "team"}, "balance": balance}}


class Desk:
    """Tickets dispatched one command at a time; between tickets a random open task may close."""

    def __init__(self, org: Org, app_id: int, seed: int):
        self.org, self.app_id, self.rng = org, app_id, random.Random(seed)
        with org.db.write() as conn:
            now = utcnow()
            self.record = conn.execute(
                insert(Record).values(
                    app_id=app_id,
                    app_version=1,
                    ticket_type="complaint",
                    number=f"T-{app_id}",
                    data={},
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            self.instance = conn.execute(
                insert(FlowInstance).values(record_id=self.record, app_version=1, tokens=[], started_at=now)
            ).inserted_primary_key[0]

    def ticket(self, spec: dict[str, Any]) -> Assignment:
        with self.org.db.write() as conn:
            if self.rng.random() < 0.6:
                open_ids = conn.execute(select(Task.id).where(Task.status == "open").order_by(Task.id)).all()
                if open_ids:
                    done = open_ids[self.rng.randrange(len(open_ids))][0]
                    conn.execute(update(Task).where(Task.id == done).values(status="done"))
            found = resolve(ctx(conn, self.app_id), spec)
            if found.users:
                conn.execute(
                    insert(Task).values(
                        instance_id=self.instance,
                        record_id=self.record,
                        node_id="triage",
                        status="open",
                        assignee_id=found.users[0],
                        candidates={},
                        created_at=utcnow(),
                    )
                )
            return found

    def loads(self, members: list[int]) -> list[int]:
        with self.org.db.read() as conn:
            rows = conn.execute(select(Task.assignee_id).where(Task.status == "open")).scalars().all()
        counts = Counter(rows)
        return [counts[m] for m in members]


def test_round_robin_dispatch_takes_available_members_in_turn(org, team):
    desk = Desk(org, org.app_id, seed=1)
    picks = [desk.ticket(dispatch("round_robin")) for _ in range(300)]
    assert all(p.team == "team" and p.pool == {} and p.problem is None for p in picks)
    assert [p.users[0] for p in picks] == [pick_round_robin(team, i) for i in range(300)]
    assert Counter(p.users[0] for p in picks) == {uid: 100 for uid in team}


def test_weighted_dispatch_gives_counts_in_proportion_to_the_weights(org, team):
    desk = Desk(org, org.app_id, seed=2)
    picks = Counter(desk.ticket(dispatch("weighted")).users[0] for _ in range(300))
    # vic, uma, tom weigh 1, 2, 3 (the away and the deactivated member get nothing)
    assert picks == {org.users["vic"]: 50, org.users["uma"]: 100, org.users["tom"]: 150}


def test_least_open_dispatch_keeps_open_loads_within_one(org, team):
    desk = Desk(org, org.app_id, seed=3)
    for _ in range(300):
        desk.ticket(dispatch("least_open"))
        loads = desk.loads(team)
        assert max(loads) - min(loads) <= 1
    assert desk.loads([org.users["zed"], org.users["yan"]]) == [0, 0]


def test_least_open_counts_open_tasks_of_every_app(org, team):
    desk = Desk(org, bare_app(org.db, "other", ["team"]), seed=4)
    give_role(org.db, team[0], "other", "team")
    for _ in range(2):
        desk.ticket({"user": "vic"})  # vic (team[0]) is busy elsewhere
    assert org.resolve(dispatch("least_open")).users == (team[1],)


@pytest.mark.parametrize("balance", ["round_robin", "least_open", "weighted"])
def test_dispatch_is_deterministic(org, team, balance):
    runs = []
    for key in ("first", "second"):
        app_id = bare_app(org.db, key, ["team"])
        for uid, weight in zip(team, (3, 1, 2), strict=True):
            give_role(org.db, uid, key, "team", weight=weight)
        desk = Desk(org, app_id, seed=5)
        runs.append([desk.ticket(dispatch(balance)).users[0] for _ in range(60)])
        with org.db.write() as conn:
            conn.execute(update(Task).values(status="done"))
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3


def test_an_away_member_is_skipped_until_marked_back(org, team):
    for uid in team[1:]:
        set_away(org.db, uid)
    assert {org.resolve(dispatch("round_robin")).users[0] for _ in range(4)} == {team[0]}
    set_away(org.db, team[1], away=False)
    assert {org.resolve(dispatch("round_robin")).users[0] for _ in range(4)} == {team[0], team[1]}


def test_a_team_with_nobody_available_goes_to_its_pool_with_a_problem(org, team):
    set_away(org.db, team[0])
    set_away(org.db, team[1])
    org.deactivate("tom")
    found = org.resolve(dispatch("least_open"))
    assert (found.users, found.pool, found.team) == ((), {"role": "team"}, "team")
    assert_problem(found, "assignee.team_unavailable")
    assert org.claims(found.pool, "zed") == [True]  # away people may still claim by hand


def test_dispatch_to_a_team_that_is_not_a_role_is_a_problem(org):
    found = org.resolve({"dispatch": {"by": "type", "teams": {"complaint": "ghost_team"}}})
    assert (found.users, found.team) == ((), "ghost_team")
    assert_problem(found, "assignee.unknown_team")


def test_dispatch_by_keyword_reaches_the_matching_team(org):
    spec = {"dispatch": {"by": "keyword", "field": "summary", "teams": {"退款": "agents"}, "default": "team"}}
    found = org.resolve(spec, data={"summary": "退款未到账"})
    assert found.team == "agents" and found.users[0] in (org.users["ann"], org.users["bob"])
