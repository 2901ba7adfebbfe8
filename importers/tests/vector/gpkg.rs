use crate::all_ok;
use crate::support::fixture;
use cim_engine::{AttrValue, FieldType};
use cim_importers::{list_layers, open_vector, read_gpkg};
use geo::Geometry;

#[test]
fn bubenec_lists_its_feature_layers_sorted() {
    let layers = list_layers(&fixture("vector/bubenec.gpkg")).unwrap();
    assert_eq!(layers, ["buildings", "plots", "streets", "tessellation"]);
}

#[test]
fn bubenec_layers_read_with_counts_crs_and_fid_keys() {
    let path = fixture("vector/bubenec.gpkg");
    for (layer, count) in [
        ("buildings", 144),
        ("plots", 407),
        ("streets", 35),
        ("tessellation", 144),
    ] {
        let src = read_gpkg(&path, Some(layer)).unwrap();
        assert_eq!(src.layer_name, layer);
        assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(3857), "{layer}");
        assert!(src.warnings.is_empty(), "{:?}", src.warnings);
        let feats = all_ok(src);
        assert_eq!(feats.len(), count, "{layer}");
        for (i, f) in feats.iter().enumerate() {
            assert_eq!(f.record, i as u64 + 1);
            assert!(f.key.starts_with("fid:"));
            let g = f.geometry.as_ref().unwrap();
            let ok = match layer {
                "streets" => matches!(g, Geometry::LineString(_) | Geometry::MultiLineString(_)),
                _ => matches!(g, Geometry::Polygon(_) | Geometry::MultiPolygon(_)),
            };
            assert!(ok, "{layer} {}: {g:?}", f.key);
            // Web Mercator metres around Prague.
            let c = geo::Centroid::centroid(g).unwrap();
            assert!(
                (1_602_000.0..1_605_000.0).contains(&c.x()) && (6_463_000.0..6_466_000.0).contains(&c.y())
            );
        }
    }
}

#[test]
fn plots_attributes_follow_declared_types() {
    let src = read_gpkg(&fixture("vector/bubenec.gpkg"), Some("plots")).unwrap();
    let types: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("ID", FieldType::Text),
            ("ID_2", FieldType::Text),
            ("TYPPPD_KOD", FieldType::Text),
            ("KATUZE_KOD", FieldType::Int),
            ("OBEC_KOD", FieldType::Int),
        ]
    );
    let first = all_ok(src).remove(0);
    assert_eq!(first.key, "fid:1");
    assert_eq!(first.attributes["ID"], AttrValue::Text("760".into()));
    assert_eq!(first.attributes["ID_2"], AttrValue::Text("2402108101".into()));
    assert_eq!(first.attributes["KATUZE_KOD"], AttrValue::Int(730106));
    assert_eq!(first.attributes["OBEC_KOD"], AttrValue::Int(554782));
}

#[test]
fn a_layer_must_be_chosen_and_must_exist() {
    let path = fixture("vector/bubenec.gpkg");
    let msg = open_vector(&path, None).err().unwrap().to_string();
    assert!(
        msg.contains("bubenec.gpkg") && msg.contains("buildings, plots, streets, tessellation"),
        "{msg}"
    );
    let msg = open_vector(&path, Some("roads")).err().unwrap().to_string();
    assert!(
        msg.contains("no feature layer 'roads'") && msg.contains("plots"),
        "{msg}"
    );
    // The raster coverage is not a feature layer.
    assert!(open_vector(&path, Some("dtm")).is_err());
}

#[test]
fn sf_soho_buildings_single_layer_opens_without_a_name() {
    let path = fixture("vector/sf_soho_buildings.gpkg");
    let src = open_vector(&path, None).unwrap();
    assert_eq!(src.layer_name, "buildings");
    assert!(src.crs.is_some(), "{:?}", src.warnings);
    let types: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(types, vec![("cat", FieldType::Int), ("cat_", FieldType::Real)]);
    let feats = all_ok(src);
    assert_eq!(feats.len(), 158);
    assert!(feats
        .iter()
        .all(|f| matches!(f.geometry, Some(Geometry::Polygon(_) | Geometry::MultiPolygon(_)))));
}

