//! The flood simulation: state arrays, the time step, the volume balance.
//!
//! Memory: bed (f32), depth (f64, so volume sums hold to round-off), face fluxes x and y (f32),
//! one scratch array (f32), maximum depth (f32), time of maximum depth (u16) and maximum speed
//! (u16, cm/s): 32 bytes a cell, plus 1 byte a cell for Manning classes or rain zones when used.
//!
//! One step: sparse sources (inflows, roof runoff, inlets), then two sweeps over the grid,
//! each parallel over rows, each row a pure function of the arrays the sweep reads, so results
//! do not depend on the number of threads:
//! 1. face fluxes, in blocks of rows (x in place from a copy of the old row; y into the scratch
//!    array, then swapped), and a row behind them the outflows of cells whose water cannot
//!    supply them scaled down (rounding toward zero),
//! 2. continuity, rain and drainage, and the peaks, with per-row sums added in row order.
//!
//! The loops over a row are in [`lanes`](super::lanes): level differences and flow depths in
//! f64, the face update in f32, continuity in f64, each compiled for the baseline CPU and for
//! AVX2 with bitwise the same results.

use rayon::prelude::*;

use super::grid::{FloodGrid, Manning};
use super::kernel::{boundary_flux, FaceConsts, LaneConsts, G};
use super::lanes::{self, ContinuityConsts, FaceN2, Lanes, OutflowWidths};
use super::{Boundary, Forcing};
use crate::ScenarioError;

/// Numerical parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FloodParams {
    /// Courant factor α in Δt = α·Δx/√(g·h_max).
    pub alpha: f64,
    /// θ-weighting of de Almeida et al. (2012); 1 is Bates et al. (2010).
    pub theta: f64,
    /// Largest time step, s (the cap while the domain is dry or shallow).
    pub dt_max_s: f64,
    /// Wet/dry threshold, m: faces with less flow depth carry nothing; cells with less are dry.
    pub h_dry_m: f64,
    /// Worker threads; 0 uses rayon's default (`RAYON_NUM_THREADS`, else one a core). Results are
    /// the same for any number.
    pub threads: usize,
}

impl Default for FloodParams {
    fn default() -> Self {
        FloodParams {
            alpha: 0.7,
            theta: 0.7,
            dt_max_s: 10.0,
            h_dry_m: 1e-3,
            threads: 0,
        }
    }
}

/// Volumes since the start of the run, m³. `error()` is what the model created or lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct VolumeBalance {
    pub initial_m3: f64,
    pub rain_m3: f64,
    pub inflow_m3: f64,
    pub boundary_in_m3: f64,
    pub boundary_out_m3: f64,
    pub drained_m3: f64,
    pub stored_m3: f64,
}

impl VolumeBalance {
    /// stored − (initial + rain + inflow + boundary in − boundary out − drained).
    pub fn error_m3(&self) -> f64 {
        self.stored_m3
            - (self.initial_m3 + self.rain_m3 + self.inflow_m3 + self.boundary_in_m3
                - self.boundary_out_m3
                - self.drained_m3)
    }

