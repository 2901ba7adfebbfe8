//! An IFC model read as a city model: every product with a body becomes a city object with its
//! triangles (openings cut out), placed on the map by the model's georeferencing (or by
//! `--origin`), with its IFC class, GlobalId (the source key, so re-imports keep city codes),
//! name, type, storey and its property sets and quantities as attributes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cim_engine::mesh::SurfaceClass;
use cim_engine::{AttrValue, Attributes, Crs, FeatureKind, Transform};

use crate::citymodel::{CityModelIn, CityObjectIn, RepresentationIn, SurfaceIn};
use crate::error::{ImportError, Result, Warning};

use super::body::Bodies;
use super::geometry::Tess;
use super::georef::{plane_angle_unit_rad, read_georef, Georef, GeorefMethod};
use super::placement::Placements;
use super::solid::{boolean, bounds, volume, Affine, Op, Tri};
use super::step::{StepFile, Value};
use super::structure::{read_structure, Product, Structure};

/// How curves are cut: no chord further than this from its curve, in metres (IfcOpenShell's
/// default linear deflection).
pub const CURVE_TOLERANCE_M: f64 = 0.001;

/// Where the model is put on the map, as decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// How: `IfcMapConversion`, `ePSet_MapConversion`, `IfcSite latitude/longitude`, `--origin`.
    pub method: String,
    /// The CRS the placed coordinates are in.
    pub crs: Crs,
    /// Map position of the model's origin (x, y, z in `crs`).
    pub origin: [f64; 3],
    /// Rotation of the model's x axis from the map's east, degrees anticlockwise.
    pub rotation_deg: f64,
    /// Model units to map units.
    pub scale: f64,
}

impl std::fmt::Display for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "placed by {}: model origin at E {:.3}, N {:.3}, H {:.3} in {}, rotated {:.4}°, scale {}",
            self.method,
            self.origin[0],
            self.origin[1],
            self.origin[2],
            self.crs.display_name(),
            self.rotation_deg,
            self.scale
        )
    }
}

/// An IFC file read: the model (objects in `placed.crs`), how it was placed, and counts.
#[derive(Debug)]
pub struct IfcRead {
    pub model: CityModelIn,
    pub placed: Placed,
    /// Where a model point goes on the map.
    pub to_map: ToMap,
    pub schema: String,
    /// Products with a body, and how many of them failed alone (skipped).
    pub products: usize,
    pub skipped: usize,
    /// Elements by IFC class.
    pub classes: BTreeMap<String, usize>,
    /// What is worth knowing but is no problem (spaces not imported, a scale taken from units).
    pub notes: Vec<String>,
}

/// Placing a model: local points (project units) to map points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToMap {
    origin: [f64; 3],
    /// Unit x and y axes of the model on the map, times the scale.
    ax: [f64; 2],
    ay: [f64; 2],
    sz: f64,
}

impl ToMap {
    /// A model point (project units, the model's world frame) on the map.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        [
            self.origin[0] + self.ax[0] * p[0] + self.ay[0] * p[1],
            self.origin[1] + self.ax[1] * p[0] + self.ay[1] * p[1],
            self.origin[2] + self.sz * p[2],
        ]
    }

    fn rotated(origin: [f64; 3], rotation_deg: f64, scale: f64) -> ToMap {
        let (s, c) = rotation_deg.to_radians().sin_cos();
        ToMap {
            origin,
            ax: [c * scale, s * scale],
            ay: [-s * scale, c * scale],
            sz: scale,
        }
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::file(path, reason)
}

/// The true north of the model (a direction in its x-y plane), from its 3-D geometric
/// representation context.
fn true_north(f: &StepFile) -> Option<[f64; 2]> {
    for id in f.ids_of("IFCGEOMETRICREPRESENTATIONCONTEXT") {
        let c = f.get(id).ok()?;
        if let Some(d) = c.params.get(5).and_then(Value::as_ref_id) {
            let v = super::placement::direction(f, d, id).ok()?;
            if v[0].hypot(v[1]) > 1e-12 {
                return Some([v[0], v[1]]);
            }
        }
    }
    None
}

