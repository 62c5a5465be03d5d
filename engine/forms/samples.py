"""Plausible values for any form, for demo data and benchmarks: one generator per field type."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.definitions.model import FieldDef
from engine.forms.fields import option_values

WORDS = ["打印机", "无法", "登录", "退款", "延迟", "网络", "很慢", "账号", "锁定", "发票"]
WORDS += ["错误", "屏幕", "损坏", "订单", "丢失", "printer", "vpn", "refund", "slow"]

Sampler = Callable[[FieldDef, random.Random, Mapping[str, Any]], Any]


def _words(rng: random.Random, f: FieldDef, lo: int = 2, hi: int = 8) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    return text[: f.get("max_length", 10_000)]


def _number(rng: random.Random, f: FieldDef) -> float:
    lo, hi = f.get("min", 0), f.get("max", 1000)
    value = rng.uniform(lo, hi)
    return int(value) if f.get("precision") == 0 else round(value, 2)


def _choice(rng: random.Random, f: FieldDef, ctx: Mapping[str, Any]) -> Any:
    # Options offered only under a condition are left out: the other answers are random.
    option = rng.choice(
        [o for o in option_values(f, ctx) if not (isinstance(o, Mapping) and o.get("visible_if"))]
    )
    return option.get("value") if isinstance(option, Mapping) else option


def _cascade(rng: random.Random, f: FieldDef, ctx: Mapping[str, Any]) -> list[Any]:
    path, level = [], option_values(f, ctx)
    while level:
        option = rng.choice(level)
        if not isinstance(option, Mapping):
            path.append(option)
            break
        path.append(option["value"])
        level = option.get("children") or []
    return path


SAMPLERS: dict[str, Sampler] = {
    "text": lambda f, rng, ctx: _words(rng, f, 1, 5),
    "textarea": lambda f, rng, ctx: _words(rng, f, 5, 30),
    "richtext": lambda f, rng, ctx: f"<p>{_words(rng, f, 5, 30)}</p>",
    "number": lambda f, rng, ctx: _number(rng, f),
    "money": lambda f, rng, ctx: round(_number(rng, f), 2),
    "rating": lambda f, rng, ctx: rng.randint(1, f.get("max", 5)),
    "date": lambda f, rng, ctx: (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 360))).isoformat(),
    "datetime": lambda f, rng, ctx: dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC).isoformat(),
    "select": lambda f, rng, ctx: _choice(rng, f, ctx),
    "radio": lambda f, rng, ctx: _choice(rng, f, ctx),
    "multiselect": lambda f, rng, ctx: [_choice(rng, f, ctx)],
    "cascade": lambda f, rng, ctx: _cascade(rng, f, ctx),
    "checkbox": lambda f, rng, ctx: rng.random() < 0.5,
    "email": lambda f, rng, ctx: f"user{rng.randint(1, 999)}@example.com",
    "phone": lambda f, rng, ctx: f"13{rng.randint(100000000, 999999999)}",
    "url": lambda f, rng, ctx: f"https://example.com/{rng.randint(1, 999)}",
    "user": lambda f, rng, ctx: _pick(rng, f, ctx.get("users")),
    "department": lambda f, rng, ctx: _pick(rng, f, ctx.get("departments")),
}


def _pick(rng: random.Random, f: FieldDef, ids: list[int] | None) -> Any:
    if not ids:
        return None
    return [rng.choice(ids)] if f.get("multiple") else rng.choice(ids)


def sample_data(
    fields: tuple[FieldDef, ...], rng: random.Random, ctx: Mapping[str, Any], fill: float = 1.0
) -> dict[str, Any]:
    """Values for every required field and about ``fill`` of the optional ones that can be sampled."""
    out: dict[str, Any] = {}
    for f in fields:
        sampler = SAMPLERS.get(f.type)
        if f.get("pattern"):
            sampler = _example_matching(f)
        if sampler is None or f.get("readonly"):
            continue
        if f.required or rng.random() < fill:
            value = sampler(f, rng, ctx)
            if value is not None:
                out[f.key] = value
    return out


def _example_matching(f: FieldDef) -> Sampler | None:
    """A patterned field can only be sampled from its placeholder's example (``e.g. 2.3.1``)."""
    rx = re.compile(f.get("pattern"))
    hint = f.get("placeholder") or {}
    for text in hint.values() if isinstance(hint, Mapping) else [hint]:
        for word in str(text).replace(",", " ").split():
            if rx.fullmatch(word):
                return lambda f, rng, ctx, word=word: word
    return None
