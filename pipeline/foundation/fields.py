"""The field helper every configuration section uses (kept apart to avoid import cycles)."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any


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
