# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "nox>=2025.2.9",
#     "packaging>=23.2",
#     "jinja2>=3.1",
#     "tomlkit>=0.13",
#     "tomli>=2.1",
#     "nvidia-ml-py>=12.535",
# ]
# [tool.nox]
# script-venv-backend = "venv"
# ///
"""Sessions of cargo-gpu-pipeline itself.

The stage sessions (fmt, clippy, lint, test, ...) come from ``pipeline.nox_sessions``
and act on the target workspace (the bundled ``examples/prism4d`` unless
``--workspace``/``PIPELINE_WORKSPACE`` says otherwise). ``tests`` and ``bench``
are this project's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# The package is imported from this checkout, so a fresh clone needs no install step.
sys.path.insert(0, str(ROOT))

import pipeline.nox_sessions  # noqa: E402, F401 - registers the stage sessions

nox.options.default_venv_backend = "venv"
# `nox` alone shows the release plan of the target workspace (a dry run: nothing is written).
nox.options.sessions = ["release"]


def _install_dev(session: nox.Session) -> None:
    session.install("-e", ".", *nox.project.dependency_groups(nox.project.load_toml("pyproject.toml"), "dev"))


@nox.session
def tests(session: nox.Session) -> None:
    """This project's pytest suite (arguments after -- go to pytest)."""
    _install_dev(session)
    session.run("python", "-m", "pytest", *(session.posargs or ["-n", "auto"]))


@nox.session
def pylint(session: nox.Session) -> None:
    """This project's Python lint: ruff over the package, tests and benchmarks."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "pipeline", "tests", "bench", "noxfile.py", "setup.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks in bench/: each prints ratios against a baseline measured in the same run."""
    _install_dev(session)
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    selected = [s for s in scripts if not session.posargs or any(a in s.name for a in session.posargs)]
    for script in selected:
        session.run("python", str(script))