    /// The error relative to all water that entered or was there at the start.
    pub fn relative_error(&self) -> f64 {
        let scale = self.initial_m3 + self.rain_m3 + self.inflow_m3 + self.boundary_in_m3;
        if scale > 0.0 {
            self.error_m3().abs() / scale
        } else {
            self.error_m3().abs()
        }
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// Model time after the step, s.
    pub time_s: f64,
    pub dt_s: f64,
    pub wet_cells: u64,
    /// Deepest water after the step, m.
    pub max_depth_m: f64,
}

/// Per-row results of the continuity sweep, added in row order.
#[derive(Clone, Copy, Default)]
struct RowSums {
    drained: f64,
    wet: u64,
    h_max: f64,
    bad: Option<usize>,
}

/// A running flood simulation on one grid.
pub struct Simulation {
    nx: usize,
    ny: usize,
    dx: f64,
    dy: f64,
    /// Bed elevation; +∞ inside buildings.
    z: Vec<f32>,
    h: Vec<f64>,
    /// Face fluxes, m²/s: `qx` has `nx + 1` faces a row (face `i` west of cell `i`), positive
    /// eastwards; `qy` has `ny + 1` rows of `nx` faces (face row `j` north of cell row `j`),
    /// positive southwards.
    qx: Vec<f32>,
    qy: Vec<f32>,
    scratch: Vec<f32>,
    h_peak: Vec<f32>,
    t_peak: Vec<u16>,
    v_peak: Vec<u16>,
    manning: Manning,
    forcing: Forcing,
    /// Rain falling on roofs, spread over the open cells around each building: (target cell,
    /// rain zone, roof cells' worth of rain).
    roof_runoff: Vec<(usize, u8, f64)>,
    /// Open (non-building) cells in each rain zone: rain on them is rate × count.
    open_cells_by_zone: Vec<u64>,
    params: FloodParams,
    duration_s: f64,
    time_s: f64,
    h_max: f64,
    balance: VolumeBalance,
    pool: Option<rayon::ThreadPool>,
    /// Which build of the row loops runs.
    lanes: Lanes,
}

impl Simulation {
    /// A simulation that starts dry at time 0 and will run for `duration_s` (which sets the
    /// resolution of the time of maximum depth: `duration_s / 65535`).
    pub fn new(
        grid: FloodGrid,
        forcing: Forcing,
        params: FloodParams,
        duration_s: f64,
    ) -> Result<Simulation, ScenarioError> {
        grid.validate()?;
        forcing.validate(grid.num_cells())?;
        check_params(&params, duration_s)?;
        let (nx, ny) = (grid.width, grid.height);
        let roof_runoff = roof_runoff_targets(&grid, forcing.rain.zone_of_cell.as_deref());
        let mut open_cells_by_zone = vec![0u64; forcing.rain.mm_per_h.len()];
        for (c, &b) in grid.blocked.iter().enumerate() {
            if !b {
                let zone = forcing
                    .rain
                    .zone_of_cell
                    .as_ref()
                    .map_or(0, |z| usize::from(z[c]));
                open_cells_by_zone[zone] += 1;
            }
        }
        let z: Vec<f32> = grid
            .z
            .iter()
            .zip(&grid.blocked)
            .map(|(&z, &b)| if b { f32::INFINITY } else { z })
            .collect();
        // A pool of its own even for the default thread count: a step then runs inside a worker,
        // and its sweeps split without waking threads from outside the pool twice a step.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(params.threads)
            .build()
            .map_err(|e| ScenarioError::invalid(format!("cannot start {} threads: {e}", params.threads)))?;
        let pool = Some(pool);
        let n = nx * ny;
        Ok(Simulation {
            nx,
            ny,
            dx: grid.dx,
            dy: grid.dy,
            z,
            h: vec![0.0; n],
            qx: vec![0.0; (nx + 1) * ny],
            qy: vec![0.0; nx * (ny + 1)],
            scratch: vec![0.0; nx * (ny + 1)],
            h_peak: vec![0.0; n],
            t_peak: vec![0; n],
            v_peak: vec![0; n],
            manning: grid.manning,
            forcing,
            roof_runoff,
            open_cells_by_zone,
            params,
            duration_s,
            time_s: 0.0,
            h_max: 0.0,
            balance: VolumeBalance::default(),
            pool,
            lanes: Lanes::detect(),
        })
    }

    /// Sets the water depth before the first step (building cells stay dry).
    pub fn set_initial_depth(&mut self, depth_m: &[f64]) -> Result<(), ScenarioError> {
        if depth_m.len() != self.h.len() {
            return Err(ScenarioError::invalid("initial depth does not match the grid"));
        }
        if let Some(k) = depth_m.iter().position(|d| !(*d >= 0.0 && d.is_finite())) {
            return Err(ScenarioError::invalid(format!(
                "initial depth {} at cell {k} is not a depth",
                depth_m[k]
            )));
        }
        let area = self.dx * self.dy;
        let mut total = 0.0;
        for ((h, &d), &z) in self.h.iter_mut().zip(depth_m).zip(&self.z) {
            *h = if z.is_finite() { d } else { 0.0 };
            total += *h;
        }
        self.h_max = self.h.iter().copied().fold(0.0, f64::max);
        self.balance.initial_m3 = total * area;
        self.balance.stored_m3 = total * area;
        for (p, &h) in self.h_peak.iter_mut().zip(&self.h) {
            *p = h as f32;
        }
        Ok(())
    }

    pub fn width(&self) -> usize {
        self.nx
    }
    pub fn height(&self) -> usize {
        self.ny
    }
    pub fn time_s(&self) -> f64 {
        self.time_s
    }
    /// The volume balance now (the water stored is summed over the grid on each call).
    pub fn balance(&self) -> VolumeBalance {
        VolumeBalance {
            stored_m3: self.h.iter().sum::<f64>() * self.dx * self.dy,
            ..self.balance
        }
    }
    /// Depth of every cell now, m.
    pub fn depth(&self) -> &[f64] {
        &self.h
    }
    /// Face fluxes (m²/s): x faces (`width + 1` a row, positive east) and y faces (`height + 1`
    /// rows, positive south).
    pub fn fluxes(&self) -> (&[f32], &[f32]) {
        (&self.qx, &self.qy)
    }

