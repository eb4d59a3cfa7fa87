"""Version arithmetic: every level and pre-release rule (pure table tests)."""

from __future__ import annotations

import pytest

from pipeline.foundation.errors import UsageError
from pipeline.release.levels import Target, apply, auto_level, bump, parse_target
from pipeline.workspace.cargo_semver import Version

V = Version.parse


@pytest.mark.parametrize(
    ("current", "level", "expected"),
    [
        ("0.4.2", "major", "1.0.0"),
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3-rc.1", "major", "2.0.0"),
        ("0.4.2", "minor", "0.5.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3-beta.2", "minor", "1.3.0"),
        ("0.4.2", "patch", "0.4.3"),
        ("1.2.3-rc.1", "patch", "1.2.3"),  # patch on a pre-release drops the pre-release part
        ("1.2.3-rc.4", "release", "1.2.3"),
        ("2.0.0-alpha.1", "release", "2.0.0"),
        ("1.2.3", "rc", "1.2.4-rc.1"),  # from stable: next patch, .1
        ("1.2.3", "alpha", "1.2.4-alpha.1"),
        ("1.2.3", "beta", "1.2.4-beta.1"),
        ("1.2.4-rc.1", "rc", "1.2.4-rc.2"),  # same kind counts up
        ("1.2.4-alpha.9", "alpha", "1.2.4-alpha.10"),
        ("1.2.4-alpha.3", "beta", "1.2.4-beta.1"),  # later kind starts at 1
        ("1.2.4-alpha.3", "rc", "1.2.4-rc.1"),
        ("1.2.4-beta.2", "rc", "1.2.4-rc.1"),
        ("1.2.4-rc", "rc", "1.2.4-rc.1"),
        ("1.2.4-dev.1", "rc", "1.2.4-rc.1"),  # unknown kind: a known kind above it starts fresh
    ],
)
def test_bump_levels(current: str, level: str, expected: str) -> None:
    assert str(bump(V(current), level)) == expected


@pytest.mark.parametrize(
    ("current", "level"),
    [("1.2.4-rc.1", "alpha"), ("1.2.4-rc.1", "beta"), ("1.2.4-beta.1", "alpha")],
)
def test_backwards_prerelease_is_an_error(current: str, level: str) -> None:
    with pytest.raises(UsageError) as info:
        bump(V(current), level, crate="crate `x`")
    assert "crate `x`" in info.value.message and "back" in info.value.message
    assert info.value.exit_code == 2 and info.value.hint


@pytest.mark.parametrize(
    ("current", "level"),
    [("1.0.0-pre.1", "alpha"), ("1.0.0-pre.1", "beta"), ("1.0.0-rc.x", "rc"), ("1.0.0-zeta", "rc"),
     ("1.2.4-dev.1", "alpha")],
)
def test_prerelease_level_never_yields_a_lower_version(current: str, level: str) -> None:
    # Another pre-release scheme can sort above `alpha.1` / `rc.1`: that used to plan a downgrade.
    with pytest.raises(UsageError) as info:
        bump(V(current), level, crate="crate `x`")
    assert "would be a lower version" in info.value.message and "crate `x`" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(("current", "level", "expected"), [("1.0.0-pre.1", "rc", "1.0.0-rc.1"),
                                                            ("1.0.0-beta", "rc", "1.0.0-rc.1"),
                                                            ("1.0.0-rc", "rc", "1.0.0-rc.1")])
def test_prerelease_from_another_scheme_moves_up(current: str, level: str, expected: str) -> None:
    assert str(bump(V(current), level)) == expected


def test_release_on_stable_is_an_error() -> None:
    with pytest.raises(UsageError, match="not a pre-release"):
        bump(V("1.2.3"), "release")


@pytest.mark.parametrize(
    ("current", "explicit", "ok"),
    [("0.4.2", "0.5.0", True), ("0.4.2", "0.4.3-rc.1", True), ("1.0.0-rc.1", "1.0.0", True),
     ("0.4.2", "0.4.2", False), ("0.4.2", "0.4.1", False), ("1.0.0", "1.0.0-rc.1", False)],
)
def test_explicit_version_must_be_greater(current: str, explicit: str, ok: bool) -> None:
    target = parse_target(explicit)
    if ok:
        assert apply(V(current), target) == V(explicit)
    else:
        with pytest.raises(UsageError, match="not greater"):
            apply(V(current), target)


def test_parse_target() -> None:
    assert parse_target("minor") == Target(level="minor")
    assert parse_target("auto").auto
    assert parse_target("v1.4.0").version == V("1.4.0")
    with pytest.raises(UsageError, match="unknown level `huge`") as info:
        parse_target("huge")
    assert "major, minor, patch" in (info.value.hint or "")
    with pytest.raises(UsageError, match=r"invalid version `1\.4`"):
        parse_target("1.4")
    with pytest.raises(UsageError, match="invalid version"):
        parse_target("1.4.0-rc.01")


@pytest.mark.parametrize(
    ("current", "breaking", "feature", "other", "expected"),
    [
        ("1.2.3", True, True, True, "major"),
        ("0.4.2", True, False, False, "minor"),  # 0.x: breaking bumps minor
        ("1.2.3", False, True, True, "minor"),
        ("0.4.2", False, True, False, "patch"),
        ("1.2.3", False, False, True, "patch"),
        ("1.2.3", False, False, False, None),
        ("1.3.0-rc.1", True, True, True, "rc"),  # a pre-release counts up its own kind
    ],
)
def test_auto_level(current: str, breaking: bool, feature: bool, other: bool, expected: str | None) -> None:
    assert auto_level(V(current), breaking=breaking, feature=feature, other=other) == expected
