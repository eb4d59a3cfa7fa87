"""A hostile local user against GPU leases and release artifacts, as real separate uids.

The attacker's setup runs as a throwaway uid (``setpriv``); the tool runs as another: a second
throwaway uid for the leases (`pipeline gpu run` on fake GPUs), the test's own (root) user for the
artifacts (cargo is installed for it only; root is also the user with most to lose: it reads every
file, so only the tool's own checks stand between a planted link and a secret). Without root or
setpriv every test here skips with the reason.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, write_fake_pynvml
from hostile_support import ATTACKER, REPO, VICTIM, as_env, run_as, shared_dir

from pipeline.foundation.errors import EXIT_FAILED, OperationFailed
from pipeline.gpu.leases import lock_path

UUID = "GPU-fake0000-0000-0000-0000-000000000000"
SECRET = b"TOKEN=only-the-victim-may-read-this\n"


@pytest.fixture
def shared() -> Iterator[Path]:
    yield from shared_dir()


def as_attacker(*code_and_args: str) -> None:
    result = run_as(ATTACKER, [sys.executable, "-c", *code_and_args])
    assert result.returncode == 0, result.stderr


def victim_file(directory: Path, uid: int, name: str = "credentials") -> Path:
    """A 0600 file in a 0700 directory of ``uid``: the attacker can name it, never read it."""
    directory.mkdir(mode=0o700)
    os.chown(directory, uid, uid)
    path = directory / name
    path.write_bytes(SECRET)
    os.chown(path, uid, uid)
    path.chmod(0o600)
    return path


def assert_untouched(path: Path, uid: int, content: bytes = SECRET) -> None:
    info = os.lstat(path)
    assert stat.S_ISREG(info.st_mode) and info.st_uid == uid and stat.S_IMODE(info.st_mode) == 0o600
    assert path.read_bytes() == content


# --- leases: `pipeline gpu run` as the victim uid ------------------------------------------------------


def gpu_run(shared: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`pipeline gpu run --gpus 1 -- touch MARKER` as the victim; (result, marker)."""
    fake = write_fake_pynvml(shared / "fake-nvml")
    marker = shared / "ran"
    base = as_env(PYTHONPATH=f"{fake}{os.pathsep}{REPO}", FAKE_NVML=fake_gpus(1))
    base.update(env)
    result = run_as(VICTIM, [sys.executable, "-m", "pipeline", "gpu", "run", "--gpus", "1", "--",
                             "/bin/sh", "-c", f": > {marker}"], env=base, cwd=REPO)
    return result, marker


def assert_refused(result: subprocess.CompletedProcess[str], marker: Path, where: Path, why: str) -> None:
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr  # README: 1, an operation failed
    assert f"error: gpu lease: refusing lease directory {where}" in result.stderr, result.stderr
    assert why in result.stderr and "hint: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists(), "the command ran without a lease"


def test_default_lease_dir_pre_created_by_another_uid_is_refused(shared: Path) -> None:
    # /tmp without $XDG_RUNTIME_DIR: the attacker creates the victim's per-user directory first.
    tmp = shared / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    mine = tmp / f"cargo-gpu-pipeline-{VICTIM}"
    as_attacker("import os, sys; os.mkdir(sys.argv[1]); os.chmod(sys.argv[1], 0o777); "
                "os.mkdir(sys.argv[1] + '/leases'); os.chmod(sys.argv[1] + '/leases', 0o777)", str(mine))
    result, marker = gpu_run(shared, TMPDIR=str(tmp))
    assert_refused(result, marker, mine / "leases", f"owned by uid {ATTACKER}")


