//! Oblique photography (倾斜摄影) in OSGB, as ContextCapture/Smart3D delivers it: a folder with
//! `metadata.xml` (`<SRS>` as `EPSG:n`, `ENU:lat,lon` or a WKT — a WKT's own parameters win
//! over the EPSG code it names — and `<SRSOrigin>`) and `Data/Tile_*/Tile_*.osgb`, each tile a
//! pyramid of files linked by PagedLOD. Each file becomes a tile of the project's tileset (its
//! children the files its PagedLODs name, REPLACE refinement); files named but absent (the
//! deepest levels are often left out) end the pyramid there.
//!
//! Geometric error: ContextCapture's PagedLODs switch to the next file when the node's
//! bounding sphere covers `r` pixels on screen; a 3D Tiles client switches when the error
//! covers 16 pixels, so a tile's error is 16 × (2 × radius) / r = 32 radius / r.

pub mod reader;

use std::path::{Path, PathBuf};

use cim_engine::{ContentFrame, Crs, Project, Tile, TileContent, TilesetHead, TilesetKind};
use rayon::prelude::*;

use crate::error::{ImportError, Result, Warning};
use crate::tiles3d::content::Content;
use crate::tiles3d::gltf::{self, Mat4};

/// Where a dataset's coordinates are.
#[derive(Clone, Debug, PartialEq)]
pub enum Srs {
    /// A projected CRS (as written: `EPSG:n` or the WKT).
    Crs { crs: Box<Crs>, written: String },
    /// East-north-up metres at a latitude and longitude (degrees), on the ellipsoid.
    Enu { lat: f64, lon: f64 },
}

/// A dataset's `metadata.xml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub srs: Srs,
    /// `SRSOrigin`: added to every coordinate.
    pub origin: [f64; 3],
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].trim())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Reads a `metadata.xml`. An SRS that is none of `EPSG:n`, `ENU:lat,lon` or a WKT cim reads
/// is an error naming it.
pub fn read_metadata(path: &Path) -> Result<Metadata> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let srs = xml_text(&text, "SRS")
        .map(unescape)
        .ok_or_else(|| ImportError::file(path, "it has no <SRS>"))?;
    let origin = match xml_text(&text, "SRSOrigin") {
        None => [0.0; 3],
        Some(o) => {
            let v: Vec<f64> = o
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    ImportError::file(
                        path,
                        format!("<SRSOrigin> '{o}' is not numbers separated by commas"),
                    )
                })?;
            if v.len() < 2 || v.iter().any(|x| !x.is_finite()) {
                return Err(ImportError::file(
                    path,
                    format!("<SRSOrigin> '{o}' is not two or three numbers"),
                ));
            }
            [v[0], v[1], v.get(2).copied().unwrap_or(0.0)]
        }
    };
    let bad = |why: String| ImportError::file(path, format!("<SRS> '{}': {why}", &srs[..srs.len().min(60)]));
    let srs = if let Some(rest) = srs.strip_prefix("ENU:") {
        let v: Vec<f64> = rest.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        if v.len() != 2 || !(-90.0..=90.0).contains(&v[0]) || !(-180.0..=180.0).contains(&v[1]) {
            return Err(bad("ENU: wants a latitude and a longitude in degrees".into()));
        }
        Srs::Enu { lat: v[0], lon: v[1] }
    } else if let Some(code) = srs.strip_prefix("EPSG:") {
        let n: u32 = code.trim().parse().map_err(|_| bad("not an EPSG code".into()))?;
        let crs = Crs::from_epsg(n).map_err(|e| bad(e.to_string()))?;
        Srs::Crs {
            crs: Box::new(crs),
            written: format!("EPSG:{n}"),
        }
    } else if srs.contains('[') {
        let crs = Crs::from_wkt(&srs).map_err(|e| bad(e.to_string()))?;
        Srs::Crs {
            crs: Box::new(crs),
            written: srs.clone(),
        }
    } else {
        return Err(bad("cim reads EPSG:n, ENU:lat,lon or a WKT".into()));
    };
    if let Srs::Crs { crs, .. } = &srs {
        if !crs.is_projected_metres() {
            return Err(bad(format!("{} is not a projected CRS in metres", crs.name())));
        }
    }
    Ok(Metadata { srs, origin })
}

/// How to import a dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OsgbOptions {
    pub name: Option<String>,
    pub reference: bool,
    /// For ENU datasets: the geoid's height above the ellipsoid there, m.
    pub geoid_offset_m: f64,
    pub strict: bool,
}

/// What an OSGB import did.
#[derive(Clone, Debug, PartialEq)]
pub struct OsgbReport {
    pub tileset: cim_engine::Tileset,
    /// Tile folders (`Data/Tile_*`) read.
    pub blocks: u64,
    /// Files a PagedLOD names that are not there (the pyramid ends before them).
    pub absent: u64,
    pub warnings: Vec<Warning>,
}

