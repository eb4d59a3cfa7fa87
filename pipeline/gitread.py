"""Read-only git queries for change detection, through the git CLI.

The CLI rather than GitPython here: the pre-push hook must answer a docs-only
push in a fraction of a second, and importing GitPython alone costs more than
the few ``git`` calls this needs. Nothing here writes to the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import UsageError

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Change:
    """One changed file, paths relative to the repository's top directory (posix)."""

    status: str  # A added, M modified, D deleted, R renamed, C copied, T type change
    path: str
    old_path: str | None = None


def run_git(repo: Path, *args: str, check: bool = True) -> proc.Result:
    """`git ARGS` in `repo`, output captured (read-only commands only)."""
    return proc.run(["git", *args], cwd=repo, check=check)


def toplevel(path: Path) -> Path:
    """The top directory of the work tree containing ``path``."""
    result = run_git(path, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise UsageError(
            f"{path} is not inside a git repository",
            "change detection compares commits: run it in a git work tree (`git init` first)",
        )
    return Path(os.path.realpath(result.stdout.strip()))


def resolve(repo: Path, ref: str) -> str | None:
    """The commit ``ref`` names, or None when it does not exist."""
    if not ref or ref.startswith("-"):
        return None
    result = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def require_commit(repo: Path, ref: str) -> str:
    sha = resolve(repo, ref)
    if sha is None:
        raise UsageError(
            f"base `{ref}` is not a commit in the repository at {repo}",
            "pass an existing branch, tag or commit (`git branch -a` lists them; "
            "`git fetch` first if it lives on a remote)",
        )
    return sha


def merge_base(repo: Path, a: str, b: str) -> str | None:
    result = run_git(repo, "merge-base", a, b, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def diff(repo: Path, base: str, head: str) -> list[Change]:
    """Files changed from ``base`` to ``head`` with renames detected."""
    result = run_git(repo, "diff", "--name-status", "-z", "-M", "--no-color", "--no-ext-diff", base, head, "--")
    return parse_name_status(result.stdout)


def parse_name_status(text: str) -> list[Change]:
    """Parse ``git diff --name-status -z`` output."""
    fields = text.split("\0")
    changes: list[Change] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i][0]
        if status in "RC":
            changes.append(Change(status, fields[i + 2], fields[i + 1]))
            i += 3
        else:
            changes.append(Change(status, fields[i + 1]))
            i += 2
    return changes


def show(repo: Path, commit: str, path: str) -> str | None:
    """The text of ``path`` (repository-relative) at ``commit``, or None if absent."""
    result = run_git(repo, "show", f"{commit}:{path}", check=False)
    return result.stdout if result.returncode == 0 else None


def list_files(repo: Path, commit: str, name: str) -> list[str]:
    """Repository-relative paths of every file called ``name`` at ``commit``."""
    result = run_git(repo, "ls-tree", "-r", "--name-only", "-z", commit)
    return [p for p in result.stdout.split("\0") if p and (p == name or p.endswith("/" + name))]


def symbolic_ref(repo: Path, ref: str) -> str | None:
    result = run_git(repo, "symbolic-ref", "--quiet", ref, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def head(repo: Path) -> str | None:
    return resolve(repo, "HEAD")


def first_unpushed_parent(repo: Path, local_sha: str, remote: str) -> str | None:
    """Parent of the oldest commit of ``local_sha`` not on ``remote`` (pre-commit's rule)."""
    result = run_git(
        repo, "rev-list", "--topo-order", "--reverse", local_sha, "--not", f"--remotes={remote}", check=False
    )
    commits = result.stdout.split()
    if result.returncode != 0 or not commits:
        return None
    return resolve(repo, f"{commits[0]}^")
