//! CityJSON 1.0, 1.1 and 2.0 (`.city.json`, `.json`) and CityJSONSeq (`.city.jsonl`): every city
//! object with its attributes, parent and all its geometries (MultiSurface, CompositeSurface,
//! Solid, MultiSolid, CompositeSolid, and GeometryInstance of a template), each surface with its
//! semantic class, material and texture coordinates. Vertices are decoded with the file's
//! `transform`; the reference system comes from `metadata.referenceSystem` (a compound CRS such
//! as EPSG:7415 keeps its heights).

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use cim_engine::mesh::{GeometryKind, SurfaceClass};
use cim_engine::{AttrValue, Attributes, Crs};
use serde::Deserialize;
use serde_json::Value;

use super::{kind_of_type, CityModelIn, CityObjectIn, PaintIn, RepresentationIn, SurfaceIn};
use crate::error::{ImportError, Result, Warning};

#[derive(Deserialize)]
struct TransformIn {
    scale: Vec<f64>,
    translate: Vec<f64>,
}

#[derive(Deserialize, Default)]
struct TemplatesIn {
    #[serde(default)]
    templates: Vec<GeometryIn>,
    #[serde(rename = "vertices-templates", default)]
    vertices: Vec<[f64; 3]>,
}

#[derive(Deserialize)]
struct DocIn {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    transform: Option<TransformIn>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(rename = "CityObjects", default)]
    city_objects: BTreeMap<String, ObjectIn>,
    #[serde(default)]
    vertices: Vec<[f64; 3]>,
    #[serde(default)]
    appearance: Option<AppearanceIn>,
    #[serde(rename = "geometry-templates", default)]
    templates: Option<TemplatesIn>,
}

#[derive(Deserialize, Default)]
struct AppearanceIn {
    #[serde(default)]
    materials: Vec<Value>,
    #[serde(default)]
    textures: Vec<Value>,
    #[serde(rename = "vertices-texture", default)]
    vertices_texture: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct ObjectIn {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    geometry: Vec<GeometryIn>,
    #[serde(default)]
    parents: Vec<String>,
}

#[derive(Deserialize, Clone)]
struct GeometryIn {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    lod: Option<Value>,
    #[serde(default)]
    boundaries: Tokens,
    #[serde(default)]
    semantics: Option<SemanticsIn>,
    #[serde(default)]
    material: Option<BTreeMap<String, ThemeIn>>,
    #[serde(default)]
    texture: Option<BTreeMap<String, ThemeIn>>,
    #[serde(default)]
    template: Option<usize>,
    #[serde(rename = "transformationMatrix", default)]
    matrix: Option<Vec<f64>>,
}

#[derive(Deserialize, Clone)]
struct SemanticsIn {
    #[serde(default)]
    surfaces: Vec<Value>,
    #[serde(default)]
    values: Value,
}

#[derive(Deserialize, Clone)]
struct ThemeIn {
    #[serde(default)]
    values: Value,
    #[serde(default)]
    value: Option<u64>,
}

/// A geometry's `boundaries` as one flat list (parsed without a tree of values): [`OPEN`] and
/// [`CLOSE`] around each array, vertex indices as themselves.
#[derive(Clone, Debug, Default)]
struct Tokens(Vec<i64>);

const OPEN: i64 = -1;
const CLOSE: i64 = -2;
/// Anything that is not an index or an array (a null, a string, a negative number).
const OTHER: i64 = -3;

struct TokenSeed<'a>(&'a mut Vec<i64>);

impl<'de> serde::de::DeserializeSeed<'de> for TokenSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TokenSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("vertex indices in nested arrays")
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<(), E> {
        self.0.push(i64::try_from(v).unwrap_or(OTHER));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<(), E> {
        self.0.push(if v >= 0 { v } else { OTHER });
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<(), E> {
        self.0.push(if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
            v as i64
        } else {
            OTHER
        });
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        self.0.push(OTHER);
        Ok(())
    }
    fn visit_none<E>(self) -> std::result::Result<(), E> {
        self.0.push(OTHER);
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        self.0.push(OTHER);
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        self.0.push(OTHER);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        self.0.push(OPEN);
        while seq.next_element_seed(TokenSeed(&mut *self.0))?.is_some() {}
        self.0.push(CLOSE);
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        self.0.push(OTHER);
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Tokens, D::Error> {
        let mut v = Vec::new();
        serde::de::DeserializeSeed::deserialize(TokenSeed(&mut v), d)?;
        Ok(Tokens(v))
    }
}

/// What the file's geometries are read against.
struct Ctx<'a> {
    scale: [f64; 3],
    translate: [f64; 3],
    vertices: &'a [[f64; 3]],
    uv: &'a [Vec<f64>],
    templates: Option<&'a TemplatesIn>,
    /// Where this appearance's paints start in the model's list (materials, then textures).
    paint_base: usize,
    materials: usize,
}

