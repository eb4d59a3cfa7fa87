"""One release out of several targets' artifacts: ``pipeline release --assemble DIR...``.

Each target's build (``release --artifacts-only --target T``, one CI matrix entry) writes a
``dist/`` of its own: tarballs, SBOMs, a ``manifest.json`` naming that one target and a
``SHA256SUMS``. The publish side downloads them all and needs ONE ``SHA256SUMS`` and ONE
``manifest.json`` covering every file. This module checks each part (every file its manifest
lists is there with that hash, its ``SHA256SUMS`` agrees, nothing unlisted lies beside them),
checks that the parts are one release (same project, versions, tags, commit, kernel ABI) for
different targets, and merges them: the tarballs of every target, and the target-independent
files (the CUDA tarball, built from the same kernels by every entry) once, when their bytes are
the same. Any duplicate or disagreement is an error naming the part and the field or file.

Pure merge (:func:`merge`) over facts read at the edge (:func:`read_part`); the write is one
all-or-nothing :func:`pipeline.foundation.fs.write_all`, SHA256SUMS included.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed

# Fields every part of one release must agree on (they describe the release, not the target).
COMMON = ("project", "workspace_version", "crates", "tags", "commit")
# Per-target facts, kept per target in the merged manifest.
PER_TARGET = ("rustc", "nvcc", "gpu_architectures", "cuda")
_OWN = ("manifest.json", "SHA256SUMS")


@dataclass(frozen=True)
class Part:
    """One target's dist directory, read and checked."""

    directory: Path
    manifest: Mapping[str, Any]
    files: Mapping[str, bytes]  # name -> bytes, every file the part's manifest lists

    @property
    def target(self) -> str:
        return str(self.manifest.get("target"))


@dataclass(frozen=True)
class Assembled:
    manifest: dict[str, Any]
    files: dict[str, bytes]  # every file of the release but manifest.json and SHA256SUMS
    sources: dict[str, tuple[str, ...]]  # file -> the targets it came from


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fail(location: Path, message: str, hint: str) -> OperationFailed:
    return OperationFailed(f"{location}: {message}", hint)


def _parse_sums(path: Path, text: str) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise _fail(path, f"line {number} is not `SHA256  NAME`: {line[:80]!r}",
                        "the part was not written by `pipeline release --artifacts-only`; build it again")
        name = name.removeprefix("*")
        if name in sums:
            raise _fail(path, f"line {number} lists {name} a second time", "build the part again")
        sums[name] = digest
    return sums


def read_part(directory: Path) -> Part:
    """A target's dist directory, every file checked against its manifest and its SHA256SUMS."""
    hint = "build that target again with `pipeline release --artifacts-only --target T`"
    if not directory.is_dir() or directory.is_symlink():
        raise _fail(directory, "is not a directory", "pass the directories the per-target builds wrote")
    manifest_path = directory / "manifest.json"
    raw = fs.read_regular(manifest_path) if manifest_path.exists() or manifest_path.is_symlink() else None
    if raw is None:
        raise _fail(manifest_path, "missing (or not a regular file)", hint)
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise _fail(manifest_path, f"not valid JSON ({exc})", hint) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list) or not manifest.get("target"):
        raise _fail(manifest_path, "not a release manifest (no `target` or `files`)", hint)
    if isinstance(manifest.get("targets"), list):
        raise _fail(manifest_path, "is an assembled manifest already, not one target's", "pass the per-target parts")
    sums_path = directory / "SHA256SUMS"
    sums_raw = fs.read_regular(sums_path) if sums_path.exists() or sums_path.is_symlink() else None
    if sums_raw is None:
        raise _fail(sums_path, "missing (or not a regular file)", hint)
    sums = _parse_sums(sums_path, sums_raw.decode("utf-8", errors="replace"))
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", "..", *_OWN):
            raise _fail(manifest_path, f"lists a file name that cannot be an artifact: {name!r}", hint)
        path = directory / name
        data = fs.read_regular(path) if path.exists() or path.is_symlink() else None
        if data is None:
            raise _fail(path, "listed in manifest.json but missing (or not a regular file)", hint)
        digest = _sha256(data)
        if entry.get("sha256") != digest:
            raise _fail(path, f"sha256 {digest} does not match manifest.json ({entry.get('sha256')})",
                        "the download is damaged or the file was changed: fetch or build the part again")
        if sums.get(name) != digest:
            raise _fail(sums_path, f"{'has no line for' if name not in sums else 'disagrees on'} {name}", hint)
        files[name] = data
    manifest_digest = _sha256(raw)
    if sums.get("manifest.json") not in (None, manifest_digest):
        raise _fail(sums_path, "disagrees on manifest.json", hint)
    extra = sorted(set(sums) - set(files) - {"manifest.json"})
    if extra:
        raise _fail(sums_path, f"lists {', '.join(extra)}, which manifest.json does not", hint)
    present = sorted(e.name for e in os.scandir(directory))
    stray = [n for n in present if n not in files and n not in _OWN]
    if stray:
        raise _fail(directory, f"holds files its manifest does not list: {', '.join(stray[:10])}",
                    "the assembled SHA256SUMS would not cover them: remove them or build the part again")
    return Part(directory, manifest, files)


