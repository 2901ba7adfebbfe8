//! City models with 3-D geometry (CityJSON, CityJSONSeq, CityGML, JSON-FG `place`): read into
//! [`CityObjectIn`]s, then one pipeline ([`import_city_model`]) places every vertex in the
//! project CRS, triangulates each surface into the feature's [`Representation`]s (keeping their
//! semantic class and source face), derives the 2-D footprint the layer stores (so QGIS,
//! `cim query`, the R-tree and flood runs see the object) and the z-range as base and height,
//! and writes features and meshes in one transaction.
//!
//! Layers: buildings (and their parts) go to the layer named by `--layer` (default: the file's
//! stem); other kinds to `<layer>_<kind>` (`delft_road`, `delft_vegetation`…).

pub mod citygml;
pub mod cityjson;
pub mod jsonfg;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use cim_engine::mesh::{
    EncodedRepresentation, FastMap, GeometryKind, MeshBuilder, Paint, Representation, SurfaceClass,
};
use cim_engine::{
    AttrValue, Attributes, CityCode, Crs, Feature, FeatureKind, FieldDef, FieldType, GeometryType,
    HeightSource, ImportTx, LayerSpec, Lod1, Project, Transform, Validity, Written,
};
use geo::{ConvexHull, Coord, LineString, MultiPoint, MultiPolygon, Point, Polygon};
use rayon::prelude::*;

use crate::error::{ImportError, Result, Warning};
use crate::pipeline::{ImportOptions, ImportReport, LayerReport};
use crate::placement::{Misplaced, PlaceCheck};

/// A surface of a city object as read: a planar polygon (outer ring, then holes) in the source
/// CRS, its class, and its texture coordinates and paint (an index into the model's
/// [`CityModelIn::paints`]) where it has them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SurfaceIn {
    pub rings: Vec<Vec<[f64; 3]>>,
    pub class: SurfaceClass,
    pub uvs: Option<Vec<Vec<[f32; 2]>>>,
    pub material: Option<u16>,
}

/// How surfaces look, as a model file gives it: a texture image (a file beside the model) or a
/// colour.
#[derive(Clone, Debug, PartialEq)]
pub enum PaintIn {
    /// The image file, resolved against the model's folder.
    Texture { image: PathBuf },
    /// Linear RGB and opacity.
    Color([f32; 4]),
}

/// One geometry of a city object as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RepresentationIn {
    pub lod: String,
    pub kind: GeometryKind,
    pub surfaces: Vec<SurfaceIn>,
}

/// A city object as read, still in the source CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct CityObjectIn {
    /// 1-based position in the file, for messages.
    pub record: u64,
    /// Its id in the source (CityJSON key, `gml:id`): the city code is derived from it.
    pub id: String,
    /// The source's type name (`Building`, `BuildingPart`, `+NoiseBarrier`…).
    pub type_name: String,
    pub kind: FeatureKind,
    pub attributes: Attributes,
    /// The id of the object it is part of (a BuildingPart's Building).
    pub parent: Option<String>,
    pub representations: Vec<RepresentationIn>,
    /// Problems the reader found in this object.
    pub warnings: Vec<String>,
}

/// A city model file, read.
#[derive(Debug, Default)]
pub struct CityModelIn {
    pub path: PathBuf,
    /// The format, for messages and the layer's source (`CityJSON 2.0`…).
    pub format: String,
    pub crs: Option<Crs>,
    pub objects: Vec<CityObjectIn>,
    pub warnings: Vec<Warning>,
    /// What surfaces' `material` indices name.
    pub paints: Vec<PaintIn>,
}

