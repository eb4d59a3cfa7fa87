"""Configuration of the pre-push hook (`[workspace.metadata.pipeline.hooks]`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config_fields import setting  # noqa: F401 - used as fields are added


@dataclass(frozen=True)
class HooksSettings:
    """Keys of this section; each is documented in the README."""
