"""Tags and git: tag templates checked with git's ref-name rules when the configuration is read, and
`git log` parsed with NUL-separated fields so no byte of a commit message makes a changelog entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import cli
from pipeline.foundation.git import parse_log_records, ref_format_problem
from pipeline.release import unreleased

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git_accepts(name: str) -> bool:
    return subprocess.run(["git", "check-ref-format", f"refs/tags/{name}"], capture_output=True).returncode == 0


@pytest.mark.parametrize("template", ["v{version}.lock", "v{version}/", "v{version}.", "v{version} x",
                                      "v{version}..x", ".v{version}", "v{version}@{x}", "a//v{version}",
                                      "v{version}:x", "v{version}~1", "{crate}/.v{version}"])
def test_a_tag_template_git_refuses_is_a_config_error_with_an_example(
    template: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "crate-tag" if "{crate}" in template else "shared-tag"
    root = tmp_path / "ws"
    (root / "a" / "src").mkdir(parents=True)
    (root / "a" / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "a" / "src" / "lib.rs").write_text("")
    (root / "Cargo.toml").write_text(f'[workspace]\nmembers = ["a"]\n\n[workspace.metadata.pipeline.release]\n'
                                     f'{key} = "{template}"\n')
    code = cli.main(["--workspace", str(root), "config"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{root / 'Cargo.toml'}:5:1: " in err and f"`{key}`" in err and "makes tags git refuses: e.g. '" in err
    example = err.split("e.g. '", 1)[1].split("'", 1)[0]
    assert not git_accepts(example), example  # the example shown really is one git refuses


@pytest.mark.parametrize("template", ["v{version}", "release-{version}", "{crate}/v{version}", "{crate}@v{version}"])
def test_templates_git_accepts_pass(template: str) -> None:
    from pipeline.release.settings import ReleaseSettings

    if "{crate}" in template:
        ReleaseSettings(crate_tag=template)
    else:
        ReleaseSettings(shared_tag=template)


REF_CHARS = st.sampled_from([*"av0.-_/@{}~^:?*[\\ .lock", "\x01", "\x7f", "é"])


@settings(max_examples=150, deadline=None)
@given(st.lists(REF_CHARS, min_size=1, max_size=12).map("".join))
def test_ref_rules_agree_with_git_check_ref_format(name: str) -> None:
    if name.startswith("-") or name == "@":
        # git accepts refs/tags/-x and refs/tags/@; we refuse a tag git would read as an option or as HEAD
        assert ref_format_problem(name) is not None
        return
    assert (ref_format_problem(name) is None) == git_accepts(name), name


# --- git log ---------------------------------------------------------------------------------------


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=GIT_ENV)
    return repo


def _commit(repo: Path, message: str, name: str) -> None:
    (repo / name).write_text(message[:10])
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=GIT_ENV)
    subprocess.run(["git", "commit", "-q", "--allow-empty-message", "-F", "-"], cwd=repo, check=True, env=GIT_ENV,
                   input=message.encode())


HOSTILE = ("fix: real one\n\nbody\x1e" + "0" * 40 + "\x1ffeat!: injected breaking change\x1f\x1f\nx\n"
           "\x1e\x1f\x1f\x1f feat: more\n")


def test_separator_bytes_in_a_commit_body_make_no_extra_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "feat: first", "a.txt")
    _commit(repo, HOSTILE, "b.txt")
    out = subprocess.run(["git", "log", f"--format={unreleased.LOG_FORMAT}", "--name-only", "HEAD"], cwd=repo,
                         capture_output=True, text=True, check=True).stdout
    records = parse_log_records(out)
    assert [r[1] for r in records] == ["fix: real one", "feat: first"]
    assert "injected" in records[0][2]
    commits = unreleased.parse_log(out, "", unreleased.Attributor({}))
    assert [c.subject for c in commits] == ["fix: real one", "feat: first"]
    assert [c.files for c in commits] == [("b.txt",), ("a.txt",)]


MESSAGE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(MESSAGE, MESSAGE, st.lists(st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6})?", fullmatch=True),
                                                     max_size=3)), min_size=1, max_size=5),
       st.integers(min_value=1, max_value=40))
def test_git_log_parser_round_trips_any_message(commits: list[tuple[str, str, list[str]]], chunk: int) -> None:
    # What git prints for --format=LOG_FORMAT --name-only, built by hand: every message survives
    # whole, in any streaming chunk size.
    text = ""
    expected = []
    for index, (subject, body, files) in enumerate(commits):
        sha = f"{index:040d}"
        subject = subject.replace("\n", " ")
        text += f"\x00{sha}\x00{subject}\x00{body}\x00" + ("\n\n" + "\n".join(files) + "\n" if files else "\n")
        expected.append((sha, subject, body, tuple(files)))
    assert [(s, subj, b) for s, subj, b, _ in parse_log_records(text)] == [e[:3] for e in expected]
    pieces = [text[i:i + chunk] for i in range(0, len(text), chunk)]
    parsed = list(unreleased.parse_records(unreleased.stream_records(pieces), "", unreleased.Attributor({})))
    assert [(c.sha, c.subject, c.files) for c in parsed] == [(e[0], e[1].strip(), e[3]) for e in expected]
    assert [c.body for c in parsed] == [e[2].strip() for e in expected]
