//! Range queries: 3D and 2D windows, polygon intersection, within-distance.
//!
//! All follow the same two steps: walk the tree keeping nodes whose box passes a cheap box
//! test, then (for polygon and distance) run the exact test on each candidate's shape.

use geo::BoundingRect;

use crate::packed::Window;
use crate::tree::visit;
use crate::{Aabb3, ItemId, SpatialIndex};

fn finite2(p: [f64; 2]) -> bool {
    p[0].is_finite() && p[1].is_finite()
}

impl SpatialIndex {
    /// Ids of items whose bounding box meets `bbox` in 3D (closed boxes), sorted.
    /// An empty or NaN box returns nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Aabb3, Item, Shape, SpatialIndex};
    /// use geo::polygon;
    ///
    /// let low = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
    /// let index = SpatialIndex::bulk_load(vec![
    ///     Item::new(1, Shape::prism(low.clone(), 0.0, 9.0)),
    ///     Item::new(2, Shape::prism(low, 0.0, 60.0)),
    /// ]);
    /// // Only the tall one reaches above 50 m.
    /// assert_eq!(index.window(&Aabb3::new([0.0, 0.0, 50.0], [100.0, 100.0, 100.0])), vec![2]);
    /// assert_eq!(index.window(&Aabb3::new([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])), vec![1, 2]);
    /// ```
    pub fn window(&self, bbox: &Aabb3) -> Vec<ItemId> {
        let mut out = Vec::new();
        if !bbox.min.iter().chain(&bbox.max).any(|v| v.is_nan()) {
            let w = Window::new(bbox.min, bbox.max);
            self.tree.packed.walk::<true, _>(&w, &mut |_, id| out.push(id));
            visit(
                self.tree.dynamic.root(),
                &|b: &Aabb3| b.intersects(bbox),
                &mut |l| out.push(l.id),
            );
        }
        out.sort_unstable();
        out
    }

    /// Ids of items whose box meets the rectangle `min..=max` in x, y (z ignored), sorted.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    ///
    /// let index = SpatialIndex::bulk_load(
    ///     (0..100).map(|i| Item::new(i, Shape::Point { xyz: [i as f64, 0.0, i as f64] })).collect(),
    /// );
    /// assert_eq!(index.window_2d([10.0, -1.0], [12.0, 1.0]), vec![10, 11, 12]);
    /// assert!(index.window_2d([f64::NAN, 0.0], [1.0, 1.0]).is_empty());
    /// ```
    pub fn window_2d(&self, min: [f64; 2], max: [f64; 2]) -> Vec<ItemId> {
        let mut out = Vec::new();
        self.for_each_in_window_2d(min, max, |id| out.push(id));
        out.sort_unstable();
        out
    }

    /// Calls `f` with the id of every item whose box meets `min..=max` in x, y, in tree order
    /// (unsorted). Allocates nothing: the hot path for viewers and scenarios.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    ///
    /// let index = SpatialIndex::bulk_load(
    ///     (0..100).map(|i| Item::new(i, Shape::Point { xyz: [i as f64, 0.0, 0.0] })).collect(),
    /// );
    /// let mut sum = 0;
    /// index.for_each_in_window_2d([10.0, -1.0], [12.0, 1.0], |id| sum += id);
    /// assert_eq!(sum, 33);
    /// ```
    pub fn for_each_in_window_2d(&self, min: [f64; 2], max: [f64; 2], mut f: impl FnMut(ItemId)) {
        // NaN fails every box comparison anyway; this just skips the walk.
        if min.iter().chain(&max).any(|v| v.is_nan()) {
            return;
        }
        let w = Window::new([min[0], min[1], 0.0], [max[0], max[1], 0.0]);
        self.tree.packed.walk::<false, _>(&w, &mut |_, id| f(id));
        visit(
            self.tree.dynamic.root(),
            &|b: &Aabb3| b.intersects_2d(min, max),
            &mut |l| f(l.id),
        );
    }

