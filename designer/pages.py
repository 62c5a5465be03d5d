"""Designer pages: the app list with the template gallery, an app's overview, the form designer and
the publish page. H3's editors (flow, rules, reports) add routes to the same blueprint and render
with :func:`show` so every page shares the layout, the tabs and the words draft.js needs.

Pages only render; all reading and writing of drafts goes through the draft API (designer/api.py)
from the browser, or through engine/designer.py here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

import engine.designer_messages  # noqa: F401  (its words)
from designer import bp
from engine import designer
from engine.i18n import t, text_of
from server.app import platform
from server.auth import current
from server.web import page, signed_in

#: Words draft.js shows (save, conflict, problems), given to every page in #draft-words; their
#: placeholders ({revision}) stay for the script to fill in.
DRAFT_WORDS = (
    "saving",
    "saved",
    "not_saved",
    "not_loaded",
    "conflict",
    "keep_mine",
    "take_theirs",
    "reloaded",
    "checking",
    "check_ok",
    "problems",
)


def designer_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in (else /login), and allowed to design the app named ``key`` (else the 403 page);
    without ``key`` (the app list) any signed-in user may look: they see only their apps."""

    @signed_in
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = kwargs.get("key")
        if key is not None:
            designer.require_designer(platform().db, current(), key)
        return view(*args, **kwargs)

    return wrapped


def draft_words(lang: str) -> dict[str, str]:
    return {name: t(f"designer.js.{name}", lang, revision="{revision}") for name in DRAFT_WORDS}


def show(template: str, key: str, tab: str, ticket_type: str | None = None, **values: Any) -> Any:
    """Render a designer page of app ``key`` (the draft, created if none) with the shared layout."""
    lang = g.lang
    draft = designer.load_draft(platform().db, key, actor=current().user_id)
    types = [
        (tkey, text_of(tdef.get("name") or tkey, lang))
        for tkey, tdef in (draft.definition.get("ticket_types") or {}).items()
    ]
    if ticket_type is not None and ticket_type not in dict(types):
        designer.unknown_ticket_type(key, ticket_type)
    return page(
        template,
        app_key=key,
        app_name=text_of(draft.definition.get("name") or key, lang),
        ticket_types=types,
        ticket_type=ticket_type,
        tab=tab,
        base_version=draft.base_version,
        draft_revision=draft.revision,
        draft=draft,
        draft_words=draft_words(lang),
        **values,
    )


@bp.get("")
@bp.get("/")
@signed_in
def index() -> Any:
    db = platform().db
    principal = current()
    return page(
        "designer/index.html",
        apps=designer.designable_apps(db, principal, g.lang),
        templates=designer.template_gallery(g.lang),
        can_create=designer.can_create_apps(principal),
        draft_words=draft_words(g.lang),
    )


@bp.get("/<key>")
@designer_page
def overview(key: str) -> Any:
    db = platform().db
    return show("designer/overview.html", key, "overview", summary=designer.draft_summary(db, key, g.lang))


@bp.get("/<key>/form/<ticket_type>")
@designer_page
def form(key: str, ticket_type: str) -> Any:
    from engine.designer_messages import FORM_WORDS
    from engine.forms.render import form_styles

    words = {name: t(f"designer.form.{name}", g.lang, count="{count}") for name in FORM_WORDS}
    for name in ("new_field", "new_section", "option"):  # new fields get labels in both languages
        words.update({f"{name}_{lang}": t(f"designer.form.{name}", lang) for lang in ("zh", "en")})
    return show(
        "designer/form.html",
        key,
        "form",
        ticket_type,
        field_types=designer.field_palette(g.lang),
        form_words=words,
        form_styles=form_styles(),
    )


@bp.get("/<key>/publish")
@designer_page
def publish(key: str) -> Any:
    db = platform().db
    published = request.args.get("published", "")
    return show(
        "designer/publish.html",
        key,
        "publish",
        versions=designer.version_list(db, key),
        published=int(published) if published.isdigit() and len(published) < 10 else None,
    )
