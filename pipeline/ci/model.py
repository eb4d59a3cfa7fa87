"""The CI job model: configuration in, jobs out (pure; no I/O, no YAML).

Both GitHub Actions and GitLab CI are rendered from the same :class:`CiPipeline`:
every job runs one nox session (so CI does what a developer runs locally),
on a CPU or GPU runner, maybe over a matrix, after the jobs it ``needs``.
Platform details (expressions, ``rules:``, permissions) are added by
``pipeline.ci.render``; the templates only lay the result out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.changes.patterns import gitlab_changes
from pipeline.ci.settings import PROFILE_JOB, RELEASE_JOB, CiSettings
from pipeline.stages import registry


class Runner(StrEnum):
    CPU = "cpu"
    GPU = "gpu"


class Workflow(StrEnum):
    CI = "ci"  # pushes to the default branch, pull/merge requests
    RELEASE = "release"  # version tags


@dataclass(frozen=True)
class Trigger:
    """What starts a workflow: ``push``/``pull_request`` to a branch, or a ``tag`` starting with a prefix."""

    event: str
    pattern: str


@dataclass(frozen=True)
class MatrixAxis:
    """One matrix dimension; each entry sets one or more environment variables (``(name, value)`` pairs)."""

    name: str  # stages | archs | features
    entries: tuple[tuple[tuple[str, str], ...], ...]


DIST_ARTIFACT = "dist"  # the release's files: SHA256SUMS, published by the last job
NOTES_ARTIFACT = "release-notes"  # notes.md, release.env, prerelease: `pipeline changelog --section --notes-dir`
NOTES_DIR = "release-notes"  # where the notes are written and downloaded, relative to the repository root
PARTS_DIR = "release-parts"  # where the assemble job downloads every target's dist, one directory each
ASSEMBLE_JOB = "assemble"
KERNELS_ARTIFACT = "cuda-kernels"  # target/cuda of the release's CUDA job, packaged by the release build


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str  # relative to the repository root


@dataclass(frozen=True)
class Job:
    id: str
    title: str
    stage: str  # GitLab stage; also groups jobs in the docs
    session: str  # nox session; "" when the stage matrix axis sets $SESSION; "-" for the publish job
    args: tuple[str, ...] = ()  # after `nox -s SESSION --`
    feature_args: bool = False  # append `-- --features "$FEATURES"` (the feature matrix)
    matrix: tuple[MatrixAxis, ...] = ()
    runner: Runner = Runner.CPU
    needs: tuple[str, ...] = ()
    timeout: int = 30
    pull_requests: bool = True
    cache: bool = False
    container: str = ""
    gpus: int = 0  # > 0: run under `pipeline gpu run --gpus N` on a GPU runner
    uploads: tuple[Artifact, ...] = ()
    downloads: tuple[Artifact, ...] = ()
    publish: bool = False  # creates the release: the only job with write access
    full_history: bool = False  # needs tags and history (changelog, release)
    rust: bool = True  # needs the Rust toolchain
    environment: str = ""  # GitHub environment whose secrets the job reads
    secrets: tuple[tuple[str, str], ...] = ()  # (env var, GitHub secret name): only inside `environment`
    manual: bool = False  # runs only when started by hand (GitHub workflow_dispatch, GitLab `when: manual`)
    variables: tuple[tuple[str, str], ...] = ()  # job environment (`env:` / `variables:`), validated values
    # Input-scoped: on merge requests GitLab runs it only when one of these repository-relative
    # globs (`**` spans directories) matches a changed file; () runs it on every one. From the
    # registry's stage inputs (pipeline.changes.patterns); GitHub has no per-job path filter.
    changes: tuple[str, ...] = ()
    # The release build per target (`matrix` has the TARGET axis): each entry uploads its own dist,
    # named for its target, for the assemble job.
    per_target: bool = False
    assemble: bool = False  # merges the per-target dists (`release --assemble`) into one
    notes: bool = False  # writes the release notes (`changelog --section --notes-dir`) and uploads them

    @property
    def sessions(self) -> tuple[str, ...]:
        """The nox sessions this job runs (several for the stage matrix)."""
        if self.session == "":
            return tuple(v for entry in self.matrix_entries for k, v in entry if k == "SESSION")
        return () if self.session == "-" else (self.session,)

    @property
    def matrix_entries(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        """The cross product of the axes, each entry the variables it sets."""
        if not self.matrix:
            return ()
        return tuple(
            tuple(var for entry in combo for var in entry)
            for combo in itertools.product(*(axis.entries for axis in self.matrix))
        )


@dataclass(frozen=True)
class Context:
    """Facts about the repository the model needs (gathered by the caller)."""

    workspace: str  # workspace directory relative to the repository root ("." at the root)
    lockfile: str  # Cargo.lock relative to the repository root
    dist_dir: str  # release artifacts, relative to the repository root
    cuda_cache_dir: str  # relative to the repository root
    tool_version: str
    config_file: str  # where the configuration lives, relative to the repository root
    release_tag_prefix: str = "v"  # what the release section's tags start with before the version
    # Where `pipeline audit` reads the RustSec advisory-db, so the audit job can clone it there: relative to
    # the repository root, or `~/...`; None when the runner provides it (cargo-deny, an absolute `db`).
    advisory_db: str | None = "~/.cargo/advisory-db"
    cuda_output_dir: str = "target/cuda"  # what `pipeline cuda` writes and the release packages
    # `[workspace.metadata.pipeline.runner] enforce`: GPU jobs stop (instead of warning) when
    # `pipeline runner check` finds the runner misconfigured.
    runner_enforce: bool = False
    profile_dir: str = "target/profile"  # what `pipeline profile` writes (the profile job uploads it)
    release_targets: tuple[str, ...] = ()  # `release.targets`: the release build's matrix
    release_cross: tuple[tuple[str, str], ...] = ()  # `release.cross`: (target, cargo|zigbuild|cross)
    cuda_toolkits: tuple[str, ...] = ()  # `cuda.toolkits`, oldest first: the CUDA job's toolkit axis


@dataclass(frozen=True)
class CiPipeline:
    settings: CiSettings
    context: Context
    ci_jobs: tuple[Job, ...]
    release_jobs: tuple[Job, ...]
    cache_paths: tuple[str, ...] = field(default=())  # relative to the repository root
    ci_triggers: tuple[Trigger, ...] = field(default=())
    release_triggers: tuple[Trigger, ...] = field(default=())

    def jobs(self, workflow: Workflow) -> tuple[Job, ...]:
        return self.ci_jobs if workflow is Workflow.CI else self.release_jobs

    def triggers(self, workflow: Workflow) -> tuple[Trigger, ...]:
        return self.ci_triggers if workflow is Workflow.CI else self.release_triggers

    def job(self, workflow: Workflow, job_id: str) -> Job:
        for job in self.jobs(workflow):
            if job.id == job_id:
                return job
        raise KeyError(job_id)


def _join(base: str, path: str) -> str:
    return path if base in ("", ".") else f"{base}/{path}"


def _timeout(settings: CiSettings, stage: str) -> int:
    return settings.timeouts.get(stage, registry.ci_timeouts().get(stage, 30))


def _session(stage: str) -> str:
    """The nox session a stage's job runs."""
    return registry.get(stage).session_name or stage


