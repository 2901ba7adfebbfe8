//! The project store end to end: create/open, import transactions, queries, terrain, GDAL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cim_engine::{
    AttrValue, Attributes, CityCode, Classification, Crs, Date, EngineError, Feature, FeatureFilter,
    FeatureKind, FieldDef, FieldType, GeometryType, HeightSource, LayerSpec, Lod1, Project, Raster,
    StoredFeature, Validity, Written,
};
use geo::{line_string, polygon, Geometry};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const REGION: &str = "110105";

fn crs() -> Crs {
    Crs::from_epsg(4547).unwrap()
}

fn new_project(dir: &Path) -> (PathBuf, Project) {
    let path = dir.join("city.cim.gpkg");
    let p = Project::create(&path, &crs(), REGION).unwrap();
    (path, p)
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn square(x: f64, y: f64, size: f64) -> Geometry<f64> {
    polygon![(x: x, y: y), (x: x + size, y: y), (x: x + size, y: y + size), (x: x, y: y + size), (x: x, y: y)]
        .into()
}

fn fields() -> Vec<FieldDef> {
    [
        ("name", FieldType::Text),
        ("floors", FieldType::Int),
        ("area", FieldType::Real),
        ("listed", FieldType::Bool),
        ("built", FieldType::Date),
    ]
    .into_iter()
    .map(|(n, t)| FieldDef {
        name: n.into(),
        field_type: t,
    })
    .collect()
}

fn spec(name: &str, kind: FeatureKind, geometry_type: GeometryType) -> LayerSpec {
    LayerSpec {
        name: name.into(),
        kind,
        classification: Classification::Public,
        geometry_type,
        fields: fields(),
        source: format!("test:{name}"),
    }
}

fn feature(layer: &str, kind: FeatureKind, key: &str, geometry: Geometry<f64>) -> Feature {
    Feature {
        code: CityCode::derive(REGION, kind, layer, key),
        kind,
        geometry,
        lod1: None,
        attributes: Attributes::new(),
        validity: Validity::default(),
        classification: Classification::Public,
        source_key: key.into(),
    }
}

fn rich_building(i: usize) -> Feature {
    let mut f = feature(
        "buildings",
        FeatureKind::Building,
        &format!("fid:{i}"),
        square(500_000.0 + i as f64 * 20.0, 4_400_000.0, 10.0),
    );
    f.lod1 = Some(Lod1 {
        base_m: 42.5,
        height_m: 3.0 * (i + 1) as f64,
        height_source: HeightSource::Floors {
            name: "floors".into(),
            storey_m: 3.0,
        },
    });
    f.attributes
        .insert("name".into(), AttrValue::Text(format!("楼 {i} \"quoted\"")));
    f.attributes.insert("floors".into(), AttrValue::Int(i as i64 + 1));
    f.attributes
        .insert("area".into(), AttrValue::Real(100.25 + i as f64));
    f.attributes
        .insert("listed".into(), AttrValue::Bool(i.is_multiple_of(2)));
    f.attributes
        .insert("built".into(), AttrValue::Date(d("1987-03-04")));
    f.validity = Validity {
        from: Some(d("1990-01-01")),
        to: i.is_multiple_of(3).then(|| d("2030-12-31")),
    };
    f.classification = if i.is_multiple_of(4) {
        Classification::Restricted
    } else {
        Classification::Public
    };
    f
}

/// Everything a query can see: layer → (fid, feature) sorted, plus terrain names.
fn snapshot(p: &Project) -> (Vec<(String, u64)>, Vec<StoredFeature>, Vec<String>) {
    let layers = p
        .layers()
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.feature_count))
        .collect();
    let features = p.features(&FeatureFilter::default()).unwrap();
    let terrains = p.terrains().unwrap().into_iter().map(|t| t.name).collect();
    (layers, features, terrains)
}

#[test]
fn create_open_round_trips_every_kind_of_value() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    assert_eq!(p.srs_id(), 4547);
    let written: Vec<Feature> = (0..10).map(rich_building).collect();
    let mut road = feature(
        "roads",
        FeatureKind::Road,
        "osm:way/1",
        line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)].into(),
    );
    road.attributes
        .insert("name".into(), AttrValue::Text("长安街".into()));
    {
        let mut tx = p.import().unwrap();
        let mut b = spec("buildings", FeatureKind::Building, GeometryType::Polygon);
        b.classification = Classification::Internal;
        tx.ensure_layer(&b).unwrap();
        tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
            .unwrap();
        for f in &written {
            assert_eq!(tx.write("buildings", f).unwrap(), Written::Inserted);
        }
        tx.write("roads", &road).unwrap();
        let stats = tx.commit().unwrap();
        assert_eq!((stats.inserted, stats.replaced), (11, 0));
    }
    drop(p);
    let p = Project::open(&path).unwrap();
    p.integrity_check().unwrap();
    assert_eq!(p.crs(), &crs());
    assert_eq!(p.region_code(), REGION);
    let layers = p.layers().unwrap();
    assert_eq!(
        layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["buildings", "roads"]
    );
    let b = &layers[0];
    assert_eq!(
        (b.kind, b.classification, b.geometry_type, b.feature_count),
        (
            FeatureKind::Building,
            Classification::Internal,
            GeometryType::Polygon,
            10
        )
    );
    assert_eq!(b.fields, fields());
    assert_eq!(
        b.extent,
        Some([500_000.0, 4_400_000.0, 500_000.0 + 9.0 * 20.0 + 10.0, 4_400_010.0])
    );
    assert_eq!(b.source, "test:buildings");
    for (i, want) in written.iter().enumerate() {
        let got = p.feature(&want.code).unwrap().unwrap();
        assert_eq!(got.layer, "buildings");
        assert_eq!(got.fid, i as i64 + 1);
        let mut want = want.clone();
        // A feature is never less classified than its layer.
        want.classification = want.classification.max(Classification::Internal);
        assert_eq!(got.feature, want);
    }
    let r = p.feature(&road.code).unwrap().unwrap();
    assert_eq!(r.feature, road, "absent attributes stay absent");
    assert!(p
        .feature(&CityCode::derive(REGION, FeatureKind::Road, "roads", "nope"))
        .unwrap()
        .is_none());
    assert!(matches!(p.layer("nope"), Err(EngineError::LayerNotFound { .. })));
}

