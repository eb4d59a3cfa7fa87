"""Errors the pipeline raises on purpose.

Only ``pipeline.cli`` turns them into exit codes: every class carries the code
it maps to, a message that names the file, crate or command at fault, and a
hint that says what to do about it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class PipelineError(Exception):
    """Base class: an expected failure with a message and a hint."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(PipelineError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class ConfigError(PipelineError):
    """``[workspace.metadata.pipeline]`` or another configuration value is wrong."""

    exit_code = EXIT_USAGE


class ManifestError(PipelineError):
    """A Cargo manifest or lockfile is malformed or describes an impossible workspace."""

    exit_code = EXIT_USAGE


class CheckFailed(PipelineError):
    """A check ran and found problems (lint findings, stale files, advisories...)."""

    exit_code = EXIT_FAILED


class OperationFailed(PipelineError):
    """An operation could not complete (dirty tree, existing tag, write failure...)."""

    exit_code = EXIT_FAILED


class ToolMissing(PipelineError):
    """A required external tool is not installed or not on PATH."""

    exit_code = EXIT_FAILED

    def __init__(self, tool: str, hint: str) -> None:
        super().__init__(f"`{tool}` was not found on PATH", hint)
        self.tool = tool


class CommandFailed(PipelineError):
    """An external command exited non-zero."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        argv: list[str],
        returncode: int,
        stderr_tail: str = "",
        hint: str | None = None,
    ) -> None:
        shown = " ".join(argv)
        message = f"`{shown}` exited with code {returncode}"
        if stderr_tail.strip():
            message += "\n" + stderr_tail.rstrip()
        super().__init__(message, hint)
        self.argv = argv
        self.returncode = returncode
        self.stderr_tail = stderr_tail
