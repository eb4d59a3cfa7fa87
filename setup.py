"""Build hook: ship the top-level `templates/` inside the wheel as `pipeline/templates/`.

Metadata lives in pyproject.toml. The templates stay at the repository's top
level (where people look for them); this copies them into the built package so
an installed wheel renders CI files without the source tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        source = ROOT / "templates"
        if source.is_dir():
            target = Path(self.build_lib) / "pipeline" / "templates"
            target.mkdir(parents=True, exist_ok=True)
            for template in sorted(source.glob("*.j2")):
                shutil.copy2(template, target / template.name)


setup(cmdclass={"build_py": BuildPyWithTemplates})
