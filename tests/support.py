"""Helpers shared by tests (fixtures live in conftest.py files)."""

from __future__ import annotations

from typing import Any


def complaint_form(definition: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Valid form data for the shipped complaint app (the product is its first cascade path)."""
    product = definition["option_sets"]["products"][0]
    data = {
        "customer": "ACME 有限公司",
        "phone": "13800138000",
        "product": [product["value"], product["children"][0]["value"]],
        "category": "billing",
        "priority": "P2",
        "summary": "退款未到账",
    }
    data.update(overrides)
    return data
