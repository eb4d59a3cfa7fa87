"""Git for releases: GitPython for reads; commits, tags and pushes through the
git CLI (``repo.git``) so the user's hooks, signing and credential config apply.

The workspace may sit in a subdirectory of its repository (the bundled example
inside this project does): paths are given relative to the workspace root and
translated here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.foundation.errors import OperationFailed, ToolMissing

if TYPE_CHECKING:
    from git import Repo

_RECORD = "\x1e"
_FIELD = "\x1f"


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    body: str
    files: tuple[str, ...]  # relative to the workspace root, posix; files outside it are dropped

    @property
    def short(self) -> str:
        return self.sha[:7]


class GitRepo:
    """A repository seen from one workspace root inside it."""

    def __init__(self, repo: Repo, workspace_root: Path) -> None:
        self.repo = repo
        self.top = Path(repo.working_tree_dir or ".").resolve()
        self.root = workspace_root.resolve()
        rel = os.path.relpath(self.root, self.top)
        self.prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"

    def _git(self, *args: str) -> str:
        from git.exc import GitCommandError

        try:
            return str(self.repo.git.execute(["git", *args], with_extended_output=False, strip_newline_in_stdout=False))
        except GitCommandError as exc:
            stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
            raise OperationFailed(
                f"`git {' '.join(args)}` failed in {self.top} (exit {exc.status}): {stderr}",
                "fix the git problem above and run the release again",
            ) from None

    # -- reads -----------------------------------------------------------------
    def head(self) -> str | None:
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None  # no commits yet

    def branch(self) -> str | None:
        if self.repo.head.is_detached:
            return None
        return self.repo.active_branch.name

    def dirty_files(self) -> list[str]:
        """Tracked files under the workspace with uncommitted changes (staged or not)."""
        if self.head() is None:
            return []
        out = self._git("status", "--porcelain", "--untracked-files=no", "--", self.prefix or ".")
        files = []
        for line in out.splitlines():
            if len(line) > 3:
                files.append(line[3:])
        return files

    def tag_exists(self, name: str) -> bool:
        return bool(self._git("tag", "--list", name).strip())

    def tags_merged(self) -> list[str]:
        """Tags reachable from HEAD, newest first."""
        if self.head() is None:
            return []
        out = self._git("tag", "--merged", "HEAD", "--sort=-creatordate")
        return [t for t in out.splitlines() if t.strip()]

    def tags_at_head(self) -> list[str]:
        if self.head() is None:
            return []
        return [t for t in self._git("tag", "--points-at", "HEAD").splitlines() if t.strip()]

    def commits(self, since: str | None, paths: Sequence[str] = ()) -> list[CommitInfo]:
        """Commits in ``since..HEAD`` touching the workspace (or ``paths`` under it), newest first."""
        if self.head() is None:
            return []
        revision = f"{since}..HEAD" if since else "HEAD"
        specs = [self.prefix + p for p in paths] if paths else [self.prefix or "."]
        # Merge commits are left out: the commits they bring in are listed themselves.
        out = self._git(
            "log", "--no-merges", f"--format={_RECORD}%H{_FIELD}%s{_FIELD}%b{_FIELD}", "--name-only", "--no-renames",
            revision, "--", *specs,
        )
        result = []
        for record in out.split(_RECORD)[1:]:
            sha, subject, body, names = [*record.split(_FIELD), "", "", ""][:4]
            files = tuple(
                f[len(self.prefix):] for f in names.splitlines() if f.strip() and f.startswith(self.prefix)
            )
            result.append(CommitInfo(sha.strip(), subject.strip(), body.strip(), files))
        return result

    def relative(self, path: Path) -> str:
        return os.path.relpath(path.resolve(), self.top).replace(os.sep, "/")

    # -- writes (git CLI: hooks and signing apply) -----------------------------
    def ignored(self, rel: Sequence[str]) -> set[str]:
        """Of ``rel`` (repository-relative), the untracked paths that .gitignore excludes."""
        from git.exc import GitCommandError

        if not rel:
            return set()
        try:
            out = self.repo.git.execute(["git", "check-ignore", "--", *rel], with_extended_output=False)
        except GitCommandError as exc:
            if exc.status == 1:  # none of them is ignored
                return set()
            raise OperationFailed(
                f"`git check-ignore` failed in {self.top} (exit {exc.status}): {(exc.stderr or '').strip()}",
                "fix the git problem above and run the release again",
            ) from None
        return {line for line in str(out).splitlines() if line}

    def commit(self, paths: Iterable[Path], message: str) -> str:
        rel = [self.relative(p) for p in paths]
        # An ignored, untracked file (a library's Cargo.lock) is written but not committed, as cargo-release does.
        skipped = self.ignored(rel)
        rel = [r for r in rel if r not in skipped]
        self._git("add", "--", *rel)
        # `--only` semantics: exactly these paths, whatever else is staged (--allow-dirty).
        self._git("commit", "-m", message, "--", *rel)
        return self.repo.head.commit.hexsha

    def tag(self, name: str, message: str) -> None:
        self._git("tag", "-a", name, "-m", message)

    def delete_tag(self, name: str) -> None:
        self._git("tag", "-d", name)

    def push(self, remote: str, tags: Sequence[str]) -> None:
        self._git("push", "--atomic", remote, "HEAD", *[f"refs/tags/{t}" for t in tags])


def open_repo(root: Path) -> GitRepo | None:
    """The repository holding ``root``, or None when it is not in one."""
    import logging

    # GitPython logs every command at DEBUG (even on import); nox turns DEBUG on for its own log.
    logging.getLogger("git").setLevel(logging.WARNING)
    try:
        import git
    except ImportError as exc:
        import importlib.util

        if importlib.util.find_spec("git") is not None:
            # GitPython is installed; its import fails when it cannot find the git executable.
            raise ToolMissing("git", "install git (e.g. `apt-get install git`) and put it on PATH") from exc
        raise ToolMissing("GitPython", "install the package's dependencies: `pip install GitPython`") from exc
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    except git.GitCommandNotFound as exc:
        raise ToolMissing("git", "install git (e.g. `apt-get install git`)") from exc
    return GitRepo(repo, root)


def tag_pattern(template: str, prefix: str, crate: str | None = None) -> re.Pattern[str]:
    """A regex matching tags made from ``prefix + template``, capturing the version."""
    full = prefix + template
    pattern = ""
    for piece in re.split(r"(\{version\}|\{crate\})", full):
        if piece == "{version}":
            pattern += r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"
        elif piece == "{crate}":
            pattern += re.escape(crate) if crate is not None else r"(?P<crate>.+?)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$")


def render_tag(template: str, prefix: str, version: Any, crate: str | None = None) -> str:
    return prefix + template.replace("{version}", str(version)).replace("{crate}", crate or "")
