//! CityGML 1.0, 2.0 and 3.0, streamed with quick-xml: city objects (Building and its parts,
//! transportation, vegetation, water, relief, furniture, generic objects…) with their gml:id,
//! parent, simple and generic attributes, and their polygons at each level of detail (solids,
//! multi-surfaces, boundary surfaces with their semantics), `xlink:href` references to polygons
//! resolved. The CRS comes from the first `srsName`; geographic CRSs (EPSG:6697, EPSG:4326) are
//! latitude first and are read so.
//!
//! Streamed in constant memory ([`stream_citygml`]): each top-level city object is handed over
//! with everything nested in it (its parts, installations, surfaces) once its end tag is read,
//! in batches; `xlink:href` references are resolved within the top-level object they appear
//! in (CityGML 2.0 solids refer to the boundary surfaces that follow them), and the polygons
//! kept for that are dropped with it.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use cim_engine::mesh::{GeometryKind, SurfaceClass};
use cim_engine::{AttrValue, Crs, FeatureKind};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{kind_of_type, CityModelIn, CityObjectIn, PaintIn, RepresentationIn, SurfaceIn};
use crate::error::{ImportError, Result, Warning};

/// Whether a file's start looks like CityGML.
pub fn looks_like(head: &[u8]) -> bool {
    let t = String::from_utf8_lossy(head);
    t.contains("CityModel") && (t.contains("citygml") || t.contains("cityObjectMember"))
}

/// The CRS of an `srsName`, and whether its axes are latitude first.
fn crs_of(srs: &str) -> Option<(Crs, bool)> {
    let code = if let Some(rest) = srs.strip_prefix("urn:adv:crs:") {
        // German AdV names: ETRS89_UTM32*DE_DHHN92_NH and the like.
        let horizontal = rest.split('*').next().unwrap_or(rest);
        match horizontal {
            h if h.starts_with("ETRS89_UTM") => h
                .trim_start_matches("ETRS89_UTM")
                .parse::<u32>()
                .ok()
                .map(|z| 25800 + z),
            _ => None,
        }?
    } else if srs.trim() == "CH1903" {
        21781
    } else {
        // The first EPSG code in it (compound names give the horizontal CRS first): the last
        // number of the first part naming EPSG (`urn:ogc:def:crs,crs:EPSG:6.12:3068,…`,
        // `…/EPSG/0/6697`, `EPSG:25832+5783`).
        let part = srs.split(',').find(|p| p.to_ascii_uppercase().contains("EPSG"))?;
        let last = part.rsplit([':', '/']).next()?;
        let digits: String = last.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()?
    };
    let crs = Crs::from_epsg(code).ok()?;
    // EPSG's geographic CRSs list latitude first.
    let lat_first = crs.is_geographic();
    Some((crs, lat_first))
}

/// A polygon's rings (outer first), x, y, z.
type Rings = Vec<Vec<[f64; 3]>>;

/// What an appearance gives a polygon: its paint and, per ring id, texture coordinates.
type Target = (u16, HashMap<String, Vec<[f32; 2]>>);

#[derive(Default)]
struct Obj {
    index: usize,
    depth: usize,
    /// Representations by (LoD, kind).
    reps: Vec<(String, GeometryKind, Vec<SurfaceIn>)>,
    /// Solids made of references to polygons, by LoD.
    refs: Vec<(String, GeometryKind, String)>,
}

struct Parser {
    stack: Vec<String>,
    objects: Vec<CityObjectIn>,
    open: Vec<Obj>,
    /// The LoD and kind of the geometry property being read, and its depth.
    geometry: Option<(String, GeometryKind, usize)>,
    /// The semantic surface class being read, and its depth.
    class: Option<(SurfaceClass, usize)>,
    /// The polygon being read: its gml:id and rings.
    polygon: Option<(Option<String>, Rings)>,
    ring: Option<Vec<f64>>,
    dims: usize,
    text: String,
    gen_name: Option<String>,
    polygons: HashMap<String, (SurfaceIn, usize)>,
    crs: Option<(Crs, bool)>,
    srs_text: Option<String>,
    warnings: Vec<String>,
    record: u64,
    /// 1.0, 2.0 or 3.0, from the namespaces.
    version: &'static str,
    /// The model's folder, where texture images are.
    dir: std::path::PathBuf,
    /// Appearances read so far: paints, and per polygon id its paint and per ring id its
    /// texture coordinates (taken when the polygon is read; the first theme wins).
    paints: Vec<PaintIn>,
    targets: HashMap<String, Target>,
    /// In a ParameterizedTexture: its paint and the polygon it is targeting now.
    texture: Option<(Option<u16>, Option<String>)>,
    /// The ring the texture coordinates being read are for.
    tex_ring: Option<String>,
    /// In an X3DMaterial: its paint.
    material: Option<u16>,
    /// The gml:ids of the rings of the polygon being read.
    ring_ids: Vec<Option<String>>,
    missing_images: std::collections::HashSet<String>,
}

