"""Release tag schemes: parse tags, infer the scheme a project uses, find each crate's last tag.

Pure: tag names, crate names and versions in; answers out. The schemes real
workspaces use are ``{version}`` (bare ``0.11.0``), ``v{version}``,
``{crate}-v{version}``, ``{crate}-{version}`` and ``{crate}@{version}``; a
project may mix one template without ``{crate}`` (the shared version, or its
primary crate: clap tags ``v4.6.6`` and ``clap_lex-v1.1.0``) with one with it.

Crate names may contain ``-`` and digits (``tracing-subscriber-0.3.23``), so a
template with ``{crate}`` is matched against the known crate names, longest
first, never by a lazy wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.workspace.cargo_semver import SemverError, Version

# Templates tried when nothing is configured, in order of preference on a tie.
SHARED_CANDIDATES = ("v{version}", "{version}")
CRATE_CANDIDATES = ("{crate}-v{version}", "{crate}-{version}", "{crate}@{version}", "{crate}/v{version}")

_VERSION_RE = r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"


def compile_template(template: str, prefix: str = "", crates: Iterable[str] | None = None) -> re.Pattern[str]:
    """A regex for ``prefix + template``: group ``version``, and group ``crate`` when the template has it.

    ``crates``: the names ``{crate}`` may stand for (longest first, so ``tracing-subscriber``
    wins over ``tracing``); None matches any non-empty name (lazily, for display only).
    """
    names = sorted(set(crates), key=lambda n: (-len(n), n)) if crates is not None else None
    pattern = ""
    for piece in re.split(r"(\{version\}|\{crate\})", prefix + template):
        if piece == "{version}":
            pattern += _VERSION_RE
        elif piece == "{crate}":
            if names is None:
                pattern += r"(?P<crate>.+?)"
            elif names:
                pattern += "(?P<crate>" + "|".join(re.escape(n) for n in names) + ")"
            else:
                pattern += "(?P<crate>(?!))"  # no crate can match
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$")


def render(template: str, version: object, crate: str | None = None, prefix: str = "") -> str:
    return prefix + template.replace("{version}", str(version)).replace("{crate}", crate or "")


@dataclass(frozen=True)
class ParsedTag:
    tag: str
    version: Version
    crate: str | None  # None: a template without {crate}


def parse_tags(
    tags: Sequence[str], template: str, crates: Iterable[str], prefix: str = ""
) -> list[ParsedTag]:
    """The tags ``template`` made, in the order given (newest first from git), versions parsed."""
    pattern = compile_template(template, prefix, crates)
    found = []
    for tag in tags:
        match = pattern.match(tag)
        if match is None:
            continue
        try:
            version = Version.parse(match.group("version"))
        except SemverError:
            continue
        found.append(ParsedTag(tag, version, match.groupdict().get("crate")))
    return found


@dataclass(frozen=True)
class Scheme:
    """How a workspace names its release tags."""

    shared: str | None  # template without {crate}: the shared version / primary crates
    crate: str | None  # template with {crate}: crates with their own version
    prefix: str = ""
    shared_crates: tuple[str, ...] = ()  # crates the shared template tags (inheritors, primary crates)
    inferred: bool = False
    summary: str = ""  # the line printed when inferred
    own: Mapping[str, str] = field(default_factory=dict)  # crate -> a template of its own (`crate-tags`)

    def template_of(self, crate: str) -> str | None:
        """The template ``crate``'s tags are made from (None: no template tags it)."""
        if crate in self.own:
            return self.own[crate]
        if crate in self.shared_crates and self.shared is not None:
            return self.shared
        return self.crate

    def tag_for(self, crate: str, version: object) -> str | None:
        if crate in self.own:
            return render(self.own[crate], version, crate, self.prefix)
        if crate in self.shared_crates and self.shared is not None:
            return render(self.shared, version, None, self.prefix)
        if self.crate is not None:
            return render(self.crate, version, crate, self.prefix)
        return None


def _released(parsed: Sequence[ParsedTag], versions: Mapping[str, Version], owners: Sequence[str]) -> int:
    """How many tags carry a version the crates they name have reached (a released version)."""
    count = 0
    for item in parsed:
        names = [item.crate] if item.crate is not None else owners
        if any(n in versions and item.version <= versions[n] for n in names):
            count += 1
    return count


def shared_owners(
    versions: Mapping[str, Version], inheriting: Sequence[str], primary: Sequence[str],
    shared_versions: Iterable[Version],
) -> tuple[str, ...]:
    """The crates a template without {crate} tags: those inheriting the shared version and the
    configured primary crates; else the crates whose version one of those tags carries (serde
    tags `v1.0.228` for serde, serde_core and serde_derive, all at 1.0.228; clap's `v4.6.4` is
    clap_derive's last release)."""
    owners = list(dict.fromkeys([*inheriting, *primary]))
    if owners:
        return tuple(owners)
    tagged = set(shared_versions)
    return tuple(n for n, v in versions.items() if v in tagged)


