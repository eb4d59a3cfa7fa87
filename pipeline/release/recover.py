"""``release --resume`` and ``release --abort``: finish or undo the release a journal records.

Both work from what is really in the repository (see :mod:`pipeline.release.journal`), so they
can themselves be killed and run again. The journal is removed only once the repository is
consistent: every file old (abort) or new (resume), no temporary file of ours beside them, the
commit and tags made (resume) or gone (abort).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.foundation import fs, git
from pipeline.foundation.errors import CommandFailed, OperationFailed
from pipeline.foundation.output import log
from pipeline.release.journal import Journal, Recorder, file_states, refuse_other, remove, stray_temps
from pipeline.release.journal_place import journal_location  # noqa: F401 - where callers have always found it

# The artifact build, handed in by the flow (artifacts need the workspace model and settings).
BuildArtifacts = Callable[[Journal, str, int], list[Path]]
# The rest of an interrupted publish, handed in by the flow: plans again from the registry's index (what is
# up is skipped), uploads the rest, calling back (crate, version) as each goes up; returns the outcome.
PublishCrates = Callable[[Journal, Callable[[str, str], None]], dict[str, Any]]


def _clean_temps(root: Path, journal: Journal) -> None:
    for temp in stray_temps(root, journal.files):
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        log(f"release: removed {temp.relative_to(root) if temp.is_relative_to(root) else temp} "
            "(left by the interrupted write)")


def _clear_index_lock(repo: git.GitRepo | None) -> None:
    """A ``git add``/``git commit`` killed with the release leaves ``index.lock``; every later git
    write refuses while it exists. We hold the release lock and the journal says the release was
    interrupted, so the lock file is that dead git's."""
    if repo is None:
        return
    lock = git.git_path(repo.top, "index.lock")
    if lock.exists():
        lock.unlink(missing_ok=True)
        log(f"release: removed {lock} (left by a git command killed with the release)")


def _verify_cargo(root: Path) -> None:
    """The tree the interrupted release planned must be one cargo accepts with its lock, checked as
    the release's write step checks it: `cargo metadata --locked --offline` resolves the graph
    (with `--no-deps` it would not look at Cargo.lock at all); where cargo cannot resolve
    offline the check is skipped and said."""
    if not (root / "Cargo.lock").is_file():
        return
    from pipeline.release.steps.write import verify_cargo  # here: the steps import the flow's modules

    try:
        verify_cargo(root, "release", root)
    except CommandFailed as exc:
        raise CommandFailed(exc.argv, exc.returncode, exc.stderr_tail,
                            "the interrupted release's manifests and Cargo.lock disagree; `pipeline release "
                            "--abort` puts every file back") from None


def _repo(journal: Journal, root: Path) -> git.GitRepo | None:
    if journal.head is None:
        return None
    repo = git.open_repo(root)
    if repo is None:
        raise OperationFailed(f"{root} is no longer in a git repository, but the interrupted release was made in one",
                              "restore the repository, then run the command again")
    return repo


def _find_commit(repo: git.GitRepo, journal: Journal) -> str | None:
    """The release commit if it was made: recorded, or HEAD as the child of ``head`` with the planned message."""
    if journal.commit:
        return journal.commit
    head = repo.head()
    if head is None or head == journal.head:
        return None
    parent = git.resolve(repo.top, f"{head}^")
    message = repo.git("log", "-1", "--format=%B", head).stdout.strip()
    if parent == journal.head and message == (journal.commit_message or "").strip():
        return head
    raise OperationFailed(
        f"HEAD ({head[:7]}) moved since the interrupted release started from {journal.head and journal.head[:7]}, "
        "and is not its release commit",
        "check out the branch as it was (`git log` shows it), then run the command again",
    )


def _tag_target(repo: git.GitRepo, name: str) -> str | None:
    return git.resolve(repo.top, f"refs/tags/{name}^{{commit}}")


