//! Roads and buildings from parsed OSM data.

use super::data::{tag, Facing, MemberKind, OsmData, Relation, Way};
use super::rings::{assemble, join_rings};
use super::tags::{parse_flag, parse_int, parse_length_m, parse_levels, parse_maxspeed_kmh, parse_oneway};
use crate::error::Warning;
use crate::source::{HeightHint, SourceFeature};
use cim_engine::{AttrValue, Attributes, FeatureKind, FieldDef, FieldType};
use geo::{Coord, Geometry, LineString, Polygon};
use std::collections::HashMap;
use std::path::Path;

/// Storey height used for the provisional metres of a `building:levels` hint; the pipeline
/// recomputes it from the floors with the project's storey height.
pub const DEFAULT_STOREY_M: f64 = 3.0;

/// Features and warnings of one layer.
#[derive(Default)]
pub(crate) struct Layer {
    pub features: Vec<SourceFeature>,
    pub warnings: Vec<Warning>,
}

fn field(name: &str, field_type: FieldType) -> FieldDef {
    FieldDef {
        name: name.to_string(),
        field_type,
    }
}

pub(crate) fn road_fields() -> Vec<FieldDef> {
    use FieldType::*;
    [
        ("osm_id", Int),
        ("highway", Text),
        ("name", Text),
        ("name:zh", Text),
        ("name:en", Text),
        ("ref", Text),
        ("lanes", Int),
        ("maxspeed", Real),
        ("maxspeed_raw", Text),
        ("oneway", Bool),
        ("bridge", Bool),
        ("tunnel", Bool),
        ("layer", Int),
        ("lanes:forward", Int),
        ("lanes:backward", Int),
        ("turn:lanes", Text),
        ("turn:lanes:forward", Text),
        ("turn:lanes:backward", Text),
        ("access", Text),
        ("motor_vehicle", Text),
        ("junction", Text),
        ("osm_nodes", Text),
        ("osm_controls", Text),
        ("osm_restrictions", Text),
    ]
    .into_iter()
    .map(|(n, t)| field(n, t))
    .collect()
}

pub(crate) fn building_fields() -> Vec<FieldDef> {
    use FieldType::*;
    [
        ("osm_id", Int),
        ("building", Text),
        ("name", Text),
        ("name:zh", Text),
        ("name:en", Text),
        ("height", Real),
        ("building:levels", Real),
        ("min_height", Real),
    ]
    .into_iter()
    .map(|(n, t)| field(n, t))
    .collect()
}

struct Ctx<'a> {
    path: &'a Path,
    data: &'a OsmData,
}

impl Ctx<'_> {
    fn warn(&self, layer: &mut Layer, record: u64, message: String) {
        layer.warnings.push(Warning {
            path: self.path.to_path_buf(),
            record: Some(record),
            message,
        });
    }

    /// The way's coordinates, or a message naming the first missing node.
    fn coords(&self, way: &Way) -> Result<Vec<Coord>, String> {
        let mut missing = way.refs.iter().filter(|&&n| self.data.node(n).is_none());
        if let Some(first) = missing.next() {
            return Err(format!(
                "way {}: {} of its {} nodes are not in the file (first: node {first}); skipped",
                way.id,
                1 + missing.count(),
                way.refs.len()
            ));
        }
        Ok(way
            .refs
            .iter()
            .filter_map(|&n| self.data.node(n))
            .map(|p| {
                let (x, y) = p.lon_lat();
                Coord { x, y }
            })
            .collect())
    }
}

fn text(tags: &[(String, String)], key: &str) -> AttrValue {
    tag(tags, key).map_or(AttrValue::Null, |v| AttrValue::Text(v.to_string()))
}

fn typed<T>(
    tags: &[(String, String)],
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    wrap: impl Fn(T) -> AttrValue,
) -> AttrValue {
    tag(tags, key).and_then(parse).map_or(AttrValue::Null, wrap)
}

