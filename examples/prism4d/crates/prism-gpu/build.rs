//! Puts `kernels/*.cu`, compiled to `.fatbin` files, in `OUT_DIR`: one kernel build shared with
//! `pipeline cuda` (cargo-gpu-pipeline's docs/cuda.md explains the design).
//!
//! The first of these that applies is used:
//!
//! 1. `PIPELINE_CUDA_PREBUILT=DIR`: the fatbins of a `pipeline cuda` output directory (e.g. a CI
//!    artifact), each checked against `DIR/SHA256SUMS`; a mismatch fails the build.
//! 2. The tool: `$PIPELINE_CUDA_TOOL` (a command line, default `pipeline` on `PATH`) runs
//!    `cuda --emit-cargo OUT_DIR --crate prism-gpu`. Same architectures, flags and
//!    content-addressed cache as `pipeline cuda`: whichever runs second compiles nothing.
//! 3. Plain nvcc, no Python needed, with a `cargo:warning`: one nvcc per (kernel, architecture)
//!    in parallel plus PTX for the newest, bundled by `fatbinary`, the same flags `pipeline cuda`
//!    uses. Architectures: `$PIPELINE_CUDA_ARCHS` (`sm_80,sm_90`), else [`ARCHS`], which a
//!    cargo-gpu-pipeline test keeps equal to `architectures` in the workspace Cargo.toml. The nvcc
//!    calls go through `$PIPELINE_CUDA_WRAPPER` (e.g. `sccache`), or through `RUSTC_WRAPPER` when
//!    that is sccache, so they share sccache's cache with `pipeline cuda` (`cuda.cache = "sccache"`).
//!
//! When the `gpu` feature is off, `PRISM_NO_CUDA=1` is set, or nvcc is missing or fails, the crate
//! still builds: a `cargo:warning` says why and the `prism_no_kernels` cfg leaves the fatbins out.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

const KERNELS: &[&str] = &["saxpy", "reduce", "stencil"];
/// Kept equal to `[workspace.metadata.pipeline.cuda] architectures` (a test checks it).
const ARCHS: &[&str] = &["sm_80", "sm_90", "sm_120"];
const CRATE: &str = "prism-gpu";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(prism_no_kernels)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels");
    for var in [
        "CUDA_HOME",
        "CUDA_PATH",
        "PATH",
        "PRISM_NO_CUDA",
        "PIPELINE_CUDA_PREBUILT",
        "PIPELINE_CUDA_TOOL",
        "PIPELINE_CUDA_ARCHS",
        "PIPELINE_CUDA_WRAPPER",
        "PIPELINE_CUDA_CACHE",
        "RUSTC_WRAPPER",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    match compile_kernels() {
        Ok(archs) => println!("cargo:rustc-env=PRISM_KERNEL_ARCH={archs}"),
        Err(reason) => {
            if !reason.is_empty() {
                println!("cargo:warning=prism-gpu: {reason}; building without CUDA kernels");
            }
            println!("cargo:rustc-cfg=prism_no_kernels");
            println!("cargo:rustc-env=PRISM_KERNEL_ARCH=");
        }
    }
}

/// The architectures embedded (`sm_80,sm_90,sm_120`), or why nothing was
/// (an empty reason: the `gpu` feature is off, which needs no warning).
fn compile_kernels() -> Result<String, String> {
    if env::var_os("CARGO_FEATURE_GPU").is_none() {
        return Err(String::new());
    }
    if env::var("PRISM_NO_CUDA").is_ok_and(|v| !v.is_empty() && v != "0") {
        return Err("PRISM_NO_CUDA is set".to_string());
    }
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    if let Some(dir) = env::var_os("PIPELINE_CUDA_PREBUILT").filter(|v| !v.is_empty()) {
        return prebuilt(Path::new(&dir), &out_dir);
    }
    match run_tool(&manifest_dir, &out_dir) {
        Ok(archs) => return Ok(archs),
        Err(reason) => {
            println!("cargo:warning=prism-gpu: {reason}; compiling the kernels with plain nvcc")
        }
    }
    plain_nvcc(&manifest_dir.join("kernels"), &out_dir)
}

// ------------------------------------------------------------------ 1. prebuilt fatbins

fn prebuilt(dir: &Path, out_dir: &Path) -> Result<String, String> {
    let sums_path = dir.join("SHA256SUMS");
    println!("cargo:rerun-if-changed={}", sums_path.display());
    let sums = fs::read_to_string(&sums_path).map_err(|e| {
        format!(
            "PIPELINE_CUDA_PREBUILT: cannot read {}: {e}",
            sums_path.display()
        )
    })?;
    for name in KERNELS {
        let file = format!("{name}.fatbin");
        let expected = sums
            .lines()
            .find_map(|line| line.strip_suffix(&format!("  {file}")))
            .ok_or_else(|| {
                format!(
                    "PIPELINE_CUDA_PREBUILT: {} lists no {file}",
                    sums_path.display()
                )
            })?;
        let path = dir.join(&file);
        println!("cargo:rerun-if-changed={}", path.display());
        let data = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let actual = sha256_hex(&data);
        if actual != expected.trim() {
            // A wrong kernel must never be embedded silently: this one fails the build.
            panic!(
                "prism-gpu: {} has sha256 {actual}, {} says {}",
                path.display(),
                sums_path.display(),
                expected.trim()
            );
        }
        fs::write(out_dir.join(&file), &data).map_err(|e| format!("cannot write {file}: {e}"))?;
    }
    let manifest = fs::read_to_string(dir.join("manifest.json")).unwrap_or_default();
    Ok(json_string_list(&manifest, "architectures").unwrap_or_default())
}

