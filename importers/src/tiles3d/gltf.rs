//! A glTF 2.0 reader for tile content and models: GLB or JSON glTF, buffers from the GLB's
//! binary chunk, data URIs or files beside it; accessors of every component type (normalised
//! or not, strided, sparse) so KHR_mesh_quantization's integer positions read like floats; the
//! node tree with matrices or TRS, EXT_mesh_gpu_instancing and CESIUM_RTC; triangles, strips
//! and fans; TEXCOORD_0, `_BATCHID` and `_FEATURE_ID_0`; materials' base colour and texture,
//! images as delivered; compressed geometry decoded (KHR_draco_mesh_compression by
//! draco-core, EXT_meshopt_compression by meshoptimizer-rs, both pure Rust).
//!
//! Positions come out as glTF has them after the node transforms: y up. 3D Tiles content turns
//! them z up (see `super::Y_UP_TO_Z_UP`).

use std::path::Path;

use serde_json::Value;

/// Column-major 4×4 matrices.
pub type Mat4 = [f64; 16];

pub const IDENTITY: Mat4 = [
    1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

/// `a · b` (apply `b` first).
pub fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut m = [0.0; 16];
    for c in 0..4 {
        for r in 0..4 {
            m[c * 4 + r] = (0..4).map(|k| a[k * 4 + r] * b[c * 4 + k]).sum();
        }
    }
    m
}

/// `m · p` for a point.
pub fn apply(m: &Mat4, p: [f64; 3]) -> [f64; 3] {
    [
        m[0] * p[0] + m[4] * p[1] + m[8] * p[2] + m[12],
        m[1] * p[0] + m[5] * p[1] + m[9] * p[2] + m[13],
        m[2] * p[0] + m[6] * p[1] + m[10] * p[2] + m[14],
    ]
}

/// A translation.
pub fn translation(t: [f64; 3]) -> Mat4 {
    let mut m = IDENTITY;
    m[12] = t[0];
    m[13] = t[1];
    m[14] = t[2];
    m
}

/// Translation · rotation (unit quaternion x, y, z, w) · scale.
pub fn trs(t: [f64; 3], q: [f64; 4], s: [f64; 3]) -> Mat4 {
    let [x, y, z, w] = q;
    let r = [
        1.0 - 2.0 * (y * y + z * z),
        2.0 * (x * y + z * w),
        2.0 * (x * z - y * w),
        2.0 * (x * y - z * w),
        1.0 - 2.0 * (x * x + z * z),
        2.0 * (y * z + x * w),
        2.0 * (x * z + y * w),
        2.0 * (y * z - x * w),
        1.0 - 2.0 * (x * x + y * y),
    ];
    [
        r[0] * s[0],
        r[1] * s[0],
        r[2] * s[0],
        0.0,
        r[3] * s[1],
        r[4] * s[1],
        r[5] * s[1],
        0.0,
        r[6] * s[2],
        r[7] * s[2],
        r[8] * s[2],
        0.0,
        t[0],
        t[1],
        t[2],
        1.0,
    ]
}

/// An image as delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// `image/jpeg`, `image/png`, `image/ktx2`, `image/webp`.
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// A material's look.
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    /// Base colour factor, linear RGBA.
    pub color: [f32; 4],
    /// The image of its base colour texture.
    pub image: Option<usize>,
}

/// One primitive's triangles, placed by its node (and instance), y up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    pub positions: Vec<[f64; 3]>,
    pub triangles: Vec<[u32; 3]>,
    pub uvs: Option<Vec<[f32; 2]>>,
    /// Each vertex's feature (batch) id, from `_FEATURE_ID_0` or `_BATCHID`.
    pub feature_ids: Option<Vec<u32>>,
    pub material: Option<usize>,
}

/// A glTF scene read into triangles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub parts: Vec<Part>,
    pub materials: Vec<Material>,
    pub images: Vec<Image>,
    /// CESIUM_RTC's centre, where the model has one (added after the y-up to z-up turn).
    pub rtc_center: Option<[f64; 3]>,
    /// The model's EXT_structural_metadata property tables, as JSON (kept as attributes).
    pub metadata: Option<Value>,
}

impl Model {
    pub fn triangles(&self) -> u64 {
        self.parts.iter().map(|p| p.triangles.len() as u64).sum()
    }
}

