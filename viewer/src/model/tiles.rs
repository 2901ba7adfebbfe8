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
    /// Loaded tiles wanted but not drawn yet (REPLACE children waiting for their siblings):
    /// the cache keeps them as it keeps what is drawn.
    pub hold: Vec<u32>,
}

/// Chooses the tiles of `tiles` (id order, parents first) to draw from `view`: a tile whose
/// error on screen is within `max_sse`, or a leaf, is drawn; otherwise its children are
/// considered. With REPLACE a tile is replaced only once everything its visible children need is
/// loaded (no holes while they stream in; meanwhile it is drawn and what they have loaded is
/// held); with ADD it is drawn with them. `visible` culls by bounds (the frustum); `loaded` says
/// which tiles are decoded. Tiles without content draw nothing and are always refined.
pub fn select(
    tiles: &[Tile],
    view: &View,
    visible: &dyn Fn(&[f64; 6]) -> bool,
    loaded: &dyn Fn(u32) -> bool,
) -> Selection {
    select_in(tiles, &children_of(tiles), view, visible, loaded)
}

/// Each tile's children (by id), for [`select_in`]: made once a tileset, not each frame.
pub fn children_of(tiles: &[Tile]) -> Vec<Vec<u32>> {
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); tiles.len()];
    for t in tiles {
        if let Some(p) = t.parent {
            if let Some(c) = children.get_mut(p as usize) {
                c.push(t.id);
            }
        }
    }
    children
}

/// [`select`] with the tiles' children already listed ([`children_of`]).
pub fn select_in(
    tiles: &[Tile],
    children: &[Vec<u32>],
    view: &View,
    visible: &dyn Fn(&[f64; 6]) -> bool,
    loaded: &dyn Fn(u32) -> bool,
) -> Selection {
    let mut walk = Walk {
        tiles,
        children,
        view,
        visible,
        loaded,
        want: Vec::new(),
        hold: Vec::new(),
    };
    let mut draw = Vec::new();
    if !tiles.is_empty() {
        walk.visit(0, &mut draw);
    }
    let Walk { mut want, hold, .. } = walk;
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    want.dedup_by_key(|w| w.0);
    Selection {
        draw,
        fetch: want.into_iter().map(|(id, _)| id).collect(),
        hold,
    }
}

/// The walk down the tree of [`select`].
struct Walk<'a> {
    tiles: &'a [Tile],
    children: &'a [Vec<u32>],
    view: &'a View,
    visible: &'a dyn Fn(&[f64; 6]) -> bool,
    loaded: &'a dyn Fn(u32) -> bool,
    /// (tile, its error on screen) to fetch.
    want: Vec<(u32, f64)>,
    hold: Vec<u32>,
}

impl Walk<'_> {
    /// Adds what tile `id`'s subtree draws to `draw`; whether that is complete (every tile it
    /// needs loaded).
    fn visit(&mut self, id: u32, draw: &mut Vec<u32>) -> bool {
        let t = &self.tiles[id as usize];
        if !(self.visible)(&t.bounds) {
            return true;
        }
        let content = !matches!(t.content, cim_engine::TileContent::None);
        let loaded = !content || (self.loaded)(id);
        let sse = self.view.sse(t);
        let kids = &self.children[id as usize];
        // A tile without content groups its children: they are what it shows.
        let refine = !kids.is_empty() && (sse > self.view.max_sse || !content);
        let own = |w: &mut Self, draw: &mut Vec<u32>| {
            if !content {
                return true;
            }
            if loaded {
                draw.push(id);
            } else {
                w.want.push((id, sse));
            }
            loaded
        };
        if !refine {
            return own(self, draw);
        }
        if t.refine == Refine::Add {
            let mine = own(self, draw);
            let mut all = mine;
            for &k in kids {
                all &= self.visit(k, draw);
            }
            return all;
        }
        let mut below = Vec::new();
        let mut complete = true;
        for &k in kids {
            complete &= self.visit(k, &mut below);
        }
        if complete {
            draw.extend(below);
            return true;
        }
        if content && loaded {
            // Drawn while its children come in; what they have loaded stays held.
            draw.push(id);
            self.hold.extend(below);
            return true;
        }
        // Neither it nor its children all there: what there is shows, and it is fetched too.
        own(self, draw);
        draw.extend(below);
        false
    }
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

