"""`pipeline audit` fits the workspace: the Python half reads only configured or top-level sources,
never the tool's own environment or test fixtures; `--fetch-db` clones or updates the advisory-db."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import Adv, Pkg, minimal_workspace, render_lockfile, write_advisory_db

from pipeline import cli
from pipeline.deps import pyaudit
from pipeline.deps.settings import AuditSettings


def _workspace(tmp_path: Path, config: str = "") -> Path:
    ws = minimal_workspace(tmp_path / "ws", ["app"], "[workspace.metadata.pipeline.audit]\n" + config)
    (ws / "Cargo.lock").write_text(render_lockfile([Pkg("app", "0.1.0", None), Pkg("smallvec", "0.6.9")], 4))
    return ws


def _upstream(tmp_path: Path, *advisories: Adv) -> Path:
    return write_advisory_db(tmp_path / "upstream", advisories, git=True)


def test_the_tools_own_environment_is_not_audited_by_default() -> None:
    assert AuditSettings().python_environment is False


def test_fixtures_and_nested_projects_are_not_python_sources(tmp_path: Path) -> None:
    (tmp_path / "tests" / "fixtures" / "proj").mkdir(parents=True)
    (tmp_path / "tests" / "fixtures" / "proj" / "requirements.txt").write_text("django==1.0\n")
    (tmp_path / "tests" / "fixtures" / "proj" / "pyproject.toml").write_text('[project]\nname = "fixture"\n')
    (tmp_path / "bindings").mkdir()
    (tmp_path / "bindings" / "pyproject.toml").write_text('[project]\nname = "bindings"\n')
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "top"\n')
    (tmp_path / "requirements-dev.txt").write_text("six\n")
    found = [p.relative_to(tmp_path).as_posix() for p in pyaudit.find_sources(tmp_path)]
    assert found == ["pyproject.toml", "requirements-dev.txt"]


def test_no_python_sources_means_no_pip_audit_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, 'db = "advisory-db"\n')
    write_advisory_db(ws / "advisory-db", [Adv("RUSTSEC-2024-0001", "unrelated", patched=(">= 1.0.0",))])
    (ws / "tests" / "fixtures").mkdir(parents=True)
    (ws / "tests" / "fixtures" / "requirements.txt").write_text("django==1.0\n")  # a fixture: never audited
    code = cli.main(["--workspace", str(ws), "audit", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 0, err
    assert report["python"]["sources"] == []  # neither the fixture nor the environment
    assert "nothing to pip-audit" in err


def test_configured_sources_below_the_root_are_audited(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, 'python-requirements = ["py/requirements.txt"]\n')
    (ws / "py").mkdir()
    (ws / "py" / "requirements.txt").write_text("tomli==2.0.1\n")
    from pipeline.commands.audit import _python_sources
    from pipeline.project import load_project

    assert _python_sources(load_project(ws)) == [(ws / "py" / "requirements.txt").resolve()]


def test_fetch_db_clones_then_updates_where_the_audit_reads(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, 'db = "cache/advisory-db"\npython = false\n')
    upstream = _upstream(tmp_path, Adv("RUSTSEC-2024-0001", "unrelated", patched=(">= 1.0.0",)))
    code = cli.main(["--workspace", str(ws), "audit", "--fetch-db", "--db-url", upstream.as_uri()])
    out, err = capsys.readouterr()
    assert code == 0, err
    db = ws / "cache" / "advisory-db"
    assert f"advisory-db cloned: {db}" in err
    assert (db / "crates" / "unrelated" / "RUSTSEC-2024-0001.md").is_file()
    assert not list(db.parent.glob(".*fetching"))

    # Upstream publishes an advisory for smallvec 0.6.9: the update brings it, and the audit finds it.
    write_advisory_db(upstream, [Adv("RUSTSEC-2019-0009", "smallvec", patched=(">= 0.6.10",))])
    subprocess.run(["git", "-C", str(upstream), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(upstream), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", "commit", "-qm", "smallvec"], check=True)
    code = cli.main(["--workspace", str(ws), "audit", "--fetch-db", "--db-url", upstream.as_uri()])
    out, err = capsys.readouterr()
    assert f"advisory-db updated: {db}" in err
    assert code == 1 and "RUSTSEC-2019-0009" in out


def test_fetch_db_without_network_keeps_an_existing_copy_and_fails_without_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, 'db = "advisory-db"\npython = false\n')
    nowhere = (tmp_path / "no-such-repo").as_uri()
    code = cli.main(["--workspace", str(ws), "audit", "--fetch-db", "--db-url", nowhere])
    _, err = capsys.readouterr()
    assert code == 1
    assert f"cloning {nowhere} into {ws / 'advisory-db'} failed" in err and "hint:" in err
    assert not (ws / "advisory-db").exists() and not list(ws.glob(".advisory-db*"))

    upstream = _upstream(tmp_path, Adv("RUSTSEC-2024-0001", "unrelated", patched=(">= 1.0.0",)))
    subprocess.run(["git", "clone", "-q", upstream.as_uri(), str(ws / "advisory-db")], check=True)
    code = cli.main(["--workspace", str(ws), "audit", "--fetch-db", "--db-url", nowhere])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "warning: advisory-db kept" in err


def test_fetch_db_refuses_a_directory_that_is_not_a_clone(tmp_path: Path, capsys) -> None:
    ws = _workspace(tmp_path, 'db = "advisory-db"\npython = false\n')
    write_advisory_db(ws / "advisory-db", [Adv("RUSTSEC-2024-0001", "unrelated", patched=(">= 1.0.0",))])
    code = cli.main(["--workspace", str(ws), "audit", "--fetch-db", "--db-url", (tmp_path / "x").as_uri()])
    assert code == 1
    assert "is not a git clone" in capsys.readouterr().err