/// A GLB's JSON and binary chunks. A header or chunk running past the bytes is an error saying
/// so.
pub fn split_glb(bytes: &[u8]) -> Result<(Value, Option<&[u8]>), String> {
    if !bytes.starts_with(b"glTF") {
        return Err("not a GLB (no 'glTF' magic)".into());
    }
    if bytes.len() < 20 {
        return Err(format!(
            "truncated: {} bytes, shorter than a GLB header",
            bytes.len()
        ));
    }
    let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize;
    let version = u32_at(4);
    if version != 2 {
        return Err(format!("GLB version {version}: only glTF 2.0 is read"));
    }
    let length = u32_at(8);
    if length > bytes.len() {
        return Err(format!(
            "truncated: the GLB header says {length} bytes, there are {}",
            bytes.len()
        ));
    }
    let (mut json, mut bin) = (None, None);
    let mut at = 12;
    while at + 8 <= length {
        let (len, kind) = (u32_at(at), u32_at(at + 4));
        let end = at + 8 + len;
        if end > length {
            return Err(format!(
                "truncated: a GLB chunk at byte {at} says {len} bytes, {} are left",
                length - at - 8
            ));
        }
        match kind {
            0x4E4F_534A if json.is_none() => json = Some(&bytes[at + 8..end]),
            0x004E_4942 if bin.is_none() => bin = Some(&bytes[at + 8..end]),
            _ => {}
        }
        at = end;
    }
    let json = json.ok_or("the GLB has no JSON chunk")?;
    let v: Value = serde_json::from_slice(json).map_err(|e| format!("its glTF JSON does not read: {e}"))?;
    Ok((v, bin))
}

/// Decodes standard base64 (padding optional); `None` for a character outside it.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The bytes a glTF URI names: a data URI, or a file relative to `base` (a folder).
pub fn uri_bytes(uri: &str, base: Option<&Path>) -> Result<Vec<u8>, String> {
    if let Some(rest) = uri.strip_prefix("data:") {
        let (_, data) = rest
            .split_once(";base64,")
            .ok_or_else(|| format!("data URI '{}…' is not base64", &uri[..uri.len().min(40)]))?;
        return base64(data).ok_or_else(|| "a data URI's base64 does not decode".into());
    }
    if uri.contains("://") {
        return Err(format!("'{uri}' is on the network: cim reads local files only"));
    }
    let base =
        base.ok_or_else(|| format!("'{uri}' is a file beside the content, which packed content has not"))?;
    let decoded = percent_decode(uri);
    let path = base.join(decoded.split(['?', '#']).next().unwrap_or_default());
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// `%20` and the like in a URI.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && s.is_char_boundary(i + 3) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Doc<'a> {
    json: &'a Value,
    buffers: Vec<Vec<u8>>,
    /// Buffer views decoded from EXT_meshopt_compression, by view.
    decoded: Vec<Option<Vec<u8>>>,
}

fn arr<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn idx(v: &Value, key: &str) -> Option<usize> {
    v.get(key).and_then(Value::as_u64).map(|i| i as usize)
}

fn nums<const N: usize>(v: Option<&Value>, default: [f64; N]) -> [f64; N] {
    let Some(a) = v.and_then(Value::as_array) else {
        return default;
    };
    let mut out = default;
    for (k, x) in a.iter().take(N).enumerate() {
        out[k] = x.as_f64().unwrap_or(default[k]);
    }
    out
}

/// Most elements an accessor may hold (a lying count cannot make huge arrays).
const MAX_ELEMENTS: usize = 1 << 28;