/// The cim kind of a CityJSON/CityGML city object type; `None` for a type it does not know
/// (extension types, `+Name`, are known: other).
pub fn kind_of_type(type_name: &str) -> Option<FeatureKind> {
    if type_name.starts_with('+') {
        return Some(FeatureKind::Other);
    }
    Some(match type_name {
        "Building"
        | "BuildingPart"
        | "BuildingInstallation"
        | "BuildingConstructiveElement"
        | "BuildingFurniture"
        | "BuildingRoom"
        | "BuildingStorey"
        | "BuildingUnit" => FeatureKind::Building,
        "Road" | "TransportSquare" | "Square" | "Track" | "Intersection" | "Section" => FeatureKind::Road,
        "WaterBody" | "Waterway" => FeatureKind::Water,
        "PlantCover" | "SolitaryVegetationObject" => FeatureKind::Vegetation,
        "TINRelief" | "ReliefFeature" => FeatureKind::Terrain,
        "Railway"
        | "Bridge"
        | "BridgePart"
        | "BridgeInstallation"
        | "BridgeConstructiveElement"
        | "BridgeRoom"
        | "BridgeFurniture"
        | "Tunnel"
        | "TunnelPart"
        | "TunnelInstallation"
        | "TunnelConstructiveElement"
        | "TunnelHollowSpace"
        | "TunnelFurniture"
        | "CityFurniture"
        | "GenericCityObject"
        | "OtherConstruction"
        | "CityObjectGroup"
        | "LandUse" => FeatureKind::Other,
        _ => return None,
    })
}

/// The layer objects of `kind` go to, from the base layer name.
pub fn layer_for(base: &str, kind: FeatureKind) -> String {
    if kind == FeatureKind::Building {
        base.to_string()
    } else {
        format!("{base}_{}", kind.name())
    }
}

/// An object's representations triangulated in the project CRS, and how many polygons had to be
/// left out (too few points, no area). `paints` are the model's, resolved: each
/// representation gets those its surfaces use, its triangles' material indices renumbered to
/// them.
fn build_representations(reps: &[RepresentationIn], paints: &[Paint]) -> (Vec<Representation>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for r in reps {
        let Some(origin) = r.surfaces.iter().flat_map(|s| s.rings.iter().flatten()).next() else {
            continue;
        };
        let mut b = MeshBuilder::new(*origin);
        for s in &r.surfaces {
            if b.add_polygon(&s.rings, s.class, s.uvs.as_deref(), s.material)
                .is_err()
            {
                skipped += 1;
            }
        }
        let mut mesh = b.finish();
        let mut used: Vec<Paint> = Vec::new();
        if let Some(m) = &mut mesh.materials {
            let mut local: HashMap<u16, u16> = HashMap::new();
            for k in m.iter_mut() {
                let Some(p) = paints.get(usize::from(*k)) else {
                    *k = u16::MAX;
                    continue;
                };
                *k = *local.entry(*k).or_insert_with(|| {
                    used.push(*p);
                    (used.len() - 1) as u16
                });
            }
            if used.is_empty() {
                mesh.materials = None;
            }
        }
        if !mesh.triangles.is_empty() {
            out.push(Representation {
                lod: r.lod.clone(),
                kind: r.kind,
                mesh,
                paints: used,
            });
        }
    }
    (out, skipped)
}

