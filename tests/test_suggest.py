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


def test_misspelled_subcommand_gets_a_suggestion(run_cli):
    result = run_cli("relase")
    assert result.returncode == 2
    assert "hint: did you mean `release`?" in result.stderr
    nested = run_cli("gpu", "infoo")
    assert nested.returncode == 2 and "hint: did you mean `info`?" in nested.stderr


def test_misspelled_crate_gets_a_suggestion(example_copy, run_cli):
    result = run_cli("clippy", "-p", "prism-ioo", "--workspace", str(example_copy))
    assert result.returncode == 2
    assert "no workspace member is named `prism-ioo`" in result.stderr
    assert "hint: did you mean `prism-io`?" in result.stderr
    bump = run_cli("bump", "patch", "--crate", "prism-cor", "--workspace", str(example_copy))
    assert bump.returncode == 2 and "did you mean `prism-core`?" in bump.stderr
