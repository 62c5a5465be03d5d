"""A bounded, open-loop load generator on loopback (asyncio + httpx).

Operations start on a fixed schedule (``rate`` per second over the whole mix), at most ``concurrency``
at a time; an operation whose start slot comes while all are busy waits for one (the wait counts in
the start lag, so a saturated site shows in the figures instead of hiding). Latencies are measured from
the moment a request starts (service time at the rate reached). The run ends at its wall-clock deadline;
slots not started by then are counted as ``skipped`` (the site could not keep up). The mix:

- ``submit``: a portal submit with an Idempotency-Key (retried with the same key after a broken
  connection, so a ticket is never created twice by the generator);
- ``inbox``: an agent reads their pool queue;
- ``ticket``: a submitter opens one of their tickets (its tasks and actions);
- ``complete``: an agent finishes the task of a ticket (its work step) with the action ``done``;
- ``report``: an agent runs the app's report.

Webhook deliveries are the site's own work (created and completed tickets notify the receiver).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

MIX = {"submit": 40, "inbox": 15, "ticket": 15, "complete": 20, "report": 10}
RETRYABLE = (httpx.TransportError,)


@dataclass
class Outcome:
    """What the generator did and saw: the ground truth the after-run checks compare against."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    submitted: dict[str, int] = field(default_factory=dict)  # idempotency key -> ticket id
    completed: set[int] = field(default_factory=set)  # ticket ids whose task was finished
    retries: int = 0
    skipped: int = 0  # scheduled operations never started: the site could not keep up with the rate
    lag: float = 0.0  # the latest an operation started after its slot (s): > 1 s means saturated
    outage_answers: Counter[str] = field(default_factory=Counter)  # content types of 503 answers
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.ended - self.started, 1e-9)

    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    def table(self) -> str:
        """Throughput and p50/p95/p99 per endpoint, as plain text."""
        lines = [
            f"{'endpoint':<10}{'count':>8}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        ]
        for name in [*MIX, *sorted(set(self.latencies) - set(MIX))]:
            lat = sorted(self.latencies.get(name, []))
            if not lat and not self.errors.get(name):
                continue
            lines.append(
                f"{name:<10}{len(lat):>8}{len(lat) / self.seconds:>9.1f}{_pct(lat, 50):>9.1f}"
                f"{_pct(lat, 95):>9.1f}{_pct(lat, 99):>9.1f}{len(self.errors.get(name, [])):>8}"
            )
        total = sum(len(v) for v in self.latencies.values())
        lines.append(f"total {total} operations in {self.seconds:.1f} s = {total / self.seconds:.1f}/s, "
                     f"{self.error_count()} errors, {self.retries} retried submits, "
                     f"{self.skipped} scheduled operations not started, "
                     f"max start lag {self.lag:.1f} s (both > 0: the site was saturated)")  # fmt: skip
        return "\n".join(lines)

    def figures(self) -> dict[str, Any]:
        return {
            name: {
                "count": len(lat),
                "per_s": round(len(lat) / self.seconds, 1),
                "p50_ms": round(_pct(sorted(lat), 50), 1),
                "p95_ms": round(_pct(sorted(lat), 95), 1),
                "p99_ms": round(_pct(sorted(lat), 99), 1),
                "errors": len(self.errors.get(name, [])),
            }
            for name, lat in self.latencies.items()
        }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] * 1000


