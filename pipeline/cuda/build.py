"""``pipeline cuda``: compile every kernel for every architecture, in parallel, cached.

The plan: (1) the files each kernel includes (``nvcc -M``, itself cached by
content), (2) one job per (kernel, real architecture) producing a cubin with
``ptxas -v`` resource usage, plus one PTX job per kernel for the newest
architecture, looked up in the content-addressed cache and otherwise run on a
thread pool, longest first, (3) one fatbin per kernel bundled by
``fatbinary``, (4) ``target/cuda/manifest.json``.

Splitting by (kernel, architecture) rather than one nvcc call per kernel with
several ``-gencode`` keeps all cores busy until the end (the longest single
job bounds the build) and lets the cache keep every architecture apart;
``bench/bench_cuda.py`` measures it against the per-kernel ``--threads`` way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.cuda import nvcc as nv
from pipeline.cuda.cache import Cache, FileDigests, digest_json
from pipeline.cuda.kernels import Kernel, discover
from pipeline.cuda.settings import FALLBACK_ARCHITECTURES, CudaSettings, check_arch
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation import fs, proc
from pipeline.foundation.errors import CheckFailed, ConfigError, OperationFailed, UsageError
from pipeline.foundation.output import is_tty
from pipeline.workspace.model import Workspace

MANIFEST_SCHEMA = 1
CACHE_ENV = "PIPELINE_CUDA_CACHE"
ARTIFACT_SUFFIXES = (".cubin", ".ptx", ".fatbin")


def output_dir(workspace: Workspace) -> Path:
    return workspace.root / "target" / "cuda"


def cache_dir(workspace: Workspace, settings: CudaSettings) -> Path:
    configured = os.environ.get(CACHE_ENV) or settings.cache_dir or "target/cuda-cache"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else workspace.root / path


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------- architectures

@dataclass(frozen=True)
class ArchChoice:
    archs: tuple[str, ...]
    origin: str  # "--arch", "configuration", "GPUs present", "fallback list"


def resolve_architectures(
    requested: Sequence[str],
    settings: CudaSettings,
    supported: Sequence[str],
    gpu_archs: Callable[[], Sequence[str]],
) -> ArchChoice:
    """--arch, else the configured list, else (auto) the GPUs present, else the fallback list.

    Raises before anything compiles when nvcc cannot build one of them.
    """
    if requested:
        for arch in requested:
            try:
                check_arch(arch)
            except ValueError as exc:
                raise UsageError(f"--arch: {exc}", "pass architectures like --arch sm_90 --arch sm_120") from None
        choice = ArchChoice(tuple(nv.sort_archs(requested)), "--arch")
    elif settings.architectures != "auto":
        choice = ArchChoice(tuple(nv.sort_archs(settings.architectures)), "configuration")
    else:
        present = [a for a in gpu_archs() if not nv.unsupported([a], supported)]
        if present:
            choice = ArchChoice(tuple(nv.sort_archs(present)), "GPUs present")
        else:
            fallback = [a for a in FALLBACK_ARCHITECTURES if not nv.unsupported([a], supported)]
            if not fallback:
                raise ConfigError(
                    "architectures = \"auto\": no GPU is visible and this nvcc supports none of "
                    + ", ".join(FALLBACK_ARCHITECTURES),
                    "set [workspace.metadata.pipeline.cuda] architectures explicitly",
                )
            choice = ArchChoice(tuple(fallback), "fallback list")
    bad = nv.unsupported(choice.archs, supported)
    if bad:
        error = UsageError if choice.origin == "--arch" else ConfigError
        raise error(
            f"nvcc cannot build {', '.join(bad)} (from {choice.origin}); it supports {', '.join(supported)}",
            "drop the architecture, or install a CUDA toolkit that supports it (`nvcc --list-gpu-code` lists them)",
        )
    return choice


def gpu_archs_from_nvml() -> list[str]:
    from pipeline.gpu.nvml import read_inventory, visible

    inventory = read_inventory()
    return [gpu.arch for gpu in visible(inventory)] if inventory.available else []


# ---------------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Product:
    """One output file of one kernel: a cubin for a real arch or PTX for a virtual one; one cache entry."""

    kernel: Kernel
    kind: Literal["cubin", "ptx"]
    arch: str  # sm_90 for a cubin, compute_120 for PTX

    @property
    def output_name(self) -> str:
        return f"{self.kernel.name}.{self.arch}.{self.kind}"

    @property
    def label(self) -> str:
        return f"{self.kernel.name} {self.arch}"


@dataclass(frozen=True)
class Job:
    """One unit of scheduled work: one cubin, one PTX, or PTX then the newest cubin from that PTX.

    The last form runs the front end (cicc) once for both files: nvcc -cubin for
    the newest arch would compile the same compute_XY PTX again.
    """

    kernel: Kernel
    products: tuple[Product, ...]

    @property
    def label(self) -> str:
        return f"{self.kernel.name} {'+'.join(p.arch for p in self.products)}"

    @property
    def timing_key(self) -> str:
        return f"{self.kernel.relative}|{'+'.join(p.arch for p in self.products)}"


def plan_jobs(kernels: Sequence[Kernel], archs: Sequence[str], ptx: str | None) -> list[Job]:
    jobs = []
    for kernel in kernels:
        for arch in archs:
            cubin = Product(kernel, "cubin", arch)
            if ptx is not None and nv.compute_of(arch) == ptx:
                jobs.append(Job(kernel, (Product(kernel, "ptx", ptx), cubin)))
            else:
                jobs.append(Job(kernel, (cubin,)))
        if ptx is not None and not any(nv.compute_of(a) == ptx for a in archs):
            jobs.append(Job(kernel, (Product(kernel, "ptx", ptx),)))
    return jobs


@dataclass(frozen=True)
class BuildOptions:
    archs: tuple[str, ...] = ()
    jobs: int | None = None
    use_cache: bool = True
    werror: bool = False
    progress: bool | None = None  # None: when stderr is a terminal


@dataclass
class BuildResult:
    output_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]
    architectures: ArchChoice
    jobs: int
    compiled: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    warnings: list[nv.Diagnostic] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "output_dir": str(self.output_dir),
            "manifest": str(self.manifest_path),
            "architectures": list(self.architectures.archs),
            "architectures_from": self.architectures.origin,
            "ptx": self.manifest.get("ptx"),
            "jobs": self.jobs,
            "compiled": self.compiled,
            "cached": self.cached,
            "warnings": [w.render() for w in self.warnings],
            "seconds": round(self.seconds, 3),
            "kernels": self.manifest["kernels"],
        }


class _Progress:
    """One overwritten line on a terminal; nothing otherwise (the summary line says it all)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self._lock = threading.Lock()

    def step(self, label: str, seconds: float) -> None:
        with self._lock:
            self.done += 1
            if self.enabled:
                sys.stderr.write(f"\r\x1b[2K[{self.done}/{self.total}] compiled {label} ({seconds:.1f} s)")
                sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


