"""Loading the workspace model from its manifests (read with tomllib).

Cargo's rules are followed where they matter for release engineering: member
globs minus ``exclude``, path dependencies inside the root becoming members,
version/field inheritance from ``[workspace.package]``, ``workspace = true``
dependencies resolved through ``[workspace.dependencies]``, renamed
dependencies matched by path. Every problem is a :class:`ManifestError`
naming the file (and the key's line where it has one).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.manifest import locate_key, read_toml
from pipeline.workspace.model import DEP_TABLES, Dependency, DepKind, Package, Workspace, WorkspaceDependency
from pipeline.workspace.validate import check_manifest, check_self_dependency


def find_workspace_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` whose Cargo.toml has ``[workspace]``."""
    current = start.resolve()
    for directory in (current, *current.parents):
        manifest = directory / "Cargo.toml"
        if manifest.is_file():
            try:
                text = manifest.read_text(encoding="utf-8")
            except OSError:
                continue
            if "[workspace" in text:
                return directory
    return None


def load_workspace(root: Path) -> Workspace:
    """Read the workspace whose root manifest is ``root/Cargo.toml``."""
    root = Path(os.path.abspath(root))
    manifest_path = root / "Cargo.toml"
    if not manifest_path.is_file():
        raise ManifestError(
            f"{manifest_path}: no Cargo.toml here",
            "pass --workspace PATH pointing at a directory with a Cargo.toml, or set PIPELINE_WORKSPACE",
        )
    data = read_toml(manifest_path)
    check_manifest(data, manifest_path, member="package" in data)
    ws_table = data.get("workspace")
    if ws_table is None and "package" not in data:
        raise ManifestError(
            f"{manifest_path}: neither [workspace] nor [package]",
            "a workspace root needs a [workspace] table (or a [package] for a single crate)",
        )
    ws_table = _table(ws_table or {}, manifest_path, "workspace")
    ws_package = _table(ws_table.get("package", {}), manifest_path, "workspace.package")
    paths = _Paths()
    ws_deps = _workspace_dependencies(ws_table, root, manifest_path, paths)
    excluded = tuple(
        paths.join(root, str(p)) for p in _str_list(ws_table.get("exclude", []), manifest_path, "exclude")
    )

    member_dirs: list[Path] = []
    if "package" in data:
        member_dirs.append(root)
    for pattern in _str_list(ws_table.get("members", []), manifest_path, "members"):
        for directory in _expand_member(root, pattern, manifest_path, excluded, paths):
            if not _inside(directory, root):
                # Cargo: "workspace member ... is not hierarchically below the workspace root".
                raise ManifestError(
                    f"{locate_key(manifest_path, 'members')}: workspace member `{pattern}` "
                    f"({directory / 'Cargo.toml'}) is not below the workspace root {root}",
                    "move the crate under the workspace root, or give it its own [workspace] and use it as a "
                    "path dependency",
                )
            member_dirs.append(directory)

    loader = _Loader(root, manifest_path, ws_package, ws_deps, excluded, paths, _patch_targets(data, root, paths))
    seen: set[Path] = set()
    queue = [d for d in member_dirs if not _is_excluded(d, excluded)]
    raw_packages: list[tuple[Path, Path, dict[str, Any]]] = []
    while queue:
        directory = queue.pop(0)
        if directory in seen:
            continue
        seen.add(directory)
        member_manifest = directory / "Cargo.toml"
        if directory == root:
            member_data = data
        else:
            member_data = read_toml(member_manifest)
            check_manifest(member_data, member_manifest, member=True)
        if "package" not in member_data:
            raise ManifestError(
                f"{member_manifest}: a workspace member needs a [package] table",
                f"remove {directory.relative_to(root)} from `members` or add [package]",
            )
        raw_packages.append((directory, member_manifest, member_data))
        # Cargo makes path dependencies inside the workspace root members too.
        for dep_path in loader.path_dependencies(member_data, directory):
            # A missing directory is reported later, naming the crate that points at it.
            if (
                dep_path not in seen
                and _inside(dep_path, root)
                and not _is_excluded(dep_path, excluded)
                and _has_file(dep_path, "Cargo.toml")
            ):
                queue.append(dep_path)

    member_paths = {directory: _package_name(d, directory) for directory, _manifest, d in raw_packages}
    for directory, manifest, d in raw_packages:
        check_self_dependency(member_paths[directory], directory, d, manifest)
    packages = tuple(loader.package(directory, manifest, d, member_paths) for directory, manifest, d in raw_packages)
    names: dict[str, Path] = {}
    for package in packages:
        if package.name in names:
            raise ManifestError(
                f"{package.manifest_path}: two workspace members are named `{package.name}` "
                f"(the other is {names[package.name]})",
                "package names must be unique within a workspace",
            )
        names[package.name] = package.manifest_path
    metadata = _table(ws_table.get("metadata", {}), manifest_path, "workspace.metadata")
    version = ws_package.get("version")
    return Workspace(
        root=root,
        manifest_path=manifest_path,
        members=packages,
        version=version if isinstance(version, str) else None,
        edition=ws_package.get("edition") if isinstance(ws_package.get("edition"), str) else None,
        excluded=excluded,
        dependencies=ws_deps,
        metadata=metadata,
        virtual="package" not in data,
    )


