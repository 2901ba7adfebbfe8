//! Writing: one import is one SQLite transaction.

use super::layer::{self, GeometryType, LayerMeta, LayerSpec};
use super::schema::q;
use super::{rtree, ProjectMeta, SqlContext};
use crate::error::{EngineError, Result};
use crate::feature::{AttrValue, Feature, HeightSource};
use crate::raster::Raster;
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{params, Connection, OptionalExtension, Statement};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// What [`ImportTx::write`] did with a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// A new code: a new row.
    Inserted,
    /// The code was already in the layer: its row was replaced, keeping its fid.
    Replaced,
}

/// Totals of one import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub inserted: u64,
    pub replaced: u64,
}

/// An import in progress: one transaction holding the project's write lock. Dropping it
/// without [`commit`](ImportTx::commit) rolls back every change.
pub struct ImportTx<'p> {
    /// The connection, inside `BEGIN IMMEDIATE` until `commit`; `Drop` rolls back otherwise.
    /// (A plain reference rather than a `rusqlite::Transaction`, so that prepared statements
    /// borrowing it can live in [`LayerState`] for the whole import.)
    tx: &'p Connection,
    meta: &'p ProjectMeta,
    layers: HashMap<String, LayerState<'p>>,
    stats: ImportStats,
    blob: Vec<u8>,
    codes: NewCodes,
    /// Whether `cim_codes` had any row when the import began (if not, no lookups are needed:
    /// the table gets this import's codes only at commit).
    codes_known: bool,
}

/// The codes this import inserts, kept in memory to find a code written twice in one import
/// (`cim_codes` is filled by `commit`, from each layer's code index, in key order: a million
/// random-order inserts into that index cost more than the rest of the row).
///
/// Keys are 64-bit hashes of the codes, so a million entries need no allocation each; a hit is
/// confirmed against the code stored in the row, and a different code with the same hash goes
/// to `spill`.
#[derive(Default)]
struct NewCodes {
    /// hash of the code → (index into `layers`, fid)
    index: HashMap<u64, (u32, i64), BuildHasherDefault<IdHasher>>,
    /// Codes whose hash is already taken by another code of this import.
    spill: HashMap<Box<str>, (u32, i64)>,
    layers: Vec<String>,
}

/// A fast multiplicative hash (FxHash-style) for city codes: their last twelve characters
/// are already a hash, and the input is local data, so SipHash's flooding resistance buys
/// nothing here.
fn code_hash(code: &str) -> u64 {
    let mut h = 0u64;
    for chunk in code.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    // The table takes its bucket from the low bits, which a multiply alone mixes poorly: finish
    // with splitmix64's finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The identity hasher for keys that are already hashes.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl NewCodes {
    fn layer_id(&mut self, name: &str) -> u32 {
        match self.layers.iter().position(|l| l == name) {
            Some(i) => i as u32,
            None => {
                self.layers.push(name.to_string());
                (self.layers.len() - 1) as u32
            }
        }
    }

    /// The layer and fid of `code` if this import inserted it.
    fn get(&self, tx: &Connection, path: &Path, code: &str) -> Result<Option<(&str, i64)>> {
        let Some(&(l, fid)) = self.index.get(&code_hash(code)) else {
            return Ok(None);
        };
        let layer_name = self.layers[l as usize].as_str();
        let stored: Option<String> = tx
            .prepare_cached(&format!("SELECT cim_code FROM {} WHERE fid = ?1", q(layer_name)))
            .ctx(path)?
            .query_row([fid], |r| r.get(0))
            .optional()
            .ctx(path)?;
        if stored.as_deref() == Some(code) {
            return Ok(Some((layer_name, fid)));
        }
        Ok(self
            .spill
            .get(code)
            .map(|&(l, fid)| (self.layers[l as usize].as_str(), fid)))
    }

    /// Records a code that [`get`](NewCodes::get) did not find.
    fn insert(&mut self, code: &str, layer: &str, fid: i64) {
        let l = self.layer_id(layer);
        match self.index.entry(code_hash(code)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((l, fid));
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.spill.insert(code.into(), (l, fid));
            }
        }
    }
}

