"""Changelog: conventional commits, crate attribution, Keep a Changelog insertion."""

from __future__ import annotations

from pathlib import Path

from release_support import git, init_git, make_shapes

from pipeline.foundation.git import CommitInfo, open_repo
from pipeline.release import changelog as cl
from pipeline.release.history import crate_dirs, unreleased_changes
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.load import load_workspace

EXAMPLE_CHANGELOG = Path(__file__).resolve().parent.parent / "examples" / "prism4d" / "CHANGELOG.md"


def _commit(subject: str, body: str = "", files: tuple[str, ...] = ()) -> CommitInfo:
    return CommitInfo("0123456789abcdef", subject, body, files)


def test_parse_conventional_commits() -> None:
    feat = cl.parse_commit(_commit("feat(gpu): tensor-core path"), ("prism-gpu",))
    assert (feat.section, feat.summary, feat.scope, feat.breaking) == ("Added", "tensor-core path", "gpu", False)
    assert cl.parse_commit(_commit("fix: off by one"), ()).section == "Fixed"
    assert cl.parse_commit(_commit("perf: faster"), ()).section == "Changed"
    assert cl.parse_commit(_commit("security: bump zlib"), ()).section == "Security"
    bang = cl.parse_commit(_commit("feat(io)!: new file format"), ())
    assert bang.breaking and bang.section == cl.BREAKING
    footer = cl.parse_commit(_commit("refactor: units", "Details.\n\nBREAKING CHANGE: lengths are in nm"), ())
    assert footer.breaking and "lengths are in nm" in footer.summary
    other = cl.parse_commit(_commit("Update README"), ())
    assert other.section == cl.OTHER and other.type is None  # never dropped
    unknown = cl.parse_commit(_commit("release: tidy the scripts"), ())
    assert (unknown.section, unknown.summary, unknown.type) == (cl.OTHER, "release: tidy the scripts", None)
    docs = cl.parse_commit(_commit("docs(readme): typo"), ())
    assert (docs.section, docs.summary, docs.type) == (cl.OTHER, "typo", "docs")
    assert feat.render() == "- `prism-gpu`: tensor-core path (0123456)"
    assert bang.render().startswith("- **BREAKING:** new file format")


def test_attribution_by_path_deepest_wins() -> None:
    dirs = {"root-crate": "", "core": "crates/core", "core-macros": "crates/core/macros"}
    assert cl.attribute(["crates/core/src/lib.rs"], dirs) == ("core",)
    assert cl.attribute(["crates/core/macros/src/lib.rs", "crates/core/x.rs"], dirs) == ("core", "core-macros")
    assert cl.attribute(["README.md"], dirs) == ("root-crate",)
    assert cl.attribute(["README.md"], {"core": "crates/core"}) == ()


def test_sections_breaking_first_and_other_last() -> None:
    commits = [_commit("Merge stuff"), _commit("fix: b"), _commit("feat!: a"), _commit("feat: c")]
    changes = cl.collect(commits, {}, None)
    assert list(changes.sections()) == [cl.BREAKING, "Added", "Fixed", cl.OTHER]
    text = cl.render_section("1.0.0", "2026-01-02", changes)
    assert text.startswith("## [1.0.0] - 2026-01-02\n\n### Breaking changes\n\n- **BREAKING:** a")


def test_insert_keeps_the_rest_of_the_file() -> None:
    old = EXAMPLE_CHANGELOG.read_text()
    changes = cl.collect([_commit("fix(nhs): pairs")], {}, None)
    links = {"Unreleased": "https://x/compare/v0.5.0...HEAD", "0.5.0": "https://x/compare/v0.4.2...v0.5.0"}
    new = cl.insert_release(old, "0.5.0", "2026-11-28", changes, links)
    head, _, rest = old.partition("## [Unreleased]\n")
    inserted = "## [Unreleased]\n\n## [0.5.0] - 2026-11-28\n\n### Fixed\n\n- pairs (0123456)\n\n## [0.4.2]"
    assert new.startswith(head + inserted)
    body_old = rest.split("[Unreleased]:")[0]
    assert body_old.strip() in new  # the 0.4.2 section, byte for byte
    assert "[Unreleased]: https://x/compare/v0.5.0...HEAD\n[0.5.0]: https://x/compare/v0.4.2...v0.5.0\n" in new
    assert new.endswith("[0.4.2]: https://github.com/prism4d/prism4d/releases/tag/v0.4.2\n")


def test_hand_written_unreleased_entries_move_into_the_release() -> None:
    old = "# Changelog\r\n\r\n## [Unreleased]\r\n\r\n### Fixed\r\n\r\n- by hand\r\n\r\n## [0.1.0] - 2020-01-01\r\n"
    new = cl.insert_release(old, "0.2.0", "2026-01-01", cl.collect([_commit("fix: auto")], {}, None))
    assert "\n" not in new.replace("\r\n", "")  # CRLF kept
    assert new.replace("\r\n", "\n") == (
        "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-01-01\n\n### Fixed\n\n- by hand\n"
        "- fix: auto (0123456)\n\n## [0.1.0] - 2020-01-01\n"
    ).replace("- fix: auto", "- auto")


def test_new_changelog_gets_a_header() -> None:
    new = cl.insert_release("", "0.1.0", "2026-01-01", cl.Changes(None, ()))
    assert new.startswith("# Changelog\n") and "## [Unreleased]\n\n## [0.1.0] - 2026-01-01" in new


def test_workspace_in_a_subdirectory_of_the_repo(tmp_path: Path) -> None:
    repo_root = tmp_path / "repo"
    ws_root = make_shapes(repo_root / "examples" / "shapes")
    (repo_root / "README.md").write_text("outside\n")
    init_git(repo_root)
    (repo_root / "README.md").write_text("outside, changed\n")
    git(repo_root, "commit", "-qam", "docs: outside the workspace")
    (ws_root / "crates" / "own" / "src" / "lib.rs").write_text("// own\n")
    git(repo_root, "commit", "-qam", "feat(own): something")
    (ws_root / "crates" / "core" / "src" / "lib.rs").write_text("// core\n")
    (ws_root / "crates" / "app" / "src" / "lib.rs").write_text("// app\n")
    git(repo_root, "commit", "-qam", "fix!: both")
    ws = load_workspace(ws_root)
    repo = open_repo(ws_root)
    assert repo is not None and repo.prefix == "examples/shapes/"
    assert crate_dirs(ws)["own"] == "crates/own"
    changes = unreleased_changes(repo, ws, ReleaseSettings())
    summaries = [(e.summary, e.crates) for e in changes.entries]
    # oldest first; the commit outside the workspace is not there
    assert summaries == [
        ("initial commit", ("app", "core", "own", "ranged", "sub", "tk", "util")),
        ("something", ("own",)),
        ("both", ("app", "core")),
    ]
    assert changes.breaking and changes.feature
