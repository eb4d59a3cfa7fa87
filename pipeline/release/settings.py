"""Configuration of the release flow (`[workspace.metadata.pipeline.release]`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config_fields import setting  # noqa: F401 - used as fields are added


@dataclass(frozen=True)
class ReleaseSettings:
    """Keys of this section; each is documented in the README."""
