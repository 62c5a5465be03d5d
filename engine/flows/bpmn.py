"""BPMN 2.0 import: a process drawn in bpmn.io or Camunda Modeler becomes a Gongdan flow.

``convert`` maps the subset Gongdan can run (events, tasks, gateways, timers, HTTP connectors,
call activities) to a flow dict and reports every element it cannot keep as a Problem naming
the element, instead of dropping it. What maps to what is described in docs/bpmn.md.
The XML is read with defusedxml: no entity expansion, no external entities, at most 5 MB.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from defusedxml import EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

import engine.flows.bpmn_messages  # noqa: F401  (registers the bpmn.* message codes)
from engine.definitions.source import MAX_BYTES
from engine.errors import DefinitionError, InputError, NotFoundError, Problem
from engine.expressions import MAX_DEPTH, MAX_SOURCE, ExprError, compile_expr
from engine.i18n import Message, t

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
#: Camunda 7 and its Activiti/Flowable cousins spell assignees and listeners the same way.
CAMUNDA_LIKE = (CAMUNDA, "http://flowable.org/bpmn", "http://activiti.org/bpmn")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KEY_LEN = 40
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HTTP_JSON_JOB = "io.camunda:http-json:1"

#: BPMN children of a process that carry no process meaning for Gongdan (lanes give hints only).
IGNORED = frozenset(
    {"documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group", "property"}
    | {"dataObject"}  # the definition behind a data object reference; the reference is what gets reported
)
#: Extension elements that run code on events: behaviour an import cannot keep.
LISTENERS = frozenset(
    {"executionListener", "taskListener", "eventListener", "executionListeners", "taskListeners"}
)


def _q(name: str, ns: str = BPMN) -> str:
    return f"{{{ns}}}{name}"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _text(el: Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _name(el: Element) -> str | None:
    return " ".join((el.get("name") or "").split()) or None


def _is_expression(value: str) -> bool:
    return value.startswith(("${", "#{", "="))


# --------------------------------------------------------------------------- reading the XML
class _Positions:
    """Parser target that builds the tree and remembers the line and column each element starts at."""

    def __init__(self) -> None:
        self.builder = TreeBuilder()
        self.where: dict[Element, tuple[int, int]] = {}
        self.expat: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        el = self.builder.start(tag, attrs)
        self.where[el] = (self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1)
        return el

    def end(self, tag: str) -> Element:
        return self.builder.end(tag)

    def data(self, text: str) -> None:
        self.builder.data(text)

    def close(self) -> Element:
        return self.builder.close()


def _unreadable(
    name: str, code: str, line: int | None = None, column: int | None = None, **params: Any
) -> DefinitionError:
    return DefinitionError("bpmn.unreadable", [Problem("", code, params, line, column)], name=name)


def parse_xml(data: bytes, name: str = "<bpmn>") -> tuple[Element, dict[Element, tuple[int, int]]]:
    """The BPMN document's root and element positions; DefinitionError for unsafe or malformed XML."""
    if len(data) > MAX_BYTES:
        raise _unreadable(name, "bpmn.too_large", size=len(data), limit=MAX_BYTES)
    target = _Positions()
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    target.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as exc:
        line, column = exc.position
        reason = expat.ErrorString(exc.code) if isinstance(exc.code, int) else str(exc)
        raise _unreadable(name, "bpmn.xml_syntax", line, column + 1, reason=reason) from None
    except EntitiesForbidden as exc:
        at = (target.expat.CurrentLineNumber, target.expat.CurrentColumnNumber + 1)
        raise _unreadable(name, "bpmn.xml_entities", *at, entity=exc.name) from None
    except ExternalReferenceForbidden as exc:
        at = (target.expat.CurrentLineNumber, target.expat.CurrentColumnNumber + 1)
        raise _unreadable(name, "bpmn.xml_external", *at, ref=exc.sysid) from None
    if root.tag != _q("definitions"):
        raise _unreadable(name, "bpmn.not_bpmn", *target.where.get(root, (None, None)), tag=root.tag)
    return root, target.where


