//! [`Shape`] and [`Item`]: what is indexed, and the exact 2D tests run on it.

use geo::{Distance, Euclidean, Intersects};

use crate::Aabb3;

/// The caller's key for an indexed item. The engine uses its dense feature index.
pub type ItemId = u64;

/// The geometry an exact test (polygon, distance, ray) is run against.
///
/// The index files every shape under its [`Shape::bounds`]; queries filter by box first and then
/// test the shape itself.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// An extruded footprint: the solid `footprint × [base_z, top_z]` (LOD1 building, or a
    /// parcel with `top_z == base_z`). Holes in the footprint are courtyards: open from bottom
    /// to top. It is a logic error for `top_z < base_z`; such a prism is never hit by a ray.
    Prism {
        /// The 2D outline, holes respected. Ring orientation does not matter.
        footprint: geo::Polygon<f64>,
        /// Height of the bottom face.
        base_z: f64,
        /// Height of the top face.
        top_z: f64,
    },
    /// A polyline at one height (road centreline). Has no volume: rays pass through it.
    Line {
        /// The 2D polyline.
        line: geo::LineString<f64>,
        /// Its height.
        z: f64,
    },
    /// A point feature. Has no volume: rays pass through it.
    Point {
        /// Its position.
        xyz: [f64; 3],
    },
    /// A solid box.
    Box(Aabb3),
    /// A triangle mesh with its own BVH (an LoD2 building, a bridge): rays meet its triangles
    /// and report the triangle's tag; 2-D tests use its triangles seen from above.
    Mesh(crate::TriangleMesh),
}

/// One entry of the index: the caller's id and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The caller's key; unique within one index (a repeated id replaces the earlier item).
    pub id: ItemId,
    /// The geometry.
    pub shape: Shape,
}

impl Item {
    /// An item from its id and shape.
    pub fn new(id: ItemId, shape: Shape) -> Self {
        Self { id, shape }
    }
}

/// `(min, max)` of x, y over `coords`; `None` if there are none or one is not finite.
fn rect_of<'a>(coords: impl Iterator<Item = &'a geo::Coord<f64>>) -> Option<([f64; 2], [f64; 2])> {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    let mut finite = true;
    for c in coords {
        finite &= c.x.is_finite() & c.y.is_finite();
        min = [min[0].min(c.x), min[1].min(c.y)];
        max = [max[0].max(c.x), max[1].max(c.y)];
    }
    // No coordinates leave min > max, which `is_valid` rejects later; say so here too.
    (finite && min[0] <= max[0]).then_some((min, max))
}

impl Shape {
    /// An LOD1 building: `footprint` extruded from `base_z` up to `base_z + height_m`.
    pub fn prism(footprint: geo::Polygon<f64>, base_z: f64, height_m: f64) -> Self {
        Shape::Prism {
            footprint,
            base_z,
            top_z: base_z + height_m,
        }
    }

    /// The shape's bounding box, or `None` when it has no coordinates or any coordinate is not
    /// finite. Such shapes are stored but never match a query.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::Shape;
    /// use geo::{polygon, line_string};
    ///
    /// let tower = Shape::prism(polygon![(x: 0.0, y: 0.0), (x: 8.0, y: 0.0), (x: 8.0, y: 5.0)], 2.0, 30.0);
    /// let b = tower.bounds().unwrap();
    /// assert_eq!((b.min, b.max), ([0.0, 0.0, 2.0], [8.0, 5.0, 32.0]));
    ///
    /// let road = Shape::Line { line: line_string![(x: f64::NAN, y: 0.0), (x: 1.0, y: 1.0)], z: 0.0 };
    /// assert_eq!(road.bounds(), None);
    /// ```
    pub fn bounds(&self) -> Option<Aabb3> {
        let (rect, z_lo, z_hi) = match self {
            Shape::Prism {
                footprint,
                base_z,
                top_z,
            } => {
                // Holes too: for a valid polygon they lie inside, but walls are tested on every
                // ring, so the box must cover every ring even for invalid data.
                let rings = std::iter::once(footprint.exterior()).chain(footprint.interiors());
                (rect_of(rings.flat_map(|r| r.coords()))?, *base_z, *top_z)
            }
            Shape::Line { line, z } => (rect_of(line.coords())?, *z, *z),
            Shape::Point { xyz } => (([xyz[0], xyz[1]], [xyz[0], xyz[1]]), xyz[2], xyz[2]),
            Shape::Box(b) => return b.is_valid().then_some(*b),
            Shape::Mesh(m) => {
                let b = m.bounds();
                return (m.triangle_count() > 0 && b.is_valid()).then_some(b);
            }
        };
        let b = Aabb3::new(
            [rect.0[0], rect.0[1], z_lo.min(z_hi)],
            [rect.1[0], rect.1[1], z_lo.max(z_hi)],
        );
        b.is_valid().then_some(b)
    }

