"""Tag schemes: every template real workspaces use, inference from existing tags, each crate's last tag."""

from __future__ import annotations

import pytest

from pipeline.release import tagscheme as ts
from pipeline.workspace.cargo_semver import Version


def V(text: str) -> Version:
    return Version.parse(text)


@pytest.mark.parametrize(
    ("template", "tag", "crate", "version"),
    [
        ("{version}", "0.11.0", None, "0.11.0"),
        ("v{version}", "v1.0.228", None, "1.0.228"),
        ("{crate}-v{version}", "clap_lex-v1.1.0", "clap_lex", "1.1.0"),
        ("{crate}-{version}", "tracing-subscriber-0.3.23", "tracing-subscriber", "0.3.23"),
        ("{crate}-{version}", "tracing-0.1.44", "tracing", "0.1.44"),
        ("{crate}@{version}", "kern-sys@2.0.0-rc.1", "kern-sys", "2.0.0-rc.1"),
    ],
)
def test_every_template_parses_its_tags(template: str, tag: str, crate: str | None, version: str) -> None:
    crates = ["tracing", "tracing-subscriber", "clap_lex", "kern-sys"]
    (parsed,) = ts.parse_tags([tag], template, crates)
    assert parsed.crate == crate and parsed.version == V(version)
    assert ts.render(template, version, crate) == tag


def test_a_dash_in_a_crate_name_is_not_a_version_separator() -> None:
    parsed = ts.parse_tags(["tracing-subscriber-0.3.23"], "{crate}-{version}", ["tracing", "tracing-subscriber"])
    assert [p.crate for p in parsed] == ["tracing-subscriber"]
    assert ts.parse_tags(["other-1.0.0"], "{crate}-{version}", ["tracing"]) == []


def test_bare_version_tags_are_inferred_with_the_printed_line() -> None:
    tags = [f"0.{n}.0" for n in range(11, -1, -1)] + [f"0.{n}.1" for n in range(10, 0, -1)] + ["nightly"]
    scheme = ts.infer(tags, {"core": V("0.11.0"), "app": V("0.11.0")}, inheriting=["core", "app"])
    assert scheme.shared == "{version}" and scheme.crate is None
    assert scheme.summary == 'release: tags look like "{version}" (22 tags, newest 0.11.0)'
    last = ts.last_tags(tags, {"core": V("0.11.0"), "app": V("0.11.0")}, scheme)
    assert last.tags == {"core": "0.11.0", "app": "0.11.0"}


def test_a_mix_of_primary_and_per_crate_tags_like_clap() -> None:
    tags = ["clap_mangen-v0.3.3", "v4.6.6", "clap_complete-v4.6.9", "v4.6.5", "clap_lex-v1.1.0", "v4.6.4"]
    versions = {"clap": V("4.6.6"), "clap_builder": V("4.6.6"), "clap_derive": V("4.6.4"),
                "clap_lex": V("1.1.0"), "clap_complete": V("4.6.9"), "clap_mangen": V("0.3.3"),
                "clap_bench": V("0.0.0")}
    scheme = ts.infer(tags, versions)
    assert (scheme.shared, scheme.crate) == ("v{version}", "{crate}-v{version}")
    assert set(scheme.shared_crates) == {"clap", "clap_builder", "clap_derive"}
    last = ts.last_tags(tags, versions, scheme)
    assert last.tags["clap"] == "v4.6.6" and last.tags["clap_derive"] == "v4.6.4"
    assert last.tags["clap_lex"] == "clap_lex-v1.1.0" and last.tags["clap_bench"] is None
    assert last.untagged() == ("clap_bench",)
    assert scheme.tag_for("clap", "4.7.0") == "v4.7.0"
    assert scheme.tag_for("clap_lex", "1.2.0") == "clap_lex-v1.2.0"


def test_configured_primary_crate_uses_the_template_without_crate() -> None:
    tags = ["v2.0.0", "helper-v0.3.0"]
    scheme = ts.infer(tags, {"main": V("2.0.0"), "helper": V("0.3.0")}, primary=["main"])
    assert scheme.shared_crates == ("main",)
    assert ts.last_tags(tags, {"main": V("2.0.0"), "helper": V("0.3.0")}, scheme).tags == {
        "main": "v2.0.0", "helper": "helper-v0.3.0"}


def test_last_tag_is_the_crates_own_even_when_another_crate_tagged_later() -> None:
    tags = ["b-v0.9.0", "a-v0.2.0", "b-v0.8.0", "a-v0.1.0"]
    versions = {"a": V("0.3.0"), "b": V("0.9.0")}  # a was bumped, not yet released
    scheme = ts.infer(tags, versions)
    assert ts.last_tags(tags, versions, scheme).tags == {"a": "a-v0.2.0", "b": "b-v0.9.0"}


def test_untagged_crates_get_the_nearest_candidates() -> None:
    tags = ["release-2024-01", "prism-io-1.3.0", "prism-io-1.2.0", "ui-v3"]
    versions = {"prism-io": V("1.3.0")}
    scheme = ts.infer(tags, versions, shared="v{version}", crate="{crate}-v{version}")
    last = ts.last_tags(tags, versions, scheme)
    assert last.tags == {"prism-io": None}
    assert last.nearest["prism-io"][:2] == ("prism-io-1.3.0", "prism-io-1.2.0")


def test_inference_ignores_tags_above_every_version_and_foreign_tags() -> None:
    # `v9.0.0` is no release of these crates (they are at 0.x); `1.0` is not semver.
    scheme = ts.infer(["v9.0.0", "1.0", "x-v0.1.0"], {"x": V("0.1.0")})
    assert scheme.shared is None and scheme.crate == "{crate}-v{version}"
