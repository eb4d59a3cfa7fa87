"""NVML inventory, `gpu info`, and doctor's GPU checks, with a fake pynvml (the one mocked boundary)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, fake_pynvml_module, pipeline_env, run_pipeline, write_fake_pynvml

from pipeline.gpu.nvml import Gpu, Inventory, read_inventory, visible
from pipeline.runner.doctor import arch_findings, gpu_findings, toolkit_driver_finding


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml_module())
    return lambda state: monkeypatch.setenv("FAKE_NVML", state)


def test_inventory_reads_every_field(fake_nvml) -> None:
    fake_nvml(fake_gpus(2, cc=(12, 0), cuda=12080, driver="570.86.10"))
    inventory = read_inventory()
    assert inventory.available and inventory.reason is None
    assert inventory.driver_version == "570.86.10"
    assert inventory.cuda_driver_version == "12.8"
    assert [g.index for g in inventory.gpus] == [0, 1]
    gpu = inventory.gpus[0]
    assert gpu.uuid.startswith("GPU-fake0000") and gpu.name == "NVIDIA H200"
    assert gpu.compute_capability == "12.0" and gpu.arch == "sm_120"
    assert gpu.memory_total_mib == 150754820096 // (1024 * 1024)
    assert gpu.persistence_mode is True


def test_no_driver_is_an_explicit_result_not_an_exception(fake_nvml) -> None:
    fake_nvml('{"fail": "Driver Not Loaded"}')
    inventory = read_inventory()
    assert not inventory.available
    assert inventory.reason == "no NVIDIA driver/GPU: NVML could not start (Driver Not Loaded)"
    fake_nvml('{"gpus": []}')
    assert read_inventory().reason.startswith("no NVIDIA driver/GPU: the driver (580.159.04) sees no GPU")


def test_missing_bindings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    inventory = read_inventory()
    assert not inventory.available and "nvidia-ml-py" in inventory.reason


def test_unsupported_optional_fields_stay_unknown(fake_nvml) -> None:
    state = json.loads(fake_gpus(1))
    del state["gpus"][0]["persistence"]
    fake_nvml(json.dumps(state))
    assert read_inventory().gpus[0].persistence_mode is None


def test_cuda_visible_devices_restricts_by_index_or_uuid(fake_nvml) -> None:
    fake_nvml(fake_gpus(3))
    inventory = read_inventory()
    uuids = [g.uuid for g in inventory.gpus]
    assert [g.index for g in visible(inventory, "2,0")] == [2, 0]
    assert [g.uuid for g in visible(inventory, uuids[1])] == [uuids[1]]
    assert visible(inventory, "") == ()
    assert [g.index for g in visible(inventory, "1,7,2")] == [1]  # CUDA stops at the first bad entry


def test_gpu_info_cli_text_and_json(tmp_path: Path) -> None:
    fake = write_fake_pynvml(tmp_path / "fake")
    env = pipeline_env(fake, fake_gpus(2))
    result = run_pipeline(["gpu", "info", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["available"] and data["cuda_driver_version"] == "13.0"
    assert len({g["uuid"] for g in data["gpus"]}) == 2 and data["gpus"][1]["arch"] == "sm_90"
    text = run_pipeline(["gpu", "info"], env=env).stdout
    assert "NVIDIA driver 580.159.04, supports CUDA 13.0" in text and "GPU 1  NVIDIA H200  sm_90" in text
    none = run_pipeline(["gpu", "info"], env=pipeline_env(fake, '{"fail": "NVML Shared Library Not Found"}'))
    assert none.returncode == 0
    assert none.stdout.strip() == "no NVIDIA driver/GPU: NVML could not start (NVML Shared Library Not Found)"


# ---------------------------------------------------------------- doctor


def _gpu(index: int, arch: str) -> Gpu:
    number = arch.removeprefix("sm_")
    return Gpu(index, f"GPU-{index}", "Test GPU", f"{number[:-1]}.{number[-1]}", 1000, 0, True)


def test_toolkit_newer_than_driver_is_the_classic_failure() -> None:
    error = toolkit_driver_finding("13.0.88", "12.8", "570.86")
    assert error.level == "error" and "newer than driver 570.86 supports (CUDA 12.8)" in error.message
    assert "upgrade the NVIDIA driver" in error.hint
    warning = toolkit_driver_finding("12.9.41", "12.4", "550.54")
    assert warning.level == "warning" and "PTX" in warning.message
    assert toolkit_driver_finding("12.4.0", "13.0", "580").level == "ok"
    assert toolkit_driver_finding(None, "13.0", "580") is None


def test_architecture_coverage_and_support() -> None:
    gpus = [_gpu(0, "sm_90"), _gpu(1, "sm_86"), _gpu(2, "sm_120"), _gpu(3, "sm_75")]
    findings = arch_findings(["sm_80", "sm_90", "sm_70"], "configuration", ["sm_75", "sm_80", "sm_90", "sm_120"],
                             gpus, "compute_90")
    by_level = {(f.level, f.check): f for f in findings}
    assert by_level[("error", "arch-support")].message.startswith("target architecture sm_70 (configuration)")
    messages = [f.message for f in findings if f.check == "arch-coverage"]
    assert "GPU 0 (Test GPU, sm_90) is built for" in messages
    assert any("GPU 1" in m and "runs the sm_80 cubin" in m for m in messages)
    assert any("GPU 2" in m and "JIT-compiles the compute_90 PTX" in m for m in messages)
    assert any("GPU 3" in m and "no image in the fatbins will load" in m for m in messages)
    assert all(f.hint for f in findings if f.level != "ok")


def test_no_gpu_is_a_warning_finding() -> None:
    findings = gpu_findings(Inventory(False, "no NVIDIA driver/GPU: x"), "13.0.88", ["sm_90"], "fallback list",
                            ["sm_90"], "compute_90")
    assert [(f.level, f.check) for f in findings] == [("warning", "nvml")]


def test_doctor_cli_reports_mismatch_with_exit_1(tmp_path: Path) -> None:
    fake = write_fake_pynvml(tmp_path / "fake")
    old_driver = pipeline_env(fake, fake_gpus(1, cuda=12020, driver="535.104.05"))
    result = run_pipeline(["doctor", "--json"], env=old_driver)
    data = json.loads(result.stdout)
    levels = {f["check"]: f["level"] for f in data["findings"]}
    assert levels["toolkit-driver"] == "error" and levels["arch-coverage"] == "ok"
    # The example configures what every build embeds (sm_80, sm_90, sm_120): the GPU's sm_90 is covered.
    assert data["cuda"]["targets"] == ["sm_80", "sm_90", "sm_120"] and data["cuda"]["targets_from"] == "configuration"
    assert result.returncode == 1 and "hint:" in result.stderr
    matching = run_pipeline(["doctor"], env=pipeline_env(fake, fake_gpus(1)))
    # exit 0 unless a required Rust tool is missing on this machine (the GPU machine has no cargo)
    assert matching.returncode == 0 or "required tool(s) missing" in matching.stderr, matching.stderr
    assert "ok       toolkit-driver: nvcc 13.0 <= driver's CUDA 13.0" in matching.stdout
    no_gpu = run_pipeline(["doctor"], env=pipeline_env(fake, '{"fail": "Driver Not Loaded"}'))
    assert "warning  nvml: no NVIDIA driver/GPU" in no_gpu.stdout
    assert no_gpu.returncode == 0 or "required tool(s) missing" in no_gpu.stderr  # no GPU alone is no failure


def test_doctor_fails_on_invalid_configuration(tmp_path: Path) -> None:
    # Every stage stops on it with exit 2: doctor must not call the setup healthy (exit 0).
    root = tmp_path / "ws"
    (root / "crates" / "a" / "src").mkdir(parents=True)
    (root / "crates" / "a" / "src" / "lib.rs").write_text("")
    (root / "crates" / "a" / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/a"]\n\n'
                                     '[workspace.metadata.pipeline.cuda]\narchitectures = ["sm90"]\n')
    fake = write_fake_pynvml(tmp_path / "fake")
    result = run_pipeline(["--workspace", str(root), "doctor", "--json"], env=pipeline_env(fake, fake_gpus(1)))
    config = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "config"]
    assert [f["level"] for f in config] == ["error"] and "'sm90' is not of the form sm_XY" in config[0]["message"]
    assert result.returncode == 1 and "hint:" in result.stderr
