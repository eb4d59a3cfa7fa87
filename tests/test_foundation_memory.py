"""The collector policy: only a one-shot process (the CLI) freezes what it keeps to the end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = """
import gc, sys
from pipeline.foundation import memory
kept = [object() for _ in range(1000)]
if sys.argv[1] == "cli":
    memory.one_shot()
memory.settle()
print(gc.get_freeze_count())
"""


def _frozen(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, check=True, capture_output=True, text=True)
    return int(out.stdout)


def test_settle_freezes_only_in_a_one_shot_process() -> None:
    assert _frozen("library") == 0
    assert _frozen("cli") >= 1000


def test_the_cli_entry_point_is_a_one_shot_process() -> None:
    probe = ("import sys, gc\nfrom pipeline import cli\nsys.argv = ['pipeline', '--version']\n"
             "try:\n    cli.entry()\nexcept SystemExit:\n    pass\n"
             "from pipeline.foundation import memory\nprint(memory._one_shot)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
