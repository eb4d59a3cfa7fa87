"""Step: one annotated tag per release tag, on the release commit.

A failure after some tags were made says which exist and how to finish or undo by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pipeline.foundation.errors import OperationFailed
from pipeline.foundation.git import GitRepo
from pipeline.foundation.output import log
from pipeline.release.prepare import ReleaseTag
from pipeline.release.settings import ReleaseSettings
from pipeline.release.steps import Release

NAME = "tag"


def wanted(release: Release) -> bool:
    return release.request.full


def run(release: Release) -> Release:
    made = make_tags(release.need_repo(), release.prepared.release_tags, release.facts.settings,
                     release.need_commit().sha)
    return dataclasses.replace(release, tags=made)


def make_tags(repo: GitRepo, tags: Sequence[ReleaseTag], settings: ReleaseSettings, commit: str) -> tuple[str, ...]:
    made: list[str] = []
    try:
        for tag in tags:
            repo.tag(tag.name, settings.tag_message.replace("{tag}", tag.name).replace("{version}", tag.version))
            made.append(tag.name)
            log(f"release: tagged {tag.name}")
    except OperationFailed as exc:
        missing = [t.name for t in tags if t.name not in made]
        raise OperationFailed(
            f"release commit {commit[:7]} was made, but tagging failed: {exc.message}",
            f"fix the problem, then tag by hand (`git tag -a {missing[0]} -m ...`), or undo the release "
            f"with `git tag -d TAG` for {', '.join(made) or 'no tag'} and `git reset --hard HEAD~1`",
        ) from None
    return tuple(made)
