"""GPU leases: real flocks between real processes, on a fake NVML inventory (one or two GPUs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, pipeline_env, run_pipeline, write_fake_pynvml

from pipeline.gpu.leases import busy, lock_path, try_acquire

RECORD = (
    "import json, os, sys, time\n"
    "start = time.time(); time.sleep(float(sys.argv[2])); end = time.time()\n"
    "open(sys.argv[1], 'a').write(json.dumps([start, end, os.environ['CUDA_VISIBLE_DEVICES']]) + '\\n')\n"
)

# Each child holds its lease until the other child has started too (or 120 s went by), so the test
# shows two leases held at once however slowly a loaded machine starts the second process. With
# leases wrongly serialised, the first child gives up waiting and the second gets the same GPU.
RECORD_TOGETHER = (
    "import json, os, sys, time\n"
    "started = sys.argv[1] + '.started'\n"
    "open(started, 'a').write(os.environ['CUDA_VISIBLE_DEVICES'] + '\\n')\n"
    "deadline = time.time() + 120\n"
    "while len(open(started).read().splitlines()) < 2 and time.time() < deadline:\n"
    "    time.sleep(0.05)\n"
    "open(sys.argv[1], 'a').write(json.dumps([0, 0, os.environ['CUDA_VISIBLE_DEVICES']]) + '\\n')\n"
)


@pytest.fixture
def one_gpu(tmp_path: Path) -> dict[str, str]:
    fake = write_fake_pynvml(tmp_path / "fake")
    return pipeline_env(fake, fake_gpus(1), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"))


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], env=env, cwd=Path(__file__).parent.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path) -> None:
    while not path.exists() or not path.read_text().strip():
        time.sleep(0.05)


def test_two_concurrent_runs_on_one_gpu_are_serialised(one_gpu: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "intervals.jsonl"
    runs = [_spawn(["gpu", "run", "--gpus", "1", "--", sys.executable, "-c", RECORD, str(log), "1.0"], one_gpu)
            for _ in range(2)]
    outputs = [run.communicate() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    records = sorted(json.loads(line) for line in log.read_text().splitlines())
    (_, a_end, a_gpu), (b_start, _, b_gpu) = records
    assert a_end <= b_start, "the second command started while the first still held the only GPU"
    assert a_gpu == b_gpu == "GPU-fake0000-0000-0000-0000-000000000000"
    assert any("gpu lease: waiting for 1 free GPU(s) of 1" in err for _, err in outputs)


def test_killed_holder_frees_the_lease(one_gpu: dict[str, str], tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    hold = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    holder = _spawn(["gpu", "run", "--", sys.executable, "-c", hold], one_gpu)
    _wait_for(pid_file)
    child = int(pid_file.read_text())
    try:
        lock = lock_path(tmp_path / "leases", "GPU-fake0000-0000-0000-0000-000000000000")
        assert busy(tmp_path / "leases", ["GPU-fake0000-0000-0000-0000-000000000000"])
        assert json.loads(lock.read_text())["pid"] == holder.pid
        waiter = _spawn(["gpu", "run", "--timeout", "120", "--", sys.executable, "-c", "print('got the GPU')"],
                        one_gpu)
        time.sleep(1.0)
        assert waiter.poll() is None, "the waiter ran while the holder was alive"
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        out, err = waiter.communicate()
        assert waiter.returncode == 0, err
        assert "got the GPU" in out
    finally:
        os.kill(child, signal.SIGKILL)  # the orphaned command of the killed holder


def test_timeout_names_the_holder(one_gpu: dict[str, str], tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    hold = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    holder = _spawn(["gpu", "run", "--", sys.executable, "-c", hold], one_gpu)
    _wait_for(pid_file)
    try:
        result = run_pipeline(["gpu", "run", "--timeout", "0.5", "--", "true"], env=one_gpu)
        assert result.returncode == 1
        assert f"held by pid {holder.pid}" in result.stderr
        assert "hint: raise --timeout" in result.stderr
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_exit_code_environment_and_usage_errors(one_gpu: dict[str, str], tmp_path: Path) -> None:
    code = run_pipeline(["gpu", "run", "--", sys.executable, "-c",
                         "import os, sys; print(os.environ['CUDA_VISIBLE_DEVICES']); sys.exit(7)"], env=one_gpu)
    assert code.returncode == 7
    assert code.stdout.strip() == "GPU-fake0000-0000-0000-0000-000000000000"
    too_many = run_pipeline(["gpu", "run", "--gpus", "2", "--", "true"], env=one_gpu)
    assert too_many.returncode == 2 and "this host has 1 usable GPU(s)" in too_many.stderr
    missing = run_pipeline(["gpu", "run", "--gpus", "1"], env=one_gpu)
    assert missing.returncode == 2 and "no command given" in missing.stderr
    restricted = run_pipeline(["gpu", "run", "--", "true"], env={**one_gpu, "CUDA_VISIBLE_DEVICES": ""})
    assert restricted.returncode == 2
    no_gpu = run_pipeline(["gpu", "run", "--", "true"], env={**one_gpu, "FAKE_NVML": '{"fail": "Driver Not Loaded"}'})
    assert no_gpu.returncode == 1 and "no NVIDIA driver/GPU" in no_gpu.stderr


def test_unusable_lease_directory_is_an_error_naming_it(one_gpu: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_pipeline(["gpu", "run", "--", "true"], env={**one_gpu, "PIPELINE_GPU_LEASE_DIR": str(blocker / "x")})
    assert result.returncode == 1, result.stderr
    assert f"gpu lease: cannot lock in {blocker / 'x'}" in result.stderr
    assert "hint:" in result.stderr and "lease-dir" in result.stderr and "Traceback" not in result.stderr


def test_a_command_that_cannot_be_started_is_an_error_naming_it(one_gpu: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "not-executable.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    result = run_pipeline(["gpu", "run", "--", str(script)], env=one_gpu)
    assert result.returncode == 1, result.stderr
    assert f"`{script}` could not be started: Permission denied" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_several_gpus_are_taken_all_or_nothing(tmp_path: Path) -> None:
    uuids = ["GPU-a", "GPU-b"]
    first = try_acquire(tmp_path, uuids, 1, "first")
    assert first is not None and first.uuids == ("GPU-a",)
    assert try_acquire(tmp_path, uuids, 2, "second") is None
    # the failed attempt let GPU-b go again
    other = try_acquire(tmp_path, uuids, 1, "third")
    assert other is not None and other.uuids == ("GPU-b",)
    assert set(busy(tmp_path, uuids)) == {"GPU-a", "GPU-b"}
    first.release()
    other.release()
    assert busy(tmp_path, uuids) == {}
    both = try_acquire(tmp_path, uuids, 2, "both")
    assert both is not None and both.cuda_visible_devices == "GPU-a,GPU-b"
    both.release()


def test_two_gpus_run_two_commands_at_once(tmp_path: Path) -> None:
    fake = write_fake_pynvml(tmp_path / "fake")
    env = pipeline_env(fake, fake_gpus(2), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"))
    log = tmp_path / "intervals.jsonl"
    runs = [_spawn(["gpu", "run", "--", sys.executable, "-c", RECORD_TOGETHER, str(log)], env) for _ in range(2)]
    for run in runs:
        run.communicate()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r[2] for r in records) == ["GPU-fake0000-0000-0000-0000-000000000000",
                                             "GPU-fake0001-0000-0000-0000-000000000000"]


def test_nested_run_takes_the_gpu_its_parent_holds(one_gpu: dict[str, str], tmp_path: Path) -> None:
    """CI runs `gpu run --gpus 1 -- nox -s gpu_test`: the inner lease must not wait for the outer one."""
    inner = [sys.executable, "-m", "pipeline", "gpu", "run", "--gpus", "1", "--timeout", "20", "--",
             sys.executable, "-c", "import os; print('inner sees', os.environ['CUDA_VISIBLE_DEVICES'])"]
    result = run_pipeline(["gpu", "run", "--gpus", "1", "--timeout", "20", "--", *inner], env=one_gpu)
    assert result.returncode == 0, result.stderr
    assert "inner sees GPU-fake0000" in result.stdout
    assert "waiting" not in result.stderr


def test_inherited_gpu_is_shared_one_holder_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uuid = "GPU-fake0000-0000-0000-0000-000000000000"
    monkeypatch.setenv("PIPELINE_GPU_LEASE", uuid)
    first = try_acquire(tmp_path, [uuid], 1, "first")
    assert first is not None and first.uuids == (uuid,)
    assert try_acquire(tmp_path, [uuid], 1, "second") is None
    first.release()
    second = try_acquire(tmp_path, [uuid], 1, "second")
    assert second is not None
    second.release()
