//! 3D Tiles content: b3dm, i3dm, pnts and cmpt containers (1.0) and glb/glTF (1.1), read into
//! triangles or points in the tileset's frame (the tile's transform applied). Every length in a
//! header is checked against the bytes there are; a truncated or damaged file is an error
//! saying where, never a panic.

use std::path::Path;

use serde_json::Value;

use super::gltf::{self, apply, mul, Mat4, Model};

/// glTF is y up, 3D Tiles z up: (x, y, z) → (x, −z, y), column-major.
pub const Y_UP_TO_Z_UP: Mat4 = [
    1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

/// A b3dm, i3dm or pnts (`magic`) around `body` (a GLB, or nothing for pnts): the feature table
/// JSON and binary, the batch table JSON, each padded to 8 bytes as the specification asks;
/// `gltf_format` goes in the i3dm header.
pub fn container(magic: &[u8; 4], ft: &Value, ft_bin: &[u8], bt: Option<&Value>, body: &[u8]) -> Vec<u8> {
    let header = if magic == b"i3dm" { 32 } else { 28 };
    let pad = |mut v: Vec<u8>, before: usize, fill: u8| {
        while !(before + v.len()).is_multiple_of(8) {
            v.push(fill);
        }
        v
    };
    let ftj = pad(ft.to_string().into_bytes(), header, b' ');
    let ftb = pad(ft_bin.to_vec(), header + ftj.len(), 0);
    let btj = match bt {
        Some(bt) => pad(bt.to_string().into_bytes(), header + ftj.len() + ftb.len(), b' '),
        None => Vec::new(),
    };
    let total = header + ftj.len() + ftb.len() + btj.len() + body.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(magic);
    for v in [1, total, ftj.len(), ftb.len(), btj.len(), 0] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    if magic == b"i3dm" {
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&ftj);
    out.extend_from_slice(&ftb);
    out.extend_from_slice(&btj);
    out.extend_from_slice(body);
    out
}

/// A cmpt of `tiles`.
pub fn composite(tiles: &[Vec<u8>]) -> Vec<u8> {
    let total = 16 + tiles.iter().map(Vec::len).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"cmpt");
    for v in [1, total, tiles.len()] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    for t in tiles {
        out.extend_from_slice(t);
    }
    out
}

/// The kind of a content file from its first bytes (`None`: not one cim knows).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let magic = bytes.get(..4)?;
    Some(match magic {
        b"b3dm" => "b3dm",
        b"i3dm" => "i3dm",
        b"pnts" => "pnts",
        b"cmpt" => "cmpt",
        b"glTF" => "glb",
        b"subt" => "subtree",
        _ => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
            if *first != b'{' {
                return None;
            }
            // A JSON: a glTF has an "asset" with a version "2.0" and meshes or nodes; a tileset
            // has a "root".
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
            if head.contains("\"root\"") || head.contains("\"geometricError\"") {
                "json"
            } else {
                "gltf"
            }
        }
    })
}

/// Decoded content in the tileset's frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Content {
    /// Triangles (positions in the frame), with materials and images.
    pub model: Model,
    /// Points in the frame and their colours.
    pub points: Vec<[f64; 3]>,
    pub colors: Option<Vec<[u8; 3]>>,
    /// Each point's ASPRS class and intensity, where the content has them (lidar).
    pub classes: Option<Vec<u8>>,
    pub intensities: Option<Vec<u16>>,
    /// Batch tables (1.0) and EXT_structural_metadata (1.1), as JSON.
    pub attributes: Vec<Value>,
}

impl Content {
    fn append(&mut self, other: Content) {
        let images = self.model.images.len();
        let materials = self.model.materials.len();
        self.model.images.extend(other.model.images);
        self.model
            .materials
            .extend(other.model.materials.into_iter().map(|mut m| {
                m.image = m.image.map(|i| i + images);
                m
            }));
        self.model
            .parts
            .extend(other.model.parts.into_iter().map(|mut p| {
                p.material = p.material.map(|m| m + materials);
                p
            }));
        match (&mut self.colors, other.colors) {
            (Some(c), Some(o)) => c.extend(o),
            (None, Some(o)) if self.points.is_empty() => self.colors = Some(o),
            (Some(c), None) => c.extend(std::iter::repeat_n([255, 255, 255], other.points.len())),
            _ => {}
        }
        let (n, m) = (self.points.len(), other.points.len());
        merge_per_point(&mut self.classes, other.classes, n, m, 1);
        merge_per_point(&mut self.intensities, other.intensities, n, m, 0);
        self.points.extend(other.points);
        self.attributes.extend(other.attributes);
    }

