"""Keeps the README's generated blocks current: the configuration reference (from the dataclasses'
documentation) and the stage table (from the stage registry)."""

from __future__ import annotations

from pathlib import Path

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
STAGES_START = "<!-- stage-table:start -->"
STAGES_END = "<!-- stage-table:end -->"


def render_reference_block(readme_text: str, table: str, start_mark: str = START, end_mark: str = END) -> str:
    start = readme_text.index(start_mark) + len(start_mark)
    end = readme_text.index(end_mark)
    return readme_text[:start] + "\n" + table + "\n" + readme_text[end:]


def stage_table() -> str:
    """One row per registry stage: what runs it, whether it gates a release, and what happens when
    a tool or data it needs is missing."""
    from pipeline.stages import registry

    rows = [
        "| stage | runs | release gate by default | tool or data missing (as a gate) | needs | runner | nox session |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage in registry.stages():
        needs = ", ".join(f"`{n.name}`" for n in stage.needs) or "-"
        if stage.extras:
            needs += " (extra " + ", ".join(f"`{e}`" for e in stage.extras) + ")"
        missing = "optional: skipped with the reason" if stage.optional else "required: fails, naming it"
        session = "-"
        if stage.session is not None:
            session = f"`{stage.session_name}`" + (" (default)" if stage.session.default else "")
        rows.append(
            f"| `{stage.name}` | `pipeline {' '.join(stage.argv)}` | {'yes' if stage.gate else 'no'} | {missing} "
            f"| {needs} | {stage.runner.upper()} | {session} |"
        )
    return "\n".join(rows)


def render_readme(readme_text: str) -> str:
    from pipeline.commands.config import reference

    text = render_reference_block(readme_text, reference())
    return render_reference_block(text, stage_table(), STAGES_START, STAGES_END)


def update_readme(path: Path) -> bool:
    """Rewrite the block in place; True when it changed."""
    text = path.read_text(encoding="utf-8")
    new = render_readme(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    import sys

    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("README.md configuration reference and stage table " + ("updated" if changed else "already current"))
