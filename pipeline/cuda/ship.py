"""The release's kernel check: build what ships, cuobjdump it, refuse a release that lacks an architecture.

Checked: every released binary and cdylib (``cargo build --release``), and every fatbin of
``target/cuda`` that the CUDA tarball packs. A binary must hold device code when its crate
depends, directly or not, on a crate whose kernels ``target/cuda/manifest.json`` lists; one that
links no kernel crate is reported and not checked. The architectures required are the configured
ones (``architectures``), else those the manifest was built for; PTX for the newest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cuda import nvcc as nv
from pipeline.cuda import verify
from pipeline.cuda.manifest import listed_files
from pipeline.cuda.settings import CudaSettings
from pipeline.foundation import proc
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.workspace.model import Workspace


@dataclass(frozen=True)
class Requirement:
    archs: tuple[str, ...]
    ptx: str | None
    kernel_crates: frozenset[str]
    cuda_dir: Path
    fatbins: tuple[Path, ...]


def requirement(ws: Workspace, settings: CudaSettings | None) -> Requirement | None:
    """What the release must carry; None when the workspace built no CUDA kernels.

    Without ``settings``: what the manifest says it was built for (architectures and PTX).
    """
    cuda_dir = ws.root / "target" / "cuda"
    try:
        manifest = json.loads((cuda_dir / "manifest.json").read_text(encoding="utf-8"))
        kernels = manifest.get("kernels") or []
    except (OSError, ValueError, AttributeError):
        return None
    if not kernels:
        return None
    if settings is None:
        archs, ptx = tuple(manifest["architectures"]), manifest.get("ptx")
    else:
        explicit = settings.architectures != "auto"
        archs = tuple(settings.architectures) if explicit else tuple(manifest["architectures"])
        ptx = nv.ptx_arch(archs) if settings.ptx else None
    fatbins = tuple(cuda_dir / k["fatbin"] for k in kernels if k.get("fatbin"))
    crates = frozenset(k["crate"] for k in kernels if k.get("crate"))
    return Requirement(archs, ptx, crates, cuda_dir, fatbins)


def depends_on(ws: Workspace, crate: str, targets: frozenset[str]) -> bool:
    """Whether ``crate`` reaches one of ``targets`` through normal dependencies between members."""
    edges: dict[str, set[str]] = {}
    for dependent, dep in ws.internal_edges():
        if dep.member is not None and dep.kind.value in ("normal", "build"):
            edges.setdefault(dependent, set()).add(dep.member)
    seen, stack = set(), [crate]
    while stack:
        name = stack.pop()
        if name in targets:
            return True
        if name not in seen:
            seen.add(name)
            stack.extend(edges.get(name, ()))
    return False


def release_outputs(ws: Workspace, crates: Sequence[str]) -> list[tuple[str, Path]]:
    """``cargo build --release`` of the released crates' binaries and cdylibs: (crate, file) pairs."""
    argv = ["cargo", "build", "--release", "--locked", "--message-format=json-render-diagnostics"]
    for name in crates:
        argv += ["-p", name]
    log(f"release: {' '.join(argv)}  (kernel check, in {ws.root})")
    by_manifest = {p.manifest_path.resolve(): p.name for p in ws.members}
    outputs: list[tuple[str, Path]] = []
    # Read as cargo goes: a line per unit built (and a heartbeat in CI), not minutes of silence.
    with Progress("release build", None, verb="built") as progress:
        progress.started("cargo build --release")
        messages = [_built(line, progress) for line in proc.stream_lines(argv, cwd=ws.root,
                                                                          hint="fix the build error above")]
    for message in messages:
        if message is None:
            continue
        crate = by_manifest.get(Path(message.get("manifest_path", "")).resolve())
        if crate is None or crate not in crates:
            continue
        kinds = message.get("target", {}).get("kind", [])
        if "bin" in kinds and message.get("executable"):
            outputs.append((crate, Path(message["executable"])))
        elif "cdylib" in kinds:
            outputs.extend((crate, Path(f)) for f in message.get("filenames", []) if f.endswith((".so", ".dylib")))
    return outputs


def _built(line: str, progress: Progress) -> dict[str, Any] | None:
    """A cargo ``compiler-artifact`` message (a progress line when the unit was built, not fresh)."""
    if not line.startswith("{"):
        return None
    message: dict[str, Any] = json.loads(line)
    if message.get("reason") != "compiler-artifact":
        return None
    if not message.get("fresh"):
        target = message.get("target", {})
        progress.finished(f"{target.get('name', '?')} ({'/'.join(target.get('kind', []))})")
    return message


def check(ws: Workspace, outputs: Sequence[tuple[str, Path]], req: Requirement) -> dict[str, Any]:
    files: list[tuple[Path, bool]] = [(path, depends_on(ws, crate, req.kernel_crates)) for crate, path in outputs]
    files += [(path, True) for path in req.fatbins]
    found = verify.check_files(files, req.archs, req.ptx)
    for item in found:
        if not item.has_device_code:
            log(f"release: {item.path.name}: no device code (links no kernel crate); not checked")
        else:
            log(f"release: {item.path.name}: SASS {', '.join(item.sass)}; PTX {', '.join(item.ptx)}")
    return verify.report(found, ws.root, verify.nvcc_version_or_none())


def release_gate(ws: Workspace, settings: CudaSettings, crates: Sequence[str]) -> dict[str, Any] | None:
    """Before anything is written or tagged: build what ships and check it (raises CheckFailed)."""
    req = requirement(ws, settings)
    if req is None:
        return None
    verify.find_cuobjdump()  # missing: say so now, not after a release build
    shipped = [c for c in crates if (ws.has(c) and ws.package(c).has_binary) or _is_cdylib(ws, c)]
    outputs = release_outputs(ws, shipped) if shipped else []
    return check(ws, outputs, req)


def _is_cdylib(ws: Workspace, crate: str) -> bool:
    if not ws.has(crate):
        return False
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(ws.package(crate).manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return "cdylib" in (data.get("lib", {}).get("crate-type") or [])


def packaged_names(cuda_dir: Path) -> list[Path]:
    """What the CUDA tarball may pack: manifest.json, SHA256SUMS and the files the manifest lists,
    each a regular file inside ``cuda_dir`` (never a symlink, never anything else lying there)."""
    try:
        manifest = json.loads((cuda_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    names = ["manifest.json", "SHA256SUMS", *(listed_files(manifest) if isinstance(manifest, dict)
                                             and isinstance(manifest.get("kernels"), list) else [])]
    result = []
    base = cuda_dir.resolve()
    for name in names:
        path = cuda_dir / name
        if path.is_symlink() or not path.is_file() or Path(name).is_absolute() or ".." in Path(name).parts:
            continue
        if not path.resolve().is_relative_to(base):
            continue
        result.append(path)
    return result
