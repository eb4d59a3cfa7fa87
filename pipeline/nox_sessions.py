"""The stage sessions, for any workspace's noxfile: ``import pipeline.nox_sessions``.

One session per stage of ``pipeline.stages.registry`` (and per task there: release,
affected, hooks), registered when this module is imported. Sessions use no virtualenv
(``venv_backend="none"``): they only drive cargo, nvcc and git, and they run the
pipeline command in-process through the stage runner, so a session costs one
interpreter start. Arguments after ``--`` pass through:
``nox -s fmt -- --fix``, ``nox -s release -- minor --execute``.

A bare ``nox`` runs the sessions the registry marks as default (the cheap checks); the
sessions that write files, need a GPU or an advisory database, or plan a release run only
when named with ``-s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import nox

from pipeline.foundation.errors import PipelineError
from pipeline.stages import registry, runner


def run_command(session: nox.Session, command: str, module: str, args: Sequence[str],
                bare_args: Sequence[str] = ()) -> None:
    """Run ``pipeline COMMAND ARGS... POSARGS...`` in this process; a failure fails the session.

    A bug (an unexpected exception) is not caught: nox reports it with its traceback.
    """
    argv = [*args, *(session.posargs or bare_args)]
    session.log("pipeline " + " ".join([command, *argv]))
    try:
        code = runner.invoke(command, module, argv, workspace=None)
    except PipelineError as exc:
        session.error(exc.render())
    if code != 0:
        session.error(f"`pipeline {' '.join([command, *argv])}` exited with code {code}")


def _session(name: str, command: str, module: str, spec: registry.NoxSession,
             args: Sequence[str]) -> Callable[..., None]:
    def session(session: nox.Session) -> None:
        run_command(session, command, module, [*args, *spec.args], spec.bare_args)

    session.__doc__ = spec.doc
    session.__name__ = session.__qualname__ = name
    return session


def register() -> list[str]:
    """Register the sessions the registry describes (at call time); returns their names."""
    done = []
    for stage in registry.stages():
        name = stage.session_name
        if stage.session is not None and name is not None:
            func = _session(name, stage.command, stage.module, stage.session, stage.args)
            nox.session(func, name=name, venv_backend="none", default=stage.session.default)
            done.append(name)
    for task in registry.TASKS:
        func = _session(task.session_name, task.command, task.module, task.session, ())
        nox.session(func, name=task.session_name, venv_backend="none", default=task.session.default)
        done.append(task.session_name)
    return done


register()