/// The camera's view as planes, for culling tiles by their bounds (project CRS).
#[derive(Clone, Debug, PartialEq)]
pub struct Frustum {
    /// Inward normals and offsets: a point p is inside where n·p + d ≥ 0 for all.
    planes: Vec<([f64; 3], f64)>,
}

impl Frustum {
    /// The view from `eye` along `forward` (project axes, z up) with a vertical field of view
    /// `fov_y` (radians) and `aspect` (width / height); no far plane.
    pub fn new(eye: [f64; 3], forward: [f64; 3], fov_y: f64, aspect: f64) -> Frustum {
        let norm = |v: [f64; 3]| {
            let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
            [v[0] / l, v[1] / l, v[2] / l]
        };
        let cross = |a: [f64; 3], b: [f64; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        let f = norm(forward);
        // Straight down or up: any horizontal right will do.
        let r0 = cross(f, [0.0, 0.0, 1.0]);
        let right = if r0.iter().map(|v| v * v).sum::<f64>() < 1e-12 {
            [1.0, 0.0, 0.0]
        } else {
            norm(r0)
        };
        let up = cross(right, f);
        let (ty, tx) = ((fov_y / 2.0).tan(), (fov_y / 2.0).tan() * aspect);
        let add = |a: [f64; 3], b: [f64; 3], k: f64| [a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2]];
        // Each side plane holds the eye and an edge of the view; its inward normal.
        let sides = [
            cross(up, add(f, right, tx)),  // right edge: normal points left-inward
            cross(add(f, right, -tx), up), // left edge
            cross(add(f, up, ty), right),  // top edge
            cross(right, add(f, up, -ty)), // bottom edge
        ];
        let mut planes: Vec<([f64; 3], f64)> = sides
            .into_iter()
            .map(|n| {
                let n = norm(n);
                (n, -(n[0] * eye[0] + n[1] * eye[1] + n[2] * eye[2]))
            })
            .collect();
        // Behind the eye.
        planes.push((f, -(f[0] * eye[0] + f[1] * eye[1] + f[2] * eye[2])));
        Frustum { planes }
    }

    /// Whether any of box `b` (`[min x, min y, min z, max x, max y, max z]`) may be in view
    /// (false only where the whole box is outside one plane).
    pub fn sees(&self, b: &[f64; 6]) -> bool {
        self.planes.iter().all(|(n, d)| {
            // The box's corner farthest along the normal.
            let p = [0, 1, 2].map(|i| if n[i] >= 0.0 { b[i + 3] } else { b[i] });
            n[0] * p[0] + n[1] * p[1] + n[2] * p[2] + d >= 0.0
        })
    }
}

/// How points are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PointColors {
    /// Their own colours (by height where they have none).
    #[default]
    Rgb,
    /// By ASPRS class.
    Class,
    /// By height, over the tileset's range.
    Height,
    /// By intensity, grey.
    Intensity,
}

