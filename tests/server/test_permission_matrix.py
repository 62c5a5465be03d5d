"""The permission matrix: who may read and change one complaint, on every surface that shows it.

One ticket, submitted by a customer with a screenshot and dispatched by keyword to the billing
team, is looked at by everyone who could try: its submitter, another customer, a support agent
(role scope "all"), the billing agent holding its task (scope "own"), a delivery agent (another
team, no task on it), an admin and an anonymous visitor. Each surface — the API's ticket, list,
search, history, as-of, comments, attachment download, report drill-down and its export, the
ticket page and "my tickets" — must answer the same: visible to the first group, a 404 (never a
403 that would confirm the id exists) or simply absent for the others. Ids are also guessed.
"""

from __future__ import annotations

import io

import pytest

from tests.support import complaint_form

#: actor → (may see the ticket, may change it outside a task)
ACTORS = {
    "cust": (True, True),  # submitted it: may update it while it is open
    "other": (False, False),  # another customer
    "agent": (True, False),  # scope all: sees every complaint, holds no task on this one
    "billing": (True, True),  # holds its task (keyword 退款 → billing team)
    "delivery": (False, False),  # another team, no task on it
    "admin": (True, True),
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Case:
    def __init__(self, web):
        self.web = web
        web.user("cust")
        web.user("other")
        web.user("agent", roles={"complaint": ["agent"]})
        web.user("billing", roles={"complaint": ["billing_team"]})
        web.user("delivery", roles={"complaint": ["delivery_team"]})
        self.auth = {name: web.token(name, ["read", "write"]) for name in ACTORS}
        self.client = web.anonymous()
        upload = self.client.post(
            "/api/v1/attachments",
            data={"file": (io.BytesIO(PNG), "截图.png", "image/png")},
            headers=self.auth["cust"],
            content_type="multipart/form-data",
        )
        assert upload.status_code == 201, upload.json
        self.file = upload.json
        definition = web.runtime.definition("complaint")[1]
        body = complaint_form(definition, summary="退款未到账 matrix", screenshots=[self.file])
        created = self.client.post(
            "/api/v1/apps/complaint/ticket_types/complaint/tickets", json=body, headers=self.auth["cust"]
        )
        assert created.status_code == 201, created.json
        self.ticket = created.json
        tasks = web.runtime.tasks(self.ticket["id"])
        assert [t["assignee_id"] for t in tasks] == [web.id("billing")]
        self.task = tasks[0]["id"]
        # the others' own tickets, so that "nothing" is not the answer to every question
        web.runtime.submit(
            "complaint", "complaint", complaint_form(definition, summary="物流 other"), actor=web.id("other")
        )

    def get(self, actor: str, url: str):
        return self.client.get(url, headers=self.auth[actor])

    def page(self, actor: str, url: str):
        return self.web.client(actor).get(url)


def sees(case: Case, probe) -> dict[str, bool]:
    return {actor: probe(case, actor) for actor in ACTORS}


def expected_sight() -> dict[str, bool]:
    return {actor: sight for actor, (sight, _) in ACTORS.items()}


def _status(answer, ok: int = 200) -> bool:
    assert answer.status_code in (ok, 404), (answer.status_code, answer.get_data(as_text=True)[:300])
    return answer.status_code == ok


SURFACES = {
    "api ticket": lambda c, a: _status(c.get(a, f"/api/v1/tickets/{c.ticket['id']}")),
    "api history": lambda c, a: _status(c.get(a, f"/api/v1/tickets/{c.ticket['id']}/events")),
    "api as of": lambda c, a: _status(
        c.get(a, f"/api/v1/tickets/{c.ticket['id']}/as_of?at=2099-01-01T00:00:00Z")
    ),
    "api watchers": lambda c, a: _status(c.get(a, f"/api/v1/tickets/{c.ticket['id']}/watchers")),
    "api list": lambda c, a: (
        c.ticket["number"]
        in [t["number"] for t in c.get(a, "/api/v1/tickets?app=complaint&limit=200").json["items"]]
    ),
    "api search": lambda c, a: (
        c.ticket["number"] in [t["number"] for t in c.get(a, "/api/v1/tickets?q=matrix").json["items"]]
    ),
    "api task": lambda c, a: _status(c.get(a, f"/api/v1/tasks/{c.task}")),
    "attachment": lambda c, a: _status(c.get(a, f"/api/v1/attachments/{c.file['id']}")),
    "ticket page": lambda c, a: _status(c.page(a, f"/tickets/{c.ticket['id']}")),
    "my tickets page": lambda c, a: c.ticket["number"] in c.page(a, "/my").get_data(as_text=True),
}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_each_surface_shows_the_ticket_to_exactly_those_who_may_see_it(web, surface):
    case = Case(web)
    got = sees(case, SURFACES[surface])
    want = expected_sight()
    if surface == "my tickets page":  # "my tickets" are the ones I submitted, whatever else I may see
        want = {actor: actor == "cust" for actor in ACTORS}
    assert got == want


def test_report_drill_downs_and_exports_count_only_what_each_viewer_may_see(web):
    case = Case(web)
    base = "/api/v1/apps/complaint/ticket_types/complaint/reports/by_customer"
    for actor, (sight, _) in ACTORS.items():
        rows = case.get(actor, base).json["rows"]
        numbers = []
        for row in rows:
            drill = case.get(actor, f"{base}/drill?cell={row['cell']}&limit=200").json
            numbers += [t["number"] for t in drill["items"]]
            export = case.get(actor, f"{base}/drill/export?cell={row['cell']}&format=csv")
            assert export.status_code == 200
            assert (case.ticket["number"] in export.get_data(as_text=True)) == (
                case.ticket["number"] in [t["number"] for t in drill["items"]]
            )
        assert (case.ticket["number"] in numbers) is sight, actor
        total = sum(r["values"]["count"] for r in rows if isinstance(r["values"].get("count"), int))
        assert total == len(numbers), actor  # a report never counts a ticket its drill-down hides


def test_guessing_ids_reveals_nothing(web):
    case = Case(web)
    seen = {
        tid: case.get("other", f"/api/v1/tickets/{tid}").status_code
        for tid in range(1, case.ticket["id"] + 5)
    }
    own = {t["id"] for t in case.get("other", "/api/v1/tickets").json["items"]}
    assert {tid for tid, status in seen.items() if status == 200} == own
    assert set(seen.values()) <= {200, 404}  # never 403: an existing id looks like a missing one


def test_changing_the_ticket_follows_the_same_rules(web):
    case = Case(web)
    url = f"/api/v1/tickets/{case.ticket['id']}"
    outcomes = {}
    for actor, (sight, may_change) in ACTORS.items():
        current = case.get("admin", url)
        answer = case.client.patch(
            url,
            json={"detail": f"<p>{actor}</p>"},
            headers={**case.auth[actor], "If-Match": current.headers["ETag"]},
        )
        outcomes[actor] = answer.status_code
        if not sight:
            assert answer.status_code == 404, actor
        elif not may_change:
            assert answer.status_code == 403, actor
        else:
            assert answer.status_code == 200, (actor, answer.json)
    comments = {
        actor: case.client.post(
            f"{url}/comments", json={"body": f"from {actor}"}, headers=case.auth[actor]
        ).status_code
        for actor in ACTORS
    }
    assert {a for a, s in comments.items() if s == 404} == {a for a, (s, _) in ACTORS.items() if not s}
    acting = {
        actor: case.client.post(
            f"/api/v1/tasks/{case.task}/complete", json={"action": "dispatch"}, headers=case.auth[actor]
        ).status_code
        for actor in ("other", "delivery", "agent", "cust")
    }
    assert acting["other"] == acting["delivery"] == 404  # cannot see it
    assert acting["agent"] in (403, 409) and acting["cust"] in (403, 409)  # sees it, does not hold it
    assert web.runtime.ticket(case.ticket["id"]).stage == "triage"
    done = case.client.post(
        f"/api/v1/tasks/{case.task}/complete", json={"action": "dispatch"}, headers=case.auth["billing"]
    )
    assert done.status_code == 200, done.json
    assert web.runtime.ticket(case.ticket["id"]).stage == "fix"


def test_a_read_only_token_and_an_anonymous_visitor_change_nothing(web):
    case = Case(web)
    url = f"/api/v1/tickets/{case.ticket['id']}"
    read_only = web.token("admin", ["read"])
    assert case.client.get(url, headers=read_only).status_code == 200
    etag = case.client.get(url, headers=read_only).headers["ETag"]
    patch = case.client.patch(url, json={"detail": "x"}, headers={**read_only, "If-Match": etag})
    assert patch.status_code == 403
    anonymous = web.anonymous()
    assert anonymous.get(url).status_code == 401
    assert anonymous.post(f"{url}/comments", json={"body": "x"}).status_code == 401
    assert anonymous.get(f"/tickets/{case.ticket['id']}").status_code == 302  # to the login page
    assert anonymous.get(f"/api/v1/attachments/{case.file['id']}").status_code == 401
    assert web.runtime.ticket(case.ticket["id"]).row_version == 1


def test_internal_notes_are_written_and_read_by_staff_only(web):
    case = Case(web)
    url = f"/api/v1/tickets/{case.ticket['id']}"
    written = {
        actor: case.client.post(
            f"{url}/comments",
            json={"body": f"internal from {actor}", "internal": True},
            headers=case.auth[actor],
        ).status_code
        for actor in ACTORS
    }
    staff = {"agent", "billing", "admin"}
    assert written == {a: 201 if a in staff else 422 if sight else 404 for a, (sight, _) in ACTORS.items()}
    for actor, (sight, _) in ACTORS.items():
        history = case.get(actor, f"{url}/events?limit=200")
        if not sight:
            assert history.status_code == 404, actor
            continue
        notes = {e["payload"]["body"] for e in history.json["items"] if e["type"] == "comment_added"}
        page = case.page(actor, f"/tickets/{case.ticket['id']}").get_data(as_text=True)
        expected = {f"internal from {a}" for a in staff} if actor in staff else set()
        assert notes == expected, actor
        assert all((note in page) == (actor in staff) for note in (f"internal from {a}" for a in staff)), (
            actor
        )
