"""cargo-release's own configuration, read and translated into this tool's release keys.

Workspaces released with cargo-release configure it in ``release.toml`` (or
``.release.toml``) at the workspace root and in each crate's directory, in
``[workspace.metadata.release]`` and in ``[package.metadata.release]``, lowest
precedence first in that order (cargo-release's own order; the files in the home
directory are left out: they are one person's, not the project's). What matters
for planning is translated into this tool's keys, which win when both are set:

* ``shared-version = true | "name"`` -> ``version-groups`` (crates released together);
* ``release = false`` -> ``skip-crates`` (never released);
* ``publish = false`` (``disable-publish``) -> ``never-publish`` (released, never uploaded);
* ``tag-name`` / ``tag-prefix`` -> ``shared-tag``, ``shared-tag-crates`` and ``crate-tag``
  (``{{prefix}}v{{version}}`` with the default prefix: ``v{version}`` for the crate at the
  repository's top, ``{crate}-v{version}`` for the others);
* ``allow-branch``, ``sign-tag``, ``push-remote``, ``registry``,
  ``pre-release-commit-message`` and ``tag-message`` -> their counterparts.

A key that would make cargo-release do something this tool does not (edit other files,
run a hook, set owners, ...) is named in a warning with a hint, never dropped silently.
A value of the wrong type is a :class:`~pipeline.foundation.errors.ConfigError` naming
``file:line:column``, raised before anything is written.

Pure apart from :func:`read_sources`, which reads the files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ConfigError
from pipeline.foundation.git import ref_format_problem
from pipeline.release.settings import EXAMPLE_VERSIONS, ReleaseSettings
from pipeline.workspace.manifest import parse_toml
from pipeline.workspace.model import Workspace

FILES = ("release.toml", ".release.toml")
DEPENDENT_VERSIONS = ("upgrade", "fix", "error", "warn", "ignore")
METADATA_POLICIES = ("optional", "required", "ignore", "persistent")
DEFAULT_TAG_NAME = "{{prefix}}v{{version}}"
DEFAULT_MESSAGE = "chore: Release"  # cargo-release's commit and tag message

# Expected type of every key cargo-release reads (for the located errors).
_BOOL, _STR, _LIST, _TABLE, _ANY = "a boolean", "a string", "an array", "a table", "any"
KEYS: Mapping[str, str] = {
    "release": _BOOL, "shared-version": "a boolean or a string", "tag-name": _STR, "tag-prefix": _STR,
    "tag": _BOOL, "publish": _BOOL, "dependent-version": _STR, "allow-branch": _LIST, "sign-tag": _BOOL,
    "sign-commit": _BOOL, "push-remote": _STR, "registry": _STR, "pre-release-commit-message": _STR,
    "tag-message": _STR, "push": _BOOL, "consolidate-commits": _BOOL, "consolidate-pushes": _BOOL,
    "metadata": _STR, "pre-release-replacements": _LIST, "pre-release-hook": "a string or an array",
    "post-release-replacements": _LIST, "post-release-hook": "a string or an array",
    "post-release-commit-message": _STR, "owners": _LIST, "verify": _BOOL, "enable-features": _LIST,
    "enable-all-features": _BOOL, "target": _STR, "push-options": _LIST, "certs-source": _STR,
    "rate-limit": _TABLE, "dev-version": _BOOL, "dev-version-ext": _STR, "disable-publish": _BOOL,
    "disable-push": _BOOL, "disable-tag": _BOOL, "no-dev-version": _BOOL,
}
# Keys with no effect on what a release makes here (cargo-release's network and pacing knobs,
# and `push = false`: this tool pushes only with --push anyway).
_NO_EFFECT = frozenset({"certs-source", "rate-limit", "consolidate-pushes", "push", "disable-push"})
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Source:
    """One place cargo-release reads: a file, and the table in it (``()``: the whole file)."""

    file: Path
    text: str
    table: tuple[str, ...]
    values: Mapping[str, Any]
    crate: str | None = None  # None: the workspace's (every crate inherits it)

    def where(self, key: str) -> str:
        """``file:line:column`` of ``key`` inside this source's table."""
        return locate_in_table(self.file, self.text, self.table, key)

    @property
    def name(self) -> str:
        return self.file.name + (f" [{'.'.join(self.table)}]" if self.table else "")


