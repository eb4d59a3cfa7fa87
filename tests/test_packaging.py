"""An installed wheel works without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLE, REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO_ROOT)],
                   check=True, capture_output=True)
    wheel = next(out.glob("cargo_gpu_pipeline-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_from(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("PIPELINE_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, check=False)


def test_wheel_runs_outside_the_checkout(unpacked_wheel: Path, tmp_path: Path) -> None:
    version = run_from(unpacked_wheel, tmp_path, "--version")
    assert version.returncode == 0 and "cargo-gpu-pipeline" in version.stdout
    probe = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"],
                           cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(unpacked_wheel)),
                           text=True, capture_output=True, check=True)
    assert probe.stdout.startswith(str(unpacked_wheel))
    workspace = run_from(unpacked_wheel, tmp_path, "workspace", "--workspace", str(EXAMPLE), "--json")
    assert workspace.returncode == 0, workspace.stderr
    assert '"prism-gpu"' in workspace.stdout


def test_wheel_carries_every_template(unpacked_wheel: Path) -> None:
    sources = [p.relative_to(REPO_ROOT / "templates") for p in (REPO_ROOT / "templates").rglob("*") if p.is_file()]
    for relative in sources:
        assert (unpacked_wheel / "pipeline" / "templates" / relative).is_file(), relative


def test_wheel_declares_the_console_script(unpacked_wheel: Path) -> None:
    entry_points = next(unpacked_wheel.glob("cargo_gpu_pipeline-*.dist-info")) / "entry_points.txt"
    assert "pipeline = pipeline.cli:entry" in entry_points.read_text()
