"""Requirements on members that the member manifests alone do not show.

Two kinds, both common on real workspaces and both able to leave cargo unable to
resolve after a bump:

* crates that are not members but depend on one by ``path`` + ``version``:
  ``exclude``d crates (a kernels crate excluded for build reasons), examples and
  benches with their own manifest, any other ``Cargo.toml`` in the repository;
* ``[patch.crates-io]``, ``[patch."<url>"]`` and ``[replace]`` entries that point at
  a member: a member that depends on ``macros = "~2.7.0"`` while the root patches
  ``macros = { path = "macros" }`` is a dependent of the member ``macros``.

:func:`gather` reads the files (the edge); the records it returns are plain data
that planning and the resolution check use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.manifest import parse_toml
from pipeline.workspace.model import DEP_TABLES, DepKind, Workspace

# Directories never holding a manifest cargo reads for the workspace (a crate's `src/` holds
# its code, not other crates: pruning it keeps the walk short on large trees).
_SKIP_DIRS = frozenset({"target", ".git", "node_modules", ".hg", ".svn", "dist", "__pycache__", ".venv", "venv",
                        "src"})
CRATES_IO = "crates-io"


@dataclass(frozen=True)
class Requirement:
    """A version requirement written in some manifest on a member (by path or through a patch)."""

    file: Path
    value_path: tuple[str, ...]  # key path of the requirement string inside ``file``
    key: str
    requirement: str
    member: str  # the member it reaches
    kind: DepKind
    via: str  # "path" (a path dependency outside the members) | "patch" | "replace"
    owner: str | None  # the package whose manifest it is (None for a virtual manifest)
    owner_is_member: bool
    what: str  # how the plan names it

    @property
    def target(self) -> str | None:
        return None if self.owner_is_member else self.owner


@dataclass(frozen=True)
class OutsideCrate:
    """A package that is not a member: an excluded crate, an example with its own manifest."""

    name: str
    version: str | None  # None: inherited from a workspace of its own, or missing
    manifest_path: Path
    publish: bool
    member_deps: tuple[str, ...]  # members it depends on by path

    @property
    def directory(self) -> Path:
        return self.manifest_path.parent


@dataclass(frozen=True)
class ReplaceKey:
    """A ``[replace]`` entry ``"name:version"`` pointing at a member: the key names the version."""

    file: Path
    key: str
    member: str
    version: str


@dataclass(frozen=True)
class Outside:
    requirements: tuple[Requirement, ...] = ()
    crates: tuple[OutsideCrate, ...] = ()
    patched: Mapping[str, tuple[str, ...]] = None  # type: ignore[assignment]  # member -> patch sources
    replace_keys: tuple[ReplaceKey, ...] = ()
    manifests: tuple[Path, ...] = ()  # every manifest read (for the resolution check's message)

    def __post_init__(self) -> None:
        if self.patched is None:
            object.__setattr__(self, "patched", {})

    def crate(self, name_or_path: str, root: Path) -> OutsideCrate | None:
        target = os.path.normpath(os.path.join(root, name_or_path))
        for crate in self.crates:
            if crate.name == name_or_path or os.path.normpath(crate.directory) == target:
                return crate
        return None

    def dependents(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """member -> (dependent, how) for every edge found here: ``how`` is "patch" or "path"."""
        found: dict[str, list[tuple[str, str]]] = {}
        for req in self.requirements:
            if req.owner is not None and req.owner != req.member:
                found.setdefault(req.member, []).append((req.owner, req.via))
        return {m: tuple(dict.fromkeys(users)) for m, users in found.items()}


def _walk_manifests(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS and not d.startswith("."))
        if "Cargo.toml" in files:
            yield Path(directory) / "Cargo.toml"


def read_text(path: Path) -> str:
    """A manifest's text; a UTF-8 byte order mark is dropped, as cargo accepts it."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: manifest is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                            "save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def _tables(data: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], DepKind, dict[str, Any]]]:
    for name, kind in DEP_TABLES.items():
        table = data.get(name)
        if isinstance(table, dict):
            yield (name,), kind, table
    targets = data.get("target")
    if isinstance(targets, dict):
        for cfg, inner in targets.items():
            if isinstance(inner, dict):
                for name, kind in DEP_TABLES.items():
                    table = inner.get(name)
                    if isinstance(table, dict):
                        yield ("target", cfg, name), kind, table


