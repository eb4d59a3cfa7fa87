"""The release flow on generated workspaces with real git and cargo: preflight, commit, tags, push."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from release_support import REPO, cli, git, make_shapes, snapshot

from pipeline import cli as pipeline_cli
from pipeline.foundation.errors import CheckFailed

NO_ARTIFACTS = '\n[workspace.metadata.pipeline.release]\nartifacts = false\ngates = ["fmt"]\n'


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_shapes(tmp_path / "ws", lockfile=True, git_repo=True, extra_root=NO_ARTIFACTS)


def run(root: Path, *args: str) -> int:
    return pipeline_cli.main([*args, "--workspace", str(root)])


def _refuse_commits(ws: Path) -> None:
    """A pre-commit hook that refuses every commit (as a signing or lint hook might)."""
    hook = ws / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)


def test_release_execute_commits_and_tags(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "crates" / "own" / "src" / "lib.rs").write_text("pub fn f() {}\n")
    git(ws, "commit", "-qam", "feat(own): f")
    assert run(ws, "release", "minor", "--execute") == 0  # the fmt gate runs and passes
    assert git(ws, "log", "-1", "--format=%s").strip() == "chore(release): v0.5.0, own-v1.3.0, ranged-v3.1.0"
    assert git(ws, "cat-file", "-t", "v0.5.0").strip() == "tag"  # annotated
    assert git(ws, "tag", "-l", "-n1", "own-v1.3.0").split() == ["own-v1.3.0", "Release", "own-v1.3.0"]
    assert git(ws, "status", "--porcelain").strip() == ""  # everything written was committed
    changelog = (ws / "CHANGELOG.md").read_text()
    assert "## [0.5.0] - " in changelog and "- `own`: f (" in changelog
    committed = git(ws, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == sorted([
        "CHANGELOG.md", "Cargo.lock", "Cargo.toml", "crates/app/Cargo.toml", "crates/own/Cargo.toml",
        "crates/ranged/Cargo.toml", "crates/sub/Cargo.toml",
    ])
    subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=ws, check=True,
                   capture_output=True)
    # a second release of the same version is refused by the tag check
    capsys.readouterr()
    assert run(ws, "release", "0.5.0", "--no-verify") == 2  # not greater than the current 0.5.0


def test_dirty_tree_is_refused_and_nothing_written(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("// dirty\n")
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 1
    err = capsys.readouterr().err
    assert "uncommitted changes: crates/core/src/lib.rs" in err and "--allow-dirty" in err
    assert snapshot(ws) == before
    assert git(ws, "tag").strip() == ""


def test_allow_dirty_commits_only_release_files(ws: Path) -> None:
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("// dirty\n")
    assert run(ws, "release", "patch", "--execute", "--no-verify", "--allow-dirty") == 0
    assert "crates/core/src/lib.rs" in git(ws, "status", "--porcelain")  # still uncommitted


def test_existing_tag_is_refused(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "tag", "v0.5.0")
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 1
    err = capsys.readouterr().err
    assert "tag `v0.5.0` already exists" in err and "hint:" in err
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["release", "1.2"], "invalid version `1.2`"),
        (["release", "huge"], "unknown level `huge`"),
        (["bump", "0.4.1"], "not greater than the current version 0.4.2"),
        (["release", "release"], "not a pre-release"),
    ],
)
def test_usage_errors_exit_2(ws: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    before = snapshot(ws)
    extra = ["--no-verify"] if args[0] == "release" else []
    assert run(ws, *args, "--execute", *extra) == 2
    err = capsys.readouterr().err
    assert message in err and "hint:" in err
    assert snapshot(ws) == before


def test_backwards_prerelease_is_refused(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "rm", "-rq", "crates/ranged")  # its range and `*` would (rightly) refuse any pre-release
    git(ws, "commit", "-qm", "chore: drop ranged")
    assert run(ws, "release", "rc", "--execute", "--no-verify", "--crate", "core") == 0
    assert git(ws, "tag", "-l", "v*").split() == ["v0.4.3-rc.1"]
    before = snapshot(ws)
    assert run(ws, "release", "alpha", "--execute", "--no-verify", "--crate", "core") == 2
    assert "going from rc back to alpha" in capsys.readouterr().err
    assert snapshot(ws) == before
    assert run(ws, "release", "release", "--execute", "--no-verify", "--crate", "core") == 0
    assert "v0.4.3" in git(ws, "tag").split()


def test_second_concurrent_execute_is_refused(ws: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from pipeline.release.lock import release_lock\n"
         "with release_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(120)\n", str(ws)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = snapshot(ws)
        result = cli("release", "minor", "--execute", "--no-verify", "--workspace", str(ws))
        assert result.returncode == 1
        assert f"another release is running in {ws} (pid {holder.pid}" in result.stderr
        assert snapshot(ws) == before
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder
    assert cli("release", "minor", "--execute", "--no-verify", "--workspace", str(ws)).returncode == 0


def test_failing_gate_stops_the_release(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("pub fn   badly_formatted( ){}\n")
    git(ws, "commit", "-qam", "style: oops")
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute") == 1
    err = capsys.readouterr().err
    assert "release gate `fmt` failed" in err and "--no-verify" in err
    assert snapshot(ws) == before
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 0


def test_unknown_gate_is_a_configuration_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_shapes(tmp_path / "ws", git_repo=True,
                       extra_root='\n[workspace.metadata.pipeline.release]\ngates = ["fmt", "nope"]\n')
    assert run(root, "release", "minor") == 2
    assert "`gates` names `nope`" in capsys.readouterr().err


def test_rejected_commit_restores_the_files(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refuse_commits(ws)
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 1
    assert "hook says no" in capsys.readouterr().err
    assert snapshot(ws) == before
    assert git(ws, "status", "--porcelain").strip() == "" and git(ws, "tag").strip() == ""


def test_branch_policy(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "checkout", "-qb", "feature/x")
    assert run(ws, "release", "minor") == 0  # a dry run only warns
    assert "this is branch `feature/x` (--execute would refuse)" in capsys.readouterr().out
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 1
    assert "releases are made from main, master, release/*" in capsys.readouterr().err


def test_push_is_atomic_and_explicit(ws: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(ws, "remote", "add", "origin", str(remote))
    git(ws, "push", "-q", "origin", "main")
    assert run(ws, "release", "patch", "--execute", "--no-verify") == 0
    assert git(remote, "tag").strip() == ""  # never pushed by default
    assert run(ws, "release", "patch", "--execute", "--no-verify", "--push") == 0
    assert set(git(remote, "tag").split()) == {"v0.4.4", "own-v1.2.2", "ranged-v3.0.2"}
    assert git(remote, "rev-parse", "main") == git(ws, "rev-parse", "HEAD")
    assert run(ws, "release", "patch", "--push") == 2  # --push without --execute


def test_auto_level_and_changed_crates(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "release", "patch", "--execute", "--no-verify") == 0  # v0.4.3, own-v1.2.1, ranged-v3.0.1
    assert run(ws, "release", "--no-verify") == 1  # auto: nothing since the tags
    assert "nothing to release" in capsys.readouterr().err
    (ws / "crates" / "own" / "src" / "lib.rs").write_text("pub fn g() {}\n")
    git(ws, "commit", "-qam", "feat(own)!: g replaces name")
    capsys.readouterr()
    assert run(ws, "changelog", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since"] == "v0.4.3" and data["level"] == "minor"
    assert data["sections"]["Breaking changes"][0]["crates"] == ["own"]
    # --changed: only `own` has commits since its tag; auto picks major for a 1.x breaking change
    assert run(ws, "release", "--changed", "--json", "--no-verify") == 0
    plan = json.loads(capsys.readouterr().out)
    moved = {c["name"]: (c["new"], c["reason"]) for c in plan["crates"]}
    assert moved["own"] == ("2.0.0", "selected")
    # app's `~1.2.1` build requirement on own breaks, so app (and the shared line) follow by a patch
    assert moved["app"] == ("0.4.4", "its requirement on own changes")
    assert "ranged" not in moved
    assert plan["tags"] == ["v0.4.4", "own-v2.0.0"] and plan["executed"] is False
    assert run(ws, "bump", "patch", "--changed", "--json") == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)["crates"]] == ["own"]
    # Every crate, each judged on its own commits (issue 13): `own` is 1.x and needs major (it
    # used to get the shared line's minor: a breaking change released as 1.3.0); the shared line
    # has no commit of its own and only follows app's broken requirement by a patch; `ranged`
    # has nothing new and stays.
    assert run(ws, "release", "--json", "--no-verify") == 0
    captured = capsys.readouterr()
    moved = {c["name"]: c["new"] for c in json.loads(captured.out)["crates"]}
    assert moved["core"] == "0.4.4" and moved["own"] == "2.0.0"
    assert "ranged" not in moved
    assert "release: auto: own 1.2.1: major (1 commit since own-v1.2.1: 1 breaking)" in captured.err


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_shapes(tmp_path / "ws", extra_root=NO_ARTIFACTS)
    assert run(root, "release", "minor") == 1
    assert "not in a git repository" in capsys.readouterr().err
    assert run(root, "bump", "minor") == 0  # bump needs no git


def test_failed_push_says_what_was_done(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "remote", "add", "origin", str(tmp_path / "no-such-remote.git"))  # configured, but unreachable
    assert run(ws, "release", "patch", "--execute", "--no-verify", "--push") == 1
    err = capsys.readouterr().err
    assert "the release was made locally, but the push failed" in err
    assert "git push --atomic origin HEAD refs/tags/v0.4.3" in err
    assert "v0.4.3" in git(ws, "tag").split()


def test_every_preflight_problem_is_reported(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "tag", "v0.5.0")
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("// dirty\n")
    assert run(ws, "release", "minor") == 1  # a dry run shows the plan, then refuses like --execute would
    captured = capsys.readouterr()
    assert "shared version: 0.4.2 -> 0.5.0" in captured.out
    assert "uncommitted changes" in captured.err and "tag `v0.5.0` already exists" in captured.err
    assert captured.err.count("hint:") == 2


def test_workspace_without_a_shared_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A root package that is also the workspace, and crates each on their own version line.
    root = tmp_path / "solo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "Cargo.toml").write_text(
        '[package]\nname = "solo"\nversion = "2.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nhelper = { path = "helper", version = "0.3.1" }\n\n'
        '[workspace]\nmembers = ["helper"]\n\n[workspace.metadata.pipeline.release]\nartifacts = false\n'
    )
    (root / "helper" / "src").mkdir(parents=True)
    (root / "helper" / "Cargo.toml").write_text('[package]\nname = "helper"\nversion = "0.3.1"\nedition = "2021"\n')
    (root / "helper" / "src" / "lib.rs").write_text("")
    (root / ".gitignore").write_text("/target\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    from release_support import init_git

    init_git(root)
    assert run(root, "release", "minor", "--execute", "--no-verify", "--crate", "helper") == 0
    # helper 0.3.1 -> 0.4.0 breaks solo's "0.3.1": solo follows by a patch
    assert set(git(root, "tag").split()) == {"helper-v0.4.0", "solo-v2.1.1"}
    manifest = (root / "Cargo.toml").read_text()
    assert 'version = "2.1.1"' in manifest and 'helper = { path = "helper", version = "0.4.0" }' in manifest
    # The root file is solo's own (as clap's root file is clap's): its version titles the section of
    # several versions, and helper, which has no file of its own, is listed in it.
    changelog = (root / "CHANGELOG.md").read_text()
    assert "## [2.1.1] - " in changelog and "## [helper-v0.4.0]" not in changelog
    assert "`helper`" in changelog.split("## [2.1.1] - ", 1)[1]
    subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root, check=True,
                   capture_output=True)


def test_optional_gate_is_skipped_where_not_installed(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.project import load_project
    from pipeline.release.steps.gates import run_gates
    from pipeline.stages import probes

    monkeypatch.setattr(probes, "nvcc", lambda project: "nvcc not installed")  # a machine without CUDA
    outcomes = run_gates(load_project(ws), ["cuda", "fmt"])
    assert [(o["stage"], o["status"]) for o in outcomes] == [("cuda", "skipped"), ("fmt", "passed")]
    err = capsys.readouterr().err
    assert "release: gate cuda: skipped: nvcc not installed" in err
    assert "release: gate fmt: passed" in err
    # Required (--require-gates): the same missing tool fails the gate with the hint naming it.
    with pytest.raises(CheckFailed) as failed:
        run_gates(load_project(ws), ["cuda", "fmt"], require=True)
    assert "nvcc not installed" in failed.value.message and "CUDA toolkit" in (failed.value.hint or "")


def test_merge_commits_are_not_changelog_entries(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(ws, "checkout", "-qb", "topic")
    (ws / "crates" / "own" / "src" / "lib.rs").write_text("pub fn merged() {}\n")
    git(ws, "commit", "-qam", "fix(own): merged fix")
    git(ws, "checkout", "-q", "main")
    (ws / "crates" / "app" / "src" / "lib.rs").write_text("pub fn mainline() {}\n")
    git(ws, "commit", "-qam", "feat(app): mainline")
    # The merge differs from both parents, so path-limited `git log` would list it.
    git(ws, "merge", "--no-ff", "-q", "-m", "Merge branch 'topic'", "topic")
    assert run(ws, "changelog", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    subjects = [entry["summary"] for entries in data["sections"].values() for entry in entries]
    assert any("merged fix" in s for s in subjects)
    assert not any("Merge branch" in s for s in subjects)


@pytest.mark.parametrize(
    ("file", "damage", "message"),
    [
        # Each used to end in a traceback (exit 3) or a misleading "lockfile edit produced invalid TOML".
        ("Cargo.lock", b"\xff\xfe\n", "Cargo.lock: lockfile is not valid UTF-8"),
        ("CHANGELOG.md", b"caf\xe9\n", "CHANGELOG.md: changelog is not valid UTF-8"),
        ("Cargo.lock", b"garbage [[[\n", "Cargo.lock:"),
    ],
)
def test_unreadable_file_to_rewrite_is_named_and_nothing_written(
    ws: Path, capsys: pytest.CaptureFixture[str], file: str, damage: bytes, message: str
) -> None:
    path = ws / file
    path.write_bytes((path.read_bytes() if path.exists() else b"# Changelog\n") + damage)
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "chore: damage")
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 2
    err = capsys.readouterr().err
    assert message in err and "hint:" in err and "Traceback" not in err
    if file == "Cargo.lock" and b"[[[" in damage:
        assert "malformed TOML in lockfile" in err
    assert snapshot(ws) == before
    assert git(ws, "tag").strip() == ""


@pytest.mark.parametrize("command", [["bump", "minor"], ["release", "patch"], ["changelog"]])
def test_member_version_that_is_not_semver_is_a_manifest_error(
    ws: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    manifest = ws / "crates" / "own" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.2.0"', 'version = "1.2"'))
    git(ws, "commit", "-qam", "chore: short version")
    assert run(ws, *command) == 2  # used to be a SemverError traceback (exit 3)
    err = capsys.readouterr().err
    assert f"{manifest}:3:1: crate `own` version: `1.2` is not a semantic version" in err
    assert "hint:" in err


def test_ignored_lockfile_is_written_but_not_committed(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Libraries often keep Cargo.lock out of git: `git add` refused it and the whole release failed.
    (ws / ".gitignore").write_text("/target\n/dist\nCargo.lock\n")
    git(ws, "rm", "-q", "--cached", "Cargo.lock")
    git(ws, "commit", "-qam", "chore: untrack the lockfile")
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 0, capsys.readouterr().err
    assert 'name = "core"\nversion = "0.5.0"' in (ws / "Cargo.lock").read_text()  # still kept in sync
    committed = git(ws, "show", "--name-only", "--format=", "HEAD").split()
    assert "Cargo.lock" not in committed and "Cargo.toml" in committed and "CHANGELOG.md" in committed
    assert git(ws, "tag", "-l", "v*").split() == ["v0.5.0"]
    assert git(ws, "status", "--porcelain").strip() == ""


def test_rejected_commit_with_an_ignored_lockfile_leaves_nothing_staged(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ws / ".gitignore").write_text("/target\n/dist\nCargo.lock\n")
    git(ws, "rm", "-q", "--cached", "Cargo.lock")
    git(ws, "commit", "-qam", "chore: untrack the lockfile")
    _refuse_commits(ws)
    before = snapshot(ws)
    assert run(ws, "release", "minor", "--execute", "--no-verify") == 1
    assert "hook says no" in capsys.readouterr().err
    assert snapshot(ws) == before
    assert git(ws, "status", "--porcelain").strip() == ""  # the index was reset too


@pytest.mark.parametrize("command", [["release", "patch"], ["changelog"], ["bump", "patch", "--changed"]])
def test_missing_git_is_reported_as_git(ws: Path, tmp_path: Path, command: list[str]) -> None:
    # Without a git executable the error names git (it once read "install GitPython").
    empty = tmp_path / "bin"
    empty.mkdir()
    result = cli(*command, "--workspace", str(ws), env={"PATH": str(empty)})
    assert result.returncode == 1, result.stderr
    assert "`git` was not found on PATH" in result.stderr and "install git" in result.stderr
    assert "GitPython" not in result.stderr


@pytest.mark.parametrize("key", ['tag-prefix = "-v"', 'shared-tag = "-{version}"', 'crate-tag = "-{crate}@{version}"'])
def test_tag_starting_with_a_dash_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    # `git tag -a -v0.4.3` reads the tag name as an option: refuse it in the configuration.
    root = make_shapes(tmp_path / "ws", git_repo=True, extra_root=f"\n[workspace.metadata.pipeline.release]\n{key}\n")
    assert run(root, "release", "patch") == 2
    assert "it starts with `-` (git would read it as an option)" in capsys.readouterr().err


def test_release_with_build_metadata_is_the_next_changelog_base(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `release 0.5.0+build.7` tags v0.5.0+build.7; the tag pattern used to reject the `+build`
    # part, so the next changelog started from the previous release and listed old commits again.
    (ws / "crates" / "core" / "src" / "lib.rs").write_text("pub fn a() {}\n")
    git(ws, "commit", "-qam", "feat(core): a")
    assert run(ws, "release", "0.5.0+build.7", "--execute", "--no-verify", "--crate", "core") == 0
    assert "v0.5.0+build.7" in git(ws, "tag").split()
    capsys.readouterr()
    assert run(ws, "changelog", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since"] == "v0.5.0+build.7"
    # Nothing of the shared line is unreleased (crates with their own, never tagged version still
    # list their history: they run from their own tags, issue 13).
    entries = [e for section in data["sections"].values() for e in section]
    assert not any({"core", "util", "app", "sub"} & set(e["crates"]) for e in entries)
    assert data["since_by_crate"]["own"] == "own-v1.2.1" and data["since_by_crate"]["ranged"] is None


def test_push_to_a_missing_remote_is_refused_before_anything_is_made(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It used to commit and tag, then fail at the push: a half-done release to undo by hand.
    before = snapshot(ws)
    head = git(ws, "rev-parse", "HEAD")
    assert run(ws, "release", "patch", "--execute", "--no-verify", "--push") == 1
    err = capsys.readouterr().err
    assert "--push: remote `origin` is not configured" in err and "git remote add origin" in err
    assert snapshot(ws) == before and git(ws, "rev-parse", "HEAD") == head
    assert git(ws, "tag").strip() == ""


@pytest.mark.parametrize("extra", [["minor"], ["--crate", "own"], ["--changed"], ["--push"], ["--no-verify"],
                                   ["--allow-dirty"]])
def test_artifacts_only_refuses_options_of_a_new_release(
    ws: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    before = snapshot(ws)
    assert run(ws, "release", "--artifacts-only", *extra) == 2
    err = capsys.readouterr().err
    shown = "a level" if extra == ["minor"] else extra[0]
    assert f"--artifacts-only builds the release HEAD already is: it takes no {shown}" in err and "hint:" in err
    assert snapshot(ws) == before and not (ws / "dist").exists()


@pytest.mark.parametrize("mode", ["--resume", "--abort"])
@pytest.mark.parametrize("extra", [["minor"], ["--push"], ["--publish"], ["--publish-only"],
                                   ["--target", "x86_64-unknown-linux-gnu"]])
def test_resume_and_abort_refuse_options_of_a_new_release(
    ws: Path, capsys: pytest.CaptureFixture[str], mode: str, extra: list[str]
) -> None:
    # The journal holds the plan: an option it would ignore (--publish used to be) is refused, nothing written.
    before = snapshot(ws)
    assert run(ws, "release", mode, *extra) == 2
    err = capsys.readouterr().err
    shown = "a level" if extra == ["minor"] else extra[0]
    assert f"{mode} finishes or undoes the recorded release: it takes no {shown}" in err and "hint:" in err
    assert snapshot(ws) == before
