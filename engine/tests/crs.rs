//! CRS reading (WKT1 / ESRI / WKT2, GeoPackage, GeoTIFF keys), WKT writing and transform
//! accuracy against control points.
//!
//! Expected coordinates were computed once with pyproj 3.7.2 (PROJ 9) using
//! `Transformer.from_crs(src, dst, always_xy=True)` and are recorded here as literals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cim_engine::crs::GeoKeys;
use cim_engine::{Crs, EngineError, Transform};
use std::path::Path;

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel)
}

fn epsg(code: u32) -> Crs {
    Crs::from_epsg(code).unwrap()
}

/// Asserts `t(src) == expected` within `tol` (same unit as the target).
#[track_caller]
fn check(t: &Transform, src: (f64, f64), expected: (f64, f64), tol: f64) {
    let (x, y) = t.apply(src.0, src.1).unwrap();
    let (dx, dy) = (x - expected.0, y - expected.1);
    assert!(
        dx.abs() <= tol && dy.abs() <= tol,
        "{src:?} -> ({x:.6}, {y:.6}), expected {expected:?}, off by ({dx:.2e}, {dy:.2e}), tolerance {tol}"
    );
}

/// Forward then inverse returns to the start within `tol_deg` degrees (1e-8° ≈ 1 mm).
#[track_caller]
fn round_trip(fwd: &Transform, inv: &Transform, p: (f64, f64), tol_deg: f64) {
    let q = fwd.apply(p.0, p.1).unwrap();
    let r = inv.apply(q.0, q.1).unwrap();
    assert!(
        (r.0 - p.0).abs() <= tol_deg && (r.1 - p.1).abs() <= tol_deg,
        "{p:?} -> {q:?} -> {r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// WKT reading
// ---------------------------------------------------------------------------------------

#[test]
fn esri_prj_of_the_farms_fixture_is_utm_33s() {
    let text = std::fs::read_to_string(fixture("vector/farms_33S.prj")).unwrap();
    let c = Crs::from_wkt(&text).unwrap();
    assert_eq!(c.epsg(), Some(32733));
    assert_eq!(c.display_name(), "WGS 84 / UTM zone 33S");
    assert!(c.is_projected_metres());
    // Same numbers as EPSG:32733 from PROJ.
    check(
        &Transform::new(&c, &epsg(4326)),
        (15.2, -22.5),
        (520_571.047_973, 7_511_814.616_146),
        1e-3,
    );
}

/// Removes every `AUTHORITY[...]` / `ID[...]` node so identification must use the parameters.
fn strip_ids(wkt: &str) -> String {
    let mut out = String::new();
    let mut rest = wkt;
    loop {
        // a keyword, not the tail of another (e.g. "ELLIPSOID[")
        let pos = ["AUTHORITY[", "ID["]
            .iter()
            .filter_map(|k| {
                rest.match_indices(k)
                    .map(|(i, _)| i)
                    .find(|&i| i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphabetic())
            })
            .min();
        let Some(i) = pos else {
            out.push_str(rest);
            return out.replace(",]", "]");
        };
        out.push_str(rest[..i].trim_end_matches(','));
        let mut depth = 0;
        let mut end = i;
        for (j, ch) in rest[i..].char_indices() {
            match ch {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
}

#[test]
fn geopackage_srs_rows_of_bubenec() {
    let db = rusqlite::Connection::open_with_flags(
        fixture("vector/bubenec.gpkg"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = db
        .prepare(
            "SELECT srs_id, organization, organization_coordsys_id, definition, definition_12_063 \
             FROM gpkg_spatial_ref_sys ORDER BY srs_id",
        )
        .unwrap();
    let rows: Vec<(i64, String, i64, String, Option<String>)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(rows.len() >= 6);
    let mut checked = 0;
    for (srs_id, org, org_id, def, def2) in rows {
        let got = Crs::from_gpkg_srs(&org, org_id, &def);
        match srs_id {
            -1 | 0 => {
                let e = got.unwrap_err();
                assert!(matches!(e, EngineError::UnknownCrs { .. }), "{e}");
                assert!(e.to_string().contains("undefined"), "{e}");
                assert!(e.to_string().contains("--src-crs"), "{e}");
            }
            3857 | 4326 | 5514 | 4979 => {
                let c = got.unwrap();
                assert_eq!(c.epsg(), Some(srs_id as u32));
                if srs_id == 4979 {
                    continue;
                }
                // The WKT1 and WKT2 texts alone, with and without their authority codes.
                assert_eq!(Crs::from_wkt(&def).unwrap().epsg(), Some(srs_id as u32));
                let bare = strip_ids(&def);
                assert!(!bare.contains("AUTHORITY"), "{bare}");
                assert_eq!(
                    Crs::from_wkt(&bare).unwrap().epsg(),
                    Some(srs_id as u32),
                    "{bare}"
                );
                let wkt2 = def2.unwrap();
                assert_eq!(Crs::from_wkt(&wkt2).unwrap().epsg(), Some(srs_id as u32));
                let bare2 = strip_ids(&wkt2);
                assert!(!bare2.contains(",ID["), "{bare2}");
                assert_eq!(
                    Crs::from_wkt(&bare2).unwrap().epsg(),
                    Some(srs_id as u32),
                    "{bare2}"
                );
                checked += 1;
            }
            100000 => {
                // LOCAL_CS["S-JTSK_Krovak_East_North"] as GDAL writes an unrecognised ESRI CRS.
                assert_eq!(got.unwrap().epsg(), Some(5514));
                checked += 1;
            }
            other => panic!("unexpected srs_id {other}"),
        }
    }
    assert_eq!(checked, 4);
}

const CGCS2000_GCS: &str = r#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

fn esri_gk(name: &str, gcs: &str, fe: f64, cm: f64) -> String {
    format!(
        r#"PROJCS["{name}",{gcs},PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",{fe:.1}],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",{cm:.1}],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
    )
}

#[test]
fn arcgis_cgcs2000_prj_texts() {
    let cases = [
        (
            esri_gk("CGCS2000_3_Degree_GK_CM_114E", CGCS2000_GCS, 500_000.0, 114.0),
            4547,
        ),
        (
            esri_gk("CGCS2000_3_Degree_GK_Zone_38", CGCS2000_GCS, 38_500_000.0, 114.0),
            4526,
        ),
        (
            esri_gk("CGCS2000_3_Degree_GK_CM_120E", CGCS2000_GCS, 500_000.0, 120.0),
            4549,
        ),
        (
            esri_gk("CGCS2000_GK_CM_117E", CGCS2000_GCS, 500_000.0, 117.0),
            4509,
        ),
        (
            esri_gk("CGCS2000_GK_Zone_20", CGCS2000_GCS, 20_500_000.0, 117.0),
            4498,
        ),
        (
            esri_gk(
                "Xian_1980_3_Degree_GK_CM_114E",
                r#"GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
                500_000.0,
                114.0,
            ),
            2383,
        ),
        (
            esri_gk(
                "Beijing_1954_3_Degree_GK_CM_114E",
                r#"GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
                500_000.0,
                114.0,
            ),
            2435,
        ),
        (CGCS2000_GCS.to_string(), 4490),
    ];
    for (text, code) in cases {
        let c = Crs::from_wkt(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.epsg(), Some(code), "{text}");
    }
    assert_eq!(
        epsg(4547).display_name(),
        "CGCS2000 / 3-degree Gauss-Kruger CM 114E"
    );
    // Only the name is known: parameters missing (a LOCAL_CS as some tools write it).
    let local = r#"LOCAL_CS["CGCS2000_3_Degree_GK_CM_114E",UNIT["Meter",1.0]]"#;
    assert_eq!(Crs::from_wkt(local).unwrap().epsg(), Some(4547));
}

#[test]
fn esri_names_and_parameters_for_web_mercator_utm_and_krovak() {
    let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
    let web = format!(
        r#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",{wgs},PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]"#
    );
    assert_eq!(Crs::from_wkt(&web).unwrap().epsg(), Some(3857));
    let utm50 = format!(
        r#"PROJCS["WGS_1984_UTM_Zone_50N",{wgs},PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
    );
    assert_eq!(Crs::from_wkt(&utm50).unwrap().epsg(), Some(32650));
    let krovak = r#"PROJCS["S-JTSK_Krovak_East_North",GEOGCS["GCS_S_JTSK",DATUM["D_S_JTSK",SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Krovak"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Pseudo_Standard_Parallel_1",78.5],PARAMETER["Scale_Factor",0.9999],PARAMETER["Azimuth",30.28813975277778],PARAMETER["Longitude_Of_Center",24.83333333333333],PARAMETER["Latitude_Of_Center",49.5],PARAMETER["X_Scale",-1.0],PARAMETER["Y_Scale",1.0],PARAMETER["XY_Plane_Rotation",90.0],UNIT["Meter",1.0]]"#;
    assert_eq!(Crs::from_wkt(krovak).unwrap().epsg(), Some(5514));
    // ESRI Krovak without the east-north axis flip: the Czech convention (positive westing,
    // southing), i.e. the 5514 values negated.
    let czech = krovak
        .replace("S-JTSK_Krovak_East_North", "S-JTSK_Krovak")
        .replace(
            r#"PARAMETER["X_Scale",-1.0],PARAMETER["Y_Scale",1.0],PARAMETER["XY_Plane_Rotation",90.0],"#,
            "",
        );
    let c = Crs::from_wkt(&czech).unwrap();
    assert_eq!(c.epsg(), None);
    assert!(c.proj4().contains("+czech"), "{}", c.proj4());
    check(
        &Transform::new(&c, &epsg(4326)),
        (14.4378, 50.0755),
        (741_817.819, 1_044_492.539),
        2e-3,
    );
}

#[test]
fn wkt2_without_id_is_identified_by_its_parameters() {
    let wkt2 = r#"PROJCRS["CGCS2000 / 3-degree Gauss-Kruger CM 114E",
        BASEGEOGCRS["China Geodetic Coordinate System 2000",
            DATUM["China 2000",ELLIPSOID["CGCS2000",6378137,298.257222101,LENGTHUNIT["metre",1]]],
            PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]]],
        CONVERSION["3-degree Gauss-Kruger CM 114E",
            METHOD["Transverse Mercator",ID["EPSG",9807]],
            PARAMETER["Latitude of natural origin",0,ANGLEUNIT["degree",0.0174532925199433]],
            PARAMETER["Longitude of natural origin",114,ANGLEUNIT["degree",0.0174532925199433]],
            PARAMETER["Scale factor at natural origin",1,SCALEUNIT["unity",1]],
            PARAMETER["False easting",500000,LENGTHUNIT["metre",1]],
            PARAMETER["False northing",0,LENGTHUNIT["metre",1]]],
        CS[Cartesian,2],
            AXIS["northing (X)",north,ORDER[1],LENGTHUNIT["metre",1]],
            AXIS["easting (Y)",east,ORDER[2],LENGTHUNIT["metre",1]]]"#;
    assert_eq!(Crs::from_wkt(wkt2).unwrap().epsg(), Some(4547));
    // An ID that contradicts the parameters (4548 is CM 117°E): the parameters win, as
    // photogrammetry metadata needs (its WKTs carry a standard zone's code on a local zone).
    let with_id = format!("{},ID[\"EPSG\",4548]]", &wkt2[..wkt2.len() - 1]);
    assert_eq!(Crs::from_wkt(&with_id).unwrap().epsg(), Some(4547));
    let agreeing = format!("{},ID[\"EPSG\",4547]]", &wkt2[..wkt2.len() - 1]);
    assert_eq!(Crs::from_wkt(&agreeing).unwrap().epsg(), Some(4547));
}

#[test]
fn wkt_without_authority_or_known_family_becomes_a_proj_string() {
    // A city grid: CGCS2000, CM 113.28E, shifted origin.
    let city = format!(
        r#"PROJCS["Guangzhou_City_Grid",{CGCS2000_GCS},PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",50000.0],PARAMETER["False_Northing",-2500000.0],PARAMETER["Central_Meridian",113.28],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
    );
    let c = Crs::from_wkt(&city).unwrap();
    assert_eq!(c.epsg(), None);
    assert_eq!(c.display_name(), "Guangzhou_City_Grid");
    assert!(
        c.proj4().contains("+lon_0=113.28 ") && c.proj4().contains("+ellps=GRS80"),
        "{}",
        c.proj4()
    );
    assert!(c.is_projected_metres());
    let t = Transform::new(&c, &epsg(4490));
    check(&t, (113.2644, 23.1291), (48_402.173_466, 58_834.832_200), 1e-3);
    round_trip(&t, &Transform::new(&epsg(4490), &c), (113.2644, 23.1291), 1e-9);

    let wgs = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#;
    let lcc = format!(
        r#"PROJCS["China LCC",{wgs},PROJECTION["Lambert_Conformal_Conic_2SP"],PARAMETER["standard_parallel_1",25],PARAMETER["standard_parallel_2",47],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",105],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]"#
    );
    let t = Transform::new(&Crs::from_wkt(&lcc).unwrap(), &epsg(4326));
    check(
        &t,
        (116.3975, 39.9087),
        (956_453.552_510, 4_654_673.563_524),
        1e-3,
    );
    check(
        &t,
        (113.2644, 23.1291),
        (850_995.529_664, 2_795_819.686_118),
        1e-3,
    );
    let aea = format!(
        r#"PROJCS["China Albers",{wgs},PROJECTION["Albers_Conic_Equal_Area"],PARAMETER["standard_parallel_1",25],PARAMETER["standard_parallel_2",47],PARAMETER["latitude_of_center",0],PARAMETER["longitude_of_center",105],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]"#
    );
    let t = Transform::new(&Crs::from_wkt(&aea).unwrap(), &epsg(4326));
    check(
        &t,
        (116.3975, 39.9087),
        (956_117.805_907, 4_344_491.938_303),
        1e-3,
    );
    check(
        &t,
        (113.2644, 23.1291),
        (850_508.636_024, 2_442_771.911_864),
        1e-3,
    );
    let merc = format!(
        r#"PROJCS["World Mercator",{wgs},PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]"#
    );
    let t = Transform::new(&Crs::from_wkt(&merc).unwrap(), &epsg(4326));
    check(
        &t,
        (116.3975, 39.9087),
        (12_957_310.429_610, 4_825_265.086_730),
        1e-3,
    );

    // Feet: readable, but not a valid project CRS.
    let feet = city.replace(r#"UNIT["Meter",1.0]]"#, r#"UNIT["Foot",0.3048]]"#);
    let f = Crs::from_wkt(&feet).unwrap();
    assert!(!f.is_projected_metres());
    let (x, _) = Transform::new(&f, &epsg(4490)).apply(113.2644, 23.1291).unwrap();
    assert!(
        (x - (48_402.173_466 - 50_000.0) / 0.3048 - 50_000.0).abs() < 1e-2,
        "{x}"
    );
}

#[test]
fn unknown_and_broken_crs_are_errors_that_suggest_src_crs() {
    for text in [
        r#"LOCAL_CS["My site grid",UNIT["metre",1]]"#,
        r#"PROJCS["x",GEOGCS["y",DATUM["z",SPHEROID["s",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Space_Oblique_Mercator"],UNIT["metre",1]]"#,
        r#"PROJCS["broken",GEOGCS["#,
        "not a crs",
    ] {
        let e = Crs::from_wkt(text).unwrap_err();
        let EngineError::UnknownCrs { reason, path, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(!reason.is_empty());
        assert!(path.is_none());
        assert!(e.to_string().contains("--src-crs"), "{e}");
    }
    let e = Crs::from_wkt(r#"LOCAL_CS["My site grid",UNIT["metre",1]]"#).unwrap_err();
    let EngineError::UnknownCrs { crs, .. } = &e else {
        panic!()
    };
    assert_eq!(crs, "My site grid");
    let e = Crs::from_wkt(r#"PROJCS["x",GEOGCS["y",DATUM["z",SPHEROID["s",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Space_Oblique_Mercator"],UNIT["metre",1]]"#).unwrap_err();
    assert!(e.to_string().contains("Space_Oblique_Mercator"), "{e}");
    // A caller fills in the file.
    let e = match Crs::parse("EPSG:999999").unwrap_err() {
        EngineError::UnknownCrs { crs, reason, .. } => EngineError::UnknownCrs {
            crs,
            reason,
            path: Some("roads.shp".into()),
        },
        e => panic!("{e}"),
    };
    assert!(e.to_string().contains("roads.shp"), "{e}");
}

#[test]
fn parse_accepts_codes_urns_and_wkt() {
    assert_eq!(Crs::parse("EPSG:4547").unwrap().epsg(), Some(4547));
    assert_eq!(Crs::parse("4490").unwrap().epsg(), Some(4490));
    assert_eq!(
        Crs::parse("urn:ogc:def:crs:EPSG::3857").unwrap().epsg(),
        Some(3857)
    );
    assert_eq!(
        Crs::parse("urn:ogc:def:crs:OGC:1.3:CRS84").unwrap().epsg(),
        Some(4326)
    );
    assert_eq!(
        Crs::parse("http://www.opengis.net/def/crs/EPSG/0/5514")
            .unwrap()
            .epsg(),
        Some(5514)
    );
    assert_eq!(Crs::parse(CGCS2000_GCS).unwrap().epsg(), Some(4490));
    let p = Crs::parse("+proj=utm +zone=50 +datum=WGS84 +units=m +no_defs").unwrap();
    assert!(p.is_projected_metres());
    assert!(Crs::parse("nonsense").is_err());
}

// ---------------------------------------------------------------------------------------
// GeoTIFF keys
// ---------------------------------------------------------------------------------------

#[test]
fn geokeys_with_codes_and_user_defined_projections() {
    let k = GeoKeys {
        model_type: Some(1),
        projected_cs: Some(4547),
        ..GeoKeys::default()
    };
    assert_eq!(Crs::from_geokeys(&k).unwrap().epsg(), Some(4547));
    let k = GeoKeys {
        model_type: Some(2),
        geographic_cs: Some(4490),
        ..GeoKeys::default()
    };
    assert_eq!(Crs::from_geokeys(&k).unwrap().epsg(), Some(4490));

    // User-defined TM on CGCS2000 that is really EPSG:4547.
    let tm = GeoKeys {
        model_type: Some(1),
        projected_cs: Some(32767),
        geographic_cs: Some(4490),
        coord_trans: Some(1),
        nat_origin_long: Some(114.0),
        nat_origin_lat: Some(0.0),
        scale_at_nat_origin: Some(1.0),
        false_easting: Some(500_000.0),
        false_northing: Some(0.0),
        linear_units: Some(9001),
        ..GeoKeys::default()
    };
    assert_eq!(Crs::from_geokeys(&tm).unwrap().epsg(), Some(4547));
    // The same with datum/ellipsoid keys instead of GeographicType.
    let tm2 = GeoKeys {
        geographic_cs: Some(32767),
        geodetic_datum: Some(1043),
        ellipsoid: Some(1024),
        ..tm.clone()
    };
    assert_eq!(Crs::from_geokeys(&tm2).unwrap().epsg(), Some(4547));
    // A city grid: not an EPSG CRS, same numbers as the WKT test.
    let city = GeoKeys {
        nat_origin_long: Some(113.28),
        false_easting: Some(50_000.0),
        false_northing: Some(-2_500_000.0),
        pcs_citation: Some("Guangzhou city grid".into()),
        ..tm.clone()
    };
    let c = Crs::from_geokeys(&city).unwrap();
    assert_eq!(c.epsg(), None);
    check(
        &Transform::new(&c, &epsg(4490)),
        (113.2644, 23.1291),
        (48_402.173_466, 58_834.832_200),
        1e-3,
    );
    // UTM through ProjectionGeoKey.
    let utm = GeoKeys {
        model_type: Some(1),
        projected_cs: Some(32767),
        geographic_cs: Some(4326),
        projection: Some(16033),
        ..GeoKeys::default()
    };
    assert_eq!(Crs::from_geokeys(&utm).unwrap().epsg(), Some(32633));
    // Only a citation with an ESRI PE string.
    let pe = GeoKeys {
        model_type: Some(1),
        projected_cs: Some(32767),
        citation: Some(format!(
            "ESRI PE String = {}",
            esri_gk("CGCS2000_3_Degree_GK_Zone_38", CGCS2000_GCS, 38_500_000.0, 114.0)
        )),
        ..GeoKeys::default()
    };
    assert_eq!(Crs::from_geokeys(&pe).unwrap().epsg(), Some(4526));
    // Nothing usable.
    let e = Crs::from_geokeys(&GeoKeys {
        model_type: Some(1),
        projected_cs: Some(32767),
        coord_trans: Some(3),
        geographic_cs: Some(4326),
        ..GeoKeys::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("ProjCoordTrans"), "{e}");
    assert!(Crs::from_geokeys(&GeoKeys::default()).is_err());
}

#[test]
fn geokeys_from_raw_tiff_tags() {
    // Directory as GDAL writes it for EPSG:4547 (PixelIsArea).
    let dir = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 4547];
    let k = GeoKeys::from_tiff_tags(&dir, &[], "").unwrap();
    assert_eq!(Crs::from_geokeys(&k).unwrap().epsg(), Some(4547));
}

// ---------------------------------------------------------------------------------------
// WKT writing
// ---------------------------------------------------------------------------------------

#[test]
fn to_wkt_round_trips_and_carries_the_epsg_authority() {
    for code in [
        4326, 4490, 3857, 32633, 32733, 4547, 4526, 4513, 4554, 5514, 2383, 2435,
    ] {
        let c = epsg(code);
        let w = c.to_wkt();
        assert!(
            w.trim_end()
                .ends_with(&format!("AUTHORITY[\"EPSG\",\"{code}\"]]")),
            "{w}"
        );
        assert_eq!(Crs::from_wkt(&w).unwrap().epsg(), Some(code));
        // Without the authority, the parameters still identify the code.
        if ![4513, 4554, 2435].contains(&code) {
            assert_eq!(Crs::from_wkt(&strip_ids(&w)).unwrap().epsg(), Some(code), "{w}");
        }
    }
    assert!(epsg(5514)
        .to_wkt()
        .contains("TOWGS84[570.8,85.7,462.8,4.998,1.587,5.261,3.56]"));

    // CRSs without a code: WKT1 that reads back to the same transform.
    let city = Crs::parse(
        "+proj=tmerc +lat_0=0 +lon_0=113.28 +k=1 +x_0=50000 +y_0=-2500000 +ellps=GRS80 +units=m +no_defs",
    )
    .unwrap();
    let lcc = Crs::parse(
        "+proj=lcc +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    )
    .unwrap();
    let aea = Crs::parse(
        "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    )
    .unwrap();
    let webm = Crs::parse("+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs").unwrap();
    let geo = epsg(4326);
    for c in [city, lcc, aea, webm] {
        let w = c.to_wkt();
        assert!(w.starts_with("PROJCS["), "{w}");
        let back = Crs::from_wkt(&w).unwrap_or_else(|e| panic!("{e}\n{w}"));
        let (a, b) = (Transform::new(&c, &geo), Transform::new(&back, &geo));
        for p in [(113.2644, 23.1291), (116.3975, 39.9087)] {
            let (pa, pb) = (a.apply(p.0, p.1).unwrap(), b.apply(p.0, p.1).unwrap());
            assert!((pa.0 - pb.0).abs() < 1e-6 && (pa.1 - pb.1).abs() < 1e-6, "{w}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Transform accuracy
// ---------------------------------------------------------------------------------------

#[test]
fn wgs84_to_utm_33n_and_web_mercator_within_a_millimetre() {
    let utm = Transform::new(&epsg(32633), &epsg(4326));
    check(
        &utm,
        (14.4378, 50.0755),
        (459_772.016_297, 5_547_176.551_333),
        1e-3,
    );
    check(&utm, (16.5, 48.2), (611_458.685_792, 5_339_617.543_069), 1e-3);
    check(&utm, (18.0, 45.0), (736_446.026_101, 4_987_329.504_699), 1e-3);
    check(&utm, (12.0, -10.0), (171_071.263_941, -1_106_908.854_243), 1e-3);
    let web = Transform::new(&epsg(3857), &epsg(4326));
    check(
        &web,
        (14.4378, 50.0755),
        (1_607_208.544_175, 6_459_361.392_292),
        1e-3,
    );
    check(
        &web,
        (116.391, 39.907),
        (12_956_586.852_920, 4_852_436.961_991),
        1e-3,
    );
    check(
        &web,
        (-73.9857, 40.7484),
        (-8_236_050.449_984, 4_975_301.253_790),
        1e-3,
    );
    let back = Transform::new(&epsg(4326), &epsg(32633));
    let back_web = Transform::new(&epsg(4326), &epsg(3857));
    for p in [(14.4378, 50.0755), (18.0, 45.0), (12.0, -10.0)] {
        round_trip(&utm, &back, p, 1e-8);
        round_trip(&web, &back_web, p, 1e-8);
    }
}

#[test]
fn cgcs2000_to_gauss_kruger_within_a_millimetre() {
    let g = epsg(4490);
    let cm114 = Transform::new(&epsg(4547), &g);
    // Guangzhou, Wuhan, Beijing (2.4° from the meridian).
    check(
        &cm114,
        (113.2644, 23.1291),
        (424_654.892_970, 2_559_024.739_304),
        1e-3,
    );
    check(
        &cm114,
        (114.3055, 30.5928),
        (529_299.860_317, 3_385_869.453_412),
        1e-3,
    );
    check(
        &cm114,
        (116.3975, 39.9087),
        (705_014.880_715, 4_422_144.430_187),
        1e-3,
    );
    check(
        &Transform::new(&epsg(4548), &g),
        (116.3975, 39.9087),
        (448_481.574_584, 4_419_565.435_326),
        1e-3,
    );
    check(
        &Transform::new(&epsg(4526), &g),
        (113.2644, 23.1291),
        (38_424_654.892_970, 2_559_024.739_304),
        1e-3,
    );
    check(
        &Transform::new(&epsg(4509), &g),
        (116.3975, 39.9087),
        (448_481.574_584, 4_419_565.435_326),
        1e-3,
    );
    check(
        &Transform::new(&epsg(2383), &epsg(4610)),
        (113.2644, 23.1291),
        (424_654.857_502, 2_559_025.931_144),
        1e-3,
    );
    // WGS 84 -> CGCS2000 zones is a null datum transformation (as in PROJ).
    check(
        &Transform::new(&epsg(4547), &epsg(4326)),
        (113.2644, 23.1291),
        (424_654.892_970, 2_559_024.739_304),
        1e-3,
    );
    let back = Transform::new(&g, &epsg(4547));
    for p in [(113.2644, 23.1291), (116.3975, 39.9087), (112.6, 21.0)] {
        round_trip(&cm114, &back, p, 1e-8);
    }
}

#[test]
fn krovak_5514_near_prague_and_brno() {
    let fwd = Transform::new(&epsg(5514), &epsg(4326));
    // PROJ with the same 7-parameter Helmert ("S-JTSK to WGS 84 (1)"): millimetres.
    check(&fwd, (14.4378, 50.0755), (-741_817.819, -1_044_492.539), 2e-3);
    check(&fwd, (16.6068, 49.1951), (-598_248.812, -1_160_744.686), 2e-3);
    // PROJ's default EPSG:4326 -> EPSG:5514 ("S-JTSK to WGS 84 (5)", 1 m accuracy).
    check(
        &fwd,
        (14.4378, 50.0755),
        (-741_817.772_106, -1_044_492.557_475),
        1.0,
    );
    check(
        &fwd,
        (16.6068, 49.1951),
        (-598_248.741_074, -1_160_744.682_612),
        1.0,
    );
    let inv = Transform::new(&epsg(4326), &epsg(5514));
    // 1e-8 degrees is about a millimetre.
    check(
        &inv,
        (-742_000.0, -1_044_000.0),
        (14.434_341_551, 50.079_664_309),
        2e-8,
    );
    check(
        &inv,
        (-742_000.0, -1_044_000.0),
        (14.434_340_865, 50.079_664_413),
        1e-5,
    );
    // proj4rs inverts the 7-parameter Helmert approximately (transposed rotation, as PROJ 4
    // did): about a millimetre over the round trip. The projection alone is exact to 0.1 mm.
    let krovak = Transform::new(&epsg(5514), &epsg(4156));
    let krovak_inv = Transform::new(&epsg(4156), &epsg(5514));
    for p in [(14.4378, 50.0755), (16.6068, 49.1951), (18.2625, 49.8209)] {
        round_trip(&fwd, &inv, p, 3e-8);
        round_trip(&krovak, &krovak_inv, p, 1e-9);
    }
}

#[test]
fn bulk_paths_match_the_single_point_path() {
    let t = Transform::new(&epsg(4547), &epsg(4490));
    let n = 1000;
    let mut xs: Vec<f64> = (0..n).map(|i| 112.5 + 3.0 * i as f64 / n as f64).collect();
    let mut ys: Vec<f64> = (0..n).map(|i| 21.0 + 20.0 * i as f64 / n as f64).collect();
    let expected: Vec<(f64, f64)> = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| t.apply(*x, *y).unwrap())
        .collect();
    let mut coords: Vec<geo::Coord<f64>> = xs.iter().zip(&ys).map(|(&x, &y)| geo::Coord { x, y }).collect();
    t.apply_slice(&mut xs, &mut ys).unwrap();
    t.apply_coords(&mut coords).unwrap();
    for i in 0..n {
        assert_eq!((xs[i], ys[i]), expected[i]);
        assert_eq!((coords[i].x, coords[i].y), expected[i]);
    }
    assert!(t.apply_slice(&mut [1.0, 2.0], &mut [1.0]).is_err());

    // Geometry: every coordinate of a polygon with a hole.
    let poly = geo::Polygon::new(
        geo::LineString::from(vec![(113.0, 23.0), (113.1, 23.0), (113.1, 23.1), (113.0, 23.0)]),
        vec![geo::LineString::from(vec![
            (113.05, 23.02),
            (113.06, 23.02),
            (113.06, 23.03),
            (113.05, 23.02),
        ])],
    );
    let mut g = geo::Geometry::MultiPolygon(geo::MultiPolygon(vec![poly.clone(), poly]));
    t.apply_geometry(&mut g).unwrap();
    let geo::Geometry::MultiPolygon(mp) = &g else {
        panic!()
    };
    let c = mp.0[1].interiors()[0].0[2];
    let e = t.apply(113.06, 23.03).unwrap();
    assert_eq!((c.x, c.y), e);
}

#[test]
fn failures_name_the_coordinate() {
    // Inverse Web Mercator of a point beyond the pole's northing fails or yields non-finite
    // values; either way the error must say which coordinate.
    let t = Transform::new(&epsg(4547), &epsg(4490));
    let mut g = geo::Geometry::LineString(geo::LineString::from(vec![
        (113.0, 23.0),
        (113.1, 23.0),
        (f64::NAN, 23.1),
        (113.2, 23.0),
    ]));
    let e = t.apply_geometry(&mut g).unwrap_err();
    let EngineError::Transform { y, reason, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(*y, 23.1);
    assert!(reason.contains("coordinate #2"), "{reason}");

    let mut xs = vec![113.0; 300];
    let mut ys = vec![23.0; 300];
    xs[257] = f64::INFINITY;
    let e = t.apply_slice(&mut xs, &mut ys).unwrap_err();
    assert!(e.to_string().contains("coordinate #257"), "{e}");
}

#[test]
fn identity_and_crs_properties() {
    let a = epsg(4547);
    assert!(Transform::new(&a, &a.clone()).is_identity());
    assert!(!Transform::new(&a, &epsg(4490)).is_identity());
    assert!(a.is_projected_metres() && !a.is_geographic());
    assert!(epsg(4490).is_geographic() && !epsg(4490).is_projected_metres());
    assert!(epsg(3857).is_projected_metres());
    assert_eq!(epsg(32633).display_name(), "WGS 84 / UTM zone 33N");
    assert_eq!(epsg(4547).name(), "EPSG:4547");
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Crs>();
    send_sync::<Transform>();
}

#[test]
fn a_compound_crs_places_points_as_its_horizontal_crs_does() {
    let compound = Crs::from_epsg(7415).unwrap();
    let rd = Crs::from_epsg(28992).unwrap();
    assert!(compound.same_horizontal(&rd));
    let t = cim_engine::Transform::new(&rd, &compound);
    assert!(t.is_identity());
    assert_eq!(
        t.apply(85_009.815, 447_482.668).unwrap(),
        (85_009.815, 447_482.668)
    );
    assert!(!rd.same_horizontal(&Crs::from_epsg(32631).unwrap()));
}

/// A photogrammetry tool's local Gauss-Krüger zone (central meridian 113.37°, false northing
/// 90 m) labelled with the standard zone's code (EPSG:4547, 114°E): the parameters win, and
/// the code is used as it stands where the parameters agree with it.
#[test]
fn a_wkt_whose_parameters_contradict_its_epsg_code_is_read_by_its_parameters() {
    let local = r#"PROJCS["LOCAL0 / 3-degree Gauss-Kruger CM 113.36E",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",113.37],PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],PARAMETER["false_northing",90],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AUTHORITY["EPSG","4547"]]"#;
    let c = Crs::from_wkt(local).unwrap();
    assert_ne!(c.epsg(), Some(4547), "{}", c.proj4());
    assert!(
        c.proj4().contains("+lon_0=113.37") && c.proj4().contains("+y_0=90"),
        "{}",
        c.proj4()
    );
    // On its central meridian a point keeps its easting of 500,000 m; the standard zone
    // (114°E) puts it 64 km west.
    let wgs = Crs::from_epsg(4326).unwrap();
    let (x, _) = Transform::new(&c, &wgs).apply(113.37, 22.5).unwrap();
    assert!((x - 500_000.0).abs() < 1e-6, "{x}");
    let (x4547, _) = Transform::new(&Crs::from_epsg(4547).unwrap(), &wgs)
        .apply(113.37, 22.5)
        .unwrap();
    assert!(x4547 < 440_000.0, "{x4547}");
    // The true EPSG:4547 in WKT with its code stays EPSG:4547.
    let standard = local.replace("113.37", "114").replace(
        "PARAMETER[\"false_northing\",90]",
        "PARAMETER[\"false_northing\",0]",
    );
    assert_eq!(Crs::from_wkt(&standard).unwrap().epsg(), Some(4547));
}