/// A layer written in this import, with the SQL prepared for it.
struct LayerState<'p> {
    meta: LayerMeta,
    /// (field name, index into `meta.columns`), sorted by name like a feature's attributes.
    field_index: Vec<(String, usize)>,
    insert_sql: String,
    update_sql: String,
    /// The statements of `insert_sql` and `update_sql`, prepared on first use.
    insert: Option<Statement<'p>>,
    update: Option<Statement<'p>>,
    /// The last height source written and its text (nearly every row repeats it).
    height_source: std::cell::RefCell<Option<(HeightSource, String)>>,
    /// R-tree changes, applied by `commit` (in bulk when there are many).
    rtree_pending: rtree::Pending,
    /// Whether the R-tree triggers are dropped for this import (put back by `commit`).
    triggers_dropped: bool,
    /// Union of the envelopes written in this import.
    extent: Option<[f64; 4]>,
    /// The fid the next new row gets; 0 until `prepare_layer` looks it up.
    next_fid: i64,
    /// The first fid this import gives a new row: the rows from there on are its inserts.
    first_fid: i64,
    /// Rows in the layer when this import first wrote to it, and rows inserted since.
    rows_before: u64,
    inserted: u64,
    /// Whether the `cim_code` unique index is dropped for this import (rebuilt by `commit`).
    code_index_dropped: bool,
}

/// Parameters before the attribute columns: geom + the nine `cim_*` columns.
const FIXED_PARAMS: usize = 10;

impl<'p> LayerState<'p> {
    fn new(meta: LayerMeta) -> LayerState<'p> {
        let t = q(&meta.name);
        let mut cols: Vec<String> = vec!["geom".into()];
        cols.extend(layer::CIM_COLUMNS.iter().map(|s| s.to_string()));
        cols.extend(meta.columns.iter().map(|c| q(&c.column)));
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert_sql = format!(
            "INSERT INTO {t} ({}, fid) VALUES ({}, ?{})",
            cols.join(", "),
            marks.join(", "),
            cols.len() + 1
        );
        let sets: Vec<String> = cols
            .iter()
            .zip(&marks)
            .map(|(c, m)| format!("{c} = {m}"))
            .collect();
        let update_sql = format!(
            "UPDATE {t} SET {} WHERE fid = ?{}",
            sets.join(", "),
            cols.len() + 1
        );
        let mut field_index: Vec<(String, usize)> = meta
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        field_index.sort();
        LayerState {
            field_index,
            insert_sql,
            update_sql,
            insert: None,
            update: None,
            height_source: Default::default(),
            rtree_pending: Vec::new(),
            triggers_dropped: false,
            extent: None,
            next_fid: 0,
            first_fid: 0,
            rows_before: 0,
            inserted: 0,
            code_index_dropped: false,
            meta,
        }
    }

    /// The parameter that carries the fid, after the columns (in both insert and update).
    fn fid_param(&self) -> usize {
        FIXED_PARAMS + self.meta.columns.len() + 1
    }
}

