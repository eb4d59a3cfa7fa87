"""Publishing under the release journal: killed after some crates went up, the journal says which are up
and which are not, and `release --resume` publishes only what the registry does not have, then pushes.

Real cargo publishes to the test registry (tests/registry_support.py); the release is killed with
SIGKILL at the journal's seam (tests/journal_support.py's KILLER).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_support import KILLER, journal_file
from registry_support import Registry, start_registry
from release_support import REPO, cli, git, init_git

pytestmark = [pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not on PATH"), pytest.mark.slow]

CRATES = ("alpha", "beta", "gamma")  # each depends on the one before: published in this order


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    yield from start_registry(tmp_path / "cargo-home")


def _workspace(root: Path, env: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n'
        '[workspace.package]\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "test"\n\n'
        '[workspace.metadata.pipeline.release]\nartifacts = false\ngates = []\npublish-registry = "test"\n')
    before = None
    for name in CRATES:
        (root / "crates" / name / "src").mkdir(parents=True)
        dep = (f'\n[dependencies]\n{before} = {{ path = "../{before}", version = "0.1.0", registry = "test" }}\n'
               if before else "")
        (root / "crates" / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion.workspace = true\nedition.workspace = true\n'
            f'license.workspace = true\ndescription.workspace = true\npublish = ["test"]\n{dep}')
        (root / "crates" / name / "src" / "lib.rs").write_text("pub fn f() {}\n")
        before = name
    (root / ".gitignore").write_text("/target\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True, env=env)
    init_git(root)
    (root / "crates" / "gamma" / "src" / "lib.rs").write_text("pub fn f() {}\npub fn g() {}\n")
    git(root, "commit", "-qam", "fix(gamma): g")
    remote = root.parent / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, capture_output=True)
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    return root


def _env(registry: Registry, tmp_path: Path) -> dict[str, str]:
    return {**registry.env(), "PYTHONPATH": str(REPO), "GIT_CONFIG_NOSYSTEM": "1",
            "CARGO_TARGET_DIR": str(tmp_path / "target")}


RELEASE = ("release", "patch", "--execute", "--publish", "--push")


def _puts(registry: Registry) -> list[str]:
    return [path for method, path, status in registry.state.requests if method == "PUT" and status == 200]


@pytest.mark.parametrize("point", ["recorded:publish:beta", "done:publish:beta"])
def test_killed_mid_publish_resumes_with_only_the_rest(registry: Registry, tmp_path: Path, point: str) -> None:
    env = _env(registry, tmp_path)
    ws = _workspace(tmp_path / "ws", env)
    killed = subprocess.run([sys.executable, "-c", KILLER, point, *RELEASE, "--workspace", str(ws)], cwd=REPO,
                            env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert registry.versions("alpha") == ["0.1.1"] and registry.versions("beta") == ["0.1.1"]
    assert registry.versions("gamma") == []
    recorded = json.loads(journal_file(ws).read_text())
    assert recorded["publish"] == {"registry": "test", "crates": ["alpha 0.1.1", "beta 0.1.1", "gamma 0.1.1"]}
    # "done" falls between beta's upload and its record: the journal does not know beta is up yet.
    up = ["alpha 0.1.1", "beta 0.1.1"] if point.startswith("recorded") else ["alpha 0.1.1"]
    assert recorded["extra"]["published"] == up
    assert "publish" not in recorded["steps"] and "push" not in recorded["steps"]

    # A new release is refused, saying what went up and what did not.
    refused = cli("release", "patch", "--workspace", str(ws), env=env)
    assert refused.returncode == 1
    pending = ", ".join(c for c in ("alpha 0.1.1", "beta 0.1.1", "gamma 0.1.1") if c not in up)
    assert f"published to `test`: {', '.join(up)}; not yet published: {pending}" in refused.stderr
    # Undoing is refused too: a registry keeps what it was given.
    abort = cli("release", "--abort", "--workspace", str(ws), env=env)
    assert abort.returncode == 1 and "already published alpha 0.1.1" in abort.stderr
    assert journal_file(ws).exists()

    puts_before = len(_puts(registry))
    resumed = cli("release", "--resume", "--json", "--workspace", str(ws), env=env)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["published"]["published"] == ["gamma 0.1.1"]  # beta was asked of the registry, not re-sent
    assert len(_puts(registry)) == puts_before + 1 and registry.versions("gamma") == ["0.1.1"]
    assert not journal_file(ws).exists()
    remote = tmp_path / "remote.git"
    assert git(remote, "tag").split() == ["v0.1.1"]
    assert git(remote, "rev-parse", "main") == git(ws, "rev-parse", "HEAD")


def test_a_refused_upload_keeps_the_journal_and_resume_finishes(registry: Registry, tmp_path: Path) -> None:
    env = _env(registry, tmp_path)
    ws = _workspace(tmp_path / "ws", env)
    registry.state.fail_publish.add("gamma")
    failed = cli(*RELEASE, "--workspace", str(ws), env=env)
    assert failed.returncode == 1
    err = failed.stderr
    assert "`cargo publish -p gamma` failed" in err
    assert "published: alpha 0.1.1, beta 0.1.1" in err and "not yet published: gamma 0.1.1" in err
    assert "the release is incomplete" in err and "pipeline release --resume" in err
    recorded = json.loads(journal_file(ws).read_text())
    assert recorded["extra"]["published"] == ["alpha 0.1.1", "beta 0.1.1"]
    assert git(tmp_path / "remote.git", "tag").strip() == ""  # nothing pushed before the publish is done

    registry.state.fail_publish.clear()
    resumed = cli("release", "--resume", "--workspace", str(ws), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert registry.versions("gamma") == ["0.1.1"] and not journal_file(ws).exists()
    assert git(tmp_path / "remote.git", "tag").split() == ["v0.1.1"]
    assert os.path.exists(ws / "Cargo.lock")
