//! The three loops every step runs over every row, each compiled twice: for the baseline x86-64
//! (SSE2, two f64 or four f32 lanes) and for AVX2 (four f64 or eight f32 lanes), picked at run
//! time. Both use the same IEEE operations lane by lane (no fused multiply-add), so they give
//! bitwise the same results; the AVX2 build is only faster.
//!
//! Each loop is a function of its own whose slices the compiler knows do not overlap: that is
//! what lets it vectorise (it gives up on checking this many arrays at run time).

use super::kernel::{face_flux_f32, face_levels, LaneConsts};
use super::sim::SPEED_MIN_DEPTH_M;

/// Which build of the loops this CPU runs. Only [`Lanes::detect`] can choose AVX2, and only
/// where the CPU has it, which is what makes calling that build sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lanes {
    avx2: bool,
}

impl Lanes {
    /// The widest build this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Lanes {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Lanes { avx2: false }
        }
    }

    /// The baseline build (to compare against).
    #[cfg(test)]
    pub(crate) fn baseline() -> Self {
        Lanes { avx2: false }
    }

    /// Whether this is the AVX2 build.
    #[cfg(test)]
    pub(crate) fn is_avx2(self) -> bool {
        self.avx2
    }
}

/// A function whose body is compiled for the baseline and for AVX2, called as
/// `name(lanes, args…)`.
macro_rules! twice_compiled {
    (
        $(#[$doc:meta])*
        fn $name:ident $(<$($g:ident: $bound:path),*>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments, unsafe_code)]
        #[inline(always)]
        pub(crate) fn $name $(<$($g: $bound),*>)? (lanes: Lanes, $($arg: $ty),*) $(-> $ret)? {
            #[allow(clippy::too_many_arguments)]
            #[inline(always)]
            fn body $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? $body

            #[allow(clippy::too_many_arguments)]
            #[inline(never)]
            fn baseline $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx2")]
            #[inline(never)]
            fn avx2 $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if lanes.avx2 {
                // SAFETY: `lanes.avx2` is only true when `Lanes::detect` found AVX2 on this CPU,
                // which is all the AVX2 build needs.
                return unsafe { avx2($($arg),*) };
            }
            let _ = lanes;
            baseline($($arg),*)
        }
    };
}

/// Manning's n² at the faces of a row: one value, or one a face.
pub(crate) trait FaceN2: Copy {
    /// The first `n` faces.
    fn first(self, n: usize) -> Self;
    /// n² at face `k`.
    fn at(self, k: usize) -> f32;
}

impl FaceN2 for f32 {
    #[inline(always)]
    fn first(self, _: usize) -> Self {
        self
    }
    #[inline(always)]
    fn at(self, _: usize) -> f32 {
        self
    }
}

impl FaceN2 for &[f32] {
    #[inline(always)]
    fn first(self, n: usize) -> Self {
        &self[..n]
    }
    #[inline(always)]
    fn at(self, k: usize) -> f32 {
        self[k]
    }
}

twice_compiled! {
    /// [`face_levels`] of the faces between cells `(z_l, h_l)[k]` and `(z_r, h_r)[k]`, for `k`
    /// up to the shortest of the slices, into `d_eta` and `h_f`.
    fn levels(z_l: &[f32], h_l: &[f64], z_r: &[f32], h_r: &[f64], d_eta: &mut [f32], h_f: &mut [f32]) {
        let n = z_l.len().min(h_l.len()).min(z_r.len()).min(h_r.len()).min(d_eta.len()).min(h_f.len());
        let (z_l, h_l, z_r, h_r) = (&z_l[..n], &h_l[..n], &z_r[..n], &h_r[..n]);
        let (d_eta, h_f) = (&mut d_eta[..n], &mut h_f[..n]);
        for k in 0..n {
            (d_eta[k], h_f[k]) = face_levels(z_l[k], h_l[k], z_r[k], h_r[k]);
        }
    }
}