/// The strings of `"key": ["a", "b"]` in a JSON text, joined with commas (enough for manifest.json).
fn json_string_list(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("\"{key}\""))?;
    let rest = &text[start..];
    let open = rest.find('[')?;
    let close = rest.find(']')?;
    let items: Vec<&str> = rest[open + 1..close]
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    Some(items.join(","))
}

// ------------------------------------------------------------------ 2. the tool

fn run_tool(manifest_dir: &Path, out_dir: &Path) -> Result<String, String> {
    let command_line = match env::var("PIPELINE_CUDA_TOOL") {
        Ok(line) if !line.trim().is_empty() => line,
        _ => find_on_path("pipeline")
            .map(|p| p.display().to_string())
            .ok_or(
                "cargo-gpu-pipeline (`pipeline`) not found on PATH and PIPELINE_CUDA_TOOL unset",
            )?,
    };
    let mut words = command_line.split_whitespace();
    let program = words.next().ok_or("PIPELINE_CUDA_TOOL is empty")?;
    let mut command = Command::new(program);
    command
        .args(words)
        .arg("cuda")
        .arg("--emit-cargo")
        .arg(out_dir)
        .arg("--crate")
        .arg(CRATE);
    if let Ok(archs) = env::var("PIPELINE_CUDA_ARCHS") {
        for arch in archs.split(',').filter(|a| !a.trim().is_empty()) {
            command.arg("--arch").arg(arch.trim());
        }
    }
    // The workspace is found from the crate's directory, as `pipeline` does from any member.
    let output = command
        .current_dir(manifest_dir)
        .env_remove("PIPELINE_WORKSPACE")
        .output()
        .map_err(|e| format!("could not run {command_line}: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        return Err(format!(
            "`{command_line} cuda` failed ({}): {}",
            output.status,
            lines
                .iter()
                .rev()
                .take(3)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    let mut archs = String::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(value) = line.strip_prefix("cargo:rustc-env=PIPELINE_CUDA_ARCHS=") {
            archs = value.to_string();
        }
        if line.starts_with("cargo:") {
            println!("{line}");
        }
    }
    for name in KERNELS {
        if !out_dir.join(format!("{name}.fatbin")).is_file() {
            return Err(format!(
                "`{command_line} cuda` built no {name}.fatbin for {CRATE}"
            ));
        }
    }
    Ok(archs)
}

// ------------------------------------------------------------------ 3. plain nvcc

fn plain_nvcc(kernel_dir: &Path, out_dir: &Path) -> Result<String, String> {
    let nvcc = find_nvcc().ok_or_else(|| {
        "nvcc not found (looked in $CUDA_HOME/bin, $CUDA_PATH/bin, PATH and /usr/local/cuda/bin)".to_string()
    })?;
    let fatbinary = nvcc.with_file_name(if cfg!(windows) {
        "fatbinary.exe"
    } else {
        "fatbinary"
    });
    let archs: Vec<String> = match env::var("PIPELINE_CUDA_ARCHS") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|a| a.trim().to_string()).collect()
        }
        _ => ARCHS.iter().map(|a| a.to_string()).collect(),
    };
    let mut numbers = Vec::new();
    for arch in &archs {
        numbers.push(
            arch_number(arch)
                .ok_or_else(|| format!("{arch:?} is not an architecture like sm_90"))?,
        );
    }
    let newest = *numbers.iter().max().ok_or("no architecture to build")?;
    let ptx = format!("compute_{newest}");
    let wrapper = nvcc_wrapper();

    // One job per (kernel, architecture) plus one PTX job per kernel, all at once: each nvcc is
    // mostly single-threaded, and cargo runs other crates' build steps beside this one.
    let mut jobs: Vec<(&str, String, String)> = Vec::new(); // (kernel, kind, arch)
    for name in KERNELS {
        for arch in &archs {
            jobs.push((name, "cubin".to_string(), arch.clone()));
        }
        jobs.push((name, "ptx".to_string(), ptx.clone()));
    }
    let results: Vec<Result<(), String>> = thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, kind, arch)| {
                let (nvcc, wrapper) = (&nvcc, &wrapper);
                scope.spawn(move || {
                    compile_one(wrapper, nvcc, kernel_dir, out_dir, name, kind, arch)
                })
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
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    for name in KERNELS {
        let mut command = Command::new(&fatbinary);
        command
            .arg(format!(
                "--create={}",
                out_dir.join(format!("{name}.fatbin")).display()
            ))
            .arg("-64");
        for arch in &archs {
            let file = out_dir.join(format!("{name}.{arch}.cubin"));
            command.arg(format!(
                "--image3=kind=elf,sm={},file={}",
                &arch[3..],
                file.display()
            ));
        }
        let file = out_dir.join(format!("{name}.{ptx}.ptx"));
        command.arg(format!(
            "--image3=kind=ptx,sm={newest},file={}",
            file.display()
        ));
        run(&mut command, &format!("fatbinary for {name}"))?;
    }
    for name in KERNELS {
        print_deps(&out_dir.join(format!("{name}.d")));
    }
    Ok(archs.join(","))
}