def read_bpmn(path: Path) -> bytes:
    """The bytes of a BPMN file, refusing files over the size limit before reading them."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _unreadable(str(path), "bpmn.too_large", size=size, limit=MAX_BYTES)
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(str(path), "bpmn.unreadable_file", reason=exc.strerror or str(exc)) from None


# --------------------------------------------------------------------------- keys
def derive_key(raw: str) -> str:
    """A Gongdan key from a BPMN id: ``Activity_0x1y`` → ``activity_0x1y``, ``managerOk`` → ``manager_ok``."""
    if KEY.match(raw):
        return raw
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not text[:1].isalpha():
        text = f"n_{text}" if text else "node"
    return text[:KEY_LEN].rstrip("_")


class _Keys:
    """BPMN id → unique node key; ids that already are keys keep their name."""

    def __init__(self, ids: set[str]) -> None:
        self.reserved = {raw for raw in ids if KEY.match(raw)}
        self.used = set(self.reserved)
        self.of: dict[str, str] = {}

    def take(self, raw: str) -> str:
        """The key of element ``raw``."""
        key = raw if raw in self.reserved and raw not in self.of else self.fresh(derive_key(raw))
        self.used.add(key)
        self.of[raw] = key
        return key

    def fresh(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``… whichever is still free (within the 40 characters)."""
        key, n = base, 2
        while key in self.used:
            suffix = f"_{n}"
            key, n = base[: KEY_LEN - len(suffix)] + suffix, n + 1
        self.used.add(key)
        return key