#[test]
fn attribute_conditions_filter_features_by_their_fields() {
    use cim_engine::parse_conditions;
    let dir = tempfile::tempdir().unwrap();
    let (_, mut p) = new_project(dir.path());
    let mut road = feature(
        "roads",
        FeatureKind::Road,
        "r1",
        line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)].into(),
    );
    road.attributes
        .insert("name".into(), AttrValue::Text("长安街".into()));
    {
        let mut tx = p.import().unwrap();
        tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
            .unwrap();
        let mut roads = spec("roads", FeatureKind::Road, GeometryType::LineString);
        roads.fields.retain(|f| f.name == "name");
        tx.ensure_layer(&roads).unwrap();
        for i in 0..10 {
            tx.write("buildings", &rich_building(i)).unwrap();
        }
        tx.write("roads", &road).unwrap();
        tx.commit().unwrap();
    }
    let count = |w: &str| {
        p.features(&FeatureFilter {
            conditions: parse_conditions(w).unwrap(),
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    // floors = i + 1; listed for even i; names "楼 i …"; every building built 1987-03-04.
    assert_eq!(count("floors >= 8"), 3);
    assert_eq!(count("floors > 2 AND listed = true"), 4);
    assert_eq!(count("area < 103"), 3);
    assert_eq!(count("name LIKE '楼 1%'"), 1);
    assert_eq!(count("name = '长安街'"), 1);
    assert_eq!(count("built = '1987-03-04'"), 10);
    assert_eq!(count("cim_kind = 'road'"), 1);
    // The roads layer has no "floors": none of its features meet a condition on it.
    assert_eq!(count("floors IS NULL"), 0);
    assert_eq!(count("floors IS NOT NULL"), 10);
    assert_eq!(count("nothing = 1"), 0);
    // Text that looks like SQL stays a value.
    assert_eq!(count("name = 'x'' OR 1=1 --'"), 0);
}

#[test]
fn upsert_replaces_in_place_and_keeps_the_fid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    for i in 0..5 {
        tx.write("buildings", &rich_building(i)).unwrap();
    }
    tx.commit().unwrap();

    let mut changed = rich_building(2);
    changed.geometry = square(0.0, 0.0, 1.0);
    changed.attributes.insert("floors".into(), AttrValue::Int(99));
    changed.attributes.remove("name");
    let mut tx = p.import().unwrap();
    assert_eq!(tx.write("buildings", &changed).unwrap(), Written::Replaced);
    assert_eq!(
        tx.write("buildings", &rich_building(7)).unwrap(),
        Written::Inserted
    );
    let stats = tx.commit().unwrap();
    assert_eq!((stats.inserted, stats.replaced), (1, 1));

    assert_eq!(p.count(&FeatureFilter::default()).unwrap(), 6);
    let got = p.feature(&changed.code).unwrap().unwrap();
    assert_eq!(got.fid, 3);
    assert_eq!(got.feature, changed);
    // The R-tree follows the new geometry.
    let near_origin = FeatureFilter {
        bbox: Some([-1.0, -1.0, 2.0, 2.0]),
        ..Default::default()
    };
    assert_eq!(
        p.features(&near_origin)
            .unwrap()
            .iter()
            .map(|f| f.fid)
            .collect::<Vec<_>>(),
        [3]
    );
    let old_place = FeatureFilter {
        bbox: Some([500_040.0, 4_400_000.0, 500_050.0, 4_400_010.0]),
        ..Default::default()
    };
    assert_eq!(p.count(&old_place).unwrap(), 0);
    p.integrity_check().unwrap();
}

#[test]
fn a_code_in_another_layer_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("a", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    tx.ensure_layer(&spec("b", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    let f = feature("a", FeatureKind::Building, "k1", square(0.0, 0.0, 1.0));
    tx.write("a", &f).unwrap();
    let e = tx.write("b", &f).unwrap_err();
    assert!(
        matches!(&e, EngineError::DuplicateCode { layer, existing_layer, .. } if layer == "b" && existing_layer == "a"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("'a'") && msg.contains("'b'") && msg.contains(f.code.as_str()),
        "{msg}"
    );
    let e = tx.write("missing", &f).unwrap_err();
    assert!(matches!(e, EngineError::LayerNotFound { .. }));
    tx.commit().unwrap();
    assert_eq!(p.count(&FeatureFilter::default()).unwrap(), 1);
}

#[test]
fn ensure_layer_checks_kind_adds_fields_and_widens() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    let mut s = spec("parcels", FeatureKind::Parcel, GeometryType::Polygon);
    s.fields = vec![
        FieldDef {
            name: "fid".into(),
            field_type: FieldType::Int,
        },
        FieldDef {
            name: "cim_code".into(),
            field_type: FieldType::Text,
        },
        FieldDef {
            name: "Name".into(),
            field_type: FieldType::Text,
        },
        FieldDef {
            name: "NAME".into(),
            field_type: FieldType::Text,
        },
    ];
    tx.ensure_layer(&s).unwrap();
    let mut f = feature("parcels", FeatureKind::Parcel, "1", square(0.0, 0.0, 5.0));
    for (k, v) in [
        ("fid", AttrValue::Int(7)),
        ("cim_code", AttrValue::Text("X".into())),
        ("Name", AttrValue::Text("a".into())),
        ("NAME", AttrValue::Text("b".into())),
    ] {
        f.attributes.insert(k.into(), v);
    }
    tx.write("parcels", &f).unwrap();
    tx.commit().unwrap();

    let mut tx = p.import().unwrap();
    let wrong = spec("parcels", FeatureKind::Building, GeometryType::Polygon);
    let e = tx.ensure_layer(&wrong).unwrap_err();
    assert!(e.to_string().contains("parcel"), "{e}");
    s.fields.push(FieldDef {
        name: "zone".into(),
        field_type: FieldType::Text,
    });
    s.geometry_type = GeometryType::MultiPolygon;
    tx.ensure_layer(&s).unwrap();
    let mut g = feature(
        "parcels",
        FeatureKind::Parcel,
        "2",
        geo::MultiPolygon(vec![]).into(),
    );
    g.attributes.insert("zone".into(), AttrValue::Text("R2".into()));
    tx.write("parcels", &g).unwrap();
    let mut bad = feature("parcels", FeatureKind::Parcel, "3", square(0.0, 0.0, 1.0));
    bad.attributes.insert("unknown".into(), AttrValue::Int(1));
    assert!(tx
        .write("parcels", &bad)
        .unwrap_err()
        .to_string()
        .contains("unknown"));
    tx.commit().unwrap();
    drop(p);

    let p = Project::open(&path).unwrap();
    let l = p.layer("parcels").unwrap();
    assert_eq!(l.geometry_type, GeometryType::Geometry);
    assert_eq!(
        l.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["fid", "cim_code", "Name", "NAME", "zone"]
    );
    assert_eq!(p.feature(&f.code).unwrap().unwrap().feature, f);
    let got_g = p.feature(&g.code).unwrap().unwrap().feature;
    assert_eq!(got_g.attributes, g.attributes);
    // An empty geometry reads back as an empty collection.
    assert_eq!(
        got_g.geometry,
        Geometry::GeometryCollection(geo::GeometryCollection(vec![]))
    );
    p.integrity_check().unwrap();
}

#[test]
fn a_dropped_or_failed_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    for i in 0..20 {
        tx.write("buildings", &rich_building(i)).unwrap();
    }
    tx.put_terrain("dem", &Raster::empty(3, 3, 0.0, 3.0, 1.0, 1.0), "x")
        .unwrap();
    tx.commit().unwrap();
    let before = snapshot(&p);
    let bytes_before = std::fs::metadata(&path).unwrap().len();

    {
        let mut tx = p.import().unwrap();
        tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
            .unwrap();
        let mut more = spec("buildings", FeatureKind::Building, GeometryType::MultiPolygon);
        more.fields.push(FieldDef {
            name: "extra".into(),
            field_type: FieldType::Int,
        });
        tx.ensure_layer(&more).unwrap();
        for i in 10..500 {
            tx.write("buildings", &rich_building(i)).unwrap();
        }
        tx.put_terrain("dem", &Raster::empty(600, 600, 0.0, 3.0, 1.0, 1.0), "y")
            .unwrap();
        tx.put_terrain("dem2", &Raster::empty(2, 2, 0.0, 3.0, 1.0, 1.0), "y")
            .unwrap();
        // dropped here without commit
    }
    assert_eq!(snapshot(&p), before);
    let mut tx = p.import().unwrap();
    tx.write("buildings", &rich_building(600)).unwrap();
    let e = tx.write("roads", &rich_building(601));
    assert!(e.is_err());
    drop(tx);
    drop(p);
    let p = Project::open(&path).unwrap();
    assert_eq!(snapshot(&p), before);
    assert_eq!(p.layer("buildings").unwrap().geometry_type, GeometryType::Polygon);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), bytes_before);
    p.integrity_check().unwrap();
}