impl<'p> ImportTx<'p> {
    pub(super) fn begin(conn: &'p mut Connection, meta: &'p ProjectMeta) -> Result<ImportTx<'p>> {
        let tx: &'p Connection = conn;
        tx.execute_batch("BEGIN IMMEDIATE").ctx(&meta.path)?;
        let codes_known: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM cim_codes)", [], |r| r.get(0))
            .ctx(&meta.path)?;
        Ok(ImportTx {
            codes_known,
            tx,
            meta,
            layers: HashMap::new(),
            stats: ImportStats::default(),
            blob: Vec::with_capacity(4096),
            codes: NewCodes::default(),
        })
    }

    fn path(&self) -> &Path {
        &self.meta.path
    }

    /// Creates the layer, or brings an existing one up to `spec` (see the type docs): the kind
    /// must match, new fields are added as columns, a new geometry type widens it to GEOMETRY.
    pub fn ensure_layer(&mut self, spec: &LayerSpec) -> Result<()> {
        let path = &self.meta.path;
        if let Some(st) = self.layers.get_mut(&spec.name) {
            let mut m = st.meta.clone();
            if layer::extend(self.tx, path, &mut m, spec)? {
                // Columns may have changed: rebuild the SQL, keep the import's progress.
                let mut fresh = LayerState::new(m);
                fresh.triggers_dropped = st.triggers_dropped;
                fresh.extent = st.extent;
                fresh.next_fid = st.next_fid;
                fresh.first_fid = st.first_fid;
                fresh.rows_before = st.rows_before;
                fresh.inserted = st.inserted;
                fresh.code_index_dropped = st.code_index_dropped;
                fresh.rtree_pending = std::mem::take(&mut st.rtree_pending);
                *st = fresh;
            }
            return Ok(());
        }
        let m = match layer::find(self.tx, path, &spec.name)? {
            Some(mut m) => {
                layer::extend(self.tx, path, &mut m, spec)?;
                m
            }
            None => layer::create(self.tx, path, spec, self.meta.srs_id)?,
        };
        self.layers.insert(spec.name.clone(), LayerState::new(m));
        Ok(())
    }

    fn state(&mut self, layer_name: &str) -> Result<&mut LayerState<'p>> {
        if !self.layers.contains_key(layer_name) {
            let m = layer::load(self.tx, &self.meta.path, layer_name)?;
            self.layers.insert(layer_name.to_string(), LayerState::new(m));
        }
        self.layers
            .get_mut(layer_name)
            .ok_or_else(|| EngineError::LayerNotFound {
                layer: layer_name.to_string(),
            })
    }

    /// Writes one feature: a new code inserts a row; a code already in this layer replaces
    /// that row (same fid); a code in another layer is an [`EngineError::DuplicateCode`].
    /// The geometry must already be in the project CRS.
    pub fn write(&mut self, layer_name: &str, f: &Feature) -> Result<Written> {
        let mut blob = std::mem::take(&mut self.blob);
        let env = crate::gpkg::encode_geometry_into(&f.geometry, self.meta.srs_id, &mut blob);
        let written = self.write_encoded(layer_name, f, &blob, env);
        self.blob = blob;
        written
    }

    /// [`write`](ImportTx::write) with the geometry already encoded, so that callers can encode
    /// on another thread: `blob` and `envelope` must be what
    /// [`encode_geometry_into`](crate::gpkg::encode_geometry_into) gives for `f.geometry` and
    /// the project's [`srs_id`](super::Project::srs_id).
    pub fn write_encoded(
        &mut self,
        layer_name: &str,
        f: &Feature,
        blob: &[u8],
        envelope: Option<[f64; 4]>,
    ) -> Result<Written> {
        self.state(layer_name)?;
        let ImportTx {
            tx,
            meta,
            layers,
            stats,
            codes,
            codes_known,
            ..
        } = self;
        let path = meta.path.as_path();
        let st = layers
            .get_mut(layer_name)
            .ok_or_else(|| EngineError::LayerNotFound {
                layer: layer_name.to_string(),
            })?;
        prepare_layer(tx, path, st, &f.geometry, envelope.is_some())?;
        let (written, fid) = upsert_row(tx, path, st, codes, *codes_known, f, blob)?;
        match envelope {
            Some(e @ [minx, miny, maxx, maxy]) => {
                st.rtree_pending.push((fid, Some(rtree::rtree_box(e))));
                st.extent = Some(match st.extent {
                    None => e,
                    Some(x) => [x[0].min(minx), x[1].min(miny), x[2].max(maxx), x[3].max(maxy)],
                });
            }
            None if written == Written::Replaced => st.rtree_pending.push((fid, None)),
            None => {}
        }
        match written {
            Written::Inserted => stats.inserted += 1,
            Written::Replaced => stats.replaced += 1,
        }
        Ok(written)
    }

    /// Stores a terrain grid (in the project CRS), replacing one of the same name.
    pub fn put_terrain(&mut self, name: &str, raster: &Raster, source: &str) -> Result<()> {
        super::terrain::put(self.tx, &self.meta.path, name, raster, source)
    }

    /// Puts the R-tree triggers back, updates layer extents in `gpkg_contents` and commits.
    pub fn commit(self) -> Result<ImportStats> {
        let path = self.path().to_path_buf();
        let mut names: Vec<&String> = self.layers.keys().collect();
        names.sort();
        for name in names {
            let st = &self.layers[name];
            let rtree_name = st.meta.rtree();
            let pending = &st.rtree_pending;
            let plan = rtree::plan(self.tx, &path, &rtree_name, pending)?;
            // Packing the R-tree is plain computation: it runs on another thread while SQLite
            // builds the code index here.
            let packed = std::thread::scope(|s| -> Result<Option<rtree::Packed>> {
                let plan = &plan;
                let packing = std::thread::Builder::new()
                    .name("cim-rtree-pack".into())
                    .spawn_scoped(s, move || plan.pack(pending));
                let built = if st.code_index_dropped {
                    create_code_index(self.tx, &path, name)
                } else {
                    Ok(())
                };
                let packed = match packing {
                    Ok(h) => h.join().map_err(|_| EngineError::Layer {
                        layer: name.to_string(),
                        reason: "packing the R-tree failed (internal error)".into(),
                    }),
                    Err(_) => Ok(plan.pack(pending)),
                };
                built?;
                packed
            })?;
            plan.write(self.tx, &path, &rtree_name, pending, packed)?;
            if st.triggers_dropped {
                self.tx
                    .execute_batch(&layer::rtree_triggers_sql(name))
                    .ctx(&path)?;
            }
            if let Some([minx, miny, maxx, maxy]) = st.extent {
                self.tx
                    .execute(
                        "UPDATE gpkg_contents SET
                           min_x = min(coalesce(min_x, ?2), ?2), min_y = min(coalesce(min_y, ?3), ?3),
                           max_x = max(coalesce(max_x, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5),
                           last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                         WHERE table_name = ?1",
                        params![name, minx, miny, maxx, maxy],
                    )
                    .ctx(&path)?;
            }
        }
        let mut names: Vec<&String> = self.layers.keys().collect();
        names.sort();
        for name in names {
            write_codes(self.tx, &path, name, &self.layers[name])?;
        }
        let stats = self.stats;
        self.tx.execute_batch("COMMIT").ctx(&path)?;
        Ok(stats)
    }

    /// Totals so far.
    pub fn stats(&self) -> ImportStats {
        self.stats
    }
}

