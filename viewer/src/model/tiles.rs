//! Streaming a tileset, without Bevy: which tiles to draw from where the camera is (by
//! screen-space error, as 3D Tiles clients do), and a least-recently-used cache of decoded
//! tiles within a memory budget. The plugin asks [`select`] each frame, fetches and decodes
//! what it wants off the frame loop ([`decode`]), and draws what is ready.

use std::collections::HashMap;

use cim_engine::{Crs, Refine, Tile, Tileset};
use cim_importers::tiles3d::{content::Content, decode_tile, Placer};

/// The default largest screen-space error, pixels (CesiumJS's default).
pub const DEFAULT_MAX_SSE: f64 = 16.0;

/// How the camera sees: its position (project CRS) and the pixels a radian covers vertically
/// (viewport height / (2 tan(fov_y / 2))).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub eye: [f64; 3],
    pub px_per_unit: f64,
    /// The largest screen-space error drawn, pixels.
    pub max_sse: f64,
}

impl View {
    pub fn new(eye: [f64; 3], viewport_height_px: f64, fov_y_rad: f64) -> View {
        View {
            eye,
            px_per_unit: viewport_height_px / (2.0 * (fov_y_rad / 2.0).tan()).max(1e-9),
            max_sse: DEFAULT_MAX_SSE,
        }
    }

    /// The tile's error on screen, pixels: its geometric error over its distance (infinite
    /// from inside its bounds).
    pub fn sse(&self, t: &Tile) -> f64 {
        let b = t.bounds;
        let d2: f64 = (0..3)
            .map(|i| {
                let v = self.eye[i];
                let d = if v < b[i] {
                    b[i] - v
                } else if v > b[i + 3] {
                    v - b[i + 3]
                } else {
                    0.0
                };
                d * d
            })
            .sum();
        if d2 == 0.0 {
            return f64::INFINITY;
        }
        t.geometric_error * self.px_per_unit / d2.sqrt()
    }
}

/// What to draw now, and what to fetch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Tiles to draw (loaded ones).
    pub draw: Vec<u32>,
    /// Tiles wanted but not loaded, most needed first.
    pub fetch: Vec<u32>,
}

/// Chooses the tiles of `tiles` (id order, parents first) to draw from `view`: a tile whose
/// error on screen is within `max_sse`, or a leaf, is drawn; otherwise its children are
/// considered. With REPLACE a tile stays drawn until all its children with content are loaded
/// (no holes while they stream in); with ADD it is drawn with them. `visible` culls by bounds
/// (the frustum); `loaded` says which tiles are decoded. Tiles without content draw nothing.
pub fn select(
    tiles: &[Tile],
    view: &View,
    visible: &dyn Fn(&[f64; 6]) -> bool,
    loaded: &dyn Fn(u32) -> bool,
) -> Selection {
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); tiles.len()];
    for t in tiles {
        if let Some(p) = t.parent {
            if let Some(c) = children.get_mut(p as usize) {
                c.push(t.id);
            }
        }
    }
    let mut out = Selection::default();
    let has_content = |id: u32| !matches!(tiles[id as usize].content, cim_engine::TileContent::None);
    // (tile, its error on screen) to fetch, sorted by need afterwards.
    let mut want: Vec<(u32, f64)> = Vec::new();
    let mut stack: Vec<u32> = if tiles.is_empty() { Vec::new() } else { vec![0] };
    while let Some(id) = stack.pop() {
        let t = &tiles[id as usize];
        if !visible(&t.bounds) {
            continue;
        }
        let sse = view.sse(t);
        let kids = &children[id as usize];
        let refine = sse > view.max_sse && !kids.is_empty();
        let mut draw_self = !refine || t.refine == Refine::Add;
        if refine && t.refine == Refine::Replace {
            // Until every visible child with content is there, the parent stays.
            let waiting = kids
                .iter()
                .any(|c| has_content(*c) && visible(&tiles[*c as usize].bounds) && !loaded(*c));
            if waiting {
                draw_self = true;
            }
        }
        if draw_self && has_content(id) {
            if loaded(id) {
                out.draw.push(id);
            } else {
                want.push((id, sse));
            }
        }
        if refine {
            stack.extend(kids.iter().rev());
        }
    }
    // A REPLACE parent drawn while its children load, and children already loaded: draw the
    // parent only (its children wait until all are in).
    let drawn: std::collections::HashSet<u32> = out.draw.iter().copied().collect();
    out.draw.retain(|id| {
        let mut up = tiles[*id as usize].parent;
        while let Some(p) = up {
            let pt = &tiles[p as usize];
            if pt.refine == Refine::Replace && drawn.contains(&p) {
                return false;
            }
            up = pt.parent;
        }
        true
    });
    want.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.fetch = want.into_iter().map(|(id, _)| id).collect();
    out
}

/// Decoded tiles within a memory budget, least recently used out first.
#[derive(Debug, Default)]
pub struct TileCache {
    pub budget: usize,
    used: usize,
    /// (bytes, last frame used) of each tile held.
    entries: HashMap<u32, (usize, u64)>,
}

