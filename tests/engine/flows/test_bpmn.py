"""BPMN import: bpmn.io and Camunda Modeler files become flows the loader accepts; the rest is reported."""

from __future__ import annotations

import copy
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from engine.definitions.loader import load_definition
from engine.definitions.source import MAX_BYTES
from engine.errors import DefinitionError, NotFoundError
from engine.expressions import evaluate
from engine.flows.bpmn import (
    BPMN,
    KEY,
    convert,
    convert_document,
    convert_file,
    derive_key,
    hints,
    iso_duration,
    translate_condition,
    with_flow,
)
from engine.i18n import known

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bpmn"
TOOL_FILES = ("approval.bpmn", "bpmn_io.bpmn", "camunda7.bpmn", "camunda8.bpmn")
HEADER = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="http://bpmn.io/schema/bpmn">'
)


def bpmn(body: str, process: str = '<bpmn:process id="p" isExecutable="true">') -> bytes:
    """A BPMN document holding one process with ``body``."""
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{HEADER}{process}{body}</bpmn:process></bpmn:definitions>'
    )
    return text.encode()


def line(
    *elements: str, start: str = '<bpmn:startEvent id="s"/>', end: str = '<bpmn:endEvent id="e"/>'
) -> bytes:
    """start → each element (ids a, b, c…) → end, chained by sequence flows."""
    ids = ["s", *(chr(ord("a") + i) for i in range(len(elements))), "e"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{x}" targetRef="{y}"/>'
        for i, (x, y) in enumerate(pairwise(ids))
    )
    return bpmn(start + "".join(elements) + end + flows)


def codes(problems: list[Any]) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems]


def node(flow: dict[str, Any], key: str) -> dict[str, Any]:
    return next(n for n in flow["nodes"] if n["id"] == key)


def edges(flow: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"from": e[0], "to": e[1]} if isinstance(e, list) else e for e in flow["edges"]]


def app_with(flow: dict[str, Any]) -> dict[str, Any]:
    """An app whose ``claim`` ticket type runs ``flow``; its form has the fields the fixtures use."""
    form = {
        "sections": [
            {
                "id": "main",
                "fields": [
                    {"key": "amount", "type": "number"},
                    {"key": "vip", "type": "checkbox"},
                    {"key": "priority", "type": "select", "options": ["P1", "P2", "P3"]},
                    {"key": "category", "type": "select", "options": ["billing", "quality"]},
                    {"key": "due_date", "type": "date"},
                ],
            }
        ]
    }
    return {
        "app": "claims",
        "name": "Claims",
        "roles": {"support": "Support", "finance": "Finance"},
        "ticket_types": {
            "claim": {"name": "Claim", "form": form, "flow": flow},
            "refund": {"name": "Refund", "form": copy.deepcopy(form)},
        },
    }


