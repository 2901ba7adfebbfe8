//! Layers: their description (`cim_layers`), their feature table, R-tree and triggers.

use super::schema::q;
use super::SqlContext;
use crate::error::{EngineError, Result};
use crate::feature::{Classification, FeatureKind, FieldDef, FieldType};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The geometry type of a layer, as written in `gpkg_geometry_columns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeometryType {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    /// Any geometry; a layer mixing types is widened to this.
    Geometry,
}

impl GeometryType {
    pub const ALL: [GeometryType; 7] = [
        GeometryType::Point,
        GeometryType::LineString,
        GeometryType::Polygon,
        GeometryType::MultiPoint,
        GeometryType::MultiLineString,
        GeometryType::MultiPolygon,
        GeometryType::Geometry,
    ];

    /// The GeoPackage name: `POINT`, `LINESTRING`, … `GEOMETRY`.
    pub fn name(self) -> &'static str {
        match self {
            GeometryType::Point => "POINT",
            GeometryType::LineString => "LINESTRING",
            GeometryType::Polygon => "POLYGON",
            GeometryType::MultiPoint => "MULTIPOINT",
            GeometryType::MultiLineString => "MULTILINESTRING",
            GeometryType::MultiPolygon => "MULTIPOLYGON",
            GeometryType::Geometry => "GEOMETRY",
        }
    }

    /// Parses a GeoPackage name (case-insensitive); `GEOMETRYCOLLECTION` reads as `Geometry`.
    pub fn from_name(name: &str) -> Option<GeometryType> {
        let upper = name.trim().to_ascii_uppercase();
        if upper == "GEOMETRYCOLLECTION" {
            return Some(GeometryType::Geometry);
        }
        Self::ALL.into_iter().find(|t| t.name() == upper)
    }

    /// The type of one geometry (`Line` is a line string, `Rect`/`Triangle` polygons).
    pub fn of(g: &geo::Geometry<f64>) -> GeometryType {
        // The same as `from_name(gpkg::geometry_type_name(g))`, without the string round trip.
        match g {
            geo::Geometry::Point(_) => GeometryType::Point,
            geo::Geometry::Line(_) | geo::Geometry::LineString(_) => GeometryType::LineString,
            geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => {
                GeometryType::Polygon
            }
            geo::Geometry::MultiPoint(_) => GeometryType::MultiPoint,
            geo::Geometry::MultiLineString(_) => GeometryType::MultiLineString,
            geo::Geometry::MultiPolygon(_) => GeometryType::MultiPolygon,
            geo::Geometry::GeometryCollection(_) => GeometryType::Geometry,
        }
    }

    /// Whether a layer of this type may hold a geometry of type `other`.
    pub fn accepts(self, other: GeometryType) -> bool {
        self == GeometryType::Geometry || self == other
    }
}

/// What an importer asks for with [`ImportTx::ensure_layer`](super::ImportTx::ensure_layer).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    pub name: String,
    pub kind: FeatureKind,
    pub classification: Classification,
    pub geometry_type: GeometryType,
    pub fields: Vec<FieldDef>,
    /// Where the data came from (a file path, a URL), for provenance.
    pub source: String,
}

/// A layer as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    pub name: String,
    pub kind: FeatureKind,
    pub classification: Classification,
    pub geometry_type: GeometryType,
    pub fields: Vec<FieldDef>,
    pub feature_count: u64,
    /// `[min_x, min_y, max_x, max_y]` from `gpkg_contents`; `None` while the layer is empty.
    pub extent: Option<[f64; 4]>,
    pub source: String,
}

/// One attribute field and the table column it lives in (they differ when the field's name
/// clashes with a reserved column or another field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) column: String,
    #[serde(rename = "type")]
    pub(crate) sql_type: String,
}

impl Column {
    pub(crate) fn field_type(&self) -> FieldType {
        field_type_from_sql(&self.sql_type)
    }
}

/// A layer's row in `cim_layers`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LayerMeta {
    pub(crate) name: String,
    pub(crate) kind: FeatureKind,
    pub(crate) classification: Classification,
    pub(crate) geometry_type: GeometryType,
    pub(crate) columns: Vec<Column>,
    pub(crate) source: String,
}

impl LayerMeta {
    pub(crate) fn rtree(&self) -> String {
        rtree_name(&self.name)
    }
}

pub(crate) fn rtree_name(layer: &str) -> String {
    format!("rtree_{layer}_geom")
}

fn field_type_from_sql(sql: &str) -> FieldType {
    match sql {
        "BOOLEAN" => FieldType::Bool,
        "INTEGER" => FieldType::Int,
        "REAL" => FieldType::Real,
        "DATE" => FieldType::Date,
        _ => FieldType::Text,
    }
}

/// The fixed columns of every layer table, in order, after `fid` and `geom`.
pub(crate) const CIM_COLUMNS: [&str; 9] = [
    "cim_code",
    "cim_kind",
    "cim_class",
    "cim_valid_from",
    "cim_valid_to",
    "cim_base_m",
    "cim_height_m",
    "cim_height_src",
    "cim_source_key",
];

fn bad(layer: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Layer {
        layer: layer.to_string(),
        reason: reason.into(),
    }
}

/// Layer names become table names: reserved prefixes and control characters are refused.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let lower = name.to_ascii_lowercase();
    if name.trim().is_empty() || name.chars().count() > 120 {
        return Err(bad(name, "a layer name must have 1 to 120 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad(name, "a layer name must not contain control characters"));
    }
    for prefix in ["gpkg_", "gpkgext_", "cim_", "rtree_", "sqlite_"] {
        if lower.starts_with(prefix) {
            return Err(bad(name, format!("a layer name must not start with '{prefix}'")));
        }
    }
    Ok(())
}

/// Chooses a column name for `field` that clashes with neither the fixed columns nor `taken`
/// (compared case-insensitively, as SQLite does).
fn column_for(field: &str, taken: &[String]) -> String {
    let mut base: String = field
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    if base.trim().is_empty() {
        base = "field".into();
    }
    let lower = base.to_lowercase();
    if lower == "fid" || lower == "geom" || lower.starts_with("cim_") {
        base = format!("attr_{base}");
    }
    let clash = |c: &str| {
        let l = c.to_lowercase();
        taken.iter().any(|t| t.to_lowercase() == l)
    };
    if !clash(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}_{i}"))
        .find(|c| !clash(c))
        .unwrap_or(base) // (2..) is endless, so `find` always returns
}

fn row_to_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

const SELECT_META: &str = "SELECT name, kind, classification, geometry_type, source, fields FROM cim_layers";

fn parse_meta(
    path: &Path,
    (name, kind, class, gtype, source, fields): (String, String, String, String, String, String),
) -> Result<LayerMeta> {
    let corrupt = |what: &str| EngineError::NotAProject {
        path: path.to_path_buf(),
        reason: format!("layer '{name}': bad {what} in cim_layers"),
    };
    Ok(LayerMeta {
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        classification: class.parse().map_err(|_| corrupt("classification"))?,
        geometry_type: GeometryType::from_name(&gtype).ok_or_else(|| corrupt("geometry type"))?,
        columns: serde_json::from_str(&fields).map_err(|_| corrupt("field list"))?,
        source,
        name,
    })
}

/// Every layer, sorted by name.
pub(crate) fn all(conn: &Connection, path: &Path) -> Result<Vec<LayerMeta>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "{SELECT_META} WHERE EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = cim_layers.name) ORDER BY name"
        ))
        .ctx(path)?;
    let rows: Vec<_> = stmt
        .query_map([], row_to_meta)
        .ctx(path)?
        .collect::<rusqlite::Result<_>>()
        .ctx(path)?;
    rows.into_iter().map(|r| parse_meta(path, r)).collect()
}

/// One layer, if it exists.
pub(crate) fn find(conn: &Connection, path: &Path, name: &str) -> Result<Option<LayerMeta>> {
    let row = conn
        .prepare_cached(&format!(
            "{SELECT_META} WHERE name = ?1 AND EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = cim_layers.name)"
        ))
        .ctx(path)?
        .query_row([name], row_to_meta)
        .optional()
        .ctx(path)?;
    row.map(|r| parse_meta(path, r)).transpose()
}

/// One layer, or [`EngineError::LayerNotFound`].
pub(crate) fn load(conn: &Connection, path: &Path, name: &str) -> Result<LayerMeta> {
    find(conn, path, name)?.ok_or_else(|| EngineError::LayerNotFound {
        layer: name.to_string(),
    })
}

pub(crate) fn info(conn: &Connection, path: &Path, m: &LayerMeta) -> Result<LayerInfo> {
    let feature_count: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {}", q(&m.name)), [], |r| r.get(0))
        .ctx(path)?;
    let ext: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = conn
        .prepare_cached("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?1")
        .ctx(path)?
        .query_row([&m.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .ctx(path)?
        .unwrap_or((None, None, None, None));
    let extent = match ext {
        (Some(a), Some(b), Some(c), Some(d)) if feature_count > 0 => Some([a, b, c, d]),
        _ => None,
    };
    Ok(LayerInfo {
        name: m.name.clone(),
        kind: m.kind,
        classification: m.classification,
        geometry_type: m.geometry_type,
        fields: m
            .columns
            .iter()
            .map(|c| FieldDef {
                name: c.name.clone(),
                field_type: c.field_type(),
            })
            .collect(),
        feature_count: u64::try_from(feature_count).unwrap_or(0),
        extent,
        source: m.source.clone(),
    })
}

fn save_meta(conn: &Connection, path: &Path, m: &LayerMeta) -> Result<()> {
    let fields = serde_json::to_string(&m.columns).map_err(|e| bad(&m.name, e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO cim_layers (name, kind, classification, geometry_type, source, fields, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         ON CONFLICT(name) DO UPDATE SET kind = excluded.kind,
           classification = excluded.classification, geometry_type = excluded.geometry_type,
           source = excluded.source, fields = excluded.fields",
    )
    .ctx(path)?
    .execute(params![
        m.name,
        m.kind.name(),
        m.classification.name(),
        m.geometry_type.name(),
        m.source,
        fields
    ])
    .ctx(path)?;
    Ok(())
}

/// Creates the layer table, its R-tree, triggers and GeoPackage registrations.
pub(crate) fn create(conn: &Connection, path: &Path, spec: &LayerSpec, srs_id: i32) -> Result<LayerMeta> {
    check_name(&spec.name)?;
    let clash: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE name = ?1 COLLATE NOCASE
             UNION SELECT table_name FROM gpkg_contents WHERE table_name = ?1 COLLATE NOCASE",
            [&spec.name],
            |r| r.get(0),
        )
        .optional()
        .ctx(path)?;
    if let Some(other) = clash {
        return Err(bad(
            &spec.name,
            format!("the name clashes with table '{other}' in the project"),
        ));
    }
    let mut taken: Vec<String> = ["fid", "geom"].iter().map(|s| s.to_string()).collect();
    taken.extend(CIM_COLUMNS.iter().map(|s| s.to_string()));
    let mut columns = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        if columns.iter().any(|c: &Column| c.name == f.name) {
            return Err(bad(&spec.name, format!("field '{}' is listed twice", f.name)));
        }
        let column = column_for(&f.name, &taken);
        taken.push(column.clone());
        columns.push(Column {
            name: f.name.clone(),
            column,
            sql_type: f.field_type.sql().to_string(),
        });
    }
    let mut ddl = format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {}, \
         cim_code TEXT NOT NULL, cim_kind TEXT, cim_class TEXT, cim_valid_from DATE, \
         cim_valid_to DATE, cim_base_m REAL, cim_height_m REAL, cim_height_src TEXT, \
         cim_source_key TEXT",
        q(&spec.name),
        spec.geometry_type.name()
    );
    for c in &columns {
        ddl.push_str(&format!(", {} {}", q(&c.column), c.sql_type));
    }
    ddl.push(')');
    conn.execute_batch(&ddl).ctx(path)?;
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
         VALUES (?1, 'features', ?1, ?2, ?3)",
        params![
            spec.name,
            format!("{} layer from {}", spec.kind, spec.source),
            srs_id
        ],
    )
    .ctx(path)?;
    conn.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
        params![spec.name, spec.geometry_type.name(), srs_id],
    )
    .ctx(path)?;
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE {} USING rtree(id, minx, maxx, miny, maxy)",
        q(&rtree_name(&spec.name))
    ))
    .ctx(path)?;
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index',
         'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        [&spec.name],
    )
    .ctx(path)?;
    conn.execute_batch(&rtree_triggers_sql(&spec.name)).ctx(path)?;
    let meta = LayerMeta {
        name: spec.name.clone(),
        kind: spec.kind,
        classification: spec.classification,
        geometry_type: spec.geometry_type,
        columns,
        source: spec.source.clone(),
    };
    save_meta(conn, path, &meta)?;
    Ok(meta)
}

/// Brings an existing layer up to `spec`: the kind must match; new fields become new columns;
/// a different geometry type widens the layer to `GEOMETRY`. Returns whether anything changed.
pub(crate) fn extend(conn: &Connection, path: &Path, m: &mut LayerMeta, spec: &LayerSpec) -> Result<bool> {
    if m.kind != spec.kind {
        return Err(bad(
            &m.name,
            format!(
                "the layer holds {} features, the import brings {}",
                m.kind, spec.kind
            ),
        ));
    }
    let mut changed = false;
    for f in &spec.fields {
        if m.columns.iter().any(|c| c.name == f.name) {
            continue;
        }
        let mut taken: Vec<String> = ["fid", "geom"].iter().map(|s| s.to_string()).collect();
        taken.extend(CIM_COLUMNS.iter().map(|s| s.to_string()));
        taken.extend(m.columns.iter().map(|c| c.column.clone()));
        let column = column_for(&f.name, &taken);
        conn.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            q(&m.name),
            q(&column),
            f.field_type.sql()
        ))
        .ctx(path)?;
        m.columns.push(Column {
            name: f.name.clone(),
            column,
            sql_type: f.field_type.sql().to_string(),
        });
        changed = true;
    }
    if !m.geometry_type.accepts(spec.geometry_type) {
        set_geometry_type(conn, path, m, GeometryType::Geometry)?;
        changed = true;
    }
    if m.source != spec.source && !spec.source.is_empty() {
        m.source = spec.source.clone();
        changed = true;
    }
    if changed {
        save_meta(conn, path, m)?;
    }
    Ok(changed)
}

/// Records a new geometry type for a layer (the column's declared type stays; GeoPackage
/// readers go by `gpkg_geometry_columns`).
pub(crate) fn set_geometry_type(
    conn: &Connection,
    path: &Path,
    m: &mut LayerMeta,
    t: GeometryType,
) -> Result<()> {
    conn.execute(
        "UPDATE gpkg_geometry_columns SET geometry_type_name = ?2 WHERE table_name = ?1",
        params![m.name, t.name()],
    )
    .ctx(path)?;
    m.geometry_type = t;
    save_meta(conn, path, m)
}

/// The unique index on `cim_code` that earlier projects had in each layer (`cim_codes` keeps
/// codes unique and finds them; the first import into such a layer drops it).
pub(crate) fn code_index_name(t: &str) -> String {
    format!("cim_{t}_code")
}

const TRIGGERS: [&str; 7] = [
    "insert", "update2", "update3", "update4", "update6", "update7", "delete",
];

/// The GeoPackage 1.4 R-tree maintenance triggers (spec, annex "RTree Spatial Indexes").
pub(crate) fn rtree_triggers_sql(t: &str) -> String {
    let tq = q(t);
    let r = q(&rtree_name(t));
    let name = |s: &str| q(&format!("rtree_{t}_geom_{s}"));
    let vals = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)";
    let nonempty_new = "(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))";
    let empty_new = "(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))";
    format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {tq} WHEN {nonempty_new}
         BEGIN INSERT OR REPLACE INTO {r} VALUES ({vals}); END;
         CREATE TRIGGER {u2} AFTER UPDATE OF geom ON {tq} WHEN OLD.fid = NEW.fid AND {empty_new}
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
         CREATE TRIGGER {u3} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND {nonempty_new}
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; INSERT OR REPLACE INTO {r} VALUES ({vals}); END;
         CREATE TRIGGER {u4} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND {empty_new}
         BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {u6} AFTER UPDATE OF geom ON {tq} WHEN OLD.fid = NEW.fid AND {nonempty_new}
           AND (OLD.geom ISNULL OR ST_IsEmpty(OLD.geom))
         BEGIN INSERT INTO {r} VALUES ({vals}); END;
         CREATE TRIGGER {u7} AFTER UPDATE OF geom ON {tq} WHEN OLD.fid = NEW.fid AND {nonempty_new}
           AND (OLD.geom NOTNULL AND NOT ST_IsEmpty(OLD.geom))
         BEGIN UPDATE {r} SET minx = ST_MinX(NEW.geom), maxx = ST_MaxX(NEW.geom),
           miny = ST_MinY(NEW.geom), maxy = ST_MaxY(NEW.geom) WHERE id = NEW.fid; END;
         CREATE TRIGGER {delete} AFTER DELETE ON {tq} WHEN OLD.geom NOT NULL
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;",
        insert = name(TRIGGERS[0]),
        u2 = name(TRIGGERS[1]),
        u3 = name(TRIGGERS[2]),
        u4 = name(TRIGGERS[3]),
        u6 = name(TRIGGERS[4]),
        u7 = name(TRIGGERS[5]),
        delete = name(TRIGGERS[6]),
    )
}

/// Drops the R-tree triggers of a layer: an import maintains the R-tree itself, with the
/// envelope it already has, and puts the triggers back before it commits.
pub(crate) fn drop_rtree_triggers(conn: &Connection, path: &Path, t: &str) -> Result<()> {
    let sql: String = TRIGGERS
        .iter()
        .map(|s| format!("DROP TRIGGER IF EXISTS {};", q(&format!("rtree_{t}_geom_{s}"))))
        .collect();
    conn.execute_batch(&sql).ctx(path)
}

const CODE_TRIGGERS: [&str; 3] = ["insert", "update", "delete"];

/// Triggers that keep `cim_codes` in step when another tool (QGIS, GDAL, a script) inserts,
/// re-codes or deletes rows of a layer, so codes stay unique across the project: a row whose
/// code is taken anywhere fails to insert. An import drops them while it writes (it fills
/// `cim_codes` itself, sorted, at commit) and puts them back before it commits.
pub(crate) fn code_triggers_sql(t: &str) -> String {
    let tq = q(t);
    let layer = format!("'{}'", t.replace('\'', "''"));
    let name = |s: &str| q(&format!("cim_{t}_code_{s}"));
    format!(
        "CREATE TRIGGER IF NOT EXISTS {insert} AFTER INSERT ON {tq}
         BEGIN INSERT INTO cim_codes (code, layer, fid) VALUES (NEW.cim_code, {layer}, NEW.fid); END;
         CREATE TRIGGER IF NOT EXISTS {update} AFTER UPDATE OF cim_code, fid ON {tq}
         BEGIN DELETE FROM cim_codes WHERE code = OLD.cim_code AND layer = {layer};
           INSERT INTO cim_codes (code, layer, fid) VALUES (NEW.cim_code, {layer}, NEW.fid); END;
         CREATE TRIGGER IF NOT EXISTS {delete} AFTER DELETE ON {tq}
         BEGIN DELETE FROM cim_codes WHERE code = OLD.cim_code AND layer = {layer} AND fid = OLD.fid; END;",
        insert = name(CODE_TRIGGERS[0]),
        update = name(CODE_TRIGGERS[1]),
        delete = name(CODE_TRIGGERS[2]),
    )
}

/// Drops the triggers of [`code_triggers_sql`].
pub(crate) fn drop_code_triggers(conn: &Connection, path: &Path, t: &str) -> Result<()> {
    let sql: String = CODE_TRIGGERS
        .iter()
        .map(|s| format!("DROP TRIGGER IF EXISTS {};", q(&format!("cim_{t}_code_{s}"))))
        .collect();
    conn.execute_batch(&sql).ctx(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_avoid_reserved_and_case_clashes() {
        let mut taken: Vec<String> = vec!["fid".into(), "geom".into(), "cim_code".into()];
        let a = column_for("Name", &taken);
        taken.push(a.clone());
        let b = column_for("NAME", &taken);
        taken.push(b.clone());
        assert_eq!((a.as_str(), b.as_str()), ("Name", "NAME_2"));
        assert_eq!(column_for("FID", &taken), "attr_FID");
        assert_eq!(column_for("cim_code", &taken), "attr_cim_code");
        assert_eq!(column_for("", &taken), "field");
        assert_eq!(column_for("高度", &taken), "高度");
    }

    #[test]
    fn layer_names_are_checked() {
        assert!(check_name("buildings").is_ok());
        assert!(check_name("建筑").is_ok());
        for bad in ["", "  ", "gpkg_contents", "CIM_codes", "rtree_x", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn geometry_type_names_round_trip() {
        for t in GeometryType::ALL {
            assert_eq!(GeometryType::from_name(t.name()), Some(t));
        }
        assert!(GeometryType::Geometry.accepts(GeometryType::Point));
        assert!(!GeometryType::Polygon.accepts(GeometryType::MultiPolygon));
    }
}
