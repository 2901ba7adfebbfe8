use crate::all_ok;
use crate::support::{data, fixture, PARCEL_NAMES};
use cim_engine::{AttrValue, Date, FieldType};
use cim_importers::{list_layers, open_vector, read_shapefile, ImportError};
use geo::{Area, Geometry};

#[test]
fn farms_fixture_reads_all_polygons_with_their_crs() {
    let path = fixture("vector/farms_33S.shp");
    let src = read_shapefile(&path).unwrap();
    assert_eq!(src.layer_name, "farms_33S");
    assert_eq!(src.fields.len(), 22);
    assert!(src
        .fields
        .iter()
        .any(|f| f.name == "SG_CODE" && f.field_type == FieldType::Text));
    assert_eq!(
        src.crs.as_ref().and_then(|c| c.epsg()),
        Some(32733),
        "{:?}",
        src.warnings
    );
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    let feats = all_ok(src);
    assert_eq!(feats.len(), 2008);
    assert_eq!(feats[0].key, "rec:1");
    assert_eq!(feats[2007].record, 2008);
    let mut polys = 0;
    for f in &feats {
        let g = f.geometry.as_ref().unwrap();
        assert!(matches!(g, Geometry::Polygon(_) | Geometry::MultiPolygon(_)));
        polys += 1;
        let r = geo::BoundingRect::bounding_rect(g).unwrap();
        assert!(r.min().x >= 969_680.0 - 1.0 && r.max().x <= 1_038_106.0, "{r:?}");
        assert!(
            r.min().y >= 6_196_092.0 - 1.0 && r.max().y <= 6_250_061.0,
            "{r:?}"
        );
        assert!(g.unsigned_area() > 0.0);
        assert_eq!(f.attributes.len(), 22);
    }
    assert_eq!(polys, 2008);
    // Same keys on a second read.
    let again = all_ok(read_shapefile(&path).unwrap());
    assert!(feats
        .iter()
        .zip(&again)
        .all(|(a, b)| a.key == b.key && a.geometry == b.geometry));
}

fn check_parcels(path: &std::path::Path) -> Vec<cim_importers::SourceFeature> {
    let src = read_shapefile(path).unwrap();
    let names: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(
        names,
        vec![
            ("NAME", FieldType::Text),
            ("CODE", FieldType::Int),
            ("AREA", FieldType::Real),
            ("BUILT", FieldType::Bool),
            ("REG_DATE", FieldType::Date),
        ]
    );
    let feats = all_ok(src);
    assert_eq!(feats.len(), 3);
    for (f, name) in feats.iter().zip(PARCEL_NAMES) {
        assert_eq!(
            f.attributes["NAME"],
            AttrValue::Text(name.to_string()),
            "{}",
            path.display()
        );
    }
    let a = &feats[0].attributes;
    assert_eq!(a["CODE"], AttrValue::Int(110105001));
    assert_eq!(a["AREA"], AttrValue::Real(10000.0));
    assert_eq!(a["BUILT"], AttrValue::Bool(true));
    assert_eq!(
        a["REG_DATE"],
        AttrValue::Date(Date::from_ymd(2019, 3, 15).unwrap())
    );
    assert_eq!(feats[2].attributes["REG_DATE"], AttrValue::Null);
    // Polygon assembly: a plain square, a square with a 20 m courtyard, a two-part parcel.
    match &feats[0].geometry {
        Some(Geometry::Polygon(p)) => assert_eq!(p.unsigned_area(), 10_000.0),
        g => panic!("{g:?}"),
    }
    match &feats[1].geometry {
        Some(Geometry::Polygon(p)) => {
            assert_eq!(p.interiors().len(), 1);
            assert_eq!(p.unsigned_area(), 10_000.0 - 400.0);
        }
        g => panic!("{g:?}"),
    }
    match &feats[2].geometry {
        Some(Geometry::MultiPolygon(m)) => assert_eq!(m.0.len(), 2),
        g => panic!("{g:?}"),
    }
    assert_eq!(
        feats.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["rec:1", "rec:2", "rec:3"]
    );
    feats
}

