"""Long git histories for tests and benchmarks, built with `git fast-import` (seconds, not minutes).

``make_history(root, crates=50, commits=20_000)`` writes a repository whose first
commit is a workspace of ``crates`` crates, each with its own version, followed by
``commits`` conventional commits touching one to three files in nested directories
of one or two crates. Every crate is tagged ``{crate}-v{version}`` at several points
(different points for different crates: independent versions), and the manifests
at HEAD carry the last tagged version, as after a release.

``DatedRepo`` is the small hand-made kind: commits a minute apart (their dates decide the order
a log lists them in), a clock that can be skewed, merges.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

KINDS = ("feat", "fix", "docs", "refactor", "perf", "chore", "test")


@dataclass(frozen=True)
class HistoryShape:
    crates: tuple[str, ...]
    last_tags: dict[str, str]  # crate -> its newest tag
    last_tag_commit: dict[str, int]  # crate -> commit number (1-based) of that tag
    versions: dict[str, str]
    commits: int


def crate_name(i: int) -> str:
    return f"hist-crate-{i:02d}"


def make_history(root: Path, *, crates: int = 50, commits: int = 20_000, seed: int = 7,
                 tag_template: str = "{crate}-v{version}", untagged: tuple[str, ...] = ()) -> HistoryShape:
    rng = random.Random(seed)
    names = tuple(crate_name(i) for i in range(crates))
    releases = 4
    # Crate c is released at commits spread over the history, offset per crate.
    release_points = {
        name: sorted({max(2, int(commits * (k + 1) / (releases + 1)) + rng.randrange(-commits // 20, commits // 20))
                      for k in range(releases)})
        for name in names
    }
    versions = {name: f"0.{releases}.0" for name in names}
    root.mkdir(parents=True, exist_ok=True)
    chunks: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    when = 1_600_000_000
    chunks.append(b"commit refs/heads/main\nmark :1\n")
    chunks.append(b"committer Bench <bench@example.com> %d +0000\n" % when)
    data("chore: initial workspace")
    members = ", ".join(f'"crates/{n}"' for n in names)
    files = {"Cargo.toml": f'[workspace]\nresolver = "2"\nmembers = [{members}]\n', ".gitignore": "/target\n"}
    for name in names:
        files[f"crates/{name}/Cargo.toml"] = (
            f'[package]\nname = "{name}"\nversion = "{versions[name]}"\nedition = "2021"\n'
        )
        files[f"crates/{name}/src/lib.rs"] = "pub fn f() {}\n"
    for path, text in files.items():
        chunks.append(f"M 100644 inline {path}\n".encode())
        data(text)
    tags: list[tuple[str, int]] = []
    done = {name: 0 for name in names}
    by_commit: dict[int, list[str]] = {}
    for name, points in release_points.items():
        for point in points:
            by_commit.setdefault(point, []).append(name)
    last_tags: dict[str, str] = {}
    last_commit: dict[str, int] = {}
    for number in range(2, commits + 2):
        owners = [names[rng.randrange(crates)]]
        if rng.random() < 0.1:
            owners.append(names[rng.randrange(crates)])
        kind = KINDS[rng.randrange(len(KINDS))]
        scope = owners[0].rsplit("-", 1)[-1]
        subject = f"{kind}(c{scope}): change number {number}"
        body = "BREAKING CHANGE: the API moved\n" if rng.random() < 0.01 else ""
        when += 60
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % number)
        chunks.append(b"committer Bench <bench@example.com> %d +0000\n" % when)
        data(subject + ("\n\n" + body if body else ""))
        chunks.append(b"from :%d\n" % (number - 1))
        for owner in owners:
            for _ in range(rng.randrange(1, 3)):
                depth = rng.randrange(0, 3)
                parts = [f"m{rng.randrange(6)}" for _ in range(depth)]
                path = "/".join([f"crates/{owner}/src", *parts, f"f{rng.randrange(20)}.rs"])
                chunks.append(f"M 100644 inline {path}\n".encode())
                data(f"// {number}\n")
        for name in by_commit.get(number, ()):
            if name in untagged:
                continue
            done[name] += 1
            version = f"0.{done[name]}.0"
            tag = tag_template.replace("{crate}", name).replace("{version}", version)
            tags.append((tag, number))
            last_tags[name], last_commit[name] = tag, number
    # HEAD's manifests carry each crate's last tagged version (a release happened at that tag).
    when += 60
    head = commits + 2
    chunks.append(b"commit refs/heads/main\nmark :%d\n" % head)
    chunks.append(b"committer Bench <bench@example.com> %d +0000\n" % when)
    data("docs: record released versions")
    chunks.append(b"from :%d\n" % (head - 1))
    for name in names:
        versions[name] = f"0.{done[name]}.0" if name not in untagged else "0.1.0"
        chunks.append(f"M 100644 inline crates/{name}/Cargo.toml\n".encode())
        data(f'[package]\nname = "{name}"\nversion = "{versions[name]}"\nedition = "2021"\n')
    for index, (tag, number) in enumerate(tags):
        chunks.append(f"tag {tag}\nfrom :{number}\n".encode())
        chunks.append(b"tagger Bench <bench@example.com> %d +0000\n" % (1_600_000_000 + number * 60 + index))
        data(f"Release {tag}")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, capture_output=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(chunks), check=True,
                   capture_output=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True, capture_output=True)
    for key, value in (("user.email", "tests@example.com"), ("user.name", "Tests"), ("commit.gpgsign", "false"),
                       ("tag.gpgsign", "false")):
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
    return HistoryShape(names, last_tags, last_commit, versions, commits + 2)


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env}).stdout


class DatedRepo:
    """A repository made commit by commit, each a minute after the last unless skewed."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self.clock = 1_700_000_000
        top.mkdir(parents=True, exist_ok=True)
        git(top, "init", "-q", "-b", "main")
        for key, value in (("user.email", "t@e"), ("user.name", "T"), ("commit.gpgsign", "false"),
                           ("tag.gpgsign", "false")):
            git(top, "config", key, value)

    def _env(self, skew: int = 0) -> dict[str, str]:
        self.clock += 60
        stamp = f"@{self.clock + skew} +0000"
        return {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}

    def commit(self, path: str | None, message: str, *, skew: int = 0) -> str:
        """A commit changing ``path`` (None: the work tree as it is), dated ``skew`` seconds off."""
        if path is not None:
            file = self.top / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(file.read_text() + "x\n" if file.exists() else "x\n")
        git(self.top, "add", "-A")
        git(self.top, "commit", "-q", "-m", message, env=self._env(skew))
        return self.head()

    def merge(self, branch: str) -> str:
        git(self.top, "merge", "-q", "--no-ff", "-m", f"merge {branch}", branch, env=self._env())
        return self.head()

    def head(self) -> str:
        return git(self.top, "rev-parse", "HEAD").strip()
