"""The steps that carry out a prepared release, one module each (cargo-release's ``steps/``).

Every step module has the same shape:

* ``NAME`` — what the step is called;
* ``wanted(release)`` — whether this release runs it (``--no-verify``, ``bump``, ``--push``...);
* ``run(release)`` — do it, and return the :class:`Release` with what it made added;
* a function with plain arguments doing the work (``write.write_files``, ``tag.make_tags``...),
  so the step can run on its own, outside a release (``release --artifacts-only`` is one).

The gates step is the one bound to the assembled project (the stage runner needs it):
:class:`pipeline.release.steps.gates.Gates`.

:mod:`pipeline.release.flow` lists the steps in order and runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.foundation.fs import FaultHook
from pipeline.release.facts import ReleaseFacts
from pipeline.release.prepare import Prepared
from pipeline.release.request import Request

if TYPE_CHECKING:
    from pipeline.foundation.git import GitRepo


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int  # committer time, seconds since the epoch (the artifacts' mtime)


@dataclass(frozen=True)
class Release:
    """What the steps share: the inputs, and what each earlier step made."""

    request: Request
    facts: ReleaseFacts
    prepared: Prepared
    repo: GitRepo | None = None  # opened by the flow for a release (not for `bump`)
    fault: FaultHook | None = None
    gates: tuple[dict[str, Any], ...] | None = None  # each gate's outcome (the stage runner's JSON); None: not run
    written: tuple[str, ...] = ()  # files written, relative to the workspace root
    commit: Commit | None = None
    tags: tuple[str, ...] = ()  # tags made
    artifacts: tuple[str, ...] | None = None  # artifacts written (relative to the root); None: not built
    published: dict[str, Any] | None = None  # --publish: what went up (PublishOutcome.to_json())
    pushed: bool = False
    # Called as each crate goes up (`crate, version`): the journal records it at once.
    on_published: Callable[[str, str], None] | None = None

    def need_repo(self) -> GitRepo:
        assert self.repo is not None, "a release step that needs git ran without a repository"
        return self.repo

    def need_commit(self) -> Commit:
        assert self.commit is not None, "a release step that needs the release commit ran before it"
        return self.commit


class Step(Protocol):
    NAME: str

    def wanted(self, release: Release) -> bool: ...

    def run(self, release: Release) -> Release: ...
