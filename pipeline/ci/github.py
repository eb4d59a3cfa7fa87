"""GitHub Actions: the job model as typed views of ``ci.yml``, ``release.yml`` and ``zizmor.yml``.

The views hold exactly what each file says (expressions, permissions, steps,
shell lines); ``templates/github-*.yml.j2`` only lay them out. Their fields
are load-bearing: see :mod:`pipeline.ci.view`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from pipeline.ci.model import (
    DIST_ARTIFACT,
    IMAGE_VAR,
    MATRIX_IMAGE,
    NOTES_ARTIFACT,
    NOTES_DIR,
    CiPipeline,
    Job,
    Runner,
    Workflow,
)
from pipeline.ci.pins import Pin, resolve_pins
from pipeline.ci.shell import dist_artifact, run_lines, setup_lines
from pipeline.ci.view import Plain, Var, header, variables, yaml_bool, yaml_int


@dataclass(frozen=True)
class Input:
    """One ``with:`` entry of a step: an inline value, or a literal block (``key: |``) when ``block`` is set."""

    key: Plain
    value: str = ""
    block: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    name: str
    uses: Plain | None = None  # `action@sha`; None for a `run:` step
    version: str = ""  # the pin's version, written as a comment after `uses:`
    inputs: tuple[Input, ...] = ()
    env: tuple[Var, ...] = ()
    run: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permission:
    scope: Plain
    access: Plain
    why: str  # written as a comment


@dataclass(frozen=True)
class GithubJob:
    id: Plain
    name: str
    condition: str  # `if:`; "" for none
    needs: tuple[Plain, ...]
    runs_on: tuple[str, ...]
    timeout: Plain
    permissions: tuple[Permission, ...]
    environment: str  # "" for none
    container: str  # "" for none
    matrix: tuple[tuple[Var, ...], ...]  # `strategy.matrix.include`
    env: tuple[Var, ...]
    steps: tuple[Step, ...]
    # Per-target runners of the release build: `runs-on: ${{ matrix.runner }}`, each include entry
    # carrying its `runner:` labels (empty: `runs_on` for every entry).
    matrix_runners: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class GithubCi:
    """``templates/github-ci.yml.j2``."""

    header: tuple[str, ...]
    name: str
    push_branch: str
    pr_branch: str
    env: tuple[Var, ...]
    jobs: tuple[GithubJob, ...]
    dispatch: bool = False  # `workflow_dispatch`: a manual job is there


@dataclass(frozen=True)
class GithubRelease:
    """``templates/github-release.yml.j2``."""

    header: tuple[str, ...]
    name: str
    tag_glob: str
    env: tuple[Var, ...]
    jobs: tuple[GithubJob, ...]


@dataclass(frozen=True)
class ZizmorConfig:
    """``templates/zizmor.yml.j2``."""

    header: tuple[str, ...]


def _step(name: str, *, pin: Pin | None = None, inputs: tuple[Input, ...] = (), run: list[str] | None = None,
          env: list[tuple[str, str]] | None = None) -> Step:
    return Step(
        name=name,
        uses=Plain(pin.uses) if pin else None,
        version=pin.version if pin else "",
        inputs=inputs,
        env=variables(env or []),
        run=tuple(run or ()),
    )


# Image labels of GitHub-hosted runners; every other `runs-on` label selects a self-hosted runner.
_HOSTED_PREFIXES = ("ubuntu-", "windows-", "macos-")


def self_hosted(labels: tuple[str, ...]) -> bool:
    """True when `runs-on` can reach a self-hosted runner: a `self-hosted` label in any letter case,
    or any label that is not a GitHub-hosted image name (`ubuntu-*`, `windows-*`, `macos-*`)."""
    return any(label.lower() == "self-hosted" or not label.lower().startswith(_HOSTED_PREFIXES)
               for label in labels)


def _condition(job: Job, labels: tuple[str, ...]) -> str:
    if job.manual:
        return "github.event_name == 'workflow_dispatch'"
    if not job.pull_requests:
        return "github.event_name != 'pull_request'"
    if job.runner is Runner.GPU or self_hosted(labels):
        # Self-hosted runners (every GPU job, and every job whose labels are not a GitHub-hosted image)
        # never run code from a fork.
        return (
            "github.event_name != 'pull_request' || "
            "github.event.pull_request.head.repo.full_name == github.repository"
        )
    return ""


def _matrix_key(var: str) -> str:
    return var.lower().replace("_", "-")


def _matrix_ref(var: str) -> str:
    return "${{ matrix." + _matrix_key(var) + " }}"


def _job_name(job: Job) -> str:
    if not job.matrix:
        return job.title
    shown = (_matrix_ref(var) for var, _ in job.matrix_entries[0]
             if var in ("SESSION", "CUDA_TOOLKIT", "ARCH", "FEATURE_SET", "TARGET"))
    return f"{job.title} (" + ", ".join(shown) + ")"


def _steps(pipeline: CiPipeline, job: Job, pins: dict[str, Pin], step_env: list[tuple[str, str]]) -> list[Step]:
    settings = pipeline.settings
    steps: list[Step] = []
    if job.publish:
        artifact = job.downloads[0]
        steps.append(_step("Download the release artifacts", pin=pins["actions/download-artifact"],
                           inputs=(Input(Plain("name"), artifact.name), Input(Plain("path"), "dist"))))
        steps.append(_step("Download the release notes", pin=pins["actions/download-artifact"],
                           inputs=(Input(Plain("name"), NOTES_ARTIFACT), Input(Plain("path"), NOTES_DIR))))
        steps.append(_step("Verify checksums", run=["cd dist", "sha256sum -c SHA256SUMS"]))
        # Provenance for every file, checked before anything is published (`gh attestation verify FILE`).
        steps.append(_step("Attest build provenance", pin=pins["actions/attest-build-provenance"],
                           inputs=(Input(Plain("subject-path"), "dist/*"),)))
        notes = shlex.quote(f"../{NOTES_DIR}")
        steps.append(_step("Create the GitHub release", run=[
            "cd dist",
            # The tool decided from the parsed version (`pipeline changelog --section --notes-dir`): the
            # marker is there only for a version with a pre-release part (`1.4.0-rc.1`).
            "flags=()",
            f"if [ -e {notes}/prerelease ]; then flags+=(--prerelease); fi",
            f'gh release create "$TAG" --repo "$GITHUB_REPOSITORY" --title "$TAG" --verify-tag'
            f' --notes-file {notes}/notes.md "${{flags[@]}}" -- *',
        ]))
        return steps
    checkout = [Input(Plain("persist-credentials"), yaml_bool(False))]
    if job.full_history:
        checkout.append(Input(Plain("fetch-depth"), yaml_int(0)))
    steps.append(_step("Check out", pin=pins["actions/checkout"], inputs=tuple(checkout)))
    for artifact in job.downloads:  # outputs of an earlier job, back where it wrote them
        if job.assemble and artifact.name == DIST_ARTIFACT:
            # Every target's dist, each in its own directory (`release-parts/dist-<target>/`).
            steps.append(_step("Download every target's artifacts", pin=pins["actions/download-artifact"],
                               inputs=(Input(Plain("pattern"), f"{DIST_ARTIFACT}-*"),
                                       Input(Plain("path"), artifact.path))))
            continue
        steps.append(_step(f"Download {artifact.name}", pin=pins["actions/download-artifact"],
                           inputs=(Input(Plain("name"), artifact.name), Input(Plain("path"), artifact.path))))
    if job.cache:
        prefix = "cargo-${{ runner.os }}-" + job.id + "-"
        key = prefix + "${{ hashFiles('" + pipeline.context.lockfile + "') }}"
        paths = ("~/.cargo/registry/index", "~/.cargo/registry/cache", "~/.cargo/git/db", *pipeline.cache_paths)
        steps.append(_step("Cache cargo and build outputs", pin=pins["actions/cache"], inputs=(
            Input(Plain("path"), block=paths), Input(Plain("key"), key), Input(Plain("restore-keys"), prefix))))
    setup = setup_lines(pipeline, job)
    if setup:
        steps.append(_step("Set up the toolchain and the pipeline", run=setup, env=step_env))
    steps.append(_step(f"nox -s {job.session or '$SESSION'}", run=run_lines(pipeline, job), env=step_env))
    for artifact in job.uploads:
        title = "Upload the release artifacts" if artifact.name == DIST_ARTIFACT else f"Upload {artifact.name}"
        name = artifact.name
        if job.per_target and artifact.name == DIST_ARTIFACT:
            name, title = f"{DIST_ARTIFACT}-{_matrix_ref('TARGET')}", "Upload this target's artifacts"
        steps.append(_step(title, pin=pins["actions/upload-artifact"], inputs=(
            Input(Plain("name"), name), Input(Plain("path"), artifact.path),
            Input(Plain("if-no-files-found"), "error"),
            Input(Plain("retention-days"), yaml_int(settings.release.retention_days)))))
    return steps


def github_job(pipeline: CiPipeline, job: Job, pins: dict[str, Pin]) -> GithubJob:
    settings = pipeline.settings
    labels = settings.gpu_runner if job.runner is Runner.GPU else settings.cpu_runner
    env: list[tuple[str, str]] = [*job.variables]
    if job.matrix:
        env += [(var, _matrix_ref(var)) for var, _ in job.matrix_entries[0]]
    # The runner context exists for steps only, not in a job's `env`.
    step_env = [("PIPELINE_VENV", "${{ runner.temp }}/pipeline-venv")] if settings.pip_install else []
    dist = dist_artifact(job.uploads)
    if dist:
        env.append(("DIST_DIR", dist.path))
    env += [(var, "${{ secrets." + secret + " }}") for var, secret in job.secrets]
    if job.publish:
        env += [("GH_TOKEN", "${{ github.token }}"), ("TAG", "${{ github.ref_name }}")]
    permissions = (
        (
            Permission(Plain("contents"), Plain("write"), "to create the release and upload its assets"),
            Permission(Plain("id-token"), Plain("write"), "to sign the provenance attestations (Sigstore OIDC)"),
            Permission(Plain("attestations"), Plain("write"), "to store the provenance attestations"),
        )
        if job.publish
        else (Permission(Plain("contents"), Plain("read"), "to check out the repository"),)
    )
    runners = _target_runners(pipeline, job)
    if runners:
        labels = tuple(label for entry in runners for label in entry)  # the fork guard looks at all of them
    return GithubJob(
        id=Plain(job.id),
        name=_job_name(job),
        condition=_condition(job, labels),
        needs=tuple(Plain(n) for n in job.needs),
        runs_on=("${{ matrix.runner }}",) if runners else tuple(labels),
        timeout=yaml_int(job.timeout),
        permissions=permissions,
        environment=settings.release.environment if job.publish else job.environment,
        container=_matrix_ref(IMAGE_VAR) if job.container == MATRIX_IMAGE else job.container,
        matrix=tuple(variables([(_matrix_key(var), value) for var, value in entry]) for entry in job.matrix_entries),
        env=variables(env),
        steps=tuple(_steps(pipeline, job, pins, step_env)),
        matrix_runners=runners,
    )


def _target_runners(pipeline: CiPipeline, job: Job) -> tuple[tuple[str, ...], ...]:
    """The `runs-on` labels of each release-build matrix entry (`ci.release.target-runners`, else `cpu-runner`);
    () when every target builds on `cpu-runner`, so `runs-on` stays one list."""
    runners = pipeline.settings.release.target_runners
    if not job.per_target or not runners:
        return ()
    targets = [value for entry in job.matrix_entries for var, value in entry if var == "TARGET"]
    return tuple(tuple(runners.get(t, pipeline.settings.cpu_runner)) for t in targets)


def github_view(pipeline: CiPipeline, workflow: Workflow) -> GithubCi | GithubRelease:
    settings = pipeline.settings
    pins = resolve_pins(settings.pins)
    jobs = tuple(github_job(pipeline, job, pins) for job in pipeline.jobs(workflow))
    triggers = {t.event: t.pattern for t in pipeline.triggers(workflow)}
    env = variables([("PIPELINE_WORKSPACE", pipeline.context.workspace), ("CARGO_TERM_COLOR", "always")])
    if workflow is Workflow.RELEASE:
        return GithubRelease(
            header=header(pipeline, "GitHub Actions release workflow"),
            name=f"{settings.workflow_name} release",
            tag_glob=f"{triggers['tag']}[0-9]*",
            env=env,
            jobs=jobs,
        )
    return GithubCi(
        header=header(pipeline, "GitHub Actions CI workflow"),
        name=settings.workflow_name,
        push_branch=triggers.get("push", ""),
        pr_branch=triggers.get("pull_request", ""),
        env=env,
        jobs=jobs,
        dispatch=any(job.manual for job in pipeline.jobs(workflow)),
    )


def zizmor_view(pipeline: CiPipeline) -> ZizmorConfig:
    return ZizmorConfig(header=header(pipeline, "zizmor configuration"))
