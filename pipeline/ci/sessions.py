"""``ci.extra-sessions`` checked against the target's noxfile when CI files are generated.

A generated job running a session the noxfile does not define fails in CI with nox's
"Sessions not found"; asking ``nox -l --json`` finds it before anything is written. A
keyword expression that every name matches (``-k "not ..."``) makes nox list every session,
whatever ``nox.options.sessions`` or ``default=False`` leave out of a bare ``nox``. Without nox or
without the noxfile the check cannot run: it says so and why, and generation goes on.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.ci.settings import CiSettings
from pipeline.foundation import proc
from pipeline.foundation.errors import ConfigError

_NO_SESSION = "__no_such_session__"


@dataclass(frozen=True)
class SessionCheck:
    checked: bool
    sessions: tuple[str, ...] = ()  # what the noxfile defines (when checked)
    reason: str = ""  # why the check was skipped


def _nox_argv() -> list[str] | None:
    if importlib.util.find_spec("nox") is not None:
        return [sys.executable, "-m", "nox"]
    found = shutil.which("nox")
    return [found] if found else None


def list_sessions(noxfile: Path) -> SessionCheck:
    """The sessions ``noxfile`` defines, or why they cannot be listed."""
    if not noxfile.is_file():
        return SessionCheck(False, reason=f"no noxfile at {noxfile}")
    argv = _nox_argv()
    if argv is None:
        return SessionCheck(False, reason="nox is not installed")
    listing = [*argv, "-f", str(noxfile), "-l", "--json", "-k", f"not {_NO_SESSION}"]
    result = proc.run(listing, cwd=noxfile.parent, check=False)
    if result.returncode != 0:
        return SessionCheck(False, reason=f"`nox -l` failed on {noxfile}: {proc.tail(result.stderr, 3)}")
    try:
        listed = json.loads(result.stdout)
        names = tuple(dict.fromkeys(str(entry["name"]) for entry in listed))
    except (ValueError, KeyError, TypeError):
        return SessionCheck(False, reason=f"`nox -l --json` printed no session list for {noxfile}")
    return SessionCheck(True, names)


def check_extra_sessions(settings: CiSettings, repo_root: Path, config_file: Path,
                         lister: Sequence[str] | None = None) -> SessionCheck | None:
    """Refuse an extra session the noxfile lacks (ConfigError, exit 2); None when there are none to check.

    ``lister``: the sessions, when the caller already knows them (tests).
    """
    if not settings.extra_sessions:
        return None
    noxfile = repo_root / settings.noxfile
    check = SessionCheck(True, tuple(lister)) if lister is not None else list_sessions(noxfile)
    if not check.checked:
        return check
    for extra in settings.extra_sessions:
        if extra.nox_session not in check.sessions:
            raise ConfigError(
                f"{config_file}: `ci.extra-sessions` job `{extra.name}` runs nox session `{extra.nox_session}`, "
                f"which {noxfile} does not define",
                "available sessions: " + (", ".join(check.sessions) or "none")
                + "; fix `session` (or `name`) in [[workspace.metadata.pipeline.ci.extra-sessions]]",
            )
    return check
