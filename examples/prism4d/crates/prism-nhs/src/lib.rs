//! Neighbour search with a uniform cell grid (spatial hash).

use std::collections::HashMap;

use prism_core::{PrismError, Result, Vec3};

type Cell = (i64, i64, i64);

/// A cell list over a set of positions, with cells of edge `cutoff`.
#[derive(Debug)]
pub struct CellList {
    cutoff: f64,
    cells: HashMap<Cell, Vec<usize>>,
}

impl CellList {
    pub fn build(positions: &[Vec3], cutoff: f64) -> Result<Self> {
        if !(cutoff.is_finite() && cutoff > 0.0) {
            return Err(PrismError::InvalidInput(format!(
                "cutoff must be positive, got {cutoff}"
            )));
        }
        let mut cells: HashMap<Cell, Vec<usize>> = HashMap::new();
        for (i, p) in positions.iter().enumerate() {
            cells.entry(cell_of(*p, cutoff)).or_default().push(i);
        }
        Ok(Self { cutoff, cells })
    }

    pub fn occupied_cells(&self) -> usize {
        self.cells.len()
    }

    /// All pairs `(i, j)` with `i < j` closer than the cutoff, sorted.
    pub fn pairs(&self, positions: &[Vec3]) -> Vec<(usize, usize)> {
        let cutoff2 = self.cutoff * self.cutoff;
        let mut pairs = Vec::new();
        for (&(cx, cy, cz), members) in &self.cells {
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for dz in -1..=1 {
                        let Some(others) = self.cells.get(&(cx + dx, cy + dy, cz + dz)) else {
                            continue;
                        };
                        for &i in members {
                            for &j in others {
                                if i < j && (positions[i] - positions[j]).norm_squared() < cutoff2 {
                                    pairs.push((i, j));
                                }
                            }
                        }
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }
}

fn cell_of(p: Vec3, edge: f64) -> Cell {
    (
        (p.x / edge).floor() as i64,
        (p.y / edge).floor() as i64,
        (p.z / edge).floor() as i64,
    )
}

/// O(n^2) reference for [`CellList::pairs`].
pub fn brute_force_pairs(positions: &[Vec3], cutoff: f64) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for i in 0..positions.len() {
        for j in i + 1..positions.len() {
            if (positions[i] - positions[j]).norm() < cutoff {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use prism_testkit::{cubic_lattice, positions};

    #[test]
    fn matches_brute_force_on_lattice() {
        let particles = cubic_lattice(4, 1.0);
        let pos = positions(&particles);
        let list = CellList::build(&pos, 1.5).unwrap();
        assert_eq!(list.pairs(&pos), brute_force_pairs(&pos, 1.5));
    }

    #[test]
    fn nearest_neighbours_only() {
        let pos = [
            Vec3::new(0.0, 0.0, 0.0),
            Vec3::new(0.9, 0.0, 0.0),
            Vec3::new(5.0, 0.0, 0.0),
        ];
        let list = CellList::build(&pos, 1.0).unwrap();
        assert_eq!(list.pairs(&pos), [(0, 1)]);
        assert_eq!(list.occupied_cells(), 2);
    }

    #[test]
    fn rejects_bad_cutoff() {
        assert!(CellList::build(&[], 0.0).is_err());
        assert!(CellList::build(&[], f64::NAN).is_err());
    }
}
