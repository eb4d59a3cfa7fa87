"""Workspace hygiene rules on generated workspaces with one problem each."""

from __future__ import annotations

from pathlib import Path

from factory import make_workspace

from pipeline.workspace.lint import RULES, lint
from pipeline.workspace.load import load_workspace


def findings(root: Path) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in lint(load_workspace(root))]


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_clean_generated_workspace_has_no_findings(tmp_path: Path) -> None:
    make_workspace(tmp_path, 10)
    assert findings(tmp_path) == []


def test_incompatible_series_of_an_external_crate(tmp_path: Path) -> None:
    make_workspace(tmp_path, 3)
    windows = "\n[target.'cfg(windows)'.dependencies]\n"
    append(tmp_path / "crates/gen-crate-0000/Cargo.toml", windows + 'serde = "1.0"\n')
    append(tmp_path / "crates/gen-crate-0001/Cargo.toml", windows + 'serde = "=1.0.200"\n')
    assert findings(tmp_path) == []  # same series: consistent
    append(tmp_path / "crates/gen-crate-0002/Cargo.toml", windows + 'syn = "2"\n')
    append(tmp_path / "crates/gen-crate-0001/Cargo.toml", 'syn = "1.0.109"\n')
    rules = findings(tmp_path)
    assert [r for r, _ in rules] == ["inconsistent-requirement"]
    assert "`syn`" in rules[0][1] and "gen-crate-0001" in rules[0][1] and "gen-crate-0002" in rules[0][1]


def test_requirement_not_accepting_the_members_version(tmp_path: Path) -> None:
    make_workspace(tmp_path, 3)
    manifest = tmp_path / "crates/gen-crate-0001/Cargo.toml"
    manifest.write_text(manifest.read_text().replace('version = "0.4.2"', 'version = "0.3"'))
    rules = findings(tmp_path)
    assert rules and rules[0][0] == "inconsistent-requirement" and "at 0.4.2" in rules[0][1]


def test_wildcard_requirement(tmp_path: Path) -> None:
    make_workspace(tmp_path, 2)
    append(tmp_path / "crates/gen-crate-0000/Cargo.toml", '\n[dependencies]\nlibc = "*"\n')
    assert [r for r, _ in findings(tmp_path)] == ["wildcard-requirement"]


def test_missing_metadata_only_for_publishable_crates(tmp_path: Path) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates/gen-crate-0000/Cargo.toml"
    manifest.write_text(manifest.read_text().replace("license.workspace = true\n", ""))
    assert findings(tmp_path) == [("missing-metadata", "publishable crate `gen-crate-0000` has no license")]
    manifest.write_text(manifest.read_text().replace("[package]\n", "[package]\npublish = false\n"))
    assert findings(tmp_path) == []


def test_edition_differing_from_the_workspace(tmp_path: Path) -> None:
    make_workspace(tmp_path, 2)
    manifest = tmp_path / "crates/gen-crate-0001/Cargo.toml"
    manifest.write_text(manifest.read_text().replace("edition.workspace = true", 'edition = "2018"'))
    assert [r for r, _ in findings(tmp_path)] == ["edition-mismatch"]


def test_path_dependency_without_version(tmp_path: Path) -> None:
    make_workspace(tmp_path, 3)
    manifest = tmp_path / "crates/gen-crate-0002/Cargo.toml"
    append(manifest, '\n[dev-dependencies]\ngen-crate-0000 = { path = "../gen-crate-0000" }\n')
    assert findings(tmp_path) == []  # dev-only path deps are stripped on publish
    text = manifest.read_text()
    manifest.write_text(text.replace("[dev-dependencies]", "[build-dependencies]"))
    assert [r for r, _ in findings(tmp_path)] == ["path-without-version"]


def test_cli_exit_codes_and_allow(tmp_path: Path, run_cli) -> None:
    make_workspace(tmp_path, 2)
    append(tmp_path / "crates/gen-crate-0000/Cargo.toml", '\n[dependencies]\nlibc = "*"\n')
    result = run_cli("lint", "--workspace", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1 and "[wildcard-requirement]" in result.stdout
    append(tmp_path / "Cargo.toml", '\n[workspace.metadata.pipeline.lint]\nallow = ["wildcard-requirement"]\n')
    assert run_cli("lint", "--workspace", str(tmp_path)).returncode == 0
    append(tmp_path / "Cargo.toml", "")
    text = (tmp_path / "Cargo.toml").read_text().replace('"wildcard-requirement"', '"wildcard"')
    (tmp_path / "Cargo.toml").write_text(text)
    bad = run_cli("lint", "--workspace", str(tmp_path))
    assert bad.returncode == 2 and "wildcard" in bad.stderr


def test_every_rule_is_listed(run_cli) -> None:
    assert run_cli("lint", "--list").stdout.split() == list(RULES)
