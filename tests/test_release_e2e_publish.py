"""End to end: the example released with --publish against the test registry, then checked the way a
consumer of the release checks it: `sha256sum -c`, the SBOMs through the CycloneDX validator, `git tag -v`,
and `cargo generate-lockfile` resolving the published crates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import init_git
from registry_support import Registry, start_mirror
from release_support import cli
from test_release_publish import publish_vendored

from pipeline.release import sbom

pytestmark = [
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not on PATH"),
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) is missing"),
    pytest.mark.slow,
]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Registry]:
    yield from start_mirror(tmp_path / "cargo-home")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def _signing(root: Path, keys: Path) -> None:
    """The release owner's SSH signing key (made here), and the allowed-signers file `git tag -v` checks."""
    key = keys / "release-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tests@example.com", "-f", str(key)],
                   check=True, capture_output=True)
    allowed = keys / "allowed_signers"
    allowed.write_text(f"tests@example.com {key.with_suffix('.pub').read_text().strip()}\n")
    for name, value in (("gpg.format", "ssh"), ("user.signingkey", f"{key}.pub"),
                        ("gpg.ssh.allowedSignersFile", str(allowed))):
        _git(root, "config", name, value)


def test_release_publish_checksums_sboms_and_signed_tags(example_copy: Path, mirror: Registry, tmp_path: Path,
                                                         shared_target_dir: Path) -> None:
    root = example_copy
    manifest = root / "Cargo.toml"
    # The release owner asks for signed tags in the workspace's configuration (git's tag.gpgSign is off).
    manifest.write_text(manifest.read_text().replace(
        'repository-url = "https://github.com/prism4d/prism4d"\n',
        'repository-url = "https://github.com/prism4d/prism4d"\nsign-tags = true\n', 1))
    (root / ".gitignore").write_text("/target\n/dist\n")
    init_git(root)
    (tmp_path / "keys").mkdir()
    _signing(root, tmp_path / "keys")
    env = {**mirror.env(), "PRISM_NO_CUDA": "1", "CARGO_TARGET_DIR": str(shared_target_dir)}
    publish_vendored(root, mirror, env)

    dry = cli("release", "minor", "--publish", "--registry", "test", "--workspace", str(root), env=env)
    assert dry.returncode == 0, dry.stderr
    assert "publish to registry `test`, in this order:\n  1. prism-buildinfo 0.5.0\n  2. prism-core 0.5.0" in dry.stdout
    assert "  skip prism-testkit 0.5.0: publish = false" in dry.stdout
    assert mirror.versions("prism-core") == []  # a dry run uploads nothing

    done = cli("release", "minor", "--execute", "--no-verify", "--publish", "--registry", "test", "--json",
               "--workspace", str(root), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["executed"] is True
    assert result["published"]["published"] == [
        "prism-buildinfo 0.5.0", "prism-core 0.5.0", "prism-gpu 0.5.0", "prism-io 1.3.0", "prism-nhs 0.5.0",
        "prism-py 0.5.0", "prism-physics 0.5.0", "prism 0.5.0"]
    assert mirror.versions("prism-io") == ["1.3.0"] and mirror.versions("prism-testkit") == []

    # The checksums cover every file, SBOMs included.
    dist = root / "dist"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    sboms = sorted(dist.glob("*.cdx.json"))
    assert [p.name for p in sboms] == [sbom.sbom_name(p.name) for p in sorted(dist.glob("prism-0.5.0-*.tar.gz"))]
    assert all(f"{p.name}: OK" in check.stdout for p in sboms)
    release_manifest = json.loads((dist / "manifest.json").read_text())
    listed = {f["name"]: f for f in release_manifest["files"]}
    for path in sboms:
        text = path.read_text()
        assert sbom.validate(text) == []
        purls = set(sbom.lock_components(text))
        assert {"pkg:cargo/prism@0.5.0", "pkg:cargo/prism-core@0.5.0", "pkg:cargo/prism-io@1.3.0",
                "pkg:cargo/prism-legacy@0.1.0"} <= purls
        assert path.name in listed
    tarball = next(n for n in listed if n.endswith(".tar.gz"))
    assert listed[tarball]["sbom"] == sbom.sbom_name(tarball)

    # The tags are signed with the owner's key and verify.
    for tag in ("prism4d-v0.5.0", "prism4d-prism-io-v1.3.0"):
        verified = _git(root, "tag", "-v", tag)
        assert verified.returncode == 0, verified.stderr
        assert 'Good "git" signature for tests@example.com' in verified.stderr

    # And a consumer resolves the release from the registry.
    consumer = tmp_path / "consumer"
    (consumer / "src").mkdir(parents=True)
    (consumer / "Cargo.toml").write_text('[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\n\n'
                                         '[dependencies]\nprism-physics = "0.5"\n')
    (consumer / "src" / "lib.rs").write_text("")
    lock = subprocess.run(["cargo", "generate-lockfile"], cwd=consumer, env=env, capture_output=True, text=True)
    assert lock.returncode == 0, lock.stderr
    assert 'name = "prism-physics"\nversion = "0.5.0"' in (consumer / "Cargo.lock").read_text()

    # Publishing again has nothing left to do: every version is in the registry.
    again = cli("release", "--publish-only", "--execute", "--registry", "test", "--workspace", str(root), env=env)
    assert again.returncode == 0, again.stderr
    assert "(nothing to publish)" in again.stdout
    assert "skip prism-core 0.5.0: already in registry `test`" in again.stdout
