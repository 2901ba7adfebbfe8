//! OSM XML fixtures: West Oakland (Osmosis, complete ways) and a southern-German extract
//! (osmconvert, ways clipped at the bounds).

#![allow(clippy::unwrap_used)]

use cim_engine::{AttrValue, FeatureKind};
use cim_importers::{read_osm, HeightHint, OsmOptions, SourceFeature, VectorSource};
use geo::BoundingRect;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/osm")
        .join(name)
}

struct Read {
    roads: Vec<SourceFeature>,
    buildings: Vec<SourceFeature>,
    road_warnings: Vec<String>,
    building_warnings: Vec<String>,
}

fn read(path: &Path) -> Read {
    let mut sources: Vec<VectorSource> = read_osm(path, &OsmOptions::default()).unwrap();
    assert_eq!(sources.len(), 2);
    let take = |s: &mut VectorSource| {
        assert_eq!(s.crs.as_ref().and_then(|c| c.epsg()), Some(4326));
        let feats: Vec<SourceFeature> = std::mem::replace(&mut s.features, Box::new(std::iter::empty()))
            .map(|f| f.unwrap())
            .collect();
        let warnings = s.warnings.iter().map(|w| w.to_string()).collect();
        (feats, warnings)
    };
    let (buildings, building_warnings) = take(&mut sources[1]);
    let (roads, road_warnings) = take(&mut sources[0]);
    assert_eq!(
        (sources[0].layer_name.as_str(), sources[1].layer_name.as_str()),
        ("roads", "buildings")
    );
    Read {
        roads,
        buildings,
        road_warnings,
        building_warnings,
    }
}

fn by_key<'a>(feats: &'a [SourceFeature], key: &str) -> &'a SourceFeature {
    feats
        .iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn attr<'a>(f: &'a SourceFeature, k: &str) -> &'a AttrValue {
    f.attributes
        .get(k)
        .unwrap_or_else(|| panic!("{} has no {k}", f.key))
}

/// `[minlon, minlat, maxlon, maxlat]` from the file's `<bounds>`.
fn bounds(path: &Path) -> [f64; 4] {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().find(|l| l.contains("<bounds")).unwrap();
    let get = |k: &str| -> f64 {
        let start = line.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
        line[start..].split('"').next().unwrap().parse().unwrap()
    };
    [get("minlon"), get("minlat"), get("maxlon"), get("maxlat")]
}

/// Every geometry overlaps the bounds and lies inside them grown by `slack` degrees.
fn assert_within(feats: &[SourceFeature], b: [f64; 4], slack: f64) {
    for f in feats {
        let r = f.geometry.as_ref().unwrap().bounding_rect().unwrap();
        let (lo, hi) = (r.min(), r.max());
        assert!(
            lo.x >= b[0] - slack && lo.y >= b[1] - slack && hi.x <= b[2] + slack && hi.y <= b[3] + slack,
            "{} {r:?} outside {b:?}",
            f.key
        );
        assert!(
            hi.x >= b[0] && hi.y >= b[1] && lo.x <= b[2] && lo.y <= b[3],
            "{} {r:?} misses {b:?}",
            f.key
        );
    }
}

#[test]
fn west_oakland_roads_and_buildings() {
    let path = fixture("West-Oakland.osm");
    let r = read(&path);
    // 66 ways: 31 with highway=*, 23 with building=*, all complete (every node is in the file).
    assert_eq!(r.roads.len(), 31);
    assert_eq!(r.buildings.len(), 23);
    assert!(
        r.road_warnings.is_empty() && r.building_warnings.is_empty(),
        "{:?} {:?}",
        r.road_warnings,
        r.building_warnings
    );
    assert!(r
        .roads
        .iter()
        .all(|f| f.kind == Some(FeatureKind::Road) && f.key.starts_with("osm:way/")));
    assert!(r.buildings.iter().all(|f| f.kind == Some(FeatureKind::Building)));
    assert!(r
        .roads
        .iter()
        .all(|f| matches!(f.geometry, Some(geo::Geometry::LineString(_)))));
    assert!(r
        .buildings
        .iter()
        .all(|f| matches!(f.geometry, Some(geo::Geometry::Polygon(_)))));

    let seventh = by_key(&r.roads, "osm:way/202455451");
    assert_eq!(attr(seventh, "name"), &AttrValue::Text("7th Street".into()));
    assert_eq!(attr(seventh, "highway"), &AttrValue::Text("secondary".into()));
    assert_eq!(attr(seventh, "lanes"), &AttrValue::Int(2));
    assert_eq!(attr(seventh, "oneway"), &AttrValue::Bool(true));
    assert_eq!(attr(seventh, "maxspeed"), &AttrValue::Null);
    let Some(geo::Geometry::LineString(ls)) = &seventh.geometry else {
        panic!()
    };
    assert_eq!(ls.0.len(), 20);
    let footway = by_key(&r.roads, "osm:way/142178707");
    assert_eq!(attr(footway, "name"), &AttrValue::Null);
    assert_eq!(attr(footway, "oneway"), &AttrValue::Null);

    // Two ways of the post office; the one with building:levels=5 gets a floors hint.
    let post = by_key(&r.buildings, "osm:way/52538639");
    assert_eq!(
        attr(post, "name"),
        &AttrValue::Text("Oakland Main Post Office".into())
    );
    assert_eq!(attr(post, "building:levels"), &AttrValue::Real(5.0));
    assert_eq!(
        post.height_hint,
        Some((
            15.0,
            HeightHint::Floors {
                name: "building:levels".into(),
                floors: 5.0
            }
        ))
    );
    let retail = by_key(&r.buildings, "osm:way/310612861");
    assert_eq!(attr(retail, "building"), &AttrValue::Text("retail".into()));
    assert_eq!(retail.height_hint, None);

    // Osmosis keeps whole ways, so lines run past the bounds by up to ~0.006°; each still
    // overlaps them.
    assert_within(&r.roads, bounds(&path), 0.01);
    assert_within(&r.buildings, bounds(&path), 0.01);
}

