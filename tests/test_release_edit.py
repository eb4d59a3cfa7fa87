"""Byte-preserving manifest and Cargo.lock edits, and all-or-nothing writes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from release_support import make_shapes, snapshot

from pipeline import cli
from pipeline.foundation.errors import ManifestError, OperationFailed
from pipeline.foundation.fs import write_all
from pipeline.release.edit import Edit, edit_toml, update_lockfile

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "prism4d"


def _changed_lines(old: bytes, new: bytes) -> list[tuple[bytes, bytes]]:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    return [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]


def test_edit_keeps_comments_spacing_and_order() -> None:
    text = (
        "# top comment\n[package]\nname = 'x'\nversion = \"0.4.2\"   # lockstep\n\n"
        "[dependencies]\nfoo = {path = '../foo',version='0.4'}  # tight spacing\n"
        "[dependencies.bar]\npath = \"../bar\"\nversion = \"~0.4.2\" # t\n"
        "[target.\"cfg(target_os = \\\"linux\\\")\".dependencies]\nbaz = { path = \"../baz\", version = \"=0.4.2\" }\n"
    )
    edits = [
        Edit(("package", "version"), "0.4.2", "0.5.0"),
        Edit(("dependencies", "foo", "version"), "0.4", "0.5"),
        Edit(("dependencies", "bar", "version"), "~0.4.2", "~0.5.0"),
        Edit(("target", 'cfg(target_os = "linux")', "dependencies", "baz", "version"), "=0.4.2", "=0.5.0"),
    ]
    out = edit_toml(text, edits, Path("Cargo.toml"))
    assert out == (
        text.replace('"0.4.2"   #', '"0.5.0"   #')
        .replace("version='0.4'}", "version='0.5'}")
        .replace('"~0.4.2"', '"~0.5.0"')
        .replace('"=0.4.2"', '"=0.5.0"')
    )


def test_crlf_manifest_round_trip() -> None:
    text = '[package]\r\nname = "sub"\r\nversion = "0.4.2"  # c\r\n\r\n[dependencies.util]\r\nversion = "0.4"\r\n'
    out = edit_toml(text, [Edit(("package", "version"), "0.4.2", "0.5.0")], Path("Cargo.toml"))
    assert out == text.replace('"0.4.2"', '"0.5.0"')
    assert out.count("\r\n") == text.count("\r\n")


def test_unusual_toml_falls_back_to_tomlkit_and_stays_byte_exact() -> None:
    # A multi-line string defeats the fast scanner; tomlkit still keeps every other byte.
    text = (
        '[package]\nname = "x"\nversion = "1.0.0" # keep\ndescription = """\n[not a table]\nversion = "9"\n"""\n'
    )
    out = edit_toml(text, [Edit(("package", "version"), "1.0.0", "1.1.0")], Path("Cargo.toml"))
    assert out == text.replace('"1.0.0" # keep', '"1.1.0" # keep')


def test_edit_refuses_a_changed_file() -> None:
    with pytest.raises(ManifestError, match=r"expected `package\.version` to be '0\.4\.2'"):
        edit_toml('[package]\nversion = "0.4.3"\n', [Edit(("package", "version"), "0.4.2", "0.5.0")], Path("C"))


def test_every_example_manifest_round_trips_through_a_bump(tmp_path: Path) -> None:
    # Only the version strings change; every other line of every manifest is byte-identical.
    from pipeline.release.levels import parse_target
    from pipeline.release.plan import make_plan
    from pipeline.workspace.load import load_workspace

    plan = make_plan(load_workspace(EXAMPLE), parse_target("minor"))
    by_file: dict[Path, list[Edit]] = {}
    for e in plan.edits:
        by_file.setdefault(e.file, []).append(Edit(e.path, e.old, e.new))
    assert len(by_file) == 4  # root, prism-io, prism-nhs, prism-physics
    for path, edits in by_file.items():
        old = path.read_bytes()
        new = edit_toml(old.decode(), edits, path).encode()
        for before, after in _changed_lines(old, new):
            assert b"version" in before or b"core-types" in before or b"prism-" in before
            # only the contents of a quoted string differ: keys, spacing and comments are identical
            assert re.sub(rb'"[^"]*"', b'""', before) == re.sub(rb'"[^"]*"', b'""', after)
            assert before.split(b"#")[1:] == after.split(b"#")[1:]


def test_lockfile_update_only_moves_members(tmp_path: Path) -> None:
    text = (
        "version = 3\n\n[[package]]\nname = \"a\"\nversion = \"0.4.2\"\ndependencies = [\n \"b 0.4.2\",\n"
        " \"serde\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.4.2\"\n\n[[package]]\nname = \"b\"\n"
        "version = \"0.4.2\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        "checksum = \"00\"\n"
    )
    out = update_lockfile(text, {"a": ("0.4.2", "0.5.0"), "b": ("0.4.2", "0.5.0")}, Path("Cargo.lock"))
    assert out == (
        text.replace('name = "a"\nversion = "0.4.2"', 'name = "a"\nversion = "0.5.0"')
        .replace('"b 0.4.2"', '"b 0.5.0"')
        .replace('name = "b"\nversion = "0.4.2"\n\n', 'name = "b"\nversion = "0.5.0"\n\n')
    )
    assert 'version = "0.4.2"\nsource = "registry' in out  # the registry `b` is untouched


def test_bump_execute_keeps_untouched_files_and_cargo_accepts_the_lock(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws", lockfile=True)
    before = snapshot(root)
    assert cli.main(["bump", "minor", "--execute", "--workspace", str(root)]) == 0
    after = snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {
        "Cargo.toml", "Cargo.lock", "crates/own/Cargo.toml", "crates/app/Cargo.toml", "crates/sub/Cargo.toml",
        "crates/ranged/Cargo.toml",  # its own version only: its range and `*` are left alone
    }
    assert after["crates/ranged/Cargo.toml"] == before["crates/ranged/Cargo.toml"].replace(b'"3.0.0"', b'"3.1.0"')
    assert set(after) == set(before)  # no stray temp files
    sub_before, sub_after = before["crates/sub/Cargo.toml"], after["crates/sub/Cargo.toml"]
    assert sub_after == sub_before.replace(b'"0.4.2"', b'"0.5.0"')
    assert sub_after.count(b"\r\n") == sub_before.count(b"\r\n")
    assert b'version = "0.5.0"  # lockstep' in after["Cargo.toml"]
    assert b'core = { path = "crates/core", version = "0.5.0" }  # shared line' in after["Cargo.toml"]
    # Cargo agrees with the edited lock, offline and without re-resolving.
    subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root, check=True,
                   capture_output=True)


def test_bump_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_shapes(tmp_path / "ws", lockfile=True)
    before = snapshot(root)
    assert cli.main(["bump", "minor", "--workspace", str(root)]) == 0
    out = capsys.readouterr().out
    assert snapshot(root) == before
    # (the old `... or ("core" in out and ...)` passed whatever line core was on)
    assert re.search(r"^  core +0\.4\.2 -> 0\.5\.0  \(selected\)$", out, re.MULTILINE), out
    assert "--- a/crates/app/Cargo.toml" in out and '+core-types = { package = "core"' in out
    assert "--- a/Cargo.lock" in out


def test_bump_execute_refuses_a_broken_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_shapes(tmp_path / "ws", lockfile=True)
    before = snapshot(root)
    assert cli.main(["bump", "major", "--execute", "--workspace", str(root)]) == 1
    err = capsys.readouterr().err
    assert "`>=0.4, <0.6`" in err and "no longer matches 1.0.0" in err and "hint:" in err
    assert snapshot(root) == before


# -- transactions ------------------------------------------------------------


def test_fault_after_some_files_leaves_the_tree_unchanged(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws", lockfile=True)
    before = snapshot(root)
    files = {root / name: data + b"# changed\n" for name, data in before.items() if name.endswith(".toml")}
    files[root / "NEW.md"] = b"new file\n"

    def fault(index: int, path: Path) -> None:
        if index == 4:  # four files already replaced
            raise OSError(28, "No space left on device", str(path))

    with pytest.raises(OperationFailed, match=r"No space left on device.*nothing was changed"):
        write_all(files, fault=fault)
    assert snapshot(root) == before
    assert not (root / "NEW.md").exists()


def test_failed_verification_rolls_back(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws")
    before = snapshot(root)

    def verify() -> None:
        raise OperationFailed("cargo disagrees", "fix it")

    with pytest.raises(OperationFailed, match="cargo disagrees"):
        write_all({root / "Cargo.toml": b"broken", root / "crates/core/Cargo.toml": b"x"}, verify=verify)
    assert snapshot(root) == before


def test_writes_keep_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text("old\n")
    path.chmod(0o751)
    write_all({path: b"new\n"})
    assert path.read_text() == "new\n" and (path.stat().st_mode & 0o777) == 0o751


def _string_paths(data: object, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            found.update(_string_paths(value, (*prefix, key)))
    elif isinstance(data, str):
        found[prefix] = data
    return found


def test_fast_scanner_finds_every_string_of_real_manifests(tmp_path: Path) -> None:
    # The fast path (not the tomlkit fallback) must handle every manifest shape we ship and generate.
    import tomllib

    from factory import make_workspace

    from pipeline.release.edit import _Scanner

    make_workspace(tmp_path / "gen", crates=30, lockfile=True)
    make_shapes(tmp_path / "shapes")
    manifests = [*EXAMPLE.rglob("Cargo.toml"), *(tmp_path / "gen").rglob("Cargo.toml"),
                 *(tmp_path / "shapes").rglob("Cargo.toml"), tmp_path / "gen" / "Cargo.lock"]
    for manifest in manifests:
        text = manifest.read_text()
        spans = _Scanner(text).scan()
        expected = _string_paths(tomllib.loads(text))
        got = {path: text[s + 1 : e - 1] for path, (s, e) in spans.items() if "[]" not in path}
        assert got == expected, manifest


def test_search_locator_finds_every_version_of_real_manifests(tmp_path: Path) -> None:
    # The cheapest path (searching for the old value) handles every version a bump edits in
    # the manifest shapes we ship and generate, at the same span as the full scanner.
    import tomllib

    from factory import make_workspace

    from pipeline.release.edit import _locate_by_search, _Scanner

    make_workspace(tmp_path / "gen", crates=30)
    make_shapes(tmp_path / "shapes")
    manifests = [*EXAMPLE.rglob("Cargo.toml"), *(tmp_path / "gen").rglob("Cargo.toml"),
                 *(tmp_path / "shapes").rglob("Cargo.toml")]
    checked = 0
    for manifest in manifests:
        text = manifest.read_text()
        versions = {p: v for p, v in _string_paths(tomllib.loads(text)).items() if p[-1] == "version"}
        edits = [Edit(path, old, old + "-next") for path, old in versions.items()]
        assert _locate_by_search(text, edits) == {p: s for p, s in _Scanner(text).scan().items() if p in versions}
        checked += len(edits)
    assert checked > 100


def test_a_fooled_search_is_caught_by_parsing_the_result() -> None:
    # The real version sits where the search cannot read its key path (after a nested inline
    # table); a look-alike inside a multi-line string is read as [package].version. The
    # re-parse sees the real key unchanged, and the file is edited by the slower paths instead.
    from pipeline.release.edit import _locate_by_search

    text = (
        'package = { name = "x", meta = { a = "b" }, version = "1.0.0" }\n'
        '[other]\ntext = """\n[package]\nversion = "1.0.0"\n"""\n'
    )
    edits = [Edit(("package", "version"), "1.0.0", "1.1.0")]
    fooled = _locate_by_search(text, edits)[("package", "version")]
    assert fooled[0] > text.index('"""')  # it did pick the look-alike
    out = edit_toml(text, edits, Path("Cargo.toml"))
    assert out == text.replace('version = "1.0.0" }', 'version = "1.1.0" }')


def test_fast_edits_match_tomlkit_byte_for_byte(tmp_path: Path) -> None:
    # Every version of every manifest shape, edited alone and all at once: the fast paths give
    # exactly the bytes tomlkit (the reference round-tripper) gives.
    import tomllib

    from factory import make_workspace

    from pipeline.release.edit import _tomlkit_edit

    make_workspace(tmp_path / "gen", crates=12)
    make_shapes(tmp_path / "shapes")
    manifests = [*EXAMPLE.rglob("Cargo.toml"), *(tmp_path / "gen").rglob("Cargo.toml"),
                 *(tmp_path / "shapes").rglob("Cargo.toml")]
    for manifest in manifests:
        text = manifest.read_text()
        versions = {p: v for p, v in _string_paths(tomllib.loads(text)).items() if p[-1] == "version"}
        edits = [Edit(path, old, f"{old}-next") for path, old in versions.items()]
        for edit in edits:
            assert edit_toml(text, [edit], manifest) == _tomlkit_edit(text, [edit]), (manifest, edit.path)
        if edits:
            assert edit_toml(text, edits, manifest) == _tomlkit_edit(text, edits), manifest
