"""expr.eval: 20 typical rule conditions over 500 ticket contexts — our compiled closures versus
simpleeval's EvalWithCompoundTypes evaluating a pre-parsed AST (the shared baseline
bench_b_rules.py, b4). Both must agree on every result before anything is timed."""

from __future__ import annotations

import random
import time

from simpleeval import EvalWithCompoundTypes, SimpleEval

from benchmarks import Result, benchmark, median_rate
from engine.expressions import compile_expr

RULES = [
    'priority == "P1" and category in ("outage", "security")',
    'amount > 1000 and customer_level == "VIP"',
    'len(title) > 5 and "urgent" in title',
    'status == "open" and age_hours > 48',
    'team == "team-03" or team == "team-07"',
    'impact == "high" and urgency == "high"',
    'sla_hours <= 8 and priority in ("P1", "P2")',
    "reopen_count >= 2",
    '"vip" in tags and status != "closed"',
    'channel == "phone" and customer_level in ("gold", "VIP")',
    "amount * 1.19 > 5000",
    'not is_billable and category == "billing"',
    'estimated_hours > 40 or (priority == "P1" and age_hours > 4)',
    'assignee == "" and status == "new"',
    'age_hours > sla_hours * 0.8 and status not in ("resolved", "closed")',
    'language != "en" and category in ("hr", "facilities", "access")',
    'floor > 10 and category == "hardware"',
    'len(tags) == 0 and priority == "P4"',
    '(amount > 500 and customer_level != "standard") or reopen_count > 3',
    'category == "security" and impact != "low" and team != "team-00"',
]
CATS = [
    "outage",
    "security",
    "access",
    "hardware",
    "software",
    "network",
    "billing",
    "facilities",
    "hr",
    "other",
]
WORDS = "printer urgent vpn down slow mail badge broken reset".split()


def make_contexts(n: int = 500, seed: int = 42) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "priority": rng.choice(["P1", "P2", "P3", "P4"]),
            "category": rng.choice(CATS),
            "amount": round(rng.uniform(0, 8000), 2),
            "customer_level": rng.choice(["standard", "silver", "gold", "VIP"]),
            "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))),
            "status": rng.choice(["new", "open", "pending", "resolved", "closed"]),
            "age_hours": rng.randint(0, 200),
            "team": f"team-{rng.randint(0, 19):02d}",
            "impact": rng.choice(["low", "medium", "high"]),
            "urgency": rng.choice(["low", "medium", "high"]),
            "sla_hours": rng.choice([4, 8, 24, 72]),
            "reopen_count": rng.randint(0, 5),
            "tags": rng.sample(["vip", "hw", "sw", "net", "sec"], rng.randint(0, 3)),
            "channel": rng.choice(["web", "email", "phone", "chat", "api"]),
            "is_billable": rng.random() < 0.3,
            "estimated_hours": rng.randint(0, 80),
            "assignee": rng.choice(["", "", "agent_1", "agent_2"]),
            "language": rng.choice(["en", "de", "fr"]),
            "floor": rng.randint(0, 20),
        }
        for _ in range(n)
    ]


@benchmark("expr.eval")
def expr_eval(repeats: int) -> Result:
    contexts = make_contexts()
    ours = [compile_expr(r) for r in RULES]
    parsed = [SimpleEval.parse(r) for r in RULES]
    baseline = EvalWithCompoundTypes(functions={"len": len})
    for ctx in contexts:  # both sides must give the same answers
        baseline.names = ctx
        for rule, node, expr in zip(RULES, parsed, ours, strict=True):
            assert bool(expr(ctx)) == bool(baseline.eval(rule, previously_parsed=node)), rule
    rounds = 4
    n = len(contexts) * len(RULES) * rounds

    def run_ours() -> float:
        t0 = time.perf_counter()
        for _ in range(rounds):
            for ctx in contexts:
                for expr in ours:
                    expr(ctx)
        return time.perf_counter() - t0

    def run_baseline() -> float:
        t0 = time.perf_counter()
        for _ in range(rounds):
            for ctx in contexts:
                baseline.names = ctx
                for rule, node in zip(RULES, parsed, strict=True):
                    baseline.eval(rule, previously_parsed=node)
        return time.perf_counter() - t0

    return Result(
        "expr.eval",
        median_rate(run_ours, n, repeats),
        median_rate(run_baseline, n, repeats),
        "evals/s",
        "simpleeval EvalWithCompoundTypes, pre-parsed AST",
    )
