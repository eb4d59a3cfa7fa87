"""Platform views of the job model, and rendering them through the templates.

``github_view`` and ``gitlab_view`` turn a :class:`CiPipeline` into plain
dicts and lists holding exactly what each file says (expressions, rules,
permissions, shell lines); the jinja2 templates only lay them out. Every
string that reaches YAML goes through the ``q`` filter (a double-quoted
scalar) or sits in a literal block (``run: |``), and configuration values were
validated against strict patterns before they got here.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.ci.model import DIST_ARTIFACT, Artifact, CiPipeline, Job, Runner, Workflow
from pipeline.ci.pins import Pin, resolve_pins

GITHUB_CI = ".github/workflows/ci.yml"
GITHUB_RELEASE = ".github/workflows/release.yml"
GITHUB_ZIZMOR = ".github/zizmor.yml"
GITLAB_CI = ".gitlab-ci.yml"

TEMPLATES = {
    GITHUB_CI: "github-ci.yml.j2",
    GITHUB_RELEASE: "github-release.yml.j2",
    GITHUB_ZIZMOR: "zizmor.yml.j2",
    GITLAB_CI: "gitlab-ci.yml.j2",
}

GITLAB_STAGES = ("check", "test", "build", "gpu", "release")
_ENV_REF = re.compile(r"\$[A-Z_][A-Z0-9_]*")


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


# Optional extras of this tool that a session needs in the job's venv: without pycuda the load test
# reports "skipped" (a failure under --require-gpu), without pip-audit `pipeline audit` stops.
SESSION_EXTRAS = {"gpu_smoke": "gpu", "audit": "audit"}
_TOOL_NAME = re.compile(r"cargo[-_.]gpu[-_.]pipeline", re.IGNORECASE)
_REQUIREMENT = re.compile(r"(?P<name>[^\[<>=!~]+)(?:\[(?P<extras>[^\]]*)\])?(?P<rest>.*)")
ADVISORY_DB_URL = "https://github.com/rustsec/advisory-db.git"


def with_extras(requirement: str, extras: list[str]) -> str:
    """``.`` -> ``.[gpu]``, ``cargo-gpu-pipeline==0.1.0`` -> ``cargo-gpu-pipeline[gpu]==0.1.0``; others unchanged."""
    match = _REQUIREMENT.fullmatch(requirement)
    if not extras or match is None:
        return requirement
    name = match.group("name")
    local = name.startswith(".") or "/" in name  # this checkout (`.`) or another path to the tool
    if not local and _TOOL_NAME.fullmatch(name) is None:
        return requirement
    have = [e for e in (match.group("extras") or "").split(",") if e]
    wanted = have + [e for e in extras if e not in have]
    return f"{name}[{','.join(wanted)}]{match.group('rest')}"


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
    if settings.pip_install and job.session != "-":
        lines.append('python3 -m venv "$PIPELINE_VENV"')
        extras = sorted({SESSION_EXTRAS[s] for s in job.sessions if s in SESSION_EXTRAS})
        requirements = " ".join(shlex.quote(with_extras(r, extras)) for r in settings.pip_install)
        lines.append(f'"$PIPELINE_VENV/bin/python" -m pip install --disable-pip-version-check {requirements}')
    advisory_db = _advisory_db_line(pipeline, job)
    if advisory_db:
        lines.append(advisory_db)
    return lines


def _dist(artifacts: tuple[Artifact, ...]) -> Artifact | None:
    return next((a for a in artifacts if a.name == DIST_ARTIFACT), None)


def run_lines(pipeline: CiPipeline, job: Job) -> list[str]:
    lines = [" ".join(_nox_words(pipeline, job))]
    if _dist(job.uploads):
        # The release session writes SHA256SUMS; make sure it is there and matches before upload.
        lines.append(
            '(cd "$DIST_DIR" && if [ ! -f SHA256SUMS ]; then sha256sum -- * > SHA256SUMS; fi'
            " && sha256sum -c SHA256SUMS)"
        )
    return lines


def _header(pipeline: CiPipeline, what: str) -> list[str]:
    ctx = pipeline.context
    return [
        f"Generated by cargo-gpu-pipeline {ctx.tool_version} (`pipeline generate`): {what}. Do not edit:",
        f"change [workspace.metadata.pipeline.ci] in {ctx.config_file} and run `pipeline generate` again.",
    ]


# ---------------------------------------------------------------------------
# GitHub Actions


def _step(
    name: str,
    *,
    pin: Pin | None = None,
    with_: list[tuple[str, str, Any]] | None = None,
    run: list[str] | None = None,
    env: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A step with every key the template reads (``with`` entries are (key, kind, value); kind str|raw|block)."""
    return {
        "name": name,
        "uses": pin.uses if pin else "",
        "comment": pin.version if pin else "",
        "with": with_ or [],
        "env": env or [],
        "run": run or [],
    }