#[test]
fn clipped_extract_skips_ways_left_with_one_node() {
    let path = fixture("osmnx_planet_10.068_48.135_10.071_48.137.osm");
    let r = read(&path);
    // 19 highway ways, of which osmconvert clipped 5 to a single node (25129578, 25216934,
    // 761947188, 761947191, 761947192: one <nd> each in the file): 14 roads and 5 warnings.
    assert_eq!(r.roads.len(), 14);
    assert_eq!(r.road_warnings.len(), 5, "{:?}", r.road_warnings);
    assert!(r.road_warnings.iter().any(|w| w.contains("way 25216934")));
    // 33 building ways, one clipped to a single node (275490779): 32 buildings. The building
    // relation 318560 (a Berlin museum whose member ways are not in the extract) is skipped too.
    assert_eq!(r.buildings.len(), 32);
    assert_eq!(r.building_warnings.len(), 2, "{:?}", r.building_warnings);
    assert!(r.building_warnings.iter().any(|w| w.contains("way 275490779")));
    assert!(r
        .building_warnings
        .iter()
        .any(|w| w.contains("relation 318560") && w.contains("not in the file")));

    let goethe = by_key(&r.roads, "osm:way/25216931");
    assert_eq!(attr(goethe, "name"), &AttrValue::Text("Goethestraße".into()));
    assert_eq!(attr(goethe, "maxspeed"), &AttrValue::Real(30.0));
    assert_eq!(attr(goethe, "maxspeed_raw"), &AttrValue::Text("30".into()));
    let house = by_key(&r.buildings, "osm:way/275490754");
    assert_eq!(attr(house, "building:levels"), &AttrValue::Real(2.0));
    assert_eq!(house.height_hint.as_ref().map(|h| h.0), Some(6.0));

    // This extract is clipped: everything lies inside the bounds.
    assert_within(&r.roads, bounds(&path), 0.0);
    assert_within(&r.buildings, bounds(&path), 0.0);
}

#[test]
fn options_select_layers() {
    let path = fixture("West-Oakland.osm");
    let only_roads = read_osm(
        &path,
        &OsmOptions {
            roads: true,
            buildings: false,
        },
    )
    .unwrap();
    assert_eq!(only_roads.len(), 1);
    assert_eq!(only_roads[0].layer_name, "roads");
    assert!(read_osm(
        &path,
        &OsmOptions {
            roads: false,
            buildings: false
        }
    )
    .unwrap()
    .is_empty());
}

#[test]
fn absurd_road_tags_are_left_empty_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.osm");
    std::fs::write(
        &path,
        "<osm version='0.6'>
           <node id='1' lat='50.1' lon='14.39'/><node id='2' lat='50.101' lon='14.391'/>
           <way id='7'><nd ref='1'/><nd ref='2'/><tag k='highway' v='primary'/>
             <tag k='lanes' v='-5'/><tag k='maxspeed' v='5000'/><tag k='layer' v='two'/></way>
           <way id='8'><nd ref='2'/><nd ref='1'/><tag k='highway' v='primary'/><tag k='lanes' v='3'/></way>
         </osm>",
    )
    .unwrap();
    let r = read(&path);
    let odd = by_key(&r.roads, "osm:way/7");
    assert_eq!(attr(odd, "lanes"), &AttrValue::Null);
    assert_eq!(attr(odd, "maxspeed"), &AttrValue::Null);
    assert_eq!(attr(odd, "maxspeed_raw"), &AttrValue::Text("5000".into()));
    let w = &odd.warnings;
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("way 7: lanes=-5 is outside the plausible range 1–20"),
        "{w:?}"
    );
    assert!(w[1].contains("maxspeed=5000"), "{w:?}");
    assert!(w[2].contains("layer=two is not a whole number"), "{w:?}");
    let fine = by_key(&r.roads, "osm:way/8");
    assert_eq!(attr(fine, "lanes"), &AttrValue::Int(3));
    assert!(fine.warnings.is_empty());
}

