"""Preflight findings: why a release is refused, as data (message, hint, where).

Kept apart from :mod:`preflight` because the pure planner reports its blockers
(requirements a release would break) in the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.foundation.errors import OperationFailed


@dataclass(frozen=True)
class Finding:
    """One problem that refuses the release."""

    message: str
    hint: str
    location: str | None = None  # the file (as the message names it), tag ref, branch or directory

    @property
    def text(self) -> str:
        """``message`` and its ``hint:`` line, as the plan's JSON ``problems`` list shows it."""
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message

    def to_json(self) -> dict[str, str | None]:
        return {"message": self.message, "hint": self.hint, "location": self.location}


def refusal(findings: Sequence[Finding]) -> OperationFailed:
    """One error for every finding: each message with its hint, the last hint the error's own."""
    *first, last = findings
    message = "\nerror: ".join([*(f.text for f in first), last.message])
    return OperationFailed(message, last.hint or None)