# --------------------------------------------------------------------------- conditions
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<name>[^\W\d]\w*)
    | (?P<op>&&|\|\||==|!=|<=|>=|[<>!=()\[\],.+\-*/%?:])
    )""",
    re.VERBOSE | re.DOTALL,
)
#: JUEL/FEEL spellings → ours.
_WORDS = {"and": "and", "or": "or", "not": "not", "eq": "==", "ne": "!=", "lt": "<", "gt": ">"}
_WORDS |= {"le": "<=", "ge": ">=", "div": "/", "mod": "%", "&&": "and", "||": "or", "!": "not"}
_LITERALS = {"true": "true", "false": "false", "null": "null"}
_UNSUPPORTED_WORDS = frozenset({"empty", "instanceof"})
#: Binding power of binary operators, JUEL's precedence (relational above equality).
_BINARY = {"or": 2, "and": 3, "==": 4, "!=": 4, "<": 5, ">": 5, "<=": 5, ">=": 5, "+": 6, "-": 6}
_BINARY |= {"*": 7, "/": 7, "%": 7}
_UNARY_POWER = 8
#: Python precedence of what we write, to put parentheses exactly where meaning needs them.
_PY_LEVEL = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, ">": 4, "<=": 4, ">=": 4}
_PY_LEVEL |= {"+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">="})
_GET_VARIABLE = frozenset({"getVariable", "getVariableLocal"})

Node = tuple[Any, ...]


@dataclass
class _Tok:
    kind: str  # num, str, name, op, end
    text: str
    column: int


def _tokens(body: str, source: str, offset: int, feel: bool) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            rest = body[pos:].lstrip()
            if not rest:
                break
            column = offset + len(body) - len(rest) + 1
            raise ExprError("bpmn.expr_char", source=source, column=column, char=rest[0])
        kind = m.lastgroup or "op"
        text = m.group(kind)
        column = offset + m.start(kind) + 1
        if kind == "name" and text in _WORDS:
            kind, text = "op", _WORDS[text]
        elif kind == "op" and text in _WORDS:
            text = _WORDS[text]
        elif kind == "op" and text == "=":
            if not feel:
                raise ExprError("bpmn.expr_assign", source=source, column=column)
            text = "=="
        out.append(_Tok(kind, text, column))
        pos = m.end()
    out.append(_Tok("end", "", offset + len(body) + 1))
    return out


class _Parser:
    """A small Pratt parser for JUEL (``${a && b}``) and simple FEEL (``= a = 1 and b``) conditions."""

    def __init__(self, tokens: list[_Tok], source: str) -> None:
        self.tokens, self.source, self.i = tokens, source, 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok) -> ExprError:
        if tok.kind == "end":
            return ExprError("bpmn.expr_end", source=self.source, column=tok.column)
        return ExprError("bpmn.expr_unexpected", source=self.source, column=tok.column, token=tok.text)

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != text:
            raise self.fail(tok)

    def whole(self) -> Node:
        node = self.expression(0)
        if self.peek().kind != "end":
            raise self.fail(self.peek())
        return node

    def expression(self, power: int) -> Node:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == "?" and power < 1:
                self.take()
                then = self.expression(0)
                self.expect(":")
                left = ("cond", left, then, self.expression(0))
            elif tok.kind == "op" and _BINARY.get(tok.text, 0) > power:
                self.take()
                left = ("bin", tok.text, left, self.expression(_BINARY[tok.text]))
            else:
                return left

    def prefix(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return self.postfix(("atom", tok.text))
        if tok.kind == "str":
            return self.postfix(("atom", repr(re.sub(r"\\(.)", r"\1", tok.text[1:-1], flags=re.DOTALL))))
        if tok.kind == "name":
            if tok.text in _UNSUPPORTED_WORDS:
                raise ExprError(
                    "bpmn.expr_unsupported", source=self.source, column=tok.column, token=tok.text
                )
            return self.postfix(("atom", _LITERALS.get(tok.text, tok.text), tok))
        if tok.kind == "op" and tok.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return self.postfix(inner)
        if tok.kind == "op" and tok.text in ("not", "-"):
            return ("not" if tok.text == "not" else "neg", self.expression(_UNARY_POWER))
        raise self.fail(tok)

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in (".", "[", "("):
                return node
            self.take()
            if tok.text == ".":
                name = self.take()
                if name.kind != "name":
                    raise self.fail(name)
                node = ("attr", node, name.text, name)
            elif tok.text == "[":
                index = self.expression(0)
                self.expect("]")
                node = ("index", node, index)
            else:
                node = self.call(node, tok)

    def call(self, target: Node, paren: _Tok) -> Node:
        args: list[Node] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.expression(0))
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.expression(0))
        self.expect(")")
        if target[0] == "atom" and len(target) == 3:  # a function: name(args)
            return ("call", target[1], args)
        if (
            target[0] == "attr"
            and target[1][:2] == ("atom", "execution")
            and target[2] in _GET_VARIABLE
            and len(args) == 1
            and args[0][0] == "atom"
            and args[0][1][:1] in "'\""
        ):
            name = args[0][1][1:-1]
            if name.isidentifier():
                return ("atom", name)
        where = target[3].column if target[0] == "attr" else paren.column
        method = target[2] if target[0] == "attr" else "("
        raise ExprError("bpmn.expr_method", source=self.source, column=where, method=method)


def _emit(node: Node) -> tuple[str, int]:
    """Our text for a parsed condition and its Python precedence level (8 = atom, 0 = conditional)."""
    kind = node[0]
    if kind == "atom":
        return node[1], 8
    if kind == "attr":
        return f"{_wrap(node[1], 8)}.{node[2]}", 8
    if kind == "index":
        return f"{_wrap(node[1], 8)}[{_emit(node[2])[0]}]", 8
    if kind == "call":
        return f"{node[1]}({', '.join(_emit(a)[0] for a in node[2])})", 8
    if kind == "not":
        return f"not {_wrap(node[1], 3)}", 3
    if kind == "neg":
        return f"-{_wrap(node[1], 7)}", 7
    if kind == "cond":
        return f"{_wrap(node[2], 1)} if {_wrap(node[1], 1)} else {_wrap(node[3], 0)}", 0
    op = node[1]
    level = _PY_LEVEL[op]
    left_need = level + 1 if op in _COMPARISONS else level  # a < b == c must not chain in Python
    return f"{_wrap(node[2], left_need)} {op} {_wrap(node[3], level + 1)}", level


def _wrap(node: Node, need: int) -> str:
    text, level = _emit(node)
    return f"({text})" if level < need else text


def translate_condition(text: str) -> str:
    """A BPMN condition (plain, JUEL ``${…}``, FEEL ``= …``) in our language; ExprError if impossible."""
    source = text.strip()
    if len(source) > MAX_SOURCE:
        raise ExprError("expr.too_long", source=source[:40] + "…", column=MAX_SOURCE, limit=MAX_SOURCE)
    if source.count("(") + source.count("[") > MAX_DEPTH * 2:
        raise ExprError("expr.too_deep", source=source[:40] + "…", column=1, limit=MAX_DEPTH)
    juel = re.fullmatch(r"[$#]\{(.*)\}", source, re.DOTALL)
    if juel:
        body, offset, feel = juel.group(1), 2, False
    elif source.startswith("="):
        body, offset, feel = source[1:], 1, True
    else:
        try:
            compile_expr(source)
            return source  # already our language
        except ExprError:
            body, offset, feel = source, 0, False
    if not body.strip():
        raise ExprError("expr.empty", source=source, column=1)
    try:
        result = _emit(_Parser(_tokens(body, source, offset, feel), source).whole())[0]
    except RecursionError:
        raise ExprError("expr.too_deep", source=source[:40] + "…", column=1, limit=MAX_DEPTH) from None
    compile_expr(result)
    return result


# --------------------------------------------------------------------------- durations
_ISO_DURATION = re.compile(
    r"P(?:(?P<Y>\d+(?:[.,]\d+)?)Y)?(?:(?P<M>\d+(?:[.,]\d+)?)M)?(?:(?P<W>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<D>\d+(?:[.,]\d+)?)D)?(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?"
)
_SECONDS = {"W": 604800, "D": 86400, "h": 3600, "m": 60, "s": 1}
_UNITS = (("w", 10080), ("d", 1440), ("h", 60), ("m", 1))


def iso_duration(text: str) -> tuple[str | None, str | None]:
    """``PT4H`` → (``4h``, None); otherwise (None, the message code of why not)."""
    m = _ISO_DURATION.fullmatch(text.strip())
    if m is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        return None, "bpmn.timer_bad_duration"
    parts = {k: Decimal(v.replace(",", ".")) for k, v in m.groupdict().items() if v}
    if parts.get("Y") or parts.get("M"):
        return None, "bpmn.timer_months"
    seconds = sum(value * _SECONDS[unit] for unit, value in parts.items() if unit in _SECONDS)
    if seconds <= 0:
        return None, "bpmn.timer_bad_duration"
    if seconds % 60:
        return None, "bpmn.timer_seconds"
    minutes = int(seconds // 60)
    unit, size = next((u, s) for u, s in _UNITS if minutes % s == 0)
    return f"{minutes // size}{unit}", None


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class Conversion:
    """A converted process: the flow, what could not be kept, and how BPMN ids became node keys."""

    flow: dict[str, Any]
    problems: list[Problem]
    process_id: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    lanes: dict[str, list[str]] = field(default_factory=dict)


Handler = Callable[["_Converter", Element], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {}


def handles(*tags: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for tag in tags:
            HANDLERS[tag] = fn
        return fn

    return deco


class _Converter:
    def __init__(self, process: Element, where: Mapping[Element, tuple[int, int]]) -> None:
        self.process = process
        self.where = where
        self.problems: list[Problem] = []
        children = [c for c in process if _split(c.tag)[0] == BPMN and _split(c.tag)[1] not in IGNORED]
        self.flows = [c for c in children if _split(c.tag)[1] == "sequenceFlow"]
        self.others = [c for c in children if _split(c.tag)[1] != "sequenceFlow"]
        self.elements = {c.get("id", ""): c for c in self.others if c.get("id")}
        self.incoming: Counter[str] = Counter(f.get("targetRef") for f in self.flows)
        self.outgoing: Counter[str] = Counter(f.get("sourceRef") for f in self.flows)
        self.keys = _Keys(set(self.elements))
        self.enter: dict[str, str] = {}  # BPMN id → key of the node its incoming flows reach
        self.leave: dict[str, str] = {}  # BPMN id → key of the node its outgoing flows leave
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[Any] = []
        starts = [e for e in self.elements.values() if _split(e.tag)[1] == "startEvent"]
        self.initiator = next(
            (s.get(_q("initiator", ns)) for s in starts for ns in CAMUNDA_LIKE if s.get(_q("initiator", ns))),
            None,
        )

    def report(self, el: Element, code: str, **params: Any) -> None:
        ident = el.get("id") or ""
        tag = _split(el.tag)[1]
        line, column = self.where.get(el, (None, None))
        path = f"bpmn:{ident or tag}"
        self.problems.append(Problem(path, code, {"id": ident, "tag": tag, **params}, line, column))

    def run(self) -> Conversion:
        self.check_listeners(self.process)
        for el in self.others:
            self.check_listeners(el)
            node = HANDLERS.get(_split(el.tag)[1], _unsupported)(self, el)
            if node is not None:
                self.add(el, node)
        for flow in self.flows:
            self.edge(flow)
        self.check_ends()
        flow_dict = {"nodes": self.nodes, "edges": self.edges}
        problems = sorted(self.problems, key=lambda p: (p.line or 0, p.column or 0))
        return Conversion(flow_dict, problems, self.process.get("id"), dict(self.keys.of), self.lanes())

    def add(self, el: Element, node: dict[str, Any]) -> None:
        ident = el.get("id", "")
        key = self.keys.take(ident)
        named = {"id": key, "type": node.pop("type")}
        if _name(el):
            named["name"] = _name(el)
        self.nodes.append({**named, **node})
        self.enter[ident] = self.leave[ident] = key
        if named["type"] == "join" and self.outgoing[ident] > 1:  # a gateway that joins, then splits
            split = self.keys.fresh(f"{key[: KEY_LEN - 6]}_split")
            self.nodes.append({"id": split, "type": "parallel"})
            self.edges.append([key, split])
            self.leave[ident] = split

    def edge(self, flow: Element) -> None:
        src, dst = flow.get("sourceRef", ""), flow.get("targetRef", "")
        for ref in (src, dst):
            if ref not in self.elements:
                self.report(flow, "bpmn.dangling_flow", ref=ref)
                return
        if src not in self.leave:
            return  # its source could not be mapped and is reported already
        source = self.elements[src]
        gateway = _split(source.tag)[1] in ("exclusiveGateway", "inclusiveGateway")
        edge: dict[str, Any] = {"from": self.leave[src], "to": self.enter.get(dst, dst)}
        condition = flow.find(_q("conditionExpression"))
        conditional = condition is not None and bool(_text(condition))
        is_default = source.get("default") == flow.get("id")
        if conditional and not gateway:
            self.report(flow, "bpmn.conditional_flow", source=src)
        elif conditional and is_default:
            self.report(flow, "bpmn.default_with_condition", gateway=src)
        elif condition is not None and conditional:
            self.condition(flow, condition, edge)
        if gateway and is_default:
            edge["default"] = True
        elif gateway and not conditional:
            if self.outgoing[src] == 1:
                edge["default"] = True  # the one way on (a merge): always taken
            else:
                self.report(flow, "bpmn.branch_without_condition", gateway=src)
        if _name(flow):
            edge["name"] = _name(flow)
        if dst in self.enter:  # else its target could not be mapped and is reported already
            self.edges.append(edge if len(edge) > 2 else [edge["from"], edge["to"]])

    def condition(self, flow: Element, condition: Element, edge: dict[str, Any]) -> None:
        language = (condition.get("language") or "").strip().lower()
        resource = next((condition.get(_q("resource", ns)) for ns in CAMUNDA_LIKE), None)
        if resource or language not in ("", "juel", "feel", "http://www.omg.org/spec/feel/20140401"):
            self.report(flow, "bpmn.condition_script", language=language or resource)
            return
        source = _text(condition)
        try:
            edge["if"] = translate_condition(source)
        except ExprError as exc:
            self.report(flow, "bpmn.condition", source=source, reason=Message(exc.code, exc.params))

    def check_listeners(self, el: Element) -> None:
        ext = el.find(_q("extensionElements"))
        for child in ext if ext is not None else ():
            ns, local = _split(child.tag)
            if local in LISTENERS and ns in (*CAMUNDA_LIKE, ZEEBE):
                self.report(el, "bpmn.listener", listener=local)

    def check_ends(self) -> None:
        events = [e for e in self.others if _split(e.tag)[1] in ("startEvent", "endEvent")]
        starts = [e for e in events if _split(e.tag)[1] == "startEvent"]
        if not starts:
            self.report(self.process, "bpmn.no_start")
        mapped = [e for e in starts if e.get("id", "") in self.enter]
        for extra in mapped[1:]:
            self.report(extra, "bpmn.several_starts", first=mapped[0].get("id", ""))
        if len(starts) == len(events):
            self.report(self.process, "bpmn.no_end")

    def lanes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for lane in self.process.iter(_q("lane")):
            refs = [_text(ref) for ref in lane.findall(_q("flowNodeRef"))]
            keys = [self.enter[ref] for ref in refs if ref in self.enter]
            if _name(lane) and keys:
                out.setdefault(_name(lane) or "", []).extend(keys)
        return out

    # ------------------------------------------------------------------ shared element checks
    def activity_problems(self, el: Element) -> None:
        """Markers and attributes of a task that change behaviour Gongdan cannot keep."""
        if el.find(_q("multiInstanceLoopCharacteristics")) is not None:
            self.report(el, "bpmn.multi_instance")
        if el.find(_q("standardLoopCharacteristics")) is not None:
            self.report(el, "bpmn.loop")
        if el.get("isForCompensation") == "true":
            self.report(el, "bpmn.compensation")
        due = [a for ns in CAMUNDA_LIKE for a in ("dueDate", "followUpDate") if el.get(_q(a, ns))]
        if due or _extension(el, ZEEBE, "taskSchedule") is not None:
            self.report(el, "bpmn.due_date")

    def assignee(self, el: Element) -> dict[str, Any] | None:
        given = [
            (kind, value.strip())
            for ns in CAMUNDA_LIKE
            for kind in ("assignee", "candidateUsers", "candidateGroups")
            if (value := el.get(_q(kind, ns))) and value.strip()
        ]
        zeebe = _extension(el, ZEEBE, "assignmentDefinition")
        if zeebe is not None:
            given += [
                (kind, value.strip())
                for kind in ("assignee", "candidateUsers", "candidateGroups")
                if (value := zeebe.get(kind)) and value.strip()
            ]
        if not given:
            return None
        if len(given) > 1:
            self.report(el, "bpmn.several_assignees", kinds=", ".join(kind for kind, _ in given))
            return None
        kind, value = given[0]
        if _is_expression(value):
            return self.assignee_expression(el, kind, value)
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            return None
        if kind == "candidateGroups":
            if len(items) > 1:
                self.report(el, "bpmn.several_groups", groups=value)
            elif not KEY.match(items[0]):
                self.report(el, "bpmn.group_not_key", group=items[0], key=derive_key(items[0]))
            else:
                return {"role": items[0]}
            return None
        if len(items) == 1:
            return {"user": items[0]}
        return {"expr": repr(items)}

    def assignee_expression(self, el: Element, kind: str, value: str) -> dict[str, Any] | None:
        if kind == "candidateGroups":
            self.report(el, "bpmn.group_expression", value=value)
            return None
        plain = re.fullmatch(r"[$#]\{\s*(\w+)\s*\}", value)
        if plain and self.initiator and plain.group(1) == self.initiator:
            return {"submitter": True}
        try:
            return {"expr": translate_condition(value)}
        except ExprError as exc:
            self.report(el, "bpmn.assignee_expression", value=value, reason=Message(exc.code, exc.params))
            return None


def _extension(el: Element, ns: str, local: str) -> Element | None:
    ext = el.find(_q("extensionElements"))
    return ext.find(_q(local, ns)) if ext is not None else None


def _extensions(el: Element, ns: str, local: str) -> list[Element]:
    ext = el.find(_q("extensionElements"))
    return ext.findall(_q(local, ns)) if ext is not None else []


def _trigger(el: Element) -> str | None:
    """The kind of an event (``timer``, ``message``…), or None for a plain one."""
    for child in el:
        ns, local = _split(child.tag)
        if ns == BPMN and local.endswith("EventDefinition"):
            return local.removesuffix("EventDefinition")
        if ns == BPMN and local == "eventDefinitionRef":
            return "referenced"
    return None


# --------------------------------------------------------------------------- element handlers
def _unsupported(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.unsupported")


@handles("startEvent")
def _start(cv: _Converter, el: Element) -> dict[str, Any] | None:
    trigger = _trigger(el)
    if trigger is not None:
        cv.report(el, "bpmn.event_trigger", kind=trigger)
        return None
    return {"type": "start"}


@handles("endEvent")
def _end(cv: _Converter, el: Element) -> dict[str, Any] | None:
    trigger = _trigger(el)
    if trigger not in (None, "terminate"):
        cv.report(el, "bpmn.event_trigger", kind=trigger)
        return None
    return {"type": "end"}


@handles("intermediateCatchEvent")
def _catch(cv: _Converter, el: Element) -> dict[str, Any] | None:
    trigger = _trigger(el)
    if trigger != "timer":
        cv.report(el, "bpmn.event_trigger", kind=trigger or "none")
        return None
    timer = el.find(_q("timerEventDefinition"))
    duration = _text(timer.find(_q("timeDuration"))) if timer is not None else ""
    date = _text(timer.find(_q("timeDate"))) if timer is not None else ""
    if timer is not None and timer.find(_q("timeCycle")) is not None:
        cv.report(el, "bpmn.timer_cycle")
    elif date:
        field_name = re.fullmatch(r"(?:[$#]\{\s*(\w+)\s*\}|=\s*(\w+))", date)
        name = field_name and (field_name.group(1) or field_name.group(2))
        if name and KEY.match(name):
            return {"type": "timer", "wait": {"until": name}}
        cv.report(el, "bpmn.timer_date", value=date)
    elif not duration:
        cv.report(el, "bpmn.timer_missing")
    elif _is_expression(duration):
        cv.report(el, "bpmn.timer_expression", value=duration)
    else:
        value, code = iso_duration(duration)
        if value is not None:
            return {"type": "timer", "wait": {"duration": value}}
        cv.report(el, code or "bpmn.timer_bad_duration", value=duration)
    return None


@handles("intermediateThrowEvent")
def _throw(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.throw_event", kind=_trigger(el) or "none")


@handles("boundaryEvent")
def _boundary(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.boundary", kind=_trigger(el) or "none", attached=el.get("attachedToRef", ""))


@handles("task", "userTask", "manualTask")
def _task(cv: _Converter, el: Element) -> dict[str, Any]:
    cv.activity_problems(el)
    node: dict[str, Any] = {"type": "task"}
    assignee = cv.assignee(el)
    if assignee is not None:
        node["assignee"] = assignee
    return node


@handles("serviceTask", "sendTask")
def _service(cv: _Converter, el: Element) -> dict[str, Any] | None:
    cv.activity_problems(el)
    call, reason = _http_call(el)
    if call is not None:
        return {"type": "auto", "actions": [{"call": call}]}
    if reason is not None:
        cv.report(el, "bpmn.http_connector", reason=reason)
    else:
        cv.report(el, "bpmn.service_task", impl=_implementation(el))
    return None


@handles("scriptTask")
def _script(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.script_task", format=el.get("scriptFormat") or "?")


@handles("receiveTask")
def _receive(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.receive_task")


@handles("businessRuleTask")
def _business_rule(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.business_rule_task")


@handles("callActivity")
def _call_activity(cv: _Converter, el: Element) -> dict[str, Any] | None:
    cv.activity_problems(el)
    zeebe = _extension(el, ZEEBE, "calledElement")
    called = (el.get("calledElement") or (zeebe.get("processId") if zeebe is not None else "") or "").strip()
    mappings = [m for ns in CAMUNDA_LIKE for tag in ("in", "out") for m in _extensions(el, ns, tag)]
    mappings += _extensions(el, ZEEBE, "ioMapping")
    if not called:
        cv.report(el, "bpmn.call_target_missing")
    elif _is_expression(called):
        cv.report(el, "bpmn.call_target_expression", value=called)
    elif not KEY.match(called):
        cv.report(el, "bpmn.call_target_not_key", value=called, key=derive_key(called))
    elif mappings:
        cv.report(el, "bpmn.call_mappings")
    else:
        return {"type": "subprocess", "ticket_type": called}
    return None


@handles("subProcess", "transaction", "adHocSubProcess")
def _sub_process(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.sub_process")


@handles("exclusiveGateway", "inclusiveGateway")
def _branching(cv: _Converter, el: Element) -> dict[str, Any]:
    return {"type": "exclusive" if _split(el.tag)[1] == "exclusiveGateway" else "inclusive"}


@handles("parallelGateway")
def _parallel(cv: _Converter, el: Element) -> dict[str, Any]:
    return {"type": "join" if cv.incoming[el.get("id")] > 1 else "parallel"}


@handles("eventBasedGateway", "complexGateway")
def _other_gateway(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.gateway")


@handles("dataObjectReference", "dataStoreReference", "ioSpecification")
def _data(cv: _Converter, el: Element) -> None:
    cv.report(el, "bpmn.data")


# --------------------------------------------------------------------------- service tasks
def _implementation(el: Element) -> str:
    """What a service task runs, in the modeler's words, for the message."""
    for ns in CAMUNDA_LIKE:
        for attr in ("class", "expression", "delegateExpression", "topic"):
            if el.get(_q(attr, ns)):
                return f"{attr}={el.get(_q(attr, ns))}"
        connector = _extension(el, ns, "connector")
        if connector is not None:
            return f"connector={_text(connector.find(_q('connectorId', ns)))}"
    job = _extension(el, ZEEBE, "taskDefinition")
    if job is not None:
        return f"type={job.get('type', '')}"
    return "-"


