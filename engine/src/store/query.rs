//! Reading features back: filters in SQL, rows into [`Feature`]s.

use super::layer::{self, LayerMeta};
use super::schema::q;
use super::SqlContext;
use crate::code::CityCode;
use crate::date::Date;
use crate::error::{EngineError, Result};
use crate::feature::{
    AttrValue, Attributes, Classification, Feature, FeatureKind, FieldType, HeightSource, Lod1, Validity,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use std::path::Path;

/// Which features a query returns. `Default` is everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureFilter {
    /// Only these layers (each must exist).
    pub layers: Option<Vec<String>>,
    /// `[min_x, min_y, max_x, max_y]`: features whose envelope intersects it (boundaries
    /// included), found through the layer's GeoPackage R-tree.
    pub bbox: Option<[f64; 4]>,
    /// Features that existed on this date ([`Validity::contains`]).
    pub as_of: Option<Date>,
    /// Features at most this classified.
    pub max_classification: Option<Classification>,
    pub kinds: Option<Vec<FeatureKind>>,
    /// At most this many features in all.
    pub limit: Option<usize>,
    /// Attribute conditions, all of which a feature meets ([`super::parse_conditions`]).
    pub conditions: Vec<super::Condition>,
}

/// A feature with where it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFeature {
    pub layer: String,
    pub fid: i64,
    pub feature: Feature,
}

/// The layers a filter covers, sorted by name.
fn layers_for(conn: &Connection, path: &Path, filter: &FeatureFilter) -> Result<Vec<LayerMeta>> {
    match &filter.layers {
        None => layer::all(conn, path),
        Some(names) => {
            let mut names: Vec<&String> = names.iter().collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| layer::load(conn, path, n)).collect()
        }
    }
}

