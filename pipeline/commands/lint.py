"""``pipeline lint [--json] [--list]``: workspace hygiene, one line per finding, exit 1 on any."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from pipeline.foundation.errors import CheckFailed, ConfigError
from pipeline.foundation.output import emit_json
from pipeline.project import load_project
from pipeline.workspace.lint import RULES, lint


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="findings as JSON")
    parser.add_argument("--list", action="store_true", help="list the rule ids and exit")


def run(args: argparse.Namespace) -> int:
    if args.list:
        for rule in RULES:
            print(rule)
        return 0
    project = load_project(args.workspace)
    unknown = [r for r in project.config.lint.allow if r not in RULES]
    if unknown:
        raise ConfigError(
            f"{project.workspace.manifest_path}: [workspace.metadata.pipeline.lint] allow names unknown rule(s) "
            + ", ".join(unknown),
            "known rules: " + ", ".join(RULES),
        )
    findings = lint(project.workspace, project.config.lint.allow)
    if args.json:
        emit_json({"findings": [asdict(f) for f in findings]})
    else:
        for finding in findings:
            print(finding.render())
    if findings:
        raise CheckFailed(f"lint found {len(findings)} problem(s) in {project.root}",
                          "fix them, or allow a rule in [workspace.metadata.pipeline.lint]")
    if not args.json:
        print(f"lint: {len(project.workspace.members)} crates, no findings")
    return 0