class _Builder:
    def __init__(self, workspace: Workspace, settings: CudaSettings, options: BuildOptions) -> None:
        self.root = workspace.root.resolve()
        self.settings = settings
        self.options = options
        self.werror = options.werror or settings.werror
        self.nvcc = find_cuda_tool("nvcc")
        self.fatbinary = find_cuda_tool("fatbinary")
        version_text = proc.run([str(self.nvcc), "--version"]).stdout
        self.nvcc_version = _release(version_text)
        self.nvcc_id = hashlib.sha256(version_text.encode()).hexdigest()[:16]
        self.cache = Cache(cache_dir(workspace, settings))
        self.out = output_dir(workspace)
        self.digests = FileDigests()

    def supported_archs(self) -> tuple[str, ...]:
        """``nvcc --list-gpu-code``, remembered per nvcc build (one process start less on warm runs)."""
        path = self.cache.root / "toolchains" / f"{self.nvcc_id}.json"
        try:
            return tuple(json.loads(path.read_text())["supported"])
        except (OSError, ValueError, KeyError, TypeError):
            supported = nv.list_supported(self.nvcc)
            fs.atomic_write_json(path, {"nvcc": self.nvcc_version, "supported": list(supported)}, sync_dir=False)
            return supported

    # -- paths as keys and messages show them
    def shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def resolve_stored(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def display(self, cwd: Path) -> Callable[[str], str]:
        return lambda name: self.shown((Path(name) if Path(name).is_absolute() else cwd / name).resolve())

    def flags(self, kernel: Kernel) -> nv.CompileFlags:
        return nv.CompileFlags(kernel.include_dirs, kernel.defines, kernel.flags, self.werror)

    def logical_args(self, kernel: Kernel) -> dict[str, Any]:
        return {
            "includes": [self.shown(d) for d in kernel.include_dirs],
            "defines": list(kernel.defines),
            "flags": list(kernel.flags),
            "werror": self.werror,
        }

    # -- phase 1: includes
    def _deps_key(self, kernel: Kernel) -> str:
        # Per source *content*: going back to an earlier version (another branch) finds its record again.
        return digest_json({"nvcc": self.nvcc_id, "source": kernel.relative, "args": self.logical_args(kernel),
                            "content": self.digests(kernel.source)})

    def dependencies(self, kernel: Kernel) -> list[tuple[str, str]] | None:
        """The files ``kernel`` includes, with their digests; None when this source was never seen.

        A known source whose headers all still match needs no tool at all (warm runs).
        A known source with a changed header is rescanned with ``nvcc -M`` (the
        changed header may include other files now), so its new key can still hit
        the cache. A new source is scanned by its first compile job (``-MD``)
        instead: it must be compiled anyway, and this saves one nvcc run per kernel.
        """
        record = self.cache.get_deps(self._deps_key(kernel)) if self.options.use_cache else None
        if record is None:
            return None
        if all(self.digests(self.resolve_stored(p)) == d for p, d in record.get("deps", [])):
            return [(p, d) for p, d in record["deps"]]
        cwd = kernel.source.parent
        result = proc.run(nv.deps_argv(self.nvcc, kernel.source, self.flags(kernel)), cwd=cwd, check=False)
        if result.returncode != 0:
            raise _JobError(kernel.relative, result.stderr or result.stdout, self.display(cwd))
        return self.record_deps(kernel, result.stdout, cwd)

    def record_deps(self, kernel: Kernel, make_rule: str, cwd: Path) -> list[tuple[str, str]]:
        deps = []
        for path in nv.parse_deps(make_rule, cwd):
            resolved = path.resolve()
            if resolved == kernel.source:
                continue
            digest = self.digests(resolved)
            if digest is not None and (self.shown(resolved), digest) not in deps:
                deps.append((self.shown(resolved), digest))
        deps.sort()
        self.cache.put_deps(self._deps_key(kernel), {"deps": deps})
        return deps

    def product_key(self, product: Product, deps: list[tuple[str, str]]) -> str:
        return digest_json({
            "nvcc": self.nvcc_id, "kind": product.kind, "arch": product.arch, "source": product.kernel.relative,
            "content": self.digests(product.kernel.source), "deps": deps, "args": self.logical_args(product.kernel),
        })

    # -- phase 2: one compile job
    def _step(self, product: Product, argv: list[str], cwd: Path, temp: Path) -> dict[str, Any]:
        result = proc.run(argv, cwd=cwd, check=False)
        if result.returncode != 0:
            temp.unlink(missing_ok=True)
            raise _JobError(product.kernel.relative, result.stderr + result.stdout, self.display(cwd))
        log_text = result.stderr + result.stdout
        usage = nv.parse_resource_usage(log_text) if product.kind == "cubin" else {}
        return {
            "entries": nv.entry_functions(log_text),
            "usage": {name: vars(u) for name, u in usage.items()},
            "warnings": [
                vars(d) for d in nv.parse_diagnostics(log_text, self.display(cwd), product.kernel.relative)
                if d.severity == "warning"
            ],
        }

    def compile(self, job: Job, keys: dict[Product, str], scan: bool) -> JobOutcome:
        """Run ``job``; store its products in the cache when their keys are known already.

        ``scan``: also write the include list (``-MD``); the caller stores the products
        once the keys can be computed from it.
        """
        started = time.monotonic()
        flags = self.flags(job.kernel)
        cwd = job.kernel.source.parent
        metas: dict[Product, dict[str, Any]] = {}
        ptx_temp: Path | None = None
        temps: list[tuple[Product, Path]] = []
        depfile = self.out / f".{job.kernel.name}.{os.getpid()}.{threading.get_ident()}.d"
        make_rule: str | None = None
        try:
            for index, product in enumerate(job.products):
                output = self.out / product.output_name
                # The suffix stays last: nvcc picks the input language by it.
                temp = output.with_name(f".{output.stem}.{os.getpid()}.{threading.get_ident()}{output.suffix}")
                temps.append((product, temp))
                extra = nv.depfile_args(depfile) if scan and index == 0 else []
                if product.kind == "ptx":
                    argv = nv.ptx_argv(self.nvcc, job.kernel.source, product.arch, temp, flags, extra)
                    ptx_temp = temp
                else:
                    # From the PTX just made when there is one: ptxas only, no second front-end pass.
                    argv = nv.cubin_argv(self.nvcc, ptx_temp or job.kernel.source, product.arch, temp, flags, extra)
                metas[product] = self._step(product, argv, cwd, temp)
                if extra:
                    make_rule = depfile.read_text()
            if ptx_temp is not None and len(job.products) > 1:
                # Entry names come from ptxas, which only the cubin step ran.
                ptx_product = job.products[0]
                metas[ptx_product]["entries"] = metas[job.products[-1]]["entries"]
            for product, temp in temps:
                data = temp.read_bytes()
                os.replace(temp, self.out / product.output_name)
                if product in keys:
                    self.cache.put(keys[product], data, metas[product])
        finally:
            for _, temp in temps:
                temp.unlink(missing_ok=True)
            depfile.unlink(missing_ok=True)
        return JobOutcome(metas, time.monotonic() - started, make_rule)

    def bundle(self, kernel: Kernel, cubins: Sequence[tuple[str, Path]], ptx: tuple[str, Path] | None,
               key: str) -> None:
        output = self.out / f"{kernel.name}.fatbin"
        temp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        proc.run(nv.fatbinary_argv(self.fatbinary, temp, cubins, ptx))
        data = temp.read_bytes()
        os.replace(temp, output)
        self.cache.put(key, data, {})


@dataclass(frozen=True)
class JobOutcome:
    metas: dict[Product, dict[str, Any]]
    seconds: float
    make_rule: str | None  # the -MD output of a scanning job


class _JobError(Exception):
    def __init__(self, source: str, output: str, display: Callable[[str], str]) -> None:
        super().__init__(source)
        self.source = source
        self.output = output
        self.diagnostics = nv.parse_diagnostics(output, display, source)

    def lines(self) -> list[str]:
        errors = [d.render() for d in self.diagnostics if d.severity == "error"]
        if errors:
            return errors
        tail = proc.tail(self.output, 5).strip()
        return [f"{self.source}: error: {tail or 'nvcc failed without a message'}"]


def _release(version_text: str) -> str:
    for token in version_text.split():
        if token.startswith("V") and token[1:2].isdigit():
            return token[1:]
    return version_text.strip().splitlines()[-1] if version_text.strip() else "unknown"


def _run_pool(jobs: int, tasks: Sequence[Any], work: Callable[[Any], Any],
              on_done: Callable[[Any, Any], None] | None = None) -> tuple[dict[Any, Any], list[_JobError]]:
    """Run ``work`` over ``tasks`` (already in priority order); collect results and every job error."""
    results: dict[Any, Any] = {}
    errors: list[_JobError] = []
    if not tasks:
        return results, errors
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(tasks)))) as pool:
        futures = {pool.submit(work, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                results[task] = future.result()
            except _JobError as exc:
                errors.append(exc)
                continue
            if on_done is not None:
                on_done(task, results[task])
    return results, errors


def _fail(errors: list[_JobError], what: str) -> CheckFailed:
    lines: list[str] = []
    for error in sorted(errors, key=lambda e: e.source):
        for line in error.lines():
            if line not in lines:
                lines.append(line)
    sources = sorted({e.source for e in errors})
    return CheckFailed(
        f"nvcc failed {what} {len(sources)} kernel file(s): {', '.join(sources)}\n" + "\n".join(lines),
        "fix the errors above (file:line); `pipeline cuda --jobs 1` compiles one at a time",
    )


def build(
    workspace: Workspace,
    settings: CudaSettings,
    options: BuildOptions = BuildOptions(),
    gpu_archs: Callable[[], Sequence[str]] = gpu_archs_from_nvml,
) -> BuildResult:
    try:
        return _build(workspace, settings, options, gpu_archs)
    except OSError as exc:
        # target/cuda or the cache directory is not a writable directory (a file in the way, a
        # read-only mount, a bad `cache-dir`): say which path, not a traceback.
        where = exc.filename or output_dir(workspace)
        raise OperationFailed(
            f"cuda: cannot write {where}: {exc.strerror or exc}",
            f"make {output_dir(workspace)} and the compile cache ({cache_dir(workspace, settings)}; "
            f"`cache-dir` in [workspace.metadata.pipeline.cuda] or ${CACHE_ENV}) writable directories",
        ) from None


LOCK_NAME = ".pipeline-cuda.lock"


@contextlib.contextmanager
def _output_lock(out: Path) -> Iterator[None]:
    """One build at a time per output directory, as cargo locks its build directory.

    Each build ends by deleting the outputs its own manifest does not list, so two builds
    for different architectures sharing ``target/cuda`` would delete each other's files.
    A second build waits (saying so); the lock dies with its process. The lock file sits
    beside the directory (``target/``), so the directory holds only what a release packs.
    """
    lock = out.parent / LOCK_NAME

    def waiting(holder: fs.Holder | None) -> None:
        by = f" (pid {holder.pid})" if holder else ""
        print(f"cuda: waiting for another `pipeline cuda`{by} building into {out} (lock {lock})",
              file=sys.stderr, flush=True)

    with fs.locked(lock, wait=True, command="pipeline cuda", on_busy=waiting):
        yield


def _build(
    workspace: Workspace,
    settings: CudaSettings,
    options: BuildOptions,
    gpu_archs: Callable[[], Sequence[str]],
) -> BuildResult:
    started = time.monotonic()
    builder = _Builder(workspace, settings, options)
    supported = builder.supported_archs()
    choice = resolve_architectures(options.archs, settings, supported, gpu_archs)
    kernels = discover(workspace, settings)
    builder.out.mkdir(parents=True, exist_ok=True)
    with _output_lock(builder.out):
        return _build_locked(builder, settings, options, choice, kernels, started)


def _build_locked(
    builder: _Builder,
    settings: CudaSettings,
    options: BuildOptions,
    choice: ArchChoice,
    kernels: list[Kernel],
    started: float,
) -> BuildResult:
    jobs = options.jobs or settings.jobs or cpu_count()
    ptx = nv.ptx_arch(choice.archs) if settings.ptx else None

    # (1) includes of every kernel
    deps: dict[Kernel, list[tuple[str, str]] | None]
    deps, errors = _run_pool(jobs, kernels, builder.dependencies)
    if errors:
        raise _fail(errors, "preprocessing")

    # (2) compile jobs: cache hits first, then the misses, longest first
    all_jobs = plan_jobs(kernels, choice.archs, ptx)
    products = [p for job in all_jobs for p in job.products]
    keys = {p: builder.product_key(p, deps[p.kernel]) for p in products if deps[p.kernel] is not None}
    metas: dict[Product, dict[str, Any]] = {}
    misses: list[Job] = []
    cached: list[str] = []
    scanning: dict[Kernel, Job] = {}  # first job of each never-seen source: it writes the include list
    for job in all_jobs:
        if deps[job.kernel] is None:
            scanning.setdefault(job.kernel, job)
            misses.append(job)
            continue
        entries = [builder.cache.get(keys[p]) if options.use_cache else None for p in job.products]
        if any(entry is None for entry in entries):
            misses.append(job)
            continue
        for product, entry in zip(job.products, entries, strict=True):
            assert entry is not None
            _place(entry.artifact, builder.out / product.output_name)
            metas[product] = entry.meta
            cached.append(product.label)
    timings = builder.cache.timings()

    def cost(job: Job) -> float:
        known = timings.get(job.timing_key)
        if known is not None:
            return known
        size = sum((builder.resolve_stored(p).stat().st_size if builder.resolve_stored(p).is_relative_to(builder.root)
                    else 0) for p, _ in deps[job.kernel] or [])
        return (job.kernel.source.stat().st_size + size) * len(job.products) / 1e5

    misses.sort(key=cost, reverse=True)
    progress = _Progress(len(misses), is_tty() if options.progress is None else options.progress)
    results, errors = _run_pool(
        jobs, misses, lambda job: builder.compile(job, keys, scanning.get(job.kernel) is job),
        on_done=lambda job, outcome: progress.step(job.label, outcome.seconds),
    )
    progress.finish()
    if errors:
        raise _fail(errors, "on")
    for job, outcome in results.items():
        metas.update(outcome.metas)
        timings[job.timing_key] = round(outcome.seconds, 3)
    for kernel, job in scanning.items():  # keys of new sources, now that their includes are known
        make_rule = results[job].make_rule
        assert make_rule is not None
        deps[kernel] = builder.record_deps(kernel, make_rule, kernel.source.parent)
        for product in (p for j in all_jobs if j.kernel is kernel for p in j.products):
            keys[product] = builder.product_key(product, deps[kernel])
            builder.cache.put(keys[product], (builder.out / product.output_name).read_bytes(), metas[product])
    if results:
        builder.cache.put_timings(timings)

    # (3) one fatbin per kernel
    bundles = []
    for kernel in kernels:
        cubins = [(arch, builder.out / Product(kernel, "cubin", arch).output_name) for arch in choice.archs]
        ptx_part = (ptx, builder.out / Product(kernel, "ptx", ptx).output_name) if ptx else None
        parts = [keys[Product(kernel, "cubin", arch)] for arch in choice.archs]
        if ptx:
            parts.append(keys[Product(kernel, "ptx", ptx)])
        key = digest_json({"fatbin": parts, "nvcc": builder.nvcc_id})
        entry = builder.cache.get(key) if options.use_cache else None
        if entry is not None:
            _place(entry.artifact, builder.out / f"{kernel.name}.fatbin")
        else:
            bundles.append((kernel, tuple(cubins), ptx_part, key))
    _, errors = _run_pool(jobs, bundles, lambda b: builder.bundle(*b))

    # (4) manifest, stale outputs removed
    manifest = _manifest(kernels, deps, choice, ptx, metas, builder.nvcc_version)
    manifest_path = builder.out / "manifest.json"
    fs.atomic_write_json(manifest_path, manifest)
    _remove_stale(builder.out, manifest)

    warnings: list[nv.Diagnostic] = []
    for product in products:
        for w in metas[product].get("warnings", []):
            diagnostic = nv.Diagnostic(**w)
            if diagnostic not in warnings:
                warnings.append(diagnostic)
    return BuildResult(
        output_dir=builder.out, manifest_path=manifest_path, manifest=manifest, architectures=choice, jobs=jobs,
        compiled=[p.label for job in misses for p in job.products], cached=cached, warnings=warnings,
        seconds=time.monotonic() - started,
    )


def _place(artifact: Path, target: Path) -> None:
    """Copy a cache entry into target/cuda unless the same bytes are already there."""
    try:
        if target.stat().st_size == artifact.stat().st_size and target.read_bytes() == artifact.read_bytes():
            return
    except OSError:
        pass
    # No fsync: target/cuda is a copy of the (durable) cache, rebuilt from it in moments.
    fs.atomic_write(target, artifact.read_bytes(), sync=False)


def _manifest(kernels: list[Kernel], deps: dict[Kernel, list[tuple[str, str]]], choice: ArchChoice,
              ptx: str | None, metas: dict[Product, dict[str, Any]], nvcc_version: str) -> dict[str, Any]:
    entries = []
    for kernel in kernels:
        per_arch: dict[str, Any] = {}
        entry_names: list[str] = []
        for arch in choice.archs:
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
        "schema": MANIFEST_SCHEMA,
        "nvcc": nvcc_version,
        "architectures": list(choice.archs),
        "ptx": ptx,
        "kernels": entries,
    }


def _remove_stale(out: Path, manifest: dict[str, Any]) -> None:
    keep = {"manifest.json"}
    for kernel in manifest["kernels"]:
        keep.add(kernel["fatbin"])
        if kernel["ptx"]:
            keep.add(kernel["ptx"])
        keep.update(a["cubin"] for a in kernel["architectures"].values())
    for path in out.iterdir():
        if path.is_file() and path.suffix in ARTIFACT_SUFFIXES and path.name not in keep:
            path.unlink(missing_ok=True)
