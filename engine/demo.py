"""`gongdan demo`: a small organisation and tickets in every shipped app, moved along their flows."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select

from engine.flows.stepping import available_actions
from engine.forms.samples import sample_data
from engine.people import create_department, create_user, user_id
from engine.store.models import App, Role, RoleMember

DEPARTMENTS = ["客服部 Support", "质量部 Quality", "IT 运维部 IT Ops", "研发部 Engineering"]
USERS = [
    ("alice", "Alice 王", 0), ("bob", "Bob 李", 0), ("carol", "Carol 张", 1),
    ("dave", "Dave 刘", 2), ("erin", "Erin 陈", 2), ("frank", "Frank 杨", 3),
]  # fmt: skip


def load_demo(platform: Any, tickets: int, seed: int, echo: Callable[[str], Any], progress: Callable) -> None:
    db, runtime = platform.db, platform.runtime
    rng = random.Random(seed)
    depts = [create_department(db, name) for name in DEPARTMENTS]
    ids = []
    for username, name, dept in USERS:
        uid = user_id(db, username) or create_user(
            db, username, name, password="demo", department_id=depts[dept], email=f"{username}@example.com"
        )
        ids.append(uid)
    _give_everyone_every_role(db, ids)
    apps = [a["key"] for a in runtime.apps()]
    if not apps:
        echo("no apps loaded; run `gongdan import app_definitions/*.yaml` first")
        return
    with progress(range(tickets), label="demo tickets") as bar:
        for i in bar:
            app = apps[i % len(apps)]
            with db.read() as conn:
                app_id, version = conn.execute(
                    select(App.id, App.current_version).where(App.key == app)
                ).one()
                spec = runtime.spec_for(conn, app_id, version)
            tspec = next(iter(spec.types.values()))
            ctx = {"option_sets": spec.app.option_sets, "users": ids, "departments": depts}
            locked = tspec.access(tspec.flow.start).locked()  # what the submitter may fill in
            fields = tuple(f for f in tspec.definition.form.fields if f.key not in locked)
            data = sample_data(fields, rng, ctx, fill=0.6)
            ticket = runtime.submit(app, tspec.key, data, actor=rng.choice(ids))
            for _ in range(rng.randint(0, 3)):
                open_tasks = runtime.tasks(ticket.id)
                if not open_tasks:
                    break
                task = open_tasks[0]
                choices = [a for a in available_actions(tspec.flow, task["node_id"]) if a != "reject"]
                if not choices:
                    break
                actor = task["assignee_id"]  # a pool task nobody claimed yet: the system moves it on
                runtime.act(task["id"], rng.choice(choices), actor=actor)
    echo(f"demo: {len(USERS)} users (password: demo), {tickets} tickets in {', '.join(apps)}")


def _give_everyone_every_role(db: Any, user_ids: list[int]) -> None:
    with db.write() as conn:
        roles = conn.execute(select(Role.id)).scalars().all()
        have = set(conn.execute(select(RoleMember.role_id, RoleMember.user_id)).all())
        rows = [{"role_id": r, "user_id": u} for r in roles for u in user_ids if (r, u) not in have]
        if rows:
            conn.execute(insert(RoleMember), rows)
