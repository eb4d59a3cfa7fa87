"""Shared fixtures: the example workspace copied to tmp_path, and the CLI run as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "prism4d"

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def copy_example(destination: Path) -> Path:
    """A copy of examples/prism4d without its build directory."""
    shutil.copytree(EXAMPLE, destination, ignore=shutil.ignore_patterns("target"))
    return destination


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "prism4d")


@pytest.fixture
def run_cli() -> CliRunner:
    """``run_cli(*args, cwd=..., env=...)`` runs ``python -m pipeline`` in a subprocess."""

    def runner(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        full_env.pop("PIPELINE_WORKSPACE", None)
        full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        if env:
            full_env.update(env)
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            cwd=cwd or REPO_ROOT,
            env=full_env,
            input=stdin,
            text=True,
            capture_output=True,
            check=False,
        )

    return runner


@pytest.fixture(scope="session")
def shared_target_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CARGO_TARGET_DIR for tests that build copies of the example, so they share artifacts."""
    return tmp_path_factory.mktemp("cargo-target")
