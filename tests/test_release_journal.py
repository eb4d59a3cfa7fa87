"""Crash-safe releases: a release killed (SIGKILL) at every step boundary and between every two file
replacements leaves a journal; the next release refuses; `--resume` and `--abort` each end in a
consistent repository that `cargo metadata --locked` accepts, with no stray temporary file."""

from __future__ import annotations

import json
import shutil
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_support import (
    copy_state,
    journal_file,
    make_template,
    problems_at_end,
    problems_at_start,
    start_release,
    strays,
)
from release_support import git, snapshot

from pipeline import cli

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("journal") / "template")


def _files_written(template: Path, tmp_path: Path) -> int:
    state = copy_state(template, tmp_path / "count")
    release = start_release(state, "recorded:begin")
    release.communicate()
    return len(json.loads(journal_file(state / "ws").read_text())["files"])


@pytest.fixture(scope="module")
def kill_points(template: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    files = _files_written(template, tmp_path_factory.mktemp("count"))
    assert files >= 6  # manifests, Cargo.lock and the changelog: enough boundaries to matter
    return ["recorded:begin", *[f"write:{k}" for k in range(files)], "done:files", "recorded:files", "add",
            "done:commit", "recorded:commit", "tag:1", "done:tags", "recorded:tags", "done:push", "recorded:push"]


def run(ws: Path, *args: str) -> int:
    return cli.main([*args, "--workspace", str(ws)])


@pytest.mark.slow
def test_every_kill_point_then_resume_or_abort_is_consistent(
    template: Path, kill_points: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(template / "ws")
    head = git(template / "ws", "rev-parse", "HEAD").strip()
    inconsistent: dict[str, list[str]] = {}
    for point in kill_points:
        killed = copy_state(template, tmp_path / f"{point.replace(':', '-')}")
        release = start_release(killed, point)
        _, err = release.communicate()
        assert release.returncode == -signal.SIGKILL, f"{point}: the kill point was never reached: {err}"
        assert journal_file(killed / "ws").exists(), point

        # The next release reports the interrupted one and refuses to plan.
        capsys.readouterr()
        assert run(killed / "ws", "release", "patch") == 1, point
        refusal = capsys.readouterr().err
        assert "interrupted `pipeline release`" in refusal and "--resume" in refusal and "--abort" in refusal

        resumed = copy_state(killed, tmp_path / f"{point.replace(':', '-')}-resume")
        assert run(resumed / "ws", "release", "--resume") == 0, (point, capsys.readouterr().err)
        problems = problems_at_end(resumed, head)

        aborted = copy_state(killed, tmp_path / f"{point.replace(':', '-')}-abort")
        code = run(aborted / "ws", "release", "--abort")
        err = capsys.readouterr().err
        if point == "recorded:push" or point == "done:push":
            # Pushed: it cannot be undone here, and the journal stays for --resume.
            assert code == 1 and "already pushed" in err, (point, err)
            assert journal_file(aborted / "ws").exists()
        else:
            assert code == 0, (point, err)
            problems += [f"abort: {p}" for p in problems_at_start(aborted, before, head)]
        if problems:
            inconsistent[point] = problems
    assert inconsistent == {}


def test_a_release_without_a_kill_leaves_no_journal(template: Path, tmp_path: Path) -> None:
    state = copy_state(template, tmp_path / "whole")
    head = git(state / "ws", "rev-parse", "HEAD").strip()
    release = start_release(state)
    _, err = release.communicate()
    assert release.returncode == 0, err
    assert problems_at_end(state, head) == []


def test_resume_and_abort_without_a_journal_say_so(template: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    state = copy_state(template, tmp_path / "clean")
    for flag in ("--resume", "--abort"):
        assert run(state / "ws", "release", flag) == 1
        assert "no interrupted release" in capsys.readouterr().err
    assert run(state / "ws", "release", "--resume", "minor") == 2


def test_abort_refuses_to_overwrite_a_file_edited_since(template: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    state = copy_state(template, tmp_path / "edited")
    release = start_release(state, "write:2")
    release.communicate()
    edited = state / "ws" / "Cargo.toml"
    edited.write_text(edited.read_text() + "# my own edit\n")
    assert run(state / "ws", "release", "--abort") == 1
    err = capsys.readouterr().err
    assert "cannot abort the interrupted release: Cargo.toml changed since it was interrupted" in err
    assert edited.read_text().endswith("# my own edit\n") and journal_file(state / "ws").exists()


def test_a_failed_commit_that_cannot_restore_reports_what_is_on_disk(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk: `git commit` fails, and putting the files back fails too. The error must say the
    # files are modified (never "nothing was changed") and keep the journal; --abort then restores.
    from pipeline.foundation import fs
    from pipeline.foundation.errors import OperationFailed
    from pipeline.foundation.git import GitRepo

    state = copy_state(template, tmp_path / "full")
    ws = state / "ws"
    before = snapshot(ws)
    head = git(ws, "rev-parse", "HEAD").strip()

    def commit(self: GitRepo, paths: object, message: str) -> str:
        raise OperationFailed("`git commit` failed: No space left on device")

    original = fs.write_all

    def write_all(files: object, **kw: object) -> None:
        if kw.get("what") == "the release" and kw.get("fault") is None and kw.get("verify") is None:
            raise OperationFailed("could not write Cargo.toml: No space left on device; nothing was changed")
        return original(files, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(GitRepo, "commit", commit)
    monkeypatch.setattr(fs, "write_all", write_all)
    assert run(ws, "release", "patch", "--execute", "--no-verify") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "nothing was changed" not in err
    assert "the release is incomplete:" in err and "file(s) are modified" in err and "--abort" in err
    assert journal_file(ws).exists() and snapshot(ws) != before
    monkeypatch.undo()
    assert run(ws, "release", "--abort") == 0
    assert problems_at_start(state, before, head) == []
    assert strays(ws) == []


@pytest.mark.parametrize("flag", ["--resume", "--abort"])
def test_a_git_killed_mid_commit_leaves_an_index_lock_that_recovery_clears(
    flag: str, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Killing the release's process group kills its `git commit` too, which leaves .git/index.lock.
    before = snapshot(template / "ws")
    head = git(template / "ws", "rev-parse", "HEAD").strip()
    state = copy_state(template, tmp_path / "locked")
    release = start_release(state, "add")
    release.communicate()
    (state / "ws" / ".git" / "index.lock").write_text("")
    assert run(state / "ws", "release", flag) == 0, capsys.readouterr().err
    problems = problems_at_end(state, head) if flag == "--resume" else problems_at_start(state, before, head)
    assert problems == []
