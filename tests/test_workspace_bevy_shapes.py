"""Two manifest shapes cargo accepts that bevy uses (found by running the release on bevy):

* a crate with a dev-dependency on itself, which turns on features for its own tests
  (`bevy_math = { path = ".", features = ["approx"] }` under bevy_math's [dev-dependencies]);
* a member with no `version` (bevy's `compile_fail` test crates): cargo reads 0.0.0 and never
  publishes it, so no bump may move it.

Each is checked against cargo itself where cargo is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from release_support import cli, git, snapshot

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.load import load_workspace

ROOT = '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[workspace.package]\nversion = "0.3.0"\n' \
       'edition = "2021"\n'
MATH = '''[package]
name = "math"
version.workspace = true
edition.workspace = true
description = "math"
license = "MIT"

[features]
approx = []

[dev-dependencies]
math = { path = ".", features = ["approx"] }

[target.'cfg(unix)'.dev-dependencies]
math = { path = ".", features = ["approx"] }
'''
COMPILE_FAIL = '''[package]
name = "math_compile_fail"
edition = "2021"
publish = false

[dependencies]
math = { path = "../math", version = "0.3.0" }
'''


def make(root: Path, *, compile_fail: str = COMPILE_FAIL, math: str = MATH) -> Path:
    for name, text in (("math", math), ("math_compile_fail", compile_fail)):
        (root / "crates" / name / "src").mkdir(parents=True)
        (root / "crates" / name / "Cargo.toml").write_text(text)
        (root / "crates" / name / "src" / "lib.rs").write_text("pub fn f() {}\n")
    (root / "Cargo.toml").write_text(ROOT)
    git(root, "init", "-q", "-b", "main")
    for key, value in (("user.email", "t@e"), ("user.name", "T"), ("commit.gpgsign", "false")):
        git(root, "config", key, value)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feat: first")
    return root


def cargo_packages(root: Path) -> dict[str, dict]:
    out = subprocess.run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=root,
                         check=True, capture_output=True, text=True).stdout
    return {p["name"]: p for p in json.loads(out)["packages"]}


def test_both_shapes_load_as_cargo_reads_them(tmp_path: Path) -> None:
    root = make(tmp_path / "ws")
    ws = load_workspace(root)
    math, fail = ws.package("math"), ws.package("math_compile_fail")
    assert (fail.version, fail.publish, fail.version_declared) == ("0.0.0", False, False)
    assert math.version_declared and math.publish
    if shutil.which("cargo"):
        packages = cargo_packages(root)
        assert packages["math_compile_fail"]["version"] == fail.version
        assert packages["math_compile_fail"]["publish"] == []


def test_a_normal_or_build_dependency_on_itself_is_still_refused(tmp_path: Path) -> None:
    for table in ("dependencies", "build-dependencies"):
        root = make(tmp_path / table, math=MATH.replace("[dev-dependencies]", f"[{table}]", 1))
        with pytest.raises(ManifestError, match=r"Cargo\.toml:\d+:\d+: crate `math` depends on itself"):
            load_workspace(root)


def test_publish_without_a_version_is_refused_as_cargo_refuses_it(tmp_path: Path) -> None:
    root = make(tmp_path / "ws", compile_fail=COMPILE_FAIL.replace("publish = false", "publish = true"))
    with pytest.raises(ManifestError, match=r"math_compile_fail/Cargo\.toml:4:\d+: crate `math_compile_fail` sets "
                                            r"`publish` but has no version") as caught:
        load_workspace(root)
    assert "add `version" in caught.value.hint
    if shutil.which("cargo"):
        refused = subprocess.run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"],
                                 cwd=root, capture_output=True, text=True)
        assert refused.returncode != 0 and "requires `package.version`" in refused.stderr


def test_bump_moves_the_crate_and_its_self_dependency_but_never_the_versionless_one(tmp_path: Path) -> None:
    root = make(tmp_path / "ws")
    before = snapshot(root)
    result = cli("bump", "minor", "--execute", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert "  math  0.3.0 -> 0.4.0" in result.stdout and "math_compile_fail  0.0.0" not in result.stdout
    after = snapshot(root)
    assert after["crates/math_compile_fail/Cargo.toml"] != before["crates/math_compile_fail/Cargo.toml"]
    # Its requirement on math followed; it kept having no version of its own.
    fail_manifest = after["crates/math_compile_fail/Cargo.toml"].decode()
    assert 'math = { path = "../math", version = "0.4.0" }' in fail_manifest
    assert "\nversion" not in fail_manifest.split("[dependencies]")[0]
    assert b'version = "0.4.0"' in after["Cargo.toml"]
    if shutil.which("cargo"):
        assert cargo_packages(root)["math"]["version"] == "0.4.0"

    named = cli("bump", "patch", "--crate", "math_compile_fail", "--workspace", str(root))
    assert named.returncode == 2
    assert "crate `math_compile_fail` has no version" in named.stderr and "hint: add `version" in named.stderr


@pytest.mark.parametrize("policy", ["bump", "release"])
def test_unpublished_policies_leave_the_versionless_crate_alone(tmp_path: Path, policy: str) -> None:
    root = make(tmp_path / "ws")
    text = (root / "Cargo.toml").read_text() + f'\n[workspace.metadata.pipeline.release]\nunpublished = "{policy}"\n'
    (root / "Cargo.toml").write_text(text)
    git(root, "commit", "-qam", "chore: policy")
    result = cli("bump", "minor", "--json", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    moved = {c["name"] for c in json.loads(result.stdout)["crates"]}
    assert moved == {"math"}