def _fixed_http(url: str, method: str) -> Message | None:
    if not re.match(r"https?://", url) or "${" in url or url.startswith("="):
        return Message("bpmn.http_url", {"url": url})
    if method not in HTTP_METHODS:
        return Message("bpmn.http_method", {"method": method, "known": ", ".join(HTTP_METHODS)})
    return None


def _http_call(el: Element) -> tuple[dict[str, Any] | None, Message | None]:
    """An HTTP connector as a ``call`` action; (None, why) if we cannot keep it; (None, None) if none."""
    connector = _extension(el, CAMUNDA, "connector")
    if connector is not None and _text(connector.find(_q("connectorId", CAMUNDA))) == "http-connector":
        return _camunda_http(connector)
    job = _extension(el, ZEEBE, "taskDefinition")
    if job is not None and job.get("type") == HTTP_JSON_JOB:
        return _zeebe_http(el)
    return None, None


def _camunda_http(connector: Element) -> tuple[dict[str, Any] | None, Message | None]:
    io = connector.find(_q("inputOutput", CAMUNDA))
    params = io.findall(_q("inputParameter", CAMUNDA)) if io is not None else []
    outputs = io.findall(_q("outputParameter", CAMUNDA)) if io is not None else []
    if outputs:
        return None, Message("bpmn.http_result", {"name": outputs[0].get("name", "")})
    values: dict[str, str] = {}
    for param in params:
        name = param.get("name", "")
        if name not in ("url", "method") or len(param):
            return None, Message("bpmn.http_input", {"name": name})
        values[name] = _text(param)
    url, method = values.get("url", ""), (values.get("method") or "GET").upper()
    reason = _fixed_http(url, method)
    return (None, reason) if reason else ({"url": url, "method": method}, None)


