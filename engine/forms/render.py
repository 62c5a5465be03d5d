"""A ticket type's form as HTML for people: Jinja2 templates, every value autoescaped.

Python decides what each field shows (a :class:`FieldView`: its name and id, label in the
language, value as text, options, problems, whether it is hidden, required or read-only now);
the templates only lay it out. Each field type is drawn by one macro in ``templates/fields/``,
looked up through :data:`FIELD_MACROS`. The initial visibility, required markers and formula
values come from :func:`engine.forms.state.form_state`, so the page is right before any script
runs, and form.js keeps it right by asking the same function again.

``user`` and ``department`` fields are drawn as a picker of names (the value stays the id) when
the caller hands in a ``directory`` (see :mod:`engine.forms.directory`); without one (the
designer's preview) they stay a box for the id. Text fields with a ``max_length`` show how much
of it is used (form.js keeps the count live).

Permissions (field key or ``"*"`` → ``editable|readonly|hidden``): a hidden field is not
rendered at all, not even as a hidden input; a read-only one is rendered disabled, with its
value (disabled controls are not posted, so a read-only value can never come back as input).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.runtime import Macro
from markupsafe import Markup

import engine.forms.render_messages  # noqa: F401  (registers the render.* texts)
from engine.definitions.model import FieldDef, SectionDef
from engine.errors import Problem
from engine.forms.fields import option_values
from engine.forms.state import form_state
from engine.i18n import current_lang, t, text_of

EDITABLE, READONLY, HIDDEN = "editable", "readonly", "hidden"

#: Field type → the macro that draws its control (macros live in ``templates/fields/*.html``).
FIELD_MACROS: dict[str, str] = {
    "text": "text",
    "textarea": "textarea",
    "richtext": "richtext",
    "email": "email",
    "phone": "phone",
    "url": "url",
    "number": "number",
    "money": "money",
    "rating": "rating",
    "date": "date",
    "datetime": "datetime",
    "checkbox": "checkbox",
    "select": "select",
    "radio": "radio",
    "multiselect": "multiselect",
    "cascade": "cascade",
    "user": "user",
    "department": "department",
    "link": "link",
    "attachment": "attachment",
    "image": "image",
    "subtable": "subtable",
    "formula": "formula",
    "autonumber": "autonumber",
}
MACRO_FILES = ("text", "number", "date", "choice", "reference", "file", "subtable", "computed")

#: Types whose control is a group (no single element a <label for> could name).
GROUP_TYPES = frozenset({"radio", "rating", "subtable"})
#: Types that take a whole grid row.
WIDE_TYPES = frozenset({"textarea", "richtext", "subtable"})
TEXT_LIKE = frozenset({"text", "textarea", "richtext", "email", "phone", "url"})
REFERENCE_TYPES = frozenset({"user", "department", "link"})
FILE_TYPES = frozenset({"attachment", "image"})

_ENV = Environment(
    loader=PackageLoader("engine.forms", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals["t"] = t


@cache
def field_macro(name: str) -> Macro:
    """The macro called ``name`` in one of the field templates."""
    for file in MACRO_FILES:
        found = getattr(_ENV.get_template(f"fields/{file}.html").module, name, None)
        if isinstance(found, Macro):
            return found
    raise LookupError(f"no field macro {name!r} in templates/fields/")


def field_input(view: FieldView) -> Markup:
    """The control of one field, drawn by its type's macro (an unknown type gets a text box)."""
    return field_macro(FIELD_MACROS.get(view.type, "text"))(view)


_ENV.globals["field_input"] = field_input


@dataclass
class FieldView:
    """What the templates need to draw one field (or one sub-table cell)."""

    key: str
    type: str
    id: str
    name: str
    label: str
    lang: str
    text: str = ""  # the value as the control shows it
    checked: bool = False
    required: bool = False
    disabled: bool = False
    hidden: bool = False
    in_row: bool = False
    multiple: bool = False
    help: str = ""
    note: str = ""
    placeholder: str = ""
    currency: str = ""
    top: int = 5  # rating
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    options: list[dict[str, Any]] = field(default_factory=list)
    levels: list[list[dict[str, Any]]] = field(default_factory=list)  # cascade: options per level
    tree: list[dict[str, Any]] = field(default_factory=list)  # cascade: the whole option tree
    files: list[str] = field(default_factory=list)
    picker: bool = False  # user/department: ``options`` holds the people or departments to pick
    max_length: int | None = None  # text: shown as a count of what is used
    columns: list[FieldView] = field(default_factory=list)  # subtable
    rows: list[list[FieldView]] = field(default_factory=list)
    template_row: list[FieldView] = field(default_factory=list)

    @property
    def labelable(self) -> bool:
        return self.type not in GROUP_TYPES

    @property
    def wide(self) -> bool:
        return self.type in WIDE_TYPES

    @property
    def used(self) -> int:
        """Characters typed so far, as the browser counts them against ``maxlength`` (UTF-16 units)."""
        return len(self.text.encode("utf-16-le")) // 2

    @property
    def describedby(self) -> str:
        ids = [f"{self.id}-help"] if self.help else []
        if self.note:
            ids.append(f"{self.id}-note")
        if self.errors:
            ids.append(f"{self.id}-error")
        if self.max_length:
            ids.append(f"{self.id}-count")
        return " ".join(ids)


