//! glTF 2.0 binary (GLB) out: features' meshes merged into one mesh with one primitive per
//! surface group (roofs, walls, ground, water, traffic areas: one material each), each vertex
//! carrying its feature's index, and the features' properties beside them:
//!
//! - [`FeatureIds::MeshFeatures`]: `_FEATURE_ID_0` with `EXT_mesh_features` and an
//!   `EXT_structural_metadata` property table (3D Tiles 1.1, and a plain `.glb`);
//! - [`FeatureIds::BatchId`]: `_BATCHID` for a b3dm (3D Tiles 1.0), whose batch table holds the
//!   properties.
//!
//! Appearances go along: a surface with a colour of its own (X3DMaterial, CityJSON material)
//! gets a material of that colour, and a surface with a photo texture a material with the image
//! (PNG or JPEG, embedded as delivered) and its texture coordinates; other surfaces take their
//! group's colour.
//!
//! Positions are given in glTF's frame (metres, y up) relative to the node's translation, so
//! they stay exact in f32. Normals are left out: clients compute flat ones, which is what a
//! city model's planar faces want.

use serde_json::{json, Value};

use cim_engine::mesh::{Paint, SurfaceClass};

/// How features are identified in the mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureIds {
    MeshFeatures,
    BatchId,
}

/// One feature to write: triangles over its own positions (glTF frame, relative to the node's
/// translation), each with its surface class, and how its surfaces look.
#[derive(Default)]
pub struct GlbFeature {
    pub positions: Vec<[f32; 3]>,
    pub triangles: Vec<[u32; 3]>,
    pub classes: Vec<SurfaceClass>,
    /// Per triangle, an index into `paints` (the mesh's `materials`); `None`: all plain.
    pub materials: Option<Vec<u16>>,
    pub paints: Vec<Paint>,
    /// Texture coordinates per position (CityGML's convention: v up from the image's bottom).
    pub uvs: Option<Vec<[f32; 2]>>,
}

/// A texture image to embed: PNG or JPEG as delivered.
pub struct GlbImage {
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// How a primitive's triangles look: their group's colour, a colour (its RGBA bits), or a
/// texture image (its id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Look {
    Group,
    Color([u32; 4]),
    Texture(i64),
}

impl GlbFeature {
    /// How triangle `t` looks, given the images that can be embedded.
    fn look(&self, t: usize, images: &std::collections::HashMap<i64, GlbImage>) -> Look {
        let paint = self
            .materials
            .as_ref()
            .and_then(|m| m.get(t))
            .and_then(|k| self.paints.get(usize::from(*k)));
        match paint {
            Some(Paint::Color(c)) => Look::Color(c.map(f32::to_bits)),
            Some(Paint::Texture(id)) if self.uvs.is_some() && images.contains_key(id) => Look::Texture(*id),
            _ => Look::Group,
        }
    }
}

/// The features' properties: a name for each column (any text) and a row per feature.
pub struct Properties {
    pub names: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Surface groups: (name, base colour), one material and primitive each.
const GROUPS: [(&str, [f32; 4]); 5] = [
    ("roof", [0.70, 0.33, 0.27, 1.0]),
    ("wall", [0.88, 0.86, 0.80, 1.0]),
    ("ground", [0.55, 0.55, 0.52, 1.0]),
    ("water", [0.30, 0.50, 0.75, 1.0]),
    ("traffic", [0.42, 0.42, 0.45, 1.0]),
];

fn group(c: SurfaceClass) -> usize {
    use SurfaceClass as S;
    match c {
        S::Roof | S::OuterCeiling => 0,
        S::Wall
        | S::Closure
        | S::Window
        | S::Door
        | S::InteriorWall
        | S::OuterFloor
        | S::Floor
        | S::Ceiling
        | S::Unclassified => 1,
        S::Ground | S::Relief => 2,
        S::WaterSurface | S::WaterGround | S::WaterClosure => 3,
        S::TrafficArea | S::AuxiliaryTrafficArea | S::TransportationMarking | S::TransportationHole => 4,
    }
}

/// A property id as EXT_structural_metadata wants it (`[A-Za-z_][A-Za-z0-9_]*`), unique in `taken`.
pub fn property_id(name: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    let base = id.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}_{n}");
        n += 1;
    }
    id
}