    /// Feature `id`'s properties (`_FEATURE_ID_0` or `_BATCHID`), from its batch table or
    /// EXT_structural_metadata property table, by name.
    pub fn feature_properties(&self, id: u32) -> Vec<(String, Value)> {
        super::metadata::feature_properties(&self.attributes, id)
    }

    /// `[min x, min y, min z, max x, max y, max z]` of its vertices and points.
    pub fn bounds(&self) -> Option<[f64; 6]> {
        let all = self
            .model
            .parts
            .iter()
            .flat_map(|p| p.positions.iter())
            .chain(self.points.iter())
            .copied();
        let b = crate::pointcloud::bounds_of(all);
        b[0].is_finite().then_some(b)
    }
}

/// Appends `other`'s values for its `m` points to `mine` for `n` points, filling the side that
/// has none with `fill` (class 1 is "unclassified"), so values stay one a point.
fn merge_per_point<T: Copy>(mine: &mut Option<Vec<T>>, other: Option<Vec<T>>, n: usize, m: usize, fill: T) {
    match (mine.as_mut(), other) {
        (Some(a), Some(b)) => a.extend(b),
        (Some(a), None) => a.extend(std::iter::repeat_n(fill, m)),
        (None, Some(b)) if m > 0 => {
            let mut a = vec![fill; n];
            a.extend(b);
            *mine = Some(a);
        }
        _ => {}
    }
}

fn u32_at(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize
}

/// A container's feature table and batch table, and what follows them.
struct Tables<'a> {
    ft: Value,
    ft_bin: &'a [u8],
    bt: Option<Value>,
    body: &'a [u8],
}

/// Splits a b3dm/i3dm/pnts after its header of `header` bytes (the four table lengths at byte
/// 12), checking every length against the bytes there are.
fn tables<'a>(bytes: &'a [u8], kind: &str, header: usize) -> Result<Tables<'a>, String> {
    if bytes.len() < header {
        return Err(format!(
            "truncated: {} bytes, shorter than the {kind} header",
            bytes.len()
        ));
    }
    let length = u32_at(bytes, 8);
    if length > bytes.len() {
        return Err(format!(
            "truncated: the {kind} header says {length} bytes, there are {}",
            bytes.len()
        ));
    }
    let (mut ftj, mut ftb, mut btj, mut btb) = (
        u32_at(bytes, 12),
        u32_at(bytes, 16),
        u32_at(bytes, 20),
        u32_at(bytes, 24),
    );
    let mut start = header;
    // Legacy b3dm headers (before 3D Tiles 1.0): [batchLength, batchTableByteLength] or
    // [batchTableJsonByteLength, batchTableBinaryByteLength, batchLength] after byteLength,
    // recognised as Cesium does by a batch table length too large to be one.
    if kind == "b3dm" && btj >= 570_425_344 {
        start = 20;
        (ftj, ftb, btj, btb) = (0, 0, u32_at(bytes, 16), 0);
    } else if kind == "b3dm" && btb >= 570_425_344 {
        start = 24;
        (ftj, ftb, btj, btb) = (0, 0, u32_at(bytes, 12), u32_at(bytes, 16));
    }
    let end = [ftj, ftb, btj, btb]
        .iter()
        .try_fold(start, |a, l| a.checked_add(*l))
        .filter(|e| *e <= length)
        .ok_or_else(|| {
            format!("its table lengths ({ftj} + {ftb} + {btj} + {btb}) run past its {length} bytes")
        })?;
    let mut at = start;
    let ft = if ftj > 0 {
        serde_json::from_slice(trim_json(&bytes[at..at + ftj]))
            .map_err(|e| format!("its feature table JSON does not read: {e}"))?
    } else {
        Value::Object(Default::default())
    };
    at += ftj;
    let ft_bin = &bytes[at..at + ftb];
    at += ftb;
    let bt: Option<Value> = if btj > 0 {
        Some(
            serde_json::from_slice(trim_json(&bytes[at..at + btj]))
                .map_err(|e| format!("its batch table JSON does not read: {e}"))?,
        )
    } else {
        None
    };
    // Binary batch table properties decoded: one value a feature (batch, instance or point).
    let count = ["BATCH_LENGTH", "INSTANCES_LENGTH", "POINTS_LENGTH"]
        .iter()
        .find_map(|k| ft.get(*k).and_then(Value::as_u64))
        .unwrap_or(0) as usize;
    let bt_bin = &bytes[at + btj..at + btj + btb];
    let bt = bt.map(|bt| {
        let mut problems = Vec::new();
        let mut bt = super::metadata::batch_table(bt, bt_bin, count, &mut problems);
        if let Some(map) = bt.as_object_mut().filter(|_| !problems.is_empty()) {
            map.insert("cim_problems".into(), serde_json::json!(problems));
        }
        bt
    });
    at += btj + btb;
    Ok(Tables {
        ft,
        ft_bin,
        bt,
        body: &bytes[end.min(at)..length],
    })
}

