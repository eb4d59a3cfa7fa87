"""Feature sets for --each-feature / --feature-powerset, and the matrix run on the example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hooks_support import EXAMPLE, env

from pipeline.stages.matrix import FeatureSet, feature_sets
from pipeline.workspace.load import load_workspace
from pipeline.workspace.model import Dependency, DepKind, Package


@pytest.fixture(scope="module")
def example():
    return load_workspace(EXAMPLE)


def labels(sets: list[FeatureSet]) -> list[str]:
    return [s.label for s in sets]


def test_each_feature_of_prism_gpu_is_exact(example) -> None:
    sets = feature_sets(example.package("prism-gpu"), "each-feature")
    assert [(s.label, s.cargo_args()) for s in sets] == [
        ("no-default-features", ("--no-default-features",)),
        ("gpu", ("--no-default-features", "--features", "gpu")),
        ("tensorcore", ("--no-default-features", "--features", "tensorcore")),
        ("onnx", ("--no-default-features", "--features", "onnx")),
        ("python", ("--no-default-features", "--features", "python")),
        ("all-features", ("--all-features",)),
    ]
    assert all(s.package == "prism-gpu" for s in sets)


def test_crate_without_features_gets_one_default_run(example) -> None:
    (only,) = feature_sets(example.package("prism-core"), "each-feature")
    assert only.label == "default" and only.cargo_args() == ()


def test_single_feature_crate_does_not_repeat_it_as_all_features(example) -> None:
    # prism-physics: default = ["gpu"], gpu = ["prism-gpu/gpu"]: all features == gpu alone.
    assert labels(feature_sets(example.package("prism-physics"))) == ["no-default-features", "gpu"]


def test_powerset_with_depth_skips_implied_combinations(example) -> None:
    sets = feature_sets(example.package("prism-gpu"), "powerset", 2)
    assert labels(sets) == [
        "no-default-features", "gpu", "tensorcore", "onnx", "python",
        # gpu+tensorcore is tensorcore (tensorcore enables gpu): left out
        "gpu+onnx", "gpu+python", "tensorcore+onnx", "tensorcore+python", "onnx+python",
        "all-features",
    ]
    assert sets[5].cargo_args() == ("--no-default-features", "--features", "gpu,onnx")


def test_full_powerset_drops_all_features_when_a_combination_equals_it(example) -> None:
    sets = feature_sets(example.package("prism-gpu"), "powerset")
    assert labels(sets)[-1] == "tensorcore+onnx+python"
    assert "all-features" not in labels(sets)
    assert len(sets) == 12


def test_optional_dependencies_are_implicit_features() -> None:
    package = Package(
        name="p", version="1.0.0", manifest_path=Path("/x/Cargo.toml"),
        features={"default": ("fast",), "fast": (), "serde-support": ("dep:serde",)},
        dependencies=(
            Dependency(key="serde", name="serde", kind=DepKind.NORMAL, table=("dependencies",), optional=True),
            Dependency(key="rayon", name="rayon", kind=DepKind.NORMAL, table=("dependencies",), optional=True),
        ),
    )
    assert labels(feature_sets(package)) == ["no-default-features", "fast", "serde-support", "rayon", "all-features"]
    assert labels(feature_sets(package, exclude=["rayon"])) == [
        "no-default-features", "fast", "serde-support", "all-features",
    ]


def test_bad_mode_and_depth_are_rejected(example) -> None:
    with pytest.raises(ValueError, match="unknown feature mode"):
        feature_sets(example.package("prism-gpu"), "everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        feature_sets(example.package("prism-gpu"), "powerset", 0)


def test_clippy_each_feature_on_a_copy_of_the_example_passes(tmp_path: Path) -> None:
    import subprocess
    import sys

    copy = tmp_path / "prism4d"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("target"))
    run_env = env() | {"PRISM_NO_CUDA": "1"}  # the kernels themselves are the cuda stage's business
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--workspace", str(copy), "clippy", "--each-feature", "-p", "prism-gpu"],
        capture_output=True, text=True, env=run_env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for label in ("no-default-features", "gpu", "tensorcore", "onnx", "python", "all-features"):
        assert f"[prism-gpu: {label}]" in result.stderr
    assert "cargo clippy -p prism-gpu --all-targets --no-default-features --features tensorcore" in result.stderr
    assert "6 feature sets passed" in result.stderr


def test_depth_without_powerset_is_a_usage_error() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--workspace", str(EXAMPLE), "clippy", "--depth", "2"],
        capture_output=True, text=True, env=env(),
    )
    assert result.returncode == 2 and "--feature-powerset" in result.stderr


def test_a_failing_feature_set_is_named_and_the_others_still_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    crate = tmp_path / "ws" / "solo"
    (crate / "src").mkdir(parents=True)
    (tmp_path / "ws" / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["solo"]\n')
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[features]\nbroken = []\nfine = []\n'
    )
    (crate / "src" / "lib.rs").write_text(
        '#[cfg(feature = "broken")]\npub fn bad() -> bool {\n    let x = 1;\n    x == x\n}\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--workspace", str(tmp_path / "ws"), "clippy", "--each-feature"],
        capture_output=True, text=True, env=env(),
    )
    assert result.returncode == 1
    assert "failed for 2 of 4 feature sets" in result.stderr  # broken alone, and all-features
    assert "solo [broken]:" in result.stderr and "solo [all-features]:" in result.stderr
    assert "solo [fine]" not in result.stderr.split("failed for")[1]