#[test]
fn gbk_text_by_cpg_decodes_to_chinese() {
    let src = read_shapefile(&data("parcels_gbk_cpg.shp")).unwrap();
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(4527));
    check_parcels(&data("parcels_gbk_cpg.shp"));
}

#[test]
fn gbk_text_by_language_driver_decodes_to_chinese() {
    let path = data("parcels_gbk_ldid.shp");
    let src = read_shapefile(&path).unwrap();
    // No .prj: no CRS, and a warning that names the file.
    assert!(src.crs.is_none());
    assert_eq!(src.warnings.len(), 1, "{:?}", src.warnings);
    let w = src.warnings[0].to_string();
    assert!(w.contains("parcels_gbk_ldid.shp") && w.contains(".prj"), "{w}");
    check_parcels(&path);
}

#[test]
fn unstated_encoding_falls_back_to_gbk_with_a_warning() {
    let path = data("parcels_gbk_unstated.shp");
    let src = read_shapefile(&path).unwrap();
    assert_eq!(src.warnings.len(), 1, "{:?}", src.warnings);
    let w = src.warnings[0].to_string();
    assert!(w.contains("parcels_gbk_unstated.dbf") && w.contains("GBK"), "{w}");
    check_parcels(&path);
}

#[test]
fn utf8_text_by_cpg() {
    let src = read_shapefile(&data("parcels_utf8.shp")).unwrap();
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    check_parcels(&data("parcels_utf8.shp"));
}

#[test]
fn unknown_cpg_and_garbled_prj_are_warnings_naming_the_files() {
    let path = data("parcels_bad_cpg.shp");
    let src = read_shapefile(&path).unwrap();
    assert!(src.crs.is_none());
    let ws: Vec<String> = src.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        ws.iter()
            .any(|w| w.contains("parcels_bad_cpg.cpg") && w.contains("KLINGON-7")),
        "{ws:?}"
    );
    assert!(
        ws.iter()
            .any(|w| w.contains("parcels_bad_cpg.prj") && w.contains("--src-crs")),
        "{ws:?}"
    );
    // The LDID (0x4D) still gives GBK.
    check_parcels(&path);
}

#[test]
fn truncated_shp_fails_on_the_cut_record_naming_the_file() {
    let path = data("truncated_shp.shp");
    let mut src = read_shapefile(&path).unwrap();
    assert!(src.features.next().unwrap().is_ok());
    assert!(src.features.next().unwrap().is_ok());
    let err = src.features.next().unwrap().unwrap_err();
    assert!(matches!(err, ImportError::Damaged { record: 3, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("truncated_shp.shp") && msg.contains("record 3") && msg.contains("truncated"),
        "{msg}"
    );
    assert!(src.features.next().is_none());
}

#[test]
fn truncated_dbf_fails_on_the_cut_record_naming_the_dbf() {
    let path = data("truncated_dbf.shp");
    let mut src = read_shapefile(&path).unwrap();
    let first = src.features.next().unwrap().unwrap();
    assert_eq!(first.attributes["NAME"], AttrValue::Text(PARCEL_NAMES[0].into()));
    assert!(src.features.next().unwrap().is_ok());
    let msg = src.features.next().unwrap().unwrap_err().to_string();
    assert!(
        msg.contains("truncated_dbf.dbf") && msg.contains("record 3") && msg.contains("truncated"),
        "{msg}"
    );
    assert!(src.features.next().is_none());
}

#[test]
fn open_vector_dispatches_and_lists_one_layer() {
    let path = data("parcels_utf8.shp");
    assert_eq!(list_layers(&path).unwrap(), vec!["parcels_utf8".to_string()]);
    assert_eq!(all_ok(open_vector(&path, None).unwrap()).len(), 3);
    assert_eq!(all_ok(open_vector(&path, Some("parcels_utf8")).unwrap()).len(), 3);
    let msg = open_vector(&path, Some("roads")).err().unwrap().to_string();
    assert!(msg.contains("parcels_utf8"), "{msg}");
}
