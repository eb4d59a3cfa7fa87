"""The cargo stages on real copies of the example: clean passes, each kind of breakage fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def stage_env(shared_target_dir: Path) -> dict[str, str]:
    return {"CARGO_TARGET_DIR": str(shared_target_dir), "PRISM_NO_CUDA": "1", "CARGO_TERM_COLOR": "never"}


@pytest.fixture
def private_stage_env(tmp_path: Path) -> dict[str, str]:
    """For tests that build a deliberately broken source: their own target directory.

    Copies of the example keep the example's mtimes and cargo hashes path packages by their
    workspace-relative path, so a broken build in the shared target directory would look fresh to
    every later copy (cargo even replays its cached clippy warnings) and poison unrelated tests.
    """
    return {"CARGO_TARGET_DIR": str(tmp_path / "target"), "PRISM_NO_CUDA": "1", "CARGO_TERM_COLOR": "never"}


def test_stages_pass_on_the_clean_example(example_copy: Path, run_cli, stage_env) -> None:
    for stage in ("fmt", "clippy", "test", "lint"):
        result = run_cli(stage, "--workspace", str(example_copy), env=stage_env)
        assert result.returncode == 0, (stage, result.stderr[-2000:])


def test_fmt_detects_and_fixes_formatting(example_copy: Path, run_cli, stage_env) -> None:
    lib = example_copy / "crates" / "prism-core" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\npub fn   badly_formatted( )->u32{1}\n")
    result = run_cli("fmt", "--workspace", str(example_copy), env=stage_env)
    assert result.returncode == 1
    assert "stage `fmt` failed" in result.stderr and "--fix" in result.stderr
    assert run_cli("fmt", "--fix", "--workspace", str(example_copy), env=stage_env).returncode == 0
    assert "pub fn badly_formatted() -> u32" in lib.read_text()
    assert run_cli("fmt", "--workspace", str(example_copy), env=stage_env).returncode == 0


def test_clippy_warning_fails_the_stage(example_copy: Path, run_cli, private_stage_env) -> None:
    lib = example_copy / "crates" / "prism-nhs" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\npub fn needless(x: u32) -> u32 {\n    return x + 1;\n}\n")
    result = run_cli("clippy", "--workspace", str(example_copy), env=private_stage_env)
    assert result.returncode == 1
    assert "needless_return" in result.stderr or "unneeded `return`" in result.stderr


def test_failing_test_fails_the_stage(example_copy: Path, run_cli, private_stage_env) -> None:
    lib = example_copy / "crates" / "prism-core" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\n#[test]\nfn deliberately_broken() {\n    assert_eq!(1 + 1, 3);\n}\n")
    result = run_cli("test", "-p", "prism-core", "--workspace", str(example_copy), env=private_stage_env)
    assert result.returncode == 1
    assert "deliberately_broken" in result.stdout + result.stderr


def test_missing_cargo_is_a_clear_tool_error(example_copy: Path, run_cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_cli("clippy", "--workspace", str(example_copy), env={"PATH": str(empty)})
    assert result.returncode == 1
    assert "`cargo` was not found" in result.stderr and "rustup" in result.stderr


def test_unknown_package_is_named(example_copy: Path, run_cli) -> None:
    result = run_cli("test", "-p", "prism-nope", "--workspace", str(example_copy))
    assert result.returncode == 2 and "prism-nope" in result.stderr


def _nox(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-m", "nox", *args], cwd=cwd, env=full, text=True,
                          capture_output=True, check=False)


def test_nox_lists_the_stage_sessions() -> None:
    result = _nox("-l", cwd=REPO_ROOT, env={})
    assert result.returncode == 0
    for session in ("fmt", "clippy", "lint", "test", "tests", "bench"):
        assert f"{session} ->" in result.stdout, result.stdout
    # README's main job: a bare `nox` runs the release plan.
    assert "* release ->" in result.stdout


def test_nox_session_fails_on_broken_workspace_and_passes_args(example_copy: Path, stage_env) -> None:
    env = {**stage_env, "PIPELINE_WORKSPACE": str(example_copy)}
    lib = example_copy / "crates" / "prism-io" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\npub fn   ugly( ){}\n")
    broken = _nox("-s", "fmt", cwd=REPO_ROOT, env=env)
    assert broken.returncode != 0
    assert "Session fmt aborted" in broken.stderr and "stage `fmt` failed" in broken.stderr
    fixed = _nox("-s", "fmt", "--", "--fix", cwd=REPO_ROOT, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert _nox("-s", "fmt", cwd=REPO_ROOT, env=env).returncode == 0


def test_noxfile_imported_from_another_workspace(example_copy: Path, stage_env) -> None:
    """A workspace's own noxfile gets the stage sessions by importing pipeline.nox_sessions."""
    (example_copy / "noxfile.py").write_text("import pipeline.nox_sessions  # noqa: F401\n")
    env = {**stage_env, "PYTHONPATH": str(REPO_ROOT)}
    result = _nox("-s", "lint", cwd=example_copy, env=env)
    assert result.returncode == 0, result.stderr
    assert "lint: 9 crates, no findings" in result.stdout + result.stderr
    # A bare `nox` there runs the cheap checks, never the sessions that write files or need a GPU.
    listing = _nox("-l", cwd=example_copy, env=env).stdout
    for selected in ("fmt", "clippy", "lint", "test", "dupes"):
        assert f"* {selected} ->" in listing, listing
    for skipped in ("hooks", "generate", "release", "audit", "cuda", "gpu_smoke", "gpu_test", "affected"):
        assert f"- {skipped} ->" in listing, listing


def test_stage_sessions_need_no_virtualenv() -> None:
    import nox.registry

    import pipeline.nox_sessions  # noqa: F401

    sessions = nox.registry.get()
    for name in ("fmt", "clippy", "lint", "test"):
        assert sessions[name].venv_backend == "none"


def test_cargo_on_path_is_required_for_fmt(tmp_path: Path) -> None:
    assert shutil.which("cargo"), "the test machine needs cargo"


def test_require_gpu_without_gpu_is_a_usage_error(run_cli) -> None:
    result = run_cli("test", "--require-gpu")
    assert result.returncode == 2 and "--gpu" in result.stderr
