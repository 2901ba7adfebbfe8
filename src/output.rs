//! Shared printing: import reports, feature tables and GeoJSON.

use cim_engine::{Feature, StoredFeature, Transform};
use cim_importers::group_warnings;
use cim_importers::pipeline::ImportReport;
use serde_json::{json, Map, Value};

/// The exit status of a command whose reader went away (128 + SIGPIPE), what `yes | head -1`
/// reports for `yes`.
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Writes to stdout; when stdout is a pipe whose reader has gone (`cim query … | head -1`), ends
/// the process quietly with [`BROKEN_PIPE_EXIT`] instead of panicking. Any open transaction is
/// rolled back by SQLite's journal the next time the project is opened.
pub fn print_out(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(BROKEN_PIPE_EXIT),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// How many kinds of warning a human summary lists before it says "and N more".
const MAX_LISTED_WARNINGS: usize = 20;

pub fn print_import_report(r: &ImportReport, as_json: bool) {
    let groups = group_warnings(&r.warnings);
    if as_json {
        let layers: Vec<Value> = r
            .layers
            .iter()
            .map(|l| {
                json!({
                    "layer": l.layer, "kind": l.kind.map(|k| k.name()), "read": l.read,
                    "inserted": l.inserted, "replaced": l.replaced, "skipped": l.skipped,
                    "height_sources": l.height_sources.iter().map(|(s, n)| json!({"source": s, "count": n})).collect::<Vec<_>>(),
                    "without_height": l.without_height,
                })
            })
            .collect();
        let warnings: Vec<String> = r.warnings.iter().map(|w| w.to_string()).collect();
        let grouped: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({"file": g.path.display().to_string(), "count": g.count,
                       "first_record": g.first_record, "message": g.message})
            })
            .collect();
        println!(
            "{}",
            json!({ "layers": layers, "warnings": warnings, "warning_groups": grouped, "notes": r.notes,
                    "network": r.network })
        );
        return;
    }
    // Warnings first, grouped by kind, so that the summary is always the last thing printed.
    for g in groups.iter().take(MAX_LISTED_WARNINGS) {
        eprintln!("warning: {g}");
    }
    if groups.len() > MAX_LISTED_WARNINGS {
        let rest: u64 = groups[MAX_LISTED_WARNINGS..].iter().map(|g| g.count).sum();
        eprintln!(
            "warning: ... and {rest} more of {} other kinds (use --json for all)",
            groups.len() - MAX_LISTED_WARNINGS
        );
    }
    for l in &r.layers {
        let kind = l.kind.map(|k| k.name()).unwrap_or("?");
        println!(
            "layer '{}' ({kind}): read {}, inserted {}, updated {}, skipped {}",
            l.layer, l.read, l.inserted, l.replaced, l.skipped
        );
        for (source, n) in &l.height_sources {
            println!("  height from {source}: {n} building(s)");
        }
    }
    for n in &r.notes {
        println!("{n}");
    }
    if let Some(s) = &r.network {
        println!("{}", network_line(s));
    }
}

/// The road network in one line (and what it assumed).
pub fn network_line(s: &cim_engine::network::NetworkStats) -> String {
    let mut line = format!(
        "road network: {} junctions, {} edges ({} lanes, {:.1} km), {} signal controllers, {} lane connections",
        s.junctions, s.edges, s.lanes, s.length_km, s.controllers, s.connections
    );
    if s.roads_not_drivable > 0 {
        line.push_str(&format!("; {} roads not for cars left out", s.roads_not_drivable));
    }
    if s.lanes_defaulted + s.speed_defaulted > 0 {
        line.push_str(&format!(
            "; lanes from the road class on {} edges, speed on {}",
            s.lanes_defaulted, s.speed_defaulted
        ));
    }
    if s.restrictions_applied + s.restrictions_unmatched > 0 {
        line.push_str(&format!(
            "; {} turn restrictions applied, {} unmatched",
            s.restrictions_applied, s.restrictions_unmatched
        ));
    }
    if s.components > 1 {
        line.push_str(&format!(
            "; {} parts not connected to each other (trips between them cannot be made)",
            s.components
        ));
    }
    line
}

/// Properties of a feature as GeoJSON: engine fields first (prefixed `cim_`), then attributes.
pub fn feature_properties(layer: &str, f: &Feature) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("cim_code".into(), f.code.as_str().into());
    p.insert("cim_layer".into(), layer.into());
    p.insert("cim_kind".into(), f.kind.name().into());
    p.insert("cim_class".into(), f.classification.name().into());
    p.insert(
        "cim_valid_from".into(),
        f.validity.from.map(|d| d.to_string()).into(),
    );
    p.insert("cim_valid_to".into(), f.validity.to.map(|d| d.to_string()).into());
    if let Some(l) = &f.lod1 {
        p.insert("cim_base_m".into(), json!(l.base_m));
        p.insert("cim_height_m".into(), json!(l.height_m));
        p.insert("cim_height_src".into(), l.height_source.to_string().into());
    }
    for (k, v) in &f.attributes {
        p.insert(k.clone(), v.to_json());
    }
    p
}

