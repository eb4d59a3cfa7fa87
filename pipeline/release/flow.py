"""The release flow: plan, preflight, write, commit, tag, artifacts, push.

``bump`` is the first half (versions, requirements, Cargo.lock); ``release``
adds the changelog, the gates, git and artifacts. Both are dry runs unless
``execute`` is set: the plan and the unified diff of every file are printed and
nothing is written.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.foundation import fs, proc
from pipeline.foundation.errors import CheckFailed, ManifestError, OperationFailed, PipelineError, UsageError
from pipeline.foundation.fs import FaultHook
from pipeline.foundation.output import emit_json, log
from pipeline.project import Project
from pipeline.release.edit import Edit, edit_toml, update_lockfile
from pipeline.release.levels import Target, auto_level, parse_target
from pipeline.release.plan import Plan, check_versions, make_plan
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.cargo_semver import SemverError, Version
from pipeline.workspace.model import Workspace

if TYPE_CHECKING:
    from pipeline.foundation.git import GitRepo
    from pipeline.release import changelog as cl

# Git and the changelog are imported where they are used: `bump LEVEL` needs neither,
# and on a 500-crate workspace their import is a noticeable part of the command.

LOCK_NAME = ".pipeline-release.lock"


@dataclass(frozen=True)
class Request:
    target: str | None
    crates: tuple[str, ...] = ()
    changed: bool = False
    execute: bool = False
    full: bool = True  # release (changelog, git, artifacts) rather than bump
    push: bool = False
    verify: bool = True
    allow_dirty: bool = False
    json: bool = False
    require_gates: bool = False  # a gate whose tool or data is missing fails instead of being skipped


@dataclass(frozen=True)
class Prepared:
    """Everything a release would do, computed without side effects."""

    plan: Plan
    files: Mapping[Path, tuple[bytes | None, bytes]]  # path -> (old, new)
    tags: tuple[str, ...]
    commit_message: str
    changelog_section: str | None
    artifacts: tuple[str, ...]
    problems: tuple[str, ...] = ()  # preflight refusals (each with its hint)
    warnings: tuple[str, ...] = ()
    changes: cl.Changes | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Tags and commits


def release_tags(plan: Plan, settings: ReleaseSettings) -> dict[str, str]:
    """tag name -> the version it marks: the shared tag, then one per crate with its own version."""
    from pipeline.release.tags import render_tag

    tags = {}
    if plan.shared is not None:
        tags[render_tag(settings.shared_tag, settings.tag_prefix, plan.shared[1])] = str(plan.shared[1])
    for change in plan.changes:
        if not change.inherited:
            tags[render_tag(settings.crate_tag, settings.tag_prefix, change.new, change.crate)] = str(change.new)
    return tags


def _skip_prefix(settings: ReleaseSettings) -> str:
    return settings.commit_message.split("{", 1)[0]


def last_release_tag(repo: GitRepo, ws: Workspace, settings: ReleaseSettings) -> str | None:
    """The newest release tag reachable from HEAD: the shared tag with the highest version,
    else (no shared version) the most recent crate tag."""
    from pipeline.release.tags import tag_pattern

    tags = repo.tags_merged()
    if ws.version is not None:
        pattern = tag_pattern(settings.shared_tag, settings.tag_prefix)
        best: tuple[Version, str] | None = None
        for tag in tags:
            match = pattern.match(tag)
            if match:
                try:
                    version = Version.parse(match.group("version"))
                except SemverError:
                    continue
                if best is None or version > best[0]:
                    best = (version, tag)
        if best is not None:
            return best[1]
    patterns = [tag_pattern(settings.crate_tag, settings.tag_prefix, p.name) for p in ws.members]
    return next((t for t in tags if any(p.match(t) for p in patterns)), None)


def crate_dirs(ws: Workspace) -> dict[str, str]:
    return ws.member_dirs()


def unreleased_changes(repo: GitRepo, ws: Workspace, settings: ReleaseSettings) -> cl.Changes:
    from pipeline.release import changelog as cl

    since = last_release_tag(repo, ws, settings)
    commits = repo.commits(since)
    return cl.collect(commits, crate_dirs(ws), since, _skip_prefix(settings))


def changed_crates(repo: GitRepo, ws: Workspace, settings: ReleaseSettings) -> tuple[str, ...]:
    """Members with commits touching their directory since their last tag (or never tagged)."""
    from pipeline.release.tags import render_tag

    existing = set(repo.tags_merged())
    dirs = crate_dirs(ws)
    result = []
    for package in ws.members:
        if package.version_inherited and ws.version is not None:
            tag = render_tag(settings.shared_tag, settings.tag_prefix, ws.version)
        else:
            tag = render_tag(settings.crate_tag, settings.tag_prefix, package.version, package.name)
        if tag not in existing:
            result.append(package.name)
            continue
        commits = repo.commits(tag, [dirs[package.name] or "."])
        own = [c for c in commits if not c.subject.startswith(_skip_prefix(settings))]
        if own:
            result.append(package.name)
    return tuple(result)


# ---------------------------------------------------------------------------
# Preparing


def _resolve_target(
    req: Request, ws: Workspace, changes: cl.Changes | None, crates: Sequence[str]
) -> tuple[Target, dict[str, Target]]:
    """The level for the plan, and the levels of crates with their own version line (for `auto`)."""
    target = parse_target(req.target if req.target is not None else "auto")
    if not target.auto:
        return target, {}
    if changes is None:
        raise UsageError(
            f"`auto` needs the git history, but {ws.root} is not in a git repository",
            "give a level (major, minor, patch, ...) or an explicit version",
        )
    scoped = changes.for_crates(crates) if crates else changes
    # The version line the level is judged against (0.x or not, pre-release or not).
    shared = ws.version is not None and (not crates or any(ws.package(c).version_inherited for c in crates))
    base = ws.version if shared and ws.version else ws.package(crates[0]).version if crates else ws.members[0].version
    level = auto_level(
        Version.parse(base), breaking=scoped.breaking, feature=scoped.feature, other=bool(scoped.entries)
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


def prepare(project: Project, req: Request) -> Prepared:
    """The whole release, computed: plan, new file contents, tags, preflight problems. Writes nothing."""
    ws, settings = project.workspace, project.config.release
    target_is_auto = parse_target(req.target if req.target is not None else "auto").auto
    repo = None
    if req.full or req.changed or target_is_auto:  # `bump LEVEL` needs no git at all
        from pipeline.foundation.git import open_repo

        repo = open_repo(ws.root)
    crates = _selected_crates(ws, settings, repo, req)
    check_versions(ws)  # before `auto` reads the base version
    # The history is read only when something needs it (a changelog, or `auto`).
    has_history = repo is not None and repo.head() is not None
    changes = unreleased_changes(repo, ws, settings) if repo and has_history and (req.full or target_is_auto) else None
    target, own_levels = _resolve_target(req, ws, changes, crates or ())
    plan = make_plan(ws, target, crates, own_levels)

    files = _manifest_and_lock_changes(ws, plan)
    tag_versions = release_tags(plan, settings) if req.full else {}
    tags = tuple(tag_versions)
    section = None
    if req.full and settings.changelog and plan.changes:
        path = ws.root / settings.changelog
        files[path], section = _changelog_change(path, plan, tags, changes, settings)

    problems, warnings = _preflight(ws, settings, repo, req, tags) if req.full else ([], [])
    problems += [b + "\nhint: change that requirement by hand so it accepts the new version" for b in plan.blockers]
    artifacts = _artifact_names(ws, settings, plan) if req.full and settings.artifacts else ()
    summary = ", ".join(tags) if tags else ", ".join(f"{c.crate} {c.new}" for c in plan.changes)
    message = settings.commit_message.replace("{summary}", summary).replace(
        "{version}", str(plan.shared[1]) if plan.shared else ""
    )
    return Prepared(plan, files, tags, message, section, artifacts, tuple(problems), (*plan.warnings, *warnings),
                    changes, {"tag_versions": tag_versions})


def _selected_crates(
    ws: Workspace, settings: ReleaseSettings, repo: GitRepo | None, req: Request
) -> tuple[str, ...] | None:
    crates: tuple[str, ...] | None = tuple(req.crates) or None
    for name in crates or ():
        ws.package(name)  # unknown crate -> an error naming the members
    if not req.changed:
        return crates
    if repo is None or repo.head() is None:
        raise UsageError(f"--changed needs git history, but {ws.root} is not in a git repository with commits",
                         "select crates with --crate NAME instead")
    changed = tuple(n for n in changed_crates(repo, ws, settings) if crates is None or n in crates)
    if not changed:
        raise OperationFailed(
            f"no crate of {ws.root} changed since its last release tag",
            "nothing to release; name crates with --crate to release them anyway",
        )
    return changed


def _manifest_and_lock_changes(ws: Workspace, plan: Plan) -> dict[Path, tuple[bytes | None, bytes]]:
    files: dict[Path, tuple[bytes | None, bytes]] = {}
    by_file: dict[Path, list[Edit]] = {}
    for edit in plan.edits:
        by_file.setdefault(edit.file, []).append(Edit(edit.path, edit.old, edit.new))
    for path, edits in by_file.items():
        old = path.read_bytes()
        files[path] = (old, edit_toml(_utf8(old, path, "manifest"), edits, path).encode("utf-8"))
    lock = ws.root / "Cargo.lock"
    if lock.is_file() and plan.changes:
        old = lock.read_bytes()
        text = _utf8(old, lock, "lockfile")
        moved = {c.crate: (str(c.old), str(c.new)) for c in plan.changes}
        new = update_lockfile(text, moved, lock).encode("utf-8")
        if new != old:
            files[lock] = (old, new)
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
    path: Path, plan: Plan, tags: Sequence[str], changes: cl.Changes | None, settings: ReleaseSettings
) -> tuple[tuple[bytes | None, bytes], str]:
    from pipeline.release import changelog as cl

    old = path.read_bytes() if path.is_file() else None
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
    date = cl.release_date()
    new = cl.insert_release(_utf8(old or b"", path, "changelog"), title, date, scoped, links)
    return (old, new.encode("utf-8")), cl.render_section(title, date, scoped)


def _preflight(
    ws: Workspace, settings: ReleaseSettings, repo: GitRepo | None, req: Request, tags: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(problems that refuse the release, each "message\nhint: ...", and warnings)."""
    if repo is None:
        return [f"{ws.root} is not in a git repository\nhint: a release commits and tags; run `git init` and commit "
                "first"], []
    if repo.head() is None:
        return [f"the repository of {ws.root} has no commits yet\nhint: commit the workspace first"], []
    problems: list[str] = []
    warnings: list[str] = []
    if not req.allow_dirty:
        dirty = repo.dirty_files()
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            problems.append(
                f"the work tree of {ws.root} has uncommitted changes: {shown}\n"
                "hint: commit or stash them, or pass --allow-dirty"
            )
    for tag in tags:
        if repo.tag_exists(tag):
            problems.append(
                f"tag `{tag}` already exists\nhint: that version was already released; choose another "
                f"level or version (or delete the tag with `git tag -d {tag}` if it was a mistake)"
            )
    if req.push and settings.push_remote not in repo.remotes():
        # Found now, not after the commit and tags are made and only the push fails.
        problems.append(
            f"--push: remote `{settings.push_remote}` is not configured in {repo.top}\n"
            f"hint: add it (`git remote add {settings.push_remote} URL`) or set `push-remote` in "
            "[workspace.metadata.pipeline.release]"
        )
    branch = repo.branch()
    allowed = settings.allowed_branches
    if allowed and not (branch and any(fnmatch.fnmatchcase(branch, p) for p in allowed)):
        shown_branch = f"branch `{branch}`" if branch else "a detached HEAD"
        text = f"releases are made from {', '.join(allowed)}; this is {shown_branch}"
        if req.execute:
            problems.append(
                text + "\nhint: switch branch, or set `allowed-branches` in [workspace.metadata.pipeline.release]"
            )
        else:
            # A plan is worth seeing from any branch (CI checks out a detached HEAD).
            warnings.append(text + " (--execute would refuse)")
    return problems, warnings


