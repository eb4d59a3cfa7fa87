"""The expression language of smoke-case arrays: ``a*i+b`` with numbers a, b (pure, no eval)."""

from __future__ import annotations

import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_LINEAR = re.compile(
    rf"^\s*(?:(?P<a>{_NUMBER})\s*\*\s*)?(?P<i>i)\s*(?:(?P<sign>[-+])\s*(?P<b>{_NUMBER}))?\s*$"
)
_CONSTANT = re.compile(rf"^\s*(?P<b>{_NUMBER})\s*$")


def parse_linear(expr: str) -> tuple[float, float]:
    """``"2*i+1"`` -> (2.0, 1.0); ``"i"`` -> (1.0, 0.0); ``"3"`` -> (0.0, 3.0)."""
    constant = _CONSTANT.match(expr)
    if constant:
        return 0.0, float(constant.group("b"))
    match = _LINEAR.match(expr)
    if not match:
        raise ValueError(f"{expr!r} is not a number or a linear expression in i such as `2*i+1`")
    a = float(match.group("a")) if match.group("a") else 1.0
    b = float(match.group("b")) if match.group("b") else 0.0
    if match.group("sign") == "-":
        b = -b
    return a, b
