"""The one translation layer: every user-facing message is a code looked up here.

Messages are kept per code as ``{"zh": ..., "en": ...}`` with ``str.format`` placeholders; a text
that says ``{count}`` of something may add its singular as ``"en.one"`` (used when count is 1).
The language comes from an explicit argument, else ``GONGDAN_LANG``, else Chinese.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

_CATALOG: dict[str, dict[str, str]] = {}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add message codes (each with a ``zh`` and ``en`` text); a module registers its own."""
    for code, texts in messages.items():
        missing = [lang for lang in LANGS if lang not in texts]
        if missing:
            raise ValueError(f"message {code!r} lacks {missing}")
        _CATALOG[code] = dict(texts)


def current_lang(lang: str | None = None) -> str:
    """The language to speak: the explicit one, else GONGDAN_LANG, else Chinese."""
    chosen = (lang or os.environ.get("GONGDAN_LANG") or DEFAULT_LANG).lower()
    chosen = chosen.split("-")[0].split("_")[0]
    return chosen if chosen in LANGS else DEFAULT_LANG


def t(code: str, lang: str | None = None, /, **params: Any) -> str:
    """The message ``code`` in ``lang`` with ``params`` filled in."""
    texts = _CATALOG.get(code)
    if texts is None:
        return code if not params else f"{code} {params}"
    chosen = current_lang(lang)
    template = texts[chosen]
    if params.get("count") == 1 and f"{chosen}.one" in texts:  # "1 problem", not "1 problems"
        template = texts[f"{chosen}.one"]
    rendered = {k: v.render(lang) if isinstance(v, Message | Localized) else v for k, v in params.items()}
    try:
        return template.format_map(_Params(rendered))
    except (IndexError, ValueError):
        return template


@dataclass(frozen=True)
class Message:
    """A message inside another one's parameters, rendered in the same language as its host."""

    code: str
    params: Mapping[str, Any]

    def render(self, lang: str | None = None) -> str:
        return t(self.code, lang, **self.params)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Localized:
    """Text an app definition wrote in several languages (``{zh, en}``), picked when shown."""

    text: Any

    def render(self, lang: str | None = None) -> str:
        return text_of(self.text, lang)

    def __str__(self) -> str:
        return self.render()


class _Params(dict):
    """A parameter a message names but the caller did not give shows as … rather than {name}."""

    def __missing__(self, key: str) -> str:
        return "…"


def text_of(value: Any, lang: str | None = None) -> str:
    """Pick one language out of an i18n text (a plain string or ``{zh, en}``)."""
    if isinstance(value, Mapping):
        lang = current_lang(lang)
        for candidate in (lang, *LANGS):
            if value.get(candidate):
                return str(value[candidate])
        return ""
    return "" if value is None else str(value)


def known(code: str) -> bool:
    return code in _CATALOG


# The catalog lives in engine.messages; importing it here means any user of t() sees every code.
import engine.messages  # noqa: E402, F401
