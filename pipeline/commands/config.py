"""``pipeline config [--json] [--reference]``: the effective configuration, or the key reference.

The configuration prints as TOML that loads back into the same configuration, each value
followed by a comment naming its origin (see ``pipeline.configview``).
"""

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
    import os

    from pipeline import configview
    from pipeline.project import load_project

    project = load_project(args.workspace)
    manifest = project.workspace.manifest_path
    text = manifest.read_text(encoding="utf-8")
    # The release keys as releases see them: cargo-release's configuration fills those not set here.
    adopted = project.release
    config = dataclasses.replace(project.config, release=adopted.settings)
    if args.json:
        emit_json({"workspace": str(project.root), "config": _plain(config),
                   "origins": configview.origin_map(config, text, manifest.name, os.environ, adopted.origins)})
    else:
        print(f"# [workspace.metadata.pipeline] of {manifest}")
        print(configview.render(config, text, manifest.name, os.environ, adopted.origins), end="")
    return 0
