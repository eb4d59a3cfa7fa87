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
from pipeline.foundation.errors import CheckFailed, PipelineError
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.hooks import checkout
from pipeline.project import Project, load_project
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


def plan_checks(project: Project, result: affected_mod.Affected, fix_root: Path | None = None) -> list[HookCheck]:
    """The checks this push needs: every registry stage with a hook rule whose condition holds.

    ``fix_root``: the directory the fixes name (the user's work tree when ``project`` is a
    temporary checkout); default ``project.root``.
    """
    settings = project.config.hooks
    root = fix_root or project.root
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


@dataclass(frozen=True)
class PushTarget:
    """One commit a push sends, every ref that sends it and the ranges it brings: a commit is checked once."""

    sha: str
    refs: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        return f"{', '.join(self.refs)} ({self.sha[:12]})"


def ref_label(ref: PushedRef) -> str:
    """How the hook names a pushed ref: the remote ref, with the local one when they differ."""
    if ref.local_ref in ("HEAD", ref.remote_ref) or not ref.local_ref.startswith("refs/"):
        return ref.remote_ref
    return f"{ref.local_ref} -> {ref.remote_ref}"


def push_targets(top: Path, remote: str, refs: Sequence[PushedRef], default_branch: str | None) -> list[PushTarget]:
    """The commits a push sends (tags peeled to their commit; deletions dropped), in push order."""
    groups: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
    for ref in refs:
        if ref.deletion:
            continue
        sha = git.resolve(top, ref.local_sha)  # `^{commit}`: an annotated tag peels to its commit
        if sha is None:
            log(f"pipeline pre-push: {ref_label(ref)} ({ref.local_sha[:12]}) is not a commit: nothing to check")
            continue
        [(base, _head)] = push_ranges(top, remote, [ref], default_branch)
        labels, ranges = groups.setdefault(sha, ([], []))
        labels.append(ref_label(ref))
        if (base, sha) not in ranges:
            ranges.append((base, sha))
    return [PushTarget(sha, tuple(labels), tuple(ranges)) for sha, (labels, ranges) in groups.items()]


def _targets(top: Path, remote: str, stdin_text: str, env: dict[str, str], default_branch: str | None,
             ) -> list[PushTarget]:
    if env.get("PRE_COMMIT_FROM_REF") and env.get("PRE_COMMIT_TO_REF"):
        # Under the pre-commit framework: it already worked out the range.
        sha = git.require_commit(top, env["PRE_COMMIT_TO_REF"])
        return [PushTarget(sha, (env.get("PRE_COMMIT_REMOTE_BRANCH") or env["PRE_COMMIT_TO_REF"],),
                           ((env["PRE_COMMIT_FROM_REF"], sha),))]
    if env.get("PRE_COMMIT_REMOTE_NAME") and not stdin_text.strip():
        # pre-commit's all-files mode: the push includes a root commit (a first push), so it
        # sets no range and keeps git's lines to itself. Everything is new, not "nothing pushed".
        head = git.head(top)
        return [PushTarget(head, ("HEAD",), ((EMPTY_TREE, head),))] if head else []
    return push_targets(top, remote, parse_push_lines(stdin_text), default_branch)


@dataclass(frozen=True)
class Failure:
    target: PushTarget
    name: str  # the check (or `workspace` when the commit's workspace does not load)
    fix: str


