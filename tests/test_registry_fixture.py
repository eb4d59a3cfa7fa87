"""The test registry speaks cargo's protocol: `cargo publish` uploads to it, a consumer resolves from it.

Everything runs against 127.0.0.1 with a CARGO_HOME in tmp_path; nothing reaches the network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_support import Registry, index_entry, index_path, parse_publish_body, start_registry

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not on PATH")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    yield from start_registry(tmp_path / "cargo-home")


def _workspace(root: Path) -> Path:
    """Two crates; `beta` depends on `alpha-lib` renamed, path + version + registry (an alt-registry manifest)."""
    (root / "alpha" / "src").mkdir(parents=True)
    (root / "beta" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["alpha", "beta"]\n')
    (root / "alpha" / "Cargo.toml").write_text(
        '[package]\nname = "alpha-lib"\nversion = "0.3.1"\nedition = "2021"\nlicense = "MIT"\n'
        'description = "alpha"\n\n[features]\nextra = []\n'
    )
    (root / "alpha" / "src" / "lib.rs").write_text("pub fn answer() -> u32 { 42 }\n")
    (root / "beta" / "Cargo.toml").write_text(
        '[package]\nname = "beta"\nversion = "1.0.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "beta"\n\n'
        '[dependencies]\nalpha = { package = "alpha-lib", path = "../alpha", version = "0.3", registry = "test", '
        'features = ["extra"] }\n'
    )
    (root / "beta" / "src" / "lib.rs").write_text("pub fn twice() -> u32 { alpha::answer() * 2 }\n")
    return root


def _cargo(args: list[str], cwd: Path, registry: Registry) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cargo", *args], cwd=cwd, env=registry.env(), capture_output=True, text=True)


def test_index_paths_follow_cargo_rules() -> None:
    assert index_path("a") == "1/a"
    assert index_path("ab") == "2/ab"
    assert index_path("abc") == "3/a/abc"
    assert index_path("Prism-Core") == "pr/is/prism-core"


def test_publish_body_round_trip() -> None:
    meta = json.dumps({"name": "x", "vers": "1.0.0", "deps": []}).encode()
    crate = b"\x1f\x8bcrate-bytes"
    body = struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate
    metadata, data = parse_publish_body(body)
    assert metadata["name"] == "x" and data == crate
    with pytest.raises(ValueError, match="length"):
        parse_publish_body(body[:-3])


def test_index_entry_renames_and_features2() -> None:
    entry = index_entry(
        {"name": "b", "vers": "1.0.0", "features": {"x": ["dep:a"]},
         "deps": [{"name": "a-lib", "explicit_name_in_toml": "a", "version_req": "^1", "features": [],
                   "optional": True, "default_features": True, "target": None, "kind": "normal"}]},
        b"data",
    )
    assert entry["deps"][0]["name"] == "a" and entry["deps"][0]["package"] == "a-lib"
    assert entry["v"] == 2 and entry["features2"] == {"x": ["dep:a"]} and entry["features"] == {}
    assert entry["cksum"] == hashlib.sha256(b"data").hexdigest()


def test_cargo_publishes_and_a_consumer_resolves(tmp_path: Path, registry: Registry) -> None:
    ws = _workspace(tmp_path / "ws")
    for crate in ("alpha-lib", "beta"):
        result = _cargo(["publish", "-p", crate, "--registry", "test", "--allow-dirty"], ws, registry)
        assert result.returncode == 0, result.stderr
        assert f"Published {crate} v" in result.stderr
    assert registry.versions("alpha-lib") == ["0.3.1"]
    assert registry.versions("beta") == ["1.0.0"]

    # What cargo sent: the metadata names the real package and the rename; the same registry is null.
    beta = registry.state.crates["beta"][0]
    dep = beta.metadata["deps"][0]
    assert (dep["name"], dep["explicit_name_in_toml"], dep["version_req"]) == ("alpha-lib", "alpha", "^0.3")
    assert dep["features"] == ["extra"] and dep.get("registry") is None
    # The upload is the real .crate: a gzip tarball holding the normalised manifest.
    with tarfile.open(fileobj=__import__("io").BytesIO(beta.crate), mode="r:gz") as tar:
        names = tar.getnames()
    assert "beta-1.0.0/Cargo.toml" in names and "beta-1.0.0/src/lib.rs" in names

    # The index serves one line per version at cargo's path, as cargo read it back when it waited.
    with urllib.request.urlopen(f"http://127.0.0.1:{registry.port}/index/{index_path('alpha-lib')}") as response:
        lines = response.read().decode().splitlines()
    assert [json.loads(line)["vers"] for line in lines] == ["0.3.1"]
    # cargo verified beta by downloading alpha-lib from the registry's dl endpoint.
    assert ("GET", "/api/v1/crates/alpha-lib/0.3.1/download", 200) in registry.state.requests

    # A consumer outside the workspace resolves both from the registry.
    consumer = tmp_path / "consumer"
    (consumer / "src").mkdir(parents=True)
    (consumer / "Cargo.toml").write_text(
        '[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nbeta = { version = "1", registry = "test" }\n'
    )
    (consumer / "src" / "lib.rs").write_text("pub fn go() -> u32 { beta::twice() }\n")
    result = _cargo(["generate-lockfile"], consumer, registry)
    assert result.returncode == 0, result.stderr
    lock = (consumer / "Cargo.lock").read_text()
    source = f'source = "{registry.index_url}"'
    assert 'name = "beta"\nversion = "1.0.0"\n' + source in lock
    assert 'name = "alpha-lib"\nversion = "0.3.1"\n' + source in lock
    checksum = hashlib.sha256(registry.state.crates["alpha-lib"][0].crate).hexdigest()
    assert f'checksum = "{checksum}"' in lock
    result = _cargo(["build"], consumer, registry)
    assert result.returncode == 0, result.stderr


def test_second_publish_of_a_version_is_refused(tmp_path: Path, registry: Registry) -> None:
    ws = _workspace(tmp_path / "ws")
    assert _cargo(["publish", "-p", "alpha-lib", "--registry", "test", "--allow-dirty", "--no-verify"],
                  ws, registry).returncode == 0
    again = _cargo(["publish", "-p", "alpha-lib", "--registry", "test", "--allow-dirty", "--no-verify"], ws, registry)
    assert again.returncode != 0
    assert "alpha-lib@0.3.1 already exists" in again.stderr or "already uploaded" in again.stderr
    assert registry.versions("alpha-lib") == ["0.3.1"]


def test_publish_needs_the_token(tmp_path: Path, registry: Registry) -> None:
    ws = _workspace(tmp_path / "ws")
    (registry.cargo_home / "credentials.toml").write_text('[registries.test]\ntoken = "wrong"\n')
    result = _cargo(["publish", "-p", "alpha-lib", "--registry", "test", "--allow-dirty", "--no-verify"], ws, registry)
    assert result.returncode != 0
    assert "invalid or missing API token" in result.stderr
    assert registry.versions("alpha-lib") == []
    request = urllib.request.Request(f"http://127.0.0.1:{registry.port}/api/v1/crates/new", data=b"", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 403