def locate_in_table(file: Path, text: str, table: Sequence[str], key: str) -> str:
    """The first line assigning ``key`` after the header of ``table`` (a dotted ``release.key`` or an
    inline table in the parent counts too), else the first anywhere; else the file."""
    lines = text.removeprefix("\ufeff").splitlines()
    start = 0
    if table:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(t) for t in table) + r"\s*\]")
        parent = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(t) for t in table[:-1]) + r"\s*\]")
        for number, line in enumerate(lines):
            if header.match(line) or (len(table) > 1 and parent.match(line)):
                start = number
                if header.match(line):
                    break
    pattern = re.compile(r"^\s*(?:[\w.\-\"']*\.)?[\"']?" + re.escape(key) + r"[\"']?\s*=")
    inline = re.compile(r"[{,]\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for order in (range(start, len(lines)), range(0, start)):
        for number in order:
            line = lines[number]
            match = pattern.search(line) or inline.search(line)
            if match:
                return f"{file}:{number + 1}:{line.find(key, match.start()) + 1}"
    return str(file)


def _source(file: Path, text: str, table: tuple[str, ...], values: Any, crate: str | None) -> Source | None:
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise ConfigError(f"{locate_in_table(file, text, table[:-1], table[-1])}: `{'.'.join(table)}` must be a "
                          f"table, got {type(values).__name__}", "write it as a [" + ".".join(table) + "] table")
    return Source(file, text, table, dict(values), crate)


def read_sources(ws: Workspace) -> tuple[Source, ...]:
    """Every cargo-release source of ``ws``, lowest precedence first: the workspace's files,
    then each member's (``crate`` set). A TOML syntax error names the file, line and column."""
    sources: list[Source] = []

    def files(directory: Path, crate: str | None) -> None:
        base = str(directory)
        for name in FILES:
            # os.path on strings: 1,000 stats on a 500-crate workspace cost a millisecond, not ten.
            if os.path.isfile(os.path.join(base, name)):
                path = directory / name
                text = _read(path)
                found = _source(path, text, (), parse_toml(text, path, "cargo-release configuration"), crate)
                if found is not None:
                    sources.append(found)

    files(ws.root, None)
    root_text = _read(ws.manifest_path)
    found = _source(ws.manifest_path, root_text, ("workspace", "metadata", "release"),
                    ws.metadata.get("release"), None)
    if found is not None:
        sources.append(found)
    for package in ws.members:
        if package.directory != ws.root:
            files(package.directory, package.name)
        if package.release_metadata is None:
            continue  # the workspace loader kept the table: no second read of most manifests
        text = root_text if package.manifest_path == ws.manifest_path else _read(package.manifest_path)
        found = _source(package.manifest_path, text, ("package", "metadata", "release"), package.release_metadata,
                        package.name)
        if found is not None:
            sources.append(found)
    return tuple(sources)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the cargo-release configuration: {exc.strerror or exc}",
                          "make the file readable, or set `release.cargo-release = false`") from None


