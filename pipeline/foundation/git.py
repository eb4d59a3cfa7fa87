"""The one git module: reads, and commits, tags and pushes, all through the git CLI.

The CLI (through :mod:`pipeline.foundation.proc`) for everything: the user's hooks,
signing and credential configuration apply to what the release writes, and the
pre-push hook answers a docs-only push in a fraction of a second (importing a git
library alone would cost more than the few ``git`` calls it needs).

Failures come as one family: :class:`GitError` (exit 1) for a git command that
failed, with :class:`NotARepository` and :class:`UnknownRevision` (exit 2) for a
path outside any repository or a ref that names no commit. A missing ``git`` is
:class:`~pipeline.foundation.errors.ToolMissing`, as for every tool.

The repository root is found here only: :func:`toplevel` (the work tree holding a
path) and :func:`repository_root` (the checkout CI generation writes into).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import EXIT_USAGE, OperationFailed

ZERO_SHA = "0" * 40
# `git log` fields are NUL-separated: a commit message cannot hold a NUL, so no byte in it can
# fake a record or a field (see :func:`parse_log_records`).
LOG_FORMAT = "%x00%H%x00%s%x00%b%x00"
_HINT = "fix the git problem above and run the command again"


class GitError(OperationFailed):
    """A git command failed (the base of every git failure)."""

    def __init__(self, message: str, hint: str | None = _HINT) -> None:
        super().__init__(message, hint)


class NotARepository(GitError):
    """The path is not inside a git work tree."""

    exit_code = EXIT_USAGE


class UnknownRevision(GitError):
    """A ref given on the command line names no commit."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Change:
    """One changed file, paths relative to the repository's top directory (posix)."""

    status: str  # A added, M modified, D deleted, R renamed, C copied, T type change
    path: str
    old_path: str | None = None


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    body: str
    files: tuple[str, ...]  # relative to the workspace root, posix; files outside it are dropped

    @property
    def short(self) -> str:
        return self.sha[:7]


# ---------------------------------------------------------------------------
# Running git


def parse_log_records(out: str) -> list[tuple[str, str, str, str]]:
    """(sha, subject, body, names) per commit of ``git log --format=LOG_FORMAT [--name-only]``.

    The output is ``NUL sha NUL subject NUL body NUL names`` per commit: after the leading NUL,
    every four tokens are one commit, whatever bytes the message holds.
    """
    tokens = out.split("\x00")[1:]
    return [(tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3])
            for i in range(0, len(tokens) - len(tokens) % 4, 4)]


_REF_FORBIDDEN = set(" ~^:?*[\\\x7f") | {chr(c) for c in range(0x20)}


def ref_format_problem(name: str, *, kind: str = "tag") -> str | None:
    """Why ``refs/<kind>s/<name>`` breaks ``git check-ref-format``'s rules, or None when git accepts it.

    Pure, so configuration is checked when it is read, before any commit exists: a tag name git
    refuses used to fail only after the release commit was made.
    """
    if not name:
        return "it is empty"
    if name == "@":
        return "`@` alone is not a valid ref name"
    if name.startswith("-") and kind == "tag":
        return "it starts with `-` (git would read it as an option)"
    bad = sorted({c for c in name if c in _REF_FORBIDDEN})
    if bad:
        shown = ", ".join("space" if c == " " else repr(c) if ord(c) < 0x20 or c == "\x7f" else f"`{c}`" for c in bad)
        return f"it contains {shown}"
    if ".." in name:
        return "it contains `..`"
    if "@{" in name:
        return "it contains `@{`"
    if name.startswith("/") or name.endswith("/"):
        return "it starts or ends with `/`"
    if "//" in name:
        return "it contains an empty path component (`//`)"
    if name.endswith("."):
        return "it ends with `.`"
    for component in name.split("/"):
        if component.startswith("."):
            return f"its component `{component}` starts with `.`"
        if component.endswith(".lock"):
            return f"its component `{component}` ends with `.lock`"
    return None


def run_git(repo: Path, *args: str, check: bool = True, hint: str | None = None) -> proc.Result:
    """``git ARGS`` in ``repo``, output captured; a failure (with ``check``) is a :class:`GitError`."""
    result = proc.run(["git", *args], cwd=repo, check=False)
    if check and result.returncode != 0:
        stderr = proc.tail(result.stderr or result.stdout).strip()
        raise GitError(f"`git {' '.join(args)}` failed in {repo} (exit {result.returncode}): {stderr}",
                       hint or _HINT)
    return result