/// The 2-D footprint of 3-D geometry: the outline of its downward triangles (ground surfaces,
/// undersides) seen from above; failing those, of its upward ones (roofs of a model without a
/// ground); failing those, the convex hull of its points. Outlines come from the triangles'
/// boundary edges (an edge two triangles share is inside), so no polygon union is needed.
pub fn footprint_of(reps: &[Representation]) -> Option<MultiPolygon<f64>> {
    // The lowest level of detail that has faces: the simplest outline of the object.
    let rep = reps.iter().min_by(|a, b| a.lod.cmp(&b.lod))?;
    let m = &rep.mesh;
    let normal_z = |t: &[u32; 3]| -> f64 {
        let [a, b, c] = t.map(|v| m.world(v));
        let (u, w) = (
            [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
            [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
        );
        let n = [
            u[1] * w[2] - u[2] * w[1],
            u[2] * w[0] - u[0] * w[2],
            u[0] * w[1] - u[1] * w[0],
        ];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        if len > 0.0 {
            n[2] / len
        } else {
            0.0
        }
    };
    let nz: Vec<f64> = m.triangles.iter().map(normal_z).collect();
    for pick in [
        &(|z: f64| z < -0.3) as &dyn Fn(f64) -> bool,
        &(|z: f64| z > 0.3) as &dyn Fn(f64) -> bool,
    ] {
        let tris: Vec<[u32; 3]> = m
            .triangles
            .iter()
            .zip(&nz)
            .filter(|(_, z)| pick(**z))
            .map(|(t, _)| *t)
            .collect();
        if let Some(mp) = outline(m, &tris) {
            return Some(mp);
        }
    }
    let points: MultiPoint<f64> = (0..m.positions.len())
        .map(|k| m.world(k as u32))
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .map(|p| Point::new(p[0], p[1]))
        .collect();
    if points.0.is_empty() {
        return None;
    }
    let hull = points.convex_hull();
    (geo::Area::unsigned_area(&hull) > 1e-9).then(|| MultiPolygon(vec![hull]))
}

/// The outline, seen from above, of a set of triangles: outer rings and their holes.
fn outline(m: &cim_engine::mesh::Mesh3, tris: &[[u32; 3]]) -> Option<MultiPolygon<f64>> {
    if tris.is_empty() {
        return None;
    }
    // Vertices at the same place in plan (a wall's top and bottom) are one point.
    let xy = |v: u32| {
        let p = m.world(v);
        (p[0], p[1])
    };
    let key = |v: u32| {
        let (x, y) = xy(v);
        ((x * 1000.0).round() as i64, (y * 1000.0).round() as i64)
    };
    // Plan positions to the millimetre, as integers.
    type At = (i64, i64);
    let mut edges: FastMap<(At, At), u32> = FastMap::default();
    let mut at: FastMap<(i64, i64), (f64, f64)> = FastMap::default();
    for t in tris {
        // All of them the same way round seen from above.
        let (a, b, c) = (xy(t[0]), xy(t[1]), xy(t[2]));
        let ccw = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0) > 0.0;
        let t = if ccw { *t } else { [t[0], t[2], t[1]] };
        for k in 0..3 {
            let (p, q) = (key(t[k]), key(t[(k + 1) % 3]));
            at.insert(p, xy(t[k]));
            if p == q {
                continue;
            }
            // An edge and its reverse cancel: it lies inside.
            if let Some(n) = edges.get_mut(&(q, p)) {
                *n -= 1;
                if *n == 0 {
                    edges.remove(&(q, p));
                }
                continue;
            }
            *edges.entry((p, q)).or_insert(0) += 1;
        }
    }
    let mut next: FastMap<(i64, i64), Vec<(i64, i64)>> = FastMap::default();
    let mut keys: Vec<((i64, i64), (i64, i64))> = edges.keys().copied().collect();
    keys.sort_unstable();
    for (p, q) in keys {
        next.entry(p).or_default().push(q);
    }
    let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut starts: Vec<(i64, i64)> = next.keys().copied().collect();
    starts.sort_unstable();
    for s in starts {
        while next.get(&s).is_some_and(|v| !v.is_empty()) {
            let mut ring = vec![s];
            let mut cur = s;
            while let Some(n) = next.get_mut(&cur).and_then(|v| v.pop()) {
                if n == s {
                    break;
                }
                ring.push(n);
                cur = n;
                if ring.len() > tris.len() * 3 + 3 {
                    break;
                }
            }
            if ring.len() >= 3 {
                let mut coords: Vec<Coord<f64>> = ring
                    .iter()
                    .map(|k| {
                        let (x, y) = at[k];
                        Coord { x, y }
                    })
                    .collect();
                coords.push(coords[0]);
                rings.push(coords);
            }
        }
    }
    let signed = |r: &[Coord<f64>]| -> f64 {
        r.windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum::<f64>()
            / 2.0
    };
    // Counter-clockwise rings are outlines, clockwise ones holes.
    let (outers, holes): (Vec<_>, Vec<_>) = rings
        .into_iter()
        .filter(|r| signed(r).abs() > 1e-9)
        .partition(|r| signed(r) > 0.0);
    let mut polys: Vec<(Polygon<f64>, f64)> = outers
        .into_iter()
        .map(|r| {
            let a = signed(&r);
            (Polygon::new(LineString(r), vec![]), a)
        })
        .collect();
    if polys.is_empty() {
        return None;
    }
    for h in holes {
        let p = Point::from(h[0]);
        // The smallest outline holding the hole's first point.
        let home = polys
            .iter_mut()
            .filter(|(poly, _)| geo::Contains::contains(poly, &p) || geo::Intersects::intersects(poly, &p))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((poly, _)) = home {
            poly.interiors_push(LineString(h));
        }
    }
    Some(MultiPolygon(polys.into_iter().map(|(p, _)| p).collect()))
}

/// The field type of a value (`None` for a null, which any field holds).
fn value_type(v: &AttrValue) -> Option<FieldType> {
    Some(match v {
        AttrValue::Null => return None,
        AttrValue::Bool(_) => FieldType::Bool,
        AttrValue::Int(_) => FieldType::Int,
        AttrValue::Real(_) => FieldType::Real,
        AttrValue::Text(_) => FieldType::Text,
        AttrValue::Date(_) => FieldType::Date,
    })
}

/// The field type that holds values of types `a` and `b`.
fn widen(a: FieldType, b: FieldType) -> FieldType {
    match (a, b) {
        (a, b) if a == b => a,
        (FieldType::Int, FieldType::Real) | (FieldType::Real, FieldType::Int) => FieldType::Real,
        _ => FieldType::Text,
    }
}

/// Transforms every vertex of `reps` into the project CRS (heights kept).
fn to_project(reps: &mut [RepresentationIn], transform: &Transform) -> std::result::Result<(), String> {
    if transform.is_identity() {
        return Ok(());
    }
    for r in reps {
        for s in &mut r.surfaces {
            for ring in &mut s.rings {
                let mut xs: Vec<f64> = ring.iter().map(|p| p[0]).collect();
                let mut ys: Vec<f64> = ring.iter().map(|p| p[1]).collect();
                transform
                    .apply_slice(&mut xs, &mut ys)
                    .map_err(|e| e.to_string())?;
                for (k, p) in ring.iter_mut().enumerate() {
                    p[0] = xs[k];
                    p[1] = ys[k];
                }
            }
        }
    }
    Ok(())
}

/// Imports a city model into the project in one transaction: features with their footprints
/// and 3-D representations, buildings into the layer, other kinds into `<layer>_<kind>`.
pub fn import_city_model(
    project: &mut Project,
    model: CityModelIn,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let mut w = CityModelWriter::new(project, &model.path, &model.format, model.crs.clone(), opts)?;
    w.write(model.objects, &model.paints)?;
    w.finish(model.warnings)
}

/// Writes a city model into a project batch by batch, all in one transaction (committed by
/// [`CityModelWriter::finish`]; dropped unfinished, nothing is written). A batch must hold
/// whole trees: a part comes in the same batch as its parent (the CityGML reader hands over
/// top-level objects with everything nested in them). Layers get the fields their objects
/// bring, batch by batch.
pub struct CityModelWriter<'p> {
    tx: ImportTx<'p>,
    path: PathBuf,
    format: String,
    opts: ImportOptions,
    project_path: PathBuf,
    transform: Transform,
    place: PlaceCheck,
    region: String,
    base: String,
    /// Per layer: its report and the fields declared so far.
    reports: BTreeMap<String, LayerReport>,
    fields: BTreeMap<String, BTreeMap<String, FieldType>>,
    heights: BTreeMap<String, BTreeMap<String, u64>>,
    outside: u64,
    first_outside: Option<String>,
    warnings: Vec<Warning>,
    /// The model's paints resolved so far (textures stored in the project).
    paints: Vec<Paint>,
}

