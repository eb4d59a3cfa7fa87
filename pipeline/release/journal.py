"""The release journal: what an executing release planned and what it has done, so that a release
killed at any point (SIGKILL, power loss, a full disk) can be finished or undone.

``.git/pipeline-release.json`` (the repository's git directory: never committed, never in a
tarball) is written, durably, before the first file is touched and after every step (the last
step's record without an fsync: the journal's removal follows it at once, see :func:`save`):

* the plan: each file's original and new bytes with their SHA-256 (as text where they are UTF-8,
  as manifests are; base64 otherwise), the commit message, the tags with their messages, whether
  to build artifacts and to push (and where);
* ``head``: the commit the release started from; ``steps``: the steps done, in order
  (``files``, ``commit`` with its sha, ``tags``, ``artifacts``, ``publish``, ``push``);
* ``publish``: with ``--publish``, the registry and the crates to publish in order; each crate is
  recorded in ``extra["published"]`` as soon as cargo has uploaded it, so the journal always says
  what is up and what is not yet (``--resume`` asks the registry again and publishes the rest).

While a journal exists, a new release (or bump) is refused. ``pipeline release --resume`` brings
the repository to the end state of the plan; ``--abort`` back to its start. Both are idempotent
and decide from what is really there, not only from the journal (a kill can fall between an action
and its record): a file is "old" or "new" by its hash, the commit is found as the child of
``head`` with the planned message, a tag by the commit it points at. Anything else (a file edited
since, HEAD moved on) is refused with the file or ref named: the journal never overwrites work it
did not make.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed

JOURNAL_NAME = "pipeline-release.json"
# 2: file bytes as text where they are UTF-8 (`old_text`/`new_text`), compact JSON. A journal of
# format 1 (base64 only) left by an earlier version is still read.
FORMAT = 2
READABLE_FORMATS = (1, 2)

# Test seam (documented boundary, like fs.FaultHook): called with "done:STEP" after a step's
# action and before its record, and with "recorded:STEP" after the record is durable.
StepHook = Callable[[str], None]
step_hook: StepHook | None = None


def _hook(event: str) -> None:
    if step_hook is not None:
        step_hook(event)


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _encode_bytes(entry: dict[str, Any], key: str, data: bytes | None) -> None:
    """``data`` under ``key_text`` as text when it is UTF-8 (JSON escapes it cheaply and a person can
    read it), else base64 under ``key``."""
    if data is not None:
        try:
            entry[f"{key}_text"] = data.decode("utf-8")
            return
        except UnicodeDecodeError:
            pass
    entry[key] = _b64(data)


def _decode_bytes(entry: Mapping[str, Any], key: str) -> bytes | None:
    text = entry.get(f"{key}_text")
    if text is not None:
        return str(text).encode("utf-8")
    return _unb64(entry.get(key))


def _files_json(files: tuple[FileChange, ...]) -> str:
    """The journal's file list as JSON, encoded once per release: the journal is saved after every
    step and the files (old and new bytes of every manifest) are most of it and never change."""
    cached = _FILES_CACHE.get(id(files))
    if cached is not None and cached[0] is files:
        return cached[1]
    entries = []
    for change in files:
        entry: dict[str, Any] = {"path": change.path, "old_sha256": sha256(change.old),
                                 "new_sha256": sha256(change.new)}
        _encode_bytes(entry, "old", change.old)
        _encode_bytes(entry, "new", change.new)
        entries.append(entry)
    text = json.dumps(entries)
    _FILES_CACHE.clear()  # one release per process: keep the latest only
    _FILES_CACHE[id(files)] = (files, text)
    return text


_FILES_CACHE: dict[int, tuple[tuple[FileChange, ...], str]] = {}


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the workspace root (posix)
    old: bytes | None  # None: the release creates the file
    new: bytes


@dataclass(frozen=True)
class TagPlan:
    name: str
    message: str


@dataclass(frozen=True)
class Journal:
    """One interrupted (or running) release."""

    root: str  # the workspace root, absolute
    head: str | None  # the commit HEAD was at before the release (None: bump outside git)
    branch: str | None
    started: float
    command: str  # `release` or `bump`
    files: tuple[FileChange, ...]
    commit_message: str | None  # None: no commit (bump)
    tags: tuple[TagPlan, ...] = ()
    artifacts: Mapping[str, Any] | None = None  # the arguments of the artifact build, None: none
    push_remote: str | None = None  # None: no push
    steps: tuple[str, ...] = ()
    commit: str | None = None  # the release commit, once made
    extra: Mapping[str, Any] = field(default_factory=dict)  # for other steps (publish)
    publish: Mapping[str, Any] | None = None  # {"registry": NAME, "crates": ["name version", ...]}; None: none

    def done(self, step: str) -> bool:
        return step in self.steps

    def with_step(self, step: str, **changes: Any) -> Journal:
        return replace(self, steps=(*self.steps, step) if step not in self.steps else self.steps, **changes)

    def planned_steps(self) -> list[str]:
        steps = ["files"]
        if self.commit_message is not None:
            steps.append("commit")
            if self.tags:
                steps.append("tags")
        if self.artifacts is not None:
            steps.append("artifacts")
        if self.publish is not None:
            steps.append("publish")
        if self.push_remote is not None:
            steps.append("push")
        return steps

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        left = [s for s in self.planned_steps() if s not in self.steps]
        what = ", ".join(t.name for t in self.tags) or f"{len(self.files)} file(s)"
        text = (f"an interrupted `pipeline {self.command}` ({what}, started {when}) in {self.root}: "
                f"done: {', '.join(self.steps) or 'nothing yet'}; left: {', '.join(left) or 'nothing'}")
        if self.publish is not None:
            pending = self.not_yet_published()
            text += (f"; published to `{self.publish.get('registry')}`: {', '.join(self.published()) or 'none'}; "
                     f"not yet published: {', '.join(pending) or 'none'}")
        return text

    def published(self) -> list[str]:
        """The crates (`name version`) recorded as uploaded."""
        return [str(c) for c in self.extra.get("published", [])]

    def not_yet_published(self) -> list[str]:
        done = set(self.published())
        return [str(c) for c in (self.publish or {}).get("crates", []) if str(c) not in done]

    def to_json(self) -> dict[str, Any]:
        return json.loads(self.dumps())

    def dumps(self) -> str:
        """The journal file's text: compact JSON (C-encoded; ``indent`` would take Python's slow encoder)."""
        head = json.dumps({
            "format": FORMAT,
            "root": self.root,
            "head": self.head,
            "branch": self.branch,
            "started": self.started,
            "command": self.command,
            "commit_message": self.commit_message,
            "tags": [{"name": t.name, "message": t.message} for t in self.tags],
            "artifacts": dict(self.artifacts) if self.artifacts is not None else None,
            "push_remote": self.push_remote,
            "steps": list(self.steps),
            "commit": self.commit,
            "extra": dict(self.extra),
            "publish": dict(self.publish) if self.publish is not None else None,
        })
        return f'{head[:-1]}, "files": {_files_json(self.files)}}}\n'

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Journal:
        if data.get("format") not in READABLE_FORMATS:
            raise ValueError(f"unknown journal format {data.get('format')!r}")
        files = []
        for f in data["files"]:
            old, new = _decode_bytes(f, "old"), _decode_bytes(f, "new")
            if sha256(old) != f["old_sha256"] or sha256(new) != f["new_sha256"] or new is None:
                raise ValueError(f"the saved bytes of {f['path']} do not match their hash")
            files.append(FileChange(str(f["path"]), old, new))
        return cls(
            root=str(data["root"]), head=data["head"], branch=data["branch"], started=float(data["started"]),
            command=str(data["command"]), files=tuple(files), commit_message=data["commit_message"],
            tags=tuple(TagPlan(str(t["name"]), str(t["message"])) for t in data["tags"]),
            artifacts=data["artifacts"], push_remote=data["push_remote"], steps=tuple(data["steps"]),
            commit=data["commit"], extra=data.get("extra") or {}, publish=data.get("publish"),
        )


def journal_path(git_dir: Path) -> Path:
    return git_dir / JOURNAL_NAME


def load(path: Path) -> Journal | None:
    """The journal at ``path``, None if there is none; a damaged one is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OperationFailed(f"cannot read the release journal {path}: {exc.strerror or exc}",
                              "fix its permissions; it records an interrupted release") from None
    try:
        return Journal.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise OperationFailed(
            f"the release journal {path} is damaged ({exc}): the interrupted release it recorded cannot be "
            "resumed or aborted automatically",
            f"inspect `git status` and `git log -1`, restore the files by hand, then delete {path}",
        ) from None