def _feature_axis(settings: CiSettings) -> tuple[MatrixAxis, ...]:
    if not settings.feature_sets:
        return ()
    entries = tuple(
        (("FEATURE_SET", name), ("FEATURES", ",".join(features))) for name, features in settings.feature_sets.items()
    )
    return (MatrixAxis("features", entries),)


def _arch_axis(settings: CiSettings) -> tuple[MatrixAxis, ...]:
    return (MatrixAxis("archs", tuple((("ARCH", arch),) for arch in settings.cuda_archs)),)


# Jobs appear in this order of their kind (cheap and early first); within a kind, in registry order.
_KIND_ORDER = ("generate", "check", "cargo", "cuda", "gpu")


def _needs(stage: registry.Stage, enabled: set[str]) -> tuple[str, ...]:
    """Job ids ``stage`` waits for: a need switched off is replaced by what it waits for itself."""
    found: list[str] = []
    assert stage.ci is not None
    for name in stage.ci.needs:
        try:
            need = registry.get(name)
        except KeyError:
            continue
        if need.ci is None:
            continue
        if name in enabled:
            found.append(need.ci.job_id)
        else:
            found.extend(_needs(need, enabled))
    return tuple(dict.fromkeys(found))


def _changes(stages: list[registry.Stage], workspace: str) -> tuple[str, ...]:
    """The change globs of a job running ``stages``: () when one of them is not input-scoped."""
    globs: list[str] = []
    for stage in stages:
        found = gitlab_changes(stage.inputs, workspace) if stage.ci and stage.ci.scoped and stage.inputs else None
        if not found:
            return ()
        globs += found
    return tuple(dict.fromkeys(globs))


