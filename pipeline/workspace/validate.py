"""The manifest shapes Cargo refuses, refused here too, each at its ``path:line:column``.

The loader reads only what release engineering needs, and used to skip (or crash on)
values of the wrong type. Cargo's own manifest schema refuses them, so a workspace this
tool accepted could still break ``cargo metadata``; worse, a crash was an exit-3 "bug".
These checks are pure: they take the parsed TOML and return nothing or raise a
:class:`ManifestError` naming the key, the expected type and what was found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.cargo_semver import SemverError, Version, parse_requirement
from pipeline.workspace.manifest import locate_key

DEP_TABLE_NAMES = ("dependencies", "dev-dependencies", "dev_dependencies", "build-dependencies",
                   "build_dependencies")
EDITIONS = ("2015", "2018", "2021", "2024")
# Cargo: alphanumeric, `-` or `_`, not starting with a digit (unicode letters allowed; ASCII is what we see).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_DEP_STRINGS = ("version", "path", "git", "branch", "tag", "rev", "package", "registry", "registry-index")
_DEP_BOOLS = ("optional", "default-features", "default_features", "workspace", "public")


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _fail(path: Path, key: str, message: str, hint: str) -> ManifestError:
    return ManifestError(f"{locate_key(path, key)}: {message}", hint)


def _expect(value: Any, kind: type | tuple[type, ...], path: Path, key: str, where: str, expected: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise _fail(path, key, f"`{where}` must be {expected}, got {_kind(value)}",
                    "Cargo refuses this manifest too (`cargo metadata` shows the same); see the Cargo reference")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _string_array(value: Any, path: Path, key: str, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, f"`{where}` must be an array of strings, got {_kind(value)}",
                    f'write `{key} = ["..."]`')


def _inheritable(value: Any) -> bool:
    return isinstance(value, dict) and value.get("workspace") is True and len(value) == 1


def check_manifest(data: dict[str, Any], path: Path, *, member: bool) -> None:
    """Refuse what Cargo refuses in one manifest (a member's, or the root's with ``member`` for its package)."""
    for table in ("package", "workspace", "features", "target", "lib", "lints", "patch", "profile", "badges",
                  *DEP_TABLE_NAMES):
        if table in data:
            _expect(data[table], dict, path, table, table, "a table")
    if "bin" in data and not (isinstance(data["bin"], list) and all(isinstance(b, dict) for b in data["bin"])):
        raise _fail(path, "bin", f"`bin` must be an array of tables ([[bin]]), got {_kind(data['bin'])}",
                    "write each binary as a [[bin]] table")
    package = data.get("package")
    if member and isinstance(package, dict):
        _check_package(package, path)
    for feature, enables in data.get("features", {}).items():
        _string_array(enables, path, feature, f"features.{feature}")
    for where, table in _dep_tables(data, path):
        for key, spec in table.items():
            check_dependency(spec, path, key, f"{where}.{key}")
    if member and isinstance(package, dict):
        check_resolver(package, path, "package")
    workspace = data.get("workspace")
    if isinstance(workspace, dict):
        check_resolver(workspace, path, "workspace")
        ws_package = workspace.get("package", {})
        _expect(ws_package, dict, path, "package", "workspace.package", "a table")
        if "version" in ws_package:
            _version(ws_package["version"], path, "workspace.package.version")
        if "edition" in ws_package:
            _edition(ws_package["edition"], path, "workspace.package.edition")
        deps = workspace.get("dependencies", {})
        _expect(deps, dict, path, "dependencies", "workspace.dependencies", "a table")
        for key, spec in deps.items():
            check_dependency(spec, path, key, f"workspace.dependencies.{key}", in_workspace=True)


def _dep_tables(data: dict[str, Any], path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in DEP_TABLE_NAMES:
        if isinstance(data.get(name), dict):
            yield name, data[name]
    targets = data.get("target")
    if isinstance(targets, dict):
        for cfg, target in targets.items():
            _expect(target, dict, path, cfg, f"target.{cfg}", "a table")
            for name in DEP_TABLE_NAMES:
                if name in target:
                    _expect(target[name], dict, path, name, f"target.{cfg}.{name}", "a table")
                    yield f"target.{cfg}.{name}", target[name]


def _version(value: Any, path: Path, where: str, crate: str | None = None) -> None:
    if _inheritable(value):
        return
    if not isinstance(value, str):
        raise _fail(path, "version", f"`{where}` must be a string, got {_kind(value)}",
                    'write it as `version = "MAJOR.MINOR.PATCH"`')
    try:
        Version.parse(value)
    except SemverError as exc:
        raise _fail(path, "version", f"crate `{crate}` version: {exc}" if crate else f"`{where}`: {exc}",
                    'write it as MAJOR.MINOR.PATCH (e.g. `version = "1.2.0"`); Cargo refuses it too') from None


def _edition(value: Any, path: Path, where: str) -> None:
    if _inheritable(value):
        return
    if value not in EDITIONS:
        raise _fail(path, "edition", f"`{where}` must be one of {', '.join(EDITIONS)}, got {value!r}",
                    'write e.g. `edition = "2021"`')


def _check_package(package: dict[str, Any], path: Path) -> None:
    name = package.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(path, "name", f"[package] `name` must be a non-empty string, got {_kind(name)}",
                    'add `name = "..."` to [package]')
    if not _NAME.match(name):
        raise _fail(path, "name", f"[package] name {name!r} is not a valid crate name",
                    "use letters, digits, `-` and `_`, not starting with a digit")
    if "version" in package:
        _version(package["version"], path, "package.version", name)
    if "edition" in package:
        _edition(package["edition"], path, "package.edition")
    publish = package.get("publish")
    if publish is not None and not _inheritable(publish):
        if not isinstance(publish, bool):
            _string_array(publish, path, "publish", "package.publish")
    for key in ("description", "license", "license-file", "repository", "homepage", "documentation", "readme",
                "links", "rust-version"):
        value = package.get(key)
        if value is not None and not _inheritable(value):
            if key == "readme" and isinstance(value, bool):
                continue
            _expect(value, str, path, key, f"package.{key}", "a string")
    build = package.get("build")
    if build is not None and not isinstance(build, (bool, str)):
        raise _fail(path, "build", f"`package.build` must be a string or a boolean, got {_kind(build)}",
                    'write `build = "build.rs"` or `build = false`')


# Requirements already accepted: a 500-crate workspace writes the same few ("0.11.0") 1,500 times,
# and parsing is pure, so each text is parsed once per process.
_ACCEPTED: set[str] = set()


def _requirement(text: str, path: Path, key: str, where: str) -> None:
    if text in _ACCEPTED:
        return
    try:
        parse_requirement(text)
        _ACCEPTED.add(text)
    except SemverError as exc:
        raise _fail(path, key, f"`{where}`: {exc}",
                    'write a Cargo version requirement (`"1.2"`, `"^1.2.3"`, `">= 1, < 2"`); Cargo refuses it too'
                    ) from None


_RESOLVERS = ("1", "2", "3")


def check_resolver(table: dict[str, Any], path: Path, where: str) -> None:
    """``resolver`` of [workspace] or [package]: one of the strings Cargo knows."""
    if "resolver" in table and table["resolver"] not in _RESOLVERS:
        value = table["resolver"]
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise _fail(path, "resolver", f"`{where}.resolver` must be one of \"1\", \"2\", \"3\", got {shown}",
                    'write `resolver = "2"` (or "3" for edition 2024); Cargo refuses other values')


def check_dependency(spec: Any, path: Path, key: str, where: str, *, in_workspace: bool = False) -> None:
    if isinstance(spec, str):
        _requirement(spec, path, key, where)
        return
    if not isinstance(spec, dict):
        raise _fail(path, key, f"`{where}` must be a version string or a table, got {_kind(spec)}",
                    'write `name = "1.0"` or `name = { path = "...", version = "..." }`')
    for field in _DEP_STRINGS:
        if field in spec:
            _expect(spec[field], str, path, key, f"{where}.{field}", "a string")
    for field in _DEP_BOOLS:
        if field in spec:
            _expect(spec[field], bool, path, key, f"{where}.{field}", "a boolean")
    if "features" in spec:
        _string_array(spec["features"], path, key, f"{where}.features")
    if isinstance(spec.get("version"), str):
        _requirement(spec["version"], path, key, f"{where}.version")
    if spec.get("workspace") is False:
        raise _fail(path, key, f"`{where}.workspace` cannot be false",
                    f"remove it, or write `{key}.workspace = true`")
    if spec.get("workspace") is True and in_workspace:
        raise _fail(path, key, f"`{where}`: [workspace.dependencies] entries cannot inherit from the workspace",
                    "give the dependency a version or a path")


def check_self_dependency(name: str, directory: Path, data: dict[str, Any], manifest: Path) -> None:
    """A crate with a normal or build dependency on its own directory: Cargo refuses it as a cycle.

    A dev-dependency on itself is accepted, as Cargo accepts it: it turns features on for the
    crate's own tests and examples (bevy_math's `bevy_math = { path = ".", features = ["approx"] }`)."""
    for where, table in _dep_tables(data, manifest):
        if where.rsplit(".", 1)[-1] in ("dev-dependencies", "dev_dependencies"):
            continue
        for key, spec in table.items():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                target = os.path.normpath(os.path.join(directory, spec["path"]))
                if target == os.path.normpath(directory):
                    raise _fail(manifest, key, f"crate `{name}` depends on itself (`{where}.{key}` has path "
                                f"{spec['path']!r})", "remove the dependency: a crate cannot depend on itself")
