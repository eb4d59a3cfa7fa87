"""Step: what would ship holds every configured GPU architecture (cuobjdump), before anything is written.

Runs where the release builds artifacts and the workspace built CUDA kernels (``target/cuda``):
the released binaries and cdylibs are built (``cargo build --release``) and checked, with the
fatbins the CUDA tarball packs, by :mod:`pipeline.cuda.ship`. Not skipped by ``--no-verify``:
it is about what ships, not about the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.cuda.settings import CudaSettings
from pipeline.release.steps import Release


@dataclass(frozen=True)
class Kernels:
    """Bound to the CUDA configuration (``[workspace.metadata.pipeline.cuda]``)."""

    cuda: CudaSettings
    NAME = "kernels"

    def wanted(self, release: Release) -> bool:
        return release.request.full and release.facts.settings.artifacts

    def run(self, release: Release) -> Release:
        from pipeline.cuda.ship import release_gate

        release_gate(release.facts.workspace, self.cuda, [c.crate for c in release.prepared.plan.changes])
        return release
