"""Benchmark of the pre-push hook on a generated 30-crate workspace, in one run.

Prints:
  * the hook on a docs-only push (target: under 0.5 s), next to a bare `python -c pass`
    and a `git push --no-verify` of the same kind;
  * the hook on a one-leaf-crate change (fmt + clippy on the affected crate) against a
    full-workspace `cargo clippy --workspace --all-targets -- -D warnings`, with a warm
    target directory (the everyday case) and a cold one (fresh clone, fresh target).

Run: python bench/bench_hooks.py [--crates N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from factory import crate_name, init_git, make_workspace  # noqa: E402


def env(**extra: str) -> dict[str, str]:
    result = dict(os.environ)
    result["PYTHONPATH"] = str(ROOT)
    result["CARGO_TERM_COLOR"] = "never"
    result.pop("PIPELINE_WORKSPACE", None)
    result.update(extra)
    return result


def run(argv: list[str], cwd: Path, *, stdin: str | None = None, check: bool = True, **extra: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True, env=env(**extra))
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env()).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def edit_leaf(repo: Path, leaf: str, n: int) -> None:
    lib = repo / "crates" / leaf / "src" / "lib.rs"
    lib.write_text(lib.read_text() + f"\npub fn bench_{n}() -> u32 {{\n    {n}\n}}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crates", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp_name:
        tmp = Path(tmp_name)
        origin = tmp / "origin"
        make_workspace(origin, args.crates)
        # A shallow leaf next to the generated layers: it depends on the bottom crate only, so its
        # dependency cone is 2 crates (the generated top crate depends, through its chain, on all).
        shallow = origin / "crates" / "bench-leaf"
        (shallow / "src").mkdir(parents=True)
        (shallow / "Cargo.toml").write_text(
            '[package]\nname = "bench-leaf"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
            f'[dependencies]\n{crate_name(0)} = {{ path = "../{crate_name(0)}" }}\n'
        )
        (shallow / "src" / "lib.rs").write_text("pub fn id() -> &'static str {\n    \"bench-leaf\"\n}\n")
        init_git(origin)
        remote = tmp / "remote.git"
        git(tmp, "clone", "-q", "--bare", str(origin), str(remote))
        work = tmp / "work"
        git(tmp, "clone", "-q", str(remote), str(work))
        git(work, "config", "user.email", "bench@example.com")
        git(work, "config", "user.name", "Bench")
        run([sys.executable, "-m", "pipeline", "--workspace", str(work), "hooks", "install"], work)
        hook = work / ".git" / "hooks" / "pre-push"
        leaf = crate_name(args.crates - 1)  # top layer: no other crate depends on it

        rows: list[tuple[str, float, str]] = []

        # -- docs-only push ------------------------------------------------------
        python_times = [run([sys.executable, "-c", "pass"], work) for _ in range(args.repeat)]
        hook_docs, push_plain, push_hooked = [], [], []
        for i in range(args.repeat):
            base = git(work, "rev-parse", "HEAD")
            (work / "NOTES.md").write_text(f"notes {i}\n")
            head = commit(work, f"docs {i}")
            line = f"refs/heads/main {head} refs/heads/main {base}\n"
            hook_docs.append(run([str(hook), "origin", str(remote)], work, stdin=line))
            push_hooked.append(run(["git", "push", "-q", "origin", "main"], work))
            (work / "NOTES.md").write_text(f"notes {i} again\n")
            commit(work, f"docs {i} again")
            push_plain.append(run(["git", "push", "-q", "--no-verify", "origin", "main"], work))
        docs = statistics.median(hook_docs)
        rows.append(("python -c pass (interpreter start)", statistics.median(python_times), "baseline"))
        rows.append(("hook alone, docs-only push", docs, "target < 0.5 s: " + ("met" if docs < 0.5 else "MISSED")))
        rows.append(("git push --no-verify, docs-only", statistics.median(push_plain), "baseline"))
        rows.append(("git push with hook, docs-only", statistics.median(push_hooked),
                     f"x{statistics.median(push_hooked) / statistics.median(push_plain):.2f} of --no-verify"))

        # -- one leaf crate changed: warm target ------------------------------------
        full = ["cargo", "clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]
        run(full, work)  # warm the target directory, as on a developer's machine
        hook_warm, full_warm = [], []
        for i in range(args.repeat):
            base = git(work, "rev-parse", "HEAD")
            edit_leaf(work, leaf, 2 * i)
            head = commit(work, f"leaf {i}")
            hook_warm.append(run([str(hook), "origin", str(remote)], work,
                                 stdin=f"refs/heads/main {head} refs/heads/main {base}\n"))
            edit_leaf(work, leaf, 2 * i + 1)  # the baseline gets its own change to recheck
            commit(work, f"leaf {i} again")
            full_warm.append(run(full, work))
        hw, fw = statistics.median(hook_warm), statistics.median(full_warm)
        rows.append(("full cargo clippy --workspace, warm, 1 leaf changed", fw, "baseline"))
        rows.append((f"hook (fmt + clippy -p {leaf}), warm", hw, f"ratio hook/full = {hw / fw:.2f}"))

        # -- one leaf crate changed: cold target (fresh target directories) -----------
        for name in (leaf, "bench-leaf"):
            base = git(work, "rev-parse", "HEAD")
            edit_leaf(work, name, 1000)
            head = commit(work, f"{name} cold")
            cold_hook = run([str(hook), "origin", str(remote)], work,
                            stdin=f"refs/heads/main {head} refs/heads/main {base}\n",
                            CARGO_TARGET_DIR=str(tmp / f"target-cold-hook-{name}"))
            cold_full = run(full, work, CARGO_TARGET_DIR=str(tmp / f"target-cold-full-{name}"))
            rows.append((f"full cargo clippy --workspace, cold target, {name} changed", cold_full, "baseline"))
            rows.append((f"hook (clippy -p {name}), cold target", cold_hook,
                         f"ratio hook/full = {cold_hook / cold_full:.2f}"))

        # -- one core crate changed: every crate is affected, for contrast ------------
        core_lib = work / "crates" / crate_name(0) / "src" / "lib.rs"
        base = git(work, "rev-parse", "HEAD")
        core_lib.write_text(core_lib.read_text() + "\npub fn core_change() -> u8 {\n    0\n}\n")
        head = commit(work, "core change")
        core_hook = run([str(hook), "origin", str(remote)], work,
                        stdin=f"refs/heads/main {head} refs/heads/main {base}\n")
        core_lib.write_text(core_lib.read_text() + "\npub fn core_change_again() -> u8 {\n    0\n}\n")
        commit(work, "core change again")
        core_full = run(full, work)
        rows.append((f"full cargo clippy --workspace, warm, core {crate_name(0)} changed", core_full, "baseline"))
        rows.append(("hook, warm, core changed (all crates affected)", core_hook,
                     f"ratio hook/full = {core_hook / core_full:.2f}"))

    width = max(len(r[0]) for r in rows)
    print(f"bench_hooks: {args.crates}-crate generated workspace, median of {args.repeat} where repeated")
    print(f"{'case':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:>8.3f}  {note}")


if __name__ == "__main__":
    main()
