"""Step: the release commit of exactly the written files (the user's hooks and signing apply).

A refused commit (a hook, signing...) puts the files back as they were and unstages them.
"""

from __future__ import annotations

import contextlib
import dataclasses

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed
from pipeline.foundation.git import GitRepo
from pipeline.foundation.output import log
from pipeline.release.prepare import Prepared
from pipeline.release.steps import Commit, Release

NAME = "commit"


def wanted(release: Release) -> bool:
    return release.request.full


def run(release: Release) -> Release:
    return dataclasses.replace(release, commit=make_commit(release.need_repo(), release.prepared))


def make_commit(repo: GitRepo, prepared: Prepared) -> Commit:
    paths = list(prepared.files)
    try:
        sha = repo.commit(paths, prepared.commit_message)
    except OperationFailed as refused:
        originals = {p: old for p, (old, _new) in prepared.files.items() if old is not None}
        try:
            fs.write_all(originals, what="the release")
            for path, (old, _new) in prepared.files.items():
                if old is None:
                    path.unlink(missing_ok=True)
        except (OperationFailed, OSError):
            # Putting the files back failed too (a full disk): the commit's own error is the news;
            # the journaled flow reports which files are really modified now.
            raise refused from None
        with contextlib.suppress(OperationFailed):
            repo.unstage(paths)
        raise
    log(f"release: committed {sha[:7]}: {prepared.commit_message.splitlines()[0]}")
    return Commit(sha, repo.commit_time())
