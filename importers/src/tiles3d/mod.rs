//! 3D Tiles 1.0 and 1.1 into the project as a tileset: the tree read from `tileset.json`
//! (external tilesets followed, implicit tiling expanded), each content read once to check it,
//! count its triangles or points and bound it, then kept as delivered (packed into the project,
//! or referenced where it lies with `--reference`), with the transform that takes it into the
//! tileset's frame: earth-centred (ECEF) for georeferenced data, else local metres placed with
//! `--origin`. Placement into the project CRS (ECEF → latitude, longitude and ellipsoidal
//! height → the project CRS, heights less the geoid offset) is [`Placer`], which the viewer uses
//! too.

pub mod content;
pub mod gltf;
pub mod implicit;
pub mod metadata;
pub mod model;
pub mod obj;
pub mod tileset;

use std::path::{Path, PathBuf};

use cim_engine::{ContentFrame, Crs, Project, Tile, TileContent, TilesetHead, TilesetKind, Transform};
use rayon::prelude::*;

use crate::error::{ImportError, Result, Warning};
use gltf::{apply, Mat4, IDENTITY};
use tileset::Volume;

/// WGS 84.
const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// Longitude and latitude (degrees) and ellipsoidal height (m) of an ECEF point on WGS 84, by
/// Bowring's formula (sub-millimetre from 10 km below to 1,000 km above the ellipsoid; two
/// arctangents and no iteration, the bulk of placing a tile).
pub fn geodetic(p: [f64; 3]) -> [f64; 3] {
    let e2 = F * (2.0 - F);
    let b = A * (1.0 - F);
    let ep2 = e2 / (1.0 - e2);
    let lon = p[1].atan2(p[0]);
    let r = p[0].hypot(p[1]);
    // The parametric latitude's sine and cosine, without trigonometry.
    let t = (p[2] * A) / (r * b);
    let c = 1.0 / (1.0 + t * t).sqrt();
    let s = t * c;
    let (y, x) = (p[2] + ep2 * b * s * s * s, r - e2 * A * c * c * c);
    let lat = y.atan2(x);
    let hyp = x.hypot(y);
    let (sin_lat, cos_lat) = (y / hyp, x / hyp);
    let n = A / (1.0 - e2 * sin_lat * sin_lat).sqrt();
    let h = if cos_lat.abs() > 1e-9 {
        r / cos_lat - n
    } else {
        p[2].abs() - n * (1.0 - e2)
    };
    [lon.to_degrees(), lat.to_degrees(), h]
}

/// Places points of a tileset's frame into the project CRS.
pub struct Placer {
    frame: ContentFrame,
    from_wgs84: Transform,
    /// From the frame's own CRS ([`ContentFrame::Crs`]).
    from_crs: Option<Transform>,
}

impl Placer {
    pub fn new(frame: &ContentFrame, project: &Crs) -> Result<Placer> {
        let wgs84 = Crs::from_epsg(4326).map_err(|e| ImportError::file(PathBuf::new(), e.to_string()))?;
        let from_crs = match frame {
            ContentFrame::Crs { crs, .. } => {
                let c = match crs.strip_prefix("EPSG:").and_then(|n| n.parse().ok()) {
                    Some(code) => Crs::from_epsg(code),
                    None => Crs::from_wkt(crs),
                }
                .map_err(|e| ImportError::file(PathBuf::new(), format!("the tileset's CRS: {e}")))?;
                Some(Transform::new(project, &c))
            }
            _ => None,
        };
        Ok(Placer {
            frame: frame.clone(),
            from_wgs84: Transform::new(project, &wgs84),
            from_crs,
        })
    }

    /// `points` (in the frame) into the project CRS, in place.
    pub fn place(&self, points: &mut [[f64; 3]]) -> std::result::Result<(), String> {
        match &self.frame {
            ContentFrame::Project => Ok(()),
            ContentFrame::Local { origin } => {
                let (s, c) = origin[3].to_radians().sin_cos();
                for p in points.iter_mut() {
                    *p = [
                        origin[0] + c * p[0] - s * p[1],
                        origin[1] + s * p[0] + c * p[1],
                        origin[2] + p[2],
                    ];
                }
                Ok(())
            }
            ContentFrame::Crs { origin, .. } => {
                let Some(t) = &self.from_crs else { return Ok(()) };
                points.par_chunks_mut(8192).try_for_each(|chunk| {
                    let mut xs: Vec<f64> = chunk.iter().map(|p| p[0] + origin[0]).collect();
                    let mut ys: Vec<f64> = chunk.iter().map(|p| p[1] + origin[1]).collect();
                    t.apply_slice(&mut xs, &mut ys).map_err(|e| e.to_string())?;
                    for (k, p) in chunk.iter_mut().enumerate() {
                        *p = [xs[k], ys[k], p[2] + origin[2]];
                    }
                    Ok(())
                })
            }
            ContentFrame::Ecef { geoid_offset_m } => {
                // In chunks on every core: placement is most of a tile's decoding.
                points
                    .par_chunks_mut(8192)
                    .try_for_each(|chunk| self.place_ecef(chunk, *geoid_offset_m))
            }
        }
    }

