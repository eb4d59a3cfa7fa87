"""`pipeline test --gpu` and `pipeline gpu smoke` without a GPU: real cargo test binaries, fake NVML inventory."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, fake_gpus, pipeline_env, run_pipeline, write_fake_pynvml

from pipeline.gpu.smoke import plan_problems
from pipeline.gpu.testing import build_argv, count_results, parse_binaries
from pipeline.project import load_config

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")

TEST_SOURCE = """
#[cfg(test)]
mod tests {{
    #[test]
    fn sees_a_leased_gpu() {{
        let gpu = std::env::var("CUDA_VISIBLE_DEVICES").expect("CUDA_VISIBLE_DEVICES is set");
        assert!(gpu.starts_with("GPU-fake"), "{{gpu}}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(std::env::var("FAIL_GPU_TEST_{index}").is_err(), "asked to fail");
    }}

    #[test]
    #[ignore]
    fn ignored() {{}}
}}
"""


@pytest.fixture(scope="module")
def gpu_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three crates with one GPU test each (built once by the first `test --gpu`)."""
    root = tmp_path_factory.mktemp("gpuws")
    members = []
    for index in range(3):
        crate = root / "crates" / f"gpu-t{index}"
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "gpu-t{index}"\nversion = "0.1.0"\nedition = "2021"\n\n[features]\ngpu = []\n'
        )
        (crate / "src" / "lib.rs").write_text(TEST_SOURCE.format(index=index))
        members.append(f"gpu-t{index}")
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[profile.dev]\ndebug = 0\n\n'
        "[workspace.metadata.pipeline.gpu]\n"
        f"test-crates = {json.dumps(members)}\ntest-features = [\"gpu\"]\n"
    )
    return root


