//! Shapefile rings into polygons: clockwise rings are outer rings, counter-clockwise rings are
//! holes, each hole going to the smallest outer ring that contains it.

use geo::{Coord, Geometry, LineString, MultiPolygon, Polygon};

/// Twice the signed area of a ring (positive = counter-clockwise with y up).
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let mut s = 0.0;
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        s += a.x * b.y - b.x * a.y;
    }
    s
}

#[derive(Clone, Copy)]
struct Bbox {
    min: Coord<f64>,
    max: Coord<f64>,
}

impl Bbox {
    fn of(ring: &[Coord<f64>]) -> Bbox {
        let mut b = Bbox {
            min: Coord {
                x: f64::INFINITY,
                y: f64::INFINITY,
            },
            max: Coord {
                x: f64::NEG_INFINITY,
                y: f64::NEG_INFINITY,
            },
        };
        for c in ring {
            b.min.x = b.min.x.min(c.x);
            b.min.y = b.min.y.min(c.y);
            b.max.x = b.max.x.max(c.x);
            b.max.y = b.max.y.max(c.y);
        }
        b
    }
    fn contains(&self, o: &Bbox) -> bool {
        self.min.x <= o.min.x && self.min.y <= o.min.y && self.max.x >= o.max.x && self.max.y >= o.max.y
    }
}

/// Even-odd point-in-ring test.
fn ring_contains(ring: &[Coord<f64>], p: Coord<f64>) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// A point of `hole` to test for containment: the first vertex that is not on the outer ring's
/// vertices (holes touching their shell at a vertex are legal), else the first vertex.
fn probe(hole: &[Coord<f64>], outer: &[Coord<f64>]) -> Option<Coord<f64>> {
    hole.iter()
        .copied()
        .find(|c| !outer.contains(c))
        .or_else(|| hole.first().copied())
}

/// Assembles rings into a Polygon (one outer ring) or MultiPolygon. `None` if there are no rings.
/// Holes contained by no outer ring become outer rings of their own (as GDAL does), so no
/// coordinates are lost on badly oriented data.
pub(super) fn polygon_from_rings(rings: Vec<Vec<Coord<f64>>>) -> Option<Geometry<f64>> {
    let mut outers: Vec<(Vec<Coord<f64>>, Bbox, f64)> = Vec::new();
    let mut holes = Vec::new();
    for r in rings {
        if r.is_empty() {
            continue;
        }
        let a = signed_area2(&r);
        if a > 0.0 {
            holes.push(r);
        } else {
            let b = Bbox::of(&r);
            outers.push((r, b, a.abs()));
        }
    }
    let mut interiors: Vec<Vec<LineString<f64>>> = vec![Vec::new(); outers.len()];
    let mut orphans = Vec::new();
    for h in holes {
        let hb = Bbox::of(&h);
        let mut best: Option<(usize, f64)> = None;
        for (i, (o, ob, area)) in outers.iter().enumerate() {
            if !ob.contains(&hb) || best.is_some_and(|(_, a)| a <= *area) {
                continue;
            }
            if probe(&h, o).is_some_and(|p| ring_contains(o, p)) {
                best = Some((i, *area));
            }
        }
        match best {
            Some((i, _)) => interiors[i].push(LineString::new(h)),
            None => orphans.push(h),
        }
    }
    let mut polys: Vec<Polygon<f64>> = outers
        .into_iter()
        .zip(interiors)
        .map(|((o, _, _), inner)| Polygon::new(LineString::new(o), inner))
        .collect();
    // An orphan hole is really an outer ring written counter-clockwise.
    polys.extend(
        orphans
            .into_iter()
            .map(|h| Polygon::new(LineString::new(h), vec![])),
    );
    match polys.len() {
        0 => None,
        1 => polys.pop().map(Geometry::Polygon),
        _ => Some(MultiPolygon::new(polys).into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, s: f64, clockwise: bool) -> Vec<Coord<f64>> {
        let mut r = vec![
            Coord { x: x0, y: y0 },
            Coord { x: x0 + s, y: y0 },
            Coord { x: x0 + s, y: y0 + s },
            Coord { x: x0, y: y0 + s },
            Coord { x: x0, y: y0 },
        ];
        if clockwise {
            r.reverse();
        }
        r
    }

    #[test]
    fn holes_go_to_the_outer_ring_that_contains_them() {
        // Two shells; the hole lies in the second one, and comes first in the record.
        let rings = vec![
            square(12.0, 2.0, 2.0, false),
            square(0.0, 0.0, 5.0, true),
            square(10.0, 0.0, 6.0, true),
        ];
        let Some(Geometry::MultiPolygon(mp)) = polygon_from_rings(rings) else {
            panic!("expected a multipolygon");
        };
        assert_eq!(mp.0.len(), 2);
        assert!(mp.0[0].interiors().is_empty());
        assert_eq!(mp.0[1].interiors().len(), 1);
    }

    #[test]
    fn a_hole_goes_to_the_smallest_containing_shell() {
        // An island inside a lake inside a shell: the innermost hole belongs to the island.
        let rings = vec![
            square(0.0, 0.0, 100.0, true),
            square(10.0, 10.0, 80.0, false),
            square(20.0, 20.0, 60.0, true),
            square(30.0, 30.0, 10.0, false),
        ];
        let Some(Geometry::MultiPolygon(mp)) = polygon_from_rings(rings) else {
            panic!("expected a multipolygon");
        };
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[1].interiors().len(), 1);
        assert_eq!(mp.0[1].interiors()[0].0[0], Coord { x: 30.0, y: 30.0 });
    }

    #[test]
    fn a_lone_counter_clockwise_ring_is_a_polygon() {
        let g = polygon_from_rings(vec![square(0.0, 0.0, 1.0, false)]);
        assert!(matches!(g, Some(Geometry::Polygon(p)) if p.interiors().is_empty()));
        assert!(polygon_from_rings(vec![]).is_none());
    }
}