def render_form(
    type_spec: Any,
    values: Mapping[str, Any] | None = None,
    problems: Iterable[Problem] = (),
    lang: str | None = None,
    permissions: Mapping[str, str] | Any = None,
    option_sets: Mapping[str, Any] | None = None,
    directory: Mapping[str, Iterable[tuple[int, str]]] | None = None,
    notes: Mapping[str, str] | None = None,
    summary: bool = True,
) -> str:
    """The form of ``type_spec`` (a compiled TypeSpec) as an HTML fragment in ``lang``.

    ``values``: the record or the input so far (defaults fill what it lacks); ``problems``:
    each shown beside the field its path names, the rest above the form; ``permissions``: a
    mapping field key (or ``"*"``) → level, or a FieldAccess; ``option_sets``: the app's option
    sets, for fields with ``options_from``; ``directory``: ``{"user": [(id, label)…],
    "department": […]}``, whom those fields may name (:func:`engine.forms.directory.form_directory`);
    ``notes``: field key → a line shown beside that field; ``summary``: False when the page shows
    its own summary of the problems (the form then only shows each beside its field).
    """
    lang = current_lang(lang)
    level = _level_of(permissions)
    form_def = type_spec.definition.form
    record = dict(values or {})
    for f in form_def.fields:
        if f.key not in record and f.get("default") is not None:
            record[f.key] = f.get("default")
    state = form_state(type_spec, record, lang=lang)
    problems = list(problems)
    builder = _Builder(lang, option_sets or {}, problems, state, directory or {})

    sections: list[tuple[SectionDef, dict[str, Any]]] = []
    for n, s in enumerate(form_def.sections, 1):
        views = [
            builder.field(f, record.get(f.key), level(f.key), (notes or {}).get(f.key, ""))
            for f in s.fields
            if level(f.key) != HIDDEN
        ]
        if views:
            sections.append(
                (
                    s,
                    {
                        "id": f"gd-section-{s.id or n}",
                        "title": text_of(s.title, lang),
                        "columns": max(1, min(int(s.columns or 1), 4)),
                        "fields": views,
                    },
                )
            )
    blocks = _blocks(sections, lang)
    loose = [p.message(lang) for p in builder.unplaced]  # problems no shown field can carry
    heading = t("render.summary", lang, count=len(problems)) if problems and summary else ""
    return _ENV.get_template("form.html").render(
        lang=lang, ticket_type=type_spec.key, blocks=blocks, summary=heading, loose=loose
    )


def form_styles() -> Markup:
    """The ``<style>`` element for rendered forms: include it once in the page's head."""
    return Markup(_ENV.get_template("styles.html").render())


def _level_of(permissions: Any) -> Callable[[str], str]:
    if permissions is None:
        return lambda key: EDITABLE
    if hasattr(permissions, "level"):  # a FieldAccess
        return permissions.level
    default = permissions.get("*", EDITABLE)
    return lambda key: permissions.get(key, default)


def _blocks(sections: list[tuple[SectionDef, dict[str, Any]]], lang: str) -> list[dict[str, Any]]:
    """Sections in order; those with a ``tab`` gather into one tab list where the first of them is.

    The first tab holding a problem is the one shown (else the first tab), so no problem is
    hidden behind a closed tab.
    """
    blocks: list[dict[str, Any]] = []
    tabs: list[dict[str, Any]] = []
    for s, view in sections:
        if s.tab is None:
            blocks.append({"tabs": None, "section": view})
            continue
        title = text_of(s.tab, lang)
        tab = next((tb for tb in tabs if tb["title"] == title), None)
        if tab is None:
            n = len(tabs) + 1
            tab = {"id": f"gd-tab-{n}", "panel": f"gd-panel-{n}", "title": title, "sections": []}
            if not tabs:
                blocks.append({"tabs": tabs, "section": None})
            tabs.append(tab)
        tab["sections"].append(view)
    if tabs:
        with_problem = [tb for tb in tabs if any(_has_errors(s) for s in tb["sections"])]
        chosen = (with_problem or tabs)[0]
        for tb in tabs:
            tb["selected"] = tb is chosen
    return blocks


