"""Step: build the binaries and write ``dist/`` (tarballs, SHA256SUMS, manifest.json).

As part of a release it runs after the commit and tags (the artifacts are named after the
commit); on its own (``release --artifacts-only``, CI on a pushed release tag) it builds the
release HEAD already is, from :func:`head_release`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline import __version__
from pipeline.foundation.errors import OperationFailed, PipelineError
from pipeline.foundation.git import GitRepo
from pipeline.foundation.output import log
from pipeline.release import history
from pipeline.release.plan import rel_path
from pipeline.release.settings import ReleaseSettings
from pipeline.release.steps import Commit, Release
from pipeline.workspace.model import Workspace

NAME = "artifacts"


def wanted(release: Release) -> bool:
    return release.request.full and release.facts.settings.artifacts


def run(release: Release) -> Release:
    ws, settings, prepared, commit = release.facts.workspace, release.facts.settings, release.prepared, \
        release.need_commit()
    plan = prepared.plan
    try:
        written = build_artifacts(
            ws,
            settings,
            versions={c.crate: str(c.new) for c in plan.changes},
            workspace_version=str(plan.shared[1]) if plan.shared else None,
            tags=prepared.tags,
            commit=commit,
            crates=[c.crate for c in plan.changes],
            target=release.request.triple,
        )
    except PipelineError as exc:
        raise OperationFailed(
            f"release commit {commit.sha[:7]} and tags {', '.join(prepared.tags)} were made, "
            f"but building the artifacts failed: {exc.message}",
            (exc.hint + "; " if exc.hint else "") + "the release itself is done: build dist/ by hand, "
            "or set `artifacts = false`",
        ) from None
    names = tuple(rel_path(p, ws.root) for p in written)
    for name in names:
        log(f"release: wrote {name}")
    return dataclasses.replace(release, artifacts=names)


def build_artifacts(
    ws: Workspace,
    settings: ReleaseSettings,
    *,
    versions: Mapping[str, str],
    workspace_version: str | None,
    tags: Sequence[str],
    commit: Commit,
    crates: Sequence[str],
    target: str | None = None,
) -> tuple[Path, ...]:
    from pipeline.release import artifacts

    return tuple(artifacts.build(
        ws,
        dist=ws.root / settings.dist_dir,
        project=settings.project_name or ws.root.name,
        versions=dict(versions),
        workspace_version=workspace_version,
        tags=list(tags),
        commit=commit.sha,
        commit_time=commit.time,
        crates=list(crates),
        target=target,
        tool_version=__version__,
        cross=settings.cross,
    ))


@dataclass(frozen=True)
class HeadRelease:
    """The release HEAD already is: its commit and the release tags pointing at it."""

    commit: Commit
    tags: tuple[str, ...]


def head_release(repo: GitRepo | None, ws: Workspace, settings: ReleaseSettings) -> HeadRelease:
    if repo is None or repo.head() is None:
        raise OperationFailed(f"{ws.root} is not in a git repository with commits",
                              "artifacts are named after the release commit; build from a checkout")
    sha = repo.head()
    assert sha is not None
    patterns = history.release_tag_patterns(ws, settings)
    tags = tuple(t for t in repo.tags_at_head() if any(p.match(t) for p in patterns))
    return HeadRelease(Commit(sha, repo.commit_time()), tags)


def at_head(ws: Workspace, settings: ReleaseSettings, head: HeadRelease, target: str | None = None
            ) -> tuple[Path, ...]:
    """``dist/`` for ``head``: no bump, no commit, no tag; the versions are the workspace's."""
    if not head.tags:
        log(f"release: warning: no release tag points at HEAD ({head.commit.sha[:7]}); building artifacts anyway")
    return build_artifacts(
        ws,
        settings,
        versions={p.name: p.version for p in ws.members},
        workspace_version=ws.version,
        tags=head.tags,
        commit=head.commit,
        crates=ws.names,
        target=target,
    )
