"""`pipeline doctor`: versions of real tools, and clear hints when they are missing."""

from __future__ import annotations

import json
from pathlib import Path


def test_doctor_reports_installed_tools(run_cli) -> None:
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tools = {t["name"]: t for t in report["tools"]}
    assert {"cargo", "rustc", "rustfmt", "clippy", "git", "nvcc"} <= set(tools)
    assert tools["cargo"]["version"][0].isdigit()
    assert report["ok"] is True


def test_doctor_names_missing_tools_with_hints(run_cli, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_cli("doctor", "--json", env={"PATH": str(empty), "CUDA_HOME": "", "CUDA_PATH": ""})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    cargo = next(t for t in report["tools"] if t["name"] == "cargo")
    assert cargo["version"] is None and "rustup" in cargo["hint"]
    assert "cargo" in result.stderr and "hint:" in result.stderr
