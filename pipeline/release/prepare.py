"""The whole release, planned: versions, new file contents, tags, commit message, findings.

Pure: :func:`prepare` takes the :class:`~pipeline.release.facts.ReleaseFacts` and the
:class:`~pipeline.release.request.Request` and returns a frozen :class:`Prepared`; it
reads no file, runs no git and no tool (``tests/test_release_prepare.py`` plans from a
hand-made facts object with the file system and subprocesses shut off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.foundation.errors import ManifestError, OperationFailed, UsageError
from pipeline.foundation.output import log
from pipeline.release.edit import Edit, edit_toml, update_lockfile
from pipeline.release.facts import ReleaseFacts
from pipeline.release.findings import Finding
from pipeline.release.levels import Target, auto_level
from pipeline.release.plan import Plan, check_versions, make_plan, text_locator
from pipeline.release.preflight import preflight
from pipeline.release.request import Request
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.cargo_semver import Version
from pipeline.workspace.model import Workspace

if TYPE_CHECKING:
    from pipeline.release import changelog as cl

# The changelog (and git) are imported where they are used: `bump LEVEL` needs neither,
# and on a 500-crate workspace their import is a noticeable part of the command.


@dataclass(frozen=True)
class ReleaseTag:
    name: str
    version: str  # the version it marks (for `{version}` in the tag message)


@dataclass(frozen=True)
class Prepared:
    """Everything a release would do, computed without side effects."""

    plan: Plan
    files: Mapping[Path, tuple[bytes | None, bytes]]  # path -> (old, new)
    release_tags: tuple[ReleaseTag, ...]
    commit_message: str
    changelog_section: str | None
    artifacts: tuple[str, ...]
    problems: tuple[Finding, ...] = ()  # preflight refusals
    warnings: tuple[str, ...] = ()
    changes: cl.Changes | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.release_tags)


def prepare(facts: ReleaseFacts, req: Request) -> Prepared:
    """The whole release, computed from the facts: plan, new file contents, tags, findings."""
    ws, settings = facts.workspace, facts.settings
    crates = _selected_crates(facts, req)
    check_versions(ws, facts.manifests)  # before `auto` reads the base version
    target, own_levels = resolve_target(req.level, ws, facts.changes, crates or ())
    plan = make_plan(ws, target, crates, own_levels, locate=text_locator(facts.manifests))

    files = _manifest_and_lock_changes(facts, plan)
    tags = release_tags(plan, settings) if req.full else ()
    names = tuple(t.name for t in tags)
    section = None
    path = facts.changelog_path
    if req.full and path is not None and plan.changes:
        files[path], section = _changelog_change(path, facts, plan, names)

    problems, warnings = preflight(facts, req, names) if req.full else ([], [])
    problems += plan.blockers
    artifacts = _artifact_names(facts, plan) if req.full and settings.artifacts else ()
    summary = ", ".join(names) if names else ", ".join(f"{c.crate} {c.new}" for c in plan.changes)
    message = settings.commit_message.replace("{summary}", summary).replace(
        "{version}", str(plan.shared[1]) if plan.shared else ""
    )
    return Prepared(plan, files, tags, message, section, artifacts, tuple(problems), (*plan.warnings, *warnings),
                    facts.changes)


def release_tags(plan: Plan, settings: ReleaseSettings) -> tuple[ReleaseTag, ...]:
    """The shared tag, then one per crate with its own version."""
    from pipeline.release.tags import render_tag

    tags = []
    if plan.shared is not None:
        shared = plan.shared[1]
        tags.append(ReleaseTag(render_tag(settings.shared_tag, settings.tag_prefix, shared), str(shared)))
    for change in plan.changes:
        if not change.inherited:
            tags.append(ReleaseTag(render_tag(settings.crate_tag, settings.tag_prefix, change.new, change.crate),
                                   str(change.new)))
    return tuple(tags)


def auto_choice(facts: ReleaseFacts) -> tuple[cl.Changes, str | None]:
    """`pipeline changelog`: every unreleased change, and the level `auto` would choose for them all."""
    assert facts.changes is not None, "auto_choice needs the history in the facts"
    check_versions(facts.workspace, facts.manifests)
    changes = facts.changes
    level = auto_level(
        level_base(facts.workspace), breaking=changes.breaking, feature=changes.feature, other=bool(changes.entries)
    )
    return changes, level


def level_base(ws: Workspace, crates: Sequence[str] = ()) -> Version:
    """The version line `auto` judges a level against (0.x or not, pre-release or not):
    the shared version when the selection uses it, else the first selected crate's."""
    shared = ws.version is not None and (not crates or any(ws.package(c).version_inherited for c in crates))
    base = ws.version if shared and ws.version else ws.package(crates[0]).version if crates else ws.members[0].version
    return Version.parse(base)


