"""The target workspace and its configuration, found the way DESIGN.md describes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PipelineConfig, load_config
from pipeline.foundation.errors import UsageError
from pipeline.workspace.load import find_workspace_root, load_workspace
from pipeline.workspace.model import Workspace

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


def load_project(explicit: str | os.PathLike[str] | None = None) -> Project:
    workspace = load_workspace(resolve_root(explicit))
    return Project(workspace, load_config(workspace.metadata, workspace.manifest_path))
