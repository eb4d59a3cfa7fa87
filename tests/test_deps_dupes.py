"""Cargo.lock reading (v1-v4) and `pipeline dupes`: duplicates, why-paths, skip policy, views."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import CRATES_IO, Pkg, large_lockfile, minimal_workspace, render_lockfile, vendored_workspace

from pipeline import cli
from pipeline.deps.lockfile import read_lockfile
from pipeline.foundation.errors import ManifestError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "prism4d"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dupes_json(capsys: pytest.CaptureFixture[str], ws: Path, lock: Path, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--json", "--lockfile", str(lock), *extra)
    return code, json.loads(out), err


@pytest.fixture(scope="module")
def large() -> object:
    return large_lockfile(3000, 40)


# --------------------------------------------------------------------------- lockfile formats


SMALL = (
    Pkg("app", "0.1.0", None, (("serde", "1.0.200"), ("syn", "2.0.60"), ("helper", "0.1.0"))),
    Pkg("helper", "0.1.0", None, (("syn", "1.0.109"),)),
    Pkg("serde", "1.0.200", deps=(("syn", "2.0.60"),)),
    Pkg("syn", "1.0.109"),
    Pkg("syn", "2.0.60"),
)


@pytest.mark.parametrize("fmt", [1, 2, 3, 4])
def test_every_lockfile_format_reads_to_the_same_graph(tmp_path: Path, fmt: int) -> None:
    path = tmp_path / "Cargo.lock"
    path.write_text(render_lockfile(SMALL, fmt))
    lock = read_lockfile(path)
    assert lock.version == fmt
    named = {(p.name, p.version): p for p in lock.packages}
    assert set(named) == {(p.name, p.version) for p in SMALL}
    app = named[("app", "0.1.0")]
    assert sorted(lock.packages[i].label() for i in app.dependencies) == ["helper 0.1.0", "serde 1.0.200",
                                                                          "syn 2.0.60"]
    assert named[("syn", "1.0.109")].source == CRATES_IO
    # v1 keeps checksums in [metadata]; they are attached to the packages either way.
    assert named[("serde", "1.0.200")].checksum == SMALL[2].checksum


def test_v1_root_table_is_a_package(tmp_path: Path) -> None:
    path = tmp_path / "Cargo.lock"
    root = Pkg("oldapp", "0.1.0", None, (("syn", "1.0.109"),))
    path.write_text(render_lockfile([Pkg("syn", "1.0.109")], 1, root=root))
    lock = read_lockfile(path)
    assert lock.version == 1
    assert [p.label() for p in lock.packages] == ["oldapp 0.1.0", "syn 1.0.109"]
    assert lock.packages[0].dependencies == (1,)


def test_unknown_lockfile_version_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = minimal_workspace(tmp_path / "ws")
    lock = tmp_path / "future.lock"
    lock.write_text(render_lockfile(SMALL, 4).replace("version = 4", "version = 7"))
    code, out, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 2
    assert f"{lock}: lockfile version `7`" in err
    assert "hint:" in err
    assert out == ""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = 3\n[[package]]\nname = "a\nversion = "0.1.0"\n', ":3:"),
        ('version = 3\n[[package]]\nname = "a"\nversion = "0.1.0"\ndependencies = [\n', "malformed TOML in lockfile"),
        ('version = 3\n[[package]]\nname = "a"\n', "package `a`: `version` must be a non-empty string"),
        ('version = 3\n[[package]]\nname = "a"\nversion = "0.1.0"\ndependencies = ["zzz"]\n',
         "dependency 'zzz' matches no package"),
        ("version = 3\npackage = 5\n", "`package` must be an array"),
        ('version = "3"\n', "lockfile version `3`"),
    ],
)
def test_corrupt_lockfile_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    ws = minimal_workspace(tmp_path / "ws")
    lock = tmp_path / "Cargo.lock"
    lock.write_text(text)
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 2, err
    assert str(lock) in err and fragment in err


def test_missing_lockfile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = minimal_workspace(tmp_path / "ws")
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes")
    assert code == 2
    assert f"{ws / 'Cargo.lock'}: lockfile not found" in err


def test_example_workspace_has_no_duplicates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--workspace", str(EXAMPLE), "dupes", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["duplicates"] == [] and report["summary"]["findings"] == 0
    assert report["packages"] == len(read_lockfile(EXAMPLE / "Cargo.lock").packages)


# --------------------------------------------------------------------------- duplicates and paths


@pytest.mark.parametrize("fmt", [1, 2, 3, 4])
def test_large_lockfile_gives_exactly_the_expected_duplicates_and_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], large: object, fmt: int
) -> None:
    ws = minimal_workspace(tmp_path / "ws", large.members)
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(large.packages, fmt))
    code, report, _ = dupes_json(capsys, ws, lock)
    assert code == 0  # multiple-versions defaults to "warn"
    assert report["packages"] == 3000
    assert report["lockfile_version"] == fmt
    got = {d["name"]: [(v["version"], v["why"]) for v in d["versions"]] for d in report["duplicates"]}
    assert got == large.expected
    assert len(got) == 40 and sum(len(v) for v in got.values()) == 88
    first = report["duplicates"][0]["versions"][1]
    assert first["path"][0] == {"name": "dup-00", "version": "1.0.0"}
    assert first["path"][-1] == {"name": "member-00", "version": "0.1.0"}


def test_text_output_lists_each_version_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = minimal_workspace(tmp_path / "ws", ["app", "helper"])
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(SMALL, 3))
    code, out, _ = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 0
    assert out.splitlines() == [
        "syn: 2 versions",
        "  syn 1.0.109 <- helper",
        "  syn 2.0.60 <- app",
        f"warning: dupes: 1 crate(s) locked at several versions, 0 accepted, 5 packages (lockfile view of {lock})",
    ]


def _policy_ws(tmp_path: Path, members: tuple[str, ...], config: str) -> Path:
    return minimal_workspace(tmp_path / "ws", members, "[workspace.metadata.pipeline.dupes]\n" + config)


def test_deny_exits_1_and_allow_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str], large: object) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(large.packages, 3))
    ws = _policy_ws(tmp_path, large.members, 'multiple-versions = "deny"\n')
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 1
    assert "40 crate(s) locked at several versions" in err and "hint:" in err
    (ws / "Cargo.toml").write_text((ws / "Cargo.toml").read_text().replace('"deny"', '"allow"'))
    code, out, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 0 and "warning" not in out + err and "dup-39: 2 versions" in out


def test_skip_and_skip_tree_accept_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], large: object
) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(large.packages, 4))
    config = (
        'multiple-versions = "deny"\n'
        'skip = [\n'
        '  { name = "dup-01", version = "1.0.0", reason = "old macro stack" },\n'  # 2 versions -> 1 left: accepted
        '  { name = "dup-00", version = "2.0.0", reason = "one of three" },\n'  # 3 versions -> 2 left: still a finding
        '  { name = "dup-02", version = "<3" },\n'  # requirement matching both versions
        "]\n"
        "skip-tree = [\n"
        # carrier-03-0-0 -> dup-03 1.0.0 (depth 1): accepted
        '  { name = "carrier-03-0-0", reason = "vendored stack" },\n'
        # carrier-04-1-0 -> carrier-04-1-1 -> dup-04 2.0.0 is 2 levels down: depth 1 does not reach it
        '  { name = "carrier-04-1-0", depth = 1 },\n'
        "]\n"
    )
    ws = _policy_ws(tmp_path, large.members, config)
    code, report, err = dupes_json(capsys, ws, lock)
    assert code == 1
    by_name = {d["name"]: d for d in report["duplicates"]}
    assert not by_name["dup-01"]["finding"]
    assert [v["accepted"] for v in by_name["dup-01"]["versions"]] == ["skip: old macro stack", None]
    assert by_name["dup-00"]["finding"]
    assert [v["accepted"] for v in by_name["dup-00"]["versions"]] == [None, None, "skip: one of three"]
    assert not by_name["dup-02"]["finding"]
    assert not by_name["dup-03"]["finding"]
    assert by_name["dup-03"]["versions"][0]["accepted"] == "skip-tree carrier-03-0-0: vendored stack"
    assert by_name["dup-04"]["finding"]
    assert report["summary"] == {"duplicated": 40, "findings": 37, "accepted": 3}
    # The depth-limited tree reaches no duplicated crate: reported as unmatched.
    assert report["unmatched_skips"] == [
        {"table": "skip-tree", "name": "carrier-04-1-0", "version": None,
         "reason": "no duplicated crate is left in its tree"},
    ]
    assert "warning: unmatched-skip: skip-tree entry `carrier-04-1-0` matches nothing" in err


def test_unmatched_skip_entries_warn_or_deny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(SMALL, 3))
    config = (
        "skip = [\n"
        '  { name = "gone", reason = "removed long ago" },\n'
        '  { name = "syn", version = "0.15.44" },\n'
        '  { name = "serde", version = "1.0.200" },\n'
        "]\n"
        'skip-tree = [{ name = "nothing-here" }]\n'
    )
    ws = _policy_ws(tmp_path, ("app", "helper"), config)
    code, report, err = dupes_json(capsys, ws, lock)
    assert code == 0
    assert [(u["table"], u["name"], u["reason"]) for u in report["unmatched_skips"]] == [
        ("skip", "gone", "no crate named `gone` is locked"),
        ("skip", "syn", "no locked version of `syn` matches `0.15.44` (locked: 1.0.109, 2.0.60)"),
        ("skip", "serde", "`serde` is no longer duplicated (only 1.0.200 is locked)"),
        ("skip-tree", "nothing-here", "no crate named `nothing-here` is locked"),
    ]
    assert err.count("warning: unmatched-skip:") == 4
    (ws / "Cargo.toml").write_text((ws / "Cargo.toml").read_text() + 'unmatched-skip = "deny"\n')
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 1 and "4 skip entr" in err
    (ws / "Cargo.toml").write_text((ws / "Cargo.toml").read_text().replace('"deny"', '"allow"'))
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 0 and "unmatched" not in err


def test_bad_skip_configuration_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile(SMALL, 3))
    ws = _policy_ws(tmp_path, ("app",), 'skip = [{ name = "syn", version = "not a version" }]\n')
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 2 and "skip entry `syn`" in err
    ws = _policy_ws(tmp_path, ("app",), 'multiple-version = "deny"\n')
    code, _, err = run_cli(capsys, "--workspace", str(ws), "dupes", "--lockfile", str(lock))
    assert code == 2 and "multiple-versions" in err


# --------------------------------------------------------------------------- cargo metadata view


@pytest.fixture(scope="module")
def vendored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # dep-only: 1.0.0 via [dependencies], 2.0.0 only via [dev-dependencies].
    return vendored_workspace(
        tmp_path_factory.mktemp("vendored") / "ws",
        [("shared", "1.0.0"), ("other", "0.3.0")],
        dev=[("shared", "2.0.0")],
    )


def test_exclude_dev_uses_cargo_metadata_offline(vendored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = dupes_json(capsys, vendored, vendored / "Cargo.lock")
    assert report["view"] == "lockfile"
    assert [d["name"] for d in report["duplicates"]] == ["shared"]
    code, report, err = dupes_json(capsys, vendored, vendored / "Cargo.lock", "--exclude-dev")
    assert code == 0, err
    assert report["view"] == "cargo-metadata"
    assert report["duplicates"] == [] and report["packages"] == 3
    code, report, err = dupes_json(capsys, vendored, vendored / "Cargo.lock", "--target", "x86_64-unknown-linux-gnu")
    assert report["view"] == "cargo-metadata"
    assert [v["why"] for v in report["duplicates"][0]["versions"]] == ["shared 1.0.0 <- app", "shared 2.0.0 <- app"]


def test_unknown_target_is_a_usage_error(vendored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # It used to fall back to the lock-only view (exit 0): every crate counted, whatever was asked.
    code, out, err = run_cli(capsys, "--workspace", str(vendored), "dupes", "--json", "--target", "x86_64-nonsense")
    assert code == 2 and out == ""
    assert "--target x86_64-nonsense: cargo does not know this target" in err and "hint:" in err


def test_lock_only_view_is_announced_when_cargo_metadata_cannot_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # crates.io dependencies that are not vendored nor cached: `cargo metadata --offline` fails.
    ws = minimal_workspace(tmp_path / "ws", ["app", "helper"])
    (ws / "app" / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\n'
        'zz-not-cached-anywhere = "=9.9.9"\n'
    )
    lock = ws / "Cargo.lock"
    lock.write_text(render_lockfile(SMALL, 3))
    code, report, err = dupes_json(capsys, ws, lock, "--exclude-dev", "--target", "x86_64-unknown-linux-gnu")
    assert code == 0
    assert report["view"] == "lockfile"
    assert "--exclude-dev and --target not applied" in err
    assert "using the lock-only view" in err
    assert [d["name"] for d in report["duplicates"]] == ["syn"]


def test_versions_no_member_reaches_are_still_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An orphan entry (left by a hand edit or a [patch]) still counts as a version.
    lock = tmp_path / "Cargo.lock"
    lock.write_text(render_lockfile([*SMALL, Pkg("orphan", "0.1.0", deps=(("syn", "1.0.109"),)),
                                     Pkg("serde", "0.9.0")], 4))
    ws = minimal_workspace(tmp_path / "ws", ["app", "helper"])
    _, report, _ = dupes_json(capsys, ws, lock)
    serde = next(d for d in report["duplicates"] if d["name"] == "serde")
    assert [(v["version"], v["path"], v["why"]) for v in serde["versions"]] == [
        ("0.9.0", [], "serde 0.9.0 (not reachable from a workspace member)"),
        ("1.0.200", [{"name": "serde", "version": "1.0.200"}, {"name": "app", "version": "0.1.0"}],
         "serde 1.0.200 <- app"),
    ]


def test_a_member_and_the_same_version_from_crates_io_are_told_apart_as_cargo_does(tmp_path: Path) -> None:
    """clap's lock: the member `clap_builder 4.6.6` (a path package, never written with a source)
    beside `clap_builder 4.6.6` from crates.io, which an older clap pulls in. `"clap_builder 4.6.6"`
    is the member; the registry one is always written with its source."""
    lock = tmp_path / "Cargo.lock"
    lock.write_text(
        "version = 4\n\n"
        '[[package]]\nname = "app"\nversion = "1.0.0"\ndependencies = ["builder 4.6.6", "old"]\n\n'
        '[[package]]\nname = "builder"\nversion = "4.6.6"\n\n'
        f'[[package]]\nname = "builder"\nversion = "4.6.6"\nsource = "{CRATES_IO}"\nchecksum = "{"0" * 64}"\n\n'
        f'[[package]]\nname = "old"\nversion = "0.1.0"\nsource = "{CRATES_IO}"\nchecksum = "{"1" * 64}"\n'
        f'dependencies = ["builder 4.6.6 ({CRATES_IO})"]\n')
    packages = read_lockfile(lock).packages
    app = next(p for p in packages if p.name == "app")
    old = next(p for p in packages if p.name == "old")
    assert [packages[i].source for i in app.dependencies if packages[i].name == "builder"] == [None]
    assert [packages[i].source for i in old.dependencies] == [CRATES_IO]
    # Two path packages of one name and version (a bad merge) stay ambiguous, named.
    lock.write_text(lock.read_text().replace(f'source = "{CRATES_IO}"\nchecksum = "{"0" * 64}"\n', ""))
    with pytest.raises(ManifestError, match=r"dependency .builder 4\.6\.6. is ambiguous"):
        read_lockfile(lock)