def git_top(start: Path) -> Path | None:
    """The repository's top directory (holding ``.git``), found without running git."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


# ---------------------------------------------------------------------------
# Each crate's effective values


@dataclass(frozen=True)
class Value:
    value: Any
    source: Source
    key: str

    @property
    def where(self) -> str:
        return self.source.where(self.key)


def _check(source: Source, key: str, value: Any) -> None:
    """A value of the type cargo-release expects, else a located ConfigError."""
    expected = KEYS[key]
    ok = {
        _BOOL: isinstance(value, bool),
        _STR: isinstance(value, str),
        _LIST: isinstance(value, list),
        _TABLE: isinstance(value, Mapping),
        "a boolean or a string": isinstance(value, (bool, str)),
        "a string or an array": isinstance(value, (str, list)),
    }.get(expected, True)
    if not ok:
        raise ConfigError(f"{source.where(key)}: cargo-release `{key}` must be {expected}, got "
                          f"{type(value).__name__} {value!r}"[:300],
                          "see cargo-release's reference (docs/reference.md), or remove the key")
    choices = {"dependent-version": DEPENDENT_VERSIONS, "metadata": METADATA_POLICIES}.get(key)
    if choices and value not in choices:
        raise ConfigError(f"{source.where(key)}: cargo-release `{key}` = {value!r} must be one of "
                          f"{', '.join(choices)}", "see cargo-release's reference (docs/reference.md)")
    if key == "allow-branch" and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source.where(key)}: cargo-release `allow-branch` must be an array of strings",
                          'write it as allow-branch = ["main"]')
    if key == "shared-version" and isinstance(value, str) and not value.strip():
        raise ConfigError(f"{source.where(key)}: cargo-release `shared-version` names an empty group",
                          "give the group a name, or write shared-version = true")


def effective(sources: Sequence[Source], crate: str | None) -> dict[str, Value]:
    """The values ``crate`` (None: the workspace) sees: later sources win."""
    result: dict[str, Value] = {}
    for source in sources:
        if source.crate is not None and source.crate != crate:
            continue
        for key, value in source.values.items():
            result[key] = Value(value, source, key)
    return result


@dataclass(frozen=True)
class CrateRelease:
    """What cargo-release would do with one member."""

    name: str
    release: bool
    group: str | None  # shared-version group
    tag: bool
    template: str | None  # the tag template in this tool's syntax; None: not translatable
    template_from: Value | None  # where tag-name / tag-prefix was set (None: defaults)
    publish: bool = True  # False: `publish = false` / `disable-publish = true` (versioned and tagged, not uploaded)


def translate_tag(name: str, prefix: str) -> tuple[str | None, tuple[str, ...]]:
    """cargo-release's ``tag-name`` with ``tag-prefix`` -> ``{crate}``/``{version}`` template, and the
    placeholders it cannot translate (then None)."""
    rendered = name.replace("{{prefix}}", prefix)
    unknown = tuple(p for p in _PLACEHOLDER.findall(rendered) if p not in ("crate_name", "version"))
    if unknown:
        return None, unknown
    text = _PLACEHOLDER.sub(lambda m: "{crate}" if m.group(1) == "crate_name" else "{version}", rendered)
    return text, ()


def crate_releases(ws: Workspace, sources: Sequence[Source], top: Path | None) -> dict[str, CrateRelease]:
    result = {}
    for package in ws.members:
        values = effective(sources, package.name)
        for value in values.values():
            if value.key in KEYS:
                _check(value.source, value.key, value.value)
        release = values["release"].value if "release" in values else True
        shared = values["shared-version"].value if "shared-version" in values else False
        group = ("default" if shared is True else shared) if shared else None
        tag = values["tag"].value if "tag" in values else True
        if "disable-tag" in values and values["disable-tag"].value:
            tag = False
        is_root = top is not None and package.directory == top
        prefix = values["tag-prefix"].value if "tag-prefix" in values else ("" if is_root else "{{crate_name}}-")
        name = values["tag-name"].value if "tag-name" in values else DEFAULT_TAG_NAME
        template, _unknown = translate_tag(name, prefix)
        origin = values.get("tag-name") or values.get("tag-prefix")
        if template is not None and "{version}" not in template:
            where = origin.where if origin is not None else str(ws.manifest_path)
            raise ConfigError(f"{where}: cargo-release tag of `{package.name}` ({name!r} with prefix {prefix!r}) "
                              "has no `{{version}}`: every release would make the same tag",
                              'put {{version}} in `tag-name`, e.g. tag-name = "{{prefix}}v{{version}}"')
        if template is not None:
            for version in EXAMPLE_VERSIONS:
                example = template.replace("{version}", version).replace("{crate}", package.name)
                problem = ref_format_problem(example)
                if problem:
                    where = origin.where if origin is not None else str(ws.manifest_path)
                    raise ConfigError(f"{where}: cargo-release tag of `{package.name}` ({name!r} with prefix "
                                      f"{prefix!r}) makes tags git refuses: e.g. {example!r}: {problem}",
                                      "change `tag-name` / `tag-prefix` so the tag is a valid git ref name")
        publish = values["publish"].value if "publish" in values else True
        if "disable-publish" in values and values["disable-publish"].value:
            publish = False
        result[package.name] = CrateRelease(package.name, release, group, tag, template, origin, publish is not False)
    return result


# ---------------------------------------------------------------------------
# Adoption into this tool's settings


@dataclass(frozen=True)
class Adopted:
    settings: ReleaseSettings
    lines: tuple[str, ...] = ()  # to print on stderr: what was adopted, then the warnings
    # ("release", key) -> where it was read: `cargo-release release.toml:2:1` (for `pipeline config`)
    origins: Mapping[tuple[str | int, ...], str] = dataclasses.field(default_factory=dict)


def _names(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _translate_message(text: str, ours: Mapping[str, str]) -> str | None:
    """A cargo-release message template in this tool's placeholders; None when one has no counterpart."""
    found = _PLACEHOLDER.findall(text)
    if any(p not in ours for p in found):
        return None
    return _PLACEHOLDER.sub(lambda m: ours[m.group(1)], text)


