"""`pipeline generate [--check]` end to end: files at the repository root, drift, dogfooding, the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ci_support import REPO, pipeline_cli, render_workspace, write_config_workspace

GENERATED = [".github/workflows/ci.yml", ".github/workflows/release.yml", ".github/zizmor.yml", ".gitlab-ci.yml"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the workspace in a subdirectory (like this project's examples/prism4d)."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    write_config_workspace(root / "rust", "\n[workspace.metadata.pipeline.ci]\ncuda-archs = [\"sm_90\"]\n",
                           crates=2, git=False)
    return root


def test_generate_writes_at_the_repository_root_and_check_passes(repo):
    result = pipeline_cli("--workspace", str(repo / "rust"), "generate")
    assert result.returncode == 0, result.stderr
    for rel in GENERATED:
        assert (repo / rel).is_file(), rel
    assert not (repo / "rust" / ".gitlab-ci.yml").exists()
    assert 'PIPELINE_WORKSPACE: "rust"' in (repo / ".gitlab-ci.yml").read_text()
    again = pipeline_cli("--workspace", str(repo / "rust"), "generate", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout) == {"repository": str(repo), "files": sorted(GENERATED), "written": []}
    check = pipeline_cli("--workspace", str(repo / "rust"), "generate", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout == ""


def test_check_fails_with_a_diff_after_a_manual_edit(repo):
    assert pipeline_cli("--workspace", str(repo / "rust"), "generate").returncode == 0
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text().replace("timeout-minutes: 45", "timeout-minutes: 5"))
    result = pipeline_cli("--workspace", str(repo / "rust"), "generate", "--check")
    assert result.returncode == 1
    assert "--- a/.github/workflows/ci.yml" in result.stdout and "+++ b/.github/workflows/ci.yml" in result.stdout
    assert "-    timeout-minutes: 5\n+    timeout-minutes: 45\n" in result.stdout
    assert "stale: .github/workflows/ci.yml" in result.stderr and "hint: run `pipeline generate`" in result.stderr


def test_check_fails_after_a_configuration_change_and_on_a_missing_file(repo):
    assert pipeline_cli("--workspace", str(repo / "rust"), "generate").returncode == 0
    manifest = repo / "rust" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('cuda-archs = ["sm_90"]', 'cuda-archs = ["sm_90", "sm_120"]'))
    (repo / ".github" / "zizmor.yml").unlink()
    result = pipeline_cli("--workspace", str(repo / "rust"), "generate", "--check", "--json")
    assert result.returncode == 1
    stale = {entry["path"]: entry["diff"] for entry in json.loads(result.stdout)["stale"]}
    assert sorted(stale) == sorted(GENERATED)
    assert '+          - arch: "sm_120"' in stale[".github/workflows/ci.yml"]
    assert stale[".github/zizmor.yml"].startswith("--- /dev/null\n+++ b/.github/zizmor.yml")


def test_generate_through_nox_session(repo):
    """The `generate` nox session (what CI runs) passes its arguments through."""
    assert pipeline_cli("--workspace", str(repo / "rust"), "generate").returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(REPO / "noxfile.py"), "--no-dependencies", "-s", "generate",
         "--", "--check"],
        cwd=repo, capture_output=True, text=True,
        env={**subprocess.os.environ, "PIPELINE_WORKSPACE": str(repo / "rust"), "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 files up to date" in result.stderr


def test_this_repository_ci_files_are_current():
    """Dogfooding: .github/workflows and .gitlab-ci.yml of this repository are exactly what the tool renders."""
    files = render_workspace(REPO / "examples" / "prism4d")
    assert sorted(files) == sorted(GENERATED)
    for rel, text in files.items():
        committed = REPO / rel
        assert committed.is_file(), f"{rel} is missing: run `python -m pipeline generate`"
        assert committed.read_text() == text, f"{rel} drifted: run `python -m pipeline generate` and commit"
    assert "-s tests" in files[".github/workflows/ci.yml"]  # the project's own test session is a job


def test_installed_wheel_renders_without_the_source_tree(tmp_path):
    """Templates ship inside the wheel: import the package from the wheel file (zipped) and render."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(REPO)], capture_output=True, text=True)
    if built.returncode != 0 and "Could not" in built.stderr and "setuptools" in built.stderr:
        pytest.skip(f"cannot build a wheel here (build dependencies unavailable): {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("cargo_gpu_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"pipeline/ci/templates/{n}" for n in ("github-ci.yml.j2", "github-jobs.yml.j2", "github-release.yml.j2",
                                                "gitlab-ci.yml.j2", "zizmor.yml.j2")} <= set(names)
    workspace = write_config_workspace(tmp_path / "ws", "", crates=1)
    script = (
        "import pipeline, pipeline.ci.render as r, sys; "
        "assert pipeline.__file__.startswith(sys.argv[1]), pipeline.__file__; "
        "from pipeline.cli import main; sys.exit(main(['--workspace', sys.argv[2], 'generate']))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(wheel), str(workspace)], cwd=tmp_path,
                            capture_output=True, text=True,
                            env={**subprocess.os.environ, "PYTHONPATH": str(wheel), "PIPELINE_WORKSPACE": ""})
    assert result.returncode == 0, result.stderr
    assert (workspace / ".gitlab-ci.yml").read_text() == render_workspace(workspace)[".gitlab-ci.yml"]


def test_a_failed_write_leaves_every_file_untouched(repo):
    (repo / ".github").write_text("a file where the directory should be\n")
    result = pipeline_cli("--workspace", str(repo / "rust"), "generate")
    assert result.returncode == 1, result.stderr
    assert "could not write" in result.stderr and "hint:" in result.stderr
    assert not (repo / ".gitlab-ci.yml").exists()  # rendered fine, but not written: all or nothing
    assert [p.name for p in repo.iterdir() if p.name.endswith(".tmp")] == []


def test_written_files_get_umask_modes_or_keep_their_own(tmp_path):
    # mkstemp creates 0600 files: generated CI files must not end up unreadable to others.
    from pipeline.ci.generate import write_files

    (tmp_path / "kept.yml").write_text("old\n")
    (tmp_path / "kept.yml").chmod(0o664)
    previous = subprocess.os.umask(0o022)
    try:
        write_files({"new/ci.yml": "a: 1\n", "kept.yml": "new\n"}, tmp_path)
    finally:
        subprocess.os.umask(previous)
    assert (tmp_path / "new" / "ci.yml").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "kept.yml").stat().st_mode & 0o777 == 0o664
