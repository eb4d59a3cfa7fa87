"""``pipeline test --gpu``: GPU-marked tests run through leases, sharded across the GPUs.

The test binaries come from ``cargo test --no-run --message-format=json``; each
worker leases one GPU and takes binaries from a shared queue until none are
left (dynamic sharding: a slow binary does not hold up the rest). The outputs
are printed whole, one binary at a time, and libtest's ``test result:`` lines
are summed into one result.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import CheckFailed, PipelineError
from pipeline.foundation.output import log
from pipeline.gpu.leases import acquire, lease_dir, lock_path, read_holder
from pipeline.gpu.nvml import Inventory, visible
from pipeline.gpu.runner import exit_status
from pipeline.project import PipelineConfig
from pipeline.stages.cargo import feature_args
from pipeline.workspace.model import Workspace


@dataclass(frozen=True)
class TestBinary:
    package: str
    target: str
    kind: str
    executable: Path
    cwd: Path  # cargo runs a test binary in its package's directory

    @property
    def label(self) -> str:
        return f"{self.package} ({self.kind} {self.target})"


@dataclass
class BinaryResult:
    binary: TestBinary
    gpu: str
    returncode: int
    seconds: float
    output: str
    passed: int = 0
    failed: int = 0
    ignored: int = 0
    started: float = 0.0  # wall-clock (time.time) start and end: lease records compare them across binaries
    ended: float = 0.0
    holder: dict[str, object] | None = None  # what the GPU's lock file said while the binary ran


@dataclass
class GpuTestRun:
    results: list[BinaryResult] = field(default_factory=list)
    gpus_used: set[str] = field(default_factory=set)
    errors: list[PipelineError] = field(default_factory=list)
    seconds: float = 0.0


def build_argv(config: PipelineConfig, workspace: Workspace, extra: Sequence[str] = (),
               packages: Sequence[str] = ()) -> list[str]:
    """`-p` crates given on the command line win over the configured GPU test crates.

    Like the other stages, a plain feature goes to cargo only when a selected crate
    defines it (cargo rejects the others); `crate/feature` entries pass as written.
    """
    gpu = config.gpu
    argv = ["cargo", "test", "--no-run", "--message-format=json"]
    crates = list(packages or gpu.test_crates)
    for crate in crates:
        workspace.package(crate)  # an unknown crate is a clear error, not a cargo one
        argv += ["-p", crate]
    if not crates:
        argv.append("--workspace")
    argv += feature_args(config, workspace, crates)
    selected = [workspace.package(name) for name in crates] if crates else list(workspace.members)
    wanted = [f for f in gpu.test_features if "/" in f or any(f in p.features for p in selected)]
    if wanted:
        argv += ["--features", ",".join(wanted)]
    return [*argv, *extra]


def parse_binaries(stdout: str) -> list[TestBinary]:
    """Test executables from cargo's JSON messages (one object per line)."""
    binaries: list[TestBinary] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message.get("profile", {}).get("test"):
            continue
        target = message.get("target", {})
        package = message.get("package_id", "")
        name = _package_name(package) or target.get("name", "?")
        binaries.append(TestBinary(
            package=name, target=target.get("name", "?"), kind=(target.get("kind") or ["?"])[0],
            executable=Path(message["executable"]), cwd=Path(message.get("manifest_path", ".")).parent,
        ))
    return binaries


def _package_name(package_id: str) -> str | None:
    # "path+file:///w/crates/prism-gpu#0.4.2" or "prism-gpu 0.4.2 (path+file:///...)" or "...#prism-gpu@0.4.2"
    match = re.search(r"#([^@#]+)@", package_id) or re.match(r"^(\S+) \d", package_id)
    if match:
        return match.group(1)
    match = re.search(r"/([^/#]+)#[\d.]+", package_id)
    return match.group(1) if match else None