/// The paints of an appearance: its materials (diffuse colour, 1 − transparency), then its
/// textures (image files beside the model).
fn paints_of(path: &Path, appearance: &AppearanceIn) -> Vec<PaintIn> {
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    let mut out: Vec<PaintIn> = appearance
        .materials
        .iter()
        .map(|m| {
            let c = m
                .get("diffuseColor")
                .and_then(Value::as_array)
                .map(|a| [0, 1, 2].map(|k| a.get(k).and_then(Value::as_f64).unwrap_or(0.8) as f32))
                .unwrap_or([0.8, 0.8, 0.8]);
            let t = m.get("transparency").and_then(Value::as_f64).unwrap_or(0.0) as f32;
            PaintIn::Color([c[0], c[1], c[2], 1.0 - t])
        })
        .collect();
    out.extend(appearance.textures.iter().map(|t| PaintIn::Texture {
        image: dir.join(t.get("image").and_then(Value::as_str).unwrap_or_default()),
    }));
    out
}

/// Whether `bytes` (a file's start) is CityJSON or a CityJSONSeq header.
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 20)]);
    let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("\"type\":\"CityJSON\"")
        || compact.contains("\"type\":\"CityJSONFeature\"")
        || compact.contains("\"CityObjects\":")
}

fn bad(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::file(path, reason)
}

/// Reads a CityJSON file, or a CityJSONSeq file (one JSON text a line, the first a CityJSON
/// header) when its first line is a whole CityJSON object followed by `CityJSONFeature`s.
pub fn read_cityjson(path: &Path) -> Result<CityModelIn> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    read_cityjson_bytes(path, &bytes)
}

/// [`read_cityjson`] of bytes already read (`path` names them in messages and locates texture
/// images).
pub fn read_cityjson_bytes(path: &Path, bytes: &[u8]) -> Result<CityModelIn> {
    let first_line_end = bytes.iter().position(|&b| b == b'\n');
    let seq = first_line_end.is_some_and(|n| {
        bytes[n..].iter().any(|&b| !b.is_ascii_whitespace())
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes[..n]).is_ok()
    });
    if seq {
        return read_seq(path, bytes);
    }
    // Split and parsed on every core; where that fails, whole (serde says where and why).
    let doc: DocIn = match parse_split(bytes) {
        Some(Ok(doc)) => doc,
        _ => serde_json::from_slice(bytes).map_err(|e| bad(path, format!("not valid CityJSON: {e}")))?,
    };
    if doc.ty != "CityJSON" {
        return Err(bad(path, format!("\"type\" is \"{}\", not \"CityJSON\"", doc.ty)));
    }
    let mut model = header(path, &doc)?;
    let appearance = doc.appearance.unwrap_or_default();
    check_textures(path, &appearance, &mut model.warnings);
    model.paints = paints_of(path, &appearance);
    let ctx = Ctx {
        scale: model_scale(&doc.transform),
        translate: model_translate(&doc.transform),
        vertices: &doc.vertices,
        uv: &appearance.vertices_texture,
        templates: doc.templates.as_ref(),
        paint_base: 0,
        materials: appearance.materials.len(),
    };
    // Objects are built on every core (each one alone: its rings from the shared vertices).
    let list: Vec<(String, ObjectIn)> = doc.city_objects.into_iter().collect();
    model.objects = list
        .into_par_iter()
        .enumerate()
        .map(|(k, (id, o))| object(&ctx, k as u64 + 1, id, o))
        .collect();
    Ok(model)
}