    /// Water speed at every cell centre now, m/s (0 where shallower than [`SPEED_MIN_DEPTH_M`]).
    pub fn speed(&self) -> Vec<f32> {
        let nx = self.nx;
        (0..self.h.len())
            .map(|c| {
                let (i, j) = (c % nx, c / nx);
                cell_speed_squared(
                    self.h[c],
                    self.qx[j * (nx + 1) + i],
                    self.qx[j * (nx + 1) + i + 1],
                    self.qy[j * nx + i],
                    self.qy[(j + 1) * nx + i],
                )
                .sqrt() as f32
            })
            .collect()
    }

    /// Deepest water seen in each cell, m.
    pub fn max_depth(&self) -> &[f32] {
        &self.h_peak
    }

    /// Fastest water seen in each cell, m/s (to 1 cm/s).
    pub fn max_speed(&self) -> Vec<f32> {
        self.v_peak.iter().map(|&v| f32::from(v) / 100.0).collect()
    }

    /// When each cell was deepest, s (to `duration / 65535`); NaN where it never got wet.
    pub fn time_of_max_depth(&self) -> Vec<f32> {
        let scale = self.duration_s / 65535.0;
        self.t_peak
            .iter()
            .zip(&self.h_peak)
            .map(|(&t, &h)| {
                if f64::from(h) > self.params.h_dry_m {
                    (f64::from(t) * scale) as f32
                } else {
                    f32::NAN
                }
            })
            .collect()
    }

    /// Number of wet cells now.
    pub fn wet_cells(&self) -> u64 {
        self.h.iter().filter(|&&h| h > self.params.h_dry_m).count() as u64
    }

    /// The next time step: α·min(Δx, Δy)/√(g·h_max), at most `dt_max_s`, and not past `until`.
    pub fn next_dt(&self, until: f64) -> f64 {
        let d = self.dx.min(self.dy);
        let cfl = if self.h_max > 0.0 {
            self.params.alpha * d / (G * self.h_max).sqrt()
        } else {
            f64::INFINITY
        };
        cfl.min(self.params.dt_max_s).min((until - self.time_s).max(0.0))
    }

    /// Runs steps until model time `until` (exactly), calling `on_step` after each; `on_step`
    /// returning `false` stops early (Ctrl-C), keeping the state reached.
    pub fn run_until(
        &mut self,
        until: f64,
        mut on_step: impl FnMut(&StepInfo) -> bool,
    ) -> Result<(), ScenarioError> {
        while self.time_s < until {
            let dt = self.next_dt(until);
            if dt <= 0.0 {
                break;
            }
            let info = self.step(dt)?;
            if !on_step(&info) {
                break;
            }
        }
        Ok(())
    }

    /// One step of `dt_s` seconds.
    pub fn step(&mut self, dt_s: f64) -> Result<StepInfo, ScenarioError> {
        match self.pool.take() {
            Some(pool) => {
                let r = pool.install(|| self.step_inner(dt_s));
                self.pool = Some(pool);
                r
            }
            None => self.step_inner(dt_s),
        }
    }

    fn step_inner(&mut self, dt: f64) -> Result<StepInfo, ScenarioError> {
        let t0 = self.time_s;
        let t1 = t0 + dt;
        self.sparse_sources(t0, t1, dt);
        let consts = FaceConsts {
            dt,
            theta: self.params.theta,
            h_dry: self.params.h_dry_m,
        };
        self.sweep_fluxes(&consts, t0);
        self.boundary_volumes(dt);
        let sums = self.sweep_continuity(t0, t1, dt);

        let area = self.dx * self.dy;
        let mut total = RowSums::default();
        for s in &sums {
            total.drained += s.drained;
            total.wet += s.wet;
            total.h_max = total.h_max.max(s.h_max);
            if total.bad.is_none() {
                total.bad = s.bad;
            }
        }
        if let Some(c) = total.bad {
            return Err(ScenarioError::Unstable {
                time_s: t1,
                col: c % self.nx,
                row: c / self.nx,
                depth_m: self.h[c],
            });
        }
        let rain: f64 = self
            .forcing
            .rain
            .mm_per_h
            .iter()
            .zip(&self.open_cells_by_zone)
            .map(|(series, &n)| series.mean(t0, t1) / 3.6e6 * dt * n as f64)
            .sum();
        self.balance.rain_m3 += rain * area;
        self.balance.drained_m3 += total.drained * area;
        self.h_max = total.h_max;
        self.time_s = t1;
        Ok(StepInfo {
            time_s: t1,
            dt_s: dt,
            wet_cells: total.wet,
            max_depth_m: total.h_max,
        })
    }