def _artifact_names(ws: Workspace, settings: ReleaseSettings, plan: Plan) -> tuple[str, ...]:
    from pipeline.release.artifacts import artifact_name

    triple = _host_triple()
    names = [
        f"{settings.dist_dir}/{artifact_name(c.crate, str(c.new), '<commit>', triple)}"
        for c in plan.changes
        if ws.package(c.crate).has_binary
    ]
    if (ws.root / "target" / "cuda" / "manifest.json").is_file():
        version = str(plan.shared[1]) if plan.shared else str(plan.changes[0].new)
        names.append(f"{settings.dist_dir}/{settings.project_name or ws.root.name}-cuda-{version}-<commit>.tar.gz")
    return (*names, f"{settings.dist_dir}/manifest.json", f"{settings.dist_dir}/SHA256SUMS")


def _host_triple() -> str:
    try:
        out = proc.run(["rustc", "-vV"]).stdout
    except PipelineError:  # only for display in a plan; the build itself reports a missing rustc
        return "<target>"
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:")), "<target>")


# ---------------------------------------------------------------------------
# Showing


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def unified_diffs(prepared: Prepared, root: Path) -> str:
    import difflib

    chunks = []
    for path, (old, new) in prepared.files.items():
        name = _rel(path, root)
        old_lines = (old or b"").decode("utf-8").splitlines(keepends=True)
        new_lines = new.decode("utf-8").splitlines(keepends=True)
        diff = difflib.unified_diff(
            old_lines, new_lines, f"a/{name}" if old is not None else "/dev/null", f"b/{name}", n=2
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    return "".join(chunks)


def render_plan(prepared: Prepared, root: Path, req: Request) -> str:
    plan = prepared.plan
    what = "release" if req.full else "bump"
    mode = "executing" if req.execute else "dry run: nothing is written; add --execute to apply"
    out = [f"{what} plan for {root} ({plan.target}; {mode})", ""]
    if plan.shared:
        out.append(f"shared version: {plan.shared[0]} -> {plan.shared[1]}")
    width = max((len(c.crate) for c in plan.changes), default=0)
    for change in plan.changes:
        out.append(f"  {change.crate:<{width}}  {change.old} -> {change.new}  ({change.reason})")
    if not plan.changes:
        out.append("  no crate moves")
    for warning in prepared.warnings:
        out.append(f"warning: {warning}")
    for note in plan.notes:
        out.append(f"note: {note}")
    out.append("")
    if req.execute:
        # The diff was the dry run's job; an executing run lists what it writes.
        out += ["files:", *(f"  {_rel(p, root)}" for p in prepared.files), ""]
    else:
        diffs = unified_diffs(prepared, root)
        if diffs:
            out += ["files:", diffs.rstrip("\n"), ""]
    if prepared.changelog_section is not None:
        out += ["changelog section:", prepared.changelog_section.rstrip("\n"), ""]
    if req.full:
        out.append("tags: " + (", ".join(prepared.tags) or "(none)"))
        out.append(f"commit: {prepared.commit_message}")
        if prepared.artifacts:
            out.append("artifacts: " + ", ".join(prepared.artifacts))
        if req.push:
            out.append("push: commit and tags, atomically")
    return "\n".join(out).rstrip("\n") + "\n"


def plan_json(prepared: Prepared, root: Path, req: Request, executed: bool) -> dict[str, Any]:
    plan = prepared.plan
    return {
        "executed": executed,
        "target": str(plan.target),
        "shared": {"old": str(plan.shared[0]), "new": str(plan.shared[1])} if plan.shared else None,
        "crates": [
            {"name": c.crate, "old": str(c.old), "new": str(c.new), "inherited": c.inherited, "reason": c.reason}
            for c in plan.changes
        ],
        "files": [_rel(p, root) for p in prepared.files],
        "diff": unified_diffs(prepared, root),
        "tags": list(prepared.tags),
        "commit_message": prepared.commit_message if req.full else None,
        "changelog": prepared.changelog_section,
        "artifacts": list(prepared.artifacts),
        "warnings": list(prepared.warnings),
        "notes": list(plan.notes),
        "problems": list(prepared.problems),
    }


# ---------------------------------------------------------------------------
# Doing


@contextlib.contextmanager
def release_lock(root: Path) -> Iterator[None]:
    """Exclusive per-workspace lock; a second release --execute is refused, not queued.

    flock is released by the kernel when the process dies, so a crash leaves no stale lock.
    """
    path = root / "target" / LOCK_NAME

    def refuse(holder: fs.Holder | None) -> None:
        raise OperationFailed(
            f"another release is running in {root} (pid {holder.pid if holder else 'unknown'}, lock {path})",
            "wait for it to finish; the lock is released when that process exits",
        )

    with fs.locked(path, wait=False, command="pipeline release", on_busy=refuse):
        yield


def run_gates(project: Project, gates: Sequence[str], *, require: bool = False) -> list[dict[str, Any]]:
    """Run the release gates in order through the stage runner; the first failure stops the release.

    Prints one line per gate; their output goes to stderr (stdout is the plan's, or --json's).
    An optional gate whose tool or data is missing is skipped unless ``require``.
    """
    from pipeline.stages import runner

    root = project.root
    outcomes = []
    for stage in gates:
        log(f"release: gate {stage} ...")
        outcome = runner.run_stage(stage, project, required=True if require else None)
        log(f"release: gate {stage}: {outcome.line()}")
        outcomes.append(outcome.to_json())
        if not outcome.ok:
            raise CheckFailed(
                f"release gate `{stage}` failed in {root}; nothing was written\n{outcome.detail}",
                (f"{outcome.hint}; " if outcome.hint else "") + "or pass --no-verify to skip the gates",
            )
    return outcomes


def _verify_cargo(root: Path) -> None:
    # Proves Cargo.lock and the manifests agree, without network.
    proc.run(
        ["cargo", "metadata", "--locked", "--offline", "--format-version", "1"],
        cwd=root,
        hint="the bumped manifests and Cargo.lock disagree; nothing was changed",
    )


def execute(project: Project, req: Request, prepared: Prepared, *, fault: FaultHook | None = None) -> dict[str, Any]:
    ws, settings = project.workspace, project.config.release
    root = ws.root
    result: dict[str, Any] = {}
    if req.full and req.verify:
        result["gates"] = run_gates(project, settings.gates, require=req.require_gates or settings.require_gates)
    new_files = {path: new for path, (_old, new) in prepared.files.items()}
    verify = (lambda: _verify_cargo(root)) if req.full and (root / "Cargo.lock").is_file() else None
    olds = {path: old for path, (old, _new) in prepared.files.items()}
    fs.write_all(new_files, verify=verify, fault=fault, originals=olds, what="the release")
    log(f"release: wrote {len(new_files)} file(s)")
    if not req.full:
        return result
    from pipeline.foundation.git import open_repo

    repo = open_repo(root)
    assert repo is not None
    try:
        commit = repo.commit(new_files, prepared.commit_message)
    except OperationFailed:
        # The commit was refused (a hook, signing...): put the files back as they were.
        originals = {p: old for p, (old, _new) in prepared.files.items() if old is not None}
        fs.write_all(originals, what="the release")
        for path, (old, _new) in prepared.files.items():
            if old is None:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OperationFailed):
            repo.unstage(new_files)
        raise
    log(f"release: committed {commit[:7]}: {prepared.commit_message}")
    made: list[str] = []
    try:
        for tag in prepared.tags:
            version = prepared.extra["tag_versions"][tag]
            repo.tag(tag, settings.tag_message.replace("{tag}", tag).replace("{version}", version))
            made.append(tag)
            log(f"release: tagged {tag}")
    except OperationFailed as exc:
        missing = [t for t in prepared.tags if t not in made]
        raise OperationFailed(
            f"release commit {commit[:7]} was made, but tagging failed: {exc.message}",
            f"fix the problem, then tag by hand (`git tag -a {missing[0]} -m ...`), or undo the release "
            f"with `git tag -d TAG` for {', '.join(made) or 'no tag'} and `git reset --hard HEAD~1`",
        ) from None
    result.update(commit=commit, tags=list(prepared.tags))
    if settings.artifacts:
        from pipeline.release import artifacts

        try:
            written = artifacts.build(
                project.workspace,
                dist=root / settings.dist_dir,
                project=settings.project_name or root.name,
                versions={c.crate: str(c.new) for c in prepared.plan.changes},
                workspace_version=str(prepared.plan.shared[1]) if prepared.plan.shared else None,
                tags=prepared.tags,
                commit=commit,
                commit_time=repo.commit_time(),
                crates=[c.crate for c in prepared.plan.changes],
            )
        except PipelineError as exc:
            raise OperationFailed(
                f"release commit {commit[:7]} and tags {', '.join(prepared.tags)} were made, "
                f"but building the artifacts failed: {exc.message}",
                (exc.hint + "; " if exc.hint else "") + "the release itself is done: build dist/ by hand, "
                "or set `artifacts = false`",
            ) from None
        result["artifacts"] = [_rel(p, root) for p in written]
        for path in written:
            log(f"release: wrote {_rel(path, root)}")
    if req.push:
        try:
            repo.push(settings.push_remote, prepared.tags)
        except OperationFailed as exc:
            refs = " ".join(f"refs/tags/{t}" for t in prepared.tags)
            raise OperationFailed(
                f"the release was made locally, but the push failed (nothing was pushed): {exc.message}",
                f"fix the remote problem, then `git push --atomic {settings.push_remote} HEAD {refs}`",
            ) from None
        log(f"release: pushed HEAD and {', '.join(prepared.tags)} to {settings.push_remote}")
    return result


