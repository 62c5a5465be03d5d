"""rules.fire: 100 rules of a realistic app (20 % on cron or SLA triggers, the rest on updates and
field changes) meeting a stream of update events. Ours: the compiled RuleSet — rules indexed by
trigger, so an event meets only the rules that can fire on it, conditions compiled once. Baseline:
simpleeval's ``simple_eval`` parsing and evaluating every rule's condition for every event (the
shared baseline bench_b_rules.py, b1). Unit: rules considered per second (events × 100)."""

from __future__ import annotations

import random
import time

from simpleeval import EvalWithCompoundTypes

from benchmarks import Result, benchmark, median_rate
from benchmarks.expressions import RULES, make_contexts
from engine.rules.engine import compile_rules

FIELDS = [
    "priority",
    "category",
    "amount",
    "status",
    "team",
    "impact",
    "urgency",
    "assignee",
    "channel",
    "tags",
]


def make_rules(n: int = 100, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    rules = []
    for i in range(n):
        if i % 5 == 0:  # 20 %: time-driven
            on = {"schedule": "0 9 * * 1-5"} if i % 10 == 0 else "sla_breached"
        elif i % 5 == 1:
            on = "updated"
        else:
            on = {"field_changed": rng.choice(FIELDS)}
        rules.append({"name": f"rule {i}", "on": on, "if": RULES[i % len(RULES)], "do": [{"comment": "x"}]})
    return rules


def make_events(n: int = 2000, seed: int = 5) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    events = []
    for _ in range(n):
        if rng.random() < 0.25:
            events.append(("updated", {"fields": [rng.choice(FIELDS)]}))
        else:
            events.append(("field_changed", {"field": rng.choice(FIELDS), "old": None, "new": 1}))
    return events


@benchmark("rules.fire")
def rules_fire(repeats: int) -> Result:
    definitions = make_rules()
    ruleset = compile_rules(definitions)
    contexts = make_contexts()
    events = make_events()
    baseline = EvalWithCompoundTypes(functions={"len": len})
    conditions = [r["if"] for r in definitions]
    considered = len(events) * len(definitions)

    def run_ours() -> float:
        t0 = time.perf_counter()
        for i, (kind, payload) in enumerate(events):
            ctx = contexts[i % len(contexts)]
            for rule in ruleset.for_event(kind, payload):
                rule.condition(ctx)
        return time.perf_counter() - t0

    sample = 300  # the baseline is slow: a share of the same stream

    def run_baseline() -> float:
        t0 = time.perf_counter()
        for i in range(sample):
            baseline.names = contexts[i % len(contexts)]
            for source in conditions:
                baseline.eval(source)
        return time.perf_counter() - t0

    return Result(
        "rules.fire",
        median_rate(run_ours, considered, repeats),
        median_rate(run_baseline, sample * len(definitions), repeats),
        "rules/s",
        "simpleeval, every condition parsed and evaluated per event",
    )