def infer(
    tags: Sequence[str],
    versions: Mapping[str, Version],
    *,
    inheriting: Sequence[str] = (),
    primary: Sequence[str] = (),
    prefix: str = "",
    shared: str | None = None,
    crate: str | None = None,
) -> Scheme:
    """The scheme the existing ``tags`` (newest first) follow; configured templates are kept.

    A candidate counts the tags that carry a version one of its crates has reached (the
    versions in the manifests are the released ones, or one step ahead of them). The best
    shared and the best per-crate candidate are both kept when each has tags: a mix is common.
    """
    names = list(versions)
    best_crate: tuple[int, str, list[ParsedTag]] | None = None
    for candidate in ([crate] if crate else CRATE_CANDIDATES):
        parsed = parse_tags(tags, candidate, names, prefix)
        score = _released(parsed, versions, names)
        if crate or (score and (best_crate is None or score > best_crate[0])):
            best_crate = (score, candidate, parsed)
    own_tags = {p.crate for p in best_crate[2]} if best_crate else set()
    best_shared: tuple[int, str, list[ParsedTag], tuple[str, ...]] | None = None
    for candidate in ([shared] if shared else SHARED_CANDIDATES):
        parsed = parse_tags(tags, candidate, names, prefix)
        # Crates tagged under their own name are not the shared template's.
        unowned = {n: v for n, v in versions.items() if n not in own_tags}
        owners = shared_owners(unowned, inheriting, primary, (p.version for p in parsed))
        score = _released(parsed, versions, owners)
        if shared or (score and (best_shared is None or score > best_shared[0])):
            best_shared = (score, candidate, parsed, owners)
    if best_shared is None and best_crate is None:
        return Scheme(None, None, prefix, tuple(inheriting), inferred=True)
    parts = []
    for found in (best_shared, best_crate):
        if found is not None and found[2]:
            parts.append(f'"{prefix}{found[1]}" ({len(found[2])} tags, newest {found[2][0].tag})')
    owners = best_shared[3] if best_shared else tuple(inheriting)
    summary = ""
    if parts:
        summary = "release: tags look like " + " and ".join(parts)
        if best_shared is not None and best_shared[2] and owners and best_crate is not None and best_crate[2]:
            shown = ", ".join(owners[:4]) + (f" and {len(owners) - 4} more" if len(owners) > 4 else "")
            summary += f" ({best_shared[1]!r} for {shown})"
    return Scheme(
        best_shared[1] if best_shared else None,
        best_crate[1] if best_crate else None,
        prefix,
        owners,
        inferred=not (shared and crate),
        summary=summary,
    )


@dataclass(frozen=True)
class LastTags:
    """Each crate's last release tag (None: never tagged) and, for the untagged, the nearest tags."""

    tags: Mapping[str, str | None]
    nearest: Mapping[str, tuple[str, ...]]

    def untagged(self) -> tuple[str, ...]:
        return tuple(n for n, t in self.tags.items() if t is None)


def last_tags(tags: Sequence[str], versions: Mapping[str, Version], scheme: Scheme) -> LastTags:
    """Each crate's newest tag of its own, at or below the version in its manifest.

    ``tags`` are the ones reachable from HEAD. A crate's history starts at its own tag, never
    at another crate's (independent versions); a manifest one step ahead of its last tag (the
    bump was committed, the release not) still finds that tag.
    """
    names = list(versions)
    per_crate: dict[str, list[ParsedTag]] = {n: [] for n in names}
    if scheme.shared is not None:
        for item in parse_tags(tags, scheme.shared, names, scheme.prefix):
            for name in scheme.shared_crates:
                if name in per_crate:
                    per_crate[name].append(item)
    if scheme.crate is not None:
        for item in parse_tags(tags, scheme.crate, names, scheme.prefix):
            if item.crate in per_crate and item.crate not in scheme.shared_crates and item.crate not in scheme.own:
                per_crate[item.crate].append(item)
    for crate, template in scheme.own.items():
        if crate in per_crate:
            # A template of its own: only its tags are the crate's (`{crate}` matches its name alone).
            per_crate[crate] = [ParsedTag(p.tag, p.version, crate) for p in parse_tags(tags, template, [crate],
                                                                                        scheme.prefix)]
    result: dict[str, str | None] = {}
    nearest: dict[str, tuple[str, ...]] = {}
    for name in names:
        eligible = [p for p in per_crate[name] if p.version <= versions[name]]
        if eligible:
            result[name] = max(eligible, key=lambda p: p.version).tag
            continue
        result[name] = None
        nearest[name] = nearest_tags(tags, name, versions[name])
    return LastTags(result, nearest)


def nearest_tags(tags: Sequence[str], crate: str, version: Version, limit: int = 3) -> tuple[str, ...]:
    """Tags that look like releases of ``crate``: named after it, else carrying its version,
    else the newest version-like tags."""
    own = re.compile(re.escape(crate) + r"[-_@/]?v?\d")
    text, short = str(version), f"{version.major}.{version.minor}."
    tiers: list[list[str]] = [[], [], []]
    for tag in tags:
        if own.match(tag):
            tiers[0].append(tag)
        elif text in tag or short in tag:
            tiers[1].append(tag)
        elif re.search(r"\d+\.\d+\.\d+", tag):
            tiers[2].append(tag)
    return tuple([*tiers[0], *tiers[1], *tiers[2]][:limit])
