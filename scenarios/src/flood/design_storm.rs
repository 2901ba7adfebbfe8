//! Design storms: the Chicago hyetograph (芝加哥雨型, Keifer & Chu 1957), what Chinese drainage
//! engineers build from their city's storm-intensity formula (GB 50014, 室外排水设计标准).
//!
//! The formula gives the mean intensity over any duration `t` (minutes) for a return period
//! `P` (years): `i = A1 (1 + C lg P) / (t + b)^n` mm/min (the standard writes it as
//! `q = 167 A1 (1 + C lg P) / (t + b)^n` L/(s·ha); 167 converts mm/min). The Chicago storm is
//! the one hyetograph whose every window around its peak, of any length, holds exactly the
//! formula's depth for that length; `peak` (r) places the peak as a share of the duration
//! (0.4 is usual in China).

use serde::Deserialize;

use crate::ScenarioError;

/// A Chicago design storm from a storm-intensity formula.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChicagoStorm {
    /// P, years.
    pub return_period_years: f64,
    /// A1, mm/min (the standard's A1: its q-form coefficient divided by 167).
    pub a1: f64,
    /// C, the return-period coefficient.
    pub c: f64,
    /// b, minutes.
    pub b: f64,
    /// n, the decay exponent.
    pub n: f64,
    /// The storm's length, minutes.
    pub duration_min: f64,
    /// Where the peak falls, as a share of the duration (r).
    #[serde(default = "peak_default")]
    pub peak: f64,
    /// The hyetograph's time step, minutes (intensities are the exact mean over each step).
    #[serde(default = "step_default")]
    pub step_min: f64,
}

fn peak_default() -> f64 {
    0.4
}

fn step_default() -> f64 {
    5.0
}

impl ChicagoStorm {
    /// `A = A1 (1 + C lg P)`, mm/min·min^n.
    pub fn a(&self) -> f64 {
        self.a1 * (1.0 + self.c * self.return_period_years.log10())
    }

    /// The formula's depth over `t` minutes, mm: `A t / (t + b)^n`.
    pub fn depth_mm(&self, t_min: f64) -> f64 {
        self.a() * t_min / (t_min + self.b).powf(self.n)
    }

    /// Rain fallen from the storm's start to `t` minutes, mm.
    ///
    /// Before the peak, the depth within `tb` minutes of it is `A tb / (tb / r + b)^n`; after
    /// it, within `ta` minutes, `A ta / (ta / (1 − r) + b)^n`: together, any window of length
    /// `d` placed r : (1 − r) about the peak holds the formula's depth for `d`.
    pub fn cumulative_mm(&self, t_min: f64) -> f64 {
        let (r, a, b, n) = (self.peak, self.a(), self.b, self.n);
        let t = t_min.clamp(0.0, self.duration_min);
        let tp = r * self.duration_min;
        let before = |tb: f64| a * tb / (tb / r + b).powf(n);
        let after = |ta: f64| a * ta / (ta / (1.0 - r) + b).powf(n);
        if t <= tp {
            before(tp) - before(tp - t)
        } else {
            before(tp) + after(t - tp)
        }
    }

    /// Checks the parameters, naming the one that is off.
    pub fn check(&self) -> Result<(), ScenarioError> {
        let bad = |what: &str, v: f64, range: &str| {
            Err(ScenarioError::invalid(format!(
                "rain.chicago.{what} = {v} must be {range}"
            )))
        };
        let s = self;
        if !(s.return_period_years >= 0.1 && s.return_period_years <= 10_000.0) {
            return bad(
                "return_period_years",
                s.return_period_years,
                "between 0.1 and 10000",
            );
        }
        if !(s.a1 > 0.0 && s.a1 <= 200.0) {
            return bad("a1", s.a1, "positive, in mm/min (the q-form coefficient / 167)");
        }
        if !(s.c >= 0.0 && s.c <= 10.0) {
            return bad("c", s.c, "between 0 and 10");
        }
        if !(s.b >= 0.0 && s.b <= 100.0) {
            return bad("b", s.b, "between 0 and 100 minutes");
        }
        if !(s.n > 0.0 && s.n < 1.5) {
            return bad("n", s.n, "between 0 and 1.5");
        }
        if !(s.duration_min > 0.0 && s.duration_min <= 7.0 * 1440.0) {
            return bad("duration_min", s.duration_min, "between 0 and 7 days");
        }
        if !(s.peak > 0.0 && s.peak < 1.0) {
            return bad("peak", s.peak, "between 0 and 1 (exclusive)");
        }
        if !(s.step_min > 0.0 && s.step_min <= s.duration_min) {
            return bad("step_min", s.step_min, "positive and at most the duration");
        }
        if self.b == 0.0 && self.n >= 1.0 {
            return bad("n", s.n, "below 1 when b is 0 (the peak would be infinite)");
        }
        Ok(())
    }

