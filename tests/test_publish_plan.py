"""The publish plan: dependency order, skips, cargo's refusals found before anything uploads; registry facts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_support import Published, Registry, start_registry

from pipeline.foundation.errors import ConfigError, ManifestError
from pipeline.release.publish_plan import plan_publish
from pipeline.release.registry import published_versions, registry_facts
from pipeline.workspace.load import load_workspace

EXAMPLE_ORDER = (
    "prism-buildinfo", "prism-core", "prism-gpu", "prism-io", "prism-nhs", "prism-py", "prism-physics", "prism",
)


def _nothing(ws) -> dict[str, frozenset[str]]:
    return {**{n: frozenset() for n in ws.names}, "prism-legacy": frozenset({"0.1.0"})}


def test_example_order_dependencies_first(example_copy: Path) -> None:
    ws = load_workspace(example_copy)
    plan = plan_publish(ws, registry=None, published=_nothing(ws))
    assert plan.registry == "crates-io"
    assert plan.order == EXAMPLE_ORDER
    index = {name: i for i, name in enumerate(plan.order)}
    for name in plan.order:  # every normal/build dependency on a member comes earlier
        for dep in ws.package(name).dependencies:
            if dep.member in index and dep.kind.value != "dev":
                assert index[dep.member] < index[name], (name, dep.member)
    assert [(s.crate, s.reason) for s in plan.skipped] == [("prism-testkit", "publish = false")]
    assert plan.problems == ()
    text = "\n".join(plan.lines())
    assert "  1. prism-buildinfo 0.4.2" in text and "  8. prism 0.4.2" in text
    assert "  skip prism-testkit 0.4.2: publish = false" in text


def test_released_versions_and_already_published_are_skipped(example_copy: Path) -> None:
    ws = load_workspace(example_copy)
    versions = {n: "0.5.0" for n in ws.names} | {"prism-io": "1.3.0"}
    published = _nothing(ws) | {"prism-core": frozenset({"0.4.2", "0.5.0"}), "prism-gpu": frozenset({"0.5.0"})}
    plan = plan_publish(ws, registry=None, published=published, versions=versions)
    assert plan.order == ("prism-buildinfo", "prism-io", "prism-nhs", "prism-py", "prism-physics", "prism")
    assert next(s for s in plan.steps if s.crate == "prism-io").version == "1.3.0"
    reasons = {s.crate: s.reason for s in plan.skipped}
    assert reasons["prism-core"] == "already in registry `crates-io`"
    assert reasons["prism-gpu"] == "already in registry `crates-io`"
    # Everything published: a second run after a full publish has nothing left to do.
    done = {n: frozenset({versions[n]}) for n in ws.names} | {"prism-legacy": frozenset({"0.1.0"})}
    assert plan_publish(ws, registry=None, published=done, versions=versions).steps == ()


def test_publish_list_restricts_registries(example_copy: Path) -> None:
    manifest = example_copy / "crates" / "prism-buildinfo" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[dependencies]", 'publish = ["internal"]\n\n[dependencies]'))
    ws = load_workspace(example_copy)
    assert ws.package("prism-buildinfo").publish_registries == ("internal",)
    plan = plan_publish(ws, registry="internal", published=_nothing(ws), crates_io_is_registry=True)
    assert "prism-buildinfo" in plan.order
    plan = plan_publish(ws, registry=None, published=_nothing(ws))
    assert "prism-buildinfo" not in plan.order
    assert ("prism-buildinfo", 'publish = ["internal"] leaves out `crates-io`') in [
        (s.crate, s.reason) for s in plan.skipped
    ]
    # `prism` needs it (a build dependency): cargo would fail half-way, so the plan refuses up front.
    assert len(plan.problems) == 1
    assert "crate `prism` depends on `prism-buildinfo`, which cannot go to `crates-io`" in plan.problems[0]
    assert "\nhint: " in plan.problems[0]


def test_alternative_registry_needs_registry_keys_or_a_mirror(example_copy: Path) -> None:
    ws = load_workspace(example_copy)
    plan = plan_publish(ws, registry="test", published=_nothing(ws))
    assert any("`prism-nhs`: cargo looks for its dependency `prism-core` on crates.io, not `test`" in p
               for p in plan.problems)
    assert all('hint: add `registry = "test"`' in p for p in plan.problems)
    # crates.io replaced by this registry: what the dependencies name is found there.
    assert plan_publish(ws, registry="test", published=_nothing(ws), crates_io_is_registry=True).problems == ()
    # Or every dependency says where it comes from.
    root = example_copy / "Cargo.toml"
    root.write_text(root.read_text().replace('", version = "0.4.2"', '", version = "0.4.2", registry = "test"'))
    for rel in ("crates/prism-io", "crates/prism-physics"):  # inline tables
        path = example_copy / rel / "Cargo.toml"
        text = path.read_text().replace(', version = "', ', registry = "test", version = "')
        path.write_text(text.replace('registry = "test", version = "1.2.0"', 'version = "1.2.0"'))
    path = example_copy / "crates" / "prism-nhs" / "Cargo.toml"  # a sub-table
    path.write_text(path.read_text().replace('path = "../prism-core"\n', 'path = "../prism-core"\nregistry = "test"\n'))
    ws = load_workspace(example_copy)
    left = plan_publish(ws, registry="test", published=_nothing(ws)).problems
    # prism-io's own line in [workspace.dependencies] was left without the key on purpose.
    assert len(left) == 1 and "`prism-io` on crates.io" in left[0] and "`prism`:" in left[0]


def test_dependency_problems(example_copy: Path) -> None:
    ws = load_workspace(example_copy)
    # The vendored crate outside the workspace must already be in the registry.
    published = _nothing(ws) | {"prism-legacy": frozenset({"0.0.9"})}
    problems = plan_publish(ws, registry=None, published=published).problems
    assert len(problems) == 1
    assert "`prism-io` depends on `prism-legacy` `0.1.0`, a path dependency outside the workspace" in problems[0]
    assert "(it has: 0.0.9)" in problems[0] and "hint: publish `prism-legacy` first" in problems[0]
    # A path-only normal dependency cannot be published.
    path = example_copy / "crates" / "prism-py" / "Cargo.toml"
    path.write_text(path.read_text().replace("prism-gpu.workspace = true", 'prism-gpu = { path = "../prism-gpu" }'))
    problems = plan_publish(load_workspace(example_copy), registry=None, published=_nothing(ws)).problems
    assert len(problems) == 1 and "`prism-py` depends on `prism-gpu` by path only" in problems[0]


def test_unknown_versions_are_a_note_and_names_are_checked(example_copy: Path) -> None:
    ws = load_workspace(example_copy)
    plan = plan_publish(ws, registry=None, published={"prism-legacy": frozenset({"0.1.0"})}, crates=["prism-core"])
    assert plan.order == ("prism-core",)
    assert plan.notes and "could not be asked" in plan.notes[0] and "prism-core" in plan.notes[0]
    with pytest.raises(ManifestError, match="no workspace member is named `prism-cor`"):
        plan_publish(ws, registry=None, published={}, crates=["prism-cor"])


def test_dev_dependency_cycle_falls_back_to_normal_edges(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = ["a", "b"]\n')
    for name, deps in (("a", '[dev-dependencies]\nb = { path = "../b", version = "0.1" }\n'),
                       ("b", '[dependencies]\na = { path = "../a", version = "0.1" }\n')):
        (tmp_path / name / "src").mkdir(parents=True)
        (tmp_path / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n{deps}')
    ws = load_workspace(tmp_path)
    assert plan_publish(ws, registry=None, published={"a": frozenset(), "b": frozenset()}).order == ("a", "b")


# -- registry facts, against the test registry ---------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    yield from start_registry(tmp_path / "cargo-home")


def test_registry_facts_and_published_versions(tmp_path: Path, registry: Registry) -> None:
    env = registry.env()
    facts = registry_facts(tmp_path, "test", env)
    assert facts.index == registry.index_url and facts.token == registry.token
    assert facts.crates_io_is_registry is False
    registry.state.crates["prism-core"] = [
        Published({"vers": v}, b"", {"name": "prism-core", "vers": v}) for v in ("0.4.1", "0.4.2")
    ]
    assert published_versions(facts, ["prism-core", "prism-gpu", "ab"]) == {
        "prism-core": frozenset({"0.4.1", "0.4.2"}), "prism-gpu": frozenset(), "ab": frozenset(),
    }
    # A mirror: crates.io replaced by this registry.
    config = registry.cargo_home / "config.toml"
    config.write_text(config.read_text() + '\n[source.crates-io]\nreplace-with = "test"\n')
    assert registry_facts(tmp_path, "test", env).crates_io_is_registry is True
    # The closer config file wins, and the environment wins over both.
    (tmp_path / "ws" / ".cargo").mkdir(parents=True)
    (tmp_path / "ws" / ".cargo" / "config.toml").write_text('[registries.test]\nindex = "sparse+http://127.0.0.1:9/x/"\n')
    assert registry_facts(tmp_path / "ws", "test", env).index == "sparse+http://127.0.0.1:9/x/"
    env["CARGO_REGISTRIES_TEST_INDEX"] = registry.index_url
    assert registry_facts(tmp_path / "ws", "test", env).index == registry.index_url


def test_unknown_registry_and_unreachable_index(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(ConfigError, match="registry `nope` is not in cargo's configuration") as info:
        registry_facts(tmp_path, "nope", registry.env())
    assert "[registries.nope]" in (info.value.hint or "")
    git_index = registry_facts(tmp_path, "test", registry.env() | {"CARGO_REGISTRIES_TEST_INDEX": "https://x/i.git"})
    assert published_versions(git_index, ["a"]) == {"a": None}
