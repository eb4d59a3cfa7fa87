"""Workspace-level configuration: the cargo features the cargo stages enable, and `[pipeline.lint]`.

The feature keys sit at the top of ``[workspace.metadata.pipeline]`` (``features``,
``all-features``, ``no-default-features``): :class:`FeatureSettings` is the base the
composition root (``pipeline/project.py``) builds the whole table on, so every module
that only needs the feature selection takes a ``FeatureSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.foundation.config import setting


@dataclass(frozen=True)
class FeatureSettings:
    """The cargo features clippy and test run with (top-level keys)."""

    features: tuple[str, ...] = setting(
        factory=tuple, doc="cargo features enabled for the clippy and test stages (`--features`)"
    )
    all_features: bool = setting(False, doc="run clippy and test with `--all-features`")
    no_default_features: bool = setting(False, doc="run clippy and test with `--no-default-features`")


@dataclass(frozen=True)
class LintSettings:
    allow: tuple[str, ...] = setting(
        factory=tuple,
        doc="lint rule ids to skip (e.g. `wildcard-requirement`); `pipeline lint --list` shows them",
    )
