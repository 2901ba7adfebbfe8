//! The rstar tree underneath: its leaf type, node envelope and parameters.
//!
//! Why a custom envelope: rstar's bulk load (OMT) partitions on every axis of the envelope's
//! point type. With a plain 3D box it also slices on z, and because building heights are not
//! spatially coherent that scatters neighbours in x, y over different nodes: on 1M synthetic
//! buildings a 3D `AABB` tree answered 2D windows 2.5× slower than a 2D one. [`TreeBox`]
//! therefore has a 2D point type (the tree is organised on x, y: bulk load, R* insertion
//! costs, nearest-neighbour metric) while it still merges and stores the full z range, so every
//! node's box is a true 3D bound that 3D windows and rays can prune on.

use rstar::{Envelope, ParentNode, RStarInsertionStrategy, RTreeNode, RTreeObject, RTreeParams};

use crate::packed::Packed;
use crate::{Aabb3, ItemId};

/// A 3D node box whose tree geometry (area, centre, distance) is that of its x, y footprint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TreeBox(pub(crate) Aabb3);

/// What the tree stores per item: its exact bounds, its id (so window queries never touch the
/// shape arena) and its slot in the arena (for exact tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaf {
    pub(crate) bounds: Aabb3,
    pub(crate) id: ItemId,
    pub(crate) slot: usize,
}

/// Slots are unique while an item is indexed, so they identify a leaf for removal.
impl PartialEq for Leaf {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl RTreeObject for Leaf {
    type Envelope = TreeBox;
    fn envelope(&self) -> TreeBox {
        TreeBox(self.bounds)
    }
}

/// Node sizes: larger than rstar's default (6) because queries here are mostly small windows
/// over millions of items, where fewer levels beat tighter leaves (measured: 24 ≈ 16 < 8).
pub(crate) struct TreeParams;

impl RTreeParams for TreeParams {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 24;
    const REINSERTION_COUNT: usize = 6;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

pub(crate) type Tree = rstar::RTree<Leaf, TreeParams>;
pub(crate) type Node = ParentNode<Leaf>;

/// Both trees of the index: the packed one from the last bulk load (or rebuild) and the rstar
/// one for items inserted since. Every query visits both.
#[derive(Default)]
pub(crate) struct Trees {
    pub(crate) packed: Packed,
    pub(crate) dynamic: Tree,
}

impl Trees {
    /// Items indexed (stored with finite bounds, not removed).
    pub(crate) fn size(&self) -> usize {
        self.packed.live() + self.dynamic.size()
    }
}

fn xy_area(b: &Aabb3) -> f64 {
    (b.max[0] - b.min[0]).max(0.0) * (b.max[1] - b.min[1]).max(0.0)
}

impl Envelope for TreeBox {
    type Point = [f64; 2];

    fn new_empty() -> Self {
        TreeBox(Aabb3::EMPTY)
    }

    fn contains_point(&self, p: &[f64; 2]) -> bool {
        let b = &self.0;
        b.min[0] <= p[0] && p[0] <= b.max[0] && b.min[1] <= p[1] && p[1] <= b.max[1]
    }

    fn contains_envelope(&self, other: &Self) -> bool {
        (0..3).all(|a| self.0.min[a] <= other.0.min[a] && other.0.max[a] <= self.0.max[a])
    }

    fn merge(&mut self, other: &Self) {
        self.0.expand(&other.0);
    }

    fn merged(&self, other: &Self) -> Self {
        TreeBox(self.0.union(&other.0))
    }

    fn intersects(&self, other: &Self) -> bool {
        self.0.intersects(&other.0)
    }

    fn intersection_area(&self, other: &Self) -> f64 {
        let mut i = self.0;
        for a in 0..2 {
            i.min[a] = i.min[a].max(other.0.min[a]);
            i.max[a] = i.max[a].min(other.0.max[a]);
        }
        xy_area(&i)
    }

    fn area(&self) -> f64 {
        xy_area(&self.0)
    }

    fn distance_2(&self, p: &[f64; 2]) -> f64 {
        self.0.distance_2d_squared(*p)
    }

