"""Static checks of flow graphs when a definition loads: a flow that could strand a ticket is refused.

Each test breaks one rule in an otherwise sound flow and expects exactly that problem, at the path of
the node or edge concerned, with a message in Chinese and English saying what to do.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from engine.definitions import checks
from engine.definitions.checks import run_checks
from engine.definitions.loader import load_definition
from engine.errors import DefinitionError
from engine.i18n import known, t

FLOW = "ticket_types.ticket.flow"

FIELDS = [
    {"key": "title", "type": "text"},
    {"key": "level", "type": "select", "options": ["high", "low"]},
    {"key": "owner", "type": "user"},
    {"key": "reviewers", "type": "user", "multiple": True},
    {"key": "due", "type": "date"},
]
START, END = {"id": "start", "type": "start"}, {"id": "end", "type": "end"}


def node(node_id: str, kind: str = "task", **options: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, **options}


def edge(source: str, target: str, **options: Any) -> dict[str, Any]:
    return {"from": source, "to": target, **options}


def app(nodes: list[dict[str, Any]], edges: list[Any], **flow: Any) -> dict[str, Any]:
    """An app whose ticket type ``ticket`` has this flow (and a type ``other`` a subprocess may start)."""
    form = {"sections": [{"id": "main", "fields": FIELDS}]}
    simple = {"nodes": [START, END], "edges": [["start", "end"]]}
    return {
        "app": "flows",
        "name": {"zh": "流程", "en": "Flows"},
        "roles": {"agent": {"zh": "客服", "en": "Agent"}, "lead": {"zh": "主管", "en": "Lead"}},
        "ticket_types": {
            "ticket": {"name": "Ticket", "form": form, "flow": {"nodes": nodes, "edges": edges, **flow}},
            "other": {"name": "Other", "form": form, "flow": simple},
        },
    }


def problems(definition: Any) -> set[tuple[str, str]]:
    """(path, code) of every problem of ``definition``; empty when it loads."""
    try:
        load_definition(definition)
    except DefinitionError as err:
        for p in err.problems:
            assert known(p.code), p.code
            assert p.message("en") != p.message("zh")
        return {(p.path, p.code) for p in err.problems}
    return set()


def refused(definition: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        load_definition(definition)
    return info.value


def at_node(nodes: list[dict[str, Any]], node_id: str, *keys: str) -> str:
    index = next(i for i, n in enumerate(nodes) if n["id"] == node_id)
    return ".".join([f"{FLOW}.nodes[{index}]", *keys])


def at_edge(index: int, *keys: str) -> str:
    return ".".join([f"{FLOW}.edges[{index}]", *keys])


def work_flow(*extra_nodes: dict[str, Any], edges: list[Any] = (), **flow: Any) -> dict[str, Any]:
    """start → work → end, plus the given nodes and edges (appended after those two edges)."""
    nodes = [START, node("work"), END, *extra_nodes]
    return app(nodes, [["start", "work"], edge("work", "end", action="done"), *edges], **flow)


# --- a sound flow -------------------------------------------------------------------------------

SOUND_NODES = [
    START,
    node(
        "triage",
        assignee={
            "dispatch": {"by": "keyword", "field": "title", "teams": {"网络": "agent"}, "default": "lead"}
        },
    ),
    node("gate", "exclusive"),
    node("urgent", "parallel"),
    node("page", "auto", actions=[{"comment": "paged"}]),
    node("hotfix", assignee={"field": "owner"}),
    node("merge", "join"),
    node("fix", assignee={"field": "owner"}),
    node(
        "review",
        "approval",
        mode="percentage",
        assignees=[{"user": "ann"}, {"user": "bob"}, {"user": "cyd"}],
        threshold=2,
        on_reject="triage",
    ),
    node("pick", "inclusive"),
    node("cool_off", "timer", wait={"duration": "1h"}),
    node("followup", "subprocess", ticket_type="other"),
    node("together", "join"),
    END,
]
SOUND_EDGES = [
    ["start", "triage"],
    edge("triage", "gate", action="accept"),
    edge("triage", "end", action="decline"),
    edge("gate", "urgent", **{"if": "level == 'high'"}),
    edge("gate", "fix", default=True),
    ["urgent", "page"],
    ["urgent", "hotfix"],
    ["page", "merge"],
    edge("hotfix", "merge", action="fixed"),
    ["merge", "review"],
    edge("fix", "review", action="fixed"),
    ["review", "pick"],
    edge("pick", "cool_off", **{"if": "level == 'low'"}),
    edge("pick", "followup", default=True),
    ["cool_off", "together"],
    ["followup", "together"],
    ["together", "end"],
]


def sound_app(**flow: Any) -> dict[str, Any]:
    return app(
        [dict(n) for n in SOUND_NODES],
        list(SOUND_EDGES),
        returns={"review": ["fix", "hotfix", "triage"], "hotfix": ["triage"]},
        reopen_to="review",
        **flow,
    )


def test_a_sound_flow_with_gateways_a_parallel_split_approvals_and_returns_loads():
    loaded = load_definition(sound_app())
    assert [n.id for n in loaded.app.ticket_type("ticket").flow.nodes] == [n["id"] for n in SOUND_NODES]


def test_the_shipped_apps_pass_the_flow_checks():
    from tests.engine.definitions.test_loader import SHIPPED_APPS

    assert SHIPPED_APPS
    for path in SHIPPED_APPS:
        assert problems(path) == set(), path.name


# --- reachability and dead ends -----------------------------------------------------------------


def test_a_node_nothing_leads_to_is_unreachable():
    definition = work_flow(node("orphan"), edges=[edge("orphan", "end", action="done")])
    nodes = definition["ticket_types"]["ticket"]["flow"]["nodes"]
    assert problems(definition) == {(at_node(nodes, "orphan"), "check.flow.unreachable")}
    message = refused(definition).problems[0].message("en")
    assert "orphan can never be reached from the start (start)" in message


def test_a_node_reached_only_by_a_rejection_is_reachable():
    nodes = [
        START,
        node("review", "approval", assignee={"user": "ann"}, on_reject="rework"),
        node("rework"),
        END,
    ]
    edges = [["start", "review"], ["review", "end"], edge("rework", "review", action="resubmit")]
    assert problems(app(nodes, edges)) == set()


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("task", {}),
        ("approval", {"assignee": {"user": "ann"}}),
        ("timer", {"wait": {"duration": "4h"}}),
        ("auto", {"actions": [{"comment": "hi"}]}),
        ("subprocess", {"ticket_type": "other"}),
        ("exclusive", {}),
    ],
)
def test_a_node_without_outgoing_edges_strands_the_ticket(kind, options):
    definition = work_flow(node("stuck", kind, **options), edges=[edge("work", "stuck", action="park")])
    nodes = definition["ticket_types"]["ticket"]["flow"]["nodes"]
    assert problems(definition) == {(at_node(nodes, "stuck"), "check.flow.no_outgoing")}


def test_a_loop_with_no_way_out_is_named_with_all_its_nodes():
    definition = work_flow(
        node("ask"),
        node("answer"),
        edges=[edge("work", "ask", action="ask"), ["ask", "answer"], ["answer", "ask"]],
    )
    nodes = definition["ticket_types"]["ticket"]["flow"]["nodes"]
    assert problems(definition) == {(at_node(nodes, "ask"), "check.flow.loop_no_exit")}
    (problem,) = refused(definition).problems
    assert "These nodes loop with no way out: ask, answer." in problem.message("en")
    assert "这些节点构成循环且没有出口:ask, answer" in problem.message("zh")


def test_a_node_leading_only_into_a_closed_loop_cannot_reach_an_end():
    definition = work_flow(
        node("before"),
        node("spin"),
        edges=[edge("work", "before", action="go"), ["before", "spin"], ["spin", "spin"]],
    )
    nodes = definition["ticket_types"]["ticket"]["flow"]["nodes"]
    assert problems(definition) == {
        (at_node(nodes, "before"), "check.flow.cannot_reach_end"),
        (at_node(nodes, "spin"), "check.flow.loop_no_exit"),
    }


def test_a_loop_of_approvals_is_left_by_rejecting():
    nodes = [START, node("fix"), node("review", "approval", assignee={"user": "ann"}), END]
    edges = [["start", "fix"], ["fix", "review"], ["review", "fix"]]  # reject ends the flow
    assert problems(app(nodes, edges)) == set()


def test_a_dangling_edge_is_reported_once_and_not_echoed_as_dead_ends():
    definition = work_flow(node("later"), edges=[edge("work", "nowhere", action="park"), ["later", "end"]])
    assert problems(definition) == {(at_edge(2, "to"), "check.unknown_node")}


# --- gateways and conditions ----------------------------------------------------------------------


def gateway_flow(kind: str, *branches: dict[str, Any]) -> dict[str, Any]:
    """start → gate → a | b | … → end, with the gate's outgoing edges given."""
    targets = [b["to"] for b in branches]
    nodes = [START, node("gate", kind), *(node(t) for t in dict.fromkeys(targets)), END]
    edges = [["start", "gate"], *branches, *(edge(t, "end", action="done") for t in dict.fromkeys(targets))]
    return app(nodes, edges)


