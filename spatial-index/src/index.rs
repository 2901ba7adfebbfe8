//! [`SpatialIndex`]: the tree plus the shape arena, and how items get in and out.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::packed::{self, Packed};
use crate::tree::{self, Leaf, Tree, Trees};
use crate::{Aabb3, Item, ItemId, Shape};

/// An R-tree over 3D boxes with the shapes behind them, answering window, polygon, distance,
/// k-nearest and ray-pick queries.
///
/// Items whose shape has no finite bounds (no coordinates, or a NaN/infinite one) are stored
/// and returned by [`SpatialIndex::get`], but no query ever returns them.
///
/// # Examples
///
/// ```
/// use cim_spatial_index::{Aabb3, Item, Shape, SpatialIndex};
///
/// let mut index = SpatialIndex::bulk_load(vec![
///     Item::new(7, Shape::Box(Aabb3::new([0.0, 0.0, 0.0], [10.0, 10.0, 20.0]))),
///     Item::new(9, Shape::Point { xyz: [50.0, 50.0, 0.0] }),
/// ]);
/// index.insert(Item::new(3, Shape::Point { xyz: [5.0, 5.0, 1.0] }));
/// assert_eq!(index.len(), 3);
/// assert_eq!(index.window_2d([0.0, 0.0], [10.0, 10.0]), vec![3, 7]);
/// assert!(index.remove(7));
/// assert!(!index.remove(7));
/// assert_eq!(index.window_2d([0.0, 0.0], [10.0, 10.0]), vec![3]);
/// ```
#[derive(Default)]
pub struct SpatialIndex {
    pub(crate) tree: Trees,
    /// Shape arena; `None` marks a free slot (also listed in `free`).
    pub(crate) slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    slot_of: IdMap,
}

type IdMap = HashMap<ItemId, usize, BuildHasherDefault<IdHasher>>;

/// Below this many inserted-or-removed items since the last pack, the index never repacks.
const REBUILD_MIN: usize = 1024;

impl std::fmt::Debug for SpatialIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpatialIndex")
            .field("len", &self.len())
            .field("indexed", &self.tree.size())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) id: ItemId,
    pub(crate) shape: Shape,
}

impl SpatialIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the index in one pass: a packed static R-tree (Hilbert order, nodes of 16, flat
    /// arrays; see `packed.rs`), much faster to build and to query than inserting one by one.
    /// If an id repeats, the later item wins.
    pub fn bulk_load(items: Vec<Item>) -> Self {
        let mut slot_of: IdMap = HashMap::default();
        slot_of.reserve(items.len());
        let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
        for item in items {
            let entry = Entry {
                id: item.id,
                shape: item.shape,
            };
            match slot_of.get(&item.id) {
                Some(&at) => entries[at] = entry,
                None => {
                    slot_of.insert(item.id, entries.len());
                    entries.push(entry);
                }
            }
        }
        Self::pack(entries, slot_of)
    }

    /// The index of `entries` (distinct ids, all keys of `slot_of`) as one packed tree: items
    /// with bounds in Hilbert order first, so that the packed position is the arena slot, then
    /// the unbounded ones. `slot_of`'s values are overwritten.
    fn pack(entries: Vec<Entry>, mut slot_of: IdMap) -> Self {
        let mut bounded: Vec<(Aabb3, Entry)> = Vec::with_capacity(entries.len());
        let mut unbounded = Vec::new();
        for e in entries {
            match e.shape.bounds() {
                Some(b) => bounded.push((b, e)),
                None => unbounded.push(e),
            }
        }
        let boxes: Vec<Aabb3> = bounded.iter().map(|(b, _)| *b).collect();
        let order = packed::hilbert_order(&boxes);
        drop(boxes);
        let mut bounded: Vec<Option<(Aabb3, Entry)>> = bounded.into_iter().map(Some).collect();
        let mut slots: Vec<Option<Entry>> = Vec::with_capacity(bounded.len() + unbounded.len());
        let mut boxes = Vec::with_capacity(bounded.len());
        let mut ids = Vec::with_capacity(bounded.len());
        for i in order {
            if let Some((b, e)) = bounded.get_mut(i).and_then(Option::take) {
                boxes.push(b);
                ids.push(e.id);
                slots.push(Some(e));
            }
        }
        drop(bounded);
        slots.extend(unbounded.into_iter().map(Some));
        for (slot, e) in slots.iter().enumerate() {
            if let Some(e) = e {
                slot_of.insert(e.id, slot);
            }
        }
        Self {
            tree: Trees {
                packed: Packed::build(boxes, ids),
                dynamic: Tree::default(),
            },
            slots,
            free: Vec::new(),
            slot_of,
        }
    }

    /// Repacks everything into one packed tree once the items inserted since the last pack,
    /// plus those removed from it, exceed a quarter of it (and [`REBUILD_MIN`]). Rebuilding
    /// costs about one bulk load of the live items, so the amortised cost per insert or remove
    /// is about four items' worth of bulk load, and queries never walk an rstar tree bigger
    /// than a quarter of the packed one.
    fn maybe_rebuild(&mut self) {
        let changes = self.tree.dynamic.size() + self.tree.packed.dead();
        if changes > REBUILD_MIN && changes > self.tree.packed.len() / 4 {
            let entries: Vec<Entry> = std::mem::take(&mut self.slots).into_iter().flatten().collect();
            let slot_of = std::mem::take(&mut self.slot_of);
            *self = Self::pack(entries, slot_of);
        }
    }

    /// Number of items stored (including those with no finite bounds).
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Adds an item; an item already stored under the same id is replaced.
    pub fn insert(&mut self, item: Item) {
        self.remove(item.id);
        let entry = Entry {
            id: item.id,
            shape: item.shape,
        };
        let bounds = entry.shape.bounds();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.slot_of.insert(item.id, slot);
        if let Some(bounds) = bounds {
            self.tree.dynamic.insert(Leaf {
                bounds,
                id: item.id,
                slot,
            });
            self.maybe_rebuild();
        }
    }

    /// Removes the item stored under `id`; false when there was none.
    pub fn remove(&mut self, id: ItemId) -> bool {
        let Some(slot) = self.slot_of.remove(&id) else {
            return false;
        };
        if let Some(entry) = self.slots[slot].take() {
            // `bounds` is a pure function of the shape, so this is the box it was filed under.
            if let Some(bounds) = entry.shape.bounds() {
                if !self.tree.packed.kill(slot, id) {
                    self.tree.dynamic.remove(&Leaf { bounds, id, slot });
                }
            }
        }
        self.free.push(slot);
        self.maybe_rebuild();
        true
    }

    /// The shape stored under `id`.
    pub fn get(&self, id: ItemId) -> Option<&Shape> {
        let slot = *self.slot_of.get(&id)?;
        self.slots[slot].as_ref().map(|e| &e.shape)
    }

    /// The box the item is filed under; `None` if absent or without finite bounds.
    pub fn bounds(&self, id: ItemId) -> Option<Aabb3> {
        self.get(id)?.bounds()
    }

    /// Estimated bytes of the index's own structures: tree nodes, shape arena, id map and the
    /// non-coordinate heap parts of shapes (hole-ring headers; a mesh's BVH nodes and local
    /// bounds, [`crate::TriangleMesh::index_bytes`]). Coordinate buffers are excluded (a mesh's
    /// positions, triangles and per-triangle tags: its geometry); so are allocator overheads.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    ///
    /// let items = (0..1000).map(|i| Item::new(i, Shape::Point { xyz: [i as f64, 0.0, 0.0] }));
    /// let index = SpatialIndex::bulk_load(items.collect());
    /// let per_item = index.memory_bytes() / index.len();
    /// assert!(per_item > 100 && per_item < 300, "{per_item}");
    /// ```
    pub fn memory_bytes(&self) -> usize {
        let map_buckets = (self.slot_of.capacity() * 8 / 7).next_power_of_two();
        let map = map_buckets * (std::mem::size_of::<(ItemId, usize)>() + 1);
        let holes: usize = self
            .slots
            .iter()
            .flatten()
            .map(|e| match &e.shape {
                Shape::Prism { footprint, .. } => std::mem::size_of_val(footprint.interiors()),
                Shape::Mesh(m) => m.index_bytes(),
                _ => 0,
            })
            .sum();
        std::mem::size_of::<Self>()
            + tree::node_bytes(self.tree.dynamic.root())
            + self.tree.packed.bytes()
            + self.slots.capacity() * std::mem::size_of::<Option<Entry>>()
            + self.free.capacity() * std::mem::size_of::<usize>()
            + map
            + holes
    }

    /// The stored shape in `slot`. Leaves only point at occupied slots.
    pub(crate) fn shape_at(&self, slot: usize) -> Option<&Shape> {
        self.slots.get(slot)?.as_ref().map(|e| &e.shape)
    }
}

