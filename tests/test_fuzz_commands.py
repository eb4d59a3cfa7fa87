"""Fuzz: generated TOML (mutations of a small valid workspace: values of every type in every place,
config keys, table headers, truncation, stray bytes) fed into every command that reads it, in
process. Every exit code is 0, 1 or 2: never 3, the "internal error" of a traceback."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_hardening_input import make_ws

from pipeline import cli

COMMANDS = (
    ["workspace", "--json"], ["lint"], ["dupes"], ["config"], ["bump", "patch"], ["generate", "--check"],
    ["audit", "--skip-python", "--db", "/nonexistent-advisory-db"], ["release", "patch"], ["changelog"],
)
FILES = ("Cargo.toml", "app/Cargo.toml", "Cargo.lock")
KEYS = ("package", "name", "version", "edition", "features", "dependencies", "dev-dependencies", "workspace",
        "members", "exclude", "metadata", "pipeline", "path", "optional", "default-features", "publish",
        "release", "tag-prefix", "shared-tag", "crate-tag", "gates", "cuda", "architectures", "gpu", "lease-dir",
        "ci", "dupes", "audit", "db", "lint", "hooks", "target", "build", "lib", "bin", "checksum", "source",
        "project-name", "dist-dir", "changelog", "allowed-branches", "multiple-versions", "skip", "x")
HEADERS = ("[workspace.metadata.pipeline]", "[workspace.metadata.pipeline.release]", "[package]",
           "[dependencies]", "[workspace.dependencies]", "[[package]]", "[workspace.metadata.pipeline.cuda]",
           "[features]", "[target.'cfg(unix)'.dependencies]", "[workspace]", "[[bin]]", "[lib]")

SCALARS = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\n\r'), max_size=8).map(
        lambda s: f'"{s}"'),
    st.sampled_from(['"0.1.0"', '"1.x"', '"../lib"', '"."', '"/"', '"v{version}.lock"', '"{version}"', '"*"',
                     '">= 1, < 2"', '"lib"', '"gpu"', '"../../x"', '""']),
    st.integers(-3, 100).map(str), st.sampled_from(["true", "false", "1.5", "inf", "nan", "1979-05-27"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(
            lambda kvs: "{ " + ", ".join(f'"{k}" = {v}' for k, v in dict(kvs).items()) + " }"),
    ),
    max_leaves=6,
)


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, str, int, str]:
    op = draw(st.sampled_from(["value", "key", "header", "truncate", "byte", "delete", "deep"]))
    payload = ""
    if op == "value":
        payload = draw(VALUES)
    elif op == "key":
        payload = f"{draw(st.sampled_from(KEYS))} = {draw(VALUES)}"
    elif op == "header":
        payload = draw(st.sampled_from(HEADERS))
    elif op == "byte":
        payload = draw(st.sampled_from(["\ufeff", "\x00", "\x1e", "é", "\udc80"[:0] + "\u2028", "[", "]", "=", '"']))
    return draw(st.sampled_from(FILES)), op, draw(st.integers(0, 10_000)), payload


def apply(ws: Path, file: str, op: str, where: int, payload: str) -> None:
    path = ws / file
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True) or [""]
    index = where % len(lines)
    if op == "value":
        line = lines[index]
        if "=" in line:
            lines[index] = line.split("=", 1)[0] + "= " + payload + "\n"
        else:
            lines.insert(index, f"version = {payload}\n")
    elif op in ("key", "header"):
        lines.insert(index, payload + "\n")
    elif op == "truncate":
        path.write_text(text[: where % (len(text) + 1)], encoding="utf-8")
        return
    elif op == "byte":
        position = where % (len(text) + 1)
        path.write_text(text[:position] + payload + text[position:], encoding="utf-8")
        return
    elif op == "delete":
        del lines[index]
    elif op == "deep":
        lines.insert(index, "deep = " + "[" * 500 + "]" * 500 + "\n")
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ws(tmp_path_factory.mktemp("fuzz") / "ws")


# CI replays a fixed sequence (a red CI must be reproducible); a local run explores new inputs each time.
@settings(max_examples=50, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(mutation(), min_size=1, max_size=3))
def test_generated_toml_never_crashes_a_command(base: Path, capsys: pytest.CaptureFixture[str],
                                                mutations: list[tuple[str, str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(base, ws)
        for file, op, where, payload in mutations:
            apply(ws, file, op, where, payload)
        for command in COMMANDS:
            code = cli.main(["--workspace", str(ws), *command])
            _, err = capsys.readouterr()
            assert code in (0, 1, 2), f"{command}: exit {code}\n{err[-3000:]}"
            assert "Traceback" not in err, f"{command}:\n{err[-3000:]}"


def test_a_lockfile_package_name_that_is_not_a_string_is_a_located_error(tmp_path: Path, capsys) -> None:
    """Found by the fuzz test: `bump` used to exit 3 (TypeError) on `name = ["a"]` in Cargo.lock."""
    from pipeline import cli

    (tmp_path / "a" / "src").mkdir(parents=True)
    (tmp_path / "a" / "src" / "lib.rs").write_text("")
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = ["a"]\nresolver = "2"\n')
    (tmp_path / "a" / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n')
    lock = tmp_path / "Cargo.lock"
    lock.write_text('version = 4\n\n[[package]]\nname = ["a"]\nversion = "0.1.0"\n')
    before = lock.read_bytes()
    code = cli.main(["bump", "patch", "--execute", "--workspace", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Cargo.lock" in err and "not a string" in err and "hint:" in err
    assert lock.read_bytes() == before and b'version = "0.1.0"' in (tmp_path / "a" / "Cargo.toml").read_bytes()