def _check_target(project: Project, top: Path, target: PushTarget, *, several: bool) -> tuple[list[Failure], int]:
    """Check one pushed commit; (its failures, how many checks ran)."""
    rel = os.path.relpath(project.root, top)
    if all(not git.diff(top, base, sha) for base, sha in target.ranges):
        # Already on the remote (a tag on a pushed commit, an unchanged branch): no checkout for it.
        log(f"pipeline pre-push: {target.label}: no new changes: nothing to check")
        return [], 0
    with checkout.pushed_tree(top, target.sha, project.root) as tree:
        where = "" if tree.in_place else f" (in a temporary worktree: {tree.reason})"
        prefix = f"pipeline pre-push: {target.label}" if several or not tree.in_place else "pipeline pre-push"
        if several or not tree.in_place:
            log(f"pipeline pre-push: checking {target.label}{where}")
        checked = project
        if not tree.in_place:
            root = tree.top / rel
            if not (root / "Cargo.toml").is_file():
                log(f"{prefix}: no Cargo workspace at {rel} in this commit: nothing to check")
                return [], 0
            try:
                checked = load_project(root)
            except PipelineError as exc:
                # The pushed commit's own manifests or configuration are broken: that commit fails.
                message = exc.message.replace(f"{tree.top}{os.sep}", "")
                log(f"error: {message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
                return [Failure(target, "workspace", f"{message} (fix it in a new commit)")], 0
        rules = affected_mod.rules_from(checked.config, registry.inputs_by_stage())
        result = affected_mod.affected_for_ranges(checked.workspace, target.ranges, rules)
        if result.nothing:
            log(f"{prefix}: no Rust, CUDA or CI change in this push: nothing to check")
            return [], 0
        checks = plan_checks(checked, result, fix_root=project.root)
        if not checks:
            log(f"{prefix}: no check is enabled for what this push changes: nothing to run")
            return [], 0
        if result.whole_workspace:
            log(f"{prefix}: whole workspace affected (" + ", ".join(result.whole_workspace) + ")")
        elif result.crates:
            log(f"{prefix}: affected crates: " + ", ".join(result.crates))
        outcomes: list[tuple[HookCheck, runner.Outcome]] = []
        with Progress("pipeline pre-push", len(checks), lines=False) as progress:  # the heartbeat; lines are ours
            for check in checks:
                log(f"{prefix}: [{len(outcomes) + 1}/{len(checks)}] {check.name} ...")
                progress.started(check.name)
                # Every check is required here: a push is not checked by skipping what cannot run.
                outcome = runner.run_stage(check.stage, checked, args=check.args, required=True)
                progress.finished(check.name, ok=outcome.ok)
                if outcome.status == "failed":
                    detail = outcome.detail if tree.in_place else outcome.detail.replace(f"{tree.top}{os.sep}", "")
                    log(f"error: {detail}" + (f"\nhint: {outcome.hint}" if outcome.hint else ""))
                outcomes.append((check, outcome))
    for check, outcome in outcomes:
        log(f"  {'ok  ' if outcome.ok else 'FAIL'} {check.name} ({outcome.seconds:.1f} s)"
            + (f" [{target.label}]" if several else ""))
    if tree.in_place:
        note = ""
    elif tree.reason == checkout.NOT_HEAD:
        note = f" (after checking out {target.refs[0]})"
    else:
        note = " (the pushed commit fails, whatever the work tree holds: commit the fix)"
    failed = [Failure(target, check.name, check.fix + note) for check, outcome in outcomes if not outcome.ok]
    return failed, len(outcomes)


def run_pre_push(project: Project, remote: str, stdin_text: str, env: dict[str, str] | None = None) -> int:
    """Check every commit the push sends (git's pre-push lines in ``stdin_text``); CheckFailed names each failure."""
    env = dict(os.environ if env is None else env)
    started = time.perf_counter()
    top = git.toplevel(project.root)
    targets = _targets(top, remote, stdin_text, env, project.config.hooks.default_branch)
    if not targets:
        if env.get("PRE_COMMIT_REMOTE_NAME") and not stdin_text.strip():
            log("pipeline pre-push: no commits: nothing to check")
        else:
            log("pipeline pre-push: nothing pushed but deletions: no checks")
        return 0
    failures: list[Failure] = []
    ran = 0
    for target in targets:
        found, count = _check_target(project, top, target, several=len(targets) > 1)
        failures += found
        ran += count
    if failures:
        raise CheckFailed(
            "pre-push checks failed: " + "; ".join(f"{f.name} [{f.target.label}]" for f in failures) + "\n"
            + "\n".join(f"  {f.name} [{', '.join(f.target.refs)}]: {f.fix}" for f in failures),
            BYPASS,
        )
    if ran == 0:
        log(f"pipeline pre-push: nothing to check ({time.perf_counter() - started:.2f} s)")
        return 0
    log(f"pipeline pre-push: {ran} checks passed ({time.perf_counter() - started:.1f} s)")
    return 0