/// A fast hasher for integer ids (SplitMix64 finaliser). Ids are the caller's dense keys, not
/// attacker-chosen, so DoS resistance is not needed; SipHash cost 40% of a 1M bulk load.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8)) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn point(id: ItemId, x: f64) -> Item {
        Item::new(id, Shape::Point { xyz: [x, 0.0, 0.0] })
    }

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SpatialIndex>();
    }

    #[test]
    fn bulk_load_skips_unbounded_items_but_keeps_them() {
        let index = SpatialIndex::bulk_load(vec![point(1, 0.0), point(2, f64::NAN), point(3, 1.0)]);
        assert_eq!((index.len(), index.tree.size()), (3, 2));
        assert_eq!(index.window_2d([-5.0; 2], [5.0; 2]), vec![1, 3]);
        assert!(format!("{index:?}").contains("len: 3"));
    }

    #[test]
    fn repeated_id_in_bulk_load_keeps_the_later_item() {
        let index = SpatialIndex::bulk_load(vec![point(1, 0.0), point(1, 5.0)]);
        assert_eq!(index.len(), 1);
        assert_eq!(index.get(1), Some(&Shape::Point { xyz: [5.0, 0.0, 0.0] }));
        assert_eq!(index.window_2d([-1.0, -1.0], [1.0, 1.0]), Vec::<ItemId>::new());
    }

    #[test]
    fn insert_replaces_and_reuses_freed_slots() {
        let mut index = SpatialIndex::new();
        index.insert(point(1, 0.0));
        index.insert(point(2, 1.0));
        index.insert(point(1, 9.0));
        assert_eq!(index.len(), 2);
        assert_eq!(index.slots.len(), 2, "slot of the replaced item is reused");
        assert_eq!(index.window_2d([8.0, -1.0], [10.0, 1.0]), vec![1]);
        assert_eq!(index.bounds(1).map(|b| b.min), Some([9.0, 0.0, 0.0]));
    }

    #[test]
    fn item_without_bounds_is_stored_but_never_found() {
        let mut index = SpatialIndex::new();
        index.insert(point(4, f64::NAN));
        assert_eq!(index.len(), 1);
        assert!(index.get(4).is_some());
        assert_eq!(index.bounds(4), None);
        assert!(index.window_2d([-1e300, -1e300], [1e300, 1e300]).is_empty());
        assert!(index.remove(4));
        assert!(index.is_empty());
    }
}
