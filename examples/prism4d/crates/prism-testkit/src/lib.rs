//! Test helpers shared by Prism4D crates. Used only as a dev-dependency.

use prism_core::{Particle, Vec3};

/// `n^3` argon atoms on a simple cubic lattice with the given spacing.
pub fn cubic_lattice(n: usize, spacing: f64) -> Vec<Particle> {
    let mut particles = Vec::with_capacity(n * n * n);
    for i in 0..n {
        for j in 0..n {
            for k in 0..n {
                let position = Vec3::new(i as f64, j as f64, k as f64) * spacing;
                particles.push(Particle::new("Ar", 39.948, position));
            }
        }
    }
    particles
}

/// Positions of a slice of particles.
pub fn positions(particles: &[Particle]) -> Vec<Vec3> {
    particles.iter().map(|p| p.position).collect()
}

/// Panics unless `a` and `b` agree within `tol` (absolute).
#[track_caller]
pub fn assert_close(a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol,
        "{a} and {b} differ by {} (> {tol})",
        (a - b).abs()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lattice_size_and_extent() {
        let lattice = cubic_lattice(3, 2.0);
        assert_eq!(lattice.len(), 27);
        assert_eq!(lattice[26].position, Vec3::new(4.0, 4.0, 4.0));
        assert_eq!(positions(&lattice).len(), 27);
    }

    #[test]
    fn close_values_pass() {
        assert_close(1.0, 1.0 + 1e-12, 1e-9);
    }

    #[test]
    #[should_panic(expected = "differ by")]
    fn distant_values_fail() {
        assert_close(1.0, 2.0, 1e-9);
    }
}