def _zeebe_http(el: Element) -> tuple[dict[str, Any] | None, Message | None]:
    inputs = {
        i.get("target", ""): i.get("source", "")
        for mapping in _extensions(el, ZEEBE, "ioMapping")
        for i in mapping.findall(_q("input", ZEEBE))
    }
    outputs = [o for m in _extensions(el, ZEEBE, "ioMapping") for o in m.findall(_q("output", ZEEBE))]
    headers = {
        h.get("key", ""): h.get("value", "")
        for group in _extensions(el, ZEEBE, "taskHeaders")
        for h in group.findall(_q("header", ZEEBE))
    }
    result = [k for k in ("resultVariable", "resultExpression", "errorExpression") if headers.get(k)]
    if outputs or result:
        return None, Message(
            "bpmn.http_result", {"name": outputs[0].get("target", "") if outputs else result[0]}
        )
    timeouts = ("connectionTimeoutInSeconds", "readTimeoutInSeconds")
    for target, source in inputs.items():
        fixed = target in ("url", "method", *timeouts) or (
            target == "authentication.type" and source == "noAuth"
        )
        if not fixed:
            return None, Message("bpmn.http_input", {"name": target})
    url, method = inputs.get("url", ""), (inputs.get("method") or "GET").upper()
    reason = _fixed_http(url, method)
    if reason:
        return None, reason
    call: dict[str, Any] = {"url": url, "method": method}
    seconds = [inputs[k] for k in timeouts if inputs.get(k, "").strip().isdigit()]
    if seconds:
        call["timeout_s"] = max(int(s) for s in seconds)
    return call, None


