//! The local inertial face update (Bates, Horritt & Fewtrell 2010, with the θ-weighting of
//! de Almeida, Bates, Freer & Souvignet 2012).
//!
//! For the face between a left cell L and a right cell R (west→east or north→south), with bed
//! `z`, depth `h`, water level `η = z + h`:
//!
//! ```text
//! h_f   = max(η_L, η_R) − max(z_L, z_R)                     flow depth at the face
//! q̄     = θ·q + (1 − θ)/2 · (q_before + q_after)            θ-weighted flux (the two parallel neighbours)
//! q_new = (q̄ − g·h_f·Δt·(η_R − η_L)/Δx) / (1 + g·Δt·n²·|q| / h_f^(7/3))
//! ```
//!
//! `q` is the discharge per unit width (m²/s), positive from L to R. A face whose flow depth is at
//! most the wet/dry threshold carries nothing. A building cell has an infinite bed, so every face
//! touching it has an undefined flow depth and carries nothing.

/// Gravity, m/s².
pub const G: f64 = 9.81;

/// The numbers every face update needs in one step.
#[derive(Clone, Copy, Debug)]
pub struct FaceConsts {
    /// Time step, s.
    pub dt: f64,
    /// θ of the θ-weighting (1 gives Bates et al. 2010).
    pub theta: f64,
    /// Faces with a flow depth at or below this carry no flow, m.
    pub h_dry: f64,
}

/// The flux through one interior face after one step (see the module docs).
///
/// `q` is the face's flux at the old time level, `q_before`/`q_after` the fluxes of the two
/// parallel faces beside it (at the old time level), `d` the distance between the cell centres,
/// `n2` Manning's n squared at the face.
///
/// # Examples
/// ```
/// use cim_scenarios::flood::{face_flux, FaceConsts, G};
/// let c = FaceConsts { dt: 1.0, theta: 1.0, h_dry: 1e-3 };
/// // Still water 1 m deep on the left, 0.5 m on the right, flat bed, no friction:
/// let q = face_flux(0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 10.0, 0.0, &c);
/// assert!((q - G * 1.0 * 1.0 * 0.5 / 10.0).abs() < 1e-12);
/// ```
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn face_flux(
    q: f64,
    q_before: f64,
    q_after: f64,
    z_l: f64,
    h_l: f64,
    z_r: f64,
    h_r: f64,
    d: f64,
    n2: f64,
    c: &FaceConsts,
) -> f64 {
    face_flux_f64(q, q_before, q_after, z_l, h_l, z_r, h_r, 1.0 / d, n2, c)
}

/// [`face_flux`] written out for the sweeps, in f64 throughout (the reference the f32 lanes are
/// tested against, and what the boundary faces use).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn face_flux_f64(
    q: f64,
    q_before: f64,
    q_after: f64,
    z_l: f64,
    h_l: f64,
    z_r: f64,
    h_r: f64,
    inv_d: f64,
    n2: f64,
    c: &FaceConsts,
) -> f64 {
    let eta_l = z_l + h_l;
    let eta_r = z_r + h_r;
    let h_f = eta_l.max(eta_r) - z_l.max(z_r);
    // False for NaN too (a building's infinite bed: ∞ − ∞).
    if h_f.is_nan() || h_f <= c.h_dry {
        return 0.0;
    }
    let q_bar = c.theta * q + 0.5 * (1.0 - c.theta) * (q_before + q_after);
    let num = q_bar - G * h_f * c.dt * (eta_r - eta_l) * inv_d;
    num / (1.0 + G * c.dt * n2 * q.abs() / h_f.powf(7.0 / 3.0))
}

/// The two numbers of a face that need f64: the water-level difference `η_R − η_L` (exact for
/// still water, so a lake stays at rest) and the flow depth `h_f`, both then rounded to f32.
/// A face beside a building gives a NaN or infinite pair, which [`face_flux_f32`] treats as dry.
#[inline(always)]
pub(crate) fn face_levels(z_l: f32, h_l: f64, z_r: f32, h_r: f64) -> (f32, f32) {
    let (z_l, z_r) = (f64::from(z_l), f64::from(z_r));
    let eta_l = z_l + h_l;
    let eta_r = z_r + h_r;
    ((eta_r - eta_l) as f32, (eta_l.max(eta_r) - z_l.max(z_r)) as f32)
}

