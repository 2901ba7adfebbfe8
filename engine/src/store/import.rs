//! Writing: one import is one SQLite transaction.

use super::layer::{self, GeometryType, LayerMeta, LayerSpec};
use super::schema::q;
use super::{rtree, ProjectMeta, SqlContext};
use crate::error::{EngineError, Result};
use crate::feature::{AttrValue, Feature, HeightSource};
use crate::raster::Raster;
use rusqlite::types::{ToSqlOutput, ValueRef};
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
    /// Whether `cim_meshes` exists in this transaction already.
    pub(super) meshes_ready: bool,
}

/// The codes this import inserts, kept in memory to find a code written twice in one import
/// and to fill `cim_codes` at commit in key order (sorted here, on another thread, while SQLite
/// writes the R-tree: a million random-order inserts into a B-tree cost more than the rest of
/// the row, and SQLite's own sort of them more than the sort here).
///
/// Keys of `index` are 64-bit hashes of the codes, so a million entries need no allocation
/// each; a hit is confirmed against the code stored in the row, and a different code with the
/// same hash goes to `spill`. The codes themselves sit end to end in `text`.
#[derive(Default)]
struct NewCodes {
    /// hash of the code → (index into `layers`, fid)
    index: HashMap<u64, (u32, i64), BuildHasherDefault<IdHasher>>,
    /// Codes whose hash is already taken by another code of this import.
    spill: HashMap<Box<str>, (u32, i64)>,
    layers: Vec<String>,
    /// Every code inserted, end to end.
    text: Vec<u8>,
    /// (start in `text`, length, index into `layers`, fid) of every code inserted.
    rows: Vec<NewCode>,
}

#[derive(Clone, Copy)]
struct NewCode {
    start: u32,
    len: u32,
    layer: u32,
    fid: i64,
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

    /// Whether `code` may have been inserted by this import (`false`: certainly not).
    fn may_have(&self, code: &str) -> bool {
        self.index.contains_key(&code_hash(code))
    }

    /// The layer and fid of `code` if this import inserted it (the row must be in the table).
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

    fn code_of(&self, r: &NewCode) -> &[u8] {
        &self.text[r.start as usize..(r.start + r.len) as usize]
    }

    /// The inserted codes by layer, each layer's in key order (the order of `cim_codes`'
    /// primary key).
    fn sorted(&self) -> Vec<NewCode> {
        let mut rows = self.rows.clone();
        rows.sort_unstable_by(|a, b| (a.layer, self.code_of(a)).cmp(&(b.layer, self.code_of(b))));
        rows
    }

    /// Records a code that [`get`](NewCodes::get) did not find.
    fn insert(&mut self, code: &str, layer: &str, fid: i64) {
        let l = self.layer_id(layer);
        self.rows.push(NewCode {
            start: self.text.len() as u32,
            len: code.len() as u32,
            layer: l,
            fid,
        });
        self.text.extend_from_slice(code.as_bytes());
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
    /// `geom, cim_code, …, fid`: the column list of the multi-row inserts.
    insert_columns: String,
    /// The statements of `insert_sql` and `update_sql`, prepared on first use.
    insert: Option<Statement<'p>>,
    update: Option<Statement<'p>>,
    /// Multi-row inserts, by number of rows (index 0 and 1 unused), prepared on first use.
    insert_many: Vec<Option<Statement<'p>>>,
    /// New rows not yet inserted (see [`flush`]), at most [`LayerState::batch_rows`].
    pending: Rows,
    /// The parameters of one update.
    scratch: Rows,
    /// The last height source written and its text (nearly every row repeats it).
    height_source: Option<(HeightSource, String)>,
    /// R-tree changes, applied by `commit` (in bulk when there are many).
    rtree_pending: rtree::Pending,
    /// Whether the R-tree triggers are dropped for this import (put back by `commit`).
    triggers_dropped: bool,
    /// Union of the envelopes written in this import.
    extent: Option<[f64; 4]>,
    /// The fid the next new row gets; 0 until `prepare_layer` looks it up.
    next_fid: i64,
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
        let insert_columns = format!("{}, fid", cols.join(", "));
        let width = cols.len() + 1;
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
            insert_columns,
            insert: None,
            update: None,
            insert_many: Vec::new(),
            pending: Rows::new(width),
            scratch: Rows::new(width),
            height_source: None,
            rtree_pending: Vec::new(),
            triggers_dropped: false,
            extent: None,
            next_fid: 0,
            meta,
        }
    }

    /// The parameter that carries the fid, after the columns (in both insert and update).
    fn fid_param(&self) -> usize {
        FIXED_PARAMS + self.meta.columns.len() + 1
    }

    /// Rows per multi-row insert: [`BATCH_ROWS`], fewer where the layer has so many columns
    /// that the statement would pass SQLite's limit on parameters.
    fn batch_rows(&self) -> usize {
        BATCH_ROWS.min(MAX_PARAMS / self.fid_param()).max(1)
    }
}