# --------------------------------------------------------------------------- the process
def _pick_process(root: Element, process_id: str | None) -> tuple[Element | None, Problem | None]:
    processes = root.findall(_q("process"))
    ids = ", ".join(p.get("id", "?") for p in processes) or "-"
    if process_id is not None:
        refs = {p.get("id"): p.get("processRef") for p in root.iter(_q("participant"))}
        wanted = refs.get(process_id) or process_id
        found = next((p for p in processes if p.get("id") == wanted), None)
        if found is None:
            return None, Problem(f"bpmn:{process_id}", "bpmn.unknown_process", {"id": process_id, "ids": ids})
        return found, None
    if not processes:
        return None, Problem("bpmn", "bpmn.no_process", {})
    for candidates in (
        processes,
        [p for p in processes if p.get("isExecutable") == "true"],
        [p for p in processes if any(_split(c.tag)[1] == "startEvent" for c in p)],
    ):
        if len(candidates) == 1:
            return candidates[0], None
    return None, Problem("bpmn", "bpmn.choose_process", {"ids": ids})


def convert_document(xml_bytes: bytes, process_id: str | None = None, name: str = "<bpmn>") -> Conversion:
    """Convert one process of a BPMN document; DefinitionError if the file itself cannot be read."""
    root, where = parse_xml(xml_bytes, name)
    process, problem = _pick_process(root, process_id)
    if process is None:
        return Conversion({"nodes": [], "edges": []}, [problem] if problem else [])
    return _Converter(process, where).run()


