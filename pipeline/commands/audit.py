"""``pipeline audit [--db PATH] [--fetch-db] [--json] [--allow-offline]``: RustSec advisories and pip-audit."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.deps import pyaudit
from pipeline.deps.lockfile import check_members, lockfile_path, read_lockfile
from pipeline.deps.rustaudit import (
    RustAudit,
    check_database,
    database_path,
    run_builtin,
    run_cargo_audit,
    run_cargo_deny,
)
from pipeline.foundation.errors import CheckFailed, ConfigError, ToolMissing, UsageError
from pipeline.foundation.output import emit_json, log
from pipeline.project import Project, load_project


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--db", metavar="PATH", help="RustSec advisory-db checkout (default: configuration, "
                        "else ~/.cargo/advisory-db)")
    parser.add_argument("--json", action="store_true", help="the report as JSON (shape in docs/deps.md)")
    parser.add_argument("--allow-offline", action="store_true",
                        help="an unreachable Python vulnerability service is a warning, not a failure")
    parser.add_argument("--lockfile", metavar="PATH", help="Cargo.lock to check (default: the workspace's)")
    parser.add_argument("--skip-python", action="store_true", help="only the Rust advisories (no pip-audit)")
    parser.add_argument("--fetch-db", action="store_true",
                        help="clone or update the advisory-db (shallow) where the audit reads it, then audit; "
                        "without network an existing copy is kept")
    parser.add_argument("--db-url", metavar="URL", default=None,
                        help="where --fetch-db clones from (default: https://github.com/rustsec/advisory-db.git)")


def _rust(args: argparse.Namespace, project: Project) -> RustAudit:
    settings = project.config.audit
    lock = lockfile_path(project.root, args.lockfile)
    lockfile = read_lockfile(lock)
    if lock.resolve() == (project.root / "Cargo.lock").resolve():
        # Fail closed: a stale (emptied, truncated) lockfile would audit another graph, maybe none at all.
        check_members(lockfile, ((m.name, m.version) for m in project.workspace.members))
    if settings.engine == "cargo-deny":
        if lock.resolve() != (project.root / "Cargo.lock").resolve():
            # cargo-deny resolves the workspace itself: its findings would be for another lockfile.
            raise UsageError(
                f"--lockfile {args.lockfile} does not apply to engine cargo-deny, which checks "
                f"{project.root / 'Cargo.lock'}",
                'drop --lockfile, or set engine = "builtin" (or "cargo-audit") in [workspace.metadata.pipeline.audit]',
            )
        if args.db or args.fetch_db:
            log("note: --db and --fetch-db do not apply to engine cargo-deny: it reads (and fetches) `db-path` "
                "from the workspace's deny.toml")
        return run_cargo_deny(project.root, lockfile, settings)
    db, origin = database_path(project.root, args.db, settings)
    if args.fetch_db:
        from pipeline.deps.fetchdb import DEFAULT_URL, fetch_database

        fetched = fetch_database(db, args.db_url or DEFAULT_URL)
        log(("warning: " if fetched.action == "kept" else "") + fetched.render())
    info = check_database(db, origin, settings.max_age_days)
    if settings.engine == "cargo-audit":
        return run_cargo_audit(lockfile, info, settings)
    return run_builtin(lockfile, info, settings)


def _python_sources(project: Project) -> list[Path]:
    configured = project.config.audit.python_requirements
    if configured is None:
        return pyaudit.find_sources(project.root)
    paths = [(project.root / p).resolve() for p in configured]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(
            f"{project.workspace.manifest_path}: [workspace.metadata.pipeline.audit] python-requirements names "
            f"missing file(s): {', '.join(missing)}",
            "fix the paths (relative to the workspace root) or remove the key to find files automatically",
        )
    return paths


def rust_json(rust: RustAudit) -> dict[str, Any]:
    db = None
    if rust.db is not None:
        db = {
            "path": str(rust.db.path),
            "updated": datetime.fromtimestamp(rust.db.updated, UTC).isoformat(timespec="seconds"),
            "age_days": round(rust.db.age_days, 2),
            "updated_from": rust.db.origin,
        }
    return {
        "engine": rust.engine,
        "lockfile": str(rust.lockfile),
        "packages": rust.packages,
        "db": db,
        "advisories": rust.advisories,
        "findings": [f.to_json() for f in rust.findings],
        "ignored": list(rust.ignored),
        "unused_ignores": list(rust.unused_ignores),
    }


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    settings = project.config.audit
    want_python = settings.python and not args.skip_python
    sources = _python_sources(project) if want_python else []
    if want_python and not sources and not settings.python_environment:
        log(f"note: python: no pyproject.toml or requirements*.txt in {project.root} and none configured "
            "(`python-requirements` in [workspace.metadata.pipeline.audit]): nothing to pip-audit")
        want_python = False
    if want_python and not pyaudit.pip_audit_available():
        raise ToolMissing("pip-audit", pyaudit.INSTALL_HINT + "; or skip the Python half with --skip-python "
                          "(or `python = false` in [workspace.metadata.pipeline.audit])")

    rust = _rust(args, project)
    for unused in rust.unused_ignores:
        log(f"warning: `ignore` entry {unused} in [workspace.metadata.pipeline.audit] matched no finding")
    for note in rust.notes:
        log(f"note: {note}")
    if not args.json:
        for finding in rust.findings:
            print(finding.render())

    python: list[pyaudit.PySource] = []
    if want_python:
        python = pyaudit.audit_sources(project.root, sources, settings.python_environment,
                                       no_deps=settings.python_no_deps)
        for source in python:
            if not args.json:
                for pf in source.findings:
                    print(pf.render())
            for name, reason in source.skipped if source.status == "audited" else ():
                log(f"warning: python: {source.label}: {name} not audited: {reason}")

    errors = sum(f.severity == "error" for f in rust.findings) + sum(len(s.findings) for s in python)
    warnings = sum(f.severity == "warning" for f in rust.findings)
    unreachable = [s for s in python if s.status == "unreachable"]
    failed = [s for s in python if s.status == "failed"]
    for source in unreachable:
        level = "WARNING" if args.allow_offline else "error"
        log(f"{level}: python: {source.label} NOT AUDITED: vulnerability service unreachable: {source.reason}")
    for source in failed:
        log(f"error: python: {source.label}: pip-audit failed: {source.reason}")

    if args.json:
        emit_json({
            "rust": rust_json(rust),
            "python": {
                "enabled": want_python,
                "allow_offline": bool(args.allow_offline),
                "sources": [s.to_json() for s in python],
            },
            "summary": {
                "errors": errors,
                "warnings": warnings,
                "python_unreachable": len(unreachable),
                "python_failed": len(failed),
            },
        })
    else:
        for source in python:
            if source.status == "audited":
                print(f"python: {source.label}: {source.dependencies - len(source.skipped)} dependencies audited, "
                      f"{len(source.findings)} vulnerabilit{'y' if len(source.findings) == 1 else 'ies'}")
        print(_summary(rust, errors, warnings))

    if errors:
        raise CheckFailed(
            f"audit found {errors} problem(s) in {rust.lockfile if not python else project.root}",
            "upgrade the affected crates/packages (`cargo update -p NAME`), or list an accepted advisory id in "
            "`ignore` under [workspace.metadata.pipeline.audit] with a comment saying why",
        )
    if failed:
        raise CheckFailed(f"pip-audit failed for {', '.join(s.label for s in failed)}",
                          "run pip-audit by hand on that file to see why")
    if unreachable and not args.allow_offline:
        raise CheckFailed(
            f"Python dependencies not audited: the vulnerability service could not be reached "
            f"({', '.join(s.label for s in unreachable)})",
            "run where PyPI's JSON API (pypi.org) is reachable, or pass --allow-offline to accept the gap "
            "with a warning",
        )
    return 0


def _summary(rust: RustAudit, errors: int, warnings: int) -> str:
    where = f"{rust.packages} packages in {rust.lockfile}"
    if rust.db is not None:
        when = datetime.fromtimestamp(rust.db.updated, UTC).strftime("%Y-%m-%d")
        count = f"{rust.advisories} advisories, " if rust.advisories is not None else ""
        where += f" against {rust.db.path} ({count}updated {when})"
    return f"audit [{rust.engine}]: {errors} error(s), {warnings} warning(s); {where}"
