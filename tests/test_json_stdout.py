"""With --json, stdout carries exactly one JSON document, for every command that has --json;
and a fresh release on a machine without pip-audit or nvcc skips those gates (or, with
--require-gates, fails naming the missing tool)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, REPO_ROOT
from deps_support import Adv, write_advisory_db
from factory import init_git

from pipeline import cli
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation.errors import ToolMissing

pytestmark = pytest.mark.slow


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def example(tmp_path: Path, shared_target_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "prism4d"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist"))
    init_git(root)
    monkeypatch.setenv("PRISM_NO_CUDA", "1")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(shared_target_dir))
    monkeypatch.setenv("CARGO_TERM_COLOR", "never")
    monkeypatch.delenv("PIPELINE_WORKSPACE", raising=False)
    return root


def _has_nvcc() -> bool:
    try:
        find_cuda_tool("nvcc")
    except ToolMissing:
        return False
    return True


def test_every_json_command_prints_one_document(
    example: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A RustSec database with one advisory for a crate the example does not use: a real audit, no finding.
    db = write_advisory_db(tmp_path / "advisory-db", [Adv("RUSTSEC-2024-0001", "not-used-here", ("1.0.0",))])
    (example / "crates" / "prism-io" / "src" / "lib.rs").open("a").write("// io fix\n")
    _git(example, "commit", "-qam", "fix(io): a fix")
    ws = ["--workspace", str(example)]
    commands: list[list[str]] = [
        ["workspace", "--json"],
        ["lint", "--json"],
        ["dupes", "--json"],
        ["audit", "--json", "--db", str(db), "--skip-python"],  # no network for pip-audit here
        ["doctor", "--json"],
        ["config", "--json"],
        ["changelog", "--json"],
        ["affected", "--base", "HEAD~1", "--json"],
        ["bump", "patch", "--json"],
        ["release", "patch", "--json"],
        ["generate", "--json"],
        ["generate", "--check", "--json"],
        ["gpu", "info", "--json"],
        ["runner", "check", "--json"],
        ["runner", "setup", "--check", "--json"],
        ["profile", "--json", "--gpus", "0", "--", "true"],
    ]
    if _has_nvcc():
        commands.append(["cuda", "--json"])
    # Every command with --json is here (a new one must be added).
    with_json = {name for name, (module, _help) in cli.COMMANDS.items()
                 if '"--json"' in Path(REPO_ROOT, *module.split(".")).with_suffix(".py").read_text()}
    assert with_json - {"cuda", "gpu"} <= {c[0] for c in commands}, with_json
    for argv in commands:
        code = cli.main([*argv, *ws])
        out, err = capfd.readouterr()
        assert code in (0, 1), (argv, code, err[-2000:])
        try:
            json.loads(out)
        except ValueError as exc:
            raise AssertionError(f"`pipeline {' '.join(argv)}` stdout is not one JSON document: {out[:500]!r}") from exc
        if code:
            # a report of what is missing here (runner: this machine is no GPU runner)
            assert argv[0] in ("doctor", "gpu", "runner"), (argv, err[-2000:])


# Hide pip-audit (an importable module here) and the CUDA toolkit's default directory from the
# pipeline, then run the CLI as a user would.
_BOOTSTRAP = (
    "import sys; sys.modules['pip_audit'] = None\n"
    "from pathlib import Path\nimport pipeline.cuda.toolkit as toolkit\n"
    "toolkit.DEFAULT_CUDA_BIN = Path('/nonexistent/cuda/bin')\n"
    "from pipeline import cli\nsys.exit(cli.main(sys.argv[1:]))\n"
)


def _fresh_machine_env() -> dict[str, str]:
    cargo = shutil.which("cargo")
    assert cargo, "the test machine needs cargo"
    path = os.pathsep.join(dict.fromkeys([str(Path(cargo).parent), "/usr/bin", "/bin"]))
    if shutil.which("nvcc", path=path):
        pytest.skip(f"nvcc is in {path}: cannot make a machine without it")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_PATH", "PIPELINE_WORKSPACE")}
    env.update(PATH=path, PYTHONPATH=str(REPO_ROOT))
    return env


def test_fresh_release_without_pip_audit_or_nvcc(example: Path) -> None:
    (example / "requirements.txt").write_text("requests==2.32.3\n")  # a Python half to audit
    (example / "crates" / "prism-io" / "src" / "lib.rs").open("a").write("// io fix\n")
    _git(example, "add", "-A")
    _git(example, "commit", "-qm", "fix(io): a fix")
    env = _fresh_machine_env()

    def release(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _BOOTSTRAP, "release", "patch", "--execute", *args,
                               "--workspace", str(example)], env=env, capture_output=True, text=True, check=False)

    head = _git(example, "rev-parse", "HEAD")
    required = release("--require-gates", "--json")
    assert required.returncode == 1, required.stderr[-3000:]
    assert "release: gate audit: failed: pip-audit not installed" in required.stderr
    assert "hint: install the audit extra" in required.stderr and "pip-audit" in required.stderr
    assert required.stdout == ""  # failed before the plan's JSON: nothing on stdout
    assert _git(example, "rev-parse", "HEAD") == head  # nothing written

    done = release("--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "release: gate audit: skipped: pip-audit not installed" in done.stderr
    assert "release: gate cuda: skipped: nvcc not installed" in done.stderr
    assert "release: gate test: passed" in done.stderr
    assert "test result: ok" in done.stderr  # cargo test's report went to stderr ...
    data = json.loads(done.stdout)  # ... and stdout is the one JSON document
    gates = {g["stage"]: g["status"] for g in data["gates"]}
    assert gates == {"fmt": "passed", "clippy": "passed", "lint": "passed", "dupes": "passed",
                     "audit": "skipped", "test": "passed", "cuda": "skipped"}
    assert _git(example, "tag", "-l", "prism4d-v0.4.3").strip() == "prism4d-v0.4.3"
    # `python -m json.tool` accepts it, as the issue asks.
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=done.stdout, capture_output=True, text=True)
    assert tool.returncode == 0, tool.stderr
