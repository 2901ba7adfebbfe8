//! Result tables a model declares for its runs: a name (`cim_run_…`), typed columns and rows,
//! each row keyed by the run and the columns the model names as its key (a city code, with a
//! direction or a time bin where it needs them). The store creates a table on first use, adds
//! columns a newer model declares to an older project's table, and records which tables each run
//! wrote (`cim_run_tables`) so a run is listed, read and removed whole whatever its model.
//! QGIS and SQL see plain tables joined to the layers by city code.

use super::manage::table_exists;
use super::SqlContext;
use crate::error::{EngineError, Result};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use std::path::Path;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Real,
    Integer,
    Text,
    /// Bytes (a model's own compact encoding, documented where it writes them).
    Blob,
}

impl ColumnKind {
    fn sql(self) -> &'static str {
        match self {
            ColumnKind::Real => "REAL",
            ColumnKind::Integer => "INTEGER",
            ColumnKind::Text => "TEXT",
            ColumnKind::Blob => "BLOB",
        }
    }

    /// What a row that predates the column reads.
    fn default_sql(self) -> &'static str {
        match self {
            ColumnKind::Real | ColumnKind::Integer => "0",
            ColumnKind::Text => "''",
            ColumnKind::Blob => "X''",
        }
    }
}

/// A column of a result table.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultColumn {
    /// Lower case, digits and `_`.
    pub name: String,
    pub kind: ColumnKind,
    /// Whether a row may leave it empty (a time never reached).
    pub nullable: bool,
}

impl ResultColumn {
    pub fn new(name: &str, kind: ColumnKind) -> ResultColumn {
        ResultColumn {
            name: name.to_string(),
            kind,
            nullable: false,
        }
    }

    pub fn nullable(name: &str, kind: ColumnKind) -> ResultColumn {
        ResultColumn {
            nullable: true,
            ..ResultColumn::new(name, kind)
        }
    }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Real(f64),
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Real(v) => Some(*v),
            Cell::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Real(v)
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Null, Cell::Real)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Integer(v)
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Integer(v as i64)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Owned(Value::Null),
            Cell::Real(v) => ToSqlOutput::Owned(Value::Real(*v)),
            Cell::Integer(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// A model's result table for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultTable {
    /// `cim_run_` and lower case, digits and `_` (`cim_run_trips`).
    pub name: String,
    pub columns: Vec<ResultColumn>,
    /// The columns that, with the run, name a row (`["code"]`, `["code", "direction", "bin"]`).
    pub key: Vec<String>,
    /// Each row's values in the order of `columns`.
    pub rows: Vec<Vec<Cell>>,
}

