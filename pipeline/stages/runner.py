"""The runner: execute a stage in this process and return what happened.

A stage runs its pipeline command (``Stage.command`` in ``Stage.module``) through the
command module's own ``add_arguments``/``run``, never re-entering the command line: errors keep
their class, so a bug inside a stage (an unexpected exception) reaches ``cli`` and exits
3 with its traceback instead of reading as a failed check. While it runs, everything the
stage and its child tools write to stdout goes to stderr, so a caller printing one JSON
document (``release --execute --json``) keeps stdout to itself.

Outcomes:

* ``passed``;
* ``failed`` with the finding (the error's message and hint), for an error of exit code 1
  (a check that found problems, a tool that failed, a missing need of a required stage);
* ``skipped`` with the reason, when something the stage needs is missing and it may be skipped.

Usage and configuration errors (exit 2) are not outcomes: they propagate, like bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.foundation.errors import EXIT_FAILED, PipelineError, ToolMissing, UsageError
from pipeline.stages import registry
from pipeline.stages.registry import Need, Stage

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Outcome:
    stage: str
    status: Status
    seconds: float = 0.0
    detail: str = ""  # failed: the finding; skipped: the reason
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def line(self) -> str:
        """``passed (1.2 s)``, ``skipped: pip-audit not installed``, ``failed: ...`` (first line of the finding)."""
        if self.status == "passed":
            return f"passed ({self.seconds:.1f} s)"
        first = self.detail.splitlines()[0] if self.detail else ""
        return f"{self.status}: {first}" if first else self.status

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "seconds": round(self.seconds, 3),
                "detail": self.detail, "hint": self.hint}


def _probe(spec: str) -> Callable[[Any], str | None]:
    module_name, _, function = spec.partition(":")
    probe: Callable[[Any], str | None] = getattr(importlib.import_module(module_name), function)
    return probe


def missing(stage: Stage, project: Any) -> list[tuple[Need, str]]:
    """The needs of ``stage`` this machine (and the project's configuration) leaves unmet, with the reason."""
    gaps = []
    for need in stage.needs:
        if need.probe:
            reason = _probe(need.probe)(project)
        else:
            reason = None if shutil.which(need.name) else f"{need.name} not installed"
        if reason:
            gaps.append((need, reason))
    return gaps


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", f"run `{self.prog} --help` for usage")


def invoke(command: str, module_name: str, argv: Sequence[str], *, workspace: str | None) -> int:
    """Run ``pipeline COMMAND ARGV`` through its command module, in this process; errors propagate."""
    module = importlib.import_module(module_name)
    parser = _Parser(prog=f"pipeline {command}")
    parser.add_argument("--workspace", metavar="PATH", default=workspace)
    module.add_arguments(parser, command)
    args = parser.parse_args(list(argv))
    args.command = command
    return int(module.run(args))


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send this process's stdout, and that of the tools it starts, to stderr."""
    sys.stdout.flush()
    saved: int | None = None
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no fd 1 or 2 (a daemon, a closed stream): Python-level redirection still holds
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def run_stage(stage: Stage | str, project: Any, *, args: Sequence[str] = (), required: bool | None = None,
              quiet: bool = True) -> Outcome:
    """Run ``stage`` on ``project`` (``args`` after its own); ``required``: default ``not stage.optional``."""
    if isinstance(stage, str):
        stage = registry.get(stage)
    must = (not stage.optional) if required is None else required
    started = time.perf_counter()
    gaps = missing(stage, project)
    if gaps:
        reasons = "; ".join(reason for _need, reason in gaps)
        if not must:
            return Outcome(stage.name, "skipped", 0.0, reasons)
        return Outcome(stage.name, "failed", 0.0, reasons, "; ".join(need.hint for need, _ in gaps))
    argv = [*stage.args, *args]
    try:
        with stdout_to_stderr() if quiet else contextlib.nullcontext():
            code = invoke(stage.command, stage.module, argv, workspace=str(project.root))
    except ToolMissing as exc:
        if not must:
            return Outcome(stage.name, "skipped", time.perf_counter() - started, f"{exc.tool} not installed")
        return Outcome(stage.name, "failed", time.perf_counter() - started, exc.message, exc.hint or "")
    except PipelineError as exc:
        if exc.exit_code != EXIT_FAILED:
            raise
        return Outcome(stage.name, "failed", time.perf_counter() - started, exc.message, exc.hint or stage.hint)
    seconds = time.perf_counter() - started
    if code != 0:
        shown = " ".join(["pipeline", stage.command, *argv])
        return Outcome(stage.name, "failed", seconds, f"`{shown}` exited with code {code}", stage.hint)
    return Outcome(stage.name, "passed", seconds)
