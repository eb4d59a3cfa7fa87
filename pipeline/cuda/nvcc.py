"""nvcc: supported architectures, argv building, and parsing of its output (pure functions).

Running nvcc happens in ``build.py`` through ``proc``; everything here takes and
returns data, so the parsing is tested on recorded output as well as live.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda.settings import ARCH_PATTERN
from pipeline.foundation import proc


def arch_number(arch: str) -> int:
    """``sm_90a`` -> 90, ``compute_120`` -> 120."""
    match = re.search(r"_(\d+)", arch)
    return int(match.group(1)) if match else 0


def sort_archs(archs: Iterable[str]) -> list[str]:
    return sorted(set(archs), key=lambda a: (arch_number(a), a))


def compute_of(arch: str) -> str:
    """``sm_90`` -> ``compute_90``; ``sm_90a`` -> ``compute_90a``."""
    return "compute_" + arch.removeprefix("sm_")


def ptx_arch(archs: Sequence[str]) -> str:
    """The virtual architecture for the forward-compatible PTX: the newest, without a/f suffix.

    Arch-specific PTX (``compute_90a``) cannot be JIT-compiled for later GPUs.
    """
    newest = sort_archs(archs)[-1]
    return f"compute_{arch_number(newest)}"


# ---------------------------------------------------------------------- supported architectures

def list_supported(nvcc: Path) -> tuple[str, ...]:
    """Real architectures this nvcc can build (``nvcc --list-gpu-code``: sm_75 ... sm_121)."""
    output = proc.run([str(nvcc), "--list-gpu-code"]).stdout
    return tuple(sort_archs(line.strip() for line in output.splitlines() if line.strip().startswith("sm_")))


def unsupported(archs: Iterable[str], supported: Iterable[str]) -> list[str]:
    """Those of ``archs`` nvcc cannot build; ``sm_90a``/``sm_100f`` count as their base ``sm_90``/``sm_100``."""
    bases = {f"sm_{arch_number(a)}" for a in supported}
    result = []
    for arch in archs:
        match = ARCH_PATTERN.match(arch)
        if not match or f"sm_{match.group(1)}" not in bases:
            result.append(arch)
    return result


# ---------------------------------------------------------------------- argv

@dataclass(frozen=True)
class CompileFlags:
    """What a kernel is compiled with besides its source and architecture."""

    include_dirs: tuple[Path, ...] = ()
    defines: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    werror: bool = False

    def preprocess_args(self, source: Path) -> list[str]:
        # The source's own directory first, as build.rs does with -I kernels/.
        args = ["-I", str(source.parent)]
        for directory in self.include_dirs:
            args += ["-I", str(directory)]
        for define in self.defines:
            args.append(f"-D{define}")
        return args


def deps_argv(nvcc: Path, source: Path, flags: CompileFlags) -> list[str]:
    """``nvcc -M``: the files ``source`` includes, as a make rule on stdout."""
    return [str(nvcc), "-M", *flags.preprocess_args(source), *flags.flags, str(source)]


def depfile_args(path: Path) -> list[str]:
    """Write the include list as a side effect of a compile (no separate ``nvcc -M`` run)."""
    return ["-MD", "-MF", str(path)]


def cubin_argv(nvcc: Path, source: Path, arch: str, output: Path, flags: CompileFlags,
               extra: Sequence[str] = ()) -> list[str]:
    """One (kernel, real arch) job; ``-Xptxas -v`` prints the resource usage parsed below.

    ``source`` may also be a ``.ptx`` file: nvcc then runs only ptxas.
    """
    argv = [str(nvcc), "-cubin", f"-arch={arch}", "-Xptxas", "-v", *flags.preprocess_args(source), *flags.flags]
    if flags.werror:
        argv += ["-Werror", "all-warnings"]
    return [*argv, *extra, "-o", str(output), str(source)]


def ptx_argv(nvcc: Path, source: Path, compute: str, output: Path, flags: CompileFlags,
             extra: Sequence[str] = ()) -> list[str]:
    argv = [str(nvcc), "-ptx", f"-arch={compute}", *flags.preprocess_args(source), *flags.flags]
    if flags.werror:
        argv += ["-Werror", "all-warnings"]
    return [*argv, *extra, "-o", str(output), str(source)]


def gencode_args(targets: Sequence[str]) -> list[str]:
    """``-gencode`` for each real architecture (SASS) and virtual one (PTX, ``compute_XY``)."""
    args: list[str] = []
    for target in targets:
        virtual = target if target.startswith("compute_") else compute_of(target)
        args += ["-gencode", f"arch={virtual},code={target}"]
    return args


def object_argv(nvcc: Path, source: Path, targets: Sequence[str], output: Path, flags: CompileFlags,
                extra: Sequence[str] = (), threads: int = 1) -> list[str]:
    """A static-lib file: host and device code into one relocatable object, position independent
    (it ends up in a Rust cdylib or PIE binary); ``--threads`` compiles its architectures in parallel."""
    argv = [str(nvcc), "-c", *gencode_args(targets), "-Xcompiler", "-fPIC", "-Xptxas", "-v",
            *flags.preprocess_args(source), *flags.flags]
    if flags.werror:
        argv += ["-Werror", "all-warnings"]
    if threads > 1:
        argv += ["--threads", str(threads)]
    return [*argv, *extra, "-o", str(output), str(source)]


def library_argv(nvcc: Path, output: Path, objects: Sequence[Path]) -> list[str]:
    """``nvcc -lib``: the objects of a static-lib set archived into ``lib<name>.a``."""
    return [str(nvcc), "-lib", "-o", str(output), *(str(o) for o in objects)]


def fatbinary_argv(fatbinary: Path, output: Path, cubins: Sequence[tuple[str, Path]],
                   ptx: tuple[str, Path] | None) -> list[str]:
    """Bundle the cubins (and PTX) of one kernel, as nvcc --fatbin does internally."""
    argv = [str(fatbinary), f"--create={output}", "-64"]
    for arch, path in cubins:
        argv.append(f"--image3=kind=elf,sm={arch.removeprefix('sm_')},file={path}")
    if ptx is not None:
        argv.append(f"--image3=kind=ptx,sm={ptx[0].removeprefix('compute_')},file={ptx[1]}")
    return argv


# ---------------------------------------------------------------------- output parsing

def parse_deps(text: str, cwd: Path) -> list[Path]:
    """Files of an ``nvcc -M`` make rule (continuations and escaped spaces handled)."""
    joined = text.replace("\\\n", " ")
    _, _, body = joined.partition(":")
    items = re.findall(r"(?:\\ |[^\s])+", body)
    paths = []
    for item in items:
        path = Path(item.replace("\\ ", " "))
        paths.append(path if path.is_absolute() else cwd / path)
    return paths


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int | None
    severity: str  # "error" | "warning"
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {self.message}"


_DIAG = re.compile(
    r"^(?P<file>.+?)\((?P<line>\d+)\): (?P<sev>error|warning|catastrophic error)(?: #[\w-]+)?: (?P<msg>.*)$"
)
_TOOL_DIAG = re.compile(r"^(?P<tool>ptxas|nvlink|fatbinary|nvcc)\s*(?P<sev>error|fatal|warning)\s*:\s*(?P<msg>.*)$")
_GCC_DIAG = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+)(?::\d+)?: (?:fatal )?(?P<sev>error|warning): (?P<msg>.*)$")


def parse_diagnostics(stderr: str, display: Callable[[str], str], fallback: str) -> list[Diagnostic]:
    """nvcc's ``file.cu(12): error: ...`` (and ptxas/gcc-style lines) as Diagnostics.

    ``display`` maps a file name as nvcc prints it to how messages show it (relative
    to the workspace); tool errors without a location are attributed to ``fallback``.
    """
    result: list[Diagnostic] = []
    for line in stderr.splitlines():
        match = _DIAG.match(line) or _GCC_DIAG.match(line)
        if match:
            severity = "error" if "error" in match.group("sev") else "warning"
            result.append(Diagnostic(display(match.group("file")), int(match.group("line")), severity,
                                     match.group("msg").strip()))
            continue
        tool = _TOOL_DIAG.match(line)
        if tool:
            severity = "warning" if tool.group("sev") == "warning" else "error"
            result.append(Diagnostic(fallback, None, severity, f"{tool.group('tool')}: {tool.group('msg').strip()}"))
    return result


@dataclass(frozen=True)
class Usage:
    """ptxas's resource usage for one function on one architecture."""

    registers: int = 0
    shared_bytes: int = 0
    constant_bytes: int = 0
    stack_bytes: int = 0
    spill_stores: int = 0
    spill_loads: int = 0


