//! Prism4D GPU kernels.
//!
//! `build.rs` compiles `kernels/*.cu` to fatbins; [`kernels`] exposes their bytes when that
//! worked. [`cpu`] holds the reference implementations that the kernels are checked against.

pub mod cpu;
pub mod kernels;

#[cfg(feature = "gpu")]
pub mod launch;

#[cfg(feature = "tensorcore")]
pub mod tensorcore;

#[cfg(feature = "onnx")]
pub mod onnx;

#[cfg(feature = "python")]
pub mod python;

/// Names of the `extern "C"` entry points, one per kernel file.
pub const KERNEL_ENTRY_POINTS: &[(&str, &str)] = &[
    ("saxpy", "saxpy"),
    ("reduce", "reduce_sum"),
    ("stencil", "stencil3"),
];

/// Features this build was compiled with, for version banners.
pub fn enabled_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(feature = "gpu") {
        features.push("gpu");
    }
    if cfg!(feature = "tensorcore") {
        features.push("tensorcore");
    }
    if cfg!(feature = "onnx") {
        features.push("onnx");
    }
    if cfg!(feature = "python") {
        features.push("python");
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_match_cfg() {
        let features = enabled_features();
        assert_eq!(features.contains(&"gpu"), cfg!(feature = "gpu"));
        assert_eq!(features.contains(&"python"), cfg!(feature = "python"));
        if cfg!(feature = "tensorcore") {
            assert!(features.contains(&"gpu"), "tensorcore implies gpu");
        }
    }

    #[test]
    fn every_kernel_has_an_entry_point() {
        let names: Vec<_> = KERNEL_ENTRY_POINTS.iter().map(|(file, _)| *file).collect();
        assert_eq!(names, ["saxpy", "reduce", "stencil"]);
    }
}