impl Drop for ImportTx<'_> {
    fn drop(&mut self) {
        // Not committed (an error, or dropped on purpose): undo everything. A failed COMMIT
        // may have left the transaction open too.
        if !self.tx.is_autocommit() {
            let _ = self.tx.execute_batch("ROLLBACK");
        }
    }
}

/// Rebuilds a layer's unique code index (dropped for a large import).
fn create_code_index(tx: &Connection, path: &Path, name: &str) -> Result<()> {
    tx.execute_batch(&layer::create_code_index_sql(name))
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(err, _)
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                EngineError::Layer {
                    layer: name.to_string(),
                    reason: "the table holds city codes twice (rows written by another tool?)".into(),
                }
            }
            e => EngineError::Sqlite {
                path: path.to_path_buf(),
                source: e,
            },
        })
}

/// Adds the codes of the rows this import inserted into a layer to `cim_codes`, in key order
/// (read from the layer's code index, which `commit` has just rebuilt where it was dropped).
fn write_codes(tx: &Connection, path: &Path, name: &str, st: &LayerState<'_>) -> Result<()> {
    if st.inserted == 0 {
        return Ok(());
    }
    let index = layer::code_index_name(name);
    let has_index: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
            [&index],
            |r| r.get(0),
        )
        .ctx(path)?;
    let indexed_by = if has_index {
        format!("INDEXED BY {}", q(&index))
    } else {
        String::new()
    };
    tx.execute(
        &format!(
            "INSERT INTO cim_codes (code, layer, fid)
             SELECT cim_code, ?1, fid FROM {} {indexed_by} WHERE fid >= ?2 ORDER BY cim_code",
            q(name)
        ),
        params![name, st.first_fid],
    )
    .ctx(path)?;
    Ok(())
}

/// Once per layer and import: widens the geometry type if this geometry needs it, drops the
/// R-tree triggers (the import maintains the R-tree itself) and finds the next fid.
fn prepare_layer(
    tx: &Connection,
    path: &Path,
    st: &mut LayerState<'_>,
    g: &geo::Geometry<f64>,
    has_coords: bool,
) -> Result<()> {
    if has_coords && !st.meta.geometry_type.accepts(GeometryType::of(g)) {
        layer::set_geometry_type(tx, path, &mut st.meta, GeometryType::Geometry)?;
    }
    if !st.triggers_dropped {
        layer::drop_rtree_triggers(tx, path, &st.meta.name)?;
        st.triggers_dropped = true;
    }
    if st.next_fid == 0 {
        // AUTOINCREMENT semantics: never reuse a fid, even one of a deleted row.
        let sql = format!(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0),
                        coalesce((SELECT max(fid) FROM {}), 0)) + 1",
            q(&st.meta.name)
        );
        st.next_fid = tx.query_row(&sql, [&st.meta.name], |r| r.get(0)).ctx(path)?;
        st.first_fid = st.next_fid;
    }
    Ok(())
}

