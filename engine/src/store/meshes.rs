//! Features' 3-D representations in the project: `cim_meshes`, a row per feature (by city
//! code), level of detail and geometry kind, with its box, its counts and the mesh in the
//! compact encoding of [`crate::mesh`]. The feature's 2-D footprint stays in its layer (QGIS,
//! `cim query`, the R-tree and flood runs use it); this table adds what is above it.

use rusqlite::{params, Connection};

use super::{ImportTx, Project, SqlContext};
use crate::error::{EngineError, Result};
use crate::mesh::{decode_mesh, EncodedRepresentation, GeometryKind, Representation, MESH_ENCODING};
use crate::CityCode;

const MESH_TABLE: &str = "
CREATE TABLE IF NOT EXISTS cim_meshes (
  code TEXT NOT NULL, layer TEXT NOT NULL, lod TEXT NOT NULL, kind TEXT NOT NULL,
  min_x REAL NOT NULL, min_y REAL NOT NULL, min_z REAL NOT NULL,
  max_x REAL NOT NULL, max_y REAL NOT NULL, max_z REAL NOT NULL,
  n_vertices INTEGER NOT NULL, n_triangles INTEGER NOT NULL, encoding TEXT NOT NULL, data BLOB NOT NULL,
  paints TEXT,
  PRIMARY KEY (code, lod, kind));
CREATE INDEX IF NOT EXISTS cim_meshes_layer ON cim_meshes (layer, lod);";

/// The 3-D representations of one layer at one level of detail, in sum.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MeshSummary {
    pub layer: String,
    pub lod: String,
    pub kind: String,
    pub features: u64,
    pub triangles: u64,
    pub bytes: u64,
}

pub(super) fn has_table(conn: &Connection, path: &std::path::Path) -> Result<bool> {
    super::manage::table_exists(conn, path, "cim_meshes")
}

/// Whether `cim_meshes` has the `paints` column (projects written before it lack it).
fn has_paints(conn: &Connection, path: &std::path::Path) -> Result<bool> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info('cim_meshes')")
        .ctx(path)?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0)).ctx(path)?;
    for n in names {
        if n.ctx(path)? == "paints" {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `paints` column's text for `paints` (NULL where there are none).
fn paints_json(paints: &[crate::mesh::Paint]) -> Option<String> {
    (!paints.is_empty()).then(|| serde_json::to_string(paints).unwrap_or_default())
}

fn paints_of(code: &str, lod: &str, text: Option<String>) -> Result<Vec<crate::mesh::Paint>> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t).map_err(|e| bad_blob(code, lod, format!("its paints: {e}"))),
    }
}

fn bad_blob(code: &str, lod: &str, reason: String) -> EngineError {
    EngineError::Geometry {
        reason: format!("the stored 3-D geometry of {code} (LoD {lod}) cannot be read: {reason}"),
    }
}

impl ImportTx<'_> {
    /// Stores the 3-D representations of the feature `code` of `layer`, replacing those it had.
    pub fn put_representations(
        &mut self,
        layer: &str,
        code: &CityCode,
        reps: &[Representation],
    ) -> Result<()> {
        let encoded: Vec<EncodedRepresentation> = reps.iter().filter_map(Representation::encode).collect();
        self.put_encoded_representations(layer, code, &encoded)
    }

    /// [`ImportTx::put_representations`] of representations encoded already (on any thread).
    pub fn put_encoded_representations(
        &mut self,
        layer: &str,
        code: &CityCode,
        reps: &[EncodedRepresentation],
    ) -> Result<()> {
        let path = self.path().to_path_buf();
        let tx = self.connection();
        if !self.meshes_ready {
            tx.execute_batch(MESH_TABLE).ctx(&path)?;
            if !has_paints(tx, &path)? {
                tx.execute_batch("ALTER TABLE cim_meshes ADD COLUMN paints TEXT")
                    .ctx(&path)?;
            }
            self.meshes_ready = true;
        }
        let code = code.to_string();
        tx.prepare_cached("DELETE FROM cim_meshes WHERE code = ?1")
            .and_then(|mut s| s.execute([&code]))
            .ctx(&path)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO cim_meshes (code, layer, lod, kind, min_x, min_y, min_z, max_x, max_y, max_z,
                   n_vertices, n_triangles, encoding, data, paints)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .ctx(&path)?;
        for r in reps {
            let (lo, hi) = r.bounds;
            insert
                .execute(params![
                    code,
                    layer,
                    r.lod,
                    r.kind.name(),
                    lo[0],
                    lo[1],
                    lo[2],
                    hi[0],
                    hi[1],
                    hi[2],
                    r.vertices as i64,
                    r.triangles as i64,
                    MESH_ENCODING,
                    r.data,
                    paints_json(&r.paints)
                ])
                .ctx(&path)?;
        }
        Ok(())
    }
}

