"""``pipeline runner check|setup``: is this host ready to be a GPU runner, and the script that makes it so."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.foundation.errors import CheckFailed, UsageError
from pipeline.foundation.output import emit_json, log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    sub = parser.add_subparsers(dest="runner_command", metavar="SUBCOMMAND", parser_class=type(parser))
    sub.required = True
    check = sub.add_parser("check", help="compare this host with [workspace.metadata.pipeline.runner]")
    check.add_argument("--json", action="store_true", help="the findings as JSON (documented in the README)")
    setup = sub.add_parser("setup", help="print the reviewed shell script that sets the host up (runs nothing)")
    setup.add_argument("--check", action="store_true",
                       help="compare the host with what the script would set instead of printing it")
    setup.add_argument("--json", action="store_true", help="with --check: the findings as JSON")
    setup.add_argument("-o", "--output", metavar="FILE", default=None, help="write the script to FILE (mode 755)")
    for sub_parser in (check, setup):
        sub_parser.add_argument("--root", metavar="DIR", default="/",
                                help="read /sys, /proc and /etc under DIR (default /; tests use fake trees)")
        sub_parser.add_argument("--workspace", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _facts(args: argparse.Namespace, project):  # type: ignore[no-untyped-def]
    from pipeline.gpu.leases import lease_dir
    from pipeline.gpu.nvml import read_inventory
    from pipeline.runner import host
    from pipeline.runner.settings import KNOWN_TOOLS

    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"runner {args.runner_command}: --root {args.root}: not a directory",
                         "pass the directory holding the sys/ and proc/ trees (default /)")
    settings = project.config.runner
    disks = host.default_disk_paths(project.root, lease_dir(project.config.gpu.lease_dir), settings.disk_paths)
    return host.gather(root, read_inventory(), disks, KNOWN_TOOLS)


def _print(report, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from pipeline.runner.checks import summary_line

    if as_json:
        emit_json(report.to_json())
        return
    for finding in report.findings:
        print(finding.line())
    print(summary_line(report))


def run(args: argparse.Namespace) -> int:
    from pipeline.project import load_project

    project = load_project(args.workspace)
    settings = project.config.runner
    if args.runner_command == "setup" and not args.check:
        from pipeline.runner.setup import render, write_script

        if args.json:
            raise UsageError("runner setup: --json goes with --check", "run `pipeline runner setup --check --json`")
        script = render(settings, str(project.workspace.manifest_path))
        if args.output:
            write_script(Path(args.output), script)
            log(f"runner setup: wrote {args.output}; review it, then run `sudo bash {args.output}` "
                "(`--check` first to see what it would change)")
        else:
            print(script, end="")
        return 0
    if args.runner_command == "setup" and args.output:
        raise UsageError("runner setup: -o goes without --check", "drop -o, or drop --check to write the script")
    facts = _facts(args, project)
    if args.runner_command == "check":
        from pipeline.runner.checks import check

        report = check(settings, facts)
        what = "runner check"
        hint = "fix the MISMATCH lines above (each has a hint), or adjust [workspace.metadata.pipeline.runner]"
    else:
        from pipeline.runner.setup import intent_report

        report = intent_report(settings, facts)
        what = "runner setup --check"
        hint = "review and run the script from `pipeline runner setup -o runner-setup.sh` as root"
    _print(report, args.json)
    if not report.ok:
        shown = "; ".join(f"{f.check} {f.subject}" for f in report.failing[:5])
        more = f" and {len(report.failing) - 5} more" if len(report.failing) > 5 else ""
        raise CheckFailed(f"{what}: {len(report.failing)} problem(s): {shown}{more}", hint)
    return 0
