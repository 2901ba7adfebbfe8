//! OGC JSON-FG (`.json`, `.fg.json`) features whose `place` is a 3-D solid: Polyhedron,
//! MultiPolyhedron and Prism, in the CRS `coordRefSys` names (on the feature or the collection).
//! A feature's `geometry` (WGS 84, for GeoJSON readers) is not needed then: the footprint comes
//! from the solid. JSON-FG states no level of detail; the representation's LoD is left empty.

use std::path::Path;

use cim_engine::mesh::{GeometryKind, SurfaceClass};
use cim_engine::{Attributes, Crs, Date};
use serde_json::Value;

use super::{CityModelIn, CityObjectIn, RepresentationIn, SurfaceIn};
use crate::error::{ImportError, Result, Warning};

/// Whether a file's start looks like JSON-FG with a solid `place`.
pub fn looks_like(head: &[u8]) -> bool {
    let t = String::from_utf8_lossy(head);
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("\"place\":{")
        && [
            "\"Polyhedron\"",
            "\"MultiPolyhedron\"",
            "\"Prism\"",
            "\"MultiPrism\"",
        ]
        .iter()
        .any(|k| compact.contains(k))
}

/// The CRS a `coordRefSys` member names (a URI, a CURIE `[EPSG:5555]`, or `{"href": …}`).
fn crs_of(v: &Value) -> std::result::Result<Crs, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("href")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or("a coordRefSys object without \"href\"")?,
        Value::Array(a) => a
            .first()
            .map(|f| match f {
                Value::String(s) => s.clone(),
                other => other
                    .get("href")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .ok_or("an empty coordRefSys list")?,
        _ => return Err("coordRefSys is not a URI".into()),
    };
    let t = text.trim_start_matches('[').trim_end_matches(']');
    Crs::parse(t).map_err(|e| format!("coordRefSys '{text}': {e}"))
}

fn position(v: &Value) -> Option<[f64; 3]> {
    let a = v.as_array()?;
    Some([
        a.first()?.as_f64()?,
        a.get(1)?.as_f64()?,
        a.get(2).and_then(Value::as_f64).unwrap_or(0.0),
    ])
}

fn rings(v: &Value) -> Option<Vec<Vec<[f64; 3]>>> {
    v.as_array()?
        .iter()
        .map(|r| r.as_array()?.iter().map(position).collect::<Option<Vec<_>>>())
        .collect()
}

/// The surfaces of a polyhedron's coordinates: shells of polygons of rings.
fn polyhedron(v: &Value, out: &mut Vec<SurfaceIn>) -> Option<()> {
    for shell in v.as_array()? {
        for polygon in shell.as_array()? {
            out.push(SurfaceIn {
                rings: rings(polygon)?,
                ..Default::default()
            });
        }
    }
    Some(())
}

/// The walls, top and bottom of a prism over a base polygon's rings.
fn prism(base: &[Vec<[f64; 3]>], lower: f64, upper: f64, out: &mut Vec<SurfaceIn>) {
    let ring_at =
        |r: &Vec<[f64; 3]>, z: f64| -> Vec<[f64; 3]> { r.iter().map(|p| [p[0], p[1], z]).collect() };
    let signed = |r: &[[f64; 3]]| -> f64 {
        let n = r.len();
        (0..n)
            .map(|k| r[k][0] * r[(k + 1) % n][1] - r[(k + 1) % n][0] * r[k][1])
            .sum::<f64>()
    };
    // Outer ring counter-clockwise, holes clockwise (seen from above).
    let oriented: Vec<Vec<[f64; 3]>> = base
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut r: Vec<[f64; 3]> = r.clone();
            if r.len() > 1 && r.first() == r.last() {
                r.pop();
            }
            if (signed(&r) > 0.0) != (k == 0) {
                r.reverse();
            }
            r
        })
        .collect();
    for r in &oriented {
        for k in 0..r.len() {
            let (a, b) = (r[k], r[(k + 1) % r.len()]);
            out.push(SurfaceIn {
                rings: vec![vec![
                    [a[0], a[1], lower],
                    [b[0], b[1], lower],
                    [b[0], b[1], upper],
                    [a[0], a[1], upper],
                ]],
                class: SurfaceClass::Wall,
                ..Default::default()
            });
        }
    }
    out.push(SurfaceIn {
        rings: oriented.iter().map(|r| ring_at(r, upper)).collect(),
        class: SurfaceClass::Roof,
        ..Default::default()
    });
    out.push(SurfaceIn {
        rings: oriented
            .iter()
            .map(|r| {
                let mut g = ring_at(r, lower);
                g.reverse();
                g
            })
            .collect(),
        class: SurfaceClass::Ground,
        ..Default::default()
    });
}