@pytest.mark.parametrize("kind", ["exclusive", "inclusive"])
def test_a_gateway_with_branches_needs_a_default(kind):
    definition = gateway_flow(
        kind, edge("gate", "a", **{"if": "level == 'high'"}), edge("gate", "b", **{"if": "level == 'low'"})
    )
    assert problems(definition) == {(f"{FLOW}.nodes[1]", "check.flow.gateway_no_default")}


def test_a_gateway_has_only_one_default():
    definition = gateway_flow(
        "exclusive",
        edge("gate", "a", default=True),
        edge("gate", "b", default=True),
        edge("gate", "c", **{"if": "level == 'high'"}),
    )
    assert problems(definition) == {(at_edge(2, "default"), "check.flow.gateway_many_defaults")}


@pytest.mark.parametrize("kind", ["exclusive", "inclusive"])
def test_every_branch_but_the_default_needs_a_condition(kind):
    definition = gateway_flow(kind, edge("gate", "a", default=True), edge("gate", "b"))
    assert problems(definition) == {(at_edge(2), "check.flow.branch_needs_condition")}


def test_a_gateway_with_one_edge_needs_no_default_but_still_a_condition_or_default():
    assert problems(gateway_flow("exclusive", edge("gate", "a", default=True))) == set()
    assert problems(gateway_flow("exclusive", edge("gate", "a", **{"if": "level == 'high'"}))) == set()
    assert problems(gateway_flow("exclusive", edge("gate", "a"))) == {
        (at_edge(1), "check.flow.branch_needs_condition")
    }


