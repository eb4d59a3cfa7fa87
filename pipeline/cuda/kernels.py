"""Which `.cu` files to compile: the configured kernel sets, or every `.cu` file in member crates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda.settings import CudaSettings, KernelSet
from pipeline.foundation.errors import ConfigError
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


def _crate_of(workspace: Workspace, path: Path) -> str | None:
    best: tuple[int, str] | None = None
    for member in workspace.members:
        directory = member.directory.resolve()
        if path.is_relative_to(directory):
            depth = len(directory.parts)
            if best is None or depth > best[0]:
                best = (depth, member.name)
    return best[1] if best else None


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
        for pattern in kernel_set.sources:
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise ConfigError(
                    f"{workspace.manifest_path}: kernel set {kernel_set.name!r}: source glob {pattern!r} must stay "
                    "inside the workspace",
                    "write globs relative to the workspace root, e.g. `crates/*/kernels/*.cu`",
                )
            try:
                matches = sorted(p.resolve() for p in workspace.root.glob(pattern) if p.is_file())
            except (ValueError, IndexError, NotImplementedError) as exc:  # pathlib refuses the pattern
                raise ConfigError(
                    f"{workspace.manifest_path}: kernel set {kernel_set.name!r}: source glob {pattern!r} is not "
                    f"a valid glob ({exc or type(exc).__name__})",
                    "write globs relative to the workspace root, e.g. `crates/*/kernels/*.cu` (`**` only as a "
                    "whole path component)",
                ) from None
            if not matches:
                raise ConfigError(
                    f"{workspace.manifest_path}: kernel set {kernel_set.name!r}: source glob {pattern!r} "
                    "matches no file",
                    "fix the glob (relative to the workspace root) or remove it",
                )
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
            )
        )
    return kernels
