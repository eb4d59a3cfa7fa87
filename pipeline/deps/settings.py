"""Configuration of duplicate detection and advisories (`[workspace.metadata.pipeline.dupes]`, `.audit`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config_fields import setting  # noqa: F401 - used as fields are added


@dataclass(frozen=True)
class DupesSettings:
    """Keys of [workspace.metadata.pipeline.dupes]; each is documented in the README."""


@dataclass(frozen=True)
class AuditSettings:
    """Keys of [workspace.metadata.pipeline.audit]; each is documented in the README."""
