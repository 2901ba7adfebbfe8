//! The project's tilesets in a 3D Tiles export: each one an external tileset under
//! `tilesets/<name>/`, a child of the export's root. 3D Tiles content imported from ECEF goes
//! out as delivered with its transforms (a glb wrapped as b3dm for 1.0); every other tileset
//! (oblique photography, models, point clouds) is decoded, placed in the project CRS and
//! written anew in ECEF: meshes as glb (b3dm for 1.0) with their textures, points as pnts with
//! their colours. Volumes are regions from the tiles' bounds in the project CRS.

use std::path::Path;

use cim_engine::{ContentFrame, Crs, Project, TileContent, Transform};
use serde_json::{json, Value};

use super::tiles::{ecef, TilesOptions, TilesVersion};
use crate::error::{ImportError, Result};
use crate::tiles3d::content::{self, Content};
use crate::tiles3d::gltf::{self, Mat4, IDENTITY};

/// A general 4×4 inverse (`None` when singular).
fn invert(m: &Mat4) -> Option<Mat4> {
    // Gauss-Jordan on [m | I], column-major in, column-major out.
    let mut a = [[0.0f64; 8]; 4];
    for r in 0..4 {
        for c in 0..4 {
            a[r][c] = m[c * 4 + r];
        }
        a[r][4 + r] = 1.0;
    }
    for col in 0..4 {
        let pivot = (col..4).max_by(|x, y| a[*x][col].abs().total_cmp(&a[*y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        let d = a[col][col];
        for v in a[col].iter_mut() {
            *v /= d;
        }
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            let f = row[col];
            if r != col && f != 0.0 {
                for (v, p) in row.iter_mut().zip(pivot_row) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut out = [0.0; 16];
    for r in 0..4 {
        for c in 0..4 {
            out[c * 4 + r] = a[r][4 + c];
        }
    }
    Some(out)
}

/// A region (radians, ellipsoidal heights) holding project-CRS `bounds`.
pub(crate) fn region(
    bounds: &[f64; 6],
    to_wgs84: &Transform,
    geoid: f64,
) -> std::result::Result<Value, String> {
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for i in 0..=4 {
        for j in 0..=4 {
            let x = bounds[0] + (bounds[3] - bounds[0]) * f64::from(i) / 4.0;
            let y = bounds[1] + (bounds[4] - bounds[1]) * f64::from(j) / 4.0;
            let (lon, lat) = to_wgs84.apply(x, y).map_err(|e| e.to_string())?;
            w = w.min(lon);
            e = e.max(lon);
            s = s.min(lat);
            n = n.max(lat);
        }
    }
    Ok(json!([
        w.to_radians(),
        s.to_radians(),
        e.to_radians(),
        n.to_radians(),
        bounds[2] + geoid,
        bounds[5] + geoid
    ]))
}

/// glTF's y up from 3D Tiles' z up.
fn y_up(p: [f64; 3]) -> [f64; 3] {
    [p[0], p[2], -p[1]]
}

/// Content placed in the project CRS, written anew in ECEF: (bytes, file extension).
fn rewrite(
    c: &Content,
    to_wgs84: &Transform,
    opts: &TilesOptions,
) -> std::result::Result<Option<(Vec<u8>, &'static str)>, String> {
    let to_ecef = |p: [f64; 3]| -> std::result::Result<[f64; 3], String> {
        let (lon, lat) = to_wgs84.apply(p[0], p[1]).map_err(|e| e.to_string())?;
        Ok(ecef(lon, lat, p[2] + opts.geoid_offset_m))
    };
    if !c.model.parts.is_empty() {
        let mut parts = c.model.parts.clone();
        let (mut lo, mut hi) = ([f64::MAX; 3], [f64::MIN; 3]);
        for p in &mut parts {
            for v in &mut p.positions {
                *v = y_up(to_ecef(*v)?);
                for i in 0..3 {
                    lo[i] = lo[i].min(v[i]);
                    hi[i] = hi[i].max(v[i]);
                }
            }
        }
        let centre = [0, 1, 2].map(|i| ((lo[i] + hi[i]) / 2.0).round());
        let glb = gltf::write_glb(&parts, &c.model.materials, &c.model.images, centre);
        return Ok(Some(match opts.version {
            TilesVersion::V1_1 => (glb, "glb"),
            TilesVersion::V1_0 => (
                content::container(b"b3dm", &json!({"BATCH_LENGTH": 0}), &[], None, &glb),
                "b3dm",
            ),
        }));
    }
    if c.points.is_empty() {
        return Ok(None);
    }
    let pts: Vec<[f64; 3]> = c
        .points
        .iter()
        .map(|p| to_ecef(*p))
        .collect::<std::result::Result<_, _>>()?;
    let n = pts.len() as f64;
    let centre = [0, 1, 2].map(|i| (pts.iter().map(|p| p[i]).sum::<f64>() / n).round());
    let mut bin: Vec<u8> = pts
        .iter()
        .flat_map(|p| (0..3).flat_map(move |i| ((p[i] - centre[i]) as f32).to_le_bytes()))
        .collect();
    let mut ft = json!({"POINTS_LENGTH": pts.len(), "POSITION": {"byteOffset": 0}, "RTC_CENTER": centre});
    if let Some(colors) = &c.colors {
        ft["RGB"] = json!({"byteOffset": bin.len()});
        bin.extend(colors.iter().flatten());
    }
    Ok(Some((content::container(b"pnts", &ft, &bin, None, &[]), "pnts")))
}

/// Writes every tileset of `project` under `dir/tilesets/`; returns the child tile of the
/// export's root for each, and warnings.
pub fn write_tilesets(
    project: &Project,
    dir: &Path,
    opts: &TilesOptions,
) -> Result<(Vec<Value>, Vec<String>)> {
    let sets = project.tilesets().map_err(|e| ImportError::engine(dir, e))?;
    let wgs84 = Crs::from_epsg(4326).map_err(|e| ImportError::engine(dir, e))?;
    let to_wgs84 = Transform::new(&wgs84, project.crs());
    let version = match opts.version {
        TilesVersion::V1_1 => "1.1",
        TilesVersion::V1_0 => "1.0",
    };
    let mut children = Vec::new();
    let mut warnings = Vec::new();
    for set in sets {
        let folder = dir.join("tilesets").join(&set.name);
        std::fs::create_dir_all(&folder).map_err(|e| ImportError::io(&folder, e))?;
        let tiles = project
            .tiles(&set.name)
            .map_err(|e| ImportError::engine(dir, e))?;
        let placer = crate::tiles3d::Placer::new(&set.frame, project.crs())?;
        let as_delivered = matches!(set.frame, ContentFrame::Ecef { .. });
        let mut nodes: Vec<Value> = Vec::with_capacity(tiles.len());
        let mut acc: Vec<Mat4> = Vec::with_capacity(tiles.len());
        let mut left_out = 0usize;
        for (t, _) in &tiles {
            let here = t.transform.unwrap_or(IDENTITY);
            let parent_acc = t.parent.map_or(IDENTITY, |p| acc[p as usize]);
            let mut node = json!({
                "boundingVolume": {"region": region(&t.bounds, &to_wgs84, opts.geoid_offset_m).map_err(|e| ImportError::file(dir, format!("tileset '{}' tile {}: {e}", set.name, t.id)))?},
                "geometricError": t.geometric_error,
                "refine": t.refine.name(),
            });
            let format = match &t.content {
                TileContent::Packed { format, .. } | TileContent::Referenced { format, .. } => {
                    Some(format.clone())
                }
                TileContent::None => None,
            };
            if let Some(format) = format {
                let written = (|| -> std::result::Result<Option<(Vec<u8>, String)>, String> {
                    let bytes = project
                        .tile_bytes(&set.name, t.id)
                        .map_err(|e| e.to_string())?
                        .unwrap_or_default();
                    if as_delivered {
                        return Ok(Some(match (format.as_str(), opts.version) {
                            ("glb", TilesVersion::V1_0) => (
                                content::container(b"b3dm", &json!({"BATCH_LENGTH": 0}), &[], None, &bytes),
                                "b3dm".into(),
                            ),
                            (f, _) => (bytes, f.to_string()),
                        }));
                    }
                    let base = set.root.as_ref().map(|r| Path::new(r).to_path_buf());
                    let c = crate::tiles3d::decode_tile(
                        &bytes,
                        &format,
                        t.transform.as_ref(),
                        &placer,
                        base.as_deref(),
                    )?;
                    Ok(rewrite(&c, &to_wgs84, opts)?.map(|(b, e)| (b, e.to_string())))
                })();
                match written {
                    Ok(Some((bytes, ext))) => {
                        let name = format!("t{}.{ext}", t.id);
                        std::fs::write(folder.join(&name), bytes)
                            .map_err(|e| ImportError::io(folder.join(&name), e))?;
                        node["content"] = json!({"uri": name});
                    }
                    Ok(None) => {}
                    Err(e) => {
                        left_out += 1;
                        if left_out == 1 {
                            warnings.push(format!(
                                "tileset '{}' tile {}: content left out: {e}",
                                set.name, t.id
                            ));
                        }
                    }
                }
            }
            // Transforms: delivered content keeps its own, relative to its parent's.
            if as_delivered && here != parent_acc {
                if let Some(inv) = invert(&parent_acc) {
                    node["transform"] = json!(gltf::mul(&inv, &here).to_vec());
                }
            }
            acc.push(if as_delivered { here } else { IDENTITY });
            nodes.push(node);
        }
        if left_out > 1 {
            warnings.push(format!(
                "tileset '{}': {left_out} tiles' content left out in all",
                set.name
            ));
        }
        // Children into their parents, deepest first.
        for k in (1..tiles.len()).rev() {
            let child = std::mem::take(&mut nodes[k]);
            let p = tiles[k].0.parent.unwrap_or(0) as usize;
            if let Some(list) = nodes[p]
                .as_object_mut()
                .map(|o| o.entry("children").or_insert(json!([])))
            {
                if let Some(a) = list.as_array_mut() {
                    a.insert(0, child);
                }
            }
        }
        let root = nodes.swap_remove(0);
        let error = root["geometricError"].as_f64().unwrap_or(0.0);
        let doc = json!({
            "asset": {"version": version, "generator": concat!("cim ", env!("CARGO_PKG_VERSION")),
                "extras": {"cim": {"tileset": set.name, "source": set.source, "placement": set.placement}}},
            "geometricError": error,
            "root": root,
        });
        let file = folder.join("tileset.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .map_err(|e| ImportError::io(&file, e))?;
        children.push(json!({
            "boundingVolume": {"region": region(&set.bounds, &to_wgs84, opts.geoid_offset_m).map_err(|e| ImportError::file(dir, e))?},
            "geometricError": error,
            "content": {"uri": format!("tilesets/{}/tileset.json", set.name)},
        }));
    }
    Ok((children, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transform_inverts() {
        let m = gltf::mul(
            &gltf::translation([5.0, -3.0, 2.0]),
            &gltf::trs(
                [0.0; 3],
                [0.0, 0.0, 0.5f64.sqrt(), 0.5f64.sqrt()],
                [2.0, 2.0, 2.0],
            ),
        );
        let back = gltf::mul(&invert(&m).unwrap_or(IDENTITY), &m);
        for (k, v) in back.iter().enumerate() {
            assert!((v - IDENTITY[k]).abs() < 1e-12, "{back:?}");
        }
    }
}
