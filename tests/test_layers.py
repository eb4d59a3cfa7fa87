"""The import layers of pipeline/, enforced: no module imports from a layer above its own.

The layers, bottom to top (docs/architecture.md explains them):

0. foundation  ``pipeline`` (the version), ``pipeline.foundation``: errors, output, proc, fs, git, config parsing
1. workspace   ``pipeline.workspace``: the Cargo workspace model
2. tools       ``pipeline.{changes,deps,cuda,gpu,runner}``: what the stages run and read
3. stages      ``pipeline.stages`` (and ``pipeline.features``): the stage registry, runner and argv builders
4. delivery    ``pipeline.{ci,hooks,release,adopt}``: CI files, the pre-push hook, releases and `init`
5. format      ``pipeline.format``: the ``--json`` shapes of any area's results; ``pipeline.report``: its views
6. project     ``pipeline.project``: the composition root, assembling PipelineConfig from each area's settings;
               ``pipeline.configview``: the effective configuration shown with each value's origin
7. flows       the few modules that run on an assembled Project (``FLOWS``)
8. commands    ``pipeline.commands``, ``pipeline.nox_sessions``, ``pipeline.readme``
9. cli         ``pipeline.cli``, ``pipeline.__main__``

Areas of one layer import each other only where ``AREA_IMPORTS`` says so, and gpu/ and
cuda/ never import each other (what ``gpu smoke`` needs of the kernels comes through the
composition root). Every import counts, function-local ones and ``TYPE_CHECKING`` ones included: a lazy import
is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("pipeline", "pipeline.foundation")),
    ("workspace", ("pipeline.workspace",)),
    ("tools", ("pipeline.changes", "pipeline.deps", "pipeline.cuda", "pipeline.gpu", "pipeline.runner")),
    ("stages", ("pipeline.stages", "pipeline.features")),
    ("delivery", ("pipeline.ci", "pipeline.hooks", "pipeline.release", "pipeline.adopt")),
    ("format", ("pipeline.format", "pipeline.report")),
    ("project", ("pipeline.project", "pipeline.configview")),
    ("flows", ()),  # FLOWS below: single modules inside area packages
    ("commands", ("pipeline.commands", "pipeline.nox_sessions", "pipeline.readme")),
    ("cli", ("pipeline.cli", "pipeline.__main__")),
)

# Modules that take the assembled Project (or PipelineConfig) and drive an area through it.
FLOWS = (
    "pipeline.ci.generate",
    "pipeline.gpu.testing",
    "pipeline.gpu.prebuilt",  # the prebuilt half of `test --gpu` (its binaries and results are testing's)
    "pipeline.hooks.prepush",
    "pipeline.release.flow",
    "pipeline.report.gather",
    "pipeline.release.steps.gates",  # the release's gates step runs stages on the Project
)

# Which other areas of its own layer an area may import.
AREA_IMPORTS: dict[str, frozenset[str]] = {
    "changes": frozenset(),
    "deps": frozenset(),
    "cuda": frozenset(),
    "gpu": frozenset(),
    "runner": frozenset({"cuda", "gpu"}),  # the host check reports both toolkit and driver
    "ci": frozenset(),
    "hooks": frozenset(),
    "release": frozenset(),
    "adopt": frozenset(),
}
FORBIDDEN_PAIRS = {frozenset({"gpu", "cuda"})}

def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every pipeline module ``path`` imports, wherever the import statement sits."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_of_text(path.read_text(encoding="utf-8"), package)


def imports_of_text(text: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from pipeline import cli` imports the module pipeline.cli; `from x import name` imports x.
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {m for m in found if m == "pipeline" or m.startswith("pipeline.")}


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def layer_of(module: str) -> int:
    if module in FLOWS:
        return next(i for i, (name, _) in enumerate(LAYERS) if name == "flows")
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # "pipeline" itself is the package's __init__ only, not a catch-all for new top-level modules.
            inside = module.startswith(prefix + ".") and prefix != "pipeline"
            if (module == prefix or inside) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in tests/test_layers.py"
    return best


def area_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in AREA_IMPORTS else None


def violations() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        for target in imports(path):
            if target == source:
                continue
            low, high = layer_of(source), layer_of(target)
            if high > low:
                found.add((source, target))
                continue
            a, b = area_of(source), area_of(target)
            if a and b and a != b:
                if frozenset({a, b}) in FORBIDDEN_PAIRS:
                    found.add((source, target))
                elif low == high and b not in AREA_IMPORTS[a]:
                    found.add((source, target))
    return found


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))
    for flow in FLOWS:
        assert _is_module(flow), f"FLOWS names {flow}, which no longer exists"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    found = sorted(violations())
    assert not found, "imports from a higher layer or between areas that may not:\n" + "\n".join(
        f"  {source} -> {target} ({LAYERS[layer_of(source)][0]} -> {LAYERS[layer_of(target)][0]})"
        for source, target in found
    )


def test_the_checker_sees_local_relative_and_aliased_imports() -> None:
    text = (
        "def f():\n    from pipeline import cli\n"
        "import pipeline.cuda.build as b\n"
        "from ..project import Project\n"
        "from . import leases\n"
        "import json\n"
    )
    found = imports_of_text(text, "pipeline.gpu")  # as if it were a module of gpu/
    assert found == {"pipeline.cli", "pipeline.cuda.build", "pipeline.project", "pipeline.gpu.leases"}
    assert layer_of("pipeline.cli") > layer_of("pipeline.project") > layer_of("pipeline.gpu.nvml")
    assert layer_of("pipeline.release.flow") > layer_of("pipeline.project") > layer_of("pipeline.release.plan")
    assert frozenset({area_of("pipeline.gpu.smoke"), area_of("pipeline.cuda.settings")}) in FORBIDDEN_PAIRS
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("pipeline.config")  # a new top-level module must be placed on purpose


def test_readme_architecture_tree_names_every_package_and_layer() -> None:
    """The README's one tree has a line for every package of pipeline/, and its closing note every layer."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    tree = section.split("```", 2)[1]
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in packages if f"  {name}/" not in tree]
    assert not missing, f"README architecture tree lacks {missing}"
    note = section.split("```", 2)[2]
    for name, _ in LAYERS:
        assert name in note, f"README architecture note lacks the layer {name}"
    assert "No module imports from a layer above its own" in note