impl Project {
    /// The 3-D representations of the feature `code`, by level of detail.
    pub fn representations(&self, code: &CityCode) -> Result<Vec<Representation>> {
        let path = &self.meta.path;
        if !has_table(&self.conn, path)? {
            return Ok(Vec::new());
        }
        let code = code.to_string();
        let paints = if has_paints(&self.conn, path)? {
            "paints"
        } else {
            "NULL"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT lod, kind, encoding, data, {paints} FROM cim_meshes WHERE code = ?1 ORDER BY lod, kind"
            ))
            .ctx(path)?;
        let rows = stmt
            .query_map([&code], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .ctx(path)?;
        let mut out = Vec::new();
        for row in rows {
            let (lod, kind, encoding, data, paints) = row.ctx(path)?;
            let mut rep = representation(&code, lod, &kind, &encoding, &data)?;
            rep.paints = paints_of(&code, &rep.lod, paints)?;
            out.push(rep);
        }
        Ok(out)
    }

    /// Calls `f` with each feature's code and 3-D representation in `layer` at `lod` (every
    /// level where `None`), in code order.
    pub fn for_each_representation(
        &self,
        layer: &str,
        lod: Option<&str>,
        mut f: impl FnMut(&str, Representation) -> Result<()>,
    ) -> Result<()> {
        let path = &self.meta.path;
        if !has_table(&self.conn, path)? {
            return Ok(());
        }
        let paints = if has_paints(&self.conn, path)? {
            "paints"
        } else {
            "NULL"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT code, lod, kind, encoding, data, {paints} FROM cim_meshes
                 WHERE layer = ?1 AND (?2 IS NULL OR lod = ?2) ORDER BY code, lod"
            ))
            .ctx(path)?;
        let mut rows = stmt.query(params![layer, lod]).ctx(path)?;
        while let Some(r) = rows.next().ctx(path)? {
            let code: String = r.get(0).ctx(path)?;
            let mut rep = representation(
                &code,
                r.get(1).ctx(path)?,
                &r.get::<_, String>(2).ctx(path)?,
                &r.get::<_, String>(3).ctx(path)?,
                &r.get::<_, Vec<u8>>(4).ctx(path)?,
            )?;
            rep.paints = paints_of(&code, &rep.lod, r.get(5).ctx(path)?)?;
            f(&code, rep)?;
        }
        Ok(())
    }

    /// Per layer and level of detail: how many features have 3-D geometry, their triangles and
    /// the bytes stored.
    pub fn mesh_summary(&self) -> Result<Vec<MeshSummary>> {
        let path = &self.meta.path;
        if !has_table(&self.conn, path)? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT layer, lod, kind, count(*), sum(n_triangles), sum(length(data)) FROM cim_meshes
                 GROUP BY layer, lod, kind ORDER BY layer, lod, kind",
            )
            .ctx(path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(MeshSummary {
                    layer: r.get(0)?,
                    lod: r.get(1)?,
                    kind: r.get(2)?,
                    features: r.get::<_, i64>(3)?.max(0) as u64,
                    triangles: r.get::<_, i64>(4)?.max(0) as u64,
                    bytes: r.get::<_, i64>(5)?.max(0) as u64,
                })
            })
            .ctx(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)
    }
}

fn representation(
    code: &str,
    lod: String,
    kind: &str,
    encoding: &str,
    data: &[u8],
) -> Result<Representation> {
    if encoding != MESH_ENCODING {
        return Err(bad_blob(code, &lod, format!("unknown encoding '{encoding}'")));
    }
    let mesh = decode_mesh(data).map_err(|e| bad_blob(code, &lod, e.to_string()))?;
    Ok(Representation {
        kind: GeometryKind::from_name(kind).unwrap_or_default(),
        lod,
        mesh,
        paints: Vec::new(),
    })
}

/// Removes `layer`'s meshes (with the layer), in the open transaction `tx`, and the texture
/// images no mesh uses any more.
pub(super) fn drop_layer(tx: &Connection, path: &std::path::Path, layer: &str) -> Result<()> {
    if has_table(tx, path)? {
        tx.execute("DELETE FROM cim_meshes WHERE layer = ?1", [layer])
            .ctx(path)?;
        if super::manage::table_exists(tx, path, "cim_textures")? {
            let used = if has_paints(tx, path)? {
                "SELECT json_extract(p.value, '$.texture') FROM cim_meshes m, json_each(m.paints) p
                 WHERE m.paints IS NOT NULL AND json_extract(p.value, '$.texture') IS NOT NULL"
            } else {
                "SELECT NULL WHERE 0"
            };
            tx.execute(&format!("DELETE FROM cim_textures WHERE id NOT IN ({used})"), [])
                .ctx(path)?;
        }
    }
    Ok(())
}

/// Moves `old`'s meshes to `new` (with the layer), in the open transaction `tx`.
pub(super) fn rename_layer(tx: &Connection, path: &std::path::Path, old: &str, new: &str) -> Result<()> {
    if has_table(tx, path)? {
        tx.execute("UPDATE cim_meshes SET layer = ?2 WHERE layer = ?1", [old, new])
            .ctx(path)?;
    }
    Ok(())
}