/// The numbers every f32 face update of one direction needs in one step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LaneConsts {
    theta: f32,
    /// (1 − θ)/2.
    half_rest: f32,
    /// g·Δt/d.
    g_dt_inv_d: f32,
    /// g·Δt.
    g_dt: f32,
    h_dry: f32,
}

impl LaneConsts {
    /// The constants for faces `d` metres apart.
    pub(crate) fn new(c: &FaceConsts, d: f64) -> Self {
        LaneConsts {
            theta: c.theta as f32,
            half_rest: (0.5 * (1.0 - c.theta)) as f32,
            g_dt_inv_d: (G * c.dt / d) as f32,
            g_dt: (G * c.dt) as f32,
            h_dry: c.h_dry as f32,
        }
    }
}

/// The face update in f32 from the level difference and flow depth of [`face_levels`], without
/// branches: every lane is computed and a dry or building face gives 0, so a loop over a row of
/// faces compiles to vector code four (SSE2) or eight (AVX2) faces wide. Agrees with the f64
/// formula to f32 round-off.
#[inline(always)]
pub(crate) fn face_flux_f32(
    q: f32,
    q_before: f32,
    q_after: f32,
    d_eta: f32,
    h_f: f32,
    n2: f32,
    k: &LaneConsts,
) -> f32 {
    // False for NaN too (a building's infinite bed: ∞ − ∞).
    let wet = h_f > k.h_dry;
    let h_s = if wet { h_f } else { 1.0 };
    let d_eta = if wet { d_eta } else { 0.0 };
    let q_bar = k.theta * q + k.half_rest * (q_before + q_after);
    let num = q_bar - k.g_dt_inv_d * h_s * d_eta;
    let y = inv_cbrt_f32(h_s);
    let y2 = y * y;
    let flux = num / (1.0 + k.g_dt * n2 * q.abs() * (y2 * y2 * y2 * y));
    // A flux dying away under friction would end in subnormal numbers, which the CPU handles
    // many times slower; below 1e-20 m²/s it is nothing anyway.
    if wet & (flux.abs() >= TINY_FLUX) {
        flux
    } else {
        0.0
    }
}

/// Fluxes smaller than this (m²/s) are set to zero.
const TINY_FLUX: f32 = 1e-20;

/// `x^(-1/3)` of a positive, finite `x` to f32 round-off, with no division: a first guess from
/// the bits of `x` (the exponent divided by three, within 4 %; the division done in f32, which
/// vectorises where 32-bit integer division does not) and three Newton steps. `cbrt` is a
/// software routine many times slower, and this runs for every face of every step.
#[inline(always)]
pub fn inv_cbrt_f32(x: f32) -> f32 {
    // A positive float's bits fit an i32, whose conversions have vector instructions.
    let third_of_bits = (x.to_bits() as i32 as f32 * (1.0 / 3.0)) as i32;
    let mut y = f32::from_bits((0x54a2_fa8c - third_of_bits) as u32);
    for _ in 0..3 {
        y *= (4.0 - x * y * y * y) * (1.0 / 3.0);
    }
    y
}

/// What happens at the edge of the domain.
#[derive(Clone, Debug, PartialEq)]
pub enum Boundary {
    /// No flow in or out.
    Closed,
    /// Water leaves freely, as if the water surface kept falling at `slope` (m/m) beyond the edge.
    Free { slope: f64 },
    /// The water level (m, in the terrain's datum) beyond the edge is given over time: water flows
    /// in when it is higher than inside and out when lower.
    Level(super::TimeSeries),
}