def _env(tmp_path: Path, gpus: int, **extra: str) -> dict[str, str]:
    fake = write_fake_pynvml(tmp_path / "fake")
    return pipeline_env(fake, fake_gpus(gpus), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"), **extra)


@pytest.mark.slow
@needs_cargo
def test_gpu_tests_are_sharded_across_gpus_and_merged(gpu_workspace: Path, tmp_path: Path) -> None:
    result = run_pipeline(["--workspace", str(gpu_workspace), "test", "--gpu"], env=_env(tmp_path, 2))
    assert result.returncode == 0, result.stderr
    assert "test --gpu: 3 test binaries on 2 GPU(s)" in result.stdout
    assert "3 passed, 0 failed, 3 ignored" in result.stdout
    assert "GPU-fake0000" in result.stderr and "GPU-fake0001" in result.stderr
    assert "--features gpu" in result.stderr


@pytest.mark.slow
@needs_cargo
def test_a_failing_gpu_test_fails_the_stage(gpu_workspace: Path, tmp_path: Path) -> None:
    result = run_pipeline(["--workspace", str(gpu_workspace), "test", "--gpu"],
                          env=_env(tmp_path, 1, FAIL_GPU_TEST_1="1"))
    assert result.returncode == 1
    assert "2 passed, 1 failed" in result.stdout
    assert "gpu-t1 (lib gpu_t1) (exit 101)" in result.stderr
    assert "asked to fail" in result.stderr


def test_gpu_tests_skip_without_gpu(gpu_workspace: Path, tmp_path: Path) -> None:
    env = _env(tmp_path, 0)
    env["FAKE_NVML"] = '{"fail": "Driver Not Loaded"}'
    skipped = run_pipeline(["--workspace", str(gpu_workspace), "test", "--gpu"], env=env)
    assert skipped.returncode == 0 and "test --gpu: skipped: no NVIDIA driver/GPU" in skipped.stderr
    required = run_pipeline(["--workspace", str(gpu_workspace), "test", "--gpu", "--require-gpu"], env=env)
    assert required.returncode == 1 and "Driver Not Loaded" in required.stderr


def test_build_argv_and_parsing(gpu_workspace: Path) -> None:
    from pipeline.workspace.load import load_workspace

    workspace = load_workspace(gpu_workspace)
    config = load_config({"pipeline": {"features": ["x"], "gpu": {"test-crates": ["gpu-t0", "gpu-t2"],
                                                                   "test-features": ["gpu", "nope"]}}},
                         gpu_workspace / "Cargo.toml")
    # `x` and `nope` are defined by no selected crate: cargo would reject them
    assert build_argv(config, workspace) == ["cargo", "test", "--no-run", "--message-format=json",
                                             "-p", "gpu-t0", "-p", "gpu-t2", "--features", "gpu"]
    assert build_argv(config, workspace, packages=["gpu-t1"])[4:6] == ["-p", "gpu-t1"]
    messages = "\n".join(json.dumps(m) for m in [
        {"reason": "compiler-artifact", "package_id": "path+file:///w/crates/a#0.1.0", "executable": "/t/a-123",
         "profile": {"test": True}, "target": {"name": "a", "kind": ["lib"]},
         "manifest_path": "/w/crates/a/Cargo.toml"},
        {"reason": "compiler-artifact", "package_id": "b 0.1.0 (path+file:///w/b)", "executable": None,
         "profile": {"test": False}, "target": {"name": "b", "kind": ["lib"]}, "manifest_path": "/w/b/Cargo.toml"},
        {"reason": "compiler-artifact", "package_id": "path+file:///w/c#gpu-c@0.2.0", "executable": "/t/it-9",
         "profile": {"test": True}, "target": {"name": "it", "kind": ["test"]}, "manifest_path": "/w/c/Cargo.toml"},
        {"reason": "build-finished", "success": True},
    ]) + "\n   Compiling a v0.1.0\n"
    binaries = parse_binaries(messages)
    assert [(b.package, b.kind, b.target, str(b.cwd)) for b in binaries] == [
        ("a", "lib", "a", "/w/crates/a"), ("gpu-c", "test", "it", "/w/c")]
    assert count_results("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\n"
                         "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured") == (4, 2, 1)


# ---------------------------------------------------------------- gpu smoke without a GPU


def test_smoke_skips_without_gpu_and_fails_when_required(tmp_path: Path) -> None:
    env = _env(tmp_path, 0)
    env["FAKE_NVML"] = '{"fail": "Driver Not Loaded"}'
    example = str(REPO / "examples" / "prism4d")
    skipped = run_pipeline(["--workspace", example, "gpu", "smoke", "--json"], env=env)
    assert skipped.returncode == 0
    assert json.loads(skipped.stdout) == {"status": "skipped", "devices": [],
                                          "reason": "no NVIDIA driver/GPU: NVML could not start (Driver Not Loaded)"}
    required = run_pipeline(["--workspace", example, "gpu", "smoke", "--require-gpu"], env=env)
    assert required.returncode == 1 and "--require-gpu, but no NVIDIA driver/GPU" in required.stderr


def test_smoke_plan_checks_cases_against_the_manifest() -> None:
    config = load_config({"pipeline": {"cuda": {"smoke": [
        {"kernel": "saxpy", "args": ["n", "f32:2", "@x", "@y"], "arrays": {"x": "i", "y": "1"},
         "expect": {"y": "2*i+1"}},
        {"kernel": "missing_fn", "module": "saxpy"},
        {"kernel": "k", "module": "nope"},
    ]}}}, Path("Cargo.toml"))
    manifest = {"kernels": [{"name": "saxpy", "entries": ["saxpy"]}]}
    problems = plan_problems(manifest, config.cuda.smoke)
    assert len(problems) == 2
    assert "saxpy.fatbin has no extern \"C\" kernel 'missing_fn'" in problems[0]
    assert "no kernel file 'nope'" in problems[1]


def test_example_smoke_case_is_configured() -> None:
    from pipeline.project import load_project

    cases = load_project(REPO / "examples" / "prism4d").config.cuda.smoke
    assert [(c.kernel, c.module_name, tuple(c.args)) for c in cases] == [
        ("saxpy", "saxpy", ("n", "f32:2.0", "@x", "@y"))]


class _BusyDevice:
    """pycuda.driver.Device of a GPU the driver cannot open (exclusive-process mode, already taken)."""

    def __init__(self, ordinal: int) -> None:
        self.ordinal = ordinal

    def compute_capability(self) -> tuple[int, int]:
        return (9, 0)

    def name(self) -> str:
        return "NVIDIA H200"

    def pci_bus_id(self) -> str:
        return "0000:00:06.0"

    def make_context(self) -> None:
        raise RuntimeError("cuCtxCreate failed: CUDA-capable device(s) is/are busy or unavailable")


def test_smoke_reports_a_gpu_it_cannot_open_as_a_failure(monkeypatch, tmp_path: Path) -> None:
    # pycuda is the driver boundary here, faked like NVML: a busy GPU is a failed check, not a traceback.
    import types

    from pipeline.gpu import smoke
    from pipeline.gpu.nvml import Gpu, Inventory

    fake = types.SimpleNamespace(init=lambda: None, Device=_BusyDevice)
    fake.Device.count = staticmethod(lambda: 1)  # type: ignore[attr-defined]
    monkeypatch.setattr(smoke, "_import_pycuda", lambda: fake)
    inventory = Inventory(True, gpus=(Gpu(0, "GPU-x", "NVIDIA H200", "9.0", 1, 0, True),))
    report = smoke.run_smoke({"kernels": []}, tmp_path, (), inventory)
    assert report.status == "failed"
    assert "busy or unavailable" in (report.devices[0].modules[0].error or "")
