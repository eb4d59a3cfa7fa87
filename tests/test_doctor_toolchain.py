"""`pipeline doctor` names a pinned toolchain that is not installed (not "MISSING cargo")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.runner.toolchain import find_pin, is_installed, read_pin

needs_rustup = pytest.mark.skipif(shutil.which("rustup") is None, reason="rustup is not installed here")


@needs_rustup
def test_doctor_says_the_pinned_toolchain_is_not_installed(example_copy: Path, run_cli, tmp_path: Path) -> None:
    (example_copy / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.2.3"\n')
    # Run from elsewhere: the pin of the workspace applies, not the one of the current directory.
    result = run_cli("doctor", "--workspace", str(example_copy), cwd=tmp_path, env={"RUSTUP_TOOLCHAIN": ""})
    assert result.returncode == 1
    assert "toolchain `1.2.3`" in result.stdout and "is not installed" in result.stdout
    assert f"{example_copy / 'rust-toolchain.toml'} pins toolchain `1.2.3`, which is not installed" in result.stderr
    assert "hint: `rustup toolchain install 1.2.3`" in result.stderr
    assert "hint: install Rust" not in result.stdout  # the misleading "cargo is missing" hint
    report = json.loads(run_cli("doctor", "--json", "--workspace", str(example_copy), cwd=tmp_path,
                                env={"RUSTUP_TOOLCHAIN": ""}).stdout)
    assert report["ok"] is False
    assert report["findings"][0]["check"] == "toolchain"
    assert not list(Path.home().joinpath(".rustup", "toolchains").glob("1.2.3*"))  # probing installed nothing


@needs_rustup
def test_a_pin_that_is_installed_is_fine(example_copy: Path, run_cli, tmp_path: Path) -> None:
    (example_copy / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "stable"\n')
    result = run_cli("doctor", "--json", "--workspace", str(example_copy), cwd=tmp_path, env={"RUSTUP_TOOLCHAIN": ""})
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["check"] == "toolchain"]
    assert next(t for t in report["tools"] if t["name"] == "cargo")["version"]


def test_pin_files_are_found_the_way_rustup_finds_them(tmp_path: Path) -> None:
    nested = tmp_path / "ws" / "crates" / "a"
    nested.mkdir(parents=True)
    (tmp_path / "ws" / "rust-toolchain").write_text("nightly-2025-01-01\n")
    assert find_pin(nested, env={}).channel == "nightly-2025-01-01"
    (tmp_path / "ws" / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.85.0"\ncomponents = ["clippy"]\n')
    pin = find_pin(nested, env={})
    assert (pin.channel, pin.components) == ("1.85.0", ("clippy",))  # the .toml file wins over the legacy one
    assert find_pin(nested, env={"RUSTUP_TOOLCHAIN": "beta"}).source == "$RUSTUP_TOOLCHAIN"
    assert find_pin(tmp_path, env={}) is None
    assert read_pin(tmp_path / "ws" / "rust-toolchain.toml").source.endswith("rust-toolchain.toml")


def test_installed_matches_with_or_without_the_host_triple() -> None:
    installed = ["stable-x86_64-unknown-linux-gnu", "1.85.0-x86_64-unknown-linux-gnu"]
    assert is_installed("stable", installed)
    assert is_installed("1.85.0", installed)
    assert is_installed("1.85.0-x86_64-unknown-linux-gnu", installed)
    assert not is_installed("1.85", installed)
    assert not is_installed("nightly", installed)
