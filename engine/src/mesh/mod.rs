//! 3-D geometry of city objects: surfaces with their semantic class, triangulated into a
//! compact mesh that keeps, per triangle, the class and the source polygon it came from (so
//! CityJSON and CityGML polygons can be rebuilt on export), with optional texture coordinates and
//! materials. One implementation of polygon triangulation and mesh maths for importers, the
//! viewer and exports.
//!
//! ## Glossary
//! - **surface class**: what a surface is in the city model (roof, wall, ground, closure,
//!   window, door…), from CityGML/CityJSON semantics or IFC products.
//! - **representation**: one geometry of a feature at one level of detail (LoD 0–3, with
//!   CityJSON's refinements such as "1.2" or "2.2"), as a solid or a set of surfaces.
//! - **face**: a planar polygon with holes of the source; it becomes one or more triangles.

mod codec;
mod extrude;
mod triangulate;

pub use codec::{decode_mesh, encode_mesh, MeshCodecError, MESH_ENCODING};
pub use extrude::extrude;
pub use triangulate::{plane_normal, triangulate_polygon, TriangulateError};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A quick hasher for small keys of integers (vertex positions' bits, plan positions): the
/// multiply-rotate step of FxHash. Not for keys an attacker chooses.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// What a surface is (CityGML 2.0/3.0 and CityJSON semantic surfaces, and a few of IFC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum SurfaceClass {
    /// No semantics given.
    #[default]
    Unclassified = 0,
    Roof = 1,
    Wall = 2,
    Ground = 3,
    Closure = 4,
    OuterFloor = 5,
    OuterCeiling = 6,
    Window = 7,
    Door = 8,
    Floor = 9,
    InteriorWall = 10,
    Ceiling = 11,
    /// Water bodies: the water's surface, its ground and its closures.
    WaterSurface = 12,
    WaterGround = 13,
    WaterClosure = 14,
    /// Transportation: where traffic goes, and beside it.
    TrafficArea = 15,
    AuxiliaryTrafficArea = 16,
    TransportationMarking = 17,
    TransportationHole = 18,
    /// Terrain and other surfaces with no building semantics.
    Relief = 19,
}

impl SurfaceClass {
    /// Every class, in code order.
    pub const ALL: [SurfaceClass; 20] = [
        SurfaceClass::Unclassified,
        SurfaceClass::Roof,
        SurfaceClass::Wall,
        SurfaceClass::Ground,
        SurfaceClass::Closure,
        SurfaceClass::OuterFloor,
        SurfaceClass::OuterCeiling,
        SurfaceClass::Window,
        SurfaceClass::Door,
        SurfaceClass::Floor,
        SurfaceClass::InteriorWall,
        SurfaceClass::Ceiling,
        SurfaceClass::WaterSurface,
        SurfaceClass::WaterGround,
        SurfaceClass::WaterClosure,
        SurfaceClass::TrafficArea,
        SurfaceClass::AuxiliaryTrafficArea,
        SurfaceClass::TransportationMarking,
        SurfaceClass::TransportationHole,
        SurfaceClass::Relief,
    ];

    /// The class of a stored code.
    pub fn from_code(code: u8) -> Option<SurfaceClass> {
        SurfaceClass::ALL.get(usize::from(code)).copied()
    }

    /// Its CityGML/CityJSON name (`RoofSurface`, `WallSurface`…).
    pub fn name(self) -> &'static str {
        match self {
            SurfaceClass::Unclassified => "Unclassified",
            SurfaceClass::Roof => "RoofSurface",
            SurfaceClass::Wall => "WallSurface",
            SurfaceClass::Ground => "GroundSurface",
            SurfaceClass::Closure => "ClosureSurface",
            SurfaceClass::OuterFloor => "OuterFloorSurface",
            SurfaceClass::OuterCeiling => "OuterCeilingSurface",
            SurfaceClass::Window => "Window",
            SurfaceClass::Door => "Door",
            SurfaceClass::Floor => "FloorSurface",
            SurfaceClass::InteriorWall => "InteriorWallSurface",
            SurfaceClass::Ceiling => "CeilingSurface",
            SurfaceClass::WaterSurface => "WaterSurface",
            SurfaceClass::WaterGround => "WaterGroundSurface",
            SurfaceClass::WaterClosure => "WaterClosureSurface",
            SurfaceClass::TrafficArea => "TrafficArea",
            SurfaceClass::AuxiliaryTrafficArea => "AuxiliaryTrafficArea",
            SurfaceClass::TransportationMarking => "TransportationMarking",
            SurfaceClass::TransportationHole => "TransportationHole",
            SurfaceClass::Relief => "Relief",
        }
    }

    /// The class of a CityGML/CityJSON semantic surface type; `None` for one it does not know
    /// (the caller keeps the surface unclassified and says so).
    pub fn from_name(name: &str) -> Option<SurfaceClass> {
        let n = name.strip_prefix("+").unwrap_or(name);
        SurfaceClass::ALL
            .iter()
            .copied()
            .find(|c| c.name() == n)
            .or(match n {
                "Roof" => Some(SurfaceClass::Roof),
                "Wall" => Some(SurfaceClass::Wall),
                "Ground" => Some(SurfaceClass::Ground),
                "Closure" => Some(SurfaceClass::Closure),
                "Marking" => Some(SurfaceClass::TransportationMarking),
                "Hole" => Some(SurfaceClass::TransportationHole),
                _ => None,
            })
    }
}