def paths(start: str, ends: set[str], pairs: list[tuple[str, str]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    stack = [(start,)]
    while stack:
        path = stack.pop()
        if path[-1] in ends:
            found.add(path)
            continue
        stack.extend((*path, b) for a, b in pairs if a == path[-1] and b not in path)
    return found


def bpmn_paths(data: bytes, keys: dict[str, str]) -> set[tuple[str, ...]]:
    """Every start-to-end path of the BPMN graph, read straight from the XML, in node keys."""
    process = next(
        p for p in fromstring(data).iter(f"{{{BPMN}}}process") if len(p.findall(f"{{{BPMN}}}startEvent"))
    )
    pairs = [(f.get("sourceRef"), f.get("targetRef")) for f in process.iter(f"{{{BPMN}}}sequenceFlow")]
    start = process.find(f"{{{BPMN}}}startEvent").get("id")
    ends = {e.get("id") for e in process.iter(f"{{{BPMN}}}endEvent")}
    return {tuple(keys[i] for i in p) for p in paths(start, ends, pairs)}


def flow_paths(flow: dict[str, Any]) -> set[tuple[str, ...]]:
    start = next(n["id"] for n in flow["nodes"] if n["type"] == "start")
    ends = {n["id"] for n in flow["nodes"] if n["type"] == "end"}
    return paths(start, ends, [(e["from"], e["to"]) for e in edges(flow)])


# --------------------------------------------------------------------------- files from the tools
@pytest.mark.parametrize("name", TOOL_FILES)
def test_each_tools_file_converts_into_a_flow_the_loader_accepts(name):
    data = (FIXTURES / name).read_bytes()
    result = convert_document(data)
    assert result.problems == []
    assert all(KEY.match(n["id"]) for n in result.flow["nodes"])
    load_definition(app_with(result.flow))  # schema, cross-references, expressions, compiled specs
    assert flow_paths(result.flow) == bpmn_paths(data, result.keys)


def test_approval_bpmn_branches_on_amount_with_a_default_and_splits_and_joins_in_parallel():
    flow, problems = convert((FIXTURES / "approval.bpmn").read_bytes())
    assert problems == []
    assert node(flow, "gw_amount") == {"id": "gw_amount", "type": "exclusive", "name": "Amount?"}
    out_of_gateway = [e for e in edges(flow) if e["from"] == "gw_amount"]
    assert out_of_gateway == [
        {"from": "gw_amount", "to": "manager_approval", "if": "amount > 1000"},
        {"from": "gw_amount", "to": "lead_approval", "default": True},
    ]
    assert node(flow, "gw_split")["type"] == "parallel" and node(flow, "gw_join")["type"] == "join"
    assert sorted(e["to"] for e in edges(flow) if e["from"] == "gw_split") == ["fix", "notify_customer"]
    assert sorted(e["from"] for e in edges(flow) if e["to"] == "gw_join") == ["fix", "notify_customer"]
    assert node(flow, "triage") == {"id": "triage", "type": "task", "name": "Triage"}
    assert flow_paths(flow) == {
        ("start", "triage", "gw_amount", branch, "gw_merge", "gw_split", work, "gw_join", "end")
        for branch in ("manager_approval", "lead_approval")
        for work in ("fix", "notify_customer")
    }


def test_bpmn_io_file_keeps_names_timers_and_lanes_and_ignores_annotations():
    result = convert_file(FIXTURES / "bpmn_io.bpmn")
    flow = result.flow
    assert result.process_id == "Process_1"  # picked through the collaboration's participant
    assert node(flow, "activity_0wq5r0n")["name"] == "Escalate to on-call"  # a line break in the name
    assert node(flow, "event_0a9zq1c")["wait"] == {"duration": "2d"}
    assert node(flow, "activity_05f5n2m")["type"] == "task"  # a manual task
    assert {"from": "gateway_0m5c3rl", "to": "activity_1x3b9kc", "default": True, "name": "Other"} in edges(
        flow
    )
    assert result.lanes["On-call engineers"] == ["activity_0wq5r0n"]
    assert "lane On-call engineers: activity_0wq5r0n" in hints(result, "en")
    assert "StartEvent_1 → start_event_1" in hints(result, "en")
    assert not any("annotation" in n["id"] or "association" in n["id"] for n in flow["nodes"])


def test_camunda7_file_maps_assignees_connector_conditions_and_timer():
    flow = convert_file(FIXTURES / "camunda7.bpmn").flow
    assert node(flow, "activity_0yq2m7c")["assignee"] == {"role": "support"}
    assert node(flow, "activity_1ph3v2n")["assignee"] == {"expr": "['wang.li', 'zhao.min']"}
    assert node(flow, "activity_0r6w1bd")["assignee"] == {"user": "chen.jing"}
    assert node(flow, "activity_0hj3k8s")["assignee"] == {"submitter": True}  # ${initiator}
    assert node(flow, "activity_1s0pdq4")["type"] == "auto"
    assert node(flow, "activity_1s0pdq4")["actions"] == [
        {"call": {"url": "https://pay.example.com/api/refunds", "method": "POST"}}
    ]
    conditions = {e["to"]: e.get("if") for e in edges(flow) if e["from"] == "gateway_1c0y8lq"}
    assert conditions == {
        "activity_1ph3v2n": "amount > 1000 and not vip",
        "activity_0r6w1bd": "vip == true",
        "activity_1s0pdq4": None,
    }
    assert node(flow, "event_1m4n0fa")["wait"] == {"duration": "4h"}
    assert (
        node(flow, "gateway_1n2yq9v")["type"] == "parallel"
        and node(flow, "gateway_0ljz5xw")["type"] == "join"
    )


def test_camunda8_file_maps_zeebe_assignees_feel_rest_connector_and_call_activity():
    flow = convert_file(FIXTURES / "camunda8.bpmn").flow
    assert node(flow, "activity_1yk5a0m")["assignee"] == {"role": "support"}
    assert node(flow, "activity_0c5tq0e")["assignee"] == {"user": "li.lei"}
    assert node(flow, "activity_0xq7r4c") == {
        "id": "activity_0xq7r4c",
        "type": "subprocess",
        "name": "Refund",
        "ticket_type": "refund",
    }
    assert node(flow, "activity_16m0w2k")["actions"] == [
        {"call": {"url": "https://crm.example.com/api/complaints", "method": "POST", "timeout_s": 30}}
    ]
    yes = next(e for e in edges(flow) if e["to"] == "activity_0xq7r4c")
    assert yes["if"] == "amount > 1000 and category == 'billing'" and yes["name"] == "Yes"
    assert node(flow, "event_0t6a4v1")["wait"] == {"duration": "30m"}


# --------------------------------------------------------------------------- what cannot be kept
def test_unmappable_elements_are_each_reported_by_id_tag_and_line():
    _, problems = convert((FIXTURES / "unmappable.bpmn").read_bytes())
    assert sorted(codes(problems)) == sorted(
        [
            ("bpmn:StartEvent_1", "bpmn.event_trigger"),
            ("bpmn:Activity_0t5ap3e", "bpmn.multi_instance"),
            ("bpmn:Event_1b4ya2k", "bpmn.boundary"),
            ("bpmn:Activity_1r2m9wd", "bpmn.service_task"),
            ("bpmn:Gateway_0e1v7bg", "bpmn.gateway"),
            ("bpmn:Event_0y6pm1x", "bpmn.event_trigger"),
            ("bpmn:Event_1w0c8hd", "bpmn.timer_cycle"),
            ("bpmn:Activity_0k9c4de", "bpmn.sub_process"),
            ("bpmn:Flow_0x9y8z7", "bpmn.condition"),
            ("bpmn:Activity_0s3c0re", "bpmn.script_task"),
            ("bpmn:DataObjectReference_0i7n2vc", "bpmn.data"),
            ("bpmn:Activity_1l0g5yz", "bpmn.listener"),
            ("bpmn:Event_0r8e2xs", "bpmn.event_trigger"),
        ]
    )
    assert all(p.line and p.column for p in problems)
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    boundary = next(p for p in problems if p.code == "bpmn.boundary")
    assert boundary.line == 14
    message = boundary.render("en")
    assert "bpmn:Event_1b4ya2k (line 14" in message and "Activity_0t5ap3e" in message and "sla" in message
    start = next(p for p in problems if p.path == "bpmn:StartEvent_1")
    assert "startEvent" in start.render("en") and "message" in start.render("en")
    assert "startEvent" in start.render("zh")


def test_every_problem_says_what_to_do_in_both_languages():
    _, problems = convert((FIXTURES / "unmappable.bpmn").read_bytes())
    for problem in problems:
        assert known(problem.code)
        for lang in ("zh", "en"):
            text = problem.message(lang)
            assert "…" not in text and not re.search(r"(?<!\$)\{\w+\}", text), text  # placeholders filled


@pytest.mark.parametrize(
    ("element", "code"),
    [
        ('<bpmn:receiveTask id="a"/>', "bpmn.receive_task"),
        ('<bpmn:businessRuleTask id="a"/>', "bpmn.business_rule_task"),
        ('<bpmn:complexGateway id="a"/>', "bpmn.gateway"),
        ('<bpmn:transaction id="a"/>', "bpmn.sub_process"),
        ('<bpmn:intermediateThrowEvent id="a"/>', "bpmn.throw_event"),
        (
            '<bpmn:intermediateCatchEvent id="a"><bpmn:signalEventDefinition/></bpmn:intermediateCatchEvent>',
            "bpmn.event_trigger",
        ),
        ('<bpmn:userTask id="a"><bpmn:standardLoopCharacteristics/></bpmn:userTask>', "bpmn.loop"),
        ('<bpmn:task id="a" isForCompensation="true"/>', "bpmn.compensation"),
        ('<bpmn:userTask id="a" camunda:dueDate="${due}"/>', "bpmn.due_date"),
        (
            '<bpmn:userTask id="a"><bpmn:extensionElements><zeebe:taskSchedule dueDate="=today()"/>'
            "</bpmn:extensionElements></bpmn:userTask>",
            "bpmn.due_date",
        ),
        (
            '<bpmn:userTask id="a"><bpmn:extensionElements><zeebe:taskListeners>'
            '<zeebe:taskListener eventType="assigning" type="audit"/></zeebe:taskListeners>'
            "</bpmn:extensionElements></bpmn:userTask>",
            "bpmn.listener",
        ),
        ('<bpmn:serviceTask id="a" camunda:type="external" camunda:topic="charge"/>', "bpmn.service_task"),
        ('<bpmn:scriptTask id="a" scriptFormat="groovy"/>', "bpmn.script_task"),
        ('<bpmn:dataStoreReference id="a"/>', "bpmn.data"),
        ('<bpmn:callActivity id="a"/>', "bpmn.call_target_missing"),
        ('<bpmn:callActivity id="a" calledElement="${which}"/>', "bpmn.call_target_expression"),
        ('<bpmn:callActivity id="a" calledElement="Refund-Process"/>', "bpmn.call_target_not_key"),
        (
            '<bpmn:callActivity id="a" calledElement="refund"><bpmn:extensionElements>'
            '<camunda:in variables="all"/></bpmn:extensionElements></bpmn:callActivity>',
            "bpmn.call_mappings",
        ),
        ('<bpmn:endEvent id="a"><bpmn:escalationEventDefinition/></bpmn:endEvent>', "bpmn.event_trigger"),
        ('<bpmn:vendorThing id="a"/>', "bpmn.unsupported"),
    ],
)
def test_elements_gongdan_cannot_run_are_reported(element, code):
    _, problems = convert(line(element))
    assert ("bpmn:a", code) in codes(problems)


def test_flows_into_unmapped_elements_are_not_reported_twice():
    _, problems = convert(line('<bpmn:receiveTask id="a"/>'))
    assert codes(problems) == [("bpmn:a", "bpmn.receive_task")]


def test_listener_on_the_process_itself_is_reported():
    body = (
        '<bpmn:extensionElements><camunda:executionListener class="x.Y" event="start"/>'
        '</bpmn:extensionElements><bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
    )
    assert codes(convert(bpmn(body))[1]) == [("bpmn:p", "bpmn.listener")]


def test_what_carries_no_process_meaning_is_ignored_without_problems():
    body = (
        '<bpmn:documentation>why</bpmn:documentation><bpmn:laneSet id="ls"><bpmn:lane id="l" name="Desk">'
        "<bpmn:flowNodeRef>a</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        '<bpmn:textAnnotation id="t"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>'
        '<bpmn:association id="as" sourceRef="a" targetRef="t"/><bpmn:group id="g"/>'
    )
    task = (
        '<bpmn:userTask id="a" camunda:formKey="embedded:app:forms/a.html"><bpmn:extensionElements>'
        '<camunda:inputOutput><camunda:inputParameter name="x">${amount}</camunda:inputParameter>'
        '</camunda:inputOutput><camunda:properties><camunda:property name="k" value="v"/>'
        "</camunda:properties>"
        '<vendor:anything xmlns:vendor="urn:v"/></bpmn:extensionElements></bpmn:userTask>'
    )
    data = line(task).replace(b'<bpmn:startEvent id="s"/>', body.encode() + b'<bpmn:startEvent id="s"/>')
    result = convert_document(data)
    assert result.problems == [] and result.lanes == {"Desk": ["a"]}
    assert [n["id"] for n in result.flow["nodes"]] == ["s", "a", "e"]


def test_a_terminate_end_is_an_end():
    flow, problems = convert(
        line(end='<bpmn:endEvent id="e"><bpmn:terminateEventDefinition id="t"/></bpmn:endEvent>')
    )
    assert problems == [] and node(flow, "e")["type"] == "end"


def test_missing_or_extra_start_and_missing_end_are_reported():
    body = '<bpmn:task id="a"/>'
    assert {c for _, c in codes(convert(bpmn(body))[1])} == {"bpmn.no_start", "bpmn.no_end"}
    two = '<bpmn:startEvent id="s1"/><bpmn:startEvent id="s2"/><bpmn:endEvent id="e"/>'
    flows = (
        '<bpmn:sequenceFlow id="f1" sourceRef="s1" targetRef="e"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="s2" targetRef="e"/>'
    )
    assert codes(convert(bpmn(two + flows))[1]) == [("bpmn:s2", "bpmn.several_starts")]


def test_a_flow_to_an_element_outside_the_process_is_reported():
    data = bpmn(
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="ghost"/>'
    )
    assert ("bpmn:f", "bpmn.dangling_flow") in codes(convert(data)[1])


# --------------------------------------------------------------------------- gateways and flows
def gateway(kind: str, flows: str, default: str = "", incoming: int = 1) -> bytes:
    """s → g (kind) → a | b → e, with the outgoing flows given."""
    sources = "".join(
        f'<bpmn:task id="in{i}"/><bpmn:sequenceFlow id="fi{i}" sourceRef="s" targetRef="in{i}"/>'
        f'<bpmn:sequenceFlow id="fg{i}" sourceRef="in{i}" targetRef="g"/>'
        for i in range(incoming)
    )
    attr = f' default="{default}"' if default else ""
    return bpmn(
        f'<bpmn:startEvent id="s"/>{sources}<bpmn:{kind} id="g"{attr}/><bpmn:task id="a"/><bpmn:task id="b"/>'
        '<bpmn:endEvent id="e"/>'
        f'{flows}<bpmn:sequenceFlow id="fae" sourceRef="a" targetRef="e"/>'
        '<bpmn:sequenceFlow id="fbe" sourceRef="b" targetRef="e"/>'
    )


def conditional(flow_id: str, target: str, condition: str) -> str:
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="g" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def test_inclusive_gateway_keeps_its_conditions_and_default():
    flows = conditional("fa", "a", "${vip}") + '<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>'
    flow, problems = convert(gateway("inclusiveGateway", flows, default="fb"))
    assert problems == [] and node(flow, "g")["type"] == "inclusive"
    assert {"from": "g", "to": "a", "if": "vip"} in edges(flow)
    assert {"from": "g", "to": "b", "default": True} in edges(flow)


def test_a_branch_without_condition_or_default_is_reported():
    flows = conditional("fa", "a", "${vip}") + '<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>'
    assert codes(convert(gateway("exclusiveGateway", flows))[1]) == [
        ("bpmn:fb", "bpmn.branch_without_condition")
    ]


def test_a_default_flow_with_a_condition_is_reported():
    flows = conditional("fa", "a", "${vip}") + conditional("fb", "b", "${amount > 5}")
    problems = convert(gateway("exclusiveGateway", flows, default="fb"))[1]
    assert codes(problems) == [("bpmn:fb", "bpmn.default_with_condition")]


def test_a_condition_outside_a_branching_gateway_is_reported():
    flows = conditional("fa", "a", "${vip}") + '<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>'
    assert codes(convert(gateway("parallelGateway", flows))[1]) == [("bpmn:fa", "bpmn.conditional_flow")]


def test_a_script_condition_is_reported():
    flows = (
        '<bpmn:sequenceFlow id="fa" sourceRef="g" targetRef="a"><bpmn:conditionExpression '
        'xsi:type="bpmn:tFormalExpression" language="javascript">amount &gt; 5</bpmn:conditionExpression>'
        '</bpmn:sequenceFlow><bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>'
    )
    problems = convert(gateway("exclusiveGateway", flows, default="fb"))[1]
    assert codes(problems) == [("bpmn:fa", "bpmn.condition_script")]


def test_a_parallel_gateway_that_joins_and_splits_becomes_a_join_then_a_split():
    body = '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + "".join(
        f'<bpmn:parallelGateway id="{g}"/>' for g in ("fork", "g", "meet")
    )
    body += "".join(f'<bpmn:task id="{t}"/>' for t in ("in0", "in1", "a", "b"))
    pairs = [
        ("s", "fork"),
        ("fork", "in0"),
        ("fork", "in1"),
        ("in0", "g"),
        ("in1", "g"),
        ("g", "a"),
        ("g", "b"),
    ]
    pairs += [("a", "meet"), ("b", "meet"), ("meet", "e")]
    body += "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{x}" targetRef="{y}"/>' for i, (x, y) in enumerate(pairs)
    )
    flow, problems = convert(bpmn(body))
    assert problems == []
    assert node(flow, "g")["type"] == "join" and node(flow, "g_split")["type"] == "parallel"
    assert {"from": "g", "to": "g_split"} in edges(flow)
    assert sorted(e["to"] for e in edges(flow) if e["from"] == "g_split") == ["a", "b"]
    assert sorted(e["from"] for e in edges(flow) if e["to"] == "g") == ["in0", "in1"]
    load_definition(app_with(flow))


