//! CityJSON 2.0 out: the chosen features with every level of detail they have, semantic surfaces,
//! attributes and parent–child links, in the project CRS. Checked with `cjio validate`.
//!
//! - **Ids**: the source's object id (`object_id`, kept on import) where it is unique in the
//!   export, else the city code.
//! - **Types**: the source's type (`object_type`) where CityJSON 2.0 has it, else one from the
//!   feature's kind (building → Building, road → Road, water → WaterBody, vegetation →
//!   PlantCover, terrain → TINRelief, parcel → LandUse, other → GenericCityObject). A part
//!   (BuildingPart, BridgeInstallation…) whose parent is not exported becomes the first-level
//!   type, with a warning: CityJSON requires a part's parent.
//! - **Geometry**: each stored 3-D representation as a Solid, MultiSolid, CompositeSolid,
//!   MultiSurface or CompositeSurface (a TIN as a CompositeSurface), its polygons rebuilt from the
//!   mesh's source faces (`Mesh3::face_rings`), with the surfaces' semantics where the object's
//!   type allows them. A feature with no 3-D geometry but an LOD1 height is written as its LoD 1
//!   prism; one with neither is left out, counted in a warning.
//! - **Vertices**: welded at the millimetre, `transform` scale 0.001 with the minimum as
//!   translation; `metadata.referenceSystem` the project's EPSG code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use cim_engine::mesh::{GeometryKind, Mesh3, Paint, Representation, SurfaceClass};
use cim_engine::{AttrValue, FeatureFilter, FeatureKind, Project, StoredFeature};
use serde_json::{json, Map, Value};

use super::Exported;
use crate::error::{ImportError, Result};

/// City object types of CityJSON 2.0 (first- and second-level).
const TYPES: &[&str] = &[
    "Bridge",
    "BridgePart",
    "BridgeInstallation",
    "BridgeConstructiveElement",
    "BridgeRoom",
    "BridgeFurniture",
    "Building",
    "BuildingPart",
    "BuildingInstallation",
    "BuildingConstructiveElement",
    "BuildingFurniture",
    "BuildingStorey",
    "BuildingRoom",
    "BuildingUnit",
    "CityFurniture",
    "CityObjectGroup",
    "GenericCityObject",
    "LandUse",
    "OtherConstruction",
    "PlantCover",
    "SolitaryVegetationObject",
    "TINRelief",
    "WaterBody",
    "Road",
    "Railway",
    "Waterway",
    "TransportSquare",
    "Tunnel",
    "TunnelPart",
    "TunnelInstallation",
    "TunnelConstructiveElement",
    "TunnelHollowSpace",
    "TunnelFurniture",
];

/// The first-level type of a second-level one (`None`: it is first-level).
fn first_level(t: &str) -> Option<&'static str> {
    if t == "Building" || t == "Bridge" || t == "Tunnel" {
        return None;
    }
    [
        ("Building", "Building"),
        ("Bridge", "Bridge"),
        ("Tunnel", "Tunnel"),
    ]
    .into_iter()
    .find(|(prefix, _)| t.starts_with(prefix))
    .map(|(_, first)| first)
}

/// CityJSON names for types other formats call differently (CityGML 3.0's transportation).
fn cityjson_type(source: &str) -> Option<&'static str> {
    if let Some(t) = TYPES.iter().find(|t| **t == source) {
        return Some(t);
    }
    Some(match source {
        "Square" => "TransportSquare",
        "Track" | "Intersection" | "Section" => "Road",
        "ReliefFeature" => "TINRelief",
        _ => return None,
    })
}

fn type_of_kind(kind: FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Building => "Building",
        FeatureKind::Road => "Road",
        FeatureKind::Water => "WaterBody",
        FeatureKind::Vegetation => "PlantCover",
        FeatureKind::Terrain => "TINRelief",
        FeatureKind::Parcel => "LandUse",
        FeatureKind::Other => "GenericCityObject",
    }
}

/// Whether CityJSON allows a semantic surface of `class` on an object of type `t`.
fn allowed(t: &str, class: SurfaceClass) -> bool {
    use SurfaceClass as S;
    let building = t.starts_with("Building") || t.starts_with("Bridge") || t.starts_with("Tunnel");
    match class {
        S::Unclassified | S::Relief => false,
        S::Roof
        | S::Wall
        | S::Ground
        | S::Closure
        | S::OuterFloor
        | S::OuterCeiling
        | S::Window
        | S::Door
        | S::Floor
        | S::InteriorWall
        | S::Ceiling => building,
        S::WaterSurface | S::WaterGround | S::WaterClosure => t == "WaterBody",
        S::TrafficArea | S::AuxiliaryTrafficArea | S::TransportationMarking | S::TransportationHole => {
            matches!(t, "Road" | "Railway" | "Waterway" | "TransportSquare")
        }
    }
}

