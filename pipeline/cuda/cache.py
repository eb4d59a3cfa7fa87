"""Content-addressed compile cache (shared safely by concurrent jobs: atomic renames only).

Layout under the cache directory:

- ``objects/ab/<key>/artifact`` + ``meta.json``: one cubin, PTX or fatbin and what was
  learnt compiling it (resource usage, entry functions, warnings);
- ``deps/<key>.json``: the files a source includes (from ``nvcc -M``) with their digests,
  so a warm run re-hashes files instead of re-running the preprocessor;
- ``timings.json``: how long each job took last time, to start the longest first.

Keys are digests of contents, flags, architecture and nvcc version, never of
absolute checkout paths, so CI runners in different directories share entries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation import fs

CACHE_FORMAT = 1


# Entries are fsynced (a reader on another runner must never see half an artifact), but
# their directories are not: a name lost in a crash is only a cache miss.
def _write_bytes(path: Path, data: bytes) -> None:
    fs.atomic_write(path, data, sync_dir=False)


def _write_json(path: Path, data: Any) -> None:
    fs.atomic_write_json(path, data, sync_dir=False)


def digest_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class FileDigests:
    """sha256 of file contents, memoised by (path, mtime, size) for one run (headers are shared)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        memo_key = (str(path), stat.st_mtime_ns, stat.st_size)
        found = self._memo.get(memo_key)
        if found is None:
            found = hashlib.sha256(path.read_bytes()).hexdigest()
            self._memo[memo_key] = found
        return found


@dataclass(frozen=True)
class Entry:
    artifact: Path
    meta: dict[str, Any]


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- compiled artifacts
    def _object_dir(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    def get(self, key: str) -> Entry | None:
        directory = self._object_dir(key)
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        artifact = directory / "artifact"
        if meta.get("format") != CACHE_FORMAT or not artifact.is_file():
            return None
        return Entry(artifact, meta)

    def put(self, key: str, artifact: bytes, meta: dict[str, Any]) -> None:
        directory = self._object_dir(key)
        # The artifact lands before meta.json, which is what get() checks first.
        _write_bytes(directory / "artifact", artifact)
        _write_json(directory / "meta.json", {**meta, "format": CACHE_FORMAT})

    # -- include lists
    def get_deps(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / "deps" / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def put_deps(self, key: str, record: dict[str, Any]) -> None:
        _write_json(self.root / "deps" / f"{key}.json", record)

    # -- timings
    def timings(self) -> dict[str, float]:
        try:
            data = json.loads((self.root / "timings.json").read_text())
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}

    def put_timings(self, timings: dict[str, float]) -> None:
        _write_json(self.root / "timings.json", dict(sorted(timings.items())))