def _source(spec: Mapping[str, Any]) -> str:
    if isinstance(spec.get("git"), str):
        return spec["git"].rstrip("/").removesuffix(".git")
    if isinstance(spec.get("registry"), str):
        return spec["registry"]
    return CRATES_IO


def _patches(data: Mapping[str, Any], file: Path, by_dir: Mapping[str, str]) -> tuple[
        dict[tuple[str, str], str], list[ReplaceKey]]:
    """((source, package name) -> member) for patch/replace entries of ``data`` pointing at members."""
    result: dict[tuple[str, str], str] = {}
    replace_keys: list[ReplaceKey] = []
    base = file.parent
    patch = data.get("patch")
    if isinstance(patch, dict):
        for source, entries in patch.items():
            if not isinstance(entries, dict):
                continue
            source_key = source.rstrip("/").removesuffix(".git") if "://" in source else source
            for key, spec in entries.items():
                if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                    member = by_dir.get(os.path.normpath(os.path.join(base, spec["path"])))
                    if member is not None:
                        result[(source_key, str(spec.get("package", key)))] = member
    replace = data.get("replace")
    if isinstance(replace, dict):
        for key, spec in replace.items():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                member = by_dir.get(os.path.normpath(os.path.join(base, spec["path"])))
                if member is not None:
                    name, _, version = key.replace("@", ":").partition(":")
                    result[("replace", name)] = member
                    if version:
                        replace_keys.append(ReplaceKey(file, key, member, version))
    return result, replace_keys


def gather(ws: Workspace) -> Outside:
    """Every requirement on a member outside the members' own path dependencies.

    Reads the root manifest's ``[patch]``/``[replace]`` and, when they point at members,
    the members' registry/git dependencies they redirect; then every other ``Cargo.toml``
    under the workspace root (excluded crates, examples, benches) and the members' path
    dependencies outside the root.
    """
    by_dir = {os.path.normpath(p.directory): p.name for p in ws.members}
    root_data = parse_toml(read_text(ws.manifest_path), ws.manifest_path)
    patched, replace_keys = _patches(root_data, ws.manifest_path, by_dir)
    requirements: list[Requirement] = []
    # The root manifest is read above; the members' manifests are the model's.
    member_files = {os.path.normpath(p.manifest_path) for p in ws.members} | {os.path.normpath(ws.manifest_path)}
    if patched:
        for package in ws.members:
            data = root_data if package.manifest_path == ws.manifest_path else parse_toml(
                read_text(package.manifest_path), package.manifest_path)
            requirements += _patched_requirements(data, package.manifest_path, package.name, True, patched, ws)
        requirements += _patched_workspace_deps(root_data, ws.manifest_path, patched)
    candidates = [p for p in _walk_manifests(ws.root) if os.path.normpath(p) not in member_files]
    for package in ws.members:
        for dep in package.dependencies:
            if dep.external_path and dep.path is not None:
                manifest = dep.path / "Cargo.toml"
                if os.path.normpath(manifest) not in member_files and manifest not in candidates:
                    candidates.append(manifest)
    crates: list[OutsideCrate] = []
    read: list[Path] = []
    for manifest in candidates:
        try:
            data = parse_toml(read_text(manifest), manifest)
        except ManifestError:
            # A broken manifest no member points at is not cargo's concern for this workspace.
            if _points_at_members(manifest, ws):
                raise
            continue
        read.append(manifest)
        table = data.get("package")
        info: dict[str, Any] = table if isinstance(table, dict) else {}
        name = info.get("name") if isinstance(info.get("name"), str) else None
        found = list(_path_requirements(data, manifest, name, by_dir, ws))
        own_patches, own_replace = _patches(data, manifest, by_dir)
        replace_keys += own_replace
        if own_patches:
            found += _patched_requirements(data, manifest, name, False, own_patches, ws)
        requirements += found
        if name is not None:
            version = info.get("version")
            publish = info.get("publish", True)
            crates.append(OutsideCrate(
                name, version if isinstance(version, str) else None, manifest,
                not (publish is False or publish == []), tuple(dict.fromkeys(r.member for r in found))))
    sources: dict[str, list[str]] = {}
    for (source, _name), member in patched.items():
        sources.setdefault(member, []).append(source)
    return Outside(tuple(requirements), tuple(crates), {m: tuple(s) for m, s in sources.items()},
                   tuple(replace_keys), tuple(read))


