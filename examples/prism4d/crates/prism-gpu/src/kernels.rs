//! Compiled kernel images (fatbins), embedded when `build.rs` could run nvcc.

/// Architecture the embedded fatbins were compiled for (`sm_90` by default,
/// `PRISM_CUDA_ARCH` at build time); empty when no kernels were compiled.
pub const KERNEL_ARCH: &str = env!("PRISM_KERNEL_ARCH");

#[cfg(not(prism_no_kernels))]
pub static SAXPY_FATBIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/saxpy.fatbin"));
#[cfg(not(prism_no_kernels))]
pub static REDUCE_FATBIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/reduce.fatbin"));
#[cfg(not(prism_no_kernels))]
pub static STENCIL_FATBIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stencil.fatbin"));

/// Whether this build embeds compiled kernels.
pub const fn available() -> bool {
    cfg!(not(prism_no_kernels))
}

/// The fatbin for a kernel file name (`"saxpy"`, `"reduce"`, `"stencil"`).
pub fn fatbin(name: &str) -> Option<&'static [u8]> {
    #[cfg(not(prism_no_kernels))]
    {
        match name {
            "saxpy" => Some(SAXPY_FATBIN),
            "reduce" => Some(REDUCE_FATBIN),
            "stencil" => Some(STENCIL_FATBIN),
            _ => None,
        }
    }
    #[cfg(prism_no_kernels)]
    {
        let _ = name;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fatbin files start with the magic 0xBA55ED50 (little endian).
    const FATBIN_MAGIC: [u8; 4] = [0x50, 0xED, 0x55, 0xBA];

    #[test]
    fn fatbins_present_iff_compiled() {
        for (file, _) in crate::KERNEL_ENTRY_POINTS {
            match fatbin(file) {
                Some(bytes) => {
                    assert!(available());
                    assert_eq!(bytes[..4], FATBIN_MAGIC, "{file}.fatbin");
                    assert!(KERNEL_ARCH.starts_with("sm_"));
                }
                None => {
                    assert!(!available());
                    assert!(KERNEL_ARCH.is_empty());
                }
            }
        }
        assert_eq!(fatbin("nope"), None);
    }
}
