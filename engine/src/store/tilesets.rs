//! Tilesets: real-scene 3D (3D Tiles, oblique photography, big glTF/OBJ scenes, point clouds)
//! kept as a tree of tiles rather than as features. Each tile has its bounds in the project
//! CRS, its geometric error (how far, in metres, it is from the full detail of its subtree), its
//! parent, how its children refine it, and its content: packed into the project (the bytes as
//! delivered or as cim encodes them) or referenced where it lies (a path relative to the
//! tileset's root, for datasets of hundreds of GB). One row a tileset in `cim_tilesets`, one a
//! tile in `cim_tiles`; both are created by the first tileset stored, in the import's
//! transaction, so a failed import leaves none of it.

use std::path::Path;

use super::{Project, SqlContext};
use crate::error::{EngineError, Result};
use rusqlite::{params, Connection};

const TABLES: &str = "CREATE TABLE IF NOT EXISTS cim_tilesets (
  name TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, placement TEXT NOT NULL,
  root TEXT, frame TEXT NOT NULL, tiles INTEGER NOT NULL, triangles INTEGER NOT NULL, points INTEGER NOT NULL,
  min_x REAL NOT NULL, min_y REAL NOT NULL, min_z REAL NOT NULL,
  max_x REAL NOT NULL, max_y REAL NOT NULL, max_z REAL NOT NULL, imported TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cim_tiles (
  tileset TEXT NOT NULL, tile INTEGER NOT NULL, parent INTEGER,
  min_x REAL NOT NULL, min_y REAL NOT NULL, min_z REAL NOT NULL,
  max_x REAL NOT NULL, max_y REAL NOT NULL, max_z REAL NOT NULL,
  geometric_error REAL NOT NULL, refine TEXT NOT NULL, content_kind TEXT, content BLOB,
  content_path TEXT, transform TEXT, triangles INTEGER NOT NULL, points INTEGER NOT NULL,
  PRIMARY KEY (tileset, tile));";

/// What a tileset holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilesetKind {
    /// Triangle meshes (3D Tiles b3dm/glb, oblique photography, glTF/OBJ scenes).
    Mesh,
    /// Points (LAS/LAZ, 3D Tiles pnts).
    Points,
}

impl TilesetKind {
    pub fn name(self) -> &'static str {
        match self {
            TilesetKind::Mesh => "mesh",
            TilesetKind::Points => "points",
        }
    }

    fn parse(s: &str) -> Option<TilesetKind> {
        match s {
            "mesh" => Some(TilesetKind::Mesh),
            "points" => Some(TilesetKind::Points),
            _ => None,
        }
    }
}

/// How a tile's children refine it: they replace it, or add to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refine {
    Replace,
    Add,
}

impl Refine {
    pub fn name(self) -> &'static str {
        match self {
            Refine::Replace => "REPLACE",
            Refine::Add => "ADD",
        }
    }
}

/// Where a tile's content is.
#[derive(Clone, Debug, PartialEq)]
pub enum TileContent {
    /// No content (a tile that only groups its children).
    None,
    /// In the project: its format (`glb`, `b3dm`, `pnts`, `osgb`, …) and bytes.
    Packed { format: String, bytes: Vec<u8> },
    /// Where it lies: its format and its path relative to the tileset's root.
    Referenced { format: String, path: String },
}

/// The coordinates a tileset's content is in (after each tile's `transform`), so a reader can
/// place it in the project CRS.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum ContentFrame {
    /// The project CRS already (cim's own point tiles).
    Project,
    /// Earth-centred, earth-fixed metres on WGS 84 (3D Tiles). Its heights are ellipsoidal: the
    /// project's are those less `geoid_offset_m` (the geoid's height above the ellipsoid there).
    Ecef { geoid_offset_m: f64 },
    /// Local metres, z up, placed at `origin`: easting, northing and height in the project CRS
    /// of the local (0, 0, 0) and the rotation of the local x axis from east (degrees,
    /// anticlockwise).
    Local { origin: [f64; 4] },
    /// Metres in another projected CRS (`crs`: an `EPSG:n` code or a WKT), offset from `origin`
    /// in it (oblique photography's `SRSOrigin`); moved into the project CRS point by point.
    Crs { crs: String, origin: [f64; 3] },
}