_RESULT = re.compile(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")


def count_results(output: str) -> tuple[int, int, int]:
    passed = failed = ignored = 0
    for match in _RESULT.finditer(output):
        passed += int(match.group(1))
        failed += int(match.group(2))
        ignored += int(match.group(3))
    return passed, failed, ignored


def shard_and_run(binaries: Sequence[TestBinary], uuids: Sequence[str], directory: Path, timeout: float,
                  extra_test_args: Sequence[str] = ()) -> GpuTestRun:
    """Run every binary once, on as many leased GPUs as there are (one worker per GPU)."""
    run = GpuTestRun()
    work: queue.Queue[TestBinary] = queue.Queue()
    # Largest first: a crude but free stand-in for "longest first".
    for binary in sorted(binaries, key=lambda b: b.executable.stat().st_size if b.executable.exists() else 0,
                         reverse=True):
        work.put(binary)
    lock = threading.Lock()
    started = time.monotonic()

    def worker(number: int) -> None:
        try:
            lease = acquire(directory, uuids, 1, timeout=timeout, command=f"pipeline test --gpu (worker {number})",
                            progress=log, should_stop=work.empty)
        except PipelineError as exc:
            with lock:
                run.errors.append(exc)
            return
        if lease is None:
            return
        with lease:
            gpu = lease.cuda_visible_devices
            held = read_holder(lock_path(directory, gpu))  # None when an ancestor's lease is inherited
            holder = None if held is None else {"pid": held.pid, "program": held.program}
            while True:
                try:
                    binary = work.get_nowait()
                except queue.Empty:
                    return
                began, wall = time.monotonic(), time.time()
                result = proc.run([str(binary.executable), *extra_test_args], cwd=binary.cwd, check=False,
                                  env={"CUDA_VISIBLE_DEVICES": gpu, "PIPELINE_GPU_LEASE": gpu})
                ended = time.time()
                output = result.stdout + result.stderr
                outcome = BinaryResult(binary, gpu, exit_status(result.returncode), time.monotonic() - began, output,
                                       *count_results(output), started=wall, ended=ended, holder=holder)
                with lock:
                    run.results.append(outcome)
                    run.gpus_used.add(gpu)
                    log(f"---- {binary.label} on {gpu}: exit {outcome.returncode} in {outcome.seconds:.1f} s")
                    if output.strip():
                        log(output.rstrip())

    threads = [threading.Thread(target=worker, args=(i,), name=f"gpu-test-{i}")
               for i in range(min(len(uuids), len(binaries)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


def run_gpu_tests(workspace: Workspace, config: PipelineConfig, inventory: Inventory, *,
                  packages: Sequence[str] = (), extra: Sequence[str] = (), require_gpu: bool = False,
                  timeout: float | None = None, prebuilt: str | None = None, save_prebuilt: str | None = None,
                  lease_record: str | None = None) -> int:
    """Build (or take prebuilt) GPU test binaries and run them sharded across leased GPUs.

    With ``prebuilt`` the ``extra`` arguments go to each test binary (libtest's, e.g.
    ``--test-threads 1``); otherwise to cargo. ``save_prebuilt`` only builds and copies.
    """
    from pipeline.gpu import prebuilt as saved

    root = workspace.root
    if save_prebuilt is not None:
        binaries = build_binaries(workspace, config, packages, extra)
        index = saved.save(binaries, Path(save_prebuilt), root)
        print(f"test --gpu: saved {len(binaries)} test binaries to {save_prebuilt} ({index.name}); run them with "
              f"`pipeline test --gpu --prebuilt {save_prebuilt}`")
        return 0
    if not inventory.available:
        if require_gpu:
            raise CheckFailed(f"test --gpu: {inventory.reason}",
                              "run the GPU tests on a GPU runner, or drop --require-gpu to skip them here")
        log(f"test --gpu: skipped: {inventory.reason}")
        return 0
    uuids = [gpu.uuid for gpu in visible(inventory)]
    if prebuilt is not None:
        binaries = saved.load(Path(prebuilt), root)
        log(f"test --gpu: {len(binaries)} prebuilt test binaries from {prebuilt}")
    else:
        binaries = build_binaries(workspace, config, packages, extra)
    if not binaries:
        log("test --gpu: no test binaries to run")
        return 0
    wait = config.gpu.lease_timeout if timeout is None else timeout
    run = shard_and_run(binaries, uuids, lease_dir(config.gpu.lease_dir), wait,
                        extra_test_args=extra if prebuilt is not None else ())
    if lease_record is not None:
        saved.write_records(Path(lease_record), run)
    shared = saved.overlaps(saved.records(run))
    if shared:  # the leases failed their one job: say so loudly, whatever the tests said
        raise CheckFailed("test --gpu: binaries shared a GPU at once: " + "; ".join(
            f"{o.first} and {o.second} on {o.gpu} for {o.seconds:.2f} s" for o in shared),
            f"check that every job on the host uses the same lease directory ({lease_dir(config.gpu.lease_dir)})")
    log(f"test --gpu: lease records: {len(run.results)} binaries on {len(run.gpus_used)} GPU(s), "
        "no two on one GPU at once" + (f" (written to {lease_record})" if lease_record else ""))
    rerun = f"pipeline gpu run --gpus 1 -- {prebuilt}/BINARY" if prebuilt is not None else None
    return report_run(run, binaries, rerun)


def build_binaries(workspace: Workspace, config: PipelineConfig, packages: Sequence[str],
                   extra: Sequence[str]) -> list[TestBinary]:
    root = workspace.root
    argv = build_argv(config, workspace, extra, packages)
    log(f"test --gpu: {' '.join(argv)}  (in {root})")
    built = proc.run(argv, cwd=root, check=False)
    if built.returncode != 0:
        rendered = [json.loads(line).get("message", {}).get("rendered", "") for line in built.stdout.splitlines()
                    if line.startswith('{"reason":"compiler-message"')]
        raise CheckFailed(
            f"test --gpu: `{' '.join(argv)}` failed (exit {built.returncode})\n"
            + proc.tail("\n".join(r for r in rendered if r) + "\n" + built.stderr, 30),
            "fix the build errors above",
        )
    return parse_binaries(built.stdout)


def report_run(run: GpuTestRun, binaries: Sequence[TestBinary], rerun: str | None = None) -> int:
    """Print the merged result; failing or missing binaries fail the stage."""
    if run.errors and not run.results:
        raise run.errors[0]
    passed = sum(r.passed for r in run.results)
    failed = sum(r.failed for r in run.results)
    ignored = sum(r.ignored for r in run.results)
    failing = [r for r in run.results if r.returncode != 0]
    print(f"test --gpu: {len(run.results)} test binaries on {len(run.gpus_used)} GPU(s) in {run.seconds:.1f} s: "
          f"{passed} passed, {failed} failed, {ignored} ignored")
    missing = len(binaries) - len(run.results)
    if failing or missing:
        names = ", ".join(f"{r.binary.label} (exit {r.returncode})" for r in failing)
        raise CheckFailed(
            f"test --gpu: {len(failing)} test binar{'y' if len(failing) == 1 else 'ies'} failed"
            + (f": {names}" if names else "") + (f"; {missing} not run" if missing else ""),
            f"rerun one with `{rerun or 'pipeline gpu run --gpus 1 -- cargo test -p CRATE NAME'}`",
        )
    return 0
