"""The reliability review's table (issue 16), counted again: tried, handled, wrong, per class.

Three kinds of count, each said in its row:

* **bad input**: a real attack loop. Each case damages a small valid workspace (the cargo-refused
  shapes of ``tests/test_hardening_input.py``, the review's exit-3 list, and seeded random mutations:
  values of the wrong type, stray bytes, truncation, deleted and duplicated lines, hostile
  configuration keys) and runs 7 commands on it in process. A case is *wrong* when a command exits 3,
  when cargo (``cargo metadata --offline --locked``, the baseline, run on the same case) refuses the
  workspace and no command refuses it (exit 2), when cargo accepts a workspace whose manifests we
  refuse (configuration keys aside: cargo ignores ``[workspace.metadata]``), or when a refusal names
  no file of the case.
* **atomicity (random kills)**: ``bench/bench_release_kill.py`` (SIGKILL at a random moment, then
  ``--resume`` and ``--abort``), KILLS kills.
* **the other classes**: the attack tests of that class, run with pytest: each test case is one
  attack scenario (handled = passed, wrong = failed; skipped ones are listed apart).

    python bench/bench_reliability.py [--mutations N] [--kills N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO_ROOT, table
from test_hardening_input import LOCK, SHAPES, make_ws

from pipeline import cli

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("workspace", "--json"), ("lint",), ("dupes",), ("bump", "patch"), ("release", "patch"), ("changelog",),
    ("generate", "--check"),
)
HOSTILE_VALUES = ('5', '"x"', '[1, "a"]', '{ a = 1 }', 'true', '1979-05-27', '""', '"../../x"', 'inf', '-1',
                  '"1.x"', '"v{version}.lock"', '[[]]', '{ path = 5 }', '"\\u0000"', '"*"', '1.5')
CONFIG_SECTIONS = ("", ".release", ".hooks", ".cuda", ".gpu", ".ci", ".dupes", ".audit", ".lint")
CONFIG_KEYS = ("gates", "tag-prefix", "project-name", "dist-dir", "architectures", "lease-dir", "run-fmt",
               "default-branch", "skip", "db", "x", "shared-tag", "ignore", "jobs", "labels")
STRAY = ("\x00", "\xff", "[", "=", '"', "\n[", "]]", "\\", "\ufeff", "'''")


@dataclass
class Case:
    name: str
    files: dict[str, str | None]  # relative path -> text (None: a directory in the file's place)
    config: bool = False  # damage inside [workspace.metadata.pipeline]: cargo's verdict does not apply
    extra: dict[str, str] = field(default_factory=dict)  # files beside the workspace (outside its root)


def base_files() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_ws(Path(tmp) / "ws")
        return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def named_cases(base: dict[str, str]) -> list[Case]:
    cases = []
    for shape, (kwargs, _named, _cmd) in sorted(SHAPES.items()):
        files = dict(base)
        if "lock" in kwargs:
            files["Cargo.lock"] = kwargs["lock"]
        if "app" in kwargs:
            files["app/Cargo.toml"] = kwargs["app"]
        if "root_manifest" in kwargs:
            files["Cargo.toml"] = kwargs["root_manifest"]
        cases.append(Case(f"shape:{shape}", files))
    root = base["Cargo.toml"]
    app = base["app/Cargo.toml"]
    cases += [
        Case("metadata.pipeline-not-a-table", {**base, "Cargo.toml": root + "\n[workspace.metadata]\npipeline = 5\n"},
             config=True),
        Case("member-outside-root", {**base, "Cargo.toml": root.replace('"lib"]', '"lib", "../outside"]')},
             extra={"outside/Cargo.toml": '[package]\nname = "outside"\nversion = "0.1.0"\nedition = "2021"\n',
                    "outside/src/lib.rs": ""}),
        Case("deep-nesting", {**base, "app/Cargo.toml": app + "\n[package.metadata]\nx = " + "[" * 600 + "]" * 600
                              + "\n"}),
        Case("directory-in-place-of-a-manifest", {**base, "app/Cargo.toml": None}),
        Case("byte-order-mark", {**base, "Cargo.toml": "\ufeff" + root}),
        Case("truncated-in-a-string", {**base, "Cargo.toml": root[: root.index('"2"') + 1]}),
        Case("lock-package-not-an-array", {**base, "Cargo.lock": "version = 4\npackage = 1\n"}),
        Case("lock-empty", {**base, "Cargo.lock": ""}),
        Case("lock-dangling-dependency", {**base, "Cargo.lock": LOCK.replace('"lib",', '"nope",')}),
        Case("root-empty", {**base, "Cargo.toml": ""}),
    ]
    return cases


def mutated_cases(base: dict[str, str], count: int, rng: random.Random) -> list[Case]:
    cases = []
    for i in range(count):
        path = rng.choice(["Cargo.toml", "app/Cargo.toml", "Cargo.lock"])
        text = base[path]
        lines = text.splitlines(keepends=True)
        op = rng.choice(["value", "value", "config", "config", "truncate", "byte", "delete", "duplicate"])
        config = False
        if op == "value":
            assigned = [n for n, line in enumerate(lines) if "=" in line and not line.startswith("#")]
            n = rng.choice(assigned)
            key = lines[n].split("=", 1)[0]
            lines[n] = f"{key}= {rng.choice(HOSTILE_VALUES)}\n"
            text = "".join(lines)
        elif op == "config":
            path, config = "Cargo.toml", True
            section = rng.choice(CONFIG_SECTIONS)
            text = (base[path] + f"\n[workspace.metadata.pipeline{section}]\n"
                    f"{rng.choice(CONFIG_KEYS)} = {rng.choice(HOSTILE_VALUES)}\n")
        elif op == "truncate":
            text = text[: rng.randrange(1, len(text))]
        elif op == "byte":
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(STRAY) + text[at:]
        elif op == "delete":
            del lines[rng.randrange(len(lines))]
            text = "".join(lines)
        else:
            n = rng.randrange(len(lines))
            lines.insert(n, lines[n])
            text = "".join(lines)
        cases.append(Case(f"mutation-{i}:{op}:{path}", {**base, path: text}, config=config))
    return cases


def write_case(case: Case, directory: Path) -> Path:
    root = directory / "ws"
    for rel, text in case.files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            target.mkdir()
        else:
            target.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    for rel, text in case.extra.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def run_command(root: Path, argv: tuple[str, ...]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["--workspace", str(root), *argv])
    return code, err.getvalue()


# cargo's verdict offline: a registry dependency it cannot look up is no verdict on the manifest.
OFFLINE = ("location searched: crates.io index", "attempting to make an HTTP request")


def cargo_verdict(root: Path) -> bool | None:
    """True: cargo accepts the workspace; False: it refuses it; None: it needs the network to say."""
    result = subprocess.run(["cargo", "metadata", "--format-version", "1", "--offline", "--locked"], cwd=root,
                            capture_output=True, text=True)
    if result.returncode == 0:
        return True
    return None if any(marker in result.stderr for marker in OFFLINE) else False


def bad_input(mutations: int, seed: int) -> tuple[int, int, list[str], int]:
    base = base_files()
    cases = named_cases(base) + mutated_cases(base, mutations, random.Random(seed))
    wrong: list[str] = []
    offline = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(cases):
            directory = Path(tmp) / f"c{index}"
            root = write_case(case, directory)
            cargo_ok = cargo_verdict(root)
            if cargo_ok is None:
                offline += 1
            results = {argv: run_command(root, argv) for argv in COMMANDS}
            problems = [f"`{' '.join(argv)}` exit 3" for argv, (code, _) in results.items() if code == 3]
            refusals = {argv: err for argv, (code, err) in results.items() if code == 2}
            unlocated = [argv for argv, err in refusals.items() if str(directory) not in err]
            problems += [f"`{' '.join(argv)}` refused naming no file" for argv in unlocated]
            if not case.config:
                if cargo_ok is False and not refusals:
                    problems.append("cargo refuses it, every command accepted it")
                if cargo_ok is True and results[("workspace", "--json")][0] == 2:
                    first = results[("workspace", "--json")][1].strip().splitlines()[0]
                    problems.append(f"cargo accepts it, `workspace` refused: {first[:160]}")
            if problems:
                wrong.append(f"{case.name}: {'; '.join(problems)}")
            shutil.rmtree(directory, ignore_errors=True)
    return len(cases), len(cases) - len(wrong), wrong, offline


def kills(count: int) -> tuple[int, int, str]:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "bench_release_kill.py"), str(count)],
                            capture_output=True, text=True)
    out = result.stdout
    killed = re.search(r"^\s*kills\s+(\d+)", out, re.MULTILINE)
    bad = re.search(r"^\s*inconsistent end states\s+(\d+)", out, re.MULTILINE)
    if killed is None or bad is None:
        raise SystemExit(f"bench_release_kill.py gave no counts (exit {result.returncode}):\n"
                         f"{out[-2000:]}{result.stderr[-2000:]}")
    return int(killed.group(1)), int(bad.group(1)), out


# class -> (pytest node ids or files, pytest -k expression or "")
TEST_CLASSES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("atomicity (exact-point kills, disk full, unwritable)", ("tests/test_release_journal.py",), ""),
    ("concurrency", ("tests/test_gpu_leases.py", "tests/test_release_flow.py", "tests/test_foundation_fs.py"),
     "concurren or lease or lock or killed or busy or wait"),
    ("injection (CI values, tags, git log, artifact paths)",
     ("tests/test_ci_render.py", "tests/test_hardening_git.py", "tests/test_hardening_artifacts.py"),
     "hostile or inject or refus or quote or fork or tag or log or dist or project_name or symlink"),
    ("pre-push hook", ("tests/test_hardening_hook.py", "tests/test_hooks_pushed_commit.py",
                       "tests/test_hooks_push.py"), ""),
    ("audit fail-closed", ("tests/test_hardening_audit.py",), ""),
    ("hostile local user (leases, artifacts; real uids)", ("tests/test_hostile_users.py",
                                                           "tests/test_hardening_leases.py"), ""),
    ("secrets / CI security (validators, zizmor)", ("tests/test_ci_validators.py",), ""),
)


def pytest_counts(paths: tuple[str, ...], expression: str) -> tuple[int, int, int, list[str]]:
    """(tried, passed, skipped, failed node names) of the selected tests."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *paths]
        if expression:
            argv += ["-k", expression]
        subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
        if not report.exists():
            raise SystemExit(f"pytest wrote no report for {paths}")
        tried = passed = skipped = 0
        failed: list[str] = []
        for case in ET.parse(report).getroot().iter("testcase"):
            tried += 1
            if case.find("skipped") is not None:
                skipped += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                failed.append(f"{case.get('classname')}::{case.get('name')}")
            else:
                passed += 1
        return tried, passed, skipped, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=80, help="seeded random mutations (default 80)")
    parser.add_argument("--kills", type=int, default=20, help="random SIGKILLs of a release (default 20)")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("CARGO_TERM_COLOR", "never")

    rows = [("class", "tried / handled / wrong", "what was counted")]
    notes: list[str] = []
    tried, handled, wrong, offline = bad_input(args.mutations, args.seed)
    rows.append(("bad input (x 7 commands)", f"{tried} / {handled} / {len(wrong)}",
                 f"cases: {tried - args.mutations} named + {args.mutations} mutations (seed {args.seed}); "
                 f"cargo metadata --locked as the baseline ({offline} need the registry: crash/location only)"))
    notes += [f"bad input: {w}" for w in wrong]
    killed, inconsistent, _ = kills(args.kills)
    rows.append(("atomicity (random kill -9)", f"{killed} / {killed - inconsistent} / {inconsistent}",
                 "bench_release_kill.py: --resume and --abort after each kill"))
    for name, paths, expression in TEST_CLASSES:
        count, passed, skipped, failed = pytest_counts(paths, expression)
        rows.append((name, f"{count - skipped} / {passed} / {len(failed)}",
                     f"attack tests ({skipped} skipped)" if skipped else "attack tests"))
        notes += [f"{name}: FAILED {node}" for node in failed]
    table("reliability review, counted again (tried / handled / wrong)", rows)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
