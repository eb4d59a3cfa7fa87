"""Where the release journal lives, apart from the journal itself: a dry run asks only whether
one is there, without loading what reads, writes and recovers it."""

from __future__ import annotations

from pathlib import Path

from pipeline.foundation import git

JOURNAL_NAME = "pipeline-release.json"


def journal_location(root: Path) -> Path:
    """``.git/pipeline-release.json`` of the repository holding ``root`` (``target/`` outside git)."""
    top = git.find_toplevel(root)
    if top is None:
        return root / "target" / JOURNAL_NAME
    return git.git_path(top, JOURNAL_NAME)
