"""``pipeline bump`` / ``pipeline release`` / ``pipeline changelog``: the release flow."""

from __future__ import annotations

import argparse

from pipeline.foundation.errors import UsageError
from pipeline.project import load_project
from pipeline.release import flow
from pipeline.release.request import Request


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "changelog":
        parser.add_argument("--json", action="store_true", help="machine-readable output (documented in the README)")
        parser.add_argument("--section", nargs="?", const="", metavar="VERSION",
                            help="print the CHANGELOG section of VERSION (default: the workspace's version): the "
                            "release notes")
        parser.add_argument("--notes-dir", metavar="DIR",
                            help="with --section: also write DIR/notes.md, DIR/release.env (GitLab dotenv) and, for "
                            "a pre-release version, DIR/prerelease")
        return
    if name == "bump":
        parser.add_argument("target", metavar="LEVEL|VERSION",
                            help="major, minor, patch, release, alpha, beta, rc, or an explicit version")
    else:
        parser.add_argument("target", metavar="LEVEL|auto|VERSION", nargs="?", default="auto",
                            help="major, minor, patch, release, alpha, beta, rc, auto (default: from commits), "
                            "or an explicit version")
    parser.add_argument("--crate", dest="crates", action="append", default=[], metavar="NAME",
                        help="move only this crate (repeatable; its dependents follow when they must)")
    parser.add_argument("--changed", action="store_true",
                        help="only crates with commits touching their directory since their last tag")
    parser.add_argument("--execute", action="store_true", help="apply the plan (default: dry run)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (documented in the README)")
    if name == "release":
        parser.add_argument("--push", action="store_true", help="push the commit and tags atomically (with --execute)")
        parser.add_argument("--no-verify", action="store_true", help="skip the gate stages (`gates`)")
        parser.add_argument("--require-gates", action="store_true",
                            help="every gate is required: one whose tool or data is missing fails the release "
                            "instead of being skipped (also `release.require-gates`)")
        parser.add_argument("--allow-dirty", action="store_true", help="release from a work tree with changes")
        recovery = parser.add_mutually_exclusive_group()
        recovery.add_argument("--resume", action="store_true",
                              help="finish an interrupted release (files, commit, tags, artifacts, push) from its "
                              "journal")
        recovery.add_argument("--abort", action="store_true",
                              help="undo an interrupted release: files back, its commit and tags deleted (if not "
                              "pushed)")
        parser.add_argument("--artifacts-only", action="store_true",
                            help="only build dist/ for the release HEAD already is (CI on a release tag): "
                            "no bump, commit or tag")
        parser.add_argument("--assemble", nargs="+", metavar="DIR",
                            help="merge the per-target dist directories of one release into dist/: one "
                            "SHA256SUMS and one manifest.json covering every target (CI's assemble job)")
        parser.add_argument("--target", dest="target_triple", metavar="TRIPLE",
                            help="build the artifacts for this target triple (one of `release.targets`)")
        parser.add_argument("--publish", action="store_true",
                            help="`cargo publish` the crates in dependency order after the artifacts "
                            "(skips publish = false and versions the registry has)")
        parser.add_argument("--publish-only", action="store_true",
                            help="publish the crates of the release HEAD already is (with --execute; a dry run "
                            "prints the order): CI's publish job, or finishing a publish that stopped")
        parser.add_argument("--registry", metavar="NAME",
                            help="cargo registry to publish to (a `[registries]` name; default "
                            "`release.publish-registry`, else crates.io)")


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    if args.command == "changelog":
        if args.notes_dir and args.section is None:
            raise UsageError("--notes-dir writes the notes of --section", "add --section [VERSION]")
        if args.section is not None:
            return flow.release_notes(project, args.section or None, args.notes_dir, args.json)
        return flow.changelog_preview(project, args.json)
    full = args.command == "release"
    if full and (args.resume or args.abort):
        flag = "--resume" if args.resume else "--abort"
        given = _given(args, "a level", "--crate", "--changed", "--push", "--artifacts-only", "--publish",
                       "--publish-only", "--target", "--assemble")
        if given:
            raise UsageError(f"{flag} finishes or undoes the recorded release: it takes no {', '.join(given)}",
                             f"run `pipeline release {flag}` alone (the journal holds the plan)")
        return flow.recover(project, "resume" if args.resume else "abort", args.json)
    if full and args.assemble:
        given = _given(args, "a level", "--crate", "--changed", "--push", "--artifacts-only", "--publish",
                       "--publish-only", "--target", "--no-verify", "--allow-dirty", "--require-gates")
        if given:
            raise UsageError(f"--assemble merges built parts: it takes no {', '.join(given)}",
                             "run `pipeline release --assemble DIR...` with the per-target directories")
        return flow.assemble(project, args.assemble, args.json)
    if full and args.registry and not (args.publish or args.publish_only):
        raise UsageError("--registry names where --publish uploads", "add --publish (or --publish-only)")
    if full and args.publish_only:
        given = _given(args, "a level", "--crate", "--changed", "--push", "--artifacts-only", "--publish",
                       "--target")
        if given:
            raise UsageError(f"--publish-only publishes the release HEAD already is: it takes no {', '.join(given)}",
                             "run `pipeline release --publish-only --execute` on the release commit")
        return flow.publish_only(project, args.json, args.registry, args.execute)
    if full and args.artifacts_only:
        # It always builds (there is no plan to dry-run), so --execute is accepted and changes
        # nothing; every option that shapes a new release is refused rather than ignored.
        given = _given(args, "a level", "--crate", "--changed", "--push", "--no-verify", "--allow-dirty",
                       "--require-gates", "--publish")
        if given:
            raise UsageError(
                f"--artifacts-only builds the release HEAD already is: it takes no {', '.join(given)}",
                "run `pipeline release --artifacts-only` on the tagged commit",
            )
        return flow.artifacts_only(project, args.json, args.target_triple)
    request = Request(
        target=args.target,
        crates=tuple(args.crates),
        changed=args.changed,
        execute=args.execute,
        full=full,
        push=getattr(args, "push", False),
        verify=not getattr(args, "no_verify", False),
        allow_dirty=getattr(args, "allow_dirty", False),
        json=args.json,
        require_gates=getattr(args, "require_gates", False),
        publish=getattr(args, "publish", False),
        registry=getattr(args, "registry", None),
        triple=getattr(args, "target_triple", None),
    )
    return flow.run(project, request)


def _given(args: argparse.Namespace, *names: str) -> list[str]:
    """Those of ``names`` the command line gave: a mode that cannot use an option refuses it, never ignores it."""
    given = {
        "a level": args.target != "auto",
        "--crate": bool(args.crates),
        "--changed": args.changed,
        "--push": args.push,
        "--artifacts-only": args.artifacts_only,
        "--publish": args.publish,
        "--publish-only": args.publish_only,
        "--target": bool(args.target_triple),
        "--assemble": bool(getattr(args, "assemble", None)),
        "--no-verify": args.no_verify,
        "--allow-dirty": args.allow_dirty,
        "--require-gates": args.require_gates,
    }
    return [name for name in names if given[name]]