    /// The hyetograph as `[minute, mm/h]` steps (each the exact mean over its step), ending
    /// with `[duration, 0]`.
    pub fn hyetograph(&self) -> Vec<[f64; 2]> {
        let steps = (self.duration_min / self.step_min).ceil() as usize;
        let mut points = Vec::with_capacity(steps + 1);
        for k in 0..steps {
            let t0 = k as f64 * self.step_min;
            let t1 = ((k + 1) as f64 * self.step_min).min(self.duration_min);
            let mm = self.cumulative_mm(t1) - self.cumulative_mm(t0);
            points.push([t0, mm / (t1 - t0) * 60.0]);
        }
        points.push([self.duration_min, 0.0]);
        points
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Beijing's widely published formula, q = 2001 (1 + 0.811 lg P) / (t + 8)^0.711 L/(s·ha).
    fn beijing(p: f64, duration_min: f64) -> ChicagoStorm {
        ChicagoStorm {
            return_period_years: p,
            a1: 2001.0 / 167.0,
            c: 0.811,
            b: 8.0,
            n: 0.711,
            duration_min,
            peak: 0.4,
            step_min: 5.0,
        }
    }

    #[test]
    fn every_window_about_the_peak_holds_the_formulas_depth() {
        let s = beijing(100.0, 120.0);
        s.check().unwrap();
        // The whole storm: A T / (T + b)^n (Beijing, 100 years, 2 h: 119.7 mm).
        let total = s.cumulative_mm(120.0);
        assert!((total - s.depth_mm(120.0)).abs() < 1e-9);
        assert!((total - 119.71).abs() < 0.01, "{total}");
        // A window of d minutes placed 0.4 : 0.6 about the peak (at 48 min).
        for d in [5.0, 10.0, 30.0, 60.0, 90.0] {
            let w = s.cumulative_mm(48.0 + 0.6 * d) - s.cumulative_mm(48.0 - 0.4 * d);
            assert!((w - s.depth_mm(d)).abs() < 1e-9, "{d}: {w} vs {}", s.depth_mm(d));
        }
    }

    #[test]
    fn the_hyetograph_keeps_the_depth_and_peaks_where_asked() {
        let s = beijing(20.0, 120.0);
        let h = s.hyetograph();
        assert_eq!(h.len(), 25);
        assert_eq!(h[24], [120.0, 0.0]);
        let depth: f64 = h.windows(2).map(|w| w[0][1] * (w[1][0] - w[0][0]) / 60.0).sum();
        assert!((depth - s.depth_mm(120.0)).abs() < 1e-9);
        // The peak (48 min) lies in the step from 45 to 50 minutes, the wettest.
        let wettest = h.iter().max_by(|a, b| a[1].total_cmp(&b[1])).unwrap();
        assert_eq!(wettest[0], 45.0);
        // Rising before, falling after.
        assert!(h[..9].windows(2).all(|w| w[0][1] < w[1][1]));
        assert!(h[9..24].windows(2).all(|w| w[0][1] > w[1][1]));
    }

    #[test]
    fn bad_parameters_are_named() {
        let mut s = beijing(20.0, 120.0);
        s.peak = 1.0;
        assert!(s.check().unwrap_err().to_string().contains("rain.chicago.peak"));
        let mut s = beijing(20.0, 120.0);
        s.a1 = -1.0;
        assert!(s.check().unwrap_err().to_string().contains("rain.chicago.a1"));
    }
}
