"""flow.step: ../shared/baselines/approval.bpmn (start → triage → XOR on amount → manager | lead
approval → XOR merge → AND split → fix + notify_customer → AND join → end; 4 user steps) run to
completion in memory — our stepping on the flow our BPMN import makes of the file, versus
SpiffWorkflow 3.2 on the same file (the shared baseline bench_c_flow.py, c1). Both must take
the same path for the same data before anything is timed.

flow.step.persisted: the same process run through the Runtime on SQLite, every user step one
committed command (record, events, tasks written), versus SpiffWorkflow serialising the instance
to JSON and back around every user step (c2) — what a web request that loads and saves pays.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import Result, benchmark, median_rate
from engine.definitions.build import build_flow
from engine.flows import stepping
from engine.flows.bpmn import convert
from engine.flows.spec import compile_flow

BPMN = Path(__file__).with_name("approval.bpmn")
USER_STEPS = 4
rng = random.Random(7)
AMOUNTS = [rng.choice([rng.uniform(10, 1000), rng.uniform(1001, 9000)]) for _ in range(2000)]


def user_data(node: str, amount: float) -> dict[str, Any]:
    if node == "triage":
        return {"amount": amount, "priority": "P2", "triaged_by": "agent_1"}
    return {f"{node}_by": "agent_2", f"{node}_ok": True}


def our_flow() -> dict[str, Any]:
    flow, problems = convert(BPMN.read_bytes())
    if problems:
        raise SystemExit(f"approval.bpmn did not convert: {problems}")
    return flow


def run_ours(spec: Any, amount: float, trace: list[str] | None = None) -> int:
    data: dict[str, Any] = {}
    hooks = stepping.Hooks(context=lambda: data)
    walk = stepping.start(spec, hooks)
    steps = 0
    while not walk.finished:
        node = walk.tokens[0]
        if trace is not None:
            trace.append(node)
        data.update(user_data(node, amount))
        walk = stepping.complete(spec, walk.tokens, node, "complete", hooks, walk.state)
        steps += 1
    assert steps == USER_STEPS, steps
    return steps


def spiff() -> tuple[Any, Any, Any, Any]:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    return parser.get_spec("approval_flow"), BpmnWorkflow, BpmnWorkflowSerializer(), TaskState


def run_spiff(parts: tuple[Any, Any, Any, Any], amount: float, persist: bool = False, trace=None) -> None:
    spec, workflow_cls, serializer, state = parts
    wf = workflow_cls(spec)
    wf.do_engine_steps()
    steps = 0
    while not wf.is_completed():
        if persist:
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
        task = wf.get_next_task(state=state.READY, manual=True)
        if trace is not None:
            trace.append(task.task_spec.bpmn_id)
        task.data.update(user_data(task.task_spec.bpmn_id, amount))
        task.run()
        wf.do_engine_steps()
        steps += 1
    assert steps == USER_STEPS, steps


def _same_paths(spec: Any, parts: Any) -> None:
    for amount in (500.0, 5000.0):
        ours: list[str] = []
        theirs: list[str] = []
        run_ours(spec, amount, ours)
        run_spiff(parts, amount, trace=theirs)
        assert ours[:2] == theirs[:2] and sorted(ours) == sorted(theirs), (ours, theirs)


def _timed(fn: Any, n: int) -> Any:
    def run() -> float:
        t0 = time.perf_counter()
        for i in range(n):
            fn(AMOUNTS[i % len(AMOUNTS)])
        return time.perf_counter() - t0

    return run


@benchmark("flow.step")
def flow_step(repeats: int) -> Result:
    spec = compile_flow(build_flow(our_flow()))
    parts = spiff()
    _same_paths(spec, parts)
    n_ours, n_spiff = 3000, 150
    ours = median_rate(_timed(lambda a: run_ours(spec, a), n_ours), n_ours * USER_STEPS, repeats)
    theirs = median_rate(_timed(lambda a: run_spiff(parts, a), n_spiff), n_spiff * USER_STEPS, repeats)
    return Result("flow.step", ours, theirs, "user steps/s", "SpiffWorkflow 3.2, in memory, same BPMN file")


APP = {
    "app": "approval_bench",
    "name": "approval.bpmn",
    "ticket_types": {
        "request": {
            "name": "Request",
            "number": "AP-{seq:6}",
            "form": {
                "sections": [
                    {
                        "fields": [
                            {"key": "amount", "type": "number"},
                            {"key": "priority", "type": "select", "options": ["P1", "P2", "P3"]},
                            {"key": "triaged_by", "type": "text"},
                        ]
                    }
                ]
            },
        }
    },
}


@benchmark("flow.step.persisted")
def flow_step_persisted(repeats: int) -> Result:
    from engine.runtime import Runtime
    from engine.store.db import Database
    from engine.store.migrate import migrate

    parts = spiff()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        db = Database(url)
        runtime = Runtime(db)
        app = {**APP, "ticket_types": {"request": {**APP["ticket_types"]["request"], "flow": our_flow()}}}
        runtime.publish(app)

        def run_one(amount: float) -> None:
            ticket = runtime.submit("approval_bench", "request", {"priority": "P2"})
            for _ in range(USER_STEPS):
                task = runtime.tasks(ticket.id)[0]
                data = {"amount": amount, "triaged_by": "agent_1"} if task["node_id"] == "triage" else None
                runtime.act(task["id"], "complete", data)
            assert runtime.ticket(ticket.id).status == "closed"

        n_ours, n_spiff = 40, 40
        ours = median_rate(_timed(run_one, n_ours), n_ours * USER_STEPS, repeats)
        db.engine.dispose()
    theirs = median_rate(
        _timed(lambda a: run_spiff(parts, a, persist=True), n_spiff), n_spiff * USER_STEPS, repeats
    )
    return Result(
        "flow.step.persisted",
        ours,
        theirs,
        "user steps/s",
        "SpiffWorkflow 3.2, JSON serialise/restore every step (no database)",
    )
