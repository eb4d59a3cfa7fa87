"""Preflight: what refuses a release, found from the facts before anything is written.

cargo-release's ``verify_*`` checks, as one pure function returning
:class:`~pipeline.release.findings.Finding` values (message, hint, location) and
warnings; the flow turns the findings into one error only when it refuses.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from pipeline.release.facts import ReleaseFacts
from pipeline.release.findings import Finding
from pipeline.release.request import Request
from pipeline.release.settings import DEFAULT_BRANCHES


def preflight(facts: ReleaseFacts, req: Request, tags: Sequence[str]) -> tuple[list[Finding], list[str]]:
    """(findings that refuse the release, warnings) for making ``tags`` from this repository."""
    ws, settings, git = facts.workspace, facts.settings, facts.git
    if git is None:
        return [Finding(f"{ws.root} is not in a git repository",
                        "a release commits and tags; run `git init` and commit first", str(ws.root))], []
    if git.head is None:
        return [Finding(f"the repository of {ws.root} has no commits yet", "commit the workspace first",
                        str(git.top))], []
    problems: list[Finding] = []
    warnings: list[str] = []
    if not req.allow_dirty and git.dirty:
        dirty = git.dirty
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        problems.append(Finding(f"the work tree of {ws.root} has uncommitted changes: {shown}",
                                "commit or stash them, or pass --allow-dirty", dirty[0]))
    for tag in tags:
        if tag in git.tags:
            problems.append(Finding(
                f"tag `{tag}` already exists",
                f"that version was already released; choose another level or version (or delete the tag with "
                f"`git tag -d {tag}` if it was a mistake)",
                f"refs/tags/{tag}",
            ))
    if req.push and settings.push_remote not in git.remotes:
        # Found now, not after the commit and tags are made and only the push fails.
        problems.append(Finding(
            f"--push: remote `{settings.push_remote}` is not configured in {git.top}",
            f"add it (`git remote add {settings.push_remote} URL`) or set `push-remote` in "
            "[workspace.metadata.pipeline.release]",
            str(git.top),
        ))
    allowed = settings.allowed_branches
    if allowed == DEFAULT_BRANCHES and git.default_branch:
        # Left at its default, the remote's default branch counts too (wgpu releases from `trunk`).
        allowed = (*allowed, git.default_branch)
    branch = git.branch
    if allowed and not (branch and any(fnmatch.fnmatchcase(branch, p) for p in allowed)):
        shown_branch = f"branch `{branch}`" if branch else "a detached HEAD"
        text = f"releases are made from {', '.join(allowed)}; this is {shown_branch}"
        if req.execute:
            problems.append(Finding(
                text, "switch branch, or set `allowed-branches` in [workspace.metadata.pipeline.release]",
                branch or "HEAD",
            ))
        else:
            # A plan is worth seeing from any branch (CI checks out a detached HEAD).
            warnings.append(text + " (--execute would refuse)")
    return problems, warnings
