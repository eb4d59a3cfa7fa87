"""``pipeline doctor [--json]``: tools and versions, with a hint for each problem."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from pipeline.doctor import probe_tools
from pipeline.errors import CheckFailed
from pipeline.output import emit_json


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="the report as JSON")


def run(args: argparse.Namespace) -> int:
    tools = probe_tools()
    missing_required = [t for t in tools if t.required and not t.ok]
    if args.json:
        emit_json({"tools": [asdict(t) for t in tools], "ok": not missing_required})
    else:
        for tool in tools:
            if tool.ok:
                print(f"  ok       {tool.name:<8} {tool.version}  ({tool.path})")
            else:
                level = "MISSING" if tool.required else "missing"
                print(f"  {level:<8} {tool.name:<8} hint: {tool.hint}")
    if missing_required:
        raise CheckFailed(
            "doctor: required tool(s) missing: " + ", ".join(t.name for t in missing_required),
            missing_required[0].hint,
        )
    return 0
