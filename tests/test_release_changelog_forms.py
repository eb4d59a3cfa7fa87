"""Changelog heading forms real projects keep (issue 13 point 7): cargo-release's placeholder
(clap: `<!-- next-header -->` + `## [Unreleased] - ReleaseDate`), a bare `## Unreleased`,
tracing's `# 0.1.44 (December 18, 2025)` without any Unreleased heading; never a duplicate."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, snapshot
from shapes_real import commit, git, make_real

from pipeline.foundation.git import CommitInfo
from pipeline.release import changelog as cl

CHANGES = cl.collect([CommitInfo("0123456789abcdef", "fix: off by one", "", ())], {}, None)

CLAP = """\
# Change Log
All notable changes to this project will be documented in this file.

## 5.0.0 - TBD

*available through `unstable-v5` feature flag*

### Breaking Changes

- Made `ArgPredicate` `non_exhaustive`

<!-- next-header -->
## [Unreleased] - ReleaseDate

### Fixes

- *(help)* by hand

## [4.6.6] - 2026-08-06

### Features

- Add `Command::get_overridden_usage`

<!-- next-url -->
[Unreleased]: https://github.com/clap-rs/clap/compare/v4.6.6...HEAD
[4.6.6]: https://github.com/clap-rs/clap/compare/v4.6.5...v4.6.6
"""


def test_cargo_release_placeholder_becomes_the_release_and_a_fresh_one_goes_above() -> None:
    links = {"Unreleased": "https://github.com/clap-rs/clap/compare/v4.6.7...HEAD",
             "4.6.7": "https://github.com/clap-rs/clap/compare/v4.6.6...v4.6.7"}
    new = cl.insert_release(CLAP, "4.6.7", "2026-12-01", CHANGES, links)
    head, _, _ = CLAP.partition("<!-- next-header -->")
    assert new.startswith(head)  # the unstable 5.0.0 block above the marker is not touched
    assert new.count("## [Unreleased] - ReleaseDate") == 1
    assert new.count("## [4.6.7]") == 1
    assert (
        "<!-- next-header -->\n## [Unreleased] - ReleaseDate\n\n## [4.6.7] - 2026-12-01\n\n"
        "### Fixed\n\n- off by one (0123456)\n\n### Fixes\n\n- *(help)* by hand\n\n## [4.6.6] - 2026-08-06\n"
    ) in new
    assert new.endswith(
        "<!-- next-url -->\n[Unreleased]: https://github.com/clap-rs/clap/compare/v4.6.7...HEAD\n"
        "[4.6.7]: https://github.com/clap-rs/clap/compare/v4.6.6...v4.6.7\n"
        "[4.6.6]: https://github.com/clap-rs/clap/compare/v4.6.5...v4.6.6\n"
    )
    # The text the plan shows is the section as written.
    assert cl.section_as_written(CLAP, "4.6.7", "2026-12-01", CHANGES).startswith(
        "## [4.6.7] - 2026-12-01\n\n### Fixed\n\n- off by one (0123456)\n\n### Fixes\n")


def test_a_second_release_keeps_exactly_one_placeholder() -> None:
    once = cl.insert_release(CLAP, "4.6.7", "2026-12-01", CHANGES)
    twice = cl.insert_release(once, "4.6.8", "2026-12-02", CHANGES)
    assert twice.count("## [Unreleased] - ReleaseDate") == 1
    assert twice.index("## [4.6.8] - 2026-12-02") < twice.index("## [4.6.7] - 2026-12-01") < twice.index("## [4.6.6]")


def test_bare_unreleased_heading_keeps_the_projects_form() -> None:
    old = "# Changelog\n\n## Unreleased\n\n- by hand\n\n## 1.2.0 - 2024-01-02\n\n- older\n"
    new = cl.insert_release(old, "1.3.0", "2026-12-01", CHANGES)
    assert new == ("# Changelog\n\n## Unreleased\n\n## 1.3.0 - 2026-12-01\n\n### Fixed\n\n- off by one (0123456)\n\n"
                   "### Other\n\n- by hand\n\n## 1.2.0 - 2024-01-02\n\n- older\n")


def test_headings_without_unreleased_like_tracing_get_the_section_on_top_in_their_form() -> None:
    old = ("# 0.1.44 (December 18, 2025)\n\n### Fixed\n\n- Fix `record_all` panic ([#3432])\n\n"
           "[#3432]: https://github.com/tokio-rs/tracing/pull/3432\n\n# 0.1.43 (November 28, 2025)\n")
    new = cl.insert_release(old, "0.1.45", "2026-12-01", CHANGES,
                            {"Unreleased": "https://x/compare/tracing-0.1.45...HEAD"})
    assert new == "# 0.1.45 (December 1, 2026)\n\n### Fixed\n\n- off by one (0123456)\n\n" + old
    assert "Unreleased" not in new  # the project keeps no Unreleased heading: none is invented


def test_the_subsection_level_comes_from_any_release_when_the_newest_has_none() -> None:
    old = "# 0.1.36 (December 18, 2025)\n\n- one line\n\n# 0.1.35 (November 26, 2025)\n\n### Added\n\n- x\n"
    assert cl.insert_release(old, "0.1.37", "2026-12-01", CHANGES).startswith(
        "# 0.1.37 (December 1, 2026)\n\n### Fixed\n\n- off by one (0123456)\n\n# 0.1.36")


def test_tokio_style_short_month_and_ordinal_dates() -> None:
    old = "# 1.40.0 (Aug 30th, 2024)\n\n### Added\n\n- x\n"
    new = cl.insert_release(old, "1.41.0", "2026-12-01", CHANGES)
    assert new.startswith("# 1.41.0 (Dec 1st, 2026)\n\n### Fixed\n")


def test_a_section_for_the_version_already_there_is_found_not_duplicated() -> None:
    old = "# Changelog\n\n## [Unreleased]\n\n## [0.5.0] - 2026-01-01\n\n- done\n"
    assert cl.existing_section(old, "0.5.0") == 5
    assert cl.existing_section(old, "0.5.1") is None
    assert cl.existing_section(CLAP, "4.6.6") == 19
    assert cl.existing_section("# v2.0.0 (May 1, 2020)\n", "2.0.0") == 1


def _clap_like(tmp_path: Path) -> Path:
    root = make_real(tmp_path / "ws", lockfile=False)
    (root / "CHANGELOG.md").write_text(CLAP.replace("4.6.6", "0.11.0").replace("4.6.5", "0.10.0"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "docs: changelog")
    commit(root, "crates/core/src/lib.rs", "fix: core stops crashing")
    return root


def test_release_execute_writes_the_placeholder_form_once(tmp_path: Path) -> None:
    root = _clap_like(tmp_path)
    env = {"SOURCE_DATE_EPOCH": "1764547200"}  # 2025-12-01
    plan = cli("release", "patch", "--no-verify", "--workspace", str(root), env=env)
    assert plan.returncode == 0, plan.stderr
    assert "+## [0.11.1] - 2025-12-01" in plan.stdout and "changelog section:\n## [0.11.1] - 2025-12-01" in plan.stdout
    done = cli("release", "patch", "--execute", "--no-verify", "--workspace", str(root), env=env)
    assert done.returncode == 0, done.stderr
    text = (root / "CHANGELOG.md").read_text()
    assert text.count("## [Unreleased] - ReleaseDate") == 1 and text.count("## [0.11.1]") == 1
    assert text.index("<!-- next-header -->\n## [Unreleased] - ReleaseDate\n\n## [0.11.1] - 2025-12-01\n") > 0
    assert "- *(help)* by hand" in text.split("## [0.11.1]")[1].split("## [0.11.0]")[0]


def test_a_section_already_written_for_the_version_refuses_with_its_line(tmp_path: Path) -> None:
    root = _clap_like(tmp_path)
    path = root / "CHANGELOG.md"
    path.write_text(path.read_text().replace("## [0.11.0] - 2026-08-06", "## [0.11.1] - 2026-08-07\n\n## [0.11.0]"))
    git(root, "commit", "-qam", "docs: premature")
    before = snapshot(root)
    result = cli("release", "patch", "--execute", "--no-verify", "--workspace", str(root))
    assert result.returncode == 1
    assert "CHANGELOG.md:19: the changelog already has a section for 0.11.1" in result.stderr
    assert "hint: " in result.stderr
    assert snapshot(root) == before