def _stage_jobs(settings: CiSettings, *, release: bool, workspace: str = ".") -> list[Job]:
    """The stage jobs of the CI workflow, or the release gates (no caches, no PR filter, no change rules)."""
    wanted = [s for s in settings.stages if not release or s in settings.release.gates]
    enabled = set(wanted)
    on_pr = set(settings.pr_stages)
    cache = not release  # caches restored in release workflows can be poisoned
    jobs: list[Job] = []

    def pr(stage: str) -> bool:
        return release or stage in on_pr

    def changes(*of: registry.Stage) -> tuple[str, ...]:
        return () if release else _changes(list(of), workspace)

    stages = [s for s in registry.stages() if s.ci is not None and s.name in enabled]
    for kind in _KIND_ORDER:
        of_kind = [s for s in stages if s.ci is not None and s.ci.kind == kind]
        if kind == "check":
            checks = [s.name for s in of_kind]
            # One matrix job per trigger set: a matrix entry cannot be switched off on its own.
            for job_id, group in (("checks", [s for s in checks if pr(s)]),
                                  ("checks-main", [s for s in checks if not pr(s)])):
                if group:
                    axis = MatrixAxis("stages", tuple((("SESSION", _session(s)),) for s in group))
                    jobs.append(Job(job_id, "cheap checks", "check", "", matrix=(axis,),
                                    timeout=max(_timeout(settings, s) for s in group), pull_requests=pr(group[0]),
                                    cache=cache, changes=changes(*(registry.get(s) for s in group))))
            continue
        for stage in of_kind:
            rule = stage.ci
            assert rule is not None
            common = dict(timeout=_timeout(settings, stage.name), pull_requests=pr(stage.name), rust=rule.rust,
                          changes=changes(stage))
            if kind == "generate":
                jobs.append(Job(rule.job_id, rule.title, rule.group, _session(stage.name), rule.args, **common))
            elif kind == "cargo":
                jobs.append(Job(rule.job_id, rule.title, rule.group, _session(stage.name), rule.args,
                                feature_args=bool(settings.feature_sets), matrix=_feature_axis(settings),
                                cache=cache, **common))
            elif kind == "cuda":
                jobs.append(Job(rule.job_id, rule.title, rule.group, _session(stage.name), rule.args,
                                matrix=_arch_axis(settings), cache=cache, container=settings.cuda_image, **common))
            else:
                jobs.append(Job(rule.job_id, rule.title, rule.group, _session(stage.name), rule.args,
                                runner=Runner.GPU, needs=_needs(stage, enabled), cache=cache, gpus=settings.gpus,
                                **common))
    for extra in settings.extra_sessions:
        if release and not extra.release_gate:
            continue
        gpu = extra.runner == "gpu"
        jobs.append(Job(extra.name, f"nox session {extra.nox_session}", "test", extra.nox_session, extra.args,
                        runner=Runner.GPU if gpu else Runner.CPU, needs=extra.needs,
                        timeout=settings.timeouts.get(extra.name, extra.timeout),
                        pull_requests=release or extra.pull_requests, cache=cache,
                        gpus=settings.gpus if gpu else 0))
    known = {job.id for job in jobs}
    # `needs` naming a job that is switched off (or not a gate) would make the file invalid.
    jobs = [_replace_needs(job, tuple(n for n in job.needs if n in known)) for job in jobs]
    return _off_pull_requests_with_their_needs(jobs)


