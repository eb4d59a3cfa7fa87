"""The stage sessions, for any workspace's noxfile: ``import pipeline.nox_sessions``.

Stage sessions use no virtualenv (``venv_backend="none"``): they only drive
cargo, nvcc and git, and they run the pipeline in-process so a session costs
one interpreter start. Arguments after ``--`` pass through:
``nox -s fmt -- --fix``, ``nox -s release -- minor --execute``.

A bare ``nox`` runs the cheap checks (fmt, clippy, lint, test, dupes); the sessions
that write files (hooks, generate), need a GPU or an advisory database, or plan a
release run only when named with ``-s``.
"""

from __future__ import annotations

import nox

from pipeline import cli


def run_pipeline(session: nox.Session, *args: str) -> None:
    """Run ``pipeline ARGS...`` in this process; a non-zero exit fails the session."""
    argv = [*args, *session.posargs]
    session.log("pipeline " + " ".join(argv))
    code = cli.main(argv)
    if code != 0:
        session.error(f"`pipeline {' '.join(argv)}` exited with code {code}")


@nox.session(venv_backend="none")
def fmt(session: nox.Session) -> None:
    """cargo fmt --check on the workspace (`-- --fix` formats)."""
    run_pipeline(session, "fmt")


@nox.session(venv_backend="none")
def clippy(session: nox.Session) -> None:
    """cargo clippy --workspace --all-targets with -D warnings."""
    run_pipeline(session, "clippy")


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """Workspace hygiene: requirements, metadata, editions, path deps."""
    run_pipeline(session, "lint")


@nox.session(venv_backend="none")
def test(session: nox.Session) -> None:
    """cargo test --workspace."""
    run_pipeline(session, "test")


@nox.session(venv_backend="none", default=False)
def release(session: nox.Session) -> None:
    """Release plan (dry run); `-- minor --execute` bumps, writes the changelog, commits, tags, builds dist/."""
    run_pipeline(session, "release")


@nox.session(venv_backend="none", default=False)
def affected(session: nox.Session) -> None:
    """Crates a change affects (`-- --base origin/main --json`)."""
    run_pipeline(session, "affected")


@nox.session(venv_backend="none", default=False)
def hooks(session: nox.Session) -> None:
    """Install the pre-push hook (`-- install --force`, `-- uninstall`)."""
    run_pipeline(session, "hooks", *([] if session.posargs else ["install"]))


@nox.session(venv_backend="none")
def dupes(session: nox.Session) -> None:
    """Duplicate dependency versions in Cargo.lock, with why-paths (`-- --json`)."""
    run_pipeline(session, "dupes")


@nox.session(venv_backend="none", default=False)
def audit(session: nox.Session) -> None:
    """RustSec advisories for Cargo.lock and pip-audit for Python requirements (`-- --db PATH`)."""
    run_pipeline(session, "audit")


@nox.session(venv_backend="none", default=False)
def generate(session: nox.Session) -> None:
    """Render the CI files (`-- --check` fails when the committed ones are stale)."""
    run_pipeline(session, "generate")


@nox.session(venv_backend="none", default=False)
def cuda(session: nox.Session) -> None:
    """Compile every CUDA kernel for every target architecture (parallel, cached) into target/cuda/."""
    run_pipeline(session, "cuda")


@nox.session(venv_backend="none", default=False)
def gpu_smoke(session: nox.Session) -> None:
    """Load every fatbin on every GPU and launch the smoke cases; fails without a GPU."""
    run_pipeline(session, "gpu", "smoke", "--require-gpu")


@nox.session(venv_backend="none", default=False)
def gpu_test(session: nox.Session) -> None:
    """The GPU tests under GPU leases, sharded across the GPUs."""
    run_pipeline(session, "test", "--gpu")