/// More lanes than any road has (the widest motorways have about 16 in both directions).
const MAX_LANES: i64 = 20;
/// Faster than any road's limit.
const MAX_SPEED_KMH: f64 = 300.0;
/// OSM's `layer` runs from -5 to 5.
const MAX_LAYER: i64 = 5;

/// A whole-number tag of way `id` within `range`; a value that does not parse or lies outside
/// is left empty with a warning.
fn plausible(
    id: i64,
    tags: &[(String, String)],
    key: &str,
    parse: impl Fn(&str) -> Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    warnings: &mut Vec<String>,
) -> Option<i64> {
    let raw = tag(tags, key)?;
    match parse(raw) {
        Some(v) if range.contains(&v) => Some(v),
        Some(_) => {
            warnings.push(format!(
                "way {id}: {key}={raw} is outside the plausible range {}–{}; left empty",
                range.start(),
                range.end()
            ));
            None
        }
        None => {
            warnings.push(format!("way {id}: {key}={raw} is not a whole number; left empty"));
            None
        }
    }
}

/// What a road network needs of a way beyond its tags, in the order of the stored line
/// (reversed for `oneway=-1`): its node ids (`osm_nodes`, space-separated: junctions are the
/// nodes roads share), the controls on its nodes (`osm_controls`: `signals@id`, `stop@id`,
/// `all_stop@id`, `give_way@id`, with `:forward`/`:backward` where one direction only) and the
/// turn restrictions from it (`osm_restrictions`: `kind@via_node>to_way`).
fn network_attributes(
    a: &mut Attributes,
    data: &OsmData,
    way: i64,
    refs: &[i64],
    reversed: bool,
    restrictions: &HashMap<i64, Vec<String>>,
) {
    let mut refs = refs.to_vec();
    if reversed {
        refs.reverse();
    }
    let nodes: Vec<String> = refs.iter().map(i64::to_string).collect();
    a.insert("osm_nodes".into(), AttrValue::Text(nodes.join(" ")));
    let controls: Vec<String> = refs
        .iter()
        .filter_map(|&n| {
            let c = data.control(n)?;
            let facing = match (c.facing, reversed) {
                (Facing::Both, _) => "",
                (Facing::Forward, false) | (Facing::Backward, true) => ":forward",
                (Facing::Backward, false) | (Facing::Forward, true) => ":backward",
            };
            Some(format!("{}@{n}{facing}", c.kind.name()))
        })
        .collect();
    a.insert(
        "osm_controls".into(),
        if controls.is_empty() {
            AttrValue::Null
        } else {
            AttrValue::Text(controls.join(" "))
        },
    );
    a.insert(
        "osm_restrictions".into(),
        restrictions
            .get(&way)
            .map_or(AttrValue::Null, |r| AttrValue::Text(r.join(" "))),
    );
}

/// The longest stretch `lo..hi` of `refs` whose nodes are all in the file (the first of equals).
fn longest_present_run(data: &OsmData, refs: &[i64]) -> (usize, usize) {
    let (mut best, mut start) = ((0, 0), None);
    for (i, &n) in refs.iter().enumerate() {
        if data.node(n).is_some() {
            let s = *start.get_or_insert(i);
            if i + 1 - s > best.1 - best.0 {
                best = (s, i + 1);
            }
        } else {
            start = None;
        }
    }
    best
}