/// Inserts or replaces the feature's row; returns what happened and the row's fid.
fn upsert_row<'p>(
    tx: &'p Connection,
    path: &Path,
    st: &mut LayerState<'p>,
    codes: &mut NewCodes,
    codes_known: bool,
    f: &Feature,
    blob: &[u8],
) -> Result<(Written, i64)> {
    let code = f.code.as_str();
    // Written earlier in this import?
    if let Some((owner, fid)) = codes.get(tx, path, code)? {
        if owner != st.meta.name {
            return Err(duplicate(code, &st.meta.name, owner));
        }
        update_row(tx, path, st, f, blob, fid)?;
        return Ok((Written::Replaced, fid));
    }
    let fid = st.next_fid;
    if !codes_known {
        insert_row(tx, path, st, f, blob, fid)?;
        codes.insert(code, &st.meta.name, fid);
        return Ok((Written::Inserted, fid));
    }
    let layer_name = st.meta.name.clone();
    // Written by an earlier import?
    let known: Option<(String, i64)> = tx
        .prepare_cached("SELECT layer, fid FROM cim_codes WHERE code = ?1")
        .ctx(path)?
        .query_row([code], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx(path)?;
    if let Some((owner, old_fid)) = known {
        if owner == layer_name {
            if update_row(tx, path, st, f, blob, old_fid)? {
                return Ok((Written::Replaced, old_fid));
            }
        } else if still_there(tx, path, &owner, old_fid, code)? {
            return Err(duplicate(code, &layer_name, &owner));
        }
        // The entry is stale (its row was deleted by another tool): drop it.
        tx.prepare_cached("DELETE FROM cim_codes WHERE code = ?1")
            .ctx(path)?
            .execute([code])
            .ctx(path)?;
    }
    insert_row(tx, path, st, f, blob, fid)?;
    codes.insert(code, &layer_name, fid);
    Ok((Written::Inserted, fid))
}

fn duplicate(code: &str, layer: &str, existing_layer: &str) -> EngineError {
    EngineError::DuplicateCode {
        code: code.to_string(),
        layer: layer.to_string(),
        existing_layer: existing_layer.to_string(),
    }
}

/// Replaces row `fid`; `false` if there is no such row.
fn update_row<'p>(
    tx: &'p Connection,
    path: &Path,
    st: &mut LayerState<'p>,
    f: &Feature,
    blob: &[u8],
    fid: i64,
) -> Result<bool> {
    let mut stmt = match st.update.take() {
        Some(s) => s,
        None => tx.prepare(&st.update_sql).ctx(path)?,
    };
    let done = bind_feature(&mut stmt, st, f, blob)
        .and_then(|()| stmt.raw_bind_parameter(st.fid_param(), fid).ctx(path))
        .and_then(|()| stmt.raw_execute().ctx(path));
    st.update = Some(stmt);
    Ok(done? == 1)
}

fn insert_row<'p>(
    tx: &'p Connection,
    path: &Path,
    st: &mut LayerState<'p>,
    f: &Feature,
    blob: &[u8],
    fid: i64,
) -> Result<()> {
    let mut stmt = match st.insert.take() {
        Some(s) => s,
        None => tx.prepare(&st.insert_sql).ctx(path)?,
    };
    let done = bind_feature(&mut stmt, st, f, blob)
        .and_then(|()| stmt.raw_bind_parameter(st.fid_param(), fid).ctx(path))
        .and_then(|()| {
            stmt.raw_execute()
                .map_err(|e| unique_violation(e, path, &st.meta.name, f.code.as_str()))
        });
    st.insert = Some(stmt);
    done?;
    st.next_fid = fid + 1;
    st.inserted += 1;
    // Once an import is large next to the layer, maintaining the code index row by row (random
    // keys) costs more than building it once at commit.
    if !st.code_index_dropped && st.inserted >= (st.rows_before / 4).max(5_000) {
        tx.execute_batch(&format!(
            "DROP INDEX IF EXISTS {}",
            q(&layer::code_index_name(&st.meta.name))
        ))
        .ctx(path)?;
        st.code_index_dropped = true;
    }
    Ok(())
}