impl ContentFrame {
    fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"frame":"project"}"#.into())
    }
}

/// What a tileset is, as an import gives it to [`super::ImportTx::put_tileset`].
#[derive(Clone, Debug, PartialEq)]
pub struct TilesetHead {
    pub name: String,
    pub kind: TilesetKind,
    /// The file or folder it came from.
    pub source: String,
    /// How it was placed in the project CRS, in words for the user to check.
    pub placement: String,
    /// The folder referenced content lies in (`None`: all packed).
    pub root: Option<String>,
    pub frame: ContentFrame,
}

/// One tile.
#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    /// Its number in the tileset (0 the root).
    pub id: u32,
    pub parent: Option<u32>,
    /// `[min_x, min_y, min_z, max_x, max_y, max_z]` in the project CRS.
    pub bounds: [f64; 6],
    /// Metres.
    pub geometric_error: f64,
    pub refine: Refine,
    pub content: TileContent,
    /// Column-major 4×4 matrix from the content's coordinates into the tileset's
    /// [`ContentFrame`] (3D Tiles' transforms down the tree, multiplied out); `None`: identity.
    pub transform: Option<[f64; 16]>,
    pub triangles: u64,
    pub points: u64,
}

/// A tileset as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Tileset {
    pub name: String,
    pub kind: TilesetKind,
    /// The file or folder it came from.
    pub source: String,
    /// How it was placed in the project CRS, for the user to check.
    pub placement: String,
    /// The folder referenced content lies in (`None`: all packed).
    pub root: Option<String>,
    /// The coordinates its content is in.
    pub frame: ContentFrame,
    pub tiles: u64,
    pub triangles: u64,
    pub points: u64,
    /// `[min_x, min_y, min_z, max_x, max_y, max_z]` in the project CRS, of all its tiles.
    pub bounds: [f64; 6],
}

/// Checks a tile tree: ids from 0 without gaps, one root (tile 0, no parent), each parent an
/// earlier tile, finite bounds with min ≤ max, errors finite and not negative, referenced paths
/// relative and inside the root. The reason names the tile.
pub fn check_tiles(tiles: &[Tile]) -> std::result::Result<(), String> {
    if tiles.is_empty() {
        return Err("no tiles".into());
    }
    for (k, t) in tiles.iter().enumerate() {
        let bad = |why: String| Err(format!("tile {}: {why}", t.id));
        if t.id as usize != k {
            return bad(format!(
                "numbered {} where {k} was due (tiles go from 0 without gaps)",
                t.id
            ));
        }
        match t.parent {
            None if k != 0 => return bad("has no parent (only tile 0, the root, has none)".into()),
            Some(_) if k == 0 => return bad("is the root and cannot have a parent".into()),
            Some(p) if p as usize >= k => {
                return bad(format!("names parent {p}, which is not an earlier tile"))
            }
            _ => {}
        }
        let b = t.bounds;
        if b.iter().any(|v| !v.is_finite()) || (0..3).any(|i| b[i] > b[i + 3]) {
            return bad(format!("bounds {b:?} are not finite min then max"));
        }
        if t.transform.is_some_and(|m| m.iter().any(|v| !v.is_finite())) {
            return bad("its transform is not finite".into());
        }
        if !(t.geometric_error.is_finite() && t.geometric_error >= 0.0) {
            return bad(format!("geometric error {} is not a length", t.geometric_error));
        }
        if let TileContent::Referenced { path, .. } = &t.content {
            let p = Path::new(path);
            if p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return bad(format!(
                    "content path '{path}' must be relative to the tileset's root and inside it"
                ));
            }
        }
    }
    Ok(())
}

