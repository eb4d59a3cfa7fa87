"""`pipeline audit --fetch-db`: clone or update the RustSec advisory-db where the audit reads it.

A shallow clone (the history is not needed, only the newest advisories), made in a temporary
directory beside the target and renamed into place, so an interrupted clone never leaves a
half database that would pass for a real one. An existing clone is updated with a shallow
fetch and a checkout that refuses to overwrite local edits. When the network is not there,
an existing database is kept (the staleness check still applies to it) and a missing one is
an error saying how to get it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import OperationFailed

DEFAULT_URL = "https://github.com/rustsec/advisory-db.git"


@dataclass(frozen=True)
class Fetched:
    path: Path
    action: str  # "cloned" | "updated" | "kept"
    detail: str = ""

    def render(self) -> str:
        text = f"advisory-db {self.action}: {self.path}"
        return f"{text} ({self.detail})" if self.detail else text


def _git(*args: str, cwd: Path | None = None) -> proc.Result:
    # No prompt for credentials: a CI job must fail fast, not hang on a terminal that is not there.
    return proc.run(["git", *args], cwd=cwd, env={"GIT_TERMINAL_PROMPT": "0"}, check=False)


def fetch_database(path: Path, url: str = DEFAULT_URL) -> Fetched:
    """Clone ``url`` into ``path``, or update the clone there."""
    if (path / ".git").exists():
        fetched = _git("-C", str(path), "fetch", "--quiet", "--depth", "1", "--", url, "HEAD")
        if not fetched.ok:
            return Fetched(path, "kept", f"fetch from {url} failed: {proc.tail(fetched.stderr, 2)}")
        checkout = _git("-C", str(path), "checkout", "--quiet", "--detach", "FETCH_HEAD")
        if not checkout.ok:
            raise OperationFailed(
                f"advisory-db {path}: the fetched advisories could not be checked out: "
                f"{proc.tail(checkout.stderr, 2)}",
                f"local edits in {path} are in the way: `git -C {path} status` shows them",
            )
        return Fetched(path, "updated", f"from {url}")
    if path.exists() and any(path.iterdir()):
        raise OperationFailed(
            f"advisory-db {path} exists but is not a git clone: --fetch-db only manages clones",
            "remove it, or point --db / `db` at another directory",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.fetching")
    shutil.rmtree(temp, ignore_errors=True)
    cloned = _git("clone", "--quiet", "--depth", "1", "--", url, str(temp))
    if not cloned.ok:
        shutil.rmtree(temp, ignore_errors=True)
        raise OperationFailed(
            f"advisory-db: cloning {url} into {path} failed: {proc.tail(cloned.stderr, 2)}",
            "run where the network reaches it, or clone it elsewhere and pass --db PATH",
        )
    if path.exists():
        path.rmdir()  # empty (checked above)
    temp.rename(path)
    return Fetched(path, "cloned", f"from {url}")
