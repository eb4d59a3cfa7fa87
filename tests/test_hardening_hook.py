"""The installed pre-push hook script: the installed tool, not a `pipeline.py` at the repository top;
a hint when the package is gone; an internal error says the user may choose `--no-verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import make_workspace

from pipeline.hooks.install import render_script

REPO = Path(__file__).resolve().parent.parent


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_workspace(root, 2, git=True)
    return root


def _run_hook(root: Path, python: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    hook = root / ".git" / "hooks" / "pre-push"
    hook.write_text(render_script(python, "."))
    hook.chmod(0o755)
    return subprocess.run([str(hook), "origin", "url"], cwd=root, input="", text=True, capture_output=True,
                          env={**os.environ, **env})


def test_a_pipeline_py_at_the_top_cannot_shadow_the_tool(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    marker = tmp_path / "shadowed"
    (root / "pipeline.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    result = _run_hook(root, sys.executable, {"PYTHONPATH": str(REPO)})
    assert not marker.exists(), "the repository's pipeline.py ran instead of the installed tool"
    assert result.returncode == 0 and "pipeline pre-push" in result.stderr, result.stderr


def test_a_missing_package_prints_a_hint(tmp_path: Path) -> None:
    # The checkout off PYTHONPATH is what an uninstalled package looks like to the recorded interpreter.
    # A bare venv stands for an interpreter without the tool: the test runner's own one may have it
    # installed (CI installs the checkout with `pip install -e .`), PYTHONPATH or not.
    root = _repo(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = str(tmp_path / "bare" / "bin" / "python")
    result = _run_hook(root, bare, {"PYTHONPATH": str(tmp_path / "empty")})
    assert result.returncode != 0, result.stderr
    assert "is not importable by" in result.stderr and "pip install cargo-gpu-pipeline" in result.stderr


def test_an_internal_error_says_no_verify_is_the_users_choice(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\necho 'Traceback (most recent call last): ...' >&2\nexit 3\n")
    crashing.chmod(0o755)
    result = _run_hook(root, str(crashing), {})
    assert result.returncode == 3
    assert "internal error of cargo-gpu-pipeline" in result.stderr and "git push --no-verify" in result.stderr