twice_compiled! {
    /// New fluxes of a row of faces ([`face_flux_f32`]): `q` the old ones, `before`/`after` the
    /// parallel faces beside each, for `k` up to the shortest of the slices.
    fn faces<N: FaceN2>(
        out: &mut [f32],
        q: &[f32],
        before: &[f32],
        after: &[f32],
        d_eta: &[f32],
        h_f: &[f32],
        n2: N,
        k: &LaneConsts,
    ) {
        let n = out.len().min(q.len()).min(before.len()).min(after.len()).min(d_eta.len()).min(h_f.len());
        let (out, q, before, after) = (&mut out[..n], &q[..n], &before[..n], &after[..n]);
        let (d_eta, h_f, n2) = (&d_eta[..n], &h_f[..n], n2.first(n));
        let k = *k;
        for i in 0..n {
            out[i] = face_flux_f32(q[i], before[i], after[i], d_eta[i], h_f[i], n2.at(i), &k);
        }
    }
}

/// The numbers the continuity update needs besides the arrays.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ContinuityConsts {
    /// Δt/Δx and Δt/Δy.
    pub dt_dx: f64,
    pub dt_dy: f64,
    /// Drainage this step, m of depth.
    pub drain_depth: f64,
    /// Wet/dry threshold, m.
    pub h_dry: f64,
    /// The end of this step as a time-of-peak code.
    pub t_code: u16,
}

twice_compiled! {
    /// New depths of a row of cells (fluxes in and out, rain, drainage; building cells stay
    /// dry), what drained from each cell, and the running peaks, in one loop without branches.
    /// Returns the number of wet cells and the first cell that ran away: NaN, absurdly deep, or
    /// gone below zero by more than round-off (a cell emptied by its outflow can only miss by
    /// round-off, as its share was rounded down).
    fn continuity<R: Fn(usize) -> f64>(
        c: &ContinuityConsts,
        west: &[f32],
        east: &[f32],
        north: &[f32],
        south: &[f32],
        z_row: &[f32],
        h_row: &mut [f64],
        drained_row: &mut [f64],
        peak: &mut [f32],
        time: &mut [u16],
        speed: &mut [u16],
        rain: R,
    ) -> (u64, Option<usize>) {
        let n = h_row.len();
        // Constants in locals: a select between a field behind a reference and an array element
        // would otherwise become a select of addresses, that is a gather.
        let ContinuityConsts { dt_dx, dt_dy, drain_depth, h_dry, t_code } = *c;
        let (west, east, north, south, z_row) = (&west[..n], &east[..n], &north[..n], &south[..n], &z_row[..n]);
        let (drained_row, peak, time, speed) = (&mut drained_row[..n], &mut peak[..n], &mut time[..n], &mut speed[..n]);
        let mut wet = 0u32;
        let mut first_bad = u32::MAX;
        for i in 0..n {
            let open = z_row[i].is_finite();
            let after_flow = h_row[i]
                + dt_dx * (f64::from(west[i]) - f64::from(east[i]))
                + dt_dy * (f64::from(north[i]) - f64::from(south[i]));
            let h = after_flow.max(0.0) + if open { rain(i) } else { 0.0 };
            let drained = drain_depth.min(h);
            let h = if open { h - drained } else { 0.0 };
            h_row[i] = h;
            drained_row[i] = if open { drained } else { 0.0 };
            let bad = after_flow.is_nan() | (after_flow < -1e-6) | h.is_nan() | (h >= 1e5);
            first_bad = first_bad.min(if bad { i as u32 } else { u32::MAX });

            let is_wet = h > h_dry;
            wet += u32::from(is_wet);
            let hf = h as f32;
            let new_peak = is_wet & (hf > peak[i]);
            // Blends by bit masks: a select here is turned back into a branch or a gather.
            let (m32, m16) = (u32::from(new_peak).wrapping_neg(), u16::from(new_peak).wrapping_neg());
            peak[i] = f32::from_bits((hf.to_bits() & m32) | (peak[i].to_bits() & !m32));
            time[i] = (t_code & m16) | (time[i] & !m16);
            // Speed in f32, kept to the cm/s.
            let moving = is_wet & (h > SPEED_MIN_DEPTH_M);
            let half_inv = if moving { 0.5 / hf } else { 0.0 };
            let u = (west[i] + east[i]) * half_inv;
            let v = (north[i] + south[i]) * half_inv;
            speed[i] = speed[i].max(cm_per_s(u, v));
        }
        (u64::from(wet), (first_bad != u32::MAX).then_some(first_bad as usize))
    }
}

