"""Release planning is pure (facts in, plan out) and preflight returns structured findings;
the steps run on their own."""

from __future__ import annotations

import builtins
import contextlib
import pathlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from release_support import git, make_shapes

from pipeline.foundation.errors import ManifestError, OperationFailed
from pipeline.foundation.git import CommitInfo, open_repo
from pipeline.project import load_project
from pipeline.release import changelog as cl
from pipeline.release import history
from pipeline.release.facts import GitFacts, ReleaseFacts, gather
from pipeline.release.findings import Finding, refusal
from pipeline.release.preflight import preflight
from pipeline.release.prepare import ReleaseTag, prepare
from pipeline.release.request import Request
from pipeline.release.settings import ReleaseSettings
from pipeline.release.steps import commit, tag, write
from pipeline.workspace.model import Dependency, DepKind, Package, Workspace

# A workspace that exists nowhere: planning must not need the disk to plan it.
ROOT = Path("/nonexistent/ws")
ROOT_TOML = b'[workspace]\nmembers = ["crates/*"]\n\n[workspace.package]\nversion = "0.1.0"\n'
A_TOML = b'[package]\nname = "a"\nversion.workspace = true\n'
B_TOML = b'[package]\nname = "b"\nversion = "1.0.0"\n\n[dependencies]\na = { path = "../a", version = "0.1.0" }\n'
LOCK = (b'version = 3\n\n[[package]]\nname = "a"\nversion = "0.1.0"\n\n'
        b'[[package]]\nname = "b"\nversion = "1.0.0"\ndependencies = [\n "a",\n]\n')


def _workspace(b_version: str = "1.0.0", requirement: str = "0.1.0") -> Workspace:
    a = Package("a", "0.1.0", ROOT / "crates/a/Cargo.toml", version_inherited=True)
    dep = Dependency("a", "a", DepKind.NORMAL, ("dependencies",), requirement=requirement, path=ROOT / "crates/a",
                     member="a")
    b = Package("b", b_version, ROOT / "crates/b/Cargo.toml", dependencies=(dep,), has_binary=True)
    return Workspace(ROOT, ROOT / "Cargo.toml", (a, b), version="0.1.0")


def _facts(ws: Workspace, b_toml: bytes = B_TOML, **git_changes: object) -> ReleaseFacts:
    commits = [CommitInfo("f" * 40, "feat(b): faster", "", ("crates/b/src/lib.rs",))]
    settings = ReleaseSettings()
    git_facts = GitFacts(top=ROOT, head="e" * 40, branch="main", tags=frozenset({"v0.1.0"}), merged_tags=("v0.1.0",))
    return ReleaseFacts(
        workspace=ws,
        settings=settings,
        git=GitFacts(**{**git_facts.__dict__, **git_changes}),  # type: ignore[arg-type]
        changes=cl.collect(commits, history.crate_dirs(ws), "v0.1.0", history.skip_prefix(settings)),
        manifests={ROOT / "Cargo.toml": ROOT_TOML, ROOT / "crates/a/Cargo.toml": A_TOML,
                   ROOT / "crates/b/Cargo.toml": b_toml},
        lockfile=LOCK,
        changelog=b"# Changelog\n\n## [Unreleased]\n",
        host_triple="x86_64-test-linux",
        today="2026-01-02",
    )


@contextlib.contextmanager
def no_io() -> Iterator[None]:
    """Inside: any file read, file test, subprocess or git repository fails the test.

    (A context, not a fixture: pytest itself reads files to report a failure.)
    """

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"planning did I/O: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        for name in ("read_bytes", "read_text", "is_file", "exists", "open", "stat"):
            patch.setattr(pathlib.Path, name, refuse)
        patch.setattr(builtins, "open", refuse)
        patch.setattr(subprocess, "Popen", refuse)
        patch.setattr("pipeline.foundation.git.open_repo", refuse)
        yield


