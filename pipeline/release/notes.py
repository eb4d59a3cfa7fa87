"""Release notes: the CHANGELOG section the release wrote, for `gh release create --notes-file` and GitLab.

``pipeline changelog --section [VERSION]`` prints the body of ``## [VERSION] - date`` (default:
the workspace's version); ``--notes-dir DIR`` also writes what the publish jobs read, so that no
shell in CI has to parse a version or a tag:

- ``notes.md``: the section body;
- ``prerelease``: an empty file, there only when the version has a pre-release part
  (`1.4.0-rc.1`), decided on the parsed version;
- ``release.env``: a GitLab dotenv report, ``RELEASE_NAME`` (the tag, `(pre-release)` added
  for a pre-release: GitLab releases have no pre-release flag) and ``RELEASE_PRERELEASE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed
from pipeline.release.assemble import is_prerelease

_HEADING = re.compile(r"^##\s+\[?(?P<title>[^\]\s]+)\]?(\s.*)?$")
_LINK = re.compile(r"^\[[^\]]+\]:\s*\S+")
# What may reach a dotenv line: a git tag name (git's ref rules forbid spaces and control characters).
_DOTENV_SAFE = re.compile(r"[A-Za-z0-9._+/@-]{1,200}")


@dataclass(frozen=True)
class Notes:
    version: str
    tag: str | None
    text: str  # the section body, without its heading

    @property
    def prerelease(self) -> bool:
        return is_prerelease(self.version)

    @property
    def name(self) -> str:
        base = self.tag or self.version
        return f"{base} (pre-release)" if self.prerelease else base

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "tag": self.tag, "prerelease": self.prerelease, "name": self.name,
                "notes": self.text}


def section(text: str, titles: tuple[str, ...]) -> str | None:
    """The body of the first ``## [title]`` section whose title is one of ``titles`` (None: not there)."""
    lines = text.replace("\r\n", "\n").split("\n")
    wanted = {t.lower() for t in titles}
    start = next((i for i, line in enumerate(lines)
                  if (m := _HEADING.match(line)) and m.group("title").lower() in wanted), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ") or _LINK.match(lines[i])),
               len(lines))
    body = "\n".join(lines[start + 1:end]).strip("\n")
    return body + "\n" if body else ""


def find(changelog: Path, version: str, tags: tuple[str, ...]) -> Notes:
    """The notes of ``version`` (or of a section titled by one of its ``tags``) from ``changelog``."""
    try:
        text = changelog.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OperationFailed(f"{changelog} does not exist: no release notes for {version}",
                              "release with `pipeline release` (it writes the section), or set `release.changelog`"
                              ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OperationFailed(f"cannot read {changelog}: {exc}", "fix the file's encoding or permissions") from None
    body = section(text, (version, f"v{version}", *tags))
    if body is None:
        raise OperationFailed(f"{changelog}: no `## [{version}]` section",
                              f"the release of {version} writes it; check out the release tag, or pass the version "
                              "a section has: `pipeline changelog --section VERSION`")
    # The tag of this version (the shared tag), not a crate's own tag at the same commit.
    tag = next((t for t in tags if t.endswith(version)), tags[0] if tags else None)
    return Notes(version, tag, body)


def write(directory: Path, notes: Notes) -> list[Path]:
    """notes.md, release.env and (for a pre-release) the ``prerelease`` marker, written atomically."""
    shown = notes.tag or notes.version
    if _DOTENV_SAFE.fullmatch(shown) is None:
        raise OperationFailed(f"release name {shown!r} cannot be written into a dotenv file",
                              "use tags and versions of letters, digits and `. _ + / @ -`")
    directory.mkdir(parents=True, exist_ok=True)
    env = f"RELEASE_NAME={notes.name}\nRELEASE_PRERELEASE={'true' if notes.prerelease else 'false'}\n"
    files = {directory / "notes.md": notes.text.encode(), directory / "release.env": env.encode()}
    if notes.prerelease:
        files[directory / "prerelease"] = b""
    fs.write_all(files, what="the release notes")
    if not notes.prerelease:
        (directory / "prerelease").unlink(missing_ok=True)  # left by an earlier pre-release's notes
    return sorted(files)
