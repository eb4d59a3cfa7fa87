"""Signed release tags: `tag.gpgSign` or the release setting, with an SSH key made in tmp_path; `git tag -v`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.foundation.git import GitError, open_repo

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) is missing")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def ssh_signing_repo(root: Path, *, gpg_sign: bool) -> Path:
    """A repository with one commit whose git signs with a throwaway SSH key (and can verify it)."""
    root.mkdir(parents=True, exist_ok=True)
    key = root.parent / f"{root.name}-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "release@example.invalid", "-f", str(key)],
                   check=True, capture_output=True)
    _git(root, "init", "-q", "-b", "main")
    for key_name, value in (("user.email", "release@example.invalid"), ("user.name", "Release"),
                            ("gpg.format", "ssh"), ("user.signingkey", f"{key}.pub"), ("commit.gpgSign", "false")):
        _git(root, "config", key_name, value)
    allowed = root.parent / f"{root.name}-allowed_signers"
    allowed.write_text(f"release@example.invalid {(key.with_suffix('.pub')).read_text().strip()}\n")
    _git(root, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    if gpg_sign:
        _git(root, "config", "tag.gpgSign", "true")
    (root / "README").write_text("x\n")
    _git(root, "add", "README")
    assert _git(root, "commit", "-q", "-m", "init").returncode == 0
    return root


def test_tag_gpgsign_config_signs_with_ssh(tmp_path: Path) -> None:
    root = ssh_signing_repo(tmp_path / "repo", gpg_sign=True)
    repo = open_repo(root)
    assert repo is not None and repo.signs_tags()
    repo.tag("v1.0.0", "Release v1.0.0")
    verified = _git(root, "tag", "-v", "v1.0.0")
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for release@example.invalid' in verified.stderr
    assert repo.verify_tag("v1.0.0").ok
    assert "-----BEGIN SSH SIGNATURE-----" in _git(root, "cat-file", "-p", "v1.0.0").stdout


def test_sign_setting_signs_and_unsigned_tags_fail_verification(tmp_path: Path) -> None:
    root = ssh_signing_repo(tmp_path / "repo", gpg_sign=False)
    repo = open_repo(root)
    assert repo is not None and not repo.signs_tags()
    repo.tag("plain", "Release plain")
    assert not repo.verify_tag("plain").ok  # annotated, but nothing to verify
    repo.tag("signed", "Release signed", sign=True)
    assert repo.verify_tag("signed").ok
    # A tampered allowed-signers file (another key) makes the same tag fail verification.
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, capture_output=True)
    allowed = tmp_path / "repo-allowed_signers"
    allowed.write_text(f"release@example.invalid {other.with_suffix('.pub').read_text().strip()}\n")
    assert not repo.verify_tag("signed").ok


def test_signing_without_a_key_fails_with_a_hint(tmp_path: Path) -> None:
    root = ssh_signing_repo(tmp_path / "repo", gpg_sign=False)
    _git(root, "config", "user.signingkey", str(tmp_path / "missing.pub"))
    repo = open_repo(root)
    assert repo is not None
    with pytest.raises(GitError) as info:
        repo.tag("v2", "Release v2", sign=True)
    assert "`git tag -s v2` failed" in str(info.value) and "user.signingkey" in (info.value.hint or "")
    assert _git(root, "tag", "--list", "v2").stdout == ""
