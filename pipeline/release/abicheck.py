"""What the release plan knows about compatibility beyond the commits: the kernel ABI and the Rust API.

The kernel ABI of this release is read from the CUDA stage's outputs (``target/cuda``: its
manifest and the PTX files it names). The last release's is found, in this order:

1. a release manifest kept in ``dist/`` whose ``tags`` hold the last release tag:
   ``dist/manifest.json``, or ``dist/<anything>/manifest.json`` (a kept copy per version);
2. that release's CUDA tarball kept in ``dist/`` (``*-cuda-<version>-<commit>.tar.gz`` named for the
   tag's commit, in ``dist/`` or one directory below): its manifest and PTX files;
3. else rebuilt at the tag: ``git worktree add`` of the tag, ``pipeline cuda`` there, the PTX read
   back; the result is cached in ``target/pipeline-abi/<commit>.json``, the worktree removed.

The Rust API is checked by ``cargo-semver-checks`` against the last release tag where that tool
is installed: its summary (``semver requires new major version: N major and M minor checks
failed``, exit 100; ``no semver update required``, exit 0) feeds the same level as the kernel
ABI. Where it is not installed the plan says "not checked".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cuda import abi
from pipeline.foundation import fs, git, proc
from pipeline.foundation.output import log

AbiMap = dict[str, dict[str, tuple[str, ...]]]
CACHE_DIR = Path("target") / "pipeline-abi"
# cargo-semver-checks' own words (src/check_release.rs) and exit codes (src/main.rs).
_SUMMARY = re.compile(r"semver requires new (major|minor) version: (\d+) major and (\d+) minor checks failed")
_NO_UPDATE = "no semver update required"
LINT_FAILURE_EXIT = 100


@dataclass(frozen=True)
class ApiVerdict:
    checked: bool
    breaking: bool = False
    detail: str = ""
    feature: bool = False  # only minor-level checks failed: a new minor version

    def line(self) -> str:
        if not self.checked:
            return f"Rust API: not checked ({self.detail})"
        verdict = "breaking" if self.breaking else "feature (minor)" if self.feature else "no breaking change"
        return f"Rust API (cargo-semver-checks): {verdict}" + (f" ({self.detail})" if self.detail else "")

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "breaking": self.breaking, "feature": self.feature, "detail": self.detail}


@dataclass(frozen=True)
class Baseline:
    abi: AbiMap | None
    source: str  # where it came from, or (abi None) why there is none


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_abi(cuda_dir: Path) -> AbiMap | None:
    if not os.path.lexists(cuda_dir / "manifest.json"):
        return None  # nothing built here (the common dry run): not even the manifest reader is loaded
    from pipeline.cuda.manifest import read_manifest, read_output

    manifest = read_manifest(cuda_dir)  # never through a symlink
    if manifest is None:
        return None

    def read(name: str) -> str:
        data = read_output(cuda_dir, name)
        if data is None:
            raise FileNotFoundError(name)
        return data.decode("utf-8", errors="replace")

    found, missing = abi.read_kernel_abi(manifest, read)
    if missing:
        log(f"release: kernel ABI of {', '.join(missing)} unknown (built without PTX: set cuda.ptx = true)")
    return found or None


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _from_manifests(root: Path, dist: Path, since: str | None) -> Baseline | None:
    candidates = [dist / "manifest.json"]
    if dist.is_dir():
        candidates += sorted(d / "manifest.json" for d in dist.iterdir() if d.is_dir() and not d.is_symlink())
    for path in candidates:
        manifest = _json(path)
        if manifest is None:
            continue
        tags = manifest.get("tags")
        if since is not None and not (isinstance(tags, list) and since in tags):
            continue  # another release's manifest: comparing with it would misjudge the level
        try:
            old = abi.from_release_manifest(manifest)
        except abi.PtxError:
            continue
        if old is not None:
            return Baseline(old, _rel(path, root))
    return None


def _from_tarball(root: Path, dist: Path, short: str) -> Baseline | None:
    """The CUDA tarball of the tag's commit (``<project>-cuda-<version>-<short>.tar.gz``): manifest and PTX."""
    if not dist.is_dir():
        return None
    found = sorted([*dist.glob(f"*-cuda-*-{short}.tar.gz"), *dist.glob(f"*/*-cuda-*-{short}.tar.gz")])
    for path in found:
        old = _tarball_abi(path)
        if old:
            return Baseline(old, _rel(path, root))
    return None


def _tarball_abi(path: Path) -> AbiMap | None:
    data = fs.read_regular(path)
    if data is None:
        return None
    stem = path.name.removesuffix(".tar.gz")
    import tarfile  # only where a kept tarball is read

    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}

            def read(name: str) -> str:
                member = members.get(f"{stem}/{name}")
                handle = tar.extractfile(member) if member is not None else None
                if handle is None:
                    raise FileNotFoundError(name)
                return handle.read().decode("utf-8", errors="replace")

            old, _ = abi.read_kernel_abi(json.loads(read("manifest.json")), read)
    except (OSError, tarfile.TarError, ValueError, abi.PtxError):
        return None
    return old or None


