//! The in-memory spatial index over a project's features, built by bulk loading at open.

use crate::error::Result;
use crate::{CityCode, FeatureFilter, FeatureKind, Project, Raster};
use cim_spatial_index::{Item, ItemId, Shape, SpatialIndex};

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
}

/// Per-feature data the index keeps beside the R-tree: enough to name a hit.
#[derive(Clone, Debug)]
struct Entry {
    code: CityCode,
    layer: u16,
    kind: FeatureKind,
}

/// A spatial index over a project's features, with 3D solids: LOD1 buildings as extruded
/// footprints, other polygons as flat shapes on the ground, lines as road centrelines.
pub struct CityIndex {
    index: SpatialIndex,
    entries: Vec<Entry>,
    /// Index item → entry: a multi-part feature has one item per part, all naming its entry.
    item_entry: Vec<u32>,
    layers: Vec<String>,
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
    /// a multi-part feature share its entry.
    pub fn load(project: &Project, filter: &FeatureFilter) -> Result<CityIndex> {
        let terrain = match project.terrains()?.first() {
            Some(t) => Some(project.terrain(&t.name)?),
            None => None,
        };
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
            let (base_z, top_z) = match &f.lod1 {
                Some(l) => (l.base_m, l.top_m()),
                None => {
                    let z = ground_z(terrain.as_ref(), &f.geometry);
                    (z, z)
                }
            };
            push_shapes(&mut items, &f.geometry, base_z, top_z);
            item_entry.resize(items.len(), entry);
            entries.push(Entry {
                code: f.code,
                layer: layer as u16,
                kind: f.kind,
            });
            Ok(())
        })?;
        Ok(CityIndex {
            index: SpatialIndex::bulk_load(items),
            entries,
            item_entry,
            layers,
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
        Some(PickHit {
            code: e.code.clone(),
            layer: self.layers.get(usize::from(e.layer)).cloned().unwrap_or_default(),
            kind: e.kind,
            distance_m: hit.distance,
            point: hit.point,
            normal: hit.normal,
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
