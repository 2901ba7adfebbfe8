//! SUMO road networks (`.net.xml`, also gzipped): each normal edge becomes a one-way road with
//! its lanes, speed (the fastest lane's, in km/h as `maxspeed`), class (`highway.*` types) and
//! the junctions at its ends as `nodes` (so the network cim builds has SUMO's junctions), with
//! `controls` naming traffic-light and all-way-stop junctions. Internal (junction) edges are
//! left out: cim builds its own connections.
//!
//! Placement: a net with a `projParameter` (a PROJ string) is in that CRS, less its
//! `netOffset`; a net without one (`"!"`, as netgenerate writes) needs `--origin E,N` (its
//! 0,0 goes there, in the project CRS) or `--src-crs` (its coordinates are in that CRS).

use crate::error::{ImportError, Result, Warning};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::{AttrValue, Attributes, Crs, FeatureKind, FieldDef, FieldType};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Whether the bytes begin a SUMO network (`<net` within the first kilobytes).
pub fn looks_like(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    text.contains("<net ") && (text.contains("sumo") || text.contains("<location"))
}

struct Edge {
    id: String,
    record: u64,
    from: String,
    to: String,
    class: String,
    shape: Option<Vec<[f64; 2]>>,
    lanes: u32,
    speed: f64,
    lane_shape: Option<Vec<[f64; 2]>>,
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn shape(s: &str) -> Option<Vec<[f64; 2]>> {
    s.split_whitespace()
        .map(|p| {
            let mut it = p.split(',');
            let x = it.next()?.parse().ok()?;
            let y = it.next()?.parse().ok()?;
            Some([x, y])
        })
        .collect()
}

fn fields() -> Vec<FieldDef> {
    [
        ("sumo_id", FieldType::Text),
        ("highway", FieldType::Text),
        ("lanes", FieldType::Int),
        ("maxspeed", FieldType::Real),
        ("oneway", FieldType::Bool),
        ("nodes", FieldType::Text),
        ("controls", FieldType::Text),
    ]
    .into_iter()
    .map(|(n, t)| FieldDef {
        name: n.to_string(),
        field_type: t,
    })
    .collect()
}

/// Reads a SUMO network as a road layer. `origin` places a net without georeference (its 0,0
/// at E,N in `project_crs`); `src_crs` states the CRS its coordinates are in.
pub fn read_sumo_net(
    path: &Path,
    origin: Option<[f64; 4]>,
    src_crs: Option<&Crs>,
    project_crs: &Crs,
) -> Result<VectorSource> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut head = [0u8; 2];
    let gz = {
        let mut f = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
        f.read_exact(&mut head).is_ok() && head == [0x1f, 0x8b]
    };
    let input: Box<dyn BufRead> = if gz {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    // Position and type by id.
    let mut junctions: HashMap<String, ([f64; 2], String)> = HashMap::new();
    let mut junction_order: Vec<String> = Vec::new();
    let (mut offset, mut proj) = ([0.0, 0.0], String::from("!"));
    let mut record = 0u64;
    let mut in_edge = false;
    let mut saw_net = false;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            ImportError::file(
                path,
                format!("XML error at byte {}: {e}", reader.error_position()),
            )
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.local_name().as_ref() {
                    b"net" => saw_net = true,
                    b"location" => {
                        if let Some(o) = attr(e, b"netOffset") {
                            if let Some(p) = shape(&o).and_then(|v| v.first().copied()) {
                                offset = p;
                            }
                        }
                        proj = attr(e, b"projParameter").unwrap_or_else(|| "!".into());
                    }
                    b"edge" => {
                        record += 1;
                        let internal = attr(e, b"function").is_some_and(|f| f != "normal");
                        if internal {
                            in_edge = false;
                        } else {
                            let id = attr(e, b"id").unwrap_or_default();
                            let (Some(from), Some(to)) = (attr(e, b"from"), attr(e, b"to")) else {
                                return Err(ImportError::record(
                                    path,
                                    record,
                                    format!("edge '{id}' has no from or to junction"),
                                ));
                            };
                            let class = attr(e, b"type")
                                .map(|t| t.strip_prefix("highway.").unwrap_or("").to_string())
                                .unwrap_or_default();
                            edges.push(Edge {
                                id,
                                record,
                                from,
                                to,
                                class,
                                shape: attr(e, b"shape").and_then(|s| shape(&s)),
                                lanes: 0,
                                speed: 0.0,
                                lane_shape: None,
                            });
                            in_edge = !empty;
                        }
                    }
                    b"lane" if in_edge => {
                        if let Some(ed) = edges.last_mut() {
                            ed.lanes += 1;
                            let speed = attr(e, b"speed")
                                .and_then(|s| s.parse::<f64>().ok())
                                .unwrap_or(0.0);
                            ed.speed = ed.speed.max(speed);
                            if ed.lane_shape.is_none() {
                                ed.lane_shape = attr(e, b"shape").and_then(|s| shape(&s));
                            }
                        }
                    }
                    b"junction" => {
                        let id = attr(e, b"id").unwrap_or_default();
                        let x = attr(e, b"x").and_then(|s| s.parse().ok());
                        let y = attr(e, b"y").and_then(|s| s.parse().ok());
                        let kind = attr(e, b"type").unwrap_or_default();
                        if let (Some(x), Some(y)) = (x, y) {
                            if kind != "internal" {
                                junction_order.push(id.clone());
                                junctions.insert(id, ([x, y], kind));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) if e.local_name().as_ref() == b"edge" => in_edge = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_net {
        return Err(ImportError::file(path, "not a SUMO network (no <net> element)"));
    }
    // Placement.
    let (crs, shift) = if proj.trim().starts_with('+') {
        let crs = Crs::parse(proj.trim()).map_err(|source| ImportError::engine(path, source))?;
        (crs, [-offset[0], -offset[1]])
    } else if let Some(c) = src_crs {
        (c.clone(), [-offset[0], -offset[1]])
    } else if let Some(o) = origin {
        (project_crs.clone(), [o[0] - offset[0], o[1] - offset[1]])
    } else {
        return Err(ImportError::MissingCrs {
            path: path.to_path_buf(),
            reason: "the SUMO network has no georeference (projParameter \"!\"); pass --origin E,N \
                     (where its 0,0 lies in the project CRS) or --src-crs (the CRS its coordinates are in)"
                .into(),
        });
    };
    let index: HashMap<&str, usize> = junction_order
        .iter()
        .enumerate()
        .map(|(k, id)| (id.as_str(), k))
        .collect();
    let mut warnings = Vec::new();
    let mut features = Vec::with_capacity(edges.len());
    for e in edges {
        let (Some(&fi), Some(&ti)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            warnings.push(Warning {
                path: path.to_path_buf(),
                record: Some(e.record),
                message: format!(
                    "edge '{}': junction '{}' or '{}' is not in the file; skipped",
                    e.id, e.from, e.to
                ),
            });
            continue;
        };
        let (a, ka) = &junctions[&e.from];
        let (b, kb) = &junctions[&e.to];
        // The edge's own shape, else junction to junction (lane shapes stop short of them).
        let mut line: Vec<[f64; 2]> = match &e.shape {
            Some(s) if s.len() >= 2 => s.clone(),
            _ => vec![*a, *b],
        };
        line[0] = *a;
        let n = line.len();
        line[n - 1] = *b;
        let coords: Vec<geo::Coord> = line
            .iter()
            .map(|p| geo::Coord {
                x: p[0] + shift[0],
                y: p[1] + shift[1],
            })
            .collect();
        let control = |k: &str, i: usize| match k {
            "traffic_light" | "traffic_light_right_on_red" | "traffic_light_unregulated" => {
                Some(format!("signals@{i}"))
            }
            "allway_stop" => Some(format!("all_stop@{i}")),
            _ => None,
        };
        let controls: Vec<String> = [control(ka, fi), control(kb, ti)].into_iter().flatten().collect();
        let mut attrs = Attributes::new();
        attrs.insert("sumo_id".into(), AttrValue::Text(e.id.clone()));
        attrs.insert("highway".into(), AttrValue::Text(e.class.clone()));
        attrs.insert("lanes".into(), AttrValue::Int(i64::from(e.lanes.max(1))));
        attrs.insert(
            "maxspeed".into(),
            AttrValue::Real((e.speed * 3.6 * 100.0).round() / 100.0),
        );
        attrs.insert("oneway".into(), AttrValue::Bool(true));
        attrs.insert("nodes".into(), AttrValue::Text(format!("{fi} {ti}")));
        attrs.insert(
            "controls".into(),
            if controls.is_empty() {
                AttrValue::Null
            } else {
                AttrValue::Text(controls.join(" "))
            },
        );
        let _ = &e.lane_shape;
        features.push(Ok(SourceFeature {
            record: e.record,
            key: format!("sumo:edge/{}", e.id),
            geometry: Some(geo::Geometry::LineString(geo::LineString::new(coords))),
            attributes: attrs,
            kind: Some(FeatureKind::Road),
            height_hint: None,
            warnings: Vec::new(),
        }));
    }
    if features.is_empty() {
        return Err(ImportError::file(path, "the SUMO network has no normal edges"));
    }
    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name: "roads".into(),
        crs: Some(crs),
        fields: fields(),
        features: Box::new(features.into_iter()),
        warnings,
    })
}
