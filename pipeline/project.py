"""The composition root: the target workspace, and its configuration assembled from each area's settings.

Every area keeps its own section (``pipeline/<area>/settings.py``) and the generic parser
lives in ``pipeline/foundation/config.py``; only this module knows the whole
``[workspace.metadata.pipeline]`` table, so no area imports another's settings through it.
The workspace is found the way ``../shared/DESIGN.md`` ("Interfaces other people rely on")
describes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.ci.settings import CiSettings
from pipeline.cuda.settings import CudaSettings
from pipeline.deps.settings import AuditSettings, DupesSettings
from pipeline.foundation.config import parse_config, setting
from pipeline.foundation.errors import ConfigError, UsageError
from pipeline.gpu.settings import GpuSettings, SmokeCase
from pipeline.hooks.settings import HooksSettings
from pipeline.release.settings import ReleaseSettings
from pipeline.runner.settings import RunnerSettings
from pipeline.workspace.load import find_workspace_root, load_workspace
from pipeline.workspace.manifest import locate_key
from pipeline.workspace.model import Workspace
from pipeline.workspace.settings import FeatureSettings, LintSettings

if TYPE_CHECKING:
    from pipeline.release.cargo_release import Adopted

# ---------------------------------------------------------------------------
# The configuration


@dataclass(frozen=True)
class CudaConfig(CudaSettings):
    """``[pipeline.cuda]``: cuda/'s keys, plus the smoke cases `pipeline gpu smoke` launches (gpu/'s)."""

    smoke: tuple[SmokeCase, ...] = setting(
        factory=tuple, doc="launches checked by `pipeline gpu smoke` (`[[workspace.metadata.pipeline.cuda.smoke]]`)"
    )


@dataclass(frozen=True)
class PipelineConfig(FeatureSettings):
    """The whole ``[workspace.metadata.pipeline]`` table (the feature keys first, from FeatureSettings)."""

    lint: LintSettings = setting(factory=LintSettings, doc="workspace hygiene checks (`nox -s lint`)")
    release: ReleaseSettings = setting(factory=ReleaseSettings, doc="the release flow")
    dupes: DupesSettings = setting(factory=DupesSettings, doc="duplicate dependency versions")
    audit: AuditSettings = setting(factory=AuditSettings, doc="security advisories")
    cuda: CudaConfig = setting(factory=CudaConfig, doc="CUDA kernel compilation")
    gpu: GpuSettings = setting(factory=GpuSettings, doc="GPU inventory, leases and GPU tests")
    ci: CiSettings = setting(factory=CiSettings, doc="generated CI files")
    hooks: HooksSettings = setting(factory=HooksSettings, doc="the pre-push hook")
    runner: RunnerSettings = setting(factory=RunnerSettings, doc="GPU runner hosts (`pipeline runner check|setup`)")


def load_config(metadata: Mapping[str, Any], source: Path) -> PipelineConfig:
    """The configuration of a workspace from its ``[workspace.metadata]`` table (``source``: its manifest)."""
    raw = metadata.get("pipeline", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{locate_key(source, 'pipeline')}: `workspace.metadata.pipeline` must be a table, got "
                          f"{type(raw).__name__} {raw!r}"[:300], "write it as a [workspace.metadata.pipeline] table")
    return parse_config(PipelineConfig, raw, source, locate=lambda key: locate_key(source, key))


# ---------------------------------------------------------------------------
# The workspace

WORKSPACE_ENV = "PIPELINE_WORKSPACE"


def bundled_example() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "prism4d"


def resolve_root(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """``--workspace``, else $PIPELINE_WORKSPACE, else the nearest [workspace] above cwd, else the example."""
    for candidate, origin in ((explicit, "--workspace"), (os.environ.get(WORKSPACE_ENV) or None, WORKSPACE_ENV)):
        if candidate:
            path = Path(candidate).expanduser()
            if path.name == "Cargo.toml":
                path = path.parent
            if not (path / "Cargo.toml").is_file():
                raise UsageError(
                    f"{origin} {candidate}: no Cargo.toml there",
                    "point it at the directory holding the workspace's root Cargo.toml",
                )
            return path.resolve()
    found = find_workspace_root(cwd or Path.cwd())
    if found is not None:
        return found
    example = bundled_example()
    if (example / "Cargo.toml").is_file():
        return example
    raise UsageError(
        "no Cargo workspace found at or above the current directory",
        "run inside a Cargo workspace or pass --workspace PATH",
    )


@dataclass(frozen=True)
class Project:
    workspace: Workspace
    config: PipelineConfig

    @property
    def root(self) -> Path:
        return self.workspace.root

    @functools.cached_property
    def release(self) -> Adopted:
        """The release settings with cargo-release's configuration filling the keys not set in
        ``[workspace.metadata.pipeline.release]``, and the lines saying what was adopted. Read on
        first use (and said then, on stderr): only the release commands read (and can refuse)
        cargo-release's files."""
        from pipeline.foundation.output import log
        from pipeline.release.cargo_release import adopt

        raw = self.workspace.metadata.get("pipeline", {})
        raw = raw.get("release", {}) if isinstance(raw, Mapping) else {}
        adopted = adopt(self.workspace, self.config.release, raw if isinstance(raw, Mapping) else {})
        for line in adopted.lines:
            log(line)
        return adopted


def load_project(explicit: str | os.PathLike[str] | None = None) -> Project:
    workspace = load_workspace(resolve_root(explicit))
    return Project(workspace, load_config(workspace.metadata, workspace.manifest_path))
