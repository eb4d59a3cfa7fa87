"""The bundled example: `nox -s release` shows a plan; in a copy, `--execute` does the whole release."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from release_support import REPO, git, init_git, snapshot

from pipeline import cli

EXAMPLE = REPO / "examples" / "prism4d"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "prism4d"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist"))
    init_git(root)
    return root


@pytest.mark.skipif(importlib.util.find_spec("nox") is None, reason="nox is not importable here")
def test_nox_session_prints_the_plan_and_writes_nothing(example: Path) -> None:
    before = snapshot(example)
    # The interpreter running the tests, not a `nox` that PATH may lack (or that belongs to another Python).
    result = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(REPO / "noxfile.py"), "-s", "release", "--", "minor",
         "--workspace", str(example)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "shared version: 0.4.2 -> 0.5.0" in out
    assert "prism-io         1.2.0 -> 1.3.0" in out
    assert "tags: prism4d-v0.5.0, prism4d-prism-io-v1.3.0" in out  # prefixed: never a bare v0.5.0
    assert "+version = \"0.5.0\"  # lockstep" in out and "--- a/Cargo.lock" in out and "--- a/CHANGELOG.md" in out
    assert "warning: prism-io depends on `prism-legacy` by path" in out
    assert snapshot(example) == before


def test_execute_releases_the_example(
    example: Path, shared_target_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRISM_NO_CUDA", "1")  # build.rs skips nvcc: the release flow is under test here
    monkeypatch.setenv("CARGO_TARGET_DIR", str(shared_target_dir))  # shared with other example builds
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    # What the CUDA stage leaves behind: release artifacts include it.
    cuda = example / "target" / "cuda"
    (cuda / "sm_90").mkdir(parents=True)
    (cuda / "sm_90" / "saxpy.cubin").write_bytes(b"\x7fELF fake cubin")
    (cuda / "manifest.json").write_text(json.dumps({"architectures": ["sm_90", "sm_120"]}))
    (example / "crates" / "prism-nhs" / "src" / "lib.rs").open("a").write("// boundary fix\n")
    git(example, "commit", "-qam", "fix(nhs): pairs across the boundary")

    assert cli.main(["release", "minor", "--execute", "--no-verify", "--workspace", str(example)]) == 0
    capsys.readouterr()

    root_manifest = (example / "Cargo.toml").read_text()
    assert 'version = "0.5.0"  # lockstep' in root_manifest
    assert 'prism-io = { path = "crates/prism-io", version = "1.3.0" }  # own version line' in root_manifest
    physics = (example / "crates" / "prism-physics" / "Cargo.toml").read_text()
    assert 'version = "~0.5.0" }  # tilde: 0.4.x from 0.4.2' in physics and 'version = "=0.5.0"' in physics
    assert 'version = "0.5" }' in (example / "crates" / "prism-io" / "Cargo.toml").read_text()
    lock = (example / "Cargo.lock").read_text()
    assert 'name = "prism-io"\nversion = "1.3.0"' in lock and 'name = "prism-legacy"\nversion = "0.1.0"' in lock
    changelog = (example / "CHANGELOG.md").read_text()
    section = "## [Unreleased]\n\n## [0.5.0] - 2026-09-21\n\n### Fixed\n\n- `prism-nhs`: pairs across the boundary"
    assert section in changelog
    assert "[0.5.0]: https://github.com/prism4d/prism4d/" in changelog

    assert git(example, "log", "-1", "--format=%s").strip() == (
        "chore(release): prism4d-v0.5.0, prism4d-prism-io-v1.3.0"
    )
    assert git(example, "cat-file", "-t", "prism4d-v0.5.0").strip() == "tag"
    assert git(example, "status", "--porcelain", "--untracked-files=no").strip() == ""

    commit = git(example, "rev-parse", "--short=7", "HEAD").strip()
    dist = example / "dist"
    names = sorted(p.name for p in dist.iterdir())
    rustc = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    triple = next(line.split()[1] for line in rustc.splitlines() if line.startswith("host:"))
    assert names == sorted([
        f"prism-0.5.0-{commit}-{triple}.tar.gz", f"prism4d-cuda-0.5.0-{commit}.tar.gz", "SHA256SUMS", "manifest.json",
    ])
    subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, check=True, capture_output=True)
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["workspace_version"] == "0.5.0" and manifest["crates"]["prism-io"] == "1.3.0"
    assert manifest["tags"] == ["prism4d-v0.5.0", "prism4d-prism-io-v1.3.0"]
    assert manifest["commit"].startswith(commit) and manifest["rustc"].startswith("rustc ")
    assert manifest["gpu_architectures"] == ["sm_90", "sm_120"]
    tarballs = {f"prism-0.5.0-{commit}-{triple}.tar.gz", f"prism4d-cuda-0.5.0-{commit}.tar.gz"}
    assert {f["name"] for f in manifest["files"]} == tarballs
    assert all(f["size"] == (dist / f["name"]).stat().st_size for f in manifest["files"])
    listing = subprocess.run(["tar", "tzf", str(dist / f"prism-0.5.0-{commit}-{triple}.tar.gz")],
                             capture_output=True, text=True, check=True).stdout.split()
    assert f"prism-0.5.0-{commit}-{triple}/prism" in listing

    # CI on the pushed tag rebuilds dist/ for the release HEAD already is: the same, reproducible tarball.
    first = (dist / f"prism-0.5.0-{commit}-{triple}.tar.gz").read_bytes()
    assert cli.main(["release", "--artifacts-only", "--json", "--workspace", str(example)]) == 0
    built = json.loads(capsys.readouterr().out)
    assert set(built["tags"]) == {"prism4d-v0.5.0", "prism4d-prism-io-v1.3.0"}
    assert (dist / f"prism-0.5.0-{commit}-{triple}.tar.gz").read_bytes() == first
    subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, check=True, capture_output=True)
    assert json.loads((dist / "manifest.json").read_text())["crates"]["prism-testkit"] == "0.5.0"

    # The synced lock builds offline without changes (same target dir: no rebuild of the artifacts).
    subprocess.run(["cargo", "build", "--release", "--locked", "--offline"], cwd=example, check=True,
                   capture_output=True)
