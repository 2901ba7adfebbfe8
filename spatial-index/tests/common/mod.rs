//! Seeded random city data and brute-force oracles shared by the integration tests.
#![allow(dead_code)]

use std::borrow::Cow;

use cim_spatial_index::{Aabb3, Item, ItemId, Shape};
use geo::{Distance, Euclidean, LineString, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Side of the square test region, metres; coordinates are UTM-like (offset by `ORIGIN`).
pub const SIDE: f64 = 1000.0;
pub const ORIGIN: [f64; 2] = [500_000.0, 4_000_000.0];

fn ring(pts: &[(f64, f64)], at: [f64; 2], angle: f64) -> LineString<f64> {
    let (s, c) = angle.sin_cos();
    pts.iter()
        .map(|&(x, y)| (at[0] + c * x - s * y, at[1] + s * x + c * y))
        .collect::<Vec<_>>()
        .into()
}

/// A footprint: rectangle, L-shape, courtyard (with a hole) or triangle, possibly rotated,
/// centred at `at`. Half of them are axis-aligned on whole metres so grazing rays are exact.
pub fn footprint(rng: &mut ChaCha8Rng, at: [f64; 2]) -> Polygon<f64> {
    let aligned = rng.random_bool(0.5);
    let angle = if aligned {
        0.0
    } else {
        rng.random_range(0.0..std::f64::consts::TAU)
    };
    let at = if aligned { at.map(f64::round) } else { at };
    let mut len = |lo: f64, hi: f64| {
        let v = rng.random_range(lo..hi);
        if aligned {
            v.round()
        } else {
            v
        }
    };
    let (w, h) = (len(8.0, 40.0), len(8.0, 40.0));
    match rng.random_range(0..4) {
        0 => Polygon::new(ring(&[(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)], at, angle), vec![]),
        1 => {
            let (cw, ch) = ((w / 2.0).round().max(3.0), (h / 2.0).round().max(3.0));
            let pts = [(0.0, 0.0), (w, 0.0), (w, ch), (cw, ch), (cw, h), (0.0, h)];
            Polygon::new(ring(&pts, at, angle), vec![])
        }
        2 => {
            let (w, h) = (w + 12.0, h + 12.0);
            let outer = ring(&[(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)], at, angle);
            // Hole ring deliberately in the same (CCW) orientation: orientation must not matter.
            let hole = ring(
                &[(4.0, 4.0), (w - 4.0, 4.0), (w - 4.0, h - 4.0), (4.0, h - 4.0)],
                at,
                angle,
            );
            Polygon::new(outer, vec![hole])
        }
        _ => Polygon::new(ring(&[(0.0, 0.0), (w, 0.0), (0.0, h)], at, angle), vec![]),
    }
}

pub fn random_point(rng: &mut ChaCha8Rng) -> [f64; 2] {
    [
        ORIGIN[0] + rng.random_range(0.0..SIDE),
        ORIGIN[1] + rng.random_range(0.0..SIDE),
    ]
}

/// A random shape: mostly prisms (buildings, some flat parcels, some raised), plus roads,
/// points and boxes.
pub fn shape(rng: &mut ChaCha8Rng) -> Shape {
    let at = random_point(rng);
    match rng.random_range(0..20) {
        0..=13 => {
            let base_z = if rng.random_bool(0.1) {
                rng.random_range(0.0..20.0f64).round()
            } else {
                0.0
            };
            let height = if rng.random_bool(0.1) {
                0.0
            } else {
                rng.random_range(3.0..100.0f64).round()
            };
            Shape::prism(footprint(rng, at), base_z, height)
        }
        14..=15 => {
            let n = rng.random_range(2..6);
            let line: LineString<f64> = (0..n)
                .map(|_| {
                    (
                        at[0] + rng.random_range(-60.0..60.0),
                        at[1] + rng.random_range(-60.0..60.0),
                    )
                })
                .collect::<Vec<_>>()
                .into();
            Shape::Line {
                line,
                z: rng.random_range(0.0..10.0),
            }
        }
        16..=17 => Shape::Point {
            xyz: [at[0], at[1], rng.random_range(0.0..30.0)],
        },
        _ => {
            let size = [
                rng.random_range(1.0..30.0),
                rng.random_range(1.0..30.0),
                rng.random_range(1.0..60.0),
            ];
            let z = rng.random_range(0.0..10.0);
            Shape::Box(Aabb3::new(
                [at[0], at[1], z],
                [at[0] + size[0], at[1] + size[1], z + size[2]],
            ))
        }
    }
}

/// `n` random items with ids `0..n` scrambled (ids are not slot order).
pub fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut rng = rng(seed);
    (0..n)
        .map(|i| {
            Item::new(
                (i as u64).wrapping_mul(2_654_435_761) % 1_000_003,
                shape(&mut rng),
            )
        })
        .collect()
}