    /// Inflows, roof runoff and inlets: few cells, applied one by one in a fixed order.
    fn sparse_sources(&mut self, t0: f64, t1: f64, dt: f64) {
        let area = self.dx * self.dy;
        for inflow in &self.forcing.inflows {
            let volume = inflow.m3_per_s.mean(t0, t1) * dt;
            if volume > 0.0 {
                let per_cell = volume / inflow.cells.len() as f64;
                for &c in &inflow.cells {
                    self.h[c] += per_cell / area;
                }
                self.balance.inflow_m3 += volume;
            }
        }
        if !self.roof_runoff.is_empty() {
            // Per zone: the roof rain rate, and the part of it the downpipes take to the sewers
            // (m/s); what is left spills along the walls.
            let sewer = self.forcing.roof_sewer;
            let rates: Vec<(f64, f64)> = self
                .forcing
                .rain
                .mm_per_h
                .iter()
                .map(|s| {
                    let mm_per_h = s.mean(t0, t1);
                    (mm_per_h / 3.6e6, sewer.piped(mm_per_h) / 3.6e6)
                })
                .collect();
            for &(c, zone, roofs) in &self.roof_runoff {
                let (rate, piped) = rates[usize::from(zone)];
                let fallen = rate * dt * roofs;
                let to_sewer = piped * dt * roofs;
                self.h[c] += fallen - to_sewer;
                self.balance.rain_m3 += fallen * area;
                self.balance.drained_m3 += to_sewer * area;
            }
        }
        for inlet in &self.forcing.inlets {
            let take = (inlet.capacity_m3_per_s * dt).min(self.h[inlet.cell] * area);
            if take > 0.0 {
                self.h[inlet.cell] -= take / area;
                if self.h[inlet.cell] < 0.0 {
                    self.h[inlet.cell] = 0.0;
                }
                self.balance.drained_m3 += take;
            }
        }
    }

    /// Sweep 1: new face fluxes and, a row behind, the cells whose water cannot supply their
    /// outflow; then those cells' outgoing faces scaled by their supply share.
    fn sweep_fluxes(&mut self, c: &FaceConsts, t: f64) {
        let (nx, ny) = (self.nx, self.ny);
        let b = &self.forcing.boundaries;
        let level = |bc: &Boundary| match bc {
            Boundary::Level(s) => s.value_at(t),
            _ => 0.0,
        };
        let ctx = FluxRows {
            nx,
            dx: self.dx,
            dy: self.dy,
            z: &self.z,
            h: &self.h,
            qy_old: &self.qy,
            manning: &self.manning,
            boundaries: b,
            levels: [level(&b.west), level(&b.east), level(&b.north)],
            c,
            lanes: self.lanes,
        };
        // Blocks of rows: within a block, a row's outflows are limited to its water once the
        // faces south of it are known; each block's last row waits for the next block (done
        // after). Limiting scales only a cell's outflows, by its own share, and a share depends
        // only on outflows, so the order rows are limited in does not matter.
        self.qx
            .par_chunks_mut(BLOCK_ROWS * (nx + 1))
            .zip(self.scratch[..nx * ny].par_chunks_mut(BLOCK_ROWS * nx))
            .enumerate()
            .for_each(|(k, (qx_block, qy_block))| {
                let r0 = k * BLOCK_ROWS;
                let rows = qy_block.len() / nx;
                let mut scratch = RowScratch::default();
                for jj in 0..rows {
                    let j = r0 + jj;
                    ctx.row(
                        j,
                        &mut qx_block[jj * (nx + 1)..(jj + 1) * (nx + 1)],
                        &mut qy_block[jj * nx..(jj + 1) * nx],
                        &mut scratch,
                    );
                    if jj > 0 {
                        let (above, below) = qy_block.split_at_mut(jj * nx);
                        ctx.limit(
                            j - 1,
                            &mut qx_block[(jj - 1) * (nx + 1)..jj * (nx + 1)],
                            &mut above[(jj - 1) * nx..],
                            &mut below[..nx],
                            &mut scratch.share,
                        );
                    }
                }
            });
        // y faces south of the last row.
        let last = (ny - 1) * nx;
        for i in 0..nx {
            let cell = last + i;
            self.scratch[ny * nx + i] = boundary_flux(
                &b.south,
                f64::from(self.qy[ny * nx + i]),
                f64::from(self.z[cell]),
                self.h[cell],
                true,
                self.dy,
                cell_n2(&self.manning, cell),
                level(&b.south),
                c,
            ) as f32;
        }
        // The last row of each block.
        let mut share = Vec::new();
        for k in 0..ny.div_ceil(BLOCK_ROWS) {
            let j = ((k + 1) * BLOCK_ROWS).min(ny) - 1;
            let (above, below) = self.scratch.split_at_mut((j + 1) * nx);
            ctx.limit(
                j,
                &mut self.qx[j * (nx + 1)..(j + 1) * (nx + 1)],
                &mut above[j * nx..],
                &mut below[..nx],
                &mut share,
            );
        }
        std::mem::swap(&mut self.qy, &mut self.scratch);
    }

