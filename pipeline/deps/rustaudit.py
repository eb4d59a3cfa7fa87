"""The Rust half of `pipeline audit`: find and vet the advisory database, then run an engine.

Engines: ``builtin`` (pipeline.deps.advisories), ``cargo-audit`` and
``cargo-deny`` (when installed). Whatever the engine, the findings come back as
:class:`~pipeline.deps.advisories.Finding` and the same ``ignore`` and
``informational`` policy applies, so switching engines changes no exit code for
the same database. This tool never fetches the database: a missing or stale one
is an error that says how to update it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipeline.deps.advisories import (
    INFORMATIONAL_KINDS,
    Finding,
    advisory_files,
    database_age_days,
    load_database,
    match_lockfile,
)
from pipeline.deps.lockfile import Lockfile
from pipeline.deps.settings import AuditSettings
from pipeline.foundation import proc
from pipeline.foundation.errors import CheckFailed, CommandFailed, OperationFailed, ToolMissing

DEFAULT_DB = "~/.cargo/advisory-db"
DB_URL = "https://github.com/rustsec/advisory-db"
Informational = Literal["warn", "deny", "ignore"]


@dataclass(frozen=True)
class DbInfo:
    path: Path
    updated: float  # unix time of the last commit (or newest file)
    age_days: float
    origin: str  # "git commit" or "file mtime"


@dataclass(frozen=True)
class RustAudit:
    engine: str
    lockfile: Path
    packages: int
    db: DbInfo | None
    advisories: int | None  # advisories in the database (builtin engine)
    findings: tuple[Finding, ...]
    ignored: tuple[str, ...] = ()
    unused_ignores: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def database_path(root: Path, explicit: str | None, settings: AuditSettings) -> tuple[Path, str]:
    """(path, where it came from): --db, then configuration (relative to the root), then cargo-audit's default."""
    if explicit:
        return Path(explicit).expanduser().resolve(), "--db"
    if settings.db:
        return (root / Path(settings.db).expanduser()).resolve(), "[workspace.metadata.pipeline.audit] db"
    return Path(DEFAULT_DB).expanduser(), f"the default {DEFAULT_DB}"


def _git_commit_time(db: Path) -> float | None:
    if not (db / ".git").exists():
        return None
    try:
        result = proc.run(["git", "-C", str(db), "log", "-1", "--format=%ct"], check=False)
    except ToolMissing:
        return None
    text = result.stdout.strip()
    return float(text) if result.ok and text.isdigit() else None


def check_database(db: Path, origin: str, max_age_days: int) -> DbInfo:
    """The database exists, looks like advisory-db and is fresh enough, else OperationFailed (exit 1)."""
    if not db.is_dir():
        raise OperationFailed(
            f"advisory database {db} (from {origin}) does not exist: advisories cannot be checked",
            f"clone it: `git clone {DB_URL} {db}` (or pass --db PATH / set `db` in "
            "[workspace.metadata.pipeline.audit])",
        )
    if not (db / "crates").is_dir():
        raise OperationFailed(
            f"{db} (from {origin}) is not a RustSec advisory-db checkout: no crates/ directory",
            f"point --db at a clone of {DB_URL}",
        )
    if not advisory_files(db):
        raise CheckFailed(
            f"advisory database {db} (from {origin}) holds no advisories under crates/: advisories cannot be "
            "checked",
            f"point --db at a full clone of {DB_URL} (or run `pipeline audit --fetch-db`)",
        )
    commit = _git_commit_time(db)
    age, stamp = database_age_days(db, commit)
    info = DbInfo(db, stamp, age, "git commit" if commit is not None else "file mtime")
    if max_age_days and age > max_age_days:
        when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
        raise OperationFailed(
            f"advisory database {db} is stale: last updated {when} ({info.origin}), {age:.0f} days ago, "
            f"more than max-age-days = {max_age_days}",
            f"update it (`git -C {db} pull`), or raise `max-age-days` in [workspace.metadata.pipeline.audit]",
        )
    return info


def apply_policy(
    findings: Iterable[Finding], informational: Informational, ignore: Sequence[str]
) -> tuple[tuple[Finding, ...], tuple[str, ...], tuple[str, ...]]:
    """(kept findings, ignore ids used, ignore ids unused) for engines whose raw findings we filter ourselves."""
    wanted = set(ignore)
    used: set[str] = set()
    kept = []
    for f in findings:
        hits = wanted & {f.id, *f.aliases}
        if hits:
            used.update(hits)
            continue
        if f.kind in INFORMATIONAL_KINDS:
            if informational == "ignore":
                continue
            f = Finding(f.id, f.package, f.version, f.kind, "error" if informational == "deny" else "warning",
                        f.title, f.patched, f.url, f.aliases, f.date)
        kept.append(f)
    kept.sort(key=lambda f: (f.id, f.package, f.version))
    return tuple(kept), tuple(sorted(used)), tuple(sorted(wanted - used))


