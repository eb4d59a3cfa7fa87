"""``pipeline report [-o FILE] [--markdown]``: job graph, kernel resources, duplicates and release plan.

HTML by default, written to ``target/pipeline-report.html`` of the workspace (one self-contained
page: open it anywhere, attach it to a CI run); ``--markdown`` prints markdown to stdout for
``$GITHUB_STEP_SUMMARY`` (or writes it to ``-o FILE``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.foundation.output import log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write (default: target/pipeline-report.html; with --markdown, stdout)")
    parser.add_argument("--markdown", action="store_true", help="markdown (GitHub step summary) instead of HTML")


def run(args: argparse.Namespace) -> int:
    from pipeline.foundation.fs import atomic_write_text
    from pipeline.project import load_project
    from pipeline.report.gather import gather
    from pipeline.report.render import to_html, to_markdown

    project = load_project(args.workspace)
    report = gather(project)
    text = to_markdown(report) if args.markdown else to_html(report)
    if args.markdown and not args.output:
        print(text, end="")
        return 0
    target = Path(args.output) if args.output else project.root / "target" / "pipeline-report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    log(f"pipeline report: wrote {target}")
    return 0
