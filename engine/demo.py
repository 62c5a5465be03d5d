"""`gongdan demo`: a small organisation and tickets in every shipped app, moved along their flows."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select

from engine.access import load_principal, may_submit
from engine.errors import FormError
from engine.flows.stepping import available_actions, required_fields
from engine.forms.samples import sample_data
from engine.i18n import t
from engine.people import create_department, create_user, user_id
from engine.store.models import App, Department, Role, RoleMember

DEPARTMENTS = ["客服部 Support", "质量部 Quality", "IT 运维部 IT Ops", "研发部 Engineering"]
#: (username, name, department index, {app: [roles]}): who does what in the walkthrough. Customers
#: have no department and no role: that keeps them from the ticket types for staff (`submitters`).
USERS = [
    ("alice", "Alice 王", 0, {"complaint": ["agent", "billing_team", "cs_pool"], "kb": ["editor"]}),
    ("bob", "Bob 李", 0, {"complaint": ["agent", "delivery_team", "cs_pool"]}),
    ("carol", "Carol 张", 1, {"complaint": ["quality"], "bugfix": ["qa"]}),
    ("dave", "Dave 刘", 0, {"complaint": ["cs_lead"], "it_ops": ["it_lead"], "bugfix": ["dev_lead"]}),
    ("erin", "Erin 陈", 2, {"it_ops": ["it_agent", "it_engineer", "network_team", "desktop_team", "iam_team",
                                       "service_desk"]}),
    ("frank", "Frank 杨", 3, {"bugfix": ["developer"], "it_ops": ["it_engineer"]}),
    ("grace", "Grace 周 (客户 customer)", None, {}),
    ("henry", "Henry 吴 (客户 customer)", None, {}),
]  # fmt: skip


def load_people(db: Any) -> tuple[list[int], list[int]]:
    """The demo organisation (idempotent): departments, users (password ``demo``) and their roles
    in the apps loaded; (user ids, department ids)."""
    depts = [_department(db, name) for name in DEPARTMENTS]
    ids = []
    for username, name, dept, roles in USERS:
        uid = user_id(db, username) or create_user(
            db,
            username,
            name,
            password="demo",
            department_id=None if dept is None else depts[dept],
            email=f"{username}@example.com",
        )
        ids.append(uid)
        _give_roles(db, uid, roles)
    return ids, depts


#: Above this many tickets ``gongdan demo`` loads in bulk (engine/demo_bulk.py) unless told otherwise.
BULK_ABOVE = 1_000


def load_demo(
    platform: Any,
    tickets: int,
    seed: int,
    echo: Callable[[str], Any],
    progress: Callable,
    bulk: bool | None = None,
) -> None:
    """``tickets`` demo tickets in the loaded apps: each walked through its flow by the Runtime, or,
    with ``bulk`` (default: above BULK_ABOVE tickets), a few walked and the rest cloned in bulk."""
    db, runtime = platform.db, platform.runtime
    rng = random.Random(seed)
    ids, depts = load_people(db)
    apps = [a["key"] for a in runtime.apps()]
    if not apps:
        echo(t("demo.no_apps"))
        return

    def walk_one(rng: random.Random, app: str) -> int:
        return _walk(runtime, db, rng, app, ids, depts)

    if bulk if bulk is not None else tickets > BULK_ABOVE:
        from engine.demo_bulk import bulk_load

        bulk_load(platform, tickets, seed, echo, progress, walk_one)
        echo(t("demo.people_in", users=len(USERS), apps=", ".join(apps)))
        return
    with progress(range(tickets), label=t("demo.progress")) as bar:
        for i in bar:
            walk_one(rng, apps[i % len(apps)])
    echo(t("demo.tickets_in", users=len(USERS), tickets=tickets, apps=", ".join(apps)))


def _walk(runtime: Any, db: Any, rng: random.Random, app: str, ids: list[int], depts: list[int]) -> int:
    """Submit one ticket of ``app`` with sample data and move it 0–3 steps along its flow; its id."""
    with db.read() as conn:
        app_id, version = conn.execute(select(App.id, App.current_version).where(App.key == app)).one()
        spec = runtime.spec_for(conn, app_id, version)
        tspec = next(iter(spec.types.values()))
        may = tspec.definition.submitters  # who may submit it: the demo asks only them
        people = [load_principal(conn, uid) for uid in ids] if may else []
        allowed = [p.user_id for p in people if p is not None and may_submit(p, app, may)] if may else ids
    ctx = {"option_sets": spec.app.option_sets, "users": ids, "departments": depts}
    locked = tspec.access(tspec.flow.start).locked()  # what the submitter may fill in
    fields = tuple(f for f in tspec.definition.form.fields if f.key not in locked)
    data = sample_data(fields, rng, ctx, fill=0.6)
    submitter = rng.choice(allowed or ids)
    for attempt in range(3):
        try:
            ticket = runtime.submit(app, tspec.key, data, actor=submitter)
            break
        except FormError as exc:  # a sample a rule refuses (a P1 billing complaint's refund, a used id)
            again = {p.path.split(".")[0].split("[")[0] for p in exc.problems}
            more = tuple(f for f in fields if f.key in again)
            if attempt == 2 or not more:
                raise
            data.update(sample_data(more, random.Random(rng.random()), ctx, fill=1.0))
    for _ in range(rng.randint(0, 3)):
        open_tasks = runtime.tasks(ticket.id)
        if not open_tasks:
            break
        task = open_tasks[0]
        choices = [a for a in available_actions(tspec.flow, task["node_id"]) if a != "reject"]
        if not choices:
            break
        actor = task["assignee_id"]  # a pool task nobody claimed yet: the system moves it on
        action = rng.choice(choices)
        # what the action requires (a complaint's solution, its rating), filled in with it; sampled
        # apart, so the rest of the demo stays what its seed always gave
        needed = set(required_fields(tspec.flow, task["node_id"], action))
        wanted = tuple(f for f in tspec.definition.form.fields if f.key in needed)
        given = sample_data(wanted, random.Random(task["id"]), ctx, fill=1.0)
        runtime.act(task["id"], action, given or None, actor=actor)
    return ticket.id


def people_summary() -> list[str]:
    """One line per demo user: login and what they do."""
    out = []
    for username, name, _dept, roles in USERS:
        does = "; ".join(f"{app}: {', '.join(keys)}" for app, keys in roles.items()) or "customer (no role)"
        out.append(f"  {username:<6} / demo   {name} — {does}")
    return out


def _department(db: Any, name: str) -> int:
    with db.read() as conn:
        found = conn.execute(
            select(Department.id).where(Department.name == name, Department.parent_id.is_(None))
        ).scalar()
    return found or create_department(db, name)


def _give_roles(db: Any, uid: int, roles: dict[str, list[str]]) -> None:
    with db.write() as conn:
        wanted = [(app, key) for app, keys in roles.items() for key in keys]
        if not wanted:
            return
        found = conn.execute(
            select(Role.id, App.key, Role.key)
            .join(App, App.id == Role.app_id)
            .where(App.key.in_(list(roles)))
        ).all()
        have = set(conn.execute(select(RoleMember.role_id).where(RoleMember.user_id == uid)).scalars())
        rows = [
            {"role_id": rid, "user_id": uid}
            for rid, app, key in found
            if (app, key) in wanted and rid not in have
        ]
        if rows:
            conn.execute(insert(RoleMember), rows)
