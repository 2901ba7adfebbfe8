//! Per-point transform cost (not a timed test: run on demand and read the numbers).
//!
//! `cargo test -p cim-engine --test crs_speed -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cim_engine::{Crs, Transform};

/// This thread's CPU time in seconds (Linux `schedstat`, so other processes on a busy machine
/// do not count), or wall time elsewhere.
struct Clock(std::time::Instant);

impl Clock {
    fn cpu_ns() -> Option<f64> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        s.split_whitespace().next()?.parse().ok()
    }
    fn start() -> (Clock, Option<f64>) {
        (Clock(std::time::Instant::now()), Clock::cpu_ns())
    }
    fn secs(start: &(Clock, Option<f64>)) -> f64 {
        match (start.1, Clock::cpu_ns()) {
            (Some(a), Some(b)) => (b - a) * 1e-9,
            _ => start.0 .0.elapsed().as_secs_f64(),
        }
    }
}

fn polygons(n: usize, lon0: f64, lat0: f64) -> Vec<geo::Geometry<f64>> {
    (0..n)
        .map(|i| {
            let x = lon0 + (i % 1000) as f64 * 1e-3;
            let y = lat0 + (i / 1000) as f64 * 1e-3;
            geo::Geometry::Polygon(geo::Polygon::new(
                geo::LineString::from(vec![
                    (x, y),
                    (x + 2e-4, y),
                    (x + 2e-4, y + 2e-4),
                    (x, y + 2e-4),
                    (x, y),
                ]),
                vec![],
            ))
        })
        .collect()
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn per_point_cost() {
    let n = 1_000_000usize;
    for (target, source, lon0, lat0) in [
        (4547, 4490, 113.0, 23.0),
        (32633, 4326, 14.0, 50.0),
        (3857, 4326, 14.0, 50.0),
        (5514, 4326, 14.0, 49.5),
        (4326, 4547, 400_000.0, 2_500_000.0),
    ] {
        let t = Transform::new(&Crs::from_epsg(target).unwrap(), &Crs::from_epsg(source).unwrap());
        let (dx, dy) = if source == 4547 { (1.0, 1.0) } else { (1e-6, 1e-6) };
        let mut xs: Vec<f64> = (0..n).map(|i| lon0 + (i % 1000) as f64 * dx).collect();
        let mut ys: Vec<f64> = (0..n).map(|i| lat0 + (i / 1000) as f64 * dy).collect();

        let t0 = Clock::start();
        let mut acc = 0.0;
        for i in 0..n {
            acc += t.apply(xs[i], ys[i]).unwrap().0;
        }
        let single = Clock::secs(&t0) * 1e9 / n as f64;

        let t0 = Clock::start();
        t.apply_slice(&mut xs, &mut ys).unwrap();
        let slice = Clock::secs(&t0) * 1e9 / n as f64;

        let polys = 200_000;
        let mut gs = if source == 4547 {
            Vec::new()
        } else {
            polygons(polys, lon0, lat0)
        };
        let t0 = Clock::start();
        for g in &mut gs {
            t.apply_geometry(g).unwrap();
        }
        let dt = Clock::secs(&t0);
        let per_poly = if gs.is_empty() {
            0.0
        } else {
            dt * 1e9 / polys as f64
        };
        println!(
            "EPSG:{source} -> EPSG:{target}: apply {single:.0} ns/pt, apply_slice {slice:.0} ns/pt, \
             apply_geometry {per_poly:.0} ns per 5-point polygon ({:.0} polygons/s) [{acc:.0}]",
            if per_poly > 0.0 { 1e9 / per_poly } else { 0.0 }
        );
    }
}
