//! Lennard-Jones forces and a velocity-Verlet integrator.

use prism_core::{Particle, PrismError, Result, Vec3};
use prism_nhs::CellList;

/// Lennard-Jones parameters (reduced units) with a cutoff radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LennardJones {
    pub epsilon: f64,
    pub sigma: f64,
    pub cutoff: f64,
}

impl Default for LennardJones {
    fn default() -> Self {
        Self {
            epsilon: 1.0,
            sigma: 1.0,
            cutoff: 2.5,
        }
    }
}

impl LennardJones {
    /// Pair energy at distance `r`.
    pub fn energy(&self, r: f64) -> f64 {
        let s6 = (self.sigma / r).powi(6);
        4.0 * self.epsilon * (s6 * s6 - s6)
    }

    /// Force on `a` from `b` (separation `d = a - b`).
    pub fn force(&self, d: Vec3) -> Vec3 {
        let r2 = d.norm_squared();
        let s6 = (self.sigma * self.sigma / r2).powi(3);
        d * (24.0 * self.epsilon * (2.0 * s6 * s6 - s6) / r2)
    }

    /// Distance of the energy minimum, `2^(1/6) sigma`.
    pub fn r_min(&self) -> f64 {
        2f64.powf(1.0 / 6.0) * self.sigma
    }
}

/// Forces on every particle and the total potential energy.
pub fn compute_forces(particles: &[Particle], lj: &LennardJones) -> Result<(Vec<Vec3>, f64)> {
    let positions: Vec<Vec3> = particles.iter().map(|p| p.position).collect();
    let cells = CellList::build(&positions, lj.cutoff)?;
    let mut forces = vec![Vec3::ZERO; particles.len()];
    let mut pair_energies = Vec::new();
    for (i, j) in cells.pairs(&positions) {
        let d = positions[i] - positions[j];
        let f = lj.force(d);
        forces[i] += f;
        forces[j] += -f;
        pair_energies.push(lj.energy(d.norm()));
    }
    Ok((forces, sum(&pair_energies)))
}

/// One velocity-Verlet step of length `dt`; returns the potential energy after the step.
pub fn verlet_step(particles: &mut [Particle], lj: &LennardJones, dt: f64) -> Result<f64> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(PrismError::InvalidInput(format!(
            "dt must be positive, got {dt}"
        )));
    }
    let (forces, _) = compute_forces(particles, lj)?;
    for (p, f) in particles.iter_mut().zip(&forces) {
        p.velocity += *f * (0.5 * dt / p.mass);
        p.position += p.velocity * dt;
    }
    let (forces, potential) = compute_forces(particles, lj)?;
    for (p, f) in particles.iter_mut().zip(&forces) {
        p.velocity += *f * (0.5 * dt / p.mass);
    }
    Ok(potential)
}

/// Which backend sums energies: the CUDA crate's reference path on unix, plain std elsewhere.
pub fn backend() -> &'static str {
    #[cfg(unix)]
    {
        if prism_gpu::kernels::available() {
            "cuda"
        } else {
            "cpu-reference"
        }
    }
    #[cfg(not(unix))]
    {
        "cpu"
    }
}

/// Sum energies (through prism-gpu's blocked reduction on unix, as the GPU would).
fn sum(values: &[f64]) -> f64 {
    #[cfg(unix)]
    {
        // The kernels work in f32: keep the reference path numerically identical.
        if values.len() > 1024 {
            let as_f32: Vec<f32> = values.iter().map(|v| *v as f32).collect();
            return f64::from(prism_gpu::cpu::reduce_sum(&as_f32));
        }
    }
    values.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prism_testkit::{assert_close, cubic_lattice};

    #[test]
    fn minimum_and_zero_crossing() {
        let lj = LennardJones::default();
        assert_close(lj.energy(lj.sigma), 0.0, 1e-12);
        assert_close(lj.energy(lj.r_min()), -lj.epsilon, 1e-12);
        assert_close(lj.force(Vec3::new(lj.r_min(), 0.0, 0.0)).norm(), 0.0, 1e-9);
    }

    #[test]
    fn forces_obey_newtons_third_law() {
        let lattice = cubic_lattice(3, 1.1);
        let (forces, potential) = compute_forces(&lattice, &LennardJones::default()).unwrap();
        let net = forces.iter().fold(Vec3::ZERO, |acc, f| acc + *f);
        assert_close(net.norm(), 0.0, 1e-9);
        assert!(potential < 0.0);
    }

    #[test]
    fn verlet_conserves_energy() {
        let lj = LennardJones::default();
        let mut particles = vec![
            Particle::new("Ar", 1.0, Vec3::ZERO),
            Particle::new("Ar", 1.0, Vec3::new(1.0, 0.0, 0.0)),
        ];
        let (_, e0) = compute_forces(&particles, &lj).unwrap();
        let mut potential = e0;
        for _ in 0..200 {
            potential = verlet_step(&mut particles, &lj, 0.001).unwrap();
        }
        let total = potential + prism_core::kinetic_energy(&particles);
        assert_close(total, e0, 1e-4);
        assert!(verlet_step(&mut particles, &lj, 0.0).is_err());
    }

    #[test]
    fn backend_is_named() {
        assert!(["cuda", "cpu-reference", "cpu"].contains(&backend()));
    }

    #[test]
    fn large_sums_use_blocked_reduction() {
        let values = vec![0.5; 2000];
        assert_close(sum(&values), 1000.0, 1e-6);
    }
}
