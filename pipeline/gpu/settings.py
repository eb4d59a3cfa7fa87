"""Configuration of GPU inventory, leases and GPU tests (`[workspace.metadata.pipeline.gpu]`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.foundation.fields import setting

# One directory per host, shared by every CI job and user on it (only lock files live there).
DEFAULT_LEASE_DIR = "/tmp/cargo-gpu-pipeline-leases"  # noqa: S108


@dataclass(frozen=True)
class GpuSettings:
    """Keys of this section; each is documented in the README."""

    lease_dir: str = setting(
        DEFAULT_LEASE_DIR,
        doc="absolute directory of the per-GPU lock files shared by every job on the host "
        "($PIPELINE_GPU_LEASE_DIR overrides)",
    )
    lease_timeout: float = setting(3600.0, doc="seconds `gpu run` and GPU tests wait for free GPUs (`--timeout`)")
    test_crates: tuple[str, ...] = setting(
        factory=tuple, doc="crates whose tests need a GPU (`pipeline test --gpu`); empty: the whole workspace"
    )
    test_features: tuple[str, ...] = setting(
        factory=tuple, doc="cargo features enabled for the GPU tests (e.g. `gpu`)"
    )

    def __post_init__(self) -> None:
        if not self.lease_dir:
            raise ValueError("`lease-dir` must not be empty")
        if not self.lease_dir.startswith(("/", "~")):
            # Relative to each job's own working directory, jobs would lock different files.
            raise ValueError(f"`lease-dir` = {self.lease_dir!r} must be absolute (or start with `~`): every job on "
                             "the host has to lock the same files")
        if self.lease_timeout < 0:
            raise ValueError("`lease-timeout` must be >= 0 seconds")