/// The members of the JSON object in `bytes[at..]`: each key's span (its quotes included) and
/// value's span, and where the object ends; `None` where it is not a well-formed object (the
/// full parser then says why). A scan for splitting the document, not a validation: each
/// value is still parsed by serde.
fn members(bytes: &[u8], mut at: usize) -> Option<(Vec<(Span, Span)>, usize)> {
    let ws = |b: &[u8], mut k: usize| {
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        k
    };
    at = ws(bytes, at);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = ws(bytes, at + 1);
    let mut out = Vec::new();
    if bytes.get(at) == Some(&b'}') {
        return Some((out, at + 1));
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(bytes, at)?;
        let key = at..key_end;
        at = ws(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = ws(bytes, at + 1);
        let value_end = skip_value(bytes, at)?;
        out.push((key, at..value_end));
        at = ws(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at = ws(bytes, at + 1),
            Some(b'}') => return Some((out, at + 1)),
            _ => return None,
        }
    }
}

type Span = std::ops::Range<usize>;

/// The end (one past the closing quote) of the string starting at `bytes[at]` (a quote).
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut k = at + 1;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b'"' => return Some(k + 1),
            _ => k += 1,
        }
    }
    None
}

/// The end of the JSON value starting at `bytes[at]`: a string, an object or array (nesting
/// counted, strings skipped), or a scalar (up to the next delimiter).
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut k = at;
            while k < bytes.len() {
                match bytes[k] {
                    b'"' => {
                        k = skip_string(bytes, k)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(k + 1);
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            None
        }
        _ => {
            let mut k = at;
            while k < bytes.len()
                && !matches!(bytes[k], b',' | b'}' | b']')
                && !bytes[k].is_ascii_whitespace()
            {
                k += 1;
            }
            (k > at).then_some(k)
        }
    }
}

/// The document parsed on every core: its members found by a scan, the vertices and each city
/// object parsed apart (in parallel), the rest as one small document. `None` where the scan
/// finds it malformed (the caller parses it whole, for serde's message).
fn parse_split(bytes: &[u8]) -> Option<std::result::Result<DocIn, serde_json::Error>> {
    let (top, end) = members(bytes, 0)?;
    if bytes[end..].iter().any(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    let key_is = |k: &Span, name: &[u8]| bytes.get(k.start + 1..k.end - 1) == Some(name);
    // Each once (a repeated member is serde's error to report).
    let one = |name: &[u8]| {
        let mut found = top.iter().filter(|(k, _)| key_is(k, name));
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v.clone()),
            _ => None,
        }
    };
    let (objects, vertices) = (one(b"CityObjects")?, one(b"vertices")?);
    let object_members = members(bytes, objects.start)?.0;
    // The rest: every other member, as a document of its own.
    let mut rest = Vec::with_capacity(4096);
    rest.push(b'{');
    for (k, v) in &top {
        if key_is(k, b"CityObjects") || key_is(k, b"vertices") {
            continue;
        }
        if rest.len() > 1 {
            rest.push(b',');
        }
        rest.extend_from_slice(&bytes[k.clone()]);
        rest.push(b':');
        rest.extend_from_slice(&bytes[v.clone()]);
    }
    rest.push(b'}');
    let (verts, (head, objs)) = rayon::join(
        || serde_json::from_slice::<Vec<[f64; 3]>>(&bytes[vertices]),
        || {
            rayon::join(
                || serde_json::from_slice::<DocIn>(&rest),
                || {
                    object_members
                        .par_iter()
                        .map(|(k, v)| {
                            let id: String = serde_json::from_slice(&bytes[k.clone()])?;
                            let o: ObjectIn = serde_json::from_slice(&bytes[v.clone()])?;
                            Ok((id, o))
                        })
                        .collect::<std::result::Result<Vec<(String, ObjectIn)>, serde_json::Error>>()
                },
            )
        },
    );
    Some((|| {
        let mut doc = head?;
        doc.vertices = verts?;
        // As a map would: the last of a repeated id wins, in id order.
        doc.city_objects = objs?.into_iter().collect();
        Ok(doc)
    })())
}

fn model_scale(t: &Option<TransformIn>) -> [f64; 3] {
    t.as_ref().map_or([1.0; 3], |t| {
        [
            t.scale.first().copied().unwrap_or(1.0),
            t.scale.get(1).copied().unwrap_or(1.0),
            t.scale.get(2).copied().unwrap_or(1.0),
        ]
    })
}