/// Decides where the model goes: `--origin` (E, N, H in the project CRS and a rotation)
/// first, then the map conversion, then the site's latitude and longitude. Warnings go to
/// `warn`.
fn place(
    f: &StepFile,
    g: &Georef,
    project_crs: &Crs,
    origin: Option<[f64; 4]>,
    src_crs: Option<&Crs>,
    warn: &mut Vec<String>,
    info: &mut Vec<String>,
) -> Result<(Placed, ToMap)> {
    let path = f.path.as_path();
    let unit = g.unit_m;
    let site_in = |crs: &Crs| -> Option<[f64; 2]> {
        let [lat, lon, _] = g.site?;
        let wgs = Crs::from_epsg(4326).ok()?;
        Transform::new(crs, &wgs)
            .apply(lon, lat)
            .ok()
            .map(|(x, y)| [x, y])
    };
    if let Some([e, n, h, rot]) = origin {
        let placed = Placed {
            method: "--origin".into(),
            crs: project_crs.clone(),
            origin: [e, n, h],
            rotation_deg: rot,
            scale: unit,
        };
        return Ok((placed, ToMap::rotated([e, n, h], rot, unit)));
    }
    if let Some(c) = &g.conversion {
        let crs = match (src_crs, &c.crs) {
            (Some(s), _) => s.clone(),
            (None, Some(name)) => Crs::parse(name).map_err(|e| {
                bad(
                    path,
                    format!(
                        "its map conversion names the CRS '{name}', which cim cannot read ({e}); pass --src-crs EPSG:xxxx"
                    ),
                )
            })?,
            (None, None) => {
                return Err(bad(
                    path,
                    "its map conversion names no CRS; pass --src-crs EPSG:xxxx for its eastings and northings",
                ))
            }
        };
        let o = c.to_map([0.0; 3]);
        let x = c.to_map([1.0, 0.0, 0.0]);
        let y = c.to_map([0.0, 1.0, 0.0]);
        let z = c.to_map([0.0, 0.0, 1.0]);
        let to_map = ToMap {
            origin: o,
            ax: [x[0] - o[0], x[1] - o[1]],
            ay: [y[0] - o[0], y[1] - o[1]],
            sz: z[2] - o[2],
        };
        if c.scale_from_units {
            info.push(format!(
                "the map conversion gives no scale: model units ({} m) scaled to the CRS's by {}",
                unit, c.scale[0]
            ));
        }
        // A site latitude/longitude kilometres away from the map conversion: the conversion wins.
        if let Some(s) = site_in(&crs) {
            let d = (s[0] - o[0]).hypot(s[1] - o[1]);
            if d > 1000.0 {
                warn.push(format!(
                    "the site's latitude/longitude lies {:.1} km from where the map conversion puts the model; the map conversion wins",
                    d / 1000.0
                ));
            }
        }
        let method = match g.method {
            GeorefMethod::PropertySets => "ePSet_MapConversion (IFC2x3 property sets)",
            _ => "IfcMapConversion",
        };
        let placed = Placed {
            method: method.into(),
            crs,
            origin: o,
            rotation_deg: c.rotation_deg(),
            scale: c.scale[0],
        };
        return Ok((placed, to_map));
    }
    if let Some([lat, lon, elev]) = g.site {
        let crs = project_crs.clone();
        if crs.is_geographic() {
            return Err(bad(path, "placing a model by its site's latitude/longitude needs a projected project CRS; pass --origin E,N,H"));
        }
        let Some(o) = site_in(&crs) else {
            return Err(bad(
                path,
                format!("its site's latitude/longitude ({lat}, {lon}) cannot be put in the project's CRS"),
            ));
        };
        // Grid convergence: the angle from grid north to true north at the site.
        let north = {
            let wgs = Crs::from_epsg(4326).map_err(|e| bad(path, e.to_string()))?;
            let t = Transform::new(&crs, &wgs);
            let (x, y) = t.apply(lon, lat + 0.001).map_err(|e| bad(path, e.to_string()))?;
            (-(x - o[0])).atan2(y - o[1]).to_degrees()
        };
        // True north in the model: its angle from the model's y axis, anticlockwise.
        let tn = true_north(f).unwrap_or([0.0, 1.0]);
        let alpha = (-tn[0]).atan2(tn[1]).to_degrees();
        let rot = north - alpha;
        warn.push(format!(
            "placed by the site's latitude/longitude ({lat:.6}°, {lon:.6}°), which is approximate: a map conversion or --origin places a model exactly"
        ));
        let origin = [o[0], o[1], elev * unit];
        let placed = Placed {
            method: format!(
                "IfcSite RefLatitude/RefLongitude (true north {alpha:.3}°, grid convergence {north:.3}°)"
            ),
            crs,
            origin,
            rotation_deg: rot,
            scale: unit,
        };
        return Ok((placed, ToMap::rotated(origin, rot, unit)));
    }
    Err(bad(
        path,
        "the model has no georeferencing (no IfcMapConversion, no ePSet_MapConversion, no site latitude/longitude); pass --origin E,N,H[,rotation] in the project's CRS",
    ))
}

