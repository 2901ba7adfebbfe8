//! A single glTF/GLB or OBJ model (a building's design, a bridge, a scene) into the project as a
//! one-tile tileset: placed by `--origin E,N,H[,rotation]` (its metres, z up after glTF's y up
//! is turned, at that point of the project CRS) or `--src-crs` (its coordinates are in that
//! CRS). A `.gltf` with its buffers and images in files is packed as one GLB.

use std::path::Path;

use cim_engine::{ContentFrame, Crs, Project, Tile, TileContent, TilesetHead, TilesetKind};
use serde_json::{json, Value};

use super::gltf;
use crate::error::{ImportError, Result};

/// What a model import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelReport {
    pub tileset: cim_engine::Tileset,
    pub images: usize,
    /// Textures or materials left out (an OBJ's).
    pub warnings: Vec<crate::error::Warning>,
}

/// A JSON glTF and the files it names as one GLB: every buffer into the binary chunk (4-byte
/// aligned), every image named by a URI into a buffer view.
pub fn pack_glb(json: &Value, base: Option<&Path>) -> std::result::Result<Vec<u8>, String> {
    let mut doc = json.clone();
    let mut bin: Vec<u8> = Vec::new();
    let mut starts = Vec::new();
    for (k, b) in json
        .get("buffers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let bytes = match b.get("uri").and_then(Value::as_str) {
            Some(uri) => gltf::uri_bytes(uri, base).map_err(|e| format!("buffer {k}: {e}"))?,
            None => return Err(format!("buffer {k} has no URI in a JSON glTF")),
        };
        while !bin.len().is_multiple_of(4) {
            bin.push(0);
        }
        starts.push(bin.len());
        bin.extend_from_slice(&bytes);
    }
    if let Some(views) = doc.get_mut("bufferViews").and_then(Value::as_array_mut) {
        for v in views {
            let b = v.get("buffer").and_then(Value::as_u64).unwrap_or(0) as usize;
            let off = v.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
            let start = *starts
                .get(b)
                .ok_or_else(|| format!("a bufferView names buffer {b}, which does not exist"))?;
            v["buffer"] = json!(0);
            v["byteOffset"] = json!(start + off);
        }
    }
    let mut extra_views = Vec::new();
    if let Some(images) = doc.get_mut("images").and_then(Value::as_array_mut) {
        for (k, img) in images.iter_mut().enumerate() {
            let Some(uri) = img.get("uri").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let bytes = gltf::uri_bytes(&uri, base).map_err(|e| format!("image {k}: {e}"))?;
            while !bin.len().is_multiple_of(4) {
                bin.push(0);
            }
            extra_views.push(json!({"buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len()}));
            let mime = gltf::sniff_image(&bytes);
            bin.extend_from_slice(&bytes);
            let obj = img.as_object_mut().ok_or("an image that is not an object")?;
            obj.remove("uri");
            obj.insert("mimeType".into(), json!(mime));
            obj.insert("bufferView".into(), json!(usize::MAX - extra_views.len() + 1));
        }
    }
    // Images' views go after the existing ones.
    let first = doc
        .get("bufferViews")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if let Some(images) = doc.get_mut("images").and_then(Value::as_array_mut) {
        for img in images {
            if let Some(v) = img.get("bufferView").and_then(Value::as_u64) {
                if v as usize > usize::MAX / 2 {
                    img["bufferView"] = json!(first + (usize::MAX - v as usize));
                }
            }
        }
    }
    if !extra_views.is_empty() {
        let views = doc
            .as_object_mut()
            .ok_or("a glTF that is not an object")?
            .entry("bufferViews")
            .or_insert(json!([]));
        if let Some(a) = views.as_array_mut() {
            a.extend(extra_views);
        }
    }
    Ok(crate::export::gltf::glb_file(doc, bin))
}

/// Imports a glTF/GLB model at `path` as a one-tile tileset named `name` (else the file's
/// stem), placed by `origin` or `src_crs` (one of them is needed).
pub fn import_model(
    project: &mut Project,
    path: &Path,
    name: Option<&str>,
    origin: Option<[f64; 4]>,
    src_crs: Option<&Crs>,
    reference: bool,
) -> Result<ModelReport> {
    let bad = |why: String| ImportError::file(path, why);
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    let base = path.parent();
    let is_obj = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("obj"));
    let mut notes = Vec::new();
    let delivered_glb = bytes.starts_with(b"glTF");
    let glb = if is_obj {
        let (glb, stats) = super::obj::obj_to_glb(path).map_err(bad)?;
        notes = stats.notes;
        glb
    } else if delivered_glb {
        bytes
    } else {
        let json: Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("its glTF JSON does not read: {e}")))?;
        pack_glb(&json, base).map_err(bad)?
    };
    let (frame, placement) = match (origin, src_crs) {
        (Some(o), _) => (
            ContentFrame::Local { origin: o },
            format!("{} metres (z up) with its origin at E {} N {} H {}, x axis {}° from east, in {}", if is_obj { "OBJ" } else { "glTF" }, o[0], o[1], o[2], o[3], project.crs().name()),
        ),
        (None, Some(c)) => (
            ContentFrame::Crs { crs: c.epsg().map_or_else(|| c.to_wkt(), |n| format!("EPSG:{n}")), origin: [0.0; 3] },
            format!("{} coordinates (z up) in {} into {}", if is_obj { "OBJ" } else { "glTF" }, c.name(), project.crs().name()),
        ),
        (None, None) => {
            return Err(bad("a model says nothing of where it lies: give --origin E,N,H[,rotation] (its metres at that point) or --src-crs (the CRS of its coordinates)".into()))
        }
    };
    let placer = super::Placer::new(&frame, project.crs())?;
    let c =
        super::decode_tile(&glb, "glb", None, &placer, if reference { base } else { None }).map_err(bad)?;
    let bounds = c.bounds().ok_or_else(|| bad("it has no triangles".into()))?;
    if bounds.iter().any(|v| !v.is_finite()) {
        return Err(bad("its positions do not place (not finite)".into()));
    }
    let root = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
    let content = match (reference && !is_obj, &root, path.file_name()) {
        (true, Some(_), Some(file)) => TileContent::Referenced {
            format: if delivered_glb {
                "glb".into()
            } else {
                "gltf".into()
            },
            path: file.to_string_lossy().into_owned(),
        },
        _ => TileContent::Packed {
            format: "glb".into(),
            bytes: glb,
        },
    };
    let tile = Tile {
        id: 0,
        parent: None,
        bounds,
        geometric_error: 0.0,
        refine: cim_engine::Refine::Replace,
        content,
        transform: None,
        triangles: c.model.triangles(),
        points: 0,
    };
    let head = TilesetHead {
        name: name
            .map(str::to_string)
            .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into()),
        kind: TilesetKind::Mesh,
        source: path.display().to_string(),
        placement,
        root: if reference {
            root.map(|r| r.display().to_string())
        } else {
            None
        },
        frame,
    };
    let tileset = super::store(project, path, &head, &[tile], false, &[])?;
    let warnings = notes
        .into_iter()
        .map(|message| crate::error::Warning {
            path: path.to_path_buf(),
            record: None,
            message,
        })
        .collect();
    Ok(ModelReport {
        tileset,
        images: c.model.images.len(),
        warnings,
    })
}