def _has_errors(section: dict[str, Any]) -> bool:
    return any(v.errors or any(c.errors for row in v.rows for c in row) for v in section["fields"])


class _Builder:
    """Turns field definitions and values into FieldViews, placing each problem by its path."""

    def __init__(
        self,
        lang: str,
        option_sets: Mapping[str, Any],
        problems: list[Problem],
        state: dict[str, Any],
        directory: Mapping[str, Iterable[tuple[int, str]]],
    ):
        self.lang = lang
        self.directory = {
            kind: [(str(i), label) for i, label in entries] for kind, entries in directory.items()
        }
        self.ctx = {"option_sets": option_sets}
        self.state = state
        self.by_path: dict[str, list[Problem]] = {}
        for p in problems:
            self.by_path.setdefault(p.path, []).append(p)
        self.placed: set[str] = set()
        self._problems = problems

    @property
    def unplaced(self) -> list[Problem]:
        return [p for p in self._problems if p.path not in self.placed]

    def field(self, f: FieldDef, value: Any, level: str, note: str = "") -> FieldView:
        state = self.state
        view = self._view(f, value, f.key, f"f-{f.key}", f.key, in_row=False)
        view.note = note
        view.hidden = not state["visible"].get(f.key, True)
        view.required = state["required"].get(f.key, f.required)
        view.disabled = level == READONLY or state["readonly"].get(f.key, False)
        if f.key in state["values"]:
            view.text = _text(state["values"][f.key])
        failed = state["errors"].get(f.key)
        if failed and f.type == "formula" and not view.errors:
            view.errors.append(failed["message"])
        for name in ("visible_if", "required_if", "readonly_if"):
            if f.get(name):
                view.markers[name.replace("_", "-")] = str(f.get(name))
        if level == READONLY or f.get("readonly"):
            view.markers["locked"] = "true"  # read-only whatever the conditions say: form.js leaves it
            if view.picker:  # nobody to pick: only the name of who is there
                view.options = [o for o in view.options if o["selected"]]
        if f.type == "subtable":
            self._rows(view, f, value)
        return view

    def _view(self, f: FieldDef, value: Any, name: str, ident: str, path: str, in_row: bool) -> FieldView:
        lang = self.lang
        view = FieldView(
            key=f.key,
            type=f.type,
            id=ident,
            name=name,
            label=text_of(f.label, lang) or f.key,
            lang=lang,
            in_row=in_row,
            required=f.required,
            disabled=bool(f.get("readonly")),
            multiple=bool(f.get("multiple")),
            help=text_of(f.get("help"), lang),
            placeholder=text_of(f.get("placeholder"), lang),
            currency=str(f.get("currency") or ""),
        )
        view.text = _text(value)
        if path in self.by_path:
            self.placed.add(path)
            view.errors = [self._message(p, view.label) for p in self.by_path[path]]
        if (
            f.type in TEXT_LIKE
            or f.type in ("number", "money")
            or (f.type in REFERENCE_TYPES and view.multiple)
        ):
            view.attrs["placeholder"] = view.placeholder or None
        if f.type in TEXT_LIKE and f.get("max_length"):
            view.attrs["maxlength"] = f.get("max_length")
            view.max_length = int(f.get("max_length"))
        if f.type in ("number", "money", "date", "datetime"):
            view.attrs.update(_range(f))
        if f.type == "datetime":
            view.text = _local_datetime(value)
        elif f.type == "checkbox":
            view.checked = value is True or str(value).lower() in ("true", "1", "on")
        elif f.type == "rating":
            view.top = int(f.get("max", 5))
        elif f.type in ("select", "radio", "multiselect"):
            chosen = {str(v) for v in value} if isinstance(value, list | tuple) else {_text(value)}
            view.options = [
                {"value": v, "label": lbl, "selected": v in chosen}
                for v, lbl, _ in _options(option_values(f, self.ctx), lang)
            ]
        elif f.type == "cascade":
            view.tree = _tree(option_values(f, self.ctx), lang)
            view.levels = _cascade_levels(view.tree, value)
        elif f.type in REFERENCE_TYPES and f.type in self.directory:
            chosen = {_text(v) for v in value} if isinstance(value, list | tuple) else {_text(value)}
            entries = self.directory[f.type]
            known = {i for i, _ in entries}
            extra = [(i, f"#{i}") for i in sorted(chosen - known - {""}, key=lambda i: (len(i), i))]
            view.picker = True
            view.options = [{"value": i, "label": lbl, "selected": i in chosen} for i, lbl in entries + extra]
            view.attrs.pop("placeholder", None)
        elif f.type in REFERENCE_TYPES:
            if isinstance(value, list | tuple):
                view.text = ", ".join(map(_text, value))
        elif f.type in FILE_TYPES:
            items = value if isinstance(value, list | tuple) else ([value] if value else [])
            view.files = [_file_name(v) for v in items]
            view.text = ""
            accept = f.get("accept") or (("image/*",) if f.type == "image" else ())
            view.attrs["accept"] = ",".join(accept) or None
            view.attrs["multiple"] = view.multiple
        elif f.type == "subtable":
            view.text = ""
        return view

    def _rows(self, view: FieldView, f: FieldDef, value: Any) -> None:
        rows = [r if isinstance(r, Mapping) else {} for r in value] if isinstance(value, list | tuple) else []
        for i, row in enumerate(rows):
            view.rows.append([self._cell(view, c, row.get(c.key), str(i)) for c in f.fields])
        view.template_row = [self._cell(view, c, None, "__index__") for c in f.fields]
        view.columns = view.template_row

    def _cell(self, parent: FieldView, c: FieldDef, value: Any, index: str) -> FieldView:
        cell = self._view(
            c,
            value,
            f"{parent.key}[{index}][{c.key}]",
            f"f-{parent.key}-{index}-{c.key}",
            f"{parent.key}[{index}].{c.key}",
            in_row=True,
        )
        cell.disabled = cell.disabled or parent.disabled
        return cell

    def _message(self, p: Problem, label: str) -> str:
        params = dict(p.params)
        if "field" in params:
            params["field"] = label
        return t(p.code, self.lang, **params)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _local_datetime(value: Any) -> str:
    """A stored date-time (ISO with its zone) as a datetime-local control shows it."""
    if value in (None, ""):
        return ""
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%dT%H:%M")
    except ValueError:
        return str(value)


