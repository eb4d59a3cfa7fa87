"""Probes for what a stage needs beyond programs on PATH (named by ``Need.probe`` in the registry).

Each takes the project and returns why the need is missing, or None when it is met (or
when the project's configuration does not need it). Probes only look: they never install,
fetch or build anything.
"""

from __future__ import annotations

import shutil
from typing import Any


def nvcc(project: Any) -> str | None:
    from pipeline.cuda.toolkit import find_cuda_tool
    from pipeline.foundation.errors import ToolMissing

    try:
        find_cuda_tool("nvcc")
    except ToolMissing:
        return "nvcc not installed"
    return None


def lockfile(project: Any) -> str | None:
    path = project.root / "Cargo.lock"
    return None if path.is_file() else f"no Cargo.lock in {project.root}"


def pip_audit(project: Any) -> str | None:
    from pipeline.deps import pyaudit

    if not project.config.audit.python or pyaudit.pip_audit_available():
        return None
    return "pip-audit not installed"


def advisory_db(project: Any) -> str | None:
    from pipeline.deps.rustaudit import database_path

    settings = project.config.audit
    if settings.engine == "cargo-deny":
        return None  # cargo-deny reads its own database (deny.toml)
    db, origin = database_path(project.root, None, settings)
    return None if db.is_dir() else f"no RustSec advisory database at {db} ({origin})"


def audit_engine(project: Any) -> str | None:
    engine = project.config.audit.engine
    if engine == "builtin" or shutil.which(engine):
        return None
    return f"{engine} not installed"
