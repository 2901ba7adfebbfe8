//! LOD1 prisms: a footprint extruded from its base to its top, as a [`Mesh3`] with walls facing
//! out, the roof up and the ground down.

use geo::{Area, LineString, MultiPolygon};

use super::{Mesh3, MeshBuilder, SurfaceClass};

/// The prism of `footprint` from `base_m` to `top_m`: one face per wall (each edge of each
/// ring), the roof and the ground as polygons with their holes. Empty for a footprint without
/// area or a building without height.
pub fn extrude(footprint: &MultiPolygon<f64>, base_m: f64, top_m: f64) -> Mesh3 {
    let origin = footprint
        .0
        .first()
        .and_then(|p| p.exterior().0.first())
        .map_or([0.0, 0.0, 0.0], |c| [c.x, c.y, base_m]);
    let mut b = MeshBuilder::new(origin);
    if !base_m.is_finite() || !top_m.is_finite() || top_m <= base_m {
        return b.finish();
    }
    for poly in &footprint.0 {
        let area = poly.unsigned_area();
        if area.is_nan() || area <= 0.0 {
            continue;
        }
        // Exterior counter-clockwise, holes clockwise (seen from above): then outside is on
        // the right of every edge of every ring.
        let mut rings = vec![oriented(poly.exterior(), true)];
        rings.extend(poly.interiors().iter().map(|h| oriented(h, false)));
        for ring in rings.iter().filter(|r| r.len() >= 3) {
            for k in 0..ring.len() {
                let (a, c) = (ring[k], ring[(k + 1) % ring.len()]);
                if (c.0 - a.0).hypot(c.1 - a.1) <= 1e-9 {
                    continue;
                }
                // Seen from outside: a bottom left, c bottom right.
                let wall = vec![
                    [a.0, a.1, base_m],
                    [c.0, c.1, base_m],
                    [c.0, c.1, top_m],
                    [a.0, a.1, top_m],
                ];
                let _ = b.add_polygon(&[wall], SurfaceClass::Wall, None, None);
            }
        }
        let at = |z: f64, up: bool| -> Vec<Vec<[f64; 3]>> {
            rings
                .iter()
                .map(|r| {
                    let mut pts: Vec<[f64; 3]> = r.iter().map(|p| [p.0, p.1, z]).collect();
                    if !up {
                        pts.reverse();
                    }
                    pts
                })
                .collect()
        };
        let _ = b.add_polygon(&at(top_m, true), SurfaceClass::Roof, None, None);
        let _ = b.add_polygon(&at(base_m, false), SurfaceClass::Ground, None, None);
    }
    b.finish()
}

/// A ring's points without the closing one, counter-clockwise when `ccw`, else clockwise.
fn oriented(ring: &LineString<f64>, ccw: bool) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = ring.coords().map(|c| (c.x, c.y)).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    let n = pts.len();
    let twice_area: f64 = (0..n)
        .map(|k| {
            let (a, b) = (pts[k], pts[(k + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum();
    if (twice_area > 0.0) != ccw {
        pts.reverse();
    }
    pts
}
