"""What the pre-push hook does: pushed refs -> commit ranges -> affected crates -> checks.

git gives the hook one line per pushed ref on stdin:
``<local ref> <local sha> <remote ref> <remote sha>``. A deleted ref checks
nothing; a new ref (all-zero remote sha) is compared with its merge base
against the remote's default branch; an updated ref with the remote's old tip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline import stages
from pipeline.changes import affected as affected_mod
from pipeline.foundation import git
from pipeline.foundation.errors import CheckFailed, PipelineError
from pipeline.foundation.output import log
from pipeline.project import Project

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: "everything is new"
BYPASS = "to push without the checks (not recommended), use `git push --no-verify`"


@dataclass(frozen=True)
class PushedRef:
    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def deletion(self) -> bool:
        return self.local_sha == git.ZERO_SHA

    @property
    def new(self) -> bool:
        return self.remote_sha == git.ZERO_SHA


def parse_push_lines(text: str) -> list[PushedRef]:
    refs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            refs.append(PushedRef(*parts))
    return refs


def _default_branch_ref(top: Path, remote: str, configured: str | None) -> str | None:
    candidates = []
    if configured:
        candidates += [f"refs/remotes/{remote}/{configured}", configured]
    target = git.symbolic_ref(top, f"refs/remotes/{remote}/HEAD")
    if target:
        candidates.append(target)
    candidates += [f"refs/remotes/{remote}/main", f"refs/remotes/{remote}/master"]
    for ref in candidates:
        if git.resolve(top, ref) is not None:
            return ref
    return None


def push_ranges(top: Path, remote: str, refs: Sequence[PushedRef], default_branch: str | None) -> list[tuple[str, str]]:
    """(base, head) commit pairs whose differences the push brings to the remote."""
    ranges: list[tuple[str, str]] = []
    for ref in refs:
        if ref.deletion:
            continue
        base = None
        if not ref.new and git.resolve(top, ref.remote_sha) is not None:
            # Force pushes included: what differs from the common ancestor with the old tip.
            base = git.merge_base(top, ref.remote_sha, ref.local_sha) or ref.remote_sha
        if base is None:
            branch = _default_branch_ref(top, remote, default_branch)
            if branch is not None:
                base = git.merge_base(top, branch, ref.local_sha)
        if base is None:
            base = git.first_unpushed_parent(top, ref.local_sha, remote)
        ranges.append((base or EMPTY_TREE, ref.local_sha))
    return ranges


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    seconds: float
    fix: str = ""


def _run_command(argv: Sequence[str]) -> None:
    """Run another pipeline command in this process (dupes, generate, built by others)."""
    from pipeline import cli

    code = cli.main(list(argv))
    if code != 0:
        raise CheckFailed(f"`pipeline {' '.join(argv)}` exited with code {code}")


def plan_checks(project: Project, result: affected_mod.Affected) -> list[tuple[str, Callable[[], None], str]]:
    """(name, action, how to fix) for every check this push needs."""
    from pipeline import cli

    settings = project.config.hooks
    root = project.root
    packages = result.packages()
    selection = list(packages) if packages is not None else []
    checks: list[tuple[str, Callable[[], None], str]] = []
    if packages is None or packages:
        scope = "workspace" if packages is None else ", ".join(selection)
        changed = result.packages(changed_only=True)
        if settings.run_fmt and (changed is None or changed):
            fmt_selection = list(changed) if changed is not None else []
            fmt_scope = "workspace" if changed is None else ", ".join(fmt_selection)
            argv = stages.fmt_argv(fix=False, packages=fmt_selection)
            fix_argv = stages.fmt_argv(fix=True, packages=fmt_selection)
            checks.append((f"fmt ({fmt_scope})", lambda a=argv: stages.run_stage("fmt", a, root),
                           f"run `{' '.join(fix_argv)}` in {root}, commit, push again"))
        if settings.run_clippy:
            argv = stages.clippy_argv(project.config, project.workspace, selection)
            checks.append((f"clippy ({scope})", lambda a=argv: stages.run_stage("clippy", a, root),
                           f"fix the warnings shown by `{' '.join(argv)}` in {root}"))
    manifests = any(
        p.endswith(("Cargo.toml", "Cargo.lock"))
        for f in result.files for p in (f.change.path, f.change.old_path or "")
    )
    workspace_arg = ["--workspace", str(root)]
    if settings.run_dupes and manifests and "dupes" in cli.COMMANDS:
        checks.append(("dupes", lambda: _run_command([*workspace_arg, "dupes"]),
                       "see `pipeline dupes` for the duplicated versions and why-paths"))
    if settings.run_generate_check and result.generate_check and "generate" in cli.COMMANDS:
        checks.append(("generate --check", lambda: _run_command([*workspace_arg, "generate", "--check"]),
                       "run `pipeline generate` and commit the regenerated CI files"))
    test_packages = result.packages(tests=True)
    if settings.run_tests and (test_packages is None or test_packages):
        test_selection = list(test_packages) if test_packages is not None else []
        argv = stages.test_argv(project.config, project.workspace, test_selection)
        checks.append(("test", lambda a=argv: stages.run_stage("test", a, root),
                       f"fix the failing tests: `{' '.join(argv)}` in {root}"))
    return checks


def run_pre_push(project: Project, remote: str, stdin_text: str, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    started = time.perf_counter()
    top = git.toplevel(project.root)
    settings = project.config.hooks
    rules = affected_mod.rules_from(project.config)
    if env.get("PRE_COMMIT_FROM_REF") and env.get("PRE_COMMIT_TO_REF"):
        # Under the pre-commit framework: it already worked out the range.
        ranges = [(env["PRE_COMMIT_FROM_REF"], env["PRE_COMMIT_TO_REF"])]
    elif env.get("PRE_COMMIT_REMOTE_NAME") and not stdin_text.strip():
        # pre-commit's all-files mode: the push includes a root commit (a first push), so it
        # sets no range and keeps git's lines to itself. Everything is new, not "nothing pushed".
        head = git.head(top)
        ranges = [(EMPTY_TREE, head)] if head else []
        if not ranges:
            log("pipeline pre-push: no commits: nothing to check")
            return 0
    else:
        refs = parse_push_lines(stdin_text)
        ranges = push_ranges(top, remote, refs, settings.default_branch)
        if not ranges:
            log("pipeline pre-push: nothing pushed but deletions: no checks")
            return 0
        head = git.head(top)
        if any(local != head and git.resolve(top, local) != head for _, local in ranges):  # tags peel
            log("pipeline pre-push: note: a pushed ref is not HEAD; the checks run on the working tree")
    result = affected_mod.affected_for_ranges(project.workspace, ranges, rules)
    if result.nothing:
        log(f"pipeline pre-push: no Rust, CUDA or CI change in this push: nothing to check "
            f"({time.perf_counter() - started:.2f} s)")
        return 0
    checks = plan_checks(project, result)
    if not checks:
        log("pipeline pre-push: no check is enabled for what this push changes: nothing to run")
        return 0
    if result.whole_workspace:
        log("pipeline pre-push: whole workspace affected (" + ", ".join(result.whole_workspace) + ")")
    elif result.crates:
        log("pipeline pre-push: affected crates: " + ", ".join(result.crates))
    outcomes: list[CheckOutcome] = []
    for name, action, fix in checks:
        log(f"pipeline pre-push: {name} ...")
        t0 = time.perf_counter()
        try:
            action()
            ok = True
        except PipelineError as exc:
            log(exc.render())
            ok = False
        outcomes.append(CheckOutcome(name, ok, time.perf_counter() - t0, fix))
    for outcome in outcomes:
        log(f"  {'ok  ' if outcome.ok else 'FAIL'} {outcome.name} ({outcome.seconds:.1f} s)")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise CheckFailed(
            "pre-push checks failed: " + ", ".join(o.name for o in failed) + "\n"
            + "\n".join(f"  {o.name}: {o.fix}" for o in failed),
            BYPASS,
        )
    log(f"pipeline pre-push: {len(outcomes)} checks passed ({time.perf_counter() - started:.1f} s)")
    return 0