/// The bounds holding all of `tiles`.
fn union(tiles: &[Tile]) -> [f64; 6] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for t in tiles {
        for i in 0..3 {
            b[i] = b[i].min(t.bounds[i]);
            b[i + 3] = b[i + 3].max(t.bounds[i + 3]);
        }
    }
    b
}

impl super::ImportTx<'_> {
    /// Stores a tileset and its tiles (replacing one of the same name) in the import's
    /// transaction; returns the tileset as recorded (counts and bounds from its tiles). A tree
    /// that is not one is an error naming the tileset and the tile, and stores nothing.
    pub fn put_tileset(&mut self, head: &TilesetHead, tiles: &[Tile]) -> Result<Tileset> {
        let path = self.path().to_path_buf();
        let name = head.name.as_str();
        let root = head.root.as_deref();
        let invalid = |reason: String| EngineError::Tileset {
            name: name.to_string(),
            reason,
        };
        check_tiles(tiles).map_err(invalid)?;
        if root.is_none()
            && tiles
                .iter()
                .any(|t| matches!(t.content, TileContent::Referenced { .. }))
        {
            return Err(invalid(
                "it references content but names no root folder for it".into(),
            ));
        }
        let tx = self.connection();
        tx.execute_batch(TABLES).ctx(&path)?;
        tx.execute("DELETE FROM cim_tiles WHERE tileset = ?1", params![name])
            .ctx(&path)?;
        let set = Tileset {
            name: name.to_string(),
            kind: head.kind,
            source: head.source.clone(),
            placement: head.placement.clone(),
            root: root.map(str::to_string),
            frame: head.frame.clone(),
            tiles: tiles.len() as u64,
            triangles: tiles.iter().map(|t| t.triangles).sum(),
            points: tiles.iter().map(|t| t.points).sum(),
            bounds: union(tiles),
        };
        let b = set.bounds;
        tx.execute(
            "INSERT OR REPLACE INTO cim_tilesets (name, kind, source, placement, root, frame, tiles, triangles, points,
               min_x, min_y, min_z, max_x, max_y, max_z, imported)
             VALUES (?1, ?2, ?3, ?4, ?5, ?15, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![
                set.name,
                set.kind.name(),
                set.source,
                set.placement,
                set.root,
                set.tiles as i64,
                set.triangles as i64,
                set.points as i64,
                b[0],
                b[1],
                b[2],
                b[3],
                b[4],
                b[5],
                set.frame.to_text()
            ],
        )
        .ctx(&path)?;
        let mut st = tx
            .prepare(
                "INSERT INTO cim_tiles (tileset, tile, parent, min_x, min_y, min_z, max_x, max_y, max_z,
                   geometric_error, refine, content_kind, content, content_path, triangles, points, transform)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .ctx(&path)?;
        for t in tiles {
            let (format, bytes, at): (Option<&str>, Option<&[u8]>, Option<&str>) = match &t.content {
                TileContent::None => (None, None, None),
                TileContent::Packed { format, bytes } => (Some(format), Some(bytes), None),
                TileContent::Referenced { format, path } => (Some(format), None, Some(path)),
            };
            let b = t.bounds;
            st.execute(params![
                name,
                t.id,
                t.parent,
                b[0],
                b[1],
                b[2],
                b[3],
                b[4],
                b[5],
                t.geometric_error,
                t.refine.name(),
                format,
                bytes,
                at,
                t.triangles as i64,
                t.points as i64,
                t.transform
                    .map(|m| serde_json::to_string(&m.to_vec()).unwrap_or_default())
            ])
            .ctx(&path)?;
        }
        Ok(set)
    }
}

fn has_tables(conn: &Connection, path: &Path) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cim_tilesets')",
        [],
        |r| r.get(0),
    )
    .ctx(path)
}