/// The surface class the triangles of a product of IFC class `class` get.
pub fn surface_class_of(class: &str, predefined: Option<&str>) -> SurfaceClass {
    match class {
        "IfcWall" | "IfcWallStandardCase" | "IfcWallElementedCase" | "IfcCurtainWall" | "IfcPlate" => {
            SurfaceClass::Wall
        }
        "IfcRoof" => SurfaceClass::Roof,
        "IfcSlab" | "IfcSlabStandardCase" | "IfcSlabElementedCase" => match predefined {
            Some("ROOF") => SurfaceClass::Roof,
            _ => SurfaceClass::Floor,
        },
        "IfcWindow" | "IfcWindowStandardCase" => SurfaceClass::Window,
        "IfcDoor" | "IfcDoorStandardCase" => SurfaceClass::Door,
        "IfcCovering" => match predefined {
            Some("CEILING") => SurfaceClass::Ceiling,
            Some("ROOFING") => SurfaceClass::Roof,
            Some("FLOORING") => SurfaceClass::Floor,
            _ => SurfaceClass::Unclassified,
        },
        "IfcPavement" | "IfcCourse" | "IfcRoad" | "IfcRoadPart" => SurfaceClass::TrafficArea,
        "IfcKerb" => SurfaceClass::AuxiliaryTrafficArea,
        _ => SurfaceClass::Unclassified,
    }
}

/// The cim kind of a product of IFC class `class`.
pub fn kind_of_class(class: &str) -> FeatureKind {
    match class {
        "IfcSite" | "IfcSolidStratum" | "IfcGeotechnicalStratum" | "IfcEarthworksFill" => {
            FeatureKind::Terrain
        }
        "IfcRoad" | "IfcRoadPart" | "IfcPavement" | "IfcCourse" | "IfcKerb" | "IfcRailway" | "IfcRail" => {
            FeatureKind::Road
        }
        "IfcGeographicElement" => FeatureKind::Other,
        c if c.starts_with("IfcBridge") || c.starts_with("IfcTunnel") || c.starts_with("IfcMarine") => {
            FeatureKind::Other
        }
        _ => FeatureKind::Building,
    }
}

