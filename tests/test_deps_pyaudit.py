"""`pipeline audit`, Python half: sources found in the workspace, pip-audit run for real, the
unreachable-service rule (exit 1 unless --allow-offline) and the missing-extra error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import Adv, Pkg, minimal_workspace, render_lockfile, write_advisory_db

from pipeline import cli
from pipeline.deps import pyaudit

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "prism4d"


def test_sources_found_in_the_example_workspace() -> None:
    # Its PyO3 bindings live below the root: found only when configured (they are, in its Cargo.toml).
    assert pyaudit.find_sources(EXAMPLE) == []


def test_sources_skip_build_dirs_and_non_project_pyproject(tmp_path: Path) -> None:
    (tmp_path / "target" / "x").mkdir(parents=True)
    (tmp_path / "target" / "x" / "requirements.txt").write_text("six\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # no [project]
    (tmp_path / "tools" / "dev-requirements.txt").write_text("six\n")
    (tmp_path / "requirements-docs.txt").write_text("six\n")
    (tmp_path / "notes.txt").write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in pyaudit.find_sources(tmp_path)]
    assert found == ["requirements-docs.txt"]


@pytest.fixture
def py_ws(tmp_path: Path) -> Path:
    # Pinned requirements audited as written (no resolver run): one quick pip-audit call per test.
    ws = minimal_workspace(tmp_path / "ws", ["app"], "[workspace.metadata.pipeline.audit]\npython-environment = false\n"
                           'db = "advisory-db"\npython-no-deps = true\n'
                           'python-requirements = ["python/requirements.txt"]\n')
    (ws / "Cargo.lock").write_text(render_lockfile([Pkg("app", "0.1.0", None)], 4))
    write_advisory_db(ws / "advisory-db", [Adv("RUSTSEC-2024-0001", "unrelated", patched=(">= 1.0.0",))])
    (ws / "python").mkdir()
    (ws / "python" / "requirements.txt").write_text("tomli==2.0.1\n")
    return ws


@pytest.mark.skipif(not pyaudit.pip_audit_available(), reason="pip-audit (the `audit` extra) is not installed")
def test_unreachable_vulnerability_service_fails_unless_allow_offline(
    py_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--workspace", str(py_ws), "audit", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    [source] = report["python"]["sources"]
    assert source["source"] == os.path.join("python", "requirements.txt")
    if source["status"] == "audited":
        # The service answered (a machine with internet): tomli 2.0.1 has no known vulnerability.
        assert code == 0 and source["findings"] == []
        return
    # Here PyPI's JSON API does not answer: pip-audit marks every dependency "could not be audited".
    assert source["status"] == "unreachable"
    assert "answered for none of the" in source["reason"]
    assert code == 1
    assert "python/requirements.txt NOT AUDITED: vulnerability service unreachable" in err
    assert "Python dependencies not audited: the vulnerability service could not be reached" in err
    assert "--allow-offline" in err

    code = cli.main(["--workspace", str(py_ws), "audit", "--allow-offline"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "WARNING: python: python/requirements.txt NOT AUDITED: vulnerability service unreachable" in err
    assert out.splitlines()[-1].startswith("audit [builtin]: 0 error(s), 0 warning(s)")


def test_missing_pip_audit_is_tool_missing_with_the_install_hint(py_ws: Path) -> None:
    # `python -S` leaves site-packages (and pip-audit) out; the audit command needs only the stdlib.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-S", "-m", "pipeline", "--workspace", str(py_ws), "audit"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    assert "`pip-audit` was not found" in result.stderr
    assert "pip install 'cargo-gpu-pipeline[audit]'" in result.stderr
    assert "--skip-python" in result.stderr
    result = subprocess.run([sys.executable, "-S", "-m", "pipeline", "--workspace", str(py_ws), "audit",
                             "--skip-python"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "audit [builtin]: 0 error(s)" in result.stdout


def test_configured_requirement_file_must_exist(py_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = py_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('"python/requirements.txt"', '"python/missing.txt"'))
    if not pyaudit.pip_audit_available():
        pytest.skip("pip-audit (the `audit` extra) is not installed")
    code = cli.main(["--workspace", str(py_ws), "audit"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "python-requirements names missing file(s)" in err and "missing.txt" in err


@pytest.mark.skipif(not pyaudit.pip_audit_available(), reason="pip-audit (the `audit` extra) is not installed")
def test_refused_connection_fails_unless_allow_offline_on_any_machine(
    py_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test above returns early where PyPI answers; here the service is unreachable everywhere:
    # every request goes through a proxy on a closed port.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    code = cli.main(["--workspace", str(py_ws), "audit", "--json"])
    out, err = capsys.readouterr()
    [source] = json.loads(out)["python"]["sources"]
    assert code == 1 and source["status"] == "unreachable", err
    assert "python/requirements.txt NOT AUDITED: vulnerability service unreachable" in err
    assert "--allow-offline" in err
    code = cli.main(["--workspace", str(py_ws), "audit", "--allow-offline"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "WARNING: python: python/requirements.txt NOT AUDITED" in err
