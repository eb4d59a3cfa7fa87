"""cargo-release's own configuration, read and followed (issue 13, users coming from cargo-release).

The fixtures are small workspaces shaped like the real ones that use cargo-release (clap:
a root package and its derive crate released together as `v{version}`, a bench crate never
released, a lexer tagged `{crate}-v{version}`), with a git history made here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, git, init_git, snapshot
from shapes_real import commit

from pipeline.foundation.errors import ConfigError, ManifestError
from pipeline.project import load_project
from pipeline.release import cargo_release
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.load import load_workspace

ROOT_MANIFEST = """\
[workspace]
members = ["app_derive", "app_lex", "bench"]

[package]
name = "app"
version = "1.1.2"
edition = "2021"
license = "MIT"
description = "the app"
repository = "https://example.com/app"

[package.metadata.release]
shared-version = true
tag-name = "v{{version}}"

[dependencies]
app_derive = { path = "app_derive", version = "=1.1.0" }
app_lex = { path = "app_lex", version = "0.3.0" }
"""


def crate(name: str, version: str, extra: str = "", deps: str = "") -> str:
    return (f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\nlicense = "MIT"\n'
            f'description = "{name}"\nrepository = "https://example.com/app"\n{extra}\n[dependencies]\n{deps}')


def make_clap_like(root: Path, *, release_toml: str = 'allow-branch = ["main"]\n', derive_release: str = (
        '[package.metadata.release]\nshared-version = true\ntag-name = "v{{version}}"\n')) -> Path:
    """app 1.1.2 and app_derive 1.1.0 share `v{version}` tags (v1.1.1 and v1.1.2 were app's alone,
    as clap's 4.6.5 and 4.6.6 were); bench is `release = false`; app_lex is tagged on its own."""
    files = {
        "Cargo.toml": ROOT_MANIFEST,
        "release.toml": release_toml,
        "app_derive/Cargo.toml": crate("app_derive", "1.1.0", derive_release),
        "app_lex/Cargo.toml": crate("app_lex", "0.3.0"),
        "bench/Cargo.toml": crate("bench", "0.0.0", "[package.metadata.release]\nrelease = false\n",
                                  'app = { path = "..", version = "1.1.2" }\n'),
        "CHANGELOG.md": "# Changelog\n\n## [Unreleased]\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for member in ("src", "app_derive/src", "app_lex/src", "bench/src"):
        (root / member).mkdir(parents=True, exist_ok=True)
        (root / member / "lib.rs").write_text("// lib\n")
    init_git(root)
    for tag in ("v1.1.0", "v1.1.1", "v1.1.2", "app_lex-v0.3.0"):
        git(root, "tag", "-a", tag, "-m", tag)
    commit(root, "app_derive/src/lib.rs", "fix: derive keeps attributes")
    commit(root, "bench/src/lib.rs", "feat: bench the parser")
    return root


def plan_of(root: Path, *args: str) -> tuple[dict, str]:
    result = cli("--workspace", str(root), *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_release_auto_releases_a_shared_version_group_at_one_version(tmp_path: Path) -> None:
    # Without the group, app_derive 1.1.0 -> 1.1.1 takes tag v1.1.1, which app already made: refused.
    root = make_clap_like(tmp_path / "ws")
    plan, stderr = plan_of(root, "release", "auto")
    moved = {c["name"]: (c["old"], c["new"]) for c in plan["crates"]}
    assert moved == {"app_derive": ("1.1.0", "1.1.3"), "app": ("1.1.2", "1.1.3")}
    assert plan["tags"] == ["v1.1.3"] and plan["problems"] == []
    assert plan["commit_message"] == "chore: Release"  # cargo-release's message, adopted
    assert "app_derive" in plan["changelog"] and "bench" not in plan["changelog"]
    assert "CHANGELOG.md" in plan["files"]
    # bench is never released (`release = false`), but its requirement on app follows app.
    assert "bench/Cargo.toml" in plan["files"] and 'version = \\"1.1.3\\"' not in plan["diff"]
    assert '+app = { path = "..", version = "1.1.3" }' in plan["diff"]
    adopted = [line for line in stderr.splitlines() if "cargo-release settings adopted" in line]
    assert len(adopted) == 1
    assert "not released: bench" in adopted[0] and "released together: app, app_derive" in adopted[0]
    assert '"v{version}" for app, app_derive' in adopted[0] and '"{crate}-v{version}"' in adopted[0]


def test_a_crate_never_released_is_refused_by_name_and_not_judged(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    result = cli("--workspace", str(root), "release", "patch", "--crate", "bench")
    assert result.returncode == 2
    assert "`bench` is never released" in result.stderr and "hint: leave out --crate bench" in result.stderr
    changelog = cli("--workspace", str(root), "changelog", "--json")
    assert changelog.returncode == 0, changelog.stderr
    assert "bench the parser" not in changelog.stdout


def test_release_commits_of_cargo_release_are_not_changelog_entries(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    commit(root, "app_lex/src/lib.rs", "chore: Release")  # what `cargo release` committed
    plan, _ = plan_of(root, "release", "auto")
    assert "app_lex" not in {c["name"] for c in plan["crates"]}


def test_our_own_keys_win_over_cargo_release(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(
        "[package.metadata.release]",
        '[workspace.metadata.pipeline.release]\nskip-crates = []\ncommit-message = "release {summary}"\n'
        'version-groups = { core = ["app", "app_derive"] }\n\n[package.metadata.release]'))
    project = load_project(str(root))
    settings = project.release.settings
    assert settings.skip_crates == () and settings.commit_message == "release {summary}"
    assert dict(settings.version_groups) == {"core": ("app", "app_derive")}
    assert settings.shared_tag_crates == ("app", "app_derive")  # not set here: cargo-release's
    assert "kept for `skip-crates`, `version-groups`" in project.release.lines[0]


def test_a_crate_with_an_empty_tag_prefix_below_the_top_takes_the_shared_template(tmp_path: Path) -> None:
    # anstyle: every crate under crates/, `anstyle` itself with tag-prefix = "" -> `v1.0.14`.
    root = tmp_path / "ws"
    (root / "crates/core").mkdir(parents=True)
    (root / "crates/core-parse").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\n')
    (root / "release.toml").write_text('tag-message = "Release {{tag_name}}"\n')
    own = '[package.metadata.release]\ntag-prefix = ""\n'
    (root / "crates/core/Cargo.toml").write_text(crate("core", "1.0.0", own))
    (root / "crates/core-parse/Cargo.toml").write_text(crate("core-parse", "0.2.0"))
    (root / ".git").mkdir()
    ws = load_workspace(root)
    adopted = cargo_release.adopt(ws, ReleaseSettings(), {})
    assert adopted.settings.shared_tag == "v{version}" and adopted.settings.shared_tag_crates == ("core",)
    assert adopted.settings.crate_tag == "{crate}-v{version}"
    assert adopted.settings.tag_message == "Release {tag}"


def test_keys_this_tool_does_not_follow_are_warned_with_a_hint(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws", release_toml=(
        'owners = ["github:org:team"]\npre-release-hook = ["./bump.sh"]\ndependent-version = "warn"\n'
        'pre-release-replacements = [{file="README.md", search="x", replace="y"}]\nfrobnicate = true\n'
        'tag = false\nconsolidate-commits = false\nsign-commit = true\n'))
    result = cli("--workspace", str(root), "release", "auto")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("release: warning: cargo-release")
                or "no cargo-release key" in line]
    named = " ".join(warnings)
    for key in ("owners", "pre-release-hook", "dependent-version", "pre-release-replacements", "frobnicate",
                "tag = false", "consolidate-commits = false", "sign-commit = true"):
        assert f"`{key}" in named, (key, warnings)
    assert all("; hint: " in line for line in warnings)
    assert f"{root / 'release.toml'}:2:1" in named  # pre-release-hook's line


@pytest.mark.parametrize(("where", "text", "message"), [
    ("app_derive/Cargo.toml", '[package.metadata.release]\nshared-version = 3\n', "`shared-version` must be"),
    ("release.toml", 'release = "no"\n', "`release` must be a boolean"),
    ("release.toml", 'tag-name = "release"\n', "has no `{{version}}`"),
    ("release.toml", 'tag-name = "v{{version}}..x"\n', "makes tags git refuses"),
    ("release.toml", 'dependent-version = "sometimes"\n', "must be one of upgrade, fix"),
    ("release.toml", 'allow-branch = "main"\n', "`allow-branch` must be an array"),
    ("release.toml", 'tag-name = "v{{version}\n', "release.toml:1"),  # a TOML syntax error
])
def test_a_bad_value_is_a_located_error_and_nothing_is_written(tmp_path: Path, where: str, text: str,
                                                               message: str) -> None:
    root = make_clap_like(tmp_path / "ws", derive_release="", release_toml="")
    path = root / where
    path.write_text(path.read_text() + text)
    git(root, "commit", "-qam", "chore: configure")
    before = snapshot(root)
    result = cli("--workspace", str(root), "release", "patch", "--execute", "--no-verify")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "hint:" in result.stderr
    assert f"{path}:" in result.stderr  # file:line:column
    assert snapshot(root) == before


def test_our_group_key_names_members(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(
        "[package.metadata.release]", '[workspace.metadata.pipeline.release]\nversion-groups = { g = ["ap"] }\n\n'
        "[package.metadata.release]"))
    with pytest.raises(ConfigError) as caught:
        load_project(str(root)).release  # reading it is the check
    assert f"{manifest}:" in str(caught.value) and "`ap`, which is no member" in str(caught.value)


def test_cargo_release_false_reads_nothing(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws", release_toml="tag-name = 5\n")  # would be an error if read
    ws = load_workspace(root)
    adopted = cargo_release.adopt(ws, ReleaseSettings(cargo_release=False), {"cargo-release": False})
    assert adopted.lines == () and adopted.settings == ReleaseSettings(cargo_release=False)


def test_dependent_version_fix_leaves_requirements_that_still_match(tmp_path: Path) -> None:
    # clap, anstyle: `dependent-version = "fix"`; app_lex keeps `upgrade` (its dependents always follow).
    root = make_clap_like(tmp_path / "ws", release_toml='dependent-version = "fix"\n')
    lex = root / "app_lex/Cargo.toml"
    lex.write_text(lex.read_text() + '[package.metadata.release]\ndependent-version = "upgrade"\n')
    git(root, "commit", "-qam", "chore: lex upgrades")
    plan, stderr = plan_of(root, "bump", "patch")
    diff = plan["diff"]
    assert '+app = { path = "..", version = "1.1.3" }' not in diff  # bench's `1.1.2` still matches 1.1.3
    assert 'version = "=1.1.3"' in diff  # an exact requirement breaks: rewritten
    assert '+app_lex = { path = "app_lex", version = "0.3.1" }' in diff  # upgrade
    assert "only when broken (`fix`) on app, app_derive" in stderr


def test_persistent_metadata_is_kept_and_left_out_of_tags(tmp_path: Path) -> None:
    # toml-rs: `metadata = "persistent"`, versions like 1.1.4+spec-1.1.0, tags toml-v1.1.4.
    root = make_clap_like(tmp_path / "ws", release_toml='metadata = "persistent"\n')
    lex = root / "app_lex/Cargo.toml"
    lex.write_text(lex.read_text().replace('version = "0.3.0"', 'version = "0.3.0+spec-1.1.0"'))
    git(root, "commit", "-qam", "chore: spec version")
    commit(root, "app_lex/src/lib.rs", "fix: lex tokens")
    (root / "app_lex/CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "docs: lex changelog")
    plan, _ = plan_of(root, "release", "auto")
    moved = {c["name"]: c["new"] for c in plan["crates"]}
    assert moved["app_lex"] == "0.3.1+spec-1.1.0"
    assert "app_lex-v0.3.1" in plan["tags"] and not any("+" in t for t in plan["tags"])
    assert "## [0.3.1] - " in plan["changelog"]


def test_workspace_metadata_and_dot_release_toml_are_read(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws", release_toml="")
    (root / "release.toml").unlink()
    (root / ".release.toml").write_text('pre-release-commit-message = "release {{version}}"\n')
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(
        "[package]\n", '[workspace.metadata.release]\nallow-branch = ["trunk", "!HEAD"]\nsign-tag = true\n\n'
        "[package]\n", 1))
    settings = load_project(str(root)).release.settings
    assert settings.allowed_branches == ("trunk",) and settings.sign_tags is True
    assert settings.commit_message == "release {version}"


def test_the_root_changelog_belongs_to_the_crate_whose_replacements_edit_it(tmp_path: Path) -> None:
    # typos: the root CHANGELOG.md is typos-cli's (crates/typos-cli, `tag-prefix = ""`, replacements on
    # ../../CHANGELOG.md); its library crates keep no changelog. A breaking change of a library is no
    # section of the CLI's, and the section is titled by the CLI's version, not a library's tag.
    root = tmp_path / "ws"
    cli_release = ('[package.metadata.release]\ntag-prefix = ""\npre-release-replacements = [\n'
                   '  {file="../../CHANGELOG.md", search="Unreleased", replace="{{version}}", min=1},\n]\n')
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n',
        "release.toml": 'allow-branch = ["main"]\n',
        "CHANGELOG.md": "# Change Log\n\n<!-- next-header -->\n## [Unreleased] - ReleaseDate\n",
        "crates/lib/Cargo.toml": crate("lib", "0.5.3"),
        "crates/cli/Cargo.toml": crate("cli", "1.48.0", cli_release, 'lib = { path = "../lib", version = "0.5.3" }\n'),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for member in ("lib", "cli"):
        (root / f"crates/{member}/src").mkdir(parents=True)
        (root / f"crates/{member}/src/lib.rs").write_text("// lib\n")
    init_git(root)
    git(root, "tag", "-a", "v1.48.0", "-m", "cli")
    git(root, "tag", "-a", "lib-v0.5.3", "-m", "lib")
    commit(root, "crates/lib/src/lib.rs", "feat!: lib drops the old table")
    commit(root, "crates/cli/src/lib.rs", "fix: cli reads stdin")
    plan, stderr = plan_of(root, "release", "auto")
    moved = {c["name"]: c["new"] for c in plan["crates"]}
    assert moved == {"lib": "0.6.0", "cli": "1.48.1"}
    assert plan["tags"] == ["lib-v0.6.0", "v1.48.1"]
    section = plan["changelog"]
    assert section.startswith("## [1.48.1] - ") and "cli reads stdin" in section
    assert "drops the old table" not in section
    assert "CHANGELOG.md belongs to cli" in stderr


def test_a_group_moves_as_one_and_an_explicit_version_names_the_group(tmp_path: Path) -> None:
    from pipeline.foundation.errors import UsageError
    from pipeline.release.levels import Target, parse_target
    from pipeline.release.plan import make_plan

    ws = load_workspace(make_clap_like(tmp_path / "ws"))
    groups = {"default": ("app", "app_derive")}
    plan = make_plan(ws, Target(level="minor"), ["app_derive"], groups=groups, skip=("bench",))
    assert {c.crate: str(c.new) for c in plan.changes} == {"app_derive": "1.2.0", "app": "1.2.0"}
    assert plan.change("app").reason == "released with app_derive (version group 'default')"
    assert plan.change("bench") is None  # never released, though its requirement on app breaks
    assert any(e.file.name == "Cargo.toml" and e.file.parent.name == "bench" for e in plan.edits)
    with pytest.raises(UsageError) as caught:
        make_plan(ws, parse_target("1.1.1"), ["app_derive"], groups=groups)
    assert "crate `app` (in version group 'default' with app_derive)" in str(caught.value)


def test_an_adopted_value_this_tool_refuses_names_the_cargo_release_line(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws", release_toml='allow-branch = ["main"]\nregistry = "my registry"\n')
    result = cli("--workspace", str(root), "release", "auto")
    assert result.returncode == 2
    assert f"{root / 'release.toml'}:2:1: cargo-release `registry` does not fit" in result.stderr
    assert "hint: " in result.stderr


def test_cargo_release_tag_names_are_followed_not_inferred(tmp_path: Path) -> None:
    # snapbox's shape (every crate below the top, default tag-name), with a history of `lib@0.3.0`
    # tags: cargo-release tags `lib-v0.3.1`, so does this tool, and the missing tag is said.
    root = tmp_path / "ws"
    (root / "crates/lib/src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n')
    (root / "release.toml").write_text('allow-branch = ["main"]\n')
    (root / "crates/lib/Cargo.toml").write_text(crate("lib", "0.3.0"))
    (root / "crates/lib/src/lib.rs").write_text("// lib\n")
    init_git(root)
    git(root, "tag", "-a", "lib@0.3.0", "-m", "lib")
    commit(root, "crates/lib/src/lib.rs", "fix: lex tokens")
    plan, stderr = plan_of(root, "release", "auto")
    assert plan["tags"] == ["lib-v0.3.1"]
    assert "no release tag of `lib` (0.3.0)" in stderr and "lib@0.3.0" in stderr
    assert "tags look like" not in stderr


def test_a_lockstep_workspace_moves_every_crate_and_makes_one_tag(tmp_path: Path) -> None:
    # The common cargo-release lockstep shape: `shared-version = true` and `tag-name = "v{{version}}"`
    # for every crate in the root release.toml, a crate-level release.toml naming a second group.
    root = tmp_path / "ws"
    (root / "Cargo.toml").parent.mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n')
    (root / "release.toml").write_text('shared-version = true\ntag-name = "v{{version}}"\n')
    for name, version in (("a", "0.2.0"), ("b", "0.2.0"), ("tools", "3.1.0"), ("tools-macros", "3.0.9")):
        (root / f"crates/{name}/src").mkdir(parents=True)
        (root / f"crates/{name}/src/lib.rs").write_text("// lib\n")
        deps = 'a = { path = "../a", version = "0.2.0" }\n' if name == "b" else ""
        (root / f"crates/{name}/Cargo.toml").write_text(crate(name, version, deps=deps))
    own = 'shared-version = "tools"\ntag-name = "{{crate_name}}-v{{version}}"\n'
    for name in ("tools", "tools-macros"):
        (root / f"crates/{name}/release.toml").write_text(own)
    init_git(root)
    for tag in ("v0.2.0", "tools-v3.1.0", "tools-macros-v3.0.9"):
        git(root, "tag", "-a", tag, "-m", tag)
    commit(root, "crates/b/src/lib.rs", "fix: b")
    commit(root, "crates/tools-macros/src/lib.rs", "fix: macros")
    plan, stderr = plan_of(root, "release", "auto")
    assert {c["name"]: c["new"] for c in plan["crates"]} == {
        "a": "0.2.1", "b": "0.2.1", "tools": "3.1.1", "tools-macros": "3.1.1"}
    assert sorted(plan["tags"]) == ["tools-macros-v3.1.1", "tools-v3.1.1", "v0.2.1"]
    assert "released together: a, b; tools, tools-macros ('tools')" in stderr


def test_templates_beyond_one_shared_and_one_per_crate_are_the_crates_own(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\n')
    templates = {"a": "v{{version}}", "b": "b-release-{{version}}", "c": "{{crate_name}}@{{version}}",
                 "d": "", "e": "{{crate_name}}-{{date}}-{{version}}", "f": ""}
    for name, template in templates.items():
        (root / f"crates/{name}").mkdir(parents=True)
        extra = f'[package.metadata.release]\ntag-name = "{template}"\n' if template else ""
        (root / f"crates/{name}/Cargo.toml").write_text(crate(name, "1.0.0", extra))
    adopted = cargo_release.adopt(load_workspace(root), ReleaseSettings(), {})
    settings = adopted.settings
    assert settings.shared_tag == "v{version}" and settings.shared_tag_crates == ("a",)
    assert settings.crate_tag == "{crate}-v{version}"  # d and f: the most common
    assert dict(settings.crate_tags) == {"b": "b-release-{version}", "c": "{crate}@{version}"}
    text = "\n".join(adopted.lines)
    assert '"b-release-{version}" for b' in text
    assert "`e`" in text and "{{date}}" in text and "; hint: " in text  # no counterpart: warned


def test_a_crate_with_a_template_of_its_own_is_tagged_and_read_by_it(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    lex = root / "app_lex/Cargo.toml"
    lex.write_text(lex.read_text() + '[package.metadata.release]\ntag-name = "lex/{{version}}"\n')
    git(root, "commit", "-qam", "chore: lex tags")
    git(root, "tag", "-a", "lex/0.3.0", "-m", "lex")
    commit(root, "app_lex/src/lib.rs", "fix: lex tokens")
    plan, stderr = plan_of(root, "release", "auto")
    assert "lex/0.3.1" in plan["tags"] and "v1.1.3" in plan["tags"]
    assert "no release tag of `app_lex`" not in stderr
    assert plan["changelog"].count("lex tokens") == 1 and "lex tags" not in plan["changelog"]


def test_a_release_toml_that_is_no_file_is_skipped_and_a_garbled_one_located(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    (root / "release.toml").unlink()
    (root / "release.toml").mkdir()  # a directory is no file: skipped, like cargo-release
    (root / ".release.toml").symlink_to(root / "missing.toml")
    assert cargo_release.read_sources(load_workspace(root))  # the crates' tables are still read
    (root / ".release.toml").unlink()
    (root / ".release.toml").write_bytes(b"\xff\xfe = 1\n")
    with pytest.raises(ManifestError) as caught:
        cargo_release.read_sources(load_workspace(root))
    assert f"{root / '.release.toml'}:1:" in str(caught.value) and caught.value.exit_code == 2


def test_tag_false_in_a_group_shares_the_groups_tag(tmp_path: Path) -> None:
    # app_derive makes no tag of its own (`tag = false`) but is released with app, tagged `v{version}`.
    root = make_clap_like(tmp_path / "ws", derive_release='[package.metadata.release]\nshared-version = true\n'
                          'tag = false\n')
    plan, stderr = plan_of(root, "release", "auto")
    assert {c["name"]: c["new"] for c in plan["crates"]} == {"app_derive": "1.1.3", "app": "1.1.3"}
    assert plan["tags"] == ["v1.1.3"]
    assert "untagged app_derive released under their group's tag" in stderr
    assert "`tag = false`" not in stderr  # followed, so not warned about


def test_pipeline_config_shows_the_adopted_keys_and_where_they_come_from(tmp_path: Path) -> None:
    root = make_clap_like(tmp_path / "ws")
    result = cli("--workspace", str(root), "config", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"]["release"]["skip-crates"] == ["bench"]
    assert data["config"]["release"]["allowed-branches"] == ["main"]
    assert data["origins"]["release.allowed-branches"] == "cargo-release release.toml:1:1"
    assert data["origins"]["release.skip-crates"].startswith("cargo-release (")
    assert data["origins"]["release.changelog"] == "default"
    text = cli("--workspace", str(root), "config").stdout
    assert 'skip-crates = ["bench"]  # cargo-release (' in text


def test_publish_false_is_released_but_never_uploaded(tmp_path: Path) -> None:
    """cargo-release's `publish = false`: versioned, tagged and listed, never `cargo publish`ed; a
    crate that is published and depends on it needs the registry to have a version it accepts."""
    from pipeline.release.publish_plan import NEVER, plan_publish

    lex = crate("app_lex", "0.3.0", '[package.metadata.release]\npublish = false\n')
    root = make_clap_like(tmp_path / "ws")
    (root / "app_lex/Cargo.toml").write_text(lex)
    git(root, "commit", "-qam", "chore: app_lex is published by hand")
    project = load_project(str(root))
    settings = project.release.settings
    assert settings.never_publish == ("app_lex",)
    assert "never published: app_lex" in project.release.lines[0]
    ws = project.workspace
    with_it = plan_publish(ws, registry=None, published={"app": frozenset(), "app_derive": frozenset(),
                                                         "app_lex": frozenset({"0.3.0"})},
                           never=settings.never_publish)
    assert ("app_lex", NEVER) in {(s.crate, s.reason) for s in with_it.skipped}
    assert "app_lex" not in [s.crate for s in with_it.steps] and "app" in [s.crate for s in with_it.steps]
    assert with_it.problems == ()
    without = plan_publish(ws, registry=None, published={"app": frozenset(), "app_derive": frozenset(),
                                                         "app_lex": frozenset()}, never=settings.never_publish)
    assert any("depends on `app_lex` `0.3.0`" in p and "registry `crates-io` has no matching version" in p
               for p in without.problems), without.problems
    # Our own key, set, wins (and is said to).
    (root / "Cargo.toml").write_text(ROOT_MANIFEST + '\n[workspace.metadata.pipeline.release]\nnever-publish = []\n')
    git(root, "commit", "-qam", "chore: publish everything")
    project = load_project(str(root))
    assert project.release.settings.never_publish == ()
    assert "never-publish" in project.release.lines[0]
