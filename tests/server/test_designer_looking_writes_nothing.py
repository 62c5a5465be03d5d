"""Opening the designer only to look stores no draft: every designer page and the draft API's reads
show the running version; the draft exists from the first saved change on."""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from engine.store.models import AppDraft

DRAFT = "/api/v1/apps/complaint/draft"
PAGES = (
    "/designer",
    "/designer/complaint",
    "/designer/complaint/form/complaint",
    "/designer/complaint/flow/complaint",
    "/designer/complaint/rules/complaint",
    "/designer/complaint/reports/complaint",
    "/designer/complaint/tests/complaint",
    "/designer/complaint/publish",
)


def _drafts(web) -> int:
    with web.db.read() as conn:
        return conn.execute(select(func.count()).select_from(AppDraft)).scalar_one()


def test_looking_at_every_designer_page_and_the_draft_stores_no_draft(web) -> None:
    admin = web.client("admin")
    for path in PAGES:
        assert admin.get(path, headers={"Accept": "text/html"}).status_code == 200, path
    assert admin.get(DRAFT).json["revision"] == 1
    assert admin.get(DRAFT + "/diff").json["changes"] == []
    assert admin.post(DRAFT + "/test").status_code == 200
    assert _drafts(web) == 0
    listing = admin.get("/designer", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "有未发布的草稿" not in listing and "Unpublished draft" not in listing


def test_the_first_saved_change_stores_the_draft(web) -> None:
    admin = web.client("admin")
    shown = admin.get(DRAFT).json
    definition = copy.deepcopy(shown["definition"])
    definition["name"]["en"] = "Complaints (new name)"
    saved = admin.put(DRAFT, json={"revision": shown["revision"], "definition": definition})
    assert saved.status_code == 200, saved.json
    assert _drafts(web) == 1
    again = admin.get(DRAFT).json
    assert again["revision"] == saved.json["revision"]
    assert again["definition"]["name"]["en"] == "Complaints (new name)"
    assert again["updated_by"] == "admin"


def test_two_designers_who_only_looked_cannot_overwrite_each_other(web) -> None:
    ann, bob = web.client("admin"), web.client("admin")
    seen_by_ann, seen_by_bob = ann.get(DRAFT).json, bob.get(DRAFT).json
    mine = copy.deepcopy(seen_by_ann["definition"])
    mine["name"]["en"] = "Ann's name"
    assert ann.put(DRAFT, json={"revision": seen_by_ann["revision"], "definition": mine}).status_code == 200
    theirs = copy.deepcopy(seen_by_bob["definition"])
    theirs["name"]["en"] = "Bob's name"
    stale = bob.put(DRAFT, json={"revision": seen_by_bob["revision"], "definition": theirs})
    assert stale.status_code == 409
    assert ann.get(DRAFT).json["definition"]["name"]["en"] == "Ann's name"


def test_publishing_a_stale_revision_of_a_draft_nobody_saved_is_a_conflict_not_a_crash(web) -> None:
    admin = web.client("admin")
    answer = admin.post(DRAFT + "/publish", json={"revision": 100})
    assert answer.status_code == 409
    assert answer.json["code"] == "designer.conflict"
    assert _drafts(web) == 0
    assert admin.get(DRAFT).json["revision"] == 1  # what to publish instead
