//! LOD1 buildings: footprints extruded from their base to their top, merged into one mesh per
//! tile (few draw calls), each building keeping the vertex range it owns so it can be
//! highlighted or recoloured alone.

use std::collections::BTreeMap;
use std::ops::Range;

use geo::{BoundingRect, Centroid, MultiPolygon};

use super::mesh::MeshData;
use super::LocalOrigin;

/// One building to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildingInput {
    /// Index of the building in the caller's list (what a pick or a highlight refers to).
    pub id: u32,
    pub footprint: MultiPolygon<f64>,
    /// Ground and roof heights in the project's vertical datum, m.
    pub base_m: f64,
    pub top_m: f64,
    /// Linear RGBA.
    pub color: [f32; 4],
    /// Its 3-D geometry where it has some (LoD2 from CityJSON, CityGML, IFC), drawn instead
    /// of the footprint's prism.
    pub mesh: Option<cim_engine::mesh::Mesh3>,
    /// What the mesh's material indices name: texture images (drawn from the tile's atlas) and
    /// colours (the faces' vertex colours).
    pub paints: Vec<cim_engine::mesh::Paint>,
    /// Its coarse form where `mesh` is finer than LOD1 (its LoD1 geometry, else its LOD1
    /// prism), drawn instead when it is small on screen.
    pub far: Option<cim_engine::mesh::Mesh3>,
}

/// The merged mesh of the buildings whose footprint centre falls in one tile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildingTile {
    /// Tile column and row from the tile grid's origin (south-west).
    pub key: (i64, i64),
    pub mesh: MeshData,
    /// Each building's id and its vertices in `mesh`.
    pub buildings: Vec<(u32, Range<u32>)>,
    /// The box round `mesh` (local frame), for rays to skip the tile.
    pub bounds: ([f32; 3], [f32; 3]),
    /// The surface of each triangle of `mesh`: its class (roof, wall… of the 3-D geometry or
    /// the prism it was drawn from) and source face, as a [`cim_engine::PickSurface::tag`].
    pub surfaces: Vec<u32>,
    /// The photo textures its buildings use, in one image (`mesh.uvs` index it).
    pub atlas: Option<super::atlas::Atlas>,
    /// The same features in their coarse form (LOD1 where the near level draws LoD2), drawn
    /// when the tile is small on screen ([`tile_near`]); `None` when there is no coarser form.
    pub far: Option<Box<BuildingTile>>,
    /// The longer side of a typical feature's footprint in it, m.
    pub feature_m: f32,
}

