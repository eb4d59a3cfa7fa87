"""What `ci.pip-install` may hold: every form pip accepts, checked by parsing, never by a regex alone.

Each entry reaches a `pip install` line of generated CI (shell-quoted there), so it must be
what it says and nothing more. Forms accepted:

- a PEP 508 requirement: ``nox>=2025.2.9``, ``cargo-gpu-pipeline[gpu]==0.1.0``,
  ``cargo-gpu-pipeline @ git+https://github.com/org/repo@v0.1.0`` (parsed by
  ``packaging.requirements``; the URL of a direct reference is checked like a bare URL);
- a bare URL: ``git+https://github.com/org/repo@v0.1.0``, ``https://host/pkg-0.1.0-py3-none-any.whl``
  (``urllib.parse``: known scheme, a host, no password, no characters a shell or YAML gives meaning);
- a path: ``.``, ``./tools/pipeline``, ``../pipeline[gpu]``, ``dist/cargo_gpu_pipeline-0.1.0-py3-none-any.whl``
  (a ``.whl`` name must be a valid wheel file name);
- ``-e`` followed by a path or URL entry, and the options ``--index-url=URL``,
  ``--extra-index-url=URL``, ``--find-links=URL|PATH``, ``--pre``.

What is refused everywhere: control characters, whitespace outside a PEP 508 requirement,
quotes, backslashes, backticks, ``$`` and braces (shell and CI expressions: ``${{ }}``, ``$VAR``),
and markers (they need quotes; put the condition in the runner's image instead).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

Kind = Literal["requirement", "url", "path", "option", "editable"]

# Never in any entry: what a shell, YAML or a CI expression gives a meaning even inside quotes.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f'\"`\\${}]")
# URL characters (RFC 3986 unreserved + reserved), less those a shell word should not hold.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!&+,;=%-]+")
_PATH = re.compile(r"(?P<path>\.{1,2}(?:/[A-Za-z0-9_.+-]+)*/?|[A-Za-z0-9_][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9_.+-]+)+/?"
                   r"|/[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*|[A-Za-z0-9_.+-]+\.whl)"
                   r"(?:\[(?P<extras>[A-Za-z0-9_.-]+(?:,[A-Za-z0-9_.-]+)*)\])?")
_LINKS_DIR = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.+/-]*")
VCS_SCHEMES = frozenset({"git+https", "git+ssh", "git+http", "git+file", "hg+https", "hg+ssh", "svn+https",
                         "svn+ssh", "bzr+https"})
URL_SCHEMES = frozenset({"https", "http", "file", *VCS_SCHEMES})
INDEX_OPTIONS = ("--index-url", "--extra-index-url", "--find-links")
FLAG_OPTIONS = ("--pre",)
TOOL_NAME = "cargo-gpu-pipeline"


@dataclass(frozen=True)
class PipArgument:
    """One entry of `pip-install`, classified."""

    text: str
    kind: Kind
    name: str | None = None  # the project, when the entry says which (requirement, #egg=, wheel name)
    extras: tuple[str, ...] = ()


def check_url(value: str, *, what: str = "URL") -> str:
    """``value`` as a URL pip can install from or read an index at; ValueError saying why not."""
    if _URL_CHARS.fullmatch(value) is None:
        raise ValueError(f"is not a {what}: it holds characters a URL should not (spaces, quotes, `$`, braces)")
    parts = urlsplit(value)
    if parts.scheme not in URL_SCHEMES:
        raise ValueError(f"is not a {what}: scheme `{parts.scheme or '(none)'}` is not one of "
                         + ", ".join(sorted(URL_SCHEMES)))
    if not parts.netloc and not parts.scheme.endswith("file"):
        raise ValueError(f"is not a {what}: it names no host")
    if parts.password is not None:
        raise ValueError(f"is a {what} with a password in it: never commit credentials; give the runner a "
                         "netrc or keyring instead")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"is not a {what}: its port is not a number") from None
    return value


def _egg(url: str) -> str | None:
    for piece in urlsplit(url).fragment.split("&"):
        key, _, value = piece.partition("=")
        if key == "egg" and value:
            return value
    return None


def _url_name(url: str) -> str | None:
    """The project a bare URL installs, where it says: ``#egg=``, a wheel file name, else None."""
    egg = _egg(url)
    if egg:
        return str(canonicalize_name(egg))
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    if last.endswith(".whl"):
        try:
            return str(parse_wheel_filename(last)[0])
        except InvalidWheelFilename:
            raise ValueError(f"is not a wheel URL: `{last}` is not a valid wheel file name") from None
    return None


