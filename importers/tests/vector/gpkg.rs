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
