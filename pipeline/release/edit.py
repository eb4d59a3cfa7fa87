"""Byte-preserving edits of TOML files: manifests and Cargo.lock.

A release changes a few version strings and must keep every other byte of a
manifest (comments, key order, spacing, CRLF). The fast paths find where each
old value sits and replace exactly those characters: first by searching for the
quoted old value and reading its key path off its line and the table header
above it, then, when that is not conclusive, by scanning the whole file. The
result is then parsed again and each edited key must hold its new value, which
makes a locating mistake impossible to write (see ``_replace``). Anything the
fast paths do not handle falls back to tomlkit, which round-trips the file too
(just more slowly, which matters on workspaces of hundreds of crates).
"""

from __future__ import annotations

import bisect
import copy
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.workspace.manifest import TOMLDecodeError, parse_toml, toml_loads

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = re.compile(r"[ \t]*(?:#[^\r\n]*)?")
_SPACE_NL = re.compile(r"(?:[ \t\r\n]+|#[^\r\n]*)*")
_BASIC = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\r\n]*'")
_SCALAR = re.compile(r"[^,\]}#\r\n]+")
_ARRAY = "[]"  # a path element standing for "inside an array": never an edit target

# The search locator's view of a line: a dotted key (bare or quoted parts without
# escapes), a table header, the text before a value, or before a value inside an
# inline table whose earlier entries are simple values.
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\\\r\n]*"|'[^'\r\n]*')"""
_DOTTED = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_SIMPLE = r"""(?:"[^"\\\r\n]*"|'[^'\r\n]*'|[A-Za-z0-9_.:+-]+|\[[^\[\]\r\n]*\])"""
_KEY_PART_RE = re.compile(_KEY_PART)
_HEADER = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]\]?[ \t]*(?:#[^\r\n]*)?\r?$", re.M)
_VALUE_PREFIX = re.compile(
    rf"[ \t]*({_DOTTED})[ \t]*=[ \t]*"
    rf"(?:\{{(?:[ \t]*{_DOTTED}[ \t]*=[ \t]*{_SIMPLE}[ \t]*,)*[ \t]*({_DOTTED})[ \t]*=[ \t]*)?"
)


@dataclass(frozen=True)
class Edit:
    path: tuple[str, ...]
    old: str
    new: str
    # A key to rename instead of a value: ``path[-1]`` (== ``old``) becomes ``new`` in the table
    # ``path[:-1]`` (a `[replace]` key `"macros:2.7.0"` naming the version it replaces).
    key: bool = False


class _Unsupported(Exception):
    """The fast scanner met TOML it does not handle: use tomlkit instead."""


class _Scanner:
    """Records the span of every single-line string value by its key path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.spans: dict[tuple[str, ...], tuple[int, int]] = {}

    def scan(self) -> dict[tuple[str, ...], tuple[int, int]]:
        text = self.text
        table: tuple[str, ...] = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(text):
                return self.spans
            if text[self.pos] == "[":
                if text.startswith("[[", self.pos):
                    self.pos += 2
                    key = self._key()
                    self._expect("]]")
                    table = (*key, _ARRAY)
                else:
                    self.pos += 1
                    table = self._key()
                    self._expect("]")
            else:
                key = self._key()
                self._expect("=")
                self._value((*table, *key))
            self._skip(newlines=False)
            if self.pos < len(text) and text[self.pos] not in "\r\n":
                raise _Unsupported(f"unexpected text at offset {self.pos}")

    def _skip(self, *, newlines: bool) -> None:
        match = (_SPACE_NL if newlines else _SPACE).match(self.text, self.pos)
        assert match is not None  # both patterns match the empty string
        self.pos = match.end()

    def _expect(self, token: str) -> None:
        self._skip(newlines=False)
        if not self.text.startswith(token, self.pos):
            raise _Unsupported(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)

    def _key(self) -> tuple[str, ...]:
        parts: list[str] = []
        text = self.text
        while True:
            self._skip(newlines=False)
            bare = _BARE_KEY.match(text, self.pos)
            if bare is not None:
                parts.append(bare.group())
                self.pos = bare.end()
            elif text.startswith(("\"", "'"), self.pos):
                begin, end = self._string()
                parts.append(toml_loads(f"k = {text[begin:end]}")["k"])  # rare: quoted keys
            else:
                raise _Unsupported(f"no key at offset {self.pos}")
            self._skip(newlines=False)
            if text.startswith(".", self.pos):
                self.pos += 1
                continue
            return tuple(parts)

    def _string(self) -> tuple[int, int]:
        text, start = self.text, self.pos
        if text.startswith(('"""', "'''"), start):
            # A multi-line string: its span keeps the delimiters, so an edit keeps the form.
            delimiter = text[start : start + 3]
            end = start + 3
            while True:
                end = text.find(delimiter, end)
                if end == -1:
                    raise _Unsupported(f"unterminated multi-line string at offset {start}")
                backslashes = len(text[:end]) - len(text[:end].rstrip("\\"))
                if delimiter == "'''" or backslashes % 2 == 0:
                    break
                end += 1
            end += 3
            for _ in range(2):  # up to two quotes of the content may touch the closing delimiter
                if text.startswith(delimiter[0], end):
                    end += 1
            self.pos = end
            return start, end
        match = (_BASIC if text[start] == '"' else _LITERAL).match(text, start)
        if match is None:
            raise _Unsupported(f"unterminated string at offset {start}")
        self.pos = match.end()
        return start, match.end()

    def _value(self, path: tuple[str, ...]) -> None:
        self._skip(newlines=False)
        text = self.text
        if self.pos >= len(text):
            raise _Unsupported("value at end of file")
        c = text[self.pos]
        if c in "\"'":
            self.spans[path] = self._string()
        elif c == "{":
            self.pos += 1
            self._skip(newlines=False)
            if text.startswith("}", self.pos):
                self.pos += 1
                return
            while True:
                key = self._key()
                self._expect("=")
                self._value((*path, *key))
                self._skip(newlines=False)
                if text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                self._expect("}")
                return
        elif c == "[":
            self.pos += 1
            while True:
                self._skip(newlines=True)
                if text.startswith("]", self.pos):
                    self.pos += 1
                    return
                self._value((*path, _ARRAY))
                self._skip(newlines=True)
                if text.startswith(",", self.pos):
                    self.pos += 1
                elif not text.startswith("]", self.pos):
                    raise _Unsupported(f"bad array at offset {self.pos}")
        else:
            scalar = _SCALAR.match(text, self.pos)
            if scalar is None:
                raise _Unsupported(f"no value at offset {self.pos}")
            self.pos = scalar.end()


def _get(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _set(data: dict[str, Any], path: Sequence[str], value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _check_olds(parsed: Mapping[str, Any], edits: Iterable[Edit], file: Path) -> None:
    for edit in edits:
        current = _get(parsed, edit.path)
        if current != edit.old:
            raise ManifestError(
                f"{file}: expected `{'.'.join(edit.path)}` to be {edit.old!r}, found {current!r}",
                "the file changed while the release was planned; run the command again",
            )


def edit_toml(text: str, edits: Sequence[Edit], file: Path) -> str:
    """``text`` with each edit's string value replaced; every other byte kept.

    A UTF-8 byte order mark (which cargo accepts) stays in front; a value written as a
    literal (`'0.1.0'`) or a multi-line string stays in that form."""
    if not edits:
        return text
    if text.startswith("\ufeff"):
        return "\ufeff" + edit_toml(text[1:], edits, file)
    renames = [e for e in edits if e.key]
    if renames:
        text = _rename_keys(text, renames, file)
        edits = [e for e in edits if not e.key]
        if not edits:
            return text
    for locate in (_locate_by_search, _locate_by_scan):
        try:
            result = _replace(text, edits, locate(text, edits))
            parsed = toml_loads(result)
        except (_Unsupported, TOMLDecodeError):
            continue
        if all(_get(parsed, e.path) == e.new for e in edits):
            return result
    parsed = toml_loads(text)
    _check_olds(parsed, edits, file)
    expected = copy.deepcopy(parsed)
    for edit in edits:
        _set(expected, edit.path, edit.new)
    result = _tomlkit_edit(text, edits)
    if toml_loads(result) != expected:  # pragma: no cover - tomlkit is the reference
        raise ManifestError(f"{file}: could not edit the manifest safely", "edit the versions by hand")
    return result


def _rename_keys(text: str, edits: Sequence[Edit], file: Path) -> str:
    """``text`` with each renamed key written anew in its own quotes; every other byte kept.

    Each occurrence of the quoted old key is tried in turn: the one whose replacement parses
    to the old document with just that key renamed (its value untouched) is the key, so a
    comment or a string holding the same text is never edited."""
    for edit in edits:
        parsed = toml_loads(text)
        table = _get(parsed, edit.path[:-1])
        if not isinstance(table, dict) or edit.old not in table or edit.new in table:
            raise ManifestError(f"{file}: expected a key `{edit.old}` in [{'.'.join(edit.path[:-1])}]",
                                "the file changed while the release was planned; run the command again")
        expected = copy.deepcopy(parsed)
        inner = _get(expected, edit.path[:-1])
        inner[edit.new] = inner.pop(edit.old)
        for quote in ('"', "'"):
            if (quote == "'" and "'" in edit.new) or (quote == '"' and ('"' in edit.new or "\\" in edit.new)):
                continue
            needle = f"{quote}{edit.old}{quote}"
            start = text.find(needle)
            while start != -1:
                candidate = text[:start] + f"{quote}{edit.new}{quote}" + text[start + len(needle):]
                try:
                    if toml_loads(candidate) == expected:
                        text = candidate
                        break
                except TOMLDecodeError:
                    pass
                start = text.find(needle, start + 1)
            else:
                continue
            break
        else:
            raise ManifestError(f"{file}: could not rename the key `{edit.old}` to `{edit.new}` safely",
                                f"rename it by hand to \"{edit.new}\"")
    return text


def value_line(text: str, path: tuple[str, ...], value: str) -> int | None:
    """The 1-based line where the string ``value`` sits at key ``path`` in ``text``, if found."""
    text = text.removeprefix("\ufeff")
    probe = [Edit(path, value, value + "~")]
    for locate in (_locate_by_search, _locate_by_scan):
        try:
            span = locate(text, probe).get(path)
        except _Unsupported:
            continue
        if span is not None:
            return text.count("\n", 0, span[0]) + 1
    return None


def _locate_by_scan(text: str, edits: Sequence[Edit]) -> dict[tuple[str, ...], tuple[int, int]]:
    return _Scanner(text).scan()


def _locate_by_search(text: str, edits: Sequence[Edit]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Each edit's span found by searching for its quoted old value (a few ``str.find``).

    An occurrence's key path is read off its own line and the nearest table header
    above it. That reading can be fooled (a line inside a multi-line string looks
    like any other), which is why every result is parsed again; an edit with no
    occurrence at its path, or more than one, sends the file to the full scanner.
    """
    headers = [(m.start(), m.group(1), m.group(2)) for m in _HEADER.finditer(text)]
    starts = [position for position, _brackets, _key in headers]
    # Every occurrence of every old value, by the key path it appears to sit at (a root
    # manifest moving 500 workspace dependencies has 500 occurrences of one value).
    found: dict[tuple[str, ...] | None, list[tuple[int, int]]] = {}
    for old in {edit.old for edit in edits}:
        for quote in ('"', "'"):
            needle = f"{quote}{old}{quote}"
            start = text.find(needle)
            while start != -1:
                found.setdefault(_path_at(text, start, headers, starts), []).append((start, start + len(needle)))
                start = text.find(needle, start + 1)
    spans: dict[tuple[str, ...], tuple[int, int]] = {}
    for edit in edits:
        candidates = found.get(edit.path, [])
        if len(candidates) != 1:
            raise _Unsupported(f"{len(candidates)} candidates for {edit.path}")
        spans[edit.path] = candidates[0]
    return spans


def _path_at(
    text: str, start: int, headers: list[tuple[int, str, str]], starts: list[int]
) -> tuple[str, ...] | None:
    line = text.rfind("\n", 0, start) + 1
    prefix = _VALUE_PREFIX.fullmatch(text, line, start)
    if prefix is None:
        return None
    table: tuple[str, ...] = ()
    above = bisect.bisect_left(starts, line)  # headers starting before this line
    if above:
        _position, brackets, key = headers[above - 1]
        table = (*_key_parts(key), _ARRAY) if brackets == "[[" else _key_parts(key)
    inner = _key_parts(prefix.group(2)) if prefix.group(2) is not None else ()
    return (*table, *_key_parts(prefix.group(1)), *inner)


@functools.lru_cache(maxsize=8192)
def _key_parts(dotted: str) -> tuple[str, ...]:
    # Cached: 500 manifests spell the same few keys (`dependencies`, `version`, member names).
    return tuple(p[1:-1] if p[0] in "\"'" else p for p in _KEY_PART_RE.findall(dotted))


def _replace(text: str, edits: Sequence[Edit], spans: Mapping[tuple[str, ...], tuple[int, int]]) -> str:
    """Replace each edit's span (quotes included) with its new value in the same quotes.

    Why parsing the result and finding every edited key at its new value proves the
    edit right, however the spans were found: the spans are disjoint and there are as
    many as edits; each edited key's value changed (old != new), so its string token
    contains one of the spans; tokens of different keys are disjoint, so every span
    lies inside exactly one edited key's token and no other byte of the file changed.
    """
    replacements = []
    for edit in edits:
        span = spans.get(edit.path)
        if span is None:
            raise _Unsupported(f"no single-line string at {edit.path}")
        start, end = span
        quote = text[start]
        lead = ""
        if text.startswith(('"""', "'''"), start):
            quote = text[start : start + 3]
            inner = text[start + 3 : end - 3]
            # TOML trims a newline right after the opening delimiter: keep it where it was.
            lead = "\r\n" if inner.startswith("\r\n") else "\n" if inner.startswith("\n") else ""
            if inner[len(lead) :] != edit.old or edit.old == edit.new:
                raise _Unsupported(f"{edit.path}: multi-line value is not plainly {edit.old!r}")
        elif edit.old == edit.new or text[start + 1 : end - 1] != edit.old:
            raise _Unsupported(f"{edit.path} is not {edit.old!r} (the slow path reports it)")
        if (quote[0] == "'" and "'" in edit.new) or (quote[0] == '"' and ('"' in edit.new or "\\" in edit.new)):
            raise _Unsupported("value needs escaping")
        if "\n" in edit.new or "\r" in edit.new:
            raise _Unsupported("value spans lines")
        replacements.append((start, end, f"{quote}{lead}{edit.new}{quote}"))
    out = []
    last = 0
    for start, end, new in sorted(replacements):
        if start < last:
            raise _Unsupported("overlapping spans")
        out.append(text[last:start])
        out.append(new)
        last = end
    out.append(text[last:])
    return "".join(out)


def _tomlkit_edit(text: str, edits: Sequence[Edit]) -> str:
    import tomlkit
    from tomlkit.items import String

    doc = tomlkit.parse(text)
    for edit in edits:
        container: Any = doc
        for part in edit.path[:-1]:
            container = container[part]
        old_item = container[edit.path[-1]]
        literal = isinstance(old_item, String) and old_item.type.is_literal()
        multiline = isinstance(old_item, String) and old_item.type.is_multiline()
        new_item = tomlkit.string(edit.new, literal=literal, multiline=multiline)
        if hasattr(old_item, "trivia"):
            new_item._trivia = copy.copy(old_item.trivia)  # keeps the `# comment` and spacing
        container[edit.path[-1]] = new_item
    return doc.as_string()


# ---------------------------------------------------------------------------
# Cargo.lock


def update_lockfile(text: str, changes: Mapping[str, tuple[str, str]], file: Path) -> str:
    """Move workspace members' ``[[package]]`` versions (name -> (old, new)) without cargo.

    Only entries without a ``source`` are members (or other path crates); entries of
    ``dependencies = [...]`` that carry a version (``"name 1.2.3"``, written when two
    versions of a name are locked) move too. Registry packages are never touched. A
    malformed lockfile is reported at its ``path:line:column``.
    """
    lines = text.splitlines(keepends=True)
    blocks: list[list[int]] = []
    for index, line in enumerate(lines):
        if line.strip() == "[[package]]" or line.startswith("["):
            blocks.append([])
        if blocks:
            blocks[-1].append(index)
    for block in blocks:
        fields: dict[str, int] = {}
        for index in block:
            key = lines[index].split("=", 1)[0].strip()
            if "=" in lines[index] and key in ("name", "version", "source"):
                fields[key] = index
        if "name" not in fields or "version" not in fields or "source" in fields:
            continue
        name = _lock_string(lines[fields["name"]])
        version = _lock_string(lines[fields["version"]])
        if name in changes and changes[name][0] == version:
            lines[fields["version"]] = lines[fields["version"]].replace(f'"{version}"', f'"{changes[name][1]}"', 1)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith('"') and " " in stripped and "(" not in stripped:
            entry = stripped.rstrip(",").strip('"')
            name, _, version = entry.partition(" ")
            if name in changes and changes[name][0] == version:
                lines[index] = line.replace(f'"{entry}"', f'"{name} {changes[name][1]}"', 1)
    result = "".join(lines)
    # One parse, of the result: only version strings changed, so a lockfile that was malformed
    # before is malformed after, and is then parsed again for its `path:line:column`.
    try:
        data = toml_loads(result)
    except (TOMLDecodeError, RecursionError) as exc:  # RecursionError: nested too deeply, as parse_toml says
        parse_toml(text, file, "lockfile")  # raises the located error when the original is malformed
        raise ManifestError(  # pragma: no cover - only versions changed
            f"{file}: lockfile edit produced invalid TOML ({exc})", "run `cargo update -w`") from exc
    locked = set(_members(data, file))
    for name, (old, new) in changes.items():
        # A member still locked at its old version (and not at its new one) is an entry the
        # line scan missed: refused, never written half moved.
        if (name, old) in locked and (name, new) not in locked:
            raise ManifestError(f"{file}: could not move `{name}` to {new}", "run `cargo update -w --offline`")
    return result


def _lock_string(line: str) -> str:
    value = line.split("=", 1)[1].strip()
    return value.strip('"')


def _members(data: Mapping[str, Any], file: Path) -> Iterable[tuple[str, str]]:
    packages = data.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        # Cargo refuses such a lockfile too: a located error, never a TypeError.
        raise ManifestError(f"{file}: `package` must be an array of tables ([[package]])",
                            "regenerate it with `cargo generate-lockfile` (or restore it from version control)")
    for package in packages:
        if "source" in package:
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, (str, type(None))):
            # cargo refuses a lockfile whose name or version is not a string: say so, never a TypeError.
            raise ManifestError(f"{file}: a [[package]] entry has a `name` or `version` that is not a string "
                                f"(name = {name!r}, version = {version!r})",
                                "regenerate it with `cargo generate-lockfile` (or restore it from version control)")
        yield name, version