def resume(root: Path, path: Path, journal: Journal, build: BuildArtifacts,
           publish: PublishCrates | None = None) -> dict[str, Any]:
    """Bring the repository to the planned end state, step by step; the journal goes last."""
    recorder = Recorder(path, journal)
    repo = _repo(journal, root)
    _clean_temps(root, journal)
    _clear_index_lock(repo)
    commit = _find_commit(repo, journal) if repo is not None else None
    states = file_states(root, journal.files)
    if commit is None:
        refuse_other(root, states, "resume")
        pending = {root / f.path: f.new for f in journal.files if states[f.path] != "new"}
        if pending:
            # Checked before the write counts: a tree cargo refuses gets the files back as they were.
            fs.write_all(pending, originals={root / f.path: f.old for f in journal.files if root / f.path in pending},
                         what="the interrupted release's files", verify=lambda: _verify_cargo(root))
        else:
            _verify_cargo(root)
        if not journal.done("files"):
            recorder.record("files")
        if repo is not None and journal.commit_message is not None:
            commit = repo.commit([root / f.path for f in journal.files], journal.commit_message)
            log(f"release: committed {commit[:7]}: {journal.commit_message}")
    if commit is not None and not recorder.journal.done("commit"):
        recorder.record("commit", commit=commit)
    result: dict[str, Any] = {"resumed": True, "commit": commit, "tags": [t.name for t in journal.tags]}
    if repo is not None and commit is not None:
        for tag in journal.tags:
            target = _tag_target(repo, tag.name)
            if target is None:
                repo.tag(tag.name, tag.message)
                log(f"release: tagged {tag.name}")
            elif target != commit:
                raise OperationFailed(f"tag {tag.name} exists but points at {target[:7]}, not at the release "
                                      f"commit {commit[:7]}", f"delete it (`git tag -d {tag.name}`) if it is stale, "
                                      "then resume again")
        if journal.tags and not recorder.journal.done("tags"):
            recorder.record("tags")
        if journal.artifacts is not None and not recorder.journal.done("artifacts"):
            written = build(recorder.journal, commit, repo.commit_time(commit))
            result["artifacts"] = [str(p) for p in written]
            recorder.record("artifacts")
        if journal.publish is not None and not recorder.journal.done("publish"):
            if publish is None:
                raise OperationFailed("the interrupted release was publishing crates, and this resume cannot publish",
                                      "run `pipeline release --resume` from the command line")
            log(f"release: published before the interruption: {', '.join(journal.published()) or 'none'}")
            result["published"] = publish(recorder.journal, recorder.published)
            recorder.record("publish")
        if journal.push_remote is not None and not recorder.journal.done("push"):
            repo.push(journal.push_remote, [t.name for t in journal.tags])
            log(f"release: pushed HEAD and {', '.join(t.name for t in journal.tags)} to {journal.push_remote}")
            recorder.record("push")
    recorder.finish()
    log("release: the interrupted release is complete")
    return result


def _pushed(repo: git.GitRepo, journal: Journal) -> bool:
    if journal.done("push"):
        return True
    if journal.push_remote is None or not journal.tags:
        return False
    # A kill can fall between the push and its record: ask the remote.
    result = repo.git("ls-remote", "--tags", journal.push_remote, *[f"refs/tags/{t.name}" for t in journal.tags],
                      check=False)
    if not result.ok:
        raise OperationFailed(
            f"cannot tell whether the interrupted release was pushed: `git ls-remote {journal.push_remote}` failed",
            "reach the remote and run --abort again, or finish the release with --resume",
        )
    return bool(result.stdout.strip())


def abort(root: Path, path: Path, journal: Journal) -> dict[str, Any]:
    """Put every file back, delete the commit and tags the release made; refused once it was pushed."""
    repo = _repo(journal, root)
    _clean_temps(root, journal)
    _clear_index_lock(repo)
    deleted: list[str] = []
    if journal.published():
        # A registry keeps what it was given (crates.io never deletes a version): the tag that names it stays.
        raise OperationFailed(
            f"the interrupted release already published {', '.join(journal.published())} to "
            f"`{(journal.publish or {}).get('registry')}`: it cannot be undone",
            "finish it with `pipeline release --resume` (it publishes the rest), or yank the versions by hand",
        )
    commit = _find_commit(repo, journal) if repo is not None else None
    if repo is not None:
        if _pushed(repo, journal):
            raise OperationFailed(
                f"the interrupted release was already pushed to {journal.push_remote}: it cannot be undone here",
                "finish it with `pipeline release --resume`, and make a new release to supersede it",
            )
        for tag in journal.tags:
            target = _tag_target(repo, tag.name)
            if target is not None and commit is not None and target == commit:
                repo.delete_tag(tag.name)
                deleted.append(tag.name)
                log(f"release: deleted tag {tag.name}")
    states = file_states(root, journal.files)
    refuse_other(root, states, "abort")
    if repo is not None and commit is not None:
        if repo.head() != commit:
            raise OperationFailed(f"HEAD is no longer the release commit {commit[:7]}",
                                  "check out the branch as it was, then run --abort again")
        # Move the branch back without touching the work tree or other staged changes; the
        # release's own files are put back below.
        assert journal.head is not None
        repo.git("update-ref", "-m", "pipeline release --abort", "HEAD", journal.head, commit)
        log(f"release: removed the release commit {commit[:7]} (HEAD is {journal.head[:7]} again)")
    restore = {root / f.path: f.old for f in journal.files if states[f.path] != "old" and f.old is not None}
    if restore:
        fs.write_all(restore, what="the original files")
    for change in journal.files:
        if change.old is None:
            with contextlib.suppress(FileNotFoundError):
                (root / change.path).unlink()
    if repo is not None:
        # The index may hold the release's files (killed between `git add` and the commit, or
        # after the commit was undone): back to HEAD's for those paths only.
        repo.unstage([root / f.path for f in journal.files])
    remove(path)
    log("release: the interrupted release was undone")
    return {"aborted": True, "commit": commit, "deleted_tags": deleted}
