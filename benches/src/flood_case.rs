//! A seeded synthetic catchment for the flood bench and its landlab comparison: rolling hills
//! with valleys and small-scale roughness, on square cells.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bed elevation (m) of an `n × n` grid of `dx`-metre cells, row 0 north, seeded.
pub fn hills(n: usize, dx: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A handful of broad waves of random direction and phase, plus noise of a few centimetres.
    let waves: Vec<(f64, f64, f64, f64)> = (0..6)
        .map(|_| {
            let angle: f64 = rng.random_range(0.0..std::f64::consts::PI);
            let wavelength: f64 = rng.random_range(150.0..600.0);
            let amplitude: f64 = rng.random_range(0.5..3.0);
            let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            (angle, wavelength, amplitude, phase)
        })
        .collect();
    let mut z = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (x, y) = (i as f64 * dx, j as f64 * dx);
            let mut v = 20.0 + 0.002 * y;
            for &(a, l, amp, ph) in &waves {
                v += amp * ((x * a.cos() + y * a.sin()) * std::f64::consts::TAU / l + ph).sin();
            }
            v += rng.random_range(-0.03..0.03);
            z.push(v as f32);
        }
    }
    z
}

#[cfg(test)]
mod tests {
    #[test]
    fn hills_are_seeded_and_finite() {
        let a = super::hills(50, 2.0, 7);
        assert_eq!(a, super::hills(50, 2.0, 7));
        assert_ne!(a, super::hills(50, 2.0, 8));
        assert!(a.iter().all(|v| v.is_finite() && *v > 0.0));
    }
}
