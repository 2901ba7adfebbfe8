//! A seeded synthetic airborne lidar cloud: 10 points a square metre over a square, ground
//! rolling a few metres, and about a third of the points on flat roofs 5–40 m up (20 m blocks).

use cim_importers::pointcloud::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` points in UTM-like metres, the same for the same seed.
pub fn synthetic_cloud(n: usize, seed: u64) -> PointCloud {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = (n as f64 / 10.0).sqrt();
    let (x0, y0) = (500_000.0, 3_400_000.0);
    let mut cloud = PointCloud {
        version: (1, 2),
        format: 1,
        ..PointCloud::default()
    };
    for _ in 0..n {
        let (x, y): (f64, f64) = (rng.random_range(0.0..side), rng.random_range(0.0..side));
        let ground = 20.0 + 3.0 * (x / 150.0).sin() + 2.0 * (y / 90.0).cos();
        // Blocks of 20 m, every third one a building with its own height.
        let (bx, by) = ((x / 20.0) as u64, (y / 20.0) as u64);
        let building = (bx * 7 + by * 13) % 3 == 0;
        let (z, class) = if building {
            (ground + 5.0 + ((bx * 31 + by * 17) % 36) as f64, 6)
        } else {
            (ground + rng.random_range(-0.05..0.05), 2)
        };
        cloud.xyz.push([x0 + x, y0 + y, z]);
        cloud.class.push(class);
        cloud.intensity.push(rng.random_range(0..4096));
        cloud.returns.push([1, 1]);
    }
    cloud
}