impl PointColors {
    pub const ALL: [PointColors; 4] = [
        PointColors::Rgb,
        PointColors::Class,
        PointColors::Height,
        PointColors::Intensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PointColors::Rgb => "rgb",
            PointColors::Class => "class",
            PointColors::Height => "height",
            PointColors::Intensity => "intensity",
        }
    }

    pub fn parse(s: &str) -> Option<PointColors> {
        PointColors::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// The colour of ASPRS class `c` (linear RGBA), as lidar tools show them: ground brown,
/// vegetation greens, buildings orange, water blue, noise magenta, the rest grey.
pub fn class_color(c: u8) -> [f32; 4] {
    match c {
        2 => [0.42, 0.26, 0.12, 1.0],
        3 => [0.45, 0.80, 0.30, 1.0],
        4 => [0.15, 0.60, 0.10, 1.0],
        5 => [0.03, 0.30, 0.03, 1.0],
        6 => [0.95, 0.40, 0.08, 1.0],
        7 | 18 => [0.90, 0.05, 0.80, 1.0],
        9 => [0.05, 0.25, 0.90, 1.0],
        10 => [0.50, 0.35, 0.55, 1.0],
        11 => [0.12, 0.12, 0.12, 1.0],
        17 => [0.80, 0.80, 0.20, 1.0],
        _ => [0.60, 0.60, 0.60, 1.0],
    }
}

/// A height's colour over `[lo, hi]`: blue, cyan, green, yellow, red (linear RGBA).
pub fn height_color(z: f64, lo: f64, hi: f64) -> [f32; 4] {
    let t = if hi > lo {
        ((z - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    } as f32;
    let stops: [[f32; 3]; 5] = [
        [0.02, 0.05, 0.70],
        [0.00, 0.55, 0.75],
        [0.10, 0.65, 0.10],
        [0.90, 0.80, 0.05],
        [0.80, 0.05, 0.02],
    ];
    let x = t * 4.0;
    let k = (x.floor() as usize).min(3);
    let f = x - k as f32;
    let (a, b) = (stops[k], stops[k + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
        1.0,
    ]
}

/// sRGB 8-bit to linear.
fn linear(c: u8) -> f32 {
    let v = f32::from(c) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// A tile's points in the viewer's local frame, with what colours them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointsData {
    pub positions: Vec<[f32; 3]>,
    /// Heights in the project CRS, m.
    pub heights: Vec<f32>,
    pub rgb: Option<Vec<[u8; 3]>>,
    pub classes: Option<Vec<u8>>,
    pub intensities: Option<Vec<u16>>,
    /// About how far apart the points are, m: the size a point is drawn (its pixels follow
    /// the distance).
    pub spacing_m: f32,
}

impl PointsData {
    /// Each point's colour by `mode`, heights over `[lo, hi]` (linear RGBA).
    pub fn colors(&self, mode: PointColors, lo: f64, hi: f64) -> Vec<[f32; 4]> {
        let n = self.heights.len();
        let by_height = || {
            self.heights
                .iter()
                .map(|z| height_color(f64::from(*z), lo, hi))
                .collect()
        };
        match mode {
            PointColors::Rgb => match &self.rgb {
                Some(c) if c.len() == n => c
                    .iter()
                    .map(|c| [linear(c[0]), linear(c[1]), linear(c[2]), 1.0])
                    .collect(),
                _ => by_height(),
            },
            PointColors::Height => by_height(),
            PointColors::Class => match &self.classes {
                Some(c) if c.len() == n => c.iter().map(|c| class_color(*c)).collect(),
                _ => vec![class_color(1); n],
            },
            PointColors::Intensity => match &self.intensities {
                Some(i) if i.len() == n => {
                    // 8-bit intensities stored as they were, or the full 16 bits.
                    let top = if i.iter().any(|v| *v > 255) {
                        65535.0
                    } else {
                        255.0
                    };
                    i.iter()
                        .map(|v| {
                            // A square root lifts the dark end, where most returns are.
                            let g = (f32::from(*v) / top).sqrt();
                            [g, g, g, 1.0]
                        })
                        .collect()
                }
                _ => vec![[0.5, 0.5, 0.5, 1.0]; n],
            },
        }
    }
}

/// A texture image and its mipmaps (each level half the one before, down to 1 × 1), RGBA8
/// sRGB, the levels one after the other, rows from the top: far-off photo textures are
/// sampled from a level their size on screen needs rather than shimmering.
#[derive(Clone, Debug, PartialEq)]
pub struct TileImage {
    pub width: u32,
    pub height: u32,
    pub levels: u32,
    pub data: Vec<u8>,
}

impl TileImage {
    pub fn with_mipmaps(img: &crate::model::scene::atlas::Rgba) -> TileImage {
        let (mut w, mut h) = (img.width.max(1) as usize, img.height.max(1) as usize);
        let mut data = img.pixels.clone();
        let mut levels = 1;
        let mut start = 0;
        while w > 1 || h > 1 {
            let (nw, nh) = ((w / 2).max(1), (h / 2).max(1));
            let mut next = Vec::with_capacity(nw * nh * 4);
            for y in 0..nh {
                for x in 0..nw {
                    // The 2 × 2 block above (clamped at an odd edge), averaged.
                    let mut sum = [0u32; 4];
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let (sx, sy) = ((2 * x + dx).min(w - 1), (2 * y + dy).min(h - 1));
                        let o = start + (sy * w + sx) * 4;
                        for (c, v) in sum.iter_mut().enumerate() {
                            *v += u32::from(data.get(o + c).copied().unwrap_or(0));
                        }
                    }
                    next.extend(sum.iter().map(|v| ((v + 2) / 4) as u8));
                }
            }
            start = data.len();
            data.extend(next);
            (w, h) = (nw, nh);
            levels += 1;
        }
        TileImage {
            width: img.width.max(1),
            height: img.height.max(1),
            levels,
            data,
        }
    }
}

/// A tile's triangles with one material, in the viewer's local frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreparedMesh {
    pub mesh: crate::model::scene::MeshData,
    /// Index into [`PreparedTile::materials`].
    pub material: Option<usize>,
    /// Each vertex's feature id (`_FEATURE_ID_0`, `_BATCHID`), where the content has them.
    pub feature_ids: Option<Vec<u32>>,
}

/// A decoded tile made ready for the GPU (off the frame loop): meshes in the viewer's local
/// frame, their materials with images decoded to pixels, and points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreparedTile {
    pub meshes: Vec<PreparedMesh>,
    /// Base colour (linear RGBA) and image (index into `images`).
    pub materials: Vec<([f32; 4], Option<usize>)>,
    /// Decoded images with their mipmaps (`None`: one that could not be read; its surfaces
    /// are drawn plain).
    pub images: Vec<Option<TileImage>>,
    pub points: Option<PointsData>,
    /// The properties of the features its meshes hold (batch table, property table), by id,
    /// as text.
    pub features: std::collections::HashMap<u32, Vec<(String, String)>>,
    /// What could not be shown, one line each.
    pub notices: Vec<String>,
}

/// A property value as text: strings as they are, the rest as JSON.
fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl PreparedTile {
    /// Bytes it holds (vertices, indices, pixels, points), for the cache's budget.
    pub fn weight(&self) -> usize {
        let meshes: usize = self.meshes.iter().map(|m| m.mesh.heap_bytes()).sum();
        let images: usize = self.images.iter().flatten().map(|i| i.data.len()).sum();
        // A point is drawn as a quad of four vertices (position, corner, colour) and six
        // indices, and keeps what colours it.
        let points = self
            .points
            .as_ref()
            .map_or(0, |p| p.positions.len() * (4 * 36 + 24 + 12));
        meshes + images + points
    }
}

/// Makes decoded content ready for the GPU: positions into the viewer's local frame around
/// `origin`, normals per face (flat, as photogrammetry meshes are lit by their photos),
/// JPEG/PNG images decoded. Run it off the frame loop.
pub fn prepare(content: &Content, origin: &crate::model::scene::LocalOrigin) -> PreparedTile {
    use crate::model::scene::atlas::Rgba;
    use crate::model::scene::{triangle_normal, MeshData};
    let mut out = PreparedTile::default();
    for (k, img) in content.model.images.iter().enumerate() {
        let decoded = match img.mime.as_str() {
            "image/jpeg" | "image/png" | "" => image::load_from_memory(&img.bytes)
                .map(|i| {
                    let rgba = i.to_rgba8();
                    Rgba {
                        width: rgba.width(),
                        height: rgba.height(),
                        pixels: rgba.into_raw(),
                    }
                })
                .map_err(|e| e.to_string()),
            other => Err(format!("{other} is not decoded by the viewer")),
        };
        match decoded {
            Ok(i) => out.images.push(Some(TileImage::with_mipmaps(&i))),
            Err(e) => {
                out.notices
                    .push(format!("image {k}: {e}; its surfaces are drawn plain"));
                out.images.push(None);
            }
        }
    }
    out.materials = content
        .model
        .materials
        .iter()
        .map(|m| (m.color, m.image.filter(|i| *i < content.model.images.len())))
        .collect();
    for part in &content.model.parts {
        let local: Vec<[f32; 3]> = part
            .positions
            .iter()
            .map(|p| origin.to_local(p[0], p[1], p[2]))
            .collect();
        let mut mesh = MeshData::default();
        let uvs = part.uvs.as_ref().filter(|u| u.len() == local.len());
        let mut out_uvs = uvs.map(|_| Vec::with_capacity(part.triangles.len() * 3));
        let ids = part.feature_ids.as_ref().filter(|f| f.len() == local.len());
        let mut out_ids = ids.map(|_| Vec::with_capacity(part.triangles.len() * 3));
        // Unshared vertices, so that each face keeps its own normal.
        for t in &part.triangles {
            let Some(v) = t
                .iter()
                .map(|i| local.get(*i as usize).copied())
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let n = triangle_normal(v[0], v[1], v[2]);
            for (corner, p) in t.iter().zip(&v) {
                let i = mesh.push(*p, n, [1.0; 4]);
                mesh.indices.push(i);
                if let (Some(o), Some(u)) = (out_uvs.as_mut(), uvs) {
                    o.push(u[*corner as usize]);
                }
                if let (Some(o), Some(f)) = (out_ids.as_mut(), ids) {
                    o.push(f[*corner as usize]);
                }
            }
        }
        if mesh.positions.is_empty() {
            continue;
        }
        mesh.uvs = out_uvs;
        if let Some(f) = &out_ids {
            for id in f {
                out.features.entry(*id).or_insert_with(|| {
                    content
                        .feature_properties(*id)
                        .iter()
                        .map(|(k, v)| (k.clone(), text_of(v)))
                        .collect()
                });
            }
        }
        out.meshes.push(PreparedMesh {
            mesh,
            material: part.material.filter(|m| *m < out.materials.len()),
            feature_ids: out_ids,
        });
    }
    if !content.points.is_empty() {
        let n = content.points.len();
        let positions: Vec<[f32; 3]> = content
            .points
            .iter()
            .map(|p| origin.to_local(p[0], p[1], p[2]))
            .collect();
        let b = content.bounds().unwrap_or([0.0; 6]);
        let area = ((b[3] - b[0]) * (b[4] - b[1])).max(1e-6);
        out.points = Some(PointsData {
            heights: content.points.iter().map(|p| p[2] as f32).collect(),
            positions,
            rgb: content.colors.clone().filter(|c| c.len() == n),
            classes: content.classes.clone().filter(|c| c.len() == n),
            intensities: content.intensities.clone().filter(|c| c.len() == n),
            spacing_m: ((area / n as f64).sqrt() as f32).clamp(0.02, 50.0),
        });
    }
    out
}

/// Where photogrammetry lies: the XY boxes `[min x, min y, max x, max y]` of the mesh
/// tilesets' first tiles with content down each branch, each with its finer tiles (for heights:
/// see [`PhotoCover::height_at`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhotoCover {
    pub boxes: Vec<[f64; 4]>,
    /// Every mesh tile with content: XY box, lowest and highest z, depth.
    tiles: Vec<([f64; 4], f64, f64, u32)>,
}