    /// Exact 2D distance from `xy` to the shape's footprint (0 inside a polygon or box).
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::Shape;
    /// use geo::polygon;
    ///
    /// let square = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
    /// let house = Shape::prism(square, 0.0, 6.0);
    /// assert_eq!(house.distance_2d([5.0, 5.0]), 0.0);
    /// assert_eq!(house.distance_2d([13.0, 14.0]), 5.0);
    /// ```
    pub fn distance_2d(&self, xy: [f64; 2]) -> f64 {
        let p = geo::Point::new(xy[0], xy[1]);
        match self {
            Shape::Prism { footprint, .. } => Euclidean.distance(&p, footprint),
            Shape::Line { line, .. } => Euclidean.distance(&p, line),
            Shape::Point { xyz } => (xyz[0] - xy[0]).hypot(xyz[1] - xy[1]),
            Shape::Box(b) => b.distance_2d_squared(xy).sqrt(),
            Shape::Mesh(m) => m.distance_2d(xy),
        }
    }

    /// Whether the shape's 2D geometry meets `poly` (boundaries included), tested exactly
    /// with `geo::Intersects`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::Shape;
    /// use geo::{polygon, line_string};
    ///
    /// let zone = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)];
    /// let road = Shape::Line { line: line_string![(x: 6.0, y: 6.0), (x: 20.0, y: 20.0)], z: 0.0 };
    /// assert!(!road.intersects_polygon(&zone)); // its box overlaps, the line does not
    /// let lamp = Shape::Point { xyz: [2.0, 2.0, 5.0] };
    /// assert!(lamp.intersects_polygon(&zone));
    /// ```
    pub fn intersects_polygon(&self, poly: &geo::Polygon<f64>) -> bool {
        match self {
            Shape::Prism { footprint, .. } => footprint.intersects(poly),
            Shape::Line { line, .. } => line.intersects(poly),
            Shape::Point { xyz } => geo::Point::new(xyz[0], xyz[1]).intersects(poly),
            Shape::Box(b) => geo::Rect::new((b.min[0], b.min[1]), (b.max[0], b.max[1])).intersects(poly),
            Shape::Mesh(m) => m.intersects_polygon(poly),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn prism_bounds_order_z_and_ignore_holes() {
        let courtyard = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0), (x: 0.0, y: 30.0)],
            interiors: [[(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]],
        );
        let s = Shape::Prism {
            footprint: courtyard,
            base_z: 12.0,
            top_z: 3.0,
        };
        let b = s.bounds().unwrap();
        assert_eq!((b.min, b.max), ([0.0, 0.0, 3.0], [30.0, 30.0, 12.0]));
    }

    #[test]
    fn nan_in_a_hole_makes_bounds_none() {
        let s = Shape::Prism {
            footprint: polygon!(
                exterior: [(x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0)],
                interiors: [[(x: 10.0, y: f64::NAN), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0)]],
            ),
            base_z: 0.0,
            top_z: 3.0,
        };
        assert_eq!(s.bounds(), None);
    }

    #[test]
    fn empty_footprint_has_no_bounds() {
        let s = Shape::prism(geo::Polygon::new(geo::LineString::new(vec![]), vec![]), 0.0, 1.0);
        assert_eq!(s.bounds(), None);
    }

    #[test]
    fn distance_into_a_courtyard_is_to_the_inner_wall() {
        let s = Shape::prism(
            polygon!(
                exterior: [(x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0), (x: 0.0, y: 30.0)],
                interiors: [[(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]],
            ),
            0.0,
            10.0,
        );
        assert_eq!(s.distance_2d([15.0, 13.0]), 3.0);
        assert_eq!(s.distance_2d([5.0, 5.0]), 0.0);
    }
}