impl TileCache {
    pub fn new(budget_bytes: usize) -> TileCache {
        TileCache {
            budget: budget_bytes,
            ..TileCache::default()
        }
    }

    pub fn contains(&self, id: u32) -> bool {
        self.entries.contains_key(&id)
    }

    pub fn used(&self) -> usize {
        self.used
    }

    /// Marks tiles as used in `frame`.
    pub fn touch(&mut self, ids: &[u32], frame: u64) {
        for id in ids {
            if let Some(e) = self.entries.get_mut(id) {
                e.1 = frame;
            }
        }
    }

    /// Holds a decoded tile of `bytes`; returns the tiles evicted to stay within the budget
    /// (never one used in `frame`, so what is on screen stays even over the budget).
    pub fn insert(&mut self, id: u32, bytes: usize, frame: u64) -> Vec<u32> {
        if let Some(old) = self.entries.insert(id, (bytes, frame)) {
            self.used -= old.0;
        }
        self.used += bytes;
        let mut evicted = Vec::new();
        if self.used <= self.budget {
            return evicted;
        }
        let mut by_age: Vec<(u64, u32, usize)> =
            self.entries.iter().map(|(k, (b, f))| (*f, *k, *b)).collect();
        by_age.sort_unstable();
        for (f, k, b) in by_age {
            if self.used <= self.budget || f >= frame {
                break;
            }
            self.entries.remove(&k);
            self.used -= b;
            evicted.push(k);
        }
        evicted
    }
}

/// The bytes a decoded tile holds in memory (positions, indices, coordinates, images).
pub fn weight(c: &Content) -> usize {
    let parts: usize = c
        .model
        .parts
        .iter()
        .map(|p| p.positions.len() * 24 + p.triangles.len() * 12 + p.uvs.as_ref().map_or(0, |u| u.len() * 8))
        .sum();
    let images: usize = c.model.images.iter().map(|i| i.bytes.len()).sum();
    parts + images + c.points.len() * 27
}

/// How a tileset's content is placed in the project CRS: made once a tileset, shared by its
/// tiles' decodes.
pub fn placer(set: &Tileset, project: &Crs) -> anyhow::Result<Placer> {
    Ok(Placer::new(&set.frame, project)?)
}

