"""`pipeline hooks install|uninstall`: where the hook goes, what it refuses, what it keeps."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from factory import make_workspace
from hooks_support import env, git, pipeline

from pipeline.foundation.errors import OperationFailed
from pipeline.hooks.install import MARKER, render_script


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    make_workspace(root, 3, git=True)
    return root


def install(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return pipeline(repo, "--workspace", str(repo), "hooks", "install", *extra)


def test_install_writes_an_executable_hook_recording_the_interpreter(repo: Path) -> None:
    result = install(repo)
    assert result.returncode == 0, result.stderr
    hook = repo / ".git" / "hooks" / "pre-push"
    assert hook.stat().st_mode & stat.S_IXUSR
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n") and MARKER in text
    import sys

    assert f"INSTALL_PYTHON={sys.executable}" in text
    assert "installed the pre-push hook" in result.stdout
    again = install(repo)  # our own hook: replaced without --force
    assert again.returncode == 0 and "updated" in again.stdout
    assert not list(hook.parent.glob("pre-push.pipeline-backup*"))


def test_core_hooks_path_is_honoured(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    assert install(repo).returncode == 0
    assert (repo / ".githooks" / "pre-push").is_file()
    assert not (repo / ".git" / "hooks" / "pre-push").exists()


def test_existing_hook_is_kept_without_force_and_backed_up_with_it(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho theirs\n")
    refused = install(repo)
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert hook.read_text() == "#!/bin/sh\necho theirs\n"

    forced = install(repo, "--force")
    assert forced.returncode == 0, forced.stderr
    assert MARKER in hook.read_text()
    backup = hook.with_name("pre-push.pipeline-backup")
    assert backup.read_text() == "#!/bin/sh\necho theirs\n"
    assert "kept the previous hook" in forced.stderr

    removed = pipeline(repo, "--workspace", str(repo), "hooks", "uninstall")
    assert removed.returncode == 0 and "restored" in removed.stdout
    assert hook.read_text() == "#!/bin/sh\necho theirs\n"


def test_hook_says_what_to_do_when_its_interpreter_is_gone(tmp_path: Path) -> None:
    script = tmp_path / "pre-push"
    script.write_text(render_script(str(tmp_path / "gone" / "python"), "."))
    script.chmod(0o755)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = subprocess.run([str(script), "origin", "url"], cwd=tmp_path, capture_output=True, text=True,
                            input="", env=env())
    assert result.returncode == 1
    assert "which no longer exists" in result.stderr
    assert "pipeline hooks install --force" in result.stderr
    assert "git push --no-verify" in result.stderr


def test_interpreter_path_with_spaces_is_quoted(tmp_path: Path) -> None:
    text = render_script("/opt/my env/bin/python", "sub dir/ws")
    assert "INSTALL_PYTHON='/opt/my env/bin/python'" in text
    assert "WORKSPACE='sub dir/ws'" in text


def test_install_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws", 2)
    result = pipeline(tmp_path / "ws", "--workspace", str(tmp_path / "ws"), "hooks", "install")
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr


def test_workspace_in_a_subdirectory_is_recorded_relative_to_the_top(tmp_path: Path) -> None:
    from factory import init_git

    top = tmp_path / "top"
    make_workspace(top / "rust" / "ws", 2)
    init_git(top)
    result = pipeline(top, "--workspace", str(top / "rust" / "ws"), "hooks", "install")
    assert result.returncode == 0, result.stderr
    assert "WORKSPACE=rust/ws\n" in (top / ".git" / "hooks" / "pre-push").read_text()


def test_install_outside_any_workspace_does_not_fall_back_to_the_bundled_example(tmp_path: Path) -> None:
    # A fresh clone with nothing checked out (or any directory without a workspace) used to get the
    # bundled example as its target: the hook went into this tool's own repository, not the clone.
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    # Wherever a hook would be written (this checkout's repository included), it lands here instead.
    trap = tmp_path / "trap-hooks"
    extra = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": str(trap)}
    for action in ("install", "uninstall"):
        result = subprocess.run([sys.executable, "-m", "pipeline", "hooks", action], cwd=clone,
                                capture_output=True, text=True, env={**env(), **extra})
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no Cargo workspace at or above" in result.stderr and "hint:" in result.stderr
    assert not (trap / "pre-push").exists()
    assert not (clone / ".git" / "hooks" / "pre-push").exists()


def test_failed_forced_install_puts_the_old_hook_back(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.hooks import install as install_module

    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho theirs\n")

    def disk_full(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(install_module, "_write_executable", disk_full)
    with pytest.raises(OperationFailed, match="No space left"):
        install_module.install(repo, force=True)
    assert hook.read_text() == "#!/bin/sh\necho theirs\n"
    assert not list(hook.parent.glob("pre-push.pipeline-backup*"))
