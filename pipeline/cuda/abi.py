"""The kernel ABI: each entry's parameter list read from PTX, and what changed since the last release.

A host program loads a kernel by name from a module (`cuModuleGetFunction(module, "saxpy")`)
and passes its arguments as an array of pointers whose layout the PTX ``.entry``
declaration fixes: each ``.param`` has a type (``.u32``, ``.f32``, ``.u64`` for a pointer),
and a struct passed by value is a ``.b8`` array with an alignment. So, per kernel module:

- an entry that disappears, or whose parameter list changes, breaks every caller;
- a new entry breaks nobody: a feature.

The parameter names (``saxpy_param_0``) are synthetic and left out; everything else of a
parameter's declaration is kept, normalised to single spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# `.visible .entry NAME(` ... `)`; `.entry NAME()` for no parameters. Linkage may be missing.
_ENTRY = re.compile(r"^[ \t]*(?:\.(?:visible|weak|extern)[ \t]+)?\.entry[ \t]+([A-Za-z_$%][\w$%]*)[ \t]*\(", re.M)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_PARAM = re.compile(r"^\.param\s+(?P<decl>.*?)\s*(?P<name>[A-Za-z_$%][\w$%]*)\s*(?P<array>(?:\[\s*\d*\s*\])*)$", re.S)

Abi = Mapping[str, Mapping[str, Sequence[str]]]  # kernel module -> entry -> parameter declarations


class PtxError(ValueError):
    pass


def parse_ptx(text: str) -> dict[str, tuple[str, ...]]:
    """Entry name -> its parameters' declarations (``u32``, ``f32``, ``align 8 b8[16]``), in order."""
    text = _COMMENT.sub("", text)
    entries: dict[str, tuple[str, ...]] = {}
    for match in _ENTRY.finditer(text):
        name = match.group(1)
        close = text.find(")", match.end())
        if close < 0:
            raise PtxError(f".entry {name}: no `)` closes its parameter list")
        body = text[match.end() : close].strip()
        params = []
        for raw in (p.strip() for p in body.split(",")) if body else ():
            param = _PARAM.match(raw)
            if param is None:
                raise PtxError(f".entry {name}: cannot read parameter `{raw}`")
            decl = " ".join(tok.lstrip(".") for tok in param.group("decl").split())
            params.append(decl + re.sub(r"\s+", "", param.group("array")))
        entries[name] = tuple(params)
    return entries


@dataclass(frozen=True)
class AbiChange:
    kind: str  # "removed" | "changed" | "added"
    kernel: str
    entry: str
    old: tuple[str, ...] | None = None
    new: tuple[str, ...] | None = None

    @property
    def breaking(self) -> bool:
        return self.kind != "added"

    def describe(self) -> str:
        where = f"{self.kernel}: {self.entry}"
        if self.kind == "removed":
            return f"removed {where}({', '.join(self.old or ())}) (breaking)"
        if self.kind == "added":
            return f"added {where}({', '.join(self.new or ())}) (feature)"
        return f"changed {where}({', '.join(self.old or ())}) -> ({', '.join(self.new or ())}) (breaking)"


@dataclass(frozen=True)
class AbiDiff:
    since: str | None  # the release whose manifest was compared (a tag), None when there is none
    changes: tuple[AbiChange, ...] = ()
    baseline: str = ""  # where the last release's ABI came from (`dist/manifest.json`, `rebuilt at TAG`)
    note: str = ""  # with ``since`` None: why there is nothing to compare

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def feature(self) -> bool:
        return any(c.kind == "added" for c in self.changes)

    def lines(self) -> list[str]:
        if self.since is None:
            return [f"kernel ABI: {self.note or 'no earlier release manifest to compare with'}"]
        source = [f"  (the last release's ABI: {self.baseline})"] if self.baseline else []
        if not self.changes:
            return [f"kernel ABI: unchanged since {self.since}", *source]
        return [f"kernel ABI since {self.since}:", *(f"  {c.describe()}" for c in self.changes), *source]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "baseline": self.baseline or None,
            "note": self.note or None,
            "breaking": self.breaking,
            "feature": self.feature,
            "changes": [
                {"kind": c.kind, "kernel": c.kernel, "entry": c.entry,
                 "old": list(c.old) if c.old is not None else None,
                 "new": list(c.new) if c.new is not None else None}
                for c in self.changes
            ],
        }


def diff(old: Abi | None, new: Abi, since: str | None, *, baseline: str = "") -> AbiDiff:
    """Changes from ``old`` (the last release's) to ``new``; ``old`` None: nothing to compare."""
    if old is None:
        return AbiDiff(None)
    changes: list[AbiChange] = []
    for kernel in sorted(set(old) | set(new)):
        before, after = old.get(kernel, {}), new.get(kernel, {})
        for entry in sorted(set(before) | set(after)):
            was = tuple(before[entry]) if entry in before else None
            now = tuple(after[entry]) if entry in after else None
            if was is not None and now is None:
                changes.append(AbiChange("removed", kernel, entry, was, None))
            elif was is None and now is not None:
                changes.append(AbiChange("added", kernel, entry, None, now))
            elif was != now:
                changes.append(AbiChange("changed", kernel, entry, was, now))
    # Breaking changes first, as the changelog orders them.
    changes.sort(key=lambda c: (not c.breaking, c.kernel, c.entry))
    return AbiDiff(since, tuple(changes), baseline)


def from_release_manifest(manifest: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, ...]]] | None:
    """The ``kernel_abi`` of a dist/manifest.json; None when that release recorded none."""
    abi = manifest.get("kernel_abi")
    if not isinstance(abi, dict):
        return None
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for kernel, entries in abi.items():
        if not isinstance(entries, dict):
            raise PtxError(f"kernel_abi.{kernel} must map entry names to parameter lists")
        result[str(kernel)] = {str(e): tuple(str(p) for p in params) for e, params in entries.items()}
    return result


def read_kernel_abi(
    cuda_manifest: Mapping[str, Any], read: Callable[[str], str]
) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[str]]:
    """The ABI of a CUDA build's kernels, from the PTX files its manifest names.

    ``read(name)`` returns a file's text from the build's output directory. Returns the ABI
    and the kernels left out (built without PTX: set `cuda.ptx = true` to record them).
    """
    abi: dict[str, dict[str, tuple[str, ...]]] = {}
    missing: list[str] = []
    for kernel in cuda_manifest.get("kernels", []):
        ptx = kernel.get("ptx")
        if not ptx:
            missing.append(str(kernel.get("name")))
            continue
        try:
            text = read(ptx)
        except OSError:  # the manifest names a PTX file that is not there (any more)
            missing.append(str(kernel.get("name")))
            continue
        abi[str(kernel["name"])] = parse_ptx(text)
    return abi, missing
