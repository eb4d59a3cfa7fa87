"""Stage inputs as path patterns: what the registry's ``Stage.inputs`` mean, matched and rendered.

One meaning for the three readers: ``pipeline affected`` (which stages a change touches), the
pre-push hook (a stage whose rule is "inputs" runs only then) and the generated CI (GitLab
``rules: changes:`` of an input-scoped job). Pure and cheap: the registry imports it.

A pattern is an fnmatch pattern relative to the workspace root, where ``*`` also crosses ``/``
(``*.rs`` is every Rust file, ``*/Cargo.toml`` every member manifest), except:

* :data:`CI_FILES`: relative to the repository top, where GitHub and GitLab look for them;
* :data:`MEMBER_FILES`: any file of a member crate, as ``pipeline affected`` assigns files to
  crates (a file the ``hooks.ignore`` patterns leave out is nobody's). A stage with it reads
  whatever its crates read (tests, ``include_str!``, build scripts), so no path list spells it out.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

CI_FILES = (".github/workflows/*", ".gitlab-ci.yml", ".gitlab-ci/*")
MEMBER_FILES = "<member files>"


def matches(rel: str | None, top_rel: str, patterns: Iterable[str]) -> bool:
    """Does a changed file match? ``rel``: its path relative to the workspace (None when outside
    it), ``top_rel``: relative to the repository top. :data:`MEMBER_FILES` is not matched here."""
    for pattern in patterns:
        if pattern == MEMBER_FILES:
            continue
        if pattern in CI_FILES:
            if fnmatch.fnmatchcase(top_rel, pattern):
                return True
        elif rel is not None and fnmatch.fnmatchcase(rel, pattern):
            return True
    return False


def gitlab_changes(patterns: Sequence[str], workspace: str) -> tuple[str, ...] | None:
    """GitLab ``rules: changes:`` globs (repository-relative, ``**`` spans directories) for
    ``patterns``; None when they cannot be spelled as paths (:data:`MEMBER_FILES`).

    ``workspace``: the workspace directory relative to the repository ("." at the top).
    Raises ValueError for a pattern shape with no faithful translation (a test keeps the
    registry's patterns translatable).
    """
    if MEMBER_FILES in patterns:
        return None
    prefix = "" if workspace in ("", ".") else workspace.rstrip("/") + "/"
    globs: list[str] = []
    for pattern in patterns:
        if pattern in CI_FILES:
            globs.append(pattern)
            continue
        # fnmatch's `*` crosses `/`: a leading `*/`, or a leading `*` in a file name, is any depth.
        if pattern.startswith("*/"):
            glob = "**/" + pattern[2:]
        elif pattern.startswith("*") and "/" not in pattern:
            glob = "**/" + pattern
        else:
            glob = pattern
        if "*" in glob.removeprefix("**/").rpartition("/")[0]:
            raise ValueError(f"stage input {pattern!r}: a `*` inside a directory part has no faithful GitLab glob")
        globs.append(prefix + glob)
    return tuple(dict.fromkeys(globs))
