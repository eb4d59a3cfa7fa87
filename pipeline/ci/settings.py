"""Configuration of generated CI files (`[workspace.metadata.pipeline.ci]`).

Every value here can end up in a YAML file that GitHub or GitLab executes, so
each one is checked against a strict pattern when the configuration is read:
a value that could start a new key, a comment, a second line or an expression
(`${{ ... }}`, `$VAR`) is refused with the key named. The templates quote what
they emit as well, but validation is the guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline import __version__
from pipeline.cuda.settings import ARCH_PATTERN, check_toolkit  # what `pipeline cuda --arch`/`--toolkit` accept
from pipeline.foundation.config import setting
from pipeline.stages import registry

# The stages CI knows how to run, their jobs and default timeouts come from the stage registry
# (read at call time: `registry.ci_stages()`); these are the generator's own jobs.
RELEASE_JOB = "release"
PROFILE_JOB = "profile"  # the manual profiling job (`ci.profile`)

# Strict patterns: what a value may look like to be written into YAML.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A job id both platforms accept: GitHub wants a letter or `_` first, then letters, digits, `_` and `-`.
JOB_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
# Job ids the generator uses itself, GitLab's top-level keywords (a job named `variables` would
# replace them) and words YAML 1.1 reads as booleans or null (GitLab parses YAML 1.1).
OWN_JOB_IDS = frozenset({"checks", "checks-main", "release", "publish", "release-kernels", "profile", "assemble"})
RESERVED_JOB_IDS = OWN_JOB_IDS | frozenset({
    "default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script",
    "after_script", "types", "pages", "spec",
    "y", "n", "yes", "no", "on", "off", "true", "false", "null",
})
SESSION = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
FEATURE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+.-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_+.-]{0,63})?")
TOOLCHAIN = re.compile(r"(stable|beta|nightly|[0-9]+\.[0-9]+(\.[0-9]+)?)(-[0-9]{4}-[0-9]{2}-[0-9]{2})?")
IMAGE = re.compile(
    r"[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)*"
    r"(?P<tag>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?"
)
# A flag or argument passed on a command line: no spaces, quotes, `$`, braces or shell syntax.
ARGUMENT = re.compile(r"[A-Za-z0-9_./=:+,@-][A-Za-z0-9_./=:+,@-]{0,199}")
WORKFLOW_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.ya?ml")
RELATIVE_PATH = re.compile(r"[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,199}")
TAG_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,40}")
EXPIRE = re.compile(r"[1-9][0-9]{0,3} (hour|day|week|month)s?")
SHA = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"v[0-9]+(\.[0-9]+){0,2}")
# Free text (workflow name): quoted on output; no expressions, no control characters.
TEXT = re.compile(r"[^\x00-\x1f\x7f${}]{1,80}")

TRIPLE = re.compile(r"[a-z0-9_]+(-[a-z0-9_.]+){1,3}")  # what `release.targets` accepts

MAX_TIMEOUT = 4320  # GitHub's limit for self-hosted runners, in minutes


def check(key: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    """Refuse ``value`` for ``key`` unless it fully matches ``pattern``."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"`{key}` = {value!r} is not {what}")


def check_all(key: str, values: tuple[str, ...], pattern: re.Pattern[str], what: str) -> None:
    for value in values:
        check(key, value, pattern, what)


def _check_path(key: str, value: str) -> None:
    check(key, value, RELATIVE_PATH, "a relative path (letters, digits, `_ . - /`)")
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"`{key}` = {value!r} must stay inside the repository (no `..`, no leading `/`)")


def _check_image(key: str, image: str) -> None:
    match = IMAGE.fullmatch(image)
    if match is None:
        raise ValueError(f"`{key}` = {image!r} is not a container image reference")
    if not match.group("digest") and (not match.group("tag") or match.group("tag") == ":latest"):
        raise ValueError(
            f"`{key}` = {image!r} must be pinned by digest (`@sha256:...`) or an explicit tag other than `latest`"
        )


def _check_timeout(key: str, minutes: int) -> None:
    if not 1 <= minutes <= MAX_TIMEOUT:
        raise ValueError(f"`{key}` = {minutes} must be between 1 and {MAX_TIMEOUT} minutes")