def run(project: Project, req: Request, *, fault: FaultHook | None = None) -> int:
    if req.push and not req.execute:
        raise UsageError("--push needs --execute", "run with --execute --push to release and push")
    # An executing run holds the lock from planning to the end, so no other release
    # can change the files between what was planned and what is written.
    with release_lock(project.workspace.root) if req.execute else contextlib.nullcontext():
        return _run(project, req, fault)


def _run(project: Project, req: Request, fault: FaultHook | None) -> int:
    prepared = prepare(project, req)
    root = project.workspace.root
    if not req.json:
        print(render_plan(prepared, root, req), end="", flush=True)
    if prepared.problems:
        if req.json:
            emit_json(plan_json(prepared, root, req, False))
        # One error per problem, each followed by its hint; the last hint is the exception's.
        text = "\nerror: ".join(prepared.problems)
        message, _, hint = text.rpartition("\nhint: ")
        if not message:
            message, hint = hint, ""
        raise OperationFailed(message, hint or None)
    if not prepared.plan.changes:
        raise OperationFailed(f"nothing to do in {root}: no crate moves", "select crates with --crate NAME")
    if not req.execute:
        if req.json:
            emit_json(plan_json(prepared, root, req, False))
        return 0
    done = execute(project, req, prepared, fault=fault)
    if req.json:
        data = plan_json(prepared, root, req, True)
        data.update(done)
        emit_json(data)
    return 0


