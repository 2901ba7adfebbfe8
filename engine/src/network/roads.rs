//! Road features as the network reads them: the line in the project CRS and what its
//! attributes say of lanes, speed, direction, level, and (from OSM) node ids, controls and
//! turn restrictions. Attribute names of OSM and of common GIS road layers are both read
//! (`maxspeed` or `speed`, `oneway` as `yes`/`-1`/`FT`/`TF`/`B`, `layer`, `fclass` for the class).

use crate::{AttrValue, Attributes};

/// Which ways a road may be driven, relative to its stored line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Oneway {
    Both,
    Forward,
    Backward,
}

/// One road feature, read.
#[derive(Clone, Debug)]
pub(crate) struct RoadIn {
    pub code: String,
    pub source_key: String,
    pub layer: String,
    pub line: Vec<[f64; 2]>,
    pub class: String,
    pub lanes: Option<u32>,
    pub lanes_forward: Option<u32>,
    pub lanes_backward: Option<u32>,
    /// m/s.
    pub speed: Option<f64>,
    pub oneway: Oneway,
    /// OSM `layer` (bridges 1, tunnels -1): ends snap only on one level.
    pub level: i64,
    /// OSM node ids, one per vertex.
    pub nodes: Option<Vec<i64>>,
    /// `(kind, node, facing)`: facing 0 both, 1 forward, -1 backward.
    pub controls: Vec<(String, i64, i8)>,
    /// `(kind, via node, to way id)`.
    pub restrictions: Vec<(String, i64, i64)>,
    pub turn_lanes_forward: Option<String>,
    pub turn_lanes_backward: Option<String>,
}

fn get<'a>(a: &'a Attributes, keys: &[&str]) -> Option<&'a AttrValue> {
    keys.iter()
        .find_map(|k| a.get(*k).filter(|v| !matches!(v, AttrValue::Null)))
}