@dataclass(frozen=True)
class ActionPin:
    """One GitHub action pinned to a commit."""

    sha: str = setting("", doc="full 40-character commit SHA of the action")
    version: str = setting("", doc="the release that commit is, written as the `# vX.Y.Z` comment")

    def __post_init__(self) -> None:
        check("pins.*.sha", self.sha, SHA, "a full 40-character lowercase commit SHA")
        check("pins.*.version", self.version, VERSION_COMMENT, "a version like `v4.2.2`")


@dataclass(frozen=True)
class ExtraSession:
    """A workspace's own nox session run as one more CI job."""

    name: str = setting("", doc="job name (a letter or `_`, then letters, digits, `_ -`; not a generated job's)")
    session: str = setting("", doc="nox session to run (default: the job name)")
    args: tuple[str, ...] = setting(factory=tuple, doc="arguments after `--` (plain flags and words only)")
    runner: Literal["cpu", "gpu"] = setting("cpu", doc="runner kind: `gpu` jobs run under a GPU lease")
    needs: tuple[str, ...] = setting(factory=tuple, doc="jobs this one waits for")
    timeout: int = setting(30, doc="job timeout in minutes")
    pull_requests: bool = setting(True, doc="also run on pull/merge requests")
    release_gate: bool = setting(False, doc="also gate the release workflow on this session")

    def __post_init__(self) -> None:
        check("extra-sessions.name", self.name, JOB_ID, "a job name (a letter or `_`, then letters, digits, `_ -`)")
        if (self.name.lower() in RESERVED_JOB_IDS or self.name.lower() in registry.ci_job_ids()
                or self.name in registry.ci_stages()):
            raise ValueError(f"`extra-sessions.name` = {self.name!r} is taken (a generated job, a GitLab keyword "
                             "or a YAML boolean): choose another job name")
        if self.session:
            check("extra-sessions.session", self.session, SESSION, "a nox session name")
        check_all("extra-sessions.args", self.args, ARGUMENT, "a plain argument (no spaces, quotes, `$` or braces)")
        check_all("extra-sessions.needs", self.needs, JOB_ID, "a job name")
        _check_timeout("extra-sessions.timeout", self.timeout)

    @property
    def nox_session(self) -> str:
        return self.session or self.name


