//! The GDAL reader (feature `gdal`): the same `VectorSource` as the native readers, and formats
//! only GDAL reads (a hand-written KML in tests/data/gdal).

#![cfg(feature = "gdal")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cim_engine::{AttrValue, Crs, FieldType};
use cim_importers::{list_layers, open_vector, read_gdal, read_shapefile, SourceFeature, VectorSource};
use geo::{CoordsIter, Geometry};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gdal")
        .join(name)
}

fn all_ok(src: VectorSource) -> Vec<SourceFeature> {
    src.features
        .map(|f| f.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn same_geometry(a: &Geometry<f64>, b: &Geometry<f64>) -> bool {
    let (ca, cb): (Vec<_>, Vec<_>) = (a.coords_iter().collect(), b.coords_iter().collect());
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && ca.len() == cb.len()
        && ca
            .iter()
            .zip(&cb)
            .all(|(p, q)| (p.x - q.x).abs() <= 1e-9 && (p.y - q.y).abs() <= 1e-9)
}

fn same_value(a: &AttrValue, b: &AttrValue) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

#[test]
fn a_shapefile_through_gdal_matches_the_native_reader() {
    let shp = fixture("vector/farms_33S.shp");
    let native = read_shapefile(&shp).unwrap();
    let via_gdal = read_gdal(&shp, None).unwrap();
    assert_eq!(via_gdal.layer_name, "farms_33S");
    assert_eq!(via_gdal.crs, native.crs);
    assert!(via_gdal.crs.is_some());
    let native_fields: Vec<_> = native.fields.iter().map(|f| f.name.clone()).collect();
    let gdal_fields: Vec<_> = via_gdal.fields.iter().map(|f| f.name.clone()).collect();
    assert_eq!(gdal_fields, native_fields);
    let native = all_ok(native);
    let via_gdal = all_ok(via_gdal);
    assert_eq!(native.len(), 2008);
    assert_eq!(via_gdal.len(), native.len());
    for (g, n) in via_gdal.iter().zip(&native) {
        assert_eq!(g.record, n.record);
        // OGR numbers shapefile features from 0, the native reader's records from 1.
        assert_eq!(g.key, format!("fid:{}", n.record - 1));
        let (Some(gg), Some(ng)) = (&g.geometry, &n.geometry) else {
            panic!("record {}: a geometry is missing", n.record);
        };
        assert!(same_geometry(gg, ng), "record {}: {gg:?} != {ng:?}", n.record);
        assert!(g.warnings.is_empty());
    }
    for i in [0, 1, 999, 2007] {
        let (g, n) = (&via_gdal[i], &native[i]);
        assert_eq!(g.attributes.len(), n.attributes.len());
        for (name, nv) in &n.attributes {
            let gv = &g.attributes[name];
            assert!(
                same_value(gv, nv),
                "record {}: {name}: {gv:?} != {nv:?}",
                n.record
            );
        }
    }
    assert!(matches!(native[0].attributes["FARM_NO"], AttrValue::Text(_)));
}

#[test]
fn a_kml_file_is_read_through_gdal() {
    let kml = data("prague_places.kml");
    assert_eq!(list_layers(&kml).unwrap(), vec!["prague_places".to_string()]);
    let src = open_vector(&kml, None).unwrap();
    assert_eq!(src.layer_name, "prague_places");
    assert_eq!(src.crs, Some(Crs::from_epsg(4326).unwrap()));
    let name_field = src.fields.iter().find(|f| f.name == "Name").unwrap();
    assert_eq!(name_field.field_type, FieldType::Text);
    let features = all_ok(src);
    assert_eq!(features.len(), 3);
    let names: Vec<_> = features
        .iter()
        .map(|f| match &f.attributes["Name"] {
            AttrValue::Text(t) => t.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["Stromovka gate", "Bubeneč street", "Letná block"]);
    assert_eq!(features.iter().map(|f| f.record).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(features.iter().all(|f| f.key.starts_with("fid:")));
    match &features[0].geometry {
        Some(Geometry::Point(p)) => assert_eq!((p.x(), p.y()), (14.421, 50.105)),
        other => panic!("{other:?}"),
    }
    match &features[1].geometry {
        Some(Geometry::LineString(l)) => {
            assert_eq!(l.0.len(), 3);
            assert_eq!((l.0[2].x, l.0[2].y), (14.41, 50.103));
        }
        other => panic!("{other:?}"),
    }
    match &features[2].geometry {
        Some(Geometry::Polygon(p)) => {
            assert_eq!(p.exterior().0.len(), 5);
            assert_eq!(p.interiors().len(), 1);
            assert_eq!(
                (p.interiors()[0].0[0].x, p.interiors()[0].0[0].y),
                (14.411, 50.0985)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn layer_choice_and_errors_name_the_file() {
    let kml = data("prague_places.kml");
    assert!(open_vector(&kml, Some("prague_places")).is_ok());
    let e = open_vector(&kml, Some("nope")).err().unwrap().to_string();
    assert!(
        e.contains("prague_places.kml") && e.contains("no layer 'nope'") && e.contains("prague_places"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.kml");
    std::fs::write(&junk, b"this is not KML").unwrap();
    let e = open_vector(&junk, None).err().unwrap().to_string();
    assert!(e.contains("junk.kml") && e.contains("GDAL"), "{e}");
    let e = open_vector(&dir.path().join("missing.dxf"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing.dxf") && e.contains("not found"), "{e}");
}
