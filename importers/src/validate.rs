//! Geometry checks run on every imported feature, in the source CRS and again in the project CRS.

mod segments;

use geo::{BoundingRect, CoordsIter, Geometry, Validation};
use segments::SegmentGrid;

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
            let what = if geographic && (c.x.abs() > 1000.0 || c.y.abs() > 1000.0) {
                "outside longitude/latitude range: the numbers look like metres but the CRS says \
                 degrees (a .prj, or GeoJSON, that claims WGS 84 over projected data?); pass --src-crs \
                 with the data's projected CRS"
            } else if geographic {
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
            // also words the warning. Huge polygons get checks of our own in near-linear time
            // (geo's are quadratic in the vertices: 2M vertices would take most of an hour).
            if let Geometry::Polygon(p) = g {
                if p.interiors().is_empty() && simple_ring_is_valid(p.exterior()) {
                    return Verdict::Ok;
                }
            }
            let problem = if g.coords_count() > SMALL_POLYGON_VERTICES {
                large_polygon_problem(g)
            } else {
                g.check_validation().err().map(|e| e.to_string())
            };
            match problem {
                None => Verdict::Ok,
                Some(e) => Verdict::Warn(format!("invalid polygon kept as is: {e}")),
            }
        }
        Geometry::LineString(l) if l.0.len() < 2 => Verdict::Reject("line has fewer than 2 points".into()),
        _ => Verdict::Ok,
    }
}

/// Up to this many vertices, an invalid polygon (or one with holes) is judged by geo's
/// `Validation`; beyond it by [`large_polygon_problem`].
const SMALL_POLYGON_VERTICES: usize = 2048;

/// Up to this many edges a ring's pairs are all tried; beyond it, through a [`SegmentGrid`].
const SMALL_RING_EDGES: usize = 64;

/// Whether a polygon with this exterior and no holes passes geo's `Validation`, by the same
/// tests (finite coordinates; at least four points once consecutive repeats are dropped; no
/// two edges intersecting other than where consecutive edges meet), without allocating for
/// small rings, and in near-linear time for large ones.
fn simple_ring_is_valid(ring: &geo::LineString<f64>) -> bool {
    let pts = &ring.0;
    if pts.is_empty() {
        return true; // geo skips empty rings
    }
    if pts.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return false;
    }
    let distinct = 1 + pts.windows(2).filter(|w| w[0] != w[1]).count();
    distinct >= 4 && first_self_intersection(pts).is_none()
}

/// Two edges of a ring that meet other than where consecutive edges join (geo ignores a pair
/// that meets end to start, either way round), as the edges' first vertex indices.
fn first_self_intersection(pts: &[geo::Coord<f64>]) -> Option<(usize, usize)> {
    use geo::Intersects;
    let edges = pts.len().saturating_sub(1);
    let joined = |a: geo::Line<f64>, b: geo::Line<f64>| a.start == b.end || a.end == b.start;
    if edges > SMALL_RING_EDGES {
        let rings = [pts];
        let grid = SegmentGrid::new(&rings);
        return grid
            .find_pair(|_, a, _, b| !joined(a, b) && a.intersects(&b))
            .map(|(a, b)| (a.i as usize, b.i as usize));
    }
    for i in 0..edges {
        let a = geo::Line::new(pts[i], pts[i + 1]);
        let (ax0, ax1) = (a.start.x.min(a.end.x), a.start.x.max(a.end.x));
        let (ay0, ay1) = (a.start.y.min(a.end.y), a.start.y.max(a.end.y));
        for j in i + 1..edges {
            let b = geo::Line::new(pts[j], pts[j + 1]);
            if joined(a, b) {
                continue;
            }
            if b.start.x.max(b.end.x) < ax0
                || b.start.x.min(b.end.x) > ax1
                || b.start.y.max(b.end.y) < ay0
                || b.start.y.min(b.end.y) > ay1
            {
                continue;
            }
            if a.intersects(&b) {
                return Some((i, j));
            }
        }
    }
    None
}