/// Turn restrictions by their `from` way, as stored (`kind@via>to`); those naming ways or
/// nodes missing from the file are warned of and left out.
fn restrictions_by_way(cx: &Ctx, layer: &mut Layer) -> HashMap<i64, Vec<String>> {
    let roads: std::collections::HashSet<i64> = cx
        .data
        .ways
        .iter()
        .filter(|w| tag(&w.tags, "highway").is_some())
        .map(|w| w.id)
        .collect();
    let mut by_way: HashMap<i64, Vec<String>> = HashMap::new();
    for (record, note) in &cx.data.restriction_notes {
        cx.warn(layer, *record, note.clone());
    }
    for r in &cx.data.restrictions {
        let missing = [
            ("from way", r.from, roads.contains(&r.from)),
            ("to way", r.to, roads.contains(&r.to)),
        ]
        .into_iter()
        .chain(std::iter::once((
            "via node",
            r.via,
            cx.data.node(r.via).is_some(),
        )))
        .find(|(_, _, there)| !there);
        if let Some((what, id, _)) = missing {
            let msg = format!(
                "turn restriction relation {} ({}): its {what} {id} is not a road in the file; left out",
                r.id, r.kind
            );
            cx.warn(layer, r.record, msg);
            continue;
        }
        by_way
            .entry(r.from)
            .or_default()
            .push(format!("{}@{}>{}", r.kind, r.via, r.to));
    }
    by_way
}

/// Roads: ways with `highway=*`, except areas (`area=yes`) and roads that do not exist
/// (`highway=proposed|abandoned|razed`).
pub(crate) fn roads(path: &Path, data: &OsmData) -> Layer {
    let cx = Ctx { path, data };
    let mut layer = Layer::default();
    let restrictions = restrictions_by_way(&cx, &mut layer);
    for way in &data.ways {
        let Some(highway) = tag(&way.tags, "highway") else {
            continue;
        };
        if tag(&way.tags, "area") == Some("yes") || matches!(highway, "proposed" | "abandoned" | "razed") {
            continue;
        }
        // A way cut at the edge of an extract keeps its longest stretch of nodes in the file
        // (as netconvert and osmnx do), with a warning.
        let (lo, hi) = longest_present_run(data, &way.refs);
        let refs = &way.refs[lo..hi];
        if refs.len() < 2 {
            let missing = way.refs.iter().find(|&&n| data.node(n).is_none());
            let msg = match missing {
                Some(n) => format!(
                    "way {}: a road with {} of its {} nodes in a row in the file (first missing: node {n}); skipped",
                    way.id,
                    refs.len(),
                    way.refs.len()
                ),
                None => format!("way {}: a road with {} node(s) in the file; skipped", way.id, refs.len()),
            };
            cx.warn(&mut layer, way.record, msg);
            continue;
        }
        if refs.len() < way.refs.len() {
            let missing = way.refs.iter().filter(|&&n| data.node(n).is_none()).count();
            let msg = format!(
                "way {}: {missing} of its {} nodes are not in the file; kept the stretch of {} nodes inside",
                way.id,
                way.refs.len(),
                refs.len()
            );
            cx.warn(&mut layer, way.record, msg);
        }
        let mut coords: Vec<Coord> = refs
            .iter()
            .filter_map(|&n| data.node(n))
            .map(|p| {
                let (x, y) = p.lon_lat();
                Coord { x, y }
            })
            .collect();
        let t = &way.tags;
        let oneway = tag(t, "oneway").and_then(parse_oneway).or_else(|| {
            // A roundabout is one-way without saying so.
            matches!(tag(t, "junction"), Some("roundabout" | "circular")).then_some((true, false))
        });
        if let Some((_, true)) = oneway {
            coords.reverse();
        }
        let maxspeed_raw = tag(t, "maxspeed");
        let mut a = Attributes::new();
        a.insert("osm_id".into(), AttrValue::Int(way.id));
        a.insert("highway".into(), AttrValue::Text(highway.to_string()));
        for k in ["name", "name:zh", "name:en", "ref"] {
            a.insert(k.into(), text(t, k));
        }
        let mut warnings = Vec::new();
        let lanes = plausible(way.id, t, "lanes", parse_int, 1..=MAX_LANES, &mut warnings);
        a.insert("lanes".into(), lanes.map_or(AttrValue::Null, AttrValue::Int));
        let maxspeed = maxspeed_raw.and_then(parse_maxspeed_kmh);
        let maxspeed = match maxspeed {
            Some(v) if !(v > 0.0 && v <= MAX_SPEED_KMH) => {
                warnings.push(format!(
                    "way {}: maxspeed={} is outside the plausible range (up to {MAX_SPEED_KMH} km/h); left empty",
                    way.id,
                    maxspeed_raw.unwrap_or_default()
                ));
                None
            }
            v => v,
        };
        a.insert(
            "maxspeed".into(),
            maxspeed.map_or(AttrValue::Null, AttrValue::Real),
        );
        a.insert("maxspeed_raw".into(), text(t, "maxspeed"));
        a.insert(
            "oneway".into(),
            oneway.map_or(AttrValue::Null, |(o, _)| AttrValue::Bool(o)),
        );
        for k in ["bridge", "tunnel"] {
            a.insert(k.into(), typed(t, k, |s| Some(parse_flag(s)), AttrValue::Bool));
        }
        let level = plausible(
            way.id,
            t,
            "layer",
            parse_int,
            -MAX_LAYER..=MAX_LAYER,
            &mut warnings,
        );
        a.insert("layer".into(), level.map_or(AttrValue::Null, AttrValue::Int));
        // Directions are the stored line's: a reversed way's backward lanes are its forward.
        let reversed = matches!(oneway, Some((_, true)));
        let (fwd, bwd) = if reversed {
            ("backward", "forward")
        } else {
            ("forward", "backward")
        };
        for (key, from) in [("lanes:forward", fwd), ("lanes:backward", bwd)] {
            let v = plausible(
                way.id,
                t,
                &format!("lanes:{from}"),
                parse_int,
                0..=MAX_LANES,
                &mut warnings,
            );
            a.insert(key.into(), v.map_or(AttrValue::Null, AttrValue::Int));
        }
        a.insert("turn:lanes".into(), text(t, "turn:lanes"));
        a.insert("turn:lanes:forward".into(), text(t, &format!("turn:lanes:{fwd}")));
        a.insert(
            "turn:lanes:backward".into(),
            text(t, &format!("turn:lanes:{bwd}")),
        );
        for k in ["access", "motor_vehicle", "junction"] {
            a.insert(k.into(), text(t, k));
        }
        network_attributes(&mut a, data, way.id, refs, reversed, &restrictions);
        layer.features.push(SourceFeature {
            record: way.record,
            key: format!("osm:way/{}", way.id),
            geometry: Some(Geometry::LineString(LineString::new(coords))),
            attributes: a,
            kind: Some(FeatureKind::Road),
            height_hint: None,
            warnings,
        });
    }
    layer
}

