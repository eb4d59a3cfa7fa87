"""Step: `cargo publish` the crates (--publish), after the artifacts and before a push.

The plan (:attr:`Prepared.publish`) fixed the order and the skips from the registry's index;
:mod:`pipeline.release.publish` runs cargo. A failure names what is up and what is not, and
nothing has been pushed yet: `pipeline release --publish-only --execute` finishes the job.
"""

from __future__ import annotations

import dataclasses

from pipeline.release import publish
from pipeline.release.steps import Release

NAME = "publish"


def wanted(release: Release) -> bool:
    return release.request.full and release.request.publish


def run(release: Release) -> Release:
    plan = release.prepared.publish
    assert plan is not None, "--publish planned no publish"
    commit = release.need_commit()
    outcome = publish.run(release.facts.root, plan, on_published=release.on_published, resume_hint=(
        f"release commit {commit.sha[:7]} and tags {', '.join(release.tags)} were made and nothing was pushed; "
        "fix the problem (the registry's answer is above)"
    ))
    return dataclasses.replace(release, published=outcome.to_json())