# --------------------------------------------------------------------------- conditions
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("amount > 1000", "amount > 1000"),
        ("priority in ('P1', 'P2')", "priority in ('P1', 'P2')"),  # already our language
        ("${amount > 1000}", "amount > 1000"),
        ("#{amount > 1000}", "amount > 1000"),
        ("${a && b}", "a and b"),
        ("${a || b}", "a or b"),
        ("${!a}", "not a"),
        ("${a == 'x' && b != \"y\"}", "a == 'x' and b != 'y'"),
        ("${amount gt 10 and amount lt 20}", "amount > 10 and amount < 20"),
        ("${amount ge 10 or amount le 2}", "amount >= 10 or amount <= 2"),
        ("${a eq 1 && not (b ne 2)}", "a == 1 and not b != 2"),
        ("${amount div 2 mod 3 > 1}", "amount / 2 % 3 > 1"),
        ("${vip ? 'fast' : 'slow'}", "'fast' if vip else 'slow'"),
        ("${execution.getVariable('amount') > 5}", "amount > 5"),
        ("${customer.tier == 'gold'}", "customer.tier == 'gold'"),
        ("${items[0].qty >= 2}", "items[0].qty >= 2"),
        ("${len(items) > 0 && vip == true}", "len(items) > 0 and vip == true"),
        ("${approved == null}", "approved == null"),
        ("= amount > 1000", "amount > 1000"),
        ('=amount > 1000 and category = "billing"', "amount > 1000 and category == 'billing'"),
        ("= not(vip) or amount != 5", "not vip or amount != 5"),
        ("a && !b", "a and not b"),
        ("${name == 'it\\'s'}", 'name == "it\'s"'),
    ],
)
def test_conditions_translate_into_our_language(source, expected):
    assert translate_condition(source) == expected


