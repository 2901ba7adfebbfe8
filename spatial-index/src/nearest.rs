//! k-nearest neighbours by exact 2D distance to the shape.
//!
//! Best-first search: a min-heap of tree nodes keyed by the distance to their box, and a
//! max-heap of the best `k` found so far. A leaf-level node's items get their exact
//! distance on the spot, nearest box first and only while their box is within the current
//! k-th distance; the search ends when the nearest unexplored node is farther than the k-th
//! result.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rstar::RTreeNode;

use crate::packed::NodeRef;
use crate::{ItemId, SpatialIndex};

/// A node queued by the distance to its box, ordered so that `BinaryHeap` pops the nearest.
struct ByDist<T>(f64, T);

impl<T> PartialEq for ByDist<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for ByDist<T> {}
impl<T> PartialOrd for ByDist<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for ByDist<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

/// A found item, ordered by (distance, id).
#[derive(Clone, Copy)]
struct Found(f64, ItemId);

impl PartialEq for Found {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Found {}
impl PartialOrd for Found {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Found {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The best `k` so far: a max-heap, so the worst of them is at hand (O(log k) per offer).
struct Best {
    k: usize,
    heap: BinaryHeap<Found>,
}

impl Best {
    /// Distance beyond which nothing can enter; infinite until `k` are found.
    fn bound(&self) -> f64 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.0,
            _ => f64::INFINITY,
        }
    }

    fn offer(&mut self, id: ItemId, dist: f64) {
        self.heap.push(Found(dist, id));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<(ItemId, f64)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Found(d, id)| (id, d))
            .collect()
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
        if k == 0 || !(xy[0].is_finite() && xy[1].is_finite()) {
            return Vec::new();
        }
        let mut best = Best {
            k,
            heap: BinaryHeap::new(),
        };
        // One search per tree, the second starting with the first's k-th distance as bound.
        let mut leaves = Vec::new();
        self.nearest_packed(xy, &mut best, &mut leaves);
        self.nearest_dynamic(xy, &mut best, &mut leaves);
        best.into_sorted()
    }

    /// A leaf-level node's items as `(box distance, id, slot)`, tested nearest box first, so
    /// that exact distances (the costly part) stop as soon as boxes are beyond the k-th result.
    fn offer_leaves(&self, xy: [f64; 2], leaves: &mut Vec<(f64, ItemId, usize)>, best: &mut Best) {
        leaves.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        for &(d, id, slot) in leaves.iter() {
            if d > best.bound() {
                break;
            }
            if let Some(shape) = self.shape_at(slot) {
                best.offer(id, shape.distance_2d(xy));
            }
        }
        leaves.clear();
    }

    fn nearest_packed(&self, xy: [f64; 2], best: &mut Best, leaves: &mut Vec<(f64, ItemId, usize)>) {
        let packed = &self.tree.packed;
        let mut heap: BinaryHeap<ByDist<NodeRef>> = BinaryHeap::new();
        let mut expand = |nodes: &mut dyn Iterator<Item = NodeRef>,
                          heap: &mut BinaryHeap<ByDist<NodeRef>>,
                          best: &mut Best| {
            for c in nodes {
                let d = packed.entry_box(c.level, c.index).distance_2d_squared(xy).sqrt();
                if d > best.bound() {
                    continue;
                }
                if c.level == 0 {
                    leaves.extend(packed.id(c.index).map(|id| (d, id, c.index)));
                } else {
                    heap.push(ByDist(d, c));
                }
            }
            self.offer_leaves(xy, leaves, best);
        };
        expand(&mut packed.roots(), &mut heap, best);
        // `>` rather than `>=` throughout: items at exactly the k-th distance can still win
        // on id.
        while let Some(ByDist(d, node)) = heap.pop() {
            if d > best.bound() {
                break;
            }
            expand(&mut packed.children(node), &mut heap, best);
        }
    }

    fn nearest_dynamic(&self, xy: [f64; 2], best: &mut Best, leaves: &mut Vec<(f64, ItemId, usize)>) {
        let root = self.tree.dynamic.root();
        if root.children().is_empty() {
            return;
        }
        let mut heap = BinaryHeap::new();
        heap.push(ByDist(0.0, root));
        while let Some(ByDist(d, node)) = heap.pop() {
            if d > best.bound() {
                break;
            }
            for child in node.children() {
                match child {
                    RTreeNode::Leaf(leaf) => {
                        let d = leaf.bounds.distance_2d_squared(xy).sqrt();
                        if d <= best.bound() {
                            leaves.push((d, leaf.id, leaf.slot));
                        }
                    }
                    RTreeNode::Parent(p) => {
                        let d = p.envelope().0.distance_2d_squared(xy).sqrt();
                        if d <= best.bound() {
                            heap.push(ByDist(d, p));
                        }
                    }
                }
            }
            self.offer_leaves(xy, leaves, best);
        }
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
