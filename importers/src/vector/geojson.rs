//! GeoJSON (RFC 7946): a FeatureCollection, a single Feature or a bare Geometry.
//!
//! The file is parsed into one `serde_json::Value` (the raw bytes are dropped right after), the
//! schema is the union of all property names with widened types, and features are converted
//! one at a time as the iterator is consumed, each freeing its JSON as it goes.

use super::crs::crs_from_name;
use super::prefetch::prefetch;
use super::{check_coords, close_ring, layer_name, warning};
use crate::error::{ImportError, Result, Warning};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::{AttrValue, Attributes, Crs, FieldDef, FieldType};
use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
    Polygon,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Reads a GeoJSON file. CRS: EPSG:4326 unless a legacy `crs` member names another.
pub fn read_geojson(path: &Path) -> Result<VectorSource> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::file(path, "empty file: no GeoJSON in it"));
    }
    let root: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ImportError::file(path, format!("not valid JSON: {e}")))?;
    drop(bytes);
    let Value::Object(mut root) = root else {
        return Err(ImportError::file(
            path,
            "not GeoJSON: the top level is not an object",
        ));
    };
    let mut warnings = Vec::new();
    let crs = declared_crs(path, &root, &mut warnings);
    let kind = root.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let features: Vec<Value> = match kind.as_str() {
        "FeatureCollection" => match root.remove("features") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(ImportError::file(
                    path,
                    "not GeoJSON: a FeatureCollection without a \"features\" array",
                ))
            }
        },
        "Feature" => vec![Value::Object(root)],
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon"
        | "GeometryCollection" => {
            let mut f = Map::new();
            f.insert("type".into(), "Feature".into());
            f.insert("geometry".into(), Value::Object(root));
            vec![Value::Object(f)]
        }
        "" => return Err(ImportError::file(path, "not GeoJSON: no \"type\" member")),
        other => {
            return Err(ImportError::file(
                path,
                format!("not GeoJSON: unknown type '{other}'"),
            ))
        }
    };
    if features.is_empty() {
        warnings.push(warning(path, None, "the FeatureCollection has no features"));
    }
    let fields = schema(&features);
    let use_ids = ids_are_unique(path, &features, &mut warnings);
    let types: Arc<HashMap<String, FieldType>> =
        Arc::new(fields.iter().map(|f| (f.name.clone(), f.field_type)).collect());
    let path_buf = path.to_path_buf();
    let iter = features.into_iter().enumerate().map(move |(i, f)| {
        let n = i as u64 + 1;
        feature(f, n, use_ids, &types).map_err(|reason| ImportError::record(&path_buf, n, reason))
    });
    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name: layer_name(path),
        crs,
        fields,
        features: prefetch(path, iter),
        warnings,
    })
}

/// The legacy (2008) `crs` member, else RFC 7946's WGS 84.
fn declared_crs(path: &Path, root: &Map<String, Value>, warnings: &mut Vec<Warning>) -> Option<Crs> {
    let Some(member) = root.get("crs").filter(|c| !c.is_null()) else {
        return match Crs::from_epsg(4326) {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(warning(path, None, format!("cannot build EPSG:4326: {e}")));
                None
            }
        };
    };
    let props = member.get("properties");
    let name = props
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let code = props.and_then(|p| p.get("code")).and_then(Value::as_i64);
    let named = match (name, code) {
        (Some(n), _) => n,
        (None, Some(c)) => format!("EPSG:{c}"),
        (None, None) => {
            warnings.push(warning(
                path,
                None,
                format!("unrecognised \"crs\" member {member}; the CRS is unknown (pass --src-crs)"),
            ));
            return None;
        }
    };
    match crs_from_name(&named) {
        Ok(c) => Some(c),
        Err(reason) => {
            let advice = if reason.contains("--src-crs") {
                ""
            } else {
                " (pass --src-crs)"
            };
            warnings.push(warning(
                path,
                None,
                format!("the declared CRS cannot be used: {reason}{advice}"),
            ));
            None
        }
    }
}

fn properties(f: &Value) -> Option<&Map<String, Value>> {
    f.get("properties").and_then(Value::as_object)
}

fn json_type(v: &Value) -> Option<FieldType> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some(FieldType::Bool),
        Value::Number(n) if n.is_i64() => Some(FieldType::Int),
        Value::Number(_) => Some(FieldType::Real),
        _ => Some(FieldType::Text),
    }
}

fn widen(a: FieldType, b: FieldType) -> FieldType {
    match (a, b) {
        _ if a == b => a,
        (FieldType::Int, FieldType::Real) | (FieldType::Real, FieldType::Int) => FieldType::Real,
        _ => FieldType::Text,
    }
}

/// The union of property names, sorted by name; types widen Int → Real → Text.
/// A property that is null everywhere is Text.
fn schema(features: &[Value]) -> Vec<FieldDef> {
    let mut types: BTreeMap<&str, Option<FieldType>> = BTreeMap::new();
    for f in features {
        for (k, v) in properties(f).into_iter().flatten() {
            let t = json_type(v);
            let slot = types.entry(k.as_str()).or_insert(t);
            *slot = match (*slot, t) {
                (Some(a), Some(b)) => Some(widen(a, b)),
                (a, b) => a.or(b),
            };
        }
    }
    types
        .into_iter()
        .map(|(name, t)| FieldDef {
            name: name.to_string(),
            field_type: t.unwrap_or(FieldType::Text),
        })
        .collect()
}

