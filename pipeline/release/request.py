"""What the user asked the release (or bump) to do: the command line, as data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pipeline.release.levels import Target, parse_target


@dataclass(frozen=True)
class Request:
    target: str | None
    crates: tuple[str, ...] = ()
    changed: bool = False
    execute: bool = False
    full: bool = True  # release (changelog, git, artifacts) rather than bump
    push: bool = False
    verify: bool = True
    allow_dirty: bool = False
    json: bool = False
    require_gates: bool = False  # a gate whose tool or data is missing fails instead of being skipped

    @cached_property
    def level(self) -> Target:
        """``target`` parsed (once): a level, an explicit version or ``auto`` (the default)."""
        return parse_target(self.target if self.target is not None else "auto")

    @property
    def needs_git(self) -> bool:
        # `bump LEVEL` needs no git at all; a release, --changed and `auto` read the history.
        return self.full or self.changed or self.level.auto
