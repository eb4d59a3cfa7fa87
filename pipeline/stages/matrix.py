"""Feature sets for matrix checks: cargo-hack's ``--each-feature`` and ``--feature-powerset``.

Pure: a :class:`~pipeline.workspace.model.Package` in, a list of
:class:`FeatureSet` out. The stage commands run one cargo invocation per set;
the CI generator can expand the same sets as a job matrix.

Rules (close to cargo-hack):

* ``each-feature``: the crate with no default features, each feature alone
  (on top of ``--no-default-features``), then all features.
* ``powerset``: every combination of features up to ``depth`` (all sizes when
  ``depth`` is None), with no default features, then all features.
* A crate without features gets one set: its defaults, as a plain build.
* ``default`` is not run alone: it only names other features, which are each
  run alone and together in the all-features set.
* Optional dependencies that no feature enables through ``dep:`` are implicit
  features (Cargo's rule) and take part like declared ones.
* Sets that enable exactly the same things (``tensorcore`` already implies
  ``gpu``, so ``gpu+tensorcore`` equals ``tensorcore``; a crate with one feature
  has all-features equal to that feature) are run once: the first one kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline.workspace.model import Package

Mode = Literal["each-feature", "powerset"]
MODES: tuple[Mode, ...] = ("each-feature", "powerset")


@dataclass(frozen=True)
class FeatureSet:
    """One feature configuration of one crate, as cargo arguments."""

    package: str
    label: str
    features: tuple[str, ...] = ()
    no_default_features: bool = True
    all_features: bool = False

    def cargo_args(self) -> tuple[str, ...]:
        if self.all_features:
            return ("--all-features",)
        args: list[str] = []
        if self.no_default_features:
            args.append("--no-default-features")
        if self.features:
            args += ["--features", ",".join(self.features)]
        return tuple(args)

    def to_json(self) -> dict[str, object]:
        return {
            "package": self.package,
            "label": self.label,
            "features": list(self.features),
            "no_default_features": self.no_default_features,
            "all_features": self.all_features,
            "cargo_args": list(self.cargo_args()),
        }


def package_features(package: Package) -> dict[str, tuple[str, ...]]:
    """Declared features plus the implicit ones of optional dependencies."""
    features = dict(package.features)
    explicit_deps = {
        entry.removeprefix("dep:") for entries in features.values() for entry in entries if entry.startswith("dep:")
    }
    for dep in package.dependencies:
        if dep.optional and dep.key not in features and dep.key not in explicit_deps:
            features[dep.key] = (f"dep:{dep.key}",)
    return features


def _closure(names: Collection[str], features: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """Everything enabled by ``names``: local features and dependency entries."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for entry in features.get(name, ()):
            if "/" in entry or entry.startswith("dep:"):
                seen.add(entry)
            elif entry not in seen:
                stack.append(entry)
    return frozenset(seen)


def feature_sets(
    package: Package,
    mode: Mode = "each-feature",
    depth: int | None = None,
    *,
    exclude: Collection[str] = (),
) -> list[FeatureSet]:
    """The feature sets to check ``package`` with, in a stable order.

    ``exclude`` leaves features out of the single and combined sets (cargo-hack's
    ``--exclude-features``); the all-features set still enables them.
    """
    if mode not in MODES:
        raise ValueError(f"unknown feature mode {mode!r} (expected one of {', '.join(MODES)})")
    if depth is not None and depth < 1:
        raise ValueError(f"feature powerset depth must be at least 1, got {depth}")
    features = package_features(package)
    candidates = [name for name in features if name != "default" and name not in exclude]
    if not features or (list(features) == ["default"] and not features["default"]):
        return [FeatureSet(package.name, "default", no_default_features=False)]

    sets: list[FeatureSet] = []
    seen: set[frozenset[str]] = set()

    def add(feature_set: FeatureSet, enabled: frozenset[str]) -> None:
        if enabled not in seen:
            seen.add(enabled)
            sets.append(feature_set)

    add(FeatureSet(package.name, "no-default-features"), frozenset())
    if mode == "each-feature":
        combos: list[tuple[str, ...]] = [(name,) for name in candidates]
    else:
        limit = len(candidates) if depth is None else min(depth, len(candidates))
        combos = [combo for size in range(1, limit + 1) for combo in itertools.combinations(candidates, size)]
    for combo in combos:
        add(FeatureSet(package.name, "+".join(combo), features=combo), _closure(combo, features))
    everything = _closure(list(features), features) - {"default"}
    add(FeatureSet(package.name, "all-features", no_default_features=False, all_features=True), everything)
    return sets
