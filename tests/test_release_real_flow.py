"""The whole flow on real-world shapes (issue 13), as a user runs it: `pipeline bump/release/changelog`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, snapshot
from shapes_real import cargo_resolves, commit, git, make_real

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")


@pytest.fixture
def real(tmp_path: Path) -> Path:
    return make_real(tmp_path / "ws")


def test_bump_updates_every_dependent_and_cargo_still_resolves(real: Path) -> None:
    result = cli("--workspace", str(real), "bump", "minor", "--execute")
    assert result.returncode == 0, result.stderr
    assert 'version = "0.12.0"' in (real / "kernels/Cargo.toml").read_text()
    assert 'version = "^0.12"' in (real / "examples/demo/Cargo.toml").read_text()
    assert 'macros = "~2.8.0"' in (real / "crates/app/Cargo.toml").read_text()
    for directory in (real, real / "kernels", real / "examples/demo"):
        check = cargo_resolves(directory)
        assert check.returncode == 0, (directory, check.stderr)


def test_bump_of_a_patched_crate_keeps_operator_and_precision(real: Path) -> None:
    result = cli("--workspace", str(real), "bump", "--crate", "macros", "minor", "--execute")
    assert result.returncode == 0, result.stderr
    assert 'macros = "~2.8.0"' in (real / "crates/app/Cargo.toml").read_text()
    assert cargo_resolves(real).returncode == 0


def test_workspace_json_shows_the_patch_edge(real: Path) -> None:
    data = json.loads(cli("--workspace", str(real), "workspace", "--json").stdout)
    macros = next(m for m in data["members"] if m["name"] == "macros")
    assert macros["dependents"] == ["app"]


def test_a_requirement_cargo_would_reject_stops_before_writing(real: Path) -> None:
    demo = real / "examples/demo/Cargo.toml"
    demo.write_text(demo.read_text().replace('"^0.11"', '">=0.11, <0.12"'))
    git(real, "commit", "-qam", "chore: pin the demo")
    before = snapshot(real)
    result = cli("--workspace", str(real), "bump", "minor", "--execute")
    assert result.returncode == 1
    assert "examples/demo/Cargo.toml:10:" in result.stderr and ">=0.11, <0.12" in result.stderr
    assert "0.12.0" in result.stderr and "fix: write `version = \"0.12\"`" in result.stderr
    assert snapshot(real) == before


def test_extra_crates_are_released_with_the_workspace(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.release]\nextra-crates = ["kernels"]\n'
    root = make_real(tmp_path / "ws", extra_root=config)
    result = cli("--workspace", str(root), "bump", "minor", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert {"name": "kernels", "old": "0.11.0", "new": "0.12.0"}.items() <= next(
        c for c in plan["crates"] if c["name"] == "kernels").items()


def test_release_execute_with_extra_crates(tmp_path: Path) -> None:
    # `release` (not only `bump`) with an extra crate: it used to stop at the artifact names
    # ("no workspace member is named `kernels`", exit 2).
    config = '\n[workspace.metadata.pipeline.release]\nextra-crates = ["kernels"]\n'
    root = make_real(tmp_path / "ws", extra_root=config)
    result = cli("--workspace", str(root), "release", "minor", "--execute", "--no-verify")
    assert result.returncode == 0, result.stderr
    kernels = (root / "kernels/Cargo.toml").read_text()
    assert 'version = "0.12.0"\nedition' in kernels and 'version = "0.12.0" }' in kernels
    assert "0.12.0" in git(root, "tag", "--list", "0.12.0")
    assert cargo_resolves(root / "kernels").returncode == 0


def test_quoting_and_a_byte_order_mark_are_kept(tmp_path: Path) -> None:
    files = {"crates/app/Cargo.toml": (
        "\ufeff[package]\nname = 'app'\nversion.workspace = true\nedition.workspace = true\n\n"
        "[dependencies]\ncore = { path = '../core', version = '0.11.0' }\n"
        'macros = """~2.7.0"""\n')}
    root = make_real(tmp_path / "ws", files=files)
    result = cli("--workspace", str(root), "bump", "minor", "--execute")
    assert result.returncode == 0, result.stderr
    text = (root / "crates/app/Cargo.toml").read_bytes().decode("utf-8")
    assert text.startswith("\ufeff[package]")
    assert "version = '0.12.0' }" in text and 'macros = """~2.8.0"""' in text
    assert cargo_resolves(root).returncode == 0


def test_changelog_infers_bare_version_tags(real: Path) -> None:
    commit(real, "crates/app/src/lib.rs", "fix: app stops crashing")
    result = cli("--workspace", str(real), "changelog")
    assert result.returncode == 0, result.stderr
    assert 'release: tags look like "{version}" (2 tags, newest 0.11.0)' in result.stderr
    # macros (own version, never tagged) runs from the start; the others from 0.11.0.
    assert "since 0.11.0 (never tagged: macros)" in result.stdout
    assert "app stops crashing" in result.stdout and "`tool`" not in result.stdout
    assert "core learns to count" not in result.stdout  # released in 0.11.0


def test_release_uses_the_inferred_scheme_and_own_tags(real: Path) -> None:
    commit(real, "crates/core/src/lib.rs", "feat: core grows")
    result = cli("--workspace", str(real), "release", "auto", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert "0.11.1" in plan["tags"]  # `{version}`, as the existing tags
    assert not any(t.startswith("tool") for t in plan["tags"])  # publish = false: not tagged


def test_changed_picks_crates_with_commits_since_their_own_tag(real: Path) -> None:
    git(real, "tag", "-a", "macros-v2.7.0", "-m", "m")
    commit(real, "macros/src/lib.rs", "fix: macros")
    result = cli("--workspace", str(real), "bump", "patch", "--changed", "--json")
    assert result.returncode == 0, result.stderr
    names = [c["name"] for c in json.loads(result.stdout)["crates"] if c["reason"] == "selected"]
    assert names == ["macros"]


def test_per_crate_changelogs_are_written_where_crates_keep_them(real: Path) -> None:
    for crate in ("crates/core", "crates/app"):
        (real / crate / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n")
    git(real, "add", "-A")
    git(real, "commit", "-qm", "docs: changelogs")
    commit(real, "crates/core/src/lib.rs", "feat: core grows")
    commit(real, ".github/workflows/ci.yml", "ci: a workflow")  # touches no crate
    result = cli("--workspace", str(real), "release", "patch", "--execute", "--no-verify", "--allow-dirty",
                 env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.returncode == 0, result.stderr
    assert not (real / "CHANGELOG.md").exists()
    # A crate's own file lists the commits touching it, never the workspace-level ones (tracing's
    # per-crate files used to get every CI and removed-crate commit of the whole range).
    assert "a workflow" not in (real / "crates/core/CHANGELOG.md").read_text()
    assert "a workflow" not in (real / "crates/app/CHANGELOG.md").read_text()
    assert "core grows" in (real / "crates/core/CHANGELOG.md").read_text()
    assert "core grows" not in (real / "crates/app/CHANGELOG.md").read_text()
    assert "## [0.11.1]" in (real / "crates/app/CHANGELOG.md").read_text()


def test_primary_crate_tags_without_crate_and_an_unknown_one_is_located(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.release]\nprimary-crate = "macros"\n'
    root = make_real(tmp_path / "ws", extra_root=config)
    commit(root, "macros/src/lib.rs", "feat: macros grow")
    result = cli("--workspace", str(root), "release", "minor", "--crate", "macros", "--json")
    assert result.returncode == 0, result.stderr
    tags = json.loads(result.stdout)["tags"]
    assert "2.8.0" in tags and not any(t.startswith("macros") for t in tags)  # `{version}`, as the primary's
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('primary-crate = "macros"', 'primary-crate = "macro"'))
    git(root, "commit", "-qam", "chore: typo")
    before = snapshot(root)
    result = cli("--workspace", str(root), "release", "minor", "--execute", "--no-verify")
    assert result.returncode == 2
    assert f"{manifest}:14:1: `release.primary-crate` names `macro`, which is no member" in result.stderr
    assert "hint: members are: app, core, macros, tool" in result.stderr
    assert snapshot(root) == before
