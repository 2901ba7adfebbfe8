//! Multipolygon assembly: member ways joined end to end into closed rings, inner rings put
//! into the outer ring that contains them.

use geo::{Contains, Coord, InteriorPoint, LineString, MultiPolygon, Polygon};

/// Joins way node lists that share end nodes into closed rings (lists whose first and last
/// node are the same). `Err` names a node where a ring stays open.
pub(crate) fn join_rings(mut parts: Vec<Vec<i64>>) -> Result<Vec<Vec<i64>>, String> {
    parts.retain(|p| !p.is_empty());
    let mut rings = Vec::new();
    while let Some(mut ring) = parts.pop() {
        while let (Some(&first), Some(&end)) = (ring.first(), ring.last()) {
            if ring.len() > 1 && first == end {
                break;
            }
            let next = parts
                .iter()
                .position(|p| p.first() == Some(&end) || p.last() == Some(&end))
                .ok_or_else(|| format!("ring is not closed at node {end}"))?;
            let mut part = parts.swap_remove(next);
            if part.first() != Some(&end) {
                part.reverse();
            }
            ring.extend_from_slice(&part[1..]);
        }
        if ring.len() < 4 {
            return Err(format!(
                "ring through node {} has fewer than 3 distinct nodes",
                ring[0]
            ));
        }
        rings.push(ring);
    }
    Ok(rings)
}

/// Polygons from outer and inner rings (coordinates). Inner rings that lie in no outer ring
/// are returned in the second value, for a warning.
pub(crate) fn assemble(outers: Vec<Vec<Coord>>, inners: Vec<Vec<Coord>>) -> (MultiPolygon, usize) {
    let mut polygons: Vec<Polygon> = outers
        .into_iter()
        .map(|c| Polygon::new(LineString::new(c), vec![]))
        .collect();
    let mut orphans = 0;
    for inner in inners {
        // A point strictly inside the inner ring is inside its outer ring even where the two
        // rings touch (inner vertices on the outer boundary are common).
        let ring = Polygon::new(LineString::new(inner), vec![]);
        let Some(probe) = ring.interior_point() else {
            orphans += 1;
            continue;
        };
        let (inner, _) = ring.into_inner();
        match polygons.iter_mut().find(|p| p.contains(&probe)) {
            Some(p) => p.interiors_push(inner),
            None => orphans += 1,
        }
    }
    (MultiPolygon(polygons), orphans)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn split_ring_is_joined_whatever_the_member_directions() {
        let rings = join_rings(vec![
            vec![1, 2, 3],
            vec![5, 4, 3],
            vec![5, 6, 1],
            vec![10, 11, 12, 10],
        ])
        .unwrap();
        assert_eq!(rings.len(), 2);
        let big = rings.iter().find(|r| r.len() == 7).unwrap();
        assert_eq!(big.first(), big.last());
        let mut ids = big[1..].to_vec();
        ids.sort();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn open_ring_is_an_error() {
        let err = join_rings(vec![vec![1, 2, 3], vec![3, 4]]).unwrap_err();
        assert!(err.contains("not closed"), "{err}");
    }

    #[test]
    fn inner_goes_into_its_outer() {
        let square = |x0: f64, s: f64| {
            vec![
                Coord { x: x0, y: 0.0 },
                Coord { x: x0 + s, y: 0.0 },
                Coord { x: x0 + s, y: s },
                Coord { x: x0, y: s },
                Coord { x: x0, y: 0.0 },
            ]
        };
        let hole: Vec<Coord> = square(11.0, 2.0);
        let far: Vec<Coord> = square(50.0, 1.0);
        let (mp, orphans) = assemble(vec![square(0.0, 5.0), square(10.0, 5.0)], vec![hole, far]);
        assert_eq!(orphans, 1);
        assert_eq!(mp.0[0].interiors().len(), 0);
        assert_eq!(mp.0[1].interiors().len(), 1);
    }
}
