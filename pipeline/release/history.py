"""What git says about past releases: the last release tag, unreleased commits, changed crates.

The readers take a :class:`~pipeline.foundation.git.GitRepo` and run once, while the
release facts are gathered (:mod:`pipeline.release.facts`); the tag logic itself
works on lists of tag names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.cargo_semver import SemverError, Version
from pipeline.workspace.model import Workspace

if TYPE_CHECKING:
    from pipeline.foundation.git import GitRepo
    from pipeline.release import changelog as cl

# Git and the changelog are imported where they are used: `bump LEVEL` needs neither,
# and on a 500-crate workspace their import is a noticeable part of the command.


def skip_prefix(settings: ReleaseSettings) -> str:
    """Commits whose subject starts with this are the release's own (not changelog entries)."""
    return settings.commit_message.split("{", 1)[0]


def crate_dirs(ws: Workspace) -> dict[str, str]:
    """crate -> its directory relative to the workspace root (posix; "" for the root package)."""
    return ws.member_dirs()


def last_release_tag(tags: Sequence[str], ws: Workspace, settings: ReleaseSettings) -> str | None:
    """Of ``tags`` (reachable from HEAD, newest first), the newest release tag: the shared tag
    with the highest version, else (no shared version) the most recent crate tag."""
    from pipeline.release.tags import tag_pattern

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


def unreleased_changes(
    repo: GitRepo, ws: Workspace, settings: ReleaseSettings, merged: Sequence[str] | None = None
) -> cl.Changes:
    """Conventional commits since the last release tag, attributed to crates.

    ``merged``: the tags reachable from HEAD, when the caller has listed them already.
    """
    from pipeline.release import changelog as cl

    since = last_release_tag(repo.tags_merged() if merged is None else merged, ws, settings)
    commits = repo.commits(since)
    return cl.collect(commits, crate_dirs(ws), since, skip_prefix(settings))


def changed_crates(
    repo: GitRepo, ws: Workspace, settings: ReleaseSettings, merged: Sequence[str] | None = None
) -> tuple[str, ...]:
    """Members with commits touching their directory since their last tag (or never tagged)."""
    from pipeline.release.tags import render_tag

    existing = set(repo.tags_merged() if merged is None else merged)
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
        own = [c for c in commits if not c.subject.startswith(skip_prefix(settings))]
        if own:
            result.append(package.name)
    return tuple(result)


def release_tag_patterns(ws: Workspace, settings: ReleaseSettings) -> list[re.Pattern[str]]:
    """Regexes matching this workspace's release tags (shared, then one per crate)."""
    from pipeline.release.tags import tag_pattern

    return [tag_pattern(settings.shared_tag, settings.tag_prefix),
            *(tag_pattern(settings.crate_tags.get(p.name, settings.crate_tag), settings.tag_prefix, p.name)
              for p in ws.members)]
