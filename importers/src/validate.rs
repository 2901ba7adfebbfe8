//! Geometry checks run on every imported feature, in the source CRS and again in the project CRS.

use geo::{BoundingRect, Geometry, Validation};

/// What is wrong with a geometry, if anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Ok,
    /// Imported, with a warning (e.g. a self-intersecting ring kept as is).
    Warn(String),
    /// Skipped, with a warning (or an error under `--strict`).
    Reject(String),
}

/// Largest coordinate magnitude accepted in a projected CRS (metres): beyond this, the value is
/// almost certainly a unit or CRS mistake (the Earth's circumference is 4×10⁷ m).
pub const MAX_PROJECTED_ABS_M: f64 = 1.0e8;

/// Checks coordinates: finite everywhere and inside the CRS's plausible range.
///
/// # Examples
/// ```
/// use cim_importers::validate::{check_coordinates, Verdict};
/// let p: geo::Geometry<f64> = geo::Point::new(116.4, 39.9).into();
/// assert_eq!(check_coordinates(&p, true), Verdict::Ok);
/// let bad: geo::Geometry<f64> = geo::Point::new(f64::NAN, 39.9).into();
/// assert!(matches!(check_coordinates(&bad, true), Verdict::Reject(_)));
/// let far: geo::Geometry<f64> = geo::Point::new(500.0, 39.9).into();
/// assert!(matches!(check_coordinates(&far, true), Verdict::Reject(_)));
/// ```
pub fn check_coordinates(g: &Geometry<f64>, geographic: bool) -> Verdict {
    use geo::CoordsIter;
    for c in g.coords_iter() {
        if !c.x.is_finite() || !c.y.is_finite() {
            return Verdict::Reject(format!("coordinate ({}, {}) is not a finite number", c.x, c.y));
        }
        let ok = if geographic {
            (-180.0..=360.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y)
        } else {
            c.x.abs() <= MAX_PROJECTED_ABS_M && c.y.abs() <= MAX_PROJECTED_ABS_M
        };
        if !ok {
            let what = if geographic {
                "outside longitude/latitude range (is the CRS right?)"
            } else {
                "absurdly large for a projected CRS in metres (is the CRS right?)"
            };
            return Verdict::Reject(format!("coordinate ({}, {}) is {what}", c.x, c.y));
        }
    }
    if g.coords_count() == 0 {
        return Verdict::Reject("empty geometry".into());
    }
    Verdict::Ok
}

/// Checks polygon shape (run in the source CRS, where degenerate input is exactly degenerate): zero-area polygons are rejected (a parcel must have
/// an area); self-intersections and other OGC validity problems are kept with a warning, so no
/// data is lost and the planner can fix them.
pub fn check_shape(g: &Geometry<f64>) -> Verdict {
    match g {
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) => {
            // The shoelace area of a bow-tie cancels to zero, so "zero area" is judged on the
            // summed absolute triangle-fan area, which is zero only for truly degenerate rings.
            // Relative to the extent, so it means the same in degrees and in metres.
            let spread = exterior_fan_area(g);
            let diag2 = g
                .bounding_rect()
                .map_or(0.0, |r| r.width().powi(2) + r.height().powi(2));
            if spread <= 1e-9 * diag2 || spread == 0.0 {
                return Verdict::Reject("polygon has zero area (all its points are on one line)".into());
            }
            // Most footprints are simple rings without holes: settle those without geo's
            // general (allocating) validation; anything else, or any doubt, goes to geo, which
            // also words the warning.
            if let Geometry::Polygon(p) = g {
                if p.interiors().is_empty() && simple_ring_is_valid(p.exterior()) {
                    return Verdict::Ok;
                }
            }
            match g.check_validation() {
                Ok(()) => Verdict::Ok,
                Err(e) => Verdict::Warn(format!("invalid polygon kept as is: {e}")),
            }
        }
        Geometry::LineString(l) if l.0.len() < 2 => Verdict::Reject("line has fewer than 2 points".into()),
        _ => Verdict::Ok,
    }
}