def save(path: Path, journal: Journal, *, durable: bool = True) -> None:
    """Durably (fsync of the file and its directory): the journal must outlive a power cut.

    ``durable`` False (still atomic) is for the record of a release's last step, which the
    journal's removal follows at once: a power cut before that removal is durable leaves the
    journal as the step before saved it (durably), which recovery finishes the same way, as
    it does after a kill between a step's action and its record."""
    fs.atomic_write(path, journal.dumps().encode(), mode=0o600, sync=durable)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fs.fsync_dir(path.parent)


class Recorder:
    """Keeps the journal file current as the steps of a release are done."""

    def __init__(self, path: Path, journal: Journal) -> None:
        self.path = path
        self.journal = journal

    def begin(self) -> None:
        try:
            save(self.path, self.journal)
        except OSError as exc:
            # Nothing was touched yet: failing here is safe, and a release without a journal is not.
            raise OperationFailed(f"cannot write the release journal {self.path}: {exc.strerror or exc}; "
                                  "nothing was changed", "free some disk space and run the release again") from None
        _hook("recorded:begin")

    def record(self, step: str, *, last: bool = False, **changes: Any) -> None:
        """``step`` is done; ``last``: no step follows, the journal is removed next (see :func:`save`)."""
        _hook(f"done:{step}")
        self.journal = self.journal.with_step(step, **changes)
        try:
            save(self.path, self.journal, durable=not last)
        except OSError as exc:
            raise OperationFailed(
                f"step `{step}` of the release was done, but the journal {self.path} could not be updated: "
                f"{exc.strerror or exc}",
                "free some disk space, then `pipeline release --resume` (it finds what was done) or `--abort`",
            ) from None
        _hook(f"recorded:{step}")

    def published(self, crate: str, version: str) -> None:
        """One crate is up: recorded at once, so a kill after it still leaves the journal telling it."""
        label = f"{crate} {version}"
        _hook(f"done:publish:{crate}")
        done = [*self.journal.published(), *([] if label in self.journal.published() else [label])]
        self.journal = replace(self.journal, extra={**self.journal.extra, "published": done})
        try:
            save(self.path, self.journal)
        except OSError as exc:
            raise OperationFailed(
                f"{label} was published, but the journal {self.path} could not be updated: {exc.strerror or exc}",
                "free some disk space, then `pipeline release --resume` (it asks the registry what is up)",
            ) from None
        _hook(f"recorded:publish:{crate}")

    def finish(self) -> None:
        remove(self.path)