/// What turns face fluxes into a cell's outflow and its depth into what it can supply.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutflowWidths {
    /// Width of an x face (Δy) and of a y face (Δx), m.
    pub x_faces_m: f64,
    pub y_faces_m: f64,
    /// Outflow that a metre of depth supplies over the step: Δx·Δy/Δt, m²/s.
    pub m3_per_s_per_m: f64,
}

twice_compiled! {
    /// Limits the outflows of a row of cells to their water: each cell's share of its outflow
    /// that its depth can supply this step (1 where it can supply all, else rounded down) into
    /// `share`, then every outgoing face scaled by its cell's share, toward zero. `west_east` are
    /// the row's `n + 1` x faces, `north` and `south` its y faces, `n` the number of cells.
    fn limit_outflows(
        w: &OutflowWidths,
        h_row: &[f64],
        west_east: &mut [f32],
        north: &mut [f32],
        south: &mut [f32],
        share: &mut [f32],
    ) {
        let n = h_row.len();
        if n == 0 {
            return;
        }
        let (west, east) = (&west_east[..n], &west_east[1..n + 1]);
        let (north_r, south_r, share) = (&north[..n], &south[..n], &mut share[..n]);
        let w = *w;
        let mut limited = 0u32;
        for i in 0..n {
            let out = (f64::from(east[i].max(0.0)) - f64::from(west[i].min(0.0))) * w.x_faces_m
                + (f64::from(south_r[i].max(0.0)) - f64::from(north_r[i].min(0.0))) * w.y_faces_m;
            let have = h_row[i] * w.m3_per_s_per_m;
            let short = out > have;
            limited += u32::from(short);
            share[i] = if short { round_down_f32(have / out) } else { 1.0 };
        }
        if limited == 0 {
            return;
        }
        let (faces, north, south) = (&mut west_east[..n + 1], &mut north[..n], &mut south[..n]);
        if (limited as usize) * 8 < n {
            // Few: the outgoing faces of those cells (each face has one upstream cell, so none
            // is scaled twice).
            for i in 0..n {
                let s = share[i];
                if s < 1.0 {
                    if faces[i] < 0.0 {
                        faces[i] = scale_toward_zero(faces[i], s);
                    }
                    if faces[i + 1] > 0.0 {
                        faces[i + 1] = scale_toward_zero(faces[i + 1], s);
                    }
                    if north[i] < 0.0 {
                        north[i] = scale_toward_zero(north[i], s);
                    }
                    if south[i] > 0.0 {
                        south[i] = scale_toward_zero(south[i], s);
                    }
                }
            }
            return;
        }
        // Many: every face, scaled by the cell the water leaves (by 1 where it has enough).
        faces[0] = scale_toward_zero(faces[0], if faces[0] < 0.0 { share[0] } else { 1.0 });
        faces[n] = scale_toward_zero(faces[n], if faces[n] > 0.0 { share[n - 1] } else { 1.0 });
        let inner = &mut faces[1..n];
        let (left, right) = (&share[..n - 1], &share[1..]);
        for k in 0..n - 1 {
            let q = inner[k];
            inner[k] = scale_toward_zero(q, if q > 0.0 { left[k] } else { right[k] });
        }
        for i in 0..n {
            north[i] = scale_toward_zero(north[i], if north[i] < 0.0 { share[i] } else { 1.0 });
            south[i] = scale_toward_zero(south[i], if south[i] > 0.0 { share[i] } else { 1.0 });
        }
    }
}

/// `q · share` rounded toward zero, so a scaled outflow never exceeds the water that supplies
/// it (`q` itself for a share of 1). Without branches.
#[inline(always)]
pub(crate) fn scale_toward_zero(q: f32, share: f32) -> f32 {
    let exact = f64::from(q) * f64::from(share);
    let r = exact as f32;
    // One step toward zero where rounding went away from it (then r ≠ 0).
    f32::from_bits(r.to_bits() - u32::from(f64::from(r).abs() > exact.abs()))
}

