"""Configuration: defaults, types, unknown keys, and the README documenting every key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pipeline.commands.config import reference
from pipeline.foundation.config import documented_keys
from pipeline.foundation.errors import ConfigError
from pipeline.project import PipelineConfig, load_config
from pipeline.readme import render_reference_block


def test_defaults_for_every_key() -> None:
    config = load_config({}, Path("Cargo.toml"))
    assert config == PipelineConfig()
    assert config.features == () and config.all_features is False


def test_values_are_parsed_into_frozen_dataclasses() -> None:
    config = load_config({"pipeline": {"features": ["gpu", "onnx"], "lint": {"allow": ["edition-mismatch"]}}},
                         Path("Cargo.toml"))
    assert config.features == ("gpu", "onnx")
    assert config.lint.allow == ("edition-mismatch",)
    with pytest.raises(AttributeError):
        config.features = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"featurs": []}, "did you mean `features`?"),
        ({"lint": {"alow": []}}, "did you mean `allow`?"),
        ({"features": "gpu"}, "must be an array of strings"),
        ({"lint": []}, "must be a table"),
        ({"all-features": 1}, "must be a boolean"),
    ],
)
def test_bad_configuration_is_a_config_error(raw: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"pipeline": raw}, Path("Cargo.toml"))
    assert needle in info.value.render()


def test_every_key_is_documented() -> None:
    for key, _type, _default, doc in documented_keys(PipelineConfig):
        assert doc.strip(), f"{key} has no documentation"


def test_readme_reference_is_current() -> None:
    """The README's table is generated: run `python -m pipeline.readme` after adding a key."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert render_reference_block(readme, reference()) == readme


def test_readme_stage_table_is_the_registry() -> None:
    """The README's one table of stages and gate defaults equals the registry (`python -m pipeline.readme`)."""
    from pipeline.readme import STAGES_END, STAGES_START, stage_table
    from pipeline.stages import registry

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(STAGES_START) + len(STAGES_START):readme.index(STAGES_END)].strip()
    assert block == stage_table()
    rows = {line.split("|")[1].strip(" `"): line for line in block.splitlines()[2:]}
    assert list(rows) == list(registry.names())
    for stage in registry.stages():
        assert ("optional: skipped" in rows[stage.name]) == stage.optional
        assert rows[stage.name].split("|")[3].strip() == ("yes" if stage.gate else "no")