impl Doc<'_> {
    /// The bytes of buffer view `i`.
    fn view(&self, i: usize) -> Result<(&[u8], Option<usize>), String> {
        let v = arr(self.json, "bufferViews")
            .get(i)
            .ok_or_else(|| format!("bufferView {i} does not exist"))?;
        if let Some(Some(bytes)) = self.decoded.get(i) {
            return Ok((bytes.as_slice(), idx(v, "byteStride")));
        }
        let b = idx(v, "buffer").ok_or_else(|| format!("bufferView {i} names no buffer"))?;
        let buf = self
            .buffers
            .get(b)
            .ok_or_else(|| format!("bufferView {i}: buffer {b} does not exist"))?;
        let off = idx(v, "byteOffset").unwrap_or(0);
        let len = idx(v, "byteLength").ok_or_else(|| format!("bufferView {i} has no byteLength"))?;
        let end = off.checked_add(len).filter(|e| *e <= buf.len()).ok_or_else(|| {
            format!(
                "bufferView {i} runs past its buffer ({off} + {len} > {} bytes)",
                buf.len()
            )
        })?;
        Ok((&buf[off..end], idx(v, "byteStride")))
    }

    /// Accessor `i` as f64 components, `width` a element.
    fn accessor(&self, i: usize) -> Result<(Vec<f64>, usize), String> {
        let a = arr(self.json, "accessors")
            .get(i)
            .ok_or_else(|| format!("accessor {i} does not exist"))?;
        let ct = idx(a, "componentType").unwrap_or(5126);
        let count = idx(a, "count").ok_or_else(|| format!("accessor {i} has no count"))?;
        if count > MAX_ELEMENTS {
            return Err(format!("accessor {i} claims {count} elements"));
        }
        let width = match a.get("type").and_then(Value::as_str).unwrap_or("SCALAR") {
            "SCALAR" => 1,
            "VEC2" => 2,
            "VEC3" => 3,
            "VEC4" | "MAT2" => 4,
            "MAT3" => 9,
            "MAT4" => 16,
            t => return Err(format!("accessor {i} has type '{t}'")),
        };
        let size = match ct {
            5120 | 5121 => 1,
            5122 | 5123 => 2,
            5125 | 5126 => 4,
            c => return Err(format!("accessor {i} has component type {c}")),
        };
        let normalized = a.get("normalized").and_then(Value::as_bool).unwrap_or(false);
        let mut out = vec![0.0; count * width];
        if let Some(view) = idx(a, "bufferView") {
            let (bytes, stride) = self.view(view)?;
            let off = idx(a, "byteOffset").unwrap_or(0);
            read_elements(bytes, off, stride, ct, size, normalized, width, count, &mut out)
                .map_err(|e| format!("accessor {i}: {e}"))?;
        }
        if let Some(sp) = a.get("sparse") {
            let n = idx(sp, "count").unwrap_or(0).min(count);
            let ix = sp
                .get("indices")
                .ok_or_else(|| format!("accessor {i}: sparse without indices"))?;
            let vals = sp
                .get("values")
                .ok_or_else(|| format!("accessor {i}: sparse without values"))?;
            let (ib, _) = self.view(idx(ix, "bufferView").unwrap_or(usize::MAX))?;
            let ict = idx(ix, "componentType").unwrap_or(5125);
            let isize = match ict {
                5121 => 1,
                5123 => 2,
                _ => 4,
            };
            let mut at = vec![0.0; n];
            read_elements(
                ib,
                idx(ix, "byteOffset").unwrap_or(0),
                None,
                ict,
                isize,
                false,
                1,
                n,
                &mut at,
            )
            .map_err(|e| format!("accessor {i} sparse indices: {e}"))?;
            let (vb, _) = self.view(idx(vals, "bufferView").unwrap_or(usize::MAX))?;
            let mut v = vec![0.0; n * width];
            read_elements(
                vb,
                idx(vals, "byteOffset").unwrap_or(0),
                None,
                ct,
                size,
                normalized,
                width,
                n,
                &mut v,
            )
            .map_err(|e| format!("accessor {i} sparse values: {e}"))?;
            for (k, t) in at.iter().enumerate() {
                let t = *t as usize;
                if t < count {
                    out[t * width..(t + 1) * width].copy_from_slice(&v[k * width..(k + 1) * width]);
                }
            }
        }
        Ok((out, width))
    }
}

#[allow(clippy::too_many_arguments)]
fn read_elements(
    bytes: &[u8],
    offset: usize,
    stride: Option<usize>,
    ct: usize,
    size: usize,
    normalized: bool,
    width: usize,
    count: usize,
    out: &mut [f64],
) -> Result<(), String> {
    let elem = size * width;
    let stride = stride.filter(|s| *s > 0).unwrap_or(elem);
    if count > 0 {
        let need = offset + stride * (count - 1) + elem;
        if need > bytes.len() {
            return Err(format!(
                "{count} elements need {need} bytes of its bufferView, which has {}",
                bytes.len()
            ));
        }
    }
    for e in 0..count {
        let base = offset + e * stride;
        for c in 0..width {
            let o = base + c * size;
            let b = &bytes[o..o + size];
            let v = match ct {
                5120 => {
                    let v = f64::from(b[0] as i8);
                    if normalized {
                        (v / 127.0).max(-1.0)
                    } else {
                        v
                    }
                }
                5121 => {
                    let v = f64::from(b[0]);
                    if normalized {
                        v / 255.0
                    } else {
                        v
                    }
                }
                5122 => {
                    let v = f64::from(i16::from_le_bytes([b[0], b[1]]));
                    if normalized {
                        (v / 32767.0).max(-1.0)
                    } else {
                        v
                    }
                }
                5123 => {
                    let v = f64::from(u16::from_le_bytes([b[0], b[1]]));
                    if normalized {
                        v / 65535.0
                    } else {
                        v
                    }
                }
                5125 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                _ => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            };
            out[e * width + c] = v;
        }
    }
    Ok(())
}