fn is_building(tags: &[(String, String)]) -> bool {
    tag(tags, "building").is_some_and(|v| v != "no")
}

fn building_feature(
    key: String,
    record: u64,
    id: i64,
    tags: &[(String, String)],
    geometry: Geometry,
) -> SourceFeature {
    let mut a = Attributes::new();
    a.insert("osm_id".into(), AttrValue::Int(id));
    for k in ["building", "name", "name:zh", "name:en"] {
        a.insert(k.into(), text(tags, k));
    }
    let height = tag(tags, "height").and_then(parse_length_m);
    let levels = tag(tags, "building:levels").and_then(parse_levels);
    a.insert("height".into(), height.map_or(AttrValue::Null, AttrValue::Real));
    a.insert(
        "building:levels".into(),
        levels.map_or(AttrValue::Null, AttrValue::Real),
    );
    a.insert(
        "min_height".into(),
        typed(tags, "min_height", parse_length_m, AttrValue::Real),
    );
    let height_hint = match (height, levels) {
        (Some(h), _) => Some((h, HeightHint::Attribute("height".into()))),
        (None, Some(floors)) => Some((
            floors * DEFAULT_STOREY_M,
            HeightHint::Floors {
                name: "building:levels".into(),
                floors,
            },
        )),
        (None, None) => None,
    };
    SourceFeature {
        record,
        key,
        geometry: Some(geometry),
        attributes: a,
        kind: Some(FeatureKind::Building),
        height_hint,
        warnings: Vec::new(),
    }
}