/// What is wrong with a huge polygon or multipolygon, in near-linear time: each ring has at
/// least three distinct points and no self-intersection; no two rings cross or overlap along a
/// line (touching at a point is allowed, as in OGC); each hole's first vertex off the exterior
/// lies inside it. Not checked at this size: a whole part of a multipolygon inside another.
fn large_polygon_problem(g: &Geometry<f64>) -> Option<String> {
    let polygons: Vec<&geo::Polygon<f64>> = match g {
        Geometry::Polygon(p) => vec![p],
        Geometry::MultiPolygon(m) => m.0.iter().collect(),
        _ => return None,
    };
    let many = polygons.len() > 1;
    let name = |p: usize, r: usize| {
        let ring = if r == 0 {
            "exterior ring".to_string()
        } else {
            format!("interior ring {}", r - 1)
        };
        if many {
            format!("polygon {p}: {ring}")
        } else {
            ring
        }
    };
    let mut rings: Vec<&[geo::Coord<f64>]> = Vec::new();
    let mut owner: Vec<(usize, usize)> = Vec::new();
    for (pi, p) in polygons.iter().enumerate() {
        for (ri, ring) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
            let pts = &ring.0;
            if pts.is_empty() {
                continue;
            }
            if let Some(k) = pts.iter().position(|c| !c.x.is_finite() || !c.y.is_finite()) {
                return Some(format!(
                    "{} has a non-finite coordinate at index {k}",
                    name(pi, ri)
                ));
            }
            if 1 + pts.windows(2).filter(|w| w[0] != w[1]).count() < 4 {
                return Some(format!("{} must have at least 3 distinct points", name(pi, ri)));
            }
            if first_self_intersection(pts).is_some() {
                return Some(format!("{} has a self-intersection", name(pi, ri)));
            }
            rings.push(pts);
            owner.push((pi, ri));
        }
    }
    // Rings against each other: a proper crossing or a shared stretch of line.
    let grid = SegmentGrid::new(&rings);
    let crossing = grid.find_pair(|a, la, b, lb| {
        a.ring != b.ring
            && match geo::line_intersection::line_intersection(la, lb) {
                Some(geo::LineIntersection::SinglePoint { is_proper, .. }) => is_proper,
                Some(geo::LineIntersection::Collinear { intersection }) => {
                    intersection.start != intersection.end
                }
                None => false,
            }
    });
    if let Some((a, b)) = crossing {
        let (pa, ra) = owner[a.ring as usize];
        let (pb, rb) = owner[b.ring as usize];
        return Some(format!("{} and {} intersect", name(pa, ra), name(pb, rb)));
    }
    // Each hole inside its exterior (tested at one vertex not on the exterior).
    for (pi, p) in polygons.iter().enumerate() {
        let exterior = &p.exterior().0;
        // One ray cast per hole: O(holes × vertices), bounded so that no import stalls here.
        if p.interiors().len().saturating_mul(exterior.len()) > MAX_HOLE_PROBE_WORK {
            continue;
        }
        for (hi, hole) in p.interiors().iter().enumerate() {
            let probe = hole.0.iter().find(|c| !exterior.contains(c));
            if let Some(c) = probe {
                if !ring_contains_point(exterior, *c) {
                    return Some(format!(
                        "{} is not contained within the polygon's exterior",
                        name(pi, hi + 1)
                    ));
                }
            }
        }
    }
    None
}

/// Holes × exterior vertices beyond which holes are not probed for containment (about a second).
const MAX_HOLE_PROBE_WORK: usize = 500_000_000;

