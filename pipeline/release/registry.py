"""Facts about a cargo registry, for the publish plan: where its index is, what it already has.

Cargo's configuration is read the way cargo reads it: ``.cargo/config.toml`` (or
``.cargo/config``) in the workspace directory and each parent, then ``$CARGO_HOME``; the
closer file wins, and ``CARGO_REGISTRIES_<NAME>_INDEX`` overrides them all. The versions a
registry has come from its sparse index (one JSON line per version at cargo's path rules);
a git index cannot be read without cloning it, so those answer "unknown" and cargo's own
duplicate check stands.
"""

from __future__ import annotations

import json
import os
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ConfigError, OperationFailed
from pipeline.release.publish_plan import CRATES_IO

CRATES_IO_INDEX = "sparse+https://index.crates.io/"
_CRATES_IO_GIT = "registry+https://github.com/rust-lang/crates.io-index"


@dataclass(frozen=True)
class RegistryFacts:
    name: str  # `crates-io` or a [registries] key
    index: str  # `sparse+https://...` or a git index URL
    crates_io_is_registry: bool  # [source.crates-io] is replaced by this very index (a mirror)
    token: str | None = None


def env_key(name: str) -> str:
    return name.upper().replace("-", "_")


def cargo_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("CARGO_HOME") or Path.home() / ".cargo")


def config_files(start: Path, env: Mapping[str, str]) -> list[Path]:
    """Cargo config files, closest first."""
    found: list[Path] = []
    for directory in (start.resolve(), *start.resolve().parents):
        for name in ("config.toml", "config"):
            path = directory / ".cargo" / name
            if path.is_file():
                found.append(path)
                break
    home = cargo_home(env)
    for name in ("config.toml", "config"):
        path = home / name
        if path.is_file() and path not in found:
            found.append(path)
            break
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read cargo configuration: {exc}", "fix or remove that file") from None


def merged_config(start: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The tables publish needs (`registries`, `source`, `registry`), closest file winning per key."""
    merged: dict[str, Any] = {"registries": {}, "source": {}, "registry": {}}
    for path in reversed(config_files(start, env)):  # farthest first, closer ones overwrite
        data = _read(path)
        for table in merged:
            value = data.get(table)
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, dict) and isinstance(merged[table].get(key), dict):
                        merged[table][key] = {**merged[table][key], **item}
                    else:
                        merged[table][key] = item
    return merged


def _credentials_token(name: str, env: Mapping[str, str]) -> str | None:
    for file in ("credentials.toml", "credentials"):
        path = cargo_home(env) / file
        if path.is_file():
            data = _read(path)
            table = data.get("registry", {}) if name == CRATES_IO else data.get("registries", {}).get(name, {})
            token = table.get("token") if isinstance(table, dict) else None
            return token if isinstance(token, str) else None
    return None


def registry_facts(start: Path, registry: str | None, env: Mapping[str, str] | None = None) -> RegistryFacts:
    """Where ``registry`` (None: crates.io) is, by cargo's configuration as seen from ``start``."""
    env = dict(os.environ if env is None else env)
    config = merged_config(start, env)
    name = registry or CRATES_IO
    if name == CRATES_IO:
        index = CRATES_IO_INDEX
    else:
        entry = config["registries"].get(name)
        index = env.get(f"CARGO_REGISTRIES_{env_key(name)}_INDEX") or (
            entry.get("index") if isinstance(entry, dict) else None
        )
        if not isinstance(index, str) or not index:
            raise ConfigError(
                f"registry `{name}` is not in cargo's configuration (looked in "
                + (", ".join(str(p) for p in config_files(start, env)) or "no config file found")
                + f" and CARGO_REGISTRIES_{env_key(name)}_INDEX)",
                f'add `[registries.{name}]\nindex = "sparse+https://..."` to .cargo/config.toml, or pass the '
                "name cargo knows it by",
            )
    token_env = "CARGO_REGISTRY_TOKEN" if name == CRATES_IO else f"CARGO_REGISTRIES_{env_key(name)}_TOKEN"
    token = env.get(token_env) or _credentials_token(name, env)
    return RegistryFacts(name, index, _crates_io_redirected_to(config, index), token)


def _crates_io_redirected_to(config: Mapping[str, Any], index: str) -> bool:
    """Whether `[source.crates-io] replace-with` leads (through sources or registries) to ``index``."""
    sources = config["source"]
    seen: set[str] = set()
    current = sources.get("crates-io", {})
    while isinstance(current, dict) and isinstance(current.get("replace-with"), str):
        name = current["replace-with"]
        if name in seen:
            return False
        seen.add(name)
        registry = config["registries"].get(name)
        if isinstance(registry, dict) and registry.get("index") == index:
            return True
        current = sources.get(name, {})
        if isinstance(current, dict) and current.get("registry") in (index, index.removeprefix("sparse+")):
            return True
    return False


def index_path(name: str) -> str:
    """Cargo's path of a crate's file in an index."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[0:2]}/{lower[2:4]}/{lower}"


def published_versions(
    facts: RegistryFacts, names: Iterable[str], timeout: float = 30.0
) -> dict[str, frozenset[str] | None]:
    """The versions ``facts``' index lists for each name (yanked ones too: cargo refuses to reuse those)."""
    names = list(dict.fromkeys(names))
    if not facts.index.startswith("sparse+"):
        return dict.fromkeys(names)
    base = facts.index.removeprefix("sparse+")
    base = base if base.endswith("/") else base + "/"
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"registry `{facts.name}`: index {facts.index} is not an http(s) URL",
                          "fix the index URL in .cargo/config.toml")
    result: dict[str, frozenset[str] | None] = {}
    for name in names:
        url = base + index_path(name)  # http(s) only, checked above
        request = urllib.request.Request(url, headers={"User-Agent": "cargo-gpu-pipeline"})  # noqa: S310
        if facts.token:
            request.add_header("Authorization", facts.token)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the configured index
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410, 451):  # the sparse protocol's "no such crate"
                result[name] = frozenset()
                continue
            raise OperationFailed(
                f"registry `{facts.name}` ({facts.index}): reading the index of `{name}` failed: HTTP {exc.code}",
                "check the registry and its token (CARGO_REGISTRIES_<NAME>_TOKEN or credentials.toml)",
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OperationFailed(
                f"registry `{facts.name}` ({facts.index}) cannot be reached: {reason}",
                "check the network and the registry's index URL in .cargo/config.toml",
            ) from None
        versions = set()
        for line in body.splitlines():
            if line.strip():
                try:
                    versions.add(str(json.loads(line)["vers"]))
                except (ValueError, KeyError, TypeError):
                    raise OperationFailed(
                        f"registry `{facts.name}`: the index file of `{name}` has a malformed line: {line[:80]!r}",
                        "the registry is serving a broken index; report it to its operator",
                    ) from None
        result[name] = frozenset(versions)
    return result
