"""Property-based tests (hypothesis): the manifest editor keeps every byte it does not mean to
change and changes exactly the intended values; the Cargo.lock parser reads back any lockfile
written in Cargo's formats; the config loader gives either a configuration or a located
ConfigError, never another exception."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import Pkg, render_lockfile

from pipeline.deps.lockfile import parse_lockfile
from pipeline.foundation.errors import ConfigError, ManifestError
from pipeline.project import load_config
from pipeline.release.edit import Edit, edit_toml
from pipeline.workspace.manifest import toml_loads

VERSION = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
                    st.integers(0, 30), st.integers(0, 30), st.integers(0, 30),
                    st.sampled_from(["", "alpha.1", "rc.2", "beta"]))
COMMENT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(
    lambda s: f"  # {s}" if s else "")
SPACE = st.sampled_from(["", " ", "  ", "\t"])
NEWLINE = st.sampled_from(["\n", "\r\n"])
QUOTE = st.sampled_from(['"', "'"])


@st.composite
def manifest(draw: st.DrawFn) -> tuple[str, dict[tuple[str, ...], str]]:
    """A Cargo.toml with versions in several shapes, odd spacing, comments, CRLF, quotes; and its versions."""
    nl = draw(NEWLINE)
    q = draw(QUOTE)
    versions: dict[tuple[str, ...], str] = {}
    out = []
    if draw(st.booleans()):
        out.append(f"# {draw(st.text(st.characters(blacklist_categories=('Cs', 'Cc')), max_size=20))}{nl}")
    v = draw(VERSION)
    versions[("package", "version")] = v
    out.append(f"[package]{nl}name = \"x\"{nl}version{draw(SPACE)}={draw(SPACE)}{q}{v}{q}{draw(COMMENT)}{nl}")
    out.append(f"edition = \"2021\"{nl}{nl}[dependencies]{nl}")
    for i in range(draw(st.integers(0, 4))):
        dv = draw(VERSION)
        name = f"dep{i}"
        shape = draw(st.sampled_from(["plain", "inline", "inline-path"]))
        if shape == "plain":
            out.append(f"{name} = {q}{dv}{q}{draw(COMMENT)}{nl}")
        elif shape == "inline":
            out.append(f"{name} = {{ version = {q}{dv}{q}, features = [\"a\"] }}{draw(COMMENT)}{nl}")
        else:
            out.append(f"{name} = {{ path = \"../{name}\",{draw(SPACE)}version = {q}{dv}{q} }}{nl}")
        versions[("dependencies", name) if shape == "plain" else ("dependencies", name, "version")] = dv
    if draw(st.booleans()):
        sub = draw(VERSION)
        out.append(f"{nl}[dependencies.sub]{nl}path = \"../sub\"{nl}version = {q}{sub}{q}{nl}")
        versions[("dependencies", "sub", "version")] = sub
    return "".join(out), versions


@settings(max_examples=150, deadline=None)
@given(manifest(), st.data())
def test_manifest_editor_changes_exactly_the_intended_values(doc: tuple[str, dict[tuple[str, ...], str]],
                                                            data: st.DataObject) -> None:
    text, versions = doc
    chosen = data.draw(st.lists(st.sampled_from(sorted(versions)), unique=True, min_size=1))
    edits = [Edit(path, versions[path], data.draw(VERSION)) for path in chosen]
    result = edit_toml(text, edits, Path("Cargo.toml"))
    before, after = toml_loads(text), toml_loads(result)
    for path, value in versions.items():
        node = after
        for part in path:
            node = node[part]
        wanted = next((e.new for e in edits if e.path == path), value)
        assert node == wanted, path
    # Nothing else changed: put the old values back into the parsed result and it is the original.
    for edit in edits:
        node = after
        for part in edit.path[:-1]:
            node = node[part]
        node[edit.path[-1]] = edit.old
    assert after == before
    # Byte for byte outside the edited values: undoing the edits gives back the exact text.
    undo = [Edit(e.path, e.new, e.old) for e in edits if e.new != e.old]
    assert edit_toml(result, undo, Path("Cargo.toml")) == text


@settings(max_examples=150, deadline=None)
@given(manifest())
def test_manifest_editor_without_edits_is_the_identity(doc: tuple[str, dict[tuple[str, ...], str]]) -> None:
    assert edit_toml(doc[0], [], Path("Cargo.toml")) == doc[0]


NAME = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)


@st.composite
def lock_packages(draw: st.DrawFn) -> list[Pkg]:
    names = draw(st.lists(NAME, min_size=1, max_size=6, unique=True))
    packages: list[Pkg] = []
    for name in names:
        for version in draw(st.lists(VERSION, min_size=1, max_size=2, unique=True)):
            local = draw(st.booleans())
            packages.append(Pkg(name, version, None if local else Pkg.__dataclass_fields__["source"].default))
    # Dependencies only on packages earlier in the list: any DAG of what exists.
    result = []
    for i, package in enumerate(packages):
        deps = draw(st.lists(st.sampled_from(packages[:i]), max_size=3, unique=True)) if i else []
        deps = [d for d in deps if d.name != package.name]
        result.append(Pkg(package.name, package.version, package.source,
                          tuple((d.name, d.version) for d in deps)))
    # Cargo never locks the same name and version from one source twice.
    return list({(p.name, p.version, p.source): p for p in result}.values())


@settings(max_examples=120, deadline=None)
@given(lock_packages(), st.sampled_from([1, 2, 3, 4]))
def test_lockfile_parser_reads_back_what_cargo_writes(packages: list[Pkg], fmt: int) -> None:
    text = render_lockfile(packages, fmt)
    lock = parse_lockfile(toml_loads(text), Path("Cargo.lock"))
    got = {(p.name, p.version, p.source): p for p in lock.packages}
    assert set(got) == {(p.name, p.version, p.source) for p in packages}
    for package in packages:
        entry = got[(package.name, package.version, package.source)]
        deps = {(lock.packages[i].name, lock.packages[i].version) for i in entry.dependencies}
        assert deps == set(package.deps)


CONFIG_KEYS = st.sampled_from(["features", "release", "cuda", "gpu", "ci", "dupes", "audit", "lint", "hooks",
                               "tag-prefix", "shared-tag", "gates", "architectures", "lease-dir", "unknown"])
CONFIG_VALUES = st.recursive(
    st.one_of(st.text(max_size=6), st.integers(-2, 5), st.booleans(), st.floats(allow_nan=False, width=32),
              st.sampled_from(["v{version}", "v{version}.lock", "sm_90", "/tmp/x", "deny", "../x"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(CONFIG_KEYS, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(CONFIG_VALUES, st.dictionaries(CONFIG_KEYS, CONFIG_VALUES, max_size=4)))
def test_config_loader_gives_a_config_or_a_located_config_error(raw: object) -> None:
    source = Path("/ws/Cargo.toml")
    try:
        config = load_config({"pipeline": raw}, source)
    except (ConfigError, ManifestError) as exc:
        assert exc.message.startswith(str(source)) and exc.exit_code == 2
    else:
        assert config is not None
