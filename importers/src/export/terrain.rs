//! The project's terrain in 3D Tiles: an external tileset (`terrain/tileset.json`) of meshes
//! with levels of detail, beside the features' tree and the tilesets.
//!
//! **Tiles.** A quadtree over the DEM's cells: a leaf spans [`LEAF_CELLS`] cells a side and its
//! mesh has a vertex at every cell centre; each level up doubles the span and the step between
//! the cells sampled, so every tile has at most 65 × 65 vertices. Quads with a cell without data
//! are left out (holes, not a fallback height). REPLACE refinement.
//!
//! **Geometric error.** Measured, not guessed: the largest difference between the DEM and the
//! tile's mesh (bilinear between the cells it samples) over every cell of the tile, and never
//! less than its children's; a leaf's is 0. A client refines a tile when that error in pixels
//! exceeds its limit, which is exactly when the coarser mesh would show.
//!
//! **Placing.** As the features: each vertex from the project CRS to WGS 84, its height plus
//! the geoid offset taken as ellipsoidal, to ECEF, into an east-north-up frame at the DEM's
//! centre (the root tile's `transform`); each tile's GLB is translated to its box's centre.

use std::collections::HashMap;
use std::path::Path;

use cim_engine::mesh::SurfaceClass;
use cim_engine::{Project, Raster, Transform};
use serde_json::{json, Value};

use super::gltf::{glb, FeatureIds, GlbFeature, Properties};
use super::tiles::{b3dm, bounding_box, diagonal, ecef, Enu, TilesOptions, TilesVersion};
use crate::error::{ImportError, Result};

/// Cells a leaf tile spans along each side.
pub const LEAF_CELLS: usize = 64;

/// The terrain written: the entry for the tileset's root (the external tileset with its region
/// and error), its tiles and triangles.
pub(crate) struct TerrainOut {
    pub entry: Value,
    pub name: String,
    pub tiles: usize,
    pub triangles: usize,
}

/// What the tiles of one terrain share while they are written.
struct Writer<'a> {
    raster: &'a Raster,
    to_wgs84: &'a Transform,
    enu: Enu,
    geoid: f64,
    levels: u32,
    dir: &'a Path,
    opts: &'a TilesOptions,
    properties: Properties,
    tiles: usize,
    triangles: usize,
}

