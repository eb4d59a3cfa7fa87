"""`[replace]` and `[patch."<url>"]` entries pointing at members (issue 13 point 2): the model shows
the edge (`workspace --json`, `affected`), a bump rewrites the requirement and the `[replace]` key
(keeping its quotes), and cargo's offline check says why it was skipped where it cannot resolve."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, snapshot
from shapes_real import commit, git, make_real

from pipeline.release.edit import Edit, edit_toml

PATCH = '[patch.crates-io]\nmacros = { path = "macros" }\n'
GIT_URL = "https://github.com/org/macros"


def _replace_ws(root: Path, section: str) -> Path:
    make_real(root, tags=False, lockfile=False)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(PATCH, section))
    git(root, "commit", "-qam", "chore: replace instead of patch")
    return root


def _git_patch_ws(root: Path) -> Path:
    make_real(root, tags=False, lockfile=False)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(PATCH, f'[patch."{GIT_URL}"]\nmacros = {{ path = "macros" }}\n'))
    app = root / "crates/app/Cargo.toml"
    by_git = f'macros = {{ git = "{GIT_URL}", version = "~2.7.0" }}'
    app.write_text(app.read_text().replace('macros = "~2.7.0"', by_git))
    git(root, "commit", "-qam", "chore: patch a git source")
    return root


@pytest.mark.parametrize("shape", ["replace", "git-patch"])
def test_the_model_and_affected_show_the_edge(tmp_path: Path, shape: str) -> None:
    root = (_replace_ws(tmp_path / "ws", '[replace]\n"macros:2.7.0" = { path = "macros" }\n') if shape == "replace"
            else _git_patch_ws(tmp_path / "ws"))
    result = cli("workspace", "--json", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    members = {m["name"]: m for m in json.loads(result.stdout)["members"]}
    assert members["macros"]["dependents"] == ["app"]
    (dep,) = [d for d in members["app"]["dependencies"] if d["name"] == "macros"]
    assert dep["patched"] and dep["member"] == "macros"
    base = git(root, "rev-parse", "HEAD").strip()
    commit(root, "macros/src/lib.rs", "fix: macros")
    affected = cli("affected", "--base", base, "--json", "--workspace", str(root))
    assert affected.returncode == 0, affected.stderr
    data = json.loads(affected.stdout)
    assert data["changed_crates"] == ["macros"] and set(data["crates"]) == {"macros", "app"}


@pytest.mark.parametrize("key", ['"macros:2.7.0"', "'macros:2.7.0'", '"macros@2.7.0"'])
def test_bump_renames_the_replace_key_keeping_its_quotes(tmp_path: Path, key: str) -> None:
    section = f'[replace]\n# keep "macros:2.7.0" in this comment\n{key} = {{ path = "macros" }}\n'
    root = _replace_ws(tmp_path / "ws", section)
    before = (root / "Cargo.toml").read_text()
    result = cli("bump", "minor", "--crate", "macros", "--execute", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    after = (root / "Cargo.toml").read_text()
    new_key = key.replace("2.7.0", "2.8.0")
    assert after == before.replace(f"{key} =", f"{new_key} =").replace('version = "0.11.0"', 'version = "0.11.1"')
    assert '# keep "macros:2.7.0" in this comment' in after
    assert 'macros = "~2.8.0"' in (root / "crates/app/Cargo.toml").read_text()
    # No Cargo.lock (and cargo could not resolve `[replace]` offline anyway): the skip is said.
    assert "`cargo metadata --offline --locked` skipped: the workspace has no Cargo.lock" in result.stderr


def test_a_git_patch_edge_is_rewritten(tmp_path: Path) -> None:
    root = _git_patch_ws(tmp_path / "ws")
    result = cli("bump", "minor", "--crate", "macros", "--execute", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert f'macros = {{ git = "{GIT_URL}", version = "~2.8.0" }}' in (root / "crates/app/Cargo.toml").read_text()


def test_replace_table_form_and_a_decoy_string() -> None:
    text = ('[package]\nname = "x"\ndescription = "\\"macros:2.7.0\\" decoy"\n\n'
            '[replace."macros:2.7.0"]\npath = "macros"\n')
    new = edit_toml(text, [Edit(("replace", "macros:2.7.0"), "macros:2.7.0", "macros:2.8.0", key=True)], Path("x"))
    assert new == text.replace('[replace."macros:2.7.0"]', '[replace."macros:2.8.0"]')


def test_a_replace_key_that_moved_refuses_and_writes_nothing(tmp_path: Path) -> None:
    root = _replace_ws(tmp_path / "ws", '[replace]\n"macros:2.6.0" = { path = "macros" }\n')
    before = snapshot(root)
    result = cli("bump", "minor", "--crate", "macros", "--execute", "--workspace", str(root))
    assert result.returncode == 1
    assert 'Cargo.toml:11: [replace] entry `macros:2.6.0`' in result.stderr and '"macros:2.8.0"' in result.stderr
    assert snapshot(root) == before
