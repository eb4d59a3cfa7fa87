"""Configuration as frozen dataclasses: the field helper and the one generic TOML-table parser.

Each section is a frozen dataclass whose fields carry their TOML key (kebab case by
default) and a one-line ``doc`` (:func:`setting`). One generic parser walks the
dataclasses: every key has a default, unknown keys are an error with a "did you mean"
suggestion, and wrong types name the key and the expected type. Sections live with
their area (``pipeline/<area>/settings.py``); the composition root (``pipeline/project.py``)
assembles them into the whole ``[workspace.metadata.pipeline]`` table.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from pipeline.foundation.errors import ConfigError

# Where a key is written (``path:line:column``); the caller knows the file's format.
Locate = Callable[[str], str]

def setting(default: Any = dataclasses.MISSING, *, doc: str, key: str | None = None, factory: Any = None) -> Any:
    """A configuration field: its default, one line of documentation and optionally its TOML key.

    The TOML key defaults to the field name in kebab case (``tag_prefix`` -> ``tag-prefix``).
    """
    metadata = {"doc": doc}
    if key is not None:
        metadata["key"] = key
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def toml_key(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("key", f.name.replace("_", "-"))


T = TypeVar("T")

CONFIG_TABLE = "workspace.metadata.pipeline"


class _Invalid(Exception):
    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )
    shown = repr(value) if not isinstance(value, (dict, list)) else kind
    return f"{kind} {shown}" if shown != kind else kind


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        return f"an array of {_type_name(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin in (dict, Mapping) or origin is typing.Mapping:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


class _Parser:
    def __init__(self, source: Path, locate: Locate) -> None:
        self.source = source
        self.locate = locate

    def section(self, cls: type[T], raw: Any, where: str) -> T:
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{self.locate(where.rsplit('.', 1)[-1])}: [{where}] must be a table, got {_describe(raw)}",
                f"write it as a [{where}] table",
            )
        hints = get_type_hints(cls)
        fields = {toml_key(f): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for key in raw:
            if key not in fields:
                import difflib  # only for the error

                close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
                if close:
                    hint = f"did you mean `{close[0]}`?"
                elif fields:
                    hint = "known keys: " + ", ".join(sorted(fields))
                else:
                    hint = "this table takes no keys"
                raise ConfigError(f"{self.locate(key)}: unknown key `{key}` in [{where}]", hint)
        values: dict[str, Any] = {}
        for key, f in fields.items():
            if key in raw:
                values[f.name] = self.value(hints[f.name], raw[key], f"{where}.{key}", key, f)
        try:
            return cls(**values)
        except ValueError as exc:
            # Checks made after parsing name the key in backticks: point at the line that sets it.
            named = [k for k in re.findall(r"`([\w-]+)`", str(exc)) if k in raw]
            where_set = self.locate(named[0]) if named else str(self.source)
            raise ConfigError(f"{where_set}: [{where}] {exc}", "see the README's configuration reference") from exc

    def value(self, tp: Any, raw: Any, where: str, key: str, f: dataclasses.Field[Any] | None) -> Any:
        try:
            return self._convert(tp, raw, where, key)
        except _Invalid as exc:
            doc = f.metadata.get("doc") if f is not None else None
            raise ConfigError(
                f"{self.locate(key)}: `{where}` must be {exc.expected}, got {_describe(raw)}",
                doc or "see the README's configuration reference",
            ) from None

    def _convert(self, tp: Any, raw: Any, where: str, key: str) -> Any:
        origin = get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self.section(tp, raw, where)  # type: ignore[arg-type]
        if tp is bool:
            if isinstance(raw, bool):
                return raw
        elif tp is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
        elif tp is float:
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                return float(raw)
        elif tp is str:
            if isinstance(raw, str):
                return raw
        elif origin is Literal:
            if raw in get_args(tp):
                return raw
        elif origin is tuple:
            item_type = get_args(tp)[0]
            if isinstance(raw, list):
                try:
                    return tuple(self._convert(item_type, item, f"{where}[{i}]", key) for i, item in enumerate(raw))
                except _Invalid:
                    pass
        elif origin in (dict, Mapping) or origin is typing.Mapping:
            value_type = get_args(tp)[1]
            if isinstance(raw, dict):
                return types.MappingProxyType(
                    {k: self._convert(value_type, v, f"{where}.{k}", k) for k, v in raw.items()}
                )
        elif origin in (types.UnionType, typing.Union):
            options = [a for a in get_args(tp) if a is not type(None)]
            for option in options:
                try:
                    return self._convert(option, raw, where, key)
                except _Invalid:
                    continue
        raise _Invalid(_type_name(tp))


def parse_config(cls: type[T], raw: Mapping[str, Any], source: Path, where: str = CONFIG_TABLE,
                 locate: Locate | None = None) -> T:
    """Parse ``raw`` into ``cls``; errors name ``source`` and the key (``locate(key)``: its ``path:line:column``)."""
    return _Parser(source, locate or (lambda _key: str(source))).section(cls, dict(raw), where)


def documented_keys(cls: type[Any], prefix: str = CONFIG_TABLE) -> Iterator[tuple[str, str, str, str]]:
    """(dotted key, type, default, doc) for every key, sections included; used for the README."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}.{toml_key(f)}"
        if dataclasses.is_dataclass(tp):
            yield from documented_keys(tp, key)  # type: ignore[arg-type]
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        yield key, _type_name(tp), _format_default(default), f.metadata.get("doc", "")
        element = get_args(tp)[0] if get_origin(tp) is tuple and get_args(tp) else None
        if element is not None and dataclasses.is_dataclass(element):
            # an array of tables (`[[...kernel-sets]]`): each table's keys too, as `key[].name`
            yield from documented_keys(element, f"{key}[]")  # type: ignore[arg-type]


def _format_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_format_default(v) for v in value) + "]"
    if value is None:
        return "(none)"
    if isinstance(value, Mapping):
        return "{}" if not value else "{ " + ", ".join(f"{k} = {_format_default(v)}" for k, v in value.items()) + " }"
    if dataclasses.is_dataclass(value):
        return "(table)"
    return str(value)