def resolve_target(
    target: Target, ws: Workspace, changes: cl.Changes | None, crates: Sequence[str]
) -> tuple[Target, dict[str, Target]]:
    """The level for the plan, and the levels of crates with their own version line (for `auto`)."""
    if not target.auto:
        return target, {}
    if changes is None:
        raise UsageError(
            f"`auto` needs the git history, but {ws.root} is not in a git repository",
            "give a level (major, minor, patch, ...) or an explicit version",
        )
    scoped = changes.for_crates(crates) if crates else changes
    level = auto_level(
        level_base(ws, crates), breaking=scoped.breaking, feature=scoped.feature, other=bool(scoped.entries)
    )
    if level is None:
        since = f"since {changes.since}" if changes.since else "in the history"
        raise OperationFailed(
            f"nothing to release in {ws.root}: no commits {since} touch the workspace",
            "commit changes first, or give a level or version to release anyway",
        )
    log(f"release: `auto` chose `{level}` from {len(scoped.entries)} commit(s)"
        + (f" since {changes.since}" if changes.since else ""))
    # A crate with its own version line is judged on its own version and its own commits:
    # a breaking change in a 1.x crate needs `major` even while the shared line is 0.x.
    own_levels: dict[str, Target] = {}
    for package in ws.members:
        if (package.version_inherited and ws.version is not None) or (crates and package.name not in crates):
            continue
        own = changes.for_crates([package.name])
        own_level = auto_level(
            Version.parse(package.version), breaking=own.breaking, feature=own.feature, other=bool(own.entries)
        )
        if own_level is not None and own_level != level:
            own_levels[package.name] = Target(level=own_level)
            log(f"release: `auto` chose `{own_level}` for {package.name} {package.version} (its own version line)")
    return Target(level=level), own_levels


def _selected_crates(facts: ReleaseFacts, req: Request) -> tuple[str, ...] | None:
    ws = facts.workspace
    crates: tuple[str, ...] | None = tuple(req.crates) or None
    for name in crates or ():
        ws.package(name)  # unknown crate -> an error naming the members
    if not req.changed:
        return crates
    if facts.changed is None:
        raise UsageError(f"--changed needs git history, but {ws.root} is not in a git repository with commits",
                         "select crates with --crate NAME instead")
    changed = tuple(n for n in facts.changed if crates is None or n in crates)
    if not changed:
        raise OperationFailed(
            f"no crate of {ws.root} changed since its last release tag",
            "nothing to release; name crates with --crate to release them anyway",
        )
    return changed


def _manifest_and_lock_changes(facts: ReleaseFacts, plan: Plan) -> dict[Path, tuple[bytes | None, bytes]]:
    files: dict[Path, tuple[bytes | None, bytes]] = {}
    by_file: dict[Path, list[Edit]] = {}
    for edit in plan.edits:
        by_file.setdefault(edit.file, []).append(Edit(edit.path, edit.old, edit.new))
    for path, edits in by_file.items():
        old = facts.manifests[path]
        files[path] = (old, edit_toml(_utf8(old, path, "manifest"), edits, path).encode("utf-8"))
    if facts.lockfile is not None and plan.changes:
        lock = facts.root / "Cargo.lock"
        text = _utf8(facts.lockfile, lock, "lockfile")
        moved = {c.crate: (str(c.old), str(c.new)) for c in plan.changes}
        new = update_lockfile(text, moved, lock).encode("utf-8")
        if new != facts.lockfile:
            files[lock] = (facts.lockfile, new)
    return files


def _utf8(data: bytes, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path}: {what} is not valid UTF-8 ({exc.reason} at byte {exc.start}); nothing was written",
            "save the file as UTF-8 and run the command again",
        ) from None


def _changelog_change(
    path: Path, facts: ReleaseFacts, plan: Plan, tags: Sequence[str]
) -> tuple[tuple[bytes | None, bytes], str]:
    from pipeline.release import changelog as cl

    settings, changes, old = facts.settings, facts.changes, facts.changelog
    scoped = changes.for_crates(c.crate for c in plan.changes) if changes else cl.Changes(None, ())
    title = str(plan.shared[1]) if plan.shared else tags[0]
    links = {}
    if settings.repository_url and tags:
        url = settings.repository_url.rstrip("/")
        previous = changes.since if changes else None
        links = {
            "Unreleased": f"{url}/compare/{tags[0]}...HEAD",
            title: f"{url}/compare/{previous}...{tags[0]}" if previous else f"{url}/releases/tag/{tags[0]}",
        }
    new = cl.insert_release(_utf8(old or b"", path, "changelog"), title, facts.today, scoped, links)
    return (old, new.encode("utf-8")), cl.render_section(title, facts.today, scoped)


def _artifact_names(facts: ReleaseFacts, plan: Plan) -> tuple[str, ...]:
    from pipeline.release.artifacts import artifact_name

    ws, settings = facts.workspace, facts.settings
    names = [
        f"{settings.dist_dir}/{artifact_name(c.crate, str(c.new), '<commit>', facts.host_triple)}"
        for c in plan.changes
        if ws.package(c.crate).has_binary
    ]
    if facts.cuda_outputs:
        version = str(plan.shared[1]) if plan.shared else str(plan.changes[0].new)
        names.append(f"{settings.dist_dir}/{settings.project_name or ws.root.name}-cuda-{version}-<commit>.tar.gz")
    return (*names, f"{settings.dist_dir}/manifest.json", f"{settings.dist_dir}/SHA256SUMS")