@pytest.mark.parametrize(
    ("source", "context", "value"),
    [
        ("${!a == b}", {"a": True, "b": False}, True),  # (!a) == b, not !(a == b)
        ("${a < b == c}", {"a": 1, "b": 2, "c": True}, True),  # relational binds tighter, no chaining
        ("${a - (b - c)}", {"a": 10, "b": 5, "c": 2}, 7),
        ("${a - b - c}", {"a": 10, "b": 5, "c": 2}, 3),
        ("${a || b && c}", {"a": True, "b": False, "c": False}, True),
        ("${-a * 2 > -5}", {"a": 2}, True),
    ],
)
def test_translated_conditions_keep_juel_precedence(source, context, value):
    assert evaluate(translate_condition(source), context) == value


@pytest.mark.parametrize(
    "source",
    [
        "${empty comment}",
        "${name.equals('x')}",
        "${a = 1}",
        "= x in [1..3]",
        "${a} and ${b}",
        "${fn:contains(a, 'x')}",
        "${a &&}",
        "${_secret > 1}",
        "= if vip then 1 else 2",
    ],
)
def test_conditions_that_cannot_be_translated_are_reported_on_their_flow(source):
    flows = (
        conditional("fa", "a", source.replace("&", "&amp;"))
        + '<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>'
    )
    problems = convert(gateway("exclusiveGateway", flows, default="fb"))[1]
    assert codes(problems) == [("bpmn:fa", "bpmn.condition")]
    text = problems[0].render("en")
    assert source in text and "Rewrite it in the modeler" in text