fn model_translate(t: &Option<TransformIn>) -> [f64; 3] {
    t.as_ref().map_or([0.0; 3], |t| {
        [
            t.translate.first().copied().unwrap_or(0.0),
            t.translate.get(1).copied().unwrap_or(0.0),
            t.translate.get(2).copied().unwrap_or(0.0),
        ]
    })
}

/// The model's format and CRS, and a check of its transform.
fn header(path: &Path, doc: &DocIn) -> Result<CityModelIn> {
    if let Some(t) = &doc.transform {
        let ok = t.scale.len() == 3
            && t.translate.len() == 3
            && t.scale.iter().all(|s| s.is_finite() && *s != 0.0)
            && t.translate.iter().all(|s| s.is_finite());
        if !ok {
            return Err(bad(
                path,
                format!(
                    "a bad \"transform\": scale {:?} and translate {:?} must be three finite numbers each, the scales not 0",
                    t.scale, t.translate
                ),
            ));
        }
    } else if doc.version.as_deref().is_some_and(|v| v != "1.0") {
        return Err(bad(
            path,
            "CityJSON 1.1 and later need a \"transform\"; this file has none",
        ));
    }
    let mut warnings = Vec::new();
    let crs_text = doc
        .metadata
        .as_ref()
        .and_then(|m| m.get("referenceSystem").or_else(|| m.get("crs")))
        .and_then(|r| match r {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("epsg").map(|e| format!("EPSG:{e}")),
            _ => None,
        });
    let crs = match crs_text {
        Some(t) => match Crs::parse(&t) {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(Warning {
                    path: path.to_path_buf(),
                    record: None,
                    message: format!("its referenceSystem '{t}' cannot be used: {e}"),
                });
                None
            }
        },
        None => None,
    };
    Ok(CityModelIn {
        path: path.to_path_buf(),
        format: format!("CityJSON {}", doc.version.clone().unwrap_or_else(|| "1.0".into())),
        crs,
        objects: Vec::new(),
        warnings,
        paints: Vec::new(),
    })
}

/// Warns about texture images that are not where the file says.
fn check_textures(path: &Path, appearance: &AppearanceIn, warnings: &mut Vec<Warning>) {
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    for t in &appearance.textures {
        if let Some(image) = t.get("image").and_then(Value::as_str) {
            if !image.contains("://") && !dir.join(image).is_file() {
                warnings.push(Warning {
                    path: path.to_path_buf(),
                    record: None,
                    message: format!(
                        "texture image '{image}' is not there; the surfaces keep their texture coordinates"
                    ),
                });
            }
        }
    }
}

fn read_seq(path: &Path, bytes: &[u8]) -> Result<CityModelIn> {
    let mut lines = bytes.lines();
    let first = lines
        .next()
        .transpose()
        .map_err(|e| ImportError::io(path, e))?
        .unwrap_or_default();
    let doc: DocIn = serde_json::from_str(&first)
        .map_err(|e| bad(path, format!("line 1 is not a CityJSON header: {e}")))?;
    if doc.ty != "CityJSON" {
        return Err(bad(
            path,
            format!("line 1: \"type\" is \"{}\", not \"CityJSON\"", doc.ty),
        ));
    }
    let mut model = header(path, &doc)?;
    model.format = format!("CityJSONSeq {}", doc.version.clone().unwrap_or_default());
    let (scale, translate) = (model_scale(&doc.transform), model_translate(&doc.transform));
    let mut record = 0;
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| ImportError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let f: DocIn = match serde_json::from_str(&line) {
            Ok(f) => f,
            Err(e) => {
                model.warnings.push(Warning {
                    path: path.to_path_buf(),
                    record: Some(n as u64 + 2),
                    message: format!("line {} is not a CityJSONFeature: {e}; skipped", n + 2),
                });
                continue;
            }
        };
        let appearance = f.appearance.unwrap_or_default();
        check_textures(path, &appearance, &mut model.warnings);
        let paint_base = model.paints.len();
        model.paints.extend(paints_of(path, &appearance));
        let ctx = Ctx {
            scale,
            translate,
            vertices: &f.vertices,
            uv: &appearance.vertices_texture,
            templates: doc.templates.as_ref(),
            paint_base,
            materials: appearance.materials.len(),
        };
        for (id, o) in f.city_objects {
            record += 1;
            model.objects.push(object(&ctx, record, id, o));
        }
    }
    Ok(model)
}

