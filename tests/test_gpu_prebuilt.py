"""`pipeline test --gpu --prebuilt DIR`: prebuilt test binaries under GPU leases, without cargo, with lease records.

The binaries are small shell scripts that print libtest's result line and log, on their
own, when they ran and on which GPU: the lease records are checked against that log.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, pipeline_env, run_pipeline, write_fake_pynvml

from pipeline.gpu.prebuilt import overlaps, read_records

FAKE_TEST = """#!/bin/sh
# a libtest binary stand-in: logs its GPU and run time, then reports {passed} passed
start=$(date +%s.%N)
sleep {sleep}
echo "$CUDA_VISIBLE_DEVICES $start $(date +%s.%N) {name} $(pwd)" >> "$TEST_LOG"
echo "running {passed} tests"
echo "test result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out"
exit {code}
"""


def _binaries(directory: Path, count: int, failing: int | None = None, index: bool = True) -> Path:
    directory.mkdir(parents=True)
    entries = []
    for i in range(count):
        name = f"gpu_t{i}-0123456789abcdef"
        bad = i == failing
        (directory / name).write_text(FAKE_TEST.format(name=name, sleep="0.3", passed=2, failed=1 if bad else 0,
                                                       verdict="FAILED" if bad else "ok", code=101 if bad else 0))
        (directory / name).chmod(0o755)
        entries.append({"file": name, "package": f"gpu-t{i}", "target": f"gpu_t{i}", "kind": "lib",
                        "cwd": f"crates/gpu-t{i}"})
    if index:
        (directory / "binaries.json").write_text(json.dumps({"version": 1, "binaries": entries}))
    return directory


def _workspace(root: Path) -> Path:
    root.mkdir()
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = []\n')
    (root / "crates" / "gpu-t1").mkdir(parents=True)  # only gpu-t1's crate directory is here
    return root


def _run(tmp_path: Path, gpus: int, *args: str) -> tuple[object, Path]:
    fake = write_fake_pynvml(tmp_path / "fake")
    log = tmp_path / "test.log"
    env = pipeline_env(fake, fake_gpus(gpus), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"), TEST_LOG=str(log),
                       PATH="/usr/bin:/bin")  # no cargo on the GPU machine: none needed
    workspace = tmp_path / "ws" if (tmp_path / "ws").exists() else _workspace(tmp_path / "ws")
    return run_pipeline(["--workspace", str(workspace), "test", "--gpu", *args], env=env), log


def test_prebuilt_binaries_shard_across_gpus_and_never_share_one(tmp_path: Path) -> None:
    directory = _binaries(tmp_path / "prebuilt", 6)
    record = tmp_path / "leases.jsonl"
    result, log = _run(tmp_path, 2, "--prebuilt", str(directory), "--lease-record", str(record))
    assert result.returncode == 0, result.stderr
    assert "test --gpu: 6 test binaries on 2 GPU(s)" in result.stdout and "12 passed, 0 failed" in result.stdout
    assert "no two on one GPU at once" in result.stderr
    lines = read_records(record)
    assert len(lines) == 6 and len({line["gpu"] for line in lines}) == 2
    assert overlaps(lines) == []
    for line in lines:
        holder = line["holder"]
        # The lock record names the program only (never its arguments): pid and `pipeline test`.
        assert holder == {"pid": holder["pid"], "program": "pipeline test"} and holder["pid"] > 0
    # what the binaries logged themselves agrees: no two overlapped on one GPU
    own = [dict(zip(("gpu", "start", "end", "binary", "cwd"), row.split())) for row in log.read_text().splitlines()]
    assert len(own) == 6 and overlaps(own) == []
    cwd = {row["binary"]: row["cwd"] for row in own}
    assert cwd["gpu_t1-0123456789abcdef"] == str((tmp_path / "ws" / "crates" / "gpu-t1").resolve())
    assert cwd["gpu_t0-0123456789abcdef"] == str(directory.resolve())  # crate directory absent: DIR


def test_a_failing_prebuilt_binary_fails_the_run(tmp_path: Path) -> None:
    directory = _binaries(tmp_path / "prebuilt", 3, failing=2)
    result, _ = _run(tmp_path, 1, "--prebuilt", str(directory))
    assert result.returncode == 1
    assert "6 passed, 1 failed" in result.stdout
    assert f"pipeline gpu run --gpus 1 -- {directory}/BINARY" in result.stderr
    assert "gpu-t2 (lib gpu_t2) (exit 101)" in result.stderr


def test_a_directory_of_executables_without_index_runs_too(tmp_path: Path) -> None:
    directory = _binaries(tmp_path / "prebuilt", 2, index=False)
    (directory / "notes.txt").write_text("not a test binary")
    result, _ = _run(tmp_path, 1, "--prebuilt", str(directory))
    assert result.returncode == 0, result.stderr
    assert "2 test binaries on 1 GPU(s)" in result.stdout


def test_bad_prebuilt_directories_are_usage_errors(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, 1, "--prebuilt", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "not a directory" in result.stderr
    directory = _binaries(tmp_path / "prebuilt", 2)
    (directory / "gpu_t1-0123456789abcdef").chmod(0o644)
    result, _ = _run(tmp_path, 1, "--prebuilt", str(directory))
    assert result.returncode == 2 and "gpu_t1-0123456789abcdef is missing or not executable" in result.stderr
    (directory / "binaries.json").write_text("{}")
    result, _ = _run(tmp_path, 1, "--prebuilt", str(directory))
    assert result.returncode == 2 and "not a prebuilt test index" in result.stderr
    fake = write_fake_pynvml(tmp_path / "fake")
    plain = run_pipeline(["--workspace", str(tmp_path / "ws"), "test", "--prebuilt", str(directory)],
                         env=pipeline_env(fake, fake_gpus(1)))
    assert plain.returncode == 2 and "apply to the GPU tests only" in plain.stderr


def test_overlaps_finds_a_binary_inside_a_long_one() -> None:
    lines = [{"gpu": "A", "start": 0, "end": 10, "binary": "long"}, {"gpu": "A", "start": 1, "end": 2, "binary": "b"},
             {"gpu": "A", "start": 3, "end": 4, "binary": "c"}, {"gpu": "B", "start": 1, "end": 9, "binary": "d"},
             {"gpu": "A", "start": 10, "end": 11, "binary": "after"}]
    found = overlaps(lines)
    assert [(o.gpu, o.first, o.second, o.seconds) for o in found] == [("A", "long", "b", 1), ("A", "long", "c", 1)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_save_prebuilt_then_run_them_without_cargo(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    crate = workspace / "crates" / "gpu-k"
    (crate / "src").mkdir(parents=True)
    (crate / "tests").mkdir()
    (workspace / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[profile.dev]\n'
                                          "debug = 0\n\n[workspace.metadata.pipeline.gpu]\ntest-crates = [\"gpu-k\"]\n")
    (crate / "Cargo.toml").write_text('[package]\nname = "gpu-k"\nversion = "0.1.0"\nedition = "2021"\n')
    (crate / "fixture.txt").write_text("42\n")
    (crate / "src" / "lib.rs").write_text(
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn leased() {\n"
        '        assert!(std::env::var("CUDA_VISIBLE_DEVICES").unwrap().starts_with("GPU-fake"));\n    }\n}\n')
    (crate / "tests" / "fixture.rs").write_text(
        '#[test]\nfn reads_a_fixture_from_the_crate_dir() {\n    assert_eq!(std::fs::read_to_string("fixture.txt")'
        '.unwrap().trim(), "42");\n}\n')
    fake = write_fake_pynvml(tmp_path / "fake")
    env = pipeline_env(fake, '{"fail": "Driver Not Loaded"}', CARGO_TARGET_DIR=str(tmp_path / "target"))
    out = tmp_path / "prebuilt"
    saved = run_pipeline(["--workspace", str(workspace), "test", "--gpu", "--save-prebuilt", str(out)], env=env)
    assert saved.returncode == 0, saved.stderr  # building needs no GPU
    assert "saved 2 test binaries" in saved.stdout
    index = json.loads((out / "binaries.json").read_text())
    assert sorted((b["kind"], b["cwd"]) for b in index["binaries"]) == [("lib", "crates/gpu-k"),
                                                                      ("test", "crates/gpu-k")]
    shutil.rmtree(tmp_path / "target")  # nothing of the build is left but DIR
    env = pipeline_env(fake, fake_gpus(2), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"), PATH="/usr/bin:/bin")
    ran = run_pipeline(["--workspace", str(workspace), "test", "--gpu", "--prebuilt", str(out), "--",
                        "--test-threads", "1"], env=env)
    assert ran.returncode == 0, ran.stderr
    assert "2 test binaries on" in ran.stdout and "2 passed, 0 failed" in ran.stdout