# --------------------------------------------------------------------------- ids, timers, assignees
def test_ids_become_unique_valid_keys_and_the_mapping_is_kept():
    long_id = "Activity_" + "x" * 60
    elements = (
        '<bpmn:task id="Task_1"/>',
        '<bpmn:task id="task_1"/>',
        '<bpmn:task id="1st-step"/>',
        '<bpmn:task id="managerApproval"/>',
        f'<bpmn:task id="{long_id}"/>',
        '<bpmn:task id="审批"/>',
    )
    ids = ["s", "Task_1", "task_1", "1st-step", "managerApproval", long_id, "审批", "e"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{x}" targetRef="{y}"/>'
        for i, (x, y) in enumerate(pairwise(ids))
    )
    result = convert_document(
        bpmn('<bpmn:startEvent id="s"/>' + "".join(elements) + '<bpmn:endEvent id="e"/>' + flows)
    )
    keys = [n["id"] for n in result.flow["nodes"]]
    assert all(KEY.match(k) for k in keys) and len(set(keys)) == len(keys)
    assert result.keys["task_1"] == "task_1"  # a valid id keeps its name…
    assert result.keys["Task_1"] == "task_1_2"  # …and the one that would collide with it moves
    assert result.keys["1st-step"] == "n_1st_step"
    assert result.keys["managerApproval"] == "manager_approval"
    assert result.keys[long_id] == derive_key(long_id) and len(result.keys[long_id]) == 40
    assert result.keys["审批"] == "node"
    assert flow_paths(result.flow) == {tuple(result.keys.get(i, i) for i in ids)}