impl BuildingTile {
    /// The vertex range of building `id`, if it is in this tile.
    pub fn range_of(&self, id: u32) -> Option<Range<u32>> {
        // Ids are added in increasing order.
        self.buildings
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|k| self.buildings[k].1.clone())
    }

    /// The building whose vertex `v` is.
    pub fn building_of_vertex(&self, v: u32) -> Option<u32> {
        // Ranges follow each other in vertex order.
        let k = self.buildings.partition_point(|(_, r)| r.end <= v);
        self.buildings
            .get(k)
            .filter(|(_, r)| r.contains(&v))
            .map(|(id, _)| *id)
    }

    /// Where the ray `origin + t * dir` (local frame, `dir` of unit length) first meets a
    /// triangle of this tile, if it does before `max_t`: (building, t, the triangle's normal
    /// facing the ray). Buildings for which `shown` is false are passed through. Exact against
    /// the drawn mesh: this is how the viewer picks, with no index of its own beyond the tile
    /// boxes.
    pub fn ray_hit(
        &self,
        origin: [f32; 3],
        dir: [f32; 3],
        max_t: f32,
        shown: &dyn Fn(u32) -> bool,
    ) -> Option<(u32, f32, [f32; 3])> {
        self.ray_hit_surface(origin, dir, max_t, shown)
            .map(|(id, t, n, _)| (id, t, n))
    }

    /// [`BuildingTile::ray_hit`], with the surface tag of the triangle hit
    /// ([`BuildingTile::surfaces`]).
    pub fn ray_hit_surface(
        &self,
        origin: [f32; 3],
        dir: [f32; 3],
        max_t: f32,
        shown: &dyn Fn(u32) -> bool,
    ) -> Option<(u32, f32, [f32; 3], Option<u32>)> {
        let p = &self.mesh.positions;
        let mut best: Option<(u32, f32, [f32; 3], Option<u32>)> = None;
        let mut limit = max_t;
        for (k, tri) in self.mesh.indices.chunks_exact(3).enumerate() {
            let (Some(a), Some(b), Some(c)) = (
                p.get(tri[0] as usize),
                p.get(tri[1] as usize),
                p.get(tri[2] as usize),
            ) else {
                continue;
            };
            let Some(t) = ray_triangle(origin, dir, *a, *b, *c) else {
                continue;
            };
            if t >= limit {
                continue;
            }
            let Some(id) = self.building_of_vertex(tri[0]) else {
                continue;
            };
            if !shown(id) {
                continue;
            }
            let mut n = super::mesh::triangle_normal(*a, *b, *c);
            if dot(n, dir) > 0.0 {
                n = [-n[0], -n[1], -n[2]];
            }
            limit = t;
            best = Some((id, t, n, self.surfaces.get(k).copied()));
        }
        best
    }

    /// Sets the colour of building `id`'s vertices; false if it is not in this tile.
    pub fn set_color(&mut self, id: u32, color: [f32; 4]) -> bool {
        match self.range_of(id) {
            Some(r) => {
                for c in &mut self.mesh.colors[r.start as usize..r.end as usize] {
                    *c = color;
                }
                true
            }
            None => false,
        }
    }
}

/// Features grouped by the tile (of `tile_m` metres, aligned to multiples of it in the project
/// CRS) their footprint centre falls in, each tile one mesh. Features with no area or no
/// height are left out. Tiles come in key order and features in id order, so the result is
/// the same on every run. A tile where some feature has a coarser form ([`BuildingInput::far`])
/// also gets its far level: every feature in its coarsest form.
pub fn build_tiles(
    inputs: &[BuildingInput],
    origin: &LocalOrigin,
    tile_m: f64,
    textures: &std::collections::HashMap<i64, super::atlas::Rgba>,
) -> Vec<BuildingTile> {
    let mut groups: BTreeMap<(i64, i64), Vec<&BuildingInput>> = BTreeMap::new();
    for b in inputs {
        // The footprint's centre, else (an object without one) its mesh's.
        let centre = b.footprint.centroid().map(|c| (c.x(), c.y())).or_else(|| {
            let (lo, hi) = b.mesh.as_ref()?.bounds()?;
            Some((0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])))
        });
        let Some((x, y)) = centre else { continue };
        let key = ((x / tile_m).floor() as i64, (y / tile_m).floor() as i64);
        groups.entry(key).or_default().push(b);
    }
    groups
        .into_iter()
        .map(|(key, mut list)| {
            list.sort_by_key(|b| b.id);
            let mut tile = build_level(key, &list, origin, textures, false);
            if list.iter().any(|b| b.far.is_some()) {
                let far = build_level(key, &list, origin, textures, true);
                if !far.buildings.is_empty() {
                    tile.far = Some(Box::new(far));
                }
            }
            // The size of a typical feature in it (the median of the footprints' longer
            // sides): how large the tile's detail looks on screen.
            let mut sizes: Vec<f64> = list
                .iter()
                .filter_map(|b| b.footprint.bounding_rect())
                .map(|r| r.width().max(r.height()))
                .collect();
            sizes.sort_by(f64::total_cmp);
            tile.feature_m = sizes.get(sizes.len() / 2).copied().unwrap_or(0.0) as f32;
            tile
        })
        .filter(|t| !t.buildings.is_empty())
        .collect()
}

