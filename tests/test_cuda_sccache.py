"""`cuda.cache = "sccache"` for real: a Redis server on 127.0.0.1, two checkouts in different directories
as two runners; the second build is served by Redis (`sccache --show-stats`)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline

from pipeline.cuda.build import find_sccache
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation.errors import PipelineError

try:
    find_cuda_tool("nvcc")
    SCCACHE: Path | None = find_sccache()
    MISSING = "" if shutil.which("redis-server") else "redis-server is not installed (apt-get install redis-server)"
except PipelineError as exc:
    SCCACHE, MISSING = None, exc.message

pytestmark = [pytest.mark.nvcc, pytest.mark.skipif(bool(MISSING), reason=f"needs nvcc, sccache, redis: {MISSING}")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    while process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"redis-server exited with {process.returncode}")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


def _checkout(path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "prism4d", path, ignore=shutil.ignore_patterns("target", "dist"))
    manifest = path / "Cargo.toml"
    text = manifest.read_text()
    assert "\nptx = true" in text
    manifest.write_text(text.replace("\nptx = true", '\ncache = "sccache"\nptx = true', 1))
    return path


class Runner:
    """One CI runner: its own sccache server (port, local disk cache), the shared Redis backend."""

    def __init__(self, home: Path, redis: str, stage: Path) -> None:
        self.env = pipeline_env(None, None, SCCACHE_REDIS_ENDPOINT=redis, SCCACHE_DIR=str(home / "sccache"),
                                SCCACHE_SERVER_PORT=str(_free_port()), SCCACHE_IDLE_TIMEOUT="0",
                                SCCACHE_PATH=str(SCCACHE), PIPELINE_CUDA_STAGE=str(stage),
                                CARGO_TARGET_DIR=str(home / "target"))
        for name in ("PIPELINE_CUDA_ARCHS", "PIPELINE_CUDA_PREBUILT", "PRISM_NO_CUDA", "PIPELINE_WORKSPACE",
                     "RUSTC_WRAPPER", "SCCACHE_GHA_ENABLED", "SCCACHE_BUCKET"):
            self.env.pop(name, None)
        self.sccache(["--start-server"])

    def sccache(self, args: list[str]) -> str:
        result = subprocess.run([str(SCCACHE), *args], env=self.env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stats(self) -> dict[str, dict[str, int]]:
        data = json.loads(self.sccache(["--show-stats", "--stats-format", "json"]))["stats"]
        return {"hits": data["cache_hits"]["counts"], "misses": data["cache_misses"]["counts"],
                "errors": data["cache_errors"]["counts"]}

    def stop(self) -> None:
        # sccache stores a miss's result after answering the compile: let those writes reach Redis
        # before the server (and with it this "runner") goes away.
        # nvcc's own result and each cicc/ptxas step are written: wait until the count stops moving.
        seen, steady = -1, 0
        for _ in range(600):
            data = json.loads(self.sccache(["--show-stats", "--stats-format", "json"]))["stats"]
            written = data["cache_writes"] + data["cache_write_errors"]
            steady = steady + 1 if written == seen else 0
            seen = written
            if steady >= 5 and written >= sum(data["cache_misses"]["counts"].values()):
                break
            time.sleep(0.1)
        subprocess.run([str(SCCACHE), "--stop-server"], env=self.env, capture_output=True)


def test_second_checkout_is_all_sccache_hits(tmp_path: Path, redis: str) -> None:
    stage = tmp_path / "stage"  # /tmp/pipeline-cuda-stage on every real runner
    first = Runner(tmp_path / "runner1", redis, stage)
    try:
        root = _checkout(tmp_path / "runner1" / "work" / "prism4d")
        result = run_pipeline(["--workspace", str(root), "cuda", "--json"], env=first.env)
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["compiled"]) == 12  # 3 kernels x (3 cubins + PTX)
        cold = first.stats()
    finally:
        first.stop()
    assert sum(cold["misses"].values()) > 0 and not cold["errors"]

    second = Runner(tmp_path / "runner2", redis, stage)
    try:
        # Another directory, another depth; built by cargo, whose build.rs runs the tool.
        root = _checkout(tmp_path / "runner2" / "builds" / "x" / "prism4d")
        result = subprocess.run(["cargo", "build", "--offline", "-p", "prism-gpu", "--features", "gpu"], cwd=root,
                                env={**second.env, "PIPELINE_CUDA_TOOL": f"{sys.executable} -m pipeline"},
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "plain nvcc" not in result.stderr  # the tool built them, through sccache
        warm = second.stats()
    finally:
        second.stop()
    # The second runner's compiles came from Redis: nvcc's cicc (PTX) and ptxas (CUBIN) steps.
    print(f"cold: {cold}\nwarm: {warm}")
    # Every ptxas step hits. No cicc step misses for want of an entry: sccache 0.16 counts a few as
    # Redis read errors (more on a loaded machine), never as a plain miss.
    assert warm["hits"].get("CUBIN", 0) == 9 and "CUBIN" not in warm["misses"], warm
    assert warm["hits"].get("PTX", 0) > 0 and warm["misses"].get("PTX", 0) == warm["errors"].get("PTX", 0), warm
    assert warm["hits"].get("PTX", 0) + warm["misses"].get("PTX", 0) == 12, warm
    assert warm["hits"].get("CUDA", 0) == cold["misses"].get("CUDA", 0) == 0  # no `nvcc -c` in a fatbin set
    fatbins = sorted(p.name for p in (root / "target" / "cuda").glob("*.fatbin"))
    assert fatbins == ["reduce.fatbin", "saxpy.fatbin", "stencil.fatbin"]