@pytest.mark.parametrize(
    ("iso", "duration"),
    [
        ("PT4H", "4h"),
        ("P2D", "2d"),
        ("PT30M", "30m"),
        ("P1W", "1w"),
        ("P1DT12H", "36h"),
        ("PT1.5H", "90m"),
        ("P14D", "2w"),
        ("PT120S", "2m"),
    ],
)
def test_iso_durations_become_gongdan_durations(iso, duration):
    assert iso_duration(iso) == (duration, None)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("P1M", "bpmn.timer_months"),
        ("P1Y", "bpmn.timer_months"),
        ("PT30S", "bpmn.timer_seconds"),
        ("PT0M", "bpmn.timer_bad_duration"),
        ("soon", "bpmn.timer_bad_duration"),
        ("PT", "bpmn.timer_bad_duration"),
        ("${delay}", "bpmn.timer_expression"),
    ],
)
def test_timer_durations_gongdan_cannot_wait_are_reported(text, code):
    timer = (
        '<bpmn:intermediateCatchEvent id="a"><bpmn:timerEventDefinition><bpmn:timeDuration>'
        f"{text}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    assert codes(convert(line(timer))[1]) == [("bpmn:a", code)]


def test_a_timer_date_naming_a_field_waits_until_that_field():
    timer = (
        '<bpmn:intermediateCatchEvent id="a"><bpmn:timerEventDefinition><bpmn:timeDate>{}</bpmn:timeDate>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    flow, problems = convert(line(timer.format("${due_date}")))
    assert problems == [] and node(flow, "a")["wait"] == {"until": "due_date"}
    load_definition(app_with(flow))
    assert codes(convert(line(timer.format("2026-12-24T09:00:00")))[1]) == [("bpmn:a", "bpmn.timer_date")]


@pytest.mark.parametrize(
    ("attributes", "assignee"),
    [
        ('camunda:assignee="alice"', {"user": "alice"}),
        ('camunda:candidateUsers="alice"', {"user": "alice"}),
        ('camunda:candidateUsers="alice, bob"', {"expr": "['alice', 'bob']"}),
        ('camunda:candidateGroups="support"', {"role": "support"}),
        ('camunda:assignee="${owner}"', {"expr": "owner"}),
        ('xmlns:flowable="http://flowable.org/bpmn" flowable:candidateGroups="finance"', {"role": "finance"}),
    ],
)
def test_camunda_assignees_become_gongdan_assignees(attributes, assignee):
    flow, problems = convert(line(f'<bpmn:userTask id="a" {attributes}/>'))
    assert problems == [] and node(flow, "a")["assignee"] == assignee


@pytest.mark.parametrize(
    ("attributes", "assignee"),
    [
        ('assignee="alice"', {"user": "alice"}),
        ('candidateGroups="support"', {"role": "support"}),
        ('candidateUsers="alice,bob"', {"expr": "['alice', 'bob']"}),
        ('assignee="= owner"', {"expr": "owner"}),
    ],
)
def test_zeebe_assignment_definitions_become_gongdan_assignees(attributes, assignee):
    task = (
        '<bpmn:userTask id="a"><bpmn:extensionElements><zeebe:userTask/>'
        f"<zeebe:assignmentDefinition {attributes}/></bpmn:extensionElements></bpmn:userTask>"
    )
    flow, problems = convert(line(task))
    assert problems == [] and node(flow, "a")["assignee"] == assignee


def test_the_camunda_initiator_becomes_the_submitter():
    start = '<bpmn:startEvent id="s" camunda:initiator="starter"/>'
    flow, _ = convert(line('<bpmn:userTask id="a" camunda:assignee="${starter}"/>', start=start))
    assert node(flow, "a")["assignee"] == {"submitter": True}


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ('camunda:assignee="alice" camunda:candidateGroups="support"', "bpmn.several_assignees"),
        ('camunda:candidateGroups="support,finance"', "bpmn.several_groups"),
        ('camunda:candidateGroups="Support Team"', "bpmn.group_not_key"),
        ('camunda:candidateGroups="${groups}"', "bpmn.group_expression"),
        ('camunda:assignee="${users.get(0)}"', "bpmn.assignee_expression"),
    ],
)
def test_assignees_gongdan_cannot_keep_are_reported(attributes, code):
    assert codes(convert(line(f'<bpmn:userTask id="a" {attributes}/>'))[1]) == [("bpmn:a", code)]