/// One level of a tile: each feature's finest geometry (its prism where it has none), or with
/// `far` its coarse one ([`BuildingInput::far`], else the same). Photo textures are drawn near
/// only.
fn build_level(
    key: (i64, i64),
    list: &[&BuildingInput],
    origin: &LocalOrigin,
    textures: &std::collections::HashMap<i64, super::atlas::Rgba>,
    far: bool,
) -> BuildingTile {
    use cim_engine::mesh::Paint;
    let mut tile = BuildingTile {
        key,
        ..BuildingTile::default()
    };
    // The textures its features use (those with texture coordinates), in one atlas.
    if !far {
        let used: std::collections::BTreeMap<i64, &super::atlas::Rgba> = list
            .iter()
            .filter(|b| b.mesh.as_ref().is_some_and(|m| m.uvs.is_some()))
            .flat_map(|b| b.paints.iter())
            .filter_map(|p| match p {
                Paint::Texture(id) => textures.get(id).map(|t| (*id, t)),
                Paint::Color(_) => None,
            })
            .collect();
        tile.atlas = super::atlas::pack(&used);
    }
    for b in list {
        let start = tile.mesh.vertex_count() as u32;
        // The 3-D geometry, or the footprint's prism; the ground under a building is not
        // seen.
        let prism;
        let chosen = if far {
            b.far.as_ref().or(b.mesh.as_ref())
        } else {
            b.mesh.as_ref()
        };
        let m = match chosen {
            Some(m) => m,
            None => {
                prism = cim_engine::mesh::extrude(&b.footprint, b.base_m, b.top_m);
                &prism
            }
        };
        // A coarse form of its own has no paints (a prism); the finest shares the feature's.
        let own_paints = !(far && b.far.is_some());
        let ground = cim_engine::mesh::SurfaceClass::Ground;
        let before = tile.mesh.triangle_count();
        // Each face: its paint's colour (white under a texture), else the feature's.
        let paint_of = |t: usize| {
            m.materials
                .as_ref()
                .and_then(|ms| ms.get(t))
                .filter(|_| own_paints)
                .and_then(|k| b.paints.get(usize::from(*k)))
        };
        let color_of = |t: usize| match paint_of(t) {
            Some(Paint::Texture(id)) if tile.atlas.as_ref().is_some_and(|a| a.rects.contains_key(id)) => {
                [1.0, 1.0, 1.0, 1.0]
            }
            Some(Paint::Color(c)) => *c,
            _ => b.color,
        };
        let atlas = tile.atlas.clone();
        let uv_of = |t: usize, v: u32| -> [f32; 2] {
            let Some(a) = &atlas else { return [0.0, 0.0] };
            match (paint_of(t), &m.uvs) {
                (Some(Paint::Texture(id)), Some(uvs)) => {
                    a.map(*id, uvs.get(v as usize).copied().unwrap_or([0.0, 0.0]))
                }
                _ => a.white,
            }
        };
        let uv_dyn: &dyn Fn(usize, u32) -> [f32; 2] = &uv_of;
        tile.mesh
            .push_mesh3_painted(m, origin, &[ground], &color_of, atlas.is_some().then_some(uv_dyn));
        let added = tile.mesh.triangle_count() - before;
        // push_mesh3 keeps the mesh's triangle order, leaving out the skipped class.
        tile.surfaces.extend(
            m.classes
                .iter()
                .zip(&m.faces)
                .filter(|(c, _)| **c != ground)
                .map(|(c, f)| cim_engine::PickSurface::tag(*c, *f))
                .take(added),
        );
        let end = tile.mesh.vertex_count() as u32;
        if end > start {
            tile.buildings.push((b.id, start..end));
        }
    }
    tile.bounds = tile.mesh.bounds().unwrap_or_default();
    tile.buildings.shrink_to_fit();
    tile.surfaces.shrink_to_fit();
    tile.mesh.shrink_to_fit();
    tile
}