impl PhotoCover {
    pub fn of<'a>(sets: impl IntoIterator<Item = (&'a Tileset, &'a [Tile])>) -> PhotoCover {
        let mut out = PhotoCover::default();
        for (set, tiles) in sets {
            if set.kind != cim_engine::TilesetKind::Mesh {
                continue;
            }
            let has = |t: &Tile| !matches!(t.content, cim_engine::TileContent::None);
            for t in tiles {
                let (mut up, mut under_content, mut depth) = (t.parent, false, 0u32);
                while let Some(p) = up {
                    let pt = &tiles[p as usize];
                    under_content |= has(pt);
                    depth += 1;
                    up = pt.parent;
                }
                if !has(t) {
                    continue;
                }
                let b = [t.bounds[0], t.bounds[1], t.bounds[3], t.bounds[4]];
                if !under_content {
                    out.boxes.push(b);
                }
                out.tiles.push((b, t.bounds[2], t.bounds[5], depth));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// Whether photogrammetry covers point (x, y).
    pub fn covers(&self, x: f64, y: f64) -> bool {
        self.boxes
            .iter()
            .any(|b| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])
    }

    /// The lowest and highest z of the finest photo tile over (x, y): how high what stands
    /// there may reach (the tile's box, so at most the tallest thing in it).
    pub fn height_at(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        self.tiles
            .iter()
            .filter(|(b, ..)| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])
            // The deepest, and of those the smallest.
            .max_by(|a, b| {
                let area = |t: &([f64; 4], f64, f64, u32)| (t.0[2] - t.0[0]) * (t.0[3] - t.0[1]);
                a.3.cmp(&b.3).then(area(b).total_cmp(&area(a)))
            })
            .map(|t| (t.1, t.2))
    }
}