impl<'p> CityModelWriter<'p> {
    /// Starts the import of the model in `path` (its `format` for the layers' source), whose
    /// objects are in `crs` (the file's; `--src-crs` overrides it).
    pub fn new(
        project: &'p mut Project,
        path: &Path,
        format: &str,
        crs: Option<Crs>,
        opts: &ImportOptions,
    ) -> Result<CityModelWriter<'p>> {
        let project_path = project.path().to_path_buf();
        let src_crs = match (&opts.src_crs, crs) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) => c,
            (None, None) => return Err(ImportError::MissingCrs {
                path: path.to_path_buf(),
                reason:
                    "the file states no reference system (CityJSON metadata.referenceSystem, CityGML srsName)"
                        .into(),
            }),
        };
        let project_crs = project.crs().clone();
        let region = project.region_code().to_string();
        let tx = project
            .import()
            .map_err(|e| ImportError::engine(project_path.clone(), e))?;
        Ok(CityModelWriter {
            tx,
            path: path.to_path_buf(),
            format: format.to_string(),
            opts: opts.clone(),
            transform: Transform::new(&project_crs, &src_crs),
            place: PlaceCheck::new(&project_crs, &src_crs, None),
            region,
            base: opts.layer.clone().unwrap_or_else(|| stem_of(path)),
            project_path,
            reports: BTreeMap::new(),
            fields: BTreeMap::new(),
            heights: BTreeMap::new(),
            outside: 0,
            first_outside: None,
            warnings: Vec::new(),
            paints: Vec::new(),
        })
    }

    /// Resolves the paints not resolved yet: texture images are read and stored in the project
    /// (a missing or unreadable one becomes plain white: the reader has warned about it).
    fn resolve_paints(&mut self, paints: &[PaintIn]) -> Result<()> {
        for p in paints.iter().skip(self.paints.len()) {
            let paint = match p {
                PaintIn::Color(c) => Paint::Color(*c),
                PaintIn::Texture { image } => match std::fs::read(image) {
                    Ok(bytes) => {
                        let name = image
                            .strip_prefix(self.path.parent().unwrap_or(Path::new("")))
                            .unwrap_or(image)
                            .to_string_lossy()
                            .into_owned();
                        let id = self
                            .tx
                            .put_texture(&name, &bytes)
                            .map_err(|e| ImportError::engine(self.project_path.clone(), e))?;
                        Paint::Texture(id)
                    }
                    Err(_) => Paint::Color([1.0, 1.0, 1.0, 1.0]),
                },
            };
            self.paints.push(paint);
        }
        Ok(())
    }

    /// The layer buildings go to (other kinds to `<layer>_<kind>`).
    pub fn base_layer(&self) -> &str {
        &self.base
    }

    /// Records the BIM model these objects come from, in the same transaction.
    pub fn put_bim_model(&mut self, m: &cim_engine::BimModel) -> Result<()> {
        self.tx
            .put_bim_model(m)
            .map_err(|e| ImportError::engine(self.project_path.clone(), e))
    }

    fn engine_err(&self, source: cim_engine::EngineError) -> ImportError {
        ImportError::engine(self.project_path.clone(), source)
    }

    fn warn(&mut self, record: Option<u64>, message: String) -> Result<()> {
        crate::pipeline::warn_or_fail(&mut self.warnings, &self.path, self.opts.strict, record, message)
    }

    /// Makes sure the layers of `objects` exist with every field they bring (typed to hold the
    /// values seen so far; a field new in this batch becomes a new column).
    fn ensure_layers(&mut self, objects: &[CityObjectIn]) -> Result<()> {
        let mut batch: BTreeMap<String, (FeatureKind, BTreeMap<String, FieldType>)> = BTreeMap::new();
        for o in objects {
            let kind = self.opts.kind.unwrap_or(o.kind);
            let entry = batch
                .entry(layer_for(&self.base, kind))
                .or_insert_with(|| (kind, BTreeMap::new()));
            for (k, v) in &o.attributes {
                let t = value_type(v);
                entry
                    .1
                    .entry(k.clone())
                    .and_modify(|was| *was = t.map_or(*was, |t| widen(*was, t)))
                    .or_insert(t.unwrap_or(FieldType::Text));
            }
        }
        for (layer, (kind, fields)) in batch {
            let known = self.fields.entry(layer.clone()).or_default();
            let new_fields = !fields.keys().all(|k| known.contains_key(k));
            if self.reports.contains_key(&layer) && !new_fields {
                continue;
            }
            for (k, t) in fields {
                known.entry(k).or_insert(t);
            }
            let mut defs: Vec<FieldDef> = known
                .iter()
                .map(|(name, t)| FieldDef {
                    name: name.clone(),
                    field_type: *t,
                })
                .collect();
            for extra in ["object_type", "object_id", "parent_code"] {
                if !defs.iter().any(|f| f.name == extra) {
                    defs.push(FieldDef {
                        name: extra.into(),
                        field_type: FieldType::Text,
                    });
                }
            }
            let spec = LayerSpec {
                name: layer.clone(),
                kind,
                classification: self.opts.classification,
                geometry_type: GeometryType::MultiPolygon,
                fields: defs,
                source: format!("{} ({})", self.path.display(), self.format),
            };
            self.tx
                .ensure_layer(&spec)
                .map_err(|e| ImportError::engine(self.project_path.clone(), e))?;
            self.reports.entry(layer.clone()).or_insert_with(|| LayerReport {
                layer,
                kind: Some(kind),
                ..Default::default()
            });
        }
        Ok(())
    }

    /// Places, triangulates and writes a batch of objects, whose surfaces' paints index
    /// `paints` (the model's, as read so far).
    pub fn write(&mut self, mut objects: Vec<CityObjectIn>, paints: &[PaintIn]) -> Result<()> {
        if objects.is_empty() {
            return Ok(());
        }
        self.resolve_paints(paints)?;
        let opts = self.opts.clone();
        let kind_of = |o: &CityObjectIn| opts.kind.unwrap_or(o.kind);
        let (region, base) = (self.region.clone(), self.base.clone());
        // Codes first: a part names its parent's code.
        let code_of: HashMap<String, CityCode> = objects
            .iter()
            .map(|o| {
                let kind = kind_of(o);
                (
                    o.id.clone(),
                    CityCode::derive(&region, kind, &layer_for(&base, kind), &o.id),
                )
            })
            .collect();
        self.ensure_layers(&objects)?;
        // First every object's geometry in the project CRS, its footprint and z-range; then the
        // objects that carry none themselves (a Building made of BuildingParts) take their parts'.
        struct Placed {
            reps: Vec<EncodedRepresentation>,
            footprint: Option<MultiPolygon<f64>>,
            z: Option<(f64, f64, String)>,
            first_source_point: Option<Coord<f64>>,
        }
        let transform = &self.transform;
        let resolved = &self.paints;
        let mut placed: Vec<Placed> = objects
            .par_iter_mut()
            .map(|o| {
                let first_source_point = o
                    .representations
                    .iter()
                    .flat_map(|r| r.surfaces.iter().flat_map(|s| s.rings.iter().flatten()))
                    .next()
                    .map(|p| Coord { x: p[0], y: p[1] });
                if let Err(e) = to_project(&mut o.representations, transform) {
                    o.warnings.push(format!(
                        "cannot be placed in the project CRS: {e}; its geometry is left out"
                    ));
                    o.representations.clear();
                }
                let (reps, left_out) = build_representations(&o.representations, resolved);
                o.representations = Vec::new();
                if left_out > 0 {
                    o.warnings.push(format!(
                        "{left_out} polygon(s) without area or with fewer than 3 points left out"
                    ));
                }
                let z = reps
                    .iter()
                    .fold(None::<(f64, f64, String)>, |acc, r| match r.mesh.bounds() {
                        Some((lo, hi)) => Some(match acc {
                            Some((a, b, l)) => (a.min(lo[2]), b.max(hi[2]), l.max(r.lod.clone())),
                            None => (lo[2], hi[2], r.lod.clone()),
                        }),
                        None => acc,
                    });
                Placed {
                    footprint: footprint_of(&reps),
                    reps: reps.iter().filter_map(Representation::encode).collect(),
                    z,
                    first_source_point,
                }
            })
            .collect();
        let index_of: HashMap<&str, usize> = objects
            .iter()
            .enumerate()
            .map(|(k, o)| (o.id.as_str(), k))
            .collect();
        let mut parts_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, o) in objects.iter().enumerate() {
            if let Some(&parent) = o.parent.as_ref().and_then(|p| index_of.get(p.as_str())) {
                parts_of.entry(parent).or_default().push(k);
            }
        }
        for k in 0..placed.len() {
            if placed[k].footprint.is_some() {
                continue;
            }
            let parts: Vec<usize> = parts_of.get(&k).cloned().unwrap_or_default();
            let mut polys = Vec::new();
            let mut z: Option<(f64, f64, String)> = None;
            let mut first = None;
            for &c in &parts {
                if let Some(fp) = &placed[c].footprint {
                    polys.extend(fp.0.iter().cloned());
                }
                if let Some((a, b, l)) = &placed[c].z {
                    z = Some(match z {
                        Some((za, zb, zl)) => (za.min(*a), zb.max(*b), zl.max(l.clone())),
                        None => (*a, *b, l.clone()),
                    });
                }
                first = first.or(placed[c].first_source_point);
            }
            if !polys.is_empty() {
                placed[k].footprint = Some(MultiPolygon(polys));
                placed[k].z = z;
                placed[k].first_source_point = first;
            }
        }
        drop(index_of);
        for (
            mut o,
            Placed {
                reps,
                footprint,
                z,
                first_source_point,
            },
        ) in objects.into_iter().zip(placed)
        {
            let kind = kind_of(&o);
            let layer = layer_for(&base, kind);
            if !self.reports.contains_key(&layer) {
                continue;
            }
            if let Some(lr) = self.reports.get_mut(&layer) {
                lr.read += 1;
            }
            for m in std::mem::take(&mut o.warnings) {
                self.warn(Some(o.record), format!("object '{}': {m}", o.id))?;
            }
            let Some(footprint) = footprint else {
                self.warn(
                    Some(o.record),
                    format!(
                        "object '{}' ({}): no 3-D surfaces to place it by, nor parts with any; skipped",
                        o.id, o.type_name
                    ),
                )?;
                if let Some(lr) = self.reports.get_mut(&layer) {
                    lr.skipped += 1;
                }
                continue;
            };
            let envelope = geo::BoundingRect::bounding_rect(&footprint)
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
            // Placed by its first point as the source gives it.
            let first = first_source_point.unwrap_or(Coord { x: 0.0, y: 0.0 });
            match self.place.check(first, envelope) {
                Some(Misplaced::OutsideArea(m)) => {
                    self.outside += 1;
                    if self.first_outside.is_none() {
                        self.first_outside = Some(format!("object '{}': {m}", o.id));
                    }
                    self.warn(Some(o.record), format!("object '{}': {m}", o.id))?;
                }
                Some(Misplaced::FarFromProject(m)) => self.warn(Some(o.record), m)?,
                None => {}
            }
            let (zmin, zmax, lod) = z.unwrap_or((0.0, 0.0, String::new()));
            // A building made only of parts is drawn, picked and flooded by its parts: it keeps
            // their outline as its footprint but no prism of its own.
            let made_of_parts = reps.is_empty();
            let lod1 = (kind == FeatureKind::Building && zmax > zmin && !made_of_parts).then(|| Lod1 {
                base_m: zmin,
                height_m: zmax - zmin,
                height_source: HeightSource::Geometry { lod: lod.clone() },
            });
            if lod1.is_some() {
                let source = HeightSource::Geometry { lod: lod.clone() }.to_string();
                *self
                    .heights
                    .entry(layer.clone())
                    .or_default()
                    .entry(source)
                    .or_default() += 1;
            } else if kind == FeatureKind::Building && !made_of_parts {
                if let Some(lr) = self.reports.get_mut(&layer) {
                    lr.without_height += 1;
                }
            }
            let mut attributes = std::mem::take(&mut o.attributes);
            // A source's own time (JSON-FG `time`) as the day the feature is valid from.
            let feature_valid_from = attributes.remove("valid_from");
            attributes.insert("object_type".into(), AttrValue::Text(o.type_name.clone()));
            attributes.insert("object_id".into(), AttrValue::Text(o.id.clone()));
            if let Some(parent) = &o.parent {
                match code_of.get(parent) {
                    Some(c) => {
                        attributes.insert("parent_code".into(), AttrValue::Text(c.to_string()));
                    }
                    None => self.warn(
                        Some(o.record),
                        format!("object '{}': its parent '{parent}' is not in the file", o.id),
                    )?,
                }
            }
            let Some(code) = code_of.get(&o.id).cloned() else {
                continue;
            };
            let feature = Feature {
                code,
                kind,
                geometry: geo::Geometry::MultiPolygon(footprint),
                lod1,
                attributes,
                validity: Validity {
                    from: opts.valid_from.or(match feature_valid_from {
                        Some(AttrValue::Date(d)) => Some(d),
                        _ => None,
                    }),
                    to: opts.valid_to,
                },
                classification: opts.classification,
                source_key: o.id.clone(),
            };
            let written = self.tx.write(&layer, &feature).map_err(|e| self.engine_err(e))?;
            if let Some(lr) = self.reports.get_mut(&layer) {
                match written {
                    Written::Inserted => lr.inserted += 1,
                    Written::Replaced => lr.replaced += 1,
                }
            }
            self.tx
                .put_encoded_representations(&layer, &feature.code, &reps)
                .map_err(|e| ImportError::engine(self.project_path.clone(), e))?;
        }
        Ok(())
    }

    /// Commits what was written, with the reader's `warnings` first in the report.
    pub fn finish(self, reader_warnings: Vec<Warning>) -> Result<ImportReport> {
        let CityModelWriter {
            tx,
            path,
            opts,
            project_path,
            mut reports,
            heights,
            outside,
            first_outside,
            warnings,
            ..
        } = self;
        let mut report = ImportReport {
            warnings: reader_warnings,
            ..Default::default()
        };
        report.warnings.extend(warnings);
        let stored: u64 = reports.values().map(|r| r.inserted + r.replaced).sum();
        if stored > 0 && outside == stored {
            return Err(ImportError::file(
                &path,
                format!(
                    "every object lies outside the project CRS's area of use ({}); nothing stored",
                    first_outside.unwrap_or_default()
                ),
            ));
        }
        for (layer, lr) in &mut reports {
            if let Some(h) = heights.get(layer) {
                lr.height_sources = h.iter().map(|(k, v)| (k.clone(), *v)).collect();
            }
        }
        report.layers = reports.into_values().filter(|r| r.read > 0).collect();
        if stored == 0 && !opts.allow_empty {
            return Err(crate::pipeline::nothing_stored(path.clone(), report));
        }
        tx.commit().map_err(|e| ImportError::engine(project_path, e))?;
        Ok(report)
    }
}

/// A file's stem without its compound extensions (`delft.city.json` → `delft`).
pub fn stem_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "city".into());
    let lower = name.to_lowercase();
    for ext in [
        ".city.jsonl",
        ".city.json",
        ".jsonl",
        ".json",
        ".gml",
        ".xml",
        ".ifc",
    ] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}