/// What a road network needs, on the Essen block (GraphHopper's fixture): node ids in line
/// order, the 27 places where 17 signal nodes (and crossings with signals) lie on the 105
/// roads (ways cut at the extract's edge keep their longest stretch inside, as netconvert
/// does; 10 are left with one node), with their direction, lanes per direction, turn lanes and
/// the four turn restrictions (counted independently with Python's ElementTree).
#[test]
fn essen_roads_keep_what_a_network_needs() {
    let r = read(&fixture("graphhopper_edge_based_subnetwork.osm"));
    assert_eq!(r.roads.len(), 105);
    let text = |f: &SourceFeature, k: &str| match attr(f, k) {
        AttrValue::Text(s) => s.clone(),
        AttrValue::Null => String::new(),
        other => panic!("{k}: {other:?}"),
    };
    let w = by_key(&r.roads, "osm:way/392444138");
    assert_eq!(text(w, "osm_nodes"), "33790309 2494964448 3956630426 3956630442");
    assert_eq!(
        text(w, "osm_controls"),
        "signals@2494964448 signals@3956630426:backward"
    );
    assert_eq!(text(w, "osm_restrictions"), "no_left_turn@33790309>392444149");
    assert_eq!(attr(w, "lanes:forward"), &AttrValue::Int(2));
    assert_eq!(attr(w, "lanes:backward"), &AttrValue::Int(2));
    assert_eq!(text(w, "turn:lanes:backward"), "through|through;right");
    assert_eq!(text(w, "turn:lanes:forward"), "");
    // Every node of every road, in order, and the line has a vertex for each.
    for f in &r.roads {
        let n = text(f, "osm_nodes").split(' ').count();
        let Some(geo::Geometry::LineString(l)) = &f.geometry else {
            panic!()
        };
        assert_eq!(n, l.0.len(), "{}", f.key);
    }
    let controls: Vec<String> = r
        .roads
        .iter()
        .flat_map(|f| {
            text(f, "osm_controls")
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(controls.len(), 27);
    let distinct: std::collections::BTreeSet<&str> = controls
        .iter()
        .map(|c| c.split(['@', ':']).nth(1).unwrap())
        .collect();
    assert_eq!(distinct.len(), 17);
    assert!(controls.iter().all(|c| c.starts_with("signals@")));
    let restrictions: Vec<String> = r
        .roads
        .iter()
        .filter(|f| !text(f, "osm_restrictions").is_empty())
        .map(|f| format!("{} {}", f.key, text(f, "osm_restrictions")))
        .collect();
    assert_eq!(
        restrictions,
        [
            "osm:way/392444134 only_straight_on@3956630457>392444139",
            "osm:way/392444138 no_left_turn@33790309>392444149",
            "osm:way/392444141 only_straight_on@356222936>392444134",
            "osm:way/615562823 only_right_turn@274650327>615562822",
        ]
    );
}

/// `oneway=-1` reverses the line, its node ids, its lanes and its controls' directions; a
/// restriction through a way and one whose members are missing are warned of by relation.
#[test]
fn reversed_oneways_keep_their_directions_and_odd_restrictions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.osm");
    std::fs::write(
        &path,
        r#"<?xml version="1.0"?><osm version="0.6">
<node id="1" lat="0" lon="0"/><node id="2" lat="0" lon="0.001"><tag k="highway" v="stop"/><tag k="direction" v="forward"/></node>
<node id="3" lat="0" lon="0.002"/><node id="4" lat="0.001" lon="0.002"/>
<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="oneway" v="-1"/>
 <tag k="lanes:backward" v="2"/><tag k="turn:lanes:backward" v="left|through"/></way>
<way id="11"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
<relation id="20"><member type="way" ref="10" role="from"/><member type="way" ref="11" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_u_turn"/></relation>
<relation id="21"><member type="way" ref="99" role="from"/><member type="node" ref="3" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
<relation id="22"><member type="way" ref="10" role="from"/><member type="node" ref="3" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction:hgv" v="no_left_turn"/></relation>
</osm>"#,
    )
    .unwrap();
    let r = read(&path);
    let w = by_key(&r.roads, "osm:way/10");
    assert_eq!(attr(w, "osm_nodes"), &AttrValue::Text("3 2 1".into()));
    assert_eq!(
        attr(w, "osm_controls"),
        &AttrValue::Text("stop@2:backward".into())
    );
    assert_eq!(attr(w, "lanes:forward"), &AttrValue::Int(2));
    assert_eq!(attr(w, "lanes:backward"), &AttrValue::Null);
    assert_eq!(
        attr(w, "turn:lanes:forward"),
        &AttrValue::Text("left|through".into())
    );
    assert_eq!(attr(w, "osm_restrictions"), &AttrValue::Null);
    let warned = r.road_warnings.join("\n");
    assert!(
        warned.contains("relation 20 (no_u_turn)") && warned.contains("through a way"),
        "{warned}"
    );
    assert!(
        warned.contains("relation 21 (no_left_turn)") && warned.contains("from way 99"),
        "{warned}"
    );
    assert!(!warned.contains("relation 22"), "{warned}");
}
