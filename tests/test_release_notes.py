"""`pipeline changelog --section`: the section a release wrote, as the release notes CI publishes.

A real release writes the section; the notes are read back from CHANGELOG.md at the tag, and the
pre-release decision comes from the parsed version (files the publish jobs read, no shell regex).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, init_git

from pipeline.release.notes import section

CHANGELOG = """# Changelog

## [Unreleased]

## [1.0.0-rc.1] - 2026-11-30

### Added

- `core`: the rc (abc1234)

## [0.9.0] - 2026-10-01

### Fixed

- old

[Unreleased]: https://example.com/compare/v1.0.0-rc.1...HEAD
[1.0.0-rc.1]: https://example.com/compare/v0.9.0...v1.0.0-rc.1
"""


def test_section_stops_at_the_next_heading_and_at_link_definitions() -> None:
    assert section(CHANGELOG, ("1.0.0-rc.1",)) == "### Added\n\n- `core`: the rc (abc1234)\n"
    assert section(CHANGELOG, ("0.9.0",)) == "### Fixed\n\n- old\n"
    assert section(CHANGELOG, ("2.0.0",)) is None
    assert section(CHANGELOG.replace("\n", "\r\n"), ("0.9.0",)) == "### Fixed\n\n- old\n"


def _workspace(root: Path, version: str) -> Path:
    (root / "crates" / "core" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        f'[workspace]\nresolver = "2"\nmembers = ["crates/core"]\n\n[workspace.package]\nversion = "{version}"\n'
        'edition = "2021"\n\n[workspace.metadata.pipeline.release]\nartifacts = false\ngates = []\n')
    (root / "crates" / "core" / "Cargo.toml").write_text(
        '[package]\nname = "core"\nversion.workspace = true\nedition.workspace = true\n')
    (root / "crates" / "core" / "src" / "lib.rs").write_text("pub fn f() {}\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    init_git(root)
    return root


@pytest.mark.parametrize(("level", "version", "prerelease"), [("rc", "0.9.1-rc.1", True), ("minor", "0.10.0", False)])
def test_notes_of_a_real_release(tmp_path: Path, level: str, version: str, prerelease: bool) -> None:
    ws = _workspace(tmp_path / "ws", "0.9.0")
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("pub fn f() {}\npub fn g() {}\n")
    subprocess.run(["git", "commit", "-qam", "feat(core): add g"], cwd=ws, check=True)
    done = cli("release", level, "--execute", "--no-verify", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    notes_dir = tmp_path / "notes"
    result = cli("changelog", "--section", "--notes-dir", str(notes_dir), "--json", "--workspace", str(ws))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == version and data["tag"] == f"v{version}" and data["prerelease"] is prerelease
    notes = (notes_dir / "notes.md").read_text()
    assert "- `core`: add g (" in notes and notes.startswith("### Added") and "## [" not in notes
    assert (notes_dir / "prerelease").exists() is prerelease
    env = (notes_dir / "release.env").read_text()
    name = f"v{version} (pre-release)" if prerelease else f"v{version}"
    assert env == f"RELEASE_NAME={name}\nRELEASE_PRERELEASE={'true' if prerelease else 'false'}\n"
    # Plain output is the notes alone (for `> notes.md`), of any version the file has.
    plain = cli("changelog", "--section", "0.9.0", "--workspace", str(ws))
    assert plain.returncode == 1 and "no `## [0.9.0]` section" in plain.stderr and "hint:" in plain.stderr
    assert cli("changelog", "--section", "--workspace", str(ws)).stdout == notes


def test_notes_dir_needs_section_and_a_version_must_parse(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", "0.9.0")
    result = cli("changelog", "--notes-dir", str(tmp_path / "n"), "--workspace", str(ws))
    assert result.returncode == 2 and "--notes-dir writes the notes of --section" in result.stderr
    result = cli("changelog", "--section", "not-a-version", "--workspace", str(ws))
    assert result.returncode == 2 and "--section not-a-version: not a version" in result.stderr