class LoadGenerator:
    def __init__(
        self,
        base: str,
        tokens: dict[str, str],
        rate: float,
        concurrency: int = 32,
        mix: dict[str, int] | None = None,
        seed: int = 7,
        submit_retry_s: float = 60.0,
    ):
        self.base = base
        self.submitters = sorted(t for t in tokens if t.startswith("sub"))
        self.agents = sorted(t for t in tokens if t.startswith("agent"))
        self.tokens = tokens
        self.rate = rate
        self.concurrency = concurrency
        self.mix = mix or MIX
        self.random = random.Random(seed)
        self.submit_retry_s = submit_retry_s
        self.outcome = Outcome()
        self.open_tickets: list[int] = []
        self.owner: dict[int, str] = {}  # ticket id -> its submitter (who may always open it)
        self.stopped = False  # ``stop()`` from another thread: no new operations, the running ones finish

    def stop(self) -> None:
        self.stopped = True

    def _auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def run(self, seconds: float) -> Outcome:
        # Idle connections expire before gunicorn's 2 s keep-alive does: no request on a closing socket.
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency, keepalive_expiry=1.0
        )
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=30.0) as client:
            self.client = client
            gate = asyncio.Semaphore(self.concurrency)
            names, weights = zip(*self.mix.items(), strict=True)
            tasks: set[asyncio.Task[None]] = set()
            self.outcome.started = start = time.monotonic()
            i = 0
            while True:
                slot = start + i / self.rate
                if self.stopped:
                    break
                if slot - start >= seconds or time.monotonic() - start >= seconds:
                    self.outcome.skipped = max(0, int(seconds * self.rate) - i)
                    break
                delay = slot - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing of the open-loop schedule, not synchronisation
                op = self.random.choices(names, weights)[0]
                await gate.acquire()
                task = asyncio.create_task(self._timed(op, gate, slot))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if tasks:
                await asyncio.gather(*tasks)
            self.outcome.ended = time.monotonic()
        return self.outcome

    async def _timed(self, op: str, gate: asyncio.Semaphore, slot: float) -> None:
        began = time.monotonic()
        self.outcome.lag = max(self.outcome.lag, began - slot)
        try:
            ran = await getattr(self, f"op_{op}")()
            if ran is not False:
                self.outcome.latencies[ran or op].append(time.monotonic() - began)
        except Exception as exc:
            self.outcome.errors[op].append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            gate.release()

    def _check(self, answer: httpx.Response, *ok: int) -> httpx.Response:
        if answer.status_code not in ok:
            if answer.status_code == 503:
                self.outcome.outage_answers[answer.headers.get("content-type", "")] += 1
            raise RuntimeError(f"{answer.request.method} {answer.request.url.path} -> {answer.status_code} "
                               f"{answer.text[:200]}")  # fmt: skip
        return answer

    # ------------------------------------------------------------------------- operations
    async def op_submit(self) -> None:
        who = self.random.choice(self.submitters)
        key = uuid.uuid4().hex
        n = len(self.outcome.submitted)
        body = {"summary": f"load ticket {n} <b>ok</b>", "priority": self.random.choice(["P1", "P2", "P3"]),
                "note": "line one\nline two"}  # fmt: skip
        deadline = time.monotonic() + self.submit_retry_s
        while True:
            try:
                answer = await self.client.post(
                    "/api/v1/apps/loadapp/ticket_types/req/tickets",
                    json=body,
                    headers={**self._auth(who), "Idempotency-Key": key},
                )
                if answer.status_code in (502, 503, 504) and time.monotonic() < deadline:
                    self.outcome.outage_answers[answer.headers.get("content-type", "")] += 1
                    self.outcome.retries += 1
                    await asyncio.sleep(0.2)  # back-off before the retry
                    continue
            except RETRYABLE:
                if time.monotonic() >= deadline:
                    raise
                self.outcome.retries += 1
                await asyncio.sleep(0.2)  # back-off before the retry
                continue
            break
        ticket = self._check(answer, 201).json()
        self.outcome.submitted[key] = ticket["id"]
        self.owner[ticket["id"]] = who
        self.open_tickets.append(ticket["id"])

    async def op_inbox(self) -> None:
        who = self.random.choice(self.agents)
        self._check(await self.client.get("/api/v1/inbox/queue", headers=self._auth(who)), 200)

    async def op_ticket(self) -> str | bool:
        if not self.owner:
            return False
        ticket_id = self.random.choice(list(self.owner))
        who = self.owner[ticket_id]
        self._check(await self.client.get(f"/api/v1/tickets/{ticket_id}", headers=self._auth(who)), 200)
        return "ticket"

    async def op_complete(self) -> str | bool:
        if not self.open_tickets:
            return False
        ticket_id = self.open_tickets.pop(self.random.randrange(len(self.open_tickets)))
        who = self.random.choice(self.agents)
        view = self._check(
            await self.client.get(f"/api/v1/tickets/{ticket_id}", headers=self._auth(who)), 200
        )
        tasks = view.json()["tasks"]
        if not tasks:
            raise RuntimeError(f"ticket {ticket_id} has no open task: {view.text[:200]}")
        answer = await self.client.post(
            f"/api/v1/tasks/{tasks[0]['id']}/complete", json={"action": "done"}, headers=self._auth(who)
        )
        self._check(answer, 200)
        self.outcome.completed.add(ticket_id)
        return "complete"

    async def op_report(self) -> None:
        who = self.random.choice(self.agents)
        answer = await self.client.get(
            "/api/v1/apps/loadapp/ticket_types/req/reports/by_priority", headers=self._auth(who)
        )
        self._check(answer, 200)


def run_load(base: str, tokens: dict[str, str], seconds: float, rate: float, **kw: Any) -> Outcome:
    """Run the generator to its end in a thread of its own: a test process whose thread already has an
    event loop (Playwright's sync API keeps one there) cannot start another."""
    generator = LoadGenerator(base, tokens, rate, **kw)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, generator.run(seconds)).result()
