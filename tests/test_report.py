"""`pipeline report`: a self-contained HTML page (job graph SVG with the critical path, CUDA kernel
resources with spills highlighted, duplicate-version graph, release plan) checked in a real headless
Chromium, and the markdown for CI step summaries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import init_git

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "target" / "test-artifacts"

# target/cuda/manifest.json as `pipeline cuda` writes it (ptxas -v usage per function and architecture);
# `stencil` on sm_80 spills under register pressure.
MANIFEST = {
    "schema": 1, "nvcc": "13.0.88", "architectures": ["sm_80", "sm_90"], "ptx": "compute_90",
    "kernels": [
        {"name": "saxpy", "source": "crates/prism-gpu/kernels/saxpy.cu", "set": "default", "crate": "prism-gpu",
         "headers": [], "fatbin": "saxpy.fatbin", "ptx": None, "entries": ["saxpy"], "mangled_entries": [],
         "architectures": {
             "sm_80": {"cubin": "saxpy.sm_80.cubin", "functions": {"saxpy": {
                 "registers": 10, "shared_bytes": 0, "constant_bytes": 380, "stack_bytes": 0,
                 "spill_stores": 0, "spill_loads": 0}}},
             "sm_90": {"cubin": "saxpy.sm_90.cubin", "functions": {"saxpy": {
                 "registers": 12, "shared_bytes": 0, "constant_bytes": 380, "stack_bytes": 0,
                 "spill_stores": 0, "spill_loads": 0}}}}},
        {"name": "stencil", "source": "crates/prism-gpu/kernels/stencil.cu", "set": "default", "crate": "prism-gpu",
         "headers": [], "fatbin": "stencil.fatbin", "ptx": None, "entries": ["stencil3d"], "mangled_entries": [],
         "architectures": {
             "sm_80": {"cubin": "stencil.sm_80.cubin", "functions": {"stencil3d": {
                 "registers": 64, "shared_bytes": 4096, "constant_bytes": 392, "stack_bytes": 96,
                 "spill_stores": 48, "spill_loads": 52}}},
             "sm_90": {"cubin": "stencil.sm_90.cubin", "functions": {"stencil3d": {
                 "registers": 72, "shared_bytes": 4096, "constant_bytes": 392, "stack_bytes": 0,
                 "spill_stores": 0, "spill_loads": 0}}}}},
    ],
}

REGISTRY = 'source = "registry+https://github.com/rust-lang/crates.io-index"\n'


def _workspace(example_copy: Path) -> Path:
    (example_copy / "target" / "cuda").mkdir(parents=True)
    (example_copy / "target" / "cuda" / "manifest.json").write_text(json.dumps(MANIFEST))
    lock = example_copy / "Cargo.lock"
    text = lock.read_text()
    text = text.replace('name = "prism-core"\nversion = "0.4.2"\n',
                        'name = "prism-core"\nversion = "0.4.2"\ndependencies = [\n "bitflags 1.3.2",\n]\n')
    text = text.replace('name = "prism-gpu"\nversion = "0.4.2"\n',
                        'name = "prism-gpu"\nversion = "0.4.2"\ndependencies = [\n "bitflags 2.6.0",\n]\n')
    for version in ("1.3.2", "2.6.0"):
        text += f'\n[[package]]\nname = "bitflags"\nversion = "{version}"\n{REGISTRY}'
    lock.write_text(text)
    init_git(example_copy)
    return example_copy


def test_report_html_has_the_graph_kernels_duplicates_and_plan(example_copy: Path, run_cli) -> None:
    root = _workspace(example_copy)
    result = run_cli("report", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    page = (root / "target" / "pipeline-report.html").read_text()
    assert f"wrote {root / 'target' / 'pipeline-report.html'}" in result.stderr
    # Self-contained: no script, no external stylesheet, image or font.
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    svg = re.search(r'<svg id="jobs-0".*?</svg>', page, re.S).group(0)
    for job in ("generate", "checks", "clippy", "test", "cuda", "cuda-kernels", "gpu-smoke", "gpu-test", "msrv"):
        assert f'data-id="{job}"' in svg
    critical = re.findall(r'<g class="node[^"]*critical[^"]*" data-id="([^"]+)"', svg)
    assert critical == ["cuda-kernels", "gpu-smoke", "gpu-test"]  # the longest chain of timeouts
    assert 'class="edge critical"' in svg
    rows = re.findall(r'<tr class="(spill|)"><td>(\w+)</td><td>(sm_\d+)</td>', page)
    assert ("spill", "stencil", "sm_80") in rows and ("", "stencil", "sm_90") in rows and ("", "saxpy", "sm_80") in rows
    dupes = re.search(r'<svg id="dupes-graph".*?</svg>', page, re.S).group(0)
    assert 'data-id="bitflags 1.3.2"' in dupes and 'data-id="bitflags 2.6.0"' in dupes
    assert re.search(r'<td>bitflags</td><td>1.3.2</td><td>bitflags 1.3.2 &lt;- prism-core</td>', page)
    assert re.search(r"<td>prism-io</td><td>1.2.0</td><td>1.2.1</td>", page)


def test_markdown_for_the_step_summary(example_copy: Path, run_cli) -> None:
    root = _workspace(example_copy)
    result = run_cli("report", "--markdown", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert "Critical path: **cuda-kernels → gpu-smoke → gpu-test**" in md
    assert "```mermaid" in md and "flowchart LR" in md
    assert "| stencil | sm_80 | `stencil3d` | 64 | 4096 | 96 | **48** ⚠ | **52** ⚠ |" in md
    assert "| saxpy | sm_80 | `saxpy` | 10 | 0 | 0 | 0 | 0 |" in md
    assert "- **bitflags** (finding)" in md
    assert "| prism-io | 1.2.0 | 1.2.1 |" in md


def test_report_notes_what_it_cannot_show(example_copy: Path, run_cli) -> None:
    # No kernels built, no git history: the page still renders, each section saying why it is empty.
    result = run_cli("report", "--workspace", str(example_copy), "-o", str(example_copy / "r.html"))
    assert result.returncode == 0, result.stderr
    page = (example_copy / "r.html").read_text()
    assert "`pipeline cuda` writes it" in page
    assert "no release plan:" in page
    assert '<svg id="jobs-0"' in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(example_copy: Path, run_cli, tmp_path: Path) -> None:
    root = _workspace(example_copy)
    assert run_cli("report", "--workspace", str(root)).returncode == 0
    page = root / "target" / "pipeline-report.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "pipeline-report.png"
    screenshot.unlink(missing_ok=True)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    shot = subprocess.run([*flags, f"--screenshot={screenshot}", "--window-size=1400,2200", page.as_uri()],
                          capture_output=True, text=True, check=False)
    assert shot.returncode == 0, shot.stderr
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real picture, not a blank page
    # The DOM after Chromium parsed and laid it out: the SVGs and tables are really there.
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, check=False)
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count("<svg") == 3  # CI workflow, release workflow, duplicates
    for table in ("kernel-table", "dupes-table", "release-table"):
        assert f'id="{table}"' in dom.stdout
    assert 'class="spill"' in dom.stdout
