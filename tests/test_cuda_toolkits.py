"""`cuda.toolkits`: several CUDA toolkits side by side, each found by version, `pipeline cuda --toolkit X.Y`.

The real second toolkit comes from NVIDIA's 13.x wheels (nvidia-cuda-nvcc, nvidia-nvvm, nvidia-cuda-crt,
nvidia-cuda-runtime), installed by `.ci/run` with `pip install --target` into $PIPELINE_TEST_CUDA_WHEELS
and found through the `nvidia` namespace package on the tool's sys.path. (PyPI has no nvcc for CUDA 12:
nvidia-cuda-nvcc-cu12 ships ptxas, libnvvm and headers only; a test below checks that such a directory
is rejected with that reason.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline

from pipeline.cuda import toolkit as tk
from pipeline.foundation.errors import PipelineError, ToolMissing, UsageError

WHEELS_ENV = "PIPELINE_TEST_CUDA_WHEELS"


def _installed_nvcc() -> Path | None:
    try:
        return tk.find_cuda_tool("nvcc")
    except PipelineError:
        return None


def _wheel_toolkit() -> tuple[Path, str] | tuple[None, str]:
    """(the `pip install --target` directory holding nvidia/cu13, its release), or (None, why not)."""
    target = os.environ.get(WHEELS_ENV)
    if not target:
        return None, f"${WHEELS_ENV} is not set (.ci/run installs the nvidia-cuda-nvcc 13.x wheels there)"
    nvcc = Path(target) / "nvidia" / "cu13" / "bin" / "nvcc"
    if not nvcc.is_file():
        return None, f"${WHEELS_ENV}={target} holds no nvidia/cu13/bin/nvcc"
    return Path(target), tk.nvcc_version(nvcc)


def _workspace(tmp_path: Path, cuda_lines: str) -> Path:
    root = tmp_path / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target"))
    manifest = root / "Cargo.toml"
    text = manifest.read_text()
    assert "[workspace.metadata.pipeline.cuda]\n" in text
    manifest.write_text(text.replace("[workspace.metadata.pipeline.cuda]\n",
                                     f"[workspace.metadata.pipeline.cuda]\n{cuda_lines}\n", 1))
    return root


def _fake_toolkit(home: Path, release: str, parts: tuple[str, ...] = tk.REQUIRED_PARTS) -> Path:
    """A directory laid out like a toolkit whose nvcc answers `--version` only (discovery, not compiling)."""
    for part in parts:
        path = home / part
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\necho 'Cuda compilation tools, release " + release + ", V" + release + ".1'\n")
        path.chmod(0o755)
    return home


# ---------------------------------------------------------------------- selection and discovery (no nvcc)

def test_select_toolkit_defaults_to_the_newest_and_refuses_an_unconfigured_one(monkeypatch) -> None:
    monkeypatch.delenv(tk.TOOLKIT_ENV, raising=False)
    assert tk.select_toolkit((), None, None) is None
    assert tk.select_toolkit(("12.9", "13.0"), "13.0", None) == "13.0"
    assert tk.select_toolkit(("12.9", "13.0"), "13.0", "12.9") == "12.9"
    with pytest.raises(UsageError, match=r"--toolkit 12\.8: not a configured toolkit \(configured: 12\.9, 13\.0\)"):
        tk.select_toolkit(("12.9", "13.0"), "13.0", "12.8")
    with pytest.raises(UsageError, match="no `toolkits` are configured"):
        tk.select_toolkit((), None, "12.9")
    monkeypatch.setenv(tk.TOOLKIT_ENV, "12.9")
    assert tk.select_toolkit(("12.9", "13.0"), "13.0", None) == "12.9"


def test_newest_toolkit_compares_versions_as_numbers() -> None:
    from pipeline.cuda.settings import CudaSettings

    assert CudaSettings(toolkits=("12.10", "12.9")).newest_toolkit == "12.10"
    assert CudaSettings().newest_toolkit is None


def test_find_toolkit_by_variable_home_and_wheel_layouts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tk, "VERSIONED_ROOT", tmp_path / "usr-local")
    # $CUDA_HOME_12_9 first; a candidate of another release is skipped, and said so.
    other = _fake_toolkit(tmp_path / "other", "12.8")
    good = _fake_toolkit(tmp_path / "cuda-12.9", "12.9")
    monkeypatch.setenv("CUDA_HOME_12_9", str(other))
    found = tk.find_toolkit("12.9", {"12.9": good}, search_path=[])
    assert (found.version, found.nvcc, found.origin) == ("12.9", good / "bin" / "nvcc", "`toolkit-homes`")
    assert found.tool("fatbinary") == good / "bin" / "fatbinary"  # its own, never another toolkit's
    # A 13.x wheel install (nvidia/cu13 in a site directory on sys.path).
    site = tmp_path / "site"
    _fake_toolkit(site / "nvidia" / "cu13", "13.2")
    (site / "nvidia_cuda_nvcc-13.2.86.dist-info").mkdir()
    wheel = tk.find_toolkit("13.2", {}, search_path=[str(site)])
    assert wheel.nvcc == site / "nvidia" / "cu13" / "bin" / "nvcc"
    assert wheel.origin == f"wheel nvidia-cuda-nvcc 13.2.86 in {site}"


def test_incomplete_and_mismatched_candidates_are_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tk, "VERSIONED_ROOT", tmp_path / "usr-local")
    # What nvidia-cuda-nvcc-cu12 installs: ptxas, no nvcc driver, no cicc, no fatbinary.
    site = tmp_path / "site"
    _fake_toolkit(site / "nvidia" / "cuda_nvcc", "12.9", parts=("bin/ptxas",))
    (site / "nvidia_cuda_nvcc_cu12-12.9.86.dist-info").mkdir()
    _fake_toolkit(tmp_path / "usr-local" / "cuda-12.9", "12.6")  # a wrong toolkit at the versioned path
    monkeypatch.setenv("CUDA_HOME_12_9", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setattr(tk, "DEFAULT_CUDA_BIN", tmp_path / "no-cuda")
    with pytest.raises(ToolMissing) as caught:
        tk.find_toolkit("12.9", {}, search_path=[str(site)])
    message = caught.value.message
    assert f"$CUDA_HOME_12_9 ({tmp_path / 'missing'}) does not exist" in message
    assert f"{tmp_path / 'usr-local' / 'cuda-12.9' / 'bin' / 'nvcc'}) is release 12.6" in message
    assert "wheel nvidia-cuda-nvcc-cu12 12.9.86" in message
    assert "no bin/nvcc, bin/fatbinary, nvvm/bin/cicc" in message
    assert "CUDA_HOME_12_9" in (caught.value.hint or "")


def test_cli_toolkit_not_configured_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    root = _workspace(tmp_path, 'toolkits = ["12.9", "13.0"]')
    result = run_pipeline(["--workspace", str(root), "cuda", "--toolkit", "12.8"], env=pipeline_env(None, None))
    assert result.returncode == 2, result.stderr
    assert "error: --toolkit 12.8: not a configured toolkit (configured: 12.9, 13.0)" in result.stderr
    assert 'hint: add "12.8" to `toolkits`' in result.stderr
    plain = _workspace(tmp_path / "plain", "")
    result = run_pipeline(["--workspace", str(plain), "cuda", "--toolkit", "13.0"], env=pipeline_env(None, None))
    assert result.returncode == 2 and "no `toolkits` are configured" in result.stderr


@pytest.mark.parametrize(("lines", "message"), [
    ('toolkits = ["12"]', "'12' is not a release like 12.9"),
    ('toolkits = ["13.0", "13.0"]', "lists a version twice"),
    ('toolkits = ["13.0"]\ntoolkit-homes = { "12.9" = "/opt/cuda-12.9" }', "which `toolkits` does not list"),
])
def test_bad_toolkit_settings_are_config_errors(tmp_path: Path, lines: str, message: str) -> None:
    root = _workspace(tmp_path, lines)
    result = run_pipeline(["--workspace", str(root), "cuda"], env=pipeline_env(None, None))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Cargo.toml" in result.stderr


# ---------------------------------------------------------------------- real toolkits

@pytest.mark.nvcc
@pytest.mark.skipif(_installed_nvcc() is None, reason="needs the CUDA toolkit's nvcc")
def test_an_architecture_the_toolkit_cannot_build_is_refused_per_toolkit_and_located(tmp_path: Path) -> None:
    nvcc = _installed_nvcc()
    assert nvcc is not None
    release = tk.nvcc_version(nvcc)
    supported = subprocess.run([str(nvcc), "--list-gpu-code"], capture_output=True, text=True).stdout.split()
    dropped = next((a for a in ("sm_50", "sm_52", "sm_60", "sm_70") if a not in supported), None)
    if dropped is None:
        pytest.skip(f"nvcc {release} still builds sm_50..sm_70: no architecture to refuse")
    root = _workspace(tmp_path, f'toolkits = ["{release}"]')
    manifest = root / "Cargo.toml"
    manifest.write_text(re.sub(r"^architectures = .*$", f'architectures = ["{dropped}", "sm_90"]', manifest.read_text(),
                               count=1, flags=re.M))
    line = next(n for n, text in enumerate(manifest.read_text().splitlines(), 1) if text.startswith("architectures"))
    result = run_pipeline(["--workspace", str(root), "cuda"], env=pipeline_env(None, None))
    assert result.returncode == 2, result.stderr
    assert f"{manifest}:{line}:1: toolkit {release} (" in result.stderr
    assert f"cannot build {dropped} (from configuration)" in result.stderr
    assert not (root / "target" / "cuda" / "manifest.json").exists()


@pytest.mark.nvcc
def test_two_real_toolkits_build_the_example_side_by_side(tmp_path: Path) -> None:
    """The wheel toolkit (13.x from PyPI) beside the installed one: each builds, neither overwrites the other."""
    target, release = _wheel_toolkit()
    if target is None:
        pytest.skip(release)
    installed = _installed_nvcc()
    installed_release = tk.nvcc_version(installed) if installed else None
    if installed_release is None or installed_release == release:
        pytest.skip(f"needs an installed nvcc of another release than the wheel toolkit {release}")
    older, newer = sorted((release, installed_release), key=lambda v: tuple(map(int, v.split("."))))
    root = _workspace(tmp_path, f'toolkits = ["{older}", "{newer}"]')
    # The wheels are found as the `nvidia` namespace package on the tool's sys.path (PYTHONPATH here).
    env = pipeline_env(None, None, PIPELINE_CUDA_CACHE=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(target)])
    env.pop(tk.TOOLKIT_ENV, None)
    outputs = {}
    for version in (release, installed_release):
        result = run_pipeline(["--workspace", str(root), "cuda", "--toolkit", version, "--arch", "sm_90", "--json"],
                              env=env)
        assert result.returncode == 0, result.stderr
        outputs[version] = json.loads(result.stdout)
        assert f"with toolkit {version} x sm_90" in result.stderr
    wheel = outputs[release]
    assert wheel["toolkit"] == release
    assert wheel["nvcc"] == str(target / "nvidia" / "cu13" / "bin" / "nvcc")
    # Different nvcc builds never share a cache entry: the second toolkit compiled everything again.
    for output in outputs.values():
        assert sorted(output["compiled"]) == sorted(f"{k} {a}" for k in ("reduce", "saxpy", "stencil")
                                                    for a in ("sm_90", "compute_90"))
    newest_dir, older_dir = root / "target" / "cuda", root / "target" / f"cuda-{older}"
    assert outputs[newer]["output_dir"] == str(newest_dir)
    assert outputs[older]["output_dir"] == str(older_dir)
    for directory, version in ((newest_dir, newer), (older_dir, older)):
        manifest = json.loads((directory / "manifest.json").read_text())
        assert manifest["toolkit"] == version and manifest["nvcc"].startswith(version + ".")
        assert sorted(p.name for p in directory.iterdir() if p.suffix == ".fatbin") == [
            "reduce.fatbin", "saxpy.fatbin", "stencil.fatbin"]
        assert (directory / "saxpy.sm_90.cubin").read_bytes()[:4] == b"\x7fELF"
    # Without --toolkit the newest builds, into target/cuda: all cached now.
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    again = json.loads(result.stdout)
    assert (again["toolkit"], again["compiled"]) == (newer, [])
