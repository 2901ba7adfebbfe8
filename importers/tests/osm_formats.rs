//! The same tiny dataset written as OSM XML and as OSM PBF (encoded by hand in
//! `osm_support`) must give identical features; bad files must give clear errors.

#![allow(clippy::unwrap_used)]

mod osm_support;

use cim_engine::AttrValue;
use cim_importers::{read_osm, HeightHint, ImportError, OsmOptions, SourceFeature};
use geo::{Geometry, LineString};
use std::path::Path;

struct Layers {
    roads: Vec<SourceFeature>,
    buildings: Vec<SourceFeature>,
    warnings: Vec<String>,
}

fn read(path: &Path) -> Layers {
    let sources = read_osm(path, &OsmOptions::default()).unwrap();
    let mut warnings = Vec::new();
    let mut layers = Vec::new();
    for s in sources {
        warnings.extend(s.warnings.iter().map(|w| w.to_string()));
        layers.push(s.features.map(|f| f.unwrap()).collect::<Vec<_>>());
    }
    let buildings = layers.pop().unwrap();
    let roads = layers.pop().unwrap();
    Layers {
        roads,
        buildings,
        warnings,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn attr<'a>(f: &'a SourceFeature, k: &str) -> &'a AttrValue {
    &f.attributes[k]
}

#[test]
fn tiny_xml_roads_buildings_and_multipolygon() {
    let dir = tempfile::tempdir().unwrap();
    let d = osm_support::tiny();
    let l = read(&write(dir.path(), "tiny.osm", osm_support::to_xml(&d).as_bytes()));

    // Roads 100 and 101; 102 is an area (skipped silently); 103 has a missing node (warning).
    let keys: Vec<&str> = l.roads.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["osm:way/100", "osm:way/101"]);
    let avenue = &l.roads[0];
    assert_eq!(attr(avenue, "name:zh"), &AttrValue::Text("长安街".into()));
    assert_eq!(
        attr(avenue, "name:en"),
        &AttrValue::Text("Chang'an Avenue".into())
    );
    assert_eq!(attr(avenue, "lanes"), &AttrValue::Int(4));
    let AttrValue::Real(kmh) = attr(avenue, "maxspeed") else {
        panic!()
    };
    assert!((kmh - 48.28032).abs() < 1e-9);
    assert_eq!(attr(avenue, "maxspeed_raw"), &AttrValue::Text("30 mph".into()));
    assert_eq!(attr(avenue, "oneway"), &AttrValue::Bool(true));
    assert_eq!(attr(avenue, "bridge"), &AttrValue::Bool(true));
    assert_eq!(attr(avenue, "layer"), &AttrValue::Int(1));
    assert_eq!(attr(avenue, "ref"), &AttrValue::Text("G1".into()));
    // oneway=-1: the line runs from node 3 back to node 1.
    let expected = LineString::from(vec![(116.392, 39.9), (116.391, 39.9), (116.39, 39.9)]);
    assert_eq!(avenue.geometry, Some(Geometry::LineString(expected)));
    let footway = &l.roads[1];
    assert_eq!(attr(footway, "maxspeed"), &AttrValue::Null);
    assert_eq!(attr(footway, "maxspeed_raw"), &AttrValue::Text("walk".into()));
    assert_eq!(attr(footway, "tunnel"), &AttrValue::Bool(false));
    assert_eq!(attr(footway, "bridge"), &AttrValue::Null);

    let keys: Vec<&str> = l.buildings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(
        keys,
        ["osm:way/200", "osm:way/201", "osm:way/202", "osm:relation/400"]
    );
    let [b200, b201, b202, r400] = &l.buildings[..] else {
        panic!()
    };
    // height wins over building:levels.
    assert_eq!(
        b200.height_hint,
        Some((12.0, HeightHint::Attribute("height".into())))
    );
    assert_eq!(attr(b200, "building:levels"), &AttrValue::Real(4.0));
    assert_eq!(
        b201.height_hint,
        Some((
            9.0,
            HeightHint::Floors {
                name: "building:levels".into(),
                floors: 3.0
            }
        ))
    );
    assert_eq!(attr(b201, "name"), &AttrValue::Text("A & B <楼>".into()));
    let (h, _) = b202.height_hint.clone().unwrap();
    assert!((h - 12.192).abs() < 1e-9, "40 feet = {h} m");
    assert_eq!(attr(r400, "building"), &AttrValue::Text("office".into()));
    assert_eq!(attr(r400, "height"), &AttrValue::Real(20.0));
    assert_eq!(r400.record, 38, "25 nodes + 12 ways + the first relation");
    let Some(Geometry::Polygon(p)) = &r400.geometry else {
        panic!("{:?}", r400.geometry)
    };
    assert_eq!(p.exterior().0.len(), 5);
    assert_eq!(p.interiors().len(), 1);
    assert_eq!(p.interiors()[0].0.len(), 4);

    assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
    assert!(
        l.warnings[0].contains("way 103") && l.warnings[0].contains("node 999"),
        "{}",
        l.warnings[0]
    );
    assert!(l.warnings[1].contains("way 203") && l.warnings[1].contains("not a closed ring"));
    assert!(l.warnings[2].contains("relation 401") && l.warnings[2].contains("way 9999"));
}

