"""Step: write every planned file at once (manifests, Cargo.lock, changelog), or none of them.

With a Cargo.lock, ``cargo metadata --locked --offline`` must accept the written tree;
if it does not, every file gets its old bytes back (:func:`pipeline.foundation.fs.write_all`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.foundation import fs, proc
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
    # A bump leaves the check to the user's next cargo command; a release proves the lock first.
    verify_lock = release.request.full and facts.lockfile is not None
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


def verify_cargo(root: Path) -> None:
    """Proves Cargo.lock and the manifests agree, without network."""
    proc.run(
        ["cargo", "metadata", "--locked", "--offline", "--format-version", "1"],
        cwd=root,
        hint="the bumped manifests and Cargo.lock disagree; nothing was changed",
    )