def test_a_condition_on_an_edge_that_does_not_leave_a_gateway_is_refused():
    definition = work_flow(node("b"), edges=[edge("work", "b", action="go", **{"if": "level == 'high'"})])
    definition["ticket_types"]["ticket"]["flow"]["edges"].append(["b", "end"])
    assert problems(definition) == {(at_edge(2, "if"), "check.flow.if_off_gateway")}


def test_a_default_on_an_edge_that_does_not_leave_a_gateway_is_refused():
    nodes = [START, node("work"), END]
    edges = [["start", "work"], edge("work", "end", default=True)]
    assert problems(app(nodes, edges)) == {(at_edge(1, "default"), "check.flow.default_off_gateway")}


@pytest.mark.parametrize("key", ["if", "default"])
def test_a_parallel_split_takes_every_branch_so_its_edges_have_no_condition(key):
    value = True if key == "default" else "level == 'high'"
    nodes = [START, node("split", "parallel"), node("a"), node("b"), node("meet", "join"), END]
    edges = [
        ["start", "split"],
        edge("split", "a", **{key: value}),
        ["split", "b"],
        ["a", "meet"],
        ["b", "meet"],
        ["meet", "end"],
    ]
    assert problems(app(nodes, edges)) == {(at_edge(1, key), "check.flow.parallel_branch_condition")}


