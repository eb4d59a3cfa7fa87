"""Generated Cargo workspaces for tests and benchmarks (std only, so cargo works offline).

``make_workspace(root, crates=N)`` writes a virtual workspace of N library crates in
layers: every crate depends on up to three crates of lower layers, using every
manifest shape in turn (workspace = true, sub-table form, renamed, target-specific,
dev and build dependencies), with a shared version inherited from
``[workspace.package]`` and every fifth crate carrying its own version.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SHARED_VERSION = "0.4.2"
OWN_VERSION = "1.2.0"


@dataclass(frozen=True)
class GeneratedCrate:
    name: str
    version: str
    inherits_version: bool
    deps: tuple[tuple[str, str, str], ...] = field(default=())  # (dep name, kind, shape)


def crate_name(index: int) -> str:
    return f"gen-crate-{index:04d}"


def plan(crates: int) -> list[GeneratedCrate]:
    shapes = ("workspace", "subtable", "renamed", "target", "inline")
    result = []
    for i in range(crates):
        own = i % 5 == 4
        deps = []
        for j, offset in enumerate((1, 3, 7)):
            if (i - offset >= 0 and (i // 10) != ((i - offset) // 10)) or (i - offset >= 0 and offset == 1):
                shape = shapes[(i + j) % len(shapes)]
                deps.append((crate_name(i - offset), "normal", shape))
        if i >= 2 and i % 6 == 0:
            deps.append((crate_name(i - 2), "dev", "inline"))
        if i >= 4 and i % 8 == 0:
            deps.append((crate_name(i - 4), "build", "inline"))
        unique = {}
        for dep in deps:
            unique.setdefault(dep[0], dep)
        result.append(
            GeneratedCrate(crate_name(i), OWN_VERSION if own else SHARED_VERSION, not own, tuple(unique.values()))
        )
    return result


def _dep_line(dep: str, version: str, shape: str, key_prefix: str) -> tuple[str, str]:
    """(table header suffix or '', body) for one dependency."""
    path = f"../{dep}"
    if shape == "workspace":
        return "", f"{dep}.workspace = true\n"
    if shape == "subtable":
        return f"{key_prefix}.{dep}", f'path = "{path}"\nversion = "{version}"\n'
    if shape == "renamed":
        alias = dep.replace("gen-crate-", "alias_")
        return "", f'{alias} = {{ package = "{dep}", path = "{path}", version = "{version}" }}\n'
    return "", f'{dep} = {{ path = "{path}", version = "{version}" }}\n'


def write_crate(root: Path, crate: GeneratedCrate, versions: dict[str, str]) -> None:
    directory = root / "crates" / crate.name
    (directory / "src").mkdir(parents=True, exist_ok=True)
    head = ["[package]", f'name = "{crate.name}"']
    head.append("version.workspace = true" if crate.inherits_version else f'version = "{crate.version}"')
    head += [
        "edition.workspace = true",
        "license.workspace = true",
        "repository.workspace = true",
        f'description = "generated crate {crate.name}"',
        "",
    ]
    tables: dict[str, list[str]] = {
        "dependencies": [],
        "dev-dependencies": [],
        "build-dependencies": [],
        "target.'cfg(unix)'.dependencies": [],
    }
    subtables: list[str] = []
    for dep, kind, shape in crate.deps:
        table = {"normal": "dependencies", "dev": "dev-dependencies", "build": "build-dependencies"}[kind]
        if shape == "target" and kind == "normal":
            table = "target.'cfg(unix)'.dependencies"
        header, body = _dep_line(dep, versions[dep], shape if kind == "normal" else "inline", table)
        if header:
            subtables.append(f"[{header}]\n{body}")
        else:
            tables[table].append(body)
    text = "\n".join(head) + "\n"
    for table, lines in tables.items():
        if lines:
            text += f"[{table}]\n" + "".join(lines) + "\n"
    text += "\n".join(subtables)
    (directory / "Cargo.toml").write_text(text)
    uses = [d for d, kind, _ in crate.deps if kind == "normal"]
    body = "".join(f"// depends on {u}\n" for u in uses)
    body += f'pub fn id() -> &\'static str {{\n    "{crate.name}"\n}}\n'
    (directory / "src" / "lib.rs").write_text(body)
    if any(kind == "build" for _, kind, _ in crate.deps):
        (directory / "build.rs").write_text("fn main() {}\n")


def make_workspace(root: Path, crates: int = 30, *, git: bool = False, lockfile: bool = False) -> list[GeneratedCrate]:
    root.mkdir(parents=True, exist_ok=True)
    planned = plan(crates)
    versions = {c.name: c.version for c in planned}
    ws_deps = "".join(f'{c.name} = {{ path = "crates/{c.name}", version = "{c.version}" }}\n' for c in planned)
    (root / "Cargo.toml").write_text(
        "[workspace]\n"
        'resolver = "2"\n'
        'members = ["crates/*"]\n\n'
        "[workspace.package]\n"
        f'version = "{SHARED_VERSION}"  # lockstep\n'
        'edition = "2021"\n'
        'license = "MIT"\n'
        'repository = "https://example.com/generated"\n\n'
        "[workspace.dependencies]\n" + ws_deps
    )
    for crate in planned:
        write_crate(root, crate, versions)
    (root / ".gitignore").write_text("/target\n")
    if lockfile:
        subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    if git:
        init_git(root)
    return planned


def init_git(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "tests@example.com")
    git("config", "user.name", "Tests")
    git("config", "commit.gpgsign", "false")
    git("config", "tag.gpgsign", "false")
    git("add", "-A")
    git("commit", "-q", "-m", "chore: initial commit")