/// A property's value as an attribute value.
fn attr_of(v: &Value) -> AttrValue {
    match v {
        Value::Typed(ty, inner) => match (ty.as_str(), inner.as_ref()) {
            ("IFCBOOLEAN" | "IFCLOGICAL", Value::Enum(e)) => match e.as_str() {
                "T" => AttrValue::Bool(true),
                "F" => AttrValue::Bool(false),
                _ => AttrValue::Null,
            },
            (_, inner) => attr_of(inner),
        },
        Value::Int(i) => AttrValue::Int(*i),
        Value::Real(r) => AttrValue::Real(*r),
        Value::Str(_) => AttrValue::Text(v.as_str().unwrap_or("").to_string()),
        Value::Enum(e) => AttrValue::Text(e.clone()),
        Value::List(l) => AttrValue::Text(
            l.iter()
                .map(|x| match attr_of(x) {
                    AttrValue::Text(t) => t,
                    AttrValue::Real(r) => r.to_string(),
                    AttrValue::Int(i) => i.to_string(),
                    AttrValue::Bool(b) => b.to_string(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => AttrValue::Null,
    }
}

fn json_of(v: &AttrValue) -> serde_json::Value {
    match v {
        AttrValue::Bool(b) => (*b).into(),
        AttrValue::Int(i) => (*i).into(),
        AttrValue::Real(r) => {
            serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        AttrValue::Text(t) => t.clone().into(),
        _ => serde_json::Value::Null,
    }
}

/// A property set's or element quantity's name and its values, if `id` is one.
fn property_definition(f: &StepFile, id: u64) -> Option<(String, Vec<(String, AttrValue)>)> {
    let s = f.get(id).ok()?;
    let name = s.params.get(2).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = Vec::new();
    match s.ty.as_str() {
        "IFCPROPERTYSET" => {
            out = super::georef::set_values(f, &s)
                .into_iter()
                .map(|(k, v)| (k, attr_of(&v)))
                .collect();
        }
        "IFCELEMENTQUANTITY" => {
            for q in s.params.get(5).and_then(Value::as_list).unwrap_or(&[]) {
                let Some(qid) = q.as_ref_id() else { continue };
                let Ok(qty) = f.get(qid) else { continue };
                if !qty.ty.starts_with("IFCQUANTITY") {
                    continue;
                }
                let key = qty
                    .params
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                out.push((key, attr_of(qty.params.get(3).unwrap_or(&Value::Null))));
            }
        }
        _ => return None,
    }
    Some((name, out))
}

/// For each object: its property definitions (sets and quantities), and its type object.
#[derive(Default)]
struct Relations {
    psets: HashMap<u64, Vec<u64>>,
    type_of: HashMap<u64, u64>,
    voids: HashMap<u64, Vec<u64>>,
}

fn relations(f: &StepFile) -> Relations {
    let mut r = Relations::default();
    let related = |inst: &super::step::Instance, k: usize| -> Vec<u64> {
        inst.params
            .get(k)
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_ref_id)
            .collect()
    };
    for id in f.ids_of("IFCRELDEFINESBYPROPERTIES") {
        let Ok(rel) = f.get(id) else { continue };
        let Some(def) = rel.params.get(5).and_then(Value::as_ref_id) else {
            continue;
        };
        for o in related(&rel, 4) {
            r.psets.entry(o).or_default().push(def);
        }
    }
    for id in f.ids_of("IFCRELDEFINESBYTYPE") {
        let Ok(rel) = f.get(id) else { continue };
        let Some(t) = rel.params.get(5).and_then(Value::as_ref_id) else {
            continue;
        };
        for o in related(&rel, 4) {
            r.type_of.insert(o, t);
        }
    }
    for id in f.ids_of("IFCRELVOIDSELEMENT") {
        let Ok(rel) = f.get(id) else { continue };
        let (Some(host), Some(opening)) = (
            rel.params.get(4).and_then(Value::as_ref_id),
            rel.params.get(5).and_then(Value::as_ref_id),
        ) else {
            continue;
        };
        r.voids.entry(host).or_default().push(opening);
    }
    r
}

/// The storey (or other spatial element up the chain) that holds `p`: its name and elevation.
fn storey_of(s: &Structure, f: &StepFile, p: &Product) -> Option<(String, Option<f64>)> {
    let mut at = p.container?;
    for _ in 0..16 {
        let c = s.get(at)?;
        if c.class == "IfcBuildingStorey" {
            let elev = f
                .get(c.id)
                .ok()
                .and_then(|i| i.params.get(9).and_then(Value::as_f64));
            return Some((c.name.clone().unwrap_or_else(|| c.global_id.clone()), elev));
        }
        match c.container {
            Some(up) => at = up,
            None => return None,
        }
    }
    None
}

/// Classes that are cut from other products rather than shapes of their own.
const OPENINGS: [&str; 3] = ["IfcOpeningElement", "IfcOpeningStandardCase", "IfcVoidingFeature"];

/// Classes tessellated but not imported as objects: spaces (rooms), whose volumes would hide
/// what is in them.
const NOT_OBJECTS: [&str; 1] = ["IfcSpace"];

/// The triangles of a product's body in the model's world (placement applied), or `None` where
/// it has no body.
fn world_body(
    b: &mut Bodies,
    f: &StepFile,
    places: &mut Placements,
    p: &Product,
) -> Result<Option<Vec<Tri>>> {
    let Some(shape) = p.representation else {
        return Ok(None);
    };
    let Some(rep) = b.body_representation(shape, p.id)? else {
        return Ok(None);
    };
    let mut tris = b.representation(rep, shape)?;
    if let Some(pl) = p.placement {
        let frame = places.world(f, pl)?;
        Affine::from_frame(&frame).apply_tris(&mut tris);
    }
    Ok(Some(tris))
}

/// Reads an IFC file into a city model placed on the map (see [`Placed`]); `origin` (E, N, H in
/// `project_crs` and a rotation in degrees) overrides the model's georeferencing; `src_crs`
/// names the CRS of a map conversion that names none (or overrides it).
pub fn read_ifc(
    path: &Path,
    project_crs: &Crs,
    origin: Option<[f64; 4]>,
    src_crs: Option<&Crs>,
) -> Result<IfcRead> {
    let f = StepFile::open(path)?;
    read_ifc_file(&f, project_crs, origin, src_crs)
}

/// As [`read_ifc`], from a file already indexed.
pub fn read_ifc_file(
    f: &StepFile,
    project_crs: &Crs,
    origin: Option<[f64; 4]>,
    src_crs: Option<&Crs>,
) -> Result<IfcRead> {
    let path = f.path.clone();
    let g = read_georef(f)?;
    let mut notes: Vec<String> = Vec::new();
    let mut info: Vec<String> = Vec::new();
    let (placed, to_map) = place(f, &g, project_crs, origin, src_crs, &mut notes, &mut info)?;
    let schema = f.header.schema.name().to_string();
    let structure = read_structure(f)?;
    let rel = relations(f);
    let (geom, warnings) = tessellate_with(f, &g, &structure, &rel)?;
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    let mut objects = Vec::new();
    let mut spaces = 0;
    for (record, (pid, tris)) in geom.bodies.into_iter().enumerate() {
        let Some(p) = structure.get(pid) else { continue };
        if NOT_OBJECTS.contains(&p.class.as_str()) {
            spaces += 1;
            continue;
        }
        *classes.entry(p.class.clone()).or_default() += 1;
        let inst = f.get(p.id)?;
        let predefined = inst
            .params
            .iter()
            .rev()
            .find_map(Value::as_enum)
            .filter(|e| *e != "NOTDEFINED" && e.len() > 1)
            .map(str::to_string);
        let mut attributes = Attributes::new();
        attributes.insert("ifc_class".into(), AttrValue::Text(p.class.clone()));
        attributes.insert("global_id".into(), AttrValue::Text(p.global_id.clone()));
        if let Some(n) = &p.name {
            attributes.insert("name".into(), AttrValue::Text(n.clone()));
        }
        if let Some(t) = inst.params.get(4).and_then(Value::as_str) {
            attributes.insert("ifc_object_type".into(), AttrValue::Text(t.to_string()));
        }
        if let Some(pd) = &predefined {
            attributes.insert("ifc_predefined_type".into(), AttrValue::Text(pd.clone()));
        }
        if let Some((storey, elev)) = storey_of(&structure, f, p) {
            attributes.insert("storey".into(), AttrValue::Text(storey));
            if let Some(e) = elev {
                attributes.insert("storey_elevation_m".into(), AttrValue::Real(e * g.unit_m));
            }
        }
        // Property sets: the type's first, the occurrence's over them.
        let mut sets: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
        if let Some(&t) = rel.type_of.get(&p.id) {
            if let Ok(ti) = f.get(t) {
                if let Some(n) = ti.params.get(2).and_then(Value::as_str) {
                    attributes.insert("ifc_type".into(), AttrValue::Text(n.to_string()));
                }
                for d in ti
                    .params
                    .get(5)
                    .and_then(Value::as_list)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Value::as_ref_id)
                {
                    if let Some((name, values)) = property_definition(f, d) {
                        let set = sets.entry(name).or_default();
                        for (k, v) in values {
                            set.insert(k, json_of(&v));
                        }
                    }
                }
            }
        }
        for &d in rel.psets.get(&p.id).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some((name, values)) = property_definition(f, d) {
                let set = sets.entry(name).or_default();
                for (k, v) in values {
                    set.insert(k, json_of(&v));
                }
            }
        }
        if !sets.is_empty() {
            let json: serde_json::Map<String, serde_json::Value> = sets
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::Object(v)))
                .collect();
            attributes.insert(
                "ifc_properties".into(),
                AttrValue::Text(serde_json::Value::Object(json).to_string()),
            );
        }
        let class = surface_class_of(&p.class, predefined.as_deref());
        let surfaces: Vec<SurfaceIn> = tris
            .iter()
            .map(|t| SurfaceIn {
                rings: vec![t.iter().map(|q| to_map.apply(*q)).collect()],
                class,
                uvs: None,
                material: None,
            })
            .collect();
        objects.push(CityObjectIn {
            record: record as u64 + 1,
            id: p.global_id.clone(),
            type_name: p.class.clone(),
            kind: kind_of_class(&p.class),
            attributes,
            parent: None,
            representations: vec![RepresentationIn {
                lod: "3".into(),
                kind: cim_engine::mesh::GeometryKind::Solid,
                surfaces,
            }],
            warnings: Vec::new(),
        });
    }
    if spaces > 0 {
        info.push(format!(
            "{spaces} space(s) (IfcSpace) not imported: rooms are not drawn yet"
        ));
    }
    let mut model_warnings: Vec<Warning> = notes
        .into_iter()
        .chain(warnings)
        .map(|message| Warning {
            path: path.clone(),
            record: None,
            message,
        })
        .collect();
    model_warnings.dedup_by(|a, b| a.message == b.message);
    let products = objects.len() + geom.skipped;
    Ok(IfcRead {
        model: CityModelIn {
            path: path.clone(),
            format: format!("IFC ({schema})"),
            crs: Some(placed.crs.clone()),
            objects,
            warnings: model_warnings,
            paints: Vec::new(),
        },
        placed,
        to_map,
        schema,
        products,
        skipped: geom.skipped,
        classes,
        notes: info,
    })
}

