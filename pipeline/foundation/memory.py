"""The cycle collector and the large structures a command builds once and keeps to its end.

Reading a long history makes a hundred thousand small objects (commits, their file tuples)
that all stay alive until the command ends. Python's cycle collector would still walk them,
again at each of its older-generation passes and once more at exit: tens of milliseconds on
a 20,000-commit history, for nothing, since nothing among them is garbage.

A process that runs one command and exits (the CLI: :func:`one_shot`) freezes what is alive
at such points (:func:`settle`, ``gc.freeze``), so the collector leaves it alone. Anywhere else
(the tests, a tool importing the package) :func:`settle` changes nothing: freezing a host's
objects would keep its cyclic garbage forever.
"""

from __future__ import annotations

import gc

_one_shot = False


def one_shot() -> None:
    """Declare this process a single command run that exits when it is done (the CLI entry point)."""
    global _one_shot
    _one_shot = True


def settle() -> None:
    """What is alive now lives until the command ends: in a one-shot process, the collector stops walking it."""
    if _one_shot:
        gc.freeze()
