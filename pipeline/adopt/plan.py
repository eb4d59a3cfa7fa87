"""What `pipeline init` writes, computed purely from the facts and the files as they are.

Only what is missing is added: a key already set in `[workspace.metadata.pipeline]` is kept as
it is, an existing noxfile is never rewritten, `.gitignore` only gains the lines it lacks. So a
second run plans nothing. The manifest is edited with tomlkit: every byte it does not add stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tomlkit

from pipeline.adopt.detect import Facts

GITIGNORE = ("dist/", ".nox/", ".pipeline-venv/")
NO_GPU_STAGES = ("generate", "fmt", "clippy", "lint", "dupes", "audit", "test")
NOXFILE = "noxfile.py"


@dataclass(frozen=True)
class InitPlan:
    changes: Mapping[str, tuple[str | None, str]]  # relative path -> (old text or None, new text)
    settings: tuple[tuple[str, Any, str], ...]  # (dotted key, value, why) added to the manifest
    notes: tuple[str, ...]


def detected_settings(facts: Facts) -> list[tuple[str, Any, str]]:
    """(section.key, value, why) for every setting init writes."""
    out: list[tuple[str, Any, str]] = [
        ("ci.default-branch", facts.default_branch, f"default branch from {facts.branch_origin}"),
    ]
    if facts.tags is not None:
        why = f"{facts.tags.seen} existing tag(s) like `{facts.tags.example}`"
        out.append(("release.shared-tag", facts.tags.shared, why))
        out.append(("release.tag-prefix", facts.tags.prefix, why))
    if facts.kernels:
        archs = list(facts.gpu_archs) or ["sm_80", "sm_90"]
        where = "the GPUs present" if facts.gpu_archs else "no GPU here: Ampere and Hopper"
        out.append(("cuda.architectures", list(facts.gpu_archs) if facts.gpu_archs else "auto",
                    "the GPUs NVML sees, else the fallback list" if not facts.gpu_archs else where))
        out.append(("ci.cuda-archs", archs, f"{len(facts.kernels)} .cu file(s); {where}"))
    else:
        out.append(("ci.stages", list(NO_GPU_STAGES), "no .cu files: no CUDA or GPU jobs"))
    if facts.tool_requirement:
        out.append(("ci.pip-install", [facts.tool_requirement], facts.tool_origin))
    return out


def _table(doc: Any, path: tuple[str, ...]) -> Any:
    table = doc
    for part in path:
        if part not in table:
            table[part] = tomlkit.table(is_super_table=part in ("workspace", "metadata"))
        table = table[part]
    return table


def _add(table: Any, key: str, item: Any) -> None:
    """``key`` after the table's last plain key: a comment and blank line above the next header stay its own."""
    from tomlkit.items import AoT, Table

    container = getattr(table, "value", None)
    body = getattr(container, "body", None)
    last = [k for k, v in body or [] if k is not None and not isinstance(v, Table | AoT)]
    if last and hasattr(container, "_insert_after"):
        container._insert_after(last[-1].key, key, item)
    else:
        table[key] = item


def plan_manifest(text: str, facts: Facts) -> tuple[str, list[tuple[str, Any, str]]]:
    doc = tomlkit.parse(text)
    workspace = doc.get("workspace")
    existing = workspace.get("metadata", {}).get("pipeline", {}) if workspace is not None else {}
    fresh = not existing and "[workspace.metadata.pipeline" not in text
    # A workspace without any configuration gets one block at the end of its manifest.
    target = tomlkit.document() if fresh else doc
    added = []
    for dotted, value, why in detected_settings(facts):
        section, key = dotted.split(".", 1)
        if key in existing.get(section, {}):
            continue  # the user's value stays
        table = _table(target, ("workspace", "metadata", "pipeline", section))
        item = tomlkit.item(value)
        item.comment(f"pipeline init: {why}")
        _add(table, key, item)
        added.append((dotted, value, why))
    if not added:
        return text, []
    if not fresh:
        return tomlkit.dumps(doc), added
    block = tomlkit.dumps(target).strip("\n")
    base = text.rstrip("\n") + "\n\n" if text.strip() else ""
    return (base + "# cargo-gpu-pipeline: `pipeline config` shows every key and where its value comes from\n"
            + block + "\n"), added


def _configured(text: str, section: str, key: str) -> bool:
    try:
        doc = tomlkit.parse(text)
    except Exception:  # noqa: BLE001 - a broken manifest is reported by plan_manifest
        return False
    table = doc.get("workspace", {}).get("metadata", {}).get("pipeline", {}).get(section, {})
    return key in table


def noxfile_text(requirement: str | None) -> str:
    header = ""
    if requirement:
        # PEP 723: `nox` alone installs what the noxfile needs into .nox/ and runs it there.
        header = f'# /// script\n# dependencies = ["nox>=2025.2.9", "{requirement}"]\n# ///\n'
    return (header + '"""nox sessions of this workspace: the stages of cargo-gpu-pipeline (`nox -l` lists them)."""\n\n'
            "import pipeline.nox_sessions  # noqa: F401  (fmt, clippy, lint, test, dupes, audit, cuda, release...)\n")


def make_plan(facts: Facts, files: Mapping[str, str | None]) -> InitPlan:
    """``files``: the current text of Cargo.toml, noxfile.py and .gitignore (None when absent)."""
    changes: dict[str, tuple[str | None, str]] = {}
    notes: list[str] = []
    manifest = files["Cargo.toml"] or ""
    new_manifest, added = plan_manifest(manifest, facts)
    if new_manifest != manifest:
        changes["Cargo.toml"] = (manifest, new_manifest)
    noxfile = files.get(NOXFILE)
    if noxfile is None:
        changes[NOXFILE] = (None, noxfile_text(facts.tool_requirement))
        if not facts.tool_requirement:
            notes.append(f"{NOXFILE} has no PEP 723 block ({facts.tool_origin}): run `nox` from the environment "
                         "where cargo-gpu-pipeline is installed (it brings nox)")
    elif "pipeline.nox_sessions" not in noxfile:
        notes.append(f"{NOXFILE} exists and is left as it is: add `import pipeline.nox_sessions` to it "
                     "for the stage sessions")
    gitignore = files.get(".gitignore")
    present = {line.strip() for line in (gitignore or "").splitlines()}
    missing = [entry for entry in GITIGNORE if entry not in present and f"/{entry}" not in present]
    if missing:
        base = gitignore or ""
        if base and not base.endswith("\n"):
            base += "\n"
        block = "# cargo-gpu-pipeline: release artifacts, nox environments, the CI venv\n" + "\n".join(missing) + "\n"
        changes[".gitignore"] = (gitignore, base + block)
    if not facts.tool_requirement and not _configured(manifest, "ci", "pip-install"):
        notes.append(f"ci.pip-install keeps its default: {facts.tool_origin}; set it to how your CI installs "
                     'the tool, e.g. `pip-install = ["cargo-gpu-pipeline @ git+https://HOST/ORG/cargo-gpu-pipeline'
                     '@vX.Y.Z"]`')
    return InitPlan(changes, tuple(added), tuple(notes))
