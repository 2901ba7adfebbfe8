//! The in-memory spatial index over a project's features, built by bulk loading at open.

use std::collections::HashMap;

use crate::error::{EngineError, Result};
use crate::mesh::SurfaceClass;
use crate::{CityCode, FeatureFilter, FeatureKind, Project, Raster};
use cim_spatial_index::{Item, ItemId, Shape, SpatialIndex, TriangleMesh};

/// What a ray pick found.
#[derive(Clone, Debug, PartialEq)]
pub struct PickHit {
    pub code: CityCode,
    pub layer: String,
    pub kind: FeatureKind,
    /// Distance along the (normalised) ray, metres.
    pub distance_m: f64,
    pub point: [f64; 3],
    pub normal: [f64; 3],
    /// Where the feature has 3-D geometry: the surface hit on it.
    pub surface: Option<PickSurface>,
}

/// The surface a ray met on a feature's 3-D geometry (its finest level of detail).
#[derive(Clone, Debug, PartialEq)]
pub struct PickSurface {
    pub class: SurfaceClass,
    /// The level of detail, as the source writes it ("2", "2.2"…).
    pub lod: String,
    /// The source face (polygon) hit, in the representation's face order.
    pub face: u32,
}

/// Per-feature data the index keeps beside the R-tree: enough to name a hit.
#[derive(Clone, Debug)]
struct Entry {
    code: CityCode,
    layer: u16,
    kind: FeatureKind,
    /// Index into `lods` of the mesh indexed for it (`u8::MAX`: none, its 2-D shape is).
    lod: u8,
}

/// A spatial index over a project's features, with 3D solids: features with 3-D geometry as
/// their finest mesh (picked on the surface drawn, which is named), LOD1 buildings as extruded
/// footprints, other polygons as flat shapes on the ground, lines as road centrelines.
pub struct CityIndex {
    index: SpatialIndex,
    entries: Vec<Entry>,
    /// Index item → entry: a multi-part feature has one item per part, all naming its entry.
    item_entry: Vec<u32>,
    layers: Vec<String>,
    lods: Vec<String>,
}

impl PickSurface {
    /// A triangle's tag (in the spatial index, in the viewer's tiles): its surface class in the
    /// top byte, its source face below (faces past 2²⁴ − 1 read as that).
    pub fn tag(class: SurfaceClass, face: u32) -> u32 {
        (class as u32) << 24 | face.min(0x00ff_ffff)
    }

    /// The tag of each triangle of `m`.
    pub fn tags(m: &crate::mesh::Mesh3) -> Vec<u32> {
        m.classes
            .iter()
            .zip(&m.faces)
            .map(|(c, f)| PickSurface::tag(*c, *f))
            .collect()
    }

    /// The surface a [`PickSurface::tag`] names, on a representation at `lod`.
    pub fn from_tag(tag: u32, lod: &str) -> PickSurface {
        PickSurface {
            class: SurfaceClass::from_code((tag >> 24) as u8).unwrap_or_default(),
            lod: lod.to_string(),
            face: tag & 0x00ff_ffff,
        }
    }
}

/// The finest 3-D representation of each feature of `layer` that has one, as an indexed mesh:
/// code → (level of detail, mesh).
fn finest_meshes(
    project: &Project,
    layer: &str,
    out: &mut HashMap<String, (String, TriangleMesh)>,
) -> Result<()> {
    project.for_each_representation(layer, None, |code, rep| {
        if out.get(code).is_some_and(|(lod, _)| *lod >= rep.lod) {
            return Ok(());
        }
        let m = &rep.mesh;
        let mesh =
            TriangleMesh::new(m.origin, &m.positions, &m.triangles, &PickSurface::tags(m)).map_err(|e| {
                EngineError::Geometry {
                    reason: format!(
                        "the 3-D geometry of {code} (LoD {}) cannot be indexed: {e}",
                        rep.lod
                    ),
                }
            })?;
        out.insert(code.to_string(), (rep.lod, mesh));
        Ok(())
    })
}