/// Run as a child process by `a_killed_import_changes_nothing`: imports until killed.
#[test]
#[ignore = "helper: run by a_killed_import_changes_nothing"]
fn child_imports_until_killed() {
    let Ok(path) = std::env::var("CIM_STORE_KILL_TEST") else {
        return;
    };
    let mut p = Project::open(Path::new(&path)).unwrap();
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
        .unwrap();
    tx.put_terrain("dem", &Raster::empty(300, 300, 0.0, 3.0, 1.0, 1.0), "y")
        .unwrap();
    let ready = PathBuf::from(format!("{path}.ready"));
    for i in 0usize.. {
        tx.write("buildings", &rich_building(i + 1000)).unwrap();
        if i == 20_000 {
            std::fs::write(&ready, b"1").unwrap();
        }
    }
}

#[test]
fn a_killed_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    for i in 0..50 {
        tx.write("buildings", &rich_building(i)).unwrap();
    }
    tx.put_terrain("dem", &Raster::empty(3, 3, 0.0, 3.0, 1.0, 1.0), "x")
        .unwrap();
    tx.commit().unwrap();
    let before = snapshot(&p);
    drop(p);

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_imports_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("CIM_STORE_KILL_TEST", &path)
        .spawn()
        .unwrap();
    let ready = PathBuf::from(format!("{}.ready", path.display()));
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(start.elapsed().as_secs() < 120, "child never got going");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let p = Project::open(&path).unwrap();
    assert_eq!(snapshot(&p), before);
    p.integrity_check().unwrap();
}

fn random_feature(rng: &mut ChaCha8Rng, layer: &str, kind: FeatureKind, i: usize) -> Feature {
    let (x, y, s) = (
        rng.random_range(0.0..1000.0),
        rng.random_range(0.0..1000.0),
        rng.random_range(0.5..30.0),
    );
    let mut f = feature(layer, kind, &format!("k{i}"), square(x, y, s));
    if rng.random_bool(0.1) {
        f.geometry = geo::Point::new(x, y).into();
    }
    let year = |rng: &mut ChaCha8Rng| {
        Date::from_ymd(rng.random_range(1990..2030), rng.random_range(1..=12), 1).unwrap()
    };
    f.validity = Validity {
        from: rng.random_bool(0.6).then(|| year(rng)),
        to: rng.random_bool(0.4).then(|| year(rng)),
    };
    f.classification = [
        Classification::Public,
        Classification::Internal,
        Classification::Restricted,
    ][rng.random_range(0..3)];
    if rng.random_bool(0.2) {
        f.kind = FeatureKind::Other;
    }
    f
}

fn envelope(g: &Geometry<f64>) -> [f64; 4] {
    cim_engine::gpkg::geometry_envelope(g).unwrap()
}

#[test]
fn filters_agree_with_a_brute_force_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut p) = new_project(dir.path());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let layers = [
        ("b", FeatureKind::Building, Classification::Public),
        ("p", FeatureKind::Parcel, Classification::Internal),
        ("w", FeatureKind::Water, Classification::Public),
    ];
    let mut all: BTreeMap<(String, i64), Feature> = BTreeMap::new();
    let mut tx = p.import().unwrap();
    for (name, kind, class) in layers {
        let mut s = spec(name, kind, GeometryType::Geometry);
        s.classification = class;
        tx.ensure_layer(&s).unwrap();
        // "b" is big enough for the bulk R-tree build, the others go row by row.
        for i in 0..if name == "b" { 3000 } else { 700 } {
            let mut f = random_feature(&mut rng, name, kind, i);
            tx.write(name, &f).unwrap();
            f.classification = f.classification.max(class);
            all.insert((name.to_string(), i as i64 + 1), f);
        }
    }
    tx.commit().unwrap();
    p.integrity_check().unwrap();
    for round in 0..200 {
        let bx = rng.random_range(-50.0..1000.0);
        let by = rng.random_range(-50.0..1000.0);
        let filter = FeatureFilter {
            layers: rng
                .random_bool(0.3)
                .then(|| vec!["p".to_string(), "b".to_string()]),
            bbox: rng.random_bool(0.6).then(|| {
                [
                    bx,
                    by,
                    bx + rng.random_range(0.0..300.0),
                    by + rng.random_range(0.0..300.0),
                ]
            }),
            as_of: rng
                .random_bool(0.5)
                .then(|| Date::from_ymd(rng.random_range(1985..2035), 6, 15).unwrap()),
            max_classification: rng.random_bool(0.5).then(|| {
                [
                    Classification::Public,
                    Classification::Internal,
                    Classification::Restricted,
                ][rng.random_range(0..3)]
            }),
            kinds: rng
                .random_bool(0.3)
                .then(|| vec![FeatureKind::Other, FeatureKind::Water]),
            limit: rng.random_bool(0.2).then(|| rng.random_range(0..50)),
            conditions: Vec::new(),
        };
        let want: Vec<(String, i64)> = all
            .iter()
            .filter(|((layer, _), f)| {
                filter.layers.as_ref().is_none_or(|ls| ls.contains(layer))
                    && filter.bbox.is_none_or(|[a, b, c, d]| {
                        let e = envelope(&f.geometry);
                        e[0] <= c && e[2] >= a && e[1] <= d && e[3] >= b
                    })
                    && filter.as_of.is_none_or(|t| f.validity.contains(t))
                    && filter.max_classification.is_none_or(|m| f.classification <= m)
                    && filter.kinds.as_ref().is_none_or(|k| k.contains(&f.kind))
            })
            .map(|(k, _)| k.clone())
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect();
        let got = p.features(&filter).unwrap();
        let got_keys: Vec<(String, i64)> = got.iter().map(|s| (s.layer.clone(), s.fid)).collect();
        assert_eq!(got_keys, want, "round {round}: {filter:?}");
        for s in &got {
            assert_eq!(&s.feature, &all[&(s.layer.clone(), s.fid)]);
        }
        assert_eq!(
            p.count(&filter).unwrap(),
            want.len() as u64,
            "count, round {round}"
        );
    }
    let e = p
        .features(&FeatureFilter {
            layers: Some(vec!["zz".into()]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(e, EngineError::LayerNotFound { .. }));
}

#[test]
fn terrain_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (w, h) = (300, 517);
    let mut r = Raster::empty(w, h, 500_000.0, 4_401_000.0, 0.5, 2.0);
    for (i, v) in r.data.iter_mut().enumerate() {
        *v = match i % 7 {
            0 => f32::NAN,
            1 => f32::from_bits(0x7fc0_1234), // a NaN with a payload
            _ => rng.random_range(-20.0f32..900.0),
        };
    }
    let mut tx = p.import().unwrap();
    tx.put_terrain("dem", &Raster::empty(2, 2, 0.0, 0.0, 1.0, 1.0), "old")
        .unwrap();
    tx.put_terrain("dem", &r, "survey.tif").unwrap();
    tx.put_terrain(
        "a-small",
        &Raster {
            width: 1,
            height: 1,
            origin_x: 0.0,
            origin_y: 1.0,
            cell_w: 1.0,
            cell_h: 1.0,
            data: vec![5.0],
        },
        "x",
    )
    .unwrap();
    assert!(tx
        .put_terrain(
            "bad",
            &Raster {
                width: 2,
                height: 2,
                origin_x: 0.0,
                origin_y: 0.0,
                cell_w: 1.0,
                cell_h: 1.0,
                data: vec![1.0]
            },
            "x"
        )
        .is_err());
    tx.commit().unwrap();
    drop(p);
    let p = Project::open(&path).unwrap();
    let got = p.terrain("dem").unwrap();
    assert_eq!(
        (
            got.width,
            got.height,
            got.origin_x,
            got.origin_y,
            got.cell_w,
            got.cell_h
        ),
        (w, h, r.origin_x, r.origin_y, r.cell_w, r.cell_h)
    );
    // Every value exactly; no data stays no data (NaN payloads are not kept: the cells are a
    // GeoPackage coverage now, whose no-data is one value).
    for (a, b) in got.data.iter().zip(&r.data) {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{a} vs {b}"
        );
    }
    // GDAL opens the terrain as a raster in the project.
    if std::process::Command::new("gdalinfo")
        .arg("--version")
        .output()
        .is_ok()
    {
        let o = std::process::Command::new("gdalinfo")
            .arg(format!("GPKG:{}:cim_terrain_dem", path.display()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("Size is 300, 517") && text.contains("Float32"),
            "{text}"
        );
    }
    let infos = p.terrains().unwrap();
    assert_eq!(
        infos.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a-small", "dem"]
    );
    let t = &infos[1];
    let (lo, hi) = r.min_max().unwrap();
    assert_eq!(
        (t.min_m, t.max_m, t.valid_cells, t.source.as_str()),
        (Some(lo), Some(hi), r.valid_count() as u64, "survey.tif")
    );
    assert_eq!(t.extent, r.extent());
    assert!(matches!(p.terrain("nope"), Err(EngineError::Terrain { .. })));
}