/// Rows per multi-row `INSERT`: one statement per row costs more than binding the row, and
/// beyond a few dozen rows a statement saves no more.
const BATCH_ROWS: usize = 64;

/// SQLite's default limit on a statement's parameters (`SQLITE_MAX_VARIABLE_NUMBER`).
const MAX_PARAMS: usize = 32_766;

/// One parameter of a buffered row; text and blobs are ranges of [`Rows::bytes`].
#[derive(Clone, Copy, Debug)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(usize, usize),
    Blob(usize, usize),
}

/// Rows of statement parameters (`width` cells each, in parameter order), their text and
/// blobs in one buffer: buffering a row costs no allocation once the buffers have grown.
struct Rows {
    width: usize,
    cells: Vec<Cell>,
    bytes: Vec<u8>,
}

impl Rows {
    fn new(width: usize) -> Rows {
        Rows {
            width,
            cells: Vec::new(),
            bytes: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.cells.len() / self.width
    }

    fn clear(&mut self) {
        self.cells.clear();
        self.bytes.clear();
    }

    fn bytes_cell(&mut self, b: &[u8]) -> (usize, usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        (start, self.bytes.len())
    }

    fn text(&mut self, t: &str) -> Cell {
        let (a, b) = self.bytes_cell(t.as_bytes());
        Cell::Text(a, b)
    }

    fn blob(&mut self, t: &[u8]) -> Cell {
        let (a, b) = self.bytes_cell(t);
        Cell::Blob(a, b)
    }

    fn value(&self, cell: Cell) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(match cell {
            Cell::Null => ValueRef::Null,
            Cell::Int(i) => ValueRef::Integer(i),
            Cell::Real(r) => ValueRef::Real(r),
            Cell::Text(a, b) => ValueRef::Text(&self.bytes[a..b]),
            Cell::Blob(a, b) => ValueRef::Blob(&self.bytes[a..b]),
        })
    }

    /// The city code of row `r` (its second parameter).
    fn code(&self, r: usize) -> &str {
        match self.cells.get(r * self.width + 1) {
            Some(&Cell::Text(a, b)) => std::str::from_utf8(&self.bytes[a..b]).unwrap_or(""),
            _ => "",
        }
    }