def _range(f: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {"min": f.get("min"), "max": f.get("max")}
    if f.type in ("number", "money"):
        precision = f.get("precision", 2 if f.type == "money" else None)
        out["step"] = (
            "any" if precision is None else ("1" if precision == 0 else f"{10**-precision:.{precision}f}")
        )
    return out


def _options(raw: Iterable[Any], lang: str) -> list[tuple[str, str, Any]]:
    """(value, label, children) of each option: plain strings or ``{value, label, children}``."""
    out = []
    for o in raw:
        if isinstance(o, Mapping):
            value = _text(o.get("value"))
            out.append((value, text_of(o.get("label"), lang) or value, o.get("children") or ()))
        else:
            out.append((_text(o), _text(o), ()))
    return out


def _tree(raw: Iterable[Any], lang: str) -> list[dict[str, Any]]:
    return [
        {"value": v, "label": lbl, **({"children": _tree(kids, lang)} if kids else {})}
        for v, lbl, kids in _options(raw, lang)
    ]


def _depth(tree: list[dict[str, Any]]) -> int:
    return 1 + max((_depth(o["children"]) for o in tree if o.get("children")), default=0) if tree else 0


def _cascade_levels(tree: list[dict[str, Any]], value: Any) -> list[list[dict[str, Any]]]:
    """One option list per level: the top level, then the children of each chosen option."""
    path = value.split("/") if isinstance(value, str) else list(value or ())
    levels: list[list[dict[str, Any]]] = []
    options: list[dict[str, Any]] | None = tree
    for i in range(max(_depth(tree), 1)):
        chosen = _text(path[i]) if i < len(path) else None
        level = [
            {"value": o["value"], "label": o["label"], "selected": o["value"] == chosen}
            for o in options or ()
        ]
        levels.append(level)
        match = next((o for o in options or () if o["value"] == chosen), None)
        options = match.get("children") if match else None
    return levels


def _file_name(item: Any) -> str:
    if isinstance(item, Mapping):
        return _text(item.get("name") or item.get("id"))
    return _text(item)