fn assert_not_a_project(path: &Path) {
    match Project::open(path) {
        Err(e @ EngineError::NotAProject { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}")
        }
        other => panic!("{}: expected NotAProject, got {other:?}", path.display()),
    }
}

#[test]
fn foreign_files_are_not_projects() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.cim.gpkg");
    std::fs::write(&garbage, vec![0x5a; 10_000]).unwrap();
    assert_not_a_project(&garbage);
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        vec![0x5a; 10_000],
        "left untouched"
    );

    let plain = dir.path().join("plain.sqlite");
    rusqlite::Connection::open(&plain)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert_not_a_project(&plain);

    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/vector/bubenec.gpkg");
    if fixture.exists() {
        let copy = dir.path().join("bubenec.gpkg");
        std::fs::copy(&fixture, &copy).unwrap();
        assert_not_a_project(&copy);
    }

    let (path, p) = new_project(dir.path());
    drop(p);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE cim_project SET value = '99' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    assert_not_a_project(&path);
    assert!(matches!(
        Project::open(&dir.path().join("missing.cim.gpkg")),
        Err(EngineError::Io { .. })
    ));
}

#[test]
fn create_never_clobbers_and_cleans_up_after_itself() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("taken.cim.gpkg");
    std::fs::write(&existing, b"precious").unwrap();
    let e = Project::create(&existing, &crs(), REGION).unwrap_err();
    assert!(matches!(e, EngineError::ProjectExists { .. }), "{e}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");

    let geographic = Crs::from_epsg(4490).unwrap();
    let e = Project::create(&dir.path().join("geo.cim.gpkg"), &geographic, REGION).unwrap_err();
    assert!(matches!(e, EngineError::NotProjected { .. }), "{e}");
    let e = Project::create(&dir.path().join("x.cim.gpkg"), &crs(), "bad region!").unwrap_err();
    assert!(matches!(e, EngineError::InvalidCityCode { .. }), "{e}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("taken.cim.gpkg")]);

    let (path, p) = new_project(dir.path());
    drop(p);
    assert!(matches!(
        Project::create(&path, &crs(), REGION),
        Err(EngineError::ProjectExists { .. })
    ));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["city.cim.gpkg", "taken.cim.gpkg"]);
}

