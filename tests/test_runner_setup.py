"""`pipeline runner setup`: the rendered script is shellcheck-clean, idempotent and undoable.

The script runs for real (bash) against a fake host tree (CARGO_GPU_PIPELINE_ROOT) with
stand-ins for the three privileged programs it drives — nvidia-smi, sysctl and
systemctl — that keep their state in files of that tree and log every call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import pipeline_env, run_pipeline, write_fake_pynvml
from runner_support import H200, fake_host, nvml_state, runner_workspace

from pipeline.project import load_config
from pipeline.runner.setup import render

CONFIG = """
[workspace.metadata.pipeline.runner]
hugepages = 1024
min-free-gib = 0

[workspace.metadata.pipeline.runner.clocks."NVIDIA H200"]
graphics = 1980
memory = 3201

[workspace.metadata.pipeline.runner.clocks."H100"]
application-graphics = 1755
application-memory = 2619
"""

FAKE_NVIDIA_SMI = r"""#!/usr/bin/env bash
# nvidia-smi stand-in: GPUs are directories $CARGO_GPU_PIPELINE_ROOT/gpus/<index>/ holding one file per field.
set -euo pipefail
dir=$CARGO_GPU_PIPELINE_ROOT/gpus
echo "nvidia-smi $*" >>"$CARGO_GPU_PIPELINE_ROOT/calls.log"
index=""
if [ "${1:-}" = -i ]; then index=$2; shift 2; fi
case "$1" in
  --query-gpu=index,name,persistence_mode)
    for g in "$dir"/*; do printf '%s, %s, %s\n' "$(basename "$g")" "$(cat "$g/name")" "$(cat "$g/pm")"; done ;;
  --query-gpu=*)
    field=${1#--query-gpu=}; cat "$dir/$index/$field" ;;
  -pm) if [ "$2" = 1 ]; then echo Enabled >"$dir/$index/pm"; else echo Disabled >"$dir/$index/pm"; fi ;;
  -lgc) echo "${2%,*}" >"$dir/$index/clocks.gr" ;;
  -lmc) echo "${2%,*}" >"$dir/$index/clocks.mem" ;;
  -ac)
    echo "${2%,*}" >"$dir/$index/clocks.applications.memory"
    echo "${2#*,}" >"$dir/$index/clocks.applications.graphics" ;;
  -rgc) echo 1100 >"$dir/$index/clocks.gr" ;;
  -rmc) echo 2619 >"$dir/$index/clocks.mem" ;;
  -rac) echo 0 >"$dir/$index/clocks.applications.graphics" ;;
  *) echo "fake nvidia-smi: unexpected $*" >&2; exit 2 ;;
esac
"""

FAKE_SYSCTL = r"""#!/usr/bin/env bash
set -euo pipefail
echo "sysctl $*" >>"$CARGO_GPU_PIPELINE_ROOT/calls.log"
[ "$1" = -w ] && [ "${2%%=*}" = vm.nr_hugepages ] || { echo "fake sysctl: unexpected $*" >&2; exit 2; }
echo "${2#*=}" >"$CARGO_GPU_PIPELINE_ROOT/proc/sys/vm/nr_hugepages"
"""

FAKE_SYSTEMCTL = r"""#!/usr/bin/env bash
set -euo pipefail
echo "systemctl $*" >>"$CARGO_GPU_PIPELINE_ROOT/calls.log"
state=$CARGO_GPU_PIPELINE_ROOT/systemd-enabled
case "$1" in
  daemon-reload) ;;
  is-enabled) [ -f "$state/$3" ] ;;
  enable) mkdir -p "$state"; touch "$state/$2" ;;
  disable) rm -f "$state/$2" ;;
  *) echo "fake systemctl: unexpected $*" >&2; exit 2 ;;
esac
"""


def _gpu(root: Path, index: int, name: str, pm: str, gr: int, mem: int) -> None:
    gpu = root / "gpus" / str(index)
    gpu.mkdir(parents=True)
    for field, value in (("name", name), ("pm", pm), ("clocks.gr", gr), ("clocks.mem", mem),
                         ("clocks.applications.graphics", 0), ("clocks.applications.memory", 0)):
        (gpu / field).write_text(f"{value}\n")


@pytest.fixture
def host(tmp_path: Path) -> dict[str, object]:
    root = fake_host(tmp_path / "host", governors=["powersave", "powersave"], hugepages=0)
    _gpu(root, 0, "NVIDIA H200", "Disabled", 1100, 2619)
    _gpu(root, 1, "NVIDIA GeForce RTX 5090", "Enabled", 2100, 14001)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("nvidia-smi", FAKE_NVIDIA_SMI), ("sysctl", FAKE_SYSCTL), ("systemctl", FAKE_SYSTEMCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ, CARGO_GPU_PIPELINE_ROOT=str(root), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    workspace = runner_workspace(tmp_path / "ws", CONFIG)
    fake = write_fake_pynvml(tmp_path / "fake")
    script = tmp_path / "runner-setup.sh"
    rendered = run_pipeline(["--workspace", str(workspace), "runner", "setup", "-o", str(script)],
                            env=pipeline_env(fake, nvml_state(H200)))
    assert rendered.returncode == 0, rendered.stderr
    assert "review it, then run `sudo bash" in rendered.stderr
    return {"root": root, "env": env, "script": script, "workspace": workspace, "fake": fake}


def _bash(host: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(host["script"]), *args], env=host["env"], capture_output=True, text=True)


def _read(root: Path, relative: str) -> str:
    return (root / relative).read_text().strip()


def _changing_calls(root: Path) -> list[str]:
    log = root / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return [c for c in calls if "--query-gpu" not in c and "is-enabled" not in c]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (apt-get install shellcheck)")
def test_rendered_script_is_shellcheck_clean(tmp_path: Path) -> None:
    for raw in ({}, {"runner": {"governor": "", "persistence": False}},
                {"runner": {"hugepages": 512, "clocks": {"NVIDIA H200": {"graphics": 1980},
                                                         "A100-SXM4": {"memory": 1593}}}}):
        script = tmp_path / "setup.sh"
        script.write_text(render(load_config({"pipeline": raw}, Path("Cargo.toml")).runner, "ws/Cargo.toml"))
        checked = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_apply_is_idempotent_check_agrees_and_undo_restores(host: dict[str, object]) -> None:
    root = host["root"]
    assert isinstance(root, Path)
    dry = _bash(host, "--check")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "would run: nvidia-smi -i 0 -pm 1" in dry.stdout
    assert "would run: nvidia-smi -i 0 -lgc 1980,1980" in dry.stdout
    assert "would write " + str(root / "etc/sysctl.d/90-cargo-gpu-pipeline.conf") in dry.stdout
    assert _changing_calls(root) == [] and _read(root, "proc/sys/vm/nr_hugepages") == "0"  # --check changed nothing

    applied = _bash(host)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert [_read(root, f"sys/devices/system/cpu/cpu{i}/cpufreq/scaling_governor") for i in (0, 1)] == [
        "performance", "performance"]
    assert _read(root, "proc/sys/vm/nr_hugepages") == "1024"
    assert _read(root, "etc/sysctl.d/90-cargo-gpu-pipeline.conf").endswith("vm.nr_hugepages = 1024")
    assert "ExecStart=/usr/local/sbin/cargo-gpu-pipeline-runner-setup --apply" in _read(
        root, "etc/systemd/system/cargo-gpu-pipeline-runner.service")
    assert (root / "usr/local/sbin/cargo-gpu-pipeline-runner-setup").read_bytes() == Path(
        str(host["script"])).read_bytes()
    assert (_read(root, "gpus/0/pm"), _read(root, "gpus/0/clocks.gr"), _read(root, "gpus/0/clocks.mem")) == (
        "Enabled", "1980", "3201")
    assert _read(root, "gpus/1/clocks.gr") == "2100"  # a model without configured clocks is left alone
    assert "gpu 1 (NVIDIA GeForce RTX 5090): no clocks configured" in applied.stdout
    first_calls = _changing_calls(root)
    assert "systemctl enable cargo-gpu-pipeline-runner.service" in first_calls

    again = _bash(host)
    assert again.returncode == 0 and "nothing to change: the host already matches" in again.stdout
    assert _changing_calls(root) == first_calls  # the second run changed nothing
    assert _bash(host, "--check").stdout.strip().endswith("nothing to change")

    undone = _bash(host, "--undo")
    assert undone.returncode == 0, undone.stderr
    assert _read(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") == "powersave"
    assert _read(root, "proc/sys/vm/nr_hugepages") == "0"
    assert _read(root, "gpus/0/pm") == "Disabled" and _read(root, "gpus/1/pm") == "Enabled"
    assert _read(root, "gpus/0/clocks.gr") == "1100"
    for gone in ("etc/sysctl.d/90-cargo-gpu-pipeline.conf", "etc/systemd/system/cargo-gpu-pipeline-runner.service",
                 "usr/local/sbin/cargo-gpu-pipeline-runner-setup", "var/lib/cargo-gpu-pipeline"):
        assert not (root / gone).exists(), gone


def test_setup_check_compares_the_host_with_the_script_intent(host: dict[str, object]) -> None:
    root = host["root"]
    workspace = host["workspace"]
    unset = nvml_state({**H200, "persistence": 0, "clocks": [1100, 2619]})
    before = run_pipeline(["--workspace", str(workspace), "runner", "setup", "--check", "--json", "--root", str(root)],
                          env=pipeline_env(host["fake"], unset))
    assert before.returncode == 1
    found = {(f["check"], f["subject"]): f["status"] for f in json.loads(before.stdout)["findings"]}
    assert found[("cpu.governor", "cpu0")] == "mismatch" and found[("cpu.hugepages", "vm.nr_hugepages")] == "mismatch"
    assert found[("gpu.persistence", "gpu0 (NVIDIA H200)")] == "mismatch"
    assert found[("gpu.locked-graphics", "gpu0 (NVIDIA H200)")] == "mismatch"
    assert found[("setup.unit", "/etc/systemd/system/cargo-gpu-pipeline-runner.service")] == "mismatch"
    assert not [key for key in found if key[0] in ("gpu.temperature", "disk.free", "tool")]  # not the script's job
    assert _bash(host).returncode == 0
    after = run_pipeline(["--workspace", str(workspace), "runner", "setup", "--check", "--root", str(root)],
                         env=pipeline_env(host["fake"], nvml_state(H200)))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "OK       setup.unit" in after.stdout and "OK       setup.sysctl" in after.stdout
