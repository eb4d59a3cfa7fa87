"""Output conventions: results on stdout (JSON when asked), logs on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(data: Any) -> None:
    # One line, through the C encoder (an indented dump is several times slower on
    # large workspaces); pipe through `python -m json.tool` or `jq` to read it.
    sys.stdout.write(json.dumps(data) + "\n")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