    /// Water through the domain's edges this step.
    fn boundary_volumes(&mut self, dt: f64) {
        let (nx, ny, dx, dy) = (self.nx, self.ny, self.dx, self.dy);
        let (mut inflow, mut outflow) = (0.0, 0.0);
        let mut add = |q: f32, inward_positive: bool, width: f64| {
            let v = f64::from(q) * width * dt;
            let v = if inward_positive { v } else { -v };
            if v > 0.0 {
                inflow += v;
            } else {
                outflow -= v;
            }
        };
        for j in 0..ny {
            add(self.qx[j * (nx + 1)], true, dy);
            add(self.qx[j * (nx + 1) + nx], false, dy);
        }
        for i in 0..nx {
            add(self.qy[i], true, dx);
            add(self.qy[ny * nx + i], false, dx);
        }
        self.balance.boundary_in_m3 += inflow;
        self.balance.boundary_out_m3 += outflow;
    }

    /// Sweep 2: continuity, rain, drainage, peaks. The loop over a row has no branches, so it
    /// compiles to vector code; the sums it needs are taken from the row afterwards.
    fn sweep_continuity(&mut self, t0: f64, t1: f64, dt: f64) -> Vec<RowSums> {
        let (nx, dx, dy) = (self.nx, self.dx, self.dy);
        let h_dry = self.params.h_dry_m;
        let rates: Vec<f64> = self
            .forcing
            .rain
            .mm_per_h
            .iter()
            .map(|s| s.mean(t0, t1) / 3.6e6 * dt)
            .collect();
        let zones = self.forcing.rain.zone_of_cell.as_deref();
        let drain_depth = self.forcing.drainage_mm_per_h / 3.6e6 * dt;
        let t_code = ((t1 / self.duration_s) * 65535.0).round().clamp(0.0, 65535.0) as u16;
        let (z, qx, qy) = (&self.z, &self.qx, &self.qy);
        let consts = ContinuityConsts {
            dt_dx: dt / dx,
            dt_dy: dt / dy,
            drain_depth,
            h_dry,
            t_code,
        };
        let lanes = self.lanes;
        self.h
            .par_chunks_mut(nx)
            .zip(self.h_peak.par_chunks_mut(nx))
            .zip(self.t_peak.par_chunks_mut(nx))
            .zip(self.v_peak.par_chunks_mut(nx))
            .enumerate()
            .map_init(
                || vec![0.0f64; nx],
                |drained_row, (j, (((h_row, peak_row), t_row), v_row))| {
                    let xf = &qx[j * (nx + 1)..(j + 1) * (nx + 1)];
                    let (west, east) = (&xf[..nx], &xf[1..]);
                    let (north, south) = (&qy[j * nx..(j + 1) * nx], &qy[(j + 1) * nx..(j + 2) * nx]);
                    let z_row = &z[j * nx..(j + 1) * nx];
                    let (wet, bad) = match zones {
                        None => {
                            let rate = rates[0];
                            lanes::continuity(
                                lanes,
                                &consts,
                                west,
                                east,
                                north,
                                south,
                                z_row,
                                h_row,
                                drained_row,
                                peak_row,
                                t_row,
                                v_row,
                                |_| rate,
                            )
                        }
                        Some(zs) => {
                            let zs = &zs[j * nx..(j + 1) * nx];
                            lanes::continuity(
                                lanes,
                                &consts,
                                west,
                                east,
                                north,
                                south,
                                z_row,
                                h_row,
                                drained_row,
                                peak_row,
                                t_row,
                                v_row,
                                |i| rates[usize::from(zs[i])],
                            )
                        }
                    };
                    RowSums {
                        wet,
                        drained: if drain_depth > 0.0 {
                            drained_row.iter().sum()
                        } else {
                            0.0
                        },
                        h_max: h_row.iter().copied().fold(0.0, f64::max),
                        bad: bad.map(|i| j * nx + i),
                    }
                },
            )
            .collect()
    }
}

/// A thread's buffers for one row of faces.
#[derive(Default)]
struct RowScratch {
    /// The row's x fluxes before the update.
    old: Vec<f32>,
    /// Level difference and flow depth of each face of the row ([`face_levels`]).
    d_eta: Vec<f32>,
    h_f: Vec<f32>,
    /// Manning's n² of the row's faces, where it varies.
    n2: Vec<f32>,
    /// The share of its outflow each cell of a row can supply.
    share: Vec<f32>,
}

/// Rows per block of the flux sweep (fixed, so nothing depends on the number of threads).
const BLOCK_ROWS: usize = 16;

/// What the flux sweep reads.
struct FluxRows<'a> {
    nx: usize,
    dx: f64,
    dy: f64,
    z: &'a [f32],
    h: &'a [f64],
    qy_old: &'a [f32],
    manning: &'a Manning,
    boundaries: &'a super::Boundaries,
    /// Levels now at the west, east and north edges (the south edge is done apart).
    levels: [f64; 3],
    c: &'a FaceConsts,
    lanes: Lanes,
}

