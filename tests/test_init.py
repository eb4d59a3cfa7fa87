"""`pipeline init`: detects branch, tag scheme, kernels and GPUs; dry run shows the diff; --execute writes
the configuration block, noxfile.py and .gitignore entries; a second run changes nothing."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from pipeline.adopt.detect import tag_scheme
from pipeline.project import load_config


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                           "-c", "tag.gpgsign=false", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout


def _adopter(example_copy: Path, *, branch: str = "master", tags: tuple[str, ...] = ("0.4.1", "0.4.2"),
             kernels: bool = True) -> Path:
    """The example as a team's repository before adoption: no pipeline configuration, its own history."""
    manifest = example_copy / "Cargo.toml"
    text = manifest.read_text()
    text = text[: text.index("[workspace.metadata.pipeline]")] + text[text.index("[profile.dev]"):]
    manifest.write_text(text[: text.index("[workspace.metadata.pipeline.ci]")])
    if not kernels:
        for cu in example_copy.rglob("*.cu"):
            cu.unlink()
    _git(example_copy, "init", "-q", "-b", branch)
    _git(example_copy, "add", "-A")
    _git(example_copy, "commit", "-qm", "initial")
    for tag in tags:
        _git(example_copy, "tag", tag)
    return example_copy


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "Cargo.toml", root / ".gitignore", root / "noxfile.py")
            if p.exists()}


def test_dry_run_then_execute_then_nothing_left_to_do(example_copy: Path, run_cli) -> None:
    root = _adopter(example_copy)
    before = _snapshot(root)
    dry = run_cli("init", cwd=root)
    assert dry.returncode == 0, dry.stderr
    assert _snapshot(root) == before  # a dry run writes nothing
    assert "+++ b/Cargo.toml" in dry.stdout and "+++ b/noxfile.py" in dry.stdout and "+dist/" in dry.stdout
    assert "default branch from local branch `master`" in dry.stderr

    done = run_cli("init", "--execute", cwd=root)
    assert done.returncode == 0, done.stderr
    manifest = (root / "Cargo.toml").read_bytes()
    assert manifest.startswith(before["Cargo.toml"])  # every byte the user wrote is kept
    config = load_config(tomllib.loads(manifest.decode())["workspace"]["metadata"], root / "Cargo.toml")
    assert config.ci.default_branch == "master"
    assert (config.release.shared_tag, config.release.tag_prefix) == ("{version}", "")  # bare 0.4.2 tags
    assert config.ci.cuda_archs == ("sm_80", "sm_90") and "cuda" in config.ci.stages
    ignored = (root / ".gitignore").read_text().splitlines()
    assert ignored[0] == "/target" and {"dist/", ".nox/", ".pipeline-venv/"} <= set(ignored)
    assert "import pipeline.nox_sessions" in (root / "noxfile.py").read_text()

    after = _snapshot(root)
    again = run_cli("init", "--execute", cwd=root)
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout and "+++" not in again.stdout
    assert _snapshot(root) == after
    # The tool reads the result: the release plan follows the bare tags.
    plan = run_cli("release", "patch", "--allow-dirty", cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "0.4.3" in plan.stdout


def test_no_kernels_means_no_cuda_or_gpu_stages(example_copy: Path, run_cli) -> None:
    root = _adopter(example_copy, branch="main", tags=("v0.4.2",), kernels=False)
    assert run_cli("init", "--execute", "--workspace", str(root)).returncode == 0
    config = load_config(tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["metadata"], root)
    assert not {"cuda", "gpu_smoke", "gpu_test"} & set(config.ci.stages)
    assert config.release.shared_tag == "v{version}"
    assert config.ci.default_branch == "main"


def test_existing_settings_and_noxfile_are_kept(example_copy: Path, run_cli) -> None:
    root = _adopter(example_copy)
    with (root / "Cargo.toml").open("a") as f:
        f.write('\n[workspace.metadata.pipeline.ci]\ndefault-branch = "trunk"  # ours\n')
    (root / "noxfile.py").write_text("import nox\n")
    result = run_cli("init", "--execute", cwd=root)
    assert result.returncode == 0, result.stderr
    text = (root / "Cargo.toml").read_text()
    assert 'default-branch = "trunk"  # ours' in text and "default-branch = \"master\"" not in text
    assert 'shared-tag = "{version}"' in text  # what was missing is added
    assert (root / "noxfile.py").read_text() == "import nox\n"
    assert "add `import pipeline.nox_sessions`" in result.stderr


def test_hook_is_installed_with_execute(example_copy: Path, run_cli) -> None:
    root = _adopter(example_copy)
    assert run_cli("init", "--execute", "--hook", cwd=root).returncode == 0
    hook = root / ".git" / "hooks" / "pre-push"
    assert hook.is_file() and "pipeline" in hook.read_text()


def test_init_outside_a_workspace_refuses(tmp_path: Path, run_cli) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 2
    assert "no Cargo workspace" in result.stderr and "hint:" in result.stderr


@pytest.mark.parametrize(("tags", "expected"), [
    (["v0.1.0", "v0.2.0", "v0.2.1-rc.1"], ("", "v{version}")),
    (["0.10.0", "0.11.0"], ("", "{version}")),
    (["prism4d-v0.4.2", "prism4d-v0.4.1", "v0.0.1"], ("prism4d-", "v{version}")),
    (["release-candidate", "nightly"], None),
])
def test_tag_scheme_from_existing_tags(tags, expected):
    scheme = tag_scheme(tags)
    assert (None if scheme is None else (scheme.prefix, scheme.shared)) == expected


def test_added_keys_go_after_the_tables_own_keys_and_notes_follow_the_configuration(example_copy: Path,
                                                                                     run_cli) -> None:
    """A key added to a table lands after its last key, not under the comment of the table that follows."""
    root = _adopter(example_copy)
    with (root / "Cargo.toml").open("a") as f:
        f.write('\n[workspace.metadata.pipeline.ci]\npip-install = ["cargo-gpu-pipeline==0.1.0"]\n\n'
                "# our own lint session\n[[workspace.metadata.pipeline.ci.extra-sessions]]\nname = \"pylint\"\n")
    (root / "noxfile.py").write_text("import nox\nimport pipeline.nox_sessions\n\n@nox.session\ndef pylint(s):\n"
                                     "    pass\n")
    result = run_cli("init", "--execute", cwd=root)
    assert result.returncode == 0, result.stderr
    text = (root / "Cargo.toml").read_text()
    assert ('pip-install = ["cargo-gpu-pipeline==0.1.0"]\ndefault-branch = "master" # pipeline init:' in text), text
    assert "# our own lint session\n[[workspace.metadata.pipeline.ci.extra-sessions]]" in text
    assert 'ci.default-branch = "master"' in result.stderr  # TOML, not a Python repr
    assert "ci.pip-install keeps its default" not in result.stderr  # it is set: no note about it
