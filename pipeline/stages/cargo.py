"""The cargo stages: fmt, clippy and test, as argv built from configuration.

Building the command line is pure; running it goes through ``proc`` with the
tool's own output streamed to the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import CheckFailed
from pipeline.foundation.progress import Progress
from pipeline.stages import registry
from pipeline.workspace.model import Workspace
from pipeline.workspace.settings import FeatureSettings


def _package_args(packages: Sequence[str]) -> list[str]:
    if not packages:
        return ["--workspace"]
    args: list[str] = []
    for name in packages:
        args += ["-p", name]
    return args


def feature_args(config: FeatureSettings, workspace: Workspace, packages: Sequence[str] = ()) -> list[str]:
    """Feature flags from configuration for the selected crates.

    cargo rejects ``--features X`` when no selected crate defines X, so a plain
    feature name is passed only when one of the selected crates has it;
    ``crate/feature`` entries are passed as written.
    """
    args: list[str] = []
    if config.all_features:
        args.append("--all-features")
    if config.no_default_features:
        args.append("--no-default-features")
    if config.features and not config.all_features:
        selected = [workspace.package(name) for name in packages] if packages else list(workspace.members)
        wanted = [f for f in config.features if "/" in f or any(f in p.features for p in selected)]
        if wanted:
            args += ["--features", ",".join(wanted)]
    return args


def fmt_argv(*, fix: bool, packages: Sequence[str] = ()) -> list[str]:
    # `cargo fmt` says `--all` where the other cargo commands say `--workspace`.
    argv = ["cargo", "fmt", *(_package_args(packages) if packages else ["--all"])]
    if not fix:
        argv.append("--check")
    return argv


def clippy_argv(
    config: FeatureSettings, workspace: Workspace, packages: Sequence[str] = (), extra: Sequence[str] = (),
    features: Sequence[str] | None = None,
) -> list[str]:
    """``features``: cargo feature arguments replacing the configured ones (a feature-matrix entry)."""
    chosen = feature_args(config, workspace, packages) if features is None else list(features)
    return [
        "cargo", "clippy", *_package_args(packages), "--all-targets", *chosen, *extra,
        "--", "-D", "warnings",
    ]


def test_argv(
    config: FeatureSettings, workspace: Workspace, packages: Sequence[str] = (), extra: Sequence[str] = (),
    features: Sequence[str] | None = None,
) -> list[str]:
    chosen = feature_args(config, workspace, packages) if features is None else list(features)
    return ["cargo", "test", *_package_args(packages), *chosen, *extra]


def argv_for(stage: str, config: FeatureSettings, workspace: Workspace, packages: Sequence[str] = (),
             *, fix: bool = False) -> list[str] | None:
    """The cargo command line of a cargo stage (None for the other stages)."""
    if stage == "fmt":
        return fmt_argv(fix=fix, packages=packages)
    if stage == "clippy":
        return clippy_argv(config, workspace, packages)
    if stage == "test":
        return test_argv(config, workspace, packages)
    return None


def run_stage(stage: str, argv: Sequence[str], root: Path) -> None:
    """Run a cargo stage in ``root``; a non-zero exit raises CheckFailed naming the stage."""
    proc.find_tool("cargo")
    if stage == "fmt":
        proc.find_tool("rustfmt")
    if stage == "clippy":
        proc.find_tool("cargo-clippy")
    # cargo draws its own progress on a terminal; around it, a line when it ends and, in CI,
    # a heartbeat while a long compile or test run prints nothing.
    label = " ".join(argv)
    with Progress(stage, None, live=False) as progress:
        progress.started(label)
        result = proc.run(list(argv), cwd=root, check=False, capture=False)
        progress.finished(label, ok=result.returncode == 0)
    if result.returncode != 0:
        raise CheckFailed(
            f"stage `{stage}` failed in {root}: `{' '.join(argv)}` exited with code {result.returncode}",
            registry.get(stage).hint,
        )
