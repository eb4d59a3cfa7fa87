"""``pipeline generate [--check]``: render the CI files, or fail when the committed ones drift."""

from __future__ import annotations

import argparse
import sys

from pipeline.foundation.errors import CheckFailed
from pipeline.foundation.output import emit_json, log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--check", action="store_true",
                        help="only compare: exit 1 with a unified diff when a file is stale or missing")
    parser.add_argument("--json", action="store_true", help="print the files and their state as JSON")
    parser.add_argument("--force", action="store_true",
                        help="replace CI files this tool did not write (default: refuse, naming them)")


def run(args: argparse.Namespace) -> int:
    from pipeline.ci.generate import compare, load_target, local_notes, pipeline_for, write_files
    from pipeline.ci.render import render_all
    from pipeline.ci.sessions import check_extra_sessions

    target = load_target(args.workspace)
    pipeline, repo = pipeline_for(target)
    # A job running a session the noxfile lacks would fail in CI: a configuration error now.
    sessions = check_extra_sessions(target.config.ci, repo, target.root / "Cargo.toml")
    if sessions is not None and not sessions.checked:
        log(f"pipeline generate: note: `ci.extra-sessions` not checked against the noxfile: {sessions.reason}")
    files = render_all(pipeline)
    for note in local_notes(target, pipeline, repo):
        log(f"pipeline generate: note: {note}")
    if args.check:
        drifts = compare(files, repo)
        if args.json:
            emit_json({"repository": str(repo), "files": sorted(files),
                       "stale": [{"path": d.path, "diff": d.diff} for d in drifts]})
        else:
            for drift in drifts:
                sys.stdout.write(drift.diff)
        if drifts:
            raise CheckFailed(
                "generated CI files are stale: " + ", ".join(d.path for d in drifts) + f" (in {repo})",
                "run `pipeline generate` and commit the result",
            )
        if not args.json:
            log(f"pipeline generate: {len(files)} files up to date in {repo}")
        return 0
    from pipeline.ci.ownership import foreign_files

    foreign = [] if args.force else foreign_files(files, repo)
    if foreign:
        for item in foreign[1:]:
            log(f"error: {repo / item.path} was not written by cargo-gpu-pipeline\nhint: {item.hint()}")
        first = foreign[0]
        raise CheckFailed(
            f"{repo / first.path} was not written by cargo-gpu-pipeline: `pipeline generate` will not replace it"
            + (f" (nor {len(foreign) - 1} other file(s) above)" if len(foreign) > 1 else ""),
            f"{first.hint()}; or pass --force to replace it",
        )
    changed = write_files(files, repo)
    if args.json:
        emit_json({"repository": str(repo), "files": sorted(files), "written": changed})
    else:
        for rel in files:
            log(f"{'wrote' if rel in changed else 'unchanged'} {rel}")
    return 0