def _source(spec: Any) -> str:
    """The source a dependency comes from, named as `[patch.<source>]` names it."""
    if isinstance(spec, dict):
        if isinstance(spec.get("git"), str):
            return spec["git"].rstrip("/").removesuffix(".git")
        if isinstance(spec.get("registry"), str):
            return spec["registry"]
    return "crates-io"


def _patch_targets(data: dict[str, Any], root: Path, paths: _Paths) -> dict[tuple[str, str], Path]:
    """(source, package name) -> directory for every `[patch.*]` / `[replace]` entry with a path."""
    found: dict[tuple[str, str], Path] = {}
    patch = data.get("patch")
    for source, entries in (patch.items() if isinstance(patch, dict) else ()):
        source_key = source.rstrip("/").removesuffix(".git") if "://" in source else source
        for key, spec in (entries.items() if isinstance(entries, dict) else ()):
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                found[(source_key, str(spec.get("package", key)))] = paths.join(root, spec["path"])
    replace = data.get("replace")
    for key, spec in (replace.items() if isinstance(replace, dict) else ()):
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            found[("replace", key.replace("@", ":").partition(":")[0])] = paths.join(root, spec["path"])
    return found


class _Paths:
    """One Path object per normalised path text.

    A 500-crate workspace names each member directory several times (the member glob,
    ``[workspace.dependencies]``, every path dependency). Building a Path costs far more
    than the string work, and one shared object per directory makes the dictionary
    lookups by directory identity hits.
    """

    def __init__(self) -> None:
        self._by_text: dict[str, Path] = {}

    def get(self, text: str) -> Path:
        text = os.path.normpath(text)
        path = self._by_text.get(text)
        if path is None:
            path = self._by_text[text] = Path(text)
        return path

    def join(self, directory: Path, relative: str) -> Path:
        return self.get(os.path.join(directory, relative))


def _inside(path: Path, root: Path) -> bool:
    # On the normalised strings: `root in path.parents` builds a Path per level, and a
    # 500-crate workspace asks this for every path dependency.
    text, top = str(path), str(root)
    return text == top or text.startswith(top.rstrip(os.sep) + os.sep)


def _is_excluded(path: Path, excluded: tuple[Path, ...]) -> bool:
    return any(_inside(path, e) for e in excluded)


def _has_file(directory: Path, *parts: str) -> bool:
    return os.path.isfile(os.path.join(directory, *parts))


def _expand_member(
    root: Path, pattern: str, manifest_path: Path, excluded: tuple[Path, ...], paths: _Paths
) -> list[Path]:
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(os.path.join(root, pattern)))
        directories = [paths.get(m) for m in matches if os.path.isdir(m)]
        if not directories:
            raise ManifestError(
                f"{locate_key(manifest_path, 'members')}: member glob `{pattern}` matches no directory",
                "remove the pattern from [workspace].members or create the crate it should match",
            )
        result = []
        for directory in directories:
            if _is_excluded(directory, excluded):
                continue
            if not _has_file(directory, "Cargo.toml"):
                raise ManifestError(
                    f"{directory / 'Cargo.toml'}: missing; `{pattern}` in {manifest_path} matches "
                    f"{directory.relative_to(root)}",
                    "add the crate's Cargo.toml or list the directory in [workspace].exclude",
                )
            result.append(directory)
        return result
    directory = paths.join(root, pattern)
    if not (directory / "Cargo.toml").is_file():
        raise ManifestError(
            f"{locate_key(manifest_path, 'members')}: workspace member `{pattern}` has no Cargo.toml "
            f"(looked for {directory / 'Cargo.toml'})",
            "fix the path in [workspace].members or create the crate",
        )
    return [directory]


def _package_name(data: dict[str, Any], directory: Path) -> str:
    name = data["package"].get("name")  # a table: check_manifest saw to it
    if not isinstance(name, str) or not name:
        raise ManifestError(
            f"{directory / 'Cargo.toml'}: [package] has no `name`",
            'add `name = "..."` to [package]',
        )
    return name