/// Reads a glTF (`json` with the GLB's binary chunk `bin`, or a JSON glTF with `bin` None) into
/// triangles. `base` is the folder files it names lie in (`None` for packed content).
pub fn read_gltf(json: &Value, bin: Option<&[u8]>, base: Option<&Path>) -> Result<Model, String> {
    for ext in arr(json, "extensionsRequired") {
        let e = ext.as_str().unwrap_or_default();
        match e {
            "KHR_mesh_quantization"
            | "EXT_mesh_gpu_instancing"
            | "KHR_materials_unlit"
            | "KHR_texture_transform"
            | "CESIUM_RTC"
            | "EXT_mesh_features"
            | "EXT_structural_metadata"
            | "KHR_techniques_webgl"
            | "EXT_instance_features" => {}
            "EXT_meshopt_compression" => {}
            "KHR_draco_mesh_compression" if cfg!(feature = "draco") => {}
            "KHR_draco_mesh_compression" => return Err(
                "it requires KHR_draco_mesh_compression, and this cim was built without its `draco` feature"
                    .into(),
            ),
            "KHR_texture_basisu" | "EXT_texture_webp" => {}
            other => {
                return Err(format!(
                    "it requires the glTF extension {other}, which cim does not know"
                ))
            }
        }
    }
    let mut buffers = Vec::new();
    for (k, b) in arr(json, "buffers").iter().enumerate() {
        let bytes = match b.get("uri").and_then(Value::as_str) {
            Some(uri) => uri_bytes(uri, base).map_err(|e| format!("buffer {k}: {e}"))?,
            None if k == 0 && bin.is_some() => bin.unwrap_or_default().to_vec(),
            // EXT_meshopt_compression's fallback buffer: its views are decoded instead.
            None if b
                .pointer("/extensions/EXT_meshopt_compression/fallback")
                .and_then(Value::as_bool)
                == Some(true) =>
            {
                Vec::new()
            }
            None if k == 0 => return Err("buffer 0 has no URI and there is no GLB binary chunk".into()),
            None => return Err(format!("buffer {k} has no URI")),
        };
        if bytes.is_empty() && b.get("uri").is_none() && k > 0 {
            buffers.push(bytes);
            continue;
        }
        let want = idx(b, "byteLength").unwrap_or(0);
        if bytes.len() < want {
            return Err(format!(
                "buffer {k} is short: {} bytes where {want} are declared",
                bytes.len()
            ));
        }
        buffers.push(bytes);
    }
    let decoded = decode_meshopt(json, &buffers)?;
    let doc = Doc {
        json,
        buffers,
        decoded,
    };
    let mut model = Model {
        rtc_center: json
            .pointer("/extensions/CESIUM_RTC/center")
            .map(|c| nums(Some(c), [0.0; 3])),
        metadata: None,
        ..Model::default()
    };
    // Property tables decoded from their buffer views (`decoded`), beside the extension as it
    // is; what could not be read is said in `problems`.
    if let Some(ext) = json
        .pointer("/extensions/EXT_structural_metadata")
        .filter(|e| e.is_object())
    {
        let mut problems = Vec::new();
        let view = |v: usize| doc.view(v).ok().map(|(b, _)| b.to_vec());
        let decoded: Vec<Value> = arr(ext, "propertyTables")
            .iter()
            .map(|t| super::metadata::property_table(ext, t, &view, &mut problems))
            .collect();
        let mut m = ext.clone();
        m["decoded"] = Value::Array(decoded);
        if !problems.is_empty() {
            m["problems"] = serde_json::json!(problems);
        }
        model.metadata = Some(m);
    }
    for (k, img) in arr(json, "images").iter().enumerate() {
        let mime = img.get("mimeType").and_then(Value::as_str).map(str::to_string);
        let bytes = if let Some(v) = idx(img, "bufferView") {
            doc.view(v).map(|(b, _)| b.to_vec())
        } else if let Some(uri) = img.get("uri").and_then(Value::as_str) {
            uri_bytes(uri, base)
        } else {
            Err("neither a bufferView nor a URI".into())
        }
        .map_err(|e| format!("image {k}: {e}"))?;
        let mime = mime.unwrap_or_else(|| sniff_image(&bytes).to_string());
        model.images.push(Image { mime, bytes });
    }
    for m in arr(json, "materials") {
        let pbr = m.get("pbrMetallicRoughness");
        let c = nums(pbr.and_then(|p| p.get("baseColorFactor")), [1.0; 4]);
        let image = pbr
            .and_then(|p| p.pointer("/baseColorTexture/index"))
            .and_then(Value::as_u64)
            .and_then(|t| arr(json, "textures").get(t as usize))
            .and_then(|t| {
                idx(t, "source").or_else(|| {
                    t.get("extensions")
                        .and_then(|e| e.as_object()?.values().find_map(|x| idx(x, "source")))
                })
            });
        model.materials.push(Material {
            color: c.map(|v| v as f32),
            image,
        });
    }
    // The scene's root nodes: the default scene's, else the first scene's, else every node no
    // other node names as a child.
    let nodes = arr(json, "nodes");
    let scene = idx(json, "scene").unwrap_or(0);
    let roots: Vec<usize> = match arr(json, "scenes").get(scene) {
        Some(s) => arr(s, "nodes")
            .iter()
            .filter_map(|n| n.as_u64().map(|n| n as usize))
            .collect(),
        None => {
            let mut child = vec![false; nodes.len()];
            for n in nodes {
                for c in arr(n, "children") {
                    if let Some(c) = c.as_u64().and_then(|c| child.get_mut(c as usize)) {
                        *c = true;
                    }
                }
            }
            (0..nodes.len()).filter(|i| !child[*i]).collect()
        }
    };
    let mut stack: Vec<(usize, Mat4, usize)> = roots.into_iter().map(|r| (r, IDENTITY, 0)).collect();
    let mut visited = 0usize;
    while let Some((n, parent, depth)) = stack.pop() {
        visited += 1;
        if depth > 64 || visited > 1_000_000 {
            return Err("its node tree loops or is too deep".into());
        }
        let node = nodes.get(n).ok_or_else(|| format!("node {n} does not exist"))?;
        let local = match node.get("matrix") {
            Some(m) => nums(Some(m), IDENTITY),
            None => trs(
                nums(node.get("translation"), [0.0; 3]),
                nums(node.get("rotation"), [0.0, 0.0, 0.0, 1.0]),
                nums(node.get("scale"), [1.0; 3]),
            ),
        };
        let world = mul(&parent, &local);
        if let Some(mesh) = idx(node, "mesh") {
            let instances = instances(&doc, node)?;
            let m = arr(json, "meshes")
                .get(mesh)
                .ok_or_else(|| format!("node {n}: mesh {mesh} does not exist"))?;
            for (pk, p) in arr(m, "primitives").iter().enumerate() {
                let part = primitive(&doc, p).map_err(|e| format!("mesh {mesh} primitive {pk}: {e}"))?;
                let Some(part) = part else { continue };
                match &instances {
                    None => model.parts.push(placed(&part, &world)),
                    Some(list) => {
                        for inst in list {
                            model.parts.push(placed(&part, &mul(&world, inst)));
                        }
                    }
                }
            }
        }
        for c in arr(node, "children") {
            if let Some(c) = c.as_u64() {
                stack.push((c as usize, world, depth + 1));
            }
        }
    }
    Ok(model)
}