def convert(xml_bytes: bytes | str, process_id: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """A BPMN 2.0 document as a Gongdan flow dict, and every element that could not be mapped."""
    data = xml_bytes.encode("utf-8") if isinstance(xml_bytes, str) else xml_bytes
    result = convert_document(data, process_id)
    return result.flow, result.problems


def convert_file(path: Path, process_id: str | None = None) -> Conversion:
    return convert_document(read_bpmn(path), process_id, str(path))


def require_importable(result: Conversion, name: str) -> None:
    """Refuse a conversion with problems: all or nothing, like every import."""
    if result.problems:
        raise DefinitionError("bpmn.not_importable", result.problems, name=name, count=len(result.problems))


def hints(result: Conversion, lang: str | None = None) -> list[str]:
    """Comment lines for the printed flow: the process, ids renamed beyond lowercasing, lanes."""
    out = [t("bpmn.hint_process", lang, process=result.process_id)] if result.process_id else []
    renamed = [(raw, key) for raw, key in result.keys.items() if raw.lower() != key]
    out += [t("bpmn.hint_renamed", lang, id=raw, key=key) for raw, key in renamed]
    out += [
        t("bpmn.hint_lane", lang, lane=lane, nodes=", ".join(keys)) for lane, keys in result.lanes.items()
    ]
    return out


# --------------------------------------------------------------------------- into an app
def parse_target(value: str) -> tuple[str, str]:
    """``APP_KEY:TICKET_TYPE`` → its two keys."""
    app_key, sep, ticket_type = value.partition(":")
    if not sep or not KEY.match(app_key) or not KEY.match(ticket_type):
        raise InputError("bpmn.bad_into", value=value)
    return app_key, ticket_type


def with_flow(
    definition: Mapping[str, Any], app_key: str, ticket_type: str, flow: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of ``definition`` whose ticket type runs ``flow``.

    What BPMN cannot say is kept from the running flow when it still fits: the escalation chain,
    and returns / reopen_to whose nodes all still exist.
    """
    data = copy.deepcopy(dict(definition))
    types = data.get("ticket_types") or {}
    if ticket_type not in types:
        known = ", ".join(sorted(types))
        raise NotFoundError("bpmn.unknown_ticket_type", app=app_key, ticket_type=ticket_type, known=known)
    old = types[ticket_type].get("flow") or {}
    ids = {node["id"] for node in flow["nodes"]}
    new = copy.deepcopy(dict(flow))
    if old.get("escalation"):
        new["escalation"] = old["escalation"]
    returns = {k: v for k, v in (old.get("returns") or {}).items() if k in ids and set(v) <= ids}
    if returns:
        new["returns"] = returns
    if old.get("reopen_to") in ids:
        new["reopen_to"] = old["reopen_to"]
    types[ticket_type]["flow"] = new
    return data