fn id_text(f: &Value) -> Option<String> {
    id_of(f.get("id"))
}

fn id_of(id: Option<&Value>) -> Option<String> {
    match id? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether every feature has an id and no two share one; otherwise keys are record numbers
/// for the whole file, so they stay stable.
fn ids_are_unique(path: &Path, features: &[Value], warnings: &mut Vec<Warning>) -> bool {
    let mut seen = HashSet::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let Some(id) = id_text(f) else {
            return false;
        };
        if !seen.insert(id.clone()) {
            warnings.push(warning(
                path,
                Some(i as u64 + 1),
                format!("duplicate feature id '{id}': keying every feature by its record number instead"),
            ));
            return false;
        }
    }
    true
}

fn feature(
    f: Value,
    n: u64,
    use_ids: bool,
    types: &HashMap<String, FieldType>,
) -> std::result::Result<SourceFeature, String> {
    let Value::Object(mut f) = f else {
        return Err("not a GeoJSON Feature object".into());
    };
    match f.get("type").and_then(Value::as_str) {
        Some("Feature") => {}
        Some(t) => return Err(format!("expected a Feature, found type '{t}'")),
        None => return Err("a feature without \"type\": \"Feature\"".into()),
    }
    let key = match (use_ids, id_of(f.get("id"))) {
        (true, Some(id)) => format!("id:{id}"),
        _ => format!("rec:{n}"),
    };
    let mut warnings = Vec::new();
    let geometry = match f.remove("geometry") {
        None | Some(Value::Null) => None,
        Some(g) => geometry(&g, &mut warnings).map_err(|e| format!("invalid geometry: {e}"))?,
    };
    if let Some(g) = &geometry {
        check_coords(g)?;
    }
    if geometry.is_none() {
        // JSON-FG puts geometry in another CRS (or 3-D solids) in `place`; say so rather than
        // only "no geometry".
        if let Some(place) = f.get("place").filter(|p| !p.is_null()) {
            let kind = place.get("type").and_then(Value::as_str).unwrap_or("?");
            let crs = f
                .get("coordRefSys")
                .map_or("its coordRefSys".to_string(), Value::to_string);
            warnings.push(format!(
                "JSON-FG: the geometry is only in \"place\" ({kind} in {crs}), which cim does not import yet; \
                 give the feature a WGS 84 \"geometry\" as well"
            ));
        }
    }
    let mut attributes = Attributes::new();
    if let Some(Value::Object(props)) = f.remove("properties") {
        for (k, v) in props {
            let t = types.get(&k).copied().unwrap_or(FieldType::Text);
            attributes.insert(k, attr(v, t));
        }
    }
    Ok(SourceFeature {
        record: n,
        key,
        geometry,
        attributes,
        kind: None,
        height_hint: None,
        warnings,
    })
}

/// A property value as the field's (widened) type.
fn attr(v: Value, t: FieldType) -> AttrValue {
    match (v, t) {
        (Value::Null, _) => AttrValue::Null,
        (Value::Bool(b), FieldType::Bool) => AttrValue::Bool(b),
        (Value::Number(n), FieldType::Int) => n.as_i64().map_or(AttrValue::Null, AttrValue::Int),
        (Value::Number(n), FieldType::Real) => n.as_f64().map_or(AttrValue::Null, AttrValue::Real),
        (Value::String(s), _) => AttrValue::Text(s),
        (other, _) => AttrValue::Text(other.to_string()),
    }
}

/// A GeoJSON geometry; rings that were not closed are closed, each with a message in `warnings`.
fn geometry(g: &Value, warnings: &mut Vec<String>) -> std::result::Result<Option<Geometry<f64>>, String> {
    let t = g
        .get("type")
        .and_then(Value::as_str)
        .ok_or("no geometry \"type\"")?;
    if t == "GeometryCollection" {
        let members = g
            .get("geometries")
            .and_then(Value::as_array)
            .ok_or("a GeometryCollection without \"geometries\"")?;
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            if let Some(geom) = geometry(m, warnings)? {
                out.push(geom);
            }
        }
        return Ok((!out.is_empty()).then(|| Geometry::GeometryCollection(GeometryCollection::new_from(out))));
    }
    let c = g
        .get("coordinates")
        .ok_or_else(|| format!("a {t} without \"coordinates\""))?;
    if c.as_array().is_some_and(Vec::is_empty) {
        return Ok(None);
    }
    Ok(Some(match t {
        "Point" => Point::from(coord(c)?).into(),
        "MultiPoint" => MultiPoint::new(coords(c)?.into_iter().map(Point::from).collect()).into(),
        "LineString" => LineString::new(coords(c)?).into(),
        "MultiLineString" => MultiLineString::new(lines(c)?).into(),
        "Polygon" => polygon(c, None, warnings)?.into(),
        "MultiPolygon" => MultiPolygon::new(
            array(c)?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, Some(i + 1), warnings))
                .collect::<std::result::Result<_, _>>()?,
        )
        .into(),
        other => return Err(format!("unknown geometry type '{other}'")),
    }))
}

