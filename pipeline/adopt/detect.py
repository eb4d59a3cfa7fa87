"""Facts `pipeline init` reads from a repository: default branch, tag scheme, kernels, GPUs, install source.

Only reads. Each function returns data; `adopt.plan` turns it into file contents.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import git

_SEMVER = r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?"
_PRUNE = {"target", ".git", "node_modules", ".nox", ".venv", "venv", "dist", "build"}


@dataclass(frozen=True)
class TagScheme:
    """How the repository's release tags look: ``{prefix}{shared}`` with ``shared`` holding ``{version}``."""

    prefix: str  # text before the shared tag (`prism4d-`)
    shared: str  # `v{version}` or `{version}` (bare `0.11.0` tags)
    seen: int  # tags that follow it
    example: str | None = None


@dataclass(frozen=True)
class Facts:
    root: Path
    default_branch: str
    branch_origin: str  # where the branch came from (shown in the plan)
    tags: TagScheme | None
    kernels: tuple[str, ...]  # .cu files relative to the root
    gpu_archs: tuple[str, ...]  # architectures of the GPUs present (NVML), empty without
    tool_requirement: str | None  # how CI installs this tool, when the install says (PEP 610 direct URL)
    tool_origin: str


def default_branch(repo: Path) -> tuple[str, str]:
    """(branch, how it was found): origin's HEAD, else a local main/master, else the current branch."""
    remote_head = git.origin_head(repo)
    if remote_head:
        return remote_head, "origin/HEAD"
    branches = set(git.run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads",
                               check=False).stdout.split())
    for name in ("main", "master"):
        if name in branches:
            return name, f"local branch `{name}`"
    current = git.symbolic_ref(repo, "HEAD")
    if current:
        return current.removeprefix("refs/heads/"), "the current branch"
    return "main", "default (no branch yet)"


def tag_scheme(tags: Sequence[str]) -> TagScheme | None:
    """The most common shape among ``tags``: `v1.2.3`, bare `1.2.3`, or `name-v1.2.3` (a shared prefix)."""
    shapes: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for tag in tags:
        match = re.fullmatch(rf"(?P<prefix>.*?)(?P<v>v?)(?P<version>{_SEMVER})", tag)
        if not match:
            continue
        prefix = match.group("prefix")
        if prefix and not prefix.endswith(("-", "_", "/", ".")):
            continue  # `release1.2.3`: not a scheme we can write back
        shape = (prefix, match.group("v") + "{version}")
        shapes[shape] += 1
        examples.setdefault(shape, tag)
    if not shapes:
        return None
    (prefix, shared), seen = max(shapes.items(), key=lambda item: (item[1], item[0][0] == ""))
    return TagScheme(prefix, shared, seen, examples[(prefix, shared)])


def kernels(root: Path, *, first: bool = False) -> tuple[str, ...]:
    """The `.cu` files under ``root`` (relative, sorted), never looking into build outputs or tool
    directories (a large `target/` is not walked at all); ``first``: stop at the first one."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE)
        for name in sorted(files):
            if name.endswith(".cu"):
                found.append((Path(directory) / name).relative_to(root).as_posix())
                if first:
                    return tuple(found)
    return tuple(sorted(found))


def gpu_archs() -> tuple[str, ...]:
    from pipeline.gpu.nvml import read_inventory, visible

    inventory = read_inventory()
    if not inventory.available:
        return ()
    from pipeline.cuda import nvcc as nv

    return tuple(nv.sort_archs(sorted({g.arch for g in visible(inventory)})))


def tool_requirement() -> tuple[str | None, str]:
    """A requirement CI can install this very tool from, read from its install record (PEP 610)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("cargo-gpu-pipeline")
    except metadata.PackageNotFoundError:
        return None, "the tool runs from a checkout, not an installation"
    import pipeline

    installed = Path(str(dist.locate_file("pipeline/__init__.py"))).resolve()
    if installed != Path(pipeline.__file__).resolve() or dist.read_text("INSTALLER") is None:
        # Metadata of another copy, or an egg-info a build left beside a checkout: not an installation.
        return None, "the tool runs from a checkout, not an installation"
    text = dist.read_text("direct_url.json")
    if not text:
        return f"cargo-gpu-pipeline=={dist.version}", "installed from a package index"
    data = json.loads(text)
    url = data.get("url", "")
    vcs = data.get("vcs_info")
    if vcs and url.startswith(("https://", "ssh://", "git@")):
        revision = vcs.get("requested_revision") or vcs.get("commit_id")
        scheme = vcs.get("vcs", "git")
        return f"cargo-gpu-pipeline @ {scheme}+{url}@{revision}", f"installed from {scheme} {url}"
    if url.startswith("https://"):
        return f"cargo-gpu-pipeline @ {url}", f"installed from {url}"
    return None, f"installed from a local path ({url}): CI cannot install from it"


def gather(root: Path) -> Facts:
    repo = git.find_toplevel(root)
    if repo is not None:
        branch, origin = default_branch(repo)
        tags = tag_scheme(git.run_git(repo, "tag", "--list", check=False).stdout.split())
    else:
        branch, origin, tags = "main", "default (not a git repository)", None
    found = kernels(root)
    requirement, how = tool_requirement()
    return Facts(root, branch, origin, tags, found, gpu_archs() if found else (), requirement, how)