pub(super) fn attr_value(v: &Value) -> AttrValue {
    match v {
        Value::Null => AttrValue::Null,
        Value::Bool(b) => AttrValue::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| AttrValue::Real(n.as_f64().unwrap_or(f64::NAN)), AttrValue::Int),
        Value::String(s) => AttrValue::Text(s.clone()),
        // Nested values are kept as their JSON text.
        other => AttrValue::Text(other.to_string()),
    }
}

fn lod_text(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn object(ctx: &Ctx, record: u64, id: String, o: ObjectIn) -> CityObjectIn {
    let mut warnings = Vec::new();
    let kind = match kind_of_type(&o.ty) {
        Some(k) => k,
        None => {
            warnings.push(format!("unknown city object type '{}'; imported as other", o.ty));
            cim_engine::FeatureKind::Other
        }
    };
    let attributes: Attributes = o
        .attributes
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), attr_value(v)))
        .collect();
    let mut representations = Vec::new();
    for g in &o.geometry {
        match geometry(ctx, g) {
            Ok(Some(r)) => representations.push(r),
            Ok(None) => {}
            Err(reason) => warnings.push(format!(
                "its {} (LoD {}) is skipped: {reason}",
                g.ty,
                lod_text(&g.lod)
            )),
        }
    }
    CityObjectIn {
        record,
        id,
        type_name: o.ty,
        kind,
        attributes,
        parent: o.parents.first().cloned(),
        representations,
        warnings,
    }
}

/// How many array levels lie above the surfaces in a geometry of this type.
fn surface_depth(ty: &str) -> Option<usize> {
    match ty {
        "MultiSurface" | "CompositeSurface" => Some(1),
        "Solid" => Some(2),
        "MultiSolid" | "CompositeSolid" => Some(3),
        _ => None,
    }
}

/// One geometry as a representation (`None` for points and lines, which have no surfaces).
fn geometry(ctx: &Ctx, g: &GeometryIn) -> std::result::Result<Option<RepresentationIn>, String> {
    if g.ty == "GeometryInstance" {
        return instance(ctx, g).map(Some);
    }
    let Some(depth) = surface_depth(&g.ty) else {
        return match g.ty.as_str() {
            "MultiPoint" | "MultiLineString" => Ok(None),
            other => Err(format!("unknown geometry type '{other}'")),
        };
    };
    let kind = GeometryKind::from_name(&g.ty).unwrap_or_default();
    let mut surfaces = Vec::new();
    let sem_values = g.semantics.as_ref().map(|s| &s.values);
    let mat = g.material.as_ref().and_then(|m| m.values().next());
    let tex = g.texture.as_ref().and_then(|m| m.values().next());
    walk(
        ctx,
        &g.boundaries.0,
        &mut 0,
        depth,
        sem_values,
        mat.map(|t| &t.values),
        mat.and_then(|t| t.value),
        tex.map(|t| &t.values),
        g.semantics.as_ref(),
        &mut surfaces,
        &|k| ctx.vertices.get(k).map(|v| decode(ctx, v)),
    )?;
    Ok(Some(RepresentationIn {
        lod: lod_text(&g.lod),
        kind,
        surfaces,
    }))
}

fn decode(ctx: &Ctx, v: &[f64]) -> [f64; 3] {
    let c = |k: usize| v.get(k).copied().unwrap_or(0.0) * ctx.scale[k] + ctx.translate[k];
    [c(0), c(1), c(2)]
}

