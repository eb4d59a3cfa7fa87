"""The compiler side of ``pipeline cuda``: nvcc and fatbinary runs, behind the compile cache.

Phase (1) finds the files each kernel includes (``nvcc -M``, cached by source
content), phase (2) compiles one :class:`~pipeline.cuda.jobs.Job` (a cubin
with ``ptxas -v`` resource usage, PTX, or PTX then the newest cubin from it),
phase (3) bundles a fatbin. :mod:`pipeline.cuda.build` schedules them.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cuda import nvcc as nv
from pipeline.cuda.cache import Cache, FileDigests, digest_json
from pipeline.cuda.jobs import Job, Product
from pipeline.cuda.kernels import Kernel
from pipeline.cuda.toolkit import Toolkit, default_toolkit
from pipeline.foundation import fs, proc


class Compiler:
    """nvcc and fatbinary behind the content-addressed cache: include scans, compile jobs, fatbin bundles.

    Products are written into ``out`` (renamed into place whole) and stored in the cache under
    keys made of the nvcc build, the source and header contents and the logical arguments, so a
    key never depends on where the workspace lies.
    """

    def __init__(self, root: Path, out: Path, cache_root: Path, *, werror: bool, use_cache: bool,
                 wrapper: Path | None = None, stage_root: Path | None = None,
                 toolkit: Toolkit | None = None) -> None:
        self.root = root.resolve()
        self.out = out
        self.werror = werror
        self.use_cache = use_cache
        # sccache: every compile goes through it, from a staged copy of the sources (see stage()).
        self.wrapper = wrapper
        self.stage_root = stage_root
        self.toolkit = toolkit or default_toolkit()
        self.nvcc = self.toolkit.nvcc
        self.fatbinary = self.toolkit.tool("fatbinary")
        version_text = proc.run([str(self.nvcc), "--version"]).stdout
        self.nvcc_version = _release(version_text)
        self.nvcc_id = hashlib.sha256(version_text.encode()).hexdigest()[:16]
        self.cache = Cache(cache_root)
        self.digests = FileDigests()

    def supported_archs(self) -> tuple[str, ...]:
        """``nvcc --list-gpu-code``, remembered per nvcc build (one process start less on warm runs)."""
        path = self.cache.root / "toolchains" / f"{self.nvcc_id}.json"
        try:
            return tuple(json.loads(path.read_text())["supported"])
        except (OSError, ValueError, KeyError, TypeError):
            supported = nv.list_supported(self.nvcc)
            fs.atomic_write_json(path, {"nvcc": self.nvcc_version, "supported": list(supported)}, sync_dir=False)
            return supported

    # -- paths as keys and messages show them
    def shown(self, path: Path) -> str:
        if self.stage_root is not None and path.is_relative_to(self.stage_root):
            return str(Path(*path.relative_to(self.stage_root).parts[1:]))  # <digest>/crates/... -> crates/...
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def resolve_stored(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def display(self, cwd: Path) -> Callable[[str], str]:
        return lambda name: self.shown((Path(name) if Path(name).is_absolute() else cwd / name).resolve())

    def flags(self, kernel: Kernel) -> nv.CompileFlags:
        return nv.CompileFlags(kernel.include_dirs, kernel.defines, kernel.flags, self.werror)

    def logical_args(self, kernel: Kernel) -> dict[str, Any]:
        return {
            "includes": [self.shown(d) for d in kernel.include_dirs],
            "defines": list(kernel.defines),
            "flags": list(kernel.flags),
            "werror": self.werror,
        }

    # -- phase 1: includes
    def _deps_key(self, kernel: Kernel) -> str:
        # Per source *content*: going back to an earlier version (another branch) finds its record again.
        return digest_json({"nvcc": self.nvcc_id, "source": kernel.relative, "args": self.logical_args(kernel),
                            "content": self.digests(kernel.source)})

    def dependencies(self, kernel: Kernel) -> list[tuple[str, str]] | None:
        """The files ``kernel`` includes, with their digests; None when this source was never seen.

        A known source whose headers all still match needs no tool at all (warm runs).
        A known source with a changed header is rescanned with ``nvcc -M`` (the
        changed header may include other files now), so its new key can still hit
        the cache. A new source is scanned by its first compile job (``-MD``)
        instead: it must be compiled anyway, and this saves one nvcc run per kernel.
        """
        record = self.cache.get_deps(self._deps_key(kernel)) if self.use_cache else None
        if record is None and self.wrapper is None:
            return None
        if record is not None and all(self.digests(self.resolve_stored(p)) == d for p, d in record.get("deps", [])):
            return [(p, d) for p, d in record["deps"]]
        cwd = kernel.source.parent
        result = proc.run(nv.deps_argv(self.nvcc, kernel.source, self.flags(kernel)), cwd=cwd, check=False)
        if result.returncode != 0:
            raise JobError(kernel.relative, result.stderr or result.stdout, self.display(cwd))
        return self.record_deps(kernel, result.stdout, cwd)

    def record_deps(self, kernel: Kernel, make_rule: str, cwd: Path) -> list[tuple[str, str]]:
        deps = []
        for path in nv.parse_deps(make_rule, cwd):
            resolved = path.resolve()
            if resolved == kernel.source:
                continue
            digest = self.digests(resolved)
            if digest is not None and (self.shown(resolved), digest) not in deps:
                deps.append((self.shown(resolved), digest))
        deps.sort()
        self.cache.put_deps(self._deps_key(kernel), {"deps": deps})
        return deps

    def product_key(self, product: Product, deps: list[tuple[str, str]]) -> str:
        return digest_json({
            "nvcc": self.nvcc_id, "kind": product.kind, "arch": product.arch, "source": product.kernel.relative,
            "content": self.digests(product.kernel.source), "deps": deps, "args": self.logical_args(product.kernel),
        })

    # -- phase 2: one compile job
    def _step(self, product: Product, argv: list[str], cwd: Path, temp: Path) -> dict[str, Any]:
        result = proc.run(argv, cwd=cwd, check=False)
        if result.returncode != 0:
            temp.unlink(missing_ok=True)
            raise JobError(product.kernel.relative, result.stderr + result.stdout, self.display(cwd))
        log_text = result.stderr + result.stdout
        usage = nv.parse_resource_usage(log_text) if product.kind in ("cubin", "object") else {}
        return {
            "entries": nv.entry_functions(log_text),
            "usage": {name: vars(u) for name, u in usage.items()},
            "warnings": [
                vars(d) for d in nv.parse_diagnostics(log_text, self.display(cwd), product.kernel.relative)
                if d.severity == "warning"
            ],
        }

    def stage(self, kernel: Kernel, deps: list[tuple[str, str]]) -> tuple[Path, nv.CompileFlags]:
        """A copy of ``kernel``'s source and workspace headers under ``stage_root/<digest>/``.

        sccache 0.16 hashes the absolute source path nvcc hands to cicc (``--orig_src_path_name``),
        so two checkouts in different directories would never share a PTX entry. Compiling from a
        content-addressed copy at the same path on every runner makes the keys depend on contents
        only. The layout under the digest is the workspace's, so relative includes still resolve.
        """
        assert self.stage_root is not None
        inside = [(p, d) for p, d in deps if not Path(p).is_absolute()]
        digest = digest_json({"source": kernel.relative, "content": self.digests(kernel.source), "deps": inside})
        base = self.stage_root / digest[:32]
        if not (base / kernel.relative).is_file():
            for relative in [kernel.relative, *(p for p, _ in inside)]:
                target = base / relative
                if not target.is_file():
                    fs.atomic_write(target, (self.root / relative).read_bytes(), sync=False)
        includes = tuple(base / self.shown(d) if d.is_relative_to(self.root) else d for d in kernel.include_dirs)
        for directory in includes:
            directory.mkdir(parents=True, exist_ok=True)
        flags = nv.CompileFlags(includes, kernel.defines, kernel.flags, self.werror)
        return base / kernel.relative, flags

    def compile(self, job: Job, keys: dict[Product, str], scan: bool,
                deps: list[tuple[str, str]] | None = None, threads: int = 1) -> JobOutcome:
        """Run ``job``; store its products in the cache when their keys are known already.

        ``scan``: also write the include list (``-MD``); the caller stores the products
        once the keys can be computed from it. ``threads``: nvcc ``--threads`` for an object
        (several architectures in one nvcc run), when the scheduler has idle workers for it.
        """
        started = time.monotonic()
        flags = self.flags(job.kernel)
        source = job.kernel.source
        if self.wrapper is not None and deps is not None:
            source, flags = self.stage(job.kernel, deps)
        cwd = source.parent
        metas: dict[Product, dict[str, Any]] = {}
        ptx_temp: Path | None = None
        temps: list[tuple[Product, Path]] = []
        depfile = self.out / f".{job.kernel.name}.{os.getpid()}.{threading.get_ident()}.d"
        make_rule: str | None = None
        try:
            for index, product in enumerate(job.products):
                output = self.out / product.output_name
                # The suffix stays last: nvcc picks the input language by it.
                temp = output.with_name(f".{output.stem}.{os.getpid()}.{threading.get_ident()}{output.suffix}")
                temps.append((product, temp))
                extra = nv.depfile_args(depfile) if scan and index == 0 else []
                if product.kind == "object":
                    argv = nv.object_argv(self.nvcc, source, product.gencodes, temp, flags, extra, threads)
                elif product.kind == "ptx":
                    argv = nv.ptx_argv(self.nvcc, source, product.arch, temp, flags, extra)
                    ptx_temp = temp
                else:
                    # From the PTX just made when there is one: ptxas only, no second front-end pass.
                    argv = nv.cubin_argv(self.nvcc, ptx_temp or source, product.arch, temp, flags, extra)
                if self.wrapper is not None:
                    argv = [str(self.wrapper), *argv]
                metas[product] = self._step(product, argv, cwd, temp)
                if extra:
                    make_rule = depfile.read_text()
            if ptx_temp is not None and len(job.products) > 1:
                # Entry names come from ptxas, which only the cubin step ran.
                ptx_product = job.products[0]
                metas[ptx_product]["entries"] = metas[job.products[-1]]["entries"]
            for product, temp in temps:
                data = temp.read_bytes()
                os.replace(temp, self.out / product.output_name)
                if product in keys:
                    self.cache.put(keys[product], data, metas[product])
        finally:
            for _, temp in temps:
                temp.unlink(missing_ok=True)
            depfile.unlink(missing_ok=True)
        return JobOutcome(metas, time.monotonic() - started, make_rule)

    def archive(self, name: str, objects: Sequence[Path], key: str, sources: Sequence[str]) -> None:
        """``nvcc -lib``: a static-lib set's objects into ``out/lib<name>.a``, stored under ``key``."""
        output = self.out / f"lib{name}.a"
        temp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        result = proc.run(nv.library_argv(self.nvcc, temp, objects), check=False)
        if result.returncode != 0:
            temp.unlink(missing_ok=True)
            raise JobError(", ".join(sources), result.stderr + result.stdout, self.display(self.out))
        data = temp.read_bytes()
        os.replace(temp, output)
        self.cache.put(key, data, {})

    def cudart_dir(self) -> Path | None:
        """Where this toolkit's ``libcudart_static.a`` lies (host code of a static-lib links it), from nvcc's
        own ``TOP`` (``nvcc --dryrun``): /usr/local/bin/nvcc may be a wrapper far from its toolkit."""
        result = proc.run([str(self.nvcc), "--dryrun", "-c", "-x", "cu", "/dev/null", "-o", "/dev/null"], check=False)
        top = next((line.split("=", 1)[1].strip() for line in (result.stderr + result.stdout).splitlines()
                    if line.startswith("#$ TOP=")), None)
        if top is None:
            return None
        for relative in ("targets/x86_64-linux/lib", "targets/sbsa-linux/lib", "lib64", "lib"):
            candidate = Path(top) / relative
            if (candidate / "libcudart_static.a").is_file():
                return candidate.resolve()
        return None

    def bundle(self, kernel: Kernel, cubins: Sequence[tuple[str, Path]], ptx: tuple[str, Path] | None,
               key: str) -> None:
        output = self.out / f"{kernel.name}.fatbin"
        temp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        result = proc.run(nv.fatbinary_argv(self.fatbinary, temp, cubins, ptx), check=False)
        if result.returncode != 0:
            # Reported like a compile error of this kernel, with the others that failed beside it.
            temp.unlink(missing_ok=True)
            raise JobError(kernel.relative, result.stderr + result.stdout, self.display(self.out))
        data = temp.read_bytes()
        os.replace(temp, output)
        self.cache.put(key, data, {})


@dataclass(frozen=True)
class JobOutcome:
    metas: dict[Product, dict[str, Any]]
    seconds: float
    make_rule: str | None  # the -MD output of a scanning job


class JobError(Exception):
    """nvcc failed on one kernel: its diagnostics as ``file:line`` messages, else the output's tail."""

    def __init__(self, source: str, output: str, display: Callable[[str], str]) -> None:
        super().__init__(source)
        self.source = source
        self.output = output
        self.diagnostics = nv.parse_diagnostics(output, display, source)

    def lines(self) -> list[str]:
        errors = [d.render() for d in self.diagnostics if d.severity == "error"]
        if errors:
            return errors
        tail = proc.tail(self.output, 5).strip()
        return [f"{self.source}: error: {tail or 'nvcc failed without a message'}"]


def _release(version_text: str) -> str:
    for token in version_text.split():
        if token.startswith("V") and token[1:2].isdigit():
            return token[1:]
    return version_text.strip().splitlines()[-1] if version_text.strip() else "unknown"

