"""Release tag names: made from the configured templates, and recognised again in `git tag` output."""

from __future__ import annotations

import re
from typing import Any


def tag_pattern(template: str, prefix: str, crate: str | None = None) -> re.Pattern[str]:
    """A regex matching tags made from ``prefix + template``, capturing the version."""
    full = prefix + template
    pattern = ""
    for piece in re.split(r"(\{version\}|\{crate\})", full):
        if piece == "{version}":
            pattern += r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"
        elif piece == "{crate}":
            pattern += re.escape(crate) if crate is not None else r"(?P<crate>.+?)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$")


def render_tag(template: str, prefix: str, version: Any, crate: str | None = None) -> str:
    return prefix + template.replace("{version}", str(version)).replace("{crate}", crate or "")
