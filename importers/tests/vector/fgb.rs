use crate::all_ok;
use crate::support::{data, PARCEL_NAMES};
use cim_engine::{AttrValue, FieldType};
use cim_importers::{open_vector, read_fgb};
use geo::{Area, Geometry};

#[test]
fn fgb_written_by_the_crate_reads_back() {
    let path = data("parcels.fgb");
    let src = read_fgb(&path).unwrap();
    assert_eq!(src.layer_name, "parcels");
    assert_eq!(src.crs.as_ref().and_then(|c| c.epsg()), Some(4527));
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    let types: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.field_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("name", FieldType::Text),
            ("code", FieldType::Int),
            ("area", FieldType::Real),
            ("built", FieldType::Bool)
        ]
    );
    let feats = all_ok(src);
    assert_eq!(feats.len(), 3);
    // The writer's spatial index sorts features; match them by name.
    for name in PARCEL_NAMES {
        let f = feats
            .iter()
            .find(|f| f.attributes["name"] == AttrValue::Text(name.into()))
            .unwrap();
        let Some(Geometry::MultiPolygon(m)) = &f.geometry else {
            panic!("{:?}", f.geometry)
        };
        let area = m.unsigned_area();
        match f.attributes["code"] {
            AttrValue::Int(110105001) => assert_eq!(area, 10_000.0),
            AttrValue::Int(110108002) => {
                assert_eq!(m.0[0].interiors().len(), 1);
                assert_eq!(area, 9_600.0);
            }
            AttrValue::Int(110102003) => assert_eq!(m.0.len(), 2),
            ref other => panic!("{other:?}"),
        }
    }
    let keys: Vec<_> = feats.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["rec:1", "rec:2", "rec:3"]);
    assert_eq!(all_ok(open_vector(&path, None).unwrap()).len(), 3);
}