    /// Binds rows `rows` to parameters 1.. of `stmt`, row after row.
    fn bind(&self, stmt: &mut Statement<'_>, layer_name: &str, rows: std::ops::Range<usize>) -> Result<()> {
        let w = self.width;
        for (i, r) in rows.enumerate() {
            for (c, &cell) in self.cells[r * w..(r + 1) * w].iter().enumerate() {
                stmt.raw_bind_parameter(i * w + c + 1, self.value(cell))
                    .map_err(|e| EngineError::Layer {
                        layer: layer_name.to_string(),
                        reason: format!("feature {}: {e}", self.code(r)),
                    })?;
            }
        }
        Ok(())
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
            meshes_ready: false,
            tx,
            meta,
            layers: HashMap::new(),
            stats: ImportStats::default(),
            blob: Vec::with_capacity(4096),
            codes: NewCodes::default(),
        })
    }

    /// The open transaction (for the store's other tables written in the same import).
    pub(super) fn connection(&self) -> &'p Connection {
        self.tx
    }

    pub(super) fn path(&self) -> &Path {
        &self.meta.path
    }

    /// Creates the layer, or brings an existing one up to `spec` (see the type docs): the kind
    /// must match, new fields are added as columns, a new geometry type widens it to GEOMETRY.
    pub fn ensure_layer(&mut self, spec: &LayerSpec) -> Result<()> {
        let path = &self.meta.path;
        if let Some(st) = self.layers.get_mut(&spec.name) {
            // The buffered rows have this layer's columns as they are.
            flush(self.tx, path, st)?;
            let mut m = st.meta.clone();
            if layer::extend(self.tx, path, &mut m, spec)? {
                // Columns may have changed: rebuild the SQL, keep the import's progress.
                let mut fresh = LayerState::new(m);
                fresh.triggers_dropped = st.triggers_dropped;
                fresh.extent = st.extent;
                fresh.next_fid = st.next_fid;
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
        prepare_layer(
            tx,
            path,
            layer_mut(layers, layer_name)?,
            &f.geometry,
            envelope.is_some(),
        )?;
        let (written, fid) = upsert_row(tx, path, layers, layer_name, codes, *codes_known, f, blob)?;
        let st = layer_mut(layers, layer_name)?;
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
        flush_all(self.tx, &self.meta.path, &mut self.layers)?;
        super::terrain::put(self.tx, &self.meta.path, self.meta.srs_id, name, raster, source)
    }

    /// Puts the R-tree triggers back, updates layer extents in `gpkg_contents` and commits.
    pub fn commit(mut self) -> Result<ImportStats> {
        let path = self.path().to_path_buf();
        flush_all(self.tx, &path, &mut self.layers)?;
        let (tx, layers, codes) = (self.tx, &self.layers, &self.codes);
        let mut names: Vec<&String> = layers.keys().collect();
        names.sort();
        // Sorting the new codes and packing the R-trees are plain computation: they run on
        // other threads while SQLite writes here (first the codes, then the R-trees).
        let mut plans = Vec::with_capacity(names.len());
        for &name in &names {
            let st = &layers[name];
            plans.push((
                name,
                st,
                rtree::plan(tx, &path, &st.meta.rtree(), &st.rtree_pending)?,
            ));
        }
        std::thread::scope(|s| -> Result<()> {
            let sorting = s.spawn(|| codes.sorted());
            let packing: Vec<_> = plans
                .iter()
                .map(|(_, st, plan)| {
                    let pending = &st.rtree_pending;
                    s.spawn(move || plan.pack(pending))
                })
                .collect();
            let internal = |what: &str| EngineError::Layer {
                layer: String::new(),
                reason: format!("{what} failed (internal error)"),
            };
            let sorted = sorting.join().map_err(|_| internal("sorting the city codes"))?;
            write_codes(tx, &path, codes, &sorted)?;
            for ((name, st, plan), packed) in plans.iter().zip(packing) {
                let packed = packed.join().map_err(|_| internal("packing the R-tree"))?;
                plan.write(tx, &path, &st.meta.rtree(), &st.rtree_pending, packed)?;
                finish_layer(tx, &path, name, st)?;
            }
            Ok(())
        })?;
        let stats = self.stats;
        self.tx.execute_batch("COMMIT").ctx(&path)?;
        Ok(stats)
    }

    /// Totals so far.
    pub fn stats(&self) -> ImportStats {
        self.stats
    }
}

/// Puts back a layer's triggers and widens its extent in `gpkg_contents`.
fn finish_layer(tx: &Connection, path: &Path, name: &str, st: &LayerState<'_>) -> Result<()> {
    if st.triggers_dropped {
        tx.execute_batch(&layer::rtree_triggers_sql(name)).ctx(path)?;
    }
    tx.execute_batch(&layer::code_triggers_sql(name)).ctx(path)?;
    if let Some([minx, miny, maxx, maxy]) = st.extent {
        tx.execute(
            "UPDATE gpkg_contents SET
               min_x = min(coalesce(min_x, ?2), ?2), min_y = min(coalesce(min_y, ?3), ?3),
               max_x = max(coalesce(max_x, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5),
               last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
             WHERE table_name = ?1",
            params![name, minx, miny, maxx, maxy],
        )
        .ctx(path)?;
    }
    Ok(())
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

/// Adds the codes this import inserted to `cim_codes`, each layer's in key order (`sorted`),
/// many rows a statement.
fn write_codes(tx: &Connection, path: &Path, codes: &NewCodes, sorted: &[NewCode]) -> Result<()> {
    const ROWS: usize = 128;
    // `?1` is the layer; row k binds its code and fid to `?(2k+2)` and `?(2k+3)`.
    let sql = |n: usize| {
        let mut sql = String::from("INSERT INTO cim_codes (code, layer, fid) VALUES ");
        for k in 0..n {
            let sep = if k == 0 { "" } else { "," };
            sql.push_str(&format!("{sep}(?{},?1,?{})", 2 * k + 2, 2 * k + 3));
        }
        sql
    };
    let mut many = tx.prepare(&sql(ROWS)).ctx(path)?;
    let mut one = tx.prepare(&sql(1)).ctx(path)?;
    let execute = |stmt: &mut Statement<'_>, rows: &[NewCode]| -> Result<()> {
        let layer = codes.layers[rows[0].layer as usize].as_str();
        let failed = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(err, _)
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                EngineError::Layer {
                    layer: layer.to_string(),
                    reason: "a city code of this import is already in cim_codes (internal error)".into(),
                }
            }
            e => EngineError::Sqlite {
                path: path.to_path_buf(),
                error: e,
            },
        };
        stmt.raw_bind_parameter(1, layer).map_err(failed)?;
        for (k, r) in rows.iter().enumerate() {
            // Codes are pushed from `&str`s, so each slice is UTF-8.
            let code = String::from_utf8_lossy(codes.code_of(r));
            stmt.raw_bind_parameter(2 * k + 2, code.as_ref())
                .map_err(failed)?;
            stmt.raw_bind_parameter(2 * k + 3, r.fid).map_err(failed)?;
        }
        stmt.raw_execute().map(|_| ()).map_err(failed)
    };
    for layer_rows in sorted.chunk_by(|a, b| a.layer == b.layer) {
        let mut chunks = layer_rows.chunks_exact(ROWS);
        for chunk in &mut chunks {
            execute(&mut many, chunk)?;
        }
        for r in chunks.remainder() {
            execute(&mut one, std::slice::from_ref(r))?;
        }
    }
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
        layer::drop_code_triggers(tx, path, &st.meta.name)?;
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
        // Projects made before `cim_codes` alone kept codes unique had a unique index on each
        // layer's `cim_code`; maintaining it row by row (random keys) costs more than the rest
        // of the row, and nothing reads it.
        tx.execute_batch(&format!(
            "DROP INDEX IF EXISTS {}",
            q(&layer::code_index_name(&st.meta.name))
        ))
        .ctx(path)?;
    }
    Ok(())
}

