"""A flow drawn as SVG: layered left to right, the current node(s) highlighted, visited ones marked.

:func:`layout` places the nodes of a :class:`~engine.flows.spec.FlowSpec` in columns: edges that
lead back (returns, loops) are found by a depth-first walk from the start and left out, every
other node goes one column right of its furthest predecessor (longest path), and each column is
ordered by the mean row of its neighbours (a few barycentre sweeps) so edges cross less.
:func:`draw` turns the layout into an SVG string: people's steps as boxes, gateways as diamonds,
start/end/timer as circles; back edges run in lanes under the drawing. Pure: no database, no
Flask; every label is escaped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from html import escape

from engine.definitions.model import FlowDef, NodeDef
from engine.flows.spec import FlowSpec
from engine.i18n import text_of

COLUMN_GAP = 56
ROW_GAP = 34
MARGIN = 20
LANE = 18  # vertical space of one back-edge lane under the drawing
LABEL_BELOW = 16  # room under circles and diamonds for their label
BOX_W, BOX_H = 136, 48
ROUND = 34  # diameter of start/end/timer circles
DIAMOND = 40
GATEWAYS = frozenset({"exclusive", "inclusive", "parallel", "join"})
ROUND_TYPES = frozenset({"start", "end", "timer"})
GATEWAY_MARK = {"exclusive": "×", "inclusive": "○", "parallel": "+", "join": "+"}
SWEEPS = 4


@dataclass(frozen=True)
class Placed:
    """A node's place: the centre of its shape, its size, column and row."""

    x: float
    y: float
    width: float
    height: float
    column: int
    row: int


def shape_size(node_type: str) -> tuple[float, float]:
    if node_type in ROUND_TYPES:
        return ROUND, ROUND
    if node_type in GATEWAYS:
        return DIAMOND, DIAMOND
    return BOX_W, BOX_H


def back_edges(flow: FlowDef) -> set[tuple[str, str]]:
    """Edges that lead back: inside a cycle, and to a node no further from the start (fewest steps).

    Every cycle has such an edge (its steps cannot all go further), so the rest is acyclic; a
    return from a later stage to an earlier one is always one of them, whatever order the edges
    were written in.
    """
    outgoing: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    for e in flow.edges:
        outgoing[e.source].append(e.target)
    depth: dict[str, int] = {}
    roots = [n.id for n in flow.nodes if n.type == "start"] + [n.id for n in flow.nodes]
    for root in roots:
        if root in depth:
            continue
        depth[root] = 0
        frontier = [root]
        while frontier:
            nxt = []
            for node in frontier:
                for target in outgoing[node]:
                    if target not in depth:
                        depth[target] = depth[node] + 1
                        nxt.append(target)
            frontier = nxt

    def reaches(a: str, b: str) -> bool:
        seen, stack = {a}, [a]
        while stack:
            for target in outgoing[stack.pop()]:
                if target == b:
                    return True
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    return {
        (e.source, e.target)
        for e in flow.edges
        if depth[e.target] <= depth[e.source] and (e.source == e.target or reaches(e.target, e.source))
    }