#[test]
fn gdal_reads_the_project() {
    let Ok(out) = std::process::Command::new("ogrinfo").arg("--version").output() else {
        eprintln!("note: ogrinfo not found; skipping the GDAL check (apt-get install gdal-bin)");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
        .unwrap();
    // Enough buildings for the bulk R-tree build.
    for i in 0..2500 {
        tx.write("buildings", &rich_building(i)).unwrap();
    }
    for i in 0..3 {
        let f = feature(
            "roads",
            FeatureKind::Road,
            &i.to_string(),
            line_string![(x: 500_000.0, y: 4_400_000.0 + i as f64), (x: 500_100.0, y: 4_400_050.0)].into(),
        );
        tx.write("roads", &f).unwrap();
    }
    tx.put_terrain("dem", &Raster::empty(5, 5, 500_000.0, 4_400_000.0, 1.0, 1.0), "x")
        .unwrap();
    tx.commit().unwrap();
    drop(p);

    let run = |args: &[&str]| {
        let out = std::process::Command::new("ogrinfo").args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ogrinfo {args:?}: {text}");
        text
    };
    let path_s = path.to_str().unwrap();
    let listing = run(&["-ro", "-q", path_s]);
    assert!(
        listing.contains("buildings (Polygon)") && listing.contains("roads (Line String)"),
        "{listing}"
    );
    // Only the project's key/value table shows; codes, layers and terrain stay internal.
    assert!(listing.contains("cim_project (None)"), "{listing}");
    assert_eq!(listing.matches("cim_").count(), 1, "{listing}");
    let summary = run(&["-ro", "-so", path_s, "buildings"]);
    assert!(summary.contains("Feature Count: 2500"), "{summary}");
    assert!(
        summary.contains("Extent: (500000.000000, 4400000.000000) - (549990.000000, 4400010.000000)"),
        "{summary}"
    );
    assert!(
        summary.contains("4547") || summary.contains("CGCS2000"),
        "{summary}"
    );
    assert!(
        summary.contains("floors: Integer64")
            && summary.contains("built: Date")
            && summary.contains("listed: Integer(Boolean)"),
        "{summary}"
    );
    assert!(!summary.to_lowercase().contains("warning"), "{summary}");
    let roads = run(&["-ro", "-so", path_s, "roads"]);
    assert!(roads.contains("Feature Count: 3"), "{roads}");
    // A spatial filter goes through the R-tree.
    let hits = run(&[
        "-ro",
        "-q",
        "-spat",
        "520005",
        "4400000",
        "520015",
        "4400005",
        path_s,
        "buildings",
    ]);
    assert_eq!(hits.matches("OGRFeature(buildings):").count(), 1, "{hits}");
    assert!(hits.contains("OGRFeature(buildings):1001"), "{hits}");
    let validate = run(&[
        "-ro",
        "-q",
        path_s,
        "-sql",
        "SELECT count(*) AS n FROM rtree_buildings_geom",
    ]);
    assert!(validate.contains("n (Integer) = 2500"), "{validate}");
}

#[test]
fn a_large_import_keeps_codes_unique_across_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let n = 6_000; // many rows: codes sorted and written to cim_codes at commit
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("a", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    tx.ensure_layer(&spec("b", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    let fs: Vec<Feature> = (0..n)
        .map(|i| {
            feature(
                "a",
                FeatureKind::Building,
                &i.to_string(),
                square(i as f64, 0.0, 1.0),
            )
        })
        .collect();
    for f in &fs {
        assert_eq!(tx.write("a", f).unwrap(), Written::Inserted);
    }
    let e = tx.write("b", &fs[17]).unwrap_err();
    assert!(matches!(e, EngineError::DuplicateCode { .. }), "{e}");
    let mut moved = fs[5_999].clone();
    moved.geometry = square(-100.0, -100.0, 1.0);
    assert_eq!(tx.write("a", &moved).unwrap(), Written::Replaced);
    let stats = tx.commit().unwrap();
    assert_eq!((stats.inserted, stats.replaced), (n as u64, 1));
    drop(p);

    let mut p = Project::open(&path).unwrap();
    p.integrity_check().unwrap();
    assert_eq!(p.count(&FeatureFilter::default()).unwrap(), n as u64);
    for (i, f) in fs.iter().enumerate().step_by(499) {
        assert_eq!(p.feature(&f.code).unwrap().unwrap().fid, i as i64 + 1);
    }
    let at = |b: [f64; 4]| {
        p.features(&FeatureFilter {
            bbox: Some(b),
            ..Default::default()
        })
        .unwrap()
    };
    assert_eq!(
        at([-101.0, -101.0, -99.5, -99.5])
            .iter()
            .map(|s| s.fid)
            .collect::<Vec<_>>(),
        [6_000]
    );
    let mut tx = p.import().unwrap();
    assert!(matches!(
        tx.write("b", &fs[3]).unwrap_err(),
        EngineError::DuplicateCode { .. }
    ));
    assert_eq!(tx.write("a", &fs[3]).unwrap(), Written::Replaced);
    tx.commit().unwrap();
    // Another tool cannot add a second row with a code; a row it adds with a new code is
    // registered in cim_codes, and one it deletes leaves it.
    drop(p);
    let conn = rusqlite::Connection::open(&path).unwrap();
    // What GDAL/QGIS provide to the GeoPackage R-tree triggers (rows here have no geometry).
    for f in ["ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"] {
        conn.create_scalar_function(f, 1, rusqlite::functions::FunctionFlags::SQLITE_UTF8, |_| Ok(0))
            .unwrap();
    }
    let insert = |code: &str| conn.execute("INSERT INTO a (geom, cim_code) VALUES (NULL, ?1)", [code]);
    let e = insert(fs[42].code.as_str()).unwrap_err();
    assert!(e.to_string().contains("UNIQUE"), "{e}");
    insert("000000-BU-QGISEDIT0001").unwrap();
    let fid: i64 = conn
        .query_row(
            "SELECT fid FROM cim_codes WHERE code = '000000-BU-QGISEDIT0001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fid, n as i64 + 1);
    conn.execute("DELETE FROM a WHERE fid = ?1", [fid]).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM cim_codes WHERE layer = 'a'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, n as i64);
}

#[test]
fn search_finds_features_by_code_and_attribute_value() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut p) = new_project(dir.path());
    let buildings: Vec<Feature> = (0..12).map(rich_building).collect();
    let mut road = feature(
        "roads",
        FeatureKind::Road,
        "osm:way/1",
        line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)].into(),
    );
    road.attributes
        .insert("name".into(), AttrValue::Text("长安街 50%_off\\".into()));
    {
        let mut tx = p.import().unwrap();
        tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
            .unwrap();
        tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
            .unwrap();
        for f in &buildings {
            tx.write("buildings", f).unwrap();
        }
        tx.write("roads", &road).unwrap();
        tx.commit().unwrap();
    }
    let codes = |found: Vec<StoredFeature>| -> Vec<String> {
        found.into_iter().map(|f| f.feature.code.to_string()).collect()
    };
    // Chinese text inside a value; the road only.
    assert_eq!(codes(p.search("长安", 10).unwrap()), vec![road.code.to_string()]);
    // Text in names: "楼 1 " is in building 1 and 10 and 11 ("楼 1…").
    let hits = p.search("楼 1", 10).unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|f| f.layer == "buildings"));
    // Numbers are searched as text: building 11 has an area of 111.25.
    let twelve = p.search("111.25", 10).unwrap();
    assert_eq!(twelve.len(), 1);
    assert_eq!(twelve[0].feature.code, buildings[11].code);
    // The limit holds across layers.
    assert_eq!(p.search("楼", 5).unwrap().len(), 5);
    // A whole code comes first, found also in lower case.
    let code = buildings[7].code.to_string();
    let hits = p.search(&code, 3).unwrap();
    assert_eq!(hits[0].feature.code, buildings[7].code);
    assert_eq!(
        p.search(&code.to_lowercase(), 3).unwrap()[0].feature.code,
        buildings[7].code
    );
    // LIKE's wildcards match only themselves.
    assert_eq!(
        codes(p.search("50%_off\\", 10).unwrap()),
        vec![road.code.to_string()]
    );
    assert!(p.search("%", 10).unwrap().len() == 1);
    assert!(p.search("_", 10).unwrap().len() == 1);
    // Nothing and blank.
    assert!(p.search("no such thing", 10).unwrap().is_empty());
    assert!(p.search("  ", 10).unwrap().is_empty());
}