/// How a representation's surfaces hang together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum GeometryKind {
    /// A closed volume (its outer shell; inner shells as further faces).
    Solid,
    MultiSolid,
    CompositeSolid,
    /// Surfaces that need not close (LoD2 multi-surfaces, CityGML boundary surfaces).
    #[default]
    MultiSurface,
    CompositeSurface,
    /// A triangulated irregular network (terrain).
    Tin,
}

impl GeometryKind {
    pub fn name(self) -> &'static str {
        match self {
            GeometryKind::Solid => "Solid",
            GeometryKind::MultiSolid => "MultiSolid",
            GeometryKind::CompositeSolid => "CompositeSolid",
            GeometryKind::MultiSurface => "MultiSurface",
            GeometryKind::CompositeSurface => "CompositeSurface",
            GeometryKind::Tin => "TIN",
        }
    }

    pub fn from_name(name: &str) -> Option<GeometryKind> {
        [
            GeometryKind::Solid,
            GeometryKind::MultiSolid,
            GeometryKind::CompositeSolid,
            GeometryKind::MultiSurface,
            GeometryKind::CompositeSurface,
            GeometryKind::Tin,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// A triangle mesh in the project CRS: f64 origin, f32 positions relative to it (x east, y north,
/// z up), and per triangle its surface class and source face.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mesh3 {
    pub origin: [f64; 3],
    pub positions: Vec<[f32; 3]>,
    /// Counter-clockwise seen from the side the face's normal points to.
    pub triangles: Vec<[u32; 3]>,
    pub classes: Vec<SurfaceClass>,
    /// The source polygon each triangle came from (0, 1, 2… in the order they were added).
    pub faces: Vec<u32>,
    /// Texture coordinates, one a vertex, where the source has them.
    pub uvs: Option<Vec<[f32; 2]>>,
    /// Per triangle: its material or texture index in the source's appearance, where it has one
    /// (`u16::MAX`: none).
    pub materials: Option<Vec<u16>>,
}

impl Mesh3 {
    pub fn vertex_count(&self) -> usize {
        self.positions.len()
    }

    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// How many source faces it has.
    pub fn face_count(&self) -> usize {
        self.faces.iter().max().map_or(0, |&f| f as usize + 1)
    }

    /// A vertex in the project CRS.
    pub fn world(&self, v: u32) -> [f64; 3] {
        let p = self.positions[v as usize];
        [
            self.origin[0] + f64::from(p[0]),
            self.origin[1] + f64::from(p[1]),
            self.origin[2] + f64::from(p[2]),
        ]
    }

    /// Its box in the project CRS: min and max corners (`None` when empty).
    pub fn bounds(&self) -> Option<([f64; 3], [f64; 3])> {
        let first = self.positions.first()?;
        let (mut lo, mut hi) = (*first, *first);
        for p in &self.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let w = |p: [f32; 3]| {
            [
                self.origin[0] + f64::from(p[0]),
                self.origin[1] + f64::from(p[1]),
                self.origin[2] + f64::from(p[2]),
            ]
        };
        Some((w(lo), w(hi)))
    }

    /// The area of its triangles of class `class` (all where `None`), m².
    pub fn area(&self, class: Option<SurfaceClass>) -> f64 {
        self.triangles
            .iter()
            .zip(&self.classes)
            .filter(|(_, c)| class.is_none_or(|k| k == **c))
            .map(|(t, _)| {
                let [a, b, c] = t.map(|v| self.world(v));
                let (u, w) = (sub(b, a), sub(c, a));
                0.5 * norm(cross(u, w))
            })
            .sum()
    }

    /// The volume it encloses, m³ (meaningful for closed, outward-facing solids): the sum of the
    /// signed volumes of the tetrahedra from the origin to each triangle.
    pub fn volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|v| {
                    let p = self.positions[v as usize];
                    [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
                });
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    /// The area of each surface class it has, m², in class order.
    pub fn areas_by_class(&self) -> Vec<(SurfaceClass, f64)> {
        let mut out: Vec<(SurfaceClass, f64)> = Vec::new();
        for c in SurfaceClass::ALL {
            if self.classes.contains(&c) {
                out.push((c, self.area(Some(c))));
            }
        }
        out
    }

    /// The outline of each source face, rebuilt from its triangles' boundary edges: per face,
    /// its rings (vertex indices, each ring once round, not closed, turning as the face's
    /// triangles do), in face order, the outer ring first (the largest), then its holes. Edges
    /// used by two triangles of the same face are inside it; the others are its boundary.
    pub fn face_rings(&self) -> Vec<Vec<Vec<u32>>> {
        let n = self.face_count();
        let mut edges: Vec<HashMap<(u32, u32), u32>> = vec![HashMap::new(); n];
        for (t, &f) in self.triangles.iter().zip(&self.faces) {
            let e = &mut edges[f as usize];
            for k in 0..3 {
                let (a, b) = (t[k], t[(k + 1) % 3]);
                // An edge and its reverse cancel out.
                if e.remove(&(b, a)).is_none() {
                    *e.entry((a, b)).or_insert(0) += 1;
                }
            }
        }
        edges
            .into_iter()
            .map(|e| {
                let mut next: HashMap<u32, u32> = e.keys().map(|&(a, b)| (a, b)).collect();
                let mut starts: Vec<u32> = next.keys().copied().collect();
                starts.sort_unstable();
                let mut rings = Vec::new();
                for s in starts {
                    if !next.contains_key(&s) {
                        continue;
                    }
                    let mut ring = vec![s];
                    let mut at = s;
                    while let Some(b) = next.remove(&at) {
                        if b == s {
                            break;
                        }
                        ring.push(b);
                        at = b;
                    }
                    if ring.len() >= 3 {
                        rings.push(ring);
                    }
                }
                // The outer ring encloses the most area (Newell's vector's length).
                let area = |ring: &Vec<u32>| {
                    let mut n = [0.0f64; 3];
                    for (k, &v) in ring.iter().enumerate() {
                        let a = self.positions[v as usize].map(f64::from);
                        let b = self.positions[ring[(k + 1) % ring.len()] as usize].map(f64::from);
                        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
                        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
                        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
                    }
                    n[0] * n[0] + n[1] * n[1] + n[2] * n[2]
                };
                rings.sort_by(|a, b| area(b).total_cmp(&area(a)));
                rings
            })
            .collect()
    }
}

/// How a surface looks: what [`Mesh3::materials`] indexes, per representation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paint {
    /// An image in the project's `cim_textures` (by id), mapped by the mesh's texture
    /// coordinates.
    Texture(i64),
    /// A colour: linear RGB and opacity (CityGML X3DMaterial, CityJSON material: diffuse
    /// colour and 1 − transparency).
    Color([f32; 4]),
}

