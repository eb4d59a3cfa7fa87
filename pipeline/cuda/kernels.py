"""Which `.cu` files to compile: the configured kernel sets, or every `.cu` file in member crates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda.settings import CudaSettings, KernelSet
from pipeline.foundation.errors import ConfigError
from pipeline.workspace.manifest import locate_key
from pipeline.workspace.model import Workspace

DEFAULT_SET = "default"
_SKIP_DIRS = {"target", ".git", "node_modules", ".nox", ".venv"}


@dataclass(frozen=True)
class Kernel:
    """One `.cu` file: compiled to one cubin per architecture and one fatbin."""

    name: str  # output stem, unique in the workspace (`saxpy`, or `crate-saxpy` on a clash)
    source: Path  # absolute
    relative: str  # source relative to the workspace root, as messages and the cache name it
    set_name: str
    crate: str | None
    include_dirs: tuple[Path, ...] = ()
    defines: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    kind: str = "fatbin"  # or "static-lib": an object (host code too) archived into lib<set>.a

    @property
    def library(self) -> str | None:
        """``lib<set>.a`` for a static-lib kernel set's file."""
        return f"lib{self.set_name}.a" if self.kind == "static-lib" else None


def _crate_of(workspace: Workspace, path: Path) -> str | None:
    best: tuple[int, str] | None = None
    for member in workspace.members:
        directory = member.directory.resolve()
        if path.is_relative_to(directory):
            depth = len(directory.parts)
            if best is None or depth > best[0]:
                best = (depth, member.name)
    return best[1] if best else _package_above(workspace.root.resolve(), path)


def _package_above(root: Path, path: Path) -> str | None:
    """The package owning a file outside the members (an `exclude`d kernels crate): the nearest Cargo.toml."""
    import tomllib

    for directory in path.parents:
        if not directory.is_relative_to(root) or directory == root:
            return None
        manifest = directory / "Cargo.toml"
        if manifest.is_file():
            try:
                name = tomllib.loads(manifest.read_text(encoding="utf-8")).get("package", {}).get("name")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None  # not ours to diagnose here: cargo reports a broken manifest
            return name if isinstance(name, str) else None
    return None


def _where(workspace: Workspace, key: str, value: str) -> str:
    """`Cargo.toml:line:column` of the line holding ``value`` (a glob or directory), else of ``key``."""
    try:
        lines = workspace.manifest_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(workspace.manifest_path)
    for quote in ('"', "'"):
        needle = f"{quote}{value}{quote}"
        for number, line in enumerate(lines, start=1):
            if needle in line and not line.lstrip().startswith("#"):
                return f"{workspace.manifest_path}:{number}:{line.find(needle) + 1}"
    return locate_key(workspace.manifest_path, key)


def _inside(workspace: Workspace, kernel_set: KernelSet, key: str, value: str) -> None:
    """A glob or directory of a set must stay inside the repository root (no absolute path, no `..`)."""
    if Path(value).is_absolute() or ".." in Path(value).parts:
        raise ConfigError(
            f"{_where(workspace, key, value)}: kernel set {kernel_set.name!r}: `{key}` entry {value!r} is outside "
            f"the workspace root {workspace.root}",
            "write it relative to the workspace root, e.g. `crates/*/kernels/*.cu`; a kernels crate the "
            "workspace `exclude`s is fine as long as it lives under the root",
        )


