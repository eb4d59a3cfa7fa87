//! `prism`: run a small Lennard-Jones simulation and print a trajectory summary.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::process::ExitCode;

use prism_core::{temperature, Particle, Vec3};
use prism_physics::{verlet_step, LennardJones};

const USAGE: &str = "usage: prism [--version] [--steps N] [--xyz]";

fn banner() -> String {
    format!("prism {}", env!("CARGO_PKG_VERSION"))
}

/// Parsed command line.
#[derive(Debug, PartialEq)]
struct Options {
    steps: usize,
    xyz: bool,
}

enum Command {
    Version,
    Run(Options),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut options = Options {
        steps: prism_io::Settings::default().steps,
        xyz: false,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--version" | "-V" => return Ok(Command::Version),
            "--xyz" => options.xyz = true,
            "--steps" => {
                let value = iter.next().ok_or("--steps needs a value")?;
                options.steps = value
                    .parse()
                    .map_err(|_| format!("--steps: not a number: {value}"))?;
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Command::Run(options))
}

/// A slightly stretched dimer-of-dimers, small enough to run instantly.
fn initial_system() -> Vec<Particle> {
    [
        (0.0, 0.0, 0.0),
        (1.2, 0.0, 0.0),
        (0.0, 1.2, 0.0),
        (1.2, 1.2, 0.1),
    ]
    .into_iter()
    .map(|(x, y, z)| Particle::new("Ar", 1.0, Vec3::new(x, y, z)))
    .collect()
}

fn simulate(options: &Options) -> Result<(Vec<Particle>, f64), prism_core::PrismError> {
    let lj = LennardJones::default();
    let dt = prism_io::Settings::default().dt;
    let mut particles = initial_system();
    let mut potential = prism_physics::compute_forces(&particles, &lj)?.1;
    for _ in 0..options.steps {
        potential = verlet_step(&mut particles, &lj, dt)?;
    }
    Ok((particles, potential))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (report, code) = match parse_args(&args) {
        Ok(Command::Version) => (format!("{}\n", banner()), ExitCode::SUCCESS),
        Ok(Command::Run(options)) => run(&options),
        Err(message) => {
            eprintln!("prism: {message}");
            return ExitCode::from(2);
        }
    };
    // A closed pipe (`prism | head`) is not an error worth a panic.
    let _ = io::stdout().write_all(report.as_bytes());
    code
}

fn run(options: &Options) -> (String, ExitCode) {
    let mut out = String::new();
    let arch = match prism_gpu::kernels::KERNEL_ARCH {
        "" => "none",
        arch => arch,
    };
    let _ = writeln!(out, "{} ({})", banner(), env!("PRISM_BUILD_SUMMARY"));
    let _ = writeln!(
        out,
        "backend {}, kernels for {arch}",
        prism_physics::backend()
    );
    match simulate(options) {
        Ok((particles, potential)) => {
            let kinetic = prism_core::kinetic_energy(&particles);
            let _ = writeln!(
                out,
                "steps {}: potential {potential:.6}, kinetic {kinetic:.6}, T {:.3}",
                options.steps,
                temperature(&particles)
            );
            if options.xyz {
                out.push_str(&prism_io::write_xyz(&particles, "prism final frame"));
            }
            (out, ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("prism: simulation failed: {e}");
            (out, ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn banner_names_the_version() {
        assert_eq!(banner(), format!("prism {}", prism_core::VERSION));
    }

    #[test]
    fn parses_arguments() {
        assert!(matches!(
            parse_args(&args(&["--version"])),
            Ok(Command::Version)
        ));
        match parse_args(&args(&["--steps", "5", "--xyz"])) {
            Ok(Command::Run(o)) => assert_eq!(
                o,
                Options {
                    steps: 5,
                    xyz: true
                }
            ),
            _ => panic!("expected a run"),
        }
        assert!(parse_args(&args(&["--steps"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn run_reports_energies() {
        let (report, _) = run(&Options {
            steps: 3,
            xyz: true,
        });
        assert!(report.starts_with(&banner()));
        assert!(report.contains("steps 3: potential "));
        assert!(report.contains("prism final frame"));
    }

    #[test]
    fn simulation_runs() {
        let (particles, potential) = simulate(&Options {
            steps: 20,
            xyz: false,
        })
        .unwrap();
        assert_eq!(particles.len(), 4);
        assert!(potential.is_finite());
    }
}