@dataclass(frozen=True)
class CiReleaseSettings:
    """The release workflow (GitHub `release.yml`, GitLab tag pipelines)."""

    enabled: bool = setting(True, doc="render the release workflow / GitLab release jobs")
    tag_prefix: str = setting(
        "",
        doc="release tags start with this text followed by a digit; default: what `release.tag-prefix` and "
        "`release.shared-tag` put before the version (`v`, or `prism4d-v` in the example)",
    )
    args: tuple[str, ...] = setting(
        factory=lambda: ("--artifacts-only",),
        doc="arguments of `nox -s release --` in the tag pipeline: the release commit and tag exist already, "
        "so the job builds `dist/` for the checked-out tag",
    )
    gates: tuple[str, ...] = setting(
        factory=registry.ci_release_gates,
        doc="stages that run as jobs in the release workflow before the artifacts are built",
    )
    environment: str = setting("release", doc="GitHub environment of the publishing job (add reviewers there)")
    dist_dir: str = setting(
        "", doc="artifact directory relative to the workspace (default: the release section's `dist-dir`, else `dist`)"
    )
    retention_days: int = setting(30, doc="days GitHub keeps the release artifacts")
    expire_in: str = setting("30 days", doc="how long GitLab keeps the release artifacts (`expire_in`)")
    timeout: int = setting(60, doc="timeout in minutes of the artifact build job")
    publish_crates: bool = setting(
        False, doc="add a `publish-crates` job: `pipeline release --publish-only --execute` with the registry token "
        "(GitHub: secret `CARGO_REGISTRY_TOKEN` of the `crates-environment`; GitLab: a protected variable)"
    )
    crates_environment: str = setting(
        "crates-io", doc="GitHub environment holding the `CARGO_REGISTRY_TOKEN` secret of the `publish-crates` job"
    )
    target_runners: Mapping[str, tuple[str, ...]] = setting(
        factory=dict, doc="GitHub `runs-on` labels of the artifact build per `release.targets` entry "
        "(`{ \"aarch64-unknown-linux-gnu\" = [\"ubuntu-24.04-arm\"] }`); a target without one builds on `cpu-runner`"
    )
    target_tags: Mapping[str, str] = setting(
        factory=dict, doc="GitLab runner tag of the artifact build per target, added to `cpu-tags` "
        "(`{ \"aarch64-unknown-linux-gnu\" = \"arm64\" }`); set one for every target or none"
    )

    def __post_init__(self) -> None:
        check("release.tag-prefix", self.tag_prefix, TAG_PREFIX, "a tag prefix (letters, digits, `. _ -`)")
        check_all("release.args", self.args, ARGUMENT, "a plain argument (no spaces, quotes, `$` or braces)")
        known = registry.ci_stages()
        for gate in self.gates:
            if gate not in known:
                raise ValueError(f"`release.gates` has unknown stage {gate!r}; known: {', '.join(known)}")
        check("release.environment", self.environment, NAME, "an environment name (letters, digits, `_ . -`)")
        check("release.crates-environment", self.crates_environment, NAME,
              "an environment name (letters, digits, `_ . -`)")
        if self.dist_dir:
            _check_path("release.dist-dir", self.dist_dir)
        if not 1 <= self.retention_days <= 90:
            raise ValueError(f"`release.retention-days` = {self.retention_days} must be between 1 and 90")
        check("release.expire-in", self.expire_in, EXPIRE, "a duration like `30 days`")
        _check_timeout("release.timeout", self.timeout)
        for triple, labels in self.target_runners.items():
            check("release.target-runners", triple, TRIPLE, "a target triple like `aarch64-unknown-linux-gnu`")
            if not labels:
                raise ValueError(f"`release.target-runners.{triple}` needs at least one runner label")
            check_all(f"release.target-runners.{triple}", labels, LABEL,
                      "a runner label (letters, digits, `_ . : / -`)")
        for triple, tag in self.target_tags.items():
            check("release.target-tags", triple, TRIPLE, "a target triple like `aarch64-unknown-linux-gnu`")
            check(f"release.target-tags.{triple}", tag, LABEL, "a runner tag (letters, digits, `_ . : / -`)")


def _default_pip() -> tuple[str, ...]:
    return (f"cargo-gpu-pipeline=={__version__}",)