/// The WHERE clause (possibly empty) and its parameters for one layer.
fn where_clause(m: &LayerMeta, filter: &FeatureFilter) -> (String, Vec<Value>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let p = |v: Value, params: &mut Vec<Value>| {
        params.push(v);
        format!("?{}", params.len())
    };
    if let Some([minx, miny, maxx, maxy]) = filter.bbox {
        let (a, b, c, d) = (
            p(Value::Real(minx), &mut params),
            p(Value::Real(miny), &mut params),
            p(Value::Real(maxx), &mut params),
            p(Value::Real(maxy), &mut params),
        );
        // The R-tree stores f32 bounds rounded outwards: it narrows the search, and the blob
        // header envelope (f64) decides exactly.
        conds.push(format!(
            "fid IN (SELECT id FROM {} WHERE minx <= {c} AND maxx >= {a} AND miny <= {d} AND maxy >= {b}) \
             AND ST_MinX(geom) <= {c} AND ST_MaxX(geom) >= {a} AND ST_MinY(geom) <= {d} AND ST_MaxY(geom) >= {b}",
            q(&m.rtree())
        ));
    }
    if let Some(date) = filter.as_of {
        let d = p(Value::Text(date.to_string()), &mut params);
        conds.push(format!(
            "(cim_valid_from IS NULL OR cim_valid_from <= {d}) AND (cim_valid_to IS NULL OR cim_valid_to > {d})"
        ));
    }
    if let Some(max) = filter.max_classification {
        let allowed: Vec<String> = [
            Classification::Public,
            Classification::Internal,
            Classification::Restricted,
        ]
        .into_iter()
        .filter(|c| *c <= max)
        .map(|c| format!("'{}'", c.name()))
        .collect();
        conds.push(format!(
            "coalesce(cim_class, '{}') IN ({})",
            m.classification.name(),
            allowed.join(", ")
        ));
    }
    if let Some(kinds) = &filter.kinds {
        let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.name())).collect();
        conds.push(format!(
            "coalesce(cim_kind, '{}') IN ({})",
            m.kind.name(),
            if names.is_empty() {
                "NULL".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    for c in &filter.conditions {
        // A field by its name, or a cim column (cim_code, cim_kind…); a layer without it has
        // no feature that meets the condition.
        let column = m
            .columns
            .iter()
            .find(|col| col.name == c.field)
            .map(|col| q(&col.column))
            .or_else(|| {
                layer::CIM_COLUMNS
                    .contains(&c.field.as_str())
                    .then(|| c.field.clone())
            });
        let Some(column) = column else {
            conds.push("0".into());
            continue;
        };
        match c.op {
            super::CmpOp::IsNull | super::CmpOp::IsNotNull => conds.push(format!("{column} {}", c.op.sql())),
            op => {
                let v = match &c.value {
                    crate::AttrValue::Bool(b) => Value::Integer(i64::from(*b)),
                    crate::AttrValue::Int(i) => Value::Integer(*i),
                    crate::AttrValue::Real(r) => Value::Real(*r),
                    crate::AttrValue::Text(t) => Value::Text(t.clone()),
                    crate::AttrValue::Date(d) => Value::Text(d.to_string()),
                    crate::AttrValue::Null => Value::Null,
                };
                let at = p(v, &mut params);
                conds.push(format!("{column} {} {at}", op.sql()));
            }
        }
    }
    if conds.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", conds.join(" AND ")), params)
    }
}

fn select_sql(m: &LayerMeta) -> String {
    let mut cols = String::from("fid, geom");
    for c in layer::CIM_COLUMNS {
        cols.push_str(", ");
        cols.push_str(c);
    }
    for c in &m.columns {
        cols.push_str(", ");
        cols.push_str(&q(&c.column));
    }
    format!("SELECT {cols} FROM {}", q(&m.name))
}

pub(super) fn for_each(
    conn: &Connection,
    path: &Path,
    filter: &FeatureFilter,
    f: &mut dyn FnMut(StoredFeature) -> Result<()>,
) -> Result<()> {
    let mut left = filter.limit.unwrap_or(usize::MAX);
    for m in layers_for(conn, path, filter)? {
        if left == 0 {
            break;
        }
        let (cond, mut params) = where_clause(&m, filter);
        params.push(Value::Integer(i64::try_from(left).unwrap_or(i64::MAX)));
        let sql = format!("{}{cond} ORDER BY fid LIMIT ?{}", select_sql(&m), params.len());
        let mut stmt = conn.prepare_cached(&sql).ctx(path)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).ctx(path)?;
        while let Some(row) = rows.next().ctx(path)? {
            f(read_row(row, &m, path)?)?;
            left -= 1;
        }
    }
    Ok(())
}

/// Features whose city code or any attribute value contains `text` (case-insensitive for
/// Latin letters), at most `limit`, in (layer, fid) order. `%`, `_` and `\\` in `text` match
/// themselves.
pub(super) fn search(conn: &Connection, path: &Path, text: &str, limit: usize) -> Result<Vec<StoredFeature>> {
    let mut out = Vec::new();
    let needle = text.trim();
    if needle.is_empty() || limit == 0 {
        return Ok(out);
    }
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    for m in layer::all(conn, path)? {
        if out.len() >= limit {
            break;
        }
        let mut conds = vec!["cim_code LIKE ?1 ESCAPE '\\'".to_string()];
        for c in &m.columns {
            conds.push(format!("CAST({} AS TEXT) LIKE ?1 ESCAPE '\\'", q(&c.column)));
        }
        let sql = format!(
            "{} WHERE {} ORDER BY fid LIMIT ?2",
            select_sql(&m),
            conds.join(" OR ")
        );
        let left = i64::try_from(limit - out.len()).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare(&sql).ctx(path)?;
        let mut rows = stmt.query(rusqlite::params![pattern, left]).ctx(path)?;
        while let Some(row) = rows.next().ctx(path)? {
            out.push(read_row(row, &m, path)?);
        }
    }
    Ok(out)
}