/// One geometry of a feature at one level of detail.
#[derive(Clone, Debug, PartialEq)]
pub struct Representation {
    /// The level of detail as the source writes it: "0", "1", "1.2", "2", "2.2", "3"…
    pub lod: String,
    pub kind: GeometryKind,
    pub mesh: Mesh3,
    /// What the mesh's per-triangle material indices name (empty where it has none).
    pub paints: Vec<Paint>,
}

/// A representation in its stored form, encoded ([`encode_mesh`]) where convenient (on any
/// thread) before the store writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedRepresentation {
    pub lod: String,
    pub kind: GeometryKind,
    /// Min and max corners in the project CRS.
    pub bounds: ([f64; 3], [f64; 3]),
    pub vertices: usize,
    pub triangles: usize,
    pub data: Vec<u8>,
    pub paints: Vec<Paint>,
}

impl Representation {
    /// Its stored form (`None` for an empty mesh).
    pub fn encode(&self) -> Option<EncodedRepresentation> {
        let bounds = self.mesh.bounds()?;
        Some(EncodedRepresentation {
            lod: self.lod.clone(),
            kind: self.kind,
            bounds,
            vertices: self.mesh.vertex_count(),
            triangles: self.mesh.triangle_count(),
            data: encode_mesh(&self.mesh),
            paints: self.paints.clone(),
        })
    }
}

