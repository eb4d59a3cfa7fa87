"""``pipeline workspace --json``: the workspace model as its documented JSON shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.foundation import fs
from pipeline.workspace.model import Workspace


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    """The stable JSON shape of ``pipeline workspace --json`` (documented in the README)."""

    def rel(path: Path | None) -> str | None:
        return None if path is None else fs.relative(path, workspace.root)

    reverse = workspace.reverse_dependencies()
    return {
        "root": str(workspace.root),
        "version": workspace.version,
        "virtual": workspace.virtual,
        "members": [
            {
                "name": p.name,
                "version": p.version,
                "version_inherited": p.version_inherited,
                "manifest_path": rel(p.manifest_path),
                "publish": p.publish,
                "edition": p.edition,
                "features": {k: list(v) for k, v in p.features.items()},
                "dependencies": [
                    {
                        "key": d.key,
                        "name": d.name,
                        "kind": d.kind.value,
                        "target": d.target,
                        "requirement": d.requirement,
                        "path": rel(d.path),
                        "workspace": d.workspace,
                        "optional": d.optional,
                        "member": d.member,
                        "external_path": d.external_path,
                        "patched": d.patched,
                    }
                    for d in p.dependencies
                ],
                "dependents": list(reverse[p.name]),
            }
            for p in workspace.members
        ],
        "excluded": [rel(p) for p in workspace.excluded],
        "order": list(workspace.topological_order()),
    }