pub(super) fn count(conn: &Connection, path: &Path, filter: &FeatureFilter) -> Result<u64> {
    let mut total: u64 = 0;
    let cap = filter.limit.map(|l| l as u64).unwrap_or(u64::MAX);
    for m in layers_for(conn, path, filter)? {
        if total >= cap {
            break;
        }
        let (cond, params) = where_clause(&m, filter);
        let sql = format!("SELECT count(*) FROM {}{cond}", q(&m.name));
        let n: i64 = conn
            .prepare_cached(&sql)
            .ctx(path)?
            .query_row(rusqlite::params_from_iter(params), |r| r.get(0))
            .ctx(path)?;
        total = total.saturating_add(u64::try_from(n).unwrap_or(0));
    }
    Ok(total.min(cap))
}

pub(super) fn by_fid(
    conn: &Connection,
    path: &Path,
    m: &LayerMeta,
    fid: i64,
) -> Result<Option<StoredFeature>> {
    let sql = format!("{} WHERE fid = ?1", select_sql(m));
    let mut stmt = conn.prepare_cached(&sql).ctx(path)?;
    let mut rows = stmt.query([fid]).ctx(path)?;
    match rows.next().ctx(path)? {
        Some(row) => Ok(Some(read_row(row, m, path)?)),
        None => Ok(None),
    }
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        _ => None,
    }
}

fn real(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Real(r) => Some(r),
        ValueRef::Integer(i) => Some(i as f64),
        _ => None,
    }
}

fn attr(v: ValueRef<'_>, t: FieldType) -> Option<AttrValue> {
    Some(match (v, t) {
        (ValueRef::Null, _) | (ValueRef::Blob(_), _) => return None,
        (ValueRef::Integer(i), FieldType::Bool) => AttrValue::Bool(i != 0),
        (ValueRef::Integer(i), _) => AttrValue::Int(i),
        (ValueRef::Real(r), _) => AttrValue::Real(r),
        (ValueRef::Text(s), FieldType::Date) => {
            let s = String::from_utf8_lossy(s);
            match Date::parse(&s) {
                Ok(d) if s.len() == 10 => AttrValue::Date(d),
                _ => AttrValue::Text(s.into_owned()),
            }
        }
        (ValueRef::Text(s), _) => AttrValue::Text(String::from_utf8_lossy(s).into_owned()),
    })
}

fn read_row(row: &rusqlite::Row<'_>, m: &LayerMeta, path: &Path) -> Result<StoredFeature> {
    let get = |i: usize| row.get_ref(i).ctx(path);
    let fid: i64 = row.get(0).ctx(path)?;
    let geometry = match get(1)? {
        ValueRef::Blob(b) => {
            crate::gpkg::decode_geometry(b).map_err(|source| EngineError::StoredGeometry {
                layer: m.name.clone(),
                fid,
                source,
                path: path.to_path_buf(),
            })?
        }
        _ => None,
    }
    .unwrap_or_else(|| geo::Geometry::GeometryCollection(geo::GeometryCollection(Vec::new())));
    let code = CityCode::from_stored(text(get(2)?).unwrap_or_default());
    let kind = text(get(3)?).and_then(|k| k.parse().ok()).unwrap_or(m.kind);
    let classification = text(get(4)?)
        .and_then(|c| c.parse().ok())
        .unwrap_or(m.classification);
    let date = |i: usize| -> Result<Option<Date>> { Ok(text(get(i)?).and_then(|t| Date::parse(&t).ok())) };
    let validity = Validity {
        from: date(5)?,
        to: date(6)?,
    };
    let lod1 = match real(get(8)?) {
        Some(height_m) => Some(Lod1 {
            base_m: real(get(7)?).unwrap_or(0.0),
            height_m,
            height_source: text(get(9)?)
                .and_then(|s| s.parse().ok())
                .unwrap_or(HeightSource::Default),
        }),
        None => None,
    };
    let source_key = text(get(10)?).unwrap_or_default();
    let mut attributes = Attributes::new();
    for (i, c) in m.columns.iter().enumerate() {
        if let Some(v) = attr(get(11 + i)?, c.field_type()) {
            attributes.insert(c.name.clone(), v);
        }
    }
    Ok(StoredFeature {
        layer: m.name.clone(),
        fid,
        feature: Feature {
            code,
            kind,
            geometry,
            lod1,
            attributes,
            validity,
            classification,
            source_key,
        },
    })
}
