"""The edges of `pipeline generate`: find the repository, render, write or compare."""

from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.ci.model import CiPipeline, Context, build_pipeline
from pipeline.ci.settings import RELATIVE_PATH, TAG_PREFIX
from pipeline.foundation import fs, git
from pipeline.foundation.errors import ConfigError, ManifestError
from pipeline.project import PipelineConfig, load_config, resolve_root
from pipeline.workspace.manifest import read_toml


@dataclass(frozen=True)
class Target:
    """What generation needs of a workspace: its root and configuration (not its 500 member manifests)."""

    root: Path
    config: PipelineConfig


def load_target(explicit: str | os.PathLike[str] | None = None) -> Target:
    """The workspace root and its `[workspace.metadata.pipeline]`, reading only the root manifest.

    Job names, runners and matrices come from configuration alone, so rendering time does not
    grow with the number of crates.
    """
    root = resolve_root(explicit)
    manifest = root / "Cargo.toml"
    data = read_toml(manifest)
    workspace = data.get("workspace")
    if not isinstance(workspace, dict):
        raise ManifestError(f"{manifest}: no [workspace] table", "point --workspace at the workspace's root manifest")
    metadata = workspace.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ManifestError(f"{manifest}: `workspace.metadata` must be a table", "see the Cargo reference")
    return Target(root, load_config(metadata, manifest))


def _relative(path: Path, root: Path, what: str) -> str:
    rel = path.relative_to(root).as_posix() if path != root else "."
    if rel != "." and RELATIVE_PATH.fullmatch(rel) is None:
        raise ConfigError(
            f"{what} {rel!r} (relative to the repository root {root}) cannot be written into CI files safely",
            "rename the directory to letters, digits and `_ . - /`",
        )
    return rel


_BARE_VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")
_MSRV = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?")


def inferred_shared_tag(repo_root: Path, prefix: str) -> str | None:
    """`{version}` when the repository's release tags are bare (`0.11.0`), `v{version}` when they carry a
    `v`, None without tags: what `pipeline release` infers from the same tags when nothing is configured."""
    if git.find_toplevel(repo_root) is None:
        return None
    tags = git.run_git(repo_root, "tag", "--list", check=False).stdout.split()
    bare = prefixed = 0
    for tag in tags:
        if not tag.startswith(prefix):
            continue
        rest = tag[len(prefix):]
        if _BARE_VERSION.fullmatch(rest):
            bare += 1
        elif rest.startswith("v") and _BARE_VERSION.fullmatch(rest[1:]):
            prefixed += 1
    if not (bare or prefixed):
        return None
    return "{version}" if bare > prefixed else "v{version}"


def _tag_prefix(project: Target | Any, repo_root: Path) -> str:
    """What release tags start with before the version: from `release.tag-prefix` and `release.shared-tag`,
    or, both tag templates left at their defaults, from the tags the repository already has."""
    from pipeline.release.unreleased import DEFAULT_CRATE, DEFAULT_SHARED

    release = project.config.release
    shared = release.shared_tag
    if shared == DEFAULT_SHARED and release.crate_tag == DEFAULT_CRATE:
        shared = inferred_shared_tag(repo_root, release.tag_prefix) or shared
    return release.tag_prefix + shared.split("{version}", 1)[0]


def default_branch(repo_root: Path) -> str:
    """The repository's default branch: origin/HEAD, else a local main/master, else the current branch."""
    from pipeline.adopt.detect import default_branch as detect

    if git.find_toplevel(repo_root) is None:
        return "main"
    branch, _origin = detect(repo_root)
    return branch


def has_kernels(project: Target | Any) -> bool:
    """`.cu` files in the workspace, or kernel sets configured: what the CUDA and GPU jobs would work on."""
    from pipeline.adopt.detect import kernels

    return bool(getattr(project.config.cuda, "kernel_sets", ())) or bool(kernels(project.root, first=True))


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _table(value: Any) -> dict[str, Any]:
    """A manifest table, or nothing where the file holds another type there (`[[package]]`: an array)."""
    return value if isinstance(value, dict) else {}