/// Attributes kept structurally rather than as attributes.
const STRUCTURAL: &[&str] = &["object_id", "object_type", "parent_code"];

fn attr_json(v: &AttrValue) -> Value {
    match v {
        AttrValue::Null => Value::Null,
        AttrValue::Bool(b) => json!(b),
        AttrValue::Int(i) => json!(i),
        AttrValue::Real(r) if r.is_finite() => json!(r),
        AttrValue::Real(_) => Value::Null,
        AttrValue::Text(t) => json!(t),
        AttrValue::Date(d) => json!(d.to_string()),
    }
}

fn text_attr<'a>(s: &'a StoredFeature, name: &str) -> Option<&'a str> {
    match s.feature.attributes.get(name) {
        Some(AttrValue::Text(t)) if !t.is_empty() => Some(t),
        _ => None,
    }
}

/// Vertices welded at the millimetre: absolute integer millimetres, in first-seen order.
#[derive(Default)]
struct Vertices {
    index: HashMap<[i64; 3], u32>,
    list: Vec<[i64; 3]>,
}

impl Vertices {
    fn add(&mut self, p: [f64; 3]) -> u32 {
        let q = p.map(|c| (c * 1000.0).round() as i64);
        let next = self.list.len() as u32;
        *self.index.entry(q).or_insert_with(|| {
            self.list.push(q);
            next
        })
    }
}

/// One geometry object of a representation, its vertices added to `vertices`. `None` when no
/// face has an outline.
/// The file's appearance: materials (one a colour), textures (one a stored image, written
/// beside the file) and texture coordinates, each listed once.
#[derive(Default)]
struct Appearance {
    materials: Vec<Value>,
    material_of: HashMap<[u32; 4], usize>,
    textures: Vec<Value>,
    texture_of: HashMap<i64, Option<usize>>,
    uvs: Vec<[f32; 2]>,
    uv_of: HashMap<[u32; 2], usize>,
    /// Images to write: (file name in the texture folder, bytes).
    images: Vec<(String, Vec<u8>)>,
}

impl Appearance {
    fn material(&mut self, c: [f32; 4]) -> usize {
        let key = c.map(f32::to_bits);
        let n = self.materials.len();
        *self.material_of.entry(key).or_insert_with(|| {
            let r = |v: f32| (f64::from(v) * 1000.0).round() / 1000.0;
            self.materials.push(json!({"name": format!("cim-{n}"),
                "diffuseColor": [r(c[0]), r(c[1]), r(c[2])], "transparency": r(1.0 - c[3])}));
            n
        })
    }

    /// The texture of image `id` (`None` when it is not a PNG or JPEG, which CityJSON names).
    fn texture(&mut self, id: i64, project: &Project, folder: &str) -> Result<Option<usize>> {
        if let Some(k) = self.texture_of.get(&id) {
            return Ok(*k);
        }
        let t = project
            .texture(id)
            .map_err(|e| ImportError::engine(project.path(), e))?;
        let k = t.and_then(|t| {
            let (kind, ext) = match t.mime.as_str() {
                "image/png" => ("PNG", "png"),
                "image/jpeg" => ("JPG", "jpg"),
                _ => return None,
            };
            let stem = Path::new(&t.name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "texture".into());
            let file = format!("{id}-{stem}.{ext}");
            self.textures
                .push(json!({"type": kind, "image": format!("{folder}/{file}")}));
            self.images.push((file, t.data));
            Some(self.textures.len() - 1)
        });
        self.texture_of.insert(id, k);
        Ok(k)
    }

    fn uv(&mut self, uv: [f32; 2]) -> usize {
        let n = self.uvs.len();
        *self.uv_of.entry(uv.map(f32::to_bits)).or_insert_with(|| {
            self.uvs.push(uv);
            n
        })
    }
}

/// What the export needs to write a representation's appearance.
struct Looks<'a> {
    paints: &'a [Paint],
    project: &'a Project,
    folder: &'a str,
}

