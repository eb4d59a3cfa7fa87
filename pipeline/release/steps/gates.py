"""Step: the gate stages (`gates`) must pass before anything is written (skipped by --no-verify)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.foundation.errors import CheckFailed
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.project import Project
from pipeline.release.steps import Release


@dataclass(frozen=True)
class Gates:
    """The gates step, bound to the assembled project the stage runner runs each stage on."""

    project: Project
    NAME = "gates"  # a class attribute, not a field

    def wanted(self, release: Release) -> bool:
        return release.request.full and release.request.verify

    def run(self, release: Release) -> Release:
        settings = release.facts.settings
        require = release.request.require_gates or settings.require_gates
        outcomes = run_gates(self.project, settings.gates, require=require)
        return dataclasses.replace(release, gates=tuple(outcomes))


def run_gates(project: Project, gates: Sequence[str], *, require: bool = False) -> list[dict[str, Any]]:
    """Run the release gates in order through the stage runner; the first failure stops the release.

    Prints one line per gate; their output goes to stderr (stdout is the plan's, or --json's).
    An optional gate whose tool or data is missing is skipped unless ``require``.
    """
    from pipeline.stages import runner

    root = project.root
    outcomes = []
    # The gate lines are printed here; the reporter adds the heartbeat while a gate without
    # a reporter of its own (audit, lint) runs.
    with Progress("release gates", len(gates), lines=False) as progress:
        for index, stage in enumerate(gates, 1):
            log(f"release: gate [{index}/{len(gates)}] {stage} ...")
            progress.started(stage)
            outcome = runner.run_stage(stage, project, required=True if require else None)
            progress.finished(stage, ok=outcome.ok)
            log(f"release: gate {stage}: {outcome.line()}")
            outcomes.append(outcome.to_json())
            if not outcome.ok:
                raise CheckFailed(
                    f"release gate `{stage}` failed in {root}; nothing was written\n{outcome.detail}",
                    (f"{outcome.hint}; " if outcome.hint else "") + "or pass --no-verify to skip the gates",
                )
    return outcomes