# ---------------------------------------------------------------------------------------------
# What is on disk, by hash


def file_states(root: Path, files: Sequence[FileChange]) -> dict[str, str]:
    """path -> "old", "new" or "other" (neither: changed since, or unreadable)."""
    states = {}
    for change in files:
        current = _read(root / change.path)
        if current == change.new:
            states[change.path] = "new"
        elif current == change.old:
            states[change.path] = "old"
        else:
            states[change.path] = "other"
    return states


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b"\0unreadable"


def stray_temps(root: Path, files: Iterable[FileChange]) -> list[Path]:
    """Temporary files :mod:`pipeline.foundation.fs` left beside the release's files when killed."""
    found = []
    for change in files:
        target = root / change.path
        with contextlib.suppress(OSError):
            for entry in os.scandir(target.parent):
                name = entry.name
                if (name.startswith(f".{target.name}.") and name.endswith(".tmp")
                        and entry.is_file(follow_symlinks=False)):
                    found.append(Path(entry.path))
    return sorted(set(found))


def refuse_other(root: Path, states: Mapping[str, str], action: str) -> None:
    changed = [p for p, s in states.items() if s == "other"]
    if changed:
        raise OperationFailed(
            f"cannot {action} the interrupted release: {', '.join(changed)} changed since it was interrupted "
            "(neither its old nor its new content)",
            f"put the file(s) back with `git checkout -- FILE` or move your edits aside, then {action} again "
            f"(the journal is {JOURNAL_NAME} in the git directory)",
        )
