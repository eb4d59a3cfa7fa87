//! Compiled kernel images (fatbins), embedded when `build.rs` could run nvcc.

/// Architectures the embedded fatbins hold as SASS (`sm_80,sm_90,sm_120`: the workspace's
/// `architectures`, or `PIPELINE_CUDA_ARCHS` at build time), plus PTX for the newest;
/// empty when no kernels were compiled.
pub const KERNEL_ARCH: &str = env!("PRISM_KERNEL_ARCH");

/// A fatbin image, 8-byte aligned as the CUDA driver and `cuobjdump` expect.
#[repr(C, align(8))]
pub struct Image<const N: usize>(pub [u8; N]);

/// Embeds `OUT_DIR/<name>.fatbin` in the `.nv_fatbin` section, where nvcc-built objects keep
/// theirs: `cuobjdump --list-elf`/`--list-ptx` on the binary then list every architecture, which
/// is what `pipeline release` checks before tagging.
macro_rules! embed {
    ($image:ident, $bytes:ident, $file:literal) => {
        #[cfg(not(prism_no_kernels))]
        #[used]
        #[cfg_attr(target_os = "linux", link_section = ".nv_fatbin")]
        static $image: Image<{ include_bytes!(concat!(env!("OUT_DIR"), "/", $file)).len() }> =
            Image(*include_bytes!(concat!(env!("OUT_DIR"), "/", $file)));
        #[cfg(not(prism_no_kernels))]
        pub static $bytes: &[u8] = &$image.0;
    };
}

embed!(SAXPY_IMAGE, SAXPY_FATBIN, "saxpy.fatbin");
embed!(REDUCE_IMAGE, REDUCE_FATBIN, "reduce.fatbin");
embed!(STENCIL_IMAGE, STENCIL_FATBIN, "stencil.fatbin");

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
