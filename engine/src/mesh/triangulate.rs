//! Triangulation of a planar polygon with holes in 3-D: the polygon's plane from Newell's
//! method, its rings projected onto that plane, then ear clipping (`earcut`). Triangles face
//! the way the outer ring winds (counter-clockwise seen from the front).

use earcut::Earcut;

use super::{cross, dot, norm, open_len, sub};

/// Why a polygon gives no triangles.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TriangulateError {
    #[error("a polygon needs at least 3 distinct points in its outer ring, it has {0}")]
    TooFewPoints(usize),
    #[error("the polygon has no area (its points are on one line or one point)")]
    NoArea,
    #[error("a point is not a finite number")]
    NotFinite,
}

/// The unit normal of a ring's plane by Newell's method (robust for slightly non-planar and
/// concave rings), counter-clockwise rings facing towards it; `None` for a ring without area.
pub fn plane_normal(ring: &[[f64; 3]]) -> Option<[f64; 3]> {
    let n = open_len(ring);
    if n < 3 {
        return None;
    }
    // About the first point, for precision far from the CRS origin.
    let o = ring[0];
    let mut sum = [0.0; 3];
    for k in 0..n {
        let a = sub(ring[k], o);
        let b = sub(ring[(k + 1) % n], o);
        sum[0] += (a[1] - b[1]) * (a[2] + b[2]);
        sum[1] += (a[2] - b[2]) * (a[0] + b[0]);
        sum[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    let len = norm(sum);
    (len.is_finite() && len > 1e-12).then(|| [sum[0] / len, sum[1] / len, sum[2] / len])
}

/// Triangulates a planar polygon: `rings[0]` the outer ring, the rest holes; each ring open or
/// closed (a repeated first point is dropped). Returns the rings' points in order (without
/// closing points) and the triangles as indices into them.
#[allow(clippy::type_complexity)]
pub fn triangulate_polygon(
    rings: &[Vec<[f64; 3]>],
) -> Result<(Vec<[f64; 3]>, Vec<[usize; 3]>), TriangulateError> {
    let outer = rings.first().map_or(&[][..], |r| r.as_slice());
    let n_outer = open_len(outer);
    if n_outer < 3 {
        return Err(TriangulateError::TooFewPoints(n_outer));
    }
    // A lone triangle (most of a triangulated source) is its own triangulation.
    if n_outer == 3 && rings.iter().skip(1).all(|h| open_len(h) < 3) {
        let t = [outer[0], outer[1], outer[2]];
        if t.iter().flatten().any(|v| !v.is_finite()) {
            return Err(TriangulateError::NotFinite);
        }
        let n = cross(sub(t[1], t[0]), sub(t[2], t[0]));
        if norm(n) <= 1e-12 {
            return Err(TriangulateError::NoArea);
        }
        return Ok((t.to_vec(), vec![[0, 1, 2]]));
    }
    // A convex quadrilateral without holes (most walls) is two triangles about its first
    // point, each facing as the ring does.
    if n_outer == 4 && rings.iter().skip(1).all(|h| open_len(h) < 3) {
        let q = [outer[0], outer[1], outer[2], outer[3]];
        if q.iter().flatten().any(|v| !v.is_finite()) {
            return Err(TriangulateError::NotFinite);
        }
        if let Some(normal) = plane_normal(&q) {
            // Every corner turns the same way as the ring, by more than rounding.
            let scale = (0..4)
                .map(|k| norm(sub(q[(k + 1) % 4], q[k])))
                .fold(0.0, f64::max);
            let convex = (0..4).all(|k| {
                let (a, b, c) = (q[k], q[(k + 1) % 4], q[(k + 2) % 4]);
                dot(cross(sub(b, a), sub(c, b)), normal) > 1e-9 * scale * scale
            });
            if convex {
                return Ok((q.to_vec(), vec![[0, 1, 2], [0, 2, 3]]));
            }
        }
    }
    let mut points: Vec<[f64; 3]> = Vec::new();
    let mut holes: Vec<usize> = Vec::new();
    for (k, ring) in rings.iter().enumerate() {
        let n = open_len(ring);
        if k > 0 {
            // A hole of fewer than 3 points cuts nothing out.
            if n < 3 {
                continue;
            }
            holes.push(points.len());
        }
        points.extend_from_slice(&ring[..n]);
    }
    if points.iter().flatten().any(|v| !v.is_finite()) {
        return Err(TriangulateError::NotFinite);
    }
    let normal = plane_normal(outer).ok_or(TriangulateError::NoArea)?;
    // A basis of the plane: u along the normal's least-aligned axis crossed with the normal.
    let axis = if normal[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = {
        let c = cross(axis, normal);
        let l = norm(c);
        [c[0] / l, c[1] / l, c[2] / l]
    };
    let v = cross(normal, u);
    let o = points[0];
    let flat: Vec<[f64; 2]> = points
        .iter()
        .map(|p| {
            let d = sub(*p, o);
            [dot(d, u), dot(d, v)]
        })
        .collect();
    let mut out: Vec<usize> = Vec::new();
    Earcut::new().earcut(flat.iter().copied(), &holes, &mut out);
    // Earcut's winding follows the projected outer ring's, which is counter-clockwise in (u, v)
    // because the normal came from that ring: each triangle keeps the ring's facing. Triangles
    // without area are left out.
    let tris: Vec<[usize; 3]> = out
        .chunks_exact(3)
        .map(|t| [t[0], t[1], t[2]])
        .filter(|t| {
            let (a, b, c) = (flat[t[0]], flat[t[1]], flat[t[2]]);
            let area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
            area2.abs() > 1e-12
        })
        .map(|t| {
            let (a, b, c) = (flat[t[0]], flat[t[1]], flat[t[2]]);
            let area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
            if area2 > 0.0 {
                t
            } else {
                [t[0], t[2], t[1]]
            }
        })
        .collect();
    if tris.is_empty() {
        return Err(TriangulateError::NoArea);
    }
    Ok((points, tris))
}
