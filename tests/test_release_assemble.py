"""`pipeline release --assemble DIR...`: every target's dist/ merged into one SHA256SUMS and one manifest.

The first part is a real `release --artifacts-only --target <host>` build of a small workspace; the
second is that build re-targeted (the tarball renamed for `aarch64-unknown-linux-gnu`, its manifest
and sums rewritten), as a second runner would have written it. `sha256sum -c` checks the result.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, init_git

OTHER = "aarch64-unknown-linux-gnu"


def _host() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:"))


def _workspace(root: Path, version: str = "0.3.0") -> Path:
    (root / "crates" / "tool" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/tool"]\n\n'
        f'[workspace.package]\nversion = "{version}"\nedition = "2021"\n\n'
        "[workspace.metadata.pipeline.release]\n"
        f'targets = ["{_host()}", "{OTHER}"]\n'
    )
    (root / "crates" / "tool" / "Cargo.toml").write_text(
        '[package]\nname = "tool"\nversion.workspace = true\nedition.workspace = true\n')
    (root / "crates" / "tool" / "src" / "main.rs").write_text('fn main() { println!("tool"); }\n')
    (root / ".gitignore").write_text("/target\n/dist\n/parts\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    init_git(root)
    subprocess.run(["git", "tag", "-a", f"v{version}", "-m", "Release"], cwd=root, check=True)
    return root


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_part(directory: Path, manifest: dict, files: dict[str, bytes], sboms: dict[str, str] | None = None
                ) -> Path:
    """A part as `--artifacts-only` writes one: the files, manifest.json listing them, SHA256SUMS over all."""
    directory.mkdir(parents=True)
    manifest = {**manifest, "files": [
        {"name": n, "size": len(d), "sha256": _sha(d), **({"sbom": sboms[n]} if n in (sboms or {}) else {})}
        for n, d in sorted(files.items())]}
    every = {**files, "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode()}
    for name, data in every.items():
        (directory / name).write_bytes(data)
    (directory / "SHA256SUMS").write_text("".join(f"{_sha(d)}  {n}\n" for n, d in sorted(every.items())))
    return directory


def _retarget(part: Path, directory: Path, host: str) -> Path:
    """``part`` as the build for OTHER would have written it: its target-named files renamed."""
    manifest = json.loads((part / "manifest.json").read_text())
    files, sboms = {}, {}
    for entry in manifest["files"]:
        name = entry["name"].replace(host, OTHER)
        files[name] = (part / entry["name"]).read_bytes().replace(host.encode(), OTHER.encode())
        if "sbom" in entry:
            sboms[name] = entry["sbom"].replace(host, OTHER)
    return _write_part(directory, {**manifest, "target": OTHER}, files, sboms)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A workspace and the real artifacts of its host target, in parts/<host>."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    root = _workspace(tmp_path_factory.mktemp("assemble") / "ws")
    host = _host()
    result = cli("release", "--artifacts-only", "--target", host, "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    part = root / "parts" / host
    part.parent.mkdir()
    shutil.move(root / "dist", part)
    return root, part, host


def _fresh(built: tuple[Path, Path, str], tmp_path: Path) -> tuple[Path, Path, Path, str]:
    root, _, host = built
    ws = tmp_path / "ws"
    shutil.copytree(root, ws, ignore=shutil.ignore_patterns("target"))
    first = ws / "parts" / host
    second = _retarget(first, ws / "parts" / OTHER, host)
    return ws, first, second, host


def test_two_targets_assemble_into_one_checked_release(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    ws, first, second, host = _fresh(built, tmp_path)
    result = cli("release", "--assemble", str(first), str(second), "--json", "--workspace", str(ws))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["targets"] == sorted([host, OTHER]) and out["prerelease"] is False
    dist = ws / "dist"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    names = {line.split("  ", 1)[1] for line in (dist / "SHA256SUMS").read_text().splitlines()}
    assert names == {p.name for p in dist.iterdir()} - {"SHA256SUMS"}
    tarballs = sorted(n for n in names if n.endswith(".tar.gz"))
    assert [t.endswith(f"-{host}.tar.gz") or t.endswith(f"-{OTHER}.tar.gz") for t in tarballs] == [True, True]
    manifest = json.loads((dist / "manifest.json").read_text())
    assert [t["target"] for t in manifest["targets"]] == sorted([host, OTHER])
    assert manifest["version"] == "0.3.0" and manifest["tags"] == ["v0.3.0"]
    by_name = {f["name"]: f for f in manifest["files"]}
    assert set(by_name) == names - {"manifest.json"}
    for tarball in tarballs:
        target = host if tarball.endswith(f"-{host}.tar.gz") else OTHER
        assert by_name[tarball]["targets"] == [target]
        assert by_name[tarball]["sha256"] == _sha((dist / tarball).read_bytes())
        assert by_name[tarball]["sbom"] in by_name  # each tarball's SBOM came along
    # A second assembly of the same parts replaces the first one's files (it wrote them).
    again = cli("release", "--assemble", str(first), str(second), "--workspace", str(ws))
    assert again.returncode == 0, again.stderr


def test_a_damaged_file_is_refused_with_its_path(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    ws, first, second, _ = _fresh(built, tmp_path)
    tarball = next(second.glob("*.tar.gz"))
    tarball.write_bytes(tarball.read_bytes() + b"x")
    result = cli("release", "--assemble", str(first), str(second), "--workspace", str(ws))
    assert result.returncode == 1
    assert f"{tarball}: sha256 " in result.stderr and "does not match manifest.json" in result.stderr
    assert "hint:" in result.stderr and not (ws / "dist").exists()


def test_the_same_target_twice_is_refused(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    ws, first, _, host = _fresh(built, tmp_path)
    copy = ws / "parts" / "copy"
    shutil.copytree(first, copy)
    result = cli("release", "--assemble", str(first), str(copy), "--workspace", str(ws))
    assert result.returncode == 1
    assert (f"{copy / 'manifest.json'}: target {host} is built twice (also in {first / 'manifest.json'})"
            in result.stderr)
    assert not (ws / "dist").exists()


def test_parts_of_different_commits_conflict(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = []\n')
    common = {"schema": 1, "project": "p", "workspace_version": "1.0.0-rc.1", "crates": {}, "tags": ["v1.0.0-rc.1"]}
    a = _write_part(tmp_path / "a", {**common, "commit": "a" * 40, "target": "x86_64-unknown-linux-gnu"},
                    {"t-x86_64-unknown-linux-gnu.tar.gz": b"1"})
    b = _write_part(tmp_path / "b", {**common, "commit": "b" * 40, "target": OTHER}, {f"t-{OTHER}.tar.gz": b"2"})
    result = cli("release", "--assemble", str(a), str(b), "--workspace", str(tmp_path))
    assert result.returncode == 1
    assert f"{b / 'manifest.json'}: `commit` is \"{'b' * 40}\", but {a / 'manifest.json'} has" in result.stderr
    # Same commit: a file of one name with different bytes in two targets is a conflict too.
    c = _write_part(tmp_path / "c", {**common, "commit": "a" * 40, "target": OTHER},
                    {"t-x86_64-unknown-linux-gnu.tar.gz": b"other"})
    result = cli("release", "--assemble", str(a), str(c), "--workspace", str(tmp_path))
    assert result.returncode == 1
    assert f"{c / 't-x86_64-unknown-linux-gnu.tar.gz'}: differs from {a / 't-x86_64-unknown-linux-gnu.tar.gz'}" \
        in result.stderr
    # The same bytes under one name (the CUDA tarball every entry packs) are one file; rc.1 is a pre-release.
    shared = {"cuda.tar.gz": b"kernels"}
    d = _write_part(tmp_path / "d", {**common, "commit": "a" * 40, "target": "x86_64-unknown-linux-gnu"},
                    {**shared, "t-x86_64-unknown-linux-gnu.tar.gz": b"1"})
    e = _write_part(tmp_path / "e", {**common, "commit": "a" * 40, "target": OTHER},
                    {**shared, f"t-{OTHER}.tar.gz": b"2"})
    result = cli("release", "--assemble", str(d), str(e), "--json", "--workspace", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["prerelease"] is True
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert {f["name"]: f["targets"] for f in manifest["files"]}["cuda.tar.gz"] == sorted(
        ["x86_64-unknown-linux-gnu", OTHER])


def test_a_stray_file_or_a_missing_sums_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = []\n')
    meta = {"schema": 1, "project": "p", "workspace_version": "1.0.0", "crates": {}, "tags": [], "commit": "a" * 40,
            "target": OTHER}
    a = _write_part(tmp_path / "a", meta, {"x.tar.gz": b"1"})
    (a / "notes.txt").write_text("not listed")
    result = cli("release", "--assemble", str(a), "--workspace", str(tmp_path))
    assert result.returncode == 1 and f"{a}: holds files its manifest does not list: notes.txt" in result.stderr
    (a / "notes.txt").unlink()
    (a / "SHA256SUMS").write_text("".join(line + "\n" for line in (a / "SHA256SUMS").read_text().splitlines()
                                          if "x.tar.gz" not in line))
    result = cli("release", "--assemble", str(a), "--workspace", str(tmp_path))
    assert result.returncode == 1 and f"{a / 'SHA256SUMS'}: has no line for x.tar.gz" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_cross_builds_with_the_configured_tool(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    from pipeline.release.artifacts import build_argv

    assert build_argv(OTHER, "zigbuild")[:2] == ["cargo", "zigbuild"] and build_argv(OTHER, "cross")[:2] == [
        "cross", "build"]
    assert build_argv(OTHER)[-2:] == ["--target", OTHER]
    ws, _, _, _ = _fresh(built, tmp_path)
    manifest = ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + f'cross = {{ "{OTHER}" = "cross" }}\n')
    env = {"PATH": str(Path(shutil.which("cargo") or "cargo").parent) + ":/usr/bin:/bin"}
    if shutil.which("cross", path=env["PATH"]) is not None:
        pytest.skip("cross is installed here: the missing-tool error cannot be shown")
    result = cli("release", "--artifacts-only", "--target", OTHER, "--workspace", str(ws), env=env)
    assert result.returncode == 1
    assert "`cross` was not found on PATH" in result.stderr and "hint:" in result.stderr
    assert not (ws / "dist").exists()
