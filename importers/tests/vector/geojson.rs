use crate::all_ok;
use crate::support::{data, fixture};
use cim_engine::{AttrValue, FieldType};
use cim_importers::{list_layers, open_vector, read_geojson, ImportError};
use geo::Geometry;

#[test]
fn seoul_roads_are_94_linestrings_in_wgs84_keyed_by_id() {
    let path = fixture("vector/roads-seoul.geojson");
    let src = read_geojson(&path).unwrap();
    assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(4326));
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    for name in ["@id", "highway", "name"] {
        assert!(
            src.fields
                .iter()
                .any(|f| f.name == name && f.field_type == FieldType::Text),
            "{name}: {:?}",
            src.fields
        );
    }
    let feats = all_ok(src);
    assert_eq!(feats.len(), 94);
    assert_eq!(feats[0].key, "id:way/33803251");
    assert_eq!(
        feats[0].attributes["highway"],
        AttrValue::Text("residential".into())
    );
    assert_eq!(
        feats[0].attributes["name"],
        AttrValue::Text("X Corps Boulevard".into())
    );
    match &feats[0].geometry {
        Some(Geometry::LineString(l)) => {
            assert_eq!(l.0[0].x, 126.991594);
            assert_eq!(l.0[0].y, 37.5272773);
        }
        g => panic!("{g:?}"),
    }
    assert!(feats
        .iter()
        .all(|f| matches!(f.geometry, Some(Geometry::LineString(_)))));
    let again = all_ok(read_geojson(&path).unwrap());
    assert!(feats.iter().zip(&again).all(|(a, b)| a.key == b.key));
    let keys: std::collections::BTreeSet<_> = feats.iter().map(|f| &f.key).collect();
    assert_eq!(keys.len(), 94);
}

#[test]
fn jsonfg_building_reads_its_geometry_not_its_place() {
    let path = fixture("vector/jsonfg_building.json");
    let src = open_vector(&path, None).unwrap();
    assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(4326));
    let feats = all_ok(src);
    assert_eq!(feats.len(), 1);
    assert_eq!(feats[0].key, "id:DENW19AL0000giv5BL");
    match &feats[0].geometry {
        Some(Geometry::Polygon(p)) => {
            let c = p.exterior().0[0];
            assert!(
                (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y),
                "{c:?}"
            );
        }
        g => panic!("{g:?}"),
    }
    assert!(!feats[0].attributes.is_empty());
}

#[test]
fn legacy_crs_member_typed_properties_and_null_geometry() {
    let src = read_geojson(&data("legacy_crs_3857.geojson")).unwrap();
    assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(3857));
    let types: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("floors", FieldType::Real),
            ("height", FieldType::Real),
            ("public", FieldType::Bool),
            ("tags", FieldType::Text),
            ("名称", FieldType::Text),
        ]
    );
    let feats = all_ok(src);
    assert_eq!(feats[0].key, "id:7");
    assert_eq!(feats[0].attributes["名称"], AttrValue::Text("建国门".into()));
    assert_eq!(feats[0].attributes["floors"], AttrValue::Real(3.0));
    assert_eq!(feats[0].attributes["tags"], AttrValue::Text("{\"a\":1}".into()));
    assert_eq!(feats[1].attributes["height"], AttrValue::Null);
    assert!(feats[1].geometry.is_none());
}

#[test]
fn bare_geometry_is_one_feature() {
    let path = data("bare_geometry.geojson");
    assert_eq!(list_layers(&path).unwrap(), vec!["bare_geometry".to_string()]);
    let feats = all_ok(read_geojson(&path).unwrap());
    assert_eq!(feats.len(), 1);
    assert_eq!(feats[0].key, "rec:1");
    assert!(matches!(&feats[0].geometry, Some(Geometry::MultiPoint(m)) if m.0.len() == 2));
}

#[test]
fn duplicate_ids_fall_back_to_record_keys_with_a_warning() {
    let src = read_geojson(&data("duplicate_ids.geojson")).unwrap();
    let w = src.warnings[0].to_string();
    assert!(
        w.contains("duplicate_ids.geojson") && w.contains("record 2") && w.contains("'a'"),
        "{w}"
    );
    let keys: Vec<_> = all_ok(src).into_iter().map(|f| f.key).collect();
    assert_eq!(keys, ["rec:1", "rec:2"]);
}

#[test]
fn empty_collection_is_a_warning_naming_the_file() {
    let src = read_geojson(&data("empty_collection.geojson")).unwrap();
    assert_eq!(src.warnings.len(), 1);
    let w = src.warnings[0].to_string();
    assert!(
        w.contains("empty_collection.geojson") && w.contains("no features"),
        "{w}"
    );
    assert_eq!(src.features.count(), 0);
}

#[test]
fn absurd_and_malformed_coordinates_fail_their_record_only() {
    let src = read_geojson(&data("absurd_coords.geojson")).unwrap();
    let results: Vec<_> = src.features.collect();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[3].is_ok());
    let far = results[1].as_ref().unwrap_err();
    assert!(matches!(far, ImportError::Record { record: 2, .. }));
    let msg = far.to_string();
    assert!(
        msg.contains("absurd_coords.geojson") && msg.contains("record 2") && msg.contains("out of range"),
        "{msg}"
    );
    let bad = results[2].as_ref().unwrap_err().to_string();
    assert!(
        bad.contains("absurd_coords.geojson: record 3: invalid geometry"),
        "{bad}"
    );
}

#[test]
fn nan_literal_is_a_file_error_with_the_line() {
    let msg = read_geojson(&data("nan_coords.geojson"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("nan_coords.geojson") && msg.contains("line 3"),
        "{msg}"
    );
}

#[test]
fn an_unclosed_ring_is_closed_with_a_warning_naming_file_and_record() {
    use cim_engine::{Crs, Project};
    use cim_importers::pipeline::{import_vectors, ImportOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open_ring.geojson");
    // Record 2's ring stops one vertex short of its start (RFC 7946 requires closed rings).
    std::fs::write(
        &path,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.10],[14.401,50.101],[14.40,50.10]]]}},
          {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.10],[14.401,50.101],[14.40,50.101]]]}}
        ]}"#,
    )
    .unwrap();
    let feats = all_ok(read_geojson(&path).unwrap());
    assert!(feats[0].warnings.is_empty());
    assert_eq!(
        feats[1].warnings,
        vec!["ring 1 of polygon was not closed; closed it".to_string()]
    );
    let Some(Geometry::Polygon(p)) = &feats[1].geometry else {
        panic!("{:?}", feats[1].geometry);
    };
    assert_eq!(p.exterior().0.len(), 5);
    assert_eq!(p.exterior().0.first(), p.exterior().0.last());

    let crs = Crs::from_epsg(32633).unwrap();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let report = import_vectors(
        &mut project,
        vec![read_geojson(&path).unwrap()],
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.layers[0].inserted, 2, "{report:?}");
    let w: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.contains("open_ring.geojson: record 2: ring 1 of polygon was not closed")),
        "{w:?}"
    );
    // --strict: the warning is fatal.
    let mut strict = Project::create(&dir.path().join("s.cim.gpkg"), &crs, "000000").unwrap();
    let opts = ImportOptions {
        strict: true,
        ..Default::default()
    };
    let e = import_vectors(
        &mut strict,
        vec![read_geojson(&path).unwrap()],
        &opts,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("record 2") && e.contains("not closed") && e.contains("--strict"),
        "{e}"
    );
}