#[test]
fn at_ground_finds_the_road_over_the_parcel_and_never_a_building() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut p) = new_project(dir.path());
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("parcels", FeatureKind::Parcel, GeometryType::Polygon))
        .unwrap();
    tx.ensure_layer(&spec("roads", FeatureKind::Road, GeometryType::LineString))
        .unwrap();
    tx.ensure_layer(&spec("buildings", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    // A large parcel with a small one inside it, a road across both, and a building.
    tx.write(
        "parcels",
        &feature("parcels", FeatureKind::Parcel, "big", square(0.0, 0.0, 100.0)),
    )
    .unwrap();
    tx.write(
        "parcels",
        &feature("parcels", FeatureKind::Parcel, "small", square(60.0, 60.0, 20.0)),
    )
    .unwrap();
    let road = Geometry::LineString(line_string![(x: 0.0, y: 50.0), (x: 100.0, y: 50.0)]);
    tx.write("roads", &feature("roads", FeatureKind::Road, "r", road))
        .unwrap();
    let mut b = feature("buildings", FeatureKind::Building, "b", square(10.0, 10.0, 20.0));
    b.lod1 = Some(Lod1 {
        base_m: 0.0,
        height_m: 12.0,
        height_source: HeightSource::Default,
    });
    tx.write("buildings", &b).unwrap();
    tx.commit().unwrap();
    let index = cim_engine::CityIndex::load(&p, &FeatureFilter::default()).unwrap();
    let at = |x: f64, y: f64| index.at_ground([x, y], 7.0, 3.0).map(|h| (h.kind, h.code));
    let code = |layer: &str, kind, key: &str| CityCode::derive(REGION, kind, layer, key);
    // Near the road's line: the road, though the parcel is under it too.
    assert_eq!(
        at(30.0, 52.5),
        Some((FeatureKind::Road, code("roads", FeatureKind::Road, "r")))
    );
    // Off the road: the smallest parcel holding the point.
    assert_eq!(
        at(70.0, 70.0),
        Some((FeatureKind::Parcel, code("parcels", FeatureKind::Parcel, "small")))
    );
    assert_eq!(
        at(40.0, 80.0),
        Some((FeatureKind::Parcel, code("parcels", FeatureKind::Parcel, "big")))
    );
    // Inside the building's footprint: the parcel under it (buildings are solids, picked by ray).
    assert_eq!(
        at(20.0, 20.0),
        Some((FeatureKind::Parcel, code("parcels", FeatureKind::Parcel, "big")))
    );
    assert_eq!(at(150.0, 20.0), None);
    let hit = index.at_ground([30.0, 52.5], 7.0, 3.0).unwrap();
    assert_eq!(
        (hit.point, hit.normal, hit.layer.as_str()),
        ([30.0, 52.5, 7.0], [0.0, 0.0, 1.0], "roads")
    );
}

#[test]
fn runs_keep_each_buildings_classes_over_time_and_older_tables_gain_the_column() {
    use cim_engine::{RunBuilding, RunRecord};
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let record = |name: &str| RunRecord {
        name: name.into(),
        model: "flood".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: 600.0,
        outputs: format!("{name}/"),
        summary: serde_json::json!({}),
    };
    let building = |code: &str, classes: &str| RunBuilding {
        code: code.into(),
        max_depth_m: 0.3,
        first_wet_s: Some(120.0),
        class: "0.15-0.5 m".into(),
        classes: classes.into(),
    };
    p.save_run(
        &record("a"),
        &[RunBuilding::table(&[
            building("b1", "0122"),
            building("b2", "0000"),
        ])],
        None,
    )
    .unwrap();
    let got = p.run_buildings("a").unwrap();
    assert_eq!(
        got.iter().map(|b| b.classes.as_str()).collect::<Vec<_>>(),
        vec!["0122", "0000"]
    );
    drop(p);
    // A project whose run table predates the timeline: read as none, given the column on save.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE cim_run_buildings;
         CREATE TABLE cim_run_buildings (fid INTEGER PRIMARY KEY, run TEXT NOT NULL, code TEXT NOT NULL,
           max_depth_m REAL NOT NULL, first_wet_s REAL, class TEXT NOT NULL, UNIQUE (run, code));
         INSERT INTO cim_run_buildings (run, code, max_depth_m, first_wet_s, class)
           VALUES ('a', 'b1', 0.3, 120.0, '0.15-0.5 m');",
    )
    .unwrap();
    drop(conn);
    let mut p = Project::open(&path).unwrap();
    let old = p.run_buildings("a").unwrap();
    assert_eq!(
        (old.len(), old[0].classes.as_str(), old[0].class.as_str()),
        (1, "", "0.15-0.5 m")
    );
    p.save_run(&record("b"), &[RunBuilding::table(&[building("b1", "3")])], None)
        .unwrap();
    assert_eq!(p.run_buildings("a").unwrap()[0].classes, "");
    assert_eq!(p.run_buildings("b").unwrap()[0].classes, "3");
}

#[test]
fn runs_keep_every_interval_a_road_was_closed_and_older_tables_gain_the_column() {
    use cim_engine::{RunRecord, RunRoad};
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let record = |name: &str| RunRecord {
        name: name.into(),
        model: "flood".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: 600.0,
        outputs: String::new(),
        summary: serde_json::json!({}),
    };
    let road = |code: &str, intervals: Vec<(f64, Option<f64>)>| RunRoad {
        code: code.into(),
        length_m: 80.0,
        max_depth_m: 0.4,
        closed_s: intervals.first().map(|i| i.0),
        reopened_s: intervals.last().and_then(|i| i.1),
        closed_for_s: intervals.iter().map(|(a, b)| b.unwrap_or(600.0) - a).sum(),
        closed_intervals: intervals,
    };
    let roads = [
        road("r1", vec![(120.0, Some(450.5)), (500.0, None)]),
        road("r2", vec![]),
        road("r3", vec![(10.0, Some(20.0))]),
    ];
    p.save_run(&record("a"), &[RunRoad::table(&roads)], None).unwrap();
    assert_eq!(p.run_roads("a").unwrap(), roads.to_vec());
    drop(p);
    // A project whose road table predates the intervals: read as none, given the column on save.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE cim_run_roads;
         CREATE TABLE cim_run_roads (fid INTEGER PRIMARY KEY, run TEXT NOT NULL, code TEXT NOT NULL,
           length_m REAL NOT NULL, max_depth_m REAL NOT NULL, closed_s REAL, reopened_s REAL,
           closed_for_s REAL NOT NULL, UNIQUE (run, code));
         INSERT INTO cim_run_roads (run, code, length_m, max_depth_m, closed_s, reopened_s, closed_for_s)
           VALUES ('a', 'r1', 80.0, 0.4, 120.0, NULL, 430.5);",
    )
    .unwrap();
    drop(conn);
    let mut p = Project::open(&path).unwrap();
    let old = p.run_roads("a").unwrap();
    assert_eq!(
        (old.len(), old[0].closed_s, old[0].closed_intervals.len()),
        (1, Some(120.0), 0)
    );
    p.save_run(&record("b"), &[RunRoad::table(&roads)], None).unwrap();
    assert_eq!(p.run_roads("b").unwrap(), roads.to_vec());
    assert!(p.run_roads("a").unwrap()[0].closed_intervals.is_empty());
}

