"""Keeps the README's configuration reference equal to the dataclasses' documentation."""

from __future__ import annotations

from pathlib import Path

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def render_reference_block(readme_text: str, table: str) -> str:
    start = readme_text.index(START) + len(START)
    end = readme_text.index(END)
    return readme_text[:start] + "\n" + table + "\n" + readme_text[end:]


def update_readme(path: Path) -> bool:
    """Rewrite the block in place; True when it changed."""
    from pipeline.commands.config import reference

    text = path.read_text(encoding="utf-8")
    new = render_reference_block(text, reference())
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    import sys

    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("README.md configuration reference " + ("updated" if changed else "already current"))
