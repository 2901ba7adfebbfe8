//! BIM models imported into the project: where each was placed and how (so a planner can check
//! the georeferencing later), its schema and its elements by IFC class. One row a model, keyed
//! by the layer its elements went to; the table is created by the first BIM import.

use super::{Project, SqlContext};
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS cim_bim_models (
  layer TEXT NOT NULL PRIMARY KEY, file TEXT NOT NULL, schema TEXT NOT NULL,
  method TEXT NOT NULL, crs TEXT NOT NULL, origin_e REAL NOT NULL, origin_n REAL NOT NULL,
  origin_h REAL NOT NULL, rotation_deg REAL NOT NULL, scale REAL NOT NULL,
  elements INTEGER NOT NULL, skipped INTEGER NOT NULL, classes TEXT NOT NULL, imported TEXT NOT NULL)";

/// A BIM model as imported.
#[derive(Clone, Debug, PartialEq)]
pub struct BimModel {
    /// The layer its elements (buildings' parts) went to.
    pub layer: String,
    pub file: String,
    /// `IFC2X3`, `IFC4`, `IFC4X3_ADD2`…
    pub schema: String,
    /// How it was placed (`IfcMapConversion`, `--origin`…).
    pub method: String,
    /// The CRS its placement is stated in.
    pub crs: String,
    /// Its origin on the map (in `crs`), its rotation (degrees anticlockwise from east) and
    /// scale (model units to map units).
    pub origin: [f64; 3],
    pub rotation_deg: f64,
    pub scale: f64,
    /// Elements imported, and those whose geometry failed (left out).
    pub elements: u64,
    pub skipped: u64,
    /// Elements by IFC class, sorted by class.
    pub classes: Vec<(String, u64)>,
}

fn classes_text(classes: &[(String, u64)]) -> String {
    classes
        .iter()
        .map(|(c, n)| format!("{c}={n}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn classes_of(text: &str) -> Vec<(String, u64)> {
    text.split(';')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

impl super::ImportTx<'_> {
    /// Records a BIM model (replacing the record of an earlier import into the same layer).
    pub fn put_bim_model(&mut self, m: &BimModel) -> Result<()> {
        let path = self.path().to_path_buf();
        let tx = self.connection();
        tx.execute_batch(TABLE).ctx(&path)?;
        tx.execute(
            "INSERT OR REPLACE INTO cim_bim_models (layer, file, schema, method, crs, origin_e, origin_n,
               origin_h, rotation_deg, scale, elements, skipped, classes, imported)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![
                m.layer,
                m.file,
                m.schema,
                m.method,
                m.crs,
                m.origin[0],
                m.origin[1],
                m.origin[2],
                m.rotation_deg,
                m.scale,
                m.elements as i64,
                m.skipped as i64,
                classes_text(&m.classes)
            ],
        )
        .ctx(&path)?;
        Ok(())
    }
}

fn has_table(conn: &Connection, path: &std::path::Path) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cim_bim_models')",
        [],
        |r| r.get(0),
    )
    .ctx(path)
}

/// Forgets the model of a removed layer.
pub(super) fn drop_layer(tx: &Connection, path: &std::path::Path, layer: &str) -> Result<()> {
    if has_table(tx, path)? {
        tx.execute("DELETE FROM cim_bim_models WHERE layer = ?1", params![layer])
            .ctx(path)?;
    }
    Ok(())
}

/// Follows a renamed layer.
pub(super) fn rename_layer(tx: &Connection, path: &std::path::Path, old: &str, new: &str) -> Result<()> {
    if has_table(tx, path)? {
        tx.execute(
            "UPDATE cim_bim_models SET layer = ?2 WHERE layer = ?1",
            params![old, new],
        )
        .ctx(path)?;
    }
    Ok(())
}

impl Project {
    /// The BIM models imported, by layer.
    pub fn bim_models(&self) -> Result<Vec<BimModel>> {
        let path = self.meta.path.clone();
        if !has_table(&self.conn, &path)? {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT layer, file, schema, method, crs, origin_e, origin_n, origin_h, rotation_deg, scale,
                        elements, skipped, classes FROM cim_bim_models ORDER BY layer",
            )
            .ctx(&path)?;
        let rows = st
            .query_map([], |r| {
                Ok(BimModel {
                    layer: r.get(0)?,
                    file: r.get(1)?,
                    schema: r.get(2)?,
                    method: r.get(3)?,
                    crs: r.get(4)?,
                    origin: [r.get(5)?, r.get(6)?, r.get(7)?],
                    rotation_deg: r.get(8)?,
                    scale: r.get(9)?,
                    elements: r.get::<_, i64>(10)?.max(0) as u64,
                    skipped: r.get::<_, i64>(11)?.max(0) as u64,
                    classes: classes_of(&r.get::<_, String>(12)?),
                })
            })
            .ctx(&path)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.ctx(&path)?);
        }
        Ok(out)
    }

    /// The BIM model whose elements are in `layer`, if one is.
    pub fn bim_model(&self, layer: &str) -> Result<Option<BimModel>> {
        let path = self.meta.path.clone();
        if !has_table(&self.conn, &path)? {
            return Ok(None);
        }
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT layer FROM cim_bim_models WHERE layer = ?1",
                params![layer],
                |r| r.get(0),
            )
            .optional()
            .ctx(&path)?;
        Ok(match found {
            Some(_) => self.bim_models()?.into_iter().find(|m| m.layer == layer),
            None => None,
        })
    }
}
