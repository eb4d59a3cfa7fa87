"""Cargo.lock read with tomllib: every format Cargo has written (v1, v2, v3, v4).

- v1 (Cargo < 1.41): no ``version`` key, fully qualified dependency strings
  (``name version (source)``), checksums in ``[metadata]`` as
  ``"checksum name version (source)" = "sha256"``; very old files carry the root
  package in ``[root]``.
- v2 (Cargo 1.41-1.52): no ``version`` key, ``checksum`` on each package,
  dependency strings as short as stays unambiguous (``name`` / ``name version``
  / ``name version (source)``).
- v3 / v4: like v2 with ``version = 3`` / ``version = 4`` (v4 changes how git
  sources are encoded, which does not matter here).

Any other ``version = N`` is refused the way Cargo refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.manifest import read_toml

KNOWN_VERSIONS = (3, 4)
CRATES_IO_SOURCES = frozenset(
    {
        "registry+https://github.com/rust-lang/crates.io-index",
        "sparse+https://index.crates.io/",
    }
)


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    source: str | None
    checksum: str | None
    dependencies: tuple[int, ...]  # indexes into Lockfile.packages, in file order

    @property
    def is_crates_io(self) -> bool:
        return self.source in CRATES_IO_SOURCES

    @property
    def is_local(self) -> bool:
        """A workspace member or another path dependency (no source)."""
        return self.source is None

    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Lockfile:
    path: Path
    version: int  # 1, 2, 3 or 4
    packages: tuple[LockedPackage, ...]

    def by_name(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for i, package in enumerate(self.packages):
            index.setdefault(package.name, []).append(i)
        return index


def read_lockfile(path: Path) -> Lockfile:
    """Read and resolve ``path``; any problem is a ManifestError naming the file (exit 2)."""
    data = read_toml(path, "lockfile")
    return parse_lockfile(data, path)


STALE_HINT = "run `cargo update -w --offline` (or `cargo generate-lockfile`) and commit Cargo.lock"


def unlocked_members(locked: Iterable[tuple[str, str | None]], members: Iterable[tuple[str, str]]) -> list[str]:
    """The members (name, version) a workspace's own lockfile does not lock, as ``name version``.

    Cargo records every workspace member; one missing (an emptied or truncated Cargo.lock) is a stale
    lockfile that `cargo metadata --locked` refuses, and reading it would answer for another graph.
    """
    have = set(locked)
    return [f"{name} {version}" for name, version in members if (name, version) not in have]


def check_members(lockfile: Lockfile, members: Iterable[tuple[str, str]]) -> None:
    """ManifestError naming ``lockfile`` when it does not lock every member of its workspace."""
    missing = unlocked_members(((p.name, p.version) for p in lockfile.packages if p.source is None), members)
    if missing:
        raise ManifestError(
            f"{lockfile.path}: out of date: it does not lock workspace member{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (`cargo metadata --locked` refuses it)",
            STALE_HINT,
        )


def _bad(path: Path, what: str) -> ManifestError:
    return ManifestError(
        f"{path}: {what}",
        "regenerate it with `cargo generate-lockfile` (or restore it from version control)",
    )


def _str(value: Any, path: Path, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(path, f"{where} must be a non-empty string")
    return value


def _split_dep(text: str, path: Path, owner: str) -> tuple[str, str | None, str | None]:
    """``name``, ``name version`` or ``name version (source)``."""
    source = None
    body = text.strip()
    if body.endswith(")") and " (" in body:
        body, _, rest = body.partition(" (")
        source = rest[:-1]
    parts = body.split(" ")
    if len(parts) > 2 or not parts[0] or (source is not None and len(parts) != 2):
        raise _bad(path, f"package `{owner}`: malformed dependency entry {text!r}")
    return parts[0], parts[1] if len(parts) == 2 else None, source


def _detect_version(data: Mapping[str, Any], path: Path) -> int:
    raw = data.get("version")
    if raw is not None:
        if not isinstance(raw, int) or isinstance(raw, bool) or raw not in KNOWN_VERSIONS:
            raise ManifestError(
                f"{path}: lockfile version `{raw}` is not one this tool understands (known: no version key = v1/v2, "
                + ", ".join(str(v) for v in KNOWN_VERSIONS) + ")",
                "the file was written by a newer Cargo, or edited by hand: update cargo-gpu-pipeline or "
                "regenerate the lockfile with the workspace's toolchain",
            )
        return raw
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and any(str(k).startswith("checksum ") for k in metadata):
        return 1
    packages = data.get("package", [])
    if isinstance(packages, list) and any(isinstance(p, dict) and "checksum" in p for p in packages):
        return 2
    # No checksums at all (only path/git packages): v1 and v2 read the same way then.
    deps_qualified = all(
        len(str(d).split(" ")) >= 2
        for p in packages if isinstance(p, dict)
        for d in p.get("dependencies", []) or []
    )
    return 1 if deps_qualified and packages else 2


def parse_lockfile(data: Mapping[str, Any], path: Path) -> Lockfile:
    """Turn parsed TOML into a resolved Lockfile (dependency strings -> package indexes)."""
    version = _detect_version(data, path)
    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise _bad(path, "`package` must be an array of tables ([[package]])")
    raw_list: list[Any] = list(raw_packages)
    root = data.get("root")
    if root is not None:
        if not isinstance(root, dict):
            raise _bad(path, "[root] must be a table")
        raw_list.insert(0, root)

    checksums: dict[tuple[str, str, str | None], str] = {}
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if isinstance(key, str) and key.startswith("checksum ") and isinstance(value, str):
                name, ver, src = _split_dep(key[len("checksum "):], path, "[metadata]")
                if ver is not None:
                    checksums[(name, ver, src)] = value

    heads: list[tuple[str, str, str | None, str | None]] = []
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, dict):
            raise _bad(path, f"package #{i + 1} is not a table")
        name = _str(raw.get("name"), path, f"package #{i + 1}: `name`")
        ver = _str(raw.get("version"), path, f"package `{name}`: `version`")
        source = raw.get("source")
        if source is not None and not isinstance(source, str):
            raise _bad(path, f"package `{name} {ver}`: `source` must be a string")
        checksum = raw.get("checksum")
        if checksum is not None and not isinstance(checksum, str):
            raise _bad(path, f"package `{name} {ver}`: `checksum` must be a string")
        if checksum is None:
            checksum = checksums.get((name, ver, source))
        heads.append((name, ver, source, checksum))

    by_name: dict[str, list[int]] = {}
    for i, (name, _, _, _) in enumerate(heads):
        by_name.setdefault(name, []).append(i)

    packages = []
    for i, raw in enumerate(raw_list):
        name, ver, source, checksum = heads[i]
        deps_raw = raw.get("dependencies", [])
        if not isinstance(deps_raw, list):
            raise _bad(path, f"package `{name} {ver}`: `dependencies` must be an array of strings")
        resolved = tuple(_resolve(dep, heads, by_name, path, f"{name} {ver}") for dep in deps_raw)
        packages.append(LockedPackage(name, ver, source, checksum, resolved))
    return Lockfile(path, version, tuple(packages))


def _resolve(
    dep: Any,
    heads: list[tuple[str, str, str | None, str | None]],
    by_name: Mapping[str, list[int]],
    path: Path,
    owner: str,
) -> int:
    if not isinstance(dep, str):
        raise _bad(path, f"package `{owner}`: dependency entries must be strings, got {dep!r}")
    name, ver, source = _split_dep(dep, path, owner)
    candidates: Iterable[int] = by_name.get(name, ())
    if ver is not None:
        candidates = [c for c in candidates if heads[c][1] == ver]
    if source is not None:
        candidates = [c for c in candidates if heads[c][2] == source]
    found = list(candidates)
    if len(found) > 1 and source is None:
        # A path package is never written with a source, so without one the entry names the
        # path package when there is exactly one (clap's `clap_builder 4.6.6`, the member, beside
        # `clap_builder 4.6.6 (registry+...)` that an older clap from crates.io pulls in): cargo's rule.
        local = [c for c in found if heads[c][2] is None]
        if len(local) == 1:
            found = local
    if len(found) != 1:
        what = "matches no package" if not found else f"is ambiguous ({len(found)} packages match)"
        raise _bad(path, f"package `{owner}`: dependency {dep!r} {what}")
    return found[0]


def lockfile_path(root: Path, explicit: str | None) -> Path:
    """The Cargo.lock a command reads: ``--lockfile PATH``, else the workspace's; missing is an error."""
    path = Path(explicit).expanduser() if explicit else root / "Cargo.lock"
    if not path.is_file():
        raise ManifestError(
            f"{path}: lockfile not found",
            "run `cargo generate-lockfile` in the workspace, or pass --lockfile PATH",
        )
    return path
