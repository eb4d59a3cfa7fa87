"""The Rust toolchain a workspace pins (`rust-toolchain.toml`), and whether rustup has it.

Without this, a pinned toolchain that is not installed shows up as "cargo missing": rustup's
proxies (`cargo`, `rustc`) refuse to start for that directory. rustup searches the directory
it runs in and every parent for `rust-toolchain.toml`, then the legacy `rust-toolchain`;
`RUSTUP_TOOLCHAIN` overrides both. This follows the same order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import CommandFailed, ManifestError, ToolMissing
from pipeline.workspace.manifest import TOMLDecodeError, toml_loads

FILES = ("rust-toolchain.toml", "rust-toolchain")
ENV = "RUSTUP_TOOLCHAIN"
# Probing must never download a toolchain (rustup >= 1.28 would, for a pinned one).
NO_AUTO_INSTALL = {"RUSTUP_AUTO_INSTALL": "0"}
_HOST = re.compile(r"-(x86_64|aarch64|i686|armv7|riscv64gc|powerpc64le|s390x|loongarch64)-.*$")


@dataclass(frozen=True)
class Pin:
    """The toolchain a file (or the environment) selects."""

    channel: str  # stable, beta, nightly-2025-01-01, 1.85.0, 1.85, a custom name
    source: str  # the file's path, or `$RUSTUP_TOOLCHAIN`
    components: tuple[str, ...] = ()


def find_pin(start: Path, env: Mapping[str, str] | None = None) -> Pin | None:
    """What rustup would select in ``start``: $RUSTUP_TOOLCHAIN, else the nearest toolchain file."""
    env = os.environ if env is None else env
    if env.get(ENV):
        return Pin(env[ENV], f"${ENV}")
    for directory in (start, *start.parents):
        for name in FILES:
            path = directory / name
            if path.is_file():
                return read_pin(path)
    return None


def read_pin(path: Path) -> Pin:
    text = path.read_text(encoding="utf-8")
    if path.name == "rust-toolchain" and "[" not in text:
        channel = text.strip()  # the legacy one-line form
        if not channel:
            raise ManifestError(f"{path}: empty toolchain file", "write a channel, e.g. `1.85.0`, or remove it")
        return Pin(channel, str(path))
    try:
        data = toml_loads(text)
    except TOMLDecodeError as exc:
        raise ManifestError(f"{path}: malformed TOML: {exc}", "fix the file (rustup refuses it too)") from exc
    table = data.get("toolchain")
    channel = table.get("channel") or table.get("path") if isinstance(table, dict) else None
    if not isinstance(channel, str) or not channel:
        raise ManifestError(f"{path}: no [toolchain] channel", 'add `channel = "1.85.0"` under [toolchain]')
    components = table.get("components", []) if isinstance(table, dict) else []
    return Pin(channel, str(path), tuple(c for c in components if isinstance(c, str)))


def installed_toolchains() -> list[str] | None:
    """rustup's installed toolchains (`stable-x86_64-unknown-linux-gnu`, ...), None without rustup."""
    try:
        result = proc.run(["rustup", "toolchain", "list"], env=NO_AUTO_INSTALL, check=False)
    except (ToolMissing, CommandFailed):
        return None
    if result.returncode != 0:
        return None
    names = []
    for line in result.stdout.splitlines():
        name = line.split(" ", 1)[0].strip()
        if name and name != "no":  # "no installed toolchains"
            names.append(name)
    return names


def is_installed(channel: str, installed: Sequence[str]) -> bool:
    """Whether ``channel`` (with or without a host triple) is among ``installed``."""
    if os.sep in channel:  # `path = "..."`: a custom toolchain directory
        return Path(channel).is_dir()
    for name in installed:
        if name == channel or _HOST.sub("", name) == _HOST.sub("", channel):
            return True
    return False


def missing_pin(start: Path, env: Mapping[str, str] | None = None) -> tuple[Pin, list[str]] | None:
    """(the pin, what is installed) when ``start`` pins a toolchain rustup does not have; else None."""
    pin = find_pin(start, env)
    if pin is None:
        return None
    installed = installed_toolchains()
    if installed is None or is_installed(pin.channel, installed):
        return None
    return pin, installed
