"""Configuration of the release flow (`[workspace.metadata.pipeline.release]`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation.config import setting
from pipeline.foundation.git import ref_format_problem
from pipeline.stages import registry

DEFAULT_BRANCHES = ("main", "master", "release/*")  # `allowed-branches` left unset

# How `cross` may build a target: plain cargo (a linker configured for it), cargo-zigbuild, or cross (docker).
CROSS_TOOLS = ("cargo", "zigbuild", "cross")

# Versions a release may make, to render the tag templates with when the configuration is read.
EXAMPLE_VERSIONS = ("0.5.0", "1.0.0-rc.1", "2.0.0+build.7")


@dataclass(frozen=True)
class ReleaseSettings:
    """Keys of this section; each is documented in the README."""

    shared_tag: str = setting(
        "v{version}", doc="tag for the shared workspace version and the primary crates; `{version}` is replaced "
        "(prefix added in front). Left at both defaults, the scheme is inferred from the existing tags "
        "(`{version}`, `v{version}`, `{crate}-v{version}`, `{crate}-{version}`, `{crate}@{version}`)"
    )
    crate_tag: str = setting(
        "{crate}-v{version}", doc="tag for a crate with its own version; `{crate}` and `{version}` are replaced"
    )
    infer_tags: bool = setting(
        True, doc="with `shared-tag` and `crate-tag` at their defaults, follow the scheme the existing tags show; "
        "false: use the templates as they are (set false when cargo-release's tag names are adopted)"
    )
    primary_crate: str = setting(
        "", doc="a crate with its own version whose releases are tagged with `shared-tag` (no `{crate}`), "
        "e.g. `clap` tagged `v4.6.6` beside `clap_lex-v1.1.0`"
    )
    shared_tag_crates: tuple[str, ...] = setting(
        factory=tuple, doc="crates with their own version tagged with `shared-tag` (no `{crate}`), like "
        "`primary-crate` but several: clap tags `clap`, `clap_builder` and `clap_derive` `v4.6.7`; read from "
        "cargo-release's `tag-name` / `tag-prefix` when not set"
    )
    crate_tags: Mapping[str, str] = setting(
        factory=dict, doc="a tag template of its own for a crate, over `shared-tag` / `crate-tag`, e.g. "
        "`{ lib = \"lib-release-{version}\" }` (`{version}` and `{crate}` are replaced, `tag-prefix` in front); read "
        "from cargo-release's `tag-name` / `tag-prefix` when a crate's is neither of the two"
    )
    version_groups: Mapping[str, tuple[str, ...]] = setting(
        factory=dict, doc="crates with their own versions released together at one version: when one moves, all "
        "move to the highest of their new versions, e.g. `{ clap = [\"clap\", \"clap_builder\", \"clap_derive\"] }` "
        "(cargo-release's `shared-version`, read from it when not set)"
    )
    skip_crates: tuple[str, ...] = setting(
        factory=tuple, doc="members never released: they keep their version and get no tag and no changelog "
        "section; their requirements on moved crates are still updated (cargo-release's `release = false`, read "
        "from it when not set)"
    )
    never_publish: tuple[str, ...] = setting(
        factory=tuple, doc="members `release --publish` never uploads: they are still versioned, tagged and listed, "
        "and a crate published that depends on one needs the registry to have a version it accepts "
        "(cargo-release's `publish = false`, read from it when not set)"
    )
    changelog_crates: tuple[str, ...] = setting(
        factory=tuple, doc="the crates the root changelog belongs to (typos' root `CHANGELOG.md` is `typos-cli`'s): "
        "set, the root file gets only their sections (and their version groups'), titled by their version, and a "
        "crate with no `CHANGELOG.md` of its own gets none; read from cargo-release's `pre-release-replacements` "
        "when not set"
    )
    fix_requirements: tuple[str, ...] = setting(
        factory=tuple, doc="crates whose dependents' requirements are rewritten only when they no longer accept the "
        "new version (`\"1.0\"` stays for 1.0.1; an exact `=1.0.0` moves); the others' always follow it "
        "(cargo-release's `dependent-version = \"fix\"` / `\"upgrade\"`, read from it when not set)"
    )
    keep_build_metadata: bool = setting(
        False, doc="a level keeps the version's build metadata (`1.1.4+spec-1.1.0` -> `1.1.5+spec-1.1.0`); tags "
        "and changelog headings leave it out (`toml-v1.1.5`) (cargo-release's `metadata = \"persistent\"`, read "
        "from it when not set)"
    )
    cargo_release: bool = setting(
        True, doc="read cargo-release's configuration (`release.toml` / `.release.toml`, "
        "`[workspace.metadata.release]`, `[package.metadata.release]`) for the release keys not set here; the "
        "settings adopted are printed, the ones this tool does not follow are warned about"
    )
    extra_crates: tuple[str, ...] = setting(
        factory=tuple, doc="crates outside the members (paths relative to the workspace root, or names) on the "
        "workspace's version line, released with it: an `exclude`d kernels crate, an example with its own manifest"
    )
    unpublished: str = setting(
        "skip", doc="`publish = false` crates: `skip` (keep their version, update their requirements), `bump` "
        "(move them, no tag) or `release` (move and tag them)"
    )
    tag_prefix: str = setting(
        "", doc="text put in front of every tag, e.g. `prism4d-` so a workspace's tags never collide with others"
    )
    tag_message: str = setting(
        "Release {tag}", doc="message of each annotated tag; `{tag}` and `{version}` are replaced"
    )
    commit_message: str = setting(
        "chore(release): {summary}",
        doc="release commit message; `{summary}` is the list of tags (`v0.5.0, prism-io-v1.3.0`; more than five: "
        "the first three and a count, every tag in the commit's body), "
        "`{version}` the shared version",
    )
    allowed_branches: tuple[str, ...] = setting(
        factory=lambda: DEFAULT_BRANCHES,
        doc="branches (fnmatch patterns) a release may be made from; empty allows any branch; left at this "
        "default, the remote's default branch (`origin/HEAD`, wgpu's `trunk`) is allowed too",
    )
    changelog: str = setting("CHANGELOG.md", doc="changelog file, relative to the workspace root; empty disables it")
    repository_url: str = setting(
        "", doc="e.g. `https://github.com/org/repo`: adds compare links to the changelog when set"
    )
    gates: tuple[str, ...] = setting(
        factory=registry.gates,
        doc="stages that must pass before a release is written (skipped by `--no-verify`); a gate whose tool "
        "or data is missing is skipped when optional, failed when required (see the gates table)",
    )
    require_gates: bool = setting(
        False, doc="every gate is required: a missing tool or database fails the release (`--require-gates`)"
    )
    push_remote: str = setting("origin", doc="remote that `--push` pushes the release commit and tags to")
    artifacts: bool = setting(True, doc="build binaries and write `dist/` (tarballs, SHA256SUMS, manifest.json)")
    dist_dir: str = setting("dist", doc="artifact directory, relative to the workspace root")
    project_name: str = setting(
        "", doc="name of the CUDA outputs tarball (`<name>-cuda-<version>-<commit>.tar.gz`); default: the root "
        "directory's name"
    )
    sign_tags: bool = setting(
        False, doc="sign the release tags (`git tag -s`: GPG, or SSH with `gpg.format = ssh`); git's `tag.gpgSign` "
        "signs them too"
    )
    publish_registry: str = setting(
        "", doc="cargo registry `--publish` uploads to (a `[registries]` name); empty: crates.io, or `--registry`"
    )
    targets: tuple[str, ...] = setting(
        factory=tuple, doc="target triples the release builds artifacts for (`--target T` builds one; the release "
        "workflow gets a matrix over them); empty: the host's"
    )
    cross: Mapping[str, str] = setting(
        factory=dict, doc="how a target is built when it is not the runner's own: `{ \"aarch64-unknown-linux-gnu\" = "
        "\"zigbuild\" }` runs `cargo zigbuild` (zig from PATH or the `ziglang` package beside this tool), `\"cross\"` "
        "runs `cross build` (needs docker), `\"cargo\"` (default) plain `cargo build --target` (a linker from "
        "`.cargo/config.toml`)"
    )

    def __post_init__(self) -> None:
        if "{version}" not in self.shared_tag:
            raise ValueError(f"`shared-tag` = {self.shared_tag!r} must contain `{{version}}`")
        if "{version}" not in self.crate_tag or "{crate}" not in self.crate_tag:
            raise ValueError(f"`crate-tag` = {self.crate_tag!r} must contain `{{crate}}` and `{{version}}`")
        # Every template is rendered with example values and checked with git's ref-name rules
        # now, not when `git tag` refuses it after the release commit is made.
        for key, template, crate in (("shared-tag", self.shared_tag, None), ("crate-tag", self.crate_tag, "my-crate")):
            for version in EXAMPLE_VERSIONS:
                example = self.tag_prefix + template.replace("{version}", version).replace("{crate}", crate or "")
                problem = ref_format_problem(example)
                if problem:
                    keys = f"`{key}` = {template!r}" + (f" with `tag-prefix` = {self.tag_prefix!r}"
                                                         if self.tag_prefix else "")
                    raise ValueError(f"{keys} makes tags git refuses: e.g. {example!r}: {problem}")
        for crate, template in self.crate_tags.items():
            if "{version}" not in template:
                raise ValueError(f"`crate-tags` gives `{crate}` {template!r}, which has no `{{version}}`")
            for version in EXAMPLE_VERSIONS:
                example = self.tag_prefix + template.replace("{version}", version).replace("{crate}", crate)
                problem = ref_format_problem(example)
                if problem:
                    raise ValueError(f"`crate-tags` gives `{crate}` {template!r}, which makes tags git refuses: "
                                     f"e.g. {example!r}: {problem}")
        name = self.project_name
        if name and (name in (".", "..") or any(c in name for c in "/\\\0") or name.startswith("-")):
            # It becomes a file name in dist/: `../../x` would write outside it.
            raise ValueError(f"`project-name` = {name!r} must be a plain file name (no `/`, not `..`)")
        if self.dist_dir and ("\0" in self.dist_dir or os.path.isabs(self.dist_dir)
                              or ".." in Path(self.dist_dir).parts):
            raise ValueError(f"`dist-dir` = {self.dist_dir!r} must be a directory inside the workspace (relative, "
                             "no `..`)")
        import re

        for triple in self.targets:
            # A triple reaches cargo's argv, artifact names and CI matrices: letters, digits, `_ . -` only.
            if not re.fullmatch(r"[a-z0-9_]+(-[a-z0-9_.]+){1,3}", triple):
                raise ValueError(f"`targets` has {triple!r}, which is not a target triple like "
                                 "x86_64-unknown-linux-gnu")
        for triple, how in self.cross.items():
            if triple not in self.targets:
                raise ValueError(f"`cross` names {triple!r}, which is not in `targets` ({', '.join(self.targets)})")
            if how not in CROSS_TOOLS:
                raise ValueError(f"`cross.{triple}` = {how!r} must be one of {', '.join(CROSS_TOOLS)}")
        if self.publish_registry and not re.fullmatch(r"[A-Za-z0-9_-]+", self.publish_registry):
            raise ValueError(f"`publish-registry` = {self.publish_registry!r} is not a cargo registry name "
                             "(letters, digits, `_ -`)")
        grouped: dict[str, str] = {}
        for group, crates in self.version_groups.items():
            for crate in crates:
                if crate in grouped:
                    raise ValueError(f"`version-groups` puts `{crate}` in two groups ({grouped[crate]!r} and "
                                     f"{group!r}); a crate has one version line")
                grouped[crate] = group
                if crate in self.skip_crates:
                    raise ValueError(f"`version-groups` {group!r} has `{crate}`, which `skip-crates` never releases")
        if self.unpublished not in ("skip", "bump", "release"):
            raise ValueError(f"`unpublished` = {self.unpublished!r} must be one of skip, bump, release")
        known = registry.names()
        for gate in self.gates:
            if gate not in known:
                raise ValueError(f"`gates` names `{gate}`, which is not a pipeline stage (usable: {', '.join(known)})")