/// JSON padded with spaces or zeros to 8 bytes.
fn trim_json(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != 0 && *c != b' ').map_or(0, |e| e + 1);
    &b[..end]
}

/// A feature table property: `n` elements of `width` components of `ty` (`f32`, `u16`, `u8`),
/// inline or at a byteOffset of the binary body.
fn ft_values(t: &Tables, name: &str, n: usize, width: usize, ty: &str) -> Result<Option<Vec<f64>>, String> {
    let Some(v) = t.ft.get(name) else { return Ok(None) };
    if let Some(a) = v.as_array() {
        return Ok(Some(a.iter().map(|x| x.as_f64().unwrap_or(0.0)).collect()));
    }
    let off = v
        .get("byteOffset")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("feature table {name} has no byteOffset"))? as usize;
    let size = match ty {
        "f32" => 4,
        "u16" => 2,
        _ => 1,
    };
    let need = n
        .checked_mul(width * size)
        .and_then(|l| l.checked_add(off))
        .filter(|e| *e <= t.ft_bin.len());
    let Some(end) = need else {
        return Err(format!(
            "feature table {name}: {n} × {width} values at byte {off} run past its {} bytes",
            t.ft_bin.len()
        ));
    };
    let b = &t.ft_bin[off..end];
    Ok(Some(match ty {
        "f32" => b
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "u16" => b
            .chunks_exact(2)
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => b.iter().map(|c| f64::from(*c)).collect(),
    }))
}

fn ft_count(t: &Tables, name: &str) -> Result<usize, String> {
    let n =
        t.ft.get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("its feature table has no {name}"))?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= 1 << 28)
        .ok_or_else(|| format!("its feature table says {name} {n}"))
}

fn vec3(t: &Tables, name: &str) -> Result<Option<[f64; 3]>, String> {
    Ok(ft_values(t, name, 1, 3, "f32")?
        .filter(|v| v.len() >= 3)
        .map(|v| [v[0], v[1], v[2]]))
}

/// Decodes content of kind `kind` (from [`sniff`]) with the tile's `transform` into the frame;
/// `base` is the folder files it names lie in.
pub fn decode(bytes: &[u8], kind: &str, transform: &Mat4, base: Option<&Path>) -> Result<Content, String> {
    decode_depth(bytes, kind, transform, base, 0)
}

