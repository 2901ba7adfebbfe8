//! The packed static R-tree built by [`SpatialIndex::bulk_load`](crate::SpatialIndex::bulk_load).
//!
//! Layout: items are sorted along a Hilbert curve (of their box centres, on x, y) and cut into
//! runs of [`B`]; each run's union is an entry of level 1, whose runs of `B` give level 2, and
//! so on until one run is left. Level `l + 1` entry `j` therefore covers exactly the entries of
//! level `l` chunk `j`: children are found by index arithmetic, with no pointers.
//!
//! Every level is stored as chunks of `B` entries in structure-of-arrays form (`min_x[B]`,
//! `min_y[B]`, ...), so a query tests a whole chunk with straight-line, vectorisable compares
//! into a bit mask. Items ([`Leaves`]) keep their exact `f64` x, y boxes followed by their ids
//! (one contiguous 640-byte run per chunk); their z ranges live in a parallel [`LeafZ`] array
//! that 2D queries never touch. Node boxes ([`Nodes`]) are rounded outwards to `f32`: they only
//! prune. The last chunk of a level is padded with NaN boxes, which fail every comparison of
//! the window masks; the other walks skip padding by index.
//!
//! Items keep their packed position for life: removing one only sets its tombstone bit (see
//! `index.rs` for when the index rebuilds).

use crate::{Aabb3, ItemId};

/// Entries per node (and per chunk).
pub(crate) const B: usize = 16;

/// Exact x, y bounds of one chunk of `B` items, structure-of-arrays, with their ids.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaves {
    min_x: [f64; B],
    min_y: [f64; B],
    max_x: [f64; B],
    max_y: [f64; B],
    /// After the boxes, so the prefetcher that follows the mask's loads brings them along.
    ids: [ItemId; B],
}

/// Exact z bounds of one chunk of `B` items.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeafZ {
    min_z: [f64; B],
    max_z: [f64; B],
}

/// Node boxes of one chunk, rounded outwards to `f32`: half the bytes, and a node box only
/// prunes, so a box a few decimetres too big (at UTM-sized coordinates) costs nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nodes {
    min_x: [f32; B],
    min_y: [f32; B],
    max_x: [f32; B],
    max_y: [f32; B],
    min_z: [f32; B],
    max_z: [f32; B],
}

const PAD_LEAVES: Leaves = Leaves {
    min_x: [f64::NAN; B],
    min_y: [f64::NAN; B],
    max_x: [f64::NAN; B],
    max_y: [f64::NAN; B],
    ids: [0; B],
};
const PAD_LEAF_Z: LeafZ = LeafZ {
    min_z: [f64::NAN; B],
    max_z: [f64::NAN; B],
};
const PAD_NODES: Nodes = Nodes {
    min_x: [f32::NAN; B],
    min_y: [f32::NAN; B],
    max_x: [f32::NAN; B],
    max_y: [f32::NAN; B],
    min_z: [f32::NAN; B],
    max_z: [f32::NAN; B],
};

/// The largest `f32` not above `v` (NaN stays NaN).
fn down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v {
        f.next_down()
    } else {
        f
    }
}

/// The smallest `f32` not below `v` (NaN stays NaN).
fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v {
        f.next_up()
    } else {
        f
    }
}

/// A window query, exact and rounded outwards for the `f32` node boxes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    lo: [f64; 3],
    hi: [f64; 3],
    lo32: [f32; 3],
    hi32: [f32; 3],
}

impl Window {
    /// The closed box `lo..=hi`; z is only tested by walks that ask for it.
    pub(crate) fn new(lo: [f64; 3], hi: [f64; 3]) -> Window {
        Window {
            lo,
            hi,
            lo32: lo.map(down),
            hi32: hi.map(up),
        }
    }
}

impl Leaves {
    /// Bit `i` set when item `i` meets the window in x, y (NaN padding never does).
    #[inline]
    fn mask(&self, w: &Window) -> u32 {
        let mut m = 0u32;
        for i in 0..B {
            // Non-short-circuit `&` so the loop compiles to packed compares.
            let hit = (self.min_x[i] <= w.hi[0])
                & (self.max_x[i] >= w.lo[0])
                & (self.min_y[i] <= w.hi[1])
                & (self.max_y[i] >= w.lo[1]);
            m |= u32::from(hit) << i;
        }
        m
    }
}

