"""Sessions, CSRF and brute force: a session id planted before login is never the one after it, a
cookie-session write without its own session's CSRF token is refused, and guessing passwords locks
the account (from any address) while one address is slowed down by the login limit."""

from __future__ import annotations

from typing import Any

from server.auth import COOKIE, LOGIN_LIMIT
from tests.security.tally import TRIED


def cookie(client: Any) -> str | None:
    found = client.get_cookie(COOKIE)
    return found.value if found else None


def test_a_planted_session_id_is_replaced_at_login_and_never_signs_anyone_in(web: Any) -> None:
    web.user("ann")
    victim = web.anonymous()
    victim.set_cookie(COOKIE, "attacker-chosen-session-id")
    assert victim.get("/api/v1/me").status_code == 401
    answer = victim.post("/api/v1/auth/login", json={"username": "ann", "password": "pw-ann"})
    assert answer.status_code == 200
    fresh = cookie(victim)
    assert fresh and fresh != "attacker-chosen-session-id"
    attacker = web.anonymous()
    attacker.set_cookie(COOKIE, "attacker-chosen-session-id")
    assert attacker.get("/api/v1/me").status_code == 401
    # signing in again gives another id; signing out ends the old one for good
    again = web.anonymous()
    again.post("/api/v1/auth/login", json={"username": "ann", "password": "pw-ann"})
    assert cookie(again) != fresh
    victim.post("/api/v1/auth/logout", headers={"X-CSRF-Token": answer.json["csrf_token"]})
    replay = web.anonymous()
    replay.set_cookie(COOKIE, fresh)
    assert replay.get("/api/v1/me").status_code == 401
    TRIED["sessions, csrf, brute force"] += 4


def test_cookie_writes_without_their_own_csrf_token_are_refused(web: Any) -> None:
    web.user("ann", roles={"complaint": ["agent"]})
    web.user("bob")
    ann = web.client("ann")
    bob_token = web.client("bob").csrf
    writes = [
        ("post", "/api/v1/apps/complaint/ticket_types/complaint/tickets", {"summary": "x"}),
        ("patch", "/api/v1/me", {"display_name": "Mallory"}),
        ("post", "/api/v1/me/tokens", {"name": "stolen", "scopes": ["read", "write"]}),
        ("post", "/api/v1/me/password", {"old_password": "pw-ann", "new_password": "owned-owned-1"}),
        ("post", "/api/v1/auth/logout", None),
        ("post", "/api/v1/inbox/views", {"name": "v"}),
    ]
    for sent in (None, "", "wrong", bob_token, ann.csrf + "x"):
        for method, path, body in writes:
            ann.csrf = ""  # send exactly what this case says
            headers = {} if sent is None else {"X-CSRF-Token": sent}
            answer = getattr(ann, method)(path, json=body, headers=headers)
            TRIED["sessions, csrf, brute force"] += 1
            assert answer.status_code == 403, (method, path, sent, answer.status_code)
            assert answer.json["code"] == "auth.csrf"
    # a page form posted from elsewhere (no csrf_token field) is refused too
    answer = ann.post("/portal/complaint/complaint/new", data={"summary": "x"})
    assert answer.status_code == 403
    # nothing was changed by any of them
    assert ann.get("/api/v1/me").json["display_name"] == "Ann"
    assert web.client("ann").get("/api/v1/me").status_code == 200  # the password is unchanged


def test_guessing_a_password_locks_the_account_from_any_address(web: Any) -> None:
    web.user("ann")
    for i in range(5):  # each guess from another address: the per-address limit does not help here
        wrong = web.anonymous().post(
            "/api/v1/auth/login",
            json={"username": "ann", "password": f"guess-{i}"},
            environ_base={"REMOTE_ADDR": f"10.9.8.{i}"},
        )
        TRIED["sessions, csrf, brute force"] += 1
        assert wrong.status_code in (401, 403)
    right = web.anonymous().post(
        "/api/v1/auth/login",
        json={"username": "ann", "password": "pw-ann"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert right.status_code in (401, 403, 423) and right.json["code"] == "auth.locked", right.json
    assert "15" in right.json["message"] or "分钟" in right.json["message"]
    # an unknown user gets the same answer as a wrong password: no way to tell who exists
    ghost = web.anonymous().post("/api/v1/auth/login", json={"username": "nobody-here", "password": "x"})
    TRIED["sessions, csrf, brute force"] += 2
    assert ghost.json["code"] == "auth.bad_credentials"


def test_one_address_guessing_many_accounts_is_slowed_down(web: Any) -> None:
    client = web.anonymous()
    codes = []
    for i in range(LOGIN_LIMIT + 3):
        answer = client.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "x"})
        codes.append(answer.status_code)
        TRIED["sessions, csrf, brute force"] += 1
    assert codes[-1] == 429 and 429 not in codes[:LOGIN_LIMIT]
    # a forged X-Forwarded-For does not buy a fresh limit
    forged = client.post(
        "/api/v1/auth/login", json={"username": "u", "password": "x"}, headers={"X-Forwarded-For": "1.2.3.4"}
    )
    assert forged.status_code == 429