/// Whether a polygon with this exterior and no holes passes geo's `Validation`, by the same
/// tests (finite coordinates; at least four points once consecutive repeats are dropped; no
/// two edges intersecting other than where consecutive edges meet), without allocating, and
/// skipping edge pairs whose boxes are apart (such edges cannot intersect).
fn simple_ring_is_valid(ring: &geo::LineString<f64>) -> bool {
    use geo::Intersects;
    let pts = &ring.0;
    if pts.is_empty() {
        return true; // geo skips empty rings
    }
    if pts.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return false;
    }
    let distinct = 1 + pts.windows(2).filter(|w| w[0] != w[1]).count();
    if distinct < 4 {
        return false;
    }
    let edges = pts.len() - 1;
    for i in 0..edges {
        let (a0, a1) = (pts[i], pts[i + 1]);
        let (ax0, ax1) = (a0.x.min(a1.x), a0.x.max(a1.x));
        let (ay0, ay1) = (a0.y.min(a1.y), a0.y.max(a1.y));
        for j in i + 1..edges {
            let (b0, b1) = (pts[j], pts[j + 1]);
            // geo ignores a pair that meets end to start (either way round).
            if a0 == b1 || a1 == b0 {
                continue;
            }
            if b0.x.max(b1.x) < ax0 || b0.x.min(b1.x) > ax1 || b0.y.max(b1.y) < ay0 || b0.y.min(b1.y) > ay1 {
                continue;
            }
            if geo::Line::new(a0, a1).intersects(&geo::Line::new(b0, b1)) {
                return false;
            }
        }
    }
    true
}

/// Σ |triangle-fan area| over the exterior rings: zero only when every ring is degenerate
/// (all points collinear or coincident).
fn exterior_fan_area(g: &Geometry<f64>) -> f64 {
    let ring_spread = |ring: &geo::LineString<f64>| {
        let Some(p0) = ring.0.first() else { return 0.0 };
        ring.0
            .windows(2)
            .map(|w| ((w[0].x - p0.x) * (w[1].y - p0.y) - (w[1].x - p0.x) * (w[0].y - p0.y)).abs() / 2.0)
            .sum::<f64>()
    };
    match g {
        Geometry::Polygon(p) => ring_spread(p.exterior()),
        Geometry::MultiPolygon(m) => m.0.iter().map(|p| ring_spread(p.exterior())).sum(),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn zero_area_parcel_is_rejected() {
        let p: Geometry<f64> = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 2.0, y: 0.0)].into();
        assert!(matches!(check_shape(&p), Verdict::Reject(m) if m.contains("zero area")));
    }

    #[test]
    fn bow_tie_is_kept_with_warning() {
        let p: Geometry<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)].into();
        assert!(matches!(check_shape(&p), Verdict::Warn(m) if m.contains("invalid polygon")));
    }

    #[test]
    fn a_square_is_fine() {
        let p: Geometry<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)].into();
        assert_eq!(check_shape(&p), Verdict::Ok);
    }

    #[test]
    fn the_ring_fast_path_agrees_with_geo() {
        use geo::Validation;
        let rings: Vec<Vec<(f64, f64)>> = vec![
            vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)],
            vec![(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0), (0.0, 0.0)],
            vec![(0.0, 0.0), (10.0, 0.0), (10.0, 0.0), (0.0, 10.0), (0.0, 0.0)],
            vec![(0.0, 0.0), (10.0, 0.0), (0.0, 0.0)],
            // A spike back along an edge, a ring touching itself at a vertex, a figure eight.
            vec![(0.0, 0.0), (10.0, 0.0), (5.0, 0.0), (5.0, 5.0), (0.0, 0.0)],
            vec![
                (0.0, 0.0),
                (4.0, 0.0),
                (2.0, 2.0),
                (4.0, 4.0),
                (0.0, 4.0),
                (2.0, 2.0),
                (0.0, 0.0),
            ],
            vec![
                (0.0, 0.0),
                (2.0, 2.0),
                (4.0, 0.0),
                (4.0, 4.0),
                (2.0, 2.0),
                (0.0, 4.0),
                (0.0, 0.0),
            ],
            vec![(0.0, 0.0), (5.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 0.0)],
        ];
        for r in rings {
            let ring = geo::LineString::from(r.clone());
            let p = geo::Polygon::new(ring.clone(), vec![]);
            assert_eq!(simple_ring_is_valid(&ring), p.is_valid(), "{r:?}");
        }
    }

    #[test]
    fn the_ring_fast_path_agrees_with_geo_on_random_small_rings() {
        use geo::Validation;
        // Coordinates on a 4×4 grid: plenty of repeats, collinear edges and touching vertices.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 4) as f64
        };
        for _ in 0..20_000 {
            let n = 3 + (next() as usize) + (next() as usize);
            let pts: Vec<(f64, f64)> = (0..n).map(|_| (next(), next())).collect();
            let ring = geo::LineString::from(pts.clone());
            let p = geo::Polygon::new(ring, vec![]);
            assert_eq!(simple_ring_is_valid(p.exterior()), p.is_valid(), "{pts:?}");
        }
    }

    #[test]
    fn absurd_projected_coordinates_are_rejected() {
        let p: Geometry<f64> = geo::Point::new(1e300, 0.0).into();
        assert!(matches!(check_coordinates(&p, false), Verdict::Reject(_)));
    }
}
