"""Progress on stderr: plain lines and heartbeats in CI, rich on a terminal, counts that agree with summaries."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline

from pipeline.foundation.errors import PipelineError
from pipeline.foundation.progress import Progress, choose_mode


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _plain(title: str = "cuda", total: int | None = 3, **kwargs: object) -> tuple[Progress, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    return Progress(title, total, mode="plain", stream=stream, clock=clock, background=False, **kwargs), stream, clock


def test_plain_mode_prints_a_line_per_finished_job_with_the_count() -> None:
    progress, stream, clock = _plain(verb="compiled")
    with progress:
        progress.started("saxpy sm_90")
        progress.started("reduce compute_120+sm_120")
        clock.now += 1.5
        progress.finished("saxpy sm_90")
        progress.finished("reduce compute_120+sm_120", count=2, seconds=0.7)
    assert stream.getvalue().splitlines() == [
        "cuda: [1/3] compiled saxpy sm_90 (1.5 s)",
        "cuda: [3/3] compiled reduce compute_120+sm_120 (0.7 s)",
    ]
    assert progress.done == progress.total


def test_plain_heartbeat_names_what_is_still_running_after_ten_quiet_seconds() -> None:
    progress, stream, clock = _plain(total=2)
    with progress:
        progress.started("clippy")
        progress.started("test")
        clock.now += 9.9
        progress.tick()
        assert stream.getvalue() == ""  # not yet: a line within the interval is enough
        clock.now += 0.1
        progress.tick()
        assert stream.getvalue().splitlines() == [
            "cuda: [0/2] still running after 10.0 s: clippy (10.0 s), test (10.0 s)"]
        clock.now += 5
        progress.finished("clippy")
        clock.now += 9
        progress.tick()  # the finished line reset the interval
        assert len(stream.getvalue().splitlines()) == 2
        clock.now += 1
        progress.tick()
    lines = stream.getvalue().splitlines()
    assert lines[1] == "cuda: [1/2] finished clippy (15.0 s)"
    assert lines[2] == "cuda: [1/2] still running after 25.0 s: test (25.0 s)"


def test_failed_jobs_say_so_and_unknown_totals_count_what_is_done() -> None:
    progress, stream, clock = _plain("release build", None, verb="built")
    with progress:
        progress.started("cargo build --release")
        progress.finished("prism-core (lib)")
        clock.now += 12
        progress.tick()
        progress.finished("cargo build --release", ok=False)
    assert stream.getvalue().splitlines() == [
        "release build: built prism-core (lib)",
        "release build: [1 done] still running after 12.0 s: cargo build --release (12.0 s)",
        "release build: failed cargo build --release (12.0 s)",
    ]


def test_only_the_innermost_reporter_heartbeats() -> None:
    outer, out_stream, clock = _plain("release gates", 2, lines=False)
    inner = Progress("clippy", None, mode="plain", stream=out_stream, clock=clock, background=False)
    with outer:
        outer.started("clippy")
        with inner:
            inner.started("cargo clippy --workspace")
            clock.now += 10
            outer.tick()
            inner.tick()
            inner.finished("cargo clippy --workspace")
        outer.finished("clippy")
        outer.tick()  # the inner reporter spoke just now
    assert out_stream.getvalue().splitlines() == [
        "clippy: still running after 10.0 s: cargo clippy --workspace (10.0 s)",
        "clippy: finished cargo clippy --workspace (10.0 s)",
    ]


def test_the_background_thread_prints_the_heartbeat() -> None:
    clock = Clock()
    written = threading.Event()

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            count = super().write(text)
            written.set()
            return count

    stream = Stream()
    with Progress("cuda", 1, mode="plain", stream=stream, clock=clock, heartbeat=10.0) as progress:
        progress.started("saxpy sm_90")
        clock.now += 11
        written.wait()  # the thread notices the quiet interval on its own
    assert "still running after 11.0 s: saxpy sm_90" in stream.getvalue()


def test_mode_follows_ci_and_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_mode(None, stream=Terminal(), env={}) == "rich"
    assert choose_mode(None, stream=Terminal(), env={"CI": "true"}) == "plain"
    assert choose_mode(None, stream=Terminal(), env={"CI": "false"}) == "rich"
    assert choose_mode(None, stream=io.StringIO(), env={}) == "plain"  # a log file, a pipe
    assert choose_mode(False, stream=Terminal(), env={}) == "off"
    monkeypatch.setitem(sys.modules, "rich.progress", None)  # rich not installed: plain lines, no crash
    assert choose_mode(None, stream=Terminal(), env={}) == "plain"


def test_off_prints_nothing() -> None:
    stream = io.StringIO()
    with Progress("cuda", 2, enabled=False, stream=stream, background=False) as progress:
        progress.started("a")
        progress.finished("a")
        progress.tick()
    assert stream.getvalue() == ""


def test_rich_mode_renders_a_live_bar_on_a_terminal() -> None:
    from rich.console import Console

    console = Console(force_terminal=True, file=io.StringIO(), width=120, color_system=None)
    with Progress("cuda", 3, verb="compiled", console=console) as progress:
        assert progress.mode == "rich"
        progress.started("saxpy sm_90")
        progress.finished("saxpy sm_90", seconds=0.4)
        progress.started("reduce compute_120+sm_120")
        progress.finished("reduce compute_120+sm_120", count=2, ok=False, seconds=0.9)
    shown = console.file.getvalue()
    assert "\x1b[" in shown  # cursor control: a live display, not lines
    assert "3/3" in shown and "cuda" in shown
    assert "failed reduce compute_120+sm_120 (0.9 s)" in shown
    assert "[bold" not in shown  # markup rendered, not printed


def test_rich_mode_without_live_display_prints_start_and_end_lines() -> None:
    from rich.console import Console

    console = Console(force_terminal=True, file=io.StringIO(), width=120, color_system=None)
    with Progress("pipeline clippy feature sets", 2, console=console, live=False, announce=True) as progress:
        progress.started("prism-core [default]")
        progress.finished("prism-core [default]", seconds=2.0)
    shown = console.file.getvalue()
    assert "pipeline clippy feature sets [1/2] prism-core [default] ..." in shown
    assert "pipeline clippy feature sets [1/2] ok prism-core [default] (2.0 s)" in shown


def test_release_build_counts_units_from_cargo_messages() -> None:
    from pipeline.release.artifacts import _artifact_message

    progress, stream, _clock = _plain("release build", None, verb="built")
    executables: dict[str, list[Path]] = {"prism-cli": []}
    manifest = Path("/ws/crates/prism-cli/Cargo.toml")
    messages = [
        {"reason": "compiler-artifact", "fresh": True, "target": {"name": "prism-core", "kind": ["lib"]}},
        {"reason": "compiler-artifact", "fresh": False, "target": {"name": "prism-cli", "kind": ["bin"]},
         "manifest_path": str(manifest), "executable": "/ws/target/release/prism"},
        {"reason": "build-finished", "success": True},
    ]
    with progress:
        for message in messages:
            _artifact_message(json.dumps(message), {manifest.resolve(): "prism-cli"}, executables, progress)
        _artifact_message("not json", {}, executables, progress)
    assert stream.getvalue().splitlines() == ["release build: built prism-cli (bin)"]  # fresh units are not work
    assert executables == {"prism-cli": [Path("/ws/target/release/prism")]}


def test_a_cargo_stage_ends_with_a_line_in_ci(tmp_path: Path) -> None:
    if shutil.which("cargo") is None or shutil.which("rustfmt") is None:
        pytest.skip("needs cargo and rustfmt")
    root = tmp_path / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target"))
    result = run_pipeline(["--workspace", str(root), "fmt"], env=pipeline_env(None, None, CI="true"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^fmt: finished cargo fmt --all --check \(\d+\.\d s\)$", result.stderr, re.M), result.stderr


def _nvcc() -> bool:
    from pipeline.cuda.toolkit import find_cuda_tool

    try:
        find_cuda_tool("nvcc")
    except PipelineError:
        return False
    return True


LINE = re.compile(r"^cuda: \[(\d+)/(\d+)\] compiled (\S+) (\S+) \(", re.M)
SUMMARY = re.compile(r"(\d+) compiled, (\d+) cached")


@pytest.mark.nvcc
@pytest.mark.skipif(not _nvcc(), reason="needs the CUDA toolkit's nvcc")
def test_cuda_progress_counts_agree_with_the_summary(tmp_path: Path) -> None:
    """PTX jobs make two files: the count is of files, the same number the summary reports."""
    root = tmp_path / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target"))
    env = pipeline_env(None, None, CI="true", PIPELINE_CUDA_CACHE=str(tmp_path / "cache"))
    runs = [["--arch", "sm_90"], [], []]  # cold for one arch; then the configured three (sm_90 cached); then all cached
    for arch_args in runs:
        result = run_pipeline(["--workspace", str(root), "cuda", *arch_args, "--json"], env=env)
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)  # stdout stays one JSON document
        compiled, cached = (int(n) for n in SUMMARY.search(result.stderr).groups())
        lines = LINE.findall(result.stderr)
        if compiled == 0:
            assert lines == []
            continue
        assert {int(total) for _, total, _, _ in lines} == {compiled}, result.stderr
        assert max(int(n) for n, _, _, _ in lines) == compiled
        # every finished job has its line, and its files add up to the count
        files = sum(len(arch.split("+")) for _, _, _, arch in lines)
        assert files == compiled == len(document["compiled"]), result.stderr
    assert cached == 12 and compiled == 0  # the last run: 3 kernels x (3 cubins + PTX), all cached