def _rebuilt(root: Path, tag: str, sha: str) -> Baseline:
    """The kernels built at ``tag`` in a throwaway git worktree, their ABI cached by commit."""
    cache = root / CACHE_DIR / f"{sha}.json"
    cached = _json(cache)
    if cached is not None and isinstance(cached.get("kernel_abi"), dict):
        old = abi.from_release_manifest(cached)
        return Baseline(old, f"rebuilt at {tag} (cached in {_rel(cache, root)})") if old else Baseline(
            None, f"the build at {tag} recorded no kernel ABI")
    top = git.find_toplevel(root)
    if top is None:
        return Baseline(None, "not a git repository: cannot rebuild the last release")
    log(f"release: no manifest of {tag} kept in dist/: building its kernels at {tag} (git worktree) to read "
        "its kernel ABI")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pipeline-abi-") as tmp:
        tree = Path(tmp) / "tree"
        added = git.run_git(top, "worktree", "add", "--detach", "--quiet", str(tree), sha, check=False)
        if not added.ok:
            return Baseline(None, f"could not check out {tag}: {proc.tail(added.stderr, 1)}")
        try:
            workspace = tree / root.resolve().relative_to(top.resolve())
            # `-P`: the tag's own checkout (this very repository, say) must not shadow the installed tool.
            built = proc.run([sys.executable, "-P", "-m", "pipeline", "--workspace", str(workspace), "cuda"],
                             cwd=tmp, check=False)
            if not built.ok:
                return Baseline(None, f"`pipeline cuda` at {tag} failed: {proc.tail(built.stderr or built.stdout, 2)}")
            old = current_abi(workspace / "target" / "cuda")
        finally:
            git.run_git(top, "worktree", "remove", "--force", str(tree), check=False)
            git.run_git(top, "worktree", "prune", check=False)
    if old is None:
        return Baseline(None, f"the build at {tag} recorded no kernel ABI (no PTX: cuda.ptx = false there?)")
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        fs.atomic_write_json(cache, {"tag": tag, "commit": sha,
                                     "kernel_abi": {k: {e: list(p) for e, p in v.items()} for k, v in old.items()}})
    return Baseline(old, f"rebuilt at {tag}")


def baseline(root: Path, dist: Path, since: str | None) -> Baseline:
    """The last release's kernel ABI: kept manifest, kept CUDA tarball, else rebuilt at ``since``."""
    found = _from_manifests(root, dist, since)
    if found is not None:
        return found
    if since is None:
        return Baseline(None, "no earlier release to compare with")
    sha = git.resolve(root, f"refs/tags/{since}")
    if sha is None:
        return Baseline(None, f"tag {since} not found")
    return _from_tarball(root, dist, sha[:7]) or _rebuilt(root, since, sha)


def kernel_abi_diff(root: Path, dist: Path, since: str | None) -> abi.AbiDiff:
    """This build's kernel ABI against the last release's; ``since`` None in the diff when nothing compares."""
    new = current_abi(root / "target" / "cuda")
    if new is None:
        return abi.AbiDiff(None)  # nothing built here (or no PTX): no rebuild of the old one either
    found = baseline(root, dist, since)
    if found.abi is None:
        return abi.AbiDiff(None, note=found.source)
    label = since
    if label is None:
        manifest = _json(root / found.source) if not found.source.startswith("rebuilt") else None
        tags = manifest.get("tags") if manifest is not None else None
        label = str(tags[0]) if isinstance(tags, list) and tags else "the last release"
    return abi.diff(found.abi, new, label, baseline=found.source)


def rust_api(root: Path, baseline_tag: str | None) -> ApiVerdict:
    """cargo-semver-checks' verdict against ``baseline_tag``, where the tool is installed."""
    if shutil.which("cargo-semver-checks") is None:
        return ApiVerdict(False, detail="cargo-semver-checks is not installed")
    if baseline_tag is None:
        return ApiVerdict(False, detail="no earlier release tag to compare with")
    result = proc.run(["cargo", "semver-checks", "--workspace", "--baseline-rev", baseline_tag], cwd=root,
                      check=False)
    text = result.stdout + "\n" + result.stderr
    summary = _SUMMARY.search(text)
    if result.returncode == LINT_FAILURE_EXIT and summary is not None:
        major, minor = int(summary.group(2)), int(summary.group(3))
        return ApiVerdict(True, breaking=major > 0, feature=major == 0 and minor > 0,
                          detail=f"against {baseline_tag}: {major} major and {minor} minor checks failed")
    if result.ok and _NO_UPDATE in text:
        return ApiVerdict(True, False, f"against {baseline_tag}")
    return ApiVerdict(False, detail=f"cargo-semver-checks failed (exit {result.returncode}): "
                      f"{proc.tail(result.stderr or result.stdout, 2)}")