/// A building's volume over a photo mesh seen from above: its roof's triangles (x and z of the
/// local frame) and height, for fitting its top to the photo mesh within its footprint.
#[derive(Clone, Debug, PartialEq)]
pub struct VeilRoof {
    pub id: u32,
    /// The roof's height as drawn (local y).
    pub top: f32,
    /// `[min x, min z, max x, max z]`.
    pub bbox: [f32; 4],
    pub triangles: Vec<[[f32; 2]; 3]>,
}

impl VeilRoof {
    /// The roof of building `id` in `tile` (its highest flat triangles), if it has one.
    pub fn of(tile: &crate::model::scene::BuildingTile, id: u32) -> Option<VeilRoof> {
        let range = tile.range_of(id)?;
        let p = &tile.mesh.positions;
        let top = p
            .get(range.start as usize..range.end as usize)?
            .iter()
            .map(|q| q[1])
            .fold(f32::NEG_INFINITY, f32::max);
        let mut bbox = [f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY];
        let mut triangles = Vec::new();
        for t in tile.mesh.indices.chunks_exact(3) {
            if !t.iter().all(|v| range.contains(v)) {
                continue;
            }
            let v = [t[0], t[1], t[2]].map(|i| p[i as usize]);
            if v.iter().all(|q| (q[1] - top).abs() < 1e-3) {
                for q in &v {
                    bbox = [
                        bbox[0].min(q[0]),
                        bbox[1].min(q[2]),
                        bbox[2].max(q[0]),
                        bbox[3].max(q[2]),
                    ];
                }
                triangles.push(v.map(|q| [q[0], q[2]]));
            }
        }
        (!triangles.is_empty()).then_some(VeilRoof {
            id,
            top,
            bbox,
            triangles,
        })
    }