def _off_pull_requests_with_their_needs(jobs: list[Job]) -> list[Job]:
    """A job waiting for one that does not run on pull requests does not run there either.

    GitLab refuses to create a merge-request pipeline whose job `needs` a job the rules left
    out, and GitHub skips such a job anyway; saying so in the model keeps both files honest.
    """
    from dataclasses import replace

    off = {job.id for job in jobs if not job.pull_requests}
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job.id not in off and off.intersection(job.needs):
                off.add(job.id)
                changed = True
    return [replace(job, pull_requests=False) if job.id in off and job.pull_requests else job for job in jobs]


def _replace_needs(job: Job, needs: tuple[str, ...]) -> Job:
    from dataclasses import replace

    return replace(job, needs=needs) if needs != job.needs else job


RELEASE_KERNELS_JOB = "release-kernels"


def _release_kernels(settings: CiSettings, context: Context, gates: list[Job]) -> tuple[list[Job], Job | None]:
    """The CUDA gate of a release, as one job building every architecture and handing `target/cuda` on.

    The release build packages `target/cuda` when it finds it there; on its own fresh runner
    (no nvcc) it would find nothing, and the release would ship without its kernels.
    """
    ids = {job.id for job in gates}
    # The stage that compiles the kernels: a CUDA-matrix stage producing an artifact, among the gates.
    producer = next((s for s in registry.stages()
                     if s.ci is not None and s.ci.kind == "cuda" and s.produces and s.ci.job_id in ids), None)
    if producer is None or producer.ci is None:
        return gates, None
    job_id = producer.ci.job_id
    args = tuple(word for arch in settings.cuda_archs for word in ("--arch", arch))
    kernels = Job(RELEASE_KERNELS_JOB, "CUDA kernels for the release", "release", _session(producer.name), args,
                  timeout=_timeout(settings, producer.name), container=settings.cuda_image, rust=False,
                  uploads=(Artifact(KERNELS_ARTIFACT, context.cuda_output_dir),))
    renamed = [_replace_needs(job, tuple(RELEASE_KERNELS_JOB if n == job_id else n for n in job.needs))
               for job in gates if job.id != job_id]
    return renamed, kernels