# --------------------------------------------------------------------------- service tasks
def camunda_connector(params: str) -> str:
    return (
        '<bpmn:serviceTask id="a"><bpmn:extensionElements><camunda:connector><camunda:inputOutput>'
        f"{params}</camunda:inputOutput><camunda:connectorId>http-connector</camunda:connectorId>"
        "</camunda:connector></bpmn:extensionElements></bpmn:serviceTask>"
    )


def rest_connector(inputs: str, headers: str = "") -> str:
    return (
        '<bpmn:serviceTask id="a"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="io.camunda:http-json:1"/>'
        f"<zeebe:ioMapping>{inputs}</zeebe:ioMapping><zeebe:taskHeaders>{headers}</zeebe:taskHeaders>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


URL = '<camunda:inputParameter name="url">https://x.example/api</camunda:inputParameter>'


@pytest.mark.parametrize(
    "task",
    [
        camunda_connector(URL + '<camunda:inputParameter name="payload">{"a": 1}</camunda:inputParameter>'),
        camunda_connector(
            URL + '<camunda:outputParameter name="answer">${response}</camunda:outputParameter>'
        ),
        camunda_connector(
            '<camunda:inputParameter name="url">https://x.example/${id}</camunda:inputParameter>'
        ),
        camunda_connector(URL + '<camunda:inputParameter name="method">TRACE</camunda:inputParameter>'),
        rest_connector(
            '<zeebe:input source="https://x.example" target="url"/>',
            '<zeebe:header key="resultVariable" value="r"/>',
        ),
        rest_connector('<zeebe:input source="=base + &quot;/x&quot;" target="url"/>'),
        rest_connector(
            '<zeebe:input source="https://x.example" target="url"/><zeebe:input source="={}" target="body"/>'
        ),
    ],
)
def test_http_connectors_that_do_more_than_a_fixed_call_are_reported(task):
    assert codes(convert(line(task))[1]) == [("bpmn:a", "bpmn.http_connector")]


def test_a_plain_http_connector_becomes_an_auto_node_with_a_call():
    flow, problems = convert(line(camunda_connector(URL)))
    assert problems == []
    assert node(flow, "a") == {
        "id": "a",
        "type": "auto",
        "actions": [{"call": {"url": "https://x.example/api", "method": "GET"}}],
    }


# --------------------------------------------------------------------------- choosing the process
def two_processes(executable: str = "true") -> bytes:
    one = '<bpmn:process id="p1" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>'
    two = f'<bpmn:process id="p2" isExecutable="{executable}"><bpmn:startEvent id="s"/></bpmn:process>'
    collaboration = (
        '<bpmn:collaboration id="c"><bpmn:participant id="Participant_2" processRef="p2"/>'
        "</bpmn:collaboration>"
    )
    return f"{HEADER}{collaboration}{one}{two}</bpmn:definitions>".encode()


def test_several_processes_without_a_choice_are_a_problem_listing_their_ids():
    flow, problems = convert(two_processes())
    assert flow == {"nodes": [], "edges": []}
    assert codes(problems) == [("bpmn", "bpmn.choose_process")] and "p1, p2" in problems[0].render("en")


def test_the_process_is_chosen_by_id_by_participant_or_as_the_only_executable_one():
    assert convert_document(two_processes(), "p2").process_id == "p2"
    assert convert_document(two_processes(), "Participant_2").process_id == "p2"
    assert convert_document(two_processes(executable="false")).process_id == "p1"
    assert codes(convert(two_processes(), "p9")[1]) == [("bpmn:p9", "bpmn.unknown_process")]
    assert codes(convert(f"{HEADER}</bpmn:definitions>")[1]) == [("bpmn", "bpmn.no_process")]


# --------------------------------------------------------------------------- unsafe and broken files
def unreadable(data: bytes) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        convert(data)
    assert caught.value.code == "bpmn.unreadable"
    return caught.value


def test_malformed_xml_is_refused_with_line_and_column():
    error = unreadable((FIXTURES / "malformed.bpmn").read_bytes())
    [problem] = error.problems
    assert problem.code == "bpmn.xml_syntax" and (problem.line, problem.column) == (6, 5)
    assert "mismatched tag" in error.render("en") and "line 6, column 5" in error.render("en")


def test_a_billion_laughs_file_is_refused_before_any_expansion():
    error = unreadable((FIXTURES / "billion_laughs.bpmn").read_bytes())
    assert [p.code for p in error.problems] == ["bpmn.xml_entities"]
    assert "lol" in error.render("en") and "<!DOCTYPE" in error.render("en")


def test_an_external_entity_file_is_refused_without_reading_the_file():
    error = unreadable((FIXTURES / "external_entity.bpmn").read_bytes())
    assert [p.code for p in error.problems] == ["bpmn.xml_entities"]
    assert "secret" in error.render("en") and "root:" not in error.render("en")


def test_an_oversized_file_is_refused():
    error = unreadable(b" " * (MAX_BYTES + 1))
    assert [p.code for p in error.problems] == ["bpmn.too_large"]


def test_xml_that_is_not_bpmn_is_refused():
    error = unreadable(b'<?xml version="1.0"?><html><body/></html>')
    assert [p.code for p in error.problems] == ["bpmn.not_bpmn"] and "html" in error.render("en")


# --------------------------------------------------------------------------- into a running definition
def test_with_flow_replaces_the_flow_and_keeps_what_bpmn_cannot_say():
    old = {
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "triage", "type": "task"},
            {"id": "gone", "type": "task"},
        ],
        "edges": [["start", "triage"]],
        "escalation": [{"at": "80%", "do": [{"comment": "hurry"}]}],
        "returns": {"fix": ["triage"], "gone": ["triage"]},
        "reopen_to": "gone",
    }
    definition = app_with(old)
    flow, _ = convert((FIXTURES / "approval.bpmn").read_bytes())
    data = with_flow(definition, "claims", "claim", flow)
    new = data["ticket_types"]["claim"]["flow"]
    assert new["nodes"] == flow["nodes"] and new["edges"] == flow["edges"]
    assert new["escalation"] == old["escalation"]
    assert new["returns"] == {"fix": ["triage"]} and "reopen_to" not in new
    assert definition["ticket_types"]["claim"]["flow"] == old  # the running definition is not touched
    load_definition(data)
    with pytest.raises(NotFoundError) as caught:
        with_flow(definition, "claims", "nope", flow)
    assert "claim, refund" in caught.value.message("en")
