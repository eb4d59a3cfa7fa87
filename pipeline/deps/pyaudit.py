"""The Python half of `pipeline audit`: pip-audit over the workspace's Python requirements.

Sources: the ``python-requirements`` listed in configuration, else what the
workspace's top directory holds: ``pyproject.toml`` (with a ``[project]`` table)
and ``requirements*.txt``. Nothing deeper is walked: test fixtures, vendored
trees and examples are not the workspace's own dependencies, and a PyO3 crate's
bindings are listed in configuration. The environment cargo-gpu-pipeline runs in
is the tool's, not the workspace's: it is audited only when
``python-environment = true`` asks for it. pip-audit is the optional extra
``audit``; it runs as ``python -m pip_audit`` with this interpreter.

pip-audit does not fail when its vulnerability service cannot answer: it marks
every dependency "could not be audited" and reports no vulnerabilities. A
source for which *no* dependency got an answer is therefore treated as
"service unreachable", never as a pass.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.foundation import proc
from pipeline.workspace.manifest import TOMLDecodeError, toml_loads

INSTALL_HINT = "install the audit extra: `pip install 'cargo-gpu-pipeline[audit]'` (or `pip install pip-audit`)"
_REQUIREMENTS = re.compile(r"^(?:.*[-_.])?requirements(?:[-_.].*)?\.txt$")
_NETWORK = re.compile(
    r"ConnectionError|Max retries exceeded|NameResolutionError|Failed to resolve|Temporary failure in name "
    r"resolution|Network is unreachable|Connection refused|timed out|ConnectTimeout|ReadTimeout|SSLError",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PyFinding:
    id: str
    package: str
    version: str
    fix_versions: tuple[str, ...]
    title: str
    aliases: tuple[str, ...]
    source: str

    def render(self) -> str:
        fixed = ", ".join(self.fix_versions) if self.fix_versions else "none"
        return (f"error: {self.id}  {self.package} {self.version}  [python: {self.source}]  "
                f"fixed in: {fixed}  {self.title}")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "package": self.package, "version": self.version,
                "fix_versions": list(self.fix_versions), "title": self.title, "aliases": list(self.aliases),
                "source": self.source}


@dataclass(frozen=True)
class PySource:
    label: str  # path relative to the workspace, or "environment"
    status: Literal["audited", "unreachable", "failed"]
    dependencies: int
    skipped: tuple[tuple[str, str], ...]  # (name, reason) that pip-audit could not audit
    findings: tuple[PyFinding, ...]
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"source": self.label, "status": self.status, "dependencies": self.dependencies,
                "skipped": [{"name": n, "reason": r} for n, r in self.skipped],
                "findings": [f.to_json() for f in self.findings], "reason": self.reason}


def pip_audit_available() -> bool:
    return importlib.util.find_spec("pip_audit") is not None


def find_sources(root: Path) -> list[Path]:
    """``pyproject.toml`` (a project) and ``requirements*.txt`` in ``root`` itself, sorted; nothing below it."""
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if not path.is_file():
            continue
        if _REQUIREMENTS.match(path.name) or (path.name == "pyproject.toml" and _is_project(path)):
            found.append(path)
    return found


def _is_project(path: Path) -> bool:
    try:
        return isinstance(toml_loads(path.read_text(encoding="utf-8")).get("project"), dict)
    except (OSError, UnicodeDecodeError, TOMLDecodeError):
        return False


def parse_report(data: dict[str, Any], label: str) -> tuple[int, list[tuple[str, str]], list[PyFinding]]:
    skipped, findings = [], []
    deps = data.get("dependencies", [])
    for dep in deps:
        if dep.get("skip_reason"):
            skipped.append((str(dep.get("name")), str(dep["skip_reason"])))
            continue
        for vuln in dep.get("vulns", []):
            description = str(vuln.get("description") or "").strip().splitlines()
            findings.append(PyFinding(
                str(vuln.get("id")), str(dep.get("name")), str(dep.get("version")),
                tuple(vuln.get("fix_versions") or ()), description[0][:160] if description else "",
                tuple(vuln.get("aliases") or ()), label,
            ))
    return len(deps), skipped, findings


_FRAME = re.compile(r"^(Traceback \(most recent call last\)|File \"|During handling|The above exception|\^+$|~+$)")
_LOG_PREFIX = re.compile(r"^(ERROR|WARNING|CRITICAL):[\w.]+:\s*")


def failure_reason(stderr: str) -> str:
    """One clean line saying why pip-audit failed: its last message, never traceback frames."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith((" ", "\t")) and not _FRAME.match(line.strip())]
    if not lines:
        return ""
    reason = _LOG_PREFIX.sub("", lines[-1])
    return reason if len(reason) <= 300 else reason[:297] + "..."


def _audit(argv: Sequence[str], label: str, cwd: Path) -> PySource:
    result = proc.run([sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", *argv],
                      cwd=cwd, check=False)
    try:
        data = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        tail = failure_reason(result.stderr) or f"exit code {result.returncode}"
        status: Literal["unreachable", "failed"] = "unreachable" if _NETWORK.search(result.stderr) else "failed"
        return PySource(label, status, 0, (), (), f"pip-audit {' '.join(argv)}: {tail}")
    count, skipped, findings = parse_report(data, label)
    if count and len(skipped) == count:
        first = skipped[0][1]
        return PySource(label, "unreachable", count, tuple(skipped), (),
                        f"the vulnerability service answered for none of the {count} dependencies "
                        f"(e.g. {skipped[0][0]}: {first})")
    return PySource(label, "audited", count, tuple(skipped), tuple(findings))


def audit_sources(root: Path, sources: Iterable[Path], environment: bool, *, no_deps: bool = False) -> list[PySource]:
    """One pip-audit run per source; ``no_deps`` audits pinned requirement files as written (no resolver)."""
    results = []
    for path in sources:
        label = os.path.relpath(path, root)
        if path.name == "pyproject.toml":
            results.append(_audit([str(path.parent)], label, root))
        else:
            pinned = ["--no-deps", "--disable-pip"] if no_deps else []
            results.append(_audit(["-r", str(path), *pinned], label, root))
    if environment:
        results.append(_audit(["--skip-editable"], "environment", root))
    return results
