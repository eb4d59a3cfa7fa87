"""The bridge from ``pipeline cuda`` to a crate's ``build.rs`` (``pipeline cuda --emit-cargo OUT_DIR``).

A build script that finds the tool runs ``pipeline cuda --emit-cargo $OUT_DIR --crate $CARGO_PKG_NAME``
and forwards the ``cargo:`` lines it prints. The kernels are then built exactly as ``pipeline cuda``
builds them (same architectures, flags and content-addressed cache), so the two never compile the
same kernel twice. What is printed: ``rerun-if-changed`` for every source and every header it
includes (from the manifest), for the workspace manifest that holds the configuration, and
``rustc-env=PIPELINE_CUDA_ARCHS=sm_80,sm_90,...`` so the crate can say what it embeds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.foundation import fs


def selected_kernels(manifest: Mapping[str, Any], crate: str | None) -> list[Mapping[str, Any]]:
    """The manifest's kernels of ``crate`` (all of them without one)."""
    return [k for k in manifest["kernels"] if crate is None or k.get("crate") == crate]


def directives(manifest: Mapping[str, Any], root: Path, kernels: Sequence[Mapping[str, Any]],
               out: Path | None = None, cudart_dir: Path | None = None) -> list[str]:
    """The ``cargo:`` lines for ``kernels`` (pure).

    A static-lib set's library, copied into ``out`` (OUT_DIR), is linked statically, with the
    toolkit's static CUDA runtime (``cudart_dir``) its host code calls, and libstdc++ that runtime needs.
    """
    lines: list[str] = []

    def rerun(path: Path) -> None:
        line = f"cargo:rerun-if-changed={path}"
        if line not in lines:
            lines.append(line)

    rerun(root / "Cargo.toml")  # [workspace.metadata.pipeline.cuda]: architectures, flags, kernel sets
    for kernel in kernels:
        rerun(root / kernel["source"])
        for header in kernel.get("headers", []):
            rerun(root / header)
    libraries = list(dict.fromkeys(k["library"] for k in kernels if k.get("library")))
    if libraries and out is not None:
        lines.append(f"cargo:rustc-link-search=native={out}")
        for library in libraries:
            lines.append(f"cargo:rustc-link-lib=static={library.removeprefix('lib').removesuffix('.a')}")
        if cudart_dir is not None:
            lines.append(f"cargo:rustc-link-search=native={cudart_dir}")
            lines.append("cargo:rustc-link-lib=static=cudart_static")
        lines.append("cargo:rustc-link-lib=dylib=stdc++")
    lines.append(f"cargo:rustc-env=PIPELINE_CUDA_ARCHS={','.join(manifest['architectures'])}")
    lines.append(f"cargo:rustc-env=PIPELINE_CUDA_PTX={manifest.get('ptx') or ''}")
    return lines


def export(out: Path, source_dir: Path, kernels: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Copy each kernel's fatbin (and static library) into the build script's ``OUT_DIR``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kernel in kernels:
        for name in (kernel.get("fatbin"), kernel.get("library")):
            if not name:
                continue
            target = out / Path(name).name
            data = (source_dir / name).read_bytes()
            try:
                if target.read_bytes() == data:
                    written.append(target)
                    continue  # unchanged: keep the mtime, cargo need not relink
            except OSError:
                pass
            fs.atomic_write(target, data, sync=False)
            written.append(target)
    return written


def in_build_script() -> bool:
    """Cargo sets these for a running build script."""
    return bool(os.environ.get("OUT_DIR") and os.environ.get("CARGO_MANIFEST_DIR"))