/// Buildings: closed ways with `building=*` (not `no`), then multipolygon relations with
/// `building=*`.
pub(crate) fn buildings(path: &Path, data: &OsmData) -> Layer {
    let cx = Ctx { path, data };
    let mut layer = Layer::default();
    for way in data.ways.iter().filter(|w| is_building(&w.tags)) {
        let coords = match cx.coords(way) {
            Ok(c) => c,
            Err(msg) => {
                cx.warn(&mut layer, way.record, msg);
                continue;
            }
        };
        if coords.len() < 4 || way.refs.first() != way.refs.last() {
            let msg = format!(
                "way {}: a building that is not a closed ring of at least 3 nodes; skipped",
                way.id
            );
            cx.warn(&mut layer, way.record, msg);
            continue;
        }
        let polygon = Polygon::new(LineString::new(coords), vec![]);
        let f = building_feature(
            format!("osm:way/{}", way.id),
            way.record,
            way.id,
            &way.tags,
            polygon.into(),
        );
        layer.features.push(f);
    }
    let ways_by_id: HashMap<i64, &Way> = if data.relations.is_empty() {
        HashMap::new()
    } else {
        data.ways.iter().map(|w| (w.id, w)).collect()
    };
    for rel in &data.relations {
        match relation_geometry(&cx, &ways_by_id, rel) {
            Ok((geometry, orphans)) => {
                if orphans > 0 {
                    let msg = format!(
                        "relation {}: {orphans} inner ring(s) outside every outer ring; dropped",
                        rel.id
                    );
                    cx.warn(&mut layer, rel.record, msg);
                }
                let key = format!("osm:relation/{}", rel.id);
                layer
                    .features
                    .push(building_feature(key, rel.record, rel.id, &rel.tags, geometry));
            }
            Err(msg) => cx.warn(
                &mut layer,
                rel.record,
                format!("relation {}: {msg}; skipped", rel.id),
            ),
        }
    }
    layer
}

/// A building multipolygon's geometry: a Polygon for one outer ring, else a MultiPolygon.
fn relation_geometry(
    cx: &Ctx,
    ways_by_id: &HashMap<i64, &Way>,
    rel: &Relation,
) -> Result<(Geometry, usize), String> {
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for m in rel.members.iter().filter(|m| m.kind == MemberKind::Way) {
        let way = ways_by_id
            .get(&m.id)
            .ok_or_else(|| format!("member way {} is not in the file", m.id))?;
        // Untagged roles are outer by the old convention.
        match m.role.as_str() {
            "inner" => inner.push(way.refs.clone()),
            _ => outer.push(way.refs.clone()),
        }
    }
    if outer.is_empty() {
        return Err("no outer member way".into());
    }
    let to_coords = |rings: Vec<Vec<i64>>| -> Result<Vec<Vec<Coord>>, String> {
        rings
            .into_iter()
            .map(|ring| {
                ring.iter()
                    .map(|&n| {
                        let (x, y) = cx
                            .data
                            .node(n)
                            .ok_or_else(|| format!("node {n} is not in the file"))?
                            .lon_lat();
                        Ok(Coord { x, y })
                    })
                    .collect()
            })
            .collect()
    };
    let outer = to_coords(join_rings(outer)?)?;
    let inner = to_coords(join_rings(inner)?)?;
    let (mut mp, orphans) = assemble(outer, inner);
    let geometry = if mp.0.len() == 1 {
        Geometry::Polygon(mp.0.remove(0))
    } else {
        Geometry::MultiPolygon(mp)
    };
    Ok((geometry, orphans))
}
