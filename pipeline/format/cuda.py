"""``pipeline cuda --json``: the build result and its manifest."""

from __future__ import annotations

from typing import Any

from pipeline.cuda.build import BuildResult


def build_json(result: BuildResult) -> dict[str, Any]:
    return {
        "output_dir": str(result.output_dir),
        "manifest": str(result.manifest_path),
        "architectures": list(result.architectures.archs),
        "architectures_from": result.architectures.origin,
        "ptx": result.manifest.get("ptx"),
        # The configured toolkit version (None: unversioned) and the nvcc that built it.
        "toolkit": result.toolkit.version if result.toolkit else None,
        "nvcc": str(result.toolkit.nvcc) if result.toolkit else None,
        "jobs": result.jobs,
        "compiled": result.compiled,
        "cached": result.cached,
        "warnings": [w.render() for w in result.warnings],
        "seconds": round(result.seconds, 3),
        "kernels": result.manifest["kernels"],
    }