impl LeafZ {
    #[inline]
    fn mask(&self, w: &Window) -> u32 {
        let mut m = 0u32;
        for i in 0..B {
            let hit = (self.min_z[i] <= w.hi[2]) & (self.max_z[i] >= w.lo[2]);
            m |= u32::from(hit) << i;
        }
        m
    }
}

impl Nodes {
    /// Bit `i` set when node `i` may hold an item meeting the window (z too if `USE_Z`).
    #[inline]
    fn mask<const USE_Z: bool>(&self, w: &Window) -> u32 {
        let mut m = 0u32;
        for i in 0..B {
            let mut hit = (self.min_x[i] <= w.hi32[0])
                & (self.max_x[i] >= w.lo32[0])
                & (self.min_y[i] <= w.hi32[1])
                & (self.max_y[i] >= w.lo32[1]);
            if USE_Z {
                hit &= (self.min_z[i] <= w.hi32[2]) & (self.max_z[i] >= w.lo32[2]);
            }
            m |= u32::from(hit) << i;
        }
        m
    }
}

/// The packed tree. Item `i` (entry `i` of level 0) is the item in arena slot `i`.
#[derive(Debug, Default)]
pub(crate) struct Packed {
    /// Level 0: the items, in chunks of `B`.
    leaves: Vec<Leaves>,
    leaf_z: Vec<LeafZ>,
    /// `nodes[l - 1]`: level `l ≥ 1`; the last level is a single chunk.
    nodes: Vec<Vec<Nodes>>,
    /// Entries per level (level 0 included), padding excluded.
    counts: Vec<usize>,
    /// Tombstones: bit `i` set when item `i` was removed.
    dead: Vec<u64>,
    n_dead: usize,
}

/// A node of the walk: entry `index` of `level` (its children are chunk `index` of
/// `level - 1`), or for level 0 an item.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeRef {
    pub(crate) level: usize,
    pub(crate) index: usize,
}

impl Packed {
    /// Packs `boxes` (already in the order wanted; item `i` gets `ids[i]`).
    pub(crate) fn build(boxes: Vec<Aabb3>, ids: Vec<ItemId>) -> Packed {
        let n = boxes.len().min(ids.len());
        let mut packed = Packed {
            dead: vec![0; n.div_ceil(64)],
            ..Packed::default()
        };
        if n == 0 {
            return packed;
        }
        for (run, run_ids) in boxes.chunks(B).zip(ids.chunks(B)) {
            let (mut c, mut z) = (PAD_LEAVES, PAD_LEAF_Z);
            for (i, (b, &id)) in run.iter().zip(run_ids).enumerate() {
                c.min_x[i] = b.min[0];
                c.min_y[i] = b.min[1];
                c.max_x[i] = b.max[0];
                c.max_y[i] = b.max[1];
                z.min_z[i] = b.min[2];
                z.max_z[i] = b.max[2];
                c.ids[i] = id;
            }
            packed.leaves.push(c);
            packed.leaf_z.push(z);
        }
        packed.counts.push(n);
        let mut level = boxes;
        level.truncate(n);
        while level.len() > B {
            level = level
                .chunks(B)
                .map(|c| c.iter().fold(Aabb3::EMPTY, |acc, b| acc.union(b)))
                .collect();
            let chunks = level
                .chunks(B)
                .map(|run| {
                    let mut c = PAD_NODES;
                    for (i, b) in run.iter().enumerate() {
                        c.min_x[i] = down(b.min[0]);
                        c.min_y[i] = down(b.min[1]);
                        c.min_z[i] = down(b.min[2]);
                        c.max_x[i] = up(b.max[0]);
                        c.max_y[i] = up(b.max[1]);
                        c.max_z[i] = up(b.max[2]);
                    }
                    c
                })
                .collect();
            packed.nodes.push(chunks);
            packed.counts.push(level.len());
        }
        packed
    }

    /// Items packed, removed ones included.
    pub(crate) fn len(&self) -> usize {
        self.counts.first().copied().unwrap_or(0)
    }