def test_an_unknown_field_in_an_edge_condition_is_reported_with_its_column():
    text = """\
app: flows
name: Flows
ticket_types:
  ticket:
    name: Ticket
    form: {sections: [{id: main, fields: [{key: level, type: text}]}]}
    flow:
      nodes: [{id: start, type: start}, {id: gate, type: exclusive}, {id: end, type: end}]
      edges:
        - [start, gate]
        - {from: gate, to: end, if: "level == 'x' or levle == 'y'"}
        - {from: gate, to: end, default: true}
"""
    (problem,) = refused(text).problems
    assert (problem.path, problem.code) == (at_edge(1, "if"), "expr.unknown_name")
    assert problem.line == 11 and problem.column == text.splitlines()[10].index('"level') + 1
    assert problem.params["column"] == len("level == 'x' or ") + 1
    assert "levle" in problem.message("en") and "levle" in problem.message("zh")


# --- joins -----------------------------------------------------------------------------------------


def test_a_join_fed_by_the_alternatives_of_an_exclusive_gateway_never_completes():
    nodes = [START, node("gate", "exclusive"), node("a"), node("b"), node("meet", "join"), END]
    edges = [
        ["start", "gate"],
        edge("gate", "a", **{"if": "level == 'high'"}),
        edge("gate", "b", default=True),
        ["a", "meet"],
        ["b", "meet"],
        ["meet", "end"],
    ]
    assert problems(app(nodes, edges)) == {(at_node(nodes, "meet"), "check.flow.join_never_completes")}
    message = refused(app(nodes, edges)).problems[0].message("en")
    assert "Join meet can never complete" in message and "part at gate (exclusive)" in message


def test_a_join_fed_by_two_actions_of_one_task_never_completes():
    nodes = [START, node("work"), node("a"), node("b"), node("meet", "join"), END]
    edges = [
        ["start", "work"],
        edge("work", "a", action="left"),
        edge("work", "b", action="right"),
        ["a", "meet"],
        ["b", "meet"],
        ["meet", "end"],
    ]
    assert problems(app(nodes, edges)) == {(at_node(nodes, "meet"), "check.flow.join_never_completes")}


def test_a_join_fed_by_an_exclusive_branch_inside_a_parallel_branch_never_completes():
    # split → a, and split → gate → b | c: the join waits for a, b and c, but only b or c comes.
    nodes = [START, node("split", "parallel"), node("a"), node("gate", "exclusive"), node("b"), node("c")]
    nodes += [node("meet", "join"), END]
    edges = [
        ["start", "split"],
        ["split", "a"],
        ["split", "gate"],
        ["a", "meet"],
        ["b", "meet"],
        ["c", "meet"],
    ]
    edges += [
        edge("gate", "b", **{"if": "level == 'high'"}),
        edge("gate", "c", default=True),
        ["meet", "end"],
    ]
    assert problems(app(nodes, edges)) == {(at_node(nodes, "meet"), "check.flow.join_never_completes")}


def test_a_parallel_split_inside_an_exclusive_branch_resynchronises_at_its_join():
    nodes = [START, node("gate", "exclusive"), node("split", "parallel"), node("a"), node("b")]
    nodes += [node("meet", "join"), node("solo"), END]
    edges = [
        ["start", "gate"],
        edge("gate", "split", **{"if": "level == 'high'"}),
        edge("gate", "solo", default=True),
        ["split", "a"],
        ["split", "b"],
        ["a", "meet"],
        ["b", "meet"],
        ["meet", "end"],
        ["solo", "end"],
    ]
    assert problems(app(nodes, edges)) == set()


