"""``pipeline hooks install``: write the pre-push hook script into the repository's hooks directory.

Like pre-commit, the script records the interpreter it was installed with, so
the hook works without an activated virtual environment, and it says what to
do when that interpreter is gone. The checks themselves live in Python
(``pipeline hooks run``): the script only finds the interpreter and the
workspace.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import fs, git
from pipeline.foundation.errors import OperationFailed

HOOK_NAME = "pre-push"
MARKER = "# cargo-gpu-pipeline: pre-push hook installed by `pipeline hooks install`"
BACKUP_SUFFIX = ".pipeline-backup"


@dataclass(frozen=True)
class InstallResult:
    path: Path
    backup: Path | None
    replaced_own: bool


def hooks_dir(top: Path) -> Path:
    """The hooks directory git uses for this work tree (``core.hooksPath`` respected)."""
    return git.git_path(top, "hooks")


def render_script(python: str, workspace: str) -> str:
    """The hook script. ``workspace`` is relative to the repository top ("." for the top)."""
    python_q = shlex.quote(python)
    workspace_q = shlex.quote(workspace)
    return f"""#!/bin/sh
{MARKER}
# It checks only the crates a push affects (fmt, clippy, duplicates, generated CI, tests).
# Skip it once with `git push --no-verify`; remove it with `pipeline hooks uninstall`.
INSTALL_PYTHON={python_q}
WORKSPACE={workspace_q}
top=$(git rev-parse --show-toplevel) || exit 1
if [ -x "$INSTALL_PYTHON" ]; then
    # -P: the repository's top directory is not put on sys.path, so a pipeline.py (or pipeline/)
    # there cannot stand in for the installed tool.
    "$INSTALL_PYTHON" -P -m pipeline --workspace "$top/$WORKSPACE" hooks run "$@"
    status=$?
    if [ "$status" -eq 3 ]; then
        echo "hint: the push was stopped by an internal error of cargo-gpu-pipeline (the bug report is above); \
report it, and push with \\`git push --no-verify\\` if you choose to" >&2
    elif [ "$status" -ne 0 ] && ! "$INSTALL_PYTHON" -P -c "import pipeline.cli" 2>/dev/null; then
        echo "hint: cargo-gpu-pipeline is not importable by $INSTALL_PYTHON any more: reinstall it there \
(\\`pip install cargo-gpu-pipeline\\`) or run \\`pipeline hooks install --force\\` from where it is installed" >&2
    fi
    exit "$status"
fi
echo "error: the pre-push hook of cargo-gpu-pipeline was installed with $INSTALL_PYTHON, which no longer exists" >&2
echo "hint: from the environment where cargo-gpu-pipeline is installed, run \\`pipeline hooks install --force\\` \\
again (or \\`pip install cargo-gpu-pipeline\\` first); to push once without the checks, \\`git push --no-verify\\`" >&2
exit 1
"""


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _backup_path(hook: Path) -> Path:
    candidate = hook.with_name(hook.name + BACKUP_SUFFIX)
    n = 1
    while candidate.exists():
        candidate = hook.with_name(f"{hook.name}{BACKUP_SUFFIX}.{n}")
        n += 1
    return candidate


def _write_executable(path: Path, text: str) -> None:
    """Atomic write (the foundation's), executable: git runs only executable hooks."""
    fs.atomic_write_text(path, text, mode=0o755)


def install(workspace_root: Path, *, force: bool = False, python: str | None = None) -> InstallResult:
    top = git.toplevel(workspace_root)
    directory = hooks_dir(top)
    directory.mkdir(parents=True, exist_ok=True)
    hook = directory / HOOK_NAME
    workspace = os.path.relpath(os.path.realpath(workspace_root), top).replace(os.sep, "/")
    if workspace.startswith(".."):
        raise OperationFailed(
            f"workspace {workspace_root} is outside the git repository at {top}",
            "run `pipeline hooks install` with --workspace inside the repository",
        )
    text = render_script(python or sys.executable, workspace)
    backup = None
    replaced_own = False
    if hook.exists() or hook.is_symlink():
        if is_ours(hook):
            replaced_own = True
        elif not force:
            raise OperationFailed(
                f"{hook} already exists and was not written by cargo-gpu-pipeline; leaving it as it is",
                "run `pipeline hooks install --force` to replace it (the old hook is kept as "
                f"{hook.name}{BACKUP_SUFFIX}), or call `pipeline hooks run` from your own hook",
            )
        else:
            backup = _backup_path(hook)
            os.replace(hook, backup)
    try:
        _write_executable(hook, text)
    except BaseException as exc:
        if backup is not None:
            os.replace(backup, hook)  # never leave the repository without the hook it had
        if isinstance(exc, OSError):
            raise OperationFailed(
                f"could not write {hook}: {exc.strerror or exc}; the previous hook is unchanged",
                "check permissions and free space in the hooks directory",
            ) from exc
        raise
    return InstallResult(hook, backup, replaced_own)


def uninstall(workspace_root: Path) -> tuple[Path | None, Path | None]:
    """Remove our hook (only ours) and restore the newest backup; (removed, restored)."""
    top = git.toplevel(workspace_root)
    hook = hooks_dir(top) / HOOK_NAME
    if not hook.exists() or not is_ours(hook):
        return None, None
    hook.unlink()
    backups = sorted(hook.parent.glob(f"{HOOK_NAME}{BACKUP_SUFFIX}*"), key=lambda p: p.stat().st_mtime)
    if backups:
        os.replace(backups[-1], hook)
        return hook, backups[-1]
    return hook, None