    /// Ids of items whose 2D geometry (footprint, line, point or box) intersects `poly`,
    /// boundaries included, sorted. Box filter first, then `geo::Intersects` on each candidate.
    /// A polygon without coordinates or with a non-finite one returns nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    /// use geo::polygon;
    ///
    /// let index = SpatialIndex::bulk_load(vec![
    ///     Item::new(1, Shape::Point { xyz: [1.0, 1.0, 0.0] }),
    ///     Item::new(2, Shape::Point { xyz: [9.0, 9.0, 0.0] }), // inside the triangle's box only
    /// ]);
    /// let triangle = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)];
    /// assert_eq!(index.intersecting_polygon(&triangle), vec![1]);
    /// ```
    pub fn intersecting_polygon(&self, poly: &geo::Polygon<f64>) -> Vec<ItemId> {
        let finite = poly
            .exterior()
            .coords()
            .chain(poly.interiors().iter().flat_map(|r| r.coords()))
            .all(|c| c.x.is_finite() && c.y.is_finite());
        let Some(rect) = poly.bounding_rect().filter(|_| finite) else {
            return Vec::new();
        };
        let (min, max) = ([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        let mut out = Vec::new();
        let mut test = |id: ItemId, slot: usize| {
            if self.shape_at(slot).is_some_and(|s| s.intersects_polygon(poly)) {
                out.push(id);
            }
        };
        let w = Window::new([min[0], min[1], 0.0], [max[0], max[1], 0.0]);
        self.tree.packed.walk::<false, _>(&w, &mut |i, id| test(id, i));
        visit(
            self.tree.dynamic.root(),
            &|b: &Aabb3| b.intersects_2d(min, max),
            &mut |l| test(l.id, l.slot),
        );
        out.sort_unstable();
        out
    }

    /// Ids of items whose exact 2D distance from `xy` is at most `radius_m` (0 inside a
    /// footprint), sorted. A negative or NaN radius returns nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    ///
    /// let index = SpatialIndex::bulk_load(vec![
    ///     Item::new(1, Shape::Point { xyz: [3.0, 4.0, 0.0] }),
    ///     Item::new(2, Shape::Point { xyz: [4.0, 4.0, 0.0] }), // in the box, 5.66 m away
    /// ]);
    /// assert_eq!(index.within_distance_2d([0.0, 0.0], 5.0), vec![1]);
    /// ```
    pub fn within_distance_2d(&self, xy: [f64; 2], radius_m: f64) -> Vec<ItemId> {
        let mut out = Vec::new();
        if !(finite2(xy) && radius_m >= 0.0) {
            return out;
        }
        let min = [xy[0] - radius_m, xy[1] - radius_m];
        let max = [xy[0] + radius_m, xy[1] + radius_m];
        let r2 = radius_m * radius_m;
        let keep = |b: &Aabb3| b.intersects_2d(min, max) && b.distance_2d_squared(xy) <= r2;
        let mut test = |id: ItemId, slot: usize| {
            if self.shape_at(slot).is_some_and(|s| s.distance_2d(xy) <= radius_m) {
                out.push(id);
            }
        };
        self.tree.packed.visit(&keep, &mut |i, id| test(id, i));
        visit(self.tree.dynamic.root(), &keep, &mut |l| test(l.id, l.slot));
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Aabb3, Item, ItemId, Shape, SpatialIndex};
    use geo::polygon;

    #[test]
    fn empty_index_answers_nothing() {
        let index = SpatialIndex::new();
        let poly = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)];
        assert!(index.window(&Aabb3::new([-1.0; 3], [1.0; 3])).is_empty());
        assert!(index.window_2d([-1.0; 2], [1.0; 2]).is_empty());
        assert!(index.intersecting_polygon(&poly).is_empty());
        assert!(index.within_distance_2d([0.0, 0.0], 10.0).is_empty());
    }

    #[test]
    fn nan_queries_answer_nothing() {
        let index = SpatialIndex::bulk_load(vec![Item::new(1, Shape::Point { xyz: [0.0; 3] })]);
        let all = [-1e9, -1e9];
        assert_eq!(index.window_2d(all, [1e9, 1e9]), vec![1]);
        assert!(index.window_2d([f64::NAN, -1e9], [1e9, 1e9]).is_empty());
        assert!(index.window_2d(all, [1e9, f64::NAN]).is_empty());
        assert!(index
            .window(&Aabb3::new([-1e9, -1e9, f64::NAN], [1e9; 3]))
            .is_empty());
        assert!(index.within_distance_2d([0.0, f64::NAN], 1.0).is_empty());
        assert!(index.within_distance_2d([0.0, 0.0], f64::NAN).is_empty());
        let nan_poly = polygon![(x: f64::NAN, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)];
        assert!(index.intersecting_polygon(&nan_poly).is_empty());
    }

    #[test]
    fn infinite_window_finds_everything() {
        let index = SpatialIndex::bulk_load(
            (0..50)
                .map(|i| Item::new(i, Shape::Point { xyz: [i as f64; 3] }))
                .collect(),
        );
        let inf = f64::INFINITY;
        let all: Vec<ItemId> = (0..50).collect();
        assert_eq!(index.window_2d([-inf; 2], [inf; 2]), all);
        assert_eq!(index.window(&Aabb3::new([-inf; 3], [inf; 3])), all);
    }
}
