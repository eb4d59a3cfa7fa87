"""A layered drawing of a DAG as inline SVG (no library, no script): what ``report.html`` embeds.

Layers by longest path from a source, so every edge points right; nodes of a layer stacked in
first-seen order. Nodes and edges on the critical chain get the ``critical`` class.
"""

from __future__ import annotations

import itertools
from html import escape

from pipeline.report.model import Graph

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 170, 46, 60, 18, 16


def layers(graph: Graph) -> dict[str, int]:
    ids = [n.id for n in graph.nodes]
    parents: dict[str, list[str]] = {i: [] for i in ids}
    for source, target in graph.edges:
        if source in parents and target in parents:
            parents[target].append(source)
    depth: dict[str, int] = {}

    def visit(node: str, seen: frozenset[str]) -> int:
        if node not in depth:
            if node in seen:  # a cycle would be a bug upstream; draw it flat rather than loop
                return 0
            depth[node] = 1 + max((visit(p, seen | {node}) for p in parents[node]), default=-1)
        return depth[node]

    for node in ids:
        visit(node, frozenset())
    return depth


def render_svg(graph: Graph, element_id: str) -> str:
    depth = layers(graph)
    columns: dict[int, list[str]] = {}
    for node in graph.nodes:
        columns.setdefault(depth[node.id], []).append(node.id)
    position: dict[str, tuple[int, int]] = {}
    for column, members in columns.items():
        for row, node_id in enumerate(members):
            position[node_id] = (PAD + column * (WIDTH + GAP_X), PAD + row * (HEIGHT + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (WIDTH + GAP_X) - GAP_X
    height = PAD * 2 + max((len(m) for m in columns.values()), default=1) * (HEIGHT + GAP_Y) - GAP_Y
    critical = set(graph.critical)
    critical_edges = set(itertools.pairwise(graph.critical))
    out = [f'<svg id="{escape(element_id)}" class="graph" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(graph.title)}">',
           '<defs><marker id="arrow-' + escape(element_id) + '" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse">'
           '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for source, target in graph.edges:
        if source not in position or target not in position:
            continue
        (x1, y1), (x2, y2) = position[source], position[target]
        x1, y1, y2 = x1 + WIDTH, y1 + HEIGHT // 2, y2 + HEIGHT // 2
        middle = (x1 + x2) // 2
        css = "edge critical" if (source, target) in critical_edges else "edge"
        out.append(f'<path class="{css}" d="M {x1} {y1} C {middle} {y1}, {middle} {y2}, {x2} {y2}" '
                   f'marker-end="url(#arrow-{escape(element_id)})"/>')
    for node in graph.nodes:
        x, y = position[node.id]
        css = " ".join(c for c in ("node", node.kind, "critical" if node.id in critical else "") if c)
        out.append(f'<g class="{css}" data-id="{escape(node.id)}"><title>{escape(node.label)}'
                   f'{(" — " + escape(node.detail)) if node.detail else ""}</title>'
                   f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="6"/>'
                   f'<text x="{x + 10}" y="{y + 19}" class="label">{escape(_clip(node.label, 22))}</text>'
                   f'<text x="{x + 10}" y="{y + 36}" class="detail">{escape(_clip(node.detail, 26))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