    fn place_ecef(&self, points: &mut [[f64; 3]], geoid_offset_m: f64) -> std::result::Result<(), String> {
        let mut xs = Vec::with_capacity(points.len());
        let mut ys = Vec::with_capacity(points.len());
        let mut hs = Vec::with_capacity(points.len());
        for p in points.iter() {
            let g = geodetic(*p);
            xs.push(g[0]);
            ys.push(g[1]);
            hs.push(g[2]);
        }
        self.from_wgs84
            .apply_slice(&mut xs, &mut ys)
            .map_err(|e| e.to_string())?;
        for (k, p) in points.iter_mut().enumerate() {
            *p = [xs[k], ys[k], hs[k] - geoid_offset_m];
        }
        Ok(())
    }

    /// Longitude/latitude (degrees) and ellipsoidal heights into the project CRS (for regions).
    fn place_geodetic(&self, points: &mut [[f64; 3]]) -> std::result::Result<(), String> {
        let geoid = match self.frame {
            ContentFrame::Ecef { geoid_offset_m } => geoid_offset_m,
            _ => 0.0,
        };
        let mut xs: Vec<f64> = points.iter().map(|p| p[0]).collect();
        let mut ys: Vec<f64> = points.iter().map(|p| p[1]).collect();
        self.from_wgs84
            .apply_slice(&mut xs, &mut ys)
            .map_err(|e| e.to_string())?;
        for (k, p) in points.iter_mut().enumerate() {
            *p = [xs[k], ys[k], p[2] - geoid];
        }
        Ok(())
    }
}

fn bounds_of(points: &[[f64; 3]]) -> [f64; 6] {
    crate::pointcloud::bounds_of(points.iter().copied())
}

fn union(a: [f64; 6], b: [f64; 6]) -> [f64; 6] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].min(b[2]),
        a[3].max(b[3]),
        a[4].max(b[4]),
        a[5].max(b[5]),
    ]
}

/// Points sampled over a volume (corners, edge and face middles), in the frame.
fn volume_points(v: &Volume, transform: &Mat4) -> Vec<[f64; 3]> {
    let steps = [-1.0, 0.0, 1.0];
    let mut out = Vec::with_capacity(27);
    match v {
        Volume::Box(b) => {
            for i in steps {
                for j in steps {
                    for k in steps {
                        let p = [0, 1, 2].map(|d| b[d] + b[3 + d] * i + b[6 + d] * j + b[9 + d] * k);
                        out.push(apply(transform, p));
                    }
                }
            }
        }
        Volume::Sphere(s) => {
            for i in steps {
                for j in steps {
                    for k in steps {
                        out.push(apply(
                            transform,
                            [s[0] + s[3] * i, s[1] + s[3] * j, s[2] + s[3] * k],
                        ));
                    }
                }
            }
        }
        Volume::Region(_) => {}
    }
    out
}

/// A volume's bounds in the project CRS.
fn volume_bounds(v: &Volume, transform: &Mat4, placer: &Placer) -> std::result::Result<[f64; 6], String> {
    let mut pts = match v {
        Volume::Region([w, s, e, n, lo, hi]) => {
            if !matches!(placer.frame, ContentFrame::Ecef { .. }) {
                return Err(
                    "a region volume (longitude and latitude) in a tileset not placed from ECEF".into(),
                );
            }
            let mut pts = Vec::with_capacity(50);
            for i in 0..5 {
                for j in 0..5 {
                    let lon = (w + (e - w) * f64::from(i) / 4.0).to_degrees();
                    let lat = (s + (n - s) * f64::from(j) / 4.0).to_degrees();
                    pts.push([lon, lat, *lo]);
                    pts.push([lon, lat, *hi]);
                }
            }
            placer.place_geodetic(&mut pts)?;
            return Ok(bounds_of(&pts));
        }
        other => volume_points(other, transform),
    };
    placer.place(&mut pts)?;
    Ok(bounds_of(&pts))
}

/// How to import a tileset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tiles3dOptions {
    /// The tileset's name (default: the folder's name).
    pub name: Option<String>,
    /// Leave the content where it lies and reference it (for datasets of hundreds of GB).
    pub reference: bool,
    /// The geoid's height above the ellipsoid there, m: 3D Tiles heights are ellipsoidal.
    pub geoid_offset_m: f64,
    /// For a tileset in local coordinates: where its (0, 0, 0) goes in the project CRS, and the
    /// rotation of its x axis from east (degrees anticlockwise).
    pub origin: Option<[f64; 4]>,
    /// Any warning (content left out) fails the import, and nothing is written.
    pub strict: bool,
}