/// The layer `name` of this import.
fn layer_mut<'a, 'p>(
    layers: &'a mut HashMap<String, LayerState<'p>>,
    name: &str,
) -> Result<&'a mut LayerState<'p>> {
    layers.get_mut(name).ok_or_else(|| EngineError::LayerNotFound {
        layer: name.to_string(),
    })
}

/// Inserts the buffered rows of every layer (before anything reads or updates a layer table).
fn flush_all<'p>(
    tx: &'p Connection,
    path: &Path,
    layers: &mut HashMap<String, LayerState<'p>>,
) -> Result<()> {
    let mut names: Vec<&String> = layers
        .iter()
        .filter(|(_, st)| st.pending.len() > 0)
        .map(|(n, _)| n)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    let names: Vec<String> = names.into_iter().cloned().collect();
    for name in names {
        flush(tx, path, layer_mut(layers, &name)?)?;
    }
    Ok(())
}

/// Inserts or replaces the feature's row; returns what happened and the row's fid. A new row
/// may stay buffered in its layer until [`flush`].
#[allow(clippy::too_many_arguments)]
fn upsert_row<'p>(
    tx: &'p Connection,
    path: &Path,
    layers: &mut HashMap<String, LayerState<'p>>,
    layer_name: &str,
    codes: &mut NewCodes,
    codes_known: bool,
    f: &Feature,
    blob: &[u8],
) -> Result<(Written, i64)> {
    let code = f.code.as_str();
    // Written earlier in this import? (The lookup reads the row back: flush first.)
    if codes.may_have(code) {
        flush_all(tx, path, layers)?;
        if let Some((owner, fid)) = codes.get(tx, path, code)? {
            let st = layer_mut(layers, layer_name)?;
            if owner != st.meta.name {
                return Err(duplicate(code, &st.meta.name, owner));
            }
            update_row(tx, path, st, f, blob, fid)?;
            return Ok((Written::Replaced, fid));
        }
    }
    if codes_known {
        // Written by an earlier import?
        let known: Option<(String, i64)> = tx
            .prepare_cached("SELECT layer, fid FROM cim_codes WHERE code = ?1")
            .ctx(path)?
            .query_row([code], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .ctx(path)?;
        if let Some((owner, old_fid)) = known {
            flush_all(tx, path, layers)?;
            let st = layer_mut(layers, layer_name)?;
            if owner == st.meta.name {
                if update_row(tx, path, st, f, blob, old_fid)? {
                    return Ok((Written::Replaced, old_fid));
                }
            } else if still_there(tx, path, &owner, old_fid, code)? {
                return Err(duplicate(code, &st.meta.name, &owner));
            }
            // The entry is stale (its row was deleted by another tool): drop it.
            tx.prepare_cached("DELETE FROM cim_codes WHERE code = ?1")
                .ctx(path)?
                .execute([code])
                .ctx(path)?;
        }
    }
    let st = layer_mut(layers, layer_name)?;
    let fid = st.next_fid;
    insert_row(tx, path, st, f, blob, fid)?;
    codes.insert(code, &st.meta.name, fid);
    Ok((Written::Inserted, fid))
}

fn duplicate(code: &str, layer: &str, existing_layer: &str) -> EngineError {
    EngineError::DuplicateCode {
        code: code.to_string(),
        layer: layer.to_string(),
        existing_layer: existing_layer.to_string(),
    }
}

/// Replaces row `fid`; `false` if there is no such row. The layer's buffer must be empty.
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
    st.scratch.clear();
    let done = encode_row(
        &mut st.scratch,
        &st.meta,
        &st.field_index,
        &mut st.height_source,
        f,
        blob,
        fid,
    )
    .and_then(|()| st.scratch.bind(&mut stmt, &st.meta.name, 0..1))
    .and_then(|()| stmt.raw_execute().ctx(path));
    st.update = Some(stmt);
    Ok(done? == 1)
}