/// Walks `depth` levels of nested arrays down to surfaces, with the semantic, material and
/// texture values that mirror them.
#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &Ctx,
    b: &[i64],
    pos: &mut usize,
    depth: usize,
    sem: Option<&Value>,
    mat: Option<&Value>,
    mat_one: Option<u64>,
    tex: Option<&Value>,
    semantics: Option<&SemanticsIn>,
    out: &mut Vec<SurfaceIn>,
    vertex: &dyn Fn(usize) -> Option<[f64; 3]>,
) -> std::result::Result<(), String> {
    let nested = "its boundaries are not arrays nested as its type says";
    let open = |pos: &mut usize| -> std::result::Result<(), String> {
        if b.get(*pos) == Some(&OPEN) {
            *pos += 1;
            Ok(())
        } else {
            Err(nested.to_string())
        }
    };
    fn at(v: Option<&Value>, k: usize) -> Option<&Value> {
        v.and_then(|v| v.as_array()).and_then(|a| a.get(k))
    }
    open(pos)?;
    let mut k = 0;
    loop {
        match b.get(*pos) {
            Some(&CLOSE) => {
                *pos += 1;
                return Ok(());
            }
            None => return Err(nested.to_string()),
            _ => {}
        }
        if depth > 1 {
            walk(
                ctx,
                b,
                pos,
                depth - 1,
                at(sem, k),
                at(mat, k),
                mat_one,
                at(tex, k),
                semantics,
                out,
                vertex,
            )?;
            k += 1;
            continue;
        }
        // A surface: rings of vertex indices.
        open(pos).map_err(|_| "a surface is not an array of rings".to_string())?;
        let mut rings = Vec::new();
        loop {
            match b.get(*pos) {
                Some(&CLOSE) => {
                    *pos += 1;
                    break;
                }
                Some(&OPEN) => *pos += 1,
                _ => return Err("a ring is not an array of vertex indices".into()),
            }
            // Its length known up front: one allocation a ring.
            let len = b
                .get(*pos..)
                .map_or(0, |rest| rest.iter().take_while(|&&t| t >= 0).count());
            let mut ring = Vec::with_capacity(len);
            loop {
                match b.get(*pos).copied() {
                    Some(CLOSE) => {
                        *pos += 1;
                        break;
                    }
                    Some(n) if n >= 0 => {
                        *pos += 1;
                        let n = n as usize;
                        ring.push(vertex(n).ok_or_else(|| {
                            format!(
                                "vertex index {n} is out of range (the file has {} vertices)",
                                ctx.vertices.len()
                            )
                        })?);
                    }
                    _ => return Err("a vertex index is not a whole number".into()),
                }
            }
            rings.push(ring);
        }
        let class = at(sem, k)
            .and_then(Value::as_u64)
            .and_then(|s| semantics?.surfaces.get(s as usize))
            .and_then(|s| s.get("type")?.as_str())
            .map(|t| SurfaceClass::from_name(t).unwrap_or(SurfaceClass::Unclassified))
            .unwrap_or_default();
        // The paint: the texture where the surface has one, else its material.
        let texture = at(tex, k)
            .and_then(Value::as_array)
            .and_then(|rs| rs.first()?.as_array()?.first()?.as_u64());
        let material = match texture {
            Some(t) => Some(ctx.paint_base as u64 + ctx.materials as u64 + t),
            None => at(mat, k)
                .and_then(Value::as_u64)
                .or(mat_one)
                .map(|m| ctx.paint_base as u64 + m),
        }
        .and_then(|m| u16::try_from(m).ok());
        // Texture: per ring [texture, uv index for each vertex].
        let uvs = at(tex, k).and_then(Value::as_array).and_then(|rs| {
            let mut out = Vec::with_capacity(rs.len());
            for r in rs {
                let a = r.as_array()?;
                let uv: Vec<[f32; 2]> = a
                    .iter()
                    .skip(1)
                    .map(|i| {
                        let uv = i.as_u64().and_then(|i| ctx.uv.get(i as usize));
                        uv.map_or([0.0, 0.0], |p| {
                            [
                                p.first().copied().unwrap_or(0.0) as f32,
                                p.get(1).copied().unwrap_or(0.0) as f32,
                            ]
                        })
                    })
                    .collect();
                out.push(uv);
            }
            Some(out)
        });
        out.push(SurfaceIn {
            rings,
            class,
            uvs,
            material,
        });
        k += 1;
    }
}

