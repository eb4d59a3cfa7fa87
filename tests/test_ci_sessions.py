"""`ci.extra-sessions` are checked against the target's noxfile (`nox -l --json`) when CI files are generated."""

from __future__ import annotations

from pathlib import Path

import pytest
from factory import init_git, make_workspace

from pipeline import cli

EXTRA = """
[[workspace.metadata.pipeline.ci.extra-sessions]]
name = "tests"

[[workspace.metadata.pipeline.ci.extra-sessions]]
name = "docs"
session = "{session}"
"""
NOXFILE = """import nox

@nox.session(venv_backend="none")
def tests(session):
    pass

@nox.session(venv_backend="none", default=False)
def sphinx(session):
    pass

nox.options.sessions = ["tests"]  # a default selection must not hide the other sessions
"""


def _repo(tmp_path: Path, session: str, noxfile: bool = True) -> Path:
    root = tmp_path / "repo"
    make_workspace(root, 2)
    with (root / "Cargo.toml").open("a") as manifest:
        manifest.write(EXTRA.format(session=session))
    if noxfile:
        (root / "noxfile.py").write_text(NOXFILE)
    init_git(root)
    return root


def test_unknown_extra_session_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, "documentation")
    assert cli.main(["generate", "--workspace", str(root)]) == 2
    err = capsys.readouterr().err
    assert "`ci.extra-sessions` job `docs` runs nox session `documentation`" in err
    assert "available sessions: tests, sphinx" in err
    assert not (root / ".github").exists()  # nothing written


def test_known_extra_sessions_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, "sphinx")
    assert cli.main(["generate", "--workspace", str(root)]) == 0
    assert "nox session sphinx" in (root / ".github" / "workflows" / "ci.yml").read_text()
    assert "not checked" not in capsys.readouterr().err
    assert cli.main(["generate", "--check", "--workspace", str(root)]) == 0


def test_without_a_noxfile_the_check_is_skipped_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, "documentation", noxfile=False)
    assert cli.main(["generate", "--workspace", str(root)]) == 0
    err = capsys.readouterr().err
    assert "`ci.extra-sessions` not checked against the noxfile: no noxfile at" in err


def test_without_nox_the_check_is_skipped_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.ci import sessions

    monkeypatch.setattr(sessions, "_nox_argv", lambda: None)  # a machine without nox
    root = _repo(tmp_path, "documentation")
    assert cli.main(["generate", "--workspace", str(root)]) == 0
    assert "not checked against the noxfile: nox is not installed" in capsys.readouterr().err
