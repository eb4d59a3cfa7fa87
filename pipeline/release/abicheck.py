"""What the release plan knows about compatibility beyond the commits: the kernel ABI and the Rust API.

The kernel ABI of this release is read from the CUDA stage's outputs (``target/cuda``: its
manifest and the PTX files it names); the last release's from ``dist/manifest.json`` as that
release left it. The Rust API is checked by ``cargo-semver-checks`` against the last release
tag where that tool is installed; where it is not, the plan says "not checked".
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda import abi
from pipeline.foundation import proc
from pipeline.foundation.output import log


@dataclass(frozen=True)
class ApiVerdict:
    checked: bool
    breaking: bool = False
    detail: str = ""

    def line(self) -> str:
        if not self.checked:
            return f"Rust API: not checked ({self.detail})"
        return f"Rust API (cargo-semver-checks): {'breaking' if self.breaking else 'no breaking change'}" + (
            f" ({self.detail})" if self.detail else "")


def _json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_abi(cuda_dir: Path) -> dict[str, dict[str, tuple[str, ...]]] | None:
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


def kernel_abi_diff(root: Path, dist: Path, since: str | None) -> abi.AbiDiff:
    """This build's kernel ABI against the last release's manifest; ``since`` None when there is nothing to compare."""
    new = current_abi(root / "target" / "cuda")
    previous = _json(dist / "manifest.json")
    old = abi.from_release_manifest(previous) if previous is not None else None
    if new is None or old is None:
        return abi.AbiDiff(None)
    tags = previous.get("tags") if previous is not None else None
    label = since or (str(tags[0]) if isinstance(tags, list) and tags else "the last release")
    return abi.diff(old, new, label)


def rust_api(root: Path, baseline_tag: str | None) -> ApiVerdict:
    """cargo-semver-checks' verdict against ``baseline_tag``, where the tool is installed."""
    if shutil.which("cargo-semver-checks") is None:
        return ApiVerdict(False, detail="cargo-semver-checks is not installed")
    if baseline_tag is None:
        return ApiVerdict(False, detail="no earlier release tag to compare with")
    result = proc.run(["cargo", "semver-checks", "--workspace", "--baseline-rev", baseline_tag], cwd=root,
                      check=False)
    if result.ok:
        return ApiVerdict(True, False, f"against {baseline_tag}")
    text = result.stdout + result.stderr
    if "semver requires new major version" in text or "breaking" in text.lower():
        return ApiVerdict(True, True, f"against {baseline_tag}")
    return ApiVerdict(False, detail=f"cargo-semver-checks failed: {proc.tail(text, 2)}")
