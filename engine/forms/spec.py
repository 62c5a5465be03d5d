"""FormSpec: a ticket type's form compiled once, used to clean every submission.

Cleaning runs in two passes. First each submitted value is parsed by its field type (so
expressions see typed values); then, over the whole record as it would be, the conditions
decide: a field whose ``visible_if`` is false is neither required nor stored from input, a
``required_if`` that holds makes the field required, a ``readonly_if`` that holds refuses
input. Formulas are computed last, in dependency order. Every problem is collected with its
field path, so the user sees all of them at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter
from typing import Any

from engine.definitions.model import FieldDef
from engine.errors import DefinitionError, FormError, Problem
from engine.expressions import ExprError, Expression, compile_expr
from engine.forms.fields import FIELD_TYPES, Cleaner, Invalid
from engine.i18n import Localized, Message

#: Whether new records are cleaned by each form's compiled function (engine/forms/fast.py) before
#: the generic steps below; off only to compare the two.
FAST_PATH = True


def unique_text(value: Any) -> str:
    """A value as compared for uniqueness: its text, or a digest when that is long or structured."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = text.strip()
    if len(text) > 200:
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (type(value) in (list, dict) and not value)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    required: bool
    readonly: bool
    computed: bool
    default: Any
    default_from: str | None
    clean: Cleaner
    visible_if: Expression | None = None
    required_if: Expression | None = None
    readonly_if: Expression | None = None
    formula: Expression | None = None
    checks: tuple[tuple[Expression, Any], ...] = ()  # (must hold, message) rules of the definition
    option_rules: tuple[tuple[Any, Expression], ...] = ()  # options offered only while a condition holds
    all_options: frozenset[Any] = frozenset()  # every inline option value
    rows: FieldsSpec | None = None  # a sub-table's row form
    precision: int | None = None
    to_expr: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Env:
    """Who is acting and when: what ``user``, ``now``, ``today`` and ``ticket`` mean in expressions."""

    user: Mapping[str, Any] = field(default_factory=dict)
    now: dt.datetime | None = None
    ticket: Mapping[str, Any] = field(default_factory=dict)


NO_ENV = Env()  # expressions only read it (and copy ``user`` and ``ticket``): one will do


