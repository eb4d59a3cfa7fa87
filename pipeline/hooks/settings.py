"""Configuration of the pre-push hook and change detection (`[workspace.metadata.pipeline.hooks]`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.changes.patterns import CI_FILES
from pipeline.foundation.config import setting

# Top-level documentation only: inside a crate's directory every file is the crate's (a `.md`
# under `tests/` or `resources/` is test data, `README.md` is the package's readme).
DEFAULT_IGNORE = ("/README.md", "/docs/**", "/CHANGELOG.md")
DEFAULT_CI_PATHS = CI_FILES  # the generate stage's CI inputs


@dataclass(frozen=True)
class HooksSettings:
    """Keys of this section; each is documented in the README."""

    run_fmt: bool = setting(True, doc="the pre-push hook runs `cargo fmt --check` on the affected crates")
    run_clippy: bool = setting(True, doc="the pre-push hook runs clippy (with -D warnings) on the affected crates")
    run_dupes: bool = setting(
        True, doc="the pre-push hook runs `pipeline dupes` when Cargo.lock or a manifest changed"
    )
    run_generate_check: bool = setting(
        True, doc="the pre-push hook runs `pipeline generate --check` when CI files or this configuration changed"
    )
    run_tests: bool = setting(
        False, doc="the pre-push hook also runs `cargo test` on the affected crates and their dev-dependents"
    )
    default_branch: str | None = setting(
        None,
        doc="branch a new branch is compared with (its merge base); default: the remote's HEAD, else `main`",
    )
    ignore: tuple[str, ...] = setting(
        factory=lambda: DEFAULT_IGNORE,
        doc="patterns (fnmatch; a leading `/` anchors at the workspace root, `**` spans directories; otherwise "
        "against the path or the file name) of files inside crates whose changes affect no crate",
    )
    ignore_extra: tuple[str, ...] = setting(
        factory=tuple, doc="more patterns like `ignore`, added to it (so the defaults stay)",
    )
    ci_paths: tuple[str, ...] = setting(
        factory=lambda: DEFAULT_CI_PATHS,
        doc="patterns (relative to the repository top) of CI files whose changes run `generate --check`",
    )

    def __post_init__(self) -> None:
        if self.default_branch is not None and (not self.default_branch or self.default_branch.startswith("-")):
            raise ValueError(f"`default-branch` must be a branch name, got {self.default_branch!r}")