impl FluxRows<'_> {
    /// New fluxes of row `j`'s x faces (in place; the old value of the face before is carried
    /// along) and of the y faces north of it (into `qy_new_row`).
    fn row(&self, j: usize, qx_row: &mut [f32], qy_new_row: &mut [f32], scratch: &mut RowScratch) {
        match self.manning {
            Manning::Uniform(n) => self.row_with(j, qx_row, qy_new_row, scratch, None, (n * n) as f32),
            m => {
                // n² of the faces of this row, x then y, worked out once.
                let nx = self.nx;
                let mut n2 = std::mem::take(&mut scratch.n2);
                n2.clear();
                let row = j * nx;
                n2.extend((0..nx - 1).map(|k| face_n2(m, row + k, row + k + 1) as f32));
                if j > 0 {
                    n2.extend((0..nx).map(|i| face_n2(m, row - nx + i, row + i) as f32));
                }
                let (x, y) = n2.split_at(nx - 1);
                self.row_with(j, qx_row, qy_new_row, scratch, Some(y), x);
                scratch.n2 = n2;
            }
        }
    }

    /// [`row`](FluxRows::row) with n² of the x faces (a constant or one a face) and of the y
    /// faces (`None`: the same constant).
    fn row_with<N: FaceN2>(
        &self,
        j: usize,
        qx_row: &mut [f32],
        qy_new_row: &mut [f32],
        scratch: &mut RowScratch,
        n2_y: Option<&[f32]>,
        n2_x: N,
    ) {
        let (nx, z, h, m, c, b, lanes) = (
            self.nx,
            self.z,
            self.h,
            self.manning,
            self.c,
            self.boundaries,
            self.lanes,
        );
        let row = j * nx;
        let (kx, ky) = (LaneConsts::new(c, self.dx), LaneConsts::new(c, self.dy));
        // x faces inside the row, from a copy of the old ones: the level differences and flow
        // depths in f64, then the update in f32.
        let RowScratch { old, d_eta, h_f, .. } = scratch;
        old.clear();
        old.extend_from_slice(qx_row);
        d_eta.resize(nx, 0.0);
        h_f.resize(nx, 0.0);
        lanes::levels(
            lanes,
            &z[row..row + nx],
            &h[row..row + nx],
            &z[row + 1..row + nx],
            &h[row + 1..row + nx],
            d_eta,
            h_f,
        );
        lanes::faces(
            lanes,
            &mut qx_row[1..nx],
            &old[1..nx],
            &old[..nx - 1],
            &old[2..nx + 1],
            d_eta,
            h_f,
            n2_x,
            &kx,
        );
        qx_row[0] = boundary_flux(
            &b.west,
            f64::from(old[0]),
            f64::from(z[row]),
            h[row],
            false,
            self.dx,
            cell_n2(m, row),
            self.levels[0],
            c,
        ) as f32;
        let last = row + nx - 1;
        qx_row[nx] = boundary_flux(
            &b.east,
            f64::from(old[nx]),
            f64::from(z[last]),
            h[last],
            true,
            self.dx,
            cell_n2(m, last),
            self.levels[1],
            c,
        ) as f32;
        let qy_old = self.qy_old;
        if j == 0 {
            for i in 0..nx {
                qy_new_row[i] = boundary_flux(
                    &b.north,
                    f64::from(qy_old[i]),
                    f64::from(z[i]),
                    h[i],
                    false,
                    self.dy,
                    cell_n2(m, i),
                    self.levels[2],
                    c,
                ) as f32;
            }
        } else {
            let (up_faces, faces, down_faces) = (
                &qy_old[(j - 1) * nx..j * nx],
                &qy_old[j * nx..(j + 1) * nx],
                &qy_old[(j + 1) * nx..(j + 2) * nx],
            );
            lanes::levels(
                lanes,
                &z[row - nx..row],
                &h[row - nx..row],
                &z[row..row + nx],
                &h[row..row + nx],
                d_eta,
                h_f,
            );
            let out = &mut qy_new_row[..nx];
            match n2_y {
                Some(n2) => lanes::faces(lanes, out, faces, up_faces, down_faces, d_eta, h_f, n2, &ky),
                None => lanes::faces(
                    lanes,
                    out,
                    faces,
                    up_faces,
                    down_faces,
                    d_eta,
                    h_f,
                    n2_x.at(0),
                    &ky,
                ),
            }
        }
    }

    /// Scales down the outflows of the cells of row `j` whose water cannot supply them this
    /// step, by the share it can (rounded down, and each flux toward zero).
    fn limit(
        &self,
        j: usize,
        qx_row: &mut [f32],
        north: &mut [f32],
        south: &mut [f32],
        share: &mut Vec<f32>,
    ) {
        let nx = self.nx;
        share.resize(nx, 0.0);
        let widths = OutflowWidths {
            x_faces_m: self.dy,
            y_faces_m: self.dx,
            m3_per_s_per_m: self.dx * self.dy / self.c.dt,
        };
        lanes::limit_outflows(
            self.lanes,
            &widths,
            &self.h[j * nx..(j + 1) * nx],
            qx_row,
            north,
            south,
            share,
        );
    }
}