/// A GeometryInstance: its template's geometry, each vertex through the 4×4 matrix (row-major)
/// and moved to the reference point.
fn instance(ctx: &Ctx, g: &GeometryIn) -> std::result::Result<RepresentationIn, String> {
    let templates = ctx
        .templates
        .ok_or("it names a template but the file has no geometry-templates")?;
    let t = g.template.ok_or("it has no template number")?;
    let template = templates.templates.get(t).ok_or_else(|| {
        format!(
            "template {t} is not in the file ({} templates)",
            templates.templates.len()
        )
    })?;
    let reference = match g.boundaries.0.as_slice() {
        [OPEN, n, ..] if *n >= 0 => *n as usize,
        _ => return Err("its boundaries do not give a reference point".into()),
    };
    let refp = ctx
        .vertices
        .get(reference)
        .map(|v| decode(ctx, v))
        .ok_or_else(|| format!("reference point {reference} is out of range"))?;
    let m = g
        .matrix
        .clone()
        .unwrap_or_else(|| vec![1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1.]);
    if m.len() != 16 || m.iter().any(|x| !x.is_finite()) {
        return Err("its transformationMatrix is not 16 finite numbers".into());
    }
    let depth = surface_depth(&template.ty).ok_or_else(|| format!("template {t} is a {}", template.ty))?;
    let vertex = |k: usize| {
        let v = templates.vertices.get(k)?;
        let (x, y, z) = (v.first().copied()?, v.get(1).copied()?, v.get(2).copied()?);
        Some([
            m[0] * x + m[1] * y + m[2] * z + m[3] + refp[0],
            m[4] * x + m[5] * y + m[6] * z + m[7] + refp[1],
            m[8] * x + m[9] * y + m[10] * z + m[11] + refp[2],
        ])
    };
    let mut surfaces = Vec::new();
    let mat = template.material.as_ref().and_then(|m| m.values().next());
    walk(
        ctx,
        &template.boundaries.0,
        &mut 0,
        depth,
        template.semantics.as_ref().map(|s| &s.values),
        mat.map(|t| &t.values),
        mat.and_then(|t| t.value),
        None,
        template.semantics.as_ref(),
        &mut surfaces,
        &vertex,
    )?;
    Ok(RepresentationIn {
        lod: lod_text(&template.lod),
        kind: GeometryKind::from_name(&template.ty).unwrap_or_default(),
        surfaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parse gives, to compare: the type, the vertices, each object's id, type,
    /// attributes and boundaries.
    fn digest(d: &DocIn) -> String {
        let objects: Vec<String> = d
            .city_objects
            .iter()
            .map(|(id, o)| {
                let b: Vec<&Vec<i64>> = o.geometry.iter().map(|g| &g.boundaries.0).collect();
                format!("{id}:{}:{:?}:{b:?}", o.ty, o.attributes)
            })
            .collect();
        format!("{} {:?} {:?} {objects:?}", d.ty, d.version, d.vertices)
    }

    #[test]
    fn the_split_parse_reads_what_serde_reads_and_leaves_the_rest_to_it() {
        let doc = r#" {"type":"CityJSON","version":"2.0","transform":{"scale":[1,1,1],"translate":[0,0,0]},
            "CityObjects":{"a\"}[b":{"type":"Building","attributes":{"note":"{[\"]}\\","n":-1.5e3,"t":true,"z":null},
              "geometry":[{"type":"MultiSurface","lod":"1","boundaries":[[[0,1,2]]]}]},
             "c":{ "type" : "Road" , "geometry" : [ ] },
             "b":{"type":"PlantCover"}},
            "metadata":{"title":"x]}"},
            "vertices":[[0,0,0],[1,0,0],[1,1,0.5]] } "#;
        let whole: DocIn = serde_json::from_str(doc).unwrap();
        let split = parse_split(doc.as_bytes()).expect("split").unwrap();
        assert_eq!(digest(&split), digest(&whole));
        assert_eq!(split.city_objects.len(), 3);
        assert_eq!(split.metadata, whole.metadata);
        // Malformed, cut short, repeated members, trailing text: the whole parse decides.
        for bad in [
            &doc[..doc.len() - 10],
            r#"{"type":"CityJSON","CityObjects":{},"vertices":[],"vertices":[]}"#,
            r#"{"type":"CityJSON","CityObjects":{},"vertices":[]} x"#,
            r#"{"type":"CityJSON","CityObjects":{"a" {}},"vertices":[]}"#,
            r#"{"type":"CityJSON","CityObjects":{}}"#,
            "",
            "[]",
        ] {
            assert!(parse_split(bad.as_bytes()).is_none(), "{bad}");
        }
        // Well formed but not CityJSON inside: serde's error, from the split or the whole.
        let wrong = r#"{"type":"CityJSON","CityObjects":{"a":{"type":7}},"vertices":[]}"#;
        assert!(matches!(parse_split(wrong.as_bytes()), Some(Err(_))));
        assert!(serde_json::from_str::<DocIn>(wrong).is_err());
    }
}