def _check_names(ws: Workspace, settings: ReleaseSettings, manifest_text: str) -> None:
    """This tool's own crate-naming keys name members (located errors)."""
    from pipeline.workspace.manifest import locate_key_in

    known = set(ws.names)
    named = [("shared-tag-crates", c) for c in settings.shared_tag_crates]
    named += [("skip-crates", c) for c in settings.skip_crates]
    named += [("never-publish", c) for c in settings.never_publish]
    named += [("version-groups", c) for crates in settings.version_groups.values() for c in crates]
    for key, crate in named:
        if crate not in known:
            raise ConfigError(f"{locate_key_in(ws.manifest_path, manifest_text, key)}: `release.{key}` names "
                              f"`{crate}`, which is no member", f"members are: {_names(sorted(known), 12)}")
    for group, crates in settings.version_groups.items():
        inheriting = [c for c in crates if ws.package(c).version_inherited and ws.version is not None]
        if inheriting:
            raise ConfigError(f"{locate_key_in(ws.manifest_path, manifest_text, 'version-groups')}: "
                              f"`release.version-groups` {group!r} has {', '.join(inheriting)}, which inherit "
                              "[workspace.package] version: they move together already",
                              "list only crates with a version of their own")


def adopt(ws: Workspace, settings: ReleaseSettings, raw: Mapping[str, Any]) -> Adopted:
    """``settings`` with cargo-release's configuration filling the keys ``raw`` (this tool's
    ``[workspace.metadata.pipeline.release]`` table as written) leaves unset."""
    manifest_text = _read(ws.manifest_path)
    _check_names(ws, settings, manifest_text)
    if not settings.cargo_release:
        return Adopted(settings)
    sources = read_sources(ws)
    if not sources:
        return Adopted(settings)
    return adopt_sources(ws, settings, raw, sources, git_top(ws.root))


