"""Generated CI that follows the repository and matches hand-written Rust CI (issue 14, points 3, 4, 6, 11).

Triggers from git (default branch, tag scheme), no CUDA/GPU jobs without kernels, caches per job,
matrix entry and toolchain, sccache, the MSRV job, the kernel hand-off to GPU jobs, `audit --fetch-db`,
the report as step summary, notes for local-only settings, and shellcheck-clean job scripts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ci_support import CONFIGS, REPO, load_yaml, pipeline_cli, render_workspace, write_config_workspace

EXAMPLE = REPO / "examples" / "prism4d"
CI = ".github/workflows/ci.yml"
RELEASE = ".github/workflows/release.yml"
GITLAB = ".gitlab-ci.yml"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _repo(tmp_path: Path, config: str = "", *, branch: str = "main", kernels: bool = True) -> Path:
    root = write_config_workspace(tmp_path / "ws", config, crates=2, kernels=kernels)
    if branch != "main":
        _git(root, "branch", "-m", branch)
    return root


def _step(job: dict, prefix: str) -> dict:
    return next(step for step in job["steps"] if step["name"].startswith(prefix))


# ---------------------------------------------------------------- point 3: triggers, kernels


def test_ci_triggers_on_the_default_branch_git_names(tmp_path):
    root = _repo(tmp_path, branch="master")
    doc = load_yaml(render_workspace(root)[CI])
    assert doc["on"]["push"]["branches"] == ["master"] and doc["on"]["pull_request"]["branches"] == ["master"]
    # origin/HEAD decides over local branches; the configured branch over both.
    _git(root, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    _git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert load_yaml(render_workspace(root)[CI])["on"]["push"]["branches"] == ["trunk"]
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[workspace.metadata.pipeline.ci]\ndefault-branch = "develop"\n')
    assert load_yaml(render_workspace(root)[CI])["on"]["push"]["branches"] == ["develop"]


@pytest.mark.parametrize(("tags", "github", "gitlab"), [
    (["0.9.0", "0.10.0", "0.11.0"], "[0-9]*", "$CI_COMMIT_TAG =~ /^[0-9]/"),
    (["v0.11.0"], "v[0-9]*", "$CI_COMMIT_TAG =~ /^v[0-9]/"),
    ([], "v[0-9]*", "$CI_COMMIT_TAG =~ /^v[0-9]/"),  # no tags yet: the default scheme
])
def test_release_triggers_follow_the_tags_the_repository_has(tmp_path, tags, github, gitlab):
    root = _repo(tmp_path)
    for tag in tags:
        _git(root, "tag", tag)
    files = render_workspace(root)
    assert load_yaml(files[RELEASE])["on"]["push"]["tags"] == [github]
    assert load_yaml(files[GITLAB])["publish"]["rules"] == [{"if": gitlab}]


def test_configured_tag_templates_win_over_the_tags(tmp_path):
    root = _repo(tmp_path, '\n[workspace.metadata.pipeline.release]\nshared-tag = "release-{version}"\n')
    _git(root, "tag", "0.11.0")
    assert load_yaml(render_workspace(root)[RELEASE])["on"]["push"]["tags"] == ["release-[0-9]*"]


def test_a_workspace_without_kernels_gets_no_cuda_or_gpu_jobs(tmp_path):
    root = _repo(tmp_path, kernels=False)
    files = render_workspace(root)
    gpu_jobs = {"cuda", "cuda-kernels", "gpu-smoke", "gpu-test", "release-kernels"}
    ci, release, gitlab = (load_yaml(files[p]) for p in (CI, RELEASE, GITLAB))
    assert set(ci["jobs"]) & gpu_jobs == set() and "test" in ci["jobs"] and "clippy" in ci["jobs"]
    assert set(release["jobs"]) & gpu_jobs == set() and "release" in release["jobs"]
    assert set(gitlab) & gpu_jobs == set() and "gpu" not in gitlab["stages"]
    # The same workspace with one kernel has them all.
    (root / "src.cu").write_text('extern "C" __global__ void k() {}\n')
    assert gpu_jobs - {"release-kernels"} <= set(load_yaml(render_workspace(root)[CI])["jobs"])


# ---------------------------------------------------------------- point 4: caches, sccache, MSRV


def test_cache_keys_are_unique_per_job_matrix_entry_and_toolchain(tmp_path):
    root = write_config_workspace(tmp_path / "ws", CONFIGS["matrix"], git=False)
    files = render_workspace(root)
    ci = load_yaml(files[CI])
    keys = {}
    for job_id, job in ci["jobs"].items():
        caches = [s for s in job["steps"] if s["name"].startswith("Cache")]
        if not caches:
            continue
        key = caches[0]["with"]["key"]
        keys[job_id] = key
        assert key.startswith(f"${{{{ runner.os }}}}-{job_id}-") and key.endswith("${{ hashFiles('Cargo.lock') }}")
        assert caches[0]["with"]["restore-keys"] == key.removesuffix("${{ hashFiles('Cargo.lock') }}")
        for axis_var in {k for entry in job.get("strategy", {}).get("matrix", {}).get("include", []) for k in entry}:
            if axis_var in ("session", "feature-set", "arch"):
                assert f"${{{{ matrix.{axis_var} }}}}" in key, (job_id, key)
        names = [s["name"] for s in job["steps"]]
        if "rustc-" in key:
            # The rustc version comes from a step that ran before the cache step (after rustup).
            toolchain = _step(job, "Rust version")
            assert toolchain["id"] == "toolchain" and "steps.toolchain.outputs.rustc" in key
            assert names.index(toolchain["name"]) < names.index(caches[0]["name"])
            assert 'rustc --version' in toolchain["run"] and '"$GITHUB_OUTPUT"' in toolchain["run"]
    assert len(set(keys.values())) == len(keys) and {"clippy", "test", "cuda", "checks"} <= set(keys)
    assert "${{ matrix.feature-set }}" in keys["clippy"] and "${{ matrix.arch }}" in keys["cuda"]
    gitlab = load_yaml(files[GITLAB])
    prefixes = {j: job["cache"][0]["key"]["prefix"] for j, job in gitlab.items()
                if isinstance(job, dict) and "cache" in job}
    assert len(set(prefixes.values())) == len(prefixes)
    assert prefixes["clippy"] == "clippy-$FEATURE_SET-1.85.0" and prefixes["cuda"] == "cuda-$ARCH"
    assert prefixes["checks"] == "checks-$SESSION-1.85.0"
    assert all(gitlab[j]["cache"][0]["key"]["files"] == ["Cargo.lock"] for j in prefixes)


def test_sccache_on_a_shared_redis(tmp_path):
    root = write_config_workspace(tmp_path / "ws", '\n[workspace.metadata.pipeline.ci]\nsccache = "redis"\n'
                                  '[workspace.metadata.pipeline.cuda]\ncache = "sccache"\n', git=False)
    files = render_workspace(root)
    ci = load_yaml(files[CI])
    for job_id in ("clippy", "test", "cuda", "cuda-kernels", "gpu-test"):
        job = ci["jobs"][job_id]
        run = _step(job, "nox -s")
        # The secret reaches only the step running the job's command, never the setup step's pip install.
        assert run["env"]["SCCACHE_REDIS_URL"] == "${{ secrets.SCCACHE_REDIS_URL }}", job_id
        assert "SCCACHE_REDIS_URL" not in _step(job, "Set up").get("env", {}), job_id
        assert "'sccache>=0.16'" in _step(job, "Set up")["run"], job_id
        assert ('\nif [ -n "${SCCACHE_REDIS_URL:-}" ]; then export SCCACHE_REDIS_ENDPOINT="$SCCACHE_REDIS_URL" '
                'RUSTC_WRAPPER="$PIPELINE_VENV/bin/sccache" SCCACHE_PATH="$PIPELINE_VENV/bin/sccache"; else echo ') in (
                    "\n" + run["run"]), job_id
    assert "SCCACHE_REDIS_URL" not in files[RELEASE]  # no shared cache in the release workflow
    assert "SCCACHE_REDIS_URL" not in str(ci["jobs"]["checks"])  # fmt, lint, dupes, audit compile nothing
    gitlab = load_yaml(files[GITLAB])
    assert gitlab["test"]["script"][0].startswith('if [ -n "${SCCACHE_REDIS_URL:-}" ]; then export')
    # `cuda.cache = "sccache"` needs the binary in the release's builds too, but no shared backend there.
    for job_id in ("release", "release-kernels"):
        assert "SCCACHE_REDIS" not in str(gitlab[job_id]) and "RUSTC_WRAPPER" not in str(gitlab[job_id])
        assert "'sccache>=0.16'" in gitlab[job_id]["before_script"][-1]


def test_sccache_on_the_actions_cache_and_only_on_github(tmp_path):
    root = write_config_workspace(tmp_path / "ws", '\n[workspace.metadata.pipeline.ci]\nsccache = "gha"\n'
                                  "gitlab = false\n", git=False)
    ci = load_yaml(render_workspace(root)[CI])
    test = ci["jobs"]["test"]
    action = _step(test, "sccache on the Actions cache")
    assert action["uses"] == "mozilla-actions/sccache-action@fc920bf0ec8de6ee65d409111f7ec508035751ba"
    run = _step(test, "nox -s")
    assert run["env"]["SCCACHE_GHA_ENABLED"] == "true"
    assert run["run"].startswith('export RUSTC_WRAPPER="$SCCACHE_PATH"\n')
    bad = write_config_workspace(tmp_path / "bad", '\n[workspace.metadata.pipeline.ci]\nsccache = "gha"\n',
                                 git=False, crates=1)
    result = pipeline_cli("--workspace", str(bad), "generate")
    assert result.returncode == 2 and "gitlab = false" in result.stderr


@pytest.mark.parametrize(("workspace", "member", "msrv"), [
    ('rust-version = "1.80"\n', "", "1.80"),
    ("", 'rust-version = "1.82.1"\n', "1.82.1"),  # the members' highest
    ("", "", None),
])
def test_msrv_job_when_rust_version_is_set(tmp_path, workspace, member, msrv):
    root = write_config_workspace(tmp_path / "ws", "", git=False, crates=2)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[workspace.package]\n", "[workspace.package]\n" + workspace))
    crates = sorted((root / "crates").iterdir())
    first = crates[0] / "Cargo.toml"
    first.write_text(first.read_text().replace("[package]\n", "[package]\n" + member))
    (crates[1] / "Cargo.toml").write_text((crates[1] / "Cargo.toml").read_text().replace(
        "[package]\n", "[package]\n" + ('rust-version = "1.70"\n' if member else "")))
    files = render_workspace(root)
    ci, gitlab = load_yaml(files[CI]), load_yaml(files[GITLAB])
    if msrv is None:
        assert "msrv" not in ci["jobs"] and "msrv" not in gitlab
        return
    job = ci["jobs"]["msrv"]
    assert _step(job, "Set up")["run"] == f"rustup toolchain install {msrv} --profile minimal --no-self-update\n"
    assert _step(job, "cargo check")["run"] == f"cargo +{msrv} check --workspace --manifest-path Cargo.toml\n"
    assert gitlab["msrv"]["script"] == [f"cargo +{msrv} check --workspace --manifest-path Cargo.toml"]
    assert gitlab["msrv"]["cache"][0]["key"]["prefix"] == f"msrv-{msrv}"
    (root / "Cargo.lock").write_text("version = 4\n")
    assert "--locked" in load_yaml(render_workspace(root)[CI])["jobs"]["msrv"]["steps"][-1]["run"]


def test_a_rust_version_that_is_not_one_is_a_configuration_error(tmp_path):
    root = write_config_workspace(tmp_path / "ws", "", git=False, crates=1)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[workspace.package]\n",
                                                     '[workspace.package]\nrust-version = "1.80; rm -rf /"\n'))
    result = pipeline_cli("--workspace", str(root), "generate")
    assert result.returncode == 2 and "rust-version" in result.stderr and "Cargo.toml" in result.stderr


# ---------------------------------------------------------------- point 4: kernel hand-off


def test_gpu_jobs_run_on_the_kernels_the_cuda_kernels_job_built():
    files = render_workspace(EXAMPLE)
    ci = load_yaml(files[CI])
    kernels = ci["jobs"]["cuda-kernels"]
    assert "--arch sm_80 --arch sm_90 --arch sm_120" in _step(kernels, "nox -s cuda")["run"]
    upload = _step(kernels, "Upload cuda-kernels")
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["with"]["path"] == (
        "examples/prism4d/target/cuda")
    assert "head.repo.full_name == github.repository" in kernels["if"]  # only where the GPU jobs run
    for job_id in ("gpu-smoke", "gpu-test"):
        job = ci["jobs"][job_id]
        assert "cuda-kernels" in job["needs"] and "cuda" not in job["needs"]
        names = [s["name"] for s in job["steps"]]
        download = _step(job, "Download cuda-kernels")
        assert download["uses"].startswith("actions/download-artifact@")
        assert download["with"] == {"name": "cuda-kernels", "path": "examples/prism4d/target/cuda"}
        # After the cache: a restored target/ must not cover the downloaded kernels with older ones.
        assert names.index("Cache cargo and build outputs") < names.index(download["name"])
        run = _step(job, "nox -s")
        assert run["env"]["PIPELINE_CUDA_PREBUILT"] == "${{ github.workspace }}/examples/prism4d/target/cuda"
    assert _step(ci["jobs"]["gpu-smoke"], "nox -s")["run"].rstrip().endswith("--require-gpu --no-build")
    gitlab = load_yaml(files[GITLAB])
    for job_id in ("gpu-smoke", "gpu-test"):
        assert {"job": "cuda-kernels", "artifacts": True} in gitlab[job_id]["needs"]
        assert gitlab[job_id]["variables"]["PIPELINE_CUDA_PREBUILT"] == "$CI_PROJECT_DIR/examples/prism4d/target/cuda"
    assert gitlab["cuda-kernels"]["artifacts"]["paths"] == ["examples/prism4d/target/cuda"]
    assert gitlab["cuda-kernels"]["rules"] == gitlab["gpu-test"]["rules"]  # where the GPU jobs run


# ---------------------------------------------------------------- points 6 and 11: audit, report


def test_the_report_goes_to_the_step_summary_and_a_gitlab_artifact():
    files = render_workspace(EXAMPLE)
    job = load_yaml(files[CI])["jobs"]["report"]
    assert job["if"] == "!cancelled()" and job["needs"] == ["cuda-kernels"]
    assert _step(job, "Download cuda-kernels")["continue-on-error"] is True  # skipped for a fork's PR
    assert _step(job, "pipeline report")["run"] == (
        '"$PIPELINE_VENV/bin/pipeline" report --markdown -o pipeline-report.md\n')
    assert _step(job, "Step summary")["run"] == 'cat pipeline-report.md >> "$GITHUB_STEP_SUMMARY"\n'
    gitlab = load_yaml(files[GITLAB])["report"]
    assert gitlab["artifacts"]["paths"] == ["pipeline-report.md"]
    assert gitlab["artifacts"]["expose_as"] == "pipeline report" and gitlab["artifacts"]["when"] == "always"
    assert gitlab["needs"] == [{"job": "cuda-kernels", "optional": True, "artifacts": True}]


def test_the_report_command_the_job_runs_writes_markdown(tmp_path):
    root = _repo(tmp_path)
    out = tmp_path / "pipeline-report.md"
    result = pipeline_cli("--workspace", str(root), "report", "--markdown", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("#") and "cuda-kernels" in text  # the job graph names the generated jobs


# ---------------------------------------------------------------- local-only settings


def test_generate_notes_local_only_settings(tmp_path):
    root = _repo(tmp_path, '\n[workspace.metadata.pipeline.audit]\ndb = "/opt/advisory-db"\n')
    result = pipeline_cli("--workspace", str(root), "generate")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "note:" in line]
    db_line = len((root / "Cargo.toml").read_text().split('db = "/opt/advisory-db"')[0].splitlines()) + 1
    assert any("`audit.db` = '/opt/advisory-db'" in line and f"Cargo.toml:{db_line}" in line for line in lines), lines
    assert any("local branch `main`" in line and "ci.default-branch" in line for line in lines), lines
    # Configured in the repository (and an origin/HEAD): nothing to note.
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('db = "/opt/advisory-db"', 'db = "vendor/advisory-db"'))
    _git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    quiet = pipeline_cli("--workspace", str(root), "generate")
    assert quiet.returncode == 0 and "note:" not in quiet.stderr, quiet.stderr


# ---------------------------------------------------------------- shellcheck


def _scripts(files: dict[str, str]) -> dict[str, tuple[str, str]]:
    """(shell, script) of every GitHub step and GitLab job."""
    scripts: dict[str, tuple[str, str]] = {}
    for rel, text in files.items():
        doc = load_yaml(text)
        if rel.startswith(".github/workflows/"):
            for job_id, job in doc["jobs"].items():
                for index, step in enumerate(job["steps"]):
                    if "run" in step:  # GitHub runs `run:` with `bash -e`
                        scripts[f"{rel}:{job_id}:{index}"] = ("bash", "set -e\n" + step["run"])
        elif rel.endswith(".gitlab-ci.yml"):
            for job_id, job in doc.items():
                if isinstance(job, dict) and "script" in job:
                    lines = [*job.get("before_script", []), *job["script"]]
                    # The runner stops a job at its first failing line (`set -e`).
                    scripts[f"{rel}:{job_id}"] = ("sh", "set -e\n" + "\n".join(lines) + "\n")
    return scripts


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (apt-get install shellcheck)")
def test_every_generated_script_is_shellcheck_clean(tmp_path):
    cases = {"example": render_workspace(EXAMPLE)}
    extra = {"redis": '\n[workspace.metadata.pipeline.ci]\nsccache = "redis"\n',
             "gha": '\n[workspace.metadata.pipeline.ci]\nsccache = "gha"\ngitlab = false\n'}
    for name, config in {**CONFIGS, **extra}.items():
        cases[name] = render_workspace(write_config_workspace(tmp_path / name, config, git=False, crates=1))
    problems = []
    checked = 0
    for case, files in cases.items():
        for where, (shell, script) in _scripts(files).items():
            result = subprocess.run(["shellcheck", "--severity=style", f"--shell={shell}", "-"], input=script,
                                    capture_output=True, text=True)
            checked += 1
            if result.returncode != 0:
                problems.append(f"{case}:{where}:\n{script}\n{result.stdout}")
    assert checked > 100 and not problems, "\n".join(problems[:5])
