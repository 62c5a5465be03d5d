"""Errors people can act on: each carries a message code, its parameters and where it happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.i18n import known, t


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a dotted path), what (a message code), line/col for files."""

    path: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    column: int | None = None

    def message(self, lang: str | None = None) -> str:
        return t(self.code, lang, **self.params)

    def render(self, lang: str | None = None) -> str:
        where = self.path or "(root)"
        if self.line is not None:
            where += f" ({t('where.line_col', lang, line=self.line, column=self.column)})"
        return f"{where}: {self.message(lang)}"

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "code": self.code, "message": self.message(lang)}
        if self.line is not None:
            out["line"], out["column"] = self.line, self.column
        return out


class GongdanError(Exception):
    """Base of every error the engines raise on purpose; never a bare traceback for bad input."""

    code = "error.internal"
    http_status = 500

    def __init__(self, code: str | None = None, problems: list[Problem] | None = None, **params: Any):
        self.code = code or self.code
        self.params = params
        self.problems = list(problems or [])
        super().__init__(self.message("en"))

    def message(self, lang: str | None = None) -> str:
        return t(self.code, lang, **self.params)

    def render(self, lang: str | None = None) -> str:
        lines = [self.message(lang)]
        lines += [f"  - {p.render(lang)}" for p in self.problems]
        return "\n".join(lines)

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message(lang),
            "problems": [p.as_dict(lang) for p in self.problems],
        }


class DefinitionError(GongdanError):
    """An app definition that cannot be loaded; ``problems`` lists every reason at once."""

    code = "definition.invalid"
    http_status = 422


class FormError(GongdanError):
    """Submitted data that the form rejects; one problem per field (nothing was written)."""

    code = "form.invalid"
    http_status = 422


class InputError(GongdanError):
    """A request that cannot be understood at all (not JSON, wrong shape)."""

    code = "input.invalid"
    http_status = 400


class ConflictError(GongdanError):
    """Someone else changed the record first (optimistic locking)."""

    code = "record.conflict"
    http_status = 409


class NotFoundError(GongdanError):
    code = "not_found"
    http_status = 404

    def message(self, lang: str | None = None) -> str:
        """``what`` (``ticket``, ``task_id``, …) is named in ``lang`` too, when it is a known thing."""
        what = self.params.get("what")
        if isinstance(what, str):
            name = "what." + what.removesuffix("_id").replace(" ", "_")
            if known(name):
                return t(self.code, lang, **{**self.params, "what": t(name, lang)})
        return super().message(lang)


class ActionError(GongdanError):
    """A flow action that is not allowed in the task's current state."""

    code = "flow.action_not_allowed"
    http_status = 409