def test_a_release_is_planned_from_hand_made_facts_without_io() -> None:
    with no_io():
        prepared = prepare(_facts(_workspace()), Request(target="minor", execute=True))
    assert [(c.crate, str(c.old), str(c.new)) for c in prepared.plan.changes] == [
        ("a", "0.1.0", "0.2.0"), ("b", "1.0.0", "1.1.0")]
    files = {p.relative_to(ROOT).as_posix(): new.decode() for p, (_old, new) in prepared.files.items()}
    assert 'version = "0.2.0"' in files["Cargo.toml"]
    assert 'version = "1.1.0"' in files["crates/b/Cargo.toml"]
    assert 'a = { path = "../a", version = "0.2.0" }' in files["crates/b/Cargo.toml"]
    assert 'name = "b"\nversion = "1.1.0"' in files["Cargo.lock"]
    assert "## [0.2.0] - 2026-01-02" in files["CHANGELOG.md"] and "- `b`: faster (fffffff)" in files["CHANGELOG.md"]
    assert prepared.release_tags == (ReleaseTag("v0.2.0", "0.2.0"), ReleaseTag("b-v1.1.0", "1.1.0"))
    assert prepared.commit_message == "chore(release): v0.2.0, b-v1.1.0"
    assert "dist/b-1.1.0-<commit>-x86_64-test-linux.tar.gz" in prepared.artifacts
    assert prepared.problems == ()
    # The guard is real: a read inside it fails.
    with no_io(), pytest.raises(AssertionError, match="planning did I/O"):
        ROOT.joinpath("Cargo.toml").read_bytes()


def test_auto_and_the_version_check_use_only_the_facts() -> None:
    # `auto` reads the commits in the facts: a feature on b's own 1.x line is a minor bump of b.
    with no_io():
        prepared = prepare(_facts(_workspace()), Request(target="auto", crates=("b",)))
    assert [(c.crate, str(c.new)) for c in prepared.plan.changes] == [("b", "1.1.0")]
    # A bad version is located in the manifest bytes the facts hold (line 3), not read again.
    bad = B_TOML.replace(b'"1.0.0"', b'"1.2"')
    with pytest.raises(ManifestError, match=r"/nonexistent/ws/crates/b/Cargo.toml:3:1: crate `b` version: `1\.2`"), \
            no_io():
        prepare(_facts(_workspace(b_version="1.2"), b_toml=bad), Request(target="minor"))


def test_the_remotes_default_branch_is_allowed_while_allowed_branches_is_left_unset() -> None:
    """wgpu releases from `trunk`, its origin/HEAD: allowed by default; a topic branch still is not,
    and a configured list is taken as it is."""
    import dataclasses

    facts = _facts(_workspace(), branch="trunk", default_branch="trunk")
    execute = Request(target="minor", execute=True)
    with no_io():
        assert preflight(facts, execute, []) == ([], [])
        topic = _facts(_workspace(), branch="topic", default_branch="trunk")
        (refused,), _ = preflight(topic, execute, [])
        assert refused.message == "releases are made from main, master, release/*, trunk; this is branch `topic`"
        configured = dataclasses.replace(facts, settings=dataclasses.replace(facts.settings,
                                                                            allowed_branches=("main",)))
        (refused,), _ = preflight(configured, execute, [])
        assert refused.message == "releases are made from main; this is branch `trunk`"


def test_preflight_returns_structured_findings() -> None:
    facts = _facts(_workspace(), dirty=("crates/b/src/lib.rs",), branch="topic", tags=frozenset({"v0.2.0"}))
    with no_io():
        findings, warnings = preflight(facts, Request(target="minor", execute=True, push=True), ["v0.2.0", "b-v1.1.0"])
    assert all(isinstance(f, Finding) for f in findings)
    assert [(f.message, f.location) for f in findings] == [
        ("the work tree of /nonexistent/ws has uncommitted changes: crates/b/src/lib.rs", "crates/b/src/lib.rs"),
        ("tag `v0.2.0` already exists", "refs/tags/v0.2.0"),
        ("--push: remote `origin` is not configured in /nonexistent/ws", "/nonexistent/ws"),
        ("releases are made from main, master, release/*; this is branch `topic`", "topic"),
    ]
    assert findings[0].hint == "commit or stash them, or pass --allow-dirty"
    assert warnings == []
    # A dry run only warns about the branch: the plan is worth seeing from anywhere.
    findings, warnings = preflight(facts, Request(target="minor", allow_dirty=True), [])
    assert findings == [] and warnings == [
        "releases are made from main, master, release/*; this is branch `topic` (--execute would refuse)"]
    # Not a repository: one finding, with its hint.
    (only,), _ = preflight(ReleaseFacts(_workspace(), ReleaseSettings()), Request(target="minor"), [])
    assert only.message == "/nonexistent/ws is not in a git repository" and "git init" in only.hint