/// Every product's body in the model's world, openings cut: what the geometry of a model is,
/// before it is placed on the map.
#[derive(Debug, Default)]
pub struct Tessellated {
    /// (product id, triangles in project units) in file order.
    pub bodies: Vec<(u64, Vec<Tri>)>,
    /// Products whose body failed (left out).
    pub skipped: usize,
}

/// Tessellates every product of the model that has a body, in its world frame (project units),
/// openings cut from their hosts. Returns the bodies and warnings (items left out, products
/// skipped, openings not cut), each naming the entity.
pub fn tessellate(f: &StepFile, g: &Georef) -> Result<(Tessellated, Vec<String>)> {
    tessellate_with(f, g, &read_structure(f)?, &relations(f))
}

/// [`tessellate`] with the model's structure and relations already read.
fn tessellate_with(
    f: &StepFile,
    g: &Georef,
    structure: &Structure,
    rel: &Relations,
) -> Result<(Tessellated, Vec<String>)> {
    let tess = Tess {
        tol: CURVE_TOLERANCE_M / g.unit_m,
        angle_rad: plane_angle_unit_rad(f)?,
    };
    let eps = 1e-6 / g.unit_m;
    let mut b = Bodies::new(f, tess, eps);
    let mut places = Placements::default();
    let mut out = Tessellated::default();
    let mut warnings = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for p in &structure.products {
        if OPENINGS.contains(&p.class.as_str()) {
            continue;
        }
        let mut tris = match world_body(&mut b, f, &mut places, p) {
            Ok(Some(t)) if !t.is_empty() => t,
            Ok(_) => continue,
            Err(e) => {
                failed.push(format!("#{} ({}): {}", p.id, p.class, e.reason()));
                out.skipped += 1;
                continue;
            }
        };
        // Openings cut from the host, one by one.
        for &o in rel.voids.get(&p.id).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(op) = structure.get(o) else { continue };
            match world_body(&mut b, f, &mut places, op) {
                Ok(Some(cut)) if !cut.is_empty() => {
                    let before = volume(&tris);
                    let after = boolean(&tris, &cut, Op::Difference, eps);
                    // A cut that grows the body means an opening that was not closed.
                    if volume(&after) <= before + eps {
                        tris = after;
                    } else {
                        warnings.push(format!(
                            "#{o} ({}): not cut from #{}: its body is not closed",
                            op.class, p.id
                        ));
                    }
                }
                Ok(_) => {}
                Err(e) => warnings.push(format!(
                    "#{o} ({}): not cut from #{}: {}",
                    op.class,
                    p.id,
                    e.reason()
                )),
            }
        }
        if bounds(&tris).is_some() {
            out.bodies.push((p.id, tris));
        }
    }
    if let Some(first) = failed.first() {
        warnings.push(format!(
            "{} product(s) without geometry, left out; the first: {first}",
            failed.len()
        ));
        warnings.extend(failed.iter().skip(1).take(50).map(|f| format!("left out: {f}")));
    }
    warnings.extend(b.warnings.iter().take(50).cloned());
    if b.warnings.len() > 50 {
        warnings.push(format!("... and {} more items left out", b.warnings.len() - 50));
    }
    Ok((out, warnings))
}