/// Ground elevation for features without their own: terrain at the feature's first vertex,
/// else 0.
fn ground_z(terrain: Option<&Raster>, g: &geo::Geometry<f64>) -> f64 {
    use geo::CoordsIter;
    let Some(t) = terrain else { return 0.0 };
    g.coords_iter()
        .next()
        .and_then(|c| t.sample(c.x, c.y))
        .unwrap_or(0.0)
}

impl CityIndex {
    /// Loads the features matching `filter` from the project and bulk-loads the index. Items of
    /// a multi-part feature share its entry. A feature with 3-D geometry is indexed as its
    /// finest mesh, the others by their 2-D geometry (LOD1 buildings as prisms).
    pub fn load(project: &Project, filter: &FeatureFilter) -> Result<CityIndex> {
        let terrain = match project.terrains()?.first() {
            Some(t) => Some(project.terrain(&t.name)?),
            None => None,
        };
        let mut meshes: HashMap<String, (String, TriangleMesh)> = HashMap::new();
        for l in project.layers()? {
            if filter.layers.as_ref().is_none_or(|ls| ls.contains(&l.name)) {
                finest_meshes(project, &l.name, &mut meshes)?;
            }
        }
        let mut lods: Vec<String> = Vec::new();
        let mut items = Vec::new();
        let mut entries = Vec::new();
        let mut item_entry: Vec<u32> = Vec::new();
        let mut layers: Vec<String> = Vec::new();
        project.for_each_feature(filter, |s| {
            let layer = match layers.iter().position(|l| *l == s.layer) {
                Some(i) => i,
                None => {
                    layers.push(s.layer.clone());
                    layers.len() - 1
                }
            };
            let entry = entries.len() as u32;
            let f = s.feature;
            let mut lod = u8::MAX;
            if let Some((name, mesh)) = meshes.remove(f.code.as_str()) {
                lod = match lods.iter().position(|l| *l == name) {
                    Some(i) => i as u8,
                    None if lods.len() < usize::from(u8::MAX) => {
                        lods.push(name);
                        (lods.len() - 1) as u8
                    }
                    None => u8::MAX,
                };
                items.push(Item::new(items.len() as ItemId, Shape::Mesh(mesh)));
            } else {
                let (base_z, top_z) = match &f.lod1 {
                    Some(l) => (l.base_m, l.top_m()),
                    None => {
                        let z = ground_z(terrain.as_ref(), &f.geometry);
                        (z, z)
                    }
                };
                push_shapes(&mut items, &f.geometry, base_z, top_z);
            }
            item_entry.resize(items.len(), entry);
            entries.push(Entry {
                code: f.code,
                layer: layer as u16,
                kind: f.kind,
                lod,
            });
            Ok(())
        })?;
        Ok(CityIndex {
            index: SpatialIndex::bulk_load(items),
            entries,
            item_entry,
            layers,
            lods,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn spatial_index(&self) -> &SpatialIndex {
        &self.index
    }

    fn entry(&self, id: ItemId) -> Option<&Entry> {
        let e = *self.item_entry.get(usize::try_from(id).ok()?)?;
        self.entries.get(e as usize)
    }

    /// The city code of an index item.
    pub fn code(&self, id: ItemId) -> Option<&CityCode> {
        self.entry(id).map(|e| &e.code)
    }

    /// The first feature hit along a ray from `origin` in direction `dir` (project CRS, metres).
    pub fn pick(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<PickHit> {
        let hit = self.index.ray_pick(origin, dir)?;
        let e = self.entry(hit.id)?;
        let surface = hit.tag.map(|t| {
            let lod = self.lods.get(usize::from(e.lod)).map_or("", String::as_str);
            PickSurface::from_tag(t, lod)
        });
        Some(PickHit {
            code: e.code.clone(),
            layer: self.layers.get(usize::from(e.layer)).cloned().unwrap_or_default(),
            kind: e.kind,
            distance_m: hit.distance,
            point: hit.point,
            normal: hit.normal,
            surface,
        })
    }
}

impl CityIndex {
    /// The feature on the ground at `xy` (project CRS): a line or point within `radius_m` (the
    /// nearest; roads lie over parcels, so they come first), else the smallest flat polygon that
    /// contains it (a parcel, a pond). Solids (LOD1 buildings) are not ground features: pick
    /// them with [`CityIndex::pick`]. The hit is at `xy` and height `z`, facing up, at
    /// `distance_m` 0.
    /// (Tested in `engine/tests/store.rs`, on a project with a parcel, a road and a building.)
    pub fn at_ground(&self, xy: [f64; 2], z: f64, radius_m: f64) -> Option<PickHit> {
        use geo::Area;
        // (rank, measure, id): lines and points by distance, then polygons by area.
        let mut best: Option<(u8, f64, ItemId)> = None;
        for id in self.index.within_distance_2d(xy, radius_m) {
            let Some(shape) = self.index.get(id) else { continue };
            let key = match shape {
                Shape::Line { .. } | Shape::Point { .. } => (0, shape.distance_2d(xy)),
                Shape::Prism {
                    footprint,
                    base_z,
                    top_z,
                } if top_z <= base_z && shape.distance_2d(xy) == 0.0 => (1, footprint.unsigned_area()),
                _ => continue,
            };
            if best.is_none_or(|(r, m, _)| (key.0, key.1) < (r, m)) {
                best = Some((key.0, key.1, id));
            }
        }
        let (_, _, id) = best?;
        let e = self.entry(id)?;
        Some(PickHit {
            code: e.code.clone(),
            layer: self.layers.get(usize::from(e.layer)).cloned().unwrap_or_default(),
            kind: e.kind,
            distance_m: 0.0,
            point: [xy[0], xy[1], z],
            normal: [0.0, 0.0, 1.0],
            surface: None,
        })
    }
}

fn push_shapes(items: &mut Vec<Item>, g: &geo::Geometry<f64>, base_z: f64, top_z: f64) {
    use geo::Geometry as G;
    let push = |items: &mut Vec<Item>, shape: Shape| {
        let id = items.len() as ItemId;
        items.push(Item { id, shape });
    };
    match g {
        G::Polygon(p) => push(
            items,
            Shape::Prism {
                footprint: p.clone(),
                base_z,
                top_z,
            },
        ),
        G::MultiPolygon(m) => {
            for p in &m.0 {
                push(
                    items,
                    Shape::Prism {
                        footprint: p.clone(),
                        base_z,
                        top_z,
                    },
                );
            }
        }
        G::LineString(l) => push(
            items,
            Shape::Line {
                line: l.clone(),
                z: base_z,
            },
        ),
        G::MultiLineString(m) => {
            for l in &m.0 {
                push(
                    items,
                    Shape::Line {
                        line: l.clone(),
                        z: base_z,
                    },
                );
            }
        }
        G::Point(p) => push(
            items,
            Shape::Point {
                xyz: [p.x(), p.y(), base_z],
            },
        ),
        G::MultiPoint(m) => {
            for p in &m.0 {
                push(
                    items,
                    Shape::Point {
                        xyz: [p.x(), p.y(), base_z],
                    },
                );
            }
        }
        G::GeometryCollection(c) => {
            for g in &c.0 {
                push_shapes(items, g, base_z, top_z);
            }
        }
        G::Rect(r) => push_shapes(items, &G::Polygon(r.to_polygon()), base_z, top_z),
        G::Triangle(t) => push_shapes(items, &G::Polygon(t.to_polygon()), base_z, top_z),
        G::Line(l) => push_shapes(
            items,
            &G::LineString(geo::LineString(vec![l.start, l.end])),
            base_z,
            top_z,
        ),
    }
}
