"""The release steps under the journal: it is written before the first file changes and after
every step, and removed when the release is complete, or when a failed step left everything as it
was. A failure that leaves the release half done says what is really on disk and keeps the
journal for ``release --resume`` / ``--abort``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.foundation.errors import OperationFailed, PipelineError
from pipeline.release.journal import FileChange, Journal, Recorder, TagPlan, file_states, load
from pipeline.release.plan import rel_path
from pipeline.release.recover import journal_location

if TYPE_CHECKING:
    from pipeline.release.steps import Release, Step

RESUME_HINT = "`pipeline release --resume` finishes it, `pipeline release --abort` undoes it"
# Which journal step each release step is (the gates write nothing and are not journaled).
JOURNAL_STEP = {"write": "files", "commit": "commit", "tag": "tags", "artifacts": "artifacts", "publish": "publish",
                "push": "push"}


# Where refuse_if_interrupted found the journal's place, for the run_steps of the same release:
# finding it asks git (`rev-parse`, a process), and the flow asks both in turn under one lock.
_located: tuple[Path, Path] | None = None


def refuse_if_interrupted(root: Path) -> None:
    """A new release (or bump) while an interrupted one is recorded is refused: it would plan from half a state."""
    global _located
    path = journal_location(root)
    _located = (root, path)
    journal = load(path)
    if journal is not None:
        raise OperationFailed(f"{journal.describe()} (journal {path})", RESUME_HINT)


def plan_journal(release: Release, steps: Sequence[Step]) -> Journal:
    facts, prepared, req = release.facts, release.prepared, release.request
    root = facts.root
    settings = facts.settings
    names = {s.NAME for s in steps if s.wanted(release)}
    repo = release.repo
    tag_versions = {t.name: t.version for t in prepared.release_tags}
    plan = prepared.plan
    return Journal(
        root=str(root),
        head=repo.head() if repo is not None else None,
        branch=repo.branch() if repo is not None else None,
        started=time.time(),
        command="release" if req.full else "bump",
        files=tuple(FileChange(rel_path(path, root), old, new) for path, (old, new) in prepared.files.items()),
        commit_message=prepared.commit_message if "commit" in names else None,
        tags=tuple(TagPlan(name, settings.tag_message.replace("{tag}", name).replace("{version}", version))
                   for name, version in tag_versions.items()) if "tag" in names else (),
        artifacts={
            "versions": {c.crate: str(c.new) for c in plan.changes},
            "workspace_version": str(plan.shared[1]) if plan.shared else None,
            "tags": list(prepared.tags),
            "crates": [c.crate for c in plan.changes],
        } if "artifacts" in names else None,
        push_remote=settings.push_remote if "push" in names else None,
        publish={"registry": prepared.publish.registry,
                 "crates": [f"{s.crate} {s.version}" for s in prepared.publish.steps]}
        if "publish" in names and prepared.publish is not None else None,
    )


def run_steps(release: Release, steps: Sequence[Step]) -> Release:
    recorder: Recorder | None = None
    # The last journaled step's record needs no fsync: the journal is removed right after it.
    journaled = [s.NAME for s in steps if s.NAME in JOURNAL_STEP and s.wanted(release)]
    last = journaled[-1] if journaled else None
    for step in steps:
        if not step.wanted(release):
            continue
        if recorder is None and step.NAME in JOURNAL_STEP:
            recorder = Recorder(_journal_path(release.facts.root), plan_journal(release, steps))
            recorder.begin()
            release = dataclasses.replace(release, on_published=recorder.published)
        try:
            release = step.run(release)
        except PipelineError as exc:
            if recorder is None:
                raise
            raise _after_failure(release, recorder, exc) from None
        if recorder is not None and step.NAME in JOURNAL_STEP:
            extra = {"commit": release.commit.sha} if step.NAME == "commit" and release.commit else {}
            recorder.record(JOURNAL_STEP[step.NAME], last=step.NAME == last, **extra)
    if recorder is not None:
        recorder.finish()
    return release


def _journal_path(root: Path) -> Path:
    """The journal's place: the one refuse_if_interrupted just found for ``root`` (taken once), else asked anew."""
    global _located
    found, _located = _located, None
    return found[1] if found is not None and found[0] == root else journal_location(root)


def _after_failure(release: Release, recorder: Recorder, exc: PipelineError) -> PipelineError:
    """The failed step's error, or (when the release is half done) what is really there now."""
    journal = recorder.journal
    root = release.facts.root
    states = file_states(root, journal.files)
    changed = sorted(p for p, s in states.items() if s != "old")
    repo = release.repo
    head = repo.head() if repo is not None else None
    committed = repo is not None and head != journal.head
    if not changed and not committed:
        recorder.finish()  # everything is as it was: nothing to resume or abort
        return exc
    state = []
    if changed:
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        state.append(f"{len(changed)} of {len(journal.files)} file(s) are modified ({shown})")
    if committed and head is not None:
        state.append(f"the release commit {head[:7]} was made")
    done = [s for s in recorder.journal.steps]
    message = (f"{exc.message}\nthe release is incomplete: {'; '.join(state)}; steps done: "
               f"{', '.join(done) or 'none'} (journal {recorder.path})")
    after = RESUME_HINT
    if journal.publish is not None:
        after = ("`pipeline release --resume` publishes what the registry does not have yet and finishes the release"
                 + ("" if journal.published() else ", `pipeline release --abort` undoes it"))
    hint = (exc.hint + "; then " if exc.hint else "") + after
    return OperationFailed(message, hint)
