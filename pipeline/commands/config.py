"""``pipeline config [--json] [--reference]``: the effective configuration, or the key reference."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any

from pipeline.foundation.config import documented_keys
from pipeline.foundation.output import emit_json
from pipeline.project import PipelineConfig


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="the effective configuration as JSON")
    parser.add_argument("--reference", action="store_true",
                        help="print the Markdown reference of every key (the README's table)")


def reference() -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, type_name, default, doc in documented_keys(PipelineConfig):
        short = key.removeprefix("workspace.metadata.pipeline.")
        lines.append(f"| `{short}` | {type_name} | `{default}` | {doc.replace('|', '/')} |")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.metadata.get("key", f.name.replace("_", "-")): _plain(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def run(args: argparse.Namespace) -> int:
    if args.reference:
        print(reference())
        return 0
    from pipeline.project import load_project

    project = load_project(args.workspace)
    data = {"workspace": str(project.root), "config": _plain(project.config)}
    if args.json:
        emit_json(data)
    else:
        print(f"# effective [workspace.metadata.pipeline] of {project.workspace.manifest_path}")
        for key, value in data["config"].items():
            print(f"{key} = {value!r}")
    return 0