/// A `place` as a representation.
fn place(v: &Value) -> std::result::Result<RepresentationIn, String> {
    let ty = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let mut surfaces = Vec::new();
    let bad = |what: &str| format!("its {ty} place has {what}");
    let kind = match ty {
        "Polyhedron" => {
            polyhedron(v.get("coordinates").unwrap_or(&Value::Null), &mut surfaces)
                .ok_or_else(|| bad("malformed coordinates"))?;
            GeometryKind::Solid
        }
        "MultiPolyhedron" => {
            for p in v
                .get("coordinates")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("no coordinates"))?
            {
                polyhedron(p, &mut surfaces).ok_or_else(|| bad("malformed coordinates"))?;
            }
            GeometryKind::MultiSolid
        }
        "Prism" | "MultiPrism" => {
            let prisms: Vec<&Value> = if ty == "Prism" {
                vec![v]
            } else {
                v.get("prisms")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default()
            };
            for p in prisms {
                let base = p.get("base").ok_or_else(|| bad("no base"))?;
                let upper = p
                    .get("upper")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| bad("no upper height"))?;
                let lower = p.get("lower").and_then(Value::as_f64).unwrap_or(0.0);
                let polys: Vec<&Value> = match base.get("type").and_then(Value::as_str) {
                    Some("Polygon") => vec![base.get("coordinates").unwrap_or(&Value::Null)],
                    Some("MultiPolygon") => base
                        .get("coordinates")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().collect())
                        .unwrap_or_default(),
                    other => {
                        return Err(bad(&format!(
                            "a base of type {other:?}, not a polygon (points and lines make no solid)"
                        )))
                    }
                };
                for poly in polys {
                    let r = rings(poly).ok_or_else(|| bad("a malformed base"))?;
                    prism(&r, lower, upper, &mut surfaces);
                }
            }
            GeometryKind::Solid
        }
        other => {
            return Err(format!(
                "its place is a {other}, not a solid (Polyhedron, MultiPolyhedron, Prism)"
            ))
        }
    };
    Ok(RepresentationIn {
        lod: String::new(),
        kind,
        surfaces,
    })
}

/// Reads a JSON-FG Feature or FeatureCollection whose features have solid places.
pub fn read_jsonfg(path: &Path) -> Result<CityModelIn> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ImportError::file(path, format!("not valid JSON-FG: {e}")))?;
    let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => doc
            .get("features")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Some("Feature") => vec![&doc],
        other => {
            return Err(ImportError::file(
                path,
                format!("\"type\" is {other:?}, not a Feature or FeatureCollection"),
            ))
        }
    };
    let top_crs = doc.get("coordRefSys");
    let mut model = CityModelIn {
        path: path.to_path_buf(),
        format: "JSON-FG".into(),
        ..Default::default()
    };
    let mut crs: Option<Crs> = None;
    for (k, f) in features.iter().enumerate() {
        let record = k as u64 + 1;
        let id = match f.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => format!("feature{record}"),
        };
        let mut warnings = Vec::new();
        match f.get("coordRefSys").or(top_crs) {
            Some(c) => {
                match crs_of(c) {
                    Ok(c) => {
                        match &crs {
                            Some(was) if !was.same_horizontal(&c) => {
                                warnings.push(format!("its coordRefSys {} differs from the first feature's {}; placed as the first", c.name(), was.name()));
                            }
                            Some(_) => {}
                            None => crs = Some(c),
                        }
                    }
                    Err(e) => warnings.push(e),
                }
            }
            None => {
                if crs.is_none() {
                    warnings.push("its place has no coordRefSys: read as WGS 84 longitude, latitude and height (CRS84h), JSON-FG's default".into());
                    crs = Crs::from_epsg(4326).ok();
                }
            }
        }
        let feature_type = f
            .get("featureType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = if feature_type.is_empty() {
            cim_engine::FeatureKind::Other
        } else {
            crate::pipeline::guess_kind(&feature_type)
        };
        let mut attributes: Attributes = f
            .get("properties")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), super::cityjson::attr_value(v)))
                    .collect()
            })
            .unwrap_or_default();
        if !feature_type.is_empty() {
            attributes.insert(
                "feature_type".into(),
                cim_engine::AttrValue::Text(feature_type.clone()),
            );
        }
        let mut representations = Vec::new();
        match f.get("place") {
            Some(Value::Null) | None => warnings.push("no place: nothing 3-D to import".into()),
            Some(p) => match place(p) {
                Ok(r) => representations.push(r),
                Err(e) => warnings.push(e),
            },
        }
        // The start of its time interval, or its instant, as the day it is valid from.
        let valid_from = f
            .get("time")
            .and_then(|t| {
                t.get("interval")
                    .and_then(|i| i.get(0))
                    .or_else(|| t.get("date"))
                    .or_else(|| t.get("timestamp"))
            })
            .and_then(Value::as_str)
            .and_then(|s| Date::parse(s.get(..10)?).ok());
        if let Some(d) = valid_from {
            attributes.insert("valid_from".into(), cim_engine::AttrValue::Date(d));
        }
        model.objects.push(CityObjectIn {
            record,
            id,
            type_name: if feature_type.is_empty() {
                "Feature".into()
            } else {
                feature_type
            },
            kind,
            attributes,
            parent: None,
            representations,
            warnings,
        });
    }
    model.crs = crs;
    if model.objects.is_empty() {
        model.warnings.push(Warning {
            path: path.to_path_buf(),
            record: None,
            message: "no features".into(),
        });
    }
    Ok(model)
}
