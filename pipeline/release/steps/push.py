"""Step: push the release commit and its tags atomically (--push); all or nothing reaches the remote."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pipeline.foundation.errors import OperationFailed
from pipeline.foundation.git import GitRepo
from pipeline.foundation.output import log
from pipeline.release.steps import Release

NAME = "push"


def wanted(release: Release) -> bool:
    return release.request.full and release.request.push


def run(release: Release) -> Release:
    push_release(release.need_repo(), release.facts.settings.push_remote, release.tags)
    return dataclasses.replace(release, pushed=True)


def push_release(repo: GitRepo, remote: str, tags: Sequence[str]) -> None:
    try:
        repo.push(remote, tags)
    except OperationFailed as exc:
        refs = " ".join(f"refs/tags/{t}" for t in tags)
        raise OperationFailed(
            f"the release was made locally, but the push failed (nothing was pushed): {exc.message}",
            f"fix the remote problem, then `git push --atomic {remote} HEAD {refs}`",
        ) from None
    log(f"release: pushed HEAD and {', '.join(tags)} to {remote}")