/// What a [`stream_citygml`] batch comes with: the file's format and CRS as read so far (the
/// first `srsName` precedes the first object's geometry).
#[derive(Clone, Debug)]
pub struct StreamHead {
    pub format: String,
    pub crs: Option<Crs>,
    /// The first `srsName`, as written.
    pub srs_name: Option<String>,
    /// The appearances' paints read so far (what surfaces' `material` indices name).
    pub paints: Vec<PaintIn>,
}

/// A batch is handed over once it holds this many objects (parts counted; a top-level object
/// is never split from its parts)…
const BATCH: usize = 512;
/// …or those read from this many bytes of the file (PLATEAU buildings run to 100 kB each).
const BATCH_BYTES: u64 = 4 << 20;

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// The LoD and kind a geometry property's name gives (`lod2Solid`, `lod1MultiSurface`,
/// `lod0FootPrint`…).
fn geometry_property(name: &str) -> Option<(String, GeometryKind)> {
    let rest = name.strip_prefix("lod")?;
    let lod: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if lod.is_empty() {
        return None;
    }
    let what = &rest[lod.len()..];
    let kind = match what {
        "Solid" => GeometryKind::Solid,
        "MultiSolid" => GeometryKind::MultiSolid,
        "MultiSurface" | "Geometry" | "FootPrint" | "RoofEdge" | "TerrainIntersection" => {
            GeometryKind::MultiSurface
        }
        "CompositeSurface" => GeometryKind::CompositeSurface,
        _ => return None,
    };
    (!what.contains("Curve")).then_some((lod, kind))
}

impl Parser {
    fn start(&mut self, e: &BytesStart, empty: bool) {
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let depth = self.stack.len();
        if self.srs_text.is_none() {
            if let Some(s) = attr(e, b"srsName") {
                self.crs = crs_of(&s);
                self.srs_text = Some(s);
            }
        }
        if let Some(s) = attr(e, b"srsDimension") {
            self.dims = s.trim().parse().unwrap_or(3);
        }
        let id = attr(e, b"id");
        if let (Some(kind), Some(id)) = (kind_of_type(&name), id.clone()) {
            // A city object (a Polygon is not one, nor a surface).
            self.record += 1;
            let parent = self.open.last().map(|o| self.objects[o.index].id.clone());
            self.objects.push(CityObjectIn {
                record: self.record,
                id,
                type_name: name.clone(),
                kind,
                attributes: Default::default(),
                parent,
                representations: Vec::new(),
                warnings: Vec::new(),
            });
            self.open.push(Obj {
                index: self.objects.len() - 1,
                depth,
                ..Default::default()
            });
        } else if let Some(c) = SurfaceClass::from_name(&name).filter(|c| *c != SurfaceClass::Unclassified) {
            if name.ends_with("Surface") || matches!(name.as_str(), "Window" | "Door") {
                self.class = Some((c, depth));
            }
        } else if let Some((lod, kind)) = geometry_property(&name) {
            self.geometry = Some((lod, kind, depth));
        }
        match name.as_str() {
            "Polygon" | "Triangle" => {
                self.polygon = Some((id, Vec::new()));
                self.ring_ids.clear();
            }
            "LinearRing" => {
                self.ring = Some(Vec::new());
                self.ring_ids.push(id);
            }
            "ParameterizedTexture" | "GeoreferencedTexture" => self.texture = Some((None, None)),
            "X3DMaterial" => {
                self.paints.push(PaintIn::Color([0.8, 0.8, 0.8, 1.0]));
                self.material = u16::try_from(self.paints.len() - 1).ok();
            }
            "target" => {
                if let (Some(t), Some(uri)) = (&mut self.texture, attr(e, b"uri")) {
                    t.1 = Some(uri.trim_start_matches('#').to_string());
                }
            }
            "textureCoordinates" => {
                self.tex_ring = attr(e, b"ring").map(|r| r.trim_start_matches('#').to_string());
            }
            "stringAttribute" | "intAttribute" | "doubleAttribute" | "measureAttribute" | "dateAttribute"
            | "uriAttribute" => {
                self.gen_name = attr(e, b"name");
            }
            _ => {}
        }
        if empty {
            if let Some(href) = attr(e, b"href") {
                if let (Some(o), Some((lod, kind, _))) = (self.open.last_mut(), &self.geometry) {
                    o.refs
                        .push((lod.clone(), *kind, href.trim_start_matches('#').to_string()));
                }
            }
        }
        self.stack.push(name);
        self.text.clear();
    }

