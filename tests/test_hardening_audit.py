"""`pipeline audit` fails closed: a database it cannot read whole is an error, never a pass."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import Adv, Pkg, minimal_workspace, render_lockfile, write_advisory_db

from pipeline import cli
from pipeline.deps.pyaudit import failure_reason


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = minimal_workspace(tmp_path / "ws", ["app"])
    (root / "Cargo.lock").write_text(render_lockfile(
        [Pkg("vuln", "1.0.0"), Pkg("app", "0.1.0", None, (("vuln", "1.0.0"),))], 3))
    return root


def audit(capsys: pytest.CaptureFixture[str], ws: Path, db: Path) -> tuple[int, str, str]:
    code = cli.main(["--workspace", str(ws), "audit", "--skip-python", "--db", str(db)])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_empty_database_is_an_error(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "db"
    (db / "crates").mkdir(parents=True)
    code, _, err = audit(capsys, ws, db)
    assert code == 1 and "holds no advisories" in err and str(db) in err, err


def test_a_database_without_crates_dir_is_an_error(ws: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "db"
    (db / "rust").mkdir(parents=True)
    code, _, err = audit(capsys, ws, db)
    assert code == 1 and "no crates/ directory" in err, err


@pytest.mark.parametrize("where", ["crate-dir", "advisory-file"])
def test_a_symlink_loop_in_the_database_is_an_error_not_a_traceback(
    where: str, ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = write_advisory_db(tmp_path / "db", [Adv("RUSTSEC-2024-0001", "vuln", patched=(">= 2.0.0",))])
    if where == "crate-dir":
        loop = db / "crates" / "loop"
    else:
        loop = db / "crates" / "vuln" / "RUSTSEC-2024-0002.md"
    os.symlink(loop.name, loop)  # points at itself: ELOOP on every open
    code, _, err = audit(capsys, ws, db)
    assert code == 1, err
    assert "Traceback" not in err and str(loop) in err, err


def test_the_good_database_still_finds_the_vulnerable_crate(ws: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The control: the same workspace and database without the damage fails on the finding.
    db = write_advisory_db(tmp_path / "db", [Adv("RUSTSEC-2024-0001", "vuln", patched=(">= 2.0.0",))])
    code, out, err = audit(capsys, ws, db)
    assert code == 1 and "RUSTSEC-2024-0001" in out, err


PIP_AUDIT_CRASH = """\
Traceback (most recent call last):
  File "/venv/lib/python3.12/site-packages/pip_audit/_cli.py", line 540, in audit
    for spec, vulns in auditor.audit(source):
                       ^^^^^^^^^^^^^^^^^^^^^
  File "/venv/lib/python3.12/site-packages/pip_audit/_dependency_source/requirement.py", line 140, in collect
    raise RequirementSourceError(str(exc))
pip_audit._dependency_source.interface.DependencySourceError: Could not find a version that satisfies nosuchpkg==9
"""


def test_pip_audit_failure_is_one_clean_line() -> None:
    reason = failure_reason(PIP_AUDIT_CRASH)
    assert reason == ("pip_audit._dependency_source.interface.DependencySourceError: "
                      "Could not find a version that satisfies nosuchpkg==9")
    assert failure_reason("ERROR:pip_audit._cli:requirements.txt: no such file\n") == "requirements.txt: no such file"
    assert failure_reason("") == ""
