"""The whole release, planned: versions, new file contents, tags, commit message, findings.

Pure: :func:`prepare` takes the :class:`~pipeline.release.facts.ReleaseFacts` and the
:class:`~pipeline.release.request.Request` and returns a frozen :class:`Prepared`; it
reads no file, runs no git and no tool (``tests/test_release_prepare.py`` plans from a
hand-made facts object with the file system and subprocesses shut off).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.foundation.errors import ConfigError, ManifestError, OperationFailed, UsageError
from pipeline.foundation.output import log
from pipeline.release.edit import Edit, edit_toml, update_lockfile
from pipeline.release.facts import ReleaseFacts
from pipeline.release.findings import Finding
from pipeline.release.levels import Target, auto_level
from pipeline.release.plan import Plan, check_versions, make_plan, rel_path, text_locator
from pipeline.release.preflight import preflight
from pipeline.release.request import Request
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.cargo_semver import Version
from pipeline.workspace.manifest import locate_key_in
from pipeline.workspace.model import Workspace

if TYPE_CHECKING:
    from pipeline.cuda.abi import AbiDiff
    from pipeline.release import changelog as cl
    from pipeline.release.abicheck import ApiVerdict
    from pipeline.release.publish_plan import PublishPlan
    from pipeline.release.tagscheme import Scheme

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
    publish: PublishPlan | None = None  # --publish: the order and the skips
    kernel_abi: AbiDiff | None = None  # shown in the plan (from the facts)
    rust_api: ApiVerdict | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.release_tags)


def prepare(facts: ReleaseFacts, req: Request) -> Prepared:
    """The whole release, computed from the facts: plan, new file contents, tags, findings."""
    ws, settings = facts.workspace, facts.settings
    if settings.primary_crate and not ws.has(settings.primary_crate):
        text = facts.manifests.get(ws.manifest_path, b"").decode("utf-8", "replace")
        raise ConfigError(
            f"{locate_key_in(ws.manifest_path, text, 'primary-crate')}: `release.primary-crate` names "
            f"`{settings.primary_crate}`, which is no member",
            f"members are: {', '.join(sorted(ws.names))}")
    crates = _selected_crates(facts, req)
    check_versions(ws, facts.manifests)  # before `auto` reads the base version
    if req.level.auto and crates is None and facts.changes is not None:
        crates = auto_selection(ws, facts.changes, settings.unpublished, settings.skip_crates)
    # A removed or changed kernel entry (or a breaking Rust API) is breaking whatever the commits say.
    breaking = bool(facts.kernel_abi and facts.kernel_abi.breaking) or bool(facts.rust_api and facts.rust_api.breaking)
    feature = bool(facts.kernel_abi and facts.kernel_abi.feature) or bool(facts.rust_api and facts.rust_api.feature)
    target, own_levels = resolve_target(req.level, ws, facts.changes, crates or (), breaking=breaking,
                                        feature=feature, skip=settings.skip_crates)
    plan = make_plan(ws, target, crates, own_levels, outside=facts.outside, extra_crates=settings.extra_crates,
                     unpublished=settings.unpublished, locate=text_locator(facts.manifests),
                     groups=settings.version_groups, skip=settings.skip_crates,
                     keep_build=settings.keep_build_metadata, fix=settings.fix_requirements)

    files = _manifest_and_lock_changes(facts, plan)
    tags = release_tags(plan, settings, facts.scheme) if req.full else ()
    names = tuple(t.name for t in tags)
    section = None
    path = facts.changelog_path
    changelog_problems: list[Finding] = []
    if req.full and path is not None and plan.changes:
        section = _changelog_changes(path, facts, plan, tags, files, changelog_problems)

    problems, warnings = preflight(facts, req, names) if req.full else ([], [])
    if req.full and settings.artifacts and facts.toolchain_problem and any(
            ws.has(c.crate) and ws.package(c.crate).has_binary for c in plan.changes):
        # Found before anything is written, not after the commit and tags when the build fails.
        text = f"{ws.root}: `rustc -vV` fails here ({facts.toolchain_problem}): the release's binaries cannot be built"
        if req.execute:
            problems.append(Finding(text, "install the toolchain the workspace asks for (`rustup toolchain install` "
                                    "in the workspace), or set `artifacts = false` in "
                                    "[workspace.metadata.pipeline.release]", str(ws.root)))
        else:
            warnings.append(text + " (--execute would refuse)")
    if req.full and facts.git is not None:
        collisions = _shared_template_collisions(plan, settings, facts.scheme, facts.git.tags)
        problems = [collisions.get((p.location or "").removeprefix("refs/tags/"), p) for p in problems]
    problems += plan.blockers
    problems += changelog_problems
    artifacts = _artifact_names(facts, plan, req.triple) if req.full and settings.artifacts else ()
    publish = None
    if req.full and req.publish and facts.registry is not None:
        from pipeline.release.publish_plan import plan_publish

        versions = {p.name: p.version for p in ws.members} | {c.crate: str(c.new) for c in plan.changes}
        publish = plan_publish(ws, registry=facts.registry.name, published=facts.published, versions=versions,
                               crates_io_is_registry=facts.registry.crates_io_is_registry,
                               never=settings.never_publish)
        for text in publish.problems:
            message, _, hint = text.partition("\nhint: ")
            problems.append(Finding(message, hint))
    if req.triple and settings.targets and req.triple not in settings.targets:
        problems.append(Finding(f"{ws.manifest_path}: target `{req.triple}` is not in `release.targets` "
                                f"({', '.join(settings.targets)})", "add it there, or pass one of those"))
    summary, body = commit_summary(list(names) if names else [f"{c.crate} {c.new}" for c in plan.changes])
    message = settings.commit_message.replace("{summary}", summary).replace(
        "{version}", str(plan.shared[1]) if plan.shared else ""
    ) + body
    return Prepared(plan, files, tags, message, section, artifacts, tuple(problems), (*plan.warnings, *warnings),
                    facts.changes, publish, facts.kernel_abi, facts.rust_api)


SUMMARY_TAGS = 5  # more tags than this: the subject names the first three, the body all of them


def commit_summary(items: Sequence[str]) -> tuple[str, str]:
    """(``{summary}`` for the release commit's subject, a body to append): every tag in the subject
    when they are few; else the first three and a count, and the whole list in the body (72 bevy
    crates released at once would otherwise make a 2,000-character subject line)."""
    if len(items) <= SUMMARY_TAGS:
        return ", ".join(items), ""
    return f"{', '.join(items[:3])} and {len(items) - 3} more", "\n\n" + "\n".join(items) + "\n"


def _shared_template_collisions(plan: Plan, settings: ReleaseSettings, scheme: Scheme | None,
                                existing: frozenset[str] | set[str]) -> dict[str, Finding]:
    """A crate with its own version tagged by the template without ``{crate}`` (a primary crate,
    clap's `clap_derive` beside `clap`) can reach a version another primary crate already
    released: its tag exists. Say so, with what fixes it, instead of "that version was released"."""
    from pipeline.release.tags import render_tag

    if scheme is None or not scheme.shared:
        return {}
    primary = [c for c in scheme.shared_crates] + ([settings.primary_crate] if settings.primary_crate else [])
    found: dict[str, Finding] = {}
    for change in plan.changes:
        if change.inherited or change.crate not in primary or not plan.tagged(change) or change.crate in scheme.own:
            continue
        others = [c for c in dict.fromkeys(primary) if c != change.crate]
        name = render_tag(scheme.shared, settings.tag_prefix, change.new)
        if name not in existing or not others:
            continue
        found[name] = Finding(
            f"tag `{name}` already exists: `{scheme.shared}` tags {change.crate} and also "
            f"{', '.join(others)}, and {change.crate} {change.old} -> {change.new} reaches a version one of "
            "them already released",
            f"release them together at one version none of them has released (`--crate {change.crate} "
            + " ".join(f"--crate {o}" for o in others) + " VERSION`), or set `release.primary-crate` to the one "
            f"crate `{scheme.shared}` belongs to (the others are then tagged `{scheme.crate or settings.crate_tag}`)",
            f"refs/tags/{name}")
    return found


def release_tags(plan: Plan, settings: ReleaseSettings, scheme: Scheme | None = None) -> tuple[ReleaseTag, ...]:
    """The shared tag, then one per crate with its own version (publish = false crates only with
    ``unpublished = "release"``), named by the workspace's scheme: the configured templates, or
    the ones its existing tags follow. A primary crate's tag has no ``{crate}``; two crates at
    the same version under such a template share one tag (serde's `v1.0.228`)."""
    from pipeline.release.tags import render_tag

    shared_template = scheme.shared if scheme is not None and scheme.shared else settings.shared_tag
    crate_template = scheme.crate if scheme is not None and scheme.crate else settings.crate_tag
    primary = set(scheme.shared_crates if scheme is not None else ()) | (
        {settings.primary_crate} if settings.primary_crate else set())
    tags: dict[str, ReleaseTag] = {}
    shown = shown_version if settings.keep_build_metadata else (lambda v: v)
    if plan.shared is not None and any(c.inherited and plan.tagged(c) for c in plan.changes):
        shared = shown(plan.shared[1])
        name = render_tag(shared_template, settings.tag_prefix, shared)
        tags[name] = ReleaseTag(name, str(shared))
    for change in plan.changes:
        if change.inherited or not plan.tagged(change):
            continue
        own = scheme.own.get(change.crate) if scheme is not None else settings.crate_tags.get(change.crate)
        if own is not None:
            name = render_tag(own, settings.tag_prefix, shown(change.new), change.crate)
        elif change.crate in primary:
            name = render_tag(shared_template, settings.tag_prefix, shown(change.new))
        else:
            name = render_tag(crate_template, settings.tag_prefix, shown(change.new), change.crate)
        tags.setdefault(name, ReleaseTag(name, str(shown(change.new))))
    return tuple(tags.values())


def shown_version(version: Version) -> Version:
    """``version`` without its build metadata: what tags and changelog headings show of a version
    whose metadata is kept (`keep-build-metadata`: toml's `1.1.5+spec-1.1.0` is tagged `toml-v1.1.5`)."""
    return Version(version.major, version.minor, version.patch, version.pre)


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


def _own(changes: cl.Changes, crate: str, grouped: Mapping[str, Sequence[cl.Entry]] | None = None) -> cl.Changes:
    """The entries of commits touching ``crate`` itself (not a workspace-level file).

    ``grouped``: :func:`_entries_by_crate` of ``changes``, when asking for many crates (one pass
    over thousands of entries, not one per crate)."""
    from pipeline.release import changelog as cl

    by_crate = changes.since_by_crate
    since = by_crate.get(crate) if by_crate is not None else changes.since
    entries = tuple(grouped.get(crate, ())) if grouped is not None else tuple(
        e for e in changes.entries if crate in e.crates)
    return cl.Changes(since, entries, {crate: since} if by_crate is not None else None)


def _entries_by_crate(changes: cl.Changes) -> dict[str, list[cl.Entry]]:
    """crate -> the entries of commits touching it, in order."""
    grouped: dict[str, list[cl.Entry]] = {}
    for entry in changes.entries:
        for crate in entry.crates:
            grouped.setdefault(crate, []).append(entry)
    return grouped


def auto_selection(ws: Workspace, changes: cl.Changes, unpublished: str = "skip",
                   skip: Sequence[str] = ()) -> tuple[str, ...] | None:
    """`auto` without --crate: the crates with commits of their own since their own tag, each
    judged on them; the shared version's line moves when any of its crates (or a workspace-level
    file) changed. None when the history has one range for all (every crate moves together)."""
    if changes.since_by_crate is None:
        return None
    picked = []
    shared_changed = ws.version is not None and any(not e.crates for e in changes.entries)
    grouped = _entries_by_crate(changes)
    for package in ws.members:
        if (not package.publish and unpublished == "skip") or package.name in skip or not package.version_declared:
            continue
        if package.name not in changes.since_by_crate:
            continue
        inherits = package.version_inherited and ws.version is not None
        if grouped.get(package.name) or (inherits and shared_changed):
            picked.append(package.name)
    return tuple(picked)


def _names(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _verdicts(breaking: bool, feature: bool) -> str:
    """What besides the commits made the level (the kernel ABI diff, the Rust API check)."""
    if breaking:
        return "; the kernel ABI or the Rust API check found a breaking change"
    return "; the kernel ABI or the Rust API check found an addition" if feature else ""


def judged_from(changes: cl.Changes, names: Sequence[str]) -> str:
    """What `auto` read for ``names``: ``3 commits since prism-core-v0.3.0: 1 feat, 2 fix``
    (``1 breaking`` first; a commit that is not conventional counts as ``other``)."""
    count = len(changes.entries)
    by_crate = changes.since_by_crate
    tags = {by_crate.get(n) for n in names} if by_crate is not None and names else {changes.since}
    if tags == {None}:
        where = "in the whole history (no release tag yet)"
    elif len(tags) == 1:
        where = f"since {next(iter(tags))}"
    else:
        shown = sorted(t for t in tags if t is not None)
        where = f"since their own tags ({_names(shown, 3)}{', or none' if None in tags else ''})"
    kinds: dict[str, int] = {}
    for entry in changes.entries:
        kind = "breaking" if entry.breaking else entry.type or "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    rank = {"breaking": 0, "feat": 1, "add": 1, "fix": 2, "other": 9}
    ordered = sorted(kinds.items(), key=lambda item: (rank.get(item[0], 5), -item[1], item[0]))
    detail = ", ".join(f"{n} {kind}" for kind, n in ordered)
    return f"{count} commit{'' if count == 1 else 's'} {where}" + (f": {detail}" if detail else "")


def resolve_target(
    target: Target, ws: Workspace, changes: cl.Changes | None, crates: Sequence[str], *,
    breaking: bool = False, feature: bool = False, skip: Sequence[str] = (),
) -> tuple[Target, dict[str, Target]]:
    """The level for the plan, and the levels of crates with their own version line (for `auto`).

    ``breaking`` / ``feature``: what the kernel ABI (or the Rust API check) found, on top of the commits.
    """
    if not target.auto:
        return target, {}
    if changes is None:
        raise UsageError(
            f"`auto` needs the git history, but {ws.root} is not in a git repository",
            "give a level (major, minor, patch, ...) or an explicit version",
        )
    scoped = changes.for_crates(crates) if crates else changes
    level = auto_level(
        level_base(ws, crates), breaking=scoped.breaking or breaking, feature=scoped.feature or feature,
        other=bool(scoped.entries),
    )
    if level is None:
        since = f"since {changes.since}" if changes.since else "in the history"
        raise OperationFailed(
            f"nothing to release in {ws.root}: no commits {since} touch the workspace",
            "commit changes first, or give a level or version to release anyway",
        )
    verdicts = _verdicts(breaking, feature)
    # The whole shared line moves when any of its crates is selected: it is judged as one.
    shared_names = [p.name for p in ws.members if p.version_inherited and ws.version is not None]
    if crates and not any(ws.package(c).version_inherited for c in crates if ws.has(c)):
        shared_names = []
    if shared_names:
        # The shared line is judged on its own crates' commits (and workspace-level files), not on
        # those of crates with a version line of their own.
        own_lines = [p.name for p in ws.members if p.name not in shared_names and (not crates or p.name in crates)
                     and (crates or p.publish)]
        shared = changes.for_crates(shared_names) if own_lines else scoped
        shared_level = auto_level(level_base(ws, shared_names), breaking=shared.breaking or breaking,
                                  feature=shared.feature or feature, other=bool(shared.entries))
        level = shared_level or level
        log(f"release: auto: the shared version {ws.version} ({_names(shared_names)}): {level} "
            f"({judged_from(shared, shared_names)}{verdicts})")
    # A crate with its own version line is judged on its own version and its own commits:
    # a breaking change in a 1.x crate needs `major` even while the shared line is 0.x.
    own_levels: dict[str, Target] = {}
    grouped = _entries_by_crate(changes) if changes.since_by_crate is not None else None
    for package in ws.members:
        if ((package.version_inherited and ws.version is not None) or (crates and package.name not in crates)
                or package.name in skip):
            continue
        own = _own(changes, package.name, grouped) if grouped is not None else changes.for_crates([package.name])
        own_level = auto_level(
            Version.parse(package.version), breaking=own.breaking, feature=own.feature, other=bool(own.entries)
        )
        if crates or package.publish:  # a publish = false crate nobody selected is not judged aloud
            log(f"release: auto: {package.name} {package.version}: {own_level or 'stays'} "
                f"({judged_from(own, [package.name])})")
        if own_level is not None and own_level != level:
            own_levels[package.name] = Target(level=own_level)
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
        by_file.setdefault(edit.file, []).append(Edit(edit.path, edit.old, edit.new, edit.key))
    for path, edits in by_file.items():
        old = facts.manifests[path]
        files[path] = (old, edit_toml(_utf8(old, path, "manifest"), edits, path).encode("utf-8"))
    moved = {c.crate: (str(c.old), str(c.new)) for c in plan.changes}
    locks = dict(facts.outside_locks)
    if facts.lockfile is not None:
        locks[facts.root / "Cargo.lock"] = facts.lockfile
    for lock, data in locks.items() if plan.changes else ():
        new = update_lockfile(_utf8(data, lock, "lockfile"), moved, lock).encode("utf-8")
        if new != data:
            files[lock] = (data, new)
    return files


def _utf8(data: bytes, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path}: {what} is not valid UTF-8 ({exc.reason} at byte {exc.start}); nothing was written",
            "save the file as UTF-8 and run the command again",
        ) from None


def _changelog_changes(
    path: Path, facts: ReleaseFacts, plan: Plan, tags: Sequence[ReleaseTag],
    files: dict[Path, tuple[bytes | None, bytes]], problems: list[Finding],
) -> str:
    """Write each listed crate's section where the project keeps it: its own CHANGELOG.md when
    crates have one (no root file is created), else the root file, in the file's own heading
    form. A file that already has a section for the version is left alone and refuses the
    release (``problems``): a second one is never written. Returns the text shown."""
    from pipeline.release import changelog as cl

    ws, settings = facts.workspace, facts.settings
    listed = [c for c in plan.changes if plan.listed(c)]
    dirs = {c.crate: _crate_dir(facts, c.crate) for c in listed}
    root_rel = settings.changelog
    existing = {rel_path(p, ws.root) for p in facts.changelogs} | ({root_rel} if facts.changelog is not None else set())
    members = {p.name: _crate_dir(facts, p.name) for p in ws.members}
    targets = cl.changelog_files(root_rel, dirs, lambda rel: rel in existing, members)
    # `changelog-crates`: the root file is theirs (and their version groups'); the others' sections
    # go only to a file of their own, as cargo-release's replacements would write them.
    owners = set(settings.changelog_crates)
    for group in settings.version_groups.values():
        if owners & set(group):
            owners |= set(group)
    if owners:
        targets = {c: rel for c, rel in targets.items() if rel != root_rel or c in owners}
    by_file: dict[str, list[str]] = {}
    for crate, rel in targets.items():
        by_file.setdefault(rel, []).append(crate)
    shown = []
    for rel, crates in by_file.items():
        file = ws.root / rel
        old = facts.changelog if file == path else facts.changelogs.get(file)
        # A crate's own file lists the commits touching that crate; commits touching no crate (CI
        # files, a removed crate's directory) belong to the root file only.
        own_file = rel != root_rel
        changes = (facts.changes.for_crates(crates, workspace_level=not own_file) if facts.changes
                   else cl.Changes(None, ()))
        own = [c for c in listed if c.crate in crates]
        shared = plan.shared is not None and any(c.inherited for c in own)
        # The file's own crate (clap's root file is clap's) titles a section of several versions.
        owner = next((c for c in own if _crate_dir(facts, c.crate) == posixpath.dirname(rel)
                      or (rel == root_rel and c.crate in settings.changelog_crates)), None)
        bare = shown_version if settings.keep_build_metadata else (lambda v: v)
        if shared and plan.shared:
            title = str(bare(plan.shared[1]))
        elif len({str(c.new) for c in own}) == 1:
            title = str(bare(own[0].new))
        elif owner is not None:
            title = str(bare(owner.new))
        else:
            title = tags[0].name if tags else str(bare(own[0].new))
        tag = next((t.name for t in tags if t.version == title), tags[0].name if tags else None)
        links = {}
        if settings.repository_url and tag is not None:
            url = settings.repository_url.rstrip("/")
            previous = changes.since
            links = {
                "Unreleased": f"{url}/compare/{tag}...HEAD",
                title: f"{url}/compare/{previous}...{tag}" if previous else f"{url}/releases/tag/{tag}",
            }
        text = _utf8(old or b"", file, "changelog")
        line = cl.existing_section(text, title)
        if line is not None:
            problems.append(Finding(
                f"{rel}:{line}: the changelog already has a section for {title}",
                "remove it or move its entries under the Unreleased heading (they are carried into the new "
                "section), then run the command again", f"{rel}:{line}"))
        else:
            new = cl.insert_release(text, title, facts.today, changes, links)
            files[file] = (old, new.encode("utf-8"))
        section = cl.section_as_written(text, title, facts.today, changes)
        shown.append(section if len(by_file) == 1 else f"({rel})\n{section}")
    return "\n".join(shown)


def _crate_dir(facts: ReleaseFacts, crate: str) -> str:
    ws = facts.workspace
    if ws.has(crate):
        rel = rel_path(ws.package(crate).directory, ws.root)
    else:
        outside = facts.outside.crate(crate, ws.root) if facts.outside is not None else None
        rel = rel_path(outside.directory, ws.root) if outside is not None else ""
    return "" if rel in (".", str(ws.root)) else rel


def _artifact_names(facts: ReleaseFacts, plan: Plan, triple: str | None = None) -> tuple[str, ...]:
    from pipeline.release.artifacts import artifact_name

    ws, settings = facts.workspace, facts.settings
    names = [
        f"{settings.dist_dir}/{artifact_name(c.crate, str(c.new), '<commit>', triple or facts.host_triple)}"
        for c in plan.changes
        if ws.has(c.crate) and ws.package(c.crate).has_binary  # extra crates are not built with the workspace
    ]
    if facts.cuda_outputs:
        version = str(plan.shared[1]) if plan.shared else str(plan.changes[0].new)
        names.append(f"{settings.dist_dir}/{settings.project_name or ws.root.name}-cuda-{version}-<commit>.tar.gz")
    if facts.lockfile is not None:  # an SBOM beside each tarball
        from pipeline.release.sbom import sbom_name

        names = [n for name in names for n in (name, sbom_name(name))]
    return (*names, f"{settings.dist_dir}/manifest.json", f"{settings.dist_dir}/SHA256SUMS")
