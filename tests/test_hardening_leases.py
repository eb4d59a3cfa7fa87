"""GPU leases against a hostile local user: per-user directories, O_NOFOLLOW 0600 lock files, and a
holder record that never holds the command line."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, pipeline_env, run_pipeline, write_fake_pynvml
from hostile_support import ATTACKER, VICTIM, run_as, shared_dir

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed
from pipeline.gpu.leases import default_lease_dir, lease_dir, lock_path, try_acquire, unsafe_directory

UUID = "GPU-fake0000-0000-0000-0000-000000000000"


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    yield from shared_dir()


def test_default_lease_dir_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PIPELINE_GPU_LEASE_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert lease_dir("") == tmp_path / "run" / "cargo-gpu-pipeline" / "leases"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_lease_dir().parent.name == f"cargo-gpu-pipeline-{os.geteuid()}"
    assert lease_dir("/var/lock/gpus") == Path("/var/lock/gpus")


def test_created_lease_dir_and_lock_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "leases"
    lease = try_acquire(directory, [UUID], 1, "pipeline gpu run")
    assert lease is not None
    with lease:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(lock_path(directory, UUID).stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_group_or_world_writable_lease_dir_without_sticky_is_refused(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "leases"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(OperationFailed, match=r"refusing lease directory .*without the sticky bit"):
        try_acquire(directory, [UUID], 1, "pipeline gpu run")
    directory.chmod(mode | stat.S_ISVTX)
    assert unsafe_directory(directory) is None


def test_lease_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a directory owned by another uid needs root (chown)")
    directory = tmp_path / "leases"
    directory.mkdir(mode=0o755)
    os.chown(directory, ATTACKER, ATTACKER)
    with pytest.raises(OperationFailed, match=f"owned by uid {ATTACKER}"):
        try_acquire(directory, [UUID], 1, "pipeline gpu run")


def test_a_symlink_in_a_locks_place_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    directory = tmp_path / "leases"
    directory.mkdir(mode=0o700)
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    precious.chmod(0o600)
    lock_path(directory, UUID).symlink_to(precious)
    with pytest.raises(OperationFailed, match="cannot lock"):
        try_acquire(directory, [UUID], 1, "pipeline gpu run")
    assert precious.read_text() == "keep me" and stat.S_IMODE(precious.stat().st_mode) == 0o600


def test_holder_record_is_pid_and_program_only(tmp_path: Path) -> None:
    fake = write_fake_pynvml(tmp_path / "fake")
    env = pipeline_env(fake, fake_gpus(1), PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"))
    reader = ("import json, os, sys\n"
              "print(open(os.path.join(sys.argv[1], sys.argv[2])).read())\n")
    result = run_pipeline(["gpu", "run", "--", sys.executable, "-c", reader, str(tmp_path / "leases"),
                           lock_path(Path("."), UUID).name, "--token=SECRET-abc123"], env=env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == {"pid", "program"} and record["program"] == "pipeline gpu run"
    assert "SECRET" not in (tmp_path / "leases" / lock_path(Path("."), UUID).name).read_text()


def test_fs_locks_never_follow_symlinks_or_widen_modes(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("data")
    link = tmp_path / "x.lock"
    link.symlink_to(target)
    with pytest.raises(OperationFailed, match="it is a symlink"):
        with fs.locked(link, wait=False, command="pipeline release"):
            pass
    assert target.read_text() == "data"
    with fs.locked(tmp_path / "y.lock", wait=False, command="pipeline release"):
        assert stat.S_IMODE((tmp_path / "y.lock").stat().st_mode) == 0o600


# --- as two real unprivileged users -------------------------------------------------------------

VICTIM_RUN = (
    "import sys; from pathlib import Path\n"
    "from pipeline.foundation.errors import OperationFailed\n"
    "from pipeline.gpu.leases import try_acquire\n"
    "try:\n"
    "    lease = try_acquire(Path(sys.argv[1]), [sys.argv[2]], 1, 'pipeline gpu run')\n"
    "    print('leased' if lease else 'busy')\n"
    "except OperationFailed as exc:\n"
    "    print('refused:', exc.message)\n"
)


def test_attacker_symlink_in_a_shared_sticky_dir_cannot_touch_the_victims_files(shared_tmp: Path) -> None:
    # The old default: one world-writable sticky /tmp directory for every user. The attacker plants
    # the lock file's name as a link to a file of the victim's; the victim's lease must not open,
    # truncate, write or chmod it.
    home = shared_tmp / "victim-home"
    home.mkdir(mode=0o700)
    os.chown(home, VICTIM, VICTIM)
    secret = home / "credentials"
    secret.write_text("token=abc\n")
    os.chown(secret, VICTIM, VICTIM)
    secret.chmod(0o600)
    leases = shared_tmp / "leases"
    leases.mkdir()
    leases.chmod(0o1777)
    planted = run_as(ATTACKER, [sys.executable, "-c", "import os, sys; os.symlink(sys.argv[1], sys.argv[2])",
                                str(secret), str(lock_path(leases, UUID))])
    assert planted.returncode == 0, planted.stderr
    victim = run_as(VICTIM, [sys.executable, "-c", VICTIM_RUN, str(leases), UUID])
    assert victim.returncode == 0, victim.stderr
    assert victim.stdout.startswith("refused:"), victim.stdout
    assert secret.read_text() == "token=abc\n" and stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_attacker_owned_lease_dir_is_refused_for_the_victim(shared_tmp: Path) -> None:
    shared_tmp.chmod(0o1777)  # like /tmp: anyone may create, nobody may rename others' entries
    leases = shared_tmp / "leases"
    made = run_as(ATTACKER, [sys.executable, "-c", "import os, sys; os.mkdir(sys.argv[1], 0o755)", str(leases)])
    assert made.returncode == 0, made.stderr
    victim = run_as(VICTIM, [sys.executable, "-c", VICTIM_RUN, str(leases), UUID])
    assert victim.stdout.startswith("refused:") and f"owned by uid {ATTACKER}" in victim.stdout, victim.stdout


def test_victims_lock_files_are_unreadable_to_the_attacker(shared_tmp: Path) -> None:
    leases = shared_tmp / "v"
    leases.mkdir(mode=0o755)  # even in a directory others may list
    os.chown(leases, VICTIM, VICTIM)
    victim = run_as(VICTIM, [sys.executable, "-c", VICTIM_RUN, str(leases), UUID])
    assert victim.stdout.strip() == "leased", victim.stdout + victim.stderr
    read = run_as(ATTACKER, [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())",
                             str(lock_path(leases, UUID))])
    assert read.returncode != 0 and "Permission denied" in read.stderr
    assert lock_path(leases, UUID).stat().st_uid == VICTIM
    assert stat.S_IMODE(lock_path(leases, UUID).stat().st_mode) == 0o600