#[test]
fn pbf_gives_the_same_features_as_xml() {
    let dir = tempfile::tempdir().unwrap();
    let d = osm_support::tiny();
    let xml = read(&write(dir.path(), "tiny.osm", osm_support::to_xml(&d).as_bytes()));
    let pbf = read(&write(dir.path(), "tiny.osm.pbf", &osm_support::to_pbf(&d)));
    assert_eq!(pbf.roads.len(), 2);
    assert_eq!(pbf.buildings.len(), 4);
    assert_eq!(xml.roads, pbf.roads);
    assert_eq!(xml.buildings, pbf.buildings);
    let strip = |w: &[String]| {
        w.iter()
            .map(|s| s.split_once(": ").unwrap().1.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&xml.warnings), strip(&pbf.warnings));
}

fn file_error(path: &Path) -> String {
    let err = read_osm(path, &OsmOptions::default())
        .err()
        .unwrap_or_else(|| panic!("{} read", path.display()));
    assert!(matches!(err, ImportError::File { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()),
        "error names the file: {msg}"
    );
    msg
}

#[test]
fn truncated_and_garbled_xml() {
    let dir = tempfile::tempdir().unwrap();
    let xml = osm_support::to_xml(&osm_support::tiny());
    // Cut inside way 101.
    let cut = xml.find("<way id=\"101\">").unwrap() + 30;
    let msg = file_error(&write(dir.path(), "cut.osm", &xml.as_bytes()[..cut]));
    assert!(msg.contains("truncated") && msg.contains("way 101"), "{msg}");
    // Cut between elements.
    let cut = xml.find("<relation").unwrap();
    assert!(file_error(&write(dir.path(), "cut2.osm", &xml.as_bytes()[..cut])).contains("truncated"));
    // Mismatched tags, a bad id, a bad coordinate.
    let bad = xml.replacen("</way>", "</wya>", 1);
    assert!(file_error(&write(dir.path(), "bad.osm", bad.as_bytes())).contains("XML error"));
    let bad = xml.replacen("<way id=\"101\"", "<way id=\"x1\"", 1);
    assert!(file_error(&write(dir.path(), "id.osm", bad.as_bytes())).contains("id='x1'"));
    let bad = xml.replacen("<node id=\"1\" lat=\"39.9\"", "<node id=\"1\" lat=\"139.9\"", 1);
    assert!(file_error(&write(dir.path(), "lat.osm", bad.as_bytes())).contains("lat='139.9'"));
    // XML that is not OSM.
    assert!(file_error(&write(dir.path(), "html.osm", b"<html><body/></html>")).contains("not an OSM XML"));
    // Every prefix: an error or (for the full file) success, never a panic.
    for cut in (0..xml.len()).step_by(97) {
        let p = write(dir.path(), "prefix.osm", &xml.as_bytes()[..cut]);
        assert!(read_osm(&p, &OsmOptions::default()).is_err(), "prefix {cut}");
    }
}

#[test]
fn truncated_and_garbled_pbf() {
    let dir = tempfile::tempdir().unwrap();
    let pbf = osm_support::to_pbf(&osm_support::tiny());
    let msg = file_error(&write(dir.path(), "half.osm.pbf", &pbf[..pbf.len() / 2]));
    assert!(msg.contains("truncated or corrupt"), "{msg}");
    let noise: Vec<u8> = (0u32..3000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    file_error(&write(dir.path(), "noise.osm.pbf", &noise));
    file_error(&write(dir.path(), "empty.osm.pbf", b""));
    // Every prefix and many single-byte corruptions: a Result either way, never a panic. A
    // prefix that ends between blobs is a valid, smaller file.
    let mut num_errors = 0;
    let prefixes = (1..pbf.len()).step_by(13);
    let num_prefixes = prefixes.len();
    for cut in prefixes {
        let p = write(dir.path(), "prefix.osm.pbf", &pbf[..cut]);
        num_errors += usize::from(read_osm(&p, &OsmOptions::default()).is_err());
    }
    assert!(num_errors + 2 >= num_prefixes, "{num_errors} of {num_prefixes}");
    for i in (4..pbf.len()).step_by(7) {
        let mut bad = pbf.clone();
        bad[i] ^= 0xa5;
        let p = write(dir.path(), "flip.osm.pbf", &bad);
        let _ = read_osm(&p, &OsmOptions::default());
    }
    assert!(matches!(
        read_osm(&dir.path().join("missing.osm.pbf"), &OsmOptions::default()),
        Err(ImportError::Io { .. })
    ));
}
