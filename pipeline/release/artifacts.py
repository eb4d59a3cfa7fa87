"""Release artifacts: binaries built with cargo, CUDA outputs, checksums and a manifest.

``dist/<crate>-<version>-<shortcommit>-<target-triple>.tar.gz`` per binary crate,
``<project>-cuda-<version>-<shortcommit>.tar.gz`` when the CUDA stage left
``target/cuda/manifest.json``, a ``SHA256SUMS`` that ``sha256sum -c`` accepts and
``manifest.json`` (versions, tag, commit, rustc/nvcc versions, GPU architectures,
each file's size and sha256). Tarballs are reproducible: sorted entries, fixed
owners, the commit's time as mtime.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cuda import abi
from pipeline.cuda.settings import CudaSettings
from pipeline.foundation import fs, proc
from pipeline.foundation.errors import OperationFailed, PipelineError
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.workspace.model import Workspace


@dataclass(frozen=True)
class Toolchain:
    triple: str
    rustc: str
    nvcc: str | None


def toolchain(target: str | None = None) -> Toolchain:
    verbose = proc.run(["rustc", "-vV"]).stdout
    host = next((line.split(":", 1)[1].strip() for line in verbose.splitlines() if line.startswith("host:")), "unknown")
    host = target or host
    rustc = verbose.splitlines()[0].strip() if verbose else "rustc (unknown)"
    nvcc: str | None
    try:
        from pipeline.cuda.toolkit import find_cuda_tool, nvcc_version

        nvcc = nvcc_version(find_cuda_tool("nvcc"))
    except PipelineError:
        nvcc = None
    return Toolchain(host, rustc, nvcc)


def binary_crates(ws: Workspace, names: Sequence[str]) -> tuple[str, ...]:
    # An extra crate (outside the members, `release.extra-crates`) is not built with the workspace.
    return tuple(n for n in names if ws.has(n) and ws.package(n).has_binary)


def artifact_name(crate: str, version: str, short: str, triple: str) -> str:
    return f"{crate}-{version}-{short}-{triple}.tar.gz"


def cuda_manifest(ws: Workspace, target_dir: Path | None) -> Path | None:
    for base in (ws.root / "target", target_dir):
        manifest = None if base is None else base / "cuda" / "manifest.json"
        if manifest is not None and (manifest.is_file() or manifest.is_symlink()):  # a link: refused when read
            return manifest
    return None


def _tar_gz(entries: Sequence[tuple[str, bytes, int]], mtime: int) -> bytes:
    # The archive modules load where artifacts are built: a release plan (a dry run) never needs them.
    import gzip
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories: set[str] = set()
        for name, data, mode in sorted(entries):
            parts = name.split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=mtime, filename="") as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


def build_argv(target: str | None, how: str = "cargo") -> list[str]:
    """The build command for ``target``: `cargo build`, `cargo zigbuild` or `cross build` (``release.cross``)."""
    head = {"cargo": ["cargo", "build"], "zigbuild": ["cargo", "zigbuild"], "cross": ["cross", "build"]}[how]
    argv = [*head, "--release", "--locked", "--message-format=json-render-diagnostics"]
    if target:
        argv += ["--target", target]  # cross-compiling needs `rustup target add` and a linker for it
    return argv


def _build_env(how: str) -> dict[str, str] | None:
    """cargo-zigbuild falls back to `python3 -m ziglang`: put this tool's interpreter first on PATH, so the
    `ziglang` package installed beside the tool (CI's venv) is found."""
    if how != "zigbuild":
        return None
    import sys

    return {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


def _cargo_build(ws: Workspace, crates: Sequence[str], target: str | None = None,
                 how: str = "cargo") -> tuple[dict[str, list[Path]], Path]:
    """Executables per crate, and the target directory."""
    argv = build_argv(target, how)
    for name in crates:
        argv += ["-p", name]
    log(f"release: {' '.join(argv)}  (in {ws.root})")
    hint = "fix the build error above; `--no-verify` does not skip artifact builds"
    if how != "cargo":
        hint += f" (`release.cross` builds {target} with `{argv[0]} {argv[1]}`: is it installed?)"
    by_manifest = {p.manifest_path.resolve(): p.name for p in ws.members}
    executables: dict[str, list[Path]] = {name: [] for name in crates}
    # cargo's JSON messages are read as they arrive: each built unit is a progress line (and a
    # heartbeat names the build while one long crate compiles), instead of minutes of silence.
    # The total is unknown without cargo's unstable --unit-graph, so the count is of units done.
    with Progress("release build", None, verb="built") as progress:
        progress.started("cargo build --release")
        for line in proc.stream_lines(argv, cwd=ws.root, hint=hint, env=_build_env(how)):
            _artifact_message(line, by_manifest, executables, progress)
    target_dir = _target_dir(ws)
    if how == "cross":
        # cross reports the paths inside its container (/target/...): the same files under the host's target dir.
        sub = Path(target) / "release" if target else Path("release")
        executables = {c: [p if p.exists() else target_dir / sub / p.name for p in paths]
                       for c, paths in executables.items()}
    return executables, target_dir


def _artifact_message(line: str, by_manifest: Mapping[Path, str], executables: dict[str, list[Path]],
                      progress: Progress) -> None:
    if not line.startswith("{"):
        return
    message = json.loads(line)
    if message.get("reason") != "compiler-artifact":
        return
    target = message.get("target", {})
    if not message.get("fresh"):
        progress.finished(f"{target.get('name', '?')} ({'/'.join(target.get('kind', []))})")
    if not message.get("executable"):
        return
    crate = by_manifest.get(Path(message.get("manifest_path", "")).resolve())
    if crate in executables and "bin" in target.get("kind", []):
        executables[crate].append(Path(message["executable"]))


def _target_dir(ws: Workspace) -> Path:
    out = proc.run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=ws.root).stdout
    return Path(json.loads(out)["target_directory"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kernel_report(ws: Workspace, cuda: CudaSettings | None, binaries: Sequence[str],
                   executables: Mapping[str, list[Path]]) -> Any:
    """What cuobjdump finds in the shipped binaries and fatbins (None: the workspace built no kernels)."""
    from pipeline.cuda import ship

    req = ship.requirement(ws, cuda)
    if req is None:
        return None
    outputs = [(crate, exe) for crate in binaries for exe in executables.get(crate, [])]
    return ship.check(ws, outputs, req)


def build(
    ws: Workspace,
    *,
    dist: Path,
    project: str,
    versions: Mapping[str, str],
    workspace_version: str | None,
    tags: Sequence[str],
    commit: str,
    commit_time: int,
    crates: Sequence[str],
    cuda_settings: CudaSettings | None = None,
    target: str | None = None,
    tool_version: str = "",
    cross: Mapping[str, str] | None = None,
) -> list[Path]:
    """Build and write the artifacts of a release; returns the files written.

    ``target``: the target triple to build for (default: the host's).
    """
    short = commit[:7]
    tools = toolchain(target)
    binaries = binary_crates(ws, crates)
    files: dict[str, bytes] = {}
    roots: dict[str, tuple[str, ...]] = {}  # tarball -> the workspace crates whose code it holds
    gpu_code: set[str] = set()  # tarballs that are GPU code themselves (the CUDA outputs)
    target_dir: Path | None = None
    executables: dict[str, list[Path]] = {}
    if binaries:
        executables, target_dir = _cargo_build(ws, binaries, target, (cross or {}).get(target or "", "cargo"))
        for crate in binaries:
            stem = artifact_name(crate, versions[crate], short, tools.triple).removesuffix(".tar.gz")
            entries = [(f"{stem}/{exe.name}", _packaged(exe, required=True), 0o755) for exe in executables[crate]]
            directory = ws.package(crate).directory
            for extra in sorted(directory.glob("README*")) + sorted(directory.glob("LICENSE*")):
                data = _packaged(extra)
                if data is not None:
                    entries.append((f"{stem}/{extra.name}", data, 0o644))
            files[f"{stem}.tar.gz"] = _tar_gz(entries, commit_time)
            roots[f"{stem}.tar.gz"] = (crate,)
    else:
        target_dir = None
    cuda = cuda_manifest(ws, target_dir or _target_dir(ws))
    architectures: list[str] = []
    cuda_data: dict[str, Any] = {}
    kernel_abi: dict[str, dict[str, tuple[str, ...]]] | None = None
    if cuda is not None:
        cuda_dir = cuda.parent
        from pipeline.cuda.manifest import read_manifest

        cuda_data = read_manifest(cuda_dir) or {}  # never through a symlink: an error naming it
        listed = cuda_data.get("architectures", [])
        architectures = [str(a) for a in listed] if isinstance(listed, list) else []
        kernel_abi, no_ptx = abi.read_kernel_abi(cuda_data, lambda name: _output_text(cuda_dir, name))
        if no_ptx:
            log(f"release: kernel ABI not recorded for {', '.join(no_ptx)} (built without PTX: set cuda.ptx = true)")
        version = workspace_version or next(iter(versions.values()), "0.0.0")
        stem = f"{project}-cuda-{version}-{short}"
        from pipeline.cuda.ship import packaged_names

        # Only what the manifest lists: never a symlink, a stray temp file or anything else lying there.
        entries = [
            (f"{stem}/{p.relative_to(cuda_dir).as_posix()}", data, 0o644)
            for p in sorted(packaged_names(cuda_dir))
            if (data := _packaged(p)) is not None  # read with O_NOFOLLOW: no link swapped in since
        ]
        files[f"{stem}.tar.gz"] = _tar_gz(entries, commit_time)
        owners = tuple(sorted({str(k["crate"]) for k in cuda_data.get("kernels", []) if k.get("crate")}))
        roots[f"{stem}.tar.gz"] = owners
        gpu_code.add(f"{stem}.tar.gz")
    sboms = _sboms(ws, files, roots, cuda_data if cuda is not None else None, project=project, versions=versions,
                   workspace_version=workspace_version, timestamp=commit_time, tool_version=tool_version,
                   gpu_code=gpu_code)
    from pipeline.release import sbom

    sbom_of = {name: sbom.sbom_name(name) for name in sboms}
    files.update({sbom.sbom_name(name): text.encode() for name, text in sboms.items()})
    kernels = _kernel_report(ws, cuda_settings, binaries, executables)
    manifest: dict[str, Any] = {
        "schema": 1,
        "project": project,
        "workspace_version": workspace_version,
        "crates": dict(versions),
        "tags": list(tags),
        "commit": commit,
        "target": tools.triple,
        "rustc": tools.rustc,
        "nvcc": tools.nvcc,
        "gpu_architectures": architectures,
        "cuda": kernels,
        "files": [
            {"name": name, "size": len(data), "sha256": _sha256(data), **({"sbom": sbom_of[name]} if name in sbom_of
                                                                          else {})}
            for name, data in sorted(files.items())
        ],
    }
    if kernel_abi is not None:
        manifest["kernel_abi"] = {k: {e: list(p) for e, p in v.items()} for k, v in sorted(kernel_abi.items())}
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    sums = "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    stale = check_dist(dist, files)
    fs.write_all({dist / name: data for name, data in files.items()}, what="the release artifacts")
    for name in stale:  # the previous release's: SHA256SUMS covers everything it sits beside
        (dist / name).unlink(missing_ok=True)
        log(f"release: removed {dist.name}/{name} (of the previous release)")
    return [dist / name for name in sorted(files)]


def _sboms(
    ws: Workspace,
    tarballs: Mapping[str, bytes],
    roots: Mapping[str, tuple[str, ...]],
    cuda: Mapping[str, Any] | None,
    *,
    project: str,
    versions: Mapping[str, str],
    workspace_version: str | None,
    timestamp: int,
    tool_version: str,
    gpu_code: set[str],
) -> dict[str, str]:
    """A CycloneDX SBOM per tarball; none when the workspace has no Cargo.lock to read the graph from."""
    lock_path = ws.root / "Cargo.lock"
    if not lock_path.is_file():
        log(f"release: no SBOM: {lock_path} does not exist (a library workspace that ignores it)")
        return {}
    from pipeline.deps.lockfile import read_lockfile
    from pipeline.release import sbom

    lock = read_lockfile(lock_path)
    skip = sbom.dev_only_edges(ws)
    owners = {str(k["crate"]) for k in (cuda or {}).get("kernels", []) if k.get("crate")}
    facts = (
        sbom.CudaFacts(str(cuda.get("nvcc")) if cuda.get("nvcc") else None,
                       tuple(str(a) for a in cuda.get("architectures", [])),
                       str(cuda["ptx"]) if cuda.get("ptx") else None)
        if cuda is not None else None
    )
    result: dict[str, str] = {}
    for name, data in sorted(tarballs.items()):
        crates = roots.get(name, ())
        graph = {lock.packages[i].name for i in sbom.closure(lock, crates, skip)}
        artifact = sbom.ArtifactFacts(
            name=name, sha256=_sha256(data),
            version=next((versions[c] for c in crates if c in versions), workspace_version or "0.0.0"),
            crates=crates, cuda=facts if facts is not None and (name in gpu_code or graph & owners) else None,
        )
        result[name] = sbom.build(artifact, lock, project=project, timestamp=timestamp, skip_edges=skip,
                                  tool_version=tool_version)
    return result


def _output_text(cuda_dir: Path, name: str) -> str:
    """A PTX file the CUDA manifest names, for the kernel ABI: only a regular file inside ``cuda_dir``."""
    from pipeline.cuda.manifest import read_output

    data = read_output(cuda_dir, name)
    if data is None:
        raise FileNotFoundError(f"{cuda_dir / str(name)}: not a regular file inside {cuda_dir}")
    return data.decode("utf-8", errors="replace")


def _packaged(path: Path, *, required: bool = False) -> bytes | None:
    """A file to package, read without following a symlink: a link (or anything not a regular file)
    is skipped with a warning, never its target's content (a README linked to /proc/self/environ)."""
    try:
        data = fs.read_regular(path)
    except FileNotFoundError:
        data = None
    if data is None:
        message = f"{path} is a symlink or not a regular file: not packaged"
        if required:
            raise OperationFailed(message, "artifacts only hold regular files; replace the link by the file")
        log(f"release: warning: {message}")
    return data


def check_dist(dist: Path, files: Mapping[str, bytes]) -> list[str]:
    """Every artifact lands inside ``dist`` itself, and ``dist`` is not a link to elsewhere.

    Returns the previous release's files to remove once this one is written (what its
    manifest.json lists); anything else in ``dist`` is refused: SHA256SUMS must cover all
    that lies beside it."""
    if dist.is_symlink():
        raise OperationFailed(f"{dist} is a symlink: artifacts are only written into a real directory",
                              "remove the link (or point `dist-dir` at a directory)")
    for name in files:
        if "/" in name or "\\" in name or name in (".", "..") or not name or "\0" in name:
            raise OperationFailed(f"artifact name {name!r} would be written outside {dist}",
                                  "check `release.project-name` and the crate names")
    if not dist.is_dir():
        return []
    previous: set[str] = {"manifest.json", "SHA256SUMS"}
    data = fs.read_regular(dist / "manifest.json") if (dist / "manifest.json").exists() else None
    try:
        listed = json.loads(data or b"{}").get("files", [])
        previous.update(str(f["name"]) for f in listed if isinstance(f, dict) and "name" in f)
    except (ValueError, AttributeError, TypeError):
        pass
    present = sorted(entry.name for entry in os.scandir(dist))
    foreign = [name for name in present if name not in previous and name not in files]
    if foreign:
        raise OperationFailed(
            f"{dist} holds files no release of this tool wrote: {', '.join(foreign[:10])}"
            + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
            + "; SHA256SUMS would sit beside files it does not cover",
            f"move them out of {dist} (or empty it), then build the artifacts again",
        )
    return [name for name in present if name not in files]