/// Writes the project's terrain (the first that is not a `surface` DSM) under `dir/terrain`;
/// `None` where the project has none, or it holds no value.
pub(crate) fn write_terrain(
    project: &Project,
    dir: &Path,
    opts: &TilesOptions,
    to_wgs84: &Transform,
) -> Result<Option<TerrainOut>> {
    let infos = project.terrains().map_err(|e| ImportError::engine(dir, e))?;
    let Some(info) = infos.iter().find(|t| t.name != "surface").or(infos.first()) else {
        return Ok(None);
    };
    let raster = project
        .terrain(&info.name)
        .map_err(|e| ImportError::engine(dir, e))?;
    let Some((zmin, zmax)) = raster.min_max() else {
        return Ok(None);
    };
    let e = raster.extent();
    let (clon, clat) = to_wgs84
        .apply(0.5 * (e[0] + e[2]), 0.5 * (e[1] + e[3]))
        .map_err(|err| {
            ImportError::file(
                dir,
                format!(
                    "terrain '{}': cannot place its centre in WGS 84: {err}",
                    info.name
                ),
            )
        })?;
    let geoid = opts.geoid_offset_m;
    let enu = Enu::at(clon, clat, f64::from(zmin) + geoid);
    // Vertex columns run 0..=width-1: the root's span covers them.
    let side = raster.width.max(raster.height).saturating_sub(1).max(1);
    let mut levels = 0u32;
    while (LEAF_CELLS << levels) < side {
        levels += 1;
    }
    std::fs::create_dir_all(dir.join("terrain/content")).map_err(|err| ImportError::io(dir, err))?;
    let mut w = Writer {
        raster: &raster,
        to_wgs84,
        enu,
        geoid,
        levels,
        dir,
        opts,
        properties: Properties {
            names: vec!["kind".into(), "terrain".into()],
            rows: vec![vec!["terrain".into(), info.name.clone()]],
        },
        tiles: 0,
        triangles: 0,
    };
    let Some((mut root, error, (lo, hi))) = w.tile(0, 0, 0)? else {
        return Ok(None);
    };
    root["transform"] = json!(enu.matrix());
    root["refine"] = json!("REPLACE");
    // Not drawn at all, the terrain is off by its whole relief and extent.
    let top_error = diagonal(lo, hi).max(error);
    let version = match opts.version {
        TilesVersion::V1_1 => "1.1",
        TilesVersion::V1_0 => "1.0",
    };
    let tileset = json!({
        "asset": {"version": version, "generator": concat!("cim ", env!("CARGO_PKG_VERSION")),
                  "extras": {"cim": {"terrain": info.name, "cell_m": [raster.cell_w, raster.cell_h]}}},
        "geometricError": top_error,
        "root": root,
    });
    let file = dir.join("terrain/tileset.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&tileset).unwrap_or_default())
        .map_err(|err| ImportError::io(&file, err))?;
    let region = super::tilesets::region(
        &[e[0], e[1], f64::from(zmin), e[2], e[3], f64::from(zmax)],
        to_wgs84,
        geoid,
    )
    .map_err(|err| ImportError::file(dir, format!("terrain '{}': {err}", info.name)))?;
    Ok(Some(TerrainOut {
        entry: json!({
            "boundingVolume": {"region": region},
            "geometricError": top_error,
            "content": {"uri": "terrain/tileset.json"},
        }),
        name: info.name.clone(),
        tiles: w.tiles,
        triangles: w.triangles,
    }))
}

/// The vertex columns (or rows) a tile samples: from `first` every `step` up to `last`, and
/// always `last`.
fn samples(first: usize, last: usize, step: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (first..last).step_by(step.max(1)).collect();
    v.push(last);
    v
}

/// Where `c` falls among `at` (sorted): the index of the sample at or before it and the
/// fraction towards the next.
fn locate(at: &[usize], c: usize) -> (usize, f64) {
    let i = match at.binary_search(&c) {
        Ok(i) => i.min(at.len().saturating_sub(2)),
        Err(i) => i.saturating_sub(1).min(at.len().saturating_sub(2)),
    };
    let (a, b) = (at[i], at.get(i + 1).copied().unwrap_or(at[i]));
    let f = if b > a {
        (c as f64 - a as f64) / (b - a) as f64
    } else {
        0.0
    };
    (i, f)
}

/// A written tile: its JSON, its geometric error and its box in the ENU frame.
type Written = (Value, f64, ([f64; 3], [f64; 3]));

impl Writer<'_> {
    /// Tile (`level`, `tx`, `ty`) and its subtree, written; `None` where it holds no data.
    fn tile(&mut self, level: u32, tx: usize, ty: usize) -> Result<Option<Written>> {
        let r = self.raster;
        let (w, h) = (r.width, r.height);
        let span = LEAF_CELLS << (self.levels - level);
        let step = 1usize << (self.levels - level);
        let (c0, r0) = (tx * span, ty * span);
        if c0 + 1 >= w.max(2) || r0 + 1 >= h.max(2) {
            return Ok(None);
        }
        let (c1, r1) = ((c0 + span).min(w - 1), (r0 + span).min(h - 1));
        // Children first: the parent's error is at least theirs.
        let mut children = Vec::new();
        let mut error = 0.0f64;
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        if level < self.levels {
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                if let Some((json, e, (clo, chi))) = self.tile(level + 1, 2 * tx + dx, 2 * ty + dy)? {
                    error = error.max(e);
                    for a in 0..3 {
                        lo[a] = lo[a].min(clo[a]);
                        hi[a] = hi[a].max(chi[a]);
                    }
                    children.push(json);
                }
            }
        }
        let cols = samples(c0, c1, step);
        let rows = samples(r0, r1, step);
        let (nc, nr) = (cols.len(), rows.len());
        let z: Vec<Option<f32>> = rows
            .iter()
            .flat_map(|&row| cols.iter().map(move |&col| (col, row)))
            .map(|(col, row)| r.get(col, row))
            .collect();
        let mut triangles: Vec<[u32; 3]> = Vec::new();
        for j in 0..nr.saturating_sub(1) {
            for i in 0..nc.saturating_sub(1) {
                let k = |i: usize, j: usize| (j * nc + i) as u32;
                let (a, b, c, d) = (k(i, j), k(i + 1, j), k(i, j + 1), k(i + 1, j + 1));
                if [a, b, c, d].iter().all(|&v| z[v as usize].is_some()) {
                    // Rows run south: (a, c, b) and (b, c, d) face up.
                    triangles.push([a, c, b]);
                    triangles.push([b, c, d]);
                }
            }
        }
        if triangles.is_empty() && children.is_empty() {
            return Ok(None);
        }
        // How far the mesh strays from the DEM over the tile's cells.
        if step > 1 {
            for row in r0..=r1 {
                let (j, fy) = locate(&rows, row);
                for col in c0..=c1 {
                    let Some(v) = r.get(col, row) else { continue };
                    let (i, fx) = locate(&cols, col);
                    let at = |i: usize, j: usize| z.get(j * nc + i).copied().flatten();
                    let (Some(a), Some(b), Some(c), Some(d)) = (
                        at(i, j),
                        at((i + 1).min(nc - 1), j),
                        at(i, (j + 1).min(nr - 1)),
                        at((i + 1).min(nc - 1), (j + 1).min(nr - 1)),
                    ) else {
                        continue;
                    };
                    let top = f64::from(a) + (f64::from(b) - f64::from(a)) * fx;
                    let bottom = f64::from(c) + (f64::from(d) - f64::from(c)) * fx;
                    let m = top + (bottom - top) * fy;
                    error = error.max((m - f64::from(v)).abs());
                }
            }
        }
        // The vertices placed in the ENU frame (missing ones at the lowest height, unused).
        let mut xs: Vec<f64> = Vec::with_capacity(nc * nr);
        let mut ys: Vec<f64> = Vec::with_capacity(nc * nr);
        for &row in &rows {
            for &col in &cols {
                xs.push(r.origin_x + (col as f64 + 0.5) * r.cell_w);
                ys.push(r.origin_y - (row as f64 + 0.5) * r.cell_h);
            }
        }
        self.to_wgs84.apply_slice(&mut xs, &mut ys).map_err(|err| {
            ImportError::file(
                self.dir,
                format!("terrain: cannot place cells {c0}..{c1}, rows {r0}..{r1} in WGS 84: {err}"),
            )
        })?;
        let fallback = r.min_max().map_or(0.0, |m| m.0);
        let enu: Vec<[f64; 3]> = (0..nc * nr)
            .map(|k| {
                let height = f64::from(z[k].unwrap_or(fallback)) + self.geoid;
                self.enu.from_ecef(ecef(xs[k], ys[k], height))
            })
            .collect();
        for t in &triangles {
            for &v in t {
                let p = enu[v as usize];
                for a in 0..3 {
                    lo[a] = lo[a].min(p[a]);
                    hi[a] = hi[a].max(p[a]);
                }
            }
        }
        // The coarse mesh lies within its error of the ground it stands for.
        lo[2] -= error;
        hi[2] += error;
        let mut tile = json!({"boundingVolume": bounding_box(lo, hi), "geometricError": error});
        if !triangles.is_empty() {
            let centre = [0, 1, 2].map(|a| 0.5 * (lo[a] + hi[a]));
            let feature = GlbFeature {
                positions: enu
                    .iter()
                    .map(|q| {
                        let d = [q[0] - centre[0], q[1] - centre[1], q[2] - centre[2]];
                        [d[0] as f32, d[2] as f32, -d[1] as f32]
                    })
                    .collect(),
                classes: vec![SurfaceClass::Relief; triangles.len()],
                triangles,
                ..GlbFeature::default()
            };
            self.triangles += feature.triangles.len();
            let name = format!("{level}_{tx}_{ty}");
            let translation = [centre[0], centre[2], -centre[1]];
            let images = HashMap::new();
            let (file, bytes) = match self.opts.version {
                TilesVersion::V1_1 => (
                    format!("terrain/content/{name}.glb"),
                    glb(
                        &[feature],
                        FeatureIds::MeshFeatures,
                        &self.properties,
                        translation,
                        Value::Null,
                        &images,
                    ),
                ),
                TilesVersion::V1_0 => {
                    let g = glb(
                        &[feature],
                        FeatureIds::BatchId,
                        &self.properties,
                        translation,
                        Value::Null,
                        &images,
                    );
                    (
                        format!("terrain/content/{name}.b3dm"),
                        b3dm(&g, &self.properties.rows, &self.properties.names),
                    )
                }
            };
            let path = self.dir.join(&file);
            std::fs::write(&path, bytes).map_err(|err| ImportError::io(&path, err))?;
            self.tiles += 1;
            tile["content"] = json!({"uri": file.trim_start_matches("terrain/")});
        }
        if !children.is_empty() {
            tile["children"] = Value::Array(children);
        }
        Ok(Some((tile, error, (lo, hi))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_keep_the_last_vertex_and_locate_finds_the_quad() {
        assert_eq!(samples(0, 64, 16), vec![0, 16, 32, 48, 64]);
        assert_eq!(samples(64, 100, 16), vec![64, 80, 96, 100]);
        assert_eq!(samples(0, 5, 1), vec![0, 1, 2, 3, 4, 5]);
        let at = samples(64, 100, 16);
        assert_eq!(locate(&at, 64), (0, 0.0));
        assert_eq!(locate(&at, 72), (0, 0.5));
        assert_eq!(locate(&at, 98), (2, 0.5));
        assert_eq!(locate(&at, 100), (2, 1.0));
    }
}
