//! Validation of the flood model against analytic solutions, conservation, symmetry and
//! determinism.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

/// The run lifecycle every model goes through (one test binary for the crate).
mod lifecycle;

use cim_scenarios::flood::{
    Boundaries, Boundary, FloodGrid, FloodParams, Forcing, Inflow, Inlet, Interp, Rain, Simulation,
    TimeSeries,
};

fn grid(nx: usize, ny: usize, d: f64, z: impl Fn(usize, usize) -> f64, n: f64) -> FloodGrid {
    let mut values = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            values.push(z(i, j) as f32);
        }
    }
    FloodGrid::new(nx, ny, (0.0, ny as f64 * d), (d, d), values, n)
}

fn rain_mm_per_h(mm_per_h: f64, until_s: f64) -> Rain {
    Rain::uniform(TimeSeries::new(vec![(0.0, mm_per_h), (until_s, 0.0)], Interp::Step).unwrap())
}

/// A cheap deterministic bumpy surface.
fn bumps(i: usize, j: usize) -> f64 {
    let (x, y) = (i as f64, j as f64);
    0.5 * (x * 0.37).sin() * (y * 0.23).cos() + 0.3 * ((x + 2.0 * y) * 0.11).sin()
}

#[test]
fn lake_at_rest_stays_still() {
    let (nx, ny) = (40, 30);
    let g = grid(nx, ny, 2.0, bumps, 0.03);
    let level = 2.0;
    let h0: Vec<f64> = g.z.iter().map(|&z| level - f64::from(z)).collect();
    let mut sim = Simulation::new(
        g.clone(),
        Forcing::rain_only(Rain::none()),
        FloodParams::default(),
        600.0,
    )
    .unwrap();
    sim.set_initial_depth(&h0).unwrap();
    sim.run_until(600.0, |_| true).unwrap();
    let worst = sim
        .depth()
        .iter()
        .zip(&h0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let (qx, qy) = sim.fluxes();
    let q_max = qx.iter().chain(qy).map(|q| q.abs()).fold(0.0f32, f32::max);
    // Round-off only: η = z + h in f64 from an f32 bed.
    assert!(worst < 1e-6, "depth moved by {worst} m");
    assert!(q_max < 1e-6, "flux {q_max} m²/s");
}

#[test]
fn closed_box_with_rain_conserves_volume() {
    let (nx, ny) = (50, 40);
    let mut g = grid(nx, ny, 5.0, |i, j| bumps(i, j) + 0.02 * i as f64, 0.03);
    // A building block in the middle: its roof rain must reach the ground beside it.
    for j in 15..25 {
        for i in 20..28 {
            g.blocked[j * nx + i] = true;
        }
    }
    let rain_s = 1800.0;
    let forcing = Forcing::rain_only(rain_mm_per_h(100.0, rain_s));
    let mut sim = Simulation::new(g.clone(), forcing, FloodParams::default(), 3600.0).unwrap();
    sim.run_until(3600.0, |_| true).unwrap();
    let b = sim.balance();
    let expected_rain = 0.1 * 0.5 * (nx * ny) as f64 * 25.0; // 50 mm over the whole box, roofs included
    assert!((b.rain_m3 - expected_rain).abs() / expected_rain < 1e-12, "{b:?}");
    assert!(
        b.relative_error() <= 1e-6,
        "relative volume error {}",
        b.relative_error()
    );
    assert_eq!(b.boundary_out_m3, 0.0);
    // No water inside the building.
    for j in 15..25 {
        for i in 20..28 {
            assert_eq!(sim.depth()[j * nx + i], 0.0);
        }
    }
    assert!(sim.depth().iter().all(|&h| h >= 0.0));
}

#[test]
fn roofs_drain_into_the_sewer_up_to_its_capacity() {
    let (nx, ny) = (50, 40);
    let mut g = grid(nx, ny, 5.0, |i, j| bumps(i, j) + 0.02 * i as f64, 0.03);
    for j in 15..25 {
        for i in 20..28 {
            g.blocked[j * nx + i] = true;
        }
    }
    let roof_m2 = 80.0 * 25.0;
    let run = |share: f64, capacity: f64| {
        let mut forcing = Forcing::rain_only(rain_mm_per_h(100.0, 1800.0));
        forcing.roof_sewer = cim_scenarios::flood::RoofSewer {
            share,
            capacity_mm_per_h: capacity,
        };
        let mut sim = Simulation::new(g.clone(), forcing, FloodParams::default(), 3600.0).unwrap();
        sim.run_until(3600.0, |_| true).unwrap();
        sim.balance()
    };
    // 100 mm/h for 30 min on the roofs; the sewers take 20 mm/h of it: 10 mm, all of it piped
    // (to the step: the step across the rain's end pipes its mean rate, capped, for the whole
    // step).
    let b = run(1.0, 20.0);
    assert!(
        (b.drained_m3 - 0.010 * roof_m2).abs() < 1e-3 * 0.010 * roof_m2,
        "{b:?}"
    );
    assert!(b.relative_error() <= 1e-6, "{}", b.relative_error());
    // Half the roofs connected: half of that. Capacity above the rain: every drop piped.
    let half = run(0.5, 20.0);
    assert!(
        (half.drained_m3 - 0.005 * roof_m2).abs() < 1e-3 * 0.005 * roof_m2,
        "{half:?}"
    );
    let all = run(1.0, 500.0);
    assert!((all.drained_m3 - 0.050 * roof_m2).abs() < 1e-9, "{all:?}");
    // What the roofs keep off the ground is what is missing from the ground.
    let none = run(0.0, 0.0);
    assert_eq!(none.drained_m3, 0.0);
    assert!(
        (none.stored_m3 - b.stored_m3 - b.drained_m3).abs() < 1e-6,
        "{none:?} {b:?}"
    );
}

/// The non-breaking wave of Hunter et al. (2005): a wave advancing at `u` over a horizontal
/// plane; behind the front h(x, t) = [−(7/3)·n²·u²·(x − u·t)]^(3/7). Returns (RMSE behind the
/// front, worst error there, front position, analytic front position).
fn non_breaking_wave(u: f64, n: f64, dx: f64, t_end: f64) -> (f64, f64, f64, f64) {
    let length = 1.4 * u * t_end;
    let (nx, ny) = ((length / dx) as usize, 3);
    let g = grid(nx, ny, dx, |_, _| 0.0, n);
    let analytic = |x: f64, t: f64| {
        let s = -(7.0 / 3.0) * n * n * u * u * (x - u * t);
        if s > 0.0 {
            s.powf(3.0 / 7.0)
        } else {
            0.0
        }
    };
    // The west edge's level is the analytic depth in a ghost cell half a cell beyond the edge.
    let level: Vec<(f64, f64)> = (0..=(t_end as usize / 10))
        .map(|k| (k as f64 * 10.0, analytic(-0.5 * dx, k as f64 * 10.0)))
        .collect();
    let mut forcing = Forcing::rain_only(Rain::none());
    forcing.boundaries.west = Boundary::Level(TimeSeries::new(level, Interp::Linear).unwrap());
    let mut sim = Simulation::new(g, forcing, FloodParams::default(), t_end).unwrap();
    sim.run_until(t_end, |_| true).unwrap();
    let h = &sim.depth()[ny / 2 * nx..(ny / 2 + 1) * nx];
    let (mut se, mut count, mut worst) = (0.0, 0, 0.0f64);
    for (i, &hi) in h.iter().enumerate() {
        let x = (i as f64 + 0.5) * dx;
        // Behind the front, where the analytic profile is smooth.
        if x < 0.9 * u * t_end {
            let e = hi - analytic(x, t_end);
            se += e * e;
            count += 1;
            worst = worst.max(e.abs());
        }
    }
    let wet_to = h.iter().rposition(|&d| d > 0.01).unwrap();
    (
        (se / count as f64).sqrt(),
        worst,
        (wet_to as f64 + 1.0) * dx,
        u * t_end,
    )
}

#[test]
fn non_breaking_wave_at_low_froude_matches_the_analytic_profile() {
    // u = 0.2 m/s, n = 0.05: Froude² = u²/(g·h) < 0.01, where the local inertial equations
    // (no convective term) and the analytic (steady, friction-balanced) profile agree.
    let (rmse, worst, front, exact) = non_breaking_wave(0.2, 0.05, 5.0, 3600.0);
    assert!(rmse < 0.005, "RMSE {rmse} m");
    assert!(worst < 0.02, "worst {worst} m");
    assert!(
        (front - exact).abs() < 30.0,
        "front at {front} m, analytic {exact} m"
    );
}

#[test]
fn non_breaking_wave_of_the_classic_test_stays_close() {
    // u = 1 m/s, n = 0.01, Δx = 25 m, t = 1 h (Hunter et al. 2005; Bates et al. 2010). Here
    // Froude² reaches 0.2 behind the front, and the local inertial wave is steeper than the
    // analytic one by 1/(1 − Fr²) (the convective term it drops would cancel the local
    // acceleration); it arrives a little behind, as in the published comparisons.
    let (rmse, worst, front, exact) = non_breaking_wave(1.0, 0.01, 25.0, 3600.0);
    assert!(rmse < 0.06, "RMSE {rmse} m");
    assert!(worst < 0.15, "worst {worst} m");
    assert!(
        front < exact + 25.0 && front > exact - 300.0,
        "front at {front} m, analytic {exact} m"
    );
}

#[test]
fn symmetric_domain_gives_a_symmetric_result() {
    let (nx, ny) = (41, 31);
    let cx = (nx - 1) as f64 / 2.0;
    let cy = (ny - 1) as f64 / 2.0;
    let z = |i: usize, j: usize| {
        let (x, y) = (i as f64 - cx, j as f64 - cy);
        0.002 * (x * x + y * y) + 0.3 * (x.abs() * 0.5).cos()
    };
    let g = grid(nx, ny, 2.0, z, 0.03);
    let mut h0 = vec![0.0; nx * ny];
    for j in 12..19 {
        for i in 17..24 {
            h0[j * nx + i] = 1.0;
        }
    }
    let mut sim = Simulation::new(
        g,
        Forcing::rain_only(rain_mm_per_h(80.0, 300.0)),
        FloodParams::default(),
        600.0,
    )
    .unwrap();
    sim.set_initial_depth(&h0).unwrap();
    sim.run_until(600.0, |_| true).unwrap();
    let h = sim.depth();
    let mut worst = 0.0f64;
    for j in 0..ny {
        for i in 0..nx {
            let a = h[j * nx + i];
            worst = worst.max((a - h[j * nx + (nx - 1 - i)]).abs());
            worst = worst.max((a - h[(ny - 1 - j) * nx + i]).abs());
        }
    }
    assert!(h.iter().any(|&d| d > 0.01));
    assert!(worst < 1e-6, "asymmetry {worst} m");
}

#[test]
fn closed_depression_fills_to_its_volume_level() {
    let (nx, ny, d) = (30, 30, 4.0);
    let z = |i: usize, j: usize| {
        let (x, y) = (i as f64 - 14.5, j as f64 - 14.5);
        0.01 * (x * x + y * y)
    };
    let g = grid(nx, ny, d, z, 0.05);
    let bed: Vec<f64> = g.z.iter().map(|&v| f64::from(v)).collect();
    let rain_s = 600.0;
    let mut sim = Simulation::new(
        g,
        Forcing::rain_only(rain_mm_per_h(120.0, rain_s)),
        FloodParams::default(),
        7200.0,
    )
    .unwrap();
    sim.run_until(7200.0, |_| true).unwrap();
    let volume = sim.balance().stored_m3;
    assert!((volume - 0.12 * rain_s / 3600.0 * (nx * ny) as f64 * d * d).abs() < 1e-6 * volume);
    // Volume-implied level: Σ max(η − z, 0)·A = V, found by bisection.
    let (mut lo, mut hi) = (0.0, 10.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        let v: f64 = bed.iter().map(|&zb| (mid - zb).max(0.0) * d * d).sum();
        if v > volume {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let level = 0.5 * (lo + hi);
    // Cells well below the level hold water up to it; a thin film (≤ the wet/dry threshold and
    // what it pins on slopes) may stay on the rim.
    let h = sim.depth();
    let mut worst = 0.0f64;
    for (k, &zb) in bed.iter().enumerate() {
        if level - zb > 0.05 {
            worst = worst.max((zb + h[k] - level).abs());
        }
    }
    assert!(
        worst < 0.02,
        "water level off by {worst} m from the volume-implied {level} m"
    );
}

fn busy_case(threads: usize) -> Simulation {
    let (nx, ny) = (64, 48);
    let mut g = grid(nx, ny, 3.0, |i, j| bumps(i, j) - 0.01 * j as f64, 0.04);
    for j in 10..14 {
        for i in 30..40 {
            g.blocked[j * nx + i] = true;
        }
    }
    let mut forcing = Forcing::rain_only(rain_mm_per_h(100.0, 900.0));
    forcing.boundaries.south = Boundary::Free { slope: 0.01 };
    forcing.inflows.push(Inflow {
        name: "creek".into(),
        cells: (5..9).collect(),
        m3_per_s: TimeSeries::new(vec![(0.0, 0.0), (300.0, 2.0), (1200.0, 0.0)], Interp::Linear).unwrap(),
    });
    forcing.inlets.push(Inlet {
        name: "gully".into(),
        cell: 40 * nx + 20,
        capacity_m3_per_s: 0.05,
    });
    forcing.drainage_mm_per_h = 10.0;
    let params = FloodParams {
        threads,
        ..FloodParams::default()
    };
    let mut sim = Simulation::new(g, forcing, params, 1800.0).unwrap();
    sim.run_until(1800.0, |_| true).unwrap();
    sim
}

#[test]
fn results_are_bitwise_identical_for_any_thread_count_and_repeat() {
    let one = busy_case(1);
    let three = busy_case(3);
    let again = busy_case(3);
    let bits = |s: &Simulation| s.depth().iter().map(|h| h.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one), bits(&three));
    assert_eq!(bits(&three), bits(&again));
    assert_eq!(one.balance(), three.balance());
    assert_eq!(one.max_depth(), three.max_depth());
    let b = one.balance();
    assert!(
        b.boundary_out_m3 > 0.0 && b.drained_m3 > 0.0 && b.inflow_m3 > 0.0,
        "{b:?}"
    );
    assert!(b.relative_error() <= 1e-6, "{b:?}");
    // Inflow: the trapezoid of the hydrograph, 0.5·2·1200 m³.
    assert!((b.inflow_m3 - 1200.0).abs() < 1e-9, "{}", b.inflow_m3);
}

#[test]
fn a_wall_of_buildings_holds_the_water_back() {
    let (nx, ny) = (30, 10);
    let mut g = grid(nx, ny, 2.0, |_, _| 0.0, 0.03);
    for j in 0..ny {
        g.blocked[j * nx + 15] = true;
    }
    let mut h0 = vec![0.0; nx * ny];
    for j in 0..ny {
        for i in 0..15 {
            h0[j * nx + i] = 0.5;
        }
    }
    let mut sim =
        Simulation::new(g, Forcing::rain_only(Rain::none()), FloodParams::default(), 600.0).unwrap();
    sim.set_initial_depth(&h0).unwrap();
    sim.run_until(600.0, |_| true).unwrap();
    let h = sim.depth();
    for j in 0..ny {
        for i in 15..nx {
            assert_eq!(h[j * nx + i], 0.0, "water at column {i}");
        }
    }
    let left: f64 = (0..ny)
        .flat_map(|j| (0..15).map(move |i| (j, i)))
        .map(|(j, i)| h[j * nx + i])
        .sum();
    assert!((left - 0.5 * 150.0).abs() < 1e-9);
}

#[test]
fn drainage_capacity_takes_what_rain_brings() {
    let (nx, ny) = (20, 20);
    let g = grid(nx, ny, 5.0, |_, _| 0.0, 0.03);
    let mut forcing = Forcing::rain_only(rain_mm_per_h(30.0, 3600.0));
    forcing.drainage_mm_per_h = 50.0;
    let mut sim = Simulation::new(g, forcing, FloodParams::default(), 3600.0).unwrap();
    sim.run_until(3600.0, |_| true).unwrap();
    let b = sim.balance();
    assert!(b.stored_m3.abs() < 1e-9, "{b:?}");
    assert!((b.drained_m3 - b.rain_m3).abs() < 1e-6 * b.rain_m3);
}

#[test]
fn free_outflow_drains_a_tilted_plane() {
    let (nx, ny) = (40, 10);
    let g = grid(nx, ny, 5.0, |i, _| 2.0 - 0.01 * 5.0 * i as f64, 0.03);
    let mut forcing = Forcing::rain_only(rain_mm_per_h(100.0, 600.0));
    forcing.boundaries.east = Boundary::Free { slope: 0.01 };
    let mut sim = Simulation::new(g, forcing, FloodParams::default(), 7200.0).unwrap();
    sim.run_until(7200.0, |_| true).unwrap();
    let b = sim.balance();
    assert!(b.relative_error() <= 1e-6, "{b:?}");
    // Most rain has left through the east edge two hours later.
    assert!(b.boundary_out_m3 > 0.9 * b.rain_m3, "{b:?}");
    assert_eq!(b.boundary_in_m3, 0.0);
}

#[test]
fn bad_set_ups_are_clear_errors_before_the_run() {
    let mut g = grid(10, 10, 1.0, |_, _| 0.0, 0.03);
    g.z[34] = f32::NAN;
    let err = Simulation::new(g, Forcing::rain_only(Rain::none()), FloodParams::default(), 10.0)
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("no data") && msg.contains("column 4, row 3"),
        "{msg}"
    );

    let g = grid(10, 10, 1.0, |_, _| 0.0, 0.03);
    let neg = Rain::uniform(TimeSeries::new(vec![(0.0, 10.0), (60.0, -5.0)], Interp::Step).unwrap());
    let msg = Simulation::new(g.clone(), Forcing::rain_only(neg), FloodParams::default(), 10.0)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("negative"), "{msg}");

    let mut f = Forcing::rain_only(Rain::none());
    f.inflows.push(Inflow {
        name: "river".into(),
        cells: vec![100],
        m3_per_s: TimeSeries::constant(1.0),
    });
    let msg = Simulation::new(g, f, FloodParams::default(), 10.0)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("river") && msg.contains("outside"), "{msg}");
}

