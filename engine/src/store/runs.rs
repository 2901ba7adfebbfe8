//! Simulation runs stored with the project: a record per run (the scenario it ran, where its
//! rasters are, its summary) and per-feature result tables keyed by city code, so a run can be
//! listed, compared and joined to its layers in QGIS or SQL. Tables are created on the first
//! saved run.

use super::manage::table_exists;
use super::result_tables::{self, Cell, ColumnKind, ResultColumn, ResultTable};
use super::run_rasters::RunSpool;
use super::{Project, SqlContext};
use crate::error::Result;
use rusqlite::params;

const RUN_TABLE: &str = "
CREATE TABLE IF NOT EXISTS cim_runs (
  name TEXT NOT NULL PRIMARY KEY, model TEXT NOT NULL, scenario TEXT NOT NULL, created TEXT NOT NULL,
  completed INTEGER NOT NULL, time_reached_s REAL NOT NULL, outputs TEXT NOT NULL, summary TEXT NOT NULL);
";

/// Closed intervals as stored: `from-to` pairs in seconds joined by `;`, an open end empty
/// (`120-450;600-`).
fn intervals_text(v: &[(f64, Option<f64>)]) -> String {
    v.iter()
        .map(|(a, b)| match b {
            Some(b) => format!("{a}-{b}"),
            None => format!("{a}-"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn intervals_of(text: &str) -> Vec<(f64, Option<f64>)> {
    text.split(';')
        .filter_map(|p| {
            let (a, b) = p.split_once('-')?;
            Some((
                a.parse().ok()?,
                if b.is_empty() { None } else { Some(b.parse().ok()?) },
            ))
        })
        .collect()
}

/// One stored run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub name: String,
    pub model: String,
    /// The scenario as run (TOML, with its baseline merged in).
    pub scenario: String,
    /// ISO 8601, UTC (empty when saving: now).
    pub created: String,
    /// Whether it reached its end (a stopped run keeps what it had).
    pub completed: bool,
    pub time_reached_s: f64,
    /// Empty: its rasters are in the project ([`Project::run_rasters`]); runs stored before
    /// they moved inside name the folder of their GeoTIFFs, relative to the project's folder.
    pub outputs: String,
    pub summary: serde_json::Value,
}

/// A building's result in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunBuilding {
    pub code: String,
    pub max_depth_m: f64,
    pub first_wet_s: Option<f64>,
    pub class: String,
    /// Its class at each of the run's snapshots (`summary.run.snapshots`), a digit each: 0 dry,
    /// 1 under 0.15 m, 2 up to 0.5 m, 3 deeper. Empty for runs stored before it was kept.
    pub classes: String,
}

/// A road's result in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRoad {
    pub code: String,
    pub length_m: f64,
    pub max_depth_m: f64,
    pub closed_s: Option<f64>,
    pub reopened_s: Option<f64>,
    pub closed_for_s: f64,
    /// Every interval it was closed, in order: from, and to (`None`: still closed at the end).
    /// Empty for runs stored before intervals were kept.
    pub closed_intervals: Vec<(f64, Option<f64>)>,
}

impl RunBuilding {
    /// The flood's building table (`cim_run_buildings`, by code) holding `rows`.
    pub fn table(rows: &[RunBuilding]) -> ResultTable {
        use ColumnKind::*;
        let mut t = ResultTable::new(
            "cim_run_buildings",
            vec![
                ResultColumn::new("code", Text),
                ResultColumn::new("max_depth_m", Real),
                ResultColumn::nullable("first_wet_s", Real),
                ResultColumn::new("class", Text),
                ResultColumn::new("classes", Text),
            ],
            &["code"],
        );
        t.rows = rows
            .iter()
            .map(|r| {
                vec![
                    Cell::from(r.code.as_str()),
                    r.max_depth_m.into(),
                    r.first_wet_s.into(),
                    r.class.as_str().into(),
                    r.classes.as_str().into(),
                ]
            })
            .collect();
        t
    }
}

impl RunRoad {
    /// The flood's road table (`cim_run_roads`, by code) holding `rows`.
    pub fn table(rows: &[RunRoad]) -> ResultTable {
        use ColumnKind::*;
        let mut t = ResultTable::new(
            "cim_run_roads",
            vec![
                ResultColumn::new("code", Text),
                ResultColumn::new("length_m", Real),
                ResultColumn::new("max_depth_m", Real),
                ResultColumn::nullable("closed_s", Real),
                ResultColumn::nullable("reopened_s", Real),
                ResultColumn::new("closed_for_s", Real),
                ResultColumn::new("closed_intervals", Text),
            ],
            &["code"],
        );
        t.rows = rows
            .iter()
            .map(|r| {
                vec![
                    Cell::from(r.code.as_str()),
                    r.length_m.into(),
                    r.max_depth_m.into(),
                    r.closed_s.into(),
                    r.reopened_s.into(),
                    r.closed_for_s.into(),
                    intervals_text(&r.closed_intervals).into(),
                ]
            })
            .collect();
        t
    }
}

impl Project {
    /// Stores a run with its rasters (spooled since [`Project::begin_run`]), replacing one of
    /// the same name, in one transaction.
    pub fn save_run(
        &mut self,
        run: &RunRecord,
        tables: &[ResultTable],
        mut rasters: Option<RunSpool>,
    ) -> Result<()> {
        let path = self.meta.path.clone();
        let srs_id = self.meta.srs_id;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(&path)?;
        super::run_rasters::save(&tx, &path, srs_id, &run.name, rasters.as_mut())?;
        tx.execute_batch(RUN_TABLE).ctx(&path)?;
        tx.execute("DELETE FROM cim_runs WHERE name = ?1", [&run.name])
            .ctx(&path)?;
        result_tables::delete(&tx, &path, &run.name)?;
        tx.execute(
            "INSERT INTO cim_runs (name, model, scenario, created, completed, time_reached_s, outputs, summary)
             VALUES (?1, ?2, ?3, coalesce(nullif(?4, ''), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), ?5, ?6, ?7, ?8)",
            params![
                run.name,
                run.model,
                run.scenario,
                run.created,
                run.completed,
                run.time_reached_s,
                run.outputs,
                run.summary.to_string()
            ],
        )
        .ctx(&path)?;
        result_tables::save(&tx, &path, &run.name, tables)?;
        tx.commit().ctx(&path)
    }

    /// The result tables a run wrote, by name.
    pub fn run_tables(&self, name: &str) -> Result<Vec<String>> {
        result_tables::tables_of(&self.conn, &self.meta.path, name)
    }

    /// A run's rows of one of its result tables (`None` where the project has no such table).
    pub fn run_table(&self, name: &str, table: &str) -> Result<Option<ResultTable>> {
        result_tables::read(&self.conn, &self.meta.path, name, table)
    }

    fn has_runs(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cim_runs')",
                [],
                |r| r.get(0),
            )
            .ctx(&self.meta.path)
    }

    /// Every stored run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        if !self.has_runs()? {
            return Ok(Vec::new());
        }
        let path = &self.meta.path;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, model, scenario, created, completed, time_reached_s, outputs, summary
                 FROM cim_runs ORDER BY created, name",
            )
            .ctx(path)?;
        let rows = stmt
            .query_map([], |r| {
                let summary: String = r.get(7)?;
                Ok(RunRecord {
                    name: r.get(0)?,
                    model: r.get(1)?,
                    scenario: r.get(2)?,
                    created: r.get(3)?,
                    completed: r.get(4)?,
                    time_reached_s: r.get(5)?,
                    outputs: r.get(6)?,
                    summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
                })
            })
            .ctx(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)
    }

    /// The run of that name, if stored.
    pub fn run(&self, name: &str) -> Result<Option<RunRecord>> {
        Ok(self.runs()?.into_iter().find(|r| r.name == name))
    }

    /// A run's buildings, by code.
    pub fn run_buildings(&self, name: &str) -> Result<Vec<RunBuilding>> {
        let path = &self.meta.path;
        // Projects whose runs are of other models have no such table.
        if !self.has_runs()? || !table_exists(&self.conn, path, "cim_run_buildings")? {
            return Ok(Vec::new());
        }
        // Read-only opens cannot add the column to older projects: read none there.
        let classes = if has_column(&self.conn, "cim_run_buildings", "classes").ctx(path)? {
            "classes"
        } else {
            "''"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT code, max_depth_m, first_wet_s, class, {classes} FROM cim_run_buildings WHERE run = ?1 ORDER BY code"
            ))
            .ctx(path)?;
        let rows = stmt
            .query_map([name], |r| {
                Ok(RunBuilding {
                    code: r.get(0)?,
                    max_depth_m: r.get(1)?,
                    first_wet_s: r.get(2)?,
                    class: r.get(3)?,
                    classes: r.get(4)?,
                })
            })
            .ctx(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)
    }

    /// A run's roads, by code.
    pub fn run_roads(&self, name: &str) -> Result<Vec<RunRoad>> {
        let path = &self.meta.path;
        if !self.has_runs()? || !table_exists(&self.conn, path, "cim_run_roads")? {
            return Ok(Vec::new());
        }
        // Runs stored before intervals were kept have no such column.
        let intervals = if has_column(&self.conn, "cim_run_roads", "closed_intervals").ctx(path)? {
            "closed_intervals"
        } else {
            "''"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT code, length_m, max_depth_m, closed_s, reopened_s, closed_for_s, {intervals}
                 FROM cim_run_roads WHERE run = ?1 ORDER BY code"
            ))
            .ctx(path)?;
        let rows = stmt
            .query_map([name], |r| {
                Ok(RunRoad {
                    code: r.get(0)?,
                    length_m: r.get(1)?,
                    max_depth_m: r.get(2)?,
                    closed_s: r.get(3)?,
                    reopened_s: r.get(4)?,
                    closed_for_s: r.get(5)?,
                    closed_intervals: intervals_of(&r.get::<_, String>(6)?),
                })
            })
            .ctx(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)
    }

    /// Removes a stored run: its records and rasters, and the raster folder of a run stored
    /// before they moved inside the project; `false` if there is no such run.
    pub fn delete_run(&mut self, name: &str) -> Result<bool> {
        if !self.has_runs()? {
            return Ok(false);
        }
        let path = self.meta.path.clone();
        let legacy = self.run(name)?.map(|r| r.outputs).filter(|o| !o.is_empty());
        let tx = self.conn.transaction().ctx(&path)?;
        super::run_rasters::delete(&tx, &path, name)?;
        let n = tx
            .execute("DELETE FROM cim_runs WHERE name = ?1", [name])
            .ctx(&path)?;
        result_tables::delete(&tx, &path, name)?;
        tx.commit().ctx(&path)?;
        if let Some(outputs) = legacy {
            let folder = path.parent().unwrap_or(std::path::Path::new("")).join(outputs);
            if folder.is_dir() {
                std::fs::remove_dir_all(&folder).map_err(|source| crate::EngineError::Io {
                    path: folder.clone(),
                    source,
                })?;
            }
        }
        Ok(n > 0)
    }
}

/// Whether `table` has a column `column`.
fn has_column(conn: &rusqlite::Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        [table, column],
        |r| r.get(0),
    )
}
