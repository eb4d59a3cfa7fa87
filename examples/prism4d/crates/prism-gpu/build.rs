//! Compiles `kernels/*.cu` to `.fatbin` files in `OUT_DIR` with nvcc.
//!
//! nvcc is looked up in `CUDA_HOME`/`CUDA_PATH` (`bin/nvcc`), then `PATH`, then
//! `/usr/local/cuda/bin/nvcc`. When the `gpu` feature is off, `PRISM_NO_CUDA=1` is set,
//! nvcc is missing or it fails, the crate still builds: a `cargo:warning` says why and
//! the `prism_no_kernels` cfg is set so the library leaves the fatbin bytes out.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

const KERNELS: &[&str] = &["saxpy", "reduce", "stencil"];
const DEFAULT_ARCH: &str = "sm_90";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(prism_no_kernels)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-changed=kernels/common.cuh");
    for name in KERNELS {
        println!("cargo:rerun-if-changed=kernels/{name}.cu");
    }
    for var in [
        "CUDA_HOME",
        "CUDA_PATH",
        "PATH",
        "PRISM_CUDA_ARCH",
        "PRISM_NO_CUDA",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    match compile_kernels() {
        Ok(arch) => println!("cargo:rustc-env=PRISM_KERNEL_ARCH={arch}"),
        Err(reason) => {
            if !reason.is_empty() {
                println!("cargo:warning=prism-gpu: {reason}; building without CUDA kernels");
            }
            println!("cargo:rustc-cfg=prism_no_kernels");
            println!("cargo:rustc-env=PRISM_KERNEL_ARCH=");
        }
    }
}

/// Returns the architecture compiled for, or why nothing was compiled
/// (an empty reason: the `gpu` feature is off, which needs no warning).
fn compile_kernels() -> Result<String, String> {
    if env::var_os("CARGO_FEATURE_GPU").is_none() {
        return Err(String::new());
    }
    if env::var("PRISM_NO_CUDA").is_ok_and(|v| !v.is_empty() && v != "0") {
        return Err("PRISM_NO_CUDA is set".to_string());
    }
    let arch = env::var("PRISM_CUDA_ARCH").unwrap_or_else(|_| DEFAULT_ARCH.to_string());
    let compute = compute_arch(&arch).ok_or_else(|| {
        format!("PRISM_CUDA_ARCH={arch:?} is not an architecture like sm_90 or sm_120a")
    })?;
    let nvcc = find_nvcc().ok_or_else(|| {
        "nvcc not found (looked in $CUDA_HOME/bin, $CUDA_PATH/bin, PATH and /usr/local/cuda/bin)"
            .to_string()
    })?;

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let kernel_dir = manifest_dir.join("kernels");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    // One nvcc per kernel, in parallel: each invocation is mostly single-threaded.
    let results: Vec<Result<(), String>> = thread::scope(|scope| {
        let handles: Vec<_> = KERNELS
            .iter()
            .map(|name| {
                let (nvcc, kernel_dir, out_dir) = (&nvcc, &kernel_dir, &out_dir);
                let (arch, compute) = (&arch, &compute);
                scope.spawn(move || compile_one(nvcc, kernel_dir, out_dir, name, arch, compute))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("nvcc thread panicked".into()))
            })
            .collect()
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(arch)
    } else {
        Err(errors.join("; "))
    }
}

fn compile_one(
    nvcc: &Path,
    kernel_dir: &Path,
    out_dir: &Path,
    name: &str,
    arch: &str,
    compute: &str,
) -> Result<(), String> {
    let source = kernel_dir.join(format!("{name}.cu"));
    let output = out_dir.join(format!("{name}.fatbin"));
    let result = Command::new(nvcc)
        .arg("-fatbin")
        .arg(format!("-gencode=arch={compute},code={arch}"))
        .arg(format!("-gencode=arch={compute},code={compute}"))
        .arg("-I")
        .arg(kernel_dir)
        .arg("-o")
        .arg(&output)
        .arg(&source)
        .output();
    match result {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!(
                "nvcc failed on {name}.cu ({}): {first}",
                out.status
            ))
        }
        Err(e) => Err(format!("could not run {}: {e}", nvcc.display())),
    }
}

/// `sm_90` -> `compute_90`, `sm_90a` -> `compute_90a`.
fn compute_arch(arch: &str) -> Option<String> {
    let rest = arch.strip_prefix("sm_")?;
    let digits = rest.trim_end_matches(['a', 'f']);
    let valid = digits.len() >= 2
        && digits.chars().all(|c| c.is_ascii_digit())
        && rest.len() - digits.len() <= 1;
    valid.then(|| format!("compute_{rest}"))
}

fn find_nvcc() -> Option<PathBuf> {
    let exe = if cfg!(windows) { "nvcc.exe" } else { "nvcc" };
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = env::var_os(var).filter(|v| !v.is_empty()) {
            let candidate = PathBuf::from(root).join("bin").join(exe);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            let candidate = dir.join(exe);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let fallback = PathBuf::from("/usr/local/cuda/bin").join(exe);
    fallback.is_file().then_some(fallback)
}
