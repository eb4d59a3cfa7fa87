"""`pipeline runner check` on fake /sys and /proc trees (good and bad host) with the fake NVML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import pipeline_env, run_pipeline, write_fake_pynvml
from runner_support import bad_gpus, bad_host, fake_host, good_gpus, good_host, runner_workspace

from pipeline.project import load_config
from pipeline.runner.host import parse_cpu_list, read_cpu, selected_mode


def _check(tmp_path: Path, host: Path, nvml: str, *extra: str, config: str | None = None, **env: str):
    workspace = runner_workspace(tmp_path / "ws") if config is None else runner_workspace(tmp_path / "ws", config)
    fake = write_fake_pynvml(tmp_path / "fake")
    environment = pipeline_env(fake, nvml, PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"), **env)
    return run_pipeline(["--workspace", str(workspace), "runner", "check", "--root", str(host), *extra],
                        env=environment)


def _by_check(data: dict) -> dict[tuple[str, str], dict]:
    return {(f["check"], f["subject"]): f for f in data["findings"]}


def test_good_host_passes_every_check(tmp_path: Path) -> None:
    result = _check(tmp_path, good_host(tmp_path / "host"), good_gpus(), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == 1 and data["ok"] is True and data["summary"]["mismatch"] == 0
    found = _by_check(data)
    assert found[("cpu.governor", "all 4 CPUs")]["status"] == "ok"
    for check in ("cpu.turbo", "cpu.smt", "cpu.hugepages", "cpu.thp", "cpu.numa"):
        assert next(f for f in data["findings"] if f["check"] == check)["status"] == "ok", check
    gpu0 = "gpu0 (NVIDIA H200)"
    for check in ("gpu.persistence", "gpu.locked-graphics", "gpu.locked-memory", "gpu.ecc", "gpu.mig",
                  "gpu.pcie-width", "gpu.temperature", "gpu.throttle"):
        assert found[(check, gpu0)]["status"] == "ok", check
    assert found[("gpu.driver", "NVIDIA driver")] == {
        "check": "gpu.driver", "subject": "NVIDIA driver", "status": "ok", "expected": ">= 550.54.14 (min-driver)",
        "actual": "580.159.04", "hint": "upgrade the NVIDIA driver (or use an older CUDA toolkit)"}
    assert found[("gpu.throttle", gpu0)]["actual"] == "gpu_idle"
    assert {f["status"] for f in data["findings"] if f["check"] == "disk.free"} == {"ok"}
    assert set(data["findings"][0]) == {"check", "subject", "status", "expected", "actual", "hint"}


def test_bad_host_reports_each_mismatch_on_one_line_with_a_hint(tmp_path: Path) -> None:
    result = _check(tmp_path, bad_host(tmp_path / "host"), bad_gpus())
    assert result.returncode == 1
    lines = result.stdout.splitlines()

    def line(check: str, subject: str) -> str:
        matches = [text for text in lines if text.split()[1:2] == [check] and subject in text]
        assert len(matches) == 1, (check, subject, lines)
        return matches[0]

    assert line("cpu.governor", "cpu1").startswith("MISMATCH")
    assert "expected performance, actual powersave  hint: echo performance | sudo tee" in line("cpu.governor", "cpu1")
    assert "actual schedutil" in line("cpu.governor", "cpu3")
    assert not [text for text in lines if "cpu.governor" in text and "cpu0" in text]
    assert "expected off, actual on" in line("cpu.turbo", "CPU")
    assert "expected on, actual off" in line("cpu.smt", "CPU")
    assert "expected >= 1024, actual 0  hint: sudo sysctl -w vm.nr_hugepages=1024" in line("cpu.hugepages", "vm")
    assert "expected madvise, actual always" in line("cpu.thp", "transparent")
    assert "expected 2, actual 1" in line("cpu.numa", "NUMA")
    assert "expected >= 550.54.14 (min-driver), actual 535.54.03" in line("gpu.driver", "NVIDIA driver")
    gpu1 = "gpu1 (NVIDIA H200)"
    assert "expected on, actual off  hint: sudo nvidia-smi -i 1 -pm 1" in line("gpu.persistence", gpu1)
    assert "expected 1980 MHz, actual 1410 MHz  hint: sudo nvidia-smi -i 1 -lgc 1980,1980" in line(
        "gpu.locked-graphics", gpu1)
    assert "expected 3201 MHz, actual 2619 MHz" in line("gpu.locked-memory", gpu1)
    assert "expected on, actual off" in line("gpu.ecc", gpu1)
    assert "expected off, actual on" in line("gpu.mig", gpu1)
    assert "expected x16, actual x8 (max x16)" in line("gpu.pcie-width", gpu1)
    assert "expected <= 85 C, actual 91 C" in line("gpu.temperature", gpu1)
    assert "actual hw_slowdown, hw_thermal_slowdown" in line("gpu.throttle", gpu1)
    for check in ("gpu.persistence", "gpu.locked-graphics", "gpu.temperature", "gpu.throttle"):
        assert line(check, "gpu0 (NVIDIA H200)").startswith("OK")  # the healthy GPU stays ok
    assert "runner check: 16 problem(s)" in result.stdout
    assert "error: runner check: 16 problem(s): cpu.governor cpu1; cpu.governor cpu3;" in result.stderr
    assert "hint: fix the MISMATCH lines" in result.stderr


def test_json_is_one_document_and_lists_the_mismatches(tmp_path: Path) -> None:
    result = _check(tmp_path, bad_host(tmp_path / "host"), bad_gpus(), "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)  # stdout holds exactly the document, the error goes to stderr
    assert data["ok"] is False and data["summary"]["mismatch"] == 16
    mismatch = _by_check(data)[("gpu.pcie-width", "gpu1 (NVIDIA H200)")]
    assert mismatch["expected"] == "x16" and mismatch["actual"] == "x8 (max x16)" and mismatch["hint"]


def test_unreadable_values_are_unknown_and_fail_only_when_strict(tmp_path: Path) -> None:
    host = fake_host(tmp_path / "host", governors=["performance"] * 2, cpufreq=False)
    geforce = json.dumps({"gpus": [{"uuid": "GPU-fake0000", "name": "NVIDIA GeForce RTX 5090", "cc": [12, 0],
                                    "persistence": 1, "pcie": [5, 5, 16, 16], "temperature": 40, "reasons": 0}]})
    config = '\n[workspace.metadata.pipeline.runner]\necc = "on"\nmin-driver = "550"\nmin-free-gib = 0\n' \
             'tools = []\n'
    result = _check(tmp_path, host, geforce, "--json", config=config)
    assert result.returncode == 0, result.stderr
    found = _by_check(json.loads(result.stdout))
    assert found[("cpu.governor", "all CPUs")]["status"] == "unknown"
    assert "no cpufreq" in found[("cpu.governor", "all CPUs")]["actual"]
    assert found[("gpu.ecc", "gpu0 (NVIDIA GeForce RTX 5090)")]["status"] == "unknown"
    assert found[("cpu.turbo", "CPU")]["status"] == "info"
    strict = _check(tmp_path, host, geforce, config=config + "strict = true\n")
    assert strict.returncode == 1
    assert "UNKNOWN  gpu.ecc" in strict.stdout and "problem(s): cpu.governor all CPUs; gpu.ecc" in strict.stderr


def test_no_gpu_is_unknown_and_a_missing_required_tool_a_mismatch(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.runner]\nmin-free-gib = 0\ntools = ["nvidia-smi", "nsys"]\n'
    result = _check(tmp_path, good_host(tmp_path / "host"), '{"fail": "Driver Not Loaded"}', "--json",
                    config=config, PATH=str(tmp_path / "empty-bin"), CUDA_HOME=str(tmp_path / "no-cuda"))
    data = json.loads(result.stdout)
    found = _by_check(data)
    assert found[("gpu.nvml", "GPUs")]["status"] == "unknown"
    assert "Driver Not Loaded" in found[("gpu.nvml", "GPUs")]["actual"]
    assert found[("tool", "nvidia-smi")]["status"] == "mismatch"
    assert found[("tool", "nvidia-smi")]["hint"].startswith("install the NVIDIA driver")
    # nsys may live in /usr/local/cuda/bin on a CUDA machine; where it is absent it is a mismatch
    assert found[("tool", "nsys")]["status"] in ("mismatch", "ok")
    assert found[("tool", "perf")]["status"] == "info"  # optional: reported only
    assert result.returncode == 1


def test_disk_space_below_the_minimum_is_a_mismatch(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.runner]\nmin-free-gib = 1e9\ntools = []\n' \
             f'disk-paths = ["{tmp_path / "cache" / "not-yet"}"]\n'
    result = _check(tmp_path, good_host(tmp_path / "host"), good_gpus(), "--json", config=config)
    assert result.returncode == 1
    disks = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "disk.free"]
    assert {d["subject"].split(" (")[0] for d in disks} == {"target", "cargo home", "sccache", "lease dir",
                                                           "disk-paths"}
    assert all(d["status"] == "mismatch" and d["expected"] == ">= 1e+09 GiB free" for d in disks)
    extra = next(d for d in disks if d["subject"].startswith("disk-paths"))
    assert extra["actual"].endswith(f"free on {tmp_path}")  # measured at the nearest existing directory


def test_bad_configuration_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.runner]\ngovernor = "performance; reboot"\n'
    result = _check(tmp_path, good_host(tmp_path / "host"), good_gpus(), config=config)
    assert result.returncode == 2
    assert "`governor` = 'performance; reboot' is not a cpufreq governor name" in result.stderr
    config = '\n[workspace.metadata.pipeline.runner.clocks."H200$(id)"]\ngraphics = 1\n'
    result = _check(tmp_path, good_host(tmp_path / "host"), good_gpus(), config=config)
    assert result.returncode == 2 and "`clocks` model 'H200$(id)'" in result.stderr
    result = _check(tmp_path, tmp_path / "missing-root", good_gpus())
    assert result.returncode == 2 and "--root" in result.stderr


def test_host_parsers(tmp_path: Path) -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    with pytest.raises(ValueError):
        parse_cpu_list("0-x")
    assert selected_mode("always [madvise] never") == "madvise" and selected_mode(None) is None
    facts = read_cpu(bad_host(tmp_path / "host"))
    assert facts.governors == ((0, "performance"), (1, "powersave"), (2, "performance"), (3, "schedutil"))
    assert facts.turbo is True and facts.turbo_source.endswith("intel_pstate/no_turbo")
    assert (facts.smt, facts.nr_hugepages, facts.transparent_hugepages, facts.numa_nodes) == (False, 0, "always", 1)
    empty = read_cpu(tmp_path / "nothing")
    assert (empty.online, empty.governors, empty.turbo, empty.nr_hugepages) == (None, (), None, None)


def test_clocks_apply_by_the_longest_model_name_contained() -> None:
    config = load_config({"pipeline": {"runner": {"clocks": {
        "H100": {"graphics": 1755}, "H100 NVL": {"graphics": 1785}, "NVIDIA H200": {"memory": 3201}}}}},
        Path("Cargo.toml"))
    runner = config.runner
    assert runner.clocks_for("NVIDIA H100 NVL")[0] == "H100 NVL"
    assert runner.clocks_for("NVIDIA H100 80GB HBM3")[1].graphics == 1755
    assert runner.clocks_for("NVIDIA H200")[1].memory == 3201
    assert runner.clocks_for("NVIDIA GeForce RTX 5090") is None


def test_throttle_reasons_are_nvml_names_and_an_unknown_one_is_refused() -> None:
    """The defaults are checked here once (the settings skip NVML's table for them at start-up)."""
    from pipeline.gpu.nvml import CLOCK_EVENT_REASONS
    from pipeline.runner.settings import DEFAULT_THROTTLE_ALLOWED, RunnerSettings

    assert set(DEFAULT_THROTTLE_ALLOWED) <= set(CLOCK_EVENT_REASONS.values())
    assert RunnerSettings(throttle_allowed=("sw_power_cap",)).throttle_allowed == ("sw_power_cap",)
    with pytest.raises(ValueError, match="unknown reason 'too_hot'"):
        RunnerSettings(throttle_allowed=("too_hot",))