    /// Items packed and not removed.
    pub(crate) fn live(&self) -> usize {
        self.len() - self.n_dead
    }

    pub(crate) fn dead(&self) -> usize {
        self.n_dead
    }

    /// The id of item `item`.
    #[inline]
    pub(crate) fn id(&self, item: usize) -> Option<ItemId> {
        if item >= self.len() {
            return None;
        }
        self.leaves.get(item / B).map(|c| c.ids[item % B])
    }

    #[inline]
    pub(crate) fn is_dead(&self, item: usize) -> bool {
        self.n_dead != 0
            && self
                .dead
                .get(item / 64)
                .is_some_and(|w| w >> (item % 64) & 1 != 0)
    }

    /// Tombstones item `item` if it is packed, alive and has id `id`; true if it did.
    pub(crate) fn kill(&mut self, item: usize, id: ItemId) -> bool {
        if self.id(item) != Some(id) || self.is_dead(item) {
            return false;
        }
        if let Some(w) = self.dead.get_mut(item / 64) {
            *w |= 1 << (item % 64);
            self.n_dead += 1;
            return true;
        }
        false
    }

    /// Bytes of the arrays (at capacity).
    pub(crate) fn bytes(&self) -> usize {
        let nodes: usize = self
            .nodes
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<Nodes>() + std::mem::size_of::<Vec<Nodes>>())
            .sum();
        nodes
            + self.nodes.capacity() * std::mem::size_of::<Vec<Nodes>>()
            + self.leaves.capacity() * std::mem::size_of::<Leaves>()
            + self.leaf_z.capacity() * std::mem::size_of::<LeafZ>()
            + self.counts.capacity() * std::mem::size_of::<usize>()
            + self.dead.capacity() * std::mem::size_of::<u64>()
    }

    /// The box of entry `index` of `level`: exact for items, rounded outwards for nodes, NaN
    /// for padding.
    pub(crate) fn entry_box(&self, level: usize, index: usize) -> Aabb3 {
        let (c, i) = (index / B, index % B);
        if level == 0 {
            if let (Some(xy), Some(z)) = (self.leaves.get(c), self.leaf_z.get(c)) {
                return Aabb3::new(
                    [xy.min_x[i], xy.min_y[i], z.min_z[i]],
                    [xy.max_x[i], xy.max_y[i], z.max_z[i]],
                );
            }
        } else if let Some(n) = self.nodes.get(level - 1).and_then(|l| l.get(c)) {
            return Aabb3::new(
                [n.min_x[i], n.min_y[i], n.min_z[i]].map(f64::from),
                [n.max_x[i], n.max_y[i], n.max_z[i]].map(f64::from),
            );
        }
        Aabb3::new([f64::NAN; 3], [f64::NAN; 3])
    }

    /// The top level's entries, to start a best-first walk from.
    pub(crate) fn roots(&self) -> impl Iterator<Item = NodeRef> + '_ {
        let level = self.counts.len().saturating_sub(1);
        let n = self.counts.last().copied().unwrap_or(0);
        (0..n)
            .map(move |index| NodeRef { level, index })
            .filter(move |c| c.level != 0 || !self.is_dead(c.index))
    }

    /// The children of `node` (a node of level ≥ 1): live entries of `level - 1` only.
    pub(crate) fn children(&self, node: NodeRef) -> impl Iterator<Item = NodeRef> + '_ {
        let level = node.level.wrapping_sub(1);
        let n = self.counts.get(level).copied().unwrap_or(0);
        let start = node.index * B;
        (start..(start + B).min(n))
            .map(move |index| NodeRef { level, index })
            .filter(move |c| c.level != 0 || !self.is_dead(c.index))
    }

    /// Calls `f(item, id)` for every live item whose box meets `w` (in x, y; in z as well if
    /// `USE_Z`), in tree order.
    ///
    /// Breadth-first, one level at a time: the masks of a level's chunks are computed in one
    /// branch-free pass, so their cache misses overlap instead of coming one after another
    /// (queries over millions of items are bound by memory latency). A level with more than
    /// `FRONTIER` chunks to visit goes on depth-first for the overflow; nothing is allocated.
    #[inline]
    pub(crate) fn walk<const USE_Z: bool, F>(&self, w: &Window, f: &mut F)
    where
        F: FnMut(usize, ItemId),
    {
        const FRONTIER: usize = 64;
        if self.leaves.is_empty() {
            return;
        }
        let mut level = self.nodes.len();
        let mut cur = [0usize; FRONTIER];
        let mut next = [0usize; FRONTIER];
        let mut masks = [0u32; FRONTIER];
        let mut n_cur = 1;
        while level > 0 {
            let Some(nodes) = self.nodes.get(level - 1) else {
                return;
            };
            for (m, &c) in masks.iter_mut().zip(&cur).take(n_cur) {
                *m = nodes.get(c).map_or(0, |n| n.mask::<USE_Z>(w));
            }
            let mut n_next = 0;
            for (&m, &c) in masks.iter().zip(&cur).take(n_cur) {
                let mut m = m;
                while m != 0 {
                    let child = c * B + m.trailing_zeros() as usize;
                    m &= m - 1;
                    match next.get_mut(n_next) {
                        Some(slot) => {
                            *slot = child;
                            n_next += 1;
                        }
                        None => self.walk_chunk::<USE_Z, F>(level - 1, child, w, f),
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
            n_cur = n_next;
            level -= 1;
        }
        for (m, &c) in masks.iter_mut().zip(&cur).take(n_cur) {
            *m = self.leaf_mask::<USE_Z>(c, w);
        }
        for (&m, &c) in masks.iter().zip(&cur).take(n_cur) {
            self.emit(c, m, f);
        }
    }

    #[inline]
    fn leaf_mask<const USE_Z: bool>(&self, chunk: usize, w: &Window) -> u32 {
        let m = self.leaves.get(chunk).map_or(0, |c| c.mask(w));
        if USE_Z && m != 0 {
            m & self.leaf_z.get(chunk).map_or(0, |z| z.mask(w))
        } else {
            m
        }
    }

    #[inline]
    fn emit<F: FnMut(usize, ItemId)>(&self, chunk: usize, mut m: u32, f: &mut F) {
        let Some(c) = self.leaves.get(chunk) else {
            return;
        };
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let item = chunk * B + i;
            if !self.is_dead(item) {
                f(item, c.ids[i]);
            }
        }
    }

    /// Depth-first [`Packed::walk`] from chunk `chunk` of `level`.
    fn walk_chunk<const USE_Z: bool, F>(&self, level: usize, chunk: usize, w: &Window, f: &mut F)
    where
        F: FnMut(usize, ItemId),
    {
        if level == 0 {
            self.emit(chunk, self.leaf_mask::<USE_Z>(chunk, w), f);
            return;
        }
        let Some(n) = self.nodes.get(level - 1).and_then(|l| l.get(chunk)) else {
            return;
        };
        let mut m = n.mask::<USE_Z>(w);
        while m != 0 {
            let child = chunk * B + m.trailing_zeros() as usize;
            m &= m - 1;
            self.walk_chunk::<USE_Z, F>(level - 1, child, w, f);
        }
    }

    /// Calls `f(item, id)` for every live item whose box passes `keep`; `keep` also prunes
    /// nodes (by their outward-rounded boxes), so it must hold for a node's box whenever it
    /// holds for one of its items'. Slower than [`Packed::walk`]; for the exact-test queries.
    pub(crate) fn visit<K, F>(&self, keep: &K, f: &mut F)
    where
        K: Fn(&Aabb3) -> bool,
        F: FnMut(usize, ItemId),
    {
        if let Some(top) = self.counts.len().checked_sub(1) {
            self.visit_chunk(top, 0, keep, f);
        }
    }

    fn visit_chunk<K, F>(&self, level: usize, chunk: usize, keep: &K, f: &mut F)
    where
        K: Fn(&Aabb3) -> bool,
        F: FnMut(usize, ItemId),
    {
        let n = self.counts.get(level).copied().unwrap_or(0);
        let start = chunk * B;
        for index in start..(start + B).min(n) {
            if level == 0 && self.is_dead(index) {
                continue;
            }
            if !keep(&self.entry_box(level, index)) {
                continue;
            }
            if level == 0 {
                if let Some(id) = self.id(index) {
                    f(index, id);
                }
            } else {
                self.visit_chunk(level - 1, index, keep, f);
            }
        }
    }
}

/// The order to pack `boxes` in: by the Hilbert index of their centres on a 2^16 grid over the
/// centres' extent, ties by position (so the order is deterministic).
pub(crate) fn hilbert_order(boxes: &[Aabb3]) -> Vec<usize> {
    let centre = |b: &Aabb3| [0.5 * (b.min[0] + b.max[0]), 0.5 * (b.min[1] + b.max[1])];
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for b in boxes {
        let c = centre(b);
        lo = [lo[0].min(c[0]), lo[1].min(c[1])];
        hi = [hi[0].max(c[0]), hi[1].max(c[1])];
    }
    const SIDE: f64 = 65535.0;
    let scale = |a: usize| {
        let w = hi[a] - lo[a];
        if w > 0.0 && w.is_finite() {
            SIDE / w
        } else {
            0.0
        }
    };
    let (sx, sy) = (scale(0), scale(1));
    let mut keys: Vec<u64> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let c = centre(b);
            // `as` saturates, and the values are in 0..=65535 anyway.
            let x = ((c[0] - lo[0]) * sx) as u32;
            let y = ((c[1] - lo[1]) * sy) as u32;
            (u64::from(hilbert(x.min(65535), y.min(65535))) << 32) | i as u64
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|k| (k & 0xFFFF_FFFF) as usize).collect()
}