def test_a_join_waiting_for_an_edge_that_comes_after_it_never_completes():
    nodes = [START, node("work"), node("meet", "join"), node("again"), END]
    edges = [
        ["start", "work"],
        ["work", "meet"],
        ["meet", "again"],
        edge("again", "meet", action="redo"),
        edge("again", "end", action="done"),
    ]
    assert problems(app(nodes, edges)) == {(at_node(nodes, "meet"), "check.flow.join_waits_for_itself")}


# --- start, end and actions ----------------------------------------------------------------------


def test_an_edge_into_the_start_is_refused():
    definition = work_flow(edges=[edge("work", "start", action="restart")])
    assert problems(definition) == {(at_edge(2), "check.flow.start_has_incoming")}


def test_an_edge_out_of_an_end_is_refused():
    definition = work_flow(edges=[["end", "work"]])
    assert problems(definition) == {(at_edge(2), "check.flow.end_has_outgoing")}


def test_one_action_twice_out_of_one_node_is_refused():
    definition = work_flow(node("b"), edges=[edge("work", "b", action="done"), ["b", "end"]])
    assert problems(definition) == {(at_edge(2, "action"), "check.flow.duplicate_action")}


@pytest.mark.parametrize(
    ("source", "kind", "options"),
    [("gate", "exclusive", {"default": True}), ("gate", "parallel", {}), ("start", "start", {})],
)
def test_an_action_on_an_edge_out_of_a_node_nobody_works_at_is_refused(source, kind, options):
    nodes = [START, node("gate", kind), END] if source == "gate" else [START, END]
    edges = [edge(source, "end", action="go", **options), *([["start", "gate"]] if source == "gate" else [])]
    assert problems(app(nodes, edges)) == {(at_edge(0, "action"), "check.flow.action_off_task")}


# --- node keys by type ---------------------------------------------------------------------------

MULTI_ASSIGNEES = {"assignees": [{"user": "ann"}, {"user": "bob"}]}


@pytest.mark.parametrize("mode", ["countersign", "or_sign", "sequential", "percentage"])
def test_a_signing_mode_needs_several_approvers(mode):
    threshold = {"threshold": 0.5} if mode == "percentage" else {}
    definition = work_flow(node("sign", "approval", mode=mode, assignee={"user": "ann"}, **threshold))
    definition["ticket_types"]["ticket"]["flow"]["edges"] += [["work", "sign"], ["sign", "end"]]
    definition["ticket_types"]["ticket"]["flow"]["edges"][1] = edge("work", "end", action="skip")
    assert problems(definition) == {(f"{FLOW}.nodes[3]", "check.flow.approval_needs_assignees")}


@pytest.mark.parametrize(
    "people",
    [MULTI_ASSIGNEES, {"assignee": {"role": "lead"}}, {"assignee": {"department_members": "IT"}}],
    ids=["assignees", "role", "department-members"],
)
def test_a_countersign_by_a_list_or_a_group_is_sound(people):
    nodes = [START, node("sign", "approval", mode="countersign", **people), END]
    assert problems(app(nodes, [["start", "sign"], ["sign", "end"]])) == set()


def test_a_percentage_approval_needs_a_threshold():
    nodes = [START, node("sign", "approval", mode="percentage", **MULTI_ASSIGNEES), END]
    assert problems(app(nodes, [["start", "sign"], ["sign", "end"]])) == {
        (f"{FLOW}.nodes[1]", "check.flow.percentage_needs_threshold")
    }


def test_a_count_threshold_above_the_listed_approvers_can_never_pass():
    nodes = [START, node("sign", "approval", mode="percentage", threshold=3, **MULTI_ASSIGNEES), END]
    assert problems(app(nodes, [["start", "sign"], ["sign", "end"]])) == {
        (f"{FLOW}.nodes[1].threshold", "check.flow.threshold_above_assignees")
    }


