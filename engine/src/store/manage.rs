//! Project housekeeping: removing and renaming layers, and noticing layers that another tool
//! (QGIS, `ogr2ogr`, a script) dropped behind cim's back.
//!
//! A layer lives in several places: its feature table, its R-tree (`rtree_<layer>_geom`) and
//! their triggers, rows of `gpkg_contents`, `gpkg_geometry_columns` and `gpkg_extensions`,
//! cim's `cim_layers` and the layer's city codes in `cim_codes`. Each change here touches all
//! of them in one transaction, so a project is never left half changed.

use super::layer::{
    self, check_name, code_triggers_sql, drop_code_triggers, drop_rtree_triggers, rtree_name,
};
use super::schema::q;
use super::{Project, SqlContext};
use crate::error::{EngineError, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// Deletes every trace of layer `t` except its feature table and R-tree (which the caller
/// drops or renames): its rows in the GeoPackage's tables and cim's.
fn forget(conn: &Connection, path: &Path, t: &str) -> Result<()> {
    for sql in [
        "DELETE FROM gpkg_extensions WHERE table_name = ?1",
        "DELETE FROM gpkg_geometry_columns WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
        "DELETE FROM cim_codes WHERE layer = ?1",
        "DELETE FROM cim_layers WHERE name = ?1",
    ] {
        conn.execute(sql, [t]).ctx(path)?;
    }
    Ok(())
}

pub(super) fn table_exists(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
        [name],
        |r| r.get(0),
    )
    .ctx(path)
}

/// Layers that `cim_layers` lists but whose feature table is gone, sorted.
pub(super) fn stale_layers(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM cim_layers WHERE NOT EXISTS \
             (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = cim_layers.name) ORDER BY name",
        )
        .ctx(path)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .ctx(path)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(path)?;
    Ok(names)
}

/// Forgets the layers whose tables another tool dropped (their R-trees too, if left behind),
/// and says which: "layer 'roads' was removed by another program (its table is gone);
/// forgotten". Where the project cannot be written, the notice says the layer is skipped.
pub(super) fn forget_stale_layers(conn: &mut Connection, path: &Path) -> Result<Vec<String>> {
    let stale = stale_layers(conn, path)?;
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let cleaned = (|| -> Result<()> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(path)?;
        for t in &stale {
            drop_code_triggers(&tx, path, t)?;
            drop_rtree_triggers(&tx, path, t)?;
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {};", q(&rtree_name(t))))
                .ctx(path)?;
            forget(&tx, path, t)?;
        }
        tx.commit().ctx(path)
    })();
    let what = if cleaned.is_ok() {
        "forgotten"
    } else {
        "skipped (the project is read-only, so cim cannot forget it)"
    };
    Ok(stale
        .iter()
        .map(|t| format!("layer '{t}' was removed by another program (its table is gone); {what}"))
        .collect())
}

impl Project {
    /// Removes a layer and everything that belongs to it (features, R-tree, city codes,
    /// GeoPackage metadata), in one transaction; returns how many features it held.
    ///
    /// Errors: [`EngineError::LayerNotFound`].
    pub fn remove_layer(&mut self, name: &str) -> Result<u64> {
        let path = self.meta.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&path)?;
        layer::load(&tx, &path, name)?;
        let n: i64 = tx
            .query_row(&format!("SELECT count(*) FROM {}", q(name)), [], |r| r.get(0))
            .ctx(&path)?;
        drop_code_triggers(&tx, &path, name)?;
        drop_rtree_triggers(&tx, &path, name)?;
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {}; DROP TABLE {};",
            q(&rtree_name(name)),
            q(name)
        ))
        .ctx(&path)?;
        forget(&tx, &path, name)?;
        super::meshes::drop_layer(&tx, &path, name)?;
        super::bim::drop_layer(&tx, &path, name)?;
        tx.commit().ctx(&path)?;
        Ok(n.max(0) as u64)
    }

    /// Renames a layer: its table, R-tree and triggers, its GeoPackage metadata and its city
    /// codes' layer, in one transaction. The features keep their city codes (a later import
    /// of the same source into the renamed layer derives codes from the new name).
    ///
    /// Errors: [`EngineError::LayerNotFound`]; [`EngineError::Layer`] for a name that is
    /// taken or not allowed.
    pub fn rename_layer(&mut self, old: &str, new: &str) -> Result<()> {
        check_name(new)?;
        let path = self.meta.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&path)?;
        layer::load(&tx, &path, old)?;
        if table_exists(&tx, &path, new)? {
            return Err(EngineError::Layer {
                layer: new.to_string(),
                reason: "a layer or table of that name exists already".into(),
            });
        }
        drop_code_triggers(&tx, &path, old)?;
        drop_rtree_triggers(&tx, &path, old)?;
        tx.execute_batch(&format!(
            "ALTER TABLE {} RENAME TO {}; ALTER TABLE {} RENAME TO {};",
            q(old),
            q(new),
            q(&rtree_name(old)),
            q(&rtree_name(new))
        ))
        .ctx(&path)?;
        // gpkg_geometry_columns and gpkg_extensions refer to gpkg_contents by name: move the
        // referring rows with it, checking the references at commit.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON;").ctx(&path)?;
        for sql in [
            "UPDATE gpkg_contents SET table_name = ?2, \
               identifier = CASE WHEN identifier = ?1 THEN ?2 ELSE identifier END WHERE table_name = ?1",
            "UPDATE gpkg_geometry_columns SET table_name = ?2 WHERE table_name = ?1",
            "UPDATE gpkg_extensions SET table_name = ?2 WHERE table_name = ?1",
            "UPDATE cim_codes SET layer = ?2 WHERE layer = ?1",
            "UPDATE cim_layers SET name = ?2 WHERE name = ?1",
        ] {
            tx.execute(sql, [old, new]).ctx(&path)?;
        }
        tx.execute_batch(&layer::rtree_triggers_sql(new)).ctx(&path)?;
        tx.execute_batch(&code_triggers_sql(new)).ctx(&path)?;
        super::meshes::rename_layer(&tx, &path, old, new)?;
        super::bim::rename_layer(&tx, &path, old, new)?;
        tx.commit().ctx(&path)
    }
}