def rust_version(root: Path) -> str | None:
    """`rust-version` of the workspace (`[workspace.package]`, else the root package), else the highest
    a member sets: the oldest toolchain the whole workspace claims to build with."""
    manifest = root / "Cargo.toml"
    data = read_toml(manifest)
    found_ws = data.get("workspace")
    workspace: dict[str, Any] = found_ws if isinstance(found_ws, dict) else {}
    found = [_table(workspace.get("package")).get("rust-version"), _table(data.get("package")).get("rust-version")]
    own = next((v for v in found if isinstance(v, str)), None)
    if own is None:
        versions = []
        for pattern in workspace.get("members", []) if isinstance(workspace.get("members"), list) else []:
            for directory in sorted(glob.glob(str(root / str(pattern)))):
                member = Path(directory) / "Cargo.toml"
                if member.is_file():
                    value = _table(read_toml(member).get("package")).get("rust-version")
                    if isinstance(value, str):
                        versions.append(value)
        own = max(versions, key=lambda v: _version_key(v) if _MSRV.fullmatch(v) else (), default=None)
    if own is not None and _MSRV.fullmatch(own) is None:
        raise ConfigError(f"{manifest}: `rust-version` = {own!r} is not a Rust version like `1.85`",
                          "fix `rust-version` (Cargo wants `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`)")
    return own


def context_for(project: Target | Any, repo_root: Path) -> Context:
    """Paths of the workspace relative to the repository (``project``: a Target or a pipeline Project)."""
    root = project.root
    workspace = _relative(root, repo_root, "workspace directory")
    settings = project.config.ci

    def inside(rel: str) -> str:
        return rel if workspace == "." else f"{workspace}/{rel}"

    # Other sections own these directories; fall back to their documented defaults.
    release = project.config.release
    dist = settings.release.dist_dir or getattr(release, "dist_dir", "") or "dist"
    cuda_cache = getattr(project.config.cuda, "cache_dir", "") or "target/cuda-cache"
    for key, value in (("release.dist-dir", dist), ("cuda.cache-dir", cuda_cache)):
        if RELATIVE_PATH.fullmatch(value) is None or ".." in value.split("/"):
            raise ConfigError(f"{root / 'Cargo.toml'}: `{key}` = {value!r} cannot be written into CI files",
                              "use a relative path of letters, digits and `_ . - /`")
    # The tags `pipeline release` creates start with the prefix plus the template's text before
    # the version; the tag pipeline must trigger on exactly those.
    tag_prefix = _tag_prefix(project, repo_root)
    if TAG_PREFIX.fullmatch(tag_prefix) is None:
        raise ConfigError(
            f"{root / 'Cargo.toml'}: release tags start with {tag_prefix!r}, which cannot be written into CI files",
            "use letters, digits and `. _ -` in `release.tag-prefix`/`release.shared-tag`, "
            "or set `ci.release.tag-prefix`",
        )
    # The audit job clones the advisory database where `pipeline audit` will look for it.
    audit = project.config.audit
    advisory_db: str | None = "~/.cargo/advisory-db"
    if audit.engine == "cargo-deny":
        advisory_db = None  # cargo-deny fetches its own database (`db-path` in deny.toml)
    elif audit.db:
        relative = RELATIVE_PATH.fullmatch(audit.db) is not None and ".." not in audit.db.split("/")
        advisory_db = inside(audit.db) if relative else None  # elsewhere: the runner provides it
    return Context(
        workspace=workspace,
        lockfile=inside("Cargo.lock"),
        dist_dir=inside(dist),
        cuda_cache_dir=inside(cuda_cache),
        tool_version=__version__,
        config_file=inside("Cargo.toml"),
        release_tag_prefix=tag_prefix,
        advisory_db=advisory_db,
        cuda_output_dir=inside("target/cuda"),
        runner_enforce=project.config.runner.enforce,
        profile_dir=inside("target/profile"),
        default_branch=settings.default_branch or default_branch(repo_root),
        kernels=has_kernels(project),
        msrv=rust_version(root) if settings.msrv else None,
        locked=(root / "Cargo.lock").is_file(),
        cuda_sccache=getattr(project.config.cuda, "cache", "local") == "sccache",
        release_targets=_release_targets(project, root),
        release_cross=tuple(sorted(getattr(release, "cross", {}).items())),
        cuda_toolkits=_toolkits(project),
    )


