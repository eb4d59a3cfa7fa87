"""Configuration of CUDA kernel compilation (`[workspace.metadata.pipeline.cuda]`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config_fields import setting  # noqa: F401 - used as fields are added


@dataclass(frozen=True)
class CudaSettings:
    """Keys of this section; each is documented in the README."""