/// The dataset folder and its metadata.xml, from the path given (the folder, its
/// metadata.xml, or its Data folder).
fn dataset_root(path: &Path) -> Result<PathBuf> {
    let candidates = [
        path.to_path_buf(),
        path.parent().map(Path::to_path_buf).unwrap_or_default(),
    ];
    for c in candidates {
        let dir = if c.is_file() {
            c.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            c
        };
        if dir.join("metadata.xml").is_file() && dir.join("Data").is_dir() {
            return Ok(dir);
        }
    }
    Err(ImportError::file(
        path,
        "not an oblique photography dataset: no metadata.xml beside a Data folder",
    ))
}

/// Is this the folder (or the metadata.xml) of an OSGB dataset?
pub fn looks_like(path: &Path) -> bool {
    dataset_root(path).is_ok()
}

/// One file of the pyramid, read.
struct Read {
    bytes: Vec<u8>,
    scene: reader::Scene,
}

fn read_file(path: &Path) -> std::result::Result<Read, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let scene = reader::read_osgb(&bytes)?;
    Ok(Read { bytes, scene })
}

/// A tile's content (an `.osgb` file's bytes) decoded into the frame by `transform`: triangles
/// with their textures, texture coordinates turned to glTF's (v down).
pub fn decode(bytes: &[u8], transform: &Mat4) -> std::result::Result<Content, String> {
    let scene = reader::read_osgb(bytes)?;
    let mut c = Content::default();
    c.model.images = scene
        .images
        .iter()
        .map(|i| gltf::Image {
            mime: i.mime.clone(),
            bytes: i.bytes.clone(),
        })
        .collect();
    for g in scene.geometries {
        let material = c.model.materials.len();
        c.model.materials.push(gltf::Material {
            color: g.color.unwrap_or([1.0; 4]),
            image: g.image,
        });
        c.model.parts.push(gltf::Part {
            positions: g.positions.iter().map(|p| gltf::apply(transform, *p)).collect(),
            triangles: g.triangles,
            uvs: g.uvs.map(|u| u.into_iter().map(|[s, t]| [s, 1.0 - t]).collect()),
            feature_ids: None,
            material: Some(material),
        });
    }
    Ok(c)
}

