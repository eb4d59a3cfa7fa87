"""Killing a release at an exact point, and checking that a repository is consistent afterwards.

Used by tests/test_release_journal.py (every step boundary and every file replacement) and by
bench/bench_release_kill.py (random kill -9 times). A kill point is one of:

* ``write:K`` — SIGKILL just before the K-th file replacement of the release's write;
* ``add`` — after ``git add`` of the release commit, before ``git commit``;
* ``tag:K`` — just before the K-th tag is made;
* ``done:STEP`` / ``recorded:STEP`` / ``recorded:begin`` — the journal's step seam.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from release_support import REPO, git, make_shapes, snapshot

KILLER = r"""
import os, signal, sys
point, argv = sys.argv[1], sys.argv[2:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

from pipeline.foundation import fs, git
from pipeline.release import journal

kind, _, arg = point.partition(":")
if kind == "write":
    original_write_all = fs.write_all
    def write_all(files, **kw):
        if kw.get("what") == "the release":
            kw["fault"] = lambda index, path: die() if index == int(arg) else None
        return original_write_all(files, **kw)
    fs.write_all = write_all
elif kind == "add":
    def commit(self, paths, message):
        self.git("add", "--", *[self.relative(p) for p in paths])
        die()
    git.GitRepo.commit = commit
elif kind == "tag":
    original_tag = git.GitRepo.tag
    made = []
    def tag(self, name, message, **kw):
        if len(made) == int(arg):
            die()
        made.append(name)
        return original_tag(self, name, message, **kw)
    git.GitRepo.tag = tag
elif point != "none":
    journal.step_hook = lambda event: die() if event == point else None

from pipeline import cli
sys.exit(cli.main(argv))
"""

NO_ARTIFACTS = '\n[workspace.metadata.pipeline.release]\nartifacts = false\ngates = ["fmt"]\n'
RELEASE = ["release", "patch", "--execute", "--no-verify", "--push"]


def make_template(root: Path) -> Path:
    """A git workspace with a Cargo.lock and a bare remote `origin` (``root/ws``, ``root/remote.git``)."""
    ws = make_shapes(root / "ws", lockfile=True, git_repo=True, extra_root=NO_ARTIFACTS)
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "--allow-empty", "-m", "chore: lockfile")
    subprocess.run(["git", "init", "-q", "--bare", str(root / "remote.git")], check=True, capture_output=True)
    git(ws, "remote", "add", "origin", str(root / "remote.git"))
    git(ws, "push", "-q", "origin", "main")
    return root


def copy_state(source: Path, destination: Path) -> Path:
    """A copy of a template or of a killed state (work tree, .git, remote), re-pointed at its own remote."""
    shutil.copytree(source, destination, symlinks=True)
    git(destination / "ws", "remote", "set-url", "origin", str(destination / "remote.git"))
    return destination


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "GIT_CONFIG_NOSYSTEM": "1"}


def start_release(state: Path, point: str = "none") -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", KILLER, point, *RELEASE, "--workspace", str(state / "ws")],
                            cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: a kill takes git's children too


def journal_file(ws: Path) -> Path:
    return ws / ".git" / "pipeline-release.json"


def strays(ws: Path) -> list[str]:
    return sorted(p.relative_to(ws).as_posix() for p in ws.rglob(".*.tmp") if ".git" not in p.parts)


def _cargo_ok(ws: Path) -> str | None:
    # Without --no-deps: with it cargo never reads Cargo.lock, and --locked would prove nothing.
    result = subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"],
                            cwd=ws, capture_output=True, text=True)
    return None if result.returncode == 0 else f"cargo metadata --locked: {result.stderr.strip()[-300:]}"


def problems_at_start(state: Path, before: dict[str, bytes], head: str) -> list[str]:
    """Why ``state`` is not exactly the repository before the release (empty: it is)."""
    ws = state / "ws"
    found = []
    if snapshot(ws) != before:
        changed = sorted(k for k in {*snapshot(ws), *before} if snapshot(ws).get(k) != before.get(k))
        found.append(f"files differ from before: {changed}")
    if git(ws, "rev-parse", "HEAD").strip() != head:
        found.append("HEAD moved")
    if git(ws, "tag").strip():
        found.append(f"tags left: {git(ws, 'tag').split()}")
    if git(ws, "status", "--porcelain").strip():
        found.append(f"git status: {git(ws, 'status', '--porcelain').strip()}")
    if git(state / "remote.git", "tag").strip():
        found.append("tags on the remote")
    return [*found, *_common(ws)]


def problems_at_end(state: Path, head: str) -> list[str]:
    """Why ``state`` is not a complete release of ``head`` (commit, tags, pushed, consistent)."""
    ws = state / "ws"
    found = []
    new_head = git(ws, "rev-parse", "HEAD").strip()
    if git(ws, "rev-parse", "HEAD^").strip() != head:
        found.append("HEAD is not one release commit on top of the start")
    if not git(ws, "log", "-1", "--format=%s").startswith("chore(release): "):
        found.append("HEAD is not the release commit")
    tags = git(ws, "tag", "--points-at", "HEAD").split()
    if sorted(tags) != sorted(git(ws, "tag").split()) or not tags:
        found.append(f"tags: {git(ws, 'tag').split()} (at HEAD: {tags})")
    if git(ws, "status", "--porcelain").strip():
        found.append(f"git status: {git(ws, 'status', '--porcelain').strip()}")
    remote = state / "remote.git"
    if git(remote, "rev-parse", "main").strip() != new_head or sorted(git(remote, "tag").split()) != sorted(tags):
        found.append("the remote does not have the release commit and tags")
    return [*found, *_common(ws)]


def _common(ws: Path) -> list[str]:
    found = []
    if journal_file(ws).exists():
        found.append("journal left")
    if strays(ws):
        found.append(f"stray temporary files: {strays(ws)}")
    cargo = _cargo_ok(ws)
    if cargo:
        found.append(cargo)
    return found
