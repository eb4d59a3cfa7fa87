"""The effective configuration as TOML, each value followed by where it came from.

``pipeline config`` prints this: a ``[workspace.metadata.pipeline]`` block that can be pasted
into a ``Cargo.toml`` as it is (it parses, and loads back into the same configuration), with a
comment after every value naming its origin: ``default``, ``Cargo.toml:LINE`` (the line that
sets it, or the table header / inline table holding it), or ``environment $NAME`` for the
settings a variable overrides at run time.

Pure: the caller reads the manifest text and the environment; this module only looks at them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.foundation.config import toml_key

CONFIG_TABLE = ("workspace", "metadata", "pipeline")
# Settings a variable overrides where they are used (cuda/build.py, gpu/leases.py).
ENV_OVERRIDES: Mapping[tuple[str, ...], str] = {
    ("cuda", "cache-dir"): "PIPELINE_CUDA_CACHE",
    ("gpu", "lease-dir"): "PIPELINE_GPU_LEASE_DIR",
}

Path_ = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*(?P<key>{_PART}(?:\s*\.\s*{_PART})*)\s*=")
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def key_lines(text: str) -> dict[Path_, int]:
    """Line of every key a TOML document assigns, by full key path (array-of-tables entries by index).

    A line scan, not a parser: tomllib keeps no positions. Lines inside multi-line strings and
    arrays are skipped by tracking brackets and triple quotes, which covers manifests as people write them.
    """
    lines: dict[Path_, int] = {}
    table: Path_ = ()
    counts: dict[tuple[str, ...], int] = {}
    depth = 0  # open brackets/braces of a multi-line value
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if in_string in line:
                in_string = None
            continue
        if depth == 0:
            header = _HEADER.match(line)
            if header:
                name = _split_key(header.group("name"))
                if header.group(1) == "[[":
                    index = counts.get(name, -1) + 1
                    counts[name] = index
                    table = (*_with_indexes(name, counts), index)
                else:
                    table = _with_indexes(name, counts)
                continue
            key = _KEY.match(line)
            if key:
                lines.setdefault((*table, *_split_key(key.group("key"))), number)
        depth += _bracket_balance(line)
        depth = max(depth, 0)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_string = quote
    return lines


def _with_indexes(name: tuple[str, ...], counts: Mapping[tuple[str, ...], int]) -> Path_:
    """``[a.b]`` after ``[[a]]`` is a table of the latest entry of ``a``: put that index in the path."""
    out: list[str | int] = []
    for i, part in enumerate(name):
        out.append(part)
        if i < len(name) - 1 and name[: i + 1] in counts:
            out.append(counts[name[: i + 1]])
    return tuple(out)


def _bracket_balance(line: str) -> int:
    balance, quote = 0, None
    for char in line:
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance


@dataclass(frozen=True)
class Origins:
    """Where each configuration value comes from."""

    manifest_name: str
    lines: Mapping[Path_, int]
    env: Mapping[str, str]
    adopted: Mapping[Path_, str] = dataclasses.field(default_factory=dict)  # key -> "cargo-release ..."

    def of(self, path: Path_) -> str:
        plain = tuple(p for p in path if isinstance(p, str))
        variable = ENV_OVERRIDES.get(plain)
        if variable and self.env.get(variable):
            return f"environment ${variable}"
        if plain in self.adopted:
            return self.adopted[plain]
        full = (*CONFIG_TABLE, *path)
        for end in range(len(full), len(CONFIG_TABLE), -1):
            # A value set as a whole (an inline table, an array) is the origin of what it holds.
            line = self.lines.get(full[:end])
            if line is not None:
                return f"{self.manifest_name}:{line}"
        # A table of its own (`[...ci.pins]`) printed as one inline value: its first key's line.
        inside = [line for key, line in self.lines.items() if key[: len(full)] == full]
        return f"{self.manifest_name}:{min(inside)}" if inside else "default"

    def value(self, path: Path_, value: Any) -> Any:
        plain = tuple(p for p in path if isinstance(p, str))
        variable = ENV_OVERRIDES.get(plain)
        return self.env[variable] if variable and self.env.get(variable) else value


def toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t \uXXXX) are TOML basic-string escapes too.
    return json.dumps(text, ensure_ascii=False)


def toml_key_text(key: str) -> str:
    return key if _BARE.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{toml_key_text(k)} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if dataclasses.is_dataclass(value):
        return toml_value({toml_key(f): getattr(value, f.name) for f in dataclasses.fields(value)})
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and all(dataclasses.is_dataclass(v) for v in value)


def _section(obj: Any, path: tuple[str, ...], origins: Origins, index_path: Path_) -> Iterator[str]:
    fields = [(toml_key(f), getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    header = ".".join(toml_key_text(p) for p in (*CONFIG_TABLE, *path))
    yield f"[{header}]"
    yield from _keys(fields, origins, index_path)
    for key, value in fields:
        if _is_table_array(value):
            for i, entry in enumerate(value):
                yield ""
                yield f"[[{header}.{toml_key_text(key)}]]"
                entry_fields = [(toml_key(f), getattr(entry, f.name)) for f in dataclasses.fields(entry)]
                yield from _keys(entry_fields, origins, (*index_path, key, i))
    for key, value in fields:
        if dataclasses.is_dataclass(value):
            yield ""
            yield from _section(value, (*path, key), origins, (*index_path, key))


def _keys(fields: Sequence[tuple[str, Any]], origins: Origins, index_path: Path_) -> Iterator[str]:
    for key, value in fields:
        if dataclasses.is_dataclass(value) or _is_table_array(value):
            continue
        where = (*index_path, key)
        value = origins.value(where, value)
        if value is None:
            yield f"# {toml_key_text(key)} is not set  # {origins.of(where)}"
            continue
        yield f"{toml_key_text(key)} = {toml_value(value)}  # {origins.of(where)}"


def render(config: Any, manifest_text: str, manifest_name: str, env: Mapping[str, str],
           adopted: Mapping[Path_, str] | None = None) -> str:
    """The whole configuration as TOML; ``manifest_text`` locates the values it sets; ``adopted``:
    keys read from cargo-release's configuration, with where."""
    origins = Origins(manifest_name, key_lines(manifest_text), env, adopted or {})
    lines = [
        "# The effective configuration; the comment after each value says where it comes from:",
        f"# `default`, `{manifest_name}:LINE` or `environment $VARIABLE`"
        + (", or `cargo-release FILE` (read from cargo-release's configuration)." if adopted else "."),
        *_section(config, (), origins, ()),
    ]
    return "\n".join(lines) + "\n"


def origin_map(config: Any, manifest_text: str, manifest_name: str, env: Mapping[str, str],
               adopted: Mapping[Path_, str] | None = None) -> dict[str, str]:
    """Dotted key (array entries as ``name[0]``) -> origin, for ``--json``."""
    origins = Origins(manifest_name, key_lines(manifest_text), env, adopted or {})
    out: dict[str, str] = {}

    def walk(obj: Any, path: Path_) -> None:
        for f in dataclasses.fields(obj):
            key, value = toml_key(f), getattr(obj, f.name)
            where = (*path, key)
            if dataclasses.is_dataclass(value):
                walk(value, where)
            elif _is_table_array(value):
                for i, entry in enumerate(value):
                    walk(entry, (*where, i))
            else:
                out[_dotted(where)] = origins.of(where)

    walk(config, ())
    return out


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
