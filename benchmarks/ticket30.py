"""Copied from the shared baselines (ticket_schema.py) so both sides of a benchmark use one fixture.

Shared fixture: a realistic 30-field ticket form JSON Schema (draft 2020-12)
plus deterministic generators of valid and invalid submissions.
Used by bench_a_validation.py and bench_f_http_app.py."""

import copy
import random

TEAMS = [f"team-{i:02d}" for i in range(20)]
CATEGORIES = [
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
PRIORITIES = ["P1", "P2", "P3", "P4"]
LEVELS = ["standard", "silver", "gold", "VIP"]

LINE_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sku", "quantity", "unit_price"],
    "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4,8}$"},
        "description": {"type": "string", "maxLength": 200},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
        "unit_price": {"type": "number", "minimum": 0, "maximum": 1000000},
        "tax_code": {"enum": ["STD", "RED", "ZERO", "EXEMPT"]},
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.invalid/schemas/ticket-form.json",
    "title": "Ticket form",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "title",
        "requester_email",
        "priority",
        "category",
        "impact",
        "urgency",
        "team",
        "channel",
        "customer_level",
        "line_items",
    ],
    "properties": {
        # 30 top-level fields
        "title": {"type": "string", "minLength": 5, "maxLength": 200},
        "description": {"type": "string", "maxLength": 5000},
        "requester_email": {
            "type": "string",
            "maxLength": 254,
            "pattern": "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
        },
        "requester_phone": {"type": "string", "pattern": "^\\+?[0-9 ()-]{7,20}$"},
        "priority": {"enum": PRIORITIES},
        "category": {"enum": CATEGORIES},
        "subcategory": {"type": "string", "maxLength": 50},
        "impact": {"enum": ["low", "medium", "high"]},
        "urgency": {"enum": ["low", "medium", "high"]},
        "status": {"enum": ["new", "open", "pending", "resolved", "closed"]},
        "assignee": {"type": "string", "pattern": "^[a-z][a-z0-9_.]{2,31}$"},
        "team": {"enum": TEAMS},
        "due_date": {"type": "string", "format": "date"},
        "estimated_hours": {"type": "number", "minimum": 0, "maximum": 1000},
        "cost_center": {"type": "string", "pattern": "^CC-[0-9]{4}$"},
        "asset_tag": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{6}$"},
        "location": {"type": "string", "maxLength": 100},
        "floor": {"type": "integer", "minimum": -5, "maximum": 200},
        "customer_level": {"enum": LEVELS},
        "amount": {"type": "number", "minimum": 0, "maximum": 10000000},
        "currency": {"enum": ["EUR", "USD", "GBP", "CHF", "JPY"]},
        "contract_id": {"type": "string", "pattern": "^K[0-9]{3}-[0-9]{5}$"},
        "sla_hours": {"type": "integer", "minimum": 1, "maximum": 720},
        "channel": {"enum": ["web", "email", "phone", "chat", "api"]},
        "language": {"type": "string", "pattern": "^[a-z]{2}$"},
        "tags": {
            "type": "array",
            "maxItems": 10,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 30},
        },
        "is_billable": {"type": "boolean"},
        "approval_required": {"type": "boolean"},
        "notes": {"type": "string", "maxLength": 2000},
        "line_items": {"type": "array", "minItems": 1, "maxItems": 50, "items": LINE_ITEM},
    },
}
assert len(SCHEMA["properties"]) == 30

_WORDS = (
    "printer vpn laptop urgent down slow access denied password reset "
    "invoice wrong mail server outage badge door monitor broken"
).split()


def _sentence(rng, lo, hi):
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))


def make_valid(rng: random.Random) -> dict:
    n_items = rng.randint(1, 5)
    return {
        "title": _sentence(rng, 3, 8),
        "description": _sentence(rng, 10, 60),
        "requester_email": f"user{rng.randint(1, 99999)}@example.com",
        "requester_phone": f"+49 30 {rng.randint(1000000, 9999999)}",
        "priority": rng.choice(PRIORITIES),
        "category": rng.choice(CATEGORIES),
        "subcategory": rng.choice(["email", "vpn", "printer", "laptop"]),
        "impact": rng.choice(["low", "medium", "high"]),
        "urgency": rng.choice(["low", "medium", "high"]),
        "status": "new",
        "assignee": f"agent_{rng.randint(1, 300)}",
        "team": rng.choice(TEAMS),
        "due_date": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "estimated_hours": round(rng.uniform(0.5, 80), 1),
        "cost_center": f"CC-{rng.randint(1000, 9999)}",
        "asset_tag": f"LAP-{rng.randint(100000, 999999)}",
        "location": rng.choice(["Berlin HQ", "Munich", "Remote", "Hamburg DC"]),
        "floor": rng.randint(0, 12),
        "customer_level": rng.choice(LEVELS),
        "amount": round(rng.uniform(0, 5000), 2),
        "currency": rng.choice(["EUR", "USD"]),
        "contract_id": f"K{rng.randint(100, 999)}-{rng.randint(10000, 99999)}",
        "sla_hours": rng.choice([4, 8, 24, 72]),
        "channel": rng.choice(["web", "email", "phone", "chat", "api"]),
        "language": rng.choice(["en", "de", "fr"]),
        "tags": rng.sample(["vip", "hw", "sw", "net", "sec", "repeat"], rng.randint(0, 3)),
        "is_billable": rng.random() < 0.3,
        "approval_required": rng.random() < 0.2,
        "notes": _sentence(rng, 0, 20),
        "line_items": [
            {
                "sku": f"HW-{rng.randint(1000, 99999)}",
                "description": _sentence(rng, 1, 6),
                "quantity": rng.randint(1, 10),
                "unit_price": round(rng.uniform(1, 2000), 2),
                "tax_code": rng.choice(["STD", "RED", "ZERO", "EXEMPT"]),
            }
            for _ in range(n_items)
        ],
    }


_FAULTS = [
    lambda d, r: d.__setitem__("title", "x" * 250),  # maxLength
    lambda d, r: d.__setitem__("priority", "P9"),  # enum
    lambda d, r: d.__setitem__("floor", 999),  # maximum
    lambda d, r: d.__setitem__("due_date", "2025-13-45"),  # format date
    lambda d, r: d.__setitem__("requester_email", "not-an-email"),  # pattern
    lambda d, r: d["line_items"][0].__setitem__("quantity", 0),  # nested minimum
    lambda d, r: d["line_items"][-1].__setitem__("sku", "bad sku"),  # nested pattern
    lambda d, r: d.pop("category"),  # required
    lambda d, r: d.__setitem__("unexpected_field", 1),  # additionalProperties
    lambda d, r: d.__setitem__("amount", "1000"),  # type
]


def make_invalid(rng: random.Random) -> dict:
    """A valid document with 1-3 injected faults (realistic form typos)."""
    d = copy.deepcopy(make_valid(rng))
    for f in rng.sample(_FAULTS, rng.randint(1, 3)):
        f(d, rng)
    return d