def _points_at_members(manifest: Path, ws: Workspace) -> bool:
    directory = manifest.parent
    return any(dep.path == directory for p in ws.members for dep in p.dependencies)


def _label(owner: str | None, file: Path, ws: Workspace) -> str:
    rel = os.path.relpath(file, ws.root).replace(os.sep, "/")
    return f"{owner} ({rel})" if owner else rel


def _path_requirements(
    data: Mapping[str, Any], manifest: Path, owner: str | None, by_dir: Mapping[str, str], ws: Workspace
) -> Iterator[Requirement]:
    base = manifest.parent
    ws_deps = _workspace_deps(data)
    for key, spec in ws_deps.items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str) and isinstance(spec.get("version"), str):
            member = by_dir.get(os.path.normpath(os.path.join(base, spec["path"])))
            if member is not None:
                yield Requirement(manifest, ("workspace", "dependencies", key, "version"), key, spec["version"],
                                  member, DepKind.NORMAL, "path", owner, False,
                                  f"{_label(owner, manifest, ws)}: [workspace.dependencies] {key}")
    for table, kind, entries in _tables(data):
        for key, spec in entries.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
                continue
            if not isinstance(spec.get("version"), str):
                continue
            member = by_dir.get(os.path.normpath(os.path.join(base, spec["path"])))
            if member is None:
                continue
            yield Requirement(manifest, (*table, key, "version"), key, spec["version"], member, kind, "path",
                              owner, False, f"{_label(owner, manifest, ws)}: [{'.'.join(table)}] {key}")


def _patched_requirements(
    data: Mapping[str, Any], manifest: Path, owner: str | None, is_member: bool,
    patched: Mapping[tuple[str, str], str], ws: Workspace,
) -> list[Requirement]:
    found = []
    for table, kind, entries in _tables(data):
        for key, spec in entries.items():
            value_path: tuple[str, ...]
            if isinstance(spec, str):
                name, requirement, value_path, source = key, spec, (*table, key), CRATES_IO
            elif isinstance(spec, dict) and "path" not in spec and isinstance(spec.get("version"), str):
                if spec.get("workspace") is True:
                    continue
                name, requirement, value_path = spec.get("package", key), spec["version"], (*table, key, "version")
                source = _source(spec)
            else:
                continue
            member = patched.get((source, name)) or patched.get(("replace", name))
            if member is None or member == owner:
                continue
            via = "patch" if (source, name) in patched else "replace"
            found.append(Requirement(manifest, value_path, key, requirement, member, kind, via, owner, is_member,
                                     f"{_label(owner, manifest, ws)}: [{'.'.join(table)}] {key} (through "
                                     f"[{via}])"))
    return found


def _patched_workspace_deps(
    data: Mapping[str, Any], manifest: Path, patched: Mapping[tuple[str, str], str]
) -> list[Requirement]:
    """[workspace.dependencies] entries a patch redirects (members use them with `workspace = true`)."""
    found = []
    ws_deps = _workspace_deps(data)
    for key, spec in ws_deps.items():
        value_path: tuple[str, ...]
        if isinstance(spec, str):
            name, requirement, value_path, source = key, spec, ("workspace", "dependencies", key), CRATES_IO
        elif isinstance(spec, dict) and "path" not in spec and isinstance(spec.get("version"), str):
            name, requirement = spec.get("package", key), spec["version"]
            value_path, source = ("workspace", "dependencies", key, "version"), _source(spec)
        else:
            continue
        member = patched.get((source, name)) or patched.get(("replace", name))
        if member is None:
            continue
        found.append(Requirement(manifest, value_path, key, requirement, member, DepKind.NORMAL, "patch", None,
                                 True, f"[workspace.dependencies] {key} (through [patch])"))
    return found


def _workspace_deps(data: Mapping[str, Any]) -> dict[str, Any]:
    table = data.get("workspace")
    deps = table.get("dependencies") if isinstance(table, dict) else None
    return deps if isinstance(deps, dict) else {}