fn check_params(p: &FloodParams, duration_s: f64) -> Result<(), ScenarioError> {
    if !(p.alpha > 0.0 && p.alpha <= 1.0) {
        return Err(ScenarioError::invalid(format!(
            "alpha {} must be in (0, 1]",
            p.alpha
        )));
    }
    if !(0.0..=1.0).contains(&p.theta) {
        return Err(ScenarioError::invalid(format!(
            "theta {} must be in [0, 1]",
            p.theta
        )));
    }
    if !(p.dt_max_s > 0.0 && p.dt_max_s.is_finite()) {
        return Err(ScenarioError::invalid(format!(
            "dt_max {} s must be positive",
            p.dt_max_s
        )));
    }
    if !(p.h_dry_m > 0.0 && p.h_dry_m < 1.0) {
        return Err(ScenarioError::invalid(format!(
            "wet/dry threshold {} m must be between 0 and 1 m",
            p.h_dry_m
        )));
    }
    if !(duration_s > 0.0 && duration_s.is_finite()) {
        return Err(ScenarioError::invalid(format!(
            "duration {duration_s} s must be positive"
        )));
    }
    Ok(())
}

#[inline(always)]
fn cell_n2(m: &Manning, c: usize) -> f64 {
    match m {
        Manning::Uniform(n) => n * n,
        Manning::Classes {
            class_of_cell,
            n_of_class,
        } => {
            let n = n_of_class[usize::from(class_of_cell[c])];
            n * n
        }
    }
}

/// n² at a face: the mean of the two cells' n².
#[inline(always)]
fn face_n2(m: &Manning, l: usize, r: usize) -> f64 {
    match m {
        Manning::Uniform(n) => n * n,
        Manning::Classes { .. } => 0.5 * (cell_n2(m, l) + cell_n2(m, r)),
    }
}

/// Water shallower than this has no reported speed: q/h of a film is noise, m.
pub const SPEED_MIN_DEPTH_M: f64 = 0.01;

/// Squared speed at a cell centre from its four face fluxes (0 below [`SPEED_MIN_DEPTH_M`]).
#[inline(always)]
fn cell_speed_squared(h: f64, qw: f32, qe: f32, qn: f32, qs: f32) -> f64 {
    if h > SPEED_MIN_DEPTH_M {
        let u = 0.5 * (f64::from(qw) + f64::from(qe)) / h;
        let v = 0.5 * (f64::from(qn) + f64::from(qs)) / h;
        u * u + v * v
    } else {
        0.0
    }
}

