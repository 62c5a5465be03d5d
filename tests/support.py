"""Helpers shared by tests (fixtures live in conftest.py files)."""

from __future__ import annotations

from typing import Any


def complaint_form(definition: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Valid form data for the shipped complaint app (the product is its first cascade path)."""
    product = definition["option_sets"]["products"][0]
    data = {
        "customer": "ACME 有限公司",
        "phone": "13800138000",
        "product": [product["value"], product["children"][0]["value"]],
        "category": "billing",
        "priority": "P2",
        "summary": "退款未到账",
    }
    data.update(overrides)
    return data


def give_role(db: Any, user_id: int, app_key: str, role_key: str, weight: int = 1) -> None:
    """Make ``user_id`` a member of the app's role ``role_key`` (``weight``: share in weighted dispatch)."""
    from sqlalchemy import insert, select

    from engine.store.models import App, Role, RoleMember

    with db.write() as conn:
        role_id = conn.execute(
            select(Role.id).join(App, App.id == Role.app_id).where(App.key == app_key, Role.key == role_key)
        ).scalar_one()
        conn.execute(insert(RoleMember).values(role_id=role_id, user_id=user_id, weight=weight))


def bare_app(db: Any, app_key: str, roles: Any = ()) -> int:
    """An app row with the given role keys and no published definition, for tests below the Runtime."""
    from sqlalchemy import insert

    from engine.store.models import App, Role
    from engine.store.types import utcnow

    with db.write() as conn:
        app_id = conn.execute(
            insert(App).values(key=app_key, name={"en": app_key}, current_version=1, created_at=utcnow())
        ).inserted_primary_key[0]
        if roles:
            conn.execute(insert(Role), [{"app_id": app_id, "key": r, "name": {"en": r}} for r in roles])
    return app_id


def race(*commands: Any) -> list[Any]:
    """Run the commands at the same moment in threads (a barrier), each on its own connection;
    return what each returned or raised, in order."""
    import threading

    barrier = threading.Barrier(len(commands))
    outcomes: list[Any] = [None] * len(commands)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = commands[i]()
        except Exception as exc:  # the test inspects it
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return outcomes