/// A model's own result table: created as declared, keyed by run and its key columns, listed
/// with the run, widened when a later model adds a column, removed with the run; bad names and
/// rows that do not fit are refused before anything is written.
#[test]
fn models_declare_their_own_result_tables() {
    use cim_engine::{Cell, ColumnKind, ResultColumn, ResultTable, RunRecord};
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut p) = new_project(dir.path());
    let record = |name: &str| RunRecord {
        name: name.into(),
        model: "traffic".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: 600.0,
        outputs: String::new(),
        summary: serde_json::json!({}),
    };
    let flows = |extra: bool| {
        let mut cols = vec![
            ResultColumn::new("code", ColumnKind::Text),
            ResultColumn::new("direction", ColumnKind::Integer),
            ResultColumn::nullable("mean_speed_m_s", ColumnKind::Real),
        ];
        if extra {
            cols.push(ResultColumn::new("longest_queue", ColumnKind::Integer));
        }
        let mut t = ResultTable::new("cim_run_road_flows", cols, &["code", "direction"]);
        for (code, d, v) in [("r1", 0i64, Some(12.5)), ("r1", 1, None), ("r2", 0, Some(3.0))] {
            let mut row = vec![Cell::from(code), Cell::from(d), Cell::from(v)];
            if extra {
                row.push(Cell::from(4i64));
            }
            t.rows.push(row);
        }
        t
    };
    p.save_run(&record("a"), &[flows(false)], None).unwrap();
    assert_eq!(p.run_tables("a").unwrap(), ["cim_run_road_flows"]);
    let got = p.run_table("a", "cim_run_road_flows").unwrap().unwrap();
    assert_eq!(got.rows.len(), 3);
    assert_eq!(got.rows[1], [Cell::from("r1"), Cell::Integer(1), Cell::Null]);
    assert_eq!(
        got.values("mean_speed_m_s").filter_map(Cell::real).sum::<f64>(),
        15.5
    );
    // A later model adds a column: the older run's rows read its empty value.
    p.save_run(&record("b"), &[flows(true)], None).unwrap();
    let old = p.run_table("a", "cim_run_road_flows").unwrap().unwrap();
    assert_eq!(
        old.values("longest_queue").collect::<Vec<_>>(),
        [&Cell::Integer(0); 3]
    );
    // The same key twice in a run is refused, and nothing of that save is kept.
    let mut twice = flows(true);
    twice.rows.push(twice.rows[0].clone());
    let err = p.save_run(&record("c"), &[twice], None).unwrap_err().to_string();
    assert!(
        err.contains("run 'c'") && err.contains("cim_run_road_flows") && err.contains("row 3"),
        "{err}"
    );
    assert!(p.run("c").unwrap().is_none());
    for bad in ["runs_x", "cim_run_Trips", "cim_run_tables"] {
        let t = ResultTable::new(bad, vec![ResultColumn::new("code", ColumnKind::Text)], &[]);
        let err = p.save_run(&record("d"), &[t], None).unwrap_err().to_string();
        assert!(err.contains(bad), "{err}");
    }
    let mut short = flows(false);
    short.rows[2].pop();
    let err = p.save_run(&record("d"), &[short], None).unwrap_err().to_string();
    assert!(err.contains("row 2 has 2 values for 3 columns"), "{err}");
    // Saving a run again replaces its rows; removing it removes them.
    p.save_run(&record("a"), &[flows(false)], None).unwrap();
    assert_eq!(
        p.run_table("a", "cim_run_road_flows")
            .unwrap()
            .unwrap()
            .rows
            .len(),
        3
    );
    assert!(p.delete_run("a").unwrap());
    assert!(p
        .run_table("a", "cim_run_road_flows")
        .unwrap()
        .unwrap()
        .rows
        .is_empty());
    assert!(p.run_tables("a").unwrap().is_empty());
    assert_eq!(
        p.run_table("b", "cim_run_road_flows")
            .unwrap()
            .unwrap()
            .rows
            .len(),
        3
    );
    assert!(p.run_table("b", "cim_run_nothing").unwrap().is_none());
}