def _table(value: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(
            f"{locate_key(path, where.split('.')[-1])}: `{where}` must be a table", "see the Cargo reference"
        )
    return value


def _str_list(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{locate_key(path, key)}: `{key}` must be a list of strings", f'write `{key} = ["..."]`')
    return value


def _workspace_dependencies(
    ws_table: dict[str, Any], root: Path, manifest_path: Path, paths: _Paths
) -> dict[str, WorkspaceDependency]:
    result = {}
    for key, spec in _table(ws_table.get("dependencies", {}), manifest_path, "workspace.dependencies").items():
        if isinstance(spec, str):
            result[key] = WorkspaceDependency(key, key, spec, None)
        elif isinstance(spec, dict):
            path = paths.join(root, spec["path"]) if isinstance(spec.get("path"), str) else None
            name = spec.get("package", key)
            requirement = spec.get("version") if isinstance(spec.get("version"), str) else None
            registry = spec.get("registry") if isinstance(spec.get("registry"), str) else None
            result[key] = WorkspaceDependency(key, name, requirement, path, registry)
        else:
            raise ManifestError(
                f"{locate_key(manifest_path, key)}: [workspace.dependencies] `{key}` must be a string or a table",
                'write `name = "1.0"` or `name = { path = "...", version = "..." }`',
            )
    return result


def _iter_dep_tables(data: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], DepKind, str | None, dict[str, Any]]]:
    for table_name, kind in DEP_TABLES.items():
        table = data.get(table_name)
        if isinstance(table, dict):
            yield (table_name,), kind, None, table
    targets = data.get("target")
    if isinstance(targets, dict):
        for cfg, target_table in targets.items():
            if not isinstance(target_table, dict):
                continue
            for table_name, kind in DEP_TABLES.items():
                table = target_table.get(table_name)
                if isinstance(table, dict):
                    yield ("target", cfg, table_name), kind, cfg, table


