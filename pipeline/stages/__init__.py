"""The stage model: the one registry of stages and the runner that executes them.

* ``registry``: the only list of stages (name, command, tools, inputs, runner kind, gate...).
  nox sessions, the pre-push hook, release gates and the CI job model are derived from it.
* ``runner``: runs a stage in this process and returns a structured :class:`~runner.Outcome`.
* ``cargo``: the argv of the cargo stages (fmt, clippy, test), pure.
* ``matrix``: feature sets for ``--each-feature`` / ``--feature-powerset``, pure.
* ``probes``: what a stage needs that may be missing (a tool, a database), checked before it runs.

Nothing here imports the command line: ``cli`` is the program's entry, not an API.
"""
