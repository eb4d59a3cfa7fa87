"""What the pre-push hook does: pushed refs -> commit ranges -> affected crates -> checks.

git gives the hook one line per pushed ref on stdin:
``<local ref> <local sha> <remote ref> <remote sha>``. A deleted ref checks
nothing; a new ref (all-zero remote sha) is compared with its merge base
against the remote's default branch; an updated ref with the remote's old tip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.changes import affected as affected_mod
from pipeline.foundation import git
from pipeline.foundation.errors import CheckFailed
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.project import Project
from pipeline.stages import cargo, registry, runner

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
class HookCheck:
    """One check of this push: a registry stage with the crates it runs on."""

    name: str  # as the hook prints it: `fmt (prism-core)`, `generate --check`
    stage: str
    args: tuple[str, ...]  # after the stage's command: `-p CRATE`..., `--check`
    fix: str


def _selection(result: affected_mod.Affected, when: str) -> list[str] | None:
    """The crates a check runs on ([] = the whole workspace), None when it has nothing to check."""
    if when in ("inputs", "ci"):
        return []
    packages = (result.packages(changed_only=True) if when == "changed"
                else result.packages(tests=True) if when == "tests" else result.packages())
    if packages is None:
        return []
    return list(packages) if packages else None


def plan_checks(project: Project, result: affected_mod.Affected) -> list[HookCheck]:
    """The checks this push needs: every registry stage with a hook rule whose condition holds."""
    settings = project.config.hooks
    root = project.root
    checks: list[HookCheck] = []
    for stage in registry.stages():
        rule = stage.hook
        if rule is None or not getattr(settings, rule.setting, rule.default):
            continue
        if rule.when == "inputs" and stage.name not in result.stages:
            continue
        if rule.when == "ci" and not result.generate_check:
            continue
        selection = _selection(result, rule.when)
        if selection is None:
            continue
        argv = cargo.argv_for(stage.command, project.config, project.workspace, selection)
        fix_argv = cargo.argv_for(stage.command, project.config, project.workspace, selection, fix=True)
        if argv is None:
            argv = fix_argv = ["pipeline", *stage.argv, *stage.check_args]
        if rule.when in ("changed", "affected"):
            name = f"{stage.name} ({', '.join(selection) if selection else 'workspace'})"
        else:
            name = " ".join([stage.name, *stage.check_args])
        args = tuple(word for crate in selection for word in ("-p", crate)) + stage.check_args
        fix = rule.fix.format(argv=" ".join(argv), fix_argv=" ".join(fix_argv or argv), root=root)
        checks.append(HookCheck(name, stage.name, args, fix))
    return checks


def run_pre_push(project: Project, remote: str, stdin_text: str, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    started = time.perf_counter()
    top = git.toplevel(project.root)
    settings = project.config.hooks
    rules = affected_mod.rules_from(project.config, registry.inputs_by_stage())
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
    outcomes: list[tuple[HookCheck, runner.Outcome]] = []
    with Progress("pipeline pre-push", len(checks), lines=False) as progress:  # the heartbeat; lines are ours
        for check in checks:
            log(f"pipeline pre-push: [{len(outcomes) + 1}/{len(checks)}] {check.name} ...")
            progress.started(check.name)
            # Every check is required here: a push is not checked by skipping what cannot run.
            outcome = runner.run_stage(check.stage, project, args=check.args, required=True)
            progress.finished(check.name, ok=outcome.ok)
            if outcome.status == "failed":
                log(f"error: {outcome.detail}" + (f"\nhint: {outcome.hint}" if outcome.hint else ""))
            outcomes.append((check, outcome))
    for check, outcome in outcomes:
        log(f"  {'ok  ' if outcome.ok else 'FAIL'} {check.name} ({outcome.seconds:.1f} s)")
    failed = [check for check, outcome in outcomes if not outcome.ok]
    if failed:
        raise CheckFailed(
            "pre-push checks failed: " + ", ".join(c.name for c in failed) + "\n"
            + "\n".join(f"  {c.name}: {c.fix}" for c in failed),
            BYPASS,
        )
    log(f"pipeline pre-push: {len(outcomes)} checks passed ({time.perf_counter() - started:.1f} s)")
    return 0
