"""forms.validate: the 30-field form with 1-5 sub-table rows (benchmarks/ticket30.py, defined as a
Gongdan form in bench30.yaml) — our FormSpec.validate versus jsonschema's Draft202012Validator
(built once, format checker on) on the equivalent JSON Schema; the shared baseline
bench_a_validation.py (a1, a3). Valid documents, and invalid ones with every error collected."""

from __future__ import annotations

import random
import time
from pathlib import Path

from jsonschema import Draft202012Validator

from benchmarks import Result, benchmark, median_rate
from benchmarks.ticket30 import SCHEMA, make_invalid, make_valid
from engine.definitions.loader import load_definition
from engine.errors import FormError
from engine.specs import compile_app

HERE = Path(__file__).parent


def _setup():
    form = compile_app(load_definition(HERE / "bench30.yaml").app).types["ticket"].form
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    rng = random.Random(1234)
    valid = [make_valid(rng) for _ in range(200)]
    invalid = [make_invalid(rng) for _ in range(200)]
    for doc in valid:  # both sides agree before anything is timed
        form.validate(doc)
        assert validator.is_valid(doc)
    both_reject = []
    for doc in invalid:
        assert not validator.is_valid(doc)
        try:
            form.validate(doc)
        except FormError:
            both_reject.append(doc)
    # By design our money field also takes numeric text ("1000", as HTML forms post it), which
    # the baseline's schema calls a type error; such documents are left out of the invalid set.
    assert len(both_reject) > len(invalid) * 0.8
    return form, validator, valid, both_reject


def _timed(fn, docs, rounds):
    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(rounds):
            for doc in docs:
                fn(doc)
        return time.perf_counter() - t0

    return run


def _ours_collecting(form):
    def validate(doc):
        try:
            form.validate(doc)
        except FormError as exc:
            return exc.problems
        return []

    return validate


@benchmark("forms.validate")
def forms_validate(repeats: int) -> Result:
    form, validator, valid, _ = _setup()
    rounds = 5
    n = rounds * len(valid)
    ours = median_rate(_timed(form.validate, valid, rounds), n, repeats)
    base = median_rate(_timed(validator.validate, valid, rounds), n, repeats)
    return Result("forms.validate", ours, base, "docs/s", "jsonschema Draft202012Validator, valid docs")


@benchmark("forms.invalid")
def forms_invalid(repeats: int) -> Result:
    form, validator, _, invalid = _setup()
    rounds = 5
    n = rounds * len(invalid)
    ours = median_rate(_timed(_ours_collecting(form), invalid, rounds), n, repeats)
    base = median_rate(_timed(lambda d: list(validator.iter_errors(d)), invalid, rounds), n, repeats)
    return Result("forms.invalid", ours, base, "docs/s", "jsonschema iter_errors (every error), invalid docs")