def _github_if(job: Job, labels: tuple[str, ...]) -> str:
    if not job.pull_requests:
        return "github.event_name != 'pull_request'"
    if job.runner is Runner.GPU or "self-hosted" in labels:
        # Self-hosted runners (every GPU job, and CPU jobs where configured so) never run code from a fork.
        return (
            "github.event_name != 'pull_request' || "
            "github.event.pull_request.head.repo.full_name == github.repository"
        )
    return ""


def _matrix_key(var: str) -> str:
    return var.lower().replace("_", "-")


def _matrix_ref(var: str) -> str:
    return "${{ matrix." + _matrix_key(var) + " }}"


def _github_job(pipeline: CiPipeline, job: Job, pins: dict[str, Pin]) -> dict[str, Any]:
    settings = pipeline.settings
    labels = settings.gpu_runner if job.runner is Runner.GPU else settings.cpu_runner
    env: list[tuple[str, str]] = []
    matrix: list[list[tuple[str, str]]] = []
    for entry in job.matrix_entries:
        matrix.append([(_matrix_key(var), value) for var, value in entry])
    if job.matrix:
        for var, _ in job.matrix_entries[0]:
            env.append((var, _matrix_ref(var)))
    # The runner context exists for steps only, not in a job's `env`.
    step_env = [("PIPELINE_VENV", "${{ runner.temp }}/pipeline-venv")] if settings.pip_install else []
    dist = _dist(job.uploads)
    if dist:
        env.append(("DIST_DIR", dist.path))
    steps: list[dict[str, Any]] = []
    if job.publish:
        env += [("GH_TOKEN", "${{ github.token }}"), ("TAG", "${{ github.ref_name }}")]
        artifact = job.downloads[0]
        steps.append(_step("Download the release artifacts", pin=pins["actions/download-artifact"],
                           with_=[("name", "str", artifact.name), ("path", "str", "dist")]))
        steps.append(_step("Verify checksums and create the GitHub release", run=[
            "cd dist",
            "sha256sum -c SHA256SUMS",
            'gh release create "$TAG" --repo "$GITHUB_REPOSITORY" --title "$TAG" --verify-tag --generate-notes -- *',
        ]))
    else:
        checkout: list[tuple[str, str, Any]] = [("persist-credentials", "raw", "false")]
        if job.full_history:
            checkout.append(("fetch-depth", "raw", "0"))
        steps.append(_step("Check out", pin=pins["actions/checkout"], with_=checkout))
        for artifact in job.downloads:  # outputs of an earlier job, back where it wrote them
            steps.append(_step(f"Download {artifact.name}", pin=pins["actions/download-artifact"],
                               with_=[("name", "str", artifact.name), ("path", "str", artifact.path)]))
        if job.cache:
            prefix = "cargo-${{ runner.os }}-" + job.id + "-"
            key = prefix + "${{ hashFiles('" + pipeline.context.lockfile + "') }}"
            paths = ["~/.cargo/registry/index", "~/.cargo/registry/cache", "~/.cargo/git/db", *pipeline.cache_paths]
            steps.append(_step("Cache cargo and build outputs", pin=pins["actions/cache"], with_=[
                ("path", "block", paths), ("key", "str", key), ("restore-keys", "str", prefix)]))
        setup = setup_lines(pipeline, job)
        if setup:
            steps.append(_step("Set up the toolchain and the pipeline", run=setup, env=step_env))
        steps.append(_step(f"nox -s {job.session or '$SESSION'}", run=run_lines(pipeline, job), env=step_env))
        for artifact in job.uploads:
            title = "Upload the release artifacts" if artifact.name == DIST_ARTIFACT else f"Upload {artifact.name}"
            steps.append(_step(title, pin=pins["actions/upload-artifact"], with_=[
                ("name", "str", artifact.name), ("path", "str", artifact.path), ("if-no-files-found", "str", "error"),
                ("retention-days", "raw", str(settings.release.retention_days))]))
    permissions = (
        [("contents", "write", "to create the release and upload its assets")]
        if job.publish
        else [("contents", "read", "to check out the repository")]
    )
    return {
        "id": job.id,
        "name": job.title if not job.matrix else f"{job.title} (" + ", ".join(
            _matrix_ref(var) for var, _ in job.matrix_entries[0]
            if var in ("SESSION", "ARCH", "FEATURE_SET")) + ")",
        "runs_on": list(labels),
        "gpu": job.runner is Runner.GPU,
        "if": _github_if(job, labels),
        "needs": list(job.needs),
        "timeout": job.timeout,
        "permissions": permissions,
        "environment": settings.release.environment if job.publish else "",
        "container": job.container,
        "matrix": matrix,
        "env": env,
        "steps": steps,
    }


