//! Seeded synthetic building footprints, and the queries the spatial benches run over them.
//!
//! The city is a grid of street blocks: rows of lots 32 m deep (a 16 m street after every
//! fourth row), each row cut into lots 12–44 m wide, one building per lot with a 2 m setback.
//! Buildings are rectangles (75 %), L-shapes (20 %) or courtyard blocks with a hole (5 %, on
//! big lots), 8–40 m by 8–28 m, 3–100 m tall with most of them low. That is ≈1000 m² of city
//! per building, about a dense Chinese city district: 1M buildings cover ≈31.7 km × 31.7 km.
//! Coordinates are UTM-like metres from (500 000, 4 000 000).

use cim_spatial_index::{Item, Shape};
use geo::{BoundingRect, LineString, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Lower-left corner of the synthetic city, metres.
pub const CITY_ORIGIN: [f64; 2] = [500_000.0, 4_000_000.0];
const LOT_DEPTH_M: f64 = 32.0;
const STREET_M: f64 = 16.0;
const MEAN_LOT_AREA_M2: f64 = 28.0 * (LOT_DEPTH_M + STREET_M / 4.0);

/// `n` buildings as (footprint, height in metres), row by row over a square region.
///
/// # Examples
///
/// ```
/// let city = cim_benches::footprints::synthetic_footprints(1000, 7);
/// assert_eq!(city.len(), 1000);
/// assert!(city.iter().all(|(_, h)| (3.0..=100.0).contains(h)));
/// assert_eq!(city, cim_benches::footprints::synthetic_footprints(1000, 7));
/// ```
pub fn synthetic_footprints(n: usize, seed: u64) -> Vec<(Polygon<f64>, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = (n as f64 * MEAN_LOT_AREA_M2).sqrt();
    let mut out = Vec::with_capacity(n);
    let mut y = CITY_ORIGIN[1];
    let mut row = 0;
    while out.len() < n {
        let mut x = CITY_ORIGIN[0];
        while x < CITY_ORIGIN[0] + side && out.len() < n {
            let lot_w: f64 = rng.random_range(12.0..44.0);
            let w = rng.random_range(8.0..(lot_w - 4.0).min(40.0));
            let d = rng.random_range(8.0..28.0);
            let x0 = x + 2.0 + rng.random_range(0.0..=lot_w - 4.0 - w);
            let y0 = y + 2.0 + rng.random_range(0.0..=LOT_DEPTH_M - 4.0 - d);
            let kind = rng.random_range(0.0..1.0);
            let footprint = if kind < 0.05 && w >= 24.0 && d >= 20.0 {
                courtyard(x0, y0, w, d)
            } else if kind < 0.25 {
                l_shape(
                    x0,
                    y0,
                    w,
                    d,
                    rng.random_range(0.3..0.7),
                    rng.random_range(0.3..0.7),
                )
            } else {
                rect(x0, y0, w, d)
            };
            let u: f64 = rng.random_range(0.0..1.0);
            out.push((footprint, 3.0 + 97.0 * u * u * u));
            x += lot_w;
        }
        y += LOT_DEPTH_M + if row % 4 == 3 { STREET_M } else { 0.0 };
        row += 1;
    }
    out
}

fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
    pts.to_vec().into()
}

fn rect(x: f64, y: f64, w: f64, d: f64) -> Polygon<f64> {
    Polygon::new(ring(&[(x, y), (x + w, y), (x + w, y + d), (x, y + d)]), vec![])
}

/// A rectangle missing its north-east corner (fractions `fw`, `fd` of the sides remain).
fn l_shape(x: f64, y: f64, w: f64, d: f64, fw: f64, fd: f64) -> Polygon<f64> {
    let (cw, cd) = (w * fw, d * fd);
    Polygon::new(
        ring(&[
            (x, y),
            (x + w, y),
            (x + w, y + cd),
            (x + cw, y + cd),
            (x + cw, y + d),
            (x, y + d),
        ]),
        vec![],
    )
}

/// A block with a courtyard: 6 m deep wings around an open hole.
fn courtyard(x: f64, y: f64, w: f64, d: f64) -> Polygon<f64> {
    let hole = ring(&[
        (x + 6.0, y + 6.0),
        (x + 6.0, y + d - 6.0),
        (x + w - 6.0, y + d - 6.0),
        (x + w - 6.0, y + 6.0),
    ]);
    Polygon::new(rect(x, y, w, d).exterior().clone(), vec![hole])
}

/// The footprints as LOD1 prisms on flat ground, with ids `0..n`.
pub fn lod1_items(footprints: &[(Polygon<f64>, f64)]) -> Vec<Item> {
    footprints
        .iter()
        .enumerate()
        .map(|(i, (f, h))| Item::new(i as u64, Shape::prism(f.clone(), 0.0, *h)))
        .collect()
}