# ---------------------------------------------------------------------------
# Finding the repository


def find_toplevel(path: Path) -> Path | None:
    """The top directory of the work tree containing ``path``, or None outside any."""
    result = run_git(path, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        return None
    return Path(os.path.realpath(result.stdout.strip()))


def toplevel(path: Path) -> Path:
    """The top directory of the work tree containing ``path``; :class:`NotARepository` outside one."""
    found = find_toplevel(path)
    if found is None:
        raise NotARepository(
            f"{path} is not inside a git repository",
            "change detection compares commits: run it in a git work tree (`git init` first)",
        )
    return found


# Set by GitLab and GitHub to the checkout; trusted when the workspace lies inside it.
_CHECKOUT_VARIABLES = ("CI_PROJECT_DIR", "GITHUB_WORKSPACE")


def repository_root(workspace_root: Path) -> Path:
    """The checkout holding the workspace: CI's checkout directory, else the nearest directory with `.git`.

    Without any `.git` above it, the workspace root itself. Found on the filesystem, as git
    itself discovers it, so generating CI files needs no git executable.
    """
    for variable in _CHECKOUT_VARIABLES:
        value = os.environ.get(variable)
        if value:
            checkout = Path(value).resolve()
            if workspace_root == checkout or checkout in workspace_root.parents:
                return checkout
    for directory in (workspace_root, *workspace_root.parents):
        if (directory / ".git").exists():
            return directory
    return workspace_root


# ---------------------------------------------------------------------------
# Reads by path (change detection, hooks)


def resolve(repo: Path, ref: str) -> str | None:
    """The commit ``ref`` names, or None when it does not exist."""
    if not ref or ref.startswith("-"):
        return None
    result = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def require_commit(repo: Path, ref: str) -> str:
    sha = resolve(repo, ref)
    if sha is None:
        raise UnknownRevision(
            f"base `{ref}` is not a commit in the repository at {repo}",
            "pass an existing branch, tag or commit (`git branch -a` lists them; "
            "`git fetch` first if it lives on a remote)",
        )
    return sha


def head(repo: Path) -> str | None:
    return resolve(repo, "HEAD")


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


def tracked(repo: Path, *patterns: str) -> list[str]:
    """Tracked files under ``repo`` matching ``patterns`` (paths relative to ``repo``)."""
    result = run_git(repo, "ls-files", "-z", "--", *patterns)
    return [p for p in result.stdout.split("\0") if p]


def symbolic_ref(repo: Path, ref: str) -> str | None:
    result = run_git(repo, "symbolic-ref", "--quiet", ref, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def origin_head(repo: Path) -> str | None:
    """The branch ``origin``'s HEAD names (the remote's default branch), when this clone knows it."""
    found = symbolic_ref(repo, "refs/remotes/origin/HEAD")
    return found.removeprefix("refs/remotes/origin/") if found else None


def git_path(repo: Path, name: str) -> Path:
    """Where git keeps ``name`` (``hooks``...) for the work tree at ``repo``, honouring its config."""
    path = Path(run_git(repo, "rev-parse", "--git-path", name).stdout.strip())
    return path if path.is_absolute() else repo / path


def first_unpushed_parent(repo: Path, local_sha: str, remote: str) -> str | None:
    """Parent of the oldest commit of ``local_sha`` not on ``remote`` (pre-commit's rule)."""
    result = run_git(
        repo, "rev-list", "--topo-order", "--reverse", local_sha, "--not", f"--remotes={remote}", check=False
    )
    commits = result.stdout.split()
    if result.returncode != 0 or not commits:
        return None
    return resolve(repo, f"{commits[0]}^")


def work_tree_clean(repo: Path) -> bool:
    """Nothing modified, staged or untracked (ignored files aside) in the work tree holding ``repo``.

    Untracked files count: an untracked `mod` file can make the work tree build where the commit
    does not.
    """
    result = run_git(repo, "status", "--porcelain", "-z", "--untracked-files=normal", "--ignore-submodules=none",
                     check=False)
    return result.returncode == 0 and not result.stdout.strip("\0")


def add_worktree(repo: Path, path: Path, commit: str) -> None:
    """Check ``commit`` out, detached, into a new linked worktree at ``path``."""
    run_git(repo, "worktree", "add", "--detach", "--end-of-options", str(path), commit,
            hint="check free space in the temporary directory (TMPDIR), or push with `git push --no-verify`")


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove the linked worktree at ``path``, modified or not.

    Best effort: it runs while unwinding from a failure or an interrupt, so it raises nothing;
    :func:`prune_worktrees` forgets one whose directory was removed another way.
    """
    run_git(repo, "worktree", "remove", "--force", str(path), check=False)


def prune_worktrees(repo: Path) -> None:
    """Forget the worktrees whose directory is gone (best effort, like :func:`remove_worktree`)."""
    run_git(repo, "worktree", "prune", check=False)


def worktree_paths(repo: Path) -> list[Path]:
    """Every work tree of the repository holding ``repo``, the main one first."""
    out = run_git(repo, "worktree", "list", "--porcelain", "-z").stdout
    return [Path(field.removeprefix("worktree ")) for field in out.split("\0") if field.startswith("worktree ")]


# ---------------------------------------------------------------------------
# A repository seen from a workspace (releases)


class GitRepo:
    """A repository seen from one workspace root inside it.

    The workspace may sit in a subdirectory of its repository (the bundled example inside
    this project does): paths are given relative to the workspace root and translated here.
    Writes go through the git CLI, so the user's hooks, signing and credential config apply.
    """

    def __init__(self, top: Path, workspace_root: Path, hint: str = _HINT) -> None:
        self.top = top
        self.root = workspace_root.resolve()
        self.hint = hint
        rel = os.path.relpath(self.root, self.top)
        self.prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"

    def git(self, *args: str, check: bool = True) -> proc.Result:
        return run_git(self.top, *args, check=check, hint=self.hint)

    def _out(self, *args: str) -> str:
        return self.git(*args).stdout

    # -- reads -----------------------------------------------------------------
    def head(self) -> str | None:
        return head(self.top)  # None: no commits yet

    def commit_time(self, rev: str = "HEAD") -> int:
        """The committer timestamp of ``rev`` (seconds since the epoch)."""
        return int(self._out("log", "-1", "--format=%ct", rev, "--").strip())

    def branch(self) -> str | None:
        """The checked-out branch (also when it has no commits yet); None when HEAD is detached."""
        found = symbolic_ref(self.top, "HEAD")
        return found.removeprefix("refs/heads/") if found else None

    def remotes(self) -> list[str]:
        return self._out("remote").split()

    def dirty_files(self) -> list[str]:
        """Tracked files under the workspace with uncommitted changes (staged or not)."""
        if self.head() is None:
            return []
        out = self._out("status", "--porcelain", "--untracked-files=no", "--", self.prefix or ".")
        return [line[3:] for line in out.splitlines() if len(line) > 3]

    def tag_exists(self, name: str) -> bool:
        return bool(self._out("tag", "--list", name).strip())

    def tags_merged(self) -> list[str]:
        """Tags reachable from HEAD, newest first."""
        if self.head() is None:
            return []
        out = self._out("tag", "--merged", "HEAD", "--sort=-creatordate")
        return [t for t in out.splitlines() if t.strip()]

    def tags_at_head(self) -> list[str]:
        if self.head() is None:
            return []
        return [t for t in self._out("tag", "--points-at", "HEAD").splitlines() if t.strip()]

    def commits(self, since: str | None, paths: Sequence[str] = ()) -> list[CommitInfo]:
        """Commits in ``since..HEAD`` touching the workspace (or ``paths`` under it), newest first."""
        if self.head() is None:
            return []
        revision = f"{since}..HEAD" if since else "HEAD"
        specs = [self.prefix + p for p in paths] if paths else [self.prefix or "."]
        # Merge commits are left out: the commits they bring in are listed themselves.
        out = self._out(
            "log", "--no-merges", f"--format={LOG_FORMAT}", "--name-only", "--no-renames",
            revision, "--", *specs,
        )
        result = []
        for sha, subject, body, names in parse_log_records(out):
            files = tuple(
                f[len(self.prefix):] for f in names.splitlines() if f.strip() and f.startswith(self.prefix)
            )
            result.append(CommitInfo(sha.strip(), subject.strip(), body.strip(), files))
        return result

    def relative(self, path: Path) -> str:
        return os.path.relpath(path.resolve(), self.top).replace(os.sep, "/")

    def ignored(self, rel: Sequence[str]) -> set[str]:
        """Of ``rel`` (repository-relative), the untracked paths that .gitignore excludes."""
        if not rel:
            return set()
        result = self.git("check-ignore", "--", *rel, check=False)
        if result.returncode == 1:  # none of them is ignored
            return set()
        if result.returncode != 0:
            raise GitError(
                f"`git check-ignore` failed in {self.top} (exit {result.returncode}): {result.stderr.strip()}",
                self.hint,
            )
        return {line for line in result.stdout.splitlines() if line}

    # -- writes (git CLI: hooks and signing apply) -----------------------------
    def commit(self, paths: Iterable[Path], message: str) -> str:
        rel = [self.relative(p) for p in paths]
        # An ignored, untracked file (a library's Cargo.lock) is written but not committed, as cargo-release does.
        skipped = self.ignored(rel)
        rel = [r for r in rel if r not in skipped]
        self.git("add", "--", *rel)
        # `--only` semantics: exactly these paths, whatever else is staged (--allow-dirty).
        self.git("commit", "-m", message, "--", *rel)
        sha = self.head()
        assert sha is not None  # a commit was just made
        return sha

    def unstage(self, paths: Iterable[Path]) -> None:
        self.git("reset", "-q", "--", *[self.relative(p) for p in paths])

    def signs_tags(self) -> bool:
        """Whether git signs annotated tags by itself (`tag.gpgSign`)."""
        result = self.git("config", "--type=bool", "--get", "tag.gpgSign", check=False)
        return result.ok and result.stdout.strip() == "true"

    def tag(self, name: str, message: str, *, sign: bool = False) -> None:
        """An annotated tag; signed when ``sign`` or `tag.gpgSign` asks (GPG, or SSH with `gpg.format = ssh`)."""
        if not (sign or self.signs_tags()):
            self.git("tag", "-a", name, "-m", message)
            return
        result = self.git("tag", "-s", name, "-m", message, check=False)
        # git can exit 0 and leave an unsigned tag (an SSH `user.signingkey` path that does not
        # exist is taken for a literal key): the tag object itself must carry the signature.
        signed = result.ok and "-----BEGIN " in self.git("cat-file", "tag", name, check=False).stdout
        if not signed:
            if result.ok:
                self.git("tag", "-d", name, check=False)
            raise GitError(
                f"`git tag -s {name}` failed in {self.top}"
                + (f" (exit {result.returncode})" if not result.ok else " (the tag came out unsigned)")
                + f": {proc.tail(result.stderr, 3)}",
                "signing needs a key: set `user.signingkey` (a GPG key id, or with `gpg.format = ssh` the path of "
                "an SSH public key) and check that `git tag -s test-tag -m test` works; or turn off "
                "`release.sign-tags` / `tag.gpgSign`",
            )

    def verify_tag(self, name: str) -> proc.Result:
        """`git tag -v NAME`: exit 0 when the signature is good (SSH needs `gpg.ssh.allowedSignersFile`)."""
        return self.git("tag", "-v", name, check=False)

    def delete_tag(self, name: str) -> None:
        self.git("tag", "-d", name)

    def push(self, remote: str, tags: Sequence[str]) -> None:
        self.git("push", "--atomic", remote, "HEAD", *[f"refs/tags/{t}" for t in tags])


def open_repo(root: Path, *, hint: str = "fix the git problem above and run the release again") -> GitRepo | None:
    """The repository holding ``root``, or None when it is not in one (a missing git is ToolMissing)."""
    if not root.is_dir():
        return None
    top = find_toplevel(root)
    return None if top is None else GitRepo(top, root, hint)


def stream_git(repo: Path, *args: str, hint: str | None = None) -> Iterator[str]:
    """`git ARGS` in ``repo``, its stdout yielded while it runs (a long `git log` parsed as it arrives).

    GIT_FLUSH=0: into a pipe git would otherwise flush after every commit, one write and
    one wake-up of the reader per record, which on a long history costs more than the
    parsing (`git log` into a file or /dev/null is fully buffered; this makes the pipe so).
    """
    return proc.stream(["git", *args], cwd=repo, env={"GIT_FLUSH": "0"}, hint=hint or _HINT)