def test_a_requirement_the_release_would_break_is_a_finding_with_its_file() -> None:
    ranged = B_TOML.replace(b'version = "0.1.0"', b'version = ">=0.1, <0.2"')
    with no_io():
        prepared = prepare(_facts(_workspace(requirement=">=0.1, <0.2"), b_toml=ranged), Request(target="minor"))
    (blocker,) = prepared.problems
    # Located on its line from the manifest bytes in the facts (nothing is read).
    assert blocker.location == "crates/b/Cargo.toml:6"
    assert blocker.message.startswith("crates/b/Cargo.toml:6: b: [dependencies] a: requirement `>=0.1, <0.2` "
                                      "on a no longer matches 0.2.0")
    assert blocker.hint == "change that requirement by hand so it accepts the new version"


def test_the_refusal_names_every_finding_and_ends_with_the_last_hint() -> None:
    error = refusal([Finding("dirty", "commit"), Finding("tag exists", "choose another")])
    assert isinstance(error, OperationFailed)
    assert error.message == "dirty\nhint: commit\nerror: tag exists" and error.hint == "choose another"


def test_write_commit_and_tag_steps_run_on_their_own(tmp_path: Path) -> None:
    ws = make_shapes(tmp_path / "ws", git_repo=True,
                     extra_root="\n[workspace.metadata.pipeline.release]\nartifacts = false\n")
    project = load_project(str(ws))
    request = Request(target="patch", crates=("own",), execute=True)
    facts = gather(project.workspace, project.config.release, request)
    prepared = prepare(facts, request)
    repo = open_repo(ws)
    assert repo is not None
    written = write.write_files(prepared, ws, verify_lock=False)
    assert 'version = "1.2.1"' in (ws / "crates/own/Cargo.toml").read_text() and written
    made = commit.make_commit(repo, prepared)
    assert git(ws, "log", "-1", "--format=%H %s").split() == [made.sha, "chore(release):", "own-v1.2.1"]
    assert tag.make_tags(repo, prepared.release_tags, facts.settings, made.sha) == ("own-v1.2.1",)
    assert git(ws, "tag", "-l", "-n1", "own-v1.2.1").split() == ["own-v1.2.1", "Release", "own-v1.2.1"]


def test_plan_json_carries_the_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pipeline import cli

    ws = make_shapes(tmp_path / "ws", git_repo=True)
    (ws / "crates" / "own" / "src" / "lib.rs").write_text("pub fn changed() {}\n")
    assert cli.main(["release", "minor", "--execute", "--json", "--workspace", str(ws)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["findings"] == [{
        "message": f"the work tree of {ws} has uncommitted changes: crates/own/src/lib.rs",
        "hint": "commit or stash them, or pass --allow-dirty",
        "location": "crates/own/src/lib.rs",
    }]
    assert data["problems"] == [f"{data['findings'][0]['message']}\nhint: {data['findings'][0]['hint']}"]


def test_a_release_of_many_crates_keeps_a_short_commit_subject() -> None:
    """bevy releases 72 crates at once: the subject names three tags and a count, the body all of them."""
    from pipeline.release.prepare import commit_summary

    few = ["v1.0.0", "a-v0.2.0"]
    assert commit_summary(few) == ("v1.0.0, a-v0.2.0", "")
    many = [f"crate{i}-v0.2.0" for i in range(8)]
    summary, body = commit_summary(many)
    assert summary == "crate0-v0.2.0, crate1-v0.2.0, crate2-v0.2.0 and 5 more"
    assert body == "\n\n" + "\n".join(many) + "\n"