/// A tile's content decoded and placed in the project CRS by `placer` (the tileset's; call it
/// off the frame loop).
pub fn decode(set: &Tileset, tile: &Tile, bytes: &[u8], placer: &Placer) -> anyhow::Result<Content> {
    let format = match &tile.content {
        cim_engine::TileContent::Packed { format, .. }
        | cim_engine::TileContent::Referenced { format, .. } => format.clone(),
        cim_engine::TileContent::None => anyhow::bail!("tileset '{}' tile {}: no content", set.name, tile.id),
    };
    let base = set.root.as_ref().map(std::path::PathBuf::from);
    decode_tile(bytes, &format, tile.transform.as_ref(), placer, base.as_deref())
        .map_err(|e| anyhow::anyhow!("tileset '{}' tile {}: {e}", set.name, tile.id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cim_engine::TileContent;

    /// A quadtree of two levels over 1,024 m: the root (error 16), four children (8), sixteen
    /// grandchildren (leaves, 0).
    fn quadtree(refine: Refine) -> Vec<Tile> {
        let mut tiles = Vec::new();
        let content = || TileContent::Packed {
            format: "glb".into(),
            bytes: Vec::new(),
        };
        let tile = |id: u32, parent: Option<u32>, x0: f64, y0: f64, side: f64, error: f64| Tile {
            id,
            parent,
            bounds: [x0, y0, 0.0, x0 + side, y0 + side, 20.0],
            geometric_error: error,
            refine,
            content: content(),
            transform: None,
            triangles: 100,
            points: 0,
        };
        tiles.push(tile(0, None, 0.0, 0.0, 1024.0, 16.0));
        for c in 0..4u32 {
            let (x, y) = (f64::from(c % 2) * 512.0, f64::from(c / 2) * 512.0);
            tiles.push(tile(1 + c, Some(0), x, y, 512.0, 8.0));
        }
        for c in 0..4u32 {
            let (px, py) = (f64::from(c % 2) * 512.0, f64::from(c / 2) * 512.0);
            for g in 0..4u32 {
                let (x, y) = (px + f64::from(g % 2) * 256.0, py + f64::from(g / 2) * 256.0);
                tiles.push(tile(5 + 4 * c + g, Some(1 + c), x, y, 256.0, 0.0));
            }
        }
        tiles
    }

    fn view(eye: [f64; 3]) -> View {
        // 1080 px high, 60° field of view.
        View::new(eye, 1080.0, 60f64.to_radians())
    }

    #[test]
    fn far_away_the_root_alone_is_drawn_and_near_a_corner_it_refines_there() {
        let tiles = quadtree(Refine::Replace);
        let all = |_: u32| true;
        let everything = |_: &[f64; 6]| true;
        // 16 m of error at 20 km: 16 × 935 / 20000 < 1 px.
        let s = select(&tiles, &view([512.0, 512.0, 20_000.0]), &everything, &all);
        assert_eq!(s.draw, vec![0]);
        // 100 m above the south-west corner: its quarter refines to its leaves (8 m at 80 m is
        // 94 px), the other quarters stay coarse (8 m at 500 m and more, under 16 px).
        let s = select(&tiles, &view([20.0, 20.0, 100.0]), &everything, &all);
        assert!(!s.draw.contains(&0), "{s:?}");
        assert!(s.draw.contains(&5) && !s.draw.contains(&1), "{s:?}");
        assert!(s.draw.contains(&4), "{s:?}");
        // Every point of the ground is drawn once: the drawn tiles' areas add up.
        let area: f64 = s
            .draw
            .iter()
            .map(|id| {
                let b = tiles[*id as usize].bounds;
                (b[3] - b[0]) * (b[4] - b[1])
            })
            .sum();
        assert_eq!(area, 1024.0 * 1024.0);
        // A tighter error refines more.
        let mut strict = view([20.0, 20.0, 100.0]);
        strict.max_sse = 1.0;
        assert!(select(&tiles, &strict, &everything, &all).draw.len() > s.draw.len());
    }

    #[test]
    fn replace_keeps_the_parent_until_its_children_are_in_and_add_draws_both() {
        let tiles = quadtree(Refine::Replace);
        let everything = |_: &[f64; 6]| true;
        let v = view([20.0, 20.0, 100.0]);
        // Only the root is loaded: it is drawn, the children are fetched, nearest first.
        let s = select(&tiles, &v, &everything, &|id| id == 0);
        assert_eq!(s.draw, vec![0]);
        assert!(s.fetch.contains(&1) && s.fetch.contains(&4), "{s:?}");
        // Culled tiles are neither drawn nor fetched.
        let west = |b: &[f64; 6]| b[0] < 512.0;
        let s = select(&tiles, &v, &west, &|id| id == 0);
        assert!(!s.fetch.contains(&2) && !s.fetch.contains(&4), "{s:?}");
        // ADD: the root is drawn with its refined children.
        let add = quadtree(Refine::Add);
        let s = select(&add, &v, &everything, &|_| true);
        assert!(
            s.draw.contains(&0) && s.draw.contains(&1) && s.draw.contains(&5),
            "{s:?}"
        );
    }

    #[test]
    fn the_cache_stays_within_its_budget_and_keeps_what_is_on_screen() {
        let mut c = TileCache::new(1_000);
        assert!(c.insert(1, 400, 1).is_empty());
        assert!(c.insert(2, 400, 2).is_empty());
        // Over the budget: the least recently used goes.
        assert_eq!(c.insert(3, 400, 3), vec![1]);
        assert_eq!(c.used(), 800);
        // Touched in this frame, 2 stays; 3 goes instead when 4 comes.
        c.touch(&[2], 4);
        assert_eq!(c.insert(4, 400, 4), vec![3]);
        assert!(c.contains(2) && c.contains(4) && !c.contains(3));
        // What is on screen stays even over the budget.
        c.touch(&[2, 4], 5);
        assert!(c.insert(5, 900, 5).is_empty());
        assert_eq!(c.used(), 1_700);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod source_tests {
    use super::*;
    use crate::model::source::{wait, ProjectSource};

    /// A 3D Tiles city through the data source: its tiles listed, a tile's bytes fetched and
    /// decoded into the project CRS inside the tile's bounds.
    #[test]
    fn a_tileset_streams_through_the_data_source() {
        let dir = tempfile::tempdir().unwrap();
        let crs = Crs::from_epsg(32618).unwrap();
        let path = dir.path().join("p.cim.gpkg");
        let mut p = cim_engine::Project::create(&path, &crs, "000000").unwrap();
        let set = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/3dtiles/TilesetWithRequestVolume/tileset.json");
        cim_importers::tiles3d::import_3dtiles(&mut p, &set, &Default::default()).unwrap();
        drop(p);
        let source = ProjectSource::shared(&path);
        let sets = wait(source.tilesets()).unwrap();
        assert_eq!(sets.len(), 1);
        let tiles = wait(source.tiles(sets[0].name.clone())).unwrap();
        assert_eq!(tiles.len(), 9);
        let mut cache = TileCache::new(64 << 20);
        let placer = placer(&sets[0], &crs).unwrap();
        for t in tiles
            .iter()
            .filter(|t| !matches!(t.content, cim_engine::TileContent::None))
        {
            let bytes = wait(source.tile_bytes(sets[0].name.clone(), t.id))
                .unwrap()
                .unwrap();
            let c = decode(&sets[0], t, &bytes, &placer).unwrap();
            let b = c.bounds().unwrap();
            for i in 0..3 {
                assert!(
                    b[i] >= t.bounds[i] - 1e-6 && b[i + 3] <= t.bounds[i + 3] + 1e-6,
                    "tile {}: {b:?} in {:?}",
                    t.id,
                    t.bounds
                );
            }
            assert!(cache.insert(t.id, weight(&c), 1).is_empty());
        }
        // The city, the building and the 125,000 points fit well within 64 MiB.
        assert!(
            cache.used() > 1 << 20 && cache.used() < 64 << 20,
            "{}",
            cache.used()
        );
    }
}