def _release_targets(project: Target | Any, root: Path) -> tuple[str, ...]:
    """`release.targets`, with the CI runner maps checked against it (a runner for no target is a typo)."""
    targets = tuple(getattr(project.config.release, "targets", ()))
    ci = project.config.ci.release
    for key, mapping in (("target-runners", ci.target_runners), ("target-tags", ci.target_tags)):
        unknown = [t for t in mapping if t not in targets]
        if unknown:
            raise ConfigError(f"{root / 'Cargo.toml'}: `ci.release.{key}` names {', '.join(unknown)}, which "
                              f"`release.targets` does not list ({', '.join(targets) or 'empty'})",
                              "add the target to `release.targets`, or remove the entry")
    if ci.target_tags and len(ci.target_tags) != len(targets):
        missing = [t for t in targets if t not in ci.target_tags]
        raise ConfigError(f"{root / 'Cargo.toml'}: `ci.release.target-tags` has no tag for {', '.join(missing)}",
                          "GitLab picks each matrix entry's runner by its tag: give every target one")
    return targets


def _toolkits(project: Target | Any) -> tuple[str, ...]:
    """`cuda.toolkits`, oldest first (the newest is the GPU jobs' and the release's)."""
    from pipeline.cuda.settings import toolkit_key

    cuda = getattr(project.config, "cuda", None)
    return tuple(sorted(getattr(cuda, "toolkits", ()), key=toolkit_key))


def local_notes(project: Target | Any, pipeline: CiPipeline, repo_root: Path) -> list[str]:
    """What in the generated files comes from this machine rather than from the repository, so that a
    teammate generating elsewhere would get other files: each said with where it is set and what to do."""
    from pipeline import configview

    manifest = project.root / "Cargo.toml"
    origins = configview.origin_map(project.config, manifest.read_text(encoding="utf-8"), str(manifest), {})
    notes = []
    audit = project.config.audit
    if audit.engine != "cargo-deny" and audit.db and pipeline.context.advisory_db is None:
        notes.append(
            f"`audit.db` = {audit.db!r} ({origins.get('audit.db', 'configuration')}) is a path on this machine: "
            "the generated audit job reads the advisory-db there, without `--fetch-db` or a cache, so every "
            "runner must provide it; a path inside the repository (or no `db`) lets CI fetch and cache it")
    if project.config.ci.default_branch is None:
        from pipeline.adopt.detect import default_branch as detect

        if git.find_toplevel(repo_root) is not None:
            branch, origin = detect(repo_root)
            if origin != "origin/HEAD":
                notes.append(
                    f"CI triggers on branch `{branch}`, taken from {origin} of this clone (no `origin/HEAD`): "
                    "a clone with another default branch would generate other files; set `ci.default-branch` "
                    "(or `git remote set-head origin --auto`)")
    settings = project.config.ci
    if settings.sccache != "off" and not pipeline.context.cuda_sccache and pipeline.context.kernels:
        notes.append(f"`ci.sccache` = {settings.sccache!r} serves rustc only: `pipeline cuda` runs nvcc through "
                     "sccache with `cuda.cache = \"sccache\"` in [workspace.metadata.pipeline.cuda]")
    return notes


def pipeline_for(project: Target | Any, repo_root: Path | None = None) -> tuple[CiPipeline, Path]:
    repo = repo_root or git.repository_root(project.root)
    return build_pipeline(project.config.ci, context_for(project, repo)), repo


@dataclass(frozen=True)
class Drift:
    path: str
    diff: str  # unified diff; the whole new file when it is missing


def compare(files: dict[str, str], repo_root: Path) -> list[Drift]:
    """Generated files whose text on disk differs from ``files`` (or that are missing)."""
    drifts = []
    for rel, text in files.items():
        target = repo_root / rel
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        diff = "".join(difflib.unified_diff(
            [] if current is None else current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"a/{rel}" if current is not None else "/dev/null",
            tofile=f"b/{rel}",
        ))
        drifts.append(Drift(rel, diff))
    return drifts


def write_files(files: dict[str, str], repo_root: Path) -> list[str]:
    """Write every changed file atomically, all or nothing (a failure puts back what was). Returns the changed paths."""
    changed = [rel for rel, text in files.items()
               if not (repo_root / rel).is_file() or (repo_root / rel).read_text(encoding="utf-8") != text]
    fs.write_all({repo_root / rel: files[rel].encode("utf-8") for rel in changed},
                 what="the CI files", hint="check permissions of the repository directory")
    return changed
