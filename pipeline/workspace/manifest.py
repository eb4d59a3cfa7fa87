"""Fast, read-only access to TOML manifests with precise error positions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError, OperationFailed

try:
    # tomli is the parser tomllib was taken from; its mypyc-compiled wheels parse about
    # three times faster, which a 500-crate bump (every manifest read, edited and
    # re-parsed) feels. Where no wheel is installed the standard library's copy is used.
    from tomli import TOMLDecodeError
    from tomli import loads as toml_loads
except ImportError:  # pragma: no cover - tomli is a declared dependency
    from tomllib import TOMLDecodeError
    from tomllib import loads as toml_loads

__all__ = ["TOMLDecodeError", "locate_key", "parse_toml", "read_toml", "toml_loads"]

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def read_toml(path: Path, what: str = "manifest") -> dict[str, Any]:
    """Parse ``path``; malformed TOML raises ``path:line:column``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: {what} not found", f"check that {path} exists") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: {what} is not valid UTF-8 ({exc.reason})", "save the file as UTF-8") from exc
    except OSError as exc:  # unreadable (permissions, a directory in its place, EIO): exit 1, an I/O failure
        raise OperationFailed(f"{path}: cannot read the {what}: {exc.strerror or exc}",
                              f"check that {path} is a readable file") from None
    # Cargo accepts a UTF-8 byte order mark in front of a manifest; TOML parsers do not.
    return parse_toml(text.removeprefix("\ufeff"), path, what)


def parse_toml(text: str, path: Path, what: str = "manifest") -> dict[str, Any]:
    try:
        return toml_loads(text)
    except RecursionError:
        # tomli refuses (and the stdlib copy overflows on) values nested hundreds deep.
        line, column = _deepest(text)
        raise ManifestError(
            f"{path}:{line}:{column}: malformed TOML in {what}: arrays or inline tables nested too deeply",
            "flatten the value at that position (Cargo refuses it too)",
        ) from None
    except TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        if match:
            line, column = match.group(1), match.group(2)
            reason = message[: match.start()]
            raise ManifestError(
                f"{path}:{line}:{column}: malformed TOML in {what}: {reason}",
                "fix the TOML syntax at that position (`cargo metadata` shows the same error)",
            ) from exc
        if message.endswith("(at end of document)"):
            # A truncated file: the position is its last character.
            lines = text.split("\n")
            reason = message.removesuffix("(at end of document)").rstrip()
            raise ManifestError(
                f"{path}:{len(lines)}:{len(lines[-1]) + 1}: malformed TOML in {what}: {reason} at the end of the "
                "file (is it truncated?)",
                "complete or restore the file (`git diff` shows what changed)",
            ) from exc
        raise ManifestError(f"{path}: malformed TOML in {what}: {message}", "fix the TOML syntax") from exc


def _deepest(text: str, limit: int = 100) -> tuple[int, int]:
    """``(line, column)`` where brackets first nest ``limit`` deep (outside strings, roughly)."""
    depth, line, column, quote = 0, 1, 0, ""
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
            quote = "" if quote != '"""' else quote
        elif quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth >= limit:
                return line, column
        elif char in "]}":
            depth = max(0, depth - 1)
    return 1, 1


def locate_key(path: Path, key: str) -> str:
    """``path:line:column`` of the first line that assigns ``key``, else ``path``.

    tomllib keeps no positions for values, so semantic errors (a wrong type, an
    unknown key) find their line by a textual search; good enough to point a
    person at the right place.
    """
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except OSError:
        return str(path)
    return locate_key_in(path, text, key)


def locate_key_in(path: Path, text: str, key: str) -> str:
    """:func:`locate_key` on text already read (pure: for planners that were handed the file)."""
    pattern = re.compile(r"^\s*(?:[\w.\-\"']*\.)?[\"']?" + re.escape(key) + r"[\"']?\s*[=.]")
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        match = pattern.search(line)
        if match:
            column = line.find(key) + 1
            return f"{path}:{number}:{column}"
    return str(path)
