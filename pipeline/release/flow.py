"""The release flows, as lists of steps: gather the facts, plan, show, then run the steps in order.

``bump`` is the first half (versions, requirements, Cargo.lock); ``release`` adds the
changelog, the gates, git and artifacts. Both are dry runs unless ``execute`` is set:
the plan and the unified diff of every file are printed and nothing is written.

Where each part lives: :mod:`~pipeline.release.facts` (every fact, read once),
:mod:`~pipeline.release.prepare` (the pure plan), :mod:`~pipeline.release.preflight`
(findings that refuse a release), :mod:`~pipeline.release.view` (text and JSON), and
:mod:`pipeline.release.steps` (one module per step, each runnable on its own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.foundation.errors import OperationFailed, UsageError
from pipeline.foundation.output import emit_json, log
from pipeline.project import Project
from pipeline.release import view
from pipeline.release.facts import gather
from pipeline.release.findings import refusal
from pipeline.release.plan import rel_path
from pipeline.release.prepare import prepare
from pipeline.release.request import Request

if TYPE_CHECKING:
    from pipeline.foundation.fs import FaultHook
    from pipeline.foundation.git import GitRepo
    from pipeline.release import journal as journal_types
    from pipeline.release import recover as recover_types
    from pipeline.release.settings import ReleaseSettings
    from pipeline.release.steps import Step

# The steps, the journal's runner and the lock are imported where a release is carried out:
# a dry run (`changelog`, `release auto`, any plan) does not pay for their import.


def release_settings(project: Project) -> ReleaseSettings:
    """The project's release settings, cargo-release's adopted (said on stderr when first read)."""
    return project.release.settings


def steps(project: Project) -> tuple[Step, ...]:
    """The order a release is carried out in; each step decides from the request whether it runs."""
    from pipeline.release.steps import artifacts, commit, gates, kernels, publish, push, tag, write

    return (gates.Gates(project), kernels.Kernels(project.config.cuda), write, commit, tag, artifacts, publish, push)


def run(project: Project, req: Request, *, fault: FaultHook | None = None) -> int:
    """`pipeline bump` / `pipeline release`."""
    if req.push and not req.execute:
        raise UsageError("--push needs --execute", "run with --execute --push to release and push")
    # An executing run holds the lock from reading the facts to the end, so no other
    # release can change the files between what was planned and what is written.
    with _lock(project.workspace.root) if req.execute else contextlib.nullcontext():
        _refuse_if_interrupted(project.workspace.root, req)
        facts = gather(project.workspace, release_settings(project), req)
        prepared = prepare(facts, req)
        root = facts.root
        if not req.json:
            print(view.render_plan(prepared, root, req), end="", flush=True)
        if prepared.problems:
            if req.json:
                emit_json(view.plan_json(prepared, root, req, False))
            raise refusal(prepared.problems)
        if not prepared.plan.changes:
            raise OperationFailed(f"nothing to do in {root}: no crate moves", "select crates with --crate NAME")
        if not req.execute:
            if req.json:
                emit_json(view.plan_json(prepared, root, req, False))
            return 0
        from pipeline.release.journaled import run_steps
        from pipeline.release.steps import Release

        release = Release(req, facts, prepared, repo=_open_repo(project) if req.full else None, fault=fault)
        release = run_steps(release, steps(project))
        if req.json:
            emit_json(view.executed_json(release))
        return 0


def recover(project: Project, mode: str, as_json: bool) -> int:
    """`release --resume` / `release --abort`: finish or undo the release the journal records."""
    from pipeline.release import journal
    from pipeline.release import recover as recovery

    root = project.workspace.root
    with _lock(root):
        path = recovery.journal_location(root)
        recorded = journal.load(path)
        if recorded is None:
            raise OperationFailed(f"no interrupted release in {root} (no journal {path})",
                                  "nothing to resume or abort; `pipeline release` plans a new one")
        log(f"release: {recorded.describe()}")
        if mode == "abort":
            result = recovery.abort(root, path, recorded)
        else:
            result = recovery.resume(root, path, recorded, _journal_artifacts(project), _journal_publish(project))
    if as_json:
        emit_json(result)
    return 0


def _journal_artifacts(project: Project) -> recover_types.BuildArtifacts:
    def build(recorded: journal_types.Journal, sha: str, when: int) -> list[Path]:
        from pipeline.project import load_project
        from pipeline.release.steps import Commit, artifacts

        fresh = load_project(str(project.workspace.root))  # the manifests as the release wrote them
        spec = recorded.artifacts or {}
        return list(artifacts.build_artifacts(
            fresh.workspace, fresh.release.settings, versions=spec["versions"],
            workspace_version=spec["workspace_version"], tags=spec["tags"], commit=Commit(sha, when),
            crates=spec["crates"]))

    return build


def _journal_publish(project: Project) -> recover_types.PublishCrates:
    def publish_rest(recorded: journal_types.Journal, on_published: Callable[[str, str], None]) -> dict[str, Any]:
        from pipeline.project import load_project
        from pipeline.release import publish as cargo_publish

        fresh = load_project(str(project.workspace.root))  # the manifests as the release wrote them
        registry = str((recorded.publish or {}).get("registry") or "") or None
        # The registry is the truth: its index says what went up (a kill can fall between an upload and
        # its record), and only the rest is published.
        plan = cargo_publish.plan_for(fresh.workspace, registry, never=release_settings(fresh).never_publish)
        for line in plan.lines():
            log(f"release: {line}")  # stderr: `--resume --json` prints one JSON document
        outcome = cargo_publish.run(fresh.workspace.root, plan, on_published=on_published)
        return outcome.to_json()

    return publish_rest


def artifacts_only(project: Project, as_json: bool, target: str | None = None) -> int:
    """`release --artifacts-only`: the artifacts step alone, for the release HEAD already is."""
    from pipeline.release.steps import artifacts

    ws, settings = project.workspace, release_settings(project)
    head = artifacts.head_release(_open_repo(project), ws, settings)
    if target and settings.targets and target not in settings.targets:
        raise OperationFailed(f"{ws.manifest_path}: target `{target}` is not in `release.targets` "
                              f"({', '.join(settings.targets)})", "add it there, or pass one of those")
    with _lock(ws.root):
        written = artifacts.at_head(ws, settings, head, target)
    files = [rel_path(p, ws.root) for p in written]
    if as_json:
        emit_json({"commit": head.commit.sha, "tags": list(head.tags), "artifacts": files})
    else:
        for name in files:
            print(name)
    return 0


def assemble(project: Project, parts: list[str], as_json: bool) -> int:
    """`release --assemble DIR...`: one SHA256SUMS and one manifest over every target's artifacts."""
    from pipeline.release import assemble as assembly

    ws, settings = project.workspace, release_settings(project)
    dist = ws.root / settings.dist_dir
    with _lock(ws.root):
        assembled, written = assembly.assemble([Path(p) for p in parts], dist)
    files = [rel_path(p, ws.root) for p in written]
    if as_json:
        emit_json({"targets": [t["target"] for t in assembled.manifest["targets"]],
                   "prerelease": assembled.manifest["prerelease"], "artifacts": files})
    else:
        targets = ", ".join(t["target"] for t in assembled.manifest["targets"])
        log(f"release: assembled {len(assembled.files)} file(s) of {targets} into {rel_path(dist, ws.root)}")
        for name in files:
            print(name)
    return 0


