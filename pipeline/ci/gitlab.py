"""GitLab CI: the job model as a typed view of ``.gitlab-ci.yml``.

The view holds exactly what the file says (rules, needs, variables, shell
lines); ``templates/gitlab-ci.yml.j2`` only lays it out. Its fields are
load-bearing: see :mod:`pipeline.ci.view`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.ci.model import NOTES_DIR, PARTS_DIR, RELEASE_JOB, CiPipeline, Job, Runner
from pipeline.ci.shell import dist_artifact, run_lines, setup_lines
from pipeline.ci.view import Plain, Var, header, variables, yaml_bool

STAGES = ("check", "test", "build", "gpu", "release")

_GPU_MR_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID'
_PROTECTED_RULE = '$CI_PIPELINE_SOURCE != "merge_request_event" && $CI_COMMIT_REF_PROTECTED == "true"'
_MR_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event"'
_NOT_MR_RULE = '$CI_PIPELINE_SOURCE != "merge_request_event"'


@dataclass(frozen=True)
class Rule:
    condition: str  # `if:`
    when: Plain | None = None
    changes: tuple[str, ...] = ()  # `changes:` globs: the rule matches only when one matches a changed file


@dataclass(frozen=True)
class Need:
    job: Plain
    optional: bool
    artifacts: Plain  # `true`/`false`


def _need(job: str, *, optional: bool = False, artifacts: bool) -> Need:
    return Need(Plain(job), optional, yaml_bool(artifacts))


@dataclass(frozen=True)
class Cache:
    prefix: str
    files: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Artifacts:
    paths: tuple[str, ...]
    expire_in: str
    dotenv: str = ""  # `reports: dotenv:`: variables for the jobs that need this one ("" for none)


@dataclass(frozen=True)
class Release:
    tag_name: str
    name: str
    description: str
    link: str


@dataclass(frozen=True)
class GitlabJob:
    id: Plain
    stage: Plain
    tags: tuple[str, ...]
    image: str  # "" for the runner's default
    timeout: str
    interruptible: Plain  # `true`/`false`
    resource_group: str  # "" for none
    rules: tuple[Rule, ...]
    needs: tuple[Need, ...]  # empty: `needs: []` (start at once)
    variables: tuple[Var, ...]
    matrix: tuple[tuple[Var, ...], ...]  # `parallel.matrix`
    cache: Cache | None
    before_script: tuple[str, ...]
    script: tuple[str, ...]
    artifacts: Artifacts | None
    release: Release | None
    allow_failure: bool = False  # a manual job must not hold the pipeline as "blocked"


@dataclass(frozen=True)
class GitlabPipeline:
    """``templates/gitlab-ci.yml.j2``."""

    header: tuple[str, ...]
    variables: tuple[Var, ...]
    stages: tuple[Plain, ...]
    jobs: tuple[GitlabJob, ...]


def _tag_rule(pipeline: CiPipeline) -> str:
    prefix = next((t.pattern for t in pipeline.release_triggers if t.event == "tag"), "")
    return f"$CI_COMMIT_TAG =~ /^{re.escape(prefix)}[0-9]/"


def _rules(pipeline: CiPipeline, job: Job) -> tuple[Rule, ...]:
    if job.stage == "release":
        return (Rule(_tag_rule(pipeline)),)
    if job.manual:
        # Started by hand from a pipeline of a protected ref; never on merge requests (GPU runner).
        return (Rule(_PROTECTED_RULE, Plain("manual")),)
    if job.runner is Runner.GPU:
        # Self-hosted GPU runners: protected refs, or merge requests from this project (never a fork).
        protected = Rule(_PROTECTED_RULE)
        return (Rule(_GPU_MR_RULE, changes=job.changes), protected) if job.pull_requests else (protected,)
    if not job.pull_requests:
        return (Rule(_MR_RULE, Plain("never")), Rule("$CI_COMMIT_BRANCH || $CI_COMMIT_TAG"))
    if job.changes:
        # Input-scoped: a merge request runs it when its inputs changed; the default branch and tags always.
        return (Rule(_MR_RULE, changes=job.changes), Rule(_NOT_MR_RULE))
    return ()


def _gate_needs(pipeline: CiPipeline) -> list[Need]:
    """The CI jobs that gate the release build: GitLab runs CI and release jobs in one tag pipeline."""
    settings = pipeline.settings
    extras = {e.name: e.release_gate for e in settings.extra_sessions}
    gates = set(settings.release.gates)
    needs = []
    for job in pipeline.ci_jobs:
        gating = extras[job.id] if job.id in extras else bool(gates.intersection(job.sessions))
        if gating:
            # GPU jobs exist only on protected tags: optional, so the pipeline can still be created.
            needs.append(_need(job.id, optional=job.runner is Runner.GPU, artifacts=False))
    return needs


def _needs(pipeline: CiPipeline, job: Job) -> list[Need]:
    if job.assemble:
        return [_need(RELEASE_JOB, artifacts=True)]  # every matrix entry's artifacts
    if job.session == "-":
        return [_need(job.needs[0], artifacts=True)]
    if job.id == "release":
        # The CI jobs of the tag pipeline gate it; release-only jobs before it hand over their outputs.
        release_only = {j.id for j in pipeline.release_jobs if j.stage == "release"}
        return [*_gate_needs(pipeline), *(_need(n, artifacts=True) for n in job.needs if n in release_only)]
    # A merge request leaves out an input-scoped job whose inputs it does not change: a job running
    # there waits for it only if it runs (elsewhere it always does).
    scoped = {j.id for j in pipeline.ci_jobs if j.changes} if job.pull_requests else set()
    return [_need(n, optional=n in scoped, artifacts=False) for n in job.needs]


def gitlab_job(pipeline: CiPipeline, job: Job) -> GitlabJob:
    settings = pipeline.settings
    pairs: list[tuple[str, str]] = [*job.variables]
    dist = dist_artifact(job.uploads)
    if dist:
        pairs.append(("DIST_DIR", dist.path))
    if job.full_history:
        pairs.append(("GIT_DEPTH", "0"))
    if job.id == "release" or job.assemble:
        # The runner writes SLSA provenance metadata (artifacts-metadata.json) for the release artifacts.
        pairs.append(("RUNNER_GENERATE_ARTIFACTS_METADATA", "true"))
    if job.session == "-":
        script = ['cd "$DIST_DIR"', "sha256sum -c SHA256SUMS"]
        pairs.append(("DIST_DIR", job.downloads[0].path))
    else:
        script = run_lines(pipeline, job)
    if job.per_target:
        # Each entry's dist under its target's name: the assemble job gets them all side by side.
        script.append(f'mkdir -p {PARTS_DIR} && rm -rf "{PARTS_DIR}/$TARGET" && mv "$DIST_DIR" "{PARTS_DIR}/$TARGET"')
    gpu = job.runner is Runner.GPU
    cache = Cache(
        prefix=job.id,
        files=(pipeline.context.lockfile,),
        paths=(".cargo-home/registry", ".cargo-home/git", *pipeline.cache_paths),
    ) if job.cache else None
    paths = tuple(f"{PARTS_DIR}/" if job.per_target and a.path == dist_path(job) else a.path for a in job.uploads)
    artifacts = Artifacts(paths, settings.release.expire_in,
                          dotenv=f"{NOTES_DIR}/release.env" if job.notes else "") if job.uploads else None
    release = Release(
        tag_name="$CI_COMMIT_TAG",
        # From the dotenv report of the job that wrote the notes: the tag, with "(pre-release)" when the
        # tool found a pre-release version (GitLab releases have no pre-release flag).
        name="$RELEASE_NAME",
        description=f"$CI_PROJECT_DIR/{NOTES_DIR}/notes.md",  # a file in the project: GitLab reads it
        link=f"$CI_PROJECT_URL/-/jobs/artifacts/$CI_COMMIT_TAG/browse/{job.downloads[0].path}?job={job.needs[0]}",
    ) if job.publish else None
    return GitlabJob(
        id=Plain(job.id),
        stage=Plain(job.stage),
        tags=tuple(settings.gpu_tags if gpu else settings.cpu_tags)
        + (("$RUNNER_TAG",) if job.per_target and settings.release.target_tags else ()),
        image=job.container or settings.gitlab_image,
        timeout=f"{job.timeout} minutes",
        interruptible=yaml_bool(not (job.publish or job.secrets)),  # never stop a publish half-way
        resource_group=f"gpu-{settings.gpu_pool}" if gpu else "",
        rules=_rules(pipeline, job),
        needs=tuple(_needs(pipeline, job)),
        variables=variables(pairs),
        matrix=tuple(variables(_with_runner_tag(pipeline, job, entry)) for entry in job.matrix_entries),
        cache=cache,
        before_script=tuple(setup_lines(pipeline, job)),
        script=tuple(script),
        artifacts=artifacts,
        release=release,
        allow_failure=job.manual,
    )


def dist_path(job: Job) -> str | None:
    dist = dist_artifact(job.uploads)
    return dist.path if dist else None


def _with_runner_tag(pipeline: CiPipeline, job: Job, entry: tuple[tuple[str, str], ...]
                     ) -> tuple[tuple[str, str], ...]:
    """A release-build matrix entry with its target's runner tag (`ci.release.target-tags`), for `tags:`."""
    tags = pipeline.settings.release.target_tags
    if not job.per_target or not tags:
        return entry
    target = next(value for var, value in entry if var == "TARGET")
    return (*entry, ("RUNNER_TAG", tags[target]))


def gitlab_view(pipeline: CiPipeline) -> GitlabPipeline:
    settings = pipeline.settings
    jobs = [gitlab_job(pipeline, job) for job in pipeline.ci_jobs]
    jobs += [gitlab_job(pipeline, job) for job in pipeline.release_jobs if job.stage == "release"]
    pairs = [
        ("PIPELINE_WORKSPACE", pipeline.context.workspace),
        # GitLab caches only paths inside the project directory.
        ("CARGO_HOME", "$CI_PROJECT_DIR/.cargo-home"),
        ("CARGO_TERM_COLOR", "always"),
    ]
    if settings.pip_install:
        pairs.append(("PIPELINE_VENV", "$CI_PROJECT_DIR/.pipeline-venv"))
    return GitlabPipeline(
        header=header(pipeline, "GitLab CI pipeline"),
        variables=variables(pairs),
        stages=tuple(Plain(s) for s in STAGES if any(j.stage == s for j in jobs)),
        jobs=tuple(jobs),
    )