def _release_jobs(settings: CiSettings, context: Context) -> list[Job]:
    if not settings.release.enabled:
        return []
    gates, kernels = _release_kernels(settings, context, _stage_jobs(settings, release=True))
    dist = Artifact(DIST_ARTIFACT, context.dist_dir)
    timeout = settings.timeouts.get(RELEASE_JOB, settings.release.timeout)
    before = [*gates, *([kernels] if kernels else [])]
    notes = Artifact(NOTES_ARTIFACT, NOTES_DIR)
    needs, kernel_downloads = tuple(job.id for job in before), kernels.uploads if kernels else ()
    built: list[Job]
    if context.release_targets:
        # One build per target, each on a runner that can build it; the assemble job makes them one release.
        axis = MatrixAxis("targets", tuple((("TARGET", t),) for t in context.release_targets))
        build = Job(RELEASE_JOB, "release artifacts", "release", "release",
                    (*settings.release.args, "--target", "$TARGET"), matrix=(axis,), uploads=(dist,),
                    per_target=True, needs=needs, timeout=timeout, downloads=kernel_downloads, full_history=True)
        assemble = Job(ASSEMBLE_JOB, "one SHA256SUMS and manifest for every target", "release", "release",
                       ("--assemble", PARTS_DIR), needs=(RELEASE_JOB,), timeout=15, rust=False, full_history=True,
                       downloads=(Artifact(DIST_ARTIFACT, PARTS_DIR),), uploads=(dist, notes), assemble=True,
                       notes=True)
        built, last = [build, assemble], ASSEMBLE_JOB
    else:
        build = Job(RELEASE_JOB, "release artifacts and SHA256SUMS", "release", "release", settings.release.args,
                    uploads=(dist, notes), notes=True, needs=needs, timeout=timeout, downloads=kernel_downloads,
                    full_history=True)
        built, last = [build], RELEASE_JOB
    publish = Job("publish", "publish the release", "release", "-", needs=(last,), timeout=15,
                  downloads=(dist, notes), publish=True, rust=False)
    jobs = [*before, *built, publish]
    if settings.release.publish_crates:
        # Its own job: only it sees the registry token, and only after the gates and the artifacts passed.
        jobs.append(Job("publish-crates", "publish the crates", "release", "release", ("--publish-only", "--execute"),
                        needs=(RELEASE_JOB,), timeout=30, environment=settings.release.crates_environment,
                        secrets=(("CARGO_REGISTRY_TOKEN", "CARGO_REGISTRY_TOKEN"),)))
    return jobs


def _profile_job(settings: CiSettings, context: Context) -> list[Job]:
    """The manual profiling job: `pipeline profile` leases its GPUs itself, so no `gpu run` around it."""
    if not settings.profile:
        return []
    args = ("--tool", settings.profile_tool, "--gpus", str(settings.gpus), "--require", "--", *settings.profile)
    return [Job(PROFILE_JOB, f"{settings.profile_tool} profile on a GPU runner (manual)", "gpu", "profile", args,
                runner=Runner.GPU, timeout=settings.timeouts.get(PROFILE_JOB, 60), pull_requests=False,
                manual=True, uploads=(Artifact(PROFILE_JOB, context.profile_dir),))]


TOOLKIT_VAR = "CUDA_TOOLKIT"
IMAGE_VAR = "CUDA_IMAGE"
MATRIX_IMAGE = "$" + IMAGE_VAR  # Job.container of a job whose image comes from its matrix entry


def toolkit_image(settings: CiSettings, version: str) -> str:
    """The CUDA job's image for toolkit ``version``: `ci.cuda-images`, else `ci.cuda-image`.

    An `nvidia/cuda:X.Y...` image holding another release would make the job fail at its first nvcc
    run ("toolkit 12.9 ... not found"); say so when generating instead.
    """
    from pipeline.foundation.errors import ConfigError

    image = settings.cuda_images.get(version, settings.cuda_image)
    match = re.match(r"^(?:[\w.-]+/)*nvidia/cuda:(\d+\.\d+)\.", image) if image else None
    if match and match.group(1) != version:
        raise ConfigError(
            f"[workspace.metadata.pipeline.ci]: the CUDA job for toolkit {version} would run in {image!r}, "
            f"which holds CUDA {match.group(1)}",
            f'add `cuda-images = {{ "{version}" = "nvidia/cuda:{version}.<patch>-devel-ubuntu24.04@sha256:<digest>" }}`'
            " (pinned by digest), or set `cuda-image = \"\"` to run on runners that have every toolkit",
        )
    return image


