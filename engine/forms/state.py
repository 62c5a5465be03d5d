"""The live state of a form: what is visible, required and read-only now, and the formula values.

The page asks this on every change instead of evaluating anything itself: the record is cleaned
exactly as a submission would be (:meth:`FieldsSpec.clean`, so formulas are the values that
would be stored), then every field's compiled conditions are evaluated over it. An expression
that fails never raises here: its field is listed under ``errors`` (hidden, not required,
no value), which is what a submission would do with it too. What a submission would refuse in
the values typed (a malformed e-mail or phone…) is listed under ``invalid``, in the words the
submission would use, so the page can say it as soon as a field is left; the submission still
decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engine.errors import Problem
from engine.expressions import ExprError, Expression
from engine.forms.fields import Invalid
from engine.forms.spec import Env, FieldSpec, expression_context, offered_options
from engine.i18n import t, text_of


def form_state(
    type_spec: Any,
    values: Mapping[str, Any] | None,
    env: Env | None = None,
    current: Mapping[str, Any] | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """``{"visible", "required", "readonly": {key: bool}, "values": {formula: value}, "errors"}``.

    ``values``: the form's values as typed so far (text from a page is fine: each is cleaned by
    its field). ``current``: the stored record when an existing ticket is edited. ``errors``
    maps a field key to ``{"code", "message"}`` (the message in ``lang``); ``invalid`` maps the
    path of a value that would be refused (``email``, ``items[0].qty``) to its message.
    """
    body = type_spec.form.body
    by_key: dict[str, FieldSpec] = body.by_key
    labels = {f.key: f.label for f in type_spec.definition.form.fields}
    inputs: dict[str, Any] = {}
    base = dict(current or {})
    for key, value in (values or {}).items():
        spec = by_key.get(key)
        if spec is None or spec.computed:
            continue
        if spec.rows is not None and isinstance(value, list):
            # Rows still being typed do not blank the totals: formulas see the complete rows.
            inputs[key] = [row for row in value if _row_complete(spec.rows, row)]
        elif key in body.cleaners:
            inputs[key] = value
        else:  # read-only: not input, but part of the record the conditions see
            base[key] = _cleaned(spec, value)
    problems: list[Problem] = []
    record = body.clean(inputs, problems, current=base or None, env=env)
    errors: dict[str, dict[str, str]] = {}
    invalid: dict[str, str] = {}
    for p in problems:  # conditions are evaluated below
        if p.code == "form.formula_failed" and p.path in by_key:
            errors.setdefault(p.path, _error(p.code, p.params, labels, lang))
        elif p.code not in NOT_THE_VALUE and p.path:
            invalid.setdefault(p.path, _error(p.code, p.params, labels, lang)["message"])

    ctx = expression_context(body, record, current, env)

    def holds(expr: Expression | None, key: str) -> bool | None:
        if expr is None:
            return None
        try:
            return bool(expr(ctx))
        except ExprError as exc:
            params = {"field": key, "reason": exc.message(lang)}
            errors.setdefault(key, _error("form.condition_failed", params, labels, lang))
            return False

    visible: dict[str, bool] = {}
    required: dict[str, bool] = {}
    readonly: dict[str, bool] = {}
    for spec in body.fields:
        shown = holds(spec.visible_if, spec.key) is not False
        visible[spec.key] = shown
        required[spec.key] = (
            shown and not spec.computed and (spec.required or bool(holds(spec.required_if, spec.key)))
        )
        readonly[spec.key] = spec.computed or spec.readonly or bool(holds(spec.readonly_if, spec.key))
    computed = {spec.key: _jsonable(record.get(spec.key)) for spec in body.formulas}
    for key in errors:
        if key in computed:
            computed[key] = None
    options = {
        spec.key: sorted(offered_options(spec, ctx) or ()) for spec in body.fields if spec.option_rules
    }
    return {
        "visible": visible,
        "required": required,
        "readonly": readonly,
        "options": options,  # for choice fields whose options depend on other answers
        "values": computed,
        "errors": errors,
        "invalid": invalid,
    }


#: Problems that are not about the value typed (the page does not post those fields as input).
NOT_THE_VALUE = frozenset(
    {"form.readonly_field", "form.unknown_field", "form.field_locked", "form.formula_failed"}
)


def _row_complete(rows: Any, row: Any) -> bool:
    problems: list[Problem] = []
    rows.clean(row, problems)
    return not problems


def _cleaned(spec: FieldSpec, value: Any) -> Any:
    if value is None or value == "" or value == []:
        return None
    try:
        return spec.clean(value)
    except Invalid:
        return None


def _error(
    code: str, params: Mapping[str, Any], labels: Mapping[str, Any], lang: str | None
) -> dict[str, str]:
    named = dict(params)
    if named.get("field") in labels:
        named["field"] = text_of(labels[named["field"]], lang)
    return {"code": code, "message": t(code, lang, **named)}


def _jsonable(value: Any) -> Any:
    """A formula value as JSON can carry it (exact numbers as text, dates as ISO text)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
