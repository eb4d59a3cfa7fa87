"""`kind = "static-lib"` kernel sets: host code compiled to objects, archived into lib<name>.a, linked by cargo.

The fixture is a small workspace of its own: a binary crate whose build.rs runs `pipeline cuda --emit-cargo`
and forwards its `cargo:` lines, and whose main() calls an `extern "C"` host function of the library.
Nothing here needs a GPU: the host function only computes on the CPU (and asks the CUDA runtime for the
device count, which is an error without a driver, reported as -1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import HAVE_NVCC, NVCC_MISSING, pipeline_env, run_pipeline

from pipeline.cuda import nvcc as nv
from pipeline.cuda.build import nvcc_threads
from pipeline.cuda.jobs import Job, Product, plan_jobs
from pipeline.cuda.kernels import Kernel
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation.errors import PipelineError

needs_nvcc = [pytest.mark.nvcc, pytest.mark.skipif(not HAVE_NVCC, reason=NVCC_MISSING)]

HOST_CU = """#include <cuda_runtime.h>
#include "scale.cuh"

__global__ void scale_kernel(float* x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = scale(x[i], a);
}

extern "C" int prism_host_answer(int x) { return 2 * x + OFFSET; }

extern "C" int prism_device_count(void) {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : -1;
}

extern "C" int prism_scale_on_gpu(float* host, float a, int n) {
    float* device = nullptr;
    if (cudaMalloc(&device, n * sizeof(float)) != cudaSuccess) return -1;
    cudaMemcpy(device, host, n * sizeof(float), cudaMemcpyHostToDevice);
    scale_kernel<<<(n + 255) / 256, 256>>>(device, a, n);
    cudaMemcpy(host, device, n * sizeof(float), cudaMemcpyDeviceToHost);
    cudaFree(device);
    return 0;
}
"""

BUILD_RS = r'''use std::process::Command;

// Asks `pipeline cuda` for the kernels ($PIPELINE_CUDA_TOOL: a command line such as `python -m pipeline`)
// and forwards its cargo: lines (rerun-if-changed, rustc-link-search, rustc-link-lib=static=...).
fn main() {
    let tool = std::env::var("PIPELINE_CUDA_TOOL").expect("PIPELINE_CUDA_TOOL");
    let mut words = tool.split_whitespace();
    let program = words.next().expect("a program");
    let out = std::env::var("OUT_DIR").unwrap();
    let crate_name = std::env::var("CARGO_PKG_NAME").unwrap();
    let output = Command::new(program).args(words)
        .args(["cuda", "--emit-cargo", &out, "--crate", &crate_name])
        .output().expect("run pipeline cuda");
    if !output.status.success() {
        panic!("pipeline cuda failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    print!("{}", String::from_utf8_lossy(&output.stdout));
    println!("cargo:rerun-if-env-changed=PIPELINE_CUDA_TOOL");
}
'''

MAIN_RS = """extern "C" {
    fn prism_host_answer(x: i32) -> i32;
    fn prism_device_count() -> i32;
}

