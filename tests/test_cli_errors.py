"""Bad input: a clear message naming the file or crate, a hint, the DESIGN exit code, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factory import make_workspace

from pipeline import cli


def assert_clean_error(result, code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert "hint:" in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_malformed_toml_reports_line_and_column(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 3)
    manifest = tmp_path / "crates" / "gen-crate-0001" / "Cargo.toml"
    lines = manifest.read_text().splitlines()
    lines[2] = 'version = "0.4.2'  # unterminated string on line 3
    manifest.write_text("\n".join(lines) + "\n")
    result = run_cli("--workspace", str(tmp_path), "workspace")
    assert_clean_error(result, 2, f"{manifest}:3:")


def test_member_glob_matching_nothing(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('"crates/*"', '"crates/*", "plugins/*"'))
    assert_clean_error(run_cli("workspace", "--workspace", str(tmp_path)), 2, "plugins/*", "Cargo.toml")


def test_path_dependency_to_missing_directory(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates" / "gen-crate-0001" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[dependencies.ghost]\npath = "../ghost"\nversion = "1"\n')
    assert_clean_error(run_cli("workspace", "--workspace", str(tmp_path)), 2, "gen-crate-0001", "ghost")


def test_cycle_through_normal_dependencies(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates" / "gen-crate-0000" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[dependencies]\ngen-crate-0001 = { path = "../gen-crate-0001" }\n')
    result = run_cli("workspace", "--workspace", str(tmp_path))
    assert_clean_error(result, 2, "cycle", "gen-crate-0000", "gen-crate-0001")


def test_dev_dependency_cycle_is_allowed(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates" / "gen-crate-0000" / "Cargo.toml"
    manifest.write_text(
        manifest.read_text() + '\n[dev-dependencies]\ngen-crate-0001 = { path = "../gen-crate-0001" }\n'
    )
    assert run_cli("workspace", "--workspace", str(tmp_path)).returncode == 0


def test_package_without_version_is_0_0_0_and_unpublished_as_cargo_reads_it(tmp_path: Path, run_cli) -> None:
    """Cargo 1.75+ accepts a package without `version`; a `publish` setting then is an error."""
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates" / "gen-crate-0001" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("version.workspace = true\n", ""))
    result = run_cli("workspace", "--json", "--workspace", str(tmp_path))
    assert result.returncode == 0, result.stderr
    member = next(m for m in json.loads(result.stdout)["members"] if m["name"] == "gen-crate-0001")
    assert (member["version"], member["publish"]) == ("0.0.0", False)
    manifest.write_text(manifest.read_text().replace("[package]\n", "[package]\npublish = true\n"))
    assert_clean_error(run_cli("workspace", "--workspace", str(tmp_path)), 2, f"{manifest}:2:", "gen-crate-0001",
                       "has no version")


def test_unknown_config_key_suggests_the_right_one(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[workspace.metadata.pipeline]\nfeatres = ["gpu"]\n')
    result = run_cli("lint", "--workspace", str(tmp_path))
    assert_clean_error(result, 2, "featres", "did you mean `features`?", f"{manifest}:")


def test_wrong_config_type_names_the_key(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[workspace.metadata.pipeline]\nall-features = "yes"\n')
    assert_clean_error(run_cli("lint", "--workspace", str(tmp_path)), 2, "all-features", "boolean")


def test_workspace_path_without_manifest(tmp_path: Path, run_cli) -> None:
    assert_clean_error(run_cli("workspace", "--workspace", str(tmp_path)), 2, str(tmp_path))


def test_environment_variable_selects_the_workspace(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 4)
    result = run_cli("workspace", "--json", env={"PIPELINE_WORKSPACE": str(tmp_path)})
    assert result.returncode == 0
    assert len(json.loads(result.stdout)["members"]) == 4


def test_nearest_workspace_above_the_current_directory(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 3)
    result = run_cli("workspace", "--json", cwd=tmp_path / "crates" / "gen-crate-0001" / "src")
    assert json.loads(result.stdout)["root"] == str(tmp_path)


def test_bad_usage_is_exit_2(run_cli) -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert run_cli().returncode == 2


def test_internal_error_is_exit_3_with_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from pipeline.commands import doctor

    def explode(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "run", explode)
    assert cli.main(["doctor"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "boom" in err and "this is a bug" in err


def test_version_flag(run_cli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and "cargo-gpu-pipeline" in result.stdout