impl Project {
    /// The tilesets stored, by name.
    pub fn tilesets(&self) -> Result<Vec<Tileset>> {
        let path = self.meta.path.clone();
        if !has_tables(&self.conn, &path)? {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT name, kind, source, placement, root, tiles, triangles, points,
                        min_x, min_y, min_z, max_x, max_y, max_z, frame FROM cim_tilesets ORDER BY name",
            )
            .ctx(&path)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(14)?,
                    Tileset {
                        name: r.get(0)?,
                        kind: TilesetKind::Mesh,
                        source: r.get(2)?,
                        placement: r.get(3)?,
                        root: r.get(4)?,
                        frame: ContentFrame::Project,
                        tiles: r.get::<_, i64>(5)?.max(0) as u64,
                        triangles: r.get::<_, i64>(6)?.max(0) as u64,
                        points: r.get::<_, i64>(7)?.max(0) as u64,
                        bounds: [
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                            r.get(11)?,
                            r.get(12)?,
                            r.get(13)?,
                        ],
                    },
                ))
            })
            .ctx(&path)?;
        let mut out = Vec::new();
        for r in rows {
            let (kind, frame, mut set) = r.ctx(&path)?;
            set.frame = serde_json::from_str(&frame).map_err(|e| EngineError::Tileset {
                name: set.name.clone(),
                reason: format!("{}: its frame '{frame}' does not read: {e}", path.display()),
            })?;
            set.kind = TilesetKind::parse(&kind).ok_or_else(|| EngineError::Tileset {
                name: set.name.clone(),
                reason: format!(
                    "{}: of kind '{kind}', which this cim does not know",
                    path.display()
                ),
            })?;
            out.push(set);
        }
        Ok(out)
    }

    /// The tiles of tileset `name`, in id order, without their packed bytes (their content's
    /// format and size only; read them with [`Project::tile_bytes`]). A tileset not stored is an
    /// error naming the ones there are.
    pub fn tiles(&self, name: &str) -> Result<Vec<(Tile, u64)>> {
        let path = self.meta.path.clone();
        let sets = self.tilesets()?;
        if !sets.iter().any(|s| s.name == name) {
            let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
            return Err(EngineError::Tileset {
                name: name.to_string(),
                reason: format!(
                    "not in {} (tilesets: {})",
                    path.display(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            });
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT tile, parent, min_x, min_y, min_z, max_x, max_y, max_z, geometric_error, refine,
                        content_kind, length(content), content_path, triangles, points, transform
                 FROM cim_tiles WHERE tileset = ?1 ORDER BY tile",
            )
            .ctx(&path)?;
        let rows = st
            .query_map(params![name], |r| {
                let format: Option<String> = r.get(10)?;
                let size: Option<i64> = r.get(11)?;
                let at: Option<String> = r.get(12)?;
                let content = match (format, at) {
                    (Some(format), Some(path)) => TileContent::Referenced { format, path },
                    (Some(format), None) => TileContent::Packed {
                        format,
                        bytes: Vec::new(),
                    },
                    _ => TileContent::None,
                };
                Ok((
                    Tile {
                        id: r.get(0)?,
                        parent: r.get(1)?,
                        bounds: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                        geometric_error: r.get(8)?,
                        refine: if r.get::<_, String>(9)? == "ADD" {
                            Refine::Add
                        } else {
                            Refine::Replace
                        },
                        content,
                        transform: r
                            .get::<_, Option<String>>(15)?
                            .and_then(|t| serde_json::from_str::<Vec<f64>>(&t).ok())
                            .and_then(|v| <[f64; 16]>::try_from(v).ok()),
                        triangles: r.get::<_, i64>(13)?.max(0) as u64,
                        points: r.get::<_, i64>(14)?.max(0) as u64,
                    },
                    size.unwrap_or(0).max(0) as u64,
                ))
            })
            .ctx(&path)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.ctx(&path)?);
        }
        Ok(out)
    }

    /// The bytes of a tile's content: packed ones from the project, referenced ones read from
    /// the tileset's root (a missing file is an error naming it, the tileset and the tile);
    /// `None` for a tile without content.
    pub fn tile_bytes(&self, name: &str, tile: u32) -> Result<Option<Vec<u8>>> {
        let path = self.meta.path.clone();
        let set = self
            .tilesets()?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| EngineError::Tileset {
                name: name.to_string(),
                reason: format!("not in {}", path.display()),
            })?;
        let row: Option<(Option<Vec<u8>>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT content, content_path FROM cim_tiles WHERE tileset = ?1 AND tile = ?2",
                params![name, tile],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .ctx(&path)?;
        let Some((bytes, at)) = row else {
            return Err(EngineError::Tileset {
                name: name.to_string(),
                reason: format!("{}: no tile {tile}", path.display()),
            });
        };
        match (bytes, at) {
            (Some(b), _) => Ok(Some(b)),
            (None, Some(rel)) => {
                let root = set.root.unwrap_or_default();
                let file = Path::new(&root).join(&rel);
                std::fs::read(&file).map(Some).map_err(|e| EngineError::Tileset {
                    name: name.to_string(),
                    reason: format!("tile {tile}: cannot read its content {}: {e}", file.display()),
                })
            }
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tile(id: u32, parent: Option<u32>, content: TileContent) -> Tile {
        let d = f64::from(id);
        Tile {
            id,
            parent,
            bounds: [
                500_000.0 + d,
                4_000_000.0,
                10.0,
                500_100.0 + d,
                4_000_100.0,
                40.0 + d,
            ],
            geometric_error: 16.0 / f64::from(id + 1),
            refine: Refine::Replace,
            content,
            transform: (id == 1).then_some([
                1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 5.0, 6.0, 7.0, 1.0,
            ]),
            triangles: 100 * u64::from(id),
            points: 0,
        }
    }

    fn head(name: &str, kind: TilesetKind, source: &str, placement: &str, root: Option<&str>) -> TilesetHead {
        TilesetHead {
            name: name.into(),
            kind,
            source: source.into(),
            placement: placement.into(),
            root: root.map(str::to_string),
            frame: ContentFrame::Ecef { geoid_offset_m: 1.5 },
        }
    }

    fn project(dir: &Path) -> Project {
        let crs = crate::Crs::from_epsg(32650).unwrap();
        Project::create(&dir.join("t.cim.gpkg"), &crs, "440100").unwrap()
    }

    #[test]
    fn a_tileset_is_stored_with_its_tree_and_its_content_packed_or_referenced() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = project(dir.path());
        std::fs::create_dir_all(dir.path().join("photo/Data/Tile_1")).unwrap();
        std::fs::write(dir.path().join("photo/Data/Tile_1/Tile_1.osgb"), b"far away").unwrap();
        let tiles = vec![
            tile(0, None, TileContent::None),
            tile(
                1,
                Some(0),
                TileContent::Packed {
                    format: "glb".into(),
                    bytes: b"glTF....".to_vec(),
                },
            ),
            tile(
                2,
                Some(0),
                TileContent::Referenced {
                    format: "osgb".into(),
                    path: "Data/Tile_1/Tile_1.osgb".into(),
                },
            ),
        ];
        let root = dir.path().join("photo").display().to_string();
        let mut tx = p.import().unwrap();
        let set = tx
            .put_tileset(
                &head(
                    "photo",
                    TilesetKind::Mesh,
                    "photo/metadata.xml",
                    "EPSG:32650 as the project",
                    Some(&root),
                ),
                &tiles,
            )
            .unwrap();
        tx.commit().unwrap();
        assert_eq!((set.tiles, set.triangles, set.points), (3, 300, 0));
        assert_eq!(
            set.bounds,
            [500_000.0, 4_000_000.0, 10.0, 500_102.0, 4_000_100.0, 42.0]
        );
        assert_eq!(p.tilesets().unwrap(), vec![set]);
        let stored = p.tiles("photo").unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[1].1, 8);
        assert_eq!(stored[2].0.content, tiles[2].content);
        assert_eq!(
            (stored[2].0.parent, stored[2].0.geometric_error),
            (Some(0), 16.0 / 3.0)
        );
        assert_eq!(p.tile_bytes("photo", 1).unwrap().unwrap(), b"glTF....");
        assert_eq!(p.tile_bytes("photo", 2).unwrap().unwrap(), b"far away");
        assert_eq!(p.tile_bytes("photo", 0).unwrap(), None);
        // Stored again: replaced, not doubled.
        let mut tx = p.import().unwrap();
        tx.put_tileset(
            &head("photo", TilesetKind::Mesh, "again", "", Some(&root)),
            &tiles[..2],
        )
        .unwrap();
        tx.commit().unwrap();
        assert_eq!(p.tiles("photo").unwrap().len(), 2);
        assert_eq!(p.tilesets().unwrap().len(), 1);
        // What is missing is named.
        let e = p.tiles("lidar").unwrap_err().to_string();
        assert!(
            e.contains("tileset 'lidar'") && e.contains("tilesets: photo"),
            "{e}"
        );
        let e = p.tile_bytes("photo", 9).unwrap_err().to_string();
        assert!(e.contains("no tile 9"), "{e}");
        std::fs::remove_file(dir.path().join("photo/Data/Tile_1/Tile_1.osgb")).unwrap();
        let mut tx = p.import().unwrap();
        tx.put_tileset(&head("photo", TilesetKind::Mesh, "x", "", Some(&root)), &tiles)
            .unwrap();
        tx.commit().unwrap();
        let e = p.tile_bytes("photo", 2).unwrap_err().to_string();
        assert!(
            e.contains("tile 2: cannot read its content") && e.contains("Tile_1.osgb"),
            "{e}"
        );
    }

    #[test]
    fn a_tree_that_is_not_one_is_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = project(dir.path());
        let ok = || {
            vec![
                tile(0, None, TileContent::None),
                tile(1, Some(0), TileContent::None),
            ]
        };
        let cases: Vec<(Vec<Tile>, &str)> = vec![
            (vec![], "no tiles"),
            (
                vec![
                    tile(0, None, TileContent::None),
                    tile(2, Some(0), TileContent::None),
                ],
                "tile 2: numbered 2 where 1 was due",
            ),
            (
                vec![tile(0, None, TileContent::None), tile(1, None, TileContent::None)],
                "tile 1: has no parent",
            ),
            (vec![tile(0, Some(0), TileContent::None)], "tile 0: is the root"),
            (
                vec![
                    tile(0, None, TileContent::None),
                    tile(1, Some(1), TileContent::None),
                ],
                "names parent 1",
            ),
            (
                {
                    let mut t = ok();
                    t[1].bounds[0] = f64::NAN;
                    t
                },
                "tile 1: bounds",
            ),
            (
                {
                    let mut t = ok();
                    t[1].bounds[2] = 99.0;
                    t
                },
                "tile 1: bounds",
            ),
            (
                {
                    let mut t = ok();
                    t[1].geometric_error = -1.0;
                    t
                },
                "geometric error -1",
            ),
            (
                {
                    let mut t = ok();
                    t[1].content = TileContent::Referenced {
                        format: "b3dm".into(),
                        path: "../../etc/passwd".into(),
                    };
                    t
                },
                "inside it",
            ),
        ];
        for (tiles, want) in cases {
            let mut tx = p.import().unwrap();
            let e = tx
                .put_tileset(&head("bad", TilesetKind::Mesh, "s", "", Some("/data")), &tiles)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("tileset 'bad': ") && e.contains(want),
                "{e} (wanted {want})"
            );
        }
        // Referenced content needs a root.
        let mut t = ok();
        t[1].content = TileContent::Referenced {
            format: "b3dm".into(),
            path: "a.b3dm".into(),
        };
        let mut tx = p.import().unwrap();
        let e = tx
            .put_tileset(&head("bad", TilesetKind::Mesh, "s", "", None), &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no root folder"), "{e}");
        drop(tx);
        assert!(p.tilesets().unwrap().is_empty());
        // An import dropped before commit leaves nothing.
        let mut tx = p.import().unwrap();
        tx.put_tileset(&head("gone", TilesetKind::Points, "s", "", None), &ok())
            .unwrap();
        drop(tx);
        assert!(p.tilesets().unwrap().is_empty());
    }
}