#[allow(clippy::too_many_arguments)]
fn geometry(
    rep_lod: &str,
    kind: GeometryKind,
    mesh: &Mesh3,
    t: &str,
    vertices: &mut Vertices,
    looks: &Looks,
    appearance: &mut Appearance,
) -> Result<Option<Value>> {
    let rings = mesh.face_rings();
    // The class and paint of each face: those of its first triangle.
    let mut class_of = vec![SurfaceClass::Unclassified; rings.len()];
    let mut paint_of: Vec<Option<Paint>> = vec![None; rings.len()];
    let mut seen = vec![false; rings.len()];
    for (k, (c, f)) in mesh.classes.iter().zip(&mesh.faces).enumerate() {
        let f = *f as usize;
        if f < seen.len() && !seen[f] {
            seen[f] = true;
            class_of[f] = *c;
            paint_of[f] = mesh
                .materials
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(|p| looks.paints.get(usize::from(*p)))
                .copied();
        }
    }
    let mut material_values: Vec<Value> = Vec::new();
    let mut texture_values: Vec<Value> = Vec::new();
    let (mut any_material, mut any_texture) = (false, false);
    let mut faces: Vec<Value> = Vec::new();
    let mut surfaces: Vec<Value> = Vec::new();
    let mut surface_of: BTreeMap<SurfaceClass, usize> = BTreeMap::new();
    let mut values: Vec<Value> = Vec::new();
    for (f, face) in rings.iter().enumerate() {
        if face.is_empty() {
            continue;
        }
        let polygon: Vec<Value> = face
            .iter()
            .map(|ring| Value::Array(ring.iter().map(|&v| json!(vertices.add(mesh.world(v)))).collect()))
            .collect();
        faces.push(Value::Array(polygon));
        // Its look: a colour as a material, an image as a texture with a coordinate a vertex.
        let mut material = Value::Null;
        let mut texture = json!([[null]]);
        match paint_of[f] {
            Some(Paint::Color(c)) => {
                material = json!(appearance.material(c));
                any_material = true;
            }
            Some(Paint::Texture(id)) => {
                if let (Some(k), Some(uvs)) =
                    (appearance.texture(id, looks.project, looks.folder)?, &mesh.uvs)
                {
                    texture = Value::Array(
                        face.iter()
                            .map(|ring| {
                                let mut r = vec![json!(k)];
                                r.extend(ring.iter().map(|&v| {
                                    json!(appearance.uv(uvs.get(v as usize).copied().unwrap_or([0.0, 0.0])))
                                }));
                                Value::Array(r)
                            })
                            .collect(),
                    );
                    any_texture = true;
                }
            }
            None => {}
        }
        material_values.push(material);
        texture_values.push(texture);
        let class = class_of[f];
        values.push(if allowed(t, class) {
            let n = surface_of.len();
            let k = *surface_of.entry(class).or_insert_with(|| {
                surfaces.push(json!({"type": class.name()}));
                n
            });
            json!(k)
        } else {
            Value::Null
        });
    }
    if faces.is_empty() {
        return Ok(None);
    }
    // Boundaries and the arrays that mirror them, nested as the geometry type wants.
    let nest = |v: Vec<Value>| -> Value {
        match kind {
            GeometryKind::Solid => json!([v]),
            GeometryKind::MultiSolid | GeometryKind::CompositeSolid => json!([[v]]),
            _ => json!(v),
        }
    };
    let type_name = match kind {
        GeometryKind::Solid => "Solid",
        GeometryKind::MultiSolid => "MultiSolid",
        GeometryKind::CompositeSolid => "CompositeSolid",
        GeometryKind::MultiSurface => "MultiSurface",
        GeometryKind::CompositeSurface | GeometryKind::Tin => "CompositeSurface",
    };
    let lod = if rep_lod.is_empty() { "1" } else { rep_lod };
    let mut g = json!({"type": type_name, "lod": lod, "boundaries": nest(faces)});
    if !surfaces.is_empty() {
        g["semantics"] = json!({"surfaces": surfaces, "values": nest(values)});
    }
    if any_material {
        g["material"] = json!({"default": {"values": nest(material_values)}});
    }
    if any_texture {
        g["texture"] = json!({"default": {"values": nest(texture_values)}});
    }
    Ok(Some(g))
}

