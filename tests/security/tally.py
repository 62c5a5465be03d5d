"""How many hostile inputs the security suite tried, by family (printed at the end of the run).

A module of its own so that the conftest and the test modules share one counter."""

from __future__ import annotations

from collections import Counter

TRIED: Counter[str] = Counter()