def merge(parts: Sequence[Part]) -> Assembled:
    """One release from the parts (pure): refuses a duplicate target, a conflicting field or file."""
    if not parts:
        raise OperationFailed("nothing to assemble", "pass the directories of the per-target builds")
    first = parts[0]
    by_target: dict[str, Part] = {}
    for part in parts:
        other = by_target.get(part.target)
        if other is not None:
            raise _fail(part.directory / "manifest.json",
                        f"target {part.target} is built twice (also in {other.directory / 'manifest.json'})",
                        "pass each target's directory once")
        by_target[part.target] = part
        for key in (*COMMON, "kernel_abi", "schema"):
            if part.manifest.get(key) != first.manifest.get(key):
                raise _fail(part.directory / "manifest.json",
                            f"`{key}` is {json.dumps(part.manifest.get(key))}, but "
                            f"{first.directory / 'manifest.json'} has {json.dumps(first.manifest.get(key))}",
                            "every part must come from the same release commit: build them all from the release tag")
    files: dict[str, bytes] = {}
    sources: dict[str, list[str]] = {}
    origin: dict[str, Part] = {}
    entries: dict[str, dict[str, Any]] = {}
    for part in parts:
        for entry in part.manifest["files"]:
            name = entry["name"]
            data = part.files[name]
            if name in files:
                if files[name] != data:
                    raise _fail(part.directory / name,
                                f"differs from {origin[name].directory / name} "
                                f"(sha256 {_sha256(data)} vs {_sha256(files[name])})",
                                "a file of the same name must be the same bytes in every target: a "
                                "target-specific artifact must carry its triple in its name")
                sources[name].append(part.target)
                continue
            files[name] = data
            origin[name] = part
            sources[name] = [part.target]
            entries[name] = {k: v for k, v in entry.items() if k != "target"}
    for name, entry in entries.items():
        sbom = entry.get("sbom")
        if sbom is not None and sbom not in files:
            raise _fail(origin[name].directory / "manifest.json", f"{name}'s SBOM {sbom} is not among the files",
                        "build the part again")
    version = first.manifest.get("workspace_version") or next(iter((first.manifest.get("crates") or {}).values()),
                                                            None)
    manifest: dict[str, Any] = {key: first.manifest.get(key) for key in ("schema", *COMMON)}
    manifest["version"] = version
    manifest["prerelease"] = is_prerelease(version)
    manifest["targets"] = [
        {"target": part.target, **{key: part.manifest.get(key) for key in PER_TARGET}}
        for part in sorted(parts, key=lambda p: p.target)
    ]
    if "kernel_abi" in first.manifest:
        manifest["kernel_abi"] = first.manifest["kernel_abi"]
    manifest["files"] = [
        {**entries[name], "targets": sorted(sources[name])} for name in sorted(files)
    ]
    return Assembled(manifest, files, {k: tuple(sorted(v)) for k, v in sources.items()})


def is_prerelease(version: object) -> bool:
    """A version with a pre-release part (`1.4.0-rc.1`); decided on the parsed version, never a pattern."""
    if not isinstance(version, str):
        return False
    from pipeline.workspace.cargo_semver import SemverError, Version

    try:
        return Version.parse(version).is_prerelease
    except (SemverError, ValueError):
        return False


def render(assembled: Assembled) -> dict[str, bytes]:
    """Every file of ``dist/``: the artifacts, manifest.json, and the SHA256SUMS covering them all."""
    out = dict(assembled.files)
    out["manifest.json"] = (json.dumps(assembled.manifest, indent=2) + "\n").encode()
    out["SHA256SUMS"] = "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(out.items())).encode()
    return out


def expand(paths: Sequence[Path]) -> list[Path]:
    """The part directories: a path holding a manifest.json is one; any other directory stands for its
    subdirectories that hold one (what CI downloads every target's dist into)."""
    parts: list[Path] = []
    for path in paths:
        if (path / "manifest.json").exists() or not path.is_dir():
            parts.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_dir() and (p / "manifest.json").exists())
        if not found:
            raise _fail(path, "holds no manifest.json, nor directories with one",
                        "pass the directories the per-target builds wrote (or the directory holding them)")
        parts.extend(found)
    return parts


def assemble(paths: Sequence[Path], dist: Path) -> tuple[Assembled, list[Path]]:
    """Read and check the parts, merge them, write ``dist`` all or nothing; returns the files written."""
    from pipeline.release.artifacts import check_dist

    parts = expand(paths)
    resolved = {p.resolve() for p in parts}
    if dist.resolve() in resolved:
        raise _fail(dist, "is one of the parts: the assembled release goes to its own directory",
                    "download the parts elsewhere (e.g. `parts/`) and assemble into dist/")
    assembled = merge([read_part(p) for p in parts])
    files = render(assembled)
    stale = check_dist(dist, files)
    dist.mkdir(parents=True, exist_ok=True)
    fs.write_all({dist / name: data for name, data in files.items()}, what="the assembled release")
    for name in stale:
        (dist / name).unlink(missing_ok=True)
    return assembled, [dist / name for name in sorted(files)]