/// The flux through a boundary face. `cell_is_left` says whether the domain cell is the L side
/// (east and south edges) or the R side (west and north edges); `level` is the edge's water level
/// now (used by [`Boundary::Level`]).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn boundary_flux(
    bc: &Boundary,
    q: f64,
    z_c: f64,
    h_c: f64,
    cell_is_left: bool,
    d: f64,
    n2: f64,
    level: f64,
    c: &FaceConsts,
) -> f64 {
    if !z_c.is_finite() {
        return 0.0;
    }
    match bc {
        Boundary::Closed => 0.0,
        Boundary::Free { slope } => {
            if h_c <= c.h_dry {
                return 0.0;
            }
            let drop = slope * d;
            let (zl, hl, zr, hr) = if cell_is_left {
                (z_c, h_c, z_c - drop, h_c)
            } else {
                (z_c - drop, h_c, z_c, h_c)
            };
            let flux = face_flux(q, q, q, zl, hl, zr, hr, d, n2, c);
            // Out of the domain only.
            if cell_is_left {
                flux.max(0.0)
            } else {
                flux.min(0.0)
            }
        }
        Boundary::Level(_) => {
            // Ghost cell: same bed as the edge cell, water up to `level` (none if below the bed).
            let h_g = (level - z_c).max(0.0);
            if cell_is_left {
                face_flux(q, q, q, z_c, h_c, z_c, h_g, d, n2, c)
            } else {
                face_flux(q, q, q, z_c, h_g, z_c, h_c, d, n2, c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: FaceConsts = FaceConsts {
        dt: 2.0,
        theta: 0.7,
        h_dry: 1e-3,
    };

    #[test]
    fn hand_computed_face_with_friction_and_theta() {
        // z_L = 1, h_L = 0.5 (η 1.5); z_R = 0.8, h_R = 0.4 (η 1.2); h_f = 1.5 − 1.0 = 0.5
        // q̄ = 0.7·0.2 + 0.15·(0.1 + 0.3) = 0.2
        // num = 0.2 − 9.81·0.5·2·(1.2 − 1.5)/5 = 0.2 + 0.5886 = 0.7886
        // den = 1 + 9.81·2·0.0009·0.2 / 0.5^(7/3) = 1 + 0.00353160/0.19843134 = 1.01779776
        let q = face_flux(0.2, 0.1, 0.3, 1.0, 0.5, 0.8, 0.4, 5.0, 0.03 * 0.03, &C);
        let expected = 0.7886 / (1.0 + 9.81 * 2.0 * 0.0009 * 0.2 / 0.5f64.powf(7.0 / 3.0));
        assert!((q - expected).abs() < 1e-6, "{q} vs {expected}");
        assert!((q - 0.774_813).abs() < 1e-5, "{q}");
    }

    #[test]
    fn fast_inverse_cube_root_matches_the_library() {
        let mut x = 1e-7f64;
        while x < 1e5 {
            let (a, b) = (f64::from(inv_cbrt_f32(x as f32)), 1.0 / (x as f32 as f64).cbrt());
            assert!((a - b).abs() <= 4e-7 * b, "{x}: {a} vs {b}");
            x *= 1.37;
        }
    }

    #[test]
    fn the_face_update_agrees_with_the_formula_written_out() {
        // (q, q before, q after, z_l, h_l, z_r, h_r, 1/d, n²)
        type Case = (f64, f64, f64, f64, f64, f64, f64, f64, f64);
        let cases: [Case; 5] = [
            (0.2, 0.1, 0.3, 1.0, 0.5, 0.8, 0.4, 0.2, 0.0009),
            (0.0, 0.0, 0.0, 1.0, 0.0005, 2.0, 0.0, 1.0, 0.0009),
            (0.0, 0.0, 0.0, 0.0, 1.0, f64::INFINITY, 0.0, 1.0, 0.0009),
            (-0.5, -0.4, -0.6, 10.0, 0.02, 9.9, 0.3, 0.5, 0.0016),
            (0.01, 0.0, 0.0, 0.0, 1e-3, 0.0, 0.0, 1.0, 0.0),
        ];
        for (q, qb, qa, zl, hl, zr, hr, inv_d, n2) in cases {
            // The sweeps keep beds in f32.
            let (zl, zr) = (f64::from(zl as f32), f64::from(zr as f32));
            // Against the formula written out with the library's powers.
            let (el, er) = (zl + hl, zr + hr);
            let hf = el.max(er) - zl.max(zr);
            let a = if hf.is_nan() || hf <= C.h_dry {
                0.0
            } else {
                let qbar = C.theta * q + 0.5 * (1.0 - C.theta) * (qb + qa);
                (qbar - G * hf * C.dt * (er - el) * inv_d)
                    / (1.0 + G * C.dt * n2 * q.abs() / hf.powf(7.0 / 3.0))
            };
            assert!((a - face_flux_f64(q, qb, qa, zl, hl, zr, hr, inv_d, n2, &C)).abs() <= 1e-12);
            // The f32 lanes the sweeps use.
            let (d_eta, h_f) = face_levels(zl as f32, hl, zr as f32, hr);
            let k = LaneConsts::new(&C, 1.0 / inv_d);
            let b = face_flux_f32(q as f32, qb as f32, qa as f32, d_eta, h_f, n2 as f32, &k);
            assert!((a - f64::from(b)).abs() <= 2e-6 * a.abs().max(1e-9), "{a} vs {b}");
        }
    }

    #[test]
    fn dry_face_and_building_face_carry_nothing() {
        // Water on the left is below the right bed: h_f = max(1.0005, 2.0) − 2.0 = 0.
        assert_eq!(face_flux(0.0, 0.0, 0.0, 1.0, 0.0005, 2.0, 0.0, 1.0, 0.0, &C), 0.0);
        // A building (infinite bed) on the right.
        assert_eq!(
            face_flux(0.0, 0.0, 0.0, 0.0, 1.0, f64::INFINITY, 0.0, 1.0, 0.0, &C),
            0.0
        );
        // Flow depth exactly at the threshold carries nothing.
        assert_eq!(face_flux(0.0, 0.0, 0.0, 0.0, 1e-3, 0.0, 0.0, 1.0, 0.0, &C), 0.0);
    }

    #[test]
    fn flow_runs_downhill_on_the_water_surface_not_the_bed() {
        // Deep water on a high bed next to shallow water on a low bed at the same level: still.
        assert_eq!(face_flux(0.0, 0.0, 0.0, 5.0, 1.0, 0.0, 6.0, 1.0, 0.001, &C), 0.0);
        // Right side higher: flow to the left (negative).
        assert!(face_flux(0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.1, 1.0, 0.001, &C) < 0.0);
    }

    #[test]
    fn free_boundary_only_lets_water_out() {
        let bc = Boundary::Free { slope: 0.01 };
        let out_east = boundary_flux(&bc, 0.0, 0.0, 0.5, true, 10.0, 0.001, 0.0, &C);
        assert!(out_east > 0.0);
        let out_west = boundary_flux(&bc, 0.0, 0.0, 0.5, false, 10.0, 0.001, 0.0, &C);
        assert!((out_west + out_east).abs() < 1e-15);
        // A previous inflowing flux cannot survive at a free edge.
        assert_eq!(boundary_flux(&bc, -5.0, 0.0, 0.5, true, 10.0, 0.0, 0.0, &C), 0.0);
        assert_eq!(
            boundary_flux(&bc, 0.0, 0.0, 0.0005, true, 10.0, 0.0, 0.0, &C),
            0.0
        );
    }

    #[test]
    fn level_boundary_fills_and_drains() {
        let bc = Boundary::Level(super::super::TimeSeries::constant(2.0));
        // Edge cell (right side, west edge) bed 1, dry; outside level 2: inflow (positive, L→R).
        assert!(boundary_flux(&bc, 0.0, 1.0, 0.0, false, 10.0, 0.001, 2.0, &C) > 0.0);
        // Edge cell level 3 > 2: outflow (negative at the west edge).
        assert!(boundary_flux(&bc, 0.0, 1.0, 2.0, false, 10.0, 0.001, 2.0, &C) < 0.0);
    }
}