/// A small GeoPackage with one good row, a garbled geometry blob, a NULL geometry, an absurd
/// coordinate, an undefined CRS (srs_id 0) and no INTEGER PRIMARY KEY (so fids are rowids).
fn write_awkward_gpkg(path: &std::path::Path) {
    use cim_engine::gpkg::encode_geometry;
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT,
           organization_coordsys_id INTEGER, definition TEXT);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined');
         CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, srs_id INTEGER);
         INSERT INTO gpkg_contents VALUES ('parcels', 'features', 0), ('tiles', 'tiles', 0);
         CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,
           srs_id INTEGER, z TINYINT, m TINYINT);
         INSERT INTO gpkg_geometry_columns VALUES ('parcels', 'shape', 'POINT', 0, 0, 0);
         CREATE TABLE parcels (shape POINT, 名称 TEXT, valid BOOLEAN, since DATE, photo BLOB);",
    )
    .unwrap();
    let good = encode_geometry(&geo::Geometry::Point(geo::point!(x: 116.4, y: 39.9)), 0);
    let far = encode_geometry(&geo::Geometry::Point(geo::point!(x: 1e300, y: 39.9)), 0);
    let mut ins = conn
        .prepare("INSERT INTO parcels VALUES (?1, ?2, ?3, ?4, NULL)")
        .unwrap();
    ins.execute(rusqlite::params![good, "天安门", 1, "2020-05-01"])
        .unwrap();
    ins.execute(rusqlite::params![vec![b'G', b'P', 0, 1, 9, 9], "坏", 0, "x"])
        .unwrap();
    ins.execute(rusqlite::params![
        rusqlite::types::Null,
        "无",
        rusqlite::types::Null,
        rusqlite::types::Null
    ])
    .unwrap();
    ins.execute(rusqlite::params![far, "远", 1, "2021-01-01"])
        .unwrap();
}

#[test]
fn bad_rows_are_record_errors_naming_the_file_record_and_fid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("awkward.gpkg");
    write_awkward_gpkg(&path);
    assert_eq!(list_layers(&path).unwrap(), ["parcels"]);
    let src = read_gpkg(&path, None).unwrap();
    assert!(src.crs.is_none());
    let ws: Vec<String> = src.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        ws.iter()
            .any(|w| w.contains("awkward.gpkg") && w.contains("undefined CRS")),
        "{ws:?}"
    );
    assert!(
        ws.iter().any(|w| w.contains("'photo'") && w.contains("BLOB")),
        "{ws:?}"
    );
    let types: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("名称", FieldType::Text),
            ("valid", FieldType::Bool),
            ("since", FieldType::Date)
        ]
    );
    let rows: Vec<_> = src.features.collect();
    assert_eq!(rows.len(), 4);
    let first = rows[0].as_ref().unwrap();
    assert_eq!(first.key, "fid:1");
    assert_eq!(first.attributes["名称"], AttrValue::Text("天安门".into()));
    assert_eq!(first.attributes["valid"], AttrValue::Bool(true));
    assert_eq!(
        first.attributes["since"],
        AttrValue::Date(cim_engine::Date::from_ymd(2020, 5, 1).unwrap())
    );
    let bad = rows[1].as_ref().unwrap_err().to_string();
    assert!(bad.contains("awkward.gpkg: record 2: fid 2:"), "{bad}");
    let empty = rows[2].as_ref().unwrap();
    assert!(empty.geometry.is_none());
    assert_eq!(empty.attributes["valid"], AttrValue::Null);
    let far = rows[3].as_ref().unwrap_err().to_string();
    assert!(far.contains("record 4") && far.contains("out of range"), "{far}");
}