/// Imports an oblique photography dataset as a tileset of the project, in one transaction.
pub fn import_osgb(project: &mut Project, path: &Path, opts: &OsgbOptions) -> Result<OsgbReport> {
    let root = dataset_root(path)?;
    let meta_path = root.join("metadata.xml");
    let meta = read_metadata(&meta_path)?;
    let (frame, transform, placement) = match &meta.srs {
        Srs::Crs { crs, written } => {
            let same =
                **crs == *project.crs() || (crs.epsg().is_some() && crs.epsg() == project.crs().epsg());
            let o = meta.origin;
            if same {
                (
                    ContentFrame::Local {
                        origin: [o[0], o[1], o[2], 0.0],
                    },
                    None,
                    format!(
                        "{} (metadata.xml), the project CRS, origin {}, {}, {}",
                        crs.name(),
                        o[0],
                        o[1],
                        o[2]
                    ),
                )
            } else {
                (
                    ContentFrame::Crs {
                        crs: written.clone(),
                        origin: o,
                    },
                    None,
                    format!(
                        "{} (metadata.xml), origin {}, {}, {}, into {}",
                        crs.name(),
                        o[0],
                        o[1],
                        o[2],
                        project.crs().name()
                    ),
                )
            }
        }
        Srs::Enu { lat, lon } => {
            let enu = crate::export::tiles::Enu::at(*lon, *lat, 0.0);
            let m = gltf::mul(&enu.matrix(), &gltf::translation(meta.origin));
            (
                ContentFrame::Ecef { geoid_offset_m: opts.geoid_offset_m },
                Some(m),
                format!(
                    "ENU at {lat}°, {lon}° (metadata.xml) from ECEF into {}, heights ellipsoidal less {} m of geoid",
                    project.crs().name(),
                    opts.geoid_offset_m
                ),
            )
        }
    };
    let placer = crate::tiles3d::Placer::new(&frame, project.crs())?;
    // The blocks: Data/Tile_x/Tile_x.osgb, else any .osgb right under Data.
    let data = root.join("Data");
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&data)
        .map_err(|e| ImportError::io(&data, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            let name = e
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let f = e.join(format!("{name}.osgb"));
            if f.is_file() {
                roots.push(f);
            }
        } else if e.extension().is_some_and(|x| x.eq_ignore_ascii_case("osgb")) {
            roots.push(e);
        }
    }
    if roots.is_empty() {
        return Err(ImportError::file(&data, "no Tile_*/Tile_*.osgb in it"));
    }
    let blocks = roots.len() as u64;
    // Level by level: every file of a level read in parallel.
    struct Pending {
        file: PathBuf,
        parent: Option<u32>,
        /// The PagedLOD range (pixels) at which this file replaces its parent.
        switch: Option<(f64, f32)>,
    }
    let mut tiles: Vec<Tile> = vec![Tile {
        id: 0,
        parent: None,
        bounds: [0.0; 6],
        geometric_error: 0.0,
        refine: cim_engine::Refine::Replace,
        content: TileContent::None,
        transform,
        triangles: 0,
        points: 0,
    }];
    let mut level: Vec<Pending> = roots
        .into_iter()
        .map(|file| Pending {
            file,
            parent: Some(0),
            switch: None,
        })
        .collect();
    let mut warnings = Vec::new();
    let mut absent = 0u64;
    let root_canon = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
    let mut seen = std::collections::HashSet::new();
    while !level.is_empty() {
        let reads: Vec<std::result::Result<Read, String>> =
            level.par_iter().map(|p| read_file(&p.file)).collect();
        let mut next = Vec::new();
        for (p, read) in level.into_iter().zip(reads) {
            let r = match read {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(Warning {
                        path: p.file.clone(),
                        record: None,
                        message: format!("left out with the files below it: {e}"),
                    });
                    continue;
                }
            };
            let id = tiles.len() as u32;
            let mut pts: Vec<[f64; 3]> = r
                .scene
                .geometries
                .iter()
                .flat_map(|g| g.positions.iter().copied())
                .map(|q| transform.map_or(q, |m| gltf::apply(&m, q)))
                .collect();
            placer
                .place(&mut pts)
                .map_err(|e| ImportError::file(&p.file, format!("cannot place it: {e}")))?;
            let b = crate::pointcloud::bounds_of(pts.iter().copied());
            // The error of this file: by the range at which its children replace it.
            let mut error: f64 = 0.0;
            let dir = p.file.parent().unwrap_or(Path::new(".")).to_path_buf();
            for paged in &r.scene.paged {
                for (f, lo, _) in &paged.files {
                    let child = dir.join(f);
                    if paged.range_mode == 1 && *lo > 0.0 {
                        error = error.max(32.0 * paged.radius / f64::from(*lo));
                    } else if *lo > 0.0 {
                        error = error.max(paged.radius);
                    }
                    if !child.is_file() {
                        absent += 1;
                        continue;
                    }
                    let key = std::fs::canonicalize(&child).unwrap_or_else(|_| child.clone());
                    if seen.insert(key) {
                        next.push(Pending {
                            file: child,
                            parent: Some(id),
                            switch: Some((paged.radius, *lo)),
                        });
                    }
                }
            }
            let _ = p.switch;
            let rel = std::fs::canonicalize(&p.file)
                .ok()
                .and_then(|f| f.strip_prefix(&root_canon).ok().map(Path::to_path_buf));
            let content = match (opts.reference, rel) {
                (true, Some(rel)) => TileContent::Referenced {
                    format: "osgb".into(),
                    path: rel.to_string_lossy().replace('\\', "/"),
                },
                _ => TileContent::Packed {
                    format: "osgb".into(),
                    bytes: r.bytes,
                },
            };
            let has_geometry = !pts.is_empty();
            tiles.push(Tile {
                id,
                parent: p.parent,
                bounds: if has_geometry { b } else { [0.0; 6] },
                geometric_error: error,
                refine: cim_engine::Refine::Replace,
                content,
                transform,
                triangles: r.scene.triangles(),
                points: 0,
            });
        }
        level = next;
    }
    if tiles.len() == 1 {
        return Err(ImportError::file(
            &data,
            match warnings.first() {
                Some(w) => format!("none of its files reads; the first: {w}"),
                None => "no tile in it".into(),
            },
        ));
    }
    // Tiles without geometry take their children's bounds; parents hold their children.
    for k in (1..tiles.len()).rev() {
        let b = tiles[k].bounds;
        let parent = tiles[k].parent.unwrap_or(0) as usize;
        if b == [0.0; 6] {
            continue;
        }
        let pb = &mut tiles[parent].bounds;
        if *pb == [0.0; 6] {
            *pb = b;
        } else {
            for i in 0..3 {
                pb[i] = pb[i].min(b[i]);
                pb[i + 3] = pb[i + 3].max(b[i + 3]);
            }
        }
    }
    // The root's error: the largest of its blocks', doubled (or the dataset's size).
    let biggest = tiles
        .iter()
        .skip(1)
        .map(|t| t.geometric_error)
        .fold(0.0, f64::max);
    let b = tiles[0].bounds;
    tiles[0].geometric_error =
        (2.0 * biggest).max(((b[3] - b[0]).powi(2) + (b[4] - b[1]).powi(2)).sqrt() / 20.0);
    let name = opts
        .name
        .clone()
        .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "photo".into());
    let head = TilesetHead {
        name,
        kind: TilesetKind::Mesh,
        source: root.display().to_string(),
        placement,
        root: opts.reference.then(|| root_canon.display().to_string()),
        frame,
    };
    let tileset = crate::tiles3d::store(project, path, &head, &tiles, opts.strict, &warnings)?;
    Ok(OsgbReport {
        tileset,
        blocks,
        absent,
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