/// `(min, max)` in x, y of all footprints.
pub fn extent(footprints: &[(Polygon<f64>, f64)]) -> ([f64; 2], [f64; 2]) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for r in footprints.iter().filter_map(|(f, _)| f.bounding_rect()) {
        min = [min[0].min(r.min().x), min[1].min(r.min().y)];
        max = [max[0].max(r.max().x), max[1].max(r.max().y)];
    }
    (min, max)
}

/// `n` square windows placed uniformly over the city, sized so that on average
/// `mean_hits` footprint boxes meet each one.
///
/// For box sides `a × b` and density ρ, a window of side `s` meets on average
/// `ρ (s + a)(s + b)` boxes; this solves that for `s` with the footprints' mean sides.
pub fn window_queries(
    n: usize,
    seed: u64,
    footprints: &[(Polygon<f64>, f64)],
    mean_hits: f64,
) -> Vec<([f64; 2], [f64; 2])> {
    let (min, max) = extent(footprints);
    let area = (max[0] - min[0]) * (max[1] - min[1]);
    let density = footprints.len() as f64 / area;
    let (mut a, mut b) = (0.0, 0.0);
    for r in footprints.iter().filter_map(|(f, _)| f.bounding_rect()) {
        a += r.width() / footprints.len() as f64;
        b += r.height() / footprints.len() as f64;
    }
    let target = mean_hits / density;
    let s = (((a - b) * (a - b) + 4.0 * target).sqrt() - (a + b)) / 2.0;
    let s = s.max(0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = rng.random_range(min[0]..(max[0] - s).max(min[0] + 1e-9));
            let y = rng.random_range(min[1]..(max[1] - s).max(min[1] + 1e-9));
            ([x, y], [x + s, y + s])
        })
        .collect()
}

/// `n` camera-like rays `(origin, direction)`: from 300 m up over the city (500 m in from its
/// edge where it is big enough), any heading, looking 15°–60° below the horizon.
pub fn rays(n: usize, seed: u64, footprints: &[(Polygon<f64>, f64)]) -> Vec<([f64; 3], [f64; 3])> {
    let (min, max) = extent(footprints);
    let margin = (0.25 * (max[0] - min[0]).min(max[1] - min[1])).min(500.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = rng.random_range(min[0] + margin..max[0] - margin);
            let y = rng.random_range(min[1] + margin..max[1] - margin);
            let heading = rng.random_range(0.0..std::f64::consts::TAU);
            let pitch = rng.random_range(15.0f64..60.0).to_radians();
            let dir = [
                heading.cos() * pitch.cos(),
                heading.sin() * pitch.cos(),
                -pitch.sin(),
            ];
            ([x, y, 300.0], dir)
        })
        .collect()
}

/// `n` query points spread uniformly over the city (for kNN).
pub fn points(n: usize, seed: u64, footprints: &[(Polygon<f64>, f64)]) -> Vec<[f64; 2]> {
    let (min, max) = extent(footprints);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| [rng.random_range(min[0]..max[0]), rng.random_range(min[1]..max[1])])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cim_spatial_index::SpatialIndex;

    #[test]
    fn city_is_square_and_dense_like_a_city() {
        let city = synthetic_footprints(40_000, 1);
        let (min, max) = extent(&city);
        let (w, h) = (max[0] - min[0], max[1] - min[1]);
        assert!((w / h - 1.0).abs() < 0.1, "{w} × {h}");
        let per_building = w * h / city.len() as f64;
        assert!(
            (800.0..1300.0).contains(&per_building),
            "{per_building} m² per building"
        );
        let with_holes = city.iter().filter(|(f, _)| !f.interiors().is_empty()).count();
        assert!(with_holes > 100, "{with_holes} courtyards");
    }

    #[test]
    fn window_queries_hit_about_ten() {
        let city = synthetic_footprints(40_000, 2);
        let index = SpatialIndex::bulk_load(lod1_items(&city));
        let qs = window_queries(2000, 3, &city, 10.0);
        let hits: usize = qs.iter().map(|(a, b)| index.window_2d(*a, *b).len()).sum();
        let mean = hits as f64 / qs.len() as f64;
        assert!((8.0..12.0).contains(&mean), "mean hits {mean}");
    }

    #[test]
    fn most_camera_rays_hit_a_building() {
        let city = synthetic_footprints(40_000, 4);
        let index = SpatialIndex::bulk_load(lod1_items(&city));
        let rs = rays(500, 5, &city);
        let hits = rs
            .iter()
            .filter(|(o, d)| index.ray_pick(*o, *d).is_some())
            .count();
        assert!(hits > 250, "{hits} of 500 rays hit");
    }
}
