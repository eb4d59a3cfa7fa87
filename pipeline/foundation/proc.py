"""The one subprocess wrapper.

Every external tool (cargo, git CLI, nvcc, ptxas, pip-audit...) is started
through :func:`run`: argv lists only, never a shell. A failure raises
:class:`~pipeline.foundation.errors.CommandFailed` carrying the argv, the exit code and
the tail of stderr; a missing tool raises :class:`~pipeline.foundation.errors.ToolMissing`
with an install hint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation.errors import CommandFailed, OperationFailed, ToolMissing

STDERR_TAIL_LINES = 20

INSTALL_HINTS: dict[str, str] = {
    "cargo": "install Rust with rustup (https://rustup.rs) and make sure ~/.cargo/bin is on PATH",
    "rustc": "install Rust with rustup (https://rustup.rs)",
    "rustfmt": "run `rustup component add rustfmt`",
    "cargo-fmt": "run `rustup component add rustfmt`",
    "cargo-clippy": "run `rustup component add clippy`",
    "clippy-driver": "run `rustup component add clippy`",
    "git": "install git (e.g. `apt-get install git`)",
    "nvcc": "install the CUDA toolkit and set CUDA_HOME, or put nvcc on PATH",
    "pip-audit": "install the audit extra: `pip install 'cargo-gpu-pipeline[audit]'`",
}


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def find_tool(tool: str, hint: str | None = None, extra_dirs: Sequence[Path] = ()) -> str:
    """Absolute path of ``tool`` from PATH (then ``extra_dirs``), or ToolMissing."""
    found = shutil.which(tool)
    if found is None:
        for directory in extra_dirs:
            candidate = shutil.which(tool, path=str(directory))
            if candidate is not None:
                return candidate
        raise ToolMissing(tool, hint or INSTALL_HINTS.get(tool, f"install `{tool}` and put it on PATH"))
    return found


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
    stdin_text: str | None = None,
    timeout: float | None = None,
    hint: str | None = None,
    keep_stdout: bool = True,
) -> Result:
    """Run ``argv`` and return its result.

    ``capture=False`` lets the tool write straight to the terminal (cargo's own
    progress bars and colours); its output is then not in the result.
    ``keep_stdout=False`` sends stdout to /dev/null (stderr is still captured): for a
    check whose output nobody reads (`cargo metadata` prints a megabyte of JSON for 500
    crates, which would otherwise be piped, read and decoded for nothing).
    ``env`` entries are added to (not substituted for) the current environment.
    """
    args = [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("run() needs a command")
    program = args[0]
    if os.sep not in program:
        args[0] = find_tool(program)
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        completed = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            input=stdin_text,
            text=True,
            # Tools print what they find: a file name or source line that is not UTF-8
            # must not turn into a traceback (git diff -z, nvcc diagnostics...).
            errors="replace",
            stdout=(subprocess.PIPE if keep_stdout else subprocess.DEVNULL) if capture else None,
            stderr=subprocess.PIPE if capture else None,
            stdin=None if stdin_text is not None else subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissing(program, hint or INSTALL_HINTS.get(program, f"install `{program}`")) from exc
    except OSError as exc:  # not executable, not a program (ENOEXEC), cwd unusable: say which, no traceback
        raise OperationFailed(
            f"`{program}` could not be started: {exc.strerror or exc}",
            hint or "check that it is an executable file (`chmod +x`, a `#!` line) and that the directory exists",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed([program, *args[1:]], -1, f"timed out after {timeout} s", hint) from exc
    result = Result(
        argv=(program, *args[1:]),
        returncode=completed.returncode,
        stdout=completed.stdout or "",
        stderr=completed.stderr or "",
    )
    if check and completed.returncode != 0:
        raise CommandFailed(list(result.argv), completed.returncode, tail(result.stderr or result.stdout), hint)
    return result


def stream(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    hint: str | None = None,
    chunk: int = 1 << 16,
) -> Iterator[str]:
    """Run ``argv`` and yield its stdout as text while it runs (long `git log` output parsed
    as it arrives). A failure raises :class:`CommandFailed` once the output is consumed.
    ``env`` entries are added to the current environment, as for :func:`run`."""
    import codecs
    import tempfile

    args = [os.fspath(a) for a in argv]
    program = args[0]
    if os.sep not in program:
        args[0] = find_tool(program)
    # stderr to a file: a pipe nobody reads could fill up and stall the tool.
    with tempfile.TemporaryFile() as errors:
        try:
            child = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=errors,
                                     env=None if env is None else {**os.environ, **env},
                                     stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise ToolMissing(program, hint or INSTALL_HINTS.get(program, f"install `{program}`")) from exc
        except OSError as exc:
            raise OperationFailed(f"`{program}` could not be started: {exc.strerror or exc}",
                                  hint or "check that it is an executable file") from exc
        assert child.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                data = os.read(child.stdout.fileno(), chunk)
                if not data:
                    break
                yield decoder.decode(data)
            rest = decoder.decode(b"", final=True)
            if rest:
                yield rest
        finally:
            child.stdout.close()
            code = child.wait()
        if code != 0:
            errors.seek(0)
            text = errors.read().decode("utf-8", errors="replace")
            raise CommandFailed([program, *args[1:]], code, tail(text), hint)


def stream_lines(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    hint: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """:func:`stream`, one complete line at a time (cargo's ``--message-format=json`` messages).

    ``env`` entries are added to the current environment, as in :func:`run`."""
    pending = ""
    for chunk in stream(argv, cwd=cwd, hint=hint, env=env):
        pending += chunk
        *lines, pending = pending.split("\n")
        yield from lines
    if pending:
        yield pending