/// Position of cell `(x, y)` along the Hilbert curve filling the 2^16 × 2^16 grid.
fn hilbert(mut x: u32, mut y: u32) -> u32 {
    const N: u32 = 1 << 16;
    let mut d = 0u32;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s != 0);
        let ry = u32::from(y & s != 0);
        d += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant so that the sub-curve has the standard orientation.
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rounding_goes_outwards() {
        for v in [4_000_000.1, -3.3, 0.1, 1e300, -1e300, 5.0] {
            assert!(f64::from(down(v)) <= v && f64::from(up(v)) >= v, "{v}");
        }
        assert!(down(f64::NAN).is_nan() && up(f64::INFINITY) == f32::INFINITY);
    }

    #[test]
    fn hilbert_visits_neighbouring_cells_in_turn() {
        // On a small grid (the top 2 bits), consecutive indices are adjacent cells.
        let mut cells: Vec<(u32, u32, u32)> = Vec::new();
        for x in 0..4u32 {
            for y in 0..4u32 {
                cells.push((hilbert(x << 14, y << 14) >> 28, x, y));
            }
        }
        cells.sort_unstable();
        assert_eq!(
            cells.iter().map(|c| c.0).collect::<Vec<_>>(),
            (0..16).collect::<Vec<_>>()
        );
        for w in cells.windows(2) {
            let (dx, dy) = (w[0].1.abs_diff(w[1].1), w[0].2.abs_diff(w[1].2));
            assert_eq!(dx + dy, 1, "{w:?}");
        }
    }

    #[test]
    fn levels_cover_their_children_and_padding_never_matches() {
        let boxes: Vec<Aabb3> = (0..300)
            .map(|i| {
                let (x, y) = ((i % 20) as f64 * 10.0, (i / 20) as f64 * 10.0);
                Aabb3::new([x, y, 0.0], [x + 5.0, y + 5.0, i as f64])
            })
            .collect();
        let order = hilbert_order(&boxes);
        let sorted: Vec<Aabb3> = order.iter().map(|&i| boxes[i]).collect();
        let ids = order.iter().map(|&i| i as u64).collect();
        let p = Packed::build(sorted, ids);
        assert_eq!(p.counts, vec![300, 19, 2]);
        assert_eq!((p.len(), p.id(300)), (300, None));
        for level in 1..p.counts.len() {
            for index in 0..p.counts[level] {
                let parent = p.entry_box(level, index);
                for c in p.children(NodeRef { level, index }) {
                    let b = p.entry_box(c.level, c.index);
                    assert_eq!(parent.union(&b), parent);
                }
            }
        }
        let mut all = Vec::new();
        let inf = f64::INFINITY;
        p.walk::<true, _>(&Window::new([-inf; 3], [inf; 3]), &mut |i, _| all.push(i));
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());
    }
}
