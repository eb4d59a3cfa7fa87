//! Trajectory I/O in the XYZ format, and simulation settings from legacy decks.

use core_types::{Particle, PrismError, Result, Vec3};

/// Write one XYZ frame: count line, comment line, one `species x y z` line per atom.
pub fn write_xyz(particles: &[Particle], comment: &str) -> String {
    let mut out = format!("{}\n{}\n", particles.len(), comment.replace('\n', " "));
    for p in particles {
        out.push_str(&format!(
            "{} {:.6} {:.6} {:.6}\n",
            p.species, p.position.x, p.position.y, p.position.z
        ));
    }
    out
}

/// Read one XYZ frame; masses are looked up by species (unknown species: 1.0).
pub fn read_xyz(text: &str) -> Result<(String, Vec<Particle>)> {
    let mut lines = text.lines();
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| parse_error(1, "expected the atom count"))?;
    let comment = lines.next().unwrap_or_default().to_string();
    let mut particles = Vec::with_capacity(count);
    for (index, line) in lines.take(count).enumerate() {
        let line_no = index + 3;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [species, x, y, z] = fields[..] else {
            return Err(parse_error(line_no, "expected `species x y z`"));
        };
        let coord = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| parse_error(line_no, &format!("bad coordinate {s:?}")))
        };
        let position = Vec3::new(coord(x)?, coord(y)?, coord(z)?);
        particles.push(Particle::new(species, mass_of(species), position));
    }
    if particles.len() != count {
        return Err(parse_error(
            particles.len() + 3,
            &format!("expected {count} atoms, found {}", particles.len()),
        ));
    }
    Ok((comment, particles))
}

/// Atomic mass in g/mol for a few species.
pub fn mass_of(species: &str) -> f64 {
    match species {
        "H" => 1.008,
        "C" => 12.011,
        "O" => 15.999,
        "Ar" => 39.948,
        _ => 1.0,
    }
}

/// Simulation settings from a legacy input deck.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub steps: usize,
    pub dt: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            steps: 10,
            dt: 0.002,
        }
    }
}

/// Parse `STEPS` and `DT` from a legacy deck; missing keys keep their defaults.
pub fn settings_from_deck(text: &str) -> Result<Settings> {
    let deck = prism_legacy::parse_deck(text)
        .map_err(|(line, message)| PrismError::Parse { line, message })?;
    let mut settings = Settings::default();
    if let Some(steps) = deck.get("STEPS") {
        settings.steps = steps
            .parse()
            .map_err(|_| PrismError::InvalidInput(format!("STEPS = {steps}")))?;
    }
    if let Some(dt) = deck.get("DT") {
        settings.dt = deck
            .get_f64("DT")
            .ok_or_else(|| PrismError::InvalidInput(format!("DT = {dt}")))?;
    }
    Ok(settings)
}

fn parse_error(line: usize, message: &str) -> PrismError {
    PrismError::Parse {
        line,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xyz_round_trip() {
        let particles = vec![
            Particle::new("O", mass_of("O"), Vec3::new(0.0, 0.0, 0.0)),
            Particle::new("H", mass_of("H"), Vec3::new(0.9572, 0.0, 0.0)),
        ];
        let text = write_xyz(&particles, "water\nfragment");
        assert!(text.starts_with("2\nwater fragment\nO 0.000000"));
        let (comment, back) = read_xyz(&text).unwrap();
        assert_eq!(comment, "water fragment");
        assert_eq!(back, particles);
    }

    #[test]
    fn xyz_errors_name_the_line() {
        let err = read_xyz("2\nc\nAr 0 0 0\nAr 1 x 0\n").unwrap_err();
        assert!(matches!(err, PrismError::Parse { line: 4, .. }), "{err}");
        assert!(read_xyz("").is_err());
        assert!(read_xyz("3\nc\nAr 0 0 0\n").is_err());
    }

    #[test]
    fn settings_from_legacy_deck() {
        let s = settings_from_deck("STEPS = 50 ! short run\ndt = 0.001\n").unwrap();
        assert_eq!(
            s,
            Settings {
                steps: 50,
                dt: 0.001
            }
        );
        assert_eq!(settings_from_deck("").unwrap(), Settings::default());
        assert!(settings_from_deck("steps = many").is_err());
        assert!(matches!(
            settings_from_deck("nonsense"),
            Err(PrismError::Parse { line: 1, .. })
        ));
    }
}
