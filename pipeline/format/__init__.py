"""The ``--json`` shapes of results, kept apart from the models they describe (as pip-audit's ``_format/``).

One module per area, each a pure function from a model or result to JSON-ready
data (dicts, lists, strings, numbers); the commands hand that to
:func:`pipeline.foundation.output.emit_json`. The shapes are documented in the
README and docs/, so a change here is a change of the CLI contract.

- :mod:`pipeline.format.workspace`: ``pipeline workspace --json``
- :mod:`pipeline.format.cuda`: ``pipeline cuda --json``
"""
