"""Affected crates (issue 13): files inside a crate always count, default ignores are top-level docs only,
users extend them, and [patch] edges carry the change to dependents."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapes_real import make_real

from pipeline.changes.affected import Rules, compute_affected, crate_dirs, rules_from
from pipeline.foundation.git import Change
from pipeline.hooks.settings import HooksSettings
from pipeline.workspace.load import load_workspace


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_real(tmp_path_factory.mktemp("aff") / "ws", tags=False, lockfile=False)


def _run(root: Path, path: str, rules: Rules | None = None):
    ws = load_workspace(root)
    rules = rules or Rules(ignore=HooksSettings().ignore)
    return compute_affected([Change("M", path)], base="b", head="h", prefix="", workspace=ws,
                            dirs=crate_dirs(ws, root.resolve()), rules=rules)


@pytest.mark.parametrize("path", ["crates/core/tests/data/expected.md", "crates/core/resources/table.rst",
                                  "crates/core/README.md", "crates/core/docs/notes.md", "crates/core/LICENSE"])
def test_any_file_inside_a_crate_affects_it(real: Path, path: str) -> None:
    result = _run(real, path)
    assert result.changed_crates == ("core",)
    assert "app" in result.crates  # and its dependents


@pytest.mark.parametrize("path", ["README.md", "docs/guide/intro.md", "CHANGELOG.md"])
def test_default_ignores_are_top_level_docs(real: Path, path: str) -> None:
    assert _run(real, path).nothing


def test_users_extend_the_defaults(real: Path) -> None:
    settings = HooksSettings(ignore_extra=("*.snap", "/crates/core/benches/**"))
    rules = rules_from(type("C", (), {"hooks": settings})())
    assert "/README.md" in rules.ignore and "*.snap" in rules.ignore
    assert _run(real, "crates/core/tests/x.snap", rules).changed_crates == ()
    assert _run(real, "crates/core/benches/big/x.rs", rules).changed_crates == ()
    assert _run(real, "crates/core/src/lib.rs", rules).changed_crates == ("core",)


def test_a_patch_edge_carries_the_change(real: Path) -> None:
    result = _run(real, "macros/src/lib.rs")
    assert result.changed_crates == ("macros",)
    assert set(result.crates) == {"macros", "app"}


def test_the_model_shows_the_patch_edge(real: Path) -> None:
    ws = load_workspace(real)
    assert ws.reverse_dependencies()["macros"] == ("app",)
    (dep,) = [d for d in ws.package("app").dependencies if d.name == "macros"]
    assert dep.patched and dep.member == "macros" and dep.path is None