/// Where roof rain goes: each building (4-connected group of building cells) spreads the rain
/// on its roof evenly over the open cells along its walls, as downpipes do, so a courtyard gets
/// its share and the street side the rest. Grouped as (target, rain zone, roof cells' worth).
fn roof_runoff_targets(grid: &FloodGrid, zones: Option<&[u8]>) -> Vec<(usize, u8, f64)> {
    let (nx, ny) = (grid.width, grid.height);
    let mut seen = vec![false; nx * ny];
    let mut groups = std::collections::BTreeMap::<(usize, u8), f64>::new();
    let neighbours = |c: usize| {
        let (i, j) = (c % nx, c / nx);
        [
            (j > 0).then(|| c - nx),
            (i > 0).then(|| c - 1),
            (i + 1 < nx).then(|| c + 1),
            (j + 1 < ny).then(|| c + nx),
        ]
        .into_iter()
        .flatten()
    };
    let mut stack = Vec::new();
    for start in 0..nx * ny {
        if !grid.blocked[start] || seen[start] {
            continue;
        }
        // One building: its cells (by zone) and the open cells along its walls.
        let mut roofs_by_zone = std::collections::BTreeMap::<u8, u32>::new();
        let mut ring = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(c) = stack.pop() {
            *roofs_by_zone.entry(zones.map_or(0, |z| z[c])).or_default() += 1;
            for n in neighbours(c) {
                if !grid.blocked[n] {
                    ring.push(n);
                } else if !seen[n] {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
        ring.sort_unstable();
        ring.dedup();
        // `validate` refuses a grid that is all buildings, so a building has a wall somewhere.
        let share = 1.0 / ring.len().max(1) as f64;
        for (&zone, &roofs) in &roofs_by_zone {
            for &t in &ring {
                *groups.entry((t, zone)).or_default() += f64::from(roofs) * share;
            }
        }
    }
    groups.into_iter().map(|((t, z), n)| (t, z, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_depth_stops_the_run_with_its_time_and_cell() {
        use super::super::{Rain, TimeSeries};
        let g = FloodGrid::new(6, 5, (0.0, 5.0), (1.0, 1.0), vec![0.0; 30], 0.03);
        let forcing = Forcing::rain_only(Rain::uniform(TimeSeries::constant(10.0)));
        let mut sim = Simulation::new(g, forcing, FloodParams::default(), 100.0).unwrap();
        sim.step(1.0).unwrap();
        // What a runaway flux leaves behind.
        sim.h[2 * 6 + 4] = f64::NAN;
        match sim.step(1.0) {
            Err(ScenarioError::Unstable { time_s, col, row, .. }) => {
                assert_eq!((col, row), (4, 2));
                assert_eq!(time_s, 2.0);
            }
            other => panic!("expected an instability report, got {other:?}"),
        }
    }

    /// Every state array, for comparing runs bit by bit.
    fn state_bits(sim: &Simulation) -> Vec<u64> {
        let mut v: Vec<u64> = sim.h.iter().map(|x| x.to_bits()).collect();
        v.extend(
            sim.qx
                .iter()
                .chain(&sim.qy)
                .chain(&sim.h_peak)
                .map(|x| u64::from(x.to_bits())),
        );
        v.extend(sim.t_peak.iter().chain(&sim.v_peak).map(|&x| u64::from(x)));
        v
    }

    #[test]
    fn the_avx2_build_of_the_loops_gives_the_same_bits_as_the_baseline() {
        use super::super::{Boundaries, Rain, TimeSeries};
        if !Lanes::detect().is_avx2() {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        // Odd sizes (vector remainders), hills, a building, rough and smooth ground, two rain
        // zones, drainage, a free edge.
        let (nx, ny) = (67, 41);
        let z: Vec<f32> = (0..nx * ny)
            .map(|c| {
                let (x, y) = ((c % nx) as f32, (c / nx) as f32);
                2.0 + 0.5 * (x * 0.21).sin() + 0.3 * (y * 0.17).cos() + 0.01 * y
            })
            .collect();
        let mut g = FloodGrid::new(nx, ny, (0.0, ny as f64), (1.0, 1.0), z, 0.03);
        for c in [20 * nx + 30, 20 * nx + 31, 21 * nx + 30] {
            g.blocked[c] = true;
        }
        g.manning = Manning::Classes {
            class_of_cell: (0..nx * ny).map(|c| u8::from(c % nx > 40)).collect(),
            n_of_class: vec![0.02, 0.08],
        };
        let mut rain = Rain::uniform(TimeSeries::constant(80.0));
        rain.mm_per_h.push(TimeSeries::constant(20.0));
        rain.zone_of_cell = Some((0..nx * ny).map(|c| u8::from(c / nx > 20)).collect());
        let mut forcing = Forcing::rain_only(rain);
        forcing.drainage_mm_per_h = 5.0;
        forcing.boundaries = Boundaries::all(Boundary::Free { slope: 0.01 });
        let run = |lanes: Lanes| {
            let mut sim = Simulation::new(g.clone(), forcing.clone(), FloodParams::default(), 600.0).unwrap();
            sim.lanes = lanes;
            sim.run_until(600.0, |_| true).unwrap();
            assert!(sim.wet_cells() > 1000);
            state_bits(&sim)
        };
        assert_eq!(run(Lanes::baseline()), run(Lanes::detect()));
    }

    #[test]
    fn roof_rain_is_spread_along_the_walls() {
        // 4×3 grid with a 2×1 building in the middle row: its ring is the 6 open cells around.
        let mut g = FloodGrid::new(4, 3, (0.0, 3.0), (1.0, 1.0), vec![0.0; 12], 0.03);
        g.blocked[5] = true;
        g.blocked[6] = true;
        let t = roof_runoff_targets(&g, None);
        let total: f64 = t.iter().map(|x| x.2).sum();
        assert!((total - 2.0).abs() < 1e-12);
        let targets: Vec<usize> = t.iter().map(|x| x.0).collect();
        assert_eq!(targets, [1, 2, 4, 7, 9, 10]);
        assert!(t.iter().all(|&(_, _, w)| (w - 2.0 / 6.0).abs() < 1e-12));
    }
}