fn decode_depth(
    bytes: &[u8],
    kind: &str,
    transform: &Mat4,
    base: Option<&Path>,
    depth: u32,
) -> Result<Content, String> {
    match kind {
        "glb" | "gltf" => {
            let (json, bin) = if kind == "glb" {
                gltf::split_glb(bytes)?
            } else {
                (
                    serde_json::from_slice(bytes).map_err(|e| format!("its glTF JSON does not read: {e}"))?,
                    None,
                )
            };
            let model = gltf::read_gltf(&json, bin, base)?;
            Ok(gltf_content(model, None, transform))
        }
        "b3dm" => {
            let t = tables(bytes, "b3dm", 28)?;
            let rtc = vec3(&t, "RTC_CENTER")?;
            let (json, bin) = gltf::split_glb(t.body).map_err(|e| format!("its glTF: {e}"))?;
            let model = gltf::read_gltf(&json, bin, base).map_err(|e| format!("its glTF: {e}"))?;
            let mut c = gltf_content(model, rtc, transform);
            c.attributes.extend(t.bt);
            Ok(c)
        }
        "i3dm" => i3dm(bytes, transform, base),
        "pnts" => pnts(bytes, transform),
        "cmpt" => {
            if depth > 8 {
                return Err("its composite tiles nest too deep".into());
            }
            if bytes.len() < 16 {
                return Err(format!(
                    "truncated: {} bytes, shorter than the cmpt header",
                    bytes.len()
                ));
            }
            let length = u32_at(bytes, 8);
            if length > bytes.len() {
                return Err(format!(
                    "truncated: the cmpt header says {length} bytes, there are {}",
                    bytes.len()
                ));
            }
            let n = u32_at(bytes, 12);
            let mut at = 16;
            let mut out = Content::default();
            for k in 0..n {
                if at + 12 > length {
                    return Err(format!("truncated: inner tile {k} of {n} starts past its end"));
                }
                let len = u32_at(bytes, at + 8);
                let end = at
                    .checked_add(len)
                    .filter(|e| *e <= length && len >= 12)
                    .ok_or_else(|| format!("inner tile {k} says {len} bytes, past its end"))?;
                let inner = &bytes[at..end];
                let kind = sniff(inner).ok_or_else(|| format!("inner tile {k} is of no kind cim knows"))?;
                let c = decode_depth(inner, kind, transform, base, depth + 1)
                    .map_err(|e| format!("inner tile {k} ({kind}): {e}"))?;
                out.append(c);
                at = end;
            }
            Ok(out)
        }
        "osgb" => crate::osgb::decode(bytes, transform),
        cim_engine::points::POINTS_FORMAT => {
            let t = cim_engine::points::TilePoints::decode(bytes)?;
            let points = t
                .xyz
                .iter()
                .map(|q| apply(transform, [0, 1, 2].map(|i| t.origin[i] + f64::from(q[i]))))
                .collect();
            let colors = t.rgb.map(|c| {
                // 16-bit LAS colours, or 8-bit ones written as they were.
                let wide = c.iter().flatten().any(|v| *v > 255);
                c.iter()
                    .map(|rgb| rgb.map(|v| if wide { (v >> 8) as u8 } else { v as u8 }))
                    .collect()
            });
            Ok(Content {
                points,
                colors,
                classes: Some(t.class),
                intensities: Some(t.intensity),
                ..Content::default()
            })
        }
        other => Err(format!("content of kind '{other}' is not read")),
    }
}

/// A glTF's triangles z up, moved by an RTC centre, into the frame.
fn gltf_content(mut model: Model, rtc: Option<[f64; 3]>, transform: &Mat4) -> Content {
    let rtc = rtc.or(model.rtc_center).unwrap_or([0.0; 3]);
    let m = mul(transform, &mul(&gltf::translation(rtc), &Y_UP_TO_Z_UP));
    for p in &mut model.parts {
        for v in &mut p.positions {
            *v = apply(&m, *v);
        }
    }
    let attributes = model.metadata.clone().into_iter().collect();
    Content {
        model,
        attributes,
        ..Content::default()
    }
}

