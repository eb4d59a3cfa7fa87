"""Where the CUDA build's outputs are described: ``target/cuda/manifest.json``, and what it keeps there.

The manifest is the contract with what loads the kernels (``pipeline gpu smoke``, the release's
artifacts): one entry per kernel with its fatbin, PTX, cubins, entry points and per-function
resource usage. Anything else in the output directory with an artifact suffix is stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.cuda import nvcc as nv
from pipeline.cuda.jobs import Product
from pipeline.cuda.kernels import Kernel

SCHEMA = 1
ARTIFACT_SUFFIXES = (".cubin", ".ptx", ".fatbin", ".o", ".a")


def build_manifest(kernels: list[Kernel], deps: dict[Kernel, list[tuple[str, str]]], archs: tuple[str, ...],
                   ptx: str | None, metas: dict[Product, dict[str, Any]], nvcc_version: str,
                   toolkit: str | None = None) -> dict[str, Any]:
    """The manifest of one build: ``metas`` holds what each product's compile reported (entries, usage)."""
    entries = []
    libraries: dict[str, dict[str, Any]] = {}
    for kernel in kernels:
        if kernel.kind == "static-lib":
            entries.append(_library_member(kernel, deps, archs, ptx, metas))
            library = libraries.setdefault(kernel.set_name, {
                "name": kernel.set_name, "file": kernel.library, "crates": [], "objects": []})
            library["objects"].append(f"{kernel.name}.o")
            if kernel.crate and kernel.crate not in library["crates"]:
                library["crates"].append(kernel.crate)
            continue
        per_arch: dict[str, Any] = {}
        entry_names: list[str] = []
        for arch in archs:
            meta = metas[Product(kernel, "cubin", arch)]
            for name in meta.get("entries", []):
                if name not in entry_names:
                    entry_names.append(name)
            per_arch[arch] = {
                "cubin": f"{kernel.name}.{arch}.cubin",
                "functions": meta.get("usage", {}),
            }
        headers = [p for p, _ in deps[kernel] or [] if not p.startswith("/")]  # inside the workspace
        entries.append({
            "name": kernel.name,
            "source": kernel.relative,
            "set": kernel.set_name,
            "crate": kernel.crate,
            "headers": headers,
            "fatbin": f"{kernel.name}.fatbin",
            "ptx": f"{kernel.name}.{ptx}.ptx" if ptx else None,
            "entries": [n for n in entry_names if nv.is_extern_c(n)],
            "mangled_entries": [n for n in entry_names if not nv.is_extern_c(n)],
            "architectures": per_arch,
        })
    return {
        "schema": SCHEMA,
        "nvcc": nvcc_version,
        "toolkit": toolkit,  # the configured `toolkits` entry it was built with; None: unversioned
        "architectures": list(archs),
        "ptx": ptx,
        "kernels": entries,
        # static-lib sets: lib<name>.a, what build.rs links (`cargo:rustc-link-lib=static=<name>`)
        "libraries": list(libraries.values()),
    }


def _library_member(kernel: Kernel, deps: dict[Kernel, list[tuple[str, str]]], archs: tuple[str, ...],
                    ptx: str | None, metas: dict[Product, dict[str, Any]]) -> dict[str, Any]:
    """A static-lib set's file: its object (every architecture + PTX inside) and the library holding it."""
    targets = [*archs, *([ptx] if ptx else [])]
    meta = metas[Product(kernel, "object", "+".join(targets))]
    names = list(dict.fromkeys(meta.get("entries", [])))
    return {
        "name": kernel.name,
        "source": kernel.relative,
        "set": kernel.set_name,
        "crate": kernel.crate,
        "kind": "static-lib",
        "headers": [p for p, _ in deps[kernel] or [] if not p.startswith("/")],
        "fatbin": None,
        "ptx": None,
        "object": f"{kernel.name}.o",
        "library": kernel.library,
        "gencode": targets,
        "entries": [n for n in names if nv.is_extern_c(n)],
        "mangled_entries": [n for n in names if not nv.is_extern_c(n)],
        "architectures": {},
        "functions": meta.get("usage", {}),
    }


SUMS_NAME = "SHA256SUMS"


def listed_files(manifest: dict[str, Any]) -> list[str]:
    """Every file of the output directory the manifest names (artifacts; not manifest.json itself)."""
    names: list[str] = []
    for kernel in manifest["kernels"]:
        for name in (kernel.get("fatbin"), kernel.get("ptx"), kernel.get("object"), kernel.get("library"),
                     *(a.get("cubin") for a in kernel.get("architectures", {}).values())):
            if name and name not in names:
                names.append(name)
    return names


def sums_text(out: Path, manifest: dict[str, Any]) -> str:
    """``sha256sum -c`` format for every listed artifact: what build.rs checks prebuilt fatbins against."""
    import hashlib

    lines = []
    for name in sorted(listed_files(manifest)):
        lines.append(f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}\n")
    return "".join(lines)


def remove_stale(out: Path, manifest: dict[str, Any]) -> None:
    """Delete what earlier builds left that ``manifest`` does not list (another architecture, a removed
    kernel), and the temp and dependency files of builds that were killed (``.NAME.<pid>.<tid>.d``).
    """
    keep = {"manifest.json", SUMS_NAME, *listed_files(manifest)}
    for path in out.iterdir():
        if path.name in keep:
            continue
        if path.is_symlink() or (path.is_file() and (path.suffix in ARTIFACT_SUFFIXES or _is_temp(path.name))):
            path.unlink(missing_ok=True)


def _is_temp(name: str) -> bool:
    """``.saxpy.1234.5678.d``, ``.saxpy.sm_90.1234.5678.cubin``, ``.saxpy.fatbin.1234.tmp``, ``.x.tmp``."""
    import re

    return bool(name.startswith(".") and re.search(r"\.\d+(\.\d+)?\.(d|cubin|ptx|o|a|tmp)$|\.tmp$", name))


# ---------------------------------------------------------------------------
# Reading a build's outputs back (release artifacts, the kernel ABI, the release's shipping check)
#
# What another local user may have put into the output directory (a shared or group-writable
# target/) must never make us read a file of ours that they cannot: no symlink is followed, no
# listed name leaves the directory, and the manifest itself is never read through a link.


def output_path(out: Path, name: object) -> Path | None:
    """``out/name`` when ``name`` is a plain relative name whose directories stay inside ``out``; else None."""
    if not isinstance(name, str) or not name or "\0" in name:
        return None
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    path = out / relative
    if not path.parent.resolve().is_relative_to(out.resolve()):  # a linked subdirectory
        return None
    return path


def read_output(out: Path, name: object) -> bytes | None:
    """The bytes of the listed output ``name`` if it is a regular file inside ``out`` itself (never through a link)."""
    from pipeline.foundation import fs

    path = output_path(out, name)
    if path is None:
        return None
    try:
        return fs.read_regular(path)
    except OSError:
        return None


def read_manifest(out: Path) -> dict[str, Any] | None:
    """``out/manifest.json`` as a dict; None when there is none or it is not a JSON object.

    A symlink (or anything not a regular file) in its place is an error naming it: its target is never read.
    """
    import json

    from pipeline.foundation.errors import OperationFailed

    path = out / "manifest.json"
    if not path.is_symlink() and not path.exists():
        return None
    data = read_output(out, "manifest.json")
    if data is None:
        raise OperationFailed(
            f"{path} is a symlink, not a regular file or unreadable: the CUDA outputs are not read through it",
            f"remove it and rebuild the kernels with `pipeline cuda` (and make {out} writable by you only)",
        )
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) else None
