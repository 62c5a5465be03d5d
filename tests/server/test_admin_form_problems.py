"""A refused admin form (new user, edit user, department) answers every problem at once: each beside
its input, named by the field's label (never the raw key), and the values typed stay in the form."""

from __future__ import annotations

import html as markup
import re

import pytest
from sqlalchemy import func, select

from engine.store.models import Department, User


@pytest.fixture
def admin(web):
    return web.client("admin")


def form(client, path: str, /, **fields):
    """POST a form the way a browser does: fields plus the session's CSRF field, no header."""
    csrf = client.csrf
    client.csrf = ""
    try:
        return client.post(path, data={"csrf_token": csrf, **fields})
    finally:
        client.csrf = csrf


def beside(page: str, name: str) -> str:
    """The text of the label holding the input (or select) named ``name``: its caption, problem, input."""
    for label in re.findall(r"<label[^>]*>(.*?)</label>", page, re.S):
        if re.search(rf'<(input|select)[^>]* name="{name}"', label):
            return markup.unescape(label)
    raise AssertionError(f"no input named {name}")


def problem_list(page: str) -> list[str]:
    box = re.search(r'<ul class="problems">(.*?)</ul>', page, re.S)
    assert box, "no problem list"
    return [markup.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", box.group(1))]


BAD_USER = {
    "username": "bad user!",
    "email": "bad-email",
    "phone": "abc",
    "tz": "Mars/Base",
    "password": "short",
    "manager": "nobody",
    "lang": "zh",
}


def test_a_new_user_with_six_problems_gets_all_six_beside_their_fields(web, admin):
    answer = form(admin, "/admin/users?lang=en", **BAD_USER)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    expected = {
        "username": ("Username", "bad user!"),
        "email": ("Email", "bad-email"),
        "phone": ("Phone", "abc"),
        "tz": ("Time zone", "Mars/Base"),
        "password": ("Initial password", None),
        "manager": ("Manager", "nobody"),
    }
    listed = problem_list(page)
    assert len(listed) == 6
    for name, (label, typed) in expected.items():
        field = beside(page, name)
        assert 'aria-invalid="true"' in field and f'id="problem-{name}"' in field, name
        message = re.search(r'class="error-text field-problem"[^>]*>([^<]+)<', field).group(1)
        assert any(item == f"{label}: {message}" for item in listed), (name, listed)
        if typed is not None:
            assert f'value="{typed}"' in field, name  # what was typed stays
    assert "nobody" in beside(page, "manager") and "Mars/Base" in beside(page, "tz")
    box = re.search(r'<ul class="problems">(.*?)</ul>', page, re.S).group(1)
    assert "<code>" not in box  # labels, not raw keys such as `tz`
    with web.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == 1  # only admin


def test_the_new_user_form_speaks_chinese_labels_too(web, admin):
    page = form(admin, "/admin/users", **BAD_USER).get_data(as_text=True)
    listed = problem_list(page)
    assert any(item.startswith("上级: ") and "nobody" in item for item in listed)
    for label in ("邮箱", "时区"):
        assert any(item.startswith(f"{label}: ") for item in listed), label


def test_a_taken_username_is_said_with_the_other_problems(web, admin):
    web.user("bob")
    page = form(admin, "/admin/users?lang=en", username="bob", email="nope", tz="Asia/Shanghai")
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "is taken" in beside(text, "username") and "Email: " in " ".join(problem_list(text))
    alone = form(admin, "/admin/users?lang=en", username="bob", tz="Asia/Shanghai", is_admin="1")
    assert alone.status_code == 409
    kept = alone.get_data(as_text=True)
    assert "is taken" in beside(kept, "username")
    assert re.search(r'name="is_admin" value="1" checked', kept)  # the ticked box stays ticked


def test_editing_a_user_shows_every_problem_beside_its_field_and_keeps_the_values(web, admin):
    uid = web.user("bob")
    page = form(
        admin, f"/admin/users/{uid}?lang=en", display_name="", email="bad-email", phone="abc", tz="Mars/Base",
        lang="en", manager="nobody", is_active="1",
    )  # fmt: skip
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    for name in ("display_name", "email", "phone", "tz", "manager"):
        assert 'aria-invalid="true"' in beside(text, name), name
    assert len(problem_list(text)) == 5
    assert 'value="bad-email"' in beside(text, "email") and 'value="nobody"' in beside(text, "manager")
    assert '<option value="en" selected>' in beside(text, "lang")  # the choice made stays
    assert not re.search(r'name="is_away" value="1" checked', text)  # unticked stays unticked
    with web.db.read() as conn:
        assert conn.execute(select(User.email).where(User.id == uid)).scalar_one() is None


def test_an_unknown_manager_by_username_is_saved_once_it_exists(web, admin):
    uid = web.user("bob")
    boss = web.user("boss")
    saved = form(admin, f"/admin/users/{uid}", display_name="Bob", tz="Asia/Shanghai", manager="boss")
    assert saved.status_code == 303
    with web.db.read() as conn:
        assert conn.execute(select(User.manager_id).where(User.id == uid)).scalar_one() == boss


def test_a_department_with_an_unknown_head_and_a_cycle_gets_both_problems(web, admin):
    assert form(admin, "/admin/departments", name="客服部").status_code == 303
    with web.db.read() as conn:
        root = conn.execute(select(Department.id)).scalar_one()
    assert form(admin, "/admin/departments", name="一组", parent_id=str(root)).status_code == 303
    with web.db.read() as conn:
        child = conn.execute(select(Department.id).where(Department.name == "一组")).scalar_one()
    answer = form(
        admin, f"/admin/departments/{root}?lang=en", name="客服部", parent_id=str(child), head="nobody"
    )
    assert answer.status_code == 422
    listed = problem_list(answer.get_data(as_text=True))
    assert any(item.startswith("Head: ") and "nobody" in item for item in listed)
    assert any(item.startswith("Parent: ") for item in listed)
