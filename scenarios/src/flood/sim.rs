//! The flood simulation: state arrays, the time step, the volume balance.
//!
//! Memory: bed (f32), depth (f64, so volume sums hold to round-off), face fluxes x and y (f32),
//! one scratch array (f32), maximum depth (f32), time of maximum depth (u16) and maximum speed
//! (u16, cm/s): 32 bytes a cell, plus 1 byte a cell for Manning classes or rain zones when used.
//!
//! One step is four sweeps over the grid, each parallel over rows and each row a pure function
//! of the previous sweep's arrays, so results do not depend on the number of threads:
//! 1. face fluxes (x in place with the old neighbour carried along the row; y into the scratch
//!    array, then swapped),
//! 2. for each cell the share of its outflow that its water can supply (< 1 only where a cell
//!    would run dry) into the scratch array,
//! 3. each face's flux scaled by the share of the cell it leaves,
//! 4. continuity, rain and drainage, maxima, per-row sums (added in row order).

use rayon::prelude::*;

use super::grid::{FloodGrid, Manning};
use super::kernel::{boundary_flux, face_flux, FaceConsts, G};
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
    /// Worker threads; 0 uses rayon's default. Results are the same for any number.
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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
    depth: f64,
    rain: f64,
    drained: f64,
    clamped: f64,
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
    /// Rain falling on roofs, sent to the nearest open cell: (target cell, rain zone, roof cells).
    roof_runoff: Vec<(usize, u8, u32)>,
    params: FloodParams,
    duration_s: f64,
    time_s: f64,
    h_max: f64,
    balance: VolumeBalance,
    pool: Option<rayon::ThreadPool>,
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
        let z: Vec<f32> = grid
            .z
            .iter()
            .zip(&grid.blocked)
            .map(|(&z, &b)| if b { f32::INFINITY } else { z })
            .collect();
        let pool = if params.threads > 0 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(params.threads)
                    .build()
                    .map_err(|e| {
                        ScenarioError::invalid(format!("cannot start {} threads: {e}", params.threads))
                    })?,
            )
        } else {
            None
        };
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
            params,
            duration_s,
            time_s: 0.0,
            h_max: 0.0,
            balance: VolumeBalance::default(),
            pool,
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
    pub fn balance(&self) -> VolumeBalance {
        self.balance
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
        self.sweep_supply_share(dt);
        self.sweep_scale_fluxes();
        self.boundary_volumes(dt);
        let sums = self.sweep_continuity(t0, t1, dt);

        let area = self.dx * self.dy;
        let mut total = RowSums::default();
        for s in &sums {
            total.depth += s.depth;
            total.rain += s.rain;
            total.drained += s.drained;
            total.clamped += s.clamped;
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
        self.balance.rain_m3 += total.rain * area;
        self.balance.drained_m3 += total.drained * area;
        self.balance.stored_m3 = total.depth * area;
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
            let rates: Vec<f64> = self
                .forcing
                .rain
                .mm_per_h
                .iter()
                .map(|s| s.mean(t0, t1) / 3.6e6)
                .collect();
            for &(c, zone, roofs) in &self.roof_runoff {
                let depth = rates[usize::from(zone)] * dt * f64::from(roofs);
                self.h[c] += depth;
                self.balance.rain_m3 += depth * area;
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

    /// Sweep 1: new face fluxes.
    fn sweep_fluxes(&mut self, c: &FaceConsts, t: f64) {
        let (nx, ny, dx, dy) = (self.nx, self.ny, self.dx, self.dy);
        let (z, h, qy_old, manning) = (&self.z, &self.h, &self.qy, &self.manning);
        let b = &self.forcing.boundaries;
        let level = |bc: &Boundary| match bc {
            Boundary::Level(s) => s.value_at(t),
            _ => 0.0,
        };
        let (lw, le, ln, ls) = (level(&b.west), level(&b.east), level(&b.north), level(&b.south));
        self.qx
            .par_chunks_mut(nx + 1)
            .zip(self.scratch[..nx * ny].par_chunks_mut(nx))
            .enumerate()
            .for_each(|(j, (qx_row, qy_new_row))| {
                let row = j * nx;
                // x faces inside the row; the old value of the face before is carried along.
                let mut before_old = qx_row[0];
                for i in 1..nx {
                    let (l, r) = (row + i - 1, row + i);
                    let q = qx_row[i];
                    let new = face_flux(
                        f64::from(q),
                        f64::from(before_old),
                        f64::from(qx_row[i + 1]),
                        f64::from(z[l]),
                        h[l],
                        f64::from(z[r]),
                        h[r],
                        dx,
                        face_n2(manning, l, r),
                        c,
                    );
                    before_old = q;
                    qx_row[i] = new as f32;
                }
                qx_row[0] = boundary_flux(
                    &b.west,
                    f64::from(qx_row[0]),
                    f64::from(z[row]),
                    h[row],
                    false,
                    dx,
                    cell_n2(manning, row),
                    lw,
                    c,
                ) as f32;
                let last = row + nx - 1;
                qx_row[nx] = boundary_flux(
                    &b.east,
                    f64::from(qx_row[nx]),
                    f64::from(z[last]),
                    h[last],
                    true,
                    dx,
                    cell_n2(manning, last),
                    le,
                    c,
                ) as f32;
                // y faces north of this row.
                if j == 0 {
                    for i in 0..nx {
                        qy_new_row[i] = boundary_flux(
                            &b.north,
                            f64::from(qy_old[i]),
                            f64::from(z[i]),
                            h[i],
                            false,
                            dy,
                            cell_n2(manning, i),
                            ln,
                            c,
                        ) as f32;
                    }
                } else {
                    let (up_faces, faces, down_faces) = (
                        &qy_old[(j - 1) * nx..j * nx],
                        &qy_old[j * nx..(j + 1) * nx],
                        &qy_old[(j + 1) * nx..(j + 2) * nx],
                    );
                    for i in 0..nx {
                        let (l, r) = (row - nx + i, row + i);
                        qy_new_row[i] = face_flux(
                            f64::from(faces[i]),
                            f64::from(up_faces[i]),
                            f64::from(down_faces[i]),
                            f64::from(z[l]),
                            h[l],
                            f64::from(z[r]),
                            h[r],
                            dy,
                            face_n2(manning, l, r),
                            c,
                        ) as f32;
                    }
                }
            });
        // y faces south of the last row.
        let row = (ny - 1) * nx;
        for i in 0..nx {
            let cell = row + i;
            self.scratch[ny * nx + i] = boundary_flux(
                &b.south,
                f64::from(qy_old[ny * nx + i]),
                f64::from(z[cell]),
                h[cell],
                true,
                dy,
                cell_n2(manning, cell),
                ls,
                c,
            ) as f32;
        }
        std::mem::swap(&mut self.qy, &mut self.scratch);
    }

    /// Sweep 2: the share of each cell's outflow that its water can supply this step.
    fn sweep_supply_share(&mut self, dt: f64) {
        let (nx, ny, dx, dy) = (self.nx, self.ny, self.dx, self.dy);
        let (h, qx, qy) = (&self.h, &self.qx, &self.qy);
        self.scratch[..nx * ny]
            .par_chunks_mut(nx)
            .enumerate()
            .for_each(|(j, share_row)| {
                let xf = &qx[j * (nx + 1)..(j + 1) * (nx + 1)];
                let (north, south) = (&qy[j * nx..(j + 1) * nx], &qy[(j + 1) * nx..(j + 2) * nx]);
                for i in 0..nx {
                    let out_m3_per_s = (f64::from(xf[i + 1].max(0.0)) - f64::from(xf[i].min(0.0))) * dy
                        + (f64::from(south[i].max(0.0)) - f64::from(north[i].min(0.0))) * dx;
                    let have_m3_per_s = h[j * nx + i] * dx * dy / dt;
                    share_row[i] = if out_m3_per_s > have_m3_per_s {
                        round_down_f32(have_m3_per_s / out_m3_per_s)
                    } else {
                        1.0
                    };
                }
            });
    }

    /// Sweep 3: each face's flux times the supply share of the cell it leaves.
    fn sweep_scale_fluxes(&mut self) {
        let (nx, ny) = (self.nx, self.ny);
        let share = &self.scratch[..nx * ny];
        self.qx.par_chunks_mut(nx + 1).enumerate().for_each(|(j, row)| {
            let s = &share[j * nx..(j + 1) * nx];
            for i in 0..=nx {
                let q = row[i];
                if q > 0.0 && i > 0 {
                    row[i] = scale_toward_zero(q, s[i - 1]);
                } else if q < 0.0 && i < nx {
                    row[i] = scale_toward_zero(q, s[i]);
                }
            }
        });
        self.qy.par_chunks_mut(nx).enumerate().for_each(|(j, row)| {
            for i in 0..nx {
                let q = row[i];
                if q > 0.0 && j > 0 {
                    row[i] = scale_toward_zero(q, share[(j - 1) * nx + i]);
                } else if q < 0.0 && j < ny {
                    row[i] = scale_toward_zero(q, share[j * nx + i]);
                }
            }
        });
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

    /// Sweep 4: continuity, rain, drainage, maxima.
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
        self.h
            .par_chunks_mut(nx)
            .zip(self.h_peak.par_chunks_mut(nx))
            .zip(self.t_peak.par_chunks_mut(nx))
            .zip(self.v_peak.par_chunks_mut(nx))
            .enumerate()
            .map(|(j, (((h_row, peak_row), t_row), v_row))| {
                let mut s = RowSums::default();
                let xf = &qx[j * (nx + 1)..(j + 1) * (nx + 1)];
                let (north, south) = (&qy[j * nx..(j + 1) * nx], &qy[(j + 1) * nx..(j + 2) * nx]);
                for i in 0..nx {
                    let cell = j * nx + i;
                    if !z[cell].is_finite() {
                        continue;
                    }
                    let (qw, qe, qn, qs) = (xf[i], xf[i + 1], north[i], south[i]);
                    let mut h = h_row[i]
                        + dt * (f64::from(qw) - f64::from(qe)) / dx
                        + dt * (f64::from(qn) - f64::from(qs)) / dy;
                    if h < 0.0 {
                        if h < -1e-6 {
                            // Not round-off: a flux ran away.
                            s.bad.get_or_insert(cell);
                        }
                        // Round-off of a cell emptied by its outflow (its share was rounded down).
                        s.clamped -= h;
                        h = 0.0;
                    }
                    let rain = match zones {
                        Some(zs) => rates[usize::from(zs[cell])],
                        None => rates[0],
                    };
                    h += rain;
                    s.rain += rain;
                    let drained = drain_depth.min(h);
                    h -= drained;
                    s.drained += drained;
                    if !(0.0..1e5).contains(&h) {
                        s.bad.get_or_insert(cell);
                    }
                    h_row[i] = h;
                    s.depth += h;
                    s.h_max = s.h_max.max(h);
                    if h > h_dry {
                        s.wet += 1;
                        if h as f32 > peak_row[i] {
                            peak_row[i] = h as f32;
                            t_row[i] = t_code;
                        }
                        // Compared squared; the root only when it is a new peak.
                        let s2 = cell_speed_squared(h, qw, qe, qn, qs);
                        let peak = f64::from(v_row[i]) * 0.01 + 0.005;
                        if s2 > peak * peak {
                            v_row[i] = (s2.sqrt() * 100.0 + 0.5) as u16;
                        }
                    }
                }
                s
            })
            .collect()
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

/// `q · share` rounded toward zero, so a scaled outflow never exceeds the water that supplies it.
#[inline(always)]
fn scale_toward_zero(q: f32, share: f32) -> f32 {
    if share == 1.0 {
        return q;
    }
    let exact = f64::from(q) * f64::from(share);
    let r = exact as f32;
    if f64::from(r).abs() > exact.abs() {
        f32::from_bits(r.to_bits() - 1)
    } else {
        r
    }
}

/// The largest f32 not above `x` (x in (0, 1)), so scaled outflow never exceeds the water there.
fn round_down_f32(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x && f > 0.0 {
        f32::from_bits(f.to_bits() - 1)
    } else {
        f
    }
}

/// For every building cell, the nearest open cell (4-connected, found breadth-first from all
/// open cells at once, ties broken by scan order), grouped as (target, rain zone, roof cells).
fn roof_runoff_targets(grid: &FloodGrid, zones: Option<&[u8]>) -> Vec<(usize, u8, u32)> {
    let (nx, ny) = (grid.width, grid.height);
    if !grid.blocked.iter().any(|&b| b) {
        return Vec::new();
    }
    const NONE: u32 = u32::MAX;
    let mut target = vec![NONE; nx * ny];
    let mut queue = std::collections::VecDeque::new();
    for (c, t) in target.iter_mut().enumerate() {
        if !grid.blocked[c] {
            *t = c as u32;
            queue.push_back(c);
        }
    }
    while let Some(c) = queue.pop_front() {
        let (i, j) = (c % nx, c / nx);
        let mut visit = |n: usize| {
            if target[n] == NONE {
                target[n] = target[c];
                queue.push_back(n);
            }
        };
        if j > 0 {
            visit(c - nx);
        }
        if i > 0 {
            visit(c - 1);
        }
        if i + 1 < nx {
            visit(c + 1);
        }
        if j + 1 < ny {
            visit(c + nx);
        }
    }
    let mut groups = std::collections::BTreeMap::<(usize, u8), u32>::new();
    for c in 0..nx * ny {
        if grid.blocked[c] && target[c] != NONE {
            let zone = zones.map_or(0, |z| z[c]);
            *groups.entry((target[c] as usize, zone)).or_default() += 1;
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

    #[test]
    fn round_down_never_rounds_up() {
        for x in [0.1, 1.0 / 3.0, 0.999_999_999, 1e-30, 0.5] {
            assert!(f64::from(round_down_f32(x)) <= x);
        }
    }

    #[test]
    fn roof_rain_goes_to_the_nearest_open_cell() {
        // 4×1 row: open, roof, roof, open — each roof cell drains to its own side.
        let mut g = FloodGrid::new(4, 2, (0.0, 2.0), (1.0, 1.0), vec![0.0; 8], 0.03);
        g.blocked[1] = true;
        g.blocked[2] = true;
        let t = roof_runoff_targets(&g, None);
        // Cell 1 → 0 (west, found first), cell 2 → 3 (east) or 6 (below); both at distance 1,
        // the breadth-first order from the scan picks the lower index first.
        let total: u32 = t.iter().map(|x| x.2).sum();
        assert_eq!(total, 2);
        assert!(t.iter().all(|&(c, _, _)| !g.blocked[c]));
    }
}