fn text(a: &Attributes, keys: &[&str]) -> Option<String> {
    match get(a, keys)? {
        AttrValue::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        AttrValue::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(a: &Attributes, keys: &[&str]) -> Option<i64> {
    match get(a, keys)? {
        AttrValue::Int(i) => Some(*i),
        AttrValue::Real(r) if r.fract() == 0.0 && r.is_finite() => Some(*r as i64),
        AttrValue::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Lanes are plausible from 1 (0 for one direction of a two-way road) to 20.
fn lanes(a: &Attributes, keys: &[&str], min: i64) -> Option<u32> {
    int(a, keys).filter(|n| (min..=20).contains(n)).map(|n| n as u32)
}

/// A speed limit in km/h from a number or text (`50`, `30 mph`, `RU:urban` is not a number).
fn speed_kmh(a: &Attributes) -> Option<f64> {
    let v = match get(
        a,
        &["maxspeed", "max_speed", "speed", "speed_kmh", "MAXSPEED", "SPEED"],
    )? {
        AttrValue::Int(i) => *i as f64,
        AttrValue::Real(r) => *r,
        AttrValue::Text(s) => {
            let s = s.trim();
            if let Some(mph) = s.strip_suffix("mph") {
                mph.trim().parse::<f64>().ok()? * 1.609_344
            } else {
                s.trim_end_matches("km/h").trim().parse().ok()?
            }
        }
        _ => return None,
    };
    (v > 0.0 && v <= 300.0).then_some(v)
}

fn oneway(a: &Attributes) -> Option<Oneway> {
    Some(match get(a, &["oneway", "ONEWAY", "one_way"])? {
        AttrValue::Bool(true) => Oneway::Forward,
        AttrValue::Bool(false) => Oneway::Both,
        AttrValue::Int(1) => Oneway::Forward,
        AttrValue::Int(-1) => Oneway::Backward,
        AttrValue::Int(_) => Oneway::Both,
        AttrValue::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "f" | "ft" => Oneway::Forward,
            "-1" | "reverse" | "t" | "tf" => Oneway::Backward,
            "no" | "false" | "0" | "b" | "" => Oneway::Both,
            _ => return None,
        },
        _ => return None,
    })
}

impl RoadIn {
    /// Reads a road from its stored feature; `None` for a feature with no line.
    pub fn read(
        code: String,
        source_key: String,
        layer: String,
        geometry: &geo::Geometry<f64>,
        a: &Attributes,
    ) -> Option<RoadIn> {
        let line: Vec<[f64; 2]> = match geometry {
            geo::Geometry::LineString(l) => l.0.iter().map(|c| [c.x, c.y]).collect(),
            _ => return None,
        };
        let class = text(a, &["highway", "fclass", "class", "type"])
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_default();
        let roundabout = text(a, &["junction"]).is_some_and(|j| j == "roundabout" || j == "circular");
        let oneway = oneway(a).unwrap_or(if roundabout || class == "motorway" {
            Oneway::Forward
        } else {
            Oneway::Both
        });
        let nodes = text(a, &["osm_nodes", "nodes"]).and_then(|s| {
            let ids: Option<Vec<i64>> = s.split_whitespace().map(|t| t.parse().ok()).collect();
            ids.filter(|v| v.len() == line.len())
        });
        let controls = text(a, &["osm_controls", "controls"])
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|t| {
                        let (kind, rest) = t.split_once('@')?;
                        let (node, facing) = match rest.split_once(':') {
                            Some((n, "forward")) => (n, 1),
                            Some((n, "backward")) => (n, -1),
                            Some((n, _)) => (n, 0),
                            None => (rest, 0),
                        };
                        Some((kind.to_string(), node.parse().ok()?, facing))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let restrictions = text(a, &["osm_restrictions"])
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|t| {
                        let (kind, rest) = t.split_once('@')?;
                        let (via, to) = rest.split_once('>')?;
                        Some((kind.to_string(), via.parse().ok()?, to.parse().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let turn = |k: &str| text(a, &[k]);
        let (tl_fwd, tl_bwd) = match oneway {
            // A one-way road's `turn:lanes` is its one direction's.
            Oneway::Forward => (turn("turn:lanes:forward").or_else(|| turn("turn:lanes")), None),
            Oneway::Backward => (None, turn("turn:lanes:backward").or_else(|| turn("turn:lanes"))),
            Oneway::Both => (turn("turn:lanes:forward"), turn("turn:lanes:backward")),
        };
        Some(RoadIn {
            code,
            source_key,
            layer,
            line,
            class,
            lanes: lanes(a, &["lanes", "LANES", "num_lanes"], 1),
            lanes_forward: lanes(a, &["lanes:forward"], 0),
            lanes_backward: lanes(a, &["lanes:backward"], 0),
            speed: speed_kmh(a).map(|v| v / 3.6),
            oneway,
            level: int(a, &["layer", "LAYER", "level"]).unwrap_or(0).clamp(-5, 5),
            nodes,
            controls,
            restrictions,
            turn_lanes_forward: tl_fwd,
            turn_lanes_backward: tl_bwd,
        })
    }

    /// The OSM way id of a road read from OSM.
    pub fn way_id(&self) -> Option<i64> {
        self.source_key.strip_prefix("osm:way/")?.parse().ok()
    }

    /// Whether cars may use it: not a footway, cycleway, path, steps, track for farm use…, and
    /// not closed to motor vehicles by `access`/`motor_vehicle`.
    pub fn drivable(&self, a: &Attributes) -> bool {
        let closed = |k: &str| {
            text(a, &[k])
                .is_some_and(|v| matches!(v.as_str(), "no" | "private" | "agricultural" | "forestry"))
        };
        if closed("motor_vehicle") || (closed("access") && text(a, &["motor_vehicle"]).is_none()) {
            return false;
        }
        class_defaults(&self.class).is_some()
    }
}

/// What a road class gives a road that does not say: lanes per direction, speed (m/s), priority
/// — SUMO 1.28's OSM type map (`osmNetconvert.typ.xml`), so a network built here and by
/// netconvert agree. `None` for classes passenger cars may not use there (service roads,
/// tracks, footways, cycleways, busways…). `road` (a road of unknown class) is taken as
/// unclassified, and an empty class (a GIS layer without one) as a residential street.
pub(crate) fn class_defaults(class: &str) -> Option<(u32, f64, i32)> {
    Some(match class {
        "motorway" => (2, 39.44, 14),
        "trunk" => (2, 27.78, 13),
        "primary" => (2, 27.78, 12),
        "secondary" => (1, 27.78, 11),
        "tertiary" => (1, 22.22, 10),
        "motorway_link" => (1, 22.22, 9),
        "trunk_link" => (1, 22.22, 8),
        "primary_link" => (1, 22.22, 7),
        "secondary_link" => (1, 22.22, 6),
        "tertiary_link" => (1, 22.22, 5),
        "unclassified" | "road" => (1, 13.89, 4),
        "residential" | "" => (1, 13.89, 3),
        "living_street" => (1, 2.78, 2),
        "unsurfaced" => (1, 8.33, 1),
        _ => return None,
    })
}
