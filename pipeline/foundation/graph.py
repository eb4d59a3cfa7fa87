"""The one graph walk: everything reachable from some seeds (iterative, so deep chains cannot overflow)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def reachable(seeds: Iterable[T], successors: Callable[[T], Iterable[T]]) -> frozenset[T]:
    """``seeds`` plus every node reachable from them through ``successors``."""
    seen = set(seeds)
    stack = list(seen)
    while stack:
        for node in successors(stack.pop()):
            if node not in seen:
                seen.add(node)
                stack.append(node)
    return frozenset(seen)