/// Builds a [`Mesh3`] polygon by polygon: triangulates each, welds vertices that are equal (and
/// have equal texture coordinates), keeps class and face per triangle.
#[derive(Debug)]
pub struct MeshBuilder {
    mesh: Mesh3,
    weld: FastMap<([u32; 3], [u32; 2]), u32>,
    with_uv: bool,
    with_material: bool,
}

impl MeshBuilder {
    /// A mesh whose positions are relative to `origin` (pick one near the object: the f32
    /// positions keep millimetres within about 100 km of it).
    pub fn new(origin: [f64; 3]) -> MeshBuilder {
        MeshBuilder {
            mesh: Mesh3 {
                origin,
                ..Mesh3::default()
            },
            weld: FastMap::default(),
            with_uv: false,
            with_material: false,
        }
    }

    fn vertex(&mut self, p: [f64; 3], uv: Option<[f32; 2]>) -> u32 {
        let o = self.mesh.origin;
        let rel = [(p[0] - o[0]) as f32, (p[1] - o[1]) as f32, (p[2] - o[2]) as f32];
        let uvk = uv.unwrap_or([0.0, 0.0]);
        let key = (rel.map(f32::to_bits), uvk.map(f32::to_bits));
        if let Some(&v) = self.weld.get(&key) {
            return v;
        }
        let v = self.mesh.positions.len() as u32;
        self.mesh.positions.push(rel);
        if self.with_uv || uv.is_some() {
            let uvs = self.mesh.uvs.get_or_insert_with(|| vec![[0.0, 0.0]; v as usize]);
            uvs.push(uvk);
            self.with_uv = true;
        }
        self.weld.insert(key, v);
        v
    }

    /// Adds a planar polygon (outer ring first, then holes; rings open or closed) of class
    /// `class` as the next face, with texture coordinates per ring vertex and a material where
    /// given. Returns the face's number, or why it cannot be triangulated (too few points, no
    /// area): then nothing is added.
    pub fn add_polygon(
        &mut self,
        rings: &[Vec<[f64; 3]>],
        class: SurfaceClass,
        uvs: Option<&[Vec<[f32; 2]>]>,
        material: Option<u16>,
    ) -> Result<u32, TriangulateError> {
        let (flat, tris) = triangulate_polygon(rings)?;
        // Points so far from the origin that f32 cannot hold them are refused (not stored as
        // infinities).
        let o = self.mesh.origin;
        if flat
            .iter()
            .any(|p| (0..3).any(|k| !((p[k] - o[k]) as f32).is_finite()))
        {
            return Err(TriangulateError::NotFinite);
        }
        let flat_uv: Option<Vec<[f32; 2]>> = uvs.map(|u| {
            let mut out = Vec::new();
            for (ring, ring_uv) in rings.iter().zip(u) {
                let n = open_len(ring);
                for k in 0..n {
                    out.push(ring_uv.get(k).copied().unwrap_or([0.0, 0.0]));
                }
            }
            out
        });
        let ids: Vec<u32> = flat
            .iter()
            .enumerate()
            .map(|(k, p)| {
                self.vertex(
                    *p,
                    flat_uv.as_ref().map(|u| u.get(k).copied().unwrap_or([0.0, 0.0])),
                )
            })
            .collect();
        let face = self.mesh.faces.last().map_or(0, |&f| f + 1);
        for t in tris {
            let tri = [ids[t[0]], ids[t[1]], ids[t[2]]];
            if tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2] {
                continue;
            }
            self.mesh.triangles.push(tri);
            self.mesh.classes.push(class);
            self.mesh.faces.push(face);
            if material.is_some() || self.with_material {
                let n = self.mesh.triangles.len() - 1;
                let m = self.mesh.materials.get_or_insert_with(|| vec![u16::MAX; n]);
                m.push(material.unwrap_or(u16::MAX));
                self.with_material = true;
            }
        }
        Ok(face)
    }

    /// The mesh built.
    pub fn finish(self) -> Mesh3 {
        self.mesh
    }

    /// Triangles so far.
    pub fn triangle_count(&self) -> usize {
        self.mesh.triangles.len()
    }
}

/// A ring's length without the closing point (if it repeats the first).
pub(crate) fn open_len(ring: &[[f64; 3]]) -> usize {
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.len() - 1
    } else {
        ring.len()
    }
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests;
