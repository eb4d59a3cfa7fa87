"""pipeline.workspace.cargo_semver against Cargo's documented requirement examples
(The Cargo Book, "Specifying Dependencies": caret, tilde, wildcard, comparison, multiple
requirements) and the semver crate's pre-release rule, as the advisory matcher relies on them."""

from __future__ import annotations

import pytest

from pipeline.workspace.cargo_semver import SemverError, Version, VersionReq

# requirement -> (lowest accepted, highest accepted, first rejected above, rejected below or None)
DOCUMENTED = [
    # Caret requirements
    ("^1.2.3", "1.2.3", "1.99.99", "2.0.0", "1.2.2"),
    ("^1.2", "1.2.0", "1.99.0", "2.0.0", "1.1.9"),
    ("^1", "1.0.0", "1.99.0", "2.0.0", "0.9.9"),
    ("^0.2.3", "0.2.3", "0.2.99", "0.3.0", "0.2.2"),
    ("^0.2", "0.2.0", "0.2.99", "0.3.0", "0.1.9"),
    ("^0.0.3", "0.0.3", "0.0.3", "0.0.4", "0.0.2"),
    ("^0.0", "0.0.0", "0.0.99", "0.1.0", None),
    ("^0", "0.0.0", "0.99.0", "1.0.0", None),
    # Default (no operator) is caret
    ("1.2.3", "1.2.3", "1.99.0", "2.0.0", "1.2.2"),
    # Tilde requirements
    ("~1.2.3", "1.2.3", "1.2.99", "1.3.0", "1.2.2"),
    ("~1.2", "1.2.0", "1.2.99", "1.3.0", "1.1.9"),
    ("~1", "1.0.0", "1.99.0", "2.0.0", "0.9.9"),
    # Wildcard requirements
    ("*", "0.0.0", "99.0.0", None, None),
    ("1.*", "1.0.0", "1.99.0", "2.0.0", "0.9.9"),
    ("1.2.*", "1.2.0", "1.2.99", "1.3.0", "1.1.9"),
    # Comparison requirements
    (">= 1.2.0", "1.2.0", "99.0.0", None, "1.1.9"),
    ("> 1", "2.0.0", "99.0.0", None, "1.99.0"),
    ("< 2", "0.0.0", "1.99.99", "2.0.0", None),
    ("= 1.2.3", "1.2.3", "1.2.3", "1.2.4", "1.2.2"),
    # Multiple requirements
    (">= 1.2, < 1.5", "1.2.0", "1.4.99", "1.5.0", "1.1.9"),
]


@pytest.mark.parametrize(("req", "low", "high", "above", "below"), DOCUMENTED)
def test_cargo_book_requirement_examples(req: str, low: str, high: str, above: str | None, below: str | None) -> None:
    parsed = VersionReq.parse(req)
    assert parsed.matches(Version.parse(low)), (req, low)
    assert parsed.matches(Version.parse(high)), (req, high)
    if above is not None:
        assert not parsed.matches(Version.parse(above)), (req, above)
    if below is not None:
        assert not parsed.matches(Version.parse(below)), (req, below)


@pytest.mark.parametrize(
    ("req", "version", "expected"),
    [
        # A pre-release only matches a comparator naming the same MAJOR.MINOR.PATCH with a pre-release.
        (">= 1.0.0", "1.1.0-alpha.1", False),
        (">= 1.1.0-alpha.0", "1.1.0-alpha.1", True),
        (">= 1.1.0-alpha.0", "1.2.0-alpha.1", False),
        ("^1.2.3-beta.2", "1.2.3-beta.10", True),  # numeric identifiers compare numerically
        ("^1.2.3-beta.2", "1.2.3-beta.1", False),
        ("^1.2.3-beta.2", "1.2.3", True),
        ("^1.2.3-beta.2", "1.3.0", True),
        ("= 1.2.3-rc.1", "1.2.3-rc.1", True),
        ("= 1.2.3-rc.1", "1.2.3", False),
        (">= 3.0.0-beta.2", "3.0.0-beta.1", False),
        ("< 1.0.0", "1.0.0-rc.1", False),  # not even below the release: no comparator names a pre-release
        # Build metadata is ignored for matching.
        ("= 0.11.0", "0.11.0+wasi-snapshot-preview1", True),
        # Advisory-db style ranges.
        (">= 1.2.3, < 2.0.0", "2.0.0", False),
        (">= 0.2.0, < 0.2.7", "0.2.6", True),
    ],
)
def test_pre_release_and_build_rules(req: str, version: str, expected: bool) -> None:
    assert VersionReq.parse(req).matches(Version.parse(version)) is expected


def test_version_ordering_follows_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0"]
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed


@pytest.mark.parametrize(
    "bad", ["", ">= one.two", "1.2.3.4", ">=* ", "~1.*", "1.*.3", "1.2.3-01", ">= 1,", "01.2.3", "^1.02"]
)
def test_invalid_requirements_are_rejected(bad: str) -> None:
    with pytest.raises(SemverError):
        VersionReq.parse(bad)
