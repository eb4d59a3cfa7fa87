"""Output conventions: results on stdout (JSON when asked), logs on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
