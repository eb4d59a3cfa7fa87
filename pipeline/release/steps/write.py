"""Step: write every planned file at once (manifests, Cargo.lock, changelog), or none of them.

For `bump` and `release` alike: with a Cargo.lock, ``cargo metadata --locked --offline`` must
accept the written tree (the workspace's, and each outside crate's own lock that moved); if it
does not, every file gets its old bytes back (:func:`pipeline.foundation.fs.write_all`). Where
the check cannot be made (no Cargo.lock, no cargo, no registry cache to resolve offline) a line
says it was skipped and why.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pipeline.foundation import fs, proc
from pipeline.foundation.errors import CommandFailed, ToolMissing
from pipeline.foundation.fs import FaultHook
from pipeline.foundation.output import log
from pipeline.release.plan import rel_path
from pipeline.release.prepare import Prepared
from pipeline.release.steps import Release

NAME = "write"


def wanted(release: Release) -> bool:
    return True


def run(release: Release) -> Release:
    facts = release.facts
    who = "release" if release.request.full else "bump"
    verify_lock = facts.lockfile is not None
    if not verify_lock:
        log(f"{who}: `cargo metadata --offline --locked` skipped: the workspace has no Cargo.lock to check "
            "(run `cargo metadata --offline` to resolve it)")
    # An outside crate with its own workspace and Cargo.lock (an excluded kernels crate) is
    # checked in its own directory when its files moved.
    moved = {p.parent for p in release.prepared.files}
    extra = tuple(lock.parent for lock in facts.outside_locks if lock.parent in moved)
    written = write_files(release.prepared, facts.root, verify_lock=verify_lock, fault=release.fault, who=who,
                          also=extra)
    return dataclasses.replace(release, written=tuple(rel_path(p, facts.root) for p in written))


def write_files(
    prepared: Prepared, root: Path, *, verify_lock: bool, fault: FaultHook | None = None, who: str = "release",
    also: tuple[Path, ...] = (),
) -> tuple[Path, ...]:
    new_files = {path: new for path, (_old, new) in prepared.files.items()}
    olds = {path: old for path, (old, _new) in prepared.files.items()}
    directories = ((root,) if verify_lock else ()) + also

    def verify() -> None:
        for directory in directories:
            verify_cargo(directory, who, root)

    fs.write_all(new_files, verify=verify if directories else None, fault=fault, originals=olds,
                 what=f"the {who}")
    log(f"{who}: wrote {len(new_files)} file(s)")
    return tuple(new_files)


# What cargo says when it cannot resolve without the network (no registry cache here): the
# check cannot be made, which is not a sign that the bump broke anything.
_OFFLINE_SIGNS = ("offline mode", "--offline was specified", "failed to download",
                  "attempting to make an HTTP request", "failed to get `", "no matching package named",
                  "failed to load source for dependency")
# What cargo says when the written tree is wrong, whatever else it says: never a skip. (Its
# "cannot update the lock file ... --locked" help line mentions --offline too.)
_BROKEN_SIGNS = ("failed to select a version", "needs to be updated", "--locked was passed",
                 "cannot update the lock file")
# What rustup says when the cargo it would run is not there (wgpu's rust-toolchain.toml pins
# 1.76, which this machine lacks): cargo never read a manifest, so the check could not be made.
_NO_TOOLCHAIN = re.compile(r"toolchain '[^']+' is not installed|rustup could not choose a version")


def verify_cargo(directory: Path, who: str = "release", root: Path | None = None) -> None:
    """Proves Cargo.lock and the manifests agree, without network; where cargo cannot resolve
    offline at all, or is not installed, says the check was skipped and why (the written files stay)."""
    where = "" if root is None or directory == root else f" in {rel_path(directory, root)}"
    try:
        proc.find_tool("cargo")
    except ToolMissing:
        log(f"{who}: `cargo metadata --offline --locked`{where} skipped: cargo is not installed here; "
            "run it where cargo is to check the written manifests")
        return
    result = proc.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=directory,
                      check=False, keep_stdout=False)  # the exit status and stderr are the answer
    if result.returncode == 0:
        log(f"{who}: `cargo metadata --offline --locked`{where} accepts the written manifests and Cargo.lock")
        return
    text = result.stderr
    if _NO_TOOLCHAIN.search(text):
        first = next((line for line in text.splitlines() if line.startswith("error")), text.strip()[:200])
        log(f"{who}: `cargo metadata --offline --locked`{where} skipped: cargo cannot run here ({first}); "
            "install that toolchain (`rustup toolchain install` in the workspace) and run "
            "`cargo metadata --offline --locked` to check")
        return
    if any(sign in text for sign in _OFFLINE_SIGNS) and not any(sign in text for sign in _BROKEN_SIGNS):
        first = next((line for line in text.splitlines() if line.startswith("error")), text.strip()[:200])
        log(f"{who}: `cargo metadata --offline --locked`{where} skipped: cargo cannot resolve offline here "
            f"({first}); run it with the network to check")
        return
    raise CommandFailed(list(result.argv), result.returncode, proc.tail(text),
                        "the bumped manifests and Cargo.lock disagree; nothing was changed")