@pytest.mark.parametrize(
    "listed",
    [[{"role": "lead"}], [{"user": "ann"}, {"field": "reviewers"}]],
    ids=["role", "multiple-user-field"],
)
def test_a_count_threshold_over_a_group_is_not_counted_against_the_list(listed):
    nodes = [START, node("sign", "approval", mode="percentage", threshold=3, assignees=listed), END]
    assert problems(app(nodes, [["start", "sign"], ["sign", "end"]])) == set()


def test_a_threshold_without_percentage_mode_is_refused():
    nodes = [START, node("sign", "approval", mode="countersign", threshold=0.5, **MULTI_ASSIGNEES), END]
    assert problems(app(nodes, [["start", "sign"], ["sign", "end"]])) == {
        (f"{FLOW}.nodes[1].threshold", "check.flow.threshold_not_percentage")
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mode", "countersign"),
        ("assignees", [{"user": "ann"}]),
        ("threshold", 0.5),
        ("on_reject", "end"),
        ("wait", {"duration": "1h"}),
        ("actions", [{"comment": "hi"}]),
        ("ticket_type", "other"),
    ],
)
def test_a_key_of_another_node_type_on_a_task_is_refused(key, value):
    definition = work_flow()
    definition["ticket_types"]["ticket"]["flow"]["nodes"][1][key] = value
    assert problems(definition) == {(f"{FLOW}.nodes[1].{key}", "check.flow.key_not_for_node")}


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("timer", "check.flow.timer_needs_wait"),
        ("auto", "check.flow.auto_needs_actions"),
        ("subprocess", "check.flow.subprocess_needs_type"),
    ],
)
def test_a_node_without_what_its_type_works_on_is_refused(kind, code):
    nodes = [START, node("step", kind), END]
    assert problems(app(nodes, [["start", "step"], ["step", "end"]])) == {(f"{FLOW}.nodes[1]", code)}


def test_a_subprocess_of_its_own_ticket_type_would_recurse_forever():
    nodes = [START, node("again", "subprocess", ticket_type="ticket"), END]
    assert problems(app(nodes, [["start", "again"], ["again", "end"]])) == {
        (f"{FLOW}.nodes[1].ticket_type", "check.flow.subprocess_recursive")
    }


def test_dispatch_teams_and_default_must_be_roles():
    dispatch = {
        "by": "keyword",
        "field": "title",
        "teams": {"网络": "agent", "账号": "iam"},
        "default": "pool",
    }
    definition = work_flow()
    definition["ticket_types"]["ticket"]["flow"]["nodes"][1]["assignee"] = {"dispatch": dispatch}
    assert problems(definition) == {
        (f"{FLOW}.nodes[1].assignee.dispatch.teams.账号", "check.unknown_role"),
        (f"{FLOW}.nodes[1].assignee.dispatch.default", "check.unknown_role"),
    }


# --- returns and reopening -------------------------------------------------------------------------


def two_steps(**flow: Any) -> dict[str, Any]:
    """start → first → gate → second → end."""
    nodes = [START, node("first"), node("gate", "exclusive"), node("second"), END]
    edges = [["start", "first"], ["first", "gate"], edge("gate", "second", default=True), ["second", "end"]]
    return app(nodes, edges, **flow)


def test_returning_to_an_earlier_person_step_is_sound():
    assert problems(two_steps(returns={"second": ["first"]}, reopen_to="second")) == set()


def test_only_a_person_step_can_return_a_ticket():
    assert problems(two_steps(returns={"gate": ["first"]})) == {
        (f"{FLOW}.returns.gate", "check.flow.return_from_not_task")
    }


def test_a_ticket_can_only_be_returned_to_a_person_step():
    assert problems(two_steps(returns={"second": ["gate"]})) == {
        (f"{FLOW}.returns.second[0]", "check.flow.return_to_not_task")
    }