fn main() {
    let answer = unsafe { prism_host_answer(20) };
    let devices = unsafe { prism_device_count() };
    println!("answer={answer} devices={devices}");
}
"""


def _workspace(root: Path) -> Path:
    crate = root / "crates" / "hostcalc"
    (crate / "src").mkdir(parents=True)
    (crate / "cuda").mkdir()
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/hostcalc"]\n\n'
        "[workspace.metadata.pipeline.cuda]\n"
        'architectures = ["sm_80", "sm_90"]\n\n'
        "[[workspace.metadata.pipeline.cuda.kernel-sets]]\n"
        'name = "prismhost"\nkind = "static-lib"\nsources = ["crates/hostcalc/cuda/*.cu"]\n'
        'defines = ["OFFSET=1"]\n'
    )
    (crate / "Cargo.toml").write_text('[package]\nname = "hostcalc"\nversion = "0.1.0"\nedition = "2021"\n'
                                      'build = "build.rs"\n')
    (crate / "build.rs").write_text(BUILD_RS)
    (crate / "src" / "main.rs").write_text(MAIN_RS)
    (crate / "cuda" / "host.cu").write_text(HOST_CU)
    (crate / "cuda" / "scale.cuh").write_text("#pragma once\n__device__ inline float scale(float x, float a) "
                                              "{ return a * x; }\n")
    return root


# ---------------------------------------------------------------------- pure

def _kernel(name: str, kind: str = "fatbin") -> Kernel:
    return Kernel(name=name, source=Path(f"/w/{name}.cu"), relative=f"{name}.cu", set_name="s", crate=None,
                  kind=kind)


def test_a_static_lib_file_is_one_object_job_with_every_gencode() -> None:
    lib, dev = _kernel("host", "static-lib"), _kernel("dev")
    jobs = plan_jobs([lib, dev], ["sm_80", "sm_90"], "compute_90")
    assert [j.label for j in jobs if j.kernel is lib] == ["host sm_80+sm_90+compute_90"]
    assert jobs[0].products[0].output_name == "host.o"
    argv = nv.object_argv(Path("nvcc"), Path("/w/host.cu"), jobs[0].products[0].gencodes, Path("/o/host.o"),
                          nv.CompileFlags(), threads=3)
    assert argv[:2] == ["nvcc", "-c"]
    assert " ".join(argv).count("-gencode") == 3
    assert "arch=compute_80,code=sm_80" in argv and "arch=compute_90,code=compute_90" in argv
    assert argv[argv.index("-Xcompiler") + 1] == "-fPIC"
    assert argv[argv.index("--threads") + 1] == "3"
    assert nv.library_argv(Path("nvcc"), Path("/o/libs.a"), [Path("/o/a.o")]) == ["nvcc", "-lib", "-o", "/o/libs.a",
                                                                                  "/o/a.o"]


def test_nvcc_threads_only_for_a_multi_arch_job_that_dominates() -> None:
    host = _kernel("host", "static-lib")
    lib = Job(host, (Product(host, "object", "sm_80+sm_90+compute_90"),))
    small = [Job(_kernel(f"k{i}"), (Product(_kernel(f"k{i}"), "cubin", "sm_90"),)) for i in range(8)]
    costs = {lib: 10.0, **{job: 1.0 for job in small}}
    # 18 s of work on 4 workers: an even share is 4.5 s; the 10 s object gets 3 threads (its 3 targets).
    assert nvcc_threads([lib, *small], costs.__getitem__, 4) == {lib: 3}
    costs[lib] = 1.0  # no longer dominant, and enough other jobs to keep every worker busy
    assert nvcc_threads([lib, *small], costs.__getitem__, 4) == {}
    assert nvcc_threads([lib], costs.__getitem__, 1) == {}  # one worker: nothing to run in parallel
    assert nvcc_threads([lib], costs.__getitem__, 2) == {lib: 2}  # fewer jobs than workers


def test_static_lib_set_name_must_be_a_library_name(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('name = "prismhost"', 'name = "prism.host"'))
    result = run_pipeline(["--workspace", str(root), "cuda"], env=pipeline_env(None, None))
    assert result.returncode == 2, result.stderr
    assert "a static-lib set's name is its library's" in result.stderr


# ---------------------------------------------------------------------- real nvcc + cargo

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, str]]:
    if not HAVE_NVCC:
        pytest.skip("needs the CUDA toolkit's nvcc")
    root = _workspace(tmp_path_factory.mktemp("static-lib") / "ws")
    env = pipeline_env(None, None, PIPELINE_CUDA_CACHE=str(root / "cache"))
    env.pop("PIPELINE_WORKSPACE", None)
    result = run_pipeline(["--workspace", str(root), "cuda", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout), env


@pytest.mark.nvcc
def test_static_lib_objects_library_and_manifest(built) -> None:
    root, output, env = built
    out = root / "target" / "cuda"
    assert output["compiled"] == ["host sm_80+sm_90+compute_90"]
    manifest = json.loads((out / "manifest.json").read_text())
    (kernel,) = manifest["kernels"]
    assert (kernel["kind"], kernel["object"], kernel["library"], kernel["fatbin"]) == (
        "static-lib", "host.o", "libprismhost.a", None)
    assert kernel["gencode"] == ["sm_80", "sm_90", "compute_90"]
    assert kernel["headers"] == ["crates/hostcalc/cuda/scale.cuh"]
    assert kernel["mangled_entries"] == ["_Z12scale_kernelPffi"]  # the __global__ function ptxas compiled
    assert manifest["libraries"] == [{"name": "prismhost", "file": "libprismhost.a", "crates": ["hostcalc"],
                                      "objects": ["host.o"]}]
    assert (out / "libprismhost.a").read_bytes()[:8] == b"!<arch>\n"
    assert (out / "host.o").read_bytes()[:4] == b"\x7fELF"
    sums = (out / "SHA256SUMS").read_text()
    assert "  libprismhost.a\n" in sums and "  host.o\n" in sums
    # The object holds device code for every architecture (cuobjdump, when the toolkit has it).
    try:
        cuobjdump = find_cuda_tool("cuobjdump")
    except PipelineError:
        cuobjdump = None
    if cuobjdump is not None:
        listing = subprocess.run([str(cuobjdump), "--list-elf", str(out / "host.o")], capture_output=True,
                                 text=True).stdout
        assert "sm_80" in listing and "sm_90" in listing
    # Warm: nothing compiled, the library comes from the cache.
    again = run_pipeline(["--workspace", str(root), "cuda", "--json"], env=env)
    assert again.returncode == 0, again.stderr
    warm = json.loads(again.stdout)
    assert warm["compiled"] == [] and warm["cached"] == ["host sm_80+sm_90+compute_90"]


@pytest.mark.nvcc
@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_a_rust_crate_links_the_library_and_calls_its_host_function(built, tmp_path: Path) -> None:
    root, _, env = built
    env = {**env, "PIPELINE_CUDA_TOOL": f"{sys.executable} -m pipeline", "CARGO_TARGET_DIR": str(tmp_path / "t")}
    env.pop("RUSTC_WRAPPER", None)
    result = subprocess.run(["cargo", "run", "-q", "-p", "hostcalc", "--offline"], cwd=root, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    answer, devices = result.stdout.strip().split()
    assert answer == "answer=41"  # 2 * 20 + OFFSET, OFFSET=1 from the set's defines
    assert devices.startswith("devices=") and int(devices.split("=")[1]) >= -1
    # The build script's directives: the library and the static CUDA runtime, from OUT_DIR.
    outputs = list((tmp_path / "t" / "debug" / "build").glob("hostcalc-*/output"))
    text = "".join(p.read_text() for p in outputs)
    assert "cargo:rustc-link-lib=static=prismhost" in text
    assert "cargo:rustc-link-lib=static=cudart_static" in text
    assert f"cargo:rerun-if-changed={root / 'crates/hostcalc/cuda/scale.cuh'}" in text
    assert any((p.parent / "out" / "libprismhost.a").is_file() for p in outputs)
    assert os.path.getsize(next(tmp_path.glob("t/debug/hostcalc"))) > 0
