//! The Rust side of the `prism4d` Python package: a small C ABI plus helpers that
//! describe results in Python terms. Plain Rust (std only); the Python package in
//! `python/` loads it with ctypes.

use prism_core::{Particle, Vec3};

/// Name of the Python package that wraps this crate.
pub const PYTHON_PACKAGE: &str = "prism4d";

/// Bumped when the C ABI below changes incompatibly.
pub const ABI_VERSION: u32 = 1;

#[no_mangle]
pub extern "C" fn prism_py_abi_version() -> u32 {
    ABI_VERSION
}

/// Kinetic energy of one particle, for ctypes callers.
#[no_mangle]
pub extern "C" fn prism_py_kinetic_energy(mass: f64, vx: f64, vy: f64, vz: f64) -> f64 {
    let mut p = Particle::new("X", mass, Vec3::ZERO);
    p.velocity = Vec3::new(vx, vy, vz);
    p.kinetic_energy()
}

/// The dict literal Python's `prism4d.version_info()` returns.
pub fn version_info() -> String {
    format!(
        "{{'package': '{PYTHON_PACKAGE}', 'version': '{}', 'abi': {ABI_VERSION}}}",
        prism_core::VERSION
    )
}

/// Positions as a Python list of tuples.
pub fn positions_repr(particles: &[Particle]) -> String {
    let items: Vec<String> = particles
        .iter()
        .map(|p| {
            format!(
                "({:?}, {:?}, {:?})",
                p.position.x, p.position.y, p.position.z
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// A float buffer as Python would print it (uses prism-gpu's buffer helpers when enabled).
pub fn buffer_repr(values: &[f32]) -> String {
    #[cfg(feature = "python")]
    {
        prism_gpu::python::list_repr(values)
    }
    #[cfg(not(feature = "python"))]
    {
        format!("<{} floats>", values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_functions() {
        assert_eq!(prism_py_abi_version(), ABI_VERSION);
        assert_eq!(prism_py_kinetic_energy(2.0, 1.0, 1.0, 0.0), 2.0);
    }

    #[test]
    fn python_reprs() {
        assert!(version_info().starts_with("{'package': 'prism4d', 'version': '"));
        let p = Particle::new("Ar", 1.0, Vec3::new(1.0, 2.5, -3.0));
        assert_eq!(positions_repr(&[p]), "[(1.0, 2.5, -3.0)]");
        let repr = buffer_repr(&[1.0, 2.0]);
        if cfg!(feature = "python") {
            assert_eq!(repr, "[1.0, 2.0]");
        } else {
            assert_eq!(repr, "<2 floats>");
        }
    }
}
