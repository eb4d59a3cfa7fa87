//! Core types shared by every Prism4D crate.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// Version of the core crate (the workspace version, in lockstep).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Boltzmann constant in kJ/(mol K).
pub const BOLTZMANN_KJ_PER_MOL_K: f64 = 0.008_314_462_618;

/// A 3-vector of `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Vec3 {
    pub const ZERO: Vec3 = Vec3::new(0.0, 0.0, 0.0);

    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    pub fn dot(self, other: Vec3) -> f64 {
        self.x * other.x + self.y * other.y + self.z * other.z
    }

    pub fn norm_squared(self) -> f64 {
        self.dot(self)
    }

    pub fn norm(self) -> f64 {
        self.norm_squared().sqrt()
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl AddAssign for Vec3 {
    fn add_assign(&mut self, o: Vec3) {
        *self = *self + o;
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, s: f64) -> Vec3 {
        Vec3::new(self.x * s, self.y * s, self.z * s)
    }
}

impl Neg for Vec3 {
    type Output = Vec3;
    fn neg(self) -> Vec3 {
        Vec3::new(-self.x, -self.y, -self.z)
    }
}

impl fmt::Display for Vec3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:.4}, {:.4}, {:.4})", self.x, self.y, self.z)
    }
}

/// A point particle.
#[derive(Debug, Clone, PartialEq)]
pub struct Particle {
    pub species: String,
    pub mass: f64,
    pub position: Vec3,
    pub velocity: Vec3,
}

impl Particle {
    pub fn new(species: &str, mass: f64, position: Vec3) -> Self {
        Self {
            species: species.to_string(),
            mass,
            position,
            velocity: Vec3::ZERO,
        }
    }

    pub fn kinetic_energy(&self) -> f64 {
        0.5 * self.mass * self.velocity.norm_squared()
    }
}

/// Errors shared across the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrismError {
    Parse { line: usize, message: String },
    InvalidInput(String),
}

impl fmt::Display for PrismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrismError::Parse { line, message } => write!(f, "line {line}: {message}"),
            PrismError::InvalidInput(message) => write!(f, "invalid input: {message}"),
        }
    }
}

impl std::error::Error for PrismError {}

pub type Result<T> = std::result::Result<T, PrismError>;

/// Total kinetic energy of a system.
pub fn kinetic_energy(particles: &[Particle]) -> f64 {
    particles.iter().map(Particle::kinetic_energy).sum()
}

/// Instantaneous temperature from equipartition (3N degrees of freedom).
pub fn temperature(particles: &[Particle]) -> f64 {
    if particles.is_empty() {
        return 0.0;
    }
    let dof = 3.0 * particles.len() as f64;
    2.0 * kinetic_energy(particles) / (dof * BOLTZMANN_KJ_PER_MOL_K)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_algebra() {
        let a = Vec3::new(1.0, 2.0, 3.0);
        let b = Vec3::new(4.0, 5.0, 6.0);
        assert_eq!(a + b, Vec3::new(5.0, 7.0, 9.0));
        assert_eq!(b - a, Vec3::new(3.0, 3.0, 3.0));
        assert_eq!(a * 2.0, Vec3::new(2.0, 4.0, 6.0));
        assert_eq!(-a, Vec3::new(-1.0, -2.0, -3.0));
        assert_eq!(a.dot(b), 32.0);
        assert_eq!(Vec3::new(3.0, 4.0, 0.0).norm(), 5.0);
    }

    #[test]
    fn kinetic_energy_and_temperature() {
        let mut p = Particle::new("Ar", 2.0, Vec3::ZERO);
        p.velocity = Vec3::new(1.0, 0.0, 0.0);
        assert_eq!(p.kinetic_energy(), 1.0);
        assert_eq!(kinetic_energy(&[p.clone(), p.clone()]), 2.0);
        let t = temperature(&[p]);
        assert!((t - 2.0 / (3.0 * BOLTZMANN_KJ_PER_MOL_K)).abs() < 1e-9);
        assert_eq!(temperature(&[]), 0.0);
    }

    #[test]
    fn error_display() {
        let e = PrismError::Parse {
            line: 3,
            message: "bad float".into(),
        };
        assert_eq!(e.to_string(), "line 3: bad float");
        // No literal version here: release tooling bumps it.
        let core = VERSION.split(['-', '+']).next().unwrap_or_default();
        assert_eq!(core.split('.').count(), 3);
    }
}
