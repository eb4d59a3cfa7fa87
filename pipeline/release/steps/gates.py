"""Step: the gate stages (`gates`) must pass before anything is written (skipped by --no-verify)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.foundation.errors import CheckFailed, UsageError
from pipeline.foundation.output import log
from pipeline.release.settings import OPTIONAL_GATES
from pipeline.release.steps import Release

NAME = "gates"


def wanted(release: Release) -> bool:
    return release.request.full and release.request.verify


def run(release: Release) -> Release:
    run_gates(release.facts.root, release.facts.settings.gates)
    return release


def run_gates(root: Path, gates: Sequence[str]) -> None:
    from pipeline import cli

    for stage in gates:
        if stage not in cli.COMMANDS:
            if stage in OPTIONAL_GATES:
                log(f"release: gate `{stage}` skipped: this installation has no `pipeline {stage}`")
                continue
            raise UsageError(f"release gate `{stage}` is not a pipeline command", "fix `gates` in the configuration")
        log(f"release: gate `{stage}`")
        # A gate's report is a log of the release: stdout stays for the plan (and --json).
        with contextlib.redirect_stdout(sys.stderr):
            code = cli.main([stage, "--workspace", str(root)])
        if code != 0:
            raise CheckFailed(
                f"release gate `{stage}` failed (exit {code}) in {root}; nothing was written",
                f"fix what `pipeline {stage}` reports, or pass --no-verify to skip the gates",
            )
