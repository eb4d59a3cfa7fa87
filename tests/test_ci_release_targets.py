"""The release workflows over `release.targets`: one build per target on a runner that can build it,
an assemble job making them one release, and release notes from the CHANGELOG (issues 14 and 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_support import CONFIGS, load_yaml, pipeline_cli, render_workspace, write_config_workspace

TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = write_config_workspace(tmp_path_factory.mktemp("targets") / "ws", CONFIGS["matrix"])
    return render_workspace(root)


def test_github_builds_each_target_on_its_runner_and_assembles_one_release(matrix: dict[str, str]) -> None:
    doc = load_yaml(matrix[".github/workflows/release.yml"])
    build = doc["jobs"]["release"]
    assert build["runs-on"] == "${{ matrix.runner }}"
    assert build["strategy"]["matrix"]["include"] == [
        {"target": TARGETS[0], "runner": ["self-hosted", "linux", "x64", "cpu"]},  # no entry: cpu-runner
        {"target": TARGETS[1], "runner": ["self-hosted", "linux", "arm64"]},
    ]
    assert build["env"]["TARGET"] == "${{ matrix.target }}"
    steps = {step["name"]: step for step in build["steps"]}
    setup = steps["Set up the toolchain and the pipeline"]["run"]
    assert 'rustup target add "$TARGET"' in setup
    # release.cross = zigbuild for aarch64 only: its entry installs cargo-zigbuild and zig (ziglang).
    assert 'case "$TARGET" in aarch64-unknown-linux-gnu) cargo install --locked cargo-zigbuild' in setup
    assert '-s release -- --artifacts-only --target "$TARGET"' in steps["nox -s release"]["run"]
    upload = steps["Upload this target's artifacts"]
    assert upload["uses"].split("@")[1].split()[0].isalnum() and len(upload["uses"].split("@")[1]) == 40
    assert upload["with"]["name"] == "dist-${{ matrix.target }}" and upload["with"]["path"] == "dist"

    assemble = doc["jobs"]["assemble"]
    assert assemble["needs"] == ["release"] and assemble["permissions"] == {"contents": "read"}
    steps = {step["name"]: step for step in assemble["steps"]}
    assert steps["Download every target's artifacts"]["with"] == {"pattern": "dist-*", "path": "release-parts"}
    run = steps["nox -s release"]["run"]
    assert "-s release -- --assemble release-parts" in run
    assert "changelog --section --notes-dir release-notes" in run and "sha256sum -c SHA256SUMS" in run
    uploads = [s["with"]["name"] for s in assemble["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads == ["dist", "release-notes"]

    publish = doc["jobs"]["publish"]
    assert publish["needs"] == ["assemble"]
    writers = [j for j, job in doc["jobs"].items() if job["permissions"].get("contents") == "write"]
    assert writers == ["publish"]
    run = "\n".join(step.get("run", "") for step in publish["steps"])
    assert "--notes-file ../release-notes/notes.md" in run and "--generate-notes" not in run
    assert "if [ -e ../release-notes/prerelease ]; then flags+=(--prerelease); fi" in run


def test_gitlab_runs_a_parallel_matrix_and_a_needs_all_assemble_job(matrix: dict[str, str]) -> None:
    doc = load_yaml(matrix[".gitlab-ci.yml"])
    build = doc["release"]
    assert build["parallel"]["matrix"] == [{"TARGET": TARGETS[0], "RUNNER_TAG": "x64"},
                                           {"TARGET": TARGETS[1], "RUNNER_TAG": "arm64"}]
    assert build["tags"] == ["docker", "cpu", "$RUNNER_TAG"]
    assert build["script"][-1] == ('mkdir -p release-parts && rm -rf "release-parts/$TARGET" && '
                                   'mv "$DIST_DIR" "release-parts/$TARGET"')
    assert build["artifacts"]["paths"] == ["release-parts/"]
    assemble = doc["assemble"]
    assert assemble["needs"] == [{"job": "release", "artifacts": True}]  # every matrix entry's artifacts
    assert any("--assemble release-parts" in line for line in assemble["script"])
    assert assemble["artifacts"]["paths"] == ["dist", "release-notes"]
    assert assemble["artifacts"]["reports"] == {"dotenv": "release-notes/release.env"}
    assert assemble["variables"]["RUNNER_GENERATE_ARTIFACTS_METADATA"] == "true"
    publish = doc["publish"]
    assert publish["needs"] == [{"job": "assemble", "artifacts": True}]
    assert publish["release"]["name"] == "$RELEASE_NAME"  # "(pre-release)" added by the tool when it is one
    assert publish["release"]["description"] == "$CI_PROJECT_DIR/release-notes/notes.md"


def test_without_targets_the_build_job_writes_the_notes_itself(tmp_path: Path) -> None:
    files = render_workspace(write_config_workspace(tmp_path / "ws", CONFIGS["defaults"]))
    doc = load_yaml(files[".github/workflows/release.yml"])
    assert "assemble" not in doc["jobs"] and "strategy" not in doc["jobs"]["release"]
    assert doc["jobs"]["publish"]["needs"] == ["release"]
    gitlab = load_yaml(files[".gitlab-ci.yml"])
    assert "assemble" not in gitlab and "parallel" not in gitlab["release"]
    assert gitlab["release"]["artifacts"]["reports"] == {"dotenv": "release-notes/release.env"}


@pytest.mark.parametrize(("config", "message"), [
    ('[workspace.metadata.pipeline.release]\ntargets = ["x86_64-unknown-linux-gnu"]\n'
     '[workspace.metadata.pipeline.ci.release]\ntarget-runners = { "aarch64-unknown-linux-gnu" = ["arm"] }\n',
     "`ci.release.target-runners` names aarch64-unknown-linux-gnu, which `release.targets` does not list"),
    ('[workspace.metadata.pipeline.release]\ntargets = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]\n'
     '[workspace.metadata.pipeline.ci.release]\ntarget-tags = { "aarch64-unknown-linux-gnu" = "arm64" }\n',
     "`ci.release.target-tags` has no tag for x86_64-unknown-linux-gnu"),
    ('[workspace.metadata.pipeline.release]\ntargets = ["x86_64-unknown-linux-gnu"]\n'
     'cross = { "aarch64-unknown-linux-gnu" = "zigbuild" }\n',
     "`cross` names 'aarch64-unknown-linux-gnu', which is not in `targets`"),
    ('[workspace.metadata.pipeline.release]\ntargets = ["aarch64-unknown-linux-gnu"]\n'
     'cross = { "aarch64-unknown-linux-gnu" = "qemu" }\n',
     "`cross.aarch64-unknown-linux-gnu` = 'qemu' must be one of cargo, zigbuild, cross"),
    ('[workspace.metadata.pipeline.ci.release]\ntarget-runners = { "x86_64-unknown-linux-gnu" = ["a b"] }\n',
     "is not a runner label"),
])
def test_bad_target_configuration_is_refused(tmp_path: Path, config: str, message: str) -> None:
    root = write_config_workspace(tmp_path / "ws", config)
    result = pipeline_cli("--workspace", str(root), "generate", "--check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Cargo.toml" in result.stderr
    assert not (root / ".github").exists()
