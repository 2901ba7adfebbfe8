//! What drives a flood run: rain, inflows, drainage and the domain's edges, in grid terms.

use super::{Boundary, TimeSeries};
use crate::ScenarioError;

/// Rainfall: one hyetograph (mm/h) per zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Rain {
    /// Zone of each cell (index into `mm_per_h`); `None`: every cell is in zone 0.
    pub zone_of_cell: Option<Vec<u8>>,
    /// Rain intensity over time for each zone, mm/h.
    pub mm_per_h: Vec<TimeSeries>,
}

impl Rain {
    /// No rain.
    pub fn none() -> Rain {
        Rain::uniform(TimeSeries::constant(0.0))
    }

    /// The same hyetograph everywhere.
    pub fn uniform(mm_per_h: TimeSeries) -> Rain {
        Rain {
            zone_of_cell: None,
            mm_per_h: vec![mm_per_h],
        }
    }
}

/// Water entering the domain (m³/s), split evenly over `cells` (one cell for a point, the cells
/// along a line for a river crossing the domain's edge).
#[derive(Clone, Debug, PartialEq)]
pub struct Inflow {
    pub name: String,
    pub cells: Vec<usize>,
    pub m3_per_s: TimeSeries,
}

/// A drain inlet: removes up to its capacity from the water standing in its cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Inlet {
    pub name: String,
    pub cell: usize,
    pub capacity_m3_per_s: f64,
}

/// The four edges of the domain.
#[derive(Clone, Debug, PartialEq)]
pub struct Boundaries {
    pub north: Boundary,
    pub south: Boundary,
    pub east: Boundary,
    pub west: Boundary,
}

impl Boundaries {
    /// The same condition on every edge.
    pub fn all(b: Boundary) -> Boundaries {
        Boundaries {
            north: b.clone(),
            south: b.clone(),
            east: b.clone(),
            west: b,
        }
    }
}

/// Everything that adds or removes water.
#[derive(Clone, Debug, PartialEq)]
pub struct Forcing {
    pub rain: Rain,
    pub inflows: Vec<Inflow>,
    /// Drainage capacity of the sewer network spread over the ground, mm/h (0: none).
    pub drainage_mm_per_h: f64,
    pub inlets: Vec<Inlet>,
    pub boundaries: Boundaries,
    /// Roof rain piped into the sewers through downpipes (what is not piped spills along the
    /// building's walls).
    pub roof_sewer: RoofSewer,
}

/// Roof drainage: `share` of each roof's rain goes down its downpipes into the sewers, up to
/// `capacity_mm_per_h` of rain on the roof; the rest runs off along the walls.
///
/// Roof gutters and downpipes are sized for the design storm (EN 12056-3; in China GB 50015,
/// 建筑给水排水设计标准) and connected to the storm sewer, whose design capacity (GB 50014,
/// 室外排水设计标准) is what [`Forcing::drainage_mm_per_h`] spreads over the ground: rain beyond
/// it backs up and overflows the gutters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RoofSewer {
    pub share: f64,
    pub capacity_mm_per_h: f64,
}

impl RoofSewer {
    /// Of a roof rain rate (any unit per time, mm/h for `capacity`), the part piped away.
    pub fn piped(&self, rate_mm_per_h: f64) -> f64 {
        self.share * rate_mm_per_h.min(self.capacity_mm_per_h).max(0.0)
    }
}

impl Forcing {
    /// Rain only, closed edges, no drainage.
    pub fn rain_only(rain: Rain) -> Forcing {
        Forcing {
            rain,
            inflows: Vec::new(),
            drainage_mm_per_h: 0.0,
            inlets: Vec::new(),
            boundaries: Boundaries::all(Boundary::Closed),
            roof_sewer: RoofSewer::default(),
        }
    }

    pub fn validate(&self, num_cells: usize) -> Result<(), ScenarioError> {
        if self.rain.mm_per_h.is_empty() || self.rain.mm_per_h.len() > 256 {
            return Err(ScenarioError::invalid("rain needs between 1 and 256 zones"));
        }
        for (k, s) in self.rain.mm_per_h.iter().enumerate() {
            if s.min_value() < 0.0 {
                return Err(ScenarioError::invalid(format!(
                    "rain zone {k} has a negative intensity ({} mm/h)",
                    s.min_value()
                )));
            }
        }
        if let Some(z) = &self.rain.zone_of_cell {
            if z.len() != num_cells {
                return Err(ScenarioError::invalid("rain zone array does not match the grid"));
            }
            if let Some(bad) = z.iter().find(|&&k| usize::from(k) >= self.rain.mm_per_h.len()) {
                return Err(ScenarioError::invalid(format!(
                    "rain zone {bad} has no hyetograph"
                )));
            }
        }
        for f in &self.inflows {
            if f.cells.is_empty() || f.cells.iter().any(|&c| c >= num_cells) {
                return Err(ScenarioError::invalid(format!(
                    "inflow '{}' is outside the domain",
                    f.name
                )));
            }
        }
        if !(self.drainage_mm_per_h >= 0.0 && self.drainage_mm_per_h.is_finite()) {
            return Err(ScenarioError::invalid(format!(
                "drainage capacity {} mm/h must be zero or more",
                self.drainage_mm_per_h
            )));
        }
        for i in &self.inlets {
            if i.cell >= num_cells {
                return Err(ScenarioError::invalid(format!(
                    "inlet '{}' is outside the domain",
                    i.name
                )));
            }
            if !(i.capacity_m3_per_s >= 0.0 && i.capacity_m3_per_s.is_finite()) {
                return Err(ScenarioError::invalid(format!(
                    "inlet '{}' capacity {} m³/s must be zero or more",
                    i.name, i.capacity_m3_per_s
                )));
            }
        }
        for (edge, b) in [
            ("north", &self.boundaries.north),
            ("south", &self.boundaries.south),
            ("east", &self.boundaries.east),
            ("west", &self.boundaries.west),
        ] {
            if let Boundary::Free { slope } = b {
                if !(*slope > 0.0 && slope.is_finite()) {
                    return Err(ScenarioError::invalid(format!(
                        "free outflow on the {edge} edge needs a positive slope, not {slope}"
                    )));
                }
            }
        }
        Ok(())
    }
}