def test_default_lease_dir_planted_as_another_uids_symlink_is_refused(shared: Path) -> None:
    # The link points at a directory of the victim's, so every directory really used is safe; but
    # the attacker may re-point the link between the check and the open.
    tmp = shared / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    own = shared / "victim-run"
    own.mkdir(mode=0o700)
    os.chown(own, VICTIM, VICTIM)
    mine = tmp / f"cargo-gpu-pipeline-{VICTIM}"
    as_attacker("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(own), str(mine))
    result, marker = gpu_run(shared, TMPDIR=str(tmp))
    assert_refused(result, marker, mine / "leases", f"{mine} is a symlink owned by uid {ATTACKER}")
    assert not (own / "leases").exists()


def test_world_writable_lease_dir_without_sticky_bit_is_refused(shared: Path) -> None:
    # A team lease directory (`gpu.lease-dir`) the victim owns but left 0777: anyone may swap lock files.
    leases = shared / "team-leases"
    leases.mkdir()
    os.chown(leases, VICTIM, VICTIM)
    leases.chmod(0o777)
    result, marker = gpu_run(shared, PIPELINE_GPU_LEASE_DIR=str(leases))
    assert_refused(result, marker, leases, "writable by others (mode 0777) without the sticky bit")


def test_lease_dir_under_a_world_writable_parent_is_refused(shared: Path) -> None:
    # The victim's own 0700 directory, but in a parent anyone may rename entries of.
    parent = shared / "open"
    parent.mkdir()
    parent.chmod(0o777)
    leases = parent / "leases"
    leases.mkdir(mode=0o700)
    os.chown(leases, VICTIM, VICTIM)
    result, marker = gpu_run(shared, PIPELINE_GPU_LEASE_DIR=str(leases))
    assert_refused(result, marker, leases, f"{parent} is writable by others")


def test_attacker_symlink_in_a_locks_place_is_refused_at_the_command_line(shared: Path) -> None:
    # A sticky shared lease directory of the victim's (allowed): the attacker may still add entries.
    secret = victim_file(shared / "victim-home", VICTIM)
    leases = shared / "leases"
    leases.mkdir()
    os.chown(leases, VICTIM, VICTIM)
    leases.chmod(0o1777)
    as_attacker("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(secret), str(lock_path(leases, UUID)))
    result, marker = gpu_run(shared, PIPELINE_GPU_LEASE_DIR=str(leases))
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert f"cannot lock {lock_path(leases, UUID)}" in result.stderr or str(lock_path(leases, UUID)) in result.stderr
    assert "symlink" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not marker.exists()
    assert_untouched(secret, VICTIM)


# --- artifacts: the release (root) against links another uid planted ---------------------------------


def cuda_workspace(shared: Path) -> Path:
    """A library crate owning a kernel, with a CUDA build's outputs in a shared (0777) target/cuda."""
    root = shared / "ws"
    (root / "kern" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["kern"]\n')
    (root / "kern" / "Cargo.toml").write_text('[package]\nname = "kern"\nversion = "0.3.0"\nedition = "2021"\n')
    (root / "kern" / "src" / "lib.rs").write_text("pub fn n() -> u32 { 3 }\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    cuda = root / "target" / "cuda"
    cuda.mkdir(parents=True)
    (cuda / "saxpy.compute_90.ptx").write_text(".version 8.0\n.target sm_90\n")
    (cuda / "saxpy.sm_90.cubin").write_bytes(b"\x7fELF-cubin")
    (cuda / "manifest.json").write_text(json.dumps({
        "schema": 1, "nvcc": "13.0", "architectures": ["sm_90"], "ptx": "compute_90",
        "kernels": [{"name": "saxpy", "crate": "kern", "ptx": "saxpy.compute_90.ptx", "fatbin": None,
                     "architectures": {"sm_90": {"cubin": "saxpy.sm_90.cubin"}}, "entries": ["saxpy"]}],
    }))
    for path in (root, root / "target", cuda):
        path.chmod(0o777)  # a shared build directory: the attacker may add, remove and rename entries
    return root


def build(root: Path) -> list[Path]:
    from pipeline.release import artifacts
    from pipeline.workspace.load import load_workspace

    return artifacts.build(load_workspace(root), dist=root / "dist", project="demo", versions={"kern": "0.3.0"},
                           workspace_version=None, tags=["v0.3.0"], commit="a" * 40, commit_time=1_700_000_000,
                           crates=["kern"])


def dist_bytes(dist: Path) -> bytes:
    """Every byte under dist/, tarball members included."""
    out = b""
    for path in sorted(dist.iterdir()):
        data = path.read_bytes()
        out += data
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                out += b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    return out


@pytest.fixture
def released(shared: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if subprocess.run(["cargo", "--version"], capture_output=True).returncode != 0:
        pytest.skip("cargo is not installed")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(shared / "cargo-target"))
    return cuda_workspace(shared)


def test_a_planted_link_in_target_cuda_ships_nothing_of_its_target(
        released: Path, shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = victim_file(shared / "root-home", 0)
    cubin = released / "target" / "cuda" / "saxpy.sm_90.cubin"
    as_attacker("import os, sys; os.unlink(sys.argv[2]); os.symlink(sys.argv[1], sys.argv[2])",
                str(secret), str(cubin))
    written = build(released)
    assert SECRET not in dist_bytes(released / "dist")
    assert any(p.name.startswith("demo-cuda-") for p in written)
    assert f"{cubin} is a symlink or not a regular file: not packaged" in capsys.readouterr().err
    assert_untouched(secret, 0)


def test_a_manifest_pointed_at_a_readers_file_is_refused(released: Path, shared: Path) -> None:
    # The attacker cannot read the root-only JSON; the release must not read it for them either
    # (its "architectures" would land in dist/manifest.json).
    secret = victim_file(shared / "root-home", 0, "config.json")
    secret.write_bytes(json.dumps({"architectures": ["TOPSECRET"], "kernels": []}).encode())
    secret.chmod(0o600)
    manifest = released / "target" / "cuda" / "manifest.json"
    as_attacker("import os, sys; os.unlink(sys.argv[2]); os.symlink(sys.argv[1], sys.argv[2])",
                str(secret), str(manifest))
    with pytest.raises(OperationFailed) as caught:
        build(released)
    assert caught.value.exit_code == EXIT_FAILED
    assert f"{manifest} is a symlink" in caught.value.message and caught.value.hint
    assert not (released / "dist").exists() or b"TOPSECRET" not in dist_bytes(released / "dist")


def test_a_manifest_naming_a_file_outside_target_cuda_ships_nothing_of_it(
        released: Path, shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The attacker replaces the manifest by one of their own, listing a root-only PTX by a `..` path and
    # through a linked subdirectory: neither is packaged nor read for the kernel ABI.
    secret_dir = shared / "root-home"
    secret = victim_file(secret_dir, 0, "secret.ptx")
    ptx = b".visible .entry TOPSECRET_KERNEL(.param .u64 p)\n"
    secret.write_bytes(ptx)
    secret.chmod(0o600)
    cuda = released / "target" / "cuda"
    evil = {"schema": 1, "architectures": ["sm_90"], "kernels": [
        {"name": "a", "crate": "kern", "ptx": f"../../../root-home/{secret.name}"},
        {"name": "b", "crate": "kern", "ptx": f"linked/{secret.name}"},
    ]}
    as_attacker("import os, sys, json; os.unlink(sys.argv[1] + '/manifest.json'); "
                "open(sys.argv[1] + '/manifest.json', 'w').write(sys.argv[2]); "
                "os.symlink(sys.argv[3], sys.argv[1] + '/linked')", str(cuda), json.dumps(evil), str(secret_dir))
    build(released)
    everything = dist_bytes(released / "dist")
    assert b"TOPSECRET" not in everything and b".visible .entry" not in everything
    assert "a path outside it: not packaged" in capsys.readouterr().err
    assert_untouched(secret, 0, ptx)


def test_links_planted_in_a_shared_dist_are_replaced_not_written_through(released: Path, shared: Path) -> None:
    secret = victim_file(shared / "root-home", 0)
    other = victim_file(shared / "root-etc", 0, "shadow")
    dist = released / "dist"
    as_attacker("import os, sys; d = sys.argv[1]; os.mkdir(d); os.chmod(d, 0o777); "
                "os.symlink(sys.argv[2], d + '/SHA256SUMS'); os.symlink(sys.argv[3], d + '/manifest.json')",
                str(dist), str(secret), str(other))
    written = build(released)
    assert_untouched(secret, 0)
    assert_untouched(other, 0)
    for path in written:
        info = os.lstat(path)
        assert stat.S_ISREG(info.st_mode) and info.st_uid == 0, path
    assert SECRET not in dist_bytes(dist)


def test_a_file_planted_in_a_shared_dist_is_refused_and_kept(released: Path) -> None:
    dist = released / "dist"
    as_attacker("import os, sys; d = sys.argv[1]; os.mkdir(d); os.chmod(d, 0o777); "
                "open(d + '/demo-cuda-9.9.9-evil.tar.gz', 'w').write('x')", str(dist))
    with pytest.raises(OperationFailed) as caught:
        build(released)
    assert caught.value.exit_code == EXIT_FAILED
    assert f"{dist} holds files no release of this tool wrote: demo-cuda-9.9.9-evil.tar.gz" in caught.value.message
    assert sorted(p.name for p in dist.iterdir()) == ["demo-cuda-9.9.9-evil.tar.gz"]  # nothing written beside it


def test_dist_planted_as_a_link_to_a_private_directory_is_refused(released: Path, shared: Path) -> None:
    private = shared / "root-private"
    private.mkdir(mode=0o700)
    as_attacker("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(private), str(released / "dist"))
    with pytest.raises(OperationFailed) as caught:
        build(released)
    assert caught.value.exit_code == EXIT_FAILED and f"{released / 'dist'} is a symlink" in caught.value.message
    assert list(private.iterdir()) == []