def adopt_sources(ws: Workspace, settings: ReleaseSettings, raw: Mapping[str, Any], sources: Sequence[Source],
                  top: Path | None) -> Adopted:
    crates = crate_releases(ws, sources, top)
    workspace = effective(sources, None)
    for value in workspace.values():
        if value.key in KEYS:
            _check(value.source, value.key, value.value)
    changes: dict[str, Any] = {}
    origins: dict[str, Value] = {}  # this tool's key -> the cargo-release value it came from
    adopted: list[str] = []
    warnings: list[str] = []

    def warn(text: str, hint: str) -> None:
        warnings.append(f"release: warning: {text}; hint: {hint}")

    released = [c for c in crates.values() if c.release]
    # Crates never released.
    skipped = [c.name for c in crates.values() if not c.release]
    kept: list[str] = []  # this tool's keys set beside a cargo-release counterpart: theirs is not read
    if skipped and "skip-crates" in raw:
        kept.append("skip-crates")
    if skipped and "skip-crates" not in raw:
        changes["skip_crates"] = tuple(skipped)
        adopted.append(f"not released: {_names(skipped)}")
    skip = set(changes.get("skip_crates", settings.skip_crates))
    # Crates released (versioned, tagged) but never uploaded.
    held = [c.name for c in released if not c.publish and c.name not in skip]
    if held and "never-publish" in raw:
        kept.append("never-publish")
    if held and "never-publish" not in raw:
        changes["never_publish"] = tuple(held)
        adopted.append(f"never published: {_names(held)}")
    # Version groups.
    groups: dict[str, list[str]] = {}
    for crate in released:
        if crate.group is not None and crate.name not in skip:
            groups.setdefault(crate.group, []).append(crate.name)
    inheriting = {p.name for p in ws.members if p.version_inherited and ws.version is not None}
    groups = {g: [c for c in names if c not in inheriting] for g, names in groups.items()}
    groups = {g: names for g, names in groups.items() if len(names) > 1}
    if groups and "version-groups" in raw:
        kept.append("version-groups")
    if groups and "version-groups" not in raw:
        changes["version_groups"] = {g: tuple(names) for g, names in groups.items()}
        adopted.append("released together: " + "; ".join(f"{_names(n)}" + ("" if g == "default" else f" ({g!r})")
                                                          for g, n in groups.items()))
    # Tag templates.
    tag_keys = ("shared-tag", "crate-tag", "primary-crate", "shared-tag-crates", "crate-tags")
    tagged = [c for c in released if c.name not in skip and c.tag]
    # `tag = false` in a version group whose tagged members share a tag without the crate name
    # (`v{version}`): that one tag marks the untagged crate's release too (same version, one tag).
    shared_tag_of: dict[str, str] = {}
    for crate in tagged:
        if crate.group is not None and crate.template is not None and "{crate}" not in crate.template:
            shared_tag_of.setdefault(crate.group, crate.template)
    borrowed = [dataclasses.replace(c, tag=True, template=shared_tag_of[c.group]) for c in released
                if not c.tag and c.name not in skip and c.group in shared_tag_of]
    tagged += borrowed
    untranslatable = [c for c in tagged if c.template is None]
    for crate in untranslatable:
        origin = crate.template_from
        name = origin.value if origin is not None else DEFAULT_TAG_NAME
        unknown = translate_tag(str(name), "")[1]
        warn(f"cargo-release tag of `{crate.name}` ({origin.where if origin else 'default'}) uses "
             f"{', '.join('{{' + u + '}}' for u in unknown)}, which this tool has no counterpart for",
             "set `release.shared-tag` / `release.crate-tag` in [workspace.metadata.pipeline.release] (templates "
             "with `{crate}` and `{version}`)")
    kept += [k for k in tag_keys if k in raw]
    if not any(k in raw for k in tag_keys):
        crate_tags: dict[str, str] = {}
        shared = Counter(c.template for c in tagged if c.template is not None and "{crate}" not in c.template)
        own = Counter(c.template for c in tagged if c.template is not None and "{crate}" in c.template)
        parts = []
        if shared:
            template = shared.most_common(1)[0][0]
            owners = [c.name for c in tagged if c.template == template and c.name not in inheriting]
            changes["shared_tag"] = template
            changes["shared_tag_crates"] = tuple(owners)
            parts.append(f'"{template}" for {_names(owners) or "the shared version"}')
            for other in shared:
                if other != template:
                    for crate in (c for c in tagged if c.template == other):
                        crate_tags[crate.name] = other
        if own:
            template = own.most_common(1)[0][0]
            changes["crate_tag"] = template
            parts.append(f'"{template}" for ' + ("the others" if shared else "each crate"))
            for other in own:
                if other != template:
                    for crate in (c for c in tagged if c.template == other):
                        crate_tags[crate.name] = other
        own_inheriting = [c.name for c in tagged if c.name in inheriting and c.template and "{crate}" in c.template]
        if own_inheriting:
            warn(f"cargo-release tags {_names(own_inheriting)} with their crate name, but they inherit "
                 "[workspace.package] version: this tool tags the shared version once, "
                 f"`{changes.get('shared_tag', settings.shared_tag)}`",
                 "set `release.shared-tag` to the tag the shared version should get")
        if crate_tags and "crate-tags" not in raw:
            changes["crate_tags"] = crate_tags
            parts.append(", ".join(f'"{t}" for {c}' for c, t in list(crate_tags.items())[:4])
                         + (f" and {len(crate_tags) - 4} more of their own" if len(crate_tags) > 4 else ""))
        if parts:
            adopted.append("tags " + " and ".join(parts))
            if "infer-tags" not in raw:
                changes["infer_tags"] = False  # cargo-release's templates say which tag is whose
    untagged = [c.name for c in released if not c.tag and c.name not in skip and c.group not in shared_tag_of]
    if borrowed:
        adopted.append(f"untagged {_names([c.name for c in borrowed])} released under their group's tag")
    if untagged:
        warn(f"cargo-release `tag = false` for {_names(untagged)} is not followed: this tool tags every release",
             "delete the tags after the release, or set `release = false` for crates that are never released")
    # Workspace-level keys with a counterpart here.
    simple = {"allow-branch": "allowed-branches", "sign-tag": "sign-tags", "push-remote": "push-remote",
              "registry": "publish-registry"}
    for theirs, ours in simple.items():
        if theirs not in workspace or ours in raw:
            if theirs in workspace:
                kept.append(ours)
            continue
        given: Any = workspace[theirs].value
        if theirs == "allow-branch":
            allowed = [b for b in given if not b.startswith("!")]
            negated = [b for b in given if b.startswith("!") and b != "!HEAD"]
            if negated:
                warn(f"cargo-release `allow-branch` excludes {', '.join(negated)} ({workspace[theirs].where}): "
                     "this tool has no exclusions", "set `release.allowed-branches` to the branches to allow")
            given = tuple(allowed) if allowed != ["*"] else ()
        changes[ours.replace("-", "_")] = given
        origins[ours] = workspace[theirs]
        shown = (", ".join(given) or "any") if isinstance(given, tuple) else str(given).lower() if isinstance(
            given, bool) else given
        adopted.append(f"{ours} {shown}")
    if "changelog-crates" not in raw and settings.changelog:
        # A crate whose replacements edit the root changelog owns it (typos-cli's `../../CHANGELOG.md`).
        root_changelog = os.path.normpath(os.path.join(str(ws.root), settings.changelog))
        owning = []
        for crate in released:
            replacements = effective(sources, crate.name).get("pre-release-replacements")
            directory = str(ws.package(crate.name).directory)
            for item in replacements.value if replacements is not None else ():
                file = item.get("file") if isinstance(item, Mapping) else None
                if isinstance(file, str) and os.path.normpath(os.path.join(directory, file)) == root_changelog:
                    owning.append(crate.name)
                    break
        if owning:
            changes["changelog_crates"] = tuple(owning)
            adopted.append(f"{settings.changelog} belongs to {_names(owning)}")
    if "fix-requirements" not in raw:
        fixing = []
        for crate in released:
            policy = effective(sources, crate.name).get("dependent-version")
            if policy is not None and policy.value == "fix":
                fixing.append(crate.name)
        if fixing:
            changes["fix_requirements"] = tuple(fixing)
            everyone = len(fixing) == len(released)
            adopted.append("requirements rewritten only when broken (`fix`) on "
                           + ("every crate" if everyone else _names(fixing)))
    if "metadata" in workspace and "keep-build-metadata" not in raw:
        keep = workspace["metadata"].value == "persistent"
        if keep:
            changes["keep_build_metadata"] = True
            adopted.append("build metadata kept")
    has_commit = "pre-release-commit-message" in workspace
    kept += [ours for theirs, ours in (("pre-release-commit-message", "commit-message"),
                                       ("tag-message", "tag-message")) if theirs in workspace and ours in raw]
    if "commit-message" not in raw:
        text = workspace["pre-release-commit-message"].value if has_commit else DEFAULT_MESSAGE
        message = _translate_message(text, {"version": "{version}"})
        if message is None:
            warn(f"cargo-release `pre-release-commit-message` = {text!r} "
                 f"({workspace['pre-release-commit-message'].where}) has placeholders this tool does not fill",
                 "set `release.commit-message` (`{summary}` is the list of tags, `{version}` the shared version)")
        else:
            changes["commit_message"] = message
            if has_commit:
                origins["commit-message"] = workspace["pre-release-commit-message"]
            adopted.append(f'commit message "{message}"')
    if "tag-message" not in raw:
        text = workspace["tag-message"].value if "tag-message" in workspace else DEFAULT_MESSAGE
        message = _translate_message(text, {"version": "{version}", "tag_name": "{tag}"})
        if message is None:
            warn(f"cargo-release `tag-message` = {text!r} ({workspace['tag-message'].where}) has placeholders this "
                 "tool does not fill", "set `release.tag-message` (`{tag}` and `{version}` are replaced)")
        else:
            changes["tag_message"] = message
            if "tag-message" in workspace:
                origins["tag-message"] = workspace["tag-message"]
    # Keys that would make cargo-release do something this tool does not.
    _unsupported(crates, sources, warn)
    try:
        result = dataclasses.replace(settings, **changes)
    except ValueError as exc:
        named = [origins[k] for k in re.findall(r"`([\w-]+)`", str(exc)) if k in origins]
        where = f"{named[0].where}: cargo-release `{named[0].key}`" if named else f"{sources[0].file}: cargo-release"
        raise ConfigError(f"{where} does not fit this tool: {exc}",
                          "set the release keys in [workspace.metadata.pipeline.release], or set "
                          "`release.cargo-release = false`") from None
    files = list(dict.fromkeys(_rel(s.file, ws.root) for s in sources if s.crate is None))
    crate_files = {s.file for s in sources if s.crate is not None}
    if crate_files:
        files.append(f"{len(crate_files)} crate file{'' if len(crate_files) == 1 else 's'}")
    lines = []
    if kept:
        adopted.append("[workspace.metadata.pipeline.release] kept for " + ", ".join(f"`{k}`" for k in kept))
    if adopted:
        lines.append(f"release: cargo-release settings adopted ({', '.join(files)}): " + "; ".join(adopted))
    located = {k: f"cargo-release {_rel(Path(v.where), ws.root)}" for k, v in origins.items()}
    everywhere = f"cargo-release ({', '.join(files)})"
    keys: dict[tuple[str | int, ...], str] = {
        ("release", f.replace("_", "-")): located.get(f.replace("_", "-"), everywhere) for f in changes}
    return Adopted(result, (*lines, *dict.fromkeys(warnings)), keys)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _unsupported(crates: Mapping[str, CrateRelease], sources: Sequence[Source], warn: Any) -> None:
    seen: dict[str, list[Value]] = {}
    for source in sources:
        for key, value in source.values.items():
            seen.setdefault(key, []).append(Value(value, source, key))
    for key, values in seen.items():
        first = values[0]
        where = first.where
        if key not in KEYS:
            warn(f"`{key}` ({where}) is no cargo-release key this tool knows, and is not followed",
                 "check the spelling against cargo-release's reference; this tool reads only the keys it documents")
            continue
        if key in _NO_EFFECT:
            continue
        live = [v for v in values if v.source.crate is None or crates.get(v.source.crate, None) is None
                or crates[v.source.crate].release]
        if not live:
            continue
        value = live[-1].value
        if key == "pre-release-replacements":
            files = sorted({str(r.get("file")) for v in live for r in v.value if isinstance(r, Mapping)
                            and not str(r.get("file", "")).endswith("CHANGELOG.md")})
            if files:
                warn(f"cargo-release `pre-release-replacements` ({where}) edit {', '.join(files)} in the release "
                     "commit; this tool does not (it writes the CHANGELOG.md sections itself)",
                     "edit those files before releasing, or run the replacements in a `release` gate")
        elif key in ("pre-release-hook", "post-release-hook"):
            warn(f"cargo-release `{key}` ({where}) is not run by this tool",
                 "run it before the release, or make it a stage listed in `release.gates`")
        elif key == "owners" and any(v.value for v in live):
            warn(f"cargo-release `owners` ({where}) are not set on the crates by this tool",
                 "run `cargo owner --add` once for new crates")
        elif key == "dependent-version" and any(v.value not in ("upgrade", "fix") for v in live):
            kinds = sorted({v.value for v in live if v.value not in ("upgrade", "fix")})
            warn(f"cargo-release `dependent-version = \"{kinds[0]}\"` ({where}) is not followed: this tool updates "
                 "the requirements on a moved crate (as `upgrade`, or `fix` where set)",
                 "check the rewritten requirements in the plan before --execute")
        elif key == "consolidate-commits" and value is False:
            warn(f"cargo-release `consolidate-commits = false` ({where}) is not followed: this tool makes one "
                 "release commit", "nothing to do unless one commit per crate is required")
        elif key == "sign-commit" and value is True:
            warn(f"cargo-release `sign-commit = true` ({where}) is not followed: the release commit is not signed",
                 "set git's `commit.gpgSign = true` to sign it")
        elif key == "metadata" and value == "required":
            warn(f"cargo-release `metadata = \"required\"` ({where}) is not followed: a level gives a version "
                 "without build metadata", "give the version with its metadata explicitly "
                 "(`pipeline release 1.2.3+meta --crate NAME`)")
        elif key in ("verify", "enable-features", "enable-all-features", "target") and value not in (True, [], None):
            if key == "verify" and value is True:
                continue
            warn(f"cargo-release `{key}` ({where}) is not passed to `cargo publish` by `release --publish`",
                 "publish those crates with `cargo publish` by hand")
        elif key == "push-options" and value:
            warn(f"cargo-release `push-options` ({where}) are not passed to `git push` by `release --push`",
                 "push by hand with the options")
        elif key in ("dev-version", "dev-version-ext", "post-release-replacements", "post-release-commit-message",
                     "no-dev-version"):
            if value in (False, [], "") or (key == "no-dev-version" and value is True):
                continue
            warn(f"cargo-release `{key}` ({where}) is not followed by this tool (no post-release commit)",
                 "remove it (recent cargo-release versions dropped it too)")