/// Oct-encoded unit vector (16 bits a component) to a vector.
fn oct_decode(x: f64, y: f64) -> [f64; 3] {
    let (mut u, mut v) = (x / 65535.0 * 2.0 - 1.0, y / 65535.0 * 2.0 - 1.0);
    let z = 1.0 - u.abs() - v.abs();
    if z < 0.0 {
        let (ou, ov) = (u, v);
        u = (1.0 - ov.abs()) * ou.signum();
        v = (1.0 - ou.abs()) * ov.signum();
    }
    let n = (u * u + v * v + z * z).sqrt().max(1e-12);
    [u / n, v / n, z / n]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Positions of a feature table: `POSITION` floats, or `POSITION_QUANTIZED` with its volume.
fn positions(t: &Tables, n: usize) -> Result<Vec<[f64; 3]>, String> {
    let flat = if let Some(v) = ft_values(t, "POSITION", n, 3, "f32")? {
        v
    } else if let Some(q) = ft_values(t, "POSITION_QUANTIZED", n, 3, "u16")? {
        let off = vec3(t, "QUANTIZED_VOLUME_OFFSET")?
            .ok_or("POSITION_QUANTIZED without QUANTIZED_VOLUME_OFFSET")?;
        let scale =
            vec3(t, "QUANTIZED_VOLUME_SCALE")?.ok_or("POSITION_QUANTIZED without QUANTIZED_VOLUME_SCALE")?;
        q.chunks_exact(3)
            .flat_map(|c| (0..3).map(move |k| off[k] + c[k] / 65535.0 * scale[k]))
            .collect()
    } else {
        return Err("its feature table has neither POSITION nor POSITION_QUANTIZED".into());
    };
    if flat.len() < n * 3 {
        return Err(format!("{} positions for {n} elements", flat.len() / 3));
    }
    Ok(flat.chunks_exact(3).take(n).map(|c| [c[0], c[1], c[2]]).collect())
}

fn i3dm(bytes: &[u8], transform: &Mat4, base: Option<&Path>) -> Result<Content, String> {
    let t = tables(bytes, "i3dm", 32)?;
    let format = u32_at(bytes, 28);
    let n = ft_count(&t, "INSTANCES_LENGTH")?;
    let rtc = vec3(&t, "RTC_CENTER")?.unwrap_or([0.0; 3]);
    let at = positions(&t, n)?;
    let up = ft_values(&t, "NORMAL_UP", n, 3, "f32")?;
    let right = ft_values(&t, "NORMAL_RIGHT", n, 3, "f32")?;
    let up_oct = ft_values(&t, "NORMAL_UP_OCT32P", n, 2, "u16")?;
    let right_oct = ft_values(&t, "NORMAL_RIGHT_OCT32P", n, 2, "u16")?;
    let enu =
        t.ft.get("EAST_NORTH_UP")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let scale = ft_values(&t, "SCALE", n, 1, "f32")?;
    let scale3 = ft_values(&t, "SCALE_NON_UNIFORM", n, 3, "f32")?;
    let model = match format {
        1 => {
            let (json, bin) = gltf::split_glb(t.body).map_err(|e| format!("its glTF: {e}"))?;
            gltf::read_gltf(&json, bin, base).map_err(|e| format!("its glTF: {e}"))?
        }
        0 => {
            let uri = String::from_utf8_lossy(trim_json(t.body)).into_owned();
            let base = base
                .ok_or_else(|| format!("its glTF is a file ('{uri}'), which packed content cannot reach"))?;
            let path = base.join(gltf::percent_decode(&uri));
            let b =
                std::fs::read(&path).map_err(|e| format!("cannot read its glTF {}: {e}", path.display()))?;
            let (json, bin) = if b.starts_with(b"glTF") {
                gltf::split_glb(&b)?
            } else {
                (serde_json::from_slice(&b).map_err(|e| e.to_string())?, None)
            };
            gltf::read_gltf(&json, bin, path.parent())?
        }
        f => return Err(format!("its gltfFormat is {f} (0 or 1)")),
    };
    let table = InstanceTable {
        n,
        rtc,
        at,
        up,
        right,
        up_oct,
        right_oct,
        enu,
        scale,
        scale3,
    };
    Ok(instanced(model, &table, transform, t.bt))
}

struct InstanceTable {
    n: usize,
    rtc: [f64; 3],
    at: Vec<[f64; 3]>,
    up: Option<Vec<f64>>,
    right: Option<Vec<f64>>,
    up_oct: Option<Vec<f64>>,
    right_oct: Option<Vec<f64>>,
    enu: bool,
    scale: Option<Vec<f64>>,
    scale3: Option<Vec<f64>>,
}

/// The model once for each instance: z up, rotated (right, up, right × up; or east, north, up),
/// scaled and moved to its position, then into the frame.
fn instanced(model: Model, it: &InstanceTable, transform: &Mat4, bt: Option<Value>) -> Content {
    let mut out = Content {
        attributes: bt.into_iter().collect(),
        ..Content::default()
    };
    out.model.materials = model.materials.clone();
    out.model.images = model.images.clone();
    for i in 0..it.n {
        let p = it.at[i];
        let local = [p[0] + it.rtc[0], p[1] + it.rtc[1], p[2] + it.rtc[2]];
        let pick = |v: &Option<Vec<f64>>| {
            v.as_ref()
                .filter(|v| v.len() >= (i + 1) * 3)
                .map(|v| [v[i * 3], v[i * 3 + 1], v[i * 3 + 2]])
        };
        let pick_oct = |v: &Option<Vec<f64>>| {
            v.as_ref()
                .filter(|v| v.len() >= (i + 1) * 2)
                .map(|v| oct_decode(v[i * 2], v[i * 2 + 1]))
        };
        let axes = match (
            pick(&it.up).or_else(|| pick_oct(&it.up_oct)),
            pick(&it.right).or_else(|| pick_oct(&it.right_oct)),
        ) {
            (Some(up), Some(right)) => Some((right, up, cross(right, up))),
            _ if it.enu => {
                let e = apply(transform, local);
                let r = (e[0] * e[0] + e[1] * e[1]).sqrt();
                let (lon, lat) = (e[1].atan2(e[0]), e[2].atan2(r));
                let east = [-lon.sin(), lon.cos(), 0.0];
                let north = [-lat.sin() * lon.cos(), -lat.sin() * lon.sin(), lat.cos()];
                let up = [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()];
                // In the tile's own axes: the frame's axes taken back through the transform's
                // rotation (its transpose, for a rotation and uniform scale).
                let back = |v: [f64; 3]| {
                    let c = |k: usize| [transform[k * 4], transform[k * 4 + 1], transform[k * 4 + 2]];
                    let d = |a: [f64; 3]| a[0] * v[0] + a[1] * v[1] + a[2] * v[2];
                    let (x, y, z) = (c(0), c(1), c(2));
                    let nx = d(x) / (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).max(1e-30);
                    let ny = d(y) / (y[0] * y[0] + y[1] * y[1] + y[2] * y[2]).max(1e-30);
                    let nz = d(z) / (z[0] * z[0] + z[1] * z[1] + z[2] * z[2]).max(1e-30);
                    [nx, ny, nz]
                };
                Some((back(east), back(north), back(up)))
            }
            _ => None,
        };
        let s = match (
            it.scale3.as_ref().filter(|v| v.len() >= (i + 1) * 3),
            it.scale.as_ref().and_then(|v| v.get(i)),
        ) {
            (Some(v), _) => [v[i * 3], v[i * 3 + 1], v[i * 3 + 2]],
            (None, Some(k)) => [*k; 3],
            _ => [1.0; 3],
        };
        let (x, y, z) = axes.unwrap_or(([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]));
        let inst: Mat4 = [
            x[0] * s[0],
            x[1] * s[0],
            x[2] * s[0],
            0.0,
            y[0] * s[1],
            y[1] * s[1],
            y[2] * s[1],
            0.0,
            z[0] * s[2],
            z[1] * s[2],
            z[2] * s[2],
            0.0,
            local[0],
            local[1],
            local[2],
            1.0,
        ];
        let m = mul(transform, &mul(&inst, &Y_UP_TO_Z_UP));
        for part in &model.parts {
            let mut part = part.clone();
            for v in &mut part.positions {
                *v = apply(&m, *v);
            }
            out.model.parts.push(part);
        }
    }
    out
}

fn pnts(bytes: &[u8], transform: &Mat4) -> Result<Content, String> {
    let t = tables(bytes, "pnts", 28)?;
    if t.ft
        .pointer("/extensions/3DTILES_draco_point_compression")
        .is_some()
    {
        return Err("its points are Draco-compressed (3DTILES_draco_point_compression), which cim does not decode yet".into());
    }
    let n = ft_count(&t, "POINTS_LENGTH")?;
    let rtc = vec3(&t, "RTC_CENTER")?.unwrap_or([0.0; 3]);
    let m = mul(transform, &gltf::translation(rtc));
    let points: Vec<[f64; 3]> = positions(&t, n)?.into_iter().map(|p| apply(&m, p)).collect();
    let colors = if let Some(c) = ft_values(&t, "RGBA", n, 4, "u8")? {
        Some(
            c.chunks_exact(4)
                .map(|c| [c[0] as u8, c[1] as u8, c[2] as u8])
                .collect(),
        )
    } else if let Some(c) = ft_values(&t, "RGB", n, 3, "u8")? {
        Some(
            c.chunks_exact(3)
                .map(|c| [c[0] as u8, c[1] as u8, c[2] as u8])
                .collect(),
        )
    } else if let Some(c) = ft_values(&t, "RGB565", n, 1, "u16")? {
        Some(
            c.iter()
                .map(|v| {
                    let v = *v as u32;
                    [
                        ((v >> 11 & 31) * 255 / 31) as u8,
                        ((v >> 5 & 63) * 255 / 63) as u8,
                        ((v & 31) * 255 / 31) as u8,
                    ]
                })
                .collect(),
        )
    } else {
        ft_values(&t, "CONSTANT_RGBA", 1, 4, "u8")?
            .filter(|c| c.len() >= 3)
            .map(|c| vec![[c[0] as u8, c[1] as u8, c[2] as u8]; n])
    };
    Ok(Content {
        points,
        colors,
        attributes: t.bt.into_iter().collect(),
        ..Content::default()
    })
}
