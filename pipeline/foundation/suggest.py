""""Did you mean" suggestions for misspelled names (subcommands, crates, keys).

One place decides what counts as close, so every message suggests the same
way: names that start with the word typed (``prism-phy`` -> ``prism-physics``),
else difflib's ratio, keeping only the names about as close as the best one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``word``, best first; empty when none is close.

    `prism-ioo` suggests `prism-io`, not every `prism-*` crate of the workspace.
    """
    names = sorted(set(choices))
    if not word or not names:
        return []
    typed = word.lower()
    if len(typed) >= 4:
        prefixed = [name for name in names if name.lower().startswith(typed) and name.lower() != typed]
        if prefixed:
            return prefixed[:n]
    scored = sorted(((difflib.SequenceMatcher(None, typed, name.lower()).ratio(), name) for name in names),
                    key=lambda pair: (-pair[0], pair[1]))
    best = scored[0][0]
    return [name for ratio, name in scored if ratio >= 0.6 and ratio >= best - 0.05][:n]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean `x`?`` (or ```x` or `y`?``) for a hint line, None when nothing is close."""
    found = close_matches(word, choices)
    if not found:
        return None
    return "did you mean " + " or ".join(f"`{name}`" for name in found) + "?"