/// The largest f32 not above `x` (x in [0, 1)), so a share never promises more water than there
/// is. Without branches.
#[inline(always)]
pub(crate) fn round_down_f32(x: f64) -> f32 {
    let f = x as f32;
    f32::from_bits(f.to_bits() - u32::from((f64::from(f) > x) & (f > 0.0)))
}

/// The speed of velocity `(u, v)` in whole cm/s, saturating at `u16::MAX` (NaN too): rounded by
/// adding 2²³, which leaves the integer in the low bits of the sum, so no float-to-integer
/// conversion (and its saturation checks) stands in the way of vector code.
#[inline(always)]
pub(crate) fn cm_per_s(u: f32, v: f32) -> u16 {
    let cm = ((u * u + v * v).sqrt() * 100.0).min(65535.0);
    ((cm + 8_388_608.0).to_bits() & 0xFFFF) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_for_shares_never_promises_more_water() {
        for x in [0.1, 1.0 / 3.0, 0.999_999_999, 1e-30, 0.5, 0.0] {
            let r = round_down_f32(x);
            assert!(f64::from(r) <= x && f64::from(r) > x - 1e-7, "{x}: {r}");
        }
        for (q, share) in [
            (0.3f32, 1.0f32 / 3.0),
            (-0.7, 0.123_456_7),
            (1e-20, 0.9),
            (5.0, 1.0),
            (-2.0, 0.0),
        ] {
            let r = scale_toward_zero(q, share);
            let exact = f64::from(q) * f64::from(share);
            assert!(
                f64::from(r).abs() <= exact.abs() && (f64::from(r) - exact).abs() < 1e-6 * q.abs() as f64
            );
            assert!(r == 0.0 || r.signum() == q.signum());
        }
        assert_eq!(scale_toward_zero(0.7, 1.0), 0.7);
    }

    #[test]
    fn a_cell_without_enough_water_gives_what_it_has_and_no_more() {
        // Three 1 m cells, Δt 1 s: the middle one has 0.1 m and wants to send 0.2 m³/s east
        // and 0.2 north; the others have plenty.
        let w = OutflowWidths {
            x_faces_m: 1.0,
            y_faces_m: 1.0,
            m3_per_s_per_m: 1.0,
        };
        let h = [1.0, 0.1, 1.0];
        let mut x = [0.0f32, -0.05, 0.2, 0.3];
        let (mut north, mut south) = ([0.0f32, -0.2, 0.0], [0.0f32, 0.0, 0.0]);
        let mut share = [0.0f32; 3];
        limit_outflows(
            Lanes::detect(),
            &w,
            &h,
            &mut x,
            &mut north,
            &mut south,
            &mut share,
        );
        assert_eq!(share[0], 1.0);
        assert_eq!(share[2], 1.0);
        assert!((share[1] - 0.1 / 0.45).abs() < 1e-7 && f64::from(share[1]) <= 0.1 / 0.45);
        let out = f64::from(x[2]) - f64::from(x[1]) - f64::from(north[1]);
        assert!(out <= 0.1 && out > 0.1 - 1e-6, "{out}");
        // The last cell has water enough: its outflow east is untouched.
        assert_eq!(x[3], 0.3);
    }

    #[test]
    fn speed_codes_round_to_the_nearest_cm_and_saturate() {
        assert_eq!(cm_per_s(0.0, 0.0), 0);
        assert_eq!(cm_per_s(0.3, 0.4), 50);
        assert_eq!(cm_per_s(1.234, 0.0), 123);
        assert_eq!(cm_per_s(1.236, 0.0), 124);
        assert_eq!(cm_per_s(-2.0, 0.0), 200);
        assert_eq!(cm_per_s(1e6, 0.0), u16::MAX);
        assert_eq!(cm_per_s(f32::NAN, 0.0), u16::MAX);
        assert_eq!(cm_per_s(f32::INFINITY, 0.0), u16::MAX);
    }
}