/// Writes the features of `project` chosen by `filter` to `out` as CityJSON 2.0 (through a
/// temporary file beside it, renamed into place when complete).
pub fn write_cityjson(project: &Project, filter: &FeatureFilter, out: &Path) -> Result<Exported> {
    let mut reps: Vec<Vec<Representation>> = Vec::new();
    let features = super::chosen(project, filter, |k, rep| {
        if reps.len() <= k {
            reps.resize_with(k + 1, Vec::new);
        }
        reps[k].push(rep);
    })?;
    reps.resize_with(features.len(), Vec::new);
    let codes: HashSet<String> = features.iter().map(|s| s.feature.code.to_string()).collect();

    let mut warnings = Vec::new();
    // Ids: the source's where unique.
    let mut id_count: HashMap<&str, usize> = HashMap::new();
    for s in &features {
        if let Some(id) = text_attr(s, "object_id") {
            *id_count.entry(id).or_default() += 1;
        }
    }
    let id_of: HashMap<String, String> = features
        .iter()
        .map(|s| {
            let code = s.feature.code.to_string();
            let id = match text_attr(s, "object_id") {
                Some(id) if id_count.get(id) == Some(&1) && !codes.contains(id) => id.to_string(),
                _ => code.clone(),
            };
            (code, id)
        })
        .collect();

    let mut vertices = Vertices::default();
    let mut appearance = Appearance::default();
    // Texture images go into a folder beside the file, named after it.
    let stem = out
        .file_name()
        .map(|n| n.to_string_lossy().replace(".city.json", "").replace(".json", ""))
        .unwrap_or_else(|| "city".into());
    let folder = format!("{stem}-textures");
    // Each feature's type and geometry (a part's type keeps its family when it is promoted,
    // so the semantics allowed do not change).
    let mut geoms_of: Vec<Vec<Value>> = Vec::with_capacity(features.len());
    let mut types: Vec<&str> = Vec::with_capacity(features.len());
    for (s, list) in features.iter().zip(&mut reps) {
        let f = &s.feature;
        let t: &str = text_attr(s, "object_type")
            .and_then(cityjson_type)
            .unwrap_or_else(|| type_of_kind(f.kind));
        let mut geoms: Vec<Value> = Vec::new();
        list.sort_by(|a, b| a.lod.cmp(&b.lod));
        for rep in list {
            let looks = Looks {
                paints: &rep.paints,
                project,
                folder: &folder,
            };
            geoms.extend(geometry(
                &rep.lod,
                rep.kind,
                &rep.mesh,
                t,
                &mut vertices,
                &looks,
                &mut appearance,
            )?);
        }
        if geoms.is_empty() {
            if let Some(prism) = super::lod1_prism(f) {
                let looks = Looks {
                    paints: &[],
                    project,
                    folder: &folder,
                };
                geoms.extend(geometry(
                    "1",
                    GeometryKind::Solid,
                    &prism,
                    t,
                    &mut vertices,
                    &looks,
                    &mut appearance,
                )?);
            }
        }
        geoms_of.push(geoms);
        types.push(t);
    }
    // Written: every feature with geometry, and the ancestors of those (a Building whose
    // geometry is in its parts has none of its own).
    let index_of: HashMap<String, usize> = features
        .iter()
        .enumerate()
        .map(|(k, s)| (s.feature.code.to_string(), k))
        .collect();
    let parent_of = |k: usize| -> Option<usize> {
        text_attr(&features[k], "parent_code").and_then(|p| index_of.get(p).copied())
    };
    let mut written = vec![false; features.len()];
    for (k, geoms) in geoms_of.iter().enumerate() {
        if geoms.is_empty() {
            continue;
        }
        let mut at = Some(k);
        while let Some(i) = at.filter(|i| !written[*i]) {
            written[i] = true;
            at = parent_of(i);
        }
    }
    let mut objects: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut left_out, mut promoted, mut geometries) = (0usize, 0usize, 0usize);
    for (k, s) in features.iter().enumerate() {
        if !written[k] {
            left_out += 1;
            continue;
        }
        let f = &s.feature;
        let id = id_of[&f.code.to_string()].clone();
        let mut t = types[k];
        let parent = parent_of(k)
            .filter(|p| written[*p])
            .map(|p| id_of[&features[p].feature.code.to_string()].clone());
        if let (Some(first), None) = (first_level(t), &parent) {
            t = first;
            promoted += 1;
        }
        let geoms = std::mem::take(&mut geoms_of[k]);
        geometries += geoms.len();
        let attributes: Map<String, Value> = f
            .attributes
            .iter()
            .filter(|(k, _)| !STRUCTURAL.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), attr_json(v)))
            .collect();
        let mut o = Map::new();
        o.insert("type".into(), json!(t));
        if !attributes.is_empty() {
            o.insert("attributes".into(), Value::Object(attributes));
        }
        o.insert("geometry".into(), Value::Array(geoms));
        // Only parts have parents in CityJSON.
        if let Some(p) = parent.filter(|_| first_level(t).is_some()) {
            o.insert("parents".into(), json!([p]));
            children.entry(p).or_default().push(id.clone());
        }
        objects.insert(id, o);
    }
    for (parent, kids) in &children {
        if let Some(o) = objects.get_mut(parent) {
            o.insert("children".into(), json!(kids));
        }
    }
    if objects.is_empty() {
        return Err(super::nothing_to_export(out, features.len()));
    }
    if left_out > 0 {
        warnings.push(super::left_out_warning(left_out));
    }
    if promoted > 0 {
        warnings.push(format!(
            "{promoted} parts (BuildingPart…) whose parent is not exported were written as first-level objects"
        ));
    }
    let epsg = project.crs().epsg();
    if epsg.is_none() {
        warnings.push("the project CRS has no EPSG code: metadata.referenceSystem is left out".into());
    }

    let lo = vertices
        .list
        .iter()
        .fold([i64::MAX; 3], |a, v| [0, 1, 2].map(|k| a[k].min(v[k])));
    let hi = vertices
        .list
        .iter()
        .fold([i64::MIN; 3], |a, v| [0, 1, 2].map(|k| a[k].max(v[k])));
    let mm = |v: i64| v as f64 / 1000.0;
    let mut metadata = json!({
        "geographicalExtent": [mm(lo[0]), mm(lo[1]), mm(lo[2]), mm(hi[0]), mm(hi[1]), mm(hi[2])],
        "title": format!("exported by cim from {}", project.path().file_name().map(|n| n.to_string_lossy()).unwrap_or_default()),
    });
    if let Some(e) = epsg {
        metadata["referenceSystem"] = json!(format!("https://www.opengis.net/def/crs/EPSG/0/{e}"));
    }
    let n_objects = objects.len();
    let n_vertices = vertices.list.len();
    let mut doc_head = json!({
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [mm(lo[0]), mm(lo[1]), mm(lo[2])]},
        "metadata": metadata,
    });
    if !appearance.materials.is_empty() || !appearance.textures.is_empty() {
        let mut a = serde_json::Map::new();
        if !appearance.materials.is_empty() {
            a.insert(
                "materials".into(),
                Value::Array(std::mem::take(&mut appearance.materials)),
            );
        }
        if !appearance.textures.is_empty() {
            a.insert(
                "textures".into(),
                Value::Array(std::mem::take(&mut appearance.textures)),
            );
            a.insert(
                "vertices-texture".into(),
                json!(appearance
                    .uvs
                    .iter()
                    .map(|uv| [f64::from(uv[0]), f64::from(uv[1])])
                    .collect::<Vec<_>>()),
            );
        }
        doc_head["appearance"] = Value::Object(a);
    }
    // The images first: the file appears complete, with its textures beside it.
    if !appearance.images.is_empty() {
        let dir = out.parent().unwrap_or(Path::new("")).join(&folder);
        std::fs::create_dir_all(&dir).map_err(|e| ImportError::io(&dir, e))?;
        for (name, bytes) in &appearance.images {
            std::fs::write(dir.join(name), bytes).map_err(|e| ImportError::io(dir.join(name), e))?;
        }
    }
    let n_images = appearance.images.len();

    // Streamed out: the head's members, the objects one by one, then the vertices.
    let tmp = out.with_extension("partial");
    let io = |e| ImportError::io(&tmp, e);
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let head = serde_json::to_string(&doc_head)?;
        // "type" and "version" first (readers sniff for them), then the head's other members.
        w.write_all(b"{\"type\":\"CityJSON\",\"version\":\"2.0\",")?;
        w.write_all(&head.as_bytes()[1..head.len() - 1])?;
        w.write_all(b",\"CityObjects\":{")?;
        for (k, (id, o)) in objects.iter().enumerate() {
            if k > 0 {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut w, id)?;
            w.write_all(b":")?;
            serde_json::to_writer(&mut w, o)?;
        }
        w.write_all(b"},\"vertices\":[")?;
        for (k, v) in vertices.list.iter().enumerate() {
            if k > 0 {
                w.write_all(b",")?;
            }
            write!(w, "[{},{},{}]", v[0] - lo[0], v[1] - lo[1], v[2] - lo[2])?;
        }
        w.write_all(b"]}\n")?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    if let Err(e) = write() {
        std::fs::remove_file(&tmp).ok();
        return Err(io(e));
    }
    std::fs::rename(&tmp, out).map_err(|e| ImportError::io(out, e))?;
    Ok(Exported {
        what: "city objects",
        count: n_objects,
        details: {
            let mut d = vec![
                format!("{geometries} geometries"),
                format!("{n_vertices} vertices"),
            ];
            if n_images > 0 {
                d.push(format!("{n_images} texture images in {folder}/"));
            }
            d
        },
        warnings,
    })
}