/// Appends `bytes` to `bin` as a buffer view (4-byte aligned), returning its index.
pub(crate) fn view(bin: &mut Vec<u8>, views: &mut Vec<Value>, bytes: &[u8], target: Option<u32>) -> usize {
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let mut v = json!({"buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len()});
    if let Some(t) = target {
        v["target"] = json!(t);
    }
    bin.extend_from_slice(bytes);
    views.push(v);
    views.len() - 1
}

/// The GLB of `features` under one node translated by `translation` (glTF frame), with
/// `extras` on the asset (what the coordinates are). `properties` go into an
/// EXT_structural_metadata table for [`FeatureIds::MeshFeatures`]; for
/// [`FeatureIds::BatchId`] the caller writes them to the batch table.
pub fn glb(
    features: &[GlbFeature],
    ids: FeatureIds,
    properties: &Properties,
    translation: [f64; 3],
    extras: Value,
    images: &std::collections::HashMap<i64, GlbImage>,
) -> Vec<u8> {
    let mut bin: Vec<u8> = Vec::new();
    let mut views: Vec<Value> = Vec::new();
    let mut accessors: Vec<Value> = Vec::new();
    let mut primitives: Vec<Value> = Vec::new();
    let mut materials: Vec<Value> = Vec::new();
    // Texture images by id, and their glTF texture index.
    let mut gl_images: Vec<Value> = Vec::new();
    let mut textures: Vec<Value> = Vec::new();
    let mut texture_index: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    // The triangles of each (group, look), in a fixed order: one primitive each.
    let mut keys: std::collections::BTreeMap<(usize, Look), Vec<(u32, u32)>> =
        std::collections::BTreeMap::new();
    for (fi, f) in features.iter().enumerate() {
        for (t, c) in f.classes.iter().enumerate().take(f.triangles.len()) {
            keys.entry((group(*c), f.look(t, images)))
                .or_default()
                .push((fi as u32, t as u32));
        }
    }
    for ((g, look), triangles) in keys {
        let (name, colour) = GROUPS[g];
        // The texture, embedded once.
        let texture = match look {
            Look::Texture(id) => match (texture_index.get(&id), images.get(&id)) {
                (Some(&t), _) => Some(t),
                (None, Some(image)) => {
                    let v = view(&mut bin, &mut views, &image.bytes, None);
                    gl_images.push(json!({"bufferView": v, "mimeType": image.mime}));
                    textures.push(json!({"source": gl_images.len() - 1, "sampler": 0}));
                    texture_index.insert(id, textures.len() - 1);
                    Some(textures.len() - 1)
                }
                (None, None) => None,
            },
            _ => None,
        };
        // This primitive's vertices: (feature, vertex) → index, positions, feature ids and
        // (textured) texture coordinates.
        let mut positions: Vec<[f32; 3]> = Vec::new();
        let mut fids: Vec<f32> = Vec::new();
        let mut uvs: Vec<[f32; 2]> = Vec::new();
        let mut indices: Vec<u32> = Vec::with_capacity(3 * triangles.len());
        let mut remap: std::collections::HashMap<(u32, u32), u32> = std::collections::HashMap::new();
        for (fi, t) in triangles {
            let f = &features[fi as usize];
            for &v in &f.triangles[t as usize] {
                let k = *remap.entry((fi, v)).or_insert_with(|| {
                    positions.push(f.positions[v as usize]);
                    fids.push(fi as f32);
                    if texture.is_some() {
                        let uv = f
                            .uvs
                            .as_ref()
                            .and_then(|u| u.get(v as usize))
                            .copied()
                            .unwrap_or([0.0, 0.0]);
                        // glTF's v runs down from the image's top.
                        uvs.push([uv[0], 1.0 - uv[1]]);
                    }
                    (positions.len() - 1) as u32
                });
                indices.push(k);
            }
        }
        if indices.is_empty() {
            continue;
        }
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for p in &positions {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let pos_bytes: Vec<u8> = positions.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        let pv = view(&mut bin, &mut views, &pos_bytes, Some(34962));
        accessors.push(
            json!({"bufferView": pv, "componentType": 5126, "count": positions.len(),
            "type": "VEC3", "min": lo, "max": hi}),
        );
        let pos_acc = accessors.len() - 1;
        let fid_bytes: Vec<u8> = fids.iter().flat_map(|v| v.to_le_bytes()).collect();
        let fv = view(&mut bin, &mut views, &fid_bytes, Some(34962));
        accessors
            .push(json!({"bufferView": fv, "componentType": 5126, "count": fids.len(), "type": "SCALAR"}));
        let fid_acc = accessors.len() - 1;
        let (idx_bytes, ctype): (Vec<u8>, u32) = if positions.len() <= usize::from(u16::MAX) {
            (
                indices.iter().flat_map(|i| (*i as u16).to_le_bytes()).collect(),
                5123,
            )
        } else {
            (indices.iter().flat_map(|i| i.to_le_bytes()).collect(), 5125)
        };
        let iv = view(&mut bin, &mut views, &idx_bytes, Some(34963));
        accessors.push(
            json!({"bufferView": iv, "componentType": ctype, "count": indices.len(), "type": "SCALAR"}),
        );
        let idx_acc = accessors.len() - 1;
        // A matte, two-sided material: its name and base colour (a factor, or the texture).
        let (label, base) = match (look, texture) {
            (Look::Color(bits), _) => (
                format!("{name} colour"),
                json!({"baseColorFactor": bits.map(|b| f32::from_bits(b).clamp(0.0, 1.0))}),
            ),
            (Look::Texture(_), Some(tex)) => (
                format!("{name} texture"),
                json!({"baseColorTexture": {"index": tex}}),
            ),
            _ => (name.to_string(), json!({"baseColorFactor": colour})),
        };
        let mut pbr = base;
        pbr["metallicFactor"] = json!(0.0);
        pbr["roughnessFactor"] = json!(1.0);
        let material = json!({"name": label, "pbrMetallicRoughness": pbr, "doubleSided": true});
        materials.push(material);
        let mut prim = json!({"attributes": {"POSITION": pos_acc}, "indices": idx_acc,
            "material": materials.len() - 1, "mode": 4});
        if texture.is_some() {
            let uv_bytes: Vec<u8> = uvs.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
            let uv_view = view(&mut bin, &mut views, &uv_bytes, Some(34962));
            accessors.push(
                json!({"bufferView": uv_view, "componentType": 5126, "count": uvs.len(), "type": "VEC2"}),
            );
            prim["attributes"]["TEXCOORD_0"] = json!(accessors.len() - 1);
        }
        match ids {
            FeatureIds::MeshFeatures => {
                prim["attributes"]["_FEATURE_ID_0"] = json!(fid_acc);
                prim["extensions"] = json!({"EXT_mesh_features": {"featureIds": [
                    {"featureCount": features.len(), "attribute": 0, "propertyTable": 0}]}});
            }
            FeatureIds::BatchId => {
                prim["attributes"]["_BATCHID"] = json!(fid_acc);
            }
        }
        primitives.push(prim);
    }
    let mut doc = json!({
        "asset": {"version": "2.0", "generator": concat!("cim ", env!("CARGO_PKG_VERSION")), "extras": extras},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "translation": translation}],
        "meshes": [{"primitives": primitives}],
        "materials": materials,
        "accessors": accessors,
    });
    if !textures.is_empty() {
        doc["images"] = Value::Array(gl_images);
        doc["textures"] = Value::Array(textures);
        // Texture coordinates may run past the image: it repeats, smoothly filtered.
        doc["samplers"] = json!([{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]);
    }
    if ids == FeatureIds::MeshFeatures {
        // One STRING property a column: values concatenated, offsets (u32) after them.
        let mut taken = std::collections::HashSet::new();
        let mut class_props = serde_json::Map::new();
        let mut table_props = serde_json::Map::new();
        for (c, name) in properties.names.iter().enumerate() {
            // A column with no value here is left out (a buffer view cannot be empty).
            if properties
                .rows
                .iter()
                .all(|r| r.get(c).is_none_or(String::is_empty))
            {
                continue;
            }
            let id = property_id(name, &mut taken);
            let mut values: Vec<u8> = Vec::new();
            let mut offsets: Vec<u8> = Vec::new();
            for row in &properties.rows {
                offsets.extend_from_slice(&(values.len() as u32).to_le_bytes());
                values.extend_from_slice(row.get(c).map_or("", String::as_str).as_bytes());
            }
            offsets.extend_from_slice(&(values.len() as u32).to_le_bytes());
            let vv = view(&mut bin, &mut views, &values, None);
            let ov = view(&mut bin, &mut views, &offsets, None);
            class_props.insert(id.clone(), json!({"name": name, "type": "STRING"}));
            table_props.insert(
                id,
                json!({"values": vv, "stringOffsets": ov, "stringOffsetType": "UINT32"}),
            );
        }
        doc["extensionsUsed"] = json!(["EXT_mesh_features", "EXT_structural_metadata"]);
        doc["extensions"] = json!({"EXT_structural_metadata": {
            "schema": {"id": "cim", "classes": {"feature": {"name": "city feature", "properties": class_props}}},
            "propertyTables": [{"class": "feature", "count": features.len(), "properties": table_props}]
        }});
    }
    doc["bufferViews"] = Value::Array(views);
    if primitives_empty(&doc) {
        doc["meshes"] = json!([]);
        doc["nodes"] = json!([{"translation": translation}]);
    }
    glb_file(doc, bin)
}

/// A GLB file of glTF JSON `doc` and its one binary buffer: the buffer padded to 4 bytes and
/// declared as buffer 0, the JSON padded with spaces, both chunks framed.
pub(crate) fn glb_file(mut doc: Value, mut bin: Vec<u8>) -> Vec<u8> {
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    doc["buffers"] = json!([{"byteLength": bin.len()}]);
    let mut text = doc.to_string().into_bytes();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let total = 12 + 8 + text.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

fn primitives_empty(doc: &Value) -> bool {
    doc["meshes"][0]["primitives"]
        .as_array()
        .is_none_or(Vec::is_empty)
}
