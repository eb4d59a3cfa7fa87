"""How a release is shown: the plan text, the unified diffs, the JSON document.

Pure functions of the prepared release (and, after executing, of what the steps made).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.release.plan import rel_path
from pipeline.release.prepare import Prepared
from pipeline.release.request import Request

if TYPE_CHECKING:
    from pipeline.release import changelog as cl
    from pipeline.release.steps import Release


def unified_diffs(prepared: Prepared, root: Path) -> str:
    import difflib

    chunks = []
    for path, (old, new) in prepared.files.items():
        name = rel_path(path, root)
        old_lines = (old or b"").decode("utf-8").splitlines(keepends=True)
        new_lines = new.decode("utf-8").splitlines(keepends=True)
        diff = difflib.unified_diff(
            old_lines, new_lines, f"a/{name}" if old is not None else "/dev/null", f"b/{name}", n=2
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    return "".join(chunks)


def render_plan(prepared: Prepared, root: Path, req: Request) -> str:
    plan = prepared.plan
    what = "release" if req.full else "bump"
    mode = "executing" if req.execute else "dry run: nothing is written; add --execute to apply"
    out = [f"{what} plan for {root} ({plan.target}; {mode})", ""]
    if plan.shared:
        out.append(f"shared version: {plan.shared[0]} -> {plan.shared[1]}")
    width = max((len(c.crate) for c in plan.changes), default=0)
    for change in plan.changes:
        out.append(f"  {change.crate:<{width}}  {change.old} -> {change.new}  ({change.reason})")
    if not plan.changes:
        out.append("  no crate moves")
    for warning in prepared.warnings:
        out.append(f"warning: {warning}")
    for note in plan.notes:
        out.append(f"note: {note}")
    out.append("")
    if req.execute:
        # The diff was the dry run's job; an executing run lists what it writes.
        out += ["files:", *(f"  {rel_path(p, root)}" for p in prepared.files), ""]
    else:
        diffs = unified_diffs(prepared, root)
        if diffs:
            out += ["files:", diffs.rstrip("\n"), ""]
    if prepared.changelog_section is not None:
        out += ["changelog section:", prepared.changelog_section.rstrip("\n"), ""]
    if req.full:
        out.append("tags: " + (", ".join(prepared.tags) or "(none)"))
        subject, _, body = prepared.commit_message.partition("\n")
        out.append(f"commit: {subject}" + (f" (and {len(body.strip().splitlines())} lines below it)" if body.strip()
                                           else ""))
        if prepared.artifacts:
            out.append("artifacts: " + ", ".join(prepared.artifacts))
        if prepared.kernel_abi is not None:
            out += prepared.kernel_abi.lines()
        if prepared.rust_api is not None:
            out.append(prepared.rust_api.line())
        if prepared.publish is not None:
            out += prepared.publish.lines()
        if req.push:
            out.append("push: commit and tags, atomically")
    return "\n".join(out).rstrip("\n") + "\n"


def plan_json(prepared: Prepared, root: Path, req: Request, executed: bool) -> dict[str, Any]:
    plan = prepared.plan
    return {
        "executed": executed,
        "target": str(plan.target),
        "shared": {"old": str(plan.shared[0]), "new": str(plan.shared[1])} if plan.shared else None,
        "crates": [
            {"name": c.crate, "old": str(c.old), "new": str(c.new), "inherited": c.inherited, "reason": c.reason}
            for c in plan.changes
        ],
        "files": [rel_path(p, root) for p in prepared.files],
        "diff": unified_diffs(prepared, root),
        "tags": list(prepared.tags),
        "commit_message": prepared.commit_message if req.full else None,
        "changelog": prepared.changelog_section,
        "artifacts": list(prepared.artifacts),
        "warnings": list(prepared.warnings),
        "notes": list(plan.notes),
        "problems": [f.text for f in prepared.problems],
        "findings": [f.to_json() for f in prepared.problems],
        **({"kernel_abi": prepared.kernel_abi.to_json()} if prepared.kernel_abi is not None else {}),
        **({"rust_api": prepared.rust_api.to_json()} if prepared.rust_api is not None else {}),
        **({"publish": prepared.publish.to_json()} if prepared.publish is not None else {}),
    }


def executed_json(release: Release) -> dict[str, Any]:
    """The plan's JSON after --execute, with what the steps made (the commit, tags, artifacts)."""
    data = plan_json(release.prepared, release.facts.root, release.request, True)
    if release.gates is not None:
        data["gates"] = list(release.gates)
    if release.commit is not None:
        data["commit"] = release.commit.sha
        data["tags"] = list(release.tags)
    if release.artifacts is not None:
        data["artifacts"] = list(release.artifacts)
    if release.published is not None:
        data["published"] = dict(release.published)
    return data


def changelog_text(root: Path, changes: cl.Changes, level: str | None, today: str) -> str:
    """`pipeline changelog`: what is unreleased and the level `auto` would choose."""
    from pipeline.release import changelog as cl

    by_crate = changes.since_by_crate or {}
    others = {c: t for c, t in by_crate.items() if t != changes.since}
    if changes.since and not others:
        since = f"since {changes.since}"
    elif changes.since:
        untagged = sorted(c for c, t in others.items() if t is None)
        own = sorted({t for t in others.values() if t})
        since = f"since {changes.since}" + (" (" + ", ".join(
            ([f"own tags: {', '.join(own[:6])}" + (", ..." if len(own) > 6 else "")] if own else [])
            + ([f"never tagged: {', '.join(untagged)}"] if untagged else [])) + ")")
    elif by_crate and any(by_crate.values()):
        # Independent versions: each crate from its own tag.
        shown = sorted({t for t in by_crate.values() if t})
        untagged = sorted(c for c, t in by_crate.items() if t is None)
        since = "since each crate's own tag (" + ", ".join(shown[:6]) + (", ..." if len(shown) > 6 else "") + ")"
        if untagged:
            since += "; never tagged: " + ", ".join(untagged)
    else:
        since = "(no release tag yet: whole history)"
    body = cl.render_section("Unreleased", today, changes).split("\n", 2)[-1].rstrip("\n")
    return f"unreleased changes in {root} {since}; `auto` would choose: {level or 'nothing'}\n\n{body}\n"


def changelog_json(changes: cl.Changes, level: str | None) -> dict[str, object]:
    data = changes.to_json()
    data["level"] = level
    data["commits"] = len(changes.entries)
    return data
