"""The shell lines of a CI job, the same on both platforms: provisioning and the nox command.

Every word comes from validated configuration and is quoted with
:func:`shlex.quote`, except ``$VAR`` references the job sets itself, which
stay expandable inside double quotes.
"""

from __future__ import annotations

import re
import shlex

from pipeline.ci.model import DIST_ARTIFACT, NOTES_DIR, Artifact, CiPipeline, Job, Runner

_ENV_REF = re.compile(r"\$[A-Z_][A-Z0-9_]*")

# Optional extras of this tool that a session needs in the job's venv: without pycuda the load test
# reports "skipped" (a failure under --require-gpu), without pip-audit `pipeline audit` stops.
SESSION_EXTRAS = {"gpu_smoke": "gpu", "audit": "audit"}
ADVISORY_DB_URL = "https://github.com/rustsec/advisory-db.git"


def _word(arg: str) -> str:
    """A shell word: `$VAR` references stay expandable (quoted), anything else is quoted literally."""
    return f'"{arg}"' if _ENV_REF.fullmatch(arg) else shlex.quote(arg)


def _nox_words(pipeline: CiPipeline, job: Job) -> list[str]:
    settings = pipeline.settings
    nox = '"$PIPELINE_VENV/bin/nox"' if settings.pip_install else "nox"
    session = '"$SESSION"' if job.session == "" else shlex.quote(job.session)
    words = [nox, "--no-dependencies", "-f", shlex.quote(settings.noxfile), "-s", session]
    posargs = [_word(a) for a in job.args]
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


def _advisory_db_line(pipeline: CiPipeline, job: Job) -> str | None:
    """Clone (or update) the RustSec advisory-db where `pipeline audit` reads it: runners start without it."""
    db = pipeline.context.advisory_db
    if db is None or "audit" not in job.sessions:
        return None
    shown = f'"$HOME/{db[2:]}"' if db.startswith("~/") else shlex.quote(db)
    line = (f"if [ -d {shown}/.git ]; then git -C {shown} pull --quiet --ff-only; "
            f"else git clone --quiet --depth 1 {ADVISORY_DB_URL} {shown}; fi")
    # In the matrix over check stages only the audit entry needs it.
    return f'if [ "$SESSION" = audit ]; then {line}; fi' if job.session == "" else line


def setup_lines(pipeline: CiPipeline, job: Job) -> list[str]:
    """Provisioning of one job: Python in bare containers, the Rust toolchain, the tool in a venv."""
    settings = pipeline.settings
    lines: list[str] = []
    if job.container:
        lines.append(
            "if ! command -v python3 >/dev/null; then apt-get update"
            " && apt-get install -y --no-install-recommends python3 python3-venv; fi"
        )
    if job.rust and settings.setup_toolchain:
        toolchain = shlex.quote(settings.toolchain)
        lines.append(
            f"rustup toolchain install {toolchain} --profile minimal --component rustfmt,clippy --no-self-update"
        )
        lines.append(f"rustup default {toolchain}")
    if job.per_target and job.rust and settings.setup_toolchain:
        lines.append('rustup target add "$TARGET"')
    if settings.pip_install and job.session != "-":
        lines.append('python3 -m venv "$PIPELINE_VENV"')
        extras = sorted({SESSION_EXTRAS[s] for s in job.sessions if s in SESSION_EXTRAS})
        requirements = " ".join(shlex.quote(with_extras(r, extras)) for r in settings.pip_install)
        lines.append(f'"$PIPELINE_VENV/bin/python" -m pip install --disable-pip-version-check {requirements}')
    advisory_db = _advisory_db_line(pipeline, job)
    if advisory_db:
        lines.append(advisory_db)
    cross = _cross_line(pipeline, job)
    if cross:
        lines.append(cross)
    return lines


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


def run_lines(pipeline: CiPipeline, job: Job) -> list[str]:
    """The runner check on GPU runners, the job's nox session (under `pipeline gpu run` where it leases
    GPUs), then the checksum check."""
    check = runner_check_line(pipeline, job)
    lines = [*([check] if check else []), " ".join(_nox_words(pipeline, job))]
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
