"""The report as one self-contained HTML page (inline CSS and SVG, no script, nothing fetched) or markdown."""

from __future__ import annotations

from html import escape

from pipeline.report.model import Graph, Report
from pipeline.report.svg import render_svg

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #dde; }
p.note { color: #555; margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 6px 0 12px; } th, td { border: 1px solid #ccd; padding: 3px 9px; }
th { background: #eef1f7; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.spill td { background: #ffe1dc; } tr.spill td.spills { color: #b3261e; font-weight: 700; }
tr.finding td { background: #fff4d6; }
svg.graph { border: 1px solid #dde; background: #fbfcfe; max-width: 100%; height: auto; }
.node rect { fill: #e8eefc; stroke: #5a78c8; stroke-width: 1.2; }
.node.gpu rect { fill: #e6f6e9; stroke: #3f9a54; } .node.dup rect { fill: #fff1d6; stroke: #c98a14; }
.node.member rect { fill: #eceff3; stroke: #7a8294; }
.node.critical rect { stroke: #c62828; stroke-width: 3; }
.node text.label { font: 600 13px system-ui, sans-serif; fill: #1d2330; }
.node text.detail { font: 11px system-ui, sans-serif; fill: #556; }
.edge { fill: none; stroke: #8a93a6; stroke-width: 1.4; } .edge.critical { stroke: #c62828; stroke-width: 3; }
.legend span { display: inline-block; margin-right: 14px; } .swatch { display: inline-block; width: 12px;
 height: 12px; vertical-align: -2px; margin-right: 4px; border: 2px solid #c62828; }
"""


def _graph_section(graph: Graph, element_id: str) -> str:
    critical = ""
    if graph.critical:
        critical = (f'<p class="note legend"><span><i class="swatch"></i>critical path: '
                    f'{escape(" → ".join(graph.critical))} ({graph.critical_minutes} min of timeouts)</span></p>')
    return f"<h3>{escape(graph.title)}</h3>{critical}{render_svg(graph, element_id)}"


def to_html(report: Report) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pipeline report: "
             f"{escape(report.workspace)}</title><style>{CSS}</style></head><body>",
             f"<h1>Pipeline report</h1><p class=\"note\">{escape(report.workspace)} · cargo-gpu-pipeline "
             f"{escape(report.tool_version)}</p>"]
    parts.append('<section id="jobs"><h2>Job graph</h2>')
    for note in report.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    for index, graph in enumerate(report.job_graphs):
        parts.append(_graph_section(graph, f"jobs-{index}"))
    parts.append("</section>")

    parts.append('<section id="kernels"><h2>CUDA kernel resources</h2>'
                 f'<p class="note">{escape(report.kernels_note)}</p>')
    if report.kernels:
        spilled = sum(r.spills for r in report.kernels)
        parts.append(f'<p class="note">{spilled} function/architecture pair(s) spill registers (highlighted)</p>')
        parts.append('<table id="kernel-table"><thead><tr><th>kernel</th><th>arch</th><th>function</th>'
                     "<th>registers</th><th>shared (B)</th><th>stack (B)</th><th>spill stores (B)</th>"
                     "<th>spill loads (B)</th></tr></thead><tbody>")
        for r in report.kernels:
            css = "spill" if r.spills else ""
            parts.append(f'<tr class="{css}"><td>{escape(r.kernel)}</td><td>{escape(r.arch)}'
                         f"</td><td><code>{escape(r.function)}</code></td><td class=\"num\">{r.registers}</td>"
                         f'<td class="num">{r.shared_bytes}</td><td class="num">{r.stack_bytes}</td>'
                         f'<td class="num spills">{r.spill_stores}</td>'
                         f'<td class="num spills">{r.spill_loads}</td></tr>')
        parts.append("</tbody></table>")
    parts.append("</section>")

    parts.append('<section id="dupes"><h2>Duplicate versions</h2>'
                 f'<p class="note">{escape(report.duplicates_note)}</p>')
    if report.duplicate_graph is not None:
        parts.append(render_svg(report.duplicate_graph, "dupes-graph"))
    if report.duplicates:
        parts.append('<table id="dupes-table"><thead><tr><th>crate</th><th>version</th><th>why</th>'
                     "<th>accepted</th></tr></thead><tbody>")
        for dup in report.duplicates:
            for version, why, accepted in dup.versions:
                parts.append(f'<tr class="{"finding" if dup.finding else ""}"><td>{escape(dup.name)}</td>'
                             f"<td>{escape(version)}</td><td>{escape(why)}</td><td>{escape(accepted or '')}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</section>")

    parts.append('<section id="release"><h2>Release plan</h2>'
                 f'<p class="note">{escape(report.release_note)}</p>')
    if report.release:
        parts.append('<table id="release-table"><thead><tr><th>crate</th><th>from</th><th>to</th><th>why</th>'
                     "</tr></thead><tbody>")
        for row in report.release:
            parts.append(f"<tr><td>{escape(row.crate)}</td><td>{escape(row.old)}</td><td>{escape(row.new)}</td>"
                         f"<td>{escape(row.reason)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</section></body></html>")
    return "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _mermaid(graph: Graph) -> list[str]:
    lines = ["```mermaid", "flowchart LR"]
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        label = node.label.replace('"', "'")
        lines.append(f'  {ids[node.id]}["{label}"]')
    for source, target in graph.edges:
        if source in ids and target in ids:
            lines.append(f"  {ids[source]} --> {ids[target]}")
    if graph.critical:
        lines.append("  classDef critical stroke:#c62828,stroke-width:3px")
        lines.append("  class " + ",".join(ids[n] for n in graph.critical if n in ids) + " critical")
    lines.append("```")
    return lines


def to_markdown(report: Report) -> str:
    out = [f"## Pipeline report: `{report.workspace}`", ""]
    for note in report.notes:
        out += [f"> {note}", ""]
    for graph in report.job_graphs:
        out += [f"### {graph.title}", ""]
        if graph.critical:
            out += [f"Critical path: **{' → '.join(graph.critical)}** ({graph.critical_minutes} min of timeouts)", ""]
        out += [*_mermaid(graph), ""]
    out += ["### CUDA kernel resources", "", report.kernels_note, ""]
    if report.kernels:
        out += ["| kernel | arch | function | registers | shared (B) | stack (B) | spill stores (B) "
                "| spill loads (B) |",
                "|---|---|---|--:|--:|--:|--:|--:|"]
        for r in report.kernels:
            mark = (lambda v: f"**{v}** ⚠") if r.spills else str
            out.append(f"| {_cell(r.kernel)} | {r.arch} | `{_cell(r.function)}` | {r.registers} | "
                       f"{r.shared_bytes} | {r.stack_bytes} | {mark(r.spill_stores)} | {mark(r.spill_loads)} |")
        out.append("")
    out += ["### Duplicate versions", "", report.duplicates_note, ""]
    for dup in report.duplicates:
        flag = " (finding)" if dup.finding else ""
        out.append(f"- **{_cell(dup.name)}**{flag}")
        for version, why, accepted in dup.versions:
            out.append(f"  - {version}: {_cell(why)}" + (f" — accepted: {_cell(accepted)}" if accepted else ""))
    if report.duplicates:
        out.append("")
    out += ["### Release plan", "", report.release_note, ""]
    if report.release:
        out += ["| crate | from | to | why |", "|---|---|---|---|"]
        out += [f"| {_cell(r.crate)} | {r.old} | {r.new} | {_cell(r.reason)} |" for r in report.release]
        out.append("")
    return "\n".join(out)
