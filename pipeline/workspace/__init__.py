"""Cargo workspace model: manifests, members, dependency graph, versions."""

from pipeline.workspace.load import find_workspace_root, load_workspace
from pipeline.workspace.model import Dependency, DepKind, Package, Workspace

__all__ = ["DepKind", "Dependency", "Package", "Workspace", "find_workspace_root", "load_workspace"]