impl ResultTable {
    pub fn new(name: &str, columns: Vec<ResultColumn>, key: &[&str]) -> ResultTable {
        ResultTable {
            name: name.to_string(),
            columns,
            key: key.iter().map(|k| k.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The rows' values of a column (empty when there is none of that name).
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Cell> + 'a {
        let i = self.column(name);
        self.rows.iter().filter_map(move |r| i.and_then(|i| r.get(i)))
    }

    /// Checks names and shapes before anything is written.
    fn check(&self, path: &Path, run: &str) -> Result<()> {
        let invalid = |reason: String| {
            Err(EngineError::Run {
                name: run.to_string(),
                reason: format!("{}: result table '{}': {reason}", path.display(), self.name),
            })
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !self.name.starts_with("cim_run_") || !plain(&self.name) || self.name == "cim_run_tables" {
            return invalid("a result table is named cim_run_ and lower-case letters, digits or _".into());
        }
        for c in &self.columns {
            if !plain(&c.name) || matches!(c.name.as_str(), "fid" | "run") {
                return invalid(format!("column name '{}' is not allowed", c.name));
            }
        }
        for k in &self.key {
            if self.column(k).is_none() {
                return invalid(format!("key column '{k}' is not one of its columns"));
            }
        }
        if let Some((i, r)) = self
            .rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != self.columns.len())
        {
            return invalid(format!(
                "row {i} has {} values for {} columns",
                r.len(),
                self.columns.len()
            ));
        }
        Ok(())
    }
}

const REGISTRY: &str = "CREATE TABLE IF NOT EXISTS cim_run_tables (
  run TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY (run, name))";

fn columns_of(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?;
    let rows = stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The tables a run wrote, by name (runs of older projects: the flood's two, where they hold
/// rows of it).
pub(super) fn tables_of(conn: &rusqlite::Connection, path: &Path, run: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    if table_exists(conn, path, "cim_run_tables")? {
        let mut stmt = conn
            .prepare("SELECT name FROM cim_run_tables WHERE run = ?1 ORDER BY name")
            .ctx(path)?;
        let rows = stmt.query_map([run], |r| r.get::<_, String>(0)).ctx(path)?;
        names = rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)?;
    }
    for legacy in ["cim_run_buildings", "cim_run_roads"] {
        if !names.iter().any(|n| n == legacy)
            && table_exists(conn, path, legacy)?
            && conn
                .query_row(
                    &format!("SELECT EXISTS (SELECT 1 FROM {legacy} WHERE run = ?1)"),
                    [run],
                    |r| r.get::<_, bool>(0),
                )
                .ctx(path)?
        {
            names.push(legacy.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Removes a run's rows from every table it wrote.
pub(super) fn delete(tx: &rusqlite::Transaction, path: &Path, run: &str) -> Result<()> {
    for t in tables_of(tx, path, run)? {
        if table_exists(tx, path, &t)? {
            tx.execute(&format!("DELETE FROM {t} WHERE run = ?1"), [run])
                .ctx(path)?;
        }
    }
    if table_exists(tx, path, "cim_run_tables")? {
        tx.execute("DELETE FROM cim_run_tables WHERE run = ?1", [run])
            .ctx(path)?;
    }
    Ok(())
}

/// Writes a run's tables (after [`delete`]): each created or widened as declared.
pub(super) fn save(tx: &rusqlite::Transaction, path: &Path, run: &str, tables: &[ResultTable]) -> Result<()> {
    for t in tables {
        t.check(path, run)?;
    }
    tx.execute_batch(REGISTRY).ctx(path)?;
    for t in tables {
        if table_exists(tx, path, &t.name)? {
            let have = columns_of(tx, &t.name).ctx(path)?;
            for c in &t.columns {
                match have.iter().find(|(n, _)| *n == c.name) {
                    Some((_, ty)) if !ty.eq_ignore_ascii_case(c.kind.sql()) => {
                        return Err(EngineError::Run {
                            name: run.to_string(),
                            reason: format!(
                                "{}: table {} has column {} as {ty}, the model writes {}",
                                path.display(),
                                t.name,
                                c.name,
                                c.kind.sql()
                            ),
                        })
                    }
                    Some(_) => {}
                    None => {
                        // Rows of older runs read the column's empty value.
                        let null = if c.nullable {
                            String::new()
                        } else {
                            format!(" NOT NULL DEFAULT {}", c.kind.default_sql())
                        };
                        tx.execute_batch(&format!(
                            "ALTER TABLE {} ADD COLUMN {} {}{null}",
                            t.name,
                            c.name,
                            c.kind.sql()
                        ))
                        .ctx(path)?;
                    }
                }
            }
        } else {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| {
                    format!(
                        "{} {}{}",
                        c.name,
                        c.kind.sql(),
                        if c.nullable { "" } else { " NOT NULL" }
                    )
                })
                .collect();
            let unique = if t.key.is_empty() {
                String::new()
            } else {
                format!(", UNIQUE (run, {})", t.key.join(", "))
            };
            tx.execute_batch(&format!(
                "CREATE TABLE {} (fid INTEGER PRIMARY KEY, run TEXT NOT NULL, {}{unique});
                 CREATE INDEX IF NOT EXISTS {}_run ON {} (run);",
                t.name,
                cols.join(", "),
                t.name,
                t.name
            ))
            .ctx(path)?;
        }
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        let marks: Vec<String> = (0..=names.len()).map(|i| format!("?{}", i + 1)).collect();
        let mut stmt = tx
            .prepare(&format!(
                "INSERT INTO {} (run, {}) VALUES ({})",
                t.name,
                names.join(", "),
                marks.join(", ")
            ))
            .ctx(path)?;
        for (i, row) in t.rows.iter().enumerate() {
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(row.len() + 1);
            values.push(&run);
            values.extend(row.iter().map(|c| c as &dyn rusqlite::ToSql));
            stmt.execute(values.as_slice()).map_err(|e| EngineError::Run {
                name: run.to_string(),
                reason: format!("{}: table {}, row {i}: {e}", path.display(), t.name),
            })?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO cim_run_tables (run, name, rows) VALUES (?1, ?2, ?3)",
            rusqlite::params![run, t.name, t.rows.len() as i64],
        )
        .ctx(path)?;
    }
    Ok(())
}

/// Reads a run's rows of a table: every column but `fid` and `run`, as stored, in insertion
/// order; `None` when the table is not there.
pub(super) fn read(
    conn: &rusqlite::Connection,
    path: &Path,
    run: &str,
    table: &str,
) -> Result<Option<ResultTable>> {
    if !table.starts_with("cim_run_")
        || !table
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || !table_exists(conn, path, table)?
    {
        return Ok(None);
    }
    let columns: Vec<ResultColumn> = columns_of(conn, table)
        .ctx(path)?
        .into_iter()
        .filter(|(n, _)| n != "fid" && n != "run")
        .map(|(name, ty)| ResultColumn {
            name,
            kind: match ty.to_ascii_uppercase().as_str() {
                "INTEGER" => ColumnKind::Integer,
                "TEXT" => ColumnKind::Text,
                "BLOB" => ColumnKind::Blob,
                _ => ColumnKind::Real,
            },
            nullable: true,
        })
        .collect();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM {table} WHERE run = ?1 ORDER BY fid",
            names.join(", ")
        ))
        .ctx(path)?;
    let n = names.len();
    let rows = stmt
        .query_map([run], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(v) => Cell::Integer(v),
                        ValueRef::Real(v) => Cell::Real(v),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<Cell>>>()
        })
        .ctx(path)?;
    Ok(Some(ResultTable {
        name: table.to_string(),
        columns,
        key: Vec::new(),
        rows: rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)?,
    }))
}