fn compile_one(
    wrapper: &Option<PathBuf>,
    nvcc: &Path,
    kernel_dir: &Path,
    out_dir: &Path,
    name: &str,
    kind: &str,
    arch: &str,
) -> Result<(), String> {
    let mut command = match wrapper {
        Some(wrapper) => {
            let mut c = Command::new(wrapper);
            c.arg(nvcc);
            c
        }
        None => Command::new(nvcc),
    };
    // The flags `pipeline cuda` uses (pipeline/cuda/nvcc.py): -cubin -arch=sm_XX -Xptxas -v, or
    // -ptx -arch=compute_XX; the kernel's own directory on the include path.
    if kind == "ptx" {
        command.arg("-ptx").arg(format!("-arch={arch}"));
        command
            .arg("-MD")
            .arg("-MF")
            .arg(out_dir.join(format!("{name}.d")));
    } else {
        command
            .arg("-cubin")
            .arg(format!("-arch={arch}"))
            .arg("-Xptxas")
            .arg("-v");
    }
    command
        .arg("-I")
        .arg(kernel_dir)
        .arg("-o")
        .arg(out_dir.join(format!("{name}.{arch}.{kind}")))
        .arg(kernel_dir.join(format!("{name}.cu")));
    run(&mut command, &format!("nvcc on {name}.cu for {arch}"))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    match command.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!("{what} failed ({}): {first}", out.status))
        }
        Err(e) => Err(format!(
            "could not run {what} ({:?}): {e}",
            command.get_program()
        )),
    }
}

/// `cargo:rerun-if-changed` for every file of nvcc's make rule (the source and each header it includes).
fn print_deps(depfile: &Path) {
    let Ok(text) = fs::read_to_string(depfile) else {
        return;
    };
    let joined = text.replace("\\\n", " ");
    let body = joined.split_once(": ").map(|(_, b)| b).unwrap_or("");
    for item in body.split_whitespace() {
        let path = Path::new(item);
        if path.is_file() && !item.starts_with("/usr/") {
            println!("cargo:rerun-if-changed={item}");
        }
    }
}

/// `$PIPELINE_CUDA_WRAPPER`, else `RUSTC_WRAPPER` when it is sccache (cc-rs does the same for C).
fn nvcc_wrapper() -> Option<PathBuf> {
    for var in ["PIPELINE_CUDA_WRAPPER", "RUSTC_WRAPPER"] {
        let Some(value) = env::var_os(var).filter(|v| !v.is_empty()) else {
            continue;
        };
        let path = PathBuf::from(&value);
        let is_sccache = path.file_stem().is_some_and(|s| s == "sccache");
        if var == "PIPELINE_CUDA_WRAPPER" || is_sccache {
            return if path.components().count() > 1 {
                Some(path)
            } else {
                find_on_path(&path.to_string_lossy())
            };
        }
    }
    None
}

/// `sm_90` -> 90, `sm_90a` -> 90.
fn arch_number(arch: &str) -> Option<u32> {
    let rest = arch.strip_prefix("sm_")?;
    let digits = rest.trim_end_matches(['a', 'f']);
    (digits.len() >= 2 && rest.len() - digits.len() <= 1)
        .then(|| digits.parse().ok())
        .flatten()
}

fn find_on_path(exe: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(exe))
        .find(|candidate| candidate.is_file())
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
    if let Some(found) = find_on_path(exe) {
        // /usr/local/bin/nvcc is often a script forwarding to the toolkit: fatbinary sits beside the real one.
        let real = fs::canonicalize(&found).unwrap_or(found.clone());
        if real.with_file_name("fatbinary").is_file() {
            return Some(real);
        }
        if let Some(dir) = toolkit_of_script(&found) {
            return Some(dir);
        }
        return Some(found);
    }
    let fallback = PathBuf::from("/usr/local/cuda/bin").join(exe);
    fallback.is_file().then_some(fallback)
}

/// A forwarding script (`exec /usr/local/cuda-13.0/bin/nvcc "$@"`): the nvcc it runs.
fn toolkit_of_script(script: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(script).ok()?;
    text.split_whitespace()
        .map(PathBuf::from)
        .find(|p| p.ends_with("bin/nvcc") && p.with_file_name("fatbinary").is_file())
}

// ------------------------------------------------------------------ sha256 (std only)

fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for chunk in message.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}