/// A raster stored as a GeoPackage 2D gridded coverage reads back cell for cell, and GDAL reads
/// the same values from the project file.
#[test]
fn rasters_are_stored_as_gridded_coverages_gdal_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    // 300 × 270 cells of 2 m (two tiles each way, the last ones partial), a hole of no data.
    let (w, h) = (300usize, 270usize);
    let mut r = cim_engine::Raster::empty(w, h, 500_000.0, 2_550_540.0, 2.0, 2.0);
    for row in 0..h {
        for col in 0..w {
            r.data[row * w + col] = if (100..110).contains(&row) && (50..60).contains(&col) {
                f32::NAN
            } else {
                10.0 + col as f32 * 0.25 - row as f32 * 0.125
            };
        }
    }
    p.put_coverage("max_depth", &r, "a test raster").unwrap();
    let back = p.coverage("max_depth").unwrap();
    assert_eq!((back.width, back.height), (w, h));
    assert_eq!(
        (back.origin_x, back.origin_y, back.cell_w),
        (500_000.0, 2_550_540.0, 2.0)
    );
    for (a, b) in r.data.iter().zip(&back.data) {
        assert!(a == b || (a.is_nan() && b.is_nan()), "{a} vs {b}");
    }
    // Stored again: replaced, not added.
    p.put_coverage("max_depth", &r, "again").unwrap();
    assert!(p.coverage("nope").is_err());
    // A coverage may not take a layer's name, and the layer is left as it was.
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("parcels", FeatureKind::Parcel, GeometryType::Polygon))
        .unwrap();
    tx.write(
        "parcels",
        &feature(
            "parcels",
            FeatureKind::Parcel,
            "a",
            square(500_000.0, 2_550_000.0, 10.0),
        ),
    )
    .unwrap();
    tx.commit().unwrap();
    let e = p.put_coverage("parcels", &r, "").unwrap_err().to_string();
    assert!(e.contains("exists"), "{e}");
    assert_eq!(p.layer("parcels").unwrap().feature_count, 1);
    drop(p);
    if std::process::Command::new("gdallocationinfo")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let value = |px: usize, py: usize| -> String {
        let o = std::process::Command::new("gdallocationinfo")
            .args([
                "-valonly",
                &format!("GPKG:{}:max_depth", path.display()),
                &px.to_string(),
                &py.to_string(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    for (px, py) in [(0, 0), (299, 269), (257, 3), (120, 260)] {
        let want = r.data[py * w + px];
        let got: f32 = value(px, py).parse().unwrap();
        assert_eq!(got, want, "cell ({px}, {py})");
    }
    let info = std::process::Command::new("gdalinfo")
        .arg(format!("GPKG:{}:max_depth", path.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("Size is 300, 270"), "{text}");
    assert!(text.contains("Float32"), "{text}");
}

#[test]
fn a_runs_rasters_go_into_the_project_with_its_records_and_leave_with_it() {
    use cim_engine::{RunRasterAt, RunRecord};
    let dir = tempfile::tempdir().unwrap();
    let (path, mut p) = new_project(dir.path());
    let record = |name: &str, outputs: &str| RunRecord {
        name: name.into(),
        model: "flood".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: 600.0,
        outputs: outputs.into(),
        summary: serde_json::json!({}),
    };
    let grid = |v: f32| {
        let mut r = cim_engine::Raster::empty(300, 20, 500_000.0, 2_550_540.0, 2.0, 2.0);
        r.data
            .iter_mut()
            .enumerate()
            .for_each(|(k, c)| *c = v + k as f32 * 1e-3);
        r.data[7] = f32::NAN;
        r
    };
    let spool_file = dir.path().join(".city.cim.gpkg.run-a.partial");

    // A spool killed before it was saved: the project never sees it.
    let mut spool = p.begin_run("a").unwrap();
    assert!(spool_file.is_file());
    spool.put("depth", Some(300.0), &grid(0.1), "m").unwrap();
    drop(spool);
    assert!(!spool_file.exists());
    assert!(p.run("a").unwrap().is_none());

    let mut spool = p.begin_run("a").unwrap();
    spool.put("depth", Some(600.0), &grid(0.2), "m").unwrap();
    spool.put("depth", Some(300.0), &grid(0.1), "m").unwrap();
    spool.put("speed", Some(300.0), &grid(1.0), "m/s").unwrap();
    spool.put("max_depth", None, &grid(0.3), "m").unwrap();
    assert_eq!(
        spool.tables(),
        vec![
            "cim_run_a_depth_t000600",
            "cim_run_a_depth_t000300",
            "cim_run_a_speed_t000300",
            "cim_run_a_max_depth"
        ]
    );
    p.save_run(&record("a", ""), &[], Some(spool)).unwrap();
    assert!(!spool_file.exists());
    let rasters = p.run_rasters("a").unwrap();
    let depth: Vec<f64> = rasters
        .iter()
        .filter(|r| r.quantity == "depth")
        .map(|r| r.time_s.unwrap())
        .collect();
    assert_eq!(depth, vec![300.0, 600.0]);
    let peak = rasters.iter().find(|r| r.quantity == "max_depth").unwrap();
    let RunRasterAt::Coverage(table) = &peak.at else {
        panic!("{peak:?}")
    };
    let back = p.run_coverage(table).unwrap();
    let want = grid(0.3);
    assert_eq!((back.width, back.height, back.origin_x), (300, 20, 500_000.0));
    for (a, b) in want.data.iter().zip(&back.data) {
        assert!(a == b || (a.is_nan() && b.is_nan()), "{a} vs {b}");
    }

    // Saved again with fewer rasters: the old ones go.
    let mut spool = p.begin_run("a").unwrap();
    spool.put("max_depth", None, &grid(0.5), "m").unwrap();
    p.save_run(&record("a", ""), &[], Some(spool)).unwrap();
    assert_eq!(p.run_rasters("a").unwrap().len(), 1);
    let tables = |p: &Project| -> i64 {
        let conn = rusqlite::Connection::open(p.path()).unwrap();
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'cim_run_a%'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(tables(&p), 1);

    // A derived map whose table would read the same as another run's is refused, by name.
    p.save_run(&record("a_max", ""), &[], None).unwrap();
    let e = p
        .put_run_raster("a_max", "depth", &grid(0.0), "m")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cim_run_a_max_depth") && e.contains("run 'a'"), "{e}");
    let t = p
        .put_run_raster("a", "max_depth_minus_b", &grid(0.0), "m")
        .unwrap();
    assert_eq!(t, "cim_run_a_max_depth_minus_b");
    assert_eq!(p.run_rasters("a").unwrap().len(), 2);

    // Removed with its run.
    assert!(p.delete_run("a").unwrap());
    assert_eq!(tables(&p), 0);
    assert!(p.run_rasters("a").is_err());

    // A run of an older cim lists its GeoTIFFs beside the project as they are.
    let folder = dir.path().join("city.cim.runs/old");
    std::fs::create_dir_all(&folder).unwrap();
    for f in ["depth_t000600.tif", "depth_t000300.tif", "max_depth.tif"] {
        std::fs::write(folder.join(f), b"").unwrap();
    }
    p.save_run(&record("old", "city.cim.runs/old"), &[], None)
        .unwrap();
    let old = p.run_rasters("old").unwrap();
    let shown: Vec<(String, Option<f64>)> = old.iter().map(|r| (r.quantity.clone(), r.time_s)).collect();
    assert_eq!(
        shown,
        vec![
            ("depth".into(), Some(300.0)),
            ("depth".into(), Some(600.0)),
            ("max_depth".into(), None)
        ]
    );
    assert_eq!(old[2].at, RunRasterAt::GeoTiff(folder.join("max_depth.tif")));
    assert!(p.delete_run("old").unwrap());
    assert!(!folder.exists());

    // A spool a killed process left (its lock gone) is removed by the next run.
    let stale = dir.path().join(".city.cim.gpkg.run-zombie.partial");
    std::fs::write(&stale, b"half").unwrap();
    let spool = p.begin_run("b").unwrap();
    assert!(!stale.exists());
    drop(spool);
    assert!(p.begin_run("a/b").is_err());
    drop(p);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "only the project and the old runs' (now empty) folder are left"
    );
    let _ = path;
}

#[test]
fn features_keep_their_3d_representations_beside_their_footprints() {
    use cim_engine::mesh::{GeometryKind, MeshBuilder, Representation, SurfaceClass};
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut p) = new_project(dir.path());
    // A 10 × 10 m building, LoD1 (a box) and LoD2 (a box with a gable roof).
    let (x, y) = (500_000.0, 2_550_000.0);
    let corner = |dx: f64, dy: f64, z: f64| [x + dx, y + dy, z];
    let mut lod1 = MeshBuilder::new([x, y, 0.0]);
    let ring = |z: f64| {
        vec![
            corner(0.0, 0.0, z),
            corner(10.0, 0.0, z),
            corner(10.0, 10.0, z),
            corner(0.0, 10.0, z),
        ]
    };
    lod1.add_polygon(&[ring(6.0)], SurfaceClass::Roof, None, None)
        .unwrap();
    let mut ground = ring(0.0);
    ground.reverse();
    lod1.add_polygon(&[ground], SurfaceClass::Ground, None, None)
        .unwrap();
    let lod1 = lod1.finish();
    let mut lod2 = MeshBuilder::new([x, y, 0.0]);
    lod2.add_polygon(
        &[vec![
            corner(0.0, 0.0, 4.0),
            corner(10.0, 0.0, 4.0),
            corner(10.0, 5.0, 8.0),
            corner(0.0, 5.0, 8.0),
        ]],
        SurfaceClass::Roof,
        None,
        None,
    )
    .unwrap();
    lod2.add_polygon(
        &[vec![
            corner(0.0, 0.0, 0.0),
            corner(10.0, 0.0, 0.0),
            corner(10.0, 0.0, 4.0),
            corner(0.0, 0.0, 4.0),
        ]],
        SurfaceClass::Wall,
        None,
        None,
    )
    .unwrap();
    let lod2 = lod2.finish();
    let reps = vec![
        Representation {
            lod: "1".into(),
            kind: GeometryKind::Solid,
            mesh: lod1.clone(),
            paints: vec![],
        },
        Representation {
            lod: "2.2".into(),
            kind: GeometryKind::MultiSurface,
            mesh: lod2.clone(),
            paints: vec![],
        },
    ];
    let f = feature("bldg", FeatureKind::Building, "b1", square(x, y, 10.0));
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec("bldg", FeatureKind::Building, GeometryType::Polygon))
        .unwrap();
    tx.write("bldg", &f).unwrap();
    tx.put_representations("bldg", &f.code, &reps).unwrap();
    tx.commit().unwrap();

    let back = p.representations(&f.code).unwrap();
    assert_eq!(back, reps);
    let summary = p.mesh_summary().unwrap();
    assert_eq!(summary.len(), 2);
    assert_eq!((summary[1].lod.as_str(), summary[1].triangles), ("2.2", 4));
    let mut seen = Vec::new();
    p.for_each_representation("bldg", Some("2.2"), |code, r| {
        seen.push((code.to_string(), r.mesh.triangle_count()));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![(f.code.to_string(), 4)]);
    // The footprint is still a feature like any other.
    assert_eq!(p.layer("bldg").unwrap().feature_count, 1);

    // Renamed with its layer, removed with it.
    p.rename_layer("bldg", "buildings").unwrap();
    assert_eq!(p.mesh_summary().unwrap()[0].layer, "buildings");
    p.remove_layer("buildings").unwrap();
    assert!(p.mesh_summary().unwrap().is_empty());
    assert!(p.representations(&f.code).unwrap().is_empty());
}