    fn min_max_dist_2(&self, p: &[f64; 2]) -> f64 {
        // Roussopoulos' MINMAXDIST in 2D: along one axis take the nearer face, along the other
        // the farther one, and keep the smaller of the two choices.
        let far = |a: usize| {
            let (l, u) = (self.0.min[a] - p[a], self.0.max[a] - p[a]);
            (l * l).max(u * u)
        };
        let near = |a: usize| {
            let mid = 0.5 * (self.0.min[a] + self.0.max[a]);
            let face = if p[a] <= mid { self.0.min[a] } else { self.0.max[a] };
            (face - p[a]) * (face - p[a])
        };
        (near(0) + far(1)).min(near(1) + far(0))
    }

    fn center(&self) -> [f64; 2] {
        [
            0.5 * (self.0.min[0] + self.0.max[0]),
            0.5 * (self.0.min[1] + self.0.max[1]),
        ]
    }

    fn perimeter_value(&self) -> f64 {
        ((self.0.max[0] - self.0.min[0]) + (self.0.max[1] - self.0.min[1])).max(0.0)
    }

    fn sort_envelopes<T: RTreeObject<Envelope = Self>>(axis: usize, envelopes: &mut [T]) {
        envelopes.sort_unstable_by(|l, r| centre_key(l, axis).total_cmp(&centre_key(r, axis)));
    }

    fn partition_envelopes<T: RTreeObject<Envelope = Self>>(
        axis: usize,
        envelopes: &mut [T],
        selection_size: usize,
    ) {
        envelopes.select_nth_unstable_by(selection_size, |l, r| {
            centre_key(l, axis).total_cmp(&centre_key(r, axis))
        });
    }
}

/// Twice the centre on `axis` (the factor does not change the order).
fn centre_key<T: RTreeObject<Envelope = TreeBox>>(t: &T, axis: usize) -> f64 {
    let b = t.envelope().0;
    b.min[axis] + b.max[axis]
}

/// Depth-first walk calling `f` on every leaf whose bounds pass `keep`; `keep` also prunes
/// parent nodes, so it must hold for a node's box whenever it holds for one of its leaves.
pub(crate) fn visit<K, F>(node: &Node, keep: &K, f: &mut F)
where
    K: Fn(&Aabb3) -> bool,
    F: FnMut(&Leaf),
{
    // rstar keeps all leaves at one depth, so a node holds only leaves or only parents; one
    // loop per kind keeps the hot leaf loop tight.
    let children = node.children();
    if let Some(RTreeNode::Leaf(_)) = children.first() {
        for child in children {
            if let RTreeNode::Leaf(leaf) = child {
                if keep(&leaf.bounds) {
                    f(leaf);
                }
            }
        }
    } else {
        for child in children {
            if let RTreeNode::Parent(p) = child {
                if keep(&p.envelope().0) {
                    visit(p, keep, f);
                }
            }
        }
    }
}

/// Bytes held by the tree's nodes (child arrays counted at their length).
pub(crate) fn node_bytes(node: &Node) -> usize {
    let own = std::mem::size_of_val(node.children());
    own + node
        .children()
        .iter()
        .map(|c| match c {
            RTreeNode::Leaf(_) => 0,
            RTreeNode::Parent(p) => node_bytes(p),
        })
        .sum::<usize>()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn min_max_dist_is_between_min_and_max_distance() {
        let b = TreeBox(Aabb3::new([0.0, 0.0, 0.0], [4.0, 2.0, 9.0]));
        let p = [-1.0, 1.0];
        let d_min = b.distance_2(&p);
        let mm = b.min_max_dist_2(&p);
        assert_eq!(d_min, 1.0);
        // Nearer x face (x=0): 1; farther y face: 1 → 2. Nearer y face: 1, farther x: 25 → 26.
        assert_eq!(mm, 2.0);
    }

    #[test]
    fn merge_keeps_z_while_area_is_2d() {
        let a = TreeBox(Aabb3::new([0.0, 0.0, 0.0], [2.0, 2.0, 5.0]));
        let b = TreeBox(Aabb3::new([1.0, 1.0, 50.0], [3.0, 3.0, 80.0]));
        let m = a.merged(&b);
        assert_eq!(m.0.max[2], 80.0);
        assert_eq!(m.area(), 9.0);
        assert_eq!(a.intersection_area(&b), 1.0);
        assert!(!a.intersects(&b)); // disjoint in z
    }
}