fn placed(part: &Part, m: &Mat4) -> Part {
    let mut p = part.clone();
    if *m != IDENTITY {
        for v in &mut p.positions {
            *v = apply(m, *v);
        }
    }
    p
}

/// EXT_mesh_gpu_instancing's instance matrices of a node, if it has them.
fn instances(doc: &Doc, node: &Value) -> Result<Option<Vec<Mat4>>, String> {
    let Some(ext) = node.pointer("/extensions/EXT_mesh_gpu_instancing/attributes") else {
        return Ok(None);
    };
    let get = |k: &str| -> Result<Option<(Vec<f64>, usize)>, String> {
        idx(ext, k).map(|a| doc.accessor(a)).transpose()
    };
    let (t, r, s) = (get("TRANSLATION")?, get("ROTATION")?, get("SCALE")?);
    let n = [&t, &r, &s]
        .iter()
        .filter_map(|a| a.as_ref().map(|(v, w)| v.len() / w))
        .max()
        .unwrap_or(0);
    let at = |a: &Option<(Vec<f64>, usize)>, i: usize, d: &[f64]| -> Vec<f64> {
        match a {
            Some((v, w)) if v.len() >= (i + 1) * w => v[i * w..(i + 1) * w].to_vec(),
            _ => d.to_vec(),
        }
    };
    Ok(Some(
        (0..n)
            .map(|i| {
                let tt = at(&t, i, &[0.0; 3]);
                let rr = at(&r, i, &[0.0, 0.0, 0.0, 1.0]);
                let ss = at(&s, i, &[1.0; 3]);
                trs(
                    [tt[0], tt[1], tt[2]],
                    [rr[0], rr[1], rr[2], rr[3]],
                    [ss[0], ss[1], ss[2]],
                )
            })
            .collect(),
    ))
}