    fn end(&mut self) {
        let Some(name) = self.stack.pop() else { return };
        let depth = self.stack.len();
        let text = std::mem::take(&mut self.text);
        match name.as_str() {
            "posList" | "pos" | "coordinates" => {
                if let Some(ring) = &mut self.ring {
                    ring.extend(
                        text.split(|c: char| c.is_whitespace() || c == ',')
                            .filter_map(|t| t.parse::<f64>().ok()),
                    );
                }
            }
            "LinearRing" => {
                let flat = self.ring.take().unwrap_or_default();
                let d = if self.dims == 2 { 2 } else { 3 };
                let lat_first = self.crs.as_ref().is_some_and(|c| c.1);

                let ring: Vec<[f64; 3]> = flat
                    .chunks_exact(d)
                    .map(|c| {
                        let (a, b, z) = (c[0], c[1], if d == 3 { c[2] } else { 0.0 });
                        if lat_first {
                            [b, a, z]
                        } else {
                            [a, b, z]
                        }
                    })
                    .collect();
                if let Some((_, rings)) = &mut self.polygon {
                    rings.push(ring);
                }
            }
            "Polygon" | "Triangle" => {
                if let Some((id, rings)) = self.polygon.take() {
                    let mut surface = SurfaceIn {
                        rings,
                        class: self.class.as_ref().map(|c| c.0).unwrap_or_default(),
                        ..Default::default()
                    };
                    // Its appearance, where one targets it.
                    if let Some((paint, mut uvs)) = id.as_ref().and_then(|i| self.targets.remove(i)) {
                        surface.material = Some(paint);
                        if !uvs.is_empty() {
                            surface.uvs = Some(
                                self.ring_ids
                                    .iter()
                                    .map(|r| r.as_ref().and_then(|r| uvs.remove(r)).unwrap_or_default())
                                    .collect(),
                            );
                        }
                    }
                    if let (Some(o), Some((lod, kind, _))) = (self.open.last_mut(), &self.geometry) {
                        if let Some(id) = id {
                            self.polygons.insert(id, (surface.clone(), o.index));
                        }
                        match o.reps.iter_mut().find(|r| r.0 == *lod && r.1 == *kind) {
                            Some(r) => r.2.push(surface),
                            None => o.reps.push((lod.clone(), *kind, vec![surface])),
                        }
                    }
                }
            }
            "imageURI" => {
                if let Some(t) = &mut self.texture {
                    let image = self.dir.join(text.trim());
                    if !image.is_file() && self.missing_images.insert(text.trim().to_string()) {
                        self.warnings.push(format!(
                            "texture image '{}' is not there; the surfaces keep their texture coordinates",
                            text.trim()
                        ));
                    }
                    self.paints.push(PaintIn::Texture { image });
                    t.0 = u16::try_from(self.paints.len() - 1).ok();
                }
            }
            "target" => {
                let id = text.trim().trim_start_matches('#').to_string();
                if !id.is_empty() {
                    if let Some(m) = self.material {
                        self.targets.entry(id).or_insert_with(|| (m, HashMap::new()));
                    } else if let Some(t) = &mut self.texture {
                        t.1 = Some(id);
                    }
                }
            }
            "textureCoordinates" => {
                if let (Some((Some(paint), Some(target))), Some(ring)) = (&self.texture, self.tex_ring.take())
                {
                    let uv: Vec<f32> = text.split_whitespace().filter_map(|t| t.parse().ok()).collect();
                    let uv: Vec<[f32; 2]> = uv.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
                    let entry = self
                        .targets
                        .entry(target.clone())
                        .or_insert_with(|| (*paint, HashMap::new()));
                    if entry.0 == *paint {
                        entry.1.insert(ring, uv);
                    }
                }
            }
            "diffuseColor" => {
                if let Some(PaintIn::Color(c)) =
                    self.material.and_then(|m| self.paints.get_mut(usize::from(m)))
                {
                    let v: Vec<f32> = text.split_whitespace().filter_map(|t| t.parse().ok()).collect();
                    if v.len() >= 3 {
                        c[..3].copy_from_slice(&v[..3]);
                    }
                }
            }
            "transparency" => {
                if let Some(PaintIn::Color(c)) =
                    self.material.and_then(|m| self.paints.get_mut(usize::from(m)))
                {
                    if let Ok(t) = text.trim().parse::<f32>() {
                        c[3] = 1.0 - t;
                    }
                }
            }
            "ParameterizedTexture" | "GeoreferencedTexture" => self.texture = None,
            "X3DMaterial" => self.material = None,
            "value" => {
                if let (Some(n), Some(o)) = (self.gen_name.take(), self.open.last()) {
                    self.objects[o.index].attributes.insert(n, parse_value(&text));
                }
            }
            _ => {
                // A simple attribute: text directly under the object.
                if let Some(o) = self.open.last() {
                    if depth == o.depth + 1 && !text.trim().is_empty() && self.geometry.is_none() {
                        self.objects[o.index]
                            .attributes
                            .insert(name.clone(), parse_value(&text));
                    }
                }
            }
        }
        if self.geometry.as_ref().is_some_and(|g| g.2 == depth) {
            self.geometry = None;
        }
        if self.class.as_ref().is_some_and(|c| c.1 == depth) {
            self.class = None;
        }
        if self.open.last().is_some_and(|o| o.depth == depth) {
            if let Some(o) = self.open.pop() {
                self.finish(o);
            }
            if self.open.is_empty() {
                // A top-level object is complete: what its references needed goes with it.
                self.polygons.clear();
            }
        }
    }

