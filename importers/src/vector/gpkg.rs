//! GeoPackage vector layers (OGC 12-128r18): feature tables listed in `gpkg_contents`, their
//! geometry column in `gpkg_geometry_columns` and CRS in `gpkg_spatial_ref_sys`.
//!
//! Rows are read lazily in chunks of [`CHUNK_ROWS`], each chunk one keyset query
//! (`WHERE fid > last ORDER BY fid LIMIT n`) on a connection the iterator owns, so a
//! million-row table is never in memory and the order is the fid order on every read.

use super::crs::crs_from_gpkg;
use super::prefetch::prefetch;
use super::{check_coords, warning};
use crate::error::{ImportError, Result, Warning};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::{AttrValue, Attributes, Crs, Date, FieldDef, FieldType};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Rows fetched per query.
const CHUNK_ROWS: usize = 4096;

fn open(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(ImportError::file(path, "file not found"));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, e))
}

fn sql_error(path: &Path, e: rusqlite::Error) -> ImportError {
    ImportError::file(path, format!("not a readable GeoPackage: {e}"))
}

/// Feature tables of a GeoPackage, sorted by name.
pub(super) fn list_layers(path: &Path) -> Result<Vec<String>> {
    let conn = open(path)?;
    feature_tables(path, &conn)
}

fn feature_tables(path: &Path, conn: &Connection) -> Result<Vec<String>> {
    let has_contents: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view') AND name = 'gpkg_contents'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| sql_error(path, e))?;
    if !has_contents {
        return Err(ImportError::file(
            path,
            "not a GeoPackage: no gpkg_contents table",
        ));
    }
    let mut stmt = conn
        .prepare(
            "SELECT table_name FROM gpkg_contents WHERE lower(data_type) = 'features' ORDER BY table_name",
        )
        .map_err(|e| sql_error(path, e))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| sql_error(path, e))?;
    Ok(names)
}

/// Reads one feature table. `layer` may be omitted when the GeoPackage has exactly one.
pub fn read_gpkg(path: &Path, layer: Option<&str>) -> Result<VectorSource> {
    let conn = open(path)?;
    let layers = feature_tables(path, &conn)?;
    let table = pick_layer(path, &layers, layer)?;
    let mut warnings = Vec::new();

    let (geom_col, srs_id): (String, i64) = conn
        .query_row(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
            [&table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| sql_error(path, e))?
        .ok_or_else(|| {
            ImportError::file(
                path,
                format!("layer '{table}' has no row in gpkg_geometry_columns"),
            )
        })?;
    let crs = layer_crs(path, &conn, &table, srs_id, &mut warnings)?;

    let (fid_col, columns) = table_columns(path, &conn, &table, &geom_col, &mut warnings)?;
    let select: Vec<String> = [fid_col.as_str(), geom_col.as_str()]
        .into_iter()
        .chain(columns.iter().map(|f| f.name.as_str()))
        .map(quote)
        .collect();
    let fid_q = quote(&fid_col);
    let sql = format!(
        "SELECT {} FROM {} WHERE {fid_q} > ?1 ORDER BY {fid_q} LIMIT {CHUNK_ROWS}",
        select.join(", "),
        quote(&table)
    );
    // Prepare once now so a broken table fails at open, not at the first record.
    conn.prepare_cached(&sql).map_err(|e| sql_error(path, e))?;

    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name: table,
        crs,
        fields: columns.clone(),
        features: prefetch(
            path,
            GpkgFeatures {
                path: path.to_path_buf(),
                conn,
                sql,
                columns,
                last_fid: i64::MIN,
                record: 0,
                chunk: Vec::new().into_iter(),
                done: false,
            },
        ),
        warnings,
    })
}