def github_view(pipeline: CiPipeline, workflow: Workflow) -> dict[str, Any]:
    settings = pipeline.settings
    pins = resolve_pins(settings.pins)
    jobs = [_github_job(pipeline, job, pins) for job in pipeline.jobs(workflow)]
    release = workflow is Workflow.RELEASE
    triggers = {t.event: t.pattern for t in pipeline.triggers(workflow)}
    return {
        "header": _header(pipeline, "GitHub Actions " + ("release workflow" if release else "CI workflow")),
        "name": f"{settings.workflow_name} release" if release else settings.workflow_name,
        "push_branch": triggers.get("push", ""),
        "pr_branch": triggers.get("pull_request", ""),
        "tag_glob": f"{triggers['tag']}[0-9]*" if release else "",
        "env": [("PIPELINE_WORKSPACE", pipeline.context.workspace), ("CARGO_TERM_COLOR", "always")],
        "jobs": jobs,
        "any_gpu": any(job["gpu"] for job in jobs),
    }


# ---------------------------------------------------------------------------
# GitLab CI

_GPU_MR_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID'
_PROTECTED_RULE = '$CI_PIPELINE_SOURCE != "merge_request_event" && $CI_COMMIT_REF_PROTECTED == "true"'
_MR_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event"'


def _tag_rule(pipeline: CiPipeline) -> str:
    prefix = next((t.pattern for t in pipeline.release_triggers if t.event == "tag"), "")
    return f"$CI_COMMIT_TAG =~ /^{re.escape(prefix)}[0-9]/"


def _gitlab_rules(pipeline: CiPipeline, job: Job) -> list[dict[str, str]]:
    if job.stage == "release":
        return [{"if": _tag_rule(pipeline), "when": ""}]
    if job.runner is Runner.GPU:
        # Self-hosted GPU runners: protected refs, or merge requests from this project (never a fork).
        rules = [{"if": _PROTECTED_RULE, "when": ""}]
        if job.pull_requests:
            rules.insert(0, {"if": _GPU_MR_RULE, "when": ""})
        return rules
    if not job.pull_requests:
        return [{"if": _MR_RULE, "when": "never"}, {"if": "$CI_COMMIT_BRANCH || $CI_COMMIT_TAG", "when": ""}]
    return []


def _gitlab_gate_needs(pipeline: CiPipeline) -> list[dict[str, Any]]:
    """The CI jobs that gate the release build: GitLab runs CI and release jobs in one tag pipeline."""
    settings = pipeline.settings
    extras = {e.name: e.release_gate for e in settings.extra_sessions}
    gates = set(settings.release.gates)
    needs = []
    for job in pipeline.ci_jobs:
        gating = extras[job.id] if job.id in extras else bool(gates.intersection(job.sessions))
        if gating:
            # GPU jobs exist only on protected tags: optional, so the pipeline can still be created.
            needs.append({"job": job.id, "optional": job.runner is Runner.GPU, "artifacts": False})
    return needs


def _gitlab_job(pipeline: CiPipeline, job: Job) -> dict[str, Any]:
    settings = pipeline.settings
    variables: list[tuple[str, str]] = []
    dist = _dist(job.uploads)
    if dist:
        variables.append(("DIST_DIR", dist.path))
    if job.full_history:
        variables.append(("GIT_DEPTH", "0"))
    if job.session == "-":
        needs: list[dict[str, Any]] = [{"job": job.needs[0], "optional": False, "artifacts": True}]
    elif job.id == "release":
        # The CI jobs of the tag pipeline gate it; release-only jobs before it hand over their outputs.
        release_only = {j.id for j in pipeline.release_jobs if j.stage == "release"}
        needs = [*_gitlab_gate_needs(pipeline),
                 *({"job": n, "optional": False, "artifacts": True} for n in job.needs if n in release_only)]
    else:
        needs = [{"job": n, "optional": False, "artifacts": False} for n in job.needs]
    script = run_lines(pipeline, job) if job.session != "-" else [
        'cd "$DIST_DIR"',
        "sha256sum -c SHA256SUMS",
    ]
    if job.session == "-":
        variables.append(("DIST_DIR", job.downloads[0].path))
    gpu = job.runner is Runner.GPU
    cache_key = [pipeline.context.lockfile]
    return {
        "id": job.id,
        "stage": job.stage,
        "tags": list(settings.gpu_tags if gpu else settings.cpu_tags),
        "image": job.container or settings.gitlab_image,
        "timeout": f"{job.timeout} minutes",
        "interruptible": not job.publish,
        "resource_group": f"gpu-{settings.gpu_pool}" if gpu else "",
        "rules": _gitlab_rules(pipeline, job),
        "needs": needs,
        "variables": variables,
        "matrix": [list(entry) for entry in job.matrix_entries],
        "cache": {"prefix": job.id, "files": cache_key, "paths": [".cargo-home/registry", ".cargo-home/git",
                                                                  *pipeline.cache_paths]} if job.cache else None,
        "before_script": setup_lines(pipeline, job),
        "script": script,
        "artifacts": {"paths": [a.path for a in job.uploads], "expire_in": settings.release.expire_in}
        if job.uploads else None,
        "release": {
            "tag_name": "$CI_COMMIT_TAG",
            "name": "$CI_COMMIT_TAG",
            "description": "Release $CI_COMMIT_TAG: artifacts and SHA256SUMS from the `release` job.",
            "link": "$CI_PROJECT_URL/-/jobs/artifacts/$CI_COMMIT_TAG/browse/"
            f"{job.downloads[0].path}?job=release",
        } if job.publish else None,
    }