    fn head(&self) -> StreamHead {
        StreamHead {
            format: format!("CityGML {}", self.version),
            crs: self.crs.as_ref().map(|c| c.0.clone()),
            srs_name: self.srs_text.clone(),
            paints: self.paints.clone(),
        }
    }

    /// The complete objects read so far (none is open), without the ones of no use.
    fn take_objects(&mut self) -> Vec<CityObjectIn> {
        std::mem::take(&mut self.objects)
            .into_iter()
            .filter(|o| o.kind != FeatureKind::Other || !o.representations.is_empty())
            .collect()
    }

    /// An object's representations: polygons referenced by its solids are resolved (and a
    /// multi-surface at the same LoD whose polygons all went into a solid is dropped).
    fn finish(&mut self, mut o: Obj) {
        let mut used: Vec<String> = Vec::new();
        for (lod, kind, id) in std::mem::take(&mut o.refs) {
            match self.polygons.get(&id) {
                Some((s, _)) => {
                    used.push(id.clone());
                    match o.reps.iter_mut().find(|r| r.0 == lod && r.1 == kind) {
                        Some(r) => r.2.push(s.clone()),
                        None => o.reps.push((lod, kind, vec![s.clone()])),
                    }
                }
                None => self.objects[o.index].warnings.push(format!(
                    "its LoD {lod} {} refers to polygon '{id}', which is not in the file",
                    kind.name()
                )),
            }
        }
        if !used.is_empty() {
            let solid_lods: Vec<String> = o
                .reps
                .iter()
                .filter(|r| r.1 == GeometryKind::Solid)
                .map(|r| r.0.clone())
                .collect();
            o.reps
                .retain(|r| !(r.1 == GeometryKind::MultiSurface && solid_lods.contains(&r.0)));
        }
        self.objects[o.index].representations = o
            .reps
            .into_iter()
            .map(|(lod, kind, surfaces)| RepresentationIn { lod, kind, surfaces })
            .collect();
    }
}

fn parse_value(t: &str) -> AttrValue {
    let t = t.trim();
    if let Ok(i) = t.parse::<i64>() {
        AttrValue::Int(i)
    } else if let Ok(f) = t.parse::<f64>() {
        AttrValue::Real(f)
    } else {
        AttrValue::Text(t.to_string())
    }
}

/// Reads a CityGML file whole (for tests and small files; imports use [`stream_citygml`]).
pub fn read_citygml(path: &Path) -> Result<CityModelIn> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    collect(path, std::io::BufReader::with_capacity(1 << 16, file))
}

/// [`read_citygml`] of bytes already read (`path` names them in messages).
pub fn read_citygml_bytes(path: &Path, bytes: &[u8]) -> Result<CityModelIn> {
    collect(path, bytes)
}

fn collect<R: BufRead>(path: &Path, input: R) -> Result<CityModelIn> {
    let mut objects = Vec::new();
    let mut head = None;
    let (last, warnings) = read(path, input, &mut |h, batch| {
        head.get_or_insert_with(|| h.clone());
        objects.extend(batch);
        Ok(())
    })?;
    // The CRS as the first batch saw it; the paints as read to the end.
    let paints = last.paints.clone();
    let head = head.unwrap_or(last);
    Ok(CityModelIn {
        path: path.to_path_buf(),
        format: head.format,
        crs: head.crs,
        objects,
        warnings,
        paints,
    })
}