def columns(flow: FlowDef, back: set[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: one right of its furthest predecessor along forward edges."""
    forward = [(e.source, e.target) for e in flow.edges if (e.source, e.target) not in back]
    preds: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    indegree = {n.id: 0 for n in flow.nodes}
    for s, t in forward:
        preds[t].append(s)
        indegree[t] += 1
    succ: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    for s, t in forward:
        succ[s].append(t)
    column = {n.id: 0 for n in flow.nodes}
    ready = [n.id for n in flow.nodes if indegree[n.id] == 0]
    while ready:
        node = ready.pop(0)
        for t in succ[node]:
            column[t] = max(column[t], column[node] + 1)
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return column


def _order(flow: FlowDef, column: Mapping[str, int], back: set[tuple[str, str]]) -> list[list[str]]:
    """The nodes of each column, top to bottom, after a few barycentre sweeps."""
    count = max(column.values(), default=-1) + 1
    cols: list[list[str]] = [[] for _ in range(count)]
    for n in flow.nodes:
        cols[column[n.id]].append(n.id)
    links = [(e.source, e.target) for e in flow.edges if (e.source, e.target) not in back]
    preds: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    for s, t in links:
        preds[t].append(s)
        succs[s].append(t)
    for sweep in range(SWEEPS):
        row = {node: i for col in cols for i, node in enumerate(col)}
        neighbours = preds if sweep % 2 == 0 else succs
        order = range(1, count) if sweep % 2 == 0 else range(count - 2, -1, -1)
        for c in order:
            weights = {node: _mean_row(node, neighbours, row) for node in cols[c]}
            cols[c] = sorted(cols[c], key=lambda node: (weights[node], row[node]))
            row.update({node: i for i, node in enumerate(cols[c])})
    return cols


def _mean_row(node: str, neighbours: Mapping[str, list[str]], row: Mapping[str, int]) -> float:
    near = [row[m] for m in neighbours[node] if m in row]
    return sum(near) / len(near) if near else row[node]


def layout(spec: FlowSpec | FlowDef) -> dict[str, Placed]:
    """Where each node goes: columns left to right, rows centred in each column."""
    flow = spec.definition if isinstance(spec, FlowSpec) else spec
    back = back_edges(flow)
    column = columns(flow, back)
    cols = _order(flow, column, back)
    types = {n.id: n.type for n in flow.nodes}
    tallest = max((len(c) for c in cols), default=0)
    cell_h = BOX_H + ROW_GAP
    placed: dict[str, Placed] = {}
    for c, col in enumerate(cols):
        x = MARGIN + c * (BOX_W + COLUMN_GAP) + BOX_W / 2
        offset = (tallest - len(col)) / 2
        for r, node in enumerate(col):
            w, h = shape_size(types[node])
            y = MARGIN + (r + offset) * cell_h + BOX_H / 2
            placed[node] = Placed(x, y, w, h, c, r)
    return placed


# --------------------------------------------------------------------------- drawing
def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _width_of(text: str) -> float:
    """Roughly how wide ``text`` is at 12px: wide (CJK) characters count double."""
    return sum(12.0 if ord(ch) > 0x2E80 else 6.6 for ch in text)


def _fit(text: str, room: float) -> str:
    if _width_of(text) <= room:
        return text
    out = ""
    for ch in text:
        if _width_of(out + ch + "…") > room:
            break
        out += ch
    return out + "…"


def _shape(node: NodeDef, p: Placed) -> str:
    if node.type in ROUND_TYPES:
        r = p.width / 2
        ring = ' stroke-width="3"' if node.type == "end" else ""
        shape = f'<circle class="gd-shape" cx="0" cy="0" r="{_fmt(r)}"{ring}/>'
        if node.type == "timer":
            shape += '<path class="gd-mark" d="M0 -9 V0 H7" fill="none"/>'
        return shape
    if node.type in GATEWAYS:
        h = p.width / 2
        shape = f'<path class="gd-shape" d="M0 {_fmt(-h)} L{_fmt(h)} 0 L0 {_fmt(h)} L{_fmt(-h)} 0 Z"/>'
        mark = GATEWAY_MARK[node.type]
        return shape + (
            f'<text class="gd-mark" x="0" y="6" text-anchor="middle" font-size="18" fill="#52606d" '
            f'stroke="none">{mark}</text>'
        )
    w, h = p.width, p.height
    dash = ' stroke-dasharray="5 3"' if node.type == "auto" else ""
    shape = (
        f'<rect class="gd-shape" x="{_fmt(-w / 2)}" y="{_fmt(-h / 2)}" width="{_fmt(w)}" '
        f'height="{_fmt(h)}" rx="8"{dash}/>'
    )
    if node.type == "approval":
        shape += f'<path class="gd-mark" d="M{_fmt(w / 2 - 16)} {_fmt(-h / 2 + 9)} l3 3 l6 -6" fill="none"/>'
    if node.type == "subprocess":
        y = h / 2
        shape += f'<path class="gd-mark" d="M-5 {_fmt(y - 8)} h10 M0 {_fmt(y - 13)} v10" fill="none"/>'
    return shape


def _lines(text: str, room: float) -> list[str]:
    """A box label in one line, or two (split at a space, or anywhere in CJK), the rest cut with …."""
    if _width_of(text) <= room:
        return [text]
    spaced = " " in text.strip()
    parts = text.split(" ") if spaced else list(text)
    first = ""
    while parts:
        candidate = f"{first} {parts[0]}".strip() if spaced else first + parts[0]
        if first and _width_of(candidate) > room:
            break
        first = candidate
        parts.pop(0)
    rest = (" " if spaced else "").join(parts)
    return [_fit(first, room)] + ([_fit(rest, room)] if rest else [])


def _label(node: NodeDef, p: Placed, text: str) -> str:
    if node.type in ROUND_TYPES or node.type in GATEWAYS:
        shown, y = _fit(text, BOX_W + COLUMN_GAP - 12), p.height / 2 + 14
        return f'<text class="gd-label" x="0" y="{_fmt(y)}" text-anchor="middle">{escape(shown)}</text>'
    lines = _lines(text, p.width - 14)
    y = 4 - 7 * (len(lines) - 1)
    spans = "".join(
        f'<tspan x="0" dy="{0 if i == 0 else 14}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text class="gd-label" x="0" y="{_fmt(y)}" text-anchor="middle">{spans}</text>'


def _edge_path(a: Placed, b: Placed, lane_y: float | None) -> str:
    if lane_y is not None:  # back to an earlier column: out of the top or bottom, along a lane, back in
        side = 1 if lane_y > a.y else -1
        x1, y1 = a.x, a.y + side * a.height / 2
        x2, y2 = b.x, b.y + side * (b.height / 2 + 2)
        return (
            f"M{_fmt(x1)} {_fmt(y1)} C{_fmt(x1)} {_fmt(lane_y)} {_fmt(x2)} {_fmt(lane_y)} "
            f"{_fmt(x2)} {_fmt(y2)}"
        )
    x1, y1 = a.x + a.width / 2, a.y
    x2, y2 = b.x - b.width / 2 - 2, b.y
    bend = max(24.0, (x2 - x1) / 2)
    return (
        f"M{_fmt(x1)} {_fmt(y1)} C{_fmt(x1 + bend)} {_fmt(y1)} {_fmt(x2 - bend)} {_fmt(y2)} "
        f"{_fmt(x2)} {_fmt(y2)}"
    )


def _lanes(
    flow: FlowDef, placed: Mapping[str, Placed], back: set[tuple[str, str]]
) -> tuple[dict[int, float], int, int]:
    """Back edges from the upper half run in lanes above the drawing, the others below it:
    edge index → lane offset (negative: above), and how many lanes go above and below."""
    if not placed:
        return {}, 0, 0
    middle = (min(p.y for p in placed.values()) + max(p.y for p in placed.values())) / 2
    lanes: dict[int, float] = {}
    above = below = 0
    for i, e in enumerate(flow.edges):
        if (e.source, e.target) not in back:
            continue
        if placed[e.source].y < middle:
            above += 1
            lanes[i] = -above
        else:
            below += 1
            lanes[i] = below
    return lanes, above, below


def draw(
    spec: FlowSpec | FlowDef,
    current: Collection[str] = (),
    visited: Collection[str] = (),
    lang: str | None = None,
    title: str = "",
) -> str:
    """The flow as an ``<svg>`` element: ``current`` nodes highlighted, ``visited`` ones marked."""
    flow = spec.definition if isinstance(spec, FlowSpec) else spec
    back = back_edges(flow)
    placed = layout(flow)
    lanes, above, below = _lanes(flow, placed, back)
    top = LANE * above
    placed = {k: Placed(p.x, p.y + top, p.width, p.height, p.column, p.row) for k, p in placed.items()}
    width = max((p.x + BOX_W / 2 for p in placed.values()), default=0) + MARGIN
    ceiling = min((p.y - p.height / 2 for p in placed.values()), default=0)
    bottom = max((p.y + p.height / 2 + LABEL_BELOW for p in placed.values()), default=0)
    height = bottom + LANE * below + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gd-flow" viewBox="0 0 {_fmt(width)} {_fmt(height)}" '
        f'width="{_fmt(width)}" height="{_fmt(height)}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>" if title else "",
        '<defs><marker id="gd-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#7b8794"/>'
        "</marker></defs>",
        '<g class="gd-edges" fill="none" stroke="#7b8794" stroke-width="1.4">',
    ]
    names = {n.id: text_of(n.name, lang) or n.id for n in flow.nodes}
    for i, e in enumerate(flow.edges):
        lane = None
        if i in lanes:
            n = lanes[i]
            lane = ceiling + LANE * (n + 0.5) if n < 0 else bottom + LANE * (n - 0.5)
        classes = "gd-edge" + (" back" if lane is not None else "")
        classes += " taken" if e.source in visited and e.target in visited else ""
        hint = " · ".join(x for x in (e.action or "", e.condition or "", "default" if e.default else "") if x)
        tip = f"{names[e.source]} → {names[e.target]}" + (f" ({hint})" if hint else "")
        parts.append(
            f'<path class="{classes}" data-from="{escape(e.source)}" data-to="{escape(e.target)}" '
            f'd="{_edge_path(placed[e.source], placed[e.target], lane)}" marker-end="url(#gd-arrow)">'
            f"<title>{escape(tip)}</title></path>"
        )
    parts.append("</g>")
    now, seen = set(current), set(visited)
    for node in flow.nodes:
        p = placed[node.id]
        state = " current" if node.id in now else (" visited" if node.id in seen else "")
        fill, stroke, weight = "#ffffff", "#9aa5b1", "1.4"
        if state == " visited":
            fill, stroke = "#e3f0fa", "#5b8fb9"
        elif state == " current":
            fill, stroke, weight = "#fff4d6", "#d97706", "3"
        aria = ' aria-current="step"' if state == " current" else ""
        parts.append(
            f'<g class="gd-node gd-node-{escape(node.type)}{state}" data-node="{escape(node.id)}"{aria} '
            f'transform="translate({_fmt(p.x)} {_fmt(p.y)})" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{weight}"><title>{escape(names[node.id])}</title>'
            f'{_shape(node, p)}<g fill="#1f2933" stroke="none">{_label(node, p, names[node.id])}</g></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["Placed", "back_edges", "columns", "draw", "layout"]