def gitlab_view(pipeline: CiPipeline) -> dict[str, Any]:
    settings = pipeline.settings
    jobs = [_gitlab_job(pipeline, job) for job in pipeline.ci_jobs]
    if pipeline.release_jobs:
        jobs += [_gitlab_job(pipeline, job) for job in pipeline.release_jobs if job.stage == "release"]
    variables = [
        ("PIPELINE_WORKSPACE", pipeline.context.workspace),
        # GitLab caches only paths inside the project directory.
        ("CARGO_HOME", "$CI_PROJECT_DIR/.cargo-home"),
        ("CARGO_TERM_COLOR", "always"),
    ]
    if settings.pip_install:
        variables.append(("PIPELINE_VENV", "$CI_PROJECT_DIR/.pipeline-venv"))
    used = [s for s in GITLAB_STAGES if any(j["stage"] == s for j in jobs)]
    return {
        "header": _header(pipeline, "GitLab CI pipeline"),
        "variables": variables,
        "stages": used,
        "tag_rule": _tag_rule(pipeline),
        "jobs": jobs,
    }


def zizmor_view(pipeline: CiPipeline) -> dict[str, Any]:
    return {"header": _header(pipeline, "zizmor configuration")}


# ---------------------------------------------------------------------------
# Rendering


def _quote(value: object) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML); no newline can escape it."""
    return json.dumps(str(value), ensure_ascii=True)


def template_sources() -> dict[str, str]:
    """Template name -> text: from the installed package (a wheel, even zipped), else the checkout's `templates/`.

    The wheel carries them as ``pipeline/templates/`` (copied by setup.py at build time); a source
    checkout keeps the single copy at the repository's top level.
    """
    packaged = resources.files("pipeline").joinpath("templates")
    if packaged.is_dir():
        return {t.name: t.read_text(encoding="utf-8") for t in packaged.iterdir() if t.name.endswith(".j2")}
    checkout = Path(__file__).resolve().parent.parent.parent / "templates"
    if checkout.is_dir():
        return {t.name: t.read_text(encoding="utf-8") for t in checkout.glob("*.j2")}
    from pipeline.foundation.errors import ToolMissing

    raise ToolMissing("templates", "reinstall cargo-gpu-pipeline: its CI templates are missing from the package")


_ENVIRONMENT: Any = None


def environment() -> Any:
    """The jinja2 environment (created once): strict undefined, `{{{ }}}` delimiters, no autoescape."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import jinja2  # heavy: only when rendering

        env = jinja2.Environment(
            loader=jinja2.DictLoader(template_sources()),
            undefined=jinja2.StrictUndefined,
            block_start_string="{{%",
            block_end_string="%}}",
            variable_start_string="{{{",
            variable_end_string="}}}",
            comment_start_string="{{#",
            comment_end_string="#}}",
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - YAML, not HTML; values are quoted with `q`
        )
        env.filters["q"] = _quote
        _ENVIRONMENT = env
    return _ENVIRONMENT


def render_all(pipeline: CiPipeline) -> dict[str, str]:
    """Repository-relative path -> file text for every file the configuration asks for."""
    env = environment()
    files: dict[str, str] = {}
    settings = pipeline.settings
    if settings.github:
        files[GITHUB_CI] = env.get_template(TEMPLATES[GITHUB_CI]).render(**github_view(pipeline, Workflow.CI))
        if pipeline.release_jobs:
            files[GITHUB_RELEASE] = env.get_template(TEMPLATES[GITHUB_RELEASE]).render(
                **github_view(pipeline, Workflow.RELEASE)
            )
        files[GITHUB_ZIZMOR] = env.get_template(TEMPLATES[GITHUB_ZIZMOR]).render(**zizmor_view(pipeline))
    if settings.gitlab:
        files[GITLAB_CI] = env.get_template(TEMPLATES[GITLAB_CI]).render(**gitlab_view(pipeline))
    # Included templates lose their last newline to trim_blocks: end every file with exactly one.
    return {rel: text.rstrip("\n") + "\n" for rel, text in files.items()}