/// Buffers a new row, inserting the buffer once it holds a batch.
fn insert_row<'p>(
    tx: &'p Connection,
    path: &Path,
    st: &mut LayerState<'p>,
    f: &Feature,
    blob: &[u8],
    fid: i64,
) -> Result<()> {
    encode_row(
        &mut st.pending,
        &st.meta,
        &st.field_index,
        &mut st.height_source,
        f,
        blob,
        fid,
    )?;
    st.next_fid = fid + 1;
    if st.pending.len() >= st.batch_rows() {
        flush(tx, path, st)?;
    }
    Ok(())
}

/// Inserts a layer's buffered rows: full batches with one multi-row statement each, the rest
/// with one statement of that many rows. A statement that fails is retried row by row, so the
/// error names the feature it would have named had every row been inserted alone.
fn flush<'p>(tx: &'p Connection, path: &Path, st: &mut LayerState<'p>) -> Result<()> {
    let n = st.pending.len();
    let batch = st.batch_rows();
    let mut start = 0;
    while start < n {
        let k = (n - start).min(batch);
        if k > 1 {
            match insert_many(tx, st, start, k) {
                Ok(()) => {
                    start += k;
                    continue;
                }
                // A failed statement changes nothing, but an I/O error may have ended the
                // transaction: no retry outside it.
                Err(e) if tx.is_autocommit() => {
                    return Err(unique_violation(e, path, &st.meta.name, st.pending.code(start)));
                }
                Err(_) => {}
            }
        }
        for r in start..start + k {
            insert_one(tx, path, st, r)?;
        }
        start += k;
    }
    st.pending.clear();
    Ok(())
}