@dataclass(frozen=True)
class CiSettings:
    """Keys of this section; each is documented in the README."""

    github: bool = setting(True, doc="render `.github/workflows/ci.yml` and `release.yml` (and `.github/zizmor.yml`)")
    gitlab: bool = setting(True, doc="render `.gitlab-ci.yml`")
    github_ci_file: str = setting(
        "ci.yml", doc="file name of the CI workflow in `.github/workflows/` (`pipeline-ci.yml` beside a team's own)"
    )
    github_release_file: str = setting(
        "release.yml", doc="file name of the release workflow in `.github/workflows/` (`pipeline-release.yml`)"
    )
    gitlab_file: str = setting(
        ".gitlab-ci.yml",
        doc="path of the GitLab CI file; `pipeline.gitlab-ci.yml` to `include:` it from your own `.gitlab-ci.yml`",
    )
    workflow_name: str = setting("CI", doc="name of the GitHub CI workflow (free text, quoted; no `$`, braces)")
    default_branch: str = setting("main", doc="branch whose pushes run CI (pull requests target it too)")
    stages: tuple[str, ...] = setting(
        factory=registry.ci_stages, doc="stages that become CI jobs (" + ", ".join(registry.ci_stages()) + ")"
    )
    pr_stages: tuple[str, ...] = setting(
        factory=registry.ci_stages,
        doc="stages that also run on pull/merge requests (the others only on the default branch and tags)",
    )
    cpu_runner: tuple[str, ...] = setting(
        factory=lambda: ("ubuntu-24.04",), doc="GitHub `runs-on` labels of CPU jobs"
    )
    gpu_runner: tuple[str, ...] = setting(
        factory=lambda: ("self-hosted", "linux", "x64", "gpu"), doc="GitHub `runs-on` labels of GPU jobs"
    )
    cpu_tags: tuple[str, ...] = setting(factory=tuple, doc="GitLab runner `tags` of CPU jobs")
    gpu_tags: tuple[str, ...] = setting(factory=lambda: ("gpu",), doc="GitLab runner `tags` of GPU jobs")
    gpu_pool: str = setting("gpu", doc="name of the GPU runner pool: GitLab `resource_group` of GPU jobs")
    gpus: int = setting(1, doc="GPUs leased (`pipeline gpu run --gpus N`) by each GPU job")
    gpu_lease: bool = setting(
        True, doc="run GPU jobs under `pipeline gpu run --gpus N` so jobs sharing a GPU host never share a GPU"
    )
    cuda_image: str = setting(
        "nvidia/cuda:13.0.0-devel-ubuntu24.04@sha256:1e8ac7a54c184a1af8ef2167f28fa98281892a835c981ebcddb1fad04bdd452d",
        doc="container image of the CUDA compile job, pinned by digest (`zizmor --pedantic` wants one) "
        "or an explicit tag (not `latest`); empty: run on the CPU runner itself",
    )
    gitlab_image: str = setting(
        "",
        doc="image of GitLab's other jobs on docker executors, pinned like `cuda-image` (the publishing job "
        "needs `glab` in it); empty: the runner's default",
    )
    cuda_archs: tuple[str, ...] = setting(
        factory=lambda: ("sm_80", "sm_90"), doc="architectures of the CUDA compile matrix (`nox -s cuda -- --arch`)"
    )
    cuda_images: Mapping[str, str] = setting(
        factory=dict,
        doc='container image of the CUDA compile job per toolkit of `cuda.toolkits` (`{ "12.9" = '
        '"nvidia/cuda:12.9.1-devel-ubuntu24.04@sha256:..." }`), pinned like `cuda-image`; a toolkit not '
        "listed uses `cuda-image`",
    )
    toolchain: str = setting("stable", doc="Rust toolchain installed with `rustup` in each job")
    setup_toolchain: bool = setting(
        True, doc="install the toolchain with rustup in each job; false when runners come provisioned"
    )
    pip_install: tuple[str, ...] = setting(
        factory=_default_pip,
        doc="`pip install` arguments giving each job nox and this tool (in a venv); empty: already on the runner",
    )
    noxfile: str = setting("noxfile.py", doc="noxfile, relative to the repository root")
    feature_sets: Mapping[str, tuple[str, ...]] = setting(
        factory=dict,
        doc="named cargo feature sets for the clippy and test matrix (`{ default = [], full = [\"gpu\"] }`); "
        "empty: one run with the workspace's `features`",
    )
    timeouts: Mapping[str, int] = setting(
        factory=dict,
        doc="job timeouts in minutes by stage (defaults: "
        + ", ".join(f"{k} {v}" for k, v in registry.ci_timeouts().items())
        + ")",
    )
    cache_dirs: tuple[str, ...] = setting(
        factory=lambda: ("target",),
        doc="directories cached between runs, relative to the workspace (the CUDA cache is added); "
        "cargo's registry is always cached",
    )
    extra_sessions: tuple[ExtraSession, ...] = setting(
        factory=tuple, doc="the workspace's own nox sessions as extra jobs (`[[...ci.extra-sessions]]`)"
    )
    pins: Mapping[str, ActionPin] = setting(
        factory=dict, doc="override the pinned commit of an action: `{ \"actions/checkout\" = { sha, version } }`"
    )
    profile: tuple[str, ...] = setting(
        factory=tuple,
        doc="command of the manual `profile` job: `pipeline profile --require -- CMD` on a GPU runner, report "
        "uploaded (e.g. `[\"cargo\", \"bench\", \"-p\", \"prism-gpu\"]`); empty: no profile job",
    )
    profile_tool: Literal["perf", "nsys", "ncu"] = setting("perf", doc="profiler of the `profile` job")
    release: CiReleaseSettings = setting(factory=CiReleaseSettings, doc="the release workflow")

    def __post_init__(self) -> None:
        for key, name in (("github-ci-file", self.github_ci_file), ("github-release-file", self.github_release_file)):
            check(key, name, WORKFLOW_FILE, "a workflow file name like `pipeline-ci.yml` (no directory)")
        if self.github_ci_file == self.github_release_file:
            raise ValueError("`github-ci-file` and `github-release-file` name the same file")
        _check_path("gitlab-file", self.gitlab_file)
        if not self.gitlab_file.endswith((".yml", ".yaml")):
            raise ValueError(f"`gitlab-file` = {self.gitlab_file!r} must end in `.yml` or `.yaml`")
        check("workflow-name", self.workflow_name, TEXT, "plain text without `$`, braces or control characters")
        check("default-branch", self.default_branch, LABEL, "a branch name (letters, digits, `_ . : / -`)")
        known_stages = registry.ci_stages()
        for key, values in (("stages", self.stages), ("pr-stages", self.pr_stages)):
            for stage in values:
                if stage not in known_stages:
                    raise ValueError(f"`{key}` has unknown stage {stage!r}; known: {', '.join(known_stages)}")
        for key, labels in (("cpu-runner", self.cpu_runner), ("gpu-runner", self.gpu_runner)):
            if not labels:
                raise ValueError(f"`{key}` needs at least one runner label")
            check_all(key, labels, LABEL, "a runner label (letters, digits, `_ . : / -`)")
        check_all("cpu-tags", self.cpu_tags, LABEL, "a runner tag (letters, digits, `_ . : / -`)")
        check_all("gpu-tags", self.gpu_tags, LABEL, "a runner tag (letters, digits, `_ . : / -`)")
        check("gpu-pool", self.gpu_pool, NAME, "a pool name (letters, digits, `_ . -`)")
        if not 1 <= self.gpus <= 64:
            raise ValueError(f"`gpus` = {self.gpus} must be between 1 and 64")
        for key, image in (("cuda-image", self.cuda_image), ("gitlab-image", self.gitlab_image)):
            if image:
                _check_image(key, image)
        for version, image in self.cuda_images.items():
            check_toolkit(version)
            _check_image(f"cuda-images.{version}", image)
        if not self.cuda_archs:
            raise ValueError("`cuda-archs` needs at least one architecture")
        check_all("cuda-archs", self.cuda_archs, ARCH_PATTERN, "a CUDA architecture like `sm_90`")
        check("toolchain", self.toolchain, TOOLCHAIN, "a toolchain like `stable`, `1.85` or `nightly-2025-01-01`")
        if self.pip_install != _default_pip():
            # packaging is imported only for a configured value: commands reading an unconfigured
            # workspace keep to the standard library (the audit runs under `python -S` too).
            from pipeline.ci.requirements import check_pip_install

            check_pip_install("pip-install", self.pip_install)
        _check_path("noxfile", self.noxfile)
        for name, features in self.feature_sets.items():
            check("feature-sets", name, NAME, "a feature-set name (letters, digits, `_ . -`)")
            check_all(f"feature-sets.{name}", features, FEATURE, "a cargo feature name")
        for stage, minutes in self.timeouts.items():
            known = (*known_stages, RELEASE_JOB, PROFILE_JOB, *(e.name for e in self.extra_sessions))
            if stage not in known:
                raise ValueError(f"`timeouts` has unknown stage {stage!r}; known: {', '.join(known)}")
            _check_timeout(f"timeouts.{stage}", minutes)
        for path in self.cache_dirs:
            _check_path("cache-dirs", path)
        check_all("profile", self.profile, ARGUMENT, "a plain argument (no spaces, quotes, `$` or braces)")
        names = [e.name for e in self.extra_sessions]
        for extra in self.extra_sessions:
            if names.count(extra.name) > 1 or extra.name in known_stages or extra.name in {"checks", "publish"}:
                raise ValueError(f"`extra-sessions` job name {extra.name!r} is used twice or by a stage")
        if self.pins:  # the pin table is only needed to check overrides
            from pipeline.ci.pins import DEFAULT_PINS

            for action in self.pins:
                if action not in DEFAULT_PINS:
                    raise ValueError(
                        f"`pins` has unknown action {action!r}; pinned actions: {', '.join(DEFAULT_PINS)}"
                    )