def artifacts_only(project: Project, as_json: bool) -> int:
    """Build ``dist/`` for the release HEAD already is (CI on a pushed release tag): no bump,
    no commit, no tag; the versions are the workspace's, the tags those pointing at HEAD."""
    from pipeline.foundation.git import open_repo
    from pipeline.release.tags import tag_pattern

    ws, settings = project.workspace, project.config.release
    repo = open_repo(ws.root)
    if repo is None or repo.head() is None:
        raise OperationFailed(f"{ws.root} is not in a git repository with commits",
                              "artifacts are named after the release commit; build from a checkout")
    commit = repo.head()
    assert commit is not None
    patterns = [tag_pattern(settings.shared_tag, settings.tag_prefix)]
    patterns += [tag_pattern(settings.crate_tag, settings.tag_prefix, p.name) for p in ws.members]
    tags = [t for t in repo.tags_at_head() if any(p.match(t) for p in patterns)]
    if not tags:
        log(f"release: warning: no release tag points at HEAD ({commit[:7]}); building artifacts anyway")
    from pipeline.release import artifacts

    with release_lock(ws.root):
        written = artifacts.build(
            ws,
            dist=ws.root / settings.dist_dir,
            project=settings.project_name or ws.root.name,
            versions={p.name: p.version for p in ws.members},
            workspace_version=ws.version,
            tags=tags,
            commit=commit,
            commit_time=repo.commit_time(),
            crates=list(ws.names),
        )
    files = [_rel(p, ws.root) for p in written]
    if as_json:
        emit_json({"commit": commit, "tags": tags, "artifacts": files})
    else:
        for name in files:
            print(name)
    return 0


def changelog_preview(project: Project, as_json: bool) -> int:
    from pipeline.foundation.git import open_repo
    from pipeline.release import changelog as cl

    ws, settings = project.workspace, project.config.release
    repo = open_repo(ws.root)
    if repo is None or repo.head() is None:
        raise OperationFailed(f"{ws.root} is not in a git repository with commits", "run `git init` and commit")
    changes = unreleased_changes(repo, ws, settings)
    check_versions(ws)
    base = Version.parse(ws.version or ws.members[0].version)
    level = auto_level(base, breaking=changes.breaking, feature=changes.feature, other=bool(changes.entries))
    if as_json:
        data = changes.to_json()
        data["level"] = level
        data["commits"] = len(changes.entries)
        emit_json(data)
        return 0
    since = f"since {changes.since}" if changes.since else "(no release tag yet: whole history)"
    print(f"unreleased changes in {ws.root} {since}; `auto` would choose: {level or 'nothing'}")
    print()
    print(cl.render_section("Unreleased", cl.release_date(), changes).split("\n", 2)[-1].rstrip("\n"))
    return 0


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2)