/// Whether a tile is drawn near (its features' finest geometry) rather than far (their LOD1
/// form), seen from `distance_m` (to the nearest point of its box) in a view `view_h_px`
/// pixels high with the vertical field of view `fov_y`: near once a typical feature of it
/// (`feature_m` across) spans [`NEAR_PX`] pixels, and, once near, until it spans less than
/// 80 % of that (so a tile at the threshold does not flicker).
pub fn tile_near(feature_m: f32, distance_m: f32, view_h_px: f32, fov_y: f32, was_near: bool) -> bool {
    let px_per_m_at_1m = view_h_px / (2.0 * (0.5 * fov_y).tan());
    let px = feature_m * px_per_m_at_1m / distance_m.max(0.1);
    let threshold = if was_near { 0.8 * NEAR_PX } else { NEAR_PX };
    px >= threshold
}

/// On-screen size (pixels) of a tile's typical feature above which the tile is drawn with its
/// finest geometry (LoD2) rather than its LOD1 form.
pub const NEAR_PX: f32 = 40.0;

/// Distance from `p` to the nearest point of the box `min`–`max` (0 inside).
pub fn box_distance(p: [f32; 3], min: [f32; 3], max: [f32; 3]) -> f32 {
    let mut d2 = 0.0;
    for k in 0..3 {
        let d = (min[k] - p[k]).max(p[k] - max[k]).max(0.0);
        d2 += d * d;
    }
    d2.sqrt()
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Where the ray meets triangle `a b c` (either side), as its `t` ≥ 0; `None` when it misses
/// or runs along it (Möller–Trumbore).
pub fn ray_triangle(origin: [f32; 3], dir: [f32; 3], a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> Option<f32> {
    let (e1, e2) = (sub(b, a), sub(c, a));
    let h = cross(dir, e2);
    let det = dot(e1, h);
    // Degenerate (a hidden building's collapsed vertices) or edge-on.
    if det.abs() < 1e-9 {
        return None;
    }
    let inv = 1.0 / det;
    let s = sub(origin, a);
    let u = dot(s, h) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(dir, q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = dot(e2, q) * inv;
    (t >= 0.0).then_some(t)
}

/// Where the ray enters the box (0 when it starts inside), if it meets it (slab test).
pub fn ray_box(origin: [f32; 3], dir: [f32; 3], min: [f32; 3], max: [f32; 3]) -> Option<f32> {
    let (mut near, mut far) = (0.0f32, f32::INFINITY);
    for k in 0..3 {
        if dir[k].abs() < 1e-12 {
            if origin[k] < min[k] || origin[k] > max[k] {
                return None;
            }
            continue;
        }
        let (t0, t1) = ((min[k] - origin[k]) / dir[k], (max[k] - origin[k]) / dir[k]);
        near = near.max(t0.min(t1));
        far = far.min(t0.max(t1));
    }
    (near <= far).then_some(near)
}

/// Adds the walls and roof of a footprint extruded from `base_m` to `top_m` to `mesh`
/// ([`cim_engine::mesh::extrude`]): flat shaded (each wall its own four vertices), walls facing
/// out, the roof up; the ground, which no one sees, left out. Nothing for a footprint without
/// area or a building without height.
pub fn extrude(
    footprint: &MultiPolygon<f64>,
    base_m: f64,
    top_m: f64,
    color: [f32; 4],
    origin: &LocalOrigin,
    mesh: &mut MeshData,
) {
    let prism = cim_engine::mesh::extrude(footprint, base_m, top_m);
    mesh.push_mesh3(&prism, origin, color, &[cim_engine::mesh::SurfaceClass::Ground]);
}

#[cfg(test)]
mod tests {
    use super::super::mesh::triangle_normal;
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn o() -> LocalOrigin {
        LocalOrigin {
            x: 500_000.0,
            y: 2_500_000.0,
            z: 0.0,
        }
    }

    /// A 10 × 20 m box at (x, y), clockwise (to check orientation is fixed).
    fn box_cw(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x, y: y + 20.0), (x: x + 10.0, y: y + 20.0), (x: x + 10.0, y: y)],
        ])
    }

    fn volume(m: &MeshData) -> f64 {
        // Divergence theorem over the closed surface.
        m.indices
            .chunks(3)
            .map(|t| {
                let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize].map(f64::from));
                (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                    + a[2] * (b[0] * c[1] - b[1] * c[0]))
                    / 6.0
            })
            .sum()
    }

    #[test]
    fn a_box_becomes_a_closed_prism_facing_out() {
        let mut m = MeshData::default();
        extrude(&box_cw(500_000.0, 2_500_000.0), 5.0, 17.0, [1.0; 4], &o(), &mut m);
        // 4 walls of 4 vertices and a roof of 4; 8 wall triangles and 2 roof triangles (no floor).
        assert_eq!(m.vertex_count(), 20);
        assert_eq!(m.triangle_count(), 10);
        let (lo, hi) = m.bounds().unwrap();
        assert_eq!((lo[1], hi[1]), (5.0, 17.0));
        // Every triangle faces away from the box's centre, and its stored normal agrees.
        let centre = [5.0f32, 11.0, -10.0];
        for t in m.indices.chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
            let n = triangle_normal(a, b, c);
            let mid = [
                (a[0] + b[0] + c[0]) / 3.0,
                (a[1] + b[1] + c[1]) / 3.0,
                (a[2] + b[2] + c[2]) / 3.0,
            ];
            let out = (mid[0] - centre[0]) * n[0] + (mid[1] - centre[1]) * n[1] + (mid[2] - centre[2]) * n[2];
            assert!(out > 0.0, "triangle {t:?} faces in");
            let stored = m.normals[t[0] as usize];
            assert!((stored[0] - n[0]).abs() + (stored[1] - n[1]).abs() + (stored[2] - n[2]).abs() < 1e-5);
        }
        // Closed by a floor at y = 5 (which contributes −5 · 200 / 3 to the volume integral), the
        // surface holds 10 × 20 × 12 m³.
        assert!(
            (volume(&m) - 200.0 * 5.0 / 3.0 - 2400.0).abs() < 1e-3,
            "{}",
            volume(&m)
        );
    }

    #[test]
    fn a_courtyard_has_inner_walls_facing_the_yard() {
        let outer = polygon![
            exterior: [(x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0), (x: 0.0, y: 30.0)],
            interiors: [[(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]],
        ];
        let origin = LocalOrigin {
            x: 15.0,
            y: 15.0,
            z: 0.0,
        };
        let mut m = MeshData::default();
        extrude(&MultiPolygon(vec![outer]), 0.0, 10.0, [1.0; 4], &origin, &mut m);
        assert_eq!(m.vertex_count(), 8 * 4 + 8);
        // Roof area (sum of roof triangles) is 900 − 100.
        let roof: f64 = m
            .indices
            .chunks(3)
            .filter(|t| m.normals[t[0] as usize][1] > 0.5)
            .map(|t| {
                let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
                0.5 * f64::from(((b[0] - a[0]) * (c[2] - a[2]) - (b[2] - a[2]) * (c[0] - a[0])).abs())
            })
            .sum();
        assert!((roof - 800.0).abs() < 1e-6, "{roof}");
        // The inner walls face the yard's centre (the local origin).
        for t in m.indices.chunks(3) {
            let p = m.positions[t[0] as usize];
            let n = m.normals[t[0] as usize];
            if n[1].abs() < 0.5 && p[0].abs() <= 5.0 && p[2].abs() <= 5.0 {
                assert!(p[0] * n[0] + p[2] * n[2] < 0.0, "inner wall at {p:?} faces {n:?}");
            }
        }
    }

    #[test]
    fn rays_hit_the_nearest_shown_building_of_a_tile() {
        // Two 10 × 20 m boxes in one tile: a low one (10 m) and, east of it, a tall one (40 m).
        let input = |id: u32, x: f64, top: f64| BuildingInput {
            id,
            footprint: box_cw(x, 2_500_010.0),
            base_m: 0.0,
            top_m: top,
            color: [1.0; 4],
            mesh: None,
            paints: vec![],
            far: None,
        };
        let tiles = build_tiles(
            &[input(0, 500_010.0, 10.0), input(1, 500_040.0, 40.0)],
            &o(),
            256.0,
            &Default::default(),
        );
        assert_eq!(tiles.len(), 1);
        let t = &tiles[0];
        assert_eq!(t.bounds.0[1], 0.0);
        assert_eq!(t.bounds.1[1], 40.0);
        assert_eq!(t.building_of_vertex(0), Some(0));
        assert_eq!(t.building_of_vertex(t.buildings[1].1.start), Some(1));
        assert_eq!(t.building_of_vertex(u32::MAX), None);
        let all = |_: u32| true;
        let ray = |x: f64, y: f64, z: f64, d: [f64; 3]| (o().to_local(x, y, z), LocalOrigin::dir_to_local(d));
        // From the west at 5 m: the low building's west wall, 10 m away, facing west.
        let (from, east) = ray(500_000.0, 2_500_020.0, 5.0, [1.0, 0.0, 0.0]);
        let (id, dist, n) = t.ray_hit(from, east, f32::INFINITY, &all).unwrap();
        assert_eq!(id, 0);
        assert!((dist - 10.0).abs() < 1e-3, "{dist}");
        assert!((n[0] + 1.0).abs() < 1e-5, "{n:?}");
        // With the low one hidden, the ray goes on to the tall one's wall.
        let (id, dist, _) = t.ray_hit(from, east, f32::INFINITY, &|b| b != 0).unwrap();
        assert!((id, (dist - 40.0).abs() < 1e-3) == (1, true), "{id} {dist}");
        // Not past the limit given (the ground, say).
        assert!(t.ray_hit(from, east, 9.0, &all).is_none());
        // Straight down on the tall one's roof: 60 m above it, normal up.
        let (from, down) = ray(500_045.0, 2_500_020.0, 100.0, [0.0, 0.0, -1.0]);
        let (id, dist, n) = t.ray_hit(from, down, f32::INFINITY, &all).unwrap();
        assert_eq!(id, 1);
        assert!(
            (dist - 60.0).abs() < 1e-3 && (n[1] - 1.0).abs() < 1e-5,
            "{dist} {n:?}"
        );
        // Between the two, nothing.
        let (from, down) = ray(500_030.0, 2_500_020.0, 100.0, [0.0, 0.0, -1.0]);
        assert!(t.ray_hit(from, down, f32::INFINITY, &all).is_none());
        assert_eq!(ray_box(from, down, t.bounds.0, t.bounds.1), Some(60.0));
        let (from, up) = ray(500_030.0, 2_500_020.0, 100.0, [0.0, 0.0, 1.0]);
        assert_eq!(ray_box(from, up, t.bounds.0, t.bounds.1), None);
    }

    #[test]
    fn tiles_group_by_centre_and_remember_each_building() {
        let inputs: Vec<BuildingInput> = [(3u32, 500_010.0), (1, 500_020.0), (2, 500_300.0)]
            .iter()
            .map(|&(id, x)| BuildingInput {
                id,
                footprint: box_cw(x, 2_500_010.0),
                base_m: 0.0,
                top_m: 10.0,
                color: [0.5, 0.5, 0.5, 1.0],
                mesh: None,
                paints: vec![],
                far: None,
            })
            .chain(std::iter::once(BuildingInput {
                id: 9,
                footprint: box_cw(500_050.0, 2_500_010.0),
                base_m: 10.0,
                top_m: 10.0, // no height: left out
                color: [1.0; 4],
                mesh: None,
                paints: vec![],
                far: None,
            }))
            .collect();
        let mut tiles = build_tiles(&inputs, &o(), 256.0, &Default::default());
        assert_eq!(tiles.len(), 2);
        assert_eq!(tiles[0].key, (1953, 9765));
        let ids: Vec<u32> = tiles[0].buildings.iter().map(|b| b.0).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(tiles[0].range_of(1), Some(0..20));
        assert_eq!(tiles[0].range_of(3), Some(20..40));
        assert_eq!(tiles[0].range_of(2), None);
        assert!(tiles[0].set_color(3, [1.0, 0.0, 0.0, 1.0]));
        assert!(tiles[0].mesh.colors[20..40]
            .iter()
            .all(|c| *c == [1.0, 0.0, 0.0, 1.0]));
        assert!(tiles[0].mesh.colors[..20]
            .iter()
            .all(|c| *c == [0.5, 0.5, 0.5, 1.0]));
        assert!(!tiles[0].set_color(2, [1.0; 4]));
    }

    #[test]
    fn painted_faces_take_their_colour_and_textured_ones_the_atlas() {
        use cim_engine::mesh::{MeshBuilder, Paint, SurfaceClass};
        // Two faces of a building: a textured wall (paint 0) and a red roof (paint 1).
        let mut b = MeshBuilder::new([500_000.0, 2_500_000.0, 0.0]);
        let wall = vec![
            [500_000.0, 2_500_000.0, 0.0],
            [500_010.0, 2_500_000.0, 0.0],
            [500_010.0, 2_500_000.0, 5.0],
            [500_000.0, 2_500_000.0, 5.0],
        ];
        let uv = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        b.add_polygon(&[wall], SurfaceClass::Wall, Some(&[uv]), Some(0))
            .unwrap();
        let roof = vec![
            [500_000.0, 2_500_000.0, 5.0],
            [500_010.0, 2_500_000.0, 5.0],
            [500_010.0, 2_500_010.0, 5.0],
            [500_000.0, 2_500_010.0, 5.0],
        ];
        b.add_polygon(&[roof], SurfaceClass::Roof, None, Some(1)).unwrap();
        let input = BuildingInput {
            id: 0,
            footprint: box_cw(500_000.0, 2_500_000.0),
            base_m: 0.0,
            top_m: 5.0,
            color: [0.5, 0.5, 0.5, 1.0],
            mesh: Some(b.finish()),
            paints: vec![Paint::Texture(7), Paint::Color([0.8, 0.1, 0.1, 1.0])],
            far: None,
        };
        let image = crate::model::scene::atlas::Rgba {
            width: 2,
            height: 2,
            pixels: vec![10; 16],
        };
        let textures = std::collections::HashMap::from([(7, image)]);
        let tiles = build_tiles(&[input], &o(), 256.0, &textures);
        let t = &tiles[0];
        let atlas = t.atlas.as_ref().unwrap();
        let uvs = t.mesh.uvs.as_ref().unwrap();
        assert_eq!(uvs.len(), t.mesh.positions.len());
        let r = atlas.rects[&7];
        for (k, c) in t.mesh.colors.iter().enumerate() {
            let inside = uvs[k][0] >= r[0] && uvs[k][0] <= r[2] && uvs[k][1] >= r[1] && uvs[k][1] <= r[3];
            if *c == [1.0, 1.0, 1.0, 1.0] {
                assert!(inside, "a textured vertex maps into its image: {:?}", uvs[k]);
            } else {
                assert_eq!(*c, [0.8, 0.1, 0.1, 1.0]);
                assert_eq!(uvs[k], atlas.white);
            }
        }
        assert!(t.mesh.colors.contains(&[0.8, 0.1, 0.1, 1.0]) && t.mesh.colors.contains(&[1.0; 4]));
    }
}