def parse_pip_argument(value: str) -> PipArgument:
    """Classify one entry; ValueError (a phrase following the value) when pip would not take it as intended."""
    if not isinstance(value, str) or not value:
        raise ValueError("is not a pip requirement, URL, path or option: it is empty")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValueError(f"holds {bad.group(0)!r}, which is never part of a pip requirement "
                         "(quotes, `$`, braces, backslashes and control characters are refused)")
    if value == "-e":
        return PipArgument(value, "editable")
    if value.startswith("-"):
        option, sep, argument = value.partition("=")
        if option in FLAG_OPTIONS and not sep:
            return PipArgument(value, "option")
        if option in INDEX_OPTIONS and sep:
            if option == "--find-links" and _LINKS_DIR.fullmatch(argument):
                return PipArgument(value, "option")
            check_url(argument, what=f"{option} URL")
            return PipArgument(value, "option")
        raise ValueError("is not an accepted pip option (use -e, --pre, --index-url=URL, --extra-index-url=URL "
                         "or --find-links=URL)")
    if "://" in value and " " not in value and not re.match(r"[A-Za-z0-9_.-]+(\[[^\]]*\])?@", value):
        check_url(value)
        return PipArgument(value, "url", _url_name(value))
    path = _PATH.fullmatch(value)
    if path is not None and (value.startswith((".", "/")) or "/" in value or path.group("path").endswith(".whl")):
        name = None
        leaf = path.group("path").rstrip("/").rsplit("/", 1)[-1]
        if leaf.endswith(".whl"):
            try:
                name = str(parse_wheel_filename(leaf)[0])
            except InvalidWheelFilename:
                raise ValueError(f"is not a wheel path: `{leaf}` is not a valid wheel file name "
                                 "(NAME-VERSION-PYTAG-ABITAG-PLATFORM.whl)") from None
        extras = tuple((path.group("extras") or "").split(",")) if path.group("extras") else ()
        return PipArgument(value, "path", name, extras)
    try:
        requirement = Requirement(value)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"is not a pip requirement, URL, path or option ({first})") from None
    if requirement.marker is not None:
        raise ValueError("has an environment marker: markers are not accepted here (they need quotes)")
    if requirement.url is not None:
        check_url(requirement.url, what="direct-reference URL")
    elif "#" in value or ";" in value:
        raise ValueError("is not a pip requirement: `#` and `;` belong to URLs only")
    return PipArgument(value, "requirement", str(canonicalize_name(requirement.name)),
                       tuple(sorted(requirement.extras)))


def check_pip_install(key: str, values: Sequence[str]) -> tuple[PipArgument, ...]:
    """Every entry of ``key`` parsed; ``-e`` must be followed by a path or URL entry."""
    parsed = []
    for value in values:
        try:
            parsed.append(parse_pip_argument(value))
        except ValueError as exc:
            raise ValueError(f"`{key}` = {value!r} {exc}") from None
    for index, argument in enumerate(parsed):
        if argument.kind == "editable":
            following = parsed[index + 1] if index + 1 < len(parsed) else None
            if following is None or following.kind not in ("path", "url"):
                raise ValueError(f"`{key}`: `-e` must be followed by a path or URL entry (`[\"-e\", \".\"]`)")
    return tuple(parsed)


def check_index_url(key: str, value: str) -> str:
    """An index URL for `pip-index-url` / `pip-extra-index-url`: http(s) or file only."""
    try:
        check_url(value, what="package index URL")
    except ValueError as exc:
        raise ValueError(f"`{key}` = {value!r} {exc}") from None
    if urlsplit(value).scheme not in ("https", "http", "file"):
        raise ValueError(f"`{key}` = {value!r} is not a package index URL: use https://, http:// or file://")
    return value


def is_tool(argument: PipArgument) -> bool:
    """Whether the entry installs cargo-gpu-pipeline itself (so extras a job needs go on it)."""
    if argument.name is not None:
        return argument.name == TOOL_NAME
    if argument.kind == "path":
        return True  # `.` or another checkout of the tool: what the example and this repository use
    if argument.kind == "url":
        return TOOL_NAME in urlsplit(argument.text).path.replace("_", "-")
    return False


def with_extras(argument: PipArgument, extras: Sequence[str]) -> str:
    """The entry with ``extras`` added when it installs this tool; every other entry unchanged."""
    if not extras or not is_tool(argument) or argument.kind in ("option", "editable"):
        return argument.text
    wanted = [*argument.extras, *(e for e in extras if e not in argument.extras)]
    listed = ",".join(wanted)
    if argument.kind == "requirement":
        requirement = Requirement(argument.text)
        tail = f" @ {requirement.url}" if requirement.url else str(requirement.specifier)
        return f"{requirement.name}[{listed}]{tail}"
    if argument.kind == "path":  # pip takes `./dir[extra]` and `./x.whl[extra]` alike
        return f"{argument.text.split('[', 1)[0]}[{listed}]"
    return f"{argument.name or TOOL_NAME}[{listed}] @ {argument.text}"