def _glob(workspace: Workspace, kernel_set: KernelSet, key: str, pattern: str) -> list[Path]:
    _inside(workspace, kernel_set, key, pattern)
    what = "source glob" if key == "sources" else f"`{key}` glob"
    root = workspace.root.resolve()
    try:
        matches = sorted(p.resolve() for p in workspace.root.glob(pattern) if p.is_file())
    except (ValueError, IndexError, NotImplementedError) as exc:  # pathlib refuses the pattern
        raise ConfigError(
            f"{_where(workspace, key, pattern)}: kernel set {kernel_set.name!r}: {what} {pattern!r} is not "
            f"a valid glob ({exc or type(exc).__name__})",
            "write globs relative to the workspace root, e.g. `crates/*/kernels/*.cu` (`**` only as a "
            "whole path component)",
        ) from None
    for path in matches:
        if not path.is_relative_to(root):  # a symlink leading out of the repository
            raise ConfigError(
                f"{_where(workspace, key, pattern)}: kernel set {kernel_set.name!r}: {what} {pattern!r} "
                f"reaches {path}, outside the workspace root {root} (through a symlink)",
                "point the glob at files that live under the workspace root",
            )
    if not matches:
        raise ConfigError(
            f"{_where(workspace, key, pattern)}: kernel set {kernel_set.name!r}: {what} {pattern!r} "
            "matches no file",
            "fix the glob (relative to the workspace root) or remove it",
        )
    return matches


def _walk_cu(directory: Path) -> list[Path]:
    found = []
    for path in sorted(directory.rglob("*.cu")):
        if not _SKIP_DIRS.intersection(path.relative_to(directory).parts[:-1]) and path.is_file():
            found.append(path.resolve())
    return found


def _default_set(workspace: Workspace) -> list[tuple[KernelSet | None, Path]]:
    seen: dict[Path, None] = {}
    for member in workspace.members:
        for path in _walk_cu(member.directory):
            seen.setdefault(path)
    return [(None, path) for path in seen]


def _configured(workspace: Workspace, settings: CudaSettings) -> list[tuple[KernelSet | None, Path]]:
    result: list[tuple[KernelSet | None, Path]] = []
    taken: dict[Path, str] = {}
    for kernel_set in settings.kernel_sets:
        for directory in kernel_set.include_dirs:
            _inside(workspace, kernel_set, "include-dirs", directory)
        excluded = {p for pattern in kernel_set.exclude for p in _glob(workspace, kernel_set, "exclude", pattern)}
        for pattern in kernel_set.sources:
            matches = [p for p in _glob(workspace, kernel_set, "sources", pattern) if p not in excluded]
            for path in matches:
                if path in taken:
                    if taken[path] != kernel_set.name:
                        raise ConfigError(
                            f"{workspace.manifest_path}: {path.relative_to(workspace.root)} is in kernel sets "
                            f"{taken[path]!r} and {kernel_set.name!r}",
                            "a kernel file may belong to one set only; narrow one of the globs",
                        )
                    continue
                taken[path] = kernel_set.name
                result.append((kernel_set, path))
    return result


def discover(workspace: Workspace, settings: CudaSettings) -> list[Kernel]:
    """The kernels to build, in a stable order, each with a unique output name."""
    root = workspace.root.resolve()
    chosen = _configured(workspace, settings) if settings.kernel_sets else _default_set(workspace)
    entries = []
    for kernel_set, path in chosen:
        crate = _crate_of(workspace, path)
        entries.append((kernel_set, path, crate))
    stems = [path.stem for _, path, _ in entries]
    kernels = []
    names: dict[str, str] = {}
    for kernel_set, path, crate in entries:
        name = path.stem
        if stems.count(name) > 1:
            name = f"{crate or (kernel_set.name if kernel_set else DEFAULT_SET)}-{name}"
        relative = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        if name in names:
            raise ConfigError(
                f"{workspace.manifest_path}: kernels {names[name]} and {relative} would both be named {name!r}",
                "rename one of the files or put them in differently named kernel sets",
            )
        names[name] = relative
        kernels.append(
            Kernel(
                name=name,
                source=path,
                relative=relative,
                set_name=kernel_set.name if kernel_set else DEFAULT_SET,
                crate=crate,
                include_dirs=tuple((root / d).resolve() for d in kernel_set.include_dirs) if kernel_set else (),
                defines=kernel_set.defines if kernel_set else (),
                flags=(*settings.flags, *(kernel_set.flags if kernel_set else ())),
                kind=kernel_set.kind if kernel_set else "fatbin",
            )
        )
    return kernels
