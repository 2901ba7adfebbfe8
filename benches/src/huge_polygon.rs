//! A huge simple polygon, like a coastline or a district boundary: `n` vertices around a centre,
//! at radii that wander with the angle (large bays, small coves, and a jitter of the order of
//! the vertex spacing), seeded. Ordered by angle, so the ring never crosses itself, however
//! many vertices.

use rand::{Rng, SeedableRng};

/// The ring's vertices (closed: the last equals the first), in metres around (cx, cy).
pub fn huge_ring(n: usize, cx: f64, cy: f64, radius_m: f64, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Jitter of the order of the vertex spacing, as digitised lines have.
    let spacing_m = std::f64::consts::TAU * radius_m / n as f64;
    let mut pts: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            let bays = 0.15 * (7.0 * t).sin() + 0.05 * (61.0 * t).sin() + 0.02 * (997.0 * t).sin();
            let r = radius_m * (0.75 + bays) + spacing_m * (rng.random::<f64>() - 0.5);
            (cx + r * t.cos(), cy + r * t.sin())
        })
        .collect();
    pts.push(pts[0]);
    pts
}

/// The ring as a GeoJSON FeatureCollection of one polygon, with the CRS named (a legacy `crs`
/// member, which GDAL and cim read).
pub fn huge_polygon_geojson(ring: &[(f64, f64)], epsg: u32) -> String {
    let mut s = String::with_capacity(ring.len() * 40 + 256);
    s.push_str(&format!(
        "{{\"type\":\"FeatureCollection\",\"crs\":{{\"type\":\"name\",\"properties\":{{\"name\":\"EPSG:{epsg}\"}}}},\
         \"features\":[{{\"type\":\"Feature\",\"properties\":{{\"name\":\"district\"}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[["
    ));
    for (i, (x, y)) in ring.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("[{x:.3},{y:.3}]"));
    }
    s.push_str("]]}}]}");
    s
}