fn array(v: &Value) -> std::result::Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array of coordinates, found {}", short(v)))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

fn coord(v: &Value) -> std::result::Result<Coord<f64>, String> {
    let a = array(v)?;
    let num = |i: usize| a.get(i).and_then(Value::as_f64);
    match (num(0), num(1)) {
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => Err(format!("a position needs two numbers, found {}", short(v))),
    }
}

fn coords(v: &Value) -> std::result::Result<Vec<Coord<f64>>, String> {
    array(v)?.iter().map(coord).collect()
}

fn lines(v: &Value) -> std::result::Result<Vec<LineString<f64>>, String> {
    array(v)?.iter().map(|l| coords(l).map(LineString::new)).collect()
}

/// A polygon's rings. `Polygon::new` would close an open ring silently; RFC 7946 requires
/// closed rings, so an open one is closed here and said (`member` numbers the polygons of a
/// MultiPolygon, from 1).
fn polygon(
    v: &Value,
    member: Option<usize>,
    warnings: &mut Vec<String>,
) -> std::result::Result<Polygon<f64>, String> {
    let mut rings = Vec::new();
    for (i, r) in array(v)?.iter().enumerate() {
        let mut ring = coords(r)?;
        if close_ring(&mut ring) {
            warnings.push(match member {
                None => format!("ring {} of polygon was not closed; closed it", i + 1),
                Some(m) => format!("ring {} of polygon {m} was not closed; closed it", i + 1),
            });
        }
        rings.push(LineString::new(ring));
    }
    let mut rings = rings.into_iter();
    let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
    Ok(Polygon::new(exterior, rings.collect()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_widens_types() {
        let fs = vec![
            json!({"type":"Feature","properties":{"a":1,"b":true,"c":"x","d":null,"e":1}}),
            json!({"type":"Feature","properties":{"a":2.5,"b":3,"c":null,"d":null,"f":{"k":1}}}),
        ];
        let s = schema(&fs);
        let t: Vec<_> = s.iter().map(|f| (f.name.as_str(), f.field_type)).collect();
        assert_eq!(
            t,
            vec![
                ("a", FieldType::Real),
                ("b", FieldType::Text),
                ("c", FieldType::Text),
                ("d", FieldType::Text),
                ("e", FieldType::Int),
                ("f", FieldType::Text),
            ]
        );
        assert_eq!(attr(json!(3), FieldType::Real), AttrValue::Real(3.0));
        assert_eq!(attr(json!(true), FieldType::Text), AttrValue::Text("true".into()));
        assert_eq!(
            attr(json!([1, 2]), FieldType::Text),
            AttrValue::Text("[1,2]".into())
        );
    }

    fn geometry_of(g: &Value) -> std::result::Result<Option<Geometry<f64>>, String> {
        let mut warnings = Vec::new();
        let out = geometry(g, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        out
    }

    #[test]
    fn unclosed_rings_are_closed_and_said() {
        let mut w = Vec::new();
        let g = geometry(
            &json!({"type":"MultiPolygon","coordinates":[
                [[[0,0],[1,0],[1,1],[0,0]]],
                [[[5,5],[6,5],[6,6]],[[5.1,5.1],[5.2,5.1],[5.2,5.2]]]
            ]}),
            &mut w,
        )
        .unwrap();
        let Some(Geometry::MultiPolygon(mp)) = g else {
            panic!("{g:?}");
        };
        assert_eq!(mp.0[1].exterior().0.len(), 4);
        assert_eq!(mp.0[1].exterior().0[3], Coord { x: 5.0, y: 5.0 });
        assert_eq!(
            w,
            vec![
                "ring 1 of polygon 2 was not closed; closed it".to_string(),
                "ring 2 of polygon 2 was not closed; closed it".to_string(),
            ]
        );
        let mut w = Vec::new();
        geometry(
            &json!({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}),
            &mut w,
        )
        .unwrap();
        assert_eq!(w, vec!["ring 1 of polygon was not closed; closed it".to_string()]);
    }

    #[test]
    fn geometries_parse() {
        let g = geometry_of(&json!({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.1,0.1],[0.2,0.1],[0.2,0.2],[0.1,0.1]]]})).unwrap();
        assert!(matches!(g, Some(Geometry::Polygon(p)) if p.interiors().len() == 1));
        assert!(geometry_of(&json!({"type":"Point","coordinates":[]}))
            .unwrap()
            .is_none());
        assert!(geometry_of(&json!({"type":"Point","coordinates":["a", 1]}))
            .unwrap_err()
            .contains("two numbers"));
        assert!(geometry_of(&json!({"type":"Curve","coordinates":[1, 2]})).is_err());
        let gc = geometry_of(
            &json!({"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2,3]}]}),
        )
        .unwrap();
        assert!(matches!(gc, Some(Geometry::GeometryCollection(c)) if c.0.len() == 1));
    }
}
