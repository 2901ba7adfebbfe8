//! k-nearest neighbours by exact 2D distance to the shape.
//!
//! Best-first search: a min-heap of tree nodes keyed by the distance to their box, and of
//! leaves keyed first by box distance (a lower bound) and then, once popped, by their exact
//! distance. An exact entry popped from the heap is final, because everything left in the heap
//! is at least as far.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rstar::RTreeNode;

use crate::tree::{Leaf, Node};
use crate::{ItemId, SpatialIndex};

enum Pending<'a> {
    Node(&'a Node),
    /// A leaf whose exact distance is not computed yet.
    Leaf(&'a Leaf),
    Exact(ItemId),
}

/// Heap entry ordered so that `BinaryHeap` pops the smallest distance first.
struct Queued<'a> {
    dist: f64,
    what: Pending<'a>,
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued<'_> {}
impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.dist.total_cmp(&self.dist)
    }
}

impl SpatialIndex {
    /// The `k` items nearest to `xy` by exact 2D distance to their shape (0 inside a
    /// footprint), as `(id, distance_m)` in ascending distance, ties broken by ascending id.
    /// Returns fewer when the index holds fewer; nothing for `k == 0` or a non-finite point.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    /// use geo::polygon;
    ///
    /// let hall = polygon![(x: 0.0, y: 0.0), (x: 40.0, y: 0.0), (x: 40.0, y: 40.0), (x: 0.0, y: 40.0)];
    /// let index = SpatialIndex::bulk_load(vec![
    ///     Item::new(1, Shape::prism(hall, 0.0, 12.0)),
    ///     Item::new(2, Shape::Point { xyz: [45.0, 20.0, 0.0] }),
    ///     Item::new(3, Shape::Point { xyz: [47.0, 20.0, 0.0] }),
    /// ]);
    /// // From inside the hall: the hall at 0, then the points 8 m and 10 m away.
    /// assert_eq!(index.nearest_2d([37.0, 20.0], 3), vec![(1, 0.0), (2, 8.0), (3, 10.0)]);
    /// assert_eq!(index.nearest_2d([46.0, 20.0], 2), vec![(2, 1.0), (3, 1.0)]); // tie → id order
    /// ```
    pub fn nearest_2d(&self, xy: [f64; 2], k: usize) -> Vec<(ItemId, f64)> {
        let mut found: Vec<(ItemId, f64)> = Vec::new();
        let root = self.tree.root();
        if k == 0 || !(xy[0].is_finite() && xy[1].is_finite()) || root.children().is_empty() {
            return found;
        }
        let mut heap = BinaryHeap::new();
        heap.push(Queued {
            dist: 0.0,
            what: Pending::Node(root),
        });
        while let Some(Queued { dist, what }) = heap.pop() {
            // Once k are found, stop at the first entry strictly farther than the k-th: entries
            // at an equal distance must still be seen to break ties by id.
            if found.len() >= k && dist > found[k - 1].1 {
                break;
            }
            match what {
                Pending::Exact(id) => found.push((id, dist)),
                Pending::Leaf(leaf) => {
                    if let Some(shape) = self.shape_at(leaf.slot) {
                        let exact = shape.distance_2d(xy);
                        heap.push(Queued {
                            dist: exact,
                            what: Pending::Exact(leaf.id),
                        });
                    }
                }
                Pending::Node(node) => {
                    for child in node.children() {
                        let (bounds, what) = match child {
                            RTreeNode::Leaf(l) => (l.bounds, Pending::Leaf(l)),
                            RTreeNode::Parent(p) => (p.envelope().0, Pending::Node(p)),
                        };
                        let d = bounds.distance_2d_squared(xy).sqrt();
                        if found.len() < k || d <= found[k - 1].1 {
                            heap.push(Queued { dist: d, what });
                        }
                    }
                }
            }
        }
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Item, Shape, SpatialIndex};

    #[test]
    fn empty_index_and_degenerate_queries_return_nothing() {
        assert!(SpatialIndex::new().nearest_2d([0.0, 0.0], 3).is_empty());
        let index = SpatialIndex::bulk_load(vec![Item::new(1, Shape::Point { xyz: [0.0; 3] })]);
        assert!(index.nearest_2d([0.0, 0.0], 0).is_empty());
        assert!(index.nearest_2d([f64::NAN, 0.0], 1).is_empty());
        assert_eq!(index.nearest_2d([3.0, 4.0], 5), vec![(1, 5.0)]);
    }

    #[test]
    fn many_equal_distances_keep_the_smallest_ids() {
        // 40 points, all exactly 10 m from the query, spread over two spots.
        let items = (0..40u64)
            .map(|i| {
                let (x, y) = if i % 2 == 0 { (10.0, 0.0) } else { (0.0, -10.0) };
                Item::new(100 - i, Shape::Point { xyz: [x, y, 0.0] })
            })
            .collect();
        let index = SpatialIndex::bulk_load(items);
        let got = index.nearest_2d([0.0, 0.0], 3);
        assert_eq!(got, vec![(61, 10.0), (62, 10.0), (63, 10.0)]);
    }
}
