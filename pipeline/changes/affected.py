"""Which crates a change affects: changed files -> owning crates -> their dependents.

The core (:func:`compute_affected`) is pure: changed paths, the workspace
model at HEAD (and at the base when a crate was deleted) and a few facts the
edge read from git go in; an :class:`Affected` comes out. The edge
(:func:`affected_since`, :func:`affected_for_ranges`) asks git for the changed
files and those facts.

Paths are relative to the repository's top directory: the workspace may be a
subdirectory of the repository (``examples/prism4d`` in this project).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.changes.patterns import CI_FILES, MEMBER_FILES
from pipeline.changes.patterns import matches as input_matches
from pipeline.foundation import git
from pipeline.foundation.errors import PipelineError
from pipeline.foundation.git import Change
from pipeline.foundation.graph import reachable
from pipeline.workspace.load import load_workspace
from pipeline.workspace.manifest import TOMLDecodeError, toml_loads
from pipeline.workspace.model import ORDERING_KINDS, DepKind, Workspace

# Relative to the workspace root: a change rebuilds or re-checks every crate.
WORKSPACE_FILES = frozenset({"Cargo.toml", "Cargo.lock"})
# Found by cargo, rustup, rustfmt and clippy in the workspace root or any directory above it.
TOOL_CONFIG_FILES = frozenset({
    "rust-toolchain", "rust-toolchain.toml", ".cargo/config", ".cargo/config.toml",
    "rustfmt.toml", ".rustfmt.toml", "clippy.toml", ".clippy.toml",
})
CUDA_SUFFIXES = (".cu", ".cuh")
_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)


@dataclass(frozen=True)
class Rules:
    """What the configuration says about paths (patterns use fnmatch; ``*`` crosses ``/``)."""

    ignore: tuple[str, ...] = ()  # inside crates: `/`-anchored at the workspace root, else a path or file name
    ci_paths: tuple[str, ...] = CI_FILES  # relative to the repository
    # (stage, its inputs) from the stage registry (pipeline.changes.patterns says how they match):
    # Affected.stages lists those a change touches.
    stage_inputs: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class RootManifestChange:
    """How the root Cargo.toml differs between base and head."""

    build: bool  # anything cargo reads changed (everything but [workspace.metadata])
    pipeline_config: bool  # [workspace.metadata.pipeline] changed


@dataclass(frozen=True)
class FileImpact:
    change: Change
    effect: str  # crate | workspace | ci | config | cuda | ignored | none
    crate: str | None = None


@dataclass(frozen=True)
class Affected:
    base: str
    head: str
    files: tuple[FileImpact, ...] = ()
    changed_crates: tuple[str, ...] = ()  # owning a changed file
    crates: tuple[str, ...] = ()  # plus dependents through normal and build dependencies
    test_crates: tuple[str, ...] = ()  # plus dependents through dev-dependencies too
    removed_crates: tuple[str, ...] = ()  # existed at the base only
    whole_workspace: tuple[str, ...] = ()  # paths that trigger every crate
    generate_check: tuple[str, ...] = ()  # paths that make `generate --check` run
    cuda_kernels: tuple[str, ...] = ()  # kernels (.cu) including a changed CUDA file
    cuda_crates: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()  # registry stages with an input among the changed files
    members: tuple[str, ...] = field(default=(), repr=False)

    @property
    def nothing(self) -> bool:
        return not (self.crates or self.test_crates or self.generate_check or self.cuda_kernels or self.removed_crates)

    def packages(self, *, tests: bool = False, changed_only: bool = False) -> tuple[str, ...] | None:
        """``-p`` selection for cargo: None means the whole workspace.

        ``changed_only``: the crates owning changed files, without dependents (formatting
        of a crate cannot change when its dependencies do).
        """
        selected = self.changed_crates if changed_only else self.test_crates if tests else self.crates
        if self.whole_workspace or (self.members and set(selected) >= set(self.members)):
            return None  # one --workspace run instead of a -p per member
        return selected

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "files": [
                {
                    "status": f.change.status,
                    "path": f.change.path,
                    "old_path": f.change.old_path,
                    "effect": f.effect,
                    "crate": f.crate,
                }
                for f in self.files
            ],
            "changed_crates": list(self.changed_crates),
            "crates": list(self.crates),
            "test_crates": list(self.test_crates),
            "removed_crates": list(self.removed_crates),
            "whole_workspace": list(self.whole_workspace),
            "generate_check": list(self.generate_check),
            "cuda": {"kernels": list(self.cuda_kernels), "crates": list(self.cuda_crates)},
            "stages": list(self.stages),
            "packages": _maybe_list(self.packages()),
            "test_packages": _maybe_list(self.packages(tests=True)),
            "nothing": self.nothing,
        }


def _maybe_list(names: tuple[str, ...] | None) -> list[str] | None:
    return None if names is None else list(names)


# ---------------------------------------------------------------------------
# Pure core


def crate_dirs(workspace: Workspace, top: Path) -> dict[str, str]:
    """Repository-relative directory (posix, "" for the top) -> member name."""
    return {rel: name for name, rel in workspace.member_dirs(top).items()}


def external_dirs(workspace: Workspace, top: Path) -> dict[str, tuple[tuple[str, DepKind], ...]]:
    """Repository-relative directory of each path dependency outside the members (an `exclude`d
    or vendored crate) -> the members depending on it, with the kind of each dependency."""
    found: dict[str, list[tuple[str, DepKind]]] = {}
    for package in workspace.members:
        for dep in package.dependencies:
            if dep.external_path and dep.path is not None:
                rel = os.path.relpath(os.path.realpath(dep.path), top).replace(os.sep, "/")
                if not rel.startswith(".."):
                    found.setdefault("" if rel == "." else rel, []).append((package.name, dep.kind))
    return {d: tuple(dict.fromkeys(users)) for d, users in found.items()}


def owner(path: str, dirs: Mapping[str, str]) -> str | None:
    """The crate whose directory is the deepest one containing ``path``."""
    directory = posixpath.dirname(path)
    while True:
        if directory in dirs:
            return dirs[directory]
        if not directory:
            return None
        directory = posixpath.dirname(directory)


def _within(path: str, prefix: str) -> str | None:
    """``path`` relative to ``prefix`` (both repository-relative), or None if outside."""
    if not prefix:
        return path
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None


def _matches(path: str, patterns: Iterable[str]) -> bool:
    """fnmatch rules (``*`` crosses ``/``): a pattern starting with ``/`` is anchored at the
    workspace root (``/README.md`` is the top-level file only, ``/docs/**`` everything under
    ``docs/``); any other pattern matches the path or the file name anywhere."""
    name = posixpath.basename(path)
    for pattern in patterns:
        if pattern.startswith("/"):
            anchored = pattern[1:]
            if fnmatch.fnmatchcase(path, anchored) or (
                anchored.endswith("/**") and path.startswith(anchored[:-2])
            ):
                return True
        elif fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _is_tool_config(path: str, prefix: str) -> bool:
    """A toolchain/cargo/rustfmt/clippy file in the workspace root or a directory above it."""
    ancestors = [prefix]
    while ancestors[-1]:
        ancestors.append(posixpath.dirname(ancestors[-1]))
    for directory in ancestors:
        rel = _within(path, directory)
        if rel is not None and rel in TOOL_CONFIG_FILES:
            return True
    return False


def cuda_include_graph(sources: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Kernel (.cu path) -> every CUDA file it includes, transitively, itself included.

    ``sources`` maps repository-relative paths of .cu/.cuh files to their text. An
    include resolves next to the including file first, then to any CUDA file
    whose path ends with the included name (``-I kernels`` style).
    """
    direct: dict[str, set[str]] = {}
    for path, text in sources.items():
        found = set()
        for name in _INCLUDE.findall(text):
            local = posixpath.normpath(posixpath.join(posixpath.dirname(path), name))
            if local in sources:
                found.add(local)
                continue
            matches = {p for p in sources if p == name or p.endswith("/" + name)}
            # Unresolved (e.g. a header deleted by the change): keep the path it would have.
            found.update(matches or {local})
        direct[path] = found
    return {kernel: reachable([kernel], lambda path: direct.get(path, ())) for kernel in sources
            if kernel.endswith(".cu")}


def _ordered(workspace: Workspace, names: Iterable[str]) -> tuple[str, ...]:
    wanted = set(names)
    try:
        order = workspace.topological_order()
    except PipelineError:
        order = tuple(sorted(workspace.names))
    return tuple(n for n in order if n in wanted)


def compute_affected(
    changes: Sequence[Change],
    *,
    base: str,
    head: str,
    prefix: str,
    workspace: Workspace,
    dirs: Mapping[str, str],
    rules: Rules = Rules(),
    root_manifest: RootManifestChange | None = None,
    base_workspace: Workspace | None = None,
    base_dirs: Mapping[str, str] | None = None,
    cuda_graph: Mapping[str, frozenset[str]] | None = None,
    external: Mapping[str, tuple[tuple[str, DepKind], ...]] | None = None,
) -> Affected:
    """Classify ``changes`` and close the changed crates over their dependents.

    ``prefix`` is the workspace root relative to the repository top ("" when the
    same). ``base_workspace``/``base_dirs`` describe the base commit; they are
    needed only when a crate was deleted or moved away, to find its dependents.
    ``root_manifest`` says what changed in the root Cargo.toml, when it changed.
    ``external`` maps the directories of path dependencies outside the members to the
    members using them (:func:`external_dirs`): a change there affects those members.
    """
    manifest_rel = f"{prefix}/Cargo.toml" if prefix else "Cargo.toml"
    impacts: list[FileImpact] = []
    changed: set[str] = set()
    removed: set[str] = set()
    whole: list[str] = []
    generate: list[str] = []
    cuda_files: set[str] = set()
    via_path_build: set[str] = set()  # members whose (non-member) path dependency changed
    via_path_test: set[str] = set()

    for change in changes:
        paths = [change.path] + ([change.old_path] if change.old_path else [])
        effect, crate = "none", None
        for path in paths:
            rel = _within(path, prefix)
            if _matches(path, rules.ci_paths):
                generate.append(path)
                effect = "ci"
                continue
            if path.endswith(CUDA_SUFFIXES):
                cuda_files.add(path)
            if path == manifest_rel:
                if root_manifest is None or root_manifest.build:
                    whole.append(path)
                    effect = "workspace"
                else:
                    effect = "config"
                if root_manifest is None or root_manifest.pipeline_config:
                    generate.append(path)
                continue
            if (rel is not None and rel in WORKSPACE_FILES) or _is_tool_config(path, prefix):
                whole.append(path)
                effect = "workspace"
                continue
            if rel is None:
                continue
            name = owner(path, dirs)
            if name is None and base_dirs is not None:
                gone = owner(path, base_dirs)
                if gone is not None and not workspace.has(gone):
                    removed.add(gone)
                    effect, crate = "crate", gone
                    continue
            if name is None:
                holder = owner(path, {d: d for d in external}) if external else None
                users = external.get(holder) if external and holder is not None else None
                if users and not (rules.ignore and _matches(rel, rules.ignore)):
                    via_path_build.update(n for n, kind in users if kind in ORDERING_KINDS)
                    via_path_test.update(n for n, _ in users)
                    if effect == "none":
                        effect = "path-dependency"
                continue
            if rules.ignore and _matches(rel, rules.ignore):
                if effect == "none":
                    effect, crate = "ignored", name
                continue
            changed.add(name)
            effect, crate = "crate", name
        if effect == "none" and change.path.endswith(CUDA_SUFFIXES):
            effect = "cuda"
        impacts.append(FileImpact(change, effect, crate))

    members = workspace.names
    build_seeds = set(changed) | via_path_build
    test_seeds = set(changed) | via_path_test
    if removed and base_workspace is not None:
        # Dependents of a deleted crate are known only from the base's manifests.
        build_seeds.update(n for n in base_workspace.dependents_closure(removed, ORDERING_KINDS) if workspace.has(n))
        test_seeds.update(n for n in base_workspace.dependents_closure(removed, tuple(DepKind)) if workspace.has(n))
    if whole:
        crates = set(members)
        tests = set(members)
    else:
        crates = set(workspace.dependents_closure(build_seeds, ORDERING_KINDS))
        tests = set(workspace.dependents_closure(build_seeds | test_seeds, tuple(DepKind)))

    kernels: set[str] = set()
    if cuda_files and cuda_graph:
        kernels = {k for k, included in cuda_graph.items() if included & cuda_files}
    kernel_crates = {c for c in (owner(k, dirs) for k in kernels) if c is not None}

    def touched(patterns: tuple[str, ...]) -> bool:
        # MEMBER_FILES: exactly when a crate is affected (ignore rules, deleted crates and
        # path dependencies outside the members included), or the whole workspace is.
        if MEMBER_FILES in patterns and (tests or removed):
            return True
        return any(input_matches(_within(p, prefix), p, patterns)
                   for c in changes for p in (c.path, c.old_path) if p)

    return Affected(
        base=base,
        head=head,
        files=tuple(impacts),
        changed_crates=_ordered(workspace, changed & set(members)),
        crates=_ordered(workspace, crates),
        test_crates=_ordered(workspace, tests),
        removed_crates=tuple(sorted(removed)),
        whole_workspace=tuple(dict.fromkeys(whole)),
        generate_check=tuple(dict.fromkeys(generate)),
        cuda_kernels=tuple(sorted(kernels)),
        cuda_crates=_ordered(workspace, kernel_crates),
        stages=tuple(name for name, patterns in rules.stage_inputs if touched(patterns)),
        members=members,
    )


def merge(workspace: Workspace, results: Sequence[Affected]) -> Affected:
    """One result for several pushed ranges."""
    if len(results) == 1:
        return results[0]

    def union(attr: str, ordered: bool = True) -> tuple[str, ...]:
        names = {n for r in results for n in getattr(r, attr)}
        return _ordered(workspace, names) if ordered else tuple(sorted(names))

    return replace(
        results[0],
        base=",".join(r.base for r in results),
        head=",".join(r.head for r in results),
        files=tuple(f for r in results for f in r.files),
        changed_crates=union("changed_crates"),
        crates=union("crates"),
        test_crates=union("test_crates"),
        removed_crates=union("removed_crates", ordered=False),
        whole_workspace=tuple(dict.fromkeys(p for r in results for p in r.whole_workspace)),
        generate_check=tuple(dict.fromkeys(p for r in results for p in r.generate_check)),
        cuda_kernels=union("cuda_kernels", ordered=False),
        cuda_crates=union("cuda_crates"),
        stages=tuple(dict.fromkeys(s for r in results for s in r.stages)),
    )


def root_manifest_change(base_text: str | None, head_text: str | None) -> RootManifestChange:
    """Compare two root manifests: did anything cargo reads change? did our configuration?"""
    try:
        base = toml_loads(base_text) if base_text is not None else None
        head = toml_loads(head_text) if head_text is not None else None
    except TOMLDecodeError:
        return RootManifestChange(build=True, pipeline_config=True)
    if base is None or head is None:
        return RootManifestChange(build=True, pipeline_config=True)

    def split(data: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        data = dict(data)
        workspace = dict(data.get("workspace", {}))
        metadata = workspace.pop("metadata", {})
        if workspace or "workspace" in data:
            data["workspace"] = workspace
        return data, metadata.get("pipeline") if isinstance(metadata, dict) else None

    base_build, base_config = split(base)
    head_build, head_config = split(head)
    return RootManifestChange(build=base_build != head_build, pipeline_config=base_config != head_config)


# ---------------------------------------------------------------------------
# Edge: git


def _prefix(workspace: Workspace, top: Path) -> str:
    rel = os.path.relpath(os.path.realpath(workspace.root), top).replace(os.sep, "/")
    if rel.startswith(".."):
        raise git.NotARepository(f"workspace {workspace.root} is outside the git repository at {top}",
                                 "pass a --workspace inside the repository whose history is compared")
    return "" if rel == "." else rel


def _base_workspace(top: Path, commit: str, prefix: str) -> tuple[Workspace, dict[str, str]] | None:
    """The workspace model at ``commit``, from its manifests alone (a deleted crate lives only there)."""
    with tempfile.TemporaryDirectory(prefix="pipeline-base-") as tmp:
        root = Path(tmp)
        for path in git.list_files(top, commit, "Cargo.toml"):
            text = git.show(top, commit, path)
            if text is None:
                continue
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            workspace = load_workspace(root / prefix if prefix else root)
        except PipelineError:
            return None
        return workspace, crate_dirs(workspace, Path(os.path.realpath(root)))


def _cuda_sources(workspace: Workspace, top: Path) -> dict[str, str]:
    sources = {}
    for rel in git.tracked(workspace.root, "*.cu", "*.cuh"):
        path = workspace.root / rel
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        sources[os.path.relpath(os.path.realpath(path), top).replace(os.sep, "/")] = text
    return sources


def _affected_range(
    workspace: Workspace, top: Path, prefix: str, dirs: Mapping[str, str], base: str, head: str, rules: Rules,
    *, base_label: str, head_label: str,
) -> Affected:
    changes = git.diff(top, base, head)
    manifest_rel = f"{prefix}/Cargo.toml" if prefix else "Cargo.toml"
    root_change = None
    if any(manifest_rel in (c.path, c.old_path) for c in changes):
        root_change = root_manifest_change(git.show(top, base, manifest_rel), git.show(top, head, manifest_rel))
    base_model = None
    gone = [
        p for c in changes if c.status in "DR"
        for p in [c.old_path if c.status == "R" else c.path]
        if p and p.endswith("Cargo.toml") and p != manifest_rel and posixpath.dirname(p) not in dirs
        and _within(p, prefix) is not None
    ]
    if gone:
        base_model = _base_workspace(top, base, prefix)
    cuda_graph = None
    if any(p.endswith(CUDA_SUFFIXES) for c in changes for p in (c.path, c.old_path or "")):
        cuda_graph = cuda_include_graph(_cuda_sources(workspace, top))
    result = compute_affected(
        changes,
        base=base_label,
        head=head_label,
        prefix=prefix,
        workspace=workspace,
        dirs=dirs,
        rules=rules,
        root_manifest=root_change,
        base_workspace=base_model[0] if base_model else None,
        base_dirs=base_model[1] if base_model else None,
        cuda_graph=cuda_graph,
        external=external_dirs(workspace, top),
    )
    if gone and base_model is None:
        # The base's manifests could not be read as a workspace: be safe, check everything.
        result = replace(result, whole_workspace=(*result.whole_workspace, *gone),
                         crates=workspace.names, test_crates=workspace.names)
    return result


def rules_from(config: Any, stage_inputs: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> Rules:
    """The rules of the configuration's hooks section; ``stage_inputs``: the registry's
    (``pipeline.stages.registry.inputs_by_stage()``, handed in from the layer above)."""
    hooks = getattr(config, "hooks", None)
    if hooks is None:
        return Rules(stage_inputs=stage_inputs)
    return Rules(ignore=(*hooks.ignore, *getattr(hooks, "ignore_extra", ())), ci_paths=tuple(hooks.ci_paths),
                 stage_inputs=stage_inputs)


def affected_since(workspace: Workspace, base_ref: str, rules: Rules, head_ref: str = "HEAD") -> Affected:
    """Crates affected from the merge base of ``base_ref`` and ``head_ref`` to ``head_ref``."""
    top = git.toplevel(workspace.root)
    prefix = _prefix(workspace, top)
    base = git.require_commit(top, base_ref)
    head = git.require_commit(top, head_ref)
    # Like a pull request: what this branch changed since it forked, not what the base gained since.
    start = git.merge_base(top, base, head) or base
    return _affected_range(workspace, top, prefix, crate_dirs(workspace, top), start, head, rules,
                           base_label=base_ref, head_label=head_ref)


def affected_for_ranges(workspace: Workspace, ranges: Sequence[tuple[str, str]], rules: Rules) -> Affected:
    """Crates affected by several (base sha, head sha) ranges, e.g. the refs of one push."""
    top = git.toplevel(workspace.root)
    prefix = _prefix(workspace, top)
    dirs = crate_dirs(workspace, top)
    results = [
        _affected_range(workspace, top, prefix, dirs, base, head, rules, base_label=base, head_label=head)
        for base, head in ranges
    ]
    if not results:
        return Affected(base="", head="", members=workspace.names)
    return merge(workspace, results)