def test_a_ticket_cannot_be_returned_to_a_later_step():
    definition = two_steps(returns={"first": ["second"]})
    assert problems(definition) == {(f"{FLOW}.returns.first[0]", "check.flow.return_not_before")}
    assert "first cannot return to second" in refused(definition).problems[0].message("en")


def test_reopening_goes_to_a_person_step():
    assert problems(two_steps(reopen_to="gate")) == {(f"{FLOW}.reopen_to", "check.flow.reopen_not_task")}
    assert problems(two_steps(reopen_to="nowhere")) == {(f"{FLOW}.reopen_to", "check.unknown_node")}


# --- messages ----------------------------------------------------------------------------------------


def flow_codes() -> set[str]:
    return set(re.findall(r'"(check\.flow\.[a-z_]+)"', inspect.getsource(checks))) | {
        f"check.flow.{key}_off_gateway" for key in ("if", "default")
    }


def test_every_flow_check_code_has_a_chinese_and_an_english_text():
    codes = flow_codes()
    assert len(codes) >= 25
    for code in sorted(codes):
        assert known(code), code
        zh, en = t(code, "zh"), t(code, "en")
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert en != zh and not re.search(r"[\u4e00-\u9fff]", en), code


# --- a large flow ------------------------------------------------------------------------------------


def large_flow(blocks: int) -> tuple[list[dict[str, Any]], list[Any], dict[str, list[str]]]:
    """A chain of five-node blocks (a task, a gateway, two branch tasks, where they meet) between a start
    and an end: even blocks split in parallel and meet at a join, odd ones choose and merge in an auto
    step. Each branch task may return to the block's task and the one before."""
    nodes: list[dict[str, Any]] = [START]
    edges: list[Any] = []
    returns: dict[str, list[str]] = {}
    previous = "start"
    for i in range(blocks):
        work, gate, a, b, meet = f"w{i}", f"g{i}", f"a{i}", f"b{i}", f"m{i}"
        edges += [[previous, work], edge(work, gate, action="go")]
        if i % 2:
            nodes += [node(work), node(gate, "exclusive"), node(a), node(b)]
            nodes.append(node(meet, "auto", actions=[{"comment": "merged"}]))
            edges += [edge(gate, a, **{"if": f"title == '{i}'"}), edge(gate, b, default=True)]
        else:
            nodes += [node(work), node(gate, "parallel"), node(a), node(b), node(meet, "join")]
            edges += [[gate, a], [gate, b]]
        edges += [edge(a, meet, action="done"), edge(b, meet, action="done")]
        returns[a] = [work, f"w{i - 1}"] if i else [work]
        previous = meet
    nodes.append(END)
    edges.append([previous, "end"])
    return nodes, edges, returns


def test_a_flow_of_ten_thousand_nodes_passes_the_checks_and_its_faults_are_each_found_on_load():
    nodes, edges, returns = large_flow(2000)
    assert len(nodes) == 10_002
    assert run_checks(app(nodes, edges, returns=returns)) == []

    # Three faults far apart: a join after a choice, a closed loop, and a node nothing leads to.
    # (One load only: validating 10,000 nodes against the JSON Schema is what takes the time.)
    chosen = next(i for i, n in enumerate(nodes) if n["id"] == "m1001")
    nodes[chosen] = node("m1001", "join")
    nodes += [node("spin1"), node("spin2"), node("orphan")]
    edges += [edge("w1500", "spin1", action="stray"), ["spin1", "spin2"], ["spin2", "spin1"]]
    edges.append(edge("orphan", "end", action="done"))
    assert problems(app(nodes, edges, returns=returns)) == {
        (at_node(nodes, "m1001"), "check.flow.join_never_completes"),
        (at_node(nodes, "spin1"), "check.flow.loop_no_exit"),
        (at_node(nodes, "orphan"), "check.flow.unreachable"),
    }