/// Whether `layer` still has row `fid` with `code` (guards against stale `cim_codes` rows
/// left by other tools deleting features).
fn still_there(tx: &Connection, path: &Path, layer_name: &str, fid: i64, code: &str) -> Result<bool> {
    let sql = format!("SELECT 1 FROM {} WHERE fid = ?1 AND cim_code = ?2", q(layer_name));
    let hit: Option<i64> = match tx.prepare_cached(&sql) {
        Ok(mut s) => s
            .query_row(params![fid, code], |r| r.get(0))
            .optional()
            .ctx(path)?,
        // The layer table is gone: the entry is stale.
        Err(_) => None,
    };
    Ok(hit.is_some())
}

fn unique_violation(e: rusqlite::Error, path: &Path, layer_name: &str, code: &str) -> EngineError {
    if let rusqlite::Error::SqliteFailure(err, _) = &e {
        if err.code == rusqlite::ErrorCode::ConstraintViolation {
            return EngineError::Layer {
                layer: layer_name.to_string(),
                reason: format!(
                    "city code {code} is already in the table but not in cim_codes (written by another tool?)"
                ),
            };
        }
    }
    EngineError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Binds geometry, the `cim_*` columns and the attributes (parameters 1..=FIXED_PARAMS+n).
fn bind_feature(stmt: &mut Statement<'_>, st: &LayerState<'_>, f: &Feature, blob: &[u8]) -> Result<()> {
    let m = &st.meta;
    stmt.clear_bindings();
    let sql = |e: rusqlite::Error| EngineError::Layer {
        layer: m.name.clone(),
        reason: format!("feature {}: {e}", f.code),
    };
    stmt.raw_bind_parameter(1, blob).map_err(sql)?;
    stmt.raw_bind_parameter(2, f.code.as_str()).map_err(sql)?;
    stmt.raw_bind_parameter(3, f.kind.name()).map_err(sql)?;
    // A feature is never less restricted than its layer; the layer's level is stored as NULL.
    let class = f.classification.max(m.classification);
    stmt.raw_bind_parameter(4, (class != m.classification).then(|| class.name()))
        .map_err(sql)?;
    stmt.raw_bind_parameter(5, f.validity.from.map(|d| d.to_string()))
        .map_err(sql)?;
    stmt.raw_bind_parameter(6, f.validity.to.map(|d| d.to_string()))
        .map_err(sql)?;
    if let Some(l) = &f.lod1 {
        stmt.raw_bind_parameter(7, l.base_m).map_err(sql)?;
        stmt.raw_bind_parameter(8, l.height_m).map_err(sql)?;
        let mut last = st.height_source.borrow_mut();
        if last.as_ref().is_none_or(|(h, _)| *h != l.height_source) {
            *last = Some((l.height_source.clone(), l.height_source.to_string()));
        }
        if let Some((_, text)) = last.as_ref() {
            stmt.raw_bind_parameter(9, text.as_str()).map_err(sql)?;
        }
    }
    stmt.raw_bind_parameter(10, f.source_key.as_str()).map_err(sql)?;
    // Both are sorted by name: one forward walk finds every attribute's column.
    let fields = &st.field_index;
    let mut j = 0;
    for (name, value) in &f.attributes {
        while fields.get(j).is_some_and(|(n, _)| n < name) {
            j += 1;
        }
        let Some(&(_, i)) = fields.get(j).filter(|(n, _)| n == name) else {
            return Err(EngineError::Layer {
                layer: m.name.clone(),
                reason: format!(
                    "feature {}: attribute '{name}' is not a field of the layer",
                    f.code
                ),
            });
        };
        let out = attr_sql(value);
        stmt.raw_bind_parameter(FIXED_PARAMS + 1 + i, out).map_err(sql)?;
    }
    Ok(())
}

/// The SQL value of an attribute: booleans as 0/1, dates as `YYYY-MM-DD` text.
fn attr_sql(v: &AttrValue) -> ToSqlOutput<'_> {
    match v {
        AttrValue::Null => ToSqlOutput::Owned(Value::Null),
        AttrValue::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        AttrValue::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
        AttrValue::Real(r) => ToSqlOutput::Owned(Value::Real(*r)),
        AttrValue::Text(t) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(t.as_bytes())),
        AttrValue::Date(d) => ToSqlOutput::Owned(Value::Text(d.to_string())),
    }
}
