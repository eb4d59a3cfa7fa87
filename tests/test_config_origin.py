"""`pipeline config`: valid TOML that loads back into the same configuration, each value's origin named."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pipeline.configview import key_lines, render
from pipeline.project import load_config, load_project


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _comment(out: str, key_line: str) -> str:
    for line in out.splitlines():
        if line.startswith(key_line):
            return line.rsplit("#", 1)[1].strip()
    raise AssertionError(f"{key_line!r} not in output")


def test_config_prints_toml_that_round_trips_with_origins(example_copy, run_cli):
    result = run_cli("config", "--workspace", str(example_copy))
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)  # valid TOML, not Python reprs
    again = load_config(data["workspace"]["metadata"], example_copy / "Cargo.toml")
    assert again == load_project(example_copy).config
    manifest = example_copy / "Cargo.toml"
    assert _comment(result.stdout, "tag-prefix = ") == f"Cargo.toml:{_line_of(manifest, 'tag-prefix = ')}"
    assert _comment(result.stdout, "pip-install = ") == f"Cargo.toml:{_line_of(manifest, 'pip-install = ')}"
    assert _comment(result.stdout, "engine = ") == "default"
    assert _comment(result.stdout, "max-age-days = ") == "default"
    # Array-of-tables entries: each entry's keys point at their own lines, unset ones are defaults.
    pylint = _line_of(manifest, 'name = "pylint"')
    assert f'name = "pylint"  # Cargo.toml:{pylint}' in result.stdout
    assert "release-gate = false  # default" in result.stdout


def test_environment_overrides_are_shown_with_their_variable(example_copy, run_cli):
    result = run_cli("config", "--workspace", str(example_copy), env={"PIPELINE_CUDA_CACHE": "/srv/cuda-cache"})
    assert result.returncode == 0, result.stderr
    assert 'cache-dir = "/srv/cuda-cache"  # environment $PIPELINE_CUDA_CACHE' in result.stdout
    assert tomllib.loads(result.stdout)["workspace"]["metadata"]["pipeline"]["cuda"]["cache-dir"] == "/srv/cuda-cache"


def test_json_carries_the_origins(example_copy, run_cli):
    import json

    result = run_cli("config", "--json", "--workspace", str(example_copy))
    origins = json.loads(result.stdout)["origins"]
    assert origins["dupes.multiple-versions"].startswith("Cargo.toml:")
    assert origins["audit.engine"] == "default"
    assert origins["ci.extra-sessions[1].name"] == f"Cargo.toml:{_line_of(example_copy / 'Cargo.toml', 'pylint')}"


MANIFEST = '''\
[workspace]
members = []

[workspace.metadata]
pipeline.ci.toolchain = "1.85"   # dotted keys under a parent table
pipeline.ci.cpu-runner = [
    "ubuntu-24.04",
    # gpu = "not a key: inside an array"
]

[workspace.metadata.pipeline.release]
gates = ["fmt"]
changelog = """
not = "a key either"
"""

[workspace.metadata.pipeline.ci.pins]
"actions/checkout" = { sha = "0123456789abcdef0123456789abcdef01234567", version = "v4.2.2" }

[[workspace.metadata.pipeline.dupes.skip]]
name = "syn"

[[workspace.metadata.pipeline.dupes.skip]]
name = "bitflags"
version = "1"
'''


def test_key_lines_follow_dotted_keys_arrays_strings_and_table_arrays():
    lines = key_lines(MANIFEST)
    p = ("workspace", "metadata", "pipeline")
    assert lines[(*p, "ci", "toolchain")] == 5
    assert lines[(*p, "ci", "cpu-runner")] == 6
    assert (*p, "release", "not") not in lines and ("gpu",) not in lines
    assert lines[(*p, "release", "gates")] == 12
    assert lines[(*p, "ci", "pins", "actions/checkout")] == 18
    assert lines[(*p, "dupes", "skip", 0, "name")] == 21
    assert lines[(*p, "dupes", "skip", 1, "version")] == 25


def test_render_round_trips_quoted_keys_and_strings(tmp_path):
    manifest = tmp_path / "Cargo.toml"
    multiline = 'changelog = """\nnot = "a key either"\n"""'
    manifest.write_text(MANIFEST.replace(multiline, 'changelog = "docs/CHANGES \\"x\\".md"'))
    config = load_config(tomllib.loads(manifest.read_text())["workspace"]["metadata"], manifest)
    out = render(config, manifest.read_text(), "Cargo.toml", {})
    assert load_config(tomllib.loads(out)["workspace"]["metadata"], manifest) == config
    # A quoted key inside an inline table; the table is one value with one origin (its header's key line).
    assert re.search(r'^pins = \{ "actions/checkout" = \{ sha = "[0-9a-f]{40}", version = "v4.2.2" \} \}  '
                     rf'# Cargo.toml:{_line_of(manifest, "actions/checkout")}$', out, re.MULTILINE)
    assert '"docs/CHANGES \\"x\\".md"' in out
    assert 'toolchain = "1.85"  # Cargo.toml:5' in out