/// Even-odd ray casting: whether `p` lies inside the closed ring `ring`.
fn ring_contains_point(ring: &[geo::Coord<f64>], p: geo::Coord<f64>) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if x > p.x {
                inside = !inside;
            }
        }
    }
    inside
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

    fn xorshift(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |m| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        }
    }

    /// A star-shaped ring: simple, with `n` vertices around (cx, cy).
    fn star(n: usize, cx: f64, cy: f64, r: f64, next: &mut impl FnMut(u64) -> u64) -> Vec<geo::Coord<f64>> {
        let mut pts: Vec<geo::Coord<f64>> = (0..n)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / n as f64;
                let rr = r * (0.6 + 0.4 * next(1000) as f64 / 1000.0);
                geo::Coord {
                    x: cx + rr * t.cos(),
                    y: cy + rr * t.sin(),
                }
            })
            .collect();
        pts.push(pts[0]);
        pts
    }

    #[test]
    fn large_rings_agree_with_geo() {
        use geo::Validation;
        let mut next = xorshift(0x1234_5678_9abc_def1);
        // Random rings of 65–400 points on a small grid: the grid path, mostly invalid.
        for _ in 0..400 {
            let n = 65 + next(336) as usize;
            let span = 2 + next(60);
            let pts: Vec<(f64, f64)> = (0..n).map(|_| (next(span) as f64, next(span) as f64)).collect();
            let p = geo::Polygon::new(geo::LineString::from(pts.clone()), vec![]);
            assert_eq!(simple_ring_is_valid(p.exterior()), p.is_valid(), "{pts:?}");
        }
        // Big simple stars, valid; then one vertex pulled across the ring.
        for n in [100, 1000, 5000] {
            let mut pts = star(n, 0.0, 0.0, 100.0, &mut next);
            let ring = geo::LineString::from(pts.clone());
            assert!(simple_ring_is_valid(&ring));
            assert!(geo::Polygon::new(ring, vec![]).is_valid());
            pts[n / 2] = geo::Coord { x: 150.0, y: 0.0 };
            let ring = geo::LineString::from(pts);
            assert_eq!(
                simple_ring_is_valid(&ring),
                geo::Polygon::new(ring, vec![]).is_valid()
            );
        }
    }

    #[test]
    fn huge_polygons_with_holes_are_judged_like_geo() {
        use geo::Validation;
        let mut next = xorshift(0x0bad_cafe_f00d_1234);
        let exterior = star(3000, 0.0, 0.0, 1000.0, &mut next);
        let hole = |cx: f64, cy: f64| -> Vec<geo::Coord<f64>> {
            vec![
                (cx, cy),
                (cx, cy + 10.0),
                (cx + 10.0, cy + 10.0),
                (cx + 10.0, cy),
                (cx, cy),
            ]
            .into_iter()
            .map(|(x, y)| geo::Coord { x, y })
            .collect()
        };
        let cases: Vec<(Vec<Vec<geo::Coord<f64>>>, bool)> = vec![
            (vec![hole(0.0, 0.0), hole(100.0, 100.0)], true),
            // A hole outside the exterior, holes crossing each other, a hole across the edge.
            (vec![hole(0.0, 0.0), hole(5000.0, 0.0)], false),
            (vec![hole(0.0, 0.0), hole(5.0, 5.0)], false),
            (vec![hole(995.0, -5.0)], false),
        ];
        for (holes, valid) in cases {
            let p = geo::Polygon::new(
                geo::LineString::from(exterior.clone()),
                holes.into_iter().map(geo::LineString::from).collect(),
            );
            assert_eq!(p.is_valid(), valid, "geo: {:?}", p.interiors());
            let g = Geometry::Polygon(p);
            assert_eq!(
                large_polygon_problem(&g).is_none(),
                valid,
                "{:?}",
                large_polygon_problem(&g)
            );
            assert_eq!(matches!(check_shape(&g), Verdict::Ok), valid);
        }
        // Two parts of a multipolygon that overlap.
        let a = geo::Polygon::new(geo::LineString::from(exterior.clone()), vec![]);
        let shifted: Vec<geo::Coord<f64>> = exterior
            .iter()
            .map(|c| geo::Coord {
                x: c.x + 500.0,
                y: c.y,
            })
            .collect();
        let b = geo::Polygon::new(geo::LineString::from(shifted), vec![]);
        let m = Geometry::MultiPolygon(geo::MultiPolygon(vec![a, b]));
        assert!(
            matches!(check_shape(&m), Verdict::Warn(w) if w.contains("polygon 0: exterior ring and polygon 1: exterior ring intersect"))
        );
    }

    #[test]
    fn absurd_projected_coordinates_are_rejected() {
        let p: Geometry<f64> = geo::Point::new(1e300, 0.0).into();
        assert!(matches!(check_coordinates(&p, false), Verdict::Reject(_)));
    }
}
