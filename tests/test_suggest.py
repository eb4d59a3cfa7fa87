""""Did you mean": one rule for subcommands, crates and keys."""

from __future__ import annotations

from pipeline.foundation.suggest import close_matches, did_you_mean

CRATES = ["prism-buildinfo", "prism-core", "prism-gpu", "prism-io", "prism-nhs", "prism-physics", "prism"]


def test_a_typo_gets_the_one_close_name():
    assert did_you_mean("prism-ioo", CRATES) == "did you mean `prism-io`?"
    assert did_you_mean("relase", ["release", "report", "bump", "dupes"]) == "did you mean `release`?"
    assert did_you_mean("RELEASE", ["release"]) == "did you mean `release`?"


def test_a_prefix_is_completed_when_nothing_is_close_by_ratio():
    assert close_matches("prism-phy", CRATES) == ["prism-physics"]


def test_nothing_close_gives_no_suggestion():
    assert did_you_mean("zzz", CRATES) is None
    assert did_you_mean("", CRATES) is None
    assert did_you_mean("release", []) is None
