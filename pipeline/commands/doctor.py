"""``pipeline doctor [--json]``: tools and versions, driver/toolkit match and GPUs, with a hint for each problem."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from pipeline.foundation.errors import CheckFailed, ConfigError, PipelineError
from pipeline.foundation.output import emit_json
from pipeline.runner.doctor import RUST_TOOLS, Finding, gpu_findings, probe_tools


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="the report as JSON")


def _root(workspace_arg: str | None) -> Path | None:
    """The workspace root when one can be found (doctor reports, it does not stop, when none can)."""
    from pipeline.project import resolve_root

    try:
        return resolve_root(workspace_arg)
    except PipelineError:
        return None


def _toolchain_finding(pin, installed: list[str]) -> Finding:  # type: ignore[no-untyped-def]
    have = ", ".join(installed) or "none"
    return Finding(
        "error", "toolchain",
        f"{pin.source} pins toolchain `{pin.channel}`, which is not installed (installed: {have}); "
        "rustup's cargo and rustc refuse to run in this workspace until it is",
        f"`rustup toolchain install {pin.channel}` (add `--component rustfmt,clippy`), or change the channel "
        f"in {pin.source}",
    )


def _targets(workspace_arg: str | None, inventory, supported):  # type: ignore[no-untyped-def]
    """(target archs, where they come from, PTX arch, config finding or None), never raising."""
    from pipeline.cuda import nvcc as nv
    from pipeline.cuda.archs import choose_architectures
    from pipeline.cuda.settings import FALLBACK_ARCHITECTURES
    from pipeline.gpu.nvml import visible
    from pipeline.project import load_project

    try:
        settings = load_project(workspace_arg).config.cuda
    except PipelineError as exc:
        # Invalid configuration is a problem doctor found (every stage would stop on it); a workspace
        # that cannot be located or read only limits what doctor can say.
        level = "error" if isinstance(exc, ConfigError) else "warning"
        finding = Finding(level, "config", f"workspace configuration not read: {exc.message}", exc.hint)
        return list(FALLBACK_ARCHITECTURES), "fallback list", None, finding
    # The policy `pipeline cuda` uses; doctor reports what nvcc cannot build instead of stopping.
    choice = choose_architectures((), settings, supported,
                                  lambda: [g.arch for g in visible(inventory)] if inventory.available else [])
    targets = list(choice.archs)
    origin = f"auto: {choice.origin}" if choice.auto else choice.origin
    ptx = nv.ptx_arch(targets) if settings.ptx and targets else None
    return targets, origin, ptx, None


def run(args: argparse.Namespace) -> int:
    from pipeline.cuda import nvcc as nv
    from pipeline.cuda.toolkit import find_cuda_tool
    from pipeline.gpu.nvml import read_inventory
    from pipeline.runner.toolchain import missing_pin

    root = _root(args.workspace)
    tools = probe_tools(root)
    missing_required = [t for t in tools if t.required and not t.ok]
    unpinned = missing_pin(root or Path.cwd())
    nvcc_report = next(t for t in tools if t.name == "nvcc")
    supported = None
    if nvcc_report.ok:
        try:
            supported = list(nv.list_supported(find_cuda_tool("nvcc")))
        except PipelineError:
            supported = None
    inventory = read_inventory()
    targets, origin, ptx, config_finding = _targets(args.workspace, inventory, supported)
    findings = gpu_findings(inventory, nvcc_report.version, targets, origin, supported, ptx)
    if config_finding is not None:
        findings.insert(0, config_finding)
    if unpinned is not None:
        findings.insert(0, _toolchain_finding(*unpinned))
    errors = [f for f in findings if f.level == "error"]
    if args.json:
        emit_json({
            "tools": [asdict(t) for t in tools],
            "gpu": inventory.to_json(),
            "cuda": {"nvcc_supports": supported, "targets": targets, "targets_from": origin, "ptx": ptx},
            "findings": [asdict(f) for f in findings],
            "ok": not missing_required and not errors,
        })
    else:
        for tool in tools:
            if tool.ok:
                print(f"  ok       {tool.name:<8} {tool.version}  ({tool.path})")
            elif unpinned is not None and tool.name in RUST_TOOLS:
                print(f"  MISSING  {tool.name:<8} toolchain `{unpinned[0].channel}` ({unpinned[0].source}) "
                      "is not installed")
            else:
                level = "MISSING" if tool.required else "missing"
                print(f"  {level:<8} {tool.name:<8} hint: {tool.hint}")
        print("GPUs and CUDA:")
        for gpu in inventory.gpus:
            print(f"  gpu      {gpu.index}: {gpu.name}  {gpu.arch}  {gpu.memory_total_mib} MiB  {gpu.uuid}")
        print(f"  targets  {', '.join(targets)}{' + PTX ' + ptx if ptx else ''} ({origin})")
        for finding in findings:
            print(f"  {finding.level:<8} {finding.check}: {finding.message}")
            if finding.hint and finding.level != "ok":
                print(f"           hint: {finding.hint}")
    if unpinned is not None:
        finding = _toolchain_finding(*unpinned)
        raise CheckFailed(f"doctor: {finding.message}", finding.hint)
    if missing_required:
        raise CheckFailed(
            "doctor: required tool(s) missing: " + ", ".join(t.name for t in missing_required),
            missing_required[0].hint,
        )
    if errors:
        raise CheckFailed(f"doctor: {len(errors)} GPU/CUDA problem(s): " + "; ".join(e.message for e in errors),
                          errors[0].hint)
    return 0
