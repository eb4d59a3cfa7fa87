"""Step: write every planned file at once (manifests, Cargo.lock, changelog), or none of them.

With a Cargo.lock, ``cargo metadata --locked --offline`` must accept the written tree;
if it does not, every file gets its old bytes back (:func:`pipeline.foundation.fs.write_all`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.foundation import fs, proc
from pipeline.foundation.errors import CommandFailed
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
    # A bump leaves the check to the user's next cargo command (the plan's resolution check has
    # proved every requirement on a moved crate); a release proves the lock with cargo first.
    verify_lock = release.request.full and facts.lockfile is not None
    if release.request.full and facts.lockfile is None:
        log("release: `cargo metadata --offline --locked` skipped: the workspace has no Cargo.lock")
    elif not release.request.full:
        log("bump: `cargo metadata --offline --locked` not run (a bump leaves it to the next cargo command; "
            "every requirement on a moved crate was checked before writing)")
    written = write_files(release.prepared, facts.root, verify_lock=verify_lock, fault=release.fault)
    return dataclasses.replace(release, written=tuple(rel_path(p, facts.root) for p in written))


def write_files(
    prepared: Prepared, root: Path, *, verify_lock: bool, fault: FaultHook | None = None
) -> tuple[Path, ...]:
    new_files = {path: new for path, (_old, new) in prepared.files.items()}
    olds = {path: old for path, (old, _new) in prepared.files.items()}
    verify = (lambda: verify_cargo(root)) if verify_lock else None
    fs.write_all(new_files, verify=verify, fault=fault, originals=olds, what="the release")
    log(f"release: wrote {len(new_files)} file(s)")
    return tuple(new_files)


# What cargo says when it cannot resolve without the network (no registry cache here): the
# check cannot be made, which is not a sign that the bump broke anything.
_OFFLINE_SIGNS = ("--offline", "offline mode", "failed to download", "attempting to make an HTTP request",
                  "failed to get `", "no matching package named", "failed to load source for dependency")


def verify_cargo(root: Path) -> None:
    """Proves Cargo.lock and the manifests agree, without network; where cargo cannot resolve
    offline at all, says the check was skipped and why (the written files stay)."""
    result = proc.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root,
                      check=False)
    if result.returncode == 0:
        log("release: `cargo metadata --offline --locked` accepts the written manifests and Cargo.lock")
        return
    text = result.stderr
    if any(sign in text for sign in _OFFLINE_SIGNS) and "failed to select a version" not in text \
            and "needs to be updated" not in text:
        first = next((line for line in text.splitlines() if line.startswith("error")), text.strip()[:200])
        log(f"release: `cargo metadata --offline --locked` skipped: cargo cannot resolve offline here ({first}); "
            "run it with the network to check")
        return
    raise CommandFailed(list(result.argv), result.returncode, proc.tail(text),
                        "the bumped manifests and Cargo.lock disagree; nothing was changed")
