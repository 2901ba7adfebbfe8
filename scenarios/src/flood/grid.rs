//! The model grid: bed elevation, buildings, roughness.

use crate::ScenarioError;

/// Manning's n over the grid.
#[derive(Clone, Debug, PartialEq)]
pub enum Manning {
    /// One n everywhere (s/m^(1/3)).
    Uniform(f64),
    /// A class per cell and the n of each class (at most 256 classes: 1 byte a cell).
    Classes {
        class_of_cell: Vec<u8>,
        n_of_class: Vec<f64>,
    },
}

/// A north-up grid of square or rectangular cells for the flood model. Cell `(col, row)` has
/// index `row · width + col`; row 0 is the northern edge.
#[derive(Clone, Debug, PartialEq)]
pub struct FloodGrid {
    pub width: usize,
    pub height: usize,
    /// Top-left corner, project CRS.
    pub origin_x: f64,
    pub origin_y: f64,
    /// Cell size west–east and north–south, m.
    pub dx: f64,
    pub dy: f64,
    /// Bed elevation, m. Must be finite everywhere.
    pub z: Vec<f32>,
    /// Cells inside a building: water cannot enter; rain on them runs off beside the building.
    pub blocked: Vec<bool>,
    pub manning: Manning,
}

impl FloodGrid {
    /// A grid with no buildings and one Manning's n.
    pub fn new(
        width: usize,
        height: usize,
        origin: (f64, f64),
        cell: (f64, f64),
        z: Vec<f32>,
        n: f64,
    ) -> FloodGrid {
        FloodGrid {
            width,
            height,
            origin_x: origin.0,
            origin_y: origin.1,
            dx: cell.0,
            dy: cell.1,
            blocked: vec![false; z.len()],
            z,
            manning: Manning::Uniform(n),
        }
    }

    pub fn num_cells(&self) -> usize {
        self.width * self.height
    }

    /// Cell area, m².
    pub fn cell_area(&self) -> f64 {
        self.dx * self.dy
    }

    /// The cell that contains a point, if any.
    pub fn cell_at(&self, x: f64, y: f64) -> Option<usize> {
        let col = ((x - self.origin_x) / self.dx).floor();
        let row = ((self.origin_y - y) / self.dy).floor();
        if col >= 0.0 && row >= 0.0 && (col as usize) < self.width && (row as usize) < self.height {
            Some(row as usize * self.width + col as usize)
        } else {
            None
        }
    }

    /// Centre of a cell.
    pub fn cell_centre(&self, cell: usize) -> (f64, f64) {
        let (col, row) = (cell % self.width, cell / self.width);
        (
            self.origin_x + (col as f64 + 0.5) * self.dx,
            self.origin_y - (row as f64 + 0.5) * self.dy,
        )
    }

    /// Checks sizes, spacing, elevations and roughness before a run.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let n = self.num_cells();
        if self.width < 2 || self.height < 2 {
            return Err(ScenarioError::invalid(format!(
                "the flood grid is {}×{} cells; it needs at least 2×2",
                self.width, self.height
            )));
        }
        if !(self.dx > 0.0 && self.dy > 0.0 && self.dx.is_finite() && self.dy.is_finite()) {
            return Err(ScenarioError::invalid(format!(
                "cell size {}×{} m is not positive",
                self.dx, self.dy
            )));
        }
        if self.z.len() != n || self.blocked.len() != n {
            return Err(ScenarioError::invalid("grid arrays do not match the grid size"));
        }
        if let Some(bad) = self.z.iter().position(|v| !v.is_finite()) {
            let count = self.z.iter().filter(|v| !v.is_finite()).count();
            let (x, y) = self.cell_centre(bad);
            return Err(ScenarioError::invalid(format!(
                "the terrain has no data (NaN) in {count} cell(s) of the domain, first at column {}, row {} \
                 (x {x:.1}, y {y:.1}); choose a domain bbox inside the terrain's data or fill the gaps",
                bad % self.width,
                bad / self.width
            )));
        }
        match &self.manning {
            Manning::Uniform(nv) => check_n(*nv)?,
            Manning::Classes {
                class_of_cell,
                n_of_class,
            } => {
                if class_of_cell.len() != n {
                    return Err(ScenarioError::invalid(
                        "Manning class array does not match the grid",
                    ));
                }
                for &v in n_of_class {
                    check_n(v)?;
                }
                if let Some(c) = class_of_cell
                    .iter()
                    .find(|&&c| usize::from(c) >= n_of_class.len())
                {
                    return Err(ScenarioError::invalid(format!("Manning class {c} has no n")));
                }
            }
        }
        if self.blocked.iter().all(|&b| b) {
            return Err(ScenarioError::invalid(
                "every cell of the domain is inside a building",
            ));
        }
        Ok(())
    }
}

fn check_n(n: f64) -> Result<(), ScenarioError> {
    if n.is_finite() && (0.0..1.0).contains(&n) {
        Ok(())
    } else {
        Err(ScenarioError::invalid(format!(
            "Manning's n {n} is out of range (0 to 1 s/m^(1/3); 0.01–0.1 is usual)"
        )))
    }
}