/// What a 3D Tiles import did.
#[derive(Clone, Debug, PartialEq)]
pub struct Tiles3dReport {
    pub tileset: cim_engine::Tileset,
    /// The tileset's `asset.version`.
    pub version: String,
    /// Tiles with content kept, by kind (`b3dm`, `glb`, …).
    pub contents: std::collections::BTreeMap<String, u64>,
    pub warnings: Vec<Warning>,
}

/// One content read: its bytes, kind, counts and bounds in the project CRS.
struct Read {
    bytes: Vec<u8>,
    kind: &'static str,
    triangles: u64,
    points: u64,
    bounds: Option<[f64; 6]>,
}

fn read_content(
    path: &Path,
    transform: &Mat4,
    placer: &Placer,
    packed: bool,
) -> std::result::Result<Read, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let kind = content::sniff(&bytes)
        .ok_or("it is no 3D Tiles content cim knows (b3dm, i3dm, pnts, cmpt, glb, glTF)")?;
    if kind == "json" || kind == "subtree" {
        return Err(format!("a {kind} where tile content was expected"));
    }
    // Packed content has no folder beside it: decode it as the viewer will.
    let base = if packed { None } else { path.parent() };
    let mut c = content::decode(&bytes, kind, transform, base).map_err(|e| {
        if packed && e.contains("packed content") {
            format!("{e} (import with --reference to keep it beside its files)")
        } else {
            e
        }
    })?;
    let mut all: Vec<[f64; 3]> = c
        .model
        .parts
        .iter()
        .flat_map(|p| p.positions.iter().copied())
        .collect();
    all.append(&mut c.points);
    let points = all.len() as u64
        - c.model
            .parts
            .iter()
            .map(|p| p.positions.len() as u64)
            .sum::<u64>();
    let mut framed = all;
    placer.place(&mut framed)?;
    let bounds = (!framed.is_empty()).then(|| bounds_of(&framed));
    if let Some(b) = bounds {
        if b.iter().any(|v| !v.is_finite()) {
            return Err("its positions do not place (not finite)".into());
        }
    }
    Ok(Read {
        bytes,
        kind,
        triangles: c.model.triangles(),
        points,
        bounds,
    })
}

/// Is the tree georeferenced? Its root's centre (in the frame) within 100 km of the ellipsoid.
fn root_centre(tree: &tileset::Tree) -> Option<[f64; 3]> {
    let t = tree.tiles.first()?;
    match t.volume {
        Volume::Region(_) => None,
        Volume::Box(b) => Some(apply(&t.transform, [b[0], b[1], b[2]])),
        Volume::Sphere(s) => Some(apply(&t.transform, [s[0], s[1], s[2]])),
    }
}