def run_builtin(lockfile: Lockfile, db: DbInfo, settings: AuditSettings) -> RustAudit:
    database = load_database(db.path)
    result = match_lockfile(lockfile.packages, database, informational=settings.informational,
                            ignore=settings.ignore)
    return RustAudit("builtin", lockfile.path, len(lockfile.packages), db, database.count, result.findings,
                     result.ignored, result.unused_ignores)


def _finding_from_rustsec(advisory: dict[str, Any], package: dict[str, Any], patched: Sequence[str]) -> Finding:
    kind = advisory.get("informational") or "vulnerability"
    return Finding(
        str(advisory.get("id")), str(package.get("name")), str(package.get("version")), kind, "error",
        str(advisory.get("title") or advisory.get("id")), tuple(patched), advisory.get("url"),
        tuple(advisory.get("aliases") or ()), advisory.get("date"),
    )


def parse_cargo_audit(report: dict[str, Any]) -> list[Finding]:
    """Findings from `cargo audit --json` (vulnerabilities and informational warnings; yanked left out)."""
    findings = []
    for item in (report.get("vulnerabilities") or {}).get("list", []):
        patched = (item.get("versions") or {}).get("patched", [])
        findings.append(_finding_from_rustsec(item["advisory"], item["package"], patched))
    for kind, items in (report.get("warnings") or {}).items():
        if kind == "yanked":
            continue
        for item in items:
            if not item.get("advisory"):
                continue
            patched = (item.get("versions") or {}).get("patched", [])
            findings.append(_finding_from_rustsec(item["advisory"], item["package"], patched))
    return findings


def run_cargo_audit(lockfile: Lockfile, db: DbInfo, settings: AuditSettings) -> RustAudit:
    tool = proc.find_tool("cargo-audit", "install it (`cargo install cargo-audit`) or set engine = \"builtin\"")
    argv = [tool, "audit", "--db", str(db.path), "--no-fetch", "--stale", "--no-yanked", "--json",
            "-f", str(lockfile.path)]
    result = proc.run(argv, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise CommandFailed(list(result.argv), result.returncode, proc.tail(result.stderr),
                            "run the command by hand to see why cargo-audit failed") from exc
    kept, used, unused = apply_policy(parse_cargo_audit(report), settings.informational, settings.ignore)
    count = (report.get("database") or {}).get("advisory-count")
    return RustAudit("cargo-audit", lockfile.path, len(lockfile.packages), db, count, kept, used, unused)


def _solution(notes: Sequence[str]) -> tuple[str, ...]:
    for note in notes:
        if note.startswith("Solution: Upgrade to "):
            text = note.removeprefix("Solution: Upgrade to ").split(" (try", 1)[0]
            return tuple(p.strip() for p in text.split(" OR ") if p.strip())
    return ()


def parse_cargo_deny(output: str) -> list[Finding]:
    """Findings from `cargo deny --format json check advisories` (one JSON object per line)."""
    findings = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        fields = item.get("fields") or {}
        advisory = fields.get("advisory")
        if item.get("type") != "diagnostic" or not advisory:
            continue
        for graph in fields.get("graphs") or []:
            krate = graph.get("Krate") or {}
            findings.append(_finding_from_rustsec(advisory, krate, _solution(fields.get("notes") or ())))
    return findings


def run_cargo_deny(root: Path, lockfile: Lockfile, settings: AuditSettings) -> RustAudit:
    """cargo-deny reads its own deny.toml (db-path, db-urls); it runs --offline: we never fetch."""
    tool = proc.find_tool("cargo-deny", "install it (`cargo install cargo-deny`) or set engine = \"builtin\"")
    argv = [tool, "--offline", "--format", "json", "--color", "never", "check", "advisories"]
    result = proc.run(argv, cwd=root, check=False, env={"NO_COLOR": "1"})
    # cargo-deny writes its diagnostics to stderr; exit 1 only means "found something".
    raw = parse_cargo_deny(result.stderr + "\n" + result.stdout)
    if result.returncode not in (0, 1) or (result.returncode == 1 and not raw):
        raise CommandFailed(list(result.argv), result.returncode, proc.tail(result.stderr),
                            "run `cargo deny check advisories` in the workspace to see why it failed")
    kept, used, unused = apply_policy(raw, settings.informational, settings.ignore)
    notes = ("cargo-deny reads the database configured in deny.toml (db-path); --db does not apply",)
    return RustAudit("cargo-deny", lockfile.path, len(lockfile.packages), None, None, kept, used, unused, notes)