/// One primitive's triangles in its mesh's coordinates; `None` for points and lines.
fn primitive(doc: &Doc, p: &Value) -> Result<Option<Part>, String> {
    if let Some(d) = p.pointer("/extensions/KHR_draco_mesh_compression") {
        return draco_primitive(doc, p, d).map(Some);
    }
    let mode = idx(p, "mode").unwrap_or(4);
    if !(4..=6).contains(&mode) {
        return Ok(None);
    }
    let attrs = p.get("attributes").ok_or("it has no attributes")?;
    let pos = idx(attrs, "POSITION").ok_or("it has no POSITION")?;
    let (xyz, w) = doc.accessor(pos)?;
    if w != 3 {
        return Err(format!("its POSITION accessor {pos} is not VEC3"));
    }
    let positions: Vec<[f64; 3]> = xyz.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let n = positions.len();
    let order: Vec<u32> = match idx(p, "indices") {
        Some(a) => doc.accessor(a)?.0.into_iter().map(|v| v as u32).collect(),
        None => (0..n as u32).collect(),
    };
    if let Some(bad) = order.iter().find(|i| **i as usize >= n) {
        return Err(format!("index {bad} is past its {n} vertices"));
    }
    let triangles: Vec<[u32; 3]> = match mode {
        4 => order.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
        5 => (2..order.len())
            .map(|k| {
                if k % 2 == 0 {
                    [order[k - 2], order[k - 1], order[k]]
                } else {
                    [order[k - 1], order[k - 2], order[k]]
                }
            })
            .collect(),
        _ => (2..order.len())
            .map(|k| [order[0], order[k - 1], order[k]])
            .collect(),
    };
    let uvs = match idx(attrs, "TEXCOORD_0") {
        Some(a) => {
            let (v, w) = doc.accessor(a)?;
            (w == 2 && v.len() == n * 2)
                .then(|| v.chunks_exact(2).map(|c| [c[0] as f32, c[1] as f32]).collect())
        }
        None => None,
    };
    let feature = idx(attrs, "_FEATURE_ID_0").or_else(|| idx(attrs, "_BATCHID"));
    let feature_ids = match feature {
        Some(a) => {
            let (v, _) = doc.accessor(a)?;
            (v.len() == n).then(|| v.into_iter().map(|f| f as u32).collect())
        }
        None => None,
    };
    Ok(Some(Part {
        positions,
        triangles,
        uvs,
        feature_ids,
        material: idx(p, "material"),
    }))
}

