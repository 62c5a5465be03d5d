"""Reading a definition file safely: size, encoding, YAML/JSON syntax, nesting depth, duplicate keys.

The result is plain data plus a map from each value's path to its line and column, so that
every later problem (schema, cross-reference) can point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import DefinitionError, Problem

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 500_000

PathT = tuple[str | int, ...]

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
#: The only scalar types a definition holds (JSON's); `!!binary`, `!!python/...` and the like are refused.
SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))


def format_path(path: PathT) -> str:
    """``("ticket_types", "t", "form", "sections", 0)`` → ``ticket_types.t.form.sections[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Source:
    """Parsed definition data and where each path came from in the file (1-based line/column)."""

    data: Any
    positions: dict[PathT, tuple[int, int]] = field(default_factory=dict)
    name: str = "<definition>"

    def where(self, path: PathT) -> tuple[int | None, int | None]:
        """The position of ``path`` or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:cut]))
            if pos:
                return pos
        return None, None

    def problem(self, path: PathT, code: str, **params: Any) -> Problem:
        line, col = self.where(path)
        return Problem(format_path(path), code, params, line, col)


def _fail(code: str, line: int | None = None, column: int | None = None, **params: Any) -> DefinitionError:
    return DefinitionError(problems=[Problem("", code, params, line, column)])


def read_source(source: str | bytes | Path, name: str | None = None) -> Source:
    """Parse a definition from a path, bytes or text; raise DefinitionError (never a traceback)."""
    if isinstance(source, Path):
        name = name or str(source)
        try:
            size = source.stat().st_size
            if size > MAX_BYTES:
                raise _fail("source.too_large", size=size, limit=MAX_BYTES)
            raw: bytes | str = source.read_bytes()
        except OSError as exc:
            raise _fail("source.unreadable", file=str(source), reason=exc.strerror or str(exc)) from None
    else:
        raw = source
    size = (
        len(raw)
        if isinstance(raw, bytes) or len(raw) * 4 <= MAX_BYTES
        else len(raw.encode("utf-8", "replace"))
    )
    if size > MAX_BYTES:
        raise _fail("source.too_large", size=size, limit=MAX_BYTES)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            line_start = raw.rfind(b"\n", 0, exc.start) + 1
            col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
            raise _fail("source.not_utf8", line, col, offset=exc.start) from None
    else:
        text = raw
    _check_depth(text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc) from None
    if node is None:
        raise _fail("source.empty")
    builder = _Builder()
    data = builder.build(node, ())
    if builder.problems:
        raise DefinitionError(problems=builder.problems)
    return Source(data, builder.positions, name or "<definition>")


def _syntax_error(exc: yaml.YAMLError) -> DefinitionError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return _fail("source.syntax", line, col, reason=getattr(exc, "problem", None) or str(exc))


def check_data_depth(data: Any) -> None:
    """Refuse parsed data (e.g. a JSON request body) nested deeper than MAX_DEPTH, without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _fail("source.too_deep", limit=MAX_DEPTH)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _check_depth(text: str) -> None:
    """Walk the YAML event stream (no recursion) and refuse absurd nesting before composing."""
    depth = 0
    count = 0
    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    m = ev.start_mark
                    raise _fail("source.too_deep", m.line + 1, m.column + 1, limit=MAX_DEPTH)
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(ev, yaml.AliasEvent):
                # Aliases could expand into a "billion laughs"; definitions have no use for them.
                m = ev.start_mark
                raise _fail("source.alias", m.line + 1, m.column + 1)
            count += 1
            if count > MAX_NODES:
                raise _fail("source.too_many_nodes", limit=MAX_NODES)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc) from None


class _Builder:
    """Turn composed YAML nodes into Python data, recording positions and duplicate keys."""

    def __init__(self) -> None:
        self.positions: dict[PathT, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self._scalars = SafeConstructor()

    def build(self, node: Node, path: PathT) -> Any:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self._problem(key_node, path, "source.complex_key")
                    continue
                self.positions[(*path, key_node.value)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                # Keys are names, always text: YAML 1.1 would read `on:` or `yes:` as booleans.
                key = key_node.value
                if key == "<<":
                    self._problem(key_node, path, "source.merge_key")
                    continue
                if key in out:
                    self._problem(key_node, (*path, key), "source.duplicate_key", key=key)
                    continue
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: ScalarNode, path: PathT) -> Any:
        if node.tag == TIMESTAMP_TAG and SafeConstructor.timestamp_regexp.match(node.value):
            return node.value  # definitions keep dates as the text written; fields validate them
        if node.tag not in SCALAR_TAGS | {TIMESTAMP_TAG}:
            self._problem(node, path, "source.tag", tag=node.tag)
            return None
        try:
            return self._scalars.construct_object(node, deep=False)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
            self._problem(
                node, path, "source.bad_scalar", value=node.value, reason=getattr(exc, "problem", None) or exc
            )
            return None

    def _problem(self, node: Node, path: PathT, code: str, **params: Any) -> None:
        self.problems.append(
            Problem(format_path(path), code, params, node.start_mark.line + 1, node.start_mark.column + 1)
        )