/// A random query rectangle inside the region, up to `max_side` metres wide.
pub fn query_rect(rng: &mut ChaCha8Rng, max_side: f64) -> ([f64; 2], [f64; 2]) {
    let min = random_point(rng);
    let max = [
        min[0] + rng.random_range(0.0..max_side),
        min[1] + rng.random_range(0.0..max_side),
    ];
    (min, max)
}

pub fn sorted(mut v: Vec<ItemId>) -> Vec<ItemId> {
    v.sort_unstable();
    v
}

pub fn brute_window_2d(items: &[Item], min: [f64; 2], max: [f64; 2]) -> Vec<ItemId> {
    sorted(
        items
            .iter()
            .filter(|it| it.shape.bounds().is_some_and(|b| b.intersects_2d(min, max)))
            .map(|it| it.id)
            .collect(),
    )
}

pub fn brute_window(items: &[Item], q: &Aabb3) -> Vec<ItemId> {
    sorted(
        items
            .iter()
            .filter(|it| it.shape.bounds().is_some_and(|b| b.intersects(q)))
            .map(|it| it.id)
            .collect(),
    )
}

/// Exact 2D distance, written independently of the crate's own dispatch.
pub fn brute_distance(shape: &Shape, xy: [f64; 2]) -> f64 {
    let p = geo::Point::new(xy[0], xy[1]);
    match shape {
        Shape::Prism { footprint, .. } => Euclidean.distance(&p, footprint),
        Shape::Line { line, .. } => Euclidean.distance(&p, line),
        Shape::Point { xyz } => Euclidean.distance(&p, &geo::Point::new(xyz[0], xyz[1])),
        Shape::Box(b) => {
            let r = geo::Rect::new((b.min[0], b.min[1]), (b.max[0], b.max[1]));
            Euclidean.distance(&p, &r.to_polygon())
        }
        Shape::Mesh(m) => m
            .triangles()
            .map(|(c, _)| {
                let t = geo::Triangle::new(
                    geo::coord! { x: c[0][0], y: c[0][1] },
                    geo::coord! { x: c[1][0], y: c[1][1] },
                    geo::coord! { x: c[2][0], y: c[2][1] },
                );
                Euclidean.distance(&p, &t.to_polygon())
            })
            .fold(f64::INFINITY, f64::min),
    }
}

/// First ray parameter at which `origin + t * unit_dir` is in the solid, found the slow way:
/// every place the ray can meet the surface (z planes, the vertical planes of every edge) is a
/// candidate, taken in order, and the first whose point is in the solid (within 1e-7 m, by
/// geo's distance) wins. Lines and points are never hit.
pub fn oracle_ray(shape: &Shape, o: [f64; 3], d: [f64; 3]) -> Option<f64> {
    let (footprint, z_lo, z_hi) = match shape {
        Shape::Prism {
            footprint,
            base_z,
            top_z,
        } => (Cow::Borrowed(footprint), *base_z, *top_z),
        Shape::Box(b) => {
            let r = geo::Rect::new((b.min[0], b.min[1]), (b.max[0], b.max[1]));
            (Cow::Owned(r.to_polygon()), b.min[2], b.max[2])
        }
        _ => return None,
    };
    let mut ts = vec![0.0];
    if d[2] != 0.0 {
        ts.push((z_lo - o[2]) / d[2]);
        ts.push((z_hi - o[2]) / d[2]);
    }
    let rings = std::iter::once(footprint.exterior()).chain(footprint.interiors());
    for l in rings.flat_map(|r| r.lines()) {
        // Intersection of the ray's vertical plane with the edge's, by Cramer's rule.
        let (ex, ey) = (l.end.x - l.start.x, l.end.y - l.start.y);
        let den = d[0] * ey - d[1] * ex;
        if den != 0.0 {
            ts.push(((l.start.x - o[0]) * ey - (l.start.y - o[1]) * ex) / den);
        } else {
            // Parallel: its endpoints are where a grazing ray could first touch.
            for c in [l.start, l.end] {
                let dxy = d[0] * d[0] + d[1] * d[1];
                if dxy > 0.0 {
                    ts.push(((c.x - o[0]) * d[0] + (c.y - o[1]) * d[1]) / dxy);
                }
            }
        }
    }
    ts.retain(|t| t.is_finite() && *t >= 0.0);
    ts.sort_by(f64::total_cmp);
    ts.into_iter().find(|&t| {
        let p = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
        let tol = 1e-7 * (1.0 + t);
        p[2] >= z_lo - tol
            && p[2] <= z_hi + tol
            && Euclidean.distance(&geo::Point::new(p[0], p[1]), footprint.as_ref()) <= tol
    })
}

pub fn unit(d: [f64; 3]) -> [f64; 3] {
    let l = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    d.map(|c| c / l)
}
