"""Nothing to build by hand: metadata and package data (the CI templates) live in pyproject.toml.

Kept so tools that still call ``setup.py`` directly find the project.
"""

from setuptools import setup

setup()