/// A GeoJSON geometry; `to_wgs84` (if given) transforms coordinates first.
pub fn geometry_json(g: &geo::Geometry<f64>, to_wgs84: Option<&Transform>) -> anyhow::Result<Value> {
    let mut g = g.clone();
    if let Some(t) = to_wgs84 {
        t.apply_geometry(&mut g)?;
    }
    Ok(geometry_value(&g))
}

fn coord(c: &geo::Coord<f64>) -> Value {
    json!([c.x, c.y])
}

fn line(l: &geo::LineString<f64>) -> Value {
    Value::Array(l.0.iter().map(coord).collect())
}

fn polygon(p: &geo::Polygon<f64>) -> Value {
    Value::Array(
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(line)
            .collect(),
    )
}

fn geometry_value(g: &geo::Geometry<f64>) -> Value {
    use geo::Geometry as G;
    match g {
        G::Point(p) => json!({"type": "Point", "coordinates": coord(&p.0)}),
        G::MultiPoint(m) => {
            json!({"type": "MultiPoint", "coordinates": m.0.iter().map(|p| coord(&p.0)).collect::<Vec<_>>()})
        }
        G::LineString(l) => json!({"type": "LineString", "coordinates": line(l)}),
        G::MultiLineString(m) => {
            json!({"type": "MultiLineString", "coordinates": m.0.iter().map(line).collect::<Vec<_>>()})
        }
        G::Polygon(p) => json!({"type": "Polygon", "coordinates": polygon(p)}),
        G::MultiPolygon(m) => {
            json!({"type": "MultiPolygon", "coordinates": m.0.iter().map(polygon).collect::<Vec<_>>()})
        }
        G::GeometryCollection(c) => {
            json!({"type": "GeometryCollection", "geometries": c.0.iter().map(geometry_value).collect::<Vec<_>>()})
        }
        G::Rect(r) => geometry_value(&G::Polygon(r.to_polygon())),
        G::Triangle(t) => geometry_value(&G::Polygon(t.to_polygon())),
        G::Line(l) => geometry_value(&G::LineString(geo::LineString(vec![l.start, l.end]))),
    }
}

/// A FeatureCollection; coordinates in the project CRS (named in a `crs` member) unless `to_wgs84`.
pub fn feature_collection(
    features: &[StoredFeature],
    project_epsg: Option<u32>,
    to_wgs84: Option<&Transform>,
) -> anyhow::Result<Value> {
    let mut out = Vec::with_capacity(features.len());
    for s in features {
        out.push(json!({
            "type": "Feature",
            "id": s.feature.code.as_str(),
            "geometry": geometry_json(&s.feature.geometry, to_wgs84)?,
            "properties": feature_properties(&s.layer, &s.feature),
        }));
    }
    let mut fc = json!({"type": "FeatureCollection", "features": out});
    if to_wgs84.is_none() {
        if let Some(code) = project_epsg {
            fc["crs"] =
                json!({"type": "name", "properties": {"name": format!("urn:ogc:def:crs:EPSG::{code}")}});
        }
    }
    Ok(fc)
}

/// A plain-text table: code, layer, kind, class, validity, height, then the first attributes.
pub fn print_table(features: &[StoredFeature]) {
    println!(
        "{:<24} {:<14} {:<9} {:<10} {:<23} {:>8}  attributes",
        "city code", "layer", "kind", "class", "valid", "height_m"
    );
    for s in features {
        let f = &s.feature;
        let valid = format!(
            "{}..{}",
            f.validity.from.map(|d| d.to_string()).unwrap_or_default(),
            f.validity.to.map(|d| d.to_string()).unwrap_or_default()
        );
        let height = f
            .lod1
            .as_ref()
            .map(|l| format!("{:.1}", l.height_m))
            .unwrap_or_default();
        let attrs: Vec<String> = f
            .attributes
            .iter()
            .filter(|(_, v)| !matches!(v, cim_engine::AttrValue::Null))
            .take(4)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "{:<24} {:<14} {:<9} {:<10} {:<23} {:>8}  {}",
            f.code.as_str(),
            s.layer,
            f.kind.name(),
            f.classification.name(),
            valid,
            height,
            attrs.join(" ")
        );
    }
}