/// Every EXT_meshopt_compression buffer view decoded (the meshoptimizer codecs and filters).
fn decode_meshopt(json: &Value, buffers: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, String> {
    use meshoptimizer_rs::codec::{BufferView, Filter, Mode};
    let mut out = Vec::new();
    let mut workspace = meshoptimizer_rs::Workspace::default();
    for (i, v) in arr(json, "bufferViews").iter().enumerate() {
        let Some(e) = v.pointer("/extensions/EXT_meshopt_compression") else {
            out.push(None);
            continue;
        };
        let bad = |why: String| format!("bufferView {i} (EXT_meshopt_compression): {why}");
        let b = idx(e, "buffer").ok_or_else(|| bad("names no buffer".into()))?;
        let buf = buffers
            .get(b)
            .ok_or_else(|| bad(format!("buffer {b} does not exist")))?;
        let off = idx(e, "byteOffset").unwrap_or(0);
        let len = idx(e, "byteLength").ok_or_else(|| bad("no byteLength".into()))?;
        let src = off
            .checked_add(len)
            .and_then(|end| buf.get(off..end))
            .ok_or_else(|| {
                bad(format!(
                    "{off} + {len} runs past its buffer of {} bytes",
                    buf.len()
                ))
            })?;
        let count = idx(e, "count").ok_or_else(|| bad("no count".into()))?;
        let stride = idx(e, "byteStride").ok_or_else(|| bad("no byteStride".into()))?;
        if count.saturating_mul(stride) > 1 << 30 {
            return Err(bad(format!("{count} × {stride} bytes")));
        }
        let mode = Mode::parse(e.get("mode").and_then(Value::as_str).unwrap_or(""))
            .map_err(|_| bad(format!("mode {:?}", e.get("mode"))))?;
        let filter = Filter::parse(e.get("filter").and_then(Value::as_str).unwrap_or("NONE"))
            .map_err(|_| bad(format!("filter {:?}", e.get("filter"))))?;
        let bytes = BufferView::new(mode, filter, count, stride)
            .and_then(|view| view.decode(src, &mut workspace))
            .map_err(|e| bad(format!("does not decode ({e:?})")))?;
        out.push(Some(bytes));
    }
    Ok(out)
}

/// A Draco-compressed primitive (KHR_draco_mesh_compression) decoded by draco-core.
#[cfg(feature = "draco")]
fn draco_primitive(doc: &Doc, p: &Value, d: &Value) -> Result<Part, String> {
    use draco_core::{DecoderBuffer, Mesh, MeshDecoder};
    let view = idx(d, "bufferView").ok_or("its Draco extension names no bufferView")?;
    let (bytes, _) = doc.view(view)?;
    let mut mesh = Mesh::new();
    MeshDecoder::new()
        .decode(&mut DecoderBuffer::new(bytes), &mut mesh)
        .map_err(|e| format!("its Draco buffer does not decode: {e}"))?;
    let attrs = d
        .get("attributes")
        .ok_or("its Draco extension has no attributes")?;
    let n = mesh.num_points();
    let read = |name: &str, width: usize| -> Option<Vec<f32>> {
        let id = attrs.get(name)?.as_u64()?;
        let a = mesh.attribute_by_unique_id(u32::try_from(id).ok()?)?;
        Some(a.read_f32s(n, width))
    };
    let xyz = read("POSITION", 3).ok_or("its Draco buffer has no POSITION")?;
    let positions: Vec<[f64; 3]> = xyz
        .chunks_exact(3)
        .map(|c| [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])])
        .collect();
    let triangles: Vec<[u32; 3]> = mesh.faces().iter().map(|f| [f[0].0, f[1].0, f[2].0]).collect();
    if let Some(bad) = triangles.iter().flatten().find(|i| **i as usize >= n) {
        return Err(format!("its Draco faces name point {bad} of {n}"));
    }
    let uvs = read("TEXCOORD_0", 2).map(|v| v.chunks_exact(2).map(|c| [c[0], c[1]]).collect());
    let feature_ids = read("_FEATURE_ID_0", 1)
        .or_else(|| read("_BATCHID", 1))
        .map(|v| v.into_iter().map(|f| f as u32).collect());
    Ok(Part {
        positions,
        triangles,
        uvs,
        feature_ids,
        material: idx(p, "material"),
    })
}

#[cfg(not(feature = "draco"))]
fn draco_primitive(_: &Doc, _: &Value, _: &Value) -> Result<Part, String> {
    Err("it is Draco-compressed, and this cim was built without its `draco` feature".into())
}

/// The image type of `bytes` from their magic number.
pub fn sniff_image(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(b"\xABKTX 20") {
        "image/ktx2"
    } else if bytes.len() > 12 && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}

/// Triangles in a glTF without reading its buffers: the index (else position) counts of its
/// triangle primitives, each mesh counted once per node (and instance) using it.
pub fn count_triangles(json: &Value) -> u64 {
    let accessors = arr(json, "accessors");
    let count_of = |a: Option<usize>| {
        a.and_then(|a| accessors.get(a))
            .and_then(|a| idx(a, "count"))
            .unwrap_or(0) as u64
    };
    let meshes: Vec<u64> = arr(json, "meshes")
        .iter()
        .map(|m| {
            arr(m, "primitives")
                .iter()
                .map(|p| {
                    let n = match idx(p, "indices") {
                        Some(i) => count_of(Some(i)),
                        None => count_of(p.get("attributes").and_then(|a| idx(a, "POSITION"))),
                    };
                    match idx(p, "mode").unwrap_or(4) {
                        4 => n / 3,
                        5 | 6 => n.saturating_sub(2),
                        _ => 0,
                    }
                })
                .sum()
        })
        .collect();
    arr(json, "nodes")
        .iter()
        .filter_map(|n| {
            let m = idx(n, "mesh")?;
            let copies = n
                .pointer("/extensions/EXT_mesh_gpu_instancing/attributes")
                .and_then(|a| a.as_object()?.values().find_map(|v| v.as_u64()))
                .map(|a| count_of(Some(a as usize)))
                .unwrap_or(1);
            Some(meshes.get(m).copied().unwrap_or(0) * copies)
        })
        .sum()
}