/// Reads a CityGML file in constant memory, handing `on_batch` the complete top-level objects
/// (with their parts) a batch at a time, with the format and CRS read so far. Returns the head
/// at the end and the file's warnings. A file cut short is an error after the batches before
/// the cut were handed over: the caller must not commit them.
pub fn stream_citygml(
    path: &Path,
    on_batch: &mut dyn FnMut(&StreamHead, Vec<CityObjectIn>) -> Result<()>,
) -> Result<(StreamHead, Vec<Warning>)> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    read(path, std::io::BufReader::with_capacity(1 << 16, file), on_batch)
}

fn read<R: BufRead>(
    path: &Path,
    input: R,
    on_batch: &mut dyn FnMut(&StreamHead, Vec<CityObjectIn>) -> Result<()>,
) -> Result<(StreamHead, Vec<Warning>)> {
    let mut reader = Reader::from_reader(input);
    let mut p = Parser {
        stack: Vec::new(),
        objects: Vec::new(),
        open: Vec::new(),
        geometry: None,
        class: None,
        polygon: None,
        ring: None,
        dims: 3,
        text: String::new(),
        gen_name: None,
        polygons: HashMap::new(),
        crs: None,
        srs_text: None,
        warnings: Vec::new(),
        record: 0,
        version: "",
        dir: path.parent().map(std::path::PathBuf::from).unwrap_or_default(),
        paints: Vec::new(),
        targets: HashMap::new(),
        texture: None,
        tex_ring: None,
        material: None,
        ring_ids: Vec::new(),
        missing_images: Default::default(),
    };
    let mut saw_model = false;
    let mut buf = Vec::new();
    let mut batch_start = 0u64;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            ImportError::file(
                path,
                format!("XML error at byte {}: {e}", reader.error_position()),
            )
        })?;
        match event {
            Event::Start(e) => {
                if e.local_name().as_ref() == b"CityModel" {
                    saw_model = true;
                    for a in e.attributes().flatten() {
                        let v = String::from_utf8_lossy(&a.value);
                        for (ns, version) in [
                            ("citygml/3.0", "3.0"),
                            ("citygml/2.0", "2.0"),
                            ("citygml/1.0", "1.0"),
                        ] {
                            if v.contains(ns) && p.version.is_empty() {
                                p.version = version;
                            }
                        }
                    }
                }
                p.start(&e, false);
            }
            Event::Empty(e) => {
                p.start(&e, true);
                p.end();
            }
            Event::Text(t) => {
                if let Ok(s) = t.decode() {
                    p.text.push_str(&s);
                }
            }
            Event::End(_) => {
                p.end();
                let read = reader.buffer_position();
                if p.open.is_empty() && (p.objects.len() >= BATCH || read - batch_start >= BATCH_BYTES) {
                    batch_start = read;
                    let batch = p.take_objects();
                    on_batch(&p.head(), batch)?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_model {
        return Err(ImportError::file(path, "not CityGML (no <CityModel> element)"));
    }
    if !p.stack.is_empty() {
        return Err(ImportError::file(
            path,
            format!(
                "unexpected end of file inside <{}>; the file is truncated",
                p.stack.join("/")
            ),
        ));
    }
    let mut warnings: Vec<Warning> = std::mem::take(&mut p.warnings)
        .into_iter()
        .map(|message| Warning {
            path: path.to_path_buf(),
            record: None,
            message,
        })
        .collect();
    // Appearances are applied to the polygons read after them (what keeps the import
    // streamed); those left named polygons that came before them, or none in the file.
    if let Some(first) = p.targets.keys().min() {
        warnings.push(Warning {
            path: path.to_path_buf(),
            record: None,
            message: format!(
                "{} appearance target(s) were not applied (first: '#{first}'): their polygons come before the appearance in the file or are not in it; a streamed import paints only polygons that follow their appearance (put appearanceMember elements before the city objects, or inside each object)",
                p.targets.len()
            ),
        });
    }
    if let (Some(s), None) = (&p.srs_text, &p.crs) {
        warnings.push(Warning {
            path: path.to_path_buf(),
            record: None,
            message: format!("its srsName '{s}' is not a CRS cim knows; give one with --src-crs"),
        });
    }
    let batch = p.take_objects();
    let head = p.head();
    if !batch.is_empty() {
        on_batch(&head, batch)?;
    }
    Ok((head, warnings))
}
