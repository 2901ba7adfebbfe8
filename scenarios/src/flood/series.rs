//! Time series for forcing: rain hyetographs (held steps), hydrographs and levels (linear).

use crate::ScenarioError;

/// How a [`TimeSeries`] is read between its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    /// The value at `t_k` holds until `t_{k+1}` (a hyetograph: 100 mm/h from 0 s to 3600 s).
    Step,
    /// Straight lines between points (a hydrograph, a water level).
    Linear,
}

/// Values over time: `(time_s, value)` points with strictly increasing times. Before the first
/// point the first value holds; after the last point the last value holds.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    points: Vec<(f64, f64)>,
    interp: Interp,
}

impl TimeSeries {
    /// A series from points; times must be finite and strictly increasing, values finite.
    ///
    /// # Examples
    /// ```
    /// use cim_scenarios::flood::{Interp, TimeSeries};
    /// let rain = TimeSeries::new(vec![(0.0, 100.0), (3600.0, 0.0)], Interp::Step).unwrap();
    /// assert_eq!(rain.value_at(1800.0), 100.0);
    /// assert_eq!(rain.mean(3000.0, 4200.0), 50.0);
    /// let q = TimeSeries::new(vec![(0.0, 0.0), (100.0, 10.0)], Interp::Linear).unwrap();
    /// assert_eq!(q.value_at(50.0), 5.0);
    /// assert_eq!(q.mean(0.0, 100.0), 5.0);
    /// ```
    pub fn new(points: Vec<(f64, f64)>, interp: Interp) -> Result<TimeSeries, ScenarioError> {
        if points.is_empty() {
            return Err(ScenarioError::invalid("a time series needs at least one point"));
        }
        for (k, &(t, v)) in points.iter().enumerate() {
            if !t.is_finite() || !v.is_finite() {
                return Err(ScenarioError::invalid(format!(
                    "time series point {k} ({t}, {v}) is not a finite number"
                )));
            }
            if k > 0 && t <= points[k - 1].0 {
                return Err(ScenarioError::invalid(format!(
                    "time series times must increase: point {k} at {t} s follows {} s",
                    points[k - 1].0
                )));
            }
        }
        Ok(TimeSeries { points, interp })
    }

    /// A value that never changes.
    pub fn constant(value: f64) -> TimeSeries {
        TimeSeries {
            points: vec![(0.0, value)],
            interp: Interp::Step,
        }
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn interp(&self) -> Interp {
        self.interp
    }

    /// The smallest value anywhere in the series.
    pub fn min_value(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min)
    }

    /// The value at time `t`.
    pub fn value_at(&self, t: f64) -> f64 {
        let p = &self.points;
        let k = p.partition_point(|&(tk, _)| tk <= t);
        if k == 0 {
            return p[0].1;
        }
        if k == p.len() {
            return p[k - 1].1;
        }
        match self.interp {
            Interp::Step => p[k - 1].1,
            Interp::Linear => {
                let (t0, v0) = p[k - 1];
                let (t1, v1) = p[k];
                v0 + (v1 - v0) * (t - t0) / (t1 - t0)
            }
        }
    }

    /// The mean value over `[t0, t1]` (the exact integral divided by `t1 − t0`), so forcing applied
    /// over a time step adds exactly the volume the series describes. `t1 <= t0` gives the value at `t0`.
    pub fn mean(&self, t0: f64, t1: f64) -> f64 {
        if t1 <= t0 {
            return self.value_at(t0);
        }
        self.integral(t0, t1) / (t1 - t0)
    }

    /// ∫ value dt over `[t0, t1]`.
    pub fn integral(&self, t0: f64, t1: f64) -> f64 {
        if t1 <= t0 {
            return 0.0;
        }
        // Breakpoints inside (t0, t1) split the interval into pieces where the value is one step
        // or one straight line; each piece is integrated exactly.
        let mut total = 0.0;
        let mut a = t0;
        let start = self.points.partition_point(|&(tk, _)| tk <= t0);
        for &(tk, _) in &self.points[start..] {
            if tk >= t1 {
                break;
            }
            total += self.piece(a, tk);
            a = tk;
        }
        total + self.piece(a, t1)
    }

    /// Integral over `[a, b]` that contains no breakpoint in its interior.
    fn piece(&self, a: f64, b: f64) -> f64 {
        match self.interp {
            Interp::Step => self.value_at(a) * (b - a),
            Interp::Linear => 0.5 * (self.value_at(a) + self.value_at(b)) * (b - a),
        }
    }

    /// The last time at which the series changes.
    pub fn end_time(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_integral_spans_breakpoints_exactly() {
        let s = TimeSeries::new(vec![(0.0, 10.0), (10.0, 20.0), (20.0, 0.0)], Interp::Step).unwrap();
        assert_eq!(s.integral(5.0, 15.0), 5.0 * 10.0 + 5.0 * 20.0);
        assert_eq!(s.integral(-10.0, 100.0), 10.0 * 10.0 + 10.0 * 20.0 + 10.0 * 10.0);
        assert_eq!(s.value_at(20.0), 0.0);
    }

    #[test]
    fn linear_integral_is_the_trapezoid() {
        let s = TimeSeries::new(vec![(0.0, 0.0), (10.0, 10.0), (20.0, 0.0)], Interp::Linear).unwrap();
        assert!((s.integral(0.0, 20.0) - 100.0).abs() < 1e-12);
        assert!((s.integral(5.0, 15.0) - (0.5 * (5.0 + 10.0) * 5.0 * 2.0)).abs() < 1e-12);
    }

    #[test]
    fn bad_series_are_errors() {
        assert!(TimeSeries::new(vec![], Interp::Step).is_err());
        assert!(TimeSeries::new(vec![(0.0, 1.0), (0.0, 2.0)], Interp::Step).is_err());
        assert!(TimeSeries::new(vec![(0.0, f64::NAN)], Interp::Step).is_err());
    }
}
