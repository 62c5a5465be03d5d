"""Benchmarks: each measures one of our hot paths beside its baseline, on the same data, in one run."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    ours: float
    baseline: float
    unit: str
    baseline_name: str

    @property
    def ratio(self) -> float:
        """> 1 means we are faster (units are rates: higher is better)."""
        return self.ours / self.baseline if self.baseline else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ours": round(self.ours, 1),
            "baseline": round(self.baseline, 1),
            "unit": self.unit,
            "ratio": round(self.ratio, 3),
            "baseline_name": self.baseline_name,
        }


Bench = Callable[[int], Result]
BENCHMARKS: dict[str, Bench] = {}


def benchmark(name: str) -> Callable[[Bench], Bench]:
    def deco(fn: Bench) -> Bench:
        BENCHMARKS[name] = fn
        return fn

    return deco


def median_rate(run: Callable[[], float], n: int, repeats: int) -> float:
    """Median of ``n / seconds`` over ``repeats`` calls of ``run``, which times its own hot part
    (so set-up such as migrating a fresh database stays outside the measurement)."""
    return statistics.median(n / run() for _ in range(repeats))
