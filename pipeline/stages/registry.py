"""The registry: the only list of stages.

Each :class:`Stage` says what it runs (a pipeline command, run in-process by
``pipeline.stages.runner``), what it needs (tools on PATH, Python extras, data such
as the advisory database) and whether a release may go on without it, which paths
affect it, what it produces and consumes, where it runs (CPU or GPU runner), whether
it gates a release, and how it appears as a nox session, a pre-push check and a CI
job. Every consumer reads this module at call time:

* ``pipeline.nox_sessions`` registers one session per stage (plus :data:`TASKS`);
* ``pipeline.hooks.prepush`` plans its checks from :attr:`Stage.hook`;
* ``pipeline.release.settings`` takes its default ``gates`` and validates them here;
* ``pipeline.ci.settings``/``pipeline.ci.model`` derive the known stages, timeouts and jobs.

Pure data: reading configuration imports this module, so it stays cheap (its one import,
``pipeline.changes.patterns``, says what ``inputs`` mean and is pure too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pipeline.changes.patterns import CI_FILES, MEMBER_FILES

RunnerKind = Literal["cpu", "gpu"]
# How a stage becomes CI jobs (pipeline.ci.model):
#   generate: one job, no Rust toolchain; check: an entry of the cheap "checks" matrix job;
#   cargo: its own job over the feature-set matrix; cuda: a job over the architecture matrix;
#   gpu: a job on a GPU runner under a GPU lease.
CiKind = Literal["generate", "check", "cargo", "cuda", "gpu"]
# When the pre-push hook runs a stage (pipeline.hooks.prepush):
#   changed: on the crates the push changes; affected: on those and their dependents;
#   tests: on the crates whose tests a change can break; inputs: when a pushed file matches
#   the stage's inputs; ci: when CI files or the pipeline configuration changed.
HookWhen = Literal["changed", "affected", "tests", "inputs", "ci"]


@dataclass(frozen=True)
class Need:
    """Something a stage needs that a machine may lack.

    ``probe``: ``"module:function"`` taking the project and returning the reason it is
    missing (None when present, or when the configuration does not need it); without a
    probe, ``name`` is a program looked up on PATH.
    """

    name: str
    hint: str
    probe: str = ""
    kind: Literal["tool", "data"] = "tool"


@dataclass(frozen=True)
class NoxSession:
    doc: str
    default: bool = False  # part of a bare `nox`
    args: tuple[str, ...] = ()  # after the stage's own arguments, before the session's posargs
    bare_args: tuple[str, ...] = ()  # used instead of posargs when none are given
    name: str = ""  # default: the stage's (or task's command's) name


@dataclass(frozen=True)
class HookRule:
    when: HookWhen
    setting: str  # the HooksSettings attribute that switches the check on (a missing one: `default`)
    fix: str  # how to fix a failure: `{argv}` (the command), `{fix_argv}` (fmt's fixing form), `{root}`
    default: bool = True


@dataclass(frozen=True)
class CiRule:
    kind: CiKind
    job_id: str  # the job's id in the generated files (the "checks" matrix job for kind `check`)
    title: str
    group: str  # GitLab stage of the job
    timeout: int  # default job timeout, minutes
    args: tuple[str, ...] = ()  # after `nox -s SESSION --`
    needs: tuple[str, ...] = ()  # stage names; one switched off is replaced by what it needs itself
    release_job: bool = False  # a job of the release workflow by default (`ci.release.gates`)
    rust: bool = True  # the job needs the Rust toolchain
    # Input-scoped: on merge requests the GitLab job runs only when a file of the stage's `inputs`
    # changed (pipeline.ci.model). Off where what the job checks is not only in the repository.
    scoped: bool = True
    # Added to `args` when the job runs on kernels a CPU job built and handed over (`gpu smoke --no-build`).
    prebuilt_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    name: str
    command: str  # the pipeline command that runs it (`pipeline.commands.<module>`)
    module: str
    summary: str  # one line: `pipeline --help` shows it for the stage's command (one without fixed `args`)
    args: tuple[str, ...] = ()  # fixed arguments after the command (`gpu smoke`, `test --gpu`)
    check_args: tuple[str, ...] = ()  # added when it runs as a check (pre-push hook): `generate --check`
    needs: tuple[Need, ...] = ()
    extras: tuple[str, ...] = ()  # Python extras of cargo-gpu-pipeline it uses (`pip install ...[audit]`)
    optional: bool = False  # as a release gate: skipped (not failed) when a need is missing
    # Files that affect it (pipeline.changes.patterns says how they match): `pipeline affected`
    # lists the stages a change touches, the hook's "inputs" rule and the CI change rules read them.
    inputs: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()  # artifacts (paths relative to the workspace)
    consumes: tuple[str, ...] = ()
    runner: RunnerKind = "cpu"
    gate: bool = False  # a release gate by default (`release.gates`)
    hint: str = ""  # what to do when it fails
    session: NoxSession | None = None
    hook: HookRule | None = None
    ci: CiRule | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        """``pipeline ARGV`` runs the stage."""
        return (self.command, *self.args)

    @property
    def session_name(self) -> str | None:
        """Its nox session (what CI jobs run), None without one."""
        return None if self.session is None else self.session.name or self.name


CARGO = Need("cargo", "install Rust with rustup (https://rustup.rs) and make sure ~/.cargo/bin is on PATH")
RUSTFMT = Need("rustfmt", "run `rustup component add rustfmt`")
CLIPPY = Need("cargo-clippy", "run `rustup component add clippy`")
NVCC = Need("nvcc", "install the CUDA toolkit and set CUDA_HOME, or put nvcc on PATH", "pipeline.stages.probes:nvcc")
MANIFESTS = ("Cargo.toml", "*/Cargo.toml")
LOCKFILE = ("Cargo.lock", "*/Cargo.lock")
RUST = ("*.rs", *MANIFESTS, *LOCKFILE)
KERNELS = ("*.cu", "*.cuh", "*.cuhpp")
# Found by rustup and cargo in the workspace root (pipeline.changes.affected also looks above it).
TOOLCHAIN = ("rust-toolchain", "rust-toolchain.toml", ".cargo/config", ".cargo/config.toml")
CRATES = (MEMBER_FILES, *RUST, *TOOLCHAIN)  # what a build of the crates reads

STAGES: tuple[Stage, ...] = (
    Stage(
        "fmt", "fmt", "pipeline.commands.stages", "cargo fmt --check (--fix applies)", needs=(CARGO, RUSTFMT),
        inputs=("*.rs", "rustfmt.toml", ".rustfmt.toml", *TOOLCHAIN),
        gate=True, hint="run `nox -s fmt -- --fix` (or `cargo fmt --all`) to format the code",
        session=NoxSession("cargo fmt --check on the workspace (`-- --fix` formats).", default=True),
        hook=HookRule("changed", "run_fmt", "run `{fix_argv}` in {root}, commit, push again"),
        ci=CiRule("check", "checks", "cheap checks", "check", 10, release_job=True),
    ),
    Stage(
        "clippy", "clippy", "pipeline.commands.stages", "cargo clippy with -D warnings", needs=(CARGO, CLIPPY),
        inputs=(*CRATES, "clippy.toml", ".clippy.toml"), gate=True,
        hint="fix the warnings above; `cargo clippy --fix` applies the machine-applicable ones",
        session=NoxSession("cargo clippy --workspace --all-targets with -D warnings.", default=True),
        hook=HookRule("affected", "run_clippy", "fix the warnings shown by `{argv}` in {root}"),
        ci=CiRule("cargo", "clippy", "clippy", "check", 30, release_job=True),
    ),
    Stage(
        "lint", "lint", "pipeline.commands.lint", "workspace hygiene checks", inputs=MANIFESTS, gate=True,
        hint="fix the findings, or allow a rule in [workspace.metadata.pipeline.lint]",
        session=NoxSession("Workspace hygiene: requirements, metadata, editions, path deps.", default=True),
        ci=CiRule("check", "checks", "cheap checks", "check", 10, release_job=True),
    ),
    Stage(
        "dupes", "dupes", "pipeline.commands.dupes", "duplicate dependency versions with why-paths",
        needs=(Need("Cargo.lock", "run `cargo generate-lockfile` in the workspace", "pipeline.stages.probes:lockfile",
                    "data"),),
        optional=True, inputs=(*MANIFESTS, *LOCKFILE), gate=True,
        hint="see `pipeline dupes` for the duplicated versions and why-paths",
        session=NoxSession("Duplicate dependency versions in Cargo.lock, with why-paths (`-- --json`).",
                           default=True),
        hook=HookRule("inputs", "run_dupes", "see `pipeline dupes` for the duplicated versions and why-paths"),
        ci=CiRule("check", "checks", "cheap checks", "check", 10),
    ),
    Stage(
        "generate", "generate", "pipeline.commands.generate",
        "render CI files (GitHub Actions, GitLab CI); --check fails on drift",
        check_args=("--check",), inputs=(*CI_FILES, "Cargo.toml"),
        hint="run `pipeline generate` and commit the result",
        session=NoxSession("Render the CI files (`-- --check` fails when the committed ones are stale)."),
        hook=HookRule("ci", "run_generate_check", "run `pipeline generate` and commit the regenerated CI files"),
        # Not input-scoped: the files it checks also follow the installed cargo-gpu-pipeline.
        ci=CiRule("generate", "generate", "generated CI files are current", "check", 10, args=("--check",),
                  rust=False, scoped=False),
    ),
    Stage(
        "audit", "audit", "pipeline.commands.audit", "RustSec advisories for Cargo.lock, pip-audit for Python deps",
        needs=(
            Need("pip-audit", "install the audit extra: `pip install 'cargo-gpu-pipeline[audit]'`",
                 "pipeline.stages.probes:pip_audit"),
            Need("advisory-db", "clone https://github.com/rustsec/advisory-db to ~/.cargo/advisory-db (or set `db`)",
                 "pipeline.stages.probes:advisory_db", "data"),
            Need("cargo-deny/cargo-audit", "install the engine [workspace.metadata.pipeline.audit] names",
                 "pipeline.stages.probes:audit_engine"),
        ),
        extras=("audit",), optional=True, inputs=(*LOCKFILE, "requirements*.txt", "*/requirements*.txt",
                                                  "pyproject.toml", "*/pyproject.toml"),
        gate=True, hint="see `pipeline audit` for the advisories",
        session=NoxSession(
            "RustSec advisories for Cargo.lock and pip-audit for Python requirements (`-- --db PATH`)."
        ),
        ci=CiRule("check", "checks", "cheap checks", "check", 15, release_job=True),
    ),
    Stage(
        "test", "test", "pipeline.commands.stages", "cargo test --workspace", needs=(CARGO,), inputs=CRATES,
        gate=True, hint="fix the failing tests above; rerun one with `cargo test -p CRATE NAME`",
        session=NoxSession("cargo test --workspace.", default=True),
        hook=HookRule("tests", "run_tests", "fix the failing tests: `{argv}` in {root}", default=False),
        ci=CiRule("cargo", "test", "tests", "test", 45, release_job=True),
    ),
    Stage(
        "cuda", "cuda", "pipeline.commands.cuda", "compile CUDA kernels for every target architecture (cached)",
        needs=(NVCC,), optional=True,
        inputs=(*KERNELS, *MANIFESTS), produces=("target/cuda",), gate=True,
        hint="fix the nvcc errors above",
        session=NoxSession(
            "Compile every CUDA kernel for every target architecture (parallel, cached) into target/cuda/."
        ),
        ci=CiRule("cuda", "cuda", "CUDA kernels", "build", 60, args=("--arch", "$ARCH"), release_job=True,
                  rust=False),
    ),
    Stage(
        "gpu_smoke", "gpu", "pipeline.commands.gpu", "load every fatbin on every GPU", args=("smoke",),
        needs=(NVCC,), extras=("gpu",), optional=True, inputs=(*KERNELS, *MANIFESTS), consumes=("target/cuda",),
        runner="gpu", hint="see the smoke report above",
        session=NoxSession("Load every fatbin on every GPU and launch the smoke cases; fails without "
                           "a GPU.", args=("--require-gpu",)),
        # `--require-gpu`: a session that skips is a success to nox, and a GPU job must fail without a GPU.
        ci=CiRule("gpu", "gpu-smoke", "kernel load test on a GPU", "gpu", 30, args=("--require-gpu",),
                  needs=("cuda",), prebuilt_args=("--no-build",)),
    ),
    Stage(
        "gpu_test", "test", "pipeline.commands.stages", "the GPU tests under GPU leases", args=("--gpu",),
        needs=(CARGO,), optional=True, inputs=(*CRATES, *KERNELS), runner="gpu",
        hint="fix the failing GPU tests above",
        session=NoxSession("The GPU tests under GPU leases, sharded across the GPUs."),
        ci=CiRule("gpu", "gpu-test", "GPU tests", "gpu", 60, args=("--require-gpu",), needs=("gpu_smoke", "test")),
    ),
)


@dataclass(frozen=True)
class Task:
    """A nox session that runs a pipeline command but is not a stage (nothing checks with it)."""

    command: str
    module: str
    session: NoxSession

    @property
    def session_name(self) -> str:
        return self.session.name or self.command


TASKS: tuple[Task, ...] = (
    Task("release", "pipeline.commands.release", NoxSession(
        "Release plan (dry run); `-- minor --execute` bumps, writes the changelog, commits, tags, "
        "builds dist/.")),
    Task("affected", "pipeline.commands.affected", NoxSession(
        "Crates a change affects (`-- --base origin/main --json`).")),
    Task("hooks", "pipeline.commands.hooks", NoxSession(
        "Install the pre-push hook (`-- install --force`, `-- uninstall`).", bare_args=("install",))),
    Task("profile", "pipeline.commands.profile", NoxSession(
        "Profile a command on a leased GPU into target/profile/ (`-- --tool nsys -- CMD...`).")),
)


def stages() -> tuple[Stage, ...]:
    """Every stage, in the order the hook and the release run them (read at call time: tests swap it)."""
    return STAGES


def names(where: Callable[[Stage], bool] | None = None) -> tuple[str, ...]:
    return tuple(s.name for s in STAGES if where is None or where(s))


def get(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)


def gates() -> tuple[str, ...]:
    """The default release gates."""
    return names(lambda s: s.gate)


def ci_stages() -> tuple[str, ...]:
    return names(lambda s: s.ci is not None)


def ci_release_gates() -> tuple[str, ...]:
    return names(lambda s: s.ci is not None and s.ci.release_job)


def ci_timeouts() -> dict[str, int]:
    return {s.name: s.ci.timeout for s in STAGES if s.ci is not None}


def ci_job_ids() -> frozenset[str]:
    return frozenset(s.ci.job_id for s in STAGES if s.ci is not None)


def inputs_by_stage() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(stage, inputs) of every stage with inputs, in registry order: what change detection matches."""
    return tuple((s.name, s.inputs) for s in STAGES if s.inputs)