/// A GLB of `parts` (positions y up, as glTF has them) under one node at `translation` (the
/// positions are written relative to it, so they keep their precision in f32), with their
/// materials and images (embedded as delivered).
pub fn write_glb(parts: &[Part], materials: &[Material], images: &[Image], translation: [f64; 3]) -> Vec<u8> {
    use crate::export::gltf::view;
    use serde_json::json;
    let mut bin: Vec<u8> = Vec::new();
    let mut views = Vec::new();
    let mut accessors = Vec::new();
    let mut primitives = Vec::new();
    for p in parts {
        if p.triangles.is_empty() {
            continue;
        }
        let rel: Vec<[f32; 3]> = p
            .positions
            .iter()
            .map(|q| [0, 1, 2].map(|i| (q[i] - translation[i]) as f32))
            .collect();
        let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
        for q in &rel {
            for i in 0..3 {
                lo[i] = lo[i].min(q[i]);
                hi[i] = hi[i].max(q[i]);
            }
        }
        let bytes: Vec<u8> = rel
            .iter()
            .flat_map(|q| q.iter().flat_map(|v| v.to_le_bytes()))
            .collect();
        let v = view(&mut bin, &mut views, &bytes, Some(34962));
        accessors.push(json!({"bufferView": v, "componentType": 5126, "count": rel.len(), "type": "VEC3", "min": lo, "max": hi}));
        let mut attributes = json!({"POSITION": accessors.len() - 1});
        if let Some(uv) = p.uvs.as_ref().filter(|u| u.len() == rel.len()) {
            let bytes: Vec<u8> = uv
                .iter()
                .flat_map(|q| q.iter().flat_map(|v| v.to_le_bytes()))
                .collect();
            let v = view(&mut bin, &mut views, &bytes, Some(34962));
            accessors
                .push(json!({"bufferView": v, "componentType": 5126, "count": uv.len(), "type": "VEC2"}));
            attributes["TEXCOORD_0"] = json!(accessors.len() - 1);
        }
        let bytes: Vec<u8> = p
            .triangles
            .iter()
            .flat_map(|t| t.iter().flat_map(|i| i.to_le_bytes()))
            .collect();
        let v = view(&mut bin, &mut views, &bytes, Some(34963));
        accessors.push(
            json!({"bufferView": v, "componentType": 5125, "count": p.triangles.len() * 3, "type": "SCALAR"}),
        );
        let mut prim = json!({"attributes": attributes, "indices": accessors.len() - 1, "mode": 4});
        if let Some(m) = p.material.filter(|m| *m < materials.len()) {
            prim["material"] = json!(m);
        }
        primitives.push(prim);
    }
    let mut gl_images = Vec::new();
    for im in images {
        let v = view(&mut bin, &mut views, &im.bytes, None);
        gl_images.push(json!({"bufferView": v, "mimeType": im.mime}));
    }
    let gl_materials: Vec<serde_json::Value> = materials
        .iter()
        .map(|m| {
            let mut pbr = json!({"baseColorFactor": m.color, "metallicFactor": 0.0, "roughnessFactor": 1.0});
            if let Some(i) = m.image.filter(|i| *i < images.len()) {
                pbr["baseColorTexture"] = json!({"index": i});
            }
            json!({"pbrMetallicRoughness": pbr, "doubleSided": true})
        })
        .collect();
    let mut doc = json!({
        "asset": {"version": "2.0", "generator": "cim"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "translation": translation}],
        "meshes": [{"primitives": primitives}],
        "bufferViews": views, "accessors": accessors,
    });
    if !gl_materials.is_empty() {
        doc["materials"] = json!(gl_materials);
    }
    if !gl_images.is_empty() {
        doc["textures"] = json!((0..gl_images.len())
            .map(|i| json!({"source": i, "sampler": 0}))
            .collect::<Vec<_>>());
        doc["samplers"] = json!([{"magFilter": 9729, "minFilter": 9987}]);
        doc["images"] = json!(gl_images);
    }
    crate::export::gltf::glb_file(doc, bin)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_percent_decode() {
        assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("aGVsbG8").unwrap(), b"hello");
        assert!(base64("a*b").is_none());
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
    }

    #[test]
    fn trs_composes_like_matrices() {
        // 90° about z: x goes to y.
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let m = trs([1.0, 2.0, 3.0], [0.0, 0.0, h, h], [2.0, 2.0, 2.0]);
        let p = apply(&m, [1.0, 0.0, 0.0]);
        assert!(
            (p[0] - 1.0).abs() < 1e-12 && (p[1] - 4.0).abs() < 1e-12 && (p[2] - 3.0).abs() < 1e-12,
            "{p:?}"
        );
        assert_eq!(mul(&IDENTITY, &m), m);
    }
}