/// Inserts buffered rows `start..start + k` with one statement.
fn insert_many<'p>(
    tx: &'p Connection,
    st: &mut LayerState<'p>,
    start: usize,
    k: usize,
) -> rusqlite::Result<()> {
    if st.insert_many.len() <= k {
        st.insert_many.resize_with(k + 1, || None);
    }
    let mut stmt = match st.insert_many[k].take() {
        Some(s) => s,
        None => {
            let one = format!("({})", vec!["?"; st.pending.width].join(", "));
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                q(&st.meta.name),
                st.insert_columns,
                vec![one.as_str(); k].join(", ")
            );
            tx.prepare(&sql)?
        }
    };
    let w = st.pending.width;
    let mut done = Ok(());
    'rows: for (i, r) in (start..start + k).enumerate() {
        for (c, &cell) in st.pending.cells[r * w..(r + 1) * w].iter().enumerate() {
            done = stmt.raw_bind_parameter(i * w + c + 1, st.pending.value(cell));
            if done.is_err() {
                break 'rows;
            }
        }
    }
    let done = done.and_then(|()| stmt.raw_execute());
    st.insert_many[k] = Some(stmt);
    done.map(|_| ())
}

/// Inserts buffered row `r` alone, with the error of a single-row insert.
fn insert_one<'p>(tx: &'p Connection, path: &Path, st: &mut LayerState<'p>, r: usize) -> Result<()> {
    let mut stmt = match st.insert.take() {
        Some(s) => s,
        None => tx.prepare(&st.insert_sql).ctx(path)?,
    };
    let done = st
        .pending
        .bind(&mut stmt, &st.meta.name, r..r + 1)
        .and_then(|()| {
            stmt.raw_execute()
                .map_err(|e| unique_violation(e, path, &st.meta.name, st.pending.code(r)))
        });
    st.insert = Some(stmt);
    done.map(|_| ())
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
        error: e,
    }
}

/// Appends one row of parameters to `out`: geometry, the `cim_*` columns, the attributes
/// (parameters 1..=FIXED_PARAMS+n), then `fid`. Nothing is appended on error.
fn encode_row(
    out: &mut Rows,
    m: &LayerMeta,
    fields: &[(String, usize)],
    height_source: &mut Option<(HeightSource, String)>,
    f: &Feature,
    blob: &[u8],
    fid: i64,
) -> Result<()> {
    let (cells, bytes) = (out.cells.len(), out.bytes.len());
    let done = encode_cells(out, m, fields, height_source, f, blob, fid);
    if done.is_err() {
        out.cells.truncate(cells);
        out.bytes.truncate(bytes);
    }
    done
}

fn encode_cells(
    out: &mut Rows,
    m: &LayerMeta,
    fields: &[(String, usize)],
    height_source: &mut Option<(HeightSource, String)>,
    f: &Feature,
    blob: &[u8],
    fid: i64,
) -> Result<()> {
    let base = out.cells.len();
    out.cells.resize(base + out.width, Cell::Null);
    let mut row = [Cell::Null; FIXED_PARAMS];
    row[0] = out.blob(blob);
    row[1] = out.text(f.code.as_str());
    row[2] = out.text(f.kind.name());
    // A feature is never less restricted than its layer; the layer's level is stored as NULL.
    let class = f.classification.max(m.classification);
    if class != m.classification {
        row[3] = out.text(class.name());
    }
    if let Some(d) = f.validity.from {
        row[4] = out.text(&d.to_string());
    }
    if let Some(d) = f.validity.to {
        row[5] = out.text(&d.to_string());
    }
    if let Some(l) = &f.lod1 {
        row[6] = Cell::Real(l.base_m);
        row[7] = Cell::Real(l.height_m);
        if height_source.as_ref().is_none_or(|(h, _)| *h != l.height_source) {
            *height_source = Some((l.height_source.clone(), l.height_source.to_string()));
        }
        if let Some((_, text)) = height_source.as_ref() {
            row[8] = out.text(text);
        }
    }
    row[9] = out.text(f.source_key.as_str());
    out.cells[base..base + FIXED_PARAMS].copy_from_slice(&row);
    // Both are sorted by name: one forward walk finds every attribute's column.
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
        let cell = match value {
            AttrValue::Null => Cell::Null,
            AttrValue::Bool(b) => Cell::Int(i64::from(*b)),
            AttrValue::Int(i) => Cell::Int(*i),
            AttrValue::Real(r) => Cell::Real(*r),
            AttrValue::Text(t) => out.text(t),
            // Dates as `YYYY-MM-DD` text.
            AttrValue::Date(d) => out.text(&d.to_string()),
        };
        out.cells[base + FIXED_PARAMS + i] = cell;
    }
    out.cells[base + out.width - 1] = Cell::Int(fid);
    Ok(())
}