_ENTRY = re.compile(r"Compiling entry function '(?P<name>[^']+)' for '(?P<arch>[^']+)'")
_PROPS = re.compile(r"Function properties for (?P<name>\S+)")
_FRAME = re.compile(
    r"(?P<stack>\d+) bytes stack frame, (?P<stores>\d+) bytes spill stores, (?P<loads>\d+) bytes spill loads"
)
_USED = re.compile(r"Used (?P<regs>\d+) registers")
_SMEM = re.compile(r"(?P<smem>\d+) bytes smem")
_CMEM = re.compile(r"(?P<cmem>\d+) bytes cmem\[0\]")


def parse_resource_usage(stderr: str) -> dict[str, Usage]:
    """Per function, from ``-Xptxas -v`` output (entry functions and device functions alike)."""
    usage: dict[str, dict[str, int]] = {}
    current: str | None = None
    for line in stderr.splitlines():
        entry = _ENTRY.search(line) or _PROPS.search(line)
        if entry:
            current = entry.group("name")
            usage.setdefault(current, {})
            continue
        if current is None:
            continue
        frame = _FRAME.search(line)
        if frame:
            usage[current].update(stack_bytes=int(frame.group("stack")), spill_stores=int(frame.group("stores")),
                                  spill_loads=int(frame.group("loads")))
        used = _USED.search(line)
        if used:
            usage[current]["registers"] = int(used.group("regs"))
            smem = _SMEM.search(line)
            cmem = _CMEM.search(line)
            usage[current]["shared_bytes"] = int(smem.group("smem")) if smem else 0
            usage[current]["constant_bytes"] = int(cmem.group("cmem")) if cmem else 0
    return {name: Usage(**values) for name, values in usage.items()}


def entry_functions(stderr: str) -> list[str]:
    """Kernel (``__global__``) names ptxas compiled, in order."""
    names: list[str] = []
    for match in _ENTRY.finditer(stderr):
        if match.group("name") not in names:
            names.append(match.group("name"))
    return names


def is_extern_c(name: str) -> bool:
    """Itanium-mangled C++ names start with _Z; ``extern "C"`` kernels keep their plain name."""
    return not name.startswith("_Z")