def _toolkit_axis(settings: CiSettings, context: Context) -> tuple[MatrixAxis, ...]:
    """The toolkit dimension of the CUDA job: each configured toolkit, with its own image when they differ."""
    if len(context.cuda_toolkits) < 2:
        return ()
    images = {v: toolkit_image(settings, v) for v in context.cuda_toolkits}
    if len(set(images.values())) == 1:
        return (MatrixAxis("toolkits", tuple(((TOOLKIT_VAR, v),) for v in context.cuda_toolkits)),)
    if "" in images.values():
        from pipeline.foundation.errors import ConfigError

        raise ConfigError("[workspace.metadata.pipeline.ci]: `cuda-images` gives some toolkits an image while "
                          "`cuda-image` is empty (the others would run on the runner itself)",
                          "give every toolkit of `cuda.toolkits` an image, or none")
    return (MatrixAxis("toolkits", tuple(((TOOLKIT_VAR, v), (IMAGE_VAR, images[v])) for v in context.cuda_toolkits)),)


def _with_toolkits(settings: CiSettings, context: Context, jobs: list[Job]) -> list[Job]:
    """`cuda.toolkits`: the CUDA job over toolkit x architecture; the kernels that GPU jobs load and
    releases ship built with the newest toolkit (`PIPELINE_CUDA_TOOLKIT`, its image)."""
    from dataclasses import replace

    if not context.cuda_toolkits:
        return jobs
    newest = context.cuda_toolkits[-1]
    pinned = (("PIPELINE_CUDA_TOOLKIT", newest),)
    axis = _toolkit_axis(settings, context)
    out = []
    for job in jobs:
        if axis and any(a.name == "archs" for a in job.matrix):  # the compile matrix
            container = MATRIX_IMAGE if any(k == IMAGE_VAR for k, _ in axis[0].entries[0]) else job.container
            job = replace(job, matrix=(*axis, *job.matrix), args=(*job.args, "--toolkit", f"${TOOLKIT_VAR}"),
                          container=container)
        elif job.runner is Runner.GPU or any(a.name == KERNELS_ARTIFACT for a in job.uploads):
            container = toolkit_image(settings, newest) if job.container else ""
            job = replace(job, variables=(*job.variables, *pinned), container=container)
        out.append(job)
    return out


def build_pipeline(settings: CiSettings, context: Context) -> CiPipeline:
    """The whole pipeline for ``settings``: CI jobs and release jobs."""
    paths = list(dict.fromkeys((*(_join(context.workspace, d) for d in settings.cache_dirs), context.cuda_cache_dir)))
    # A directory inside another cached one is cached already.
    cache_paths = tuple(p for p in paths if not any(p.startswith(f"{other}/") for other in paths))
    return CiPipeline(
        settings=settings,
        context=context,
        ci_jobs=tuple(_with_toolkits(settings, context, [
            *_stage_jobs(settings, release=False, workspace=context.workspace), *_profile_job(settings, context)])),
        release_jobs=tuple(_with_toolkits(settings, context, _release_jobs(settings, context))),
        cache_paths=cache_paths,
        ci_triggers=(Trigger("push", settings.default_branch), Trigger("pull_request", settings.default_branch)),
        release_triggers=(
            (Trigger("tag", settings.release.tag_prefix or context.release_tag_prefix),)
            if settings.release.enabled
            else ()
        ),
    )


def critical_path(jobs: tuple[Job, ...], weights: Mapping[str, int] | None = None) -> tuple[list[str], int]:
    """The longest chain of dependent jobs (by timeout minutes unless ``weights`` says otherwise)."""
    by_id = {job.id: job for job in jobs}
    best: dict[str, tuple[int, list[str]]] = {}

    def visit(job_id: str) -> tuple[int, list[str]]:
        if job_id not in best:
            job = by_id[job_id]
            cost = weights.get(job_id, job.timeout) if weights else job.timeout
            prior = max((visit(n) for n in job.needs if n in by_id), default=(0, []), key=lambda x: x[0])
            best[job_id] = (prior[0] + cost, [*prior[1], job_id])
        return best[job_id]

    if not jobs:
        return [], 0
    total, chain = max((visit(job.id) for job in jobs), key=lambda x: (x[0], len(x[1])))
    return chain, total