@dataclass
class _Loader:
    root: Path
    manifest_path: Path
    ws_package: dict[str, Any]
    ws_deps: dict[str, WorkspaceDependency]
    excluded: tuple[Path, ...]
    paths: _Paths
    patches: dict[tuple[str, str], Path]  # (source, package name) -> the directory a patch points at

    def path_dependencies(self, data: dict[str, Any], directory: Path) -> Iterator[Path]:
        for _table_path, _kind, _target, table in _iter_dep_tables(data):
            for key, spec in table.items():
                if isinstance(spec, dict):
                    if spec.get("workspace") is True:
                        ws = self.ws_deps.get(key)
                        if ws is not None and ws.path is not None:
                            yield ws.path
                    elif isinstance(spec.get("path"), str):
                        yield self.paths.join(directory, spec["path"])

    def _inherited(self, package: dict[str, Any], key: str, manifest: Path, crate: str) -> tuple[Any, bool]:
        value = package.get(key)
        if isinstance(value, dict):
            if value.get("workspace") is True:
                if key not in self.ws_package:
                    raise ManifestError(
                        f"{locate_key(manifest, key)}: crate `{crate}` inherits `{key}` from the workspace, "
                        f"but [workspace.package] in {self.manifest_path} has no `{key}`",
                        f"add `{key}` to [workspace.package] or set it in {manifest}",
                    )
                return self.ws_package[key], True
            raise ManifestError(
                f"{locate_key(manifest, key)}: crate `{crate}` has an invalid `{key}` table",
                f"write `{key}.workspace = true` or a plain value",
            )
        return value, False

    def package(self, directory: Path, manifest: Path, data: dict[str, Any], member_paths: dict[Path, str]) -> Package:
        pkg = data["package"]
        name = member_paths[directory]
        version, version_inherited = self._inherited(pkg, "version", manifest, name)
        declared = "version" in pkg
        if not declared:
            # Cargo (1.75+): no version is 0.0.0 and never published (bevy's compile_fail test crates).
            if "publish" in pkg and pkg["publish"] is not False and pkg["publish"] != []:
                raise ManifestError(
                    f"{locate_key(manifest, 'publish')}: crate `{name}` sets `publish` but has no version "
                    "(cargo: `package.publish` requires `package.version` be specified)",
                    'add `version = "0.1.0"` to its [package] table, or remove `publish`',
                )
            version = "0.0.0"
        elif not isinstance(version, str):
            raise ManifestError(
                f"{manifest}: crate `{name}` has no version",
                'add `version = "0.1.0"` or `version.workspace = true` to its [package] table',
            )
        edition, edition_inherited = self._inherited(pkg, "edition", manifest, name)
        license_, _ = self._inherited(pkg, "license", manifest, name)
        license_file, _ = self._inherited(pkg, "license-file", manifest, name)
        description, _ = self._inherited(pkg, "description", manifest, name)
        repository, _ = self._inherited(pkg, "repository", manifest, name)
        publish_value, _ = self._inherited(pkg, "publish", manifest, name)
        publish = declared and not (publish_value is False or publish_value == [])
        publish_registries = (
            tuple(str(r) for r in publish_value) if isinstance(publish_value, list) and publish else None
        )
        features_raw = data.get("features", {})
        features = {k: tuple(v) for k, v in features_raw.items() if isinstance(v, list)}
        deps = tuple(self._dependencies(data, directory, manifest, name, member_paths))
        has_binary = bool(data.get("bin")) or _has_file(directory, "src", "main.rs")
        build = pkg.get("build")
        has_build_script = (build is not False and build is not None) or _has_file(directory, "build.rs")
        return Package(
            name=name,
            version=version,
            manifest_path=manifest,
            version_inherited=version_inherited,
            publish=publish,
            edition=edition if isinstance(edition, str) else None,
            edition_inherited=edition_inherited,
            license=license_ if isinstance(license_, str) else None,
            license_file=license_file if isinstance(license_file, str) else None,
            description=description if isinstance(description, str) else None,
            repository=repository if isinstance(repository, str) else None,
            features=features,
            dependencies=deps,
            has_binary=has_binary,
            has_build_script=has_build_script,
            publish_registries=publish_registries,
            version_declared=declared,
            release_metadata=_release_metadata(pkg),
        )

    def _dependencies(
        self, data: dict[str, Any], directory: Path, manifest: Path, crate: str, member_paths: dict[Path, str]
    ) -> Iterator[Dependency]:
        for table_path, kind, target, table in _iter_dep_tables(data):
            for key, spec in table.items():
                requirement: str | None
                path: Path | None
                from_workspace = False
                optional = False
                registry: str | None = None
                if isinstance(spec, str):
                    name, requirement, path = key, spec, None
                elif isinstance(spec, dict):
                    optional = spec.get("optional") is True
                    if spec.get("workspace") is True:
                        ws = self.ws_deps.get(key)
                        if ws is None:
                            raise ManifestError(
                                f"{locate_key(manifest, key)}: crate `{crate}` uses `{key}.workspace = true` "
                                f"but [workspace.dependencies] in {self.manifest_path} has no `{key}`",
                                f"add `{key}` to [workspace.dependencies]",
                            )
                        from_workspace = True
                        name, requirement, path, registry = ws.name, ws.requirement, ws.path, ws.registry
                    else:
                        name = spec.get("package", key)
                        requirement = spec.get("version") if isinstance(spec.get("version"), str) else None
                        path = self.paths.join(directory, spec["path"]) if isinstance(spec.get("path"), str) else None
                        registry = spec.get("registry") if isinstance(spec.get("registry"), str) else None
                else:
                    raise ManifestError(
                        f"{locate_key(manifest, key)}: dependency `{key}` of crate `{crate}` "
                        "must be a string or a table",
                        'write `name = "1.0"` or `name = { path = "...", version = "..." }`',
                    )
                member = None
                external = False
                patched = False
                if path is None and self.patches:
                    patch_dir = self.patches.get((_source(spec), name)) or self.patches.get(("replace", name))
                    member = member_paths.get(patch_dir) if patch_dir is not None else None
                    patched = member is not None and member != crate
                    member = member if patched else None
                elif path is not None:
                    if path not in member_paths and not _has_file(path, "Cargo.toml"):
                        raise ManifestError(
                            f"{locate_key(manifest, key)}: crate `{crate}` has a path dependency `{key}` on "
                            f"{path}, which has no Cargo.toml",
                            "fix the `path` or create the crate there",
                        )
                    member = member_paths.get(path)
                    external = member is None
                yield Dependency(
                    key=key,
                    name=name,
                    kind=kind,
                    table=table_path,
                    target=target,
                    requirement=requirement,
                    path=path,
                    workspace=from_workspace,
                    optional=optional,
                    member=member,
                    external_path=external,
                    registry=registry,
                    patched=patched,
                )


def _release_metadata(pkg: dict[str, Any]) -> Any:
    """``[package.metadata.release]``: cargo-release's table (read by pipeline.release.cargo_release)."""
    metadata = pkg.get("metadata")
    return metadata.get("release") if isinstance(metadata, dict) else None
