"""An installed wheel works without the source tree."""

from __future__ import annotations

import os
import shutil
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
    # Built from the checkout's files alone: setuptools reuses a `build/` left in the checkout, and
    # files a former layout put there would end up in the wheel.
    source = out / "source"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            check=True, capture_output=True, text=True).stdout
    for relative in filter(None, listed.split("\0")):
        if (REPO_ROOT / relative).is_file():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / relative, source / relative)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
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


TEMPLATES = Path("pipeline") / "ci" / "templates"


def test_wheel_carries_every_template(unpacked_wheel: Path) -> None:
    source = REPO_ROOT / TEMPLATES
    sources = [p.relative_to(source) for p in source.rglob("*") if p.is_file()]
    assert any(p.suffix == ".j2" for p in sources), f"no templates in {source}"
    for relative in sources:
        assert (unpacked_wheel / TEMPLATES / relative).read_bytes() == (source / relative).read_bytes(), relative


def test_templates_have_one_lookup_path(unpacked_wheel: Path, tmp_path: Path) -> None:
    """The templates are read from the package only (importlib.resources): no copy elsewhere, no fallback."""
    shipped = sorted(p.relative_to(unpacked_wheel) for p in unpacked_wheel.rglob("*.j2"))
    assert shipped and all(p.parent == TEMPLATES for p in shipped), shipped
    probe = ("from pipeline.ci.render import template_directory, template_sources; "
             "print(template_directory()); print(len(template_sources()))")

    def run_probe(site: Path) -> subprocess.CompletedProcess[str]:
        # From the checkout's root, where a second lookup path would find its templates (`-P`: not its package).
        return subprocess.run([sys.executable, "-P", "-c", probe], cwd=REPO_ROOT,
                              env=dict(os.environ, PYTHONPATH=str(site)), text=True, capture_output=True, check=False)

    found = run_probe(unpacked_wheel)
    assert found.returncode == 0, found.stderr
    directory, count = found.stdout.split()
    assert Path(directory) == unpacked_wheel / TEMPLATES and int(count) == len(shipped)
    # A wheel missing one template says so, although the checkout beside it has every one.
    broken = tmp_path / "site"
    shutil.copytree(unpacked_wheel, broken)
    (broken / TEMPLATES / "gitlab-ci.yml.j2").unlink()
    missing = run_probe(broken)
    assert missing.returncode != 0, missing.stdout
    assert "templates gitlab-ci.yml.j2 missing from the package" in missing.stderr, missing.stderr


def test_wheel_declares_the_console_script(unpacked_wheel: Path) -> None:
    entry_points = next(unpacked_wheel.glob("cargo_gpu_pipeline-*.dist-info")) / "entry_points.txt"
    assert "pipeline = pipeline.cli:entry" in entry_points.read_text()