/// Imports the 3D Tiles tileset at `path` (its `tileset.json`) into `project` as one tileset,
/// in one transaction.
pub fn import_3dtiles(project: &mut Project, path: &Path, opts: &Tiles3dOptions) -> Result<Tiles3dReport> {
    let tree = tileset::read_tree(path).map_err(|e| ImportError::file(path, e))?;
    if tree.tiles.is_empty() {
        return Err(ImportError::file(path, "it has no tiles"));
    }
    let frame = match opts.origin {
        Some(origin) => ContentFrame::Local { origin },
        None => {
            if let Some(c) = root_centre(&tree) {
                let h = geodetic(c)[2];
                if h.abs() > 100_000.0 {
                    return Err(ImportError::file(
                        path,
                        format!(
                            "it is not georeferenced: its root lies {:.0} km from the earth's surface (local coordinates); give --origin E,N,H[,rotation] to place it in the project CRS",
                            h.abs() / 1000.0
                        ),
                    ));
                }
            }
            ContentFrame::Ecef {
                geoid_offset_m: opts.geoid_offset_m,
            }
        }
    };
    let placer = Placer::new(&frame, project.crs())?;
    let root_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let root_canon = std::fs::canonicalize(&root_dir).unwrap_or_else(|_| root_dir.clone());
    let mut warnings: Vec<Warning> = tree
        .warnings
        .iter()
        .map(|(p, m)| Warning {
            path: p.clone(),
            record: None,
            message: m.clone(),
        })
        .collect();
    // Every content read once, in parallel.
    let reads: Vec<Option<std::result::Result<Read, String>>> = tree
        .tiles
        .par_iter()
        .map(|t| {
            t.content
                .as_ref()
                .map(|c| read_content(c, &t.transform, &placer, !opts.reference))
        })
        .collect();
    let mut tiles = Vec::with_capacity(tree.tiles.len());
    let mut contents = std::collections::BTreeMap::new();
    let (mut meshes, mut clouds) = (0u64, 0u64);
    for (id, (t, read)) in tree.tiles.iter().zip(reads).enumerate() {
        let mut bounds = volume_bounds(&t.volume, &t.transform, &placer)
            .map_err(|e| ImportError::file(path, format!("tile {id}: {e}")))?;
        let mut tile = Tile {
            id: id as u32,
            parent: t.parent,
            bounds,
            geometric_error: t.geometric_error,
            refine: if t.add {
                cim_engine::Refine::Add
            } else {
                cim_engine::Refine::Replace
            },
            content: TileContent::None,
            transform: (t.transform != IDENTITY).then_some(t.transform),
            triangles: 0,
            points: 0,
        };
        match (read, t.content.as_ref()) {
            (Some(Ok(r)), Some(file)) => {
                if let Some(b) = r.bounds {
                    bounds = union(bounds, b);
                }
                tile.bounds = bounds;
                tile.triangles = r.triangles;
                tile.points = r.points;
                *contents.entry(r.kind.to_string()).or_insert(0u64) += 1;
                if r.points > 0 && r.triangles == 0 {
                    clouds += 1;
                } else {
                    meshes += 1;
                }
                let rel = std::fs::canonicalize(file)
                    .ok()
                    .and_then(|f| f.strip_prefix(&root_canon).ok().map(Path::to_path_buf));
                tile.content = match (opts.reference, rel) {
                    (true, Some(rel)) => TileContent::Referenced {
                        format: r.kind.into(),
                        path: rel.to_string_lossy().replace('\\', "/"),
                    },
                    _ => TileContent::Packed {
                        format: r.kind.into(),
                        bytes: r.bytes,
                    },
                };
            }
            (Some(Err(e)), Some(file)) => warnings.push(Warning {
                path: file.clone(),
                record: None,
                message: format!("tile {id}: content left out: {e}"),
            }),
            _ => {}
        }
        tiles.push(tile);
    }
    if meshes + clouds == 0 {
        return Err(ImportError::file(
            path,
            match warnings.first() {
                Some(w) => format!(
                    "none of its content reads; the first: {}: {}",
                    w.path.display(),
                    w.message
                ),
                None => "it has no content".into(),
            },
        ));
    }
    let name = opts
        .name
        .clone()
        .or_else(|| root_dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tiles".into());
    let placement = match &frame {
        ContentFrame::Ecef { geoid_offset_m } => format!(
            "3D Tiles {} from ECEF (WGS 84) into {}, heights ellipsoidal less {geoid_offset_m} m of geoid",
            tree.version,
            project.crs().name()
        ),
        ContentFrame::Local { origin } => format!(
            "3D Tiles {} in local metres with its origin at E {} N {} H {}, x axis {}° from east, in {}",
            tree.version,
            origin[0],
            origin[1],
            origin[2],
            origin[3],
            project.crs().name()
        ),
        ContentFrame::Project | ContentFrame::Crs { .. } => String::new(),
    };
    let head = TilesetHead {
        name,
        kind: if clouds > 0 && meshes == 0 {
            TilesetKind::Points
        } else {
            TilesetKind::Mesh
        },
        source: path.display().to_string(),
        placement,
        root: opts.reference.then(|| root_canon.display().to_string()),
        frame,
    };
    let tileset = store(project, path, &head, &tiles, opts.strict, &warnings)?;
    Ok(Tiles3dReport {
        tileset,
        version: tree.version,
        contents,
        warnings,
    })
}

/// Stores a tileset in one transaction: under `strict`, a warning is the error and nothing is
/// written.
pub(crate) fn store(
    project: &mut Project,
    path: &Path,
    head: &TilesetHead,
    tiles: &[Tile],
    strict: bool,
    warnings: &[Warning],
) -> Result<cim_engine::Tileset> {
    if let (true, Some(w)) = (strict, warnings.first()) {
        return Err(ImportError::file(
            &w.path,
            format!("{} (--strict: nothing written)", w.message),
        ));
    }
    let mut tx = project.import().map_err(|e| ImportError::engine(path, e))?;
    let tileset = tx
        .put_tileset(head, tiles)
        .map_err(|e| ImportError::engine(path, e))?;
    tx.commit().map_err(|e| ImportError::engine(path, e))?;
    Ok(tileset)
}

/// A stored tile's content decoded and placed in the project CRS (for the viewer and exports).
pub fn decode_tile(
    bytes: &[u8],
    format: &str,
    transform: Option<&Mat4>,
    placer: &Placer,
    base: Option<&Path>,
) -> std::result::Result<content::Content, String> {
    let mut c = content::decode(bytes, format, transform.unwrap_or(&IDENTITY), base)?;
    for p in &mut c.model.parts {
        placer.place(&mut p.positions)?;
    }
    placer.place(&mut c.points)?;
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