@dataclass(frozen=True)
class FieldsSpec:
    """A compiled list of fields: a whole form, or one sub-table row."""

    fields: tuple[FieldSpec, ...]
    formulas: tuple[FieldSpec, ...] = ()  # computed fields in dependency order
    # The compiled fast path of new records (engine.forms.fast.FastClean), set by compile_fields for
    # exactly these fields (so a copy made with dataclasses.replace starts without one).
    fast: Callable[..., dict[str, Any] | None] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        # Derived lookups, computed once: the hot path only walks what it must.
        object.__setattr__(self, "by_key", {f.key: f for f in self.fields})
        has_logic = any(
            f.visible_if or f.required_if or f.readonly_if or f.checks or f.option_rules for f in self.fields
        ) or bool(self.formulas)
        object.__setattr__(self, "has_logic", has_logic)
        object.__setattr__(self, "checked", tuple(f for f in self.fields if f.checks))
        object.__setattr__(self, "optioned", tuple(f for f in self.fields if f.option_rules))
        object.__setattr__(self, "conditionally_visible", tuple(f for f in self.fields if f.visible_if))
        object.__setattr__(self, "conditionally_readonly", tuple(f for f in self.fields if f.readonly_if))
        requirable = tuple(f for f in self.fields if (f.required or f.required_if) and not f.computed)
        object.__setattr__(self, "requirable", requirable)
        # Only what some expression reads is put in front of expressions (ticket data can be large).
        names: set[str] = set()
        for f in self.fields:
            exprs = [f.visible_if, f.required_if, f.readonly_if, f.formula, *(m for m, _ in f.checks)]
            exprs += [rule for _, rule in f.option_rules]
            names.update(n for e in exprs if e is not None for n in e.names)
        object.__setattr__(self, "expr_names", frozenset(names))
        # Fields that accept input, with their cleaners; computed and read-only ones are refused.
        accepting = {f.key: f.clean for f in self.fields if not (f.computed or f.readonly)}
        object.__setattr__(self, "cleaners", accepting)
        # The system (rules, answers of outside calls) may also set read-only fields: read-only is
        # about people.
        object.__setattr__(self, "system_cleaners", {f.key: f.clean for f in self.fields if not f.computed})
        object.__setattr__(
            self, "defaulted", tuple(f for f in self.fields if f.default is not None or f.default_from)
        )
        object.__setattr__(
            self, "required_keys", tuple(f.key for f in self.fields if f.required and not f.computed)
        )

    def clean(
        self,
        data: Any,
        problems: list[Problem],
        prefix: str = "",
        partial: bool = False,
        current: Mapping[str, Any] | None = None,
        env: Env | None = None,
        locked: Mapping[str, str] | None = None,
        system: bool = False,
    ) -> dict[str, Any]:
        """Cleaned values of ``data``; every problem is appended with its path (``items[2].qty``).

        ``partial``: an update of some fields of ``current`` (the stored record); the result
        holds only the fields that the update sets, plus formulas whose inputs changed.
        ``system``: written by the platform (a rule, a call's answer), so read-only fields accept it.
        """
        # A new record goes through the form's compiled function first; None from it means "not
        # sure" (see engine/forms/fast.py), and ``cleaned`` then holds the values it could clean.
        # Earlier problems (of other sub-table rows) change nothing.
        cleaned: dict[str, Any] = {}
        if FAST_PATH and self.fast is not None and type(data) is dict and not (partial or current):
            out = self.fast(data, env, locked, cleaned)
            if out is not None:
                return out
        dot = prefix + "." if prefix else ""
        if type(data) is not dict and not isinstance(data, Mapping):
            problems.append(Problem(prefix, "form.not_an_object"))
            return {}
        by_key: dict[str, FieldSpec] = self.by_key  # type: ignore[attr-defined]
        cleaners: dict[str, Cleaner] = self.system_cleaners if system else self.cleaners  # type: ignore[attr-defined]
        given: dict[str, Any] = {}
        for key, value in data.items():
            clean = cleaners.get(key)
            if locked and key in locked:  # not editable at this stage, for this person
                problems.append(
                    Problem(dot + str(key), "form.field_locked", {"field": key, "level": locked[key]})
                )
            elif clean is None:
                code = "form.readonly_field" if key in by_key else "form.unknown_field"
                problems.append(Problem(dot + str(key), code, {"field": key}))
            elif key in cleaned:  # by the compiled function: exactly what ``clean`` returns
                given[key] = cleaned[key]
            elif value is None or value == "" or (type(value) in (list, dict) and not value):
                given[key] = None
            else:
                try:
                    given[key] = clean(value)
                except Invalid as bad:
                    given[key] = _INVALID
                    if bad.nested:
                        problems.extend(bad.nested)
                    else:
                        problems.append(Problem(dot + key, bad.code, {"field": key, **bad.params}))
        if not partial and not current and not self.has_logic:  # type: ignore[attr-defined]
            return self._plain_create(given, problems, dot, env)
        record = dict(current or {})
        if not partial:
            for spec in self.defaulted:  # type: ignore[attr-defined]
                if spec.key not in given and spec.key not in record:
                    default = _default_of(spec, env)
                    if default is not None:
                        record[spec.key] = default
        record.update(given)
        if not self.has_logic:  # type: ignore[attr-defined]
            self._check_required(record, given, partial, problems, dot, lambda spec: True)
            return self._result(record, given, partial, current)
        ctx = expression_context(self, record, current, env)
        hidden = {
            spec.key
            for spec in self.conditionally_visible  # type: ignore[attr-defined]
            if not self._holds(spec.visible_if, ctx, problems, dot, spec.key)  # type: ignore[arg-type]
        }

        def visible(spec: FieldSpec) -> bool:
            return spec.key not in hidden

        for key in hidden & given.keys():
            given.pop(key)  # hidden: not stored from input
            record.pop(key, None)
        for spec in self.conditionally_readonly:  # type: ignore[attr-defined]
            if spec.key in given and self._holds(spec.readonly_if, ctx, problems, dot, spec.key):
                problems.append(Problem(dot + spec.key, "form.readonly_field", {"field": spec.key}))
        self._check_required(record, given, partial, problems, dot, visible, ctx)
        for spec in self.formulas:
            try:
                value = _stored(spec, spec.formula(ctx))
            except ExprError as exc:
                reason = {"field": spec.key, "reason": _reason(exc)}
                problems.append(Problem(dot + spec.key, "form.formula_failed", reason))
                continue
            record[spec.key] = value
            given[spec.key] = value
            ctx[spec.key] = _typed(spec, value)
        self._run_checks(record, ctx, visible, problems, dot)
        return self._result(record, given, partial, current)

    def _run_checks(
        self,
        record: Mapping[str, Any],
        ctx: Mapping[str, Any],
        visible: Callable[[FieldSpec], bool],
        problems: list[Problem],
        dot: str,
    ) -> None:
        """A definition's own rules (``checks``), on every visible field that has a valid value."""
        failed = {p.path for p in problems}
        for spec in self.optioned:  # type: ignore[attr-defined]
            if not is_empty(value := record.get(spec.key)) and value is not _INVALID:
                offered, refused = refused_options(spec, value, ctx)
                if refused and visible(spec):
                    shown = ", ".join(sorted(map(str, offered)))
                    params = {"field": spec.key, "value": refused[0], "options": shown}
                    problems.append(Problem(dot + spec.key, "field.option_not_offered", params))
                    failed.add(dot + spec.key)
        for spec in self.checked:  # type: ignore[attr-defined]
            value = record.get(spec.key)
            if value is _INVALID or is_empty(value) or dot + spec.key in failed or not visible(spec):
                continue
            for must, message in spec.checks:
                if not self._holds(must, ctx, problems, dot, spec.key):
                    params = {"field": spec.key, "message": Localized(message)}
                    problems.append(Problem(dot + spec.key, "form.check_failed", params))
                    break

    def _plain_create(
        self, given: dict[str, Any], problems: list[Problem], dot: str, env: Env | None
    ) -> dict[str, Any]:
        """A new record of a form without conditions or formulas: the common, fast case."""
        for spec in self.defaulted:  # type: ignore[attr-defined]
            if spec.key not in given:
                default = _default_of(spec, env)
                if default is not None:
                    given[spec.key] = default
        for key in self.required_keys:  # type: ignore[attr-defined]
            value = given.get(key)
            if value is None or value == "" or (type(value) in (list, dict) and not value):
                problems.append(Problem(dot + key, "form.required", {"field": key}))
        if problems:
            return {k: v for k, v in given.items() if v is not _INVALID}
        return given

    @staticmethod
    def _holds(expr: Expression, ctx: Mapping[str, Any], problems: list[Problem], dot: str, key: str) -> bool:
        try:
            return bool(expr(ctx))
        except ExprError as exc:
            problems.append(
                Problem(dot + key, "form.condition_failed", {"field": key, "reason": _reason(exc)})
            )
            return False

    def _check_required(
        self,
        record: Mapping[str, Any],
        given: Mapping[str, Any],
        partial: bool,
        problems: list[Problem],
        dot: str,
        visible: Callable[[FieldSpec], bool],
        ctx: Mapping[str, Any] | None = None,
    ) -> None:
        for spec in self.requirable:  # type: ignore[attr-defined]
            if partial and spec.key not in given and spec.required_if is None:
                continue
            value = record.get(spec.key)
            if value is _INVALID or not is_empty(value) or not visible(spec):
                continue
            required = spec.required
            if not required and spec.required_if is not None and ctx is not None:
                required = self._holds(spec.required_if, ctx, problems, dot, spec.key)
            if required:
                problems.append(Problem(dot + spec.key, "form.required", {"field": spec.key}))

    def _result(
        self, record: dict[str, Any], given: dict[str, Any], partial: bool, current: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if partial:
            return {k: v for k, v in given.items() if v is not _INVALID}
        return {k: v for k, v in record.items() if v is not _INVALID and (v is not None or k in given)}


_INVALID = object()  # a value that failed its type check: reported once, never "required" as well


def offered_options(spec: FieldSpec, ctx: Mapping[str, Any]) -> set[Any] | None:
    """The option values of a choice field that are offered right now (None: every option)."""
    if not spec.option_rules:
        return None
    offered = set(spec.all_options - {value for value, _ in spec.option_rules})
    for value, rule in spec.option_rules:
        try:
            if rule(ctx):
                offered.add(value)
        except ExprError:
            continue
    return offered


def refused_options(spec: FieldSpec, value: Any, ctx: Mapping[str, Any]) -> tuple[set[Any], list[Any]]:
    """The options offered right now, and which of the chosen ``value`` (one or a list) are not."""
    offered = offered_options(spec, ctx) or set()
    return offered, [v for v in (value if isinstance(value, list) else [value]) if v not in offered]


def _reason(exc: ExprError) -> Message:
    """Why an expression failed, in the language the problem is finally shown in."""
    return Message(exc.code, {k: v for k, v in exc.params.items() if k != "column"})


def _default_of(spec: FieldSpec, env: Env | None) -> Any:
    if spec.default_from and env is not None:
        source = spec.default_from
        if source == "now" and env.now is not None:
            return env.now.isoformat()
        if source == "today" and env.now is not None:
            return env.now.date().isoformat()
        if source.startswith("user."):
            return env.user.get(source.split(".", 1)[1])
    return spec.default


def _typed(spec: FieldSpec, value: Any) -> Any:
    if value is None or spec.to_expr is None:
        return value
    try:
        return spec.to_expr(value)
    except (ValueError, TypeError, ArithmeticError):
        return value


@functools.cache
def _step(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _stored(spec: FieldSpec, value: Any) -> Any:
    """A formula's result as stored in the record's JSON: exact money as text, dates as ISO text."""
    if isinstance(value, Decimal) or (spec.precision is not None and isinstance(value, int | float)):
        # Exact text with the declared places ("20.00", also for an empty sum): money stays money.
        step = _step(spec.precision if spec.precision is not None else 2)
        return str(Decimal(str(value)).quantize(step))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def expression_context(
    fields: FieldsSpec, record: Mapping[str, Any], current: Mapping[str, Any] | None, env: Env | None
) -> dict[str, Any]:
    """What an expression sees: typed field values, ``old``, ``user``, ``now``, ``today``, ``ticket``."""
    by_key: dict[str, FieldSpec] = fields.by_key  # type: ignore[attr-defined]
    wanted: frozenset[str] = fields.expr_names  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {}
    for key in wanted & record.keys():
        value, spec = record[key], by_key.get(key)
        ctx[key] = None if value is _INVALID else (_typed(spec, value) if spec else value)
    return add_env_context(fields, ctx, current, env)


def add_env_context(
    fields: FieldsSpec, ctx: dict[str, Any], current: Mapping[str, Any] | None, env: Env | None
) -> dict[str, Any]:
    """``ctx`` with what the expressions of ``fields`` read besides fields: ``old``, ``user``, ``now``…"""
    by_key: dict[str, FieldSpec] = fields.by_key  # type: ignore[attr-defined]
    wanted: frozenset[str] = fields.expr_names  # type: ignore[attr-defined]
    if "old" in wanted:
        old = current or {}
        ctx["old"] = {k: _typed(by_key[k], v) if k in by_key else v for k, v in old.items()}
    env = env or NO_ENV
    now = env.now or dt.datetime.now(dt.UTC)
    if "user" in wanted:
        ctx["user"] = dict(env.user)
    if "ticket" in wanted:
        ctx["ticket"] = dict(env.ticket)
    ctx["now"] = now
    ctx["today"] = now.date()
    return ctx


def _compile(source: Any, path: str) -> Expression | None:
    if not source:
        return None
    try:
        return compile_expr(str(source))
    except ExprError as exc:  # the loader's static checks report these first, with the file position
        raise DefinitionError(problems=[Problem(path, exc.code, exc.params)]) from None


def _rows_to_expr(rows_spec: FieldsSpec) -> Callable[[Any], Any] | None:
    """Sub-table rows as expressions see them: each cell typed like a top-level field."""
    row_specs: dict[str, FieldSpec] = rows_spec.by_key  # type: ignore[attr-defined]
    if all(spec.to_expr is None for spec in row_specs.values()):
        return None  # nothing to convert: expressions read the stored rows as they are

    def convert(rows: Any) -> Any:
        if not isinstance(rows, list):
            return rows
        return [
            {k: _typed(row_specs[k], v) if k in row_specs else v for k, v in row.items()}
            if isinstance(row, Mapping)
            else row
            for row in rows
        ]

    return convert


def compile_fields(fields: tuple[FieldDef, ...], ctx: Mapping[str, Any], path: str = "form") -> FieldsSpec:
    specs = []
    for f in fields:
        ftype = FIELD_TYPES[f.type]
        where = f"{path}.{f.key}"
        rows = compile_fields(f.fields, ctx, where) if f.type == "subtable" else None
        to_expr = _rows_to_expr(rows) if rows is not None else ftype.to_expr
        specs.append(
            FieldSpec(
                key=f.key,
                type=f.type,
                required=bool(f.get("required")),
                readonly=bool(f.get("readonly")),
                computed=ftype.computed,
                default=f.get("default"),
                default_from=f.get("default_from"),
                clean=ftype.make_cleaner(f, ctx),
                visible_if=_compile(f.get("visible_if"), where + ".visible_if"),
                required_if=_compile(f.get("required_if"), where + ".required_if"),
                readonly_if=_compile(f.get("readonly_if"), where + ".readonly_if"),
                formula=_compile(f.get("expr"), where + ".expr") if f.type == "formula" else None,
                checks=tuple(
                    (_compile(c["must"], f"{where}.checks[{i}].must"), c["message"])
                    for i, c in enumerate(f.get("checks") or ())
                ),
                all_options=frozenset(
                    o.get("value") if isinstance(o, Mapping) else o for o in (f.get("options") or ())
                ),
                option_rules=tuple(
                    (o["value"], _compile(o["visible_if"], f"{where}.options[{i}].visible_if"))
                    for i, o in enumerate(f.get("options") or ())
                    if isinstance(o, Mapping) and o.get("visible_if")
                ),
                precision=f.get("precision"),
                to_expr=to_expr,
                rows=rows,
            )
        )
    from engine.forms.fast import compile_lazily  # the fast path is generated from the generic spec

    body = FieldsSpec(tuple(specs), _formula_order(specs, path))
    object.__setattr__(body, "fast", compile_lazily(body, fields, ctx))
    return body


def _formula_order(specs: list[FieldSpec], path: str) -> tuple[FieldSpec, ...]:
    """Formulas that read other formulas are computed after them; a cycle is a definition error."""
    formulas = {s.key: s for s in specs if s.formula is not None}
    graph = {key: {n for n in s.formula.names if n in formulas} for key, s in formulas.items()}  # type: ignore[union-attr]
    try:
        return tuple(formulas[k] for k in TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " → ".join(exc.args[1])
        raise DefinitionError(problems=[Problem(path, "check.formula_cycle", {"cycle": cycle})]) from None


@dataclass(frozen=True)
class FormSpec:
    """The compiled form of one ticket type (of one app version)."""

    ticket_type: str
    body: FieldsSpec

    @property
    def uses_user(self) -> bool:
        """Whether any condition, formula or default reads ``user`` (the Runtime then loads it)."""
        return any(
            "user" in e.names
            for f in self.body.fields
            for e in (f.visible_if, f.required_if, f.readonly_if, f.formula)
            if e is not None
        ) or any((f.default_from or "").startswith("user.") for f in self.body.fields)

    def typed(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A stored record as expressions see it: every field typed (missing ones None)."""
        by_key: dict[str, FieldSpec] = self.body.by_key  # type: ignore[attr-defined]
        ctx: dict[str, Any] = dict.fromkeys(by_key)
        for key, value in data.items():
            spec = by_key.get(key)
            ctx[key] = _typed(spec, value) if spec is not None else value
        return ctx

    def validate(
        self,
        data: Any,
        partial: bool = False,
        current: Mapping[str, Any] | None = None,
        env: Env | None = None,
        locked: Mapping[str, str] | None = None,
        system: bool = False,
    ) -> dict[str, Any]:
        """Clean ``data`` or raise FormError carrying every field's problem (nothing is written).

        ``locked``: fields that refuse input at this stage for this person (see forms.permissions);
        ``system``: the platform writes (read-only fields accept it).
        """
        problems: list[Problem] = []
        out = self.body.clean(
            data, problems, partial=partial, current=current, env=env, locked=locked, system=system
        )
        if problems:
            raise FormError(problems=problems, count=len(problems))
        return out