fn pick_layer(path: &Path, layers: &[String], layer: Option<&str>) -> Result<String> {
    let listed = || {
        if layers.is_empty() {
            "it has no feature layers".to_string()
        } else {
            format!("available: {}", layers.join(", "))
        }
    };
    match layer {
        Some(l) => layers
            .iter()
            .find(|n| n.as_str() == l)
            .or_else(|| layers.iter().find(|n| n.eq_ignore_ascii_case(l)))
            .cloned()
            .ok_or_else(|| ImportError::file(path, format!("no feature layer '{l}'; {}", listed()))),
        None => match layers {
            [one] => Ok(one.clone()),
            [] => Err(ImportError::file(path, "the GeoPackage has no feature layers")),
            _ => Err(ImportError::file(
                path,
                format!(
                    "{} feature layers, choose one with --layer; {}",
                    layers.len(),
                    listed()
                ),
            )),
        },
    }
}

fn layer_crs(
    path: &Path,
    conn: &Connection,
    table: &str,
    srs_id: i64,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Crs>> {
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(|e| sql_error(path, e))?;
    let unknown = |reason: String| {
        warning(
            path,
            None,
            format!("layer '{table}': {reason}; the CRS is unknown (pass --src-crs)"),
        )
    };
    match row {
        None => {
            warnings.push(unknown(format!("srs_id {srs_id} is not in gpkg_spatial_ref_sys")));
            Ok(None)
        }
        Some(_) if srs_id == 0 || srs_id == -1 => {
            warnings.push(unknown(format!("srs_id {srs_id} means an undefined CRS")));
            Ok(None)
        }
        Some((org, org_id, def)) => match crs_from_gpkg(&org, org_id, &def) {
            Ok(c) => Ok(Some(c)),
            Err(reason) => {
                warnings.push(unknown(format!("srs_id {srs_id} ({org}:{org_id}): {reason}")));
                Ok(None)
            }
        },
    }
}

/// The fid column (the INTEGER PRIMARY KEY, else `rowid`) and the attribute columns.
fn table_columns(
    path: &Path,
    conn: &Connection,
    table: &str,
    geom_col: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(String, Vec<FieldDef>)> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({})", quote(table)))
        .map_err(|e| sql_error(path, e))?;
    let cols: Vec<(String, String, i64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get(5)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(path, e))?;
    if cols.is_empty() {
        return Err(ImportError::file(
            path,
            format!("layer '{table}': the table does not exist"),
        ));
    }
    let fid = cols
        .iter()
        .find(|(_, t, pk)| *pk == 1 && t.eq_ignore_ascii_case("INTEGER"))
        .map_or_else(|| "rowid".to_string(), |(n, _, _)| n.clone());
    let mut fields = Vec::new();
    for (name, decl, _) in &cols {
        if *name == fid || name.eq_ignore_ascii_case(geom_col) {
            continue;
        }
        match field_type(decl) {
            Some(field_type) => fields.push(FieldDef {
                name: name.clone(),
                field_type,
            }),
            None => warnings.push(warning(
                path,
                None,
                format!("layer '{table}': column '{name}' of type {decl} is not read"),
            )),
        }
    }
    Ok((fid, fields))
}

/// The attribute type for a declared column type; `None` for BLOBs.
fn field_type(decl: &str) -> Option<FieldType> {
    let d = decl.to_ascii_uppercase();
    Some(if d.starts_with("BOOL") {
        FieldType::Bool
    } else if d.contains("INT") {
        FieldType::Int
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") || d.starts_with("NUMERIC") {
        FieldType::Real
    } else if d == "DATE" {
        FieldType::Date
    } else if d.contains("BLOB") {
        return None;
    } else {
        FieldType::Text // TEXT, TEXT(n), DATETIME (kept as its ISO text), undeclared
    })
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A SQLite value as the column's declared type (SQLite lets any cell hold any type).
fn attr(v: ValueRef<'_>, t: FieldType) -> AttrValue {
    match (v, t) {
        (ValueRef::Null, _) => AttrValue::Null,
        (ValueRef::Integer(i), FieldType::Bool) => AttrValue::Bool(i != 0),
        (ValueRef::Integer(i), FieldType::Real) => AttrValue::Real(i as f64),
        (ValueRef::Integer(i), FieldType::Text) => AttrValue::Text(i.to_string()),
        (ValueRef::Integer(i), _) => AttrValue::Int(i),
        (ValueRef::Real(r), FieldType::Text) => AttrValue::Text(r.to_string()),
        (ValueRef::Real(r), _) => AttrValue::Real(r),
        (ValueRef::Text(b), FieldType::Date) => {
            let s = String::from_utf8_lossy(b);
            Date::parse(s.get(..10).unwrap_or(&s))
                .map_or_else(|_| AttrValue::Text(s.into_owned()), AttrValue::Date)
        }
        (ValueRef::Text(b), _) => AttrValue::Text(String::from_utf8_lossy(b).into_owned()),
        (ValueRef::Blob(_), _) => AttrValue::Null,
    }
}

struct GpkgFeatures {
    path: PathBuf,
    conn: Connection,
    sql: String,
    columns: Vec<FieldDef>,
    last_fid: i64,
    /// Records handed out or queued so far.
    record: u64,
    chunk: std::vec::IntoIter<Result<SourceFeature>>,
    done: bool,
}

impl GpkgFeatures {
    /// Reads the next chunk of rows into `self.chunk`.
    fn fill(&mut self) -> rusqlite::Result<()> {
        let mut out = Vec::with_capacity(CHUNK_ROWS);
        let mut stmt = self.conn.prepare_cached(&self.sql)?;
        let mut rows = stmt.query([self.last_fid])?;
        let mut n = self.record;
        let mut last = self.last_fid;
        while let Some(row) = rows.next()? {
            n += 1;
            let fid: i64 = row.get(0)?;
            last = fid;
            out.push(build(&self.path, row, n, fid, &self.columns));
        }
        self.done = out.len() < CHUNK_ROWS;
        self.record = n;
        self.last_fid = last;
        self.chunk = out.into_iter();
        Ok(())
    }
}

fn build(
    path: &Path,
    row: &rusqlite::Row<'_>,
    n: u64,
    fid: i64,
    columns: &[FieldDef],
) -> Result<SourceFeature> {
    let fail = |reason: String| ImportError::record(path, n, format!("fid {fid}: {reason}"));
    let geometry = match row.get_ref(1).map_err(|e| fail(e.to_string()))? {
        ValueRef::Null => None,
        ValueRef::Blob(b) => cim_engine::gpkg::decode_geometry(b).map_err(|e| fail(e.to_string()))?,
        other => {
            return Err(fail(format!(
                "the geometry is a {:?}, not a blob",
                other.data_type()
            )))
        }
    };
    if let Some(g) = &geometry {
        check_coords(g).map_err(fail)?;
    }
    let mut attributes = Attributes::new();
    for (i, f) in columns.iter().enumerate() {
        let v = row.get_ref(i + 2).map_err(|e| fail(e.to_string()))?;
        attributes.insert(f.name.clone(), attr(v, f.field_type));
    }
    Ok(SourceFeature {
        record: n,
        key: format!("fid:{fid}"),
        geometry,
        attributes,
        kind: None,
        height_hint: None,
        warnings: Vec::new(),
    })
}

impl Iterator for GpkgFeatures {
    type Item = Result<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(f) = self.chunk.next() {
            return Some(f);
        }
        if self.done {
            return None;
        }
        if let Err(e) = self.fill() {
            self.done = true;
            self.chunk = Vec::new().into_iter();
            return Some(Err(ImportError::record(
                &self.path,
                self.record + 1,
                format!("cannot read the row: {e}"),
            )));
        }
        self.chunk.next()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn declared_types() {
        assert_eq!(field_type("BOOLEAN"), Some(FieldType::Bool));
        assert_eq!(field_type("MEDIUMINT"), Some(FieldType::Int));
        assert_eq!(field_type("DOUBLE"), Some(FieldType::Real));
        assert_eq!(field_type("TEXT(80)"), Some(FieldType::Text));
        assert_eq!(field_type("DATE"), Some(FieldType::Date));
        assert_eq!(field_type("DATETIME"), Some(FieldType::Text));
        assert_eq!(field_type("BLOB"), None);
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