    /// Whether (x, z) lies under the roof.
    pub fn holds(&self, x: f32, z: f32) -> bool {
        if x < self.bbox[0] || x > self.bbox[2] || z < self.bbox[1] || z > self.bbox[3] {
            return false;
        }
        self.triangles.iter().any(|[a, b, c]| {
            let side = |p: [f32; 2], q: [f32; 2]| (q[0] - p[0]) * (z - p[1]) - (q[1] - p[1]) * (x - p[0]);
            let (d1, d2, d3) = (side(*a, *b), side(*b, *c), side(*c, *a));
            let neg = d1 < 0.0 || d2 < 0.0 || d3 < 0.0;
            let pos = d1 > 0.0 || d2 > 0.0 || d3 > 0.0;
            !(neg && pos)
        })
    }

    /// The highest of `points` (local frame) under the roof, if any.
    pub fn highest(&self, points: &[[f32; 3]]) -> Option<f32> {
        points
            .iter()
            .filter(|p| self.holds(p[0], p[2]))
            .map(|p| p[1])
            .reduce(f32::max)
    }
}

/// Which terrain chunks photogrammetry covers (chunk `(cx, cy)` at `cy * nx + cx`): those
/// whose every sample (corners, edge middles, centre) lies inside the footprint of a mesh
/// tileset's top tiles with content. The viewer hides them under the photo mesh.
pub fn covered_chunks(raster: &cim_engine::Raster, cover: &PhotoCover) -> Vec<bool> {
    use crate::model::scene::{chunk_extent, chunk_grid, ChunkKey};
    let (nx, ny) = chunk_grid(raster);
    let mut out = vec![false; nx * ny];
    if cover.is_empty() {
        return out;
    }
    for cy in 0..ny {
        for cx in 0..nx {
            let e = chunk_extent(raster, ChunkKey { cx, cy });
            out[cy * nx + cx] = (0..3).all(|i| {
                (0..3).all(|j| {
                    let x = e[0] + (e[2] - e[0]) * f64::from(i) / 2.0;
                    let y = e[1] + (e[3] - e[1]) * f64::from(j) / 2.0;
                    cover.covers(x, y)
                })
            });
        }
    }
    out
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
    fn the_frustum_keeps_what_is_ahead_and_culls_what_is_behind_or_aside() {
        // At 100 m over the origin, looking north and 30° down.
        let (s, c) = 30f64.to_radians().sin_cos();
        let f = Frustum::new([0.0, 0.0, 100.0], [0.0, c, -s], 0.7, 16.0 / 9.0);
        let at = |x: f64, y: f64| [x - 5.0, y - 5.0, 0.0, x + 5.0, y + 5.0, 10.0];
        // Where the view's axis meets the ground (173 m north) and near it.
        assert!(f.sees(&at(0.0, 173.0)) && f.sees(&at(50.0, 200.0)));
        // Behind, far to the side, and above the view.
        assert!(!f.sees(&at(0.0, -200.0)));
        assert!(!f.sees(&at(2_000.0, 300.0)) && !f.sees(&at(-2_000.0, 300.0)));
        assert!(!f.sees(&[-5.0, 100.0, 400.0, 5.0, 110.0, 410.0]));
        // A box the eye is in is seen; straight down works too.
        assert!(f.sees(&[-10.0, -10.0, 90.0, 10.0, 10.0, 110.0]));
        let down = Frustum::new([0.0, 0.0, 300.0], [0.0, 0.0, -1.0], 0.7, 1.0);
        assert!(down.sees(&at(0.0, 0.0)) && !down.sees(&at(500.0, 0.0)));
    }

    #[test]
    fn a_decoded_tile_is_made_ready_in_the_local_frame_with_its_photo_and_points() {
        use cim_importers::tiles3d::gltf::{Image, Material, Model, Part};
        let origin = crate::model::scene::LocalOrigin {
            x: 500_000.0,
            y: 2_500_000.0,
            z: 10.0,
        };
        // A 2 × 2 red PNG.
        let mut png = Vec::new();
        image::RgbaImage::from_pixel(2, 2, image::Rgba([255, 0, 0, 255]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let content = Content {
            model: Model {
                parts: vec![Part {
                    positions: vec![
                        [500_010.0, 2_500_020.0, 15.0],
                        [500_011.0, 2_500_020.0, 15.0],
                        [500_010.0, 2_500_021.0, 15.0],
                    ],
                    triangles: vec![[0, 1, 2], [0, 1, 7]],
                    uvs: Some(vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
                    feature_ids: None,
                    material: Some(0),
                }],
                materials: vec![Material {
                    color: [1.0; 4],
                    image: Some(0),
                }],
                images: vec![Image {
                    mime: "image/png".into(),
                    bytes: png,
                }],
                ..Default::default()
            },
            points: vec![[500_000.0, 2_500_000.0, 10.0], [500_100.0, 2_500_100.0, 30.0]],
            classes: Some(vec![2, 6]),
            intensities: Some(vec![0, 255]),
            ..Default::default()
        };
        let t = prepare(&content, &origin);
        // One triangle (the one with a vertex out of range is left out), x east, y up, z south.
        assert_eq!(t.meshes.len(), 1);
        let m = &t.meshes[0].mesh;
        assert_eq!(
            m.positions,
            vec![[10.0, 5.0, -20.0], [11.0, 5.0, -20.0], [10.0, 5.0, -21.0]]
        );
        assert_eq!(m.indices, vec![0, 1, 2]);
        assert_eq!(m.uvs.as_ref().unwrap().len(), 3);
        // Facing up (the local frame's y).
        assert!(m.normals.iter().all(|n| n[1].abs() > 0.99), "{:?}", m.normals);
        assert_eq!(t.materials, vec![([1.0; 4], Some(0))]);
        let img = t.images[0].as_ref().unwrap();
        // 2 × 2 and its 1 × 1 mipmap, red both.
        assert_eq!((img.width, img.height, img.levels), (2, 2, 2));
        assert_eq!(img.data.len(), 4 * 4 + 4);
        assert_eq!(&img.data[16..], &[255, 0, 0, 255]);
        let p = t.points.as_ref().unwrap();
        assert_eq!(p.positions[1], [100.0, 20.0, -100.0]);
        assert_eq!(p.heights, vec![10.0, 30.0]);
        // Two points 141 m apart over 100 × 100 m: about 71 m apart each.
        assert!((p.spacing_m - 50.0).abs() < 1e-3, "{}", p.spacing_m);
        // By class: ground brown, building orange; by intensity: black to white; by height:
        // low blue, high red; without colours, RGB falls back to height.
        assert_eq!(
            p.colors(PointColors::Class, 10.0, 30.0),
            vec![class_color(2), class_color(6)]
        );
        let i = p.colors(PointColors::Intensity, 10.0, 30.0);
        assert_eq!((i[0][0], i[1][0]), (0.0, 1.0));
        let h = p.colors(PointColors::Height, 10.0, 30.0);
        assert!(h[0][2] > h[0][0] && h[1][0] > h[1][2], "{h:?}");
        assert_eq!(p.colors(PointColors::Rgb, 10.0, 30.0), h);
        assert!(t.weight() > 3 * 12 + 4 * 4 + 2 * 180);
        // An image the viewer cannot read: said, its surfaces plain.
        let mut bad = content.clone();
        bad.model.images[0].bytes = b"not a png".to_vec();
        let t = prepare(&bad, &origin);
        assert!(
            t.images[0].is_none() && t.notices[0].contains("image 0"),
            "{:?}",
            t.notices
        );
    }

    #[test]
    fn mipmaps_halve_down_to_one_pixel_and_average() {
        use crate::model::scene::atlas::Rgba;
        // 5 × 3: levels 5×3, 2×1, 1×1; black and white columns average to grey.
        let pixels: Vec<u8> = (0..15)
            .flat_map(|k| {
                if k % 2 == 0 {
                    [0, 0, 0, 255]
                } else {
                    [255, 255, 255, 255]
                }
            })
            .collect();
        let m = TileImage::with_mipmaps(&Rgba {
            width: 5,
            height: 3,
            pixels,
        });
        assert_eq!(m.levels, 3);
        assert_eq!(m.data.len(), (15 + 2 + 1) * 4);
        assert_eq!(&m.data[60..64], &[128, 128, 128, 255]);
        assert_eq!(
            TileImage::with_mipmaps(&Rgba {
                width: 1,
                height: 1,
                pixels: vec![9; 4]
            })
            .levels,
            1
        );
    }

    #[test]
    fn terrain_chunks_under_a_photo_mesh_are_covered_and_points_cover_nothing() {
        // 256 × 128 cells of 1 m: 4 × 2 chunks.
        let raster = cim_engine::Raster::empty(256, 128, 0.0, 128.0, 1.0, 1.0);
        let mut tiles = quadtree(Refine::Replace);
        // The root has no content; its four children (512 m squares) cover x 0..1024: the
        // whole raster.
        tiles[0].content = TileContent::None;
        let set = |kind| Tileset {
            name: "photo".into(),
            kind,
            source: String::new(),
            placement: String::new(),
            root: None,
            frame: cim_engine::ContentFrame::Project,
            tiles: 21,
            triangles: 0,
            points: 0,
            bounds: [0.0; 6],
        };
        let all = covered_chunks(
            &raster,
            &PhotoCover::of([(&set(cim_engine::TilesetKind::Mesh), &tiles[..])]),
        );
        assert_eq!(all, vec![true; 8]);
        // Only the south-west 100 m: the one chunk (64 m) wholly in it, the south row's first.
        let mut small = tiles.clone();
        for t in small.iter_mut().skip(1) {
            t.bounds = [0.0, 0.0, 0.0, 100.0, 100.0, 10.0];
        }
        let sw = covered_chunks(
            &raster,
            &PhotoCover::of([(&set(cim_engine::TilesetKind::Mesh), &small[..])]),
        );
        assert_eq!(sw, vec![false, false, false, false, true, false, false, false]);
        // Half the raster (x < 128 m): the western chunks.
        for t in tiles.iter_mut().skip(1) {
            t.bounds = [-10.0, -10.0, 0.0, 129.0, 200.0, 10.0];
        }
        let half = covered_chunks(
            &raster,
            &PhotoCover::of([(&set(cim_engine::TilesetKind::Mesh), &tiles[..])]),
        );
        assert_eq!(half, vec![true, true, false, false, true, true, false, false]);
        assert_eq!(
            covered_chunks(
                &raster,
                &PhotoCover::of([(&set(cim_engine::TilesetKind::Points), &tiles[..])])
            ),
            vec![false; 8]
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
        let mut batched = 0;
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
            // The batched buildings keep which is which, and their batch table's values.
            let origin = crate::model::scene::LocalOrigin {
                x: t.bounds[0],
                y: t.bounds[1],
                z: t.bounds[2],
            };
            let prepared = prepare(&c, &origin);
            if c.model.triangles() > 0 && !c.attributes.is_empty() {
                let ids = prepared.meshes[0].feature_ids.as_ref().unwrap();
                assert_eq!(ids.len(), prepared.meshes[0].mesh.positions.len());
                batched += 1;
                assert_eq!(prepared.features.len(), 10, "tile {}", t.id);
                let row: std::collections::HashMap<&str, &str> = prepared.features[&3]
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                assert_eq!(row["id"], "3");
                assert!(row["Longitude"].starts_with("-1.31"), "{row:?}");
            }
        }
        assert_eq!(batched, 4);
        // The city, the building and the 125,000 points fit well within 64 MiB.
        assert!(
            cache.used() > 1 << 20 && cache.used() < 64 << 20,
            "{}",
            cache.used()
        );
    }
}