def publish_only(project: Project, as_json: bool, registry: str | None, execute: bool) -> int:
    """`release --publish-only`: publish the crates of the release HEAD already is (CI's publish job, or
    finishing a publish that stopped); a dry run without ``execute``."""
    from pipeline.release import publish as cargo_publish

    ws, settings = project.workspace, release_settings(project)
    plan = cargo_publish.plan_for(ws, registry or settings.publish_registry or None, never=settings.never_publish)
    if not as_json:
        print("\n".join(plan.lines()), flush=True)
    if not execute:
        if as_json:
            emit_json({"executed": False, "publish": plan.to_json()})
        if plan.problems:
            raise OperationFailed("cannot publish:\n" + "\n".join(plan.problems))
        return 0
    with _lock(ws.root):
        outcome = cargo_publish.run(ws.root, plan)
    if as_json:
        emit_json({"executed": True, "publish": plan.to_json(), "published": outcome.to_json()})
    return 0


def release_notes(project: Project, version: str | None, notes_dir: str | None, as_json: bool) -> int:
    """`changelog --section [VERSION] [--notes-dir DIR]`: the section the release wrote, as release notes."""
    from pipeline.release import notes as release_notes_module
    from pipeline.workspace.cargo_semver import SemverError, Version

    ws, settings = project.workspace, release_settings(project)
    if not settings.changelog:
        raise OperationFailed(f"{ws.manifest_path}: `release.changelog` is empty: there is no changelog to read",
                              "set `changelog` in [workspace.metadata.pipeline.release]")
    wanted = version or ws.version or (ws.members[0].version if ws.members else None)
    if wanted is None:
        raise UsageError(f"{ws.manifest_path}: no workspace version", "pass the version: --section VERSION")
    try:
        Version.parse(wanted.removeprefix("v"))
    except (SemverError, ValueError):
        raise UsageError(f"--section {wanted}: not a version", "pass a version like 1.4.0 or 1.4.0-rc.1") from None
    wanted = wanted.removeprefix("v")
    tags: tuple[str, ...] = ()
    repo = _open_repo(project)
    if repo is not None and repo.head() is not None:
        from pipeline.release.steps import artifacts

        tags = artifacts.head_release(repo, ws, settings).tags
    found = release_notes_module.find(ws.root / settings.changelog, wanted, tags)
    written = release_notes_module.write(Path(notes_dir), found) if notes_dir else []
    if as_json:
        emit_json({**found.to_json(), "files": [str(p) for p in written]})
    else:
        print(found.text, end="")
        for path in written:
            log(f"release: wrote {path}")
    return 0


def changelog_preview(project: Project, as_json: bool) -> int:
    """`pipeline changelog`: the unreleased commits and the level `auto` would choose."""
    from pipeline.release.prepare import auto_choice

    req = Request(target="auto", full=False)
    facts = gather(project.workspace, release_settings(project), req)
    if not facts.has_history:
        raise OperationFailed(f"{facts.root} is not in a git repository with commits", "run `git init` and commit")
    changes, level = auto_choice(facts)
    if as_json:
        emit_json(view.changelog_json(changes, level))
    else:
        print(view.changelog_text(facts.root, changes, level, facts.today), end="")
    return 0


def _refuse_if_interrupted(root: Path, req: Request) -> None:
    """A plan over a half-done release is refused; a dry run first only looks whether a journal is
    there (the journal's machinery loads when one is, or when the release is carried out)."""
    if not req.execute:
        import os

        from pipeline.release.journal_place import journal_location

        if not os.path.lexists(journal_location(root)):
            return
    from pipeline.release.journaled import refuse_if_interrupted

    refuse_if_interrupted(root)


def _lock(root: Path) -> contextlib.AbstractContextManager[None]:
    from pipeline.release.lock import release_lock

    return release_lock(root)


def _open_repo(project: Project) -> GitRepo | None:
    from pipeline.foundation.git import open_repo

    return open_repo(project.workspace.root)