#[test]
fn steps_far_beyond_the_courant_limit_stay_bounded_and_conservative() {
    // The supply share caps every outflow at the water present, so even 50× the Courant step
    // neither makes negative depths nor creates water.
    let (nx, ny) = (20, 20);
    let g = grid(nx, ny, 1.0, |i, _| 0.1 * i as f64, 0.0);
    let h0: Vec<f64> = (0..nx * ny).map(|c| if c % 3 == 0 { 5.0 } else { 1.0 }).collect();
    let params = FloodParams {
        theta: 1.0,
        ..FloodParams::default()
    };
    let mut sim = Simulation::new(g, Forcing::rain_only(Rain::none()), params, 1e6).unwrap();
    sim.set_initial_depth(&h0).unwrap();
    for _ in 0..500 {
        sim.step(5.0).unwrap();
    }
    assert!(sim.depth().iter().all(|&h| h >= 0.0 && h.is_finite()));
    assert!(sim.balance().relative_error() < 1e-9, "{:?}", sim.balance());
}

#[test]
fn drainage_inlets_and_bad_boundaries() {
    let g = grid(10, 10, 1.0, |_, _| 0.0, 0.03);
    let mut f = Forcing::rain_only(Rain::none());
    f.boundaries = Boundaries::all(Boundary::Free { slope: 0.0 });
    assert!(Simulation::new(g, f, FloodParams::default(), 10.0).is_err());
}
