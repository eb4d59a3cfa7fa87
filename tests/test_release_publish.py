"""The publish step against the test registry: the example goes up in dependency order, a failure in the
middle names what is up and what is not, and publishing again resumes; a consumer resolves the result."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_support import Registry, start_mirror

from pipeline.release import publish
from pipeline.release.publish_plan import plan_publish
from pipeline.release.registry import published_versions, registry_facts
from pipeline.workspace.load import load_workspace

pytestmark = [pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not on PATH"), pytest.mark.slow]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Registry]:
    """The test registry, also standing in for crates.io (source replacement, as a company mirror does)."""
    yield from start_mirror(tmp_path / "cargo-home")


def publish_env(registry: Registry, target_dir: Path) -> dict[str, str]:
    # PRISM_NO_CUDA: the example's own switch, so verifying prism-gpu does not spend minutes in nvcc.
    return {**registry.env(), "PRISM_NO_CUDA": "1", "CARGO_TARGET_DIR": str(target_dir)}


def publish_vendored(example: Path, registry: Registry, env: dict[str, str]) -> None:
    """prism-legacy lives outside the workspace: its owner publishes it on its own, first."""
    result = subprocess.run(["cargo", "publish", "--registry", "test", "--allow-dirty", "--no-verify"],
                            cwd=example / "vendor" / "prism-legacy", env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def plan_for(example: Path, env: dict[str, str]):
    ws = load_workspace(example)
    facts = registry_facts(example, "test", env)
    names = [*ws.names, "prism-legacy"]
    return plan_publish(ws, registry="test", published=published_versions(facts, names),
                        crates_io_is_registry=facts.crates_io_is_registry)


def test_publish_stops_in_the_middle_and_resumes(example_copy: Path, mirror: Registry, tmp_path: Path) -> None:
    env = publish_env(mirror, tmp_path / "target")
    publish_vendored(example_copy, mirror, env)
    plan = plan_for(example_copy, env)
    assert plan.problems == ()
    assert plan.order == ("prism-buildinfo", "prism-core", "prism-gpu", "prism-io", "prism-nhs", "prism-py",
                          "prism-physics", "prism")

    mirror.state.fail_publish.add("prism-nhs")
    with pytest.raises(publish.PublishFailed) as info:
        publish.run(example_copy, plan, env=env, extra_args=["--allow-dirty"])
    failure = info.value
    assert failure.crate == "prism-nhs"
    assert failure.published == ("prism-buildinfo 0.4.2", "prism-core 0.4.2", "prism-gpu 0.4.2", "prism-io 1.2.0")
    assert failure.pending == ("prism-nhs 0.4.2", "prism-py 0.4.2", "prism-physics 0.4.2", "prism 0.4.2")
    text = str(failure)
    assert "the test registry was told to refuse prism-nhs" in text
    assert "published: prism-buildinfo 0.4.2, prism-core 0.4.2" in text and "not yet published: prism-nhs 0.4.2" in text
    assert mirror.versions("prism-nhs") == [] and mirror.versions("prism-io") == ["1.2.0"]

    # Again, once the registry takes it: what is up is skipped, the rest goes up in order.
    mirror.state.fail_publish.clear()
    again = plan_for(example_copy, env)
    assert again.order == ("prism-nhs", "prism-py", "prism-physics", "prism")
    assert {s.crate for s in again.skipped} == {"prism-buildinfo", "prism-core", "prism-gpu", "prism-io",
                                                "prism-testkit"}
    done = publish.run(example_copy, again, env=env, extra_args=["--allow-dirty"])
    assert done.published == ("prism-nhs 0.4.2", "prism-py 0.4.2", "prism-physics 0.4.2", "prism 0.4.2")
    puts = [path for method, path, status in mirror.state.requests if method == "PUT" and status == 200]
    assert len(puts) == 9  # prism-legacy and the eight members, each once
    assert mirror.versions("prism-testkit") == []  # publish = false
    assert plan_for(example_copy, env).steps == ()

    # A consumer resolves the published crates (and their published dependencies) from the registry.
    consumer = tmp_path / "consumer"
    (consumer / "src").mkdir(parents=True)
    (consumer / "Cargo.toml").write_text(
        '[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nprism-physics = "0.4"\nprism-io = "1.2"\n'
    )
    (consumer / "src" / "lib.rs").write_text("")
    result = subprocess.run(["cargo", "generate-lockfile"], cwd=consumer, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lock = (consumer / "Cargo.lock").read_text()
    for name, version in (("prism-physics", "0.4.2"), ("prism-core", "0.4.2"), ("prism-nhs", "0.4.2"),
                          ("prism-gpu", "0.4.2"), ("prism-io", "1.2.0"), ("prism-legacy", "0.1.0")):
        assert f'name = "{name}"\nversion = "{version}"\nsource = ' in lock, name
    assert "prism-testkit" not in lock


def test_plan_problems_stop_before_any_upload(example_copy: Path, mirror: Registry, tmp_path: Path) -> None:
    env = publish_env(mirror, tmp_path / "target")
    plan = plan_for(example_copy, env)  # prism-legacy is not in the registry
    assert len(plan.problems) == 1 and "prism-legacy" in plan.problems[0]
    with pytest.raises(publish.OperationFailed, match="cannot publish, nothing was uploaded"):
        publish.run(example_copy, plan, env=env)
    assert not any(method == "PUT" for method, _, _ in mirror.state.requests)
