//! OGC WKT1 from a PROJ string, for CRSs without an EPSG code.

use std::collections::HashMap;
use std::fmt::Write as _;

fn quote(s: &str) -> String {
    s.replace('"', "\"\"")
}

/// Writes OGC WKT1 (as GDAL writes it) for a PROJ string. Projections without a WKT1 name are
/// written with an `EXTENSION["PROJ4",...]`, which GDAL reads back.
pub(crate) fn wkt_from_proj4(name: &str, proj4: &str, geographic: bool) -> String {
    let p: HashMap<&str, &str> = proj4
        .split_whitespace()
        .map(|t| {
            let t = t.trim_start_matches('+');
            t.split_once('=').unwrap_or((t, ""))
        })
        .collect();
    let num = |k: &str, d: f64| p.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(d);
    let geogcs = geogcs(&p);
    if geographic {
        return geogcs.replacen("GEOGCS[\"unknown\"", &format!("GEOGCS[\"{}\"", quote(name)), 1);
    }
    let proj = p.get("proj").copied().unwrap_or("");
    let (lon_0, lat_0, x_0, y_0) = (
        num("lon_0", 0.0),
        num("lat_0", 0.0),
        num("x_0", 0.0),
        num("y_0", 0.0),
    );
    let mut params: Vec<(&str, f64)> = Vec::new();
    let method = match proj {
        "tmerc" | "etmerc" | "utm" => {
            let (lon, k, y0) = if proj == "utm" {
                let zone = num("zone", 31.0);
                let south = p.contains_key("south");
                (zone * 6.0 - 183.0, 0.9996, if south { 10_000_000.0 } else { 0.0 })
            } else {
                (lon_0, num("k", num("k_0", 1.0)), y_0)
            };
            let x0 = if proj == "utm" { 500_000.0 } else { x_0 };
            params.extend([
                ("latitude_of_origin", if proj == "utm" { 0.0 } else { lat_0 }),
                ("central_meridian", lon),
                ("scale_factor", k),
                ("false_easting", x0),
                ("false_northing", y0),
            ]);
            Some("Transverse_Mercator")
        }
        "merc" if !p.contains_key("nadgrids") => {
            if p.contains_key("lat_ts") {
                params.push(("standard_parallel_1", num("lat_ts", 0.0)));
                params.extend([
                    ("central_meridian", lon_0),
                    ("false_easting", x_0),
                    ("false_northing", y_0),
                ]);
                Some("Mercator_2SP")
            } else {
                params.extend([
                    ("central_meridian", lon_0),
                    ("scale_factor", num("k", num("k_0", 1.0))),
                    ("false_easting", x_0),
                    ("false_northing", y_0),
                ]);
                Some("Mercator_1SP")
            }
        }
        "lcc" if p.contains_key("lat_2") => {
            params.extend([
                ("standard_parallel_1", num("lat_1", 0.0)),
                ("standard_parallel_2", num("lat_2", 0.0)),
                ("latitude_of_origin", lat_0),
                ("central_meridian", lon_0),
                ("false_easting", x_0),
                ("false_northing", y_0),
            ]);
            Some("Lambert_Conformal_Conic_2SP")
        }
        "lcc" => {
            params.extend([
                ("latitude_of_origin", num("lat_1", lat_0)),
                ("central_meridian", lon_0),
                ("scale_factor", num("k_0", num("k", 1.0))),
                ("false_easting", x_0),
                ("false_northing", y_0),
            ]);
            Some("Lambert_Conformal_Conic_1SP")
        }
        "aea" => {
            params.extend([
                ("standard_parallel_1", num("lat_1", 0.0)),
                ("standard_parallel_2", num("lat_2", 0.0)),
                ("latitude_of_center", lat_0),
                ("longitude_of_center", lon_0),
                ("false_easting", x_0),
                ("false_northing", y_0),
            ]);
            Some("Albers_Conic_Equal_Area")
        }
        "laea" => {
            params.extend([
                ("latitude_of_center", lat_0),
                ("longitude_of_center", lon_0),
                ("false_easting", x_0),
                ("false_northing", y_0),
            ]);
            Some("Lambert_Azimuthal_Equal_Area")
        }
        "krovak" if !p.contains_key("czech") => {
            params.extend([
                ("latitude_of_center", num("lat_0", 49.5)),
                ("longitude_of_center", num("lon_0", 24.833_333_333_333_33)),
                ("azimuth", num("alpha", 30.288_139_722_222_22)),
                ("pseudo_standard_parallel_1", 78.5),
                ("scale_factor", num("k", 0.9999)),
                ("false_easting", x_0),
                ("false_northing", y_0),
            ]);
            Some("Krovak")
        }
        _ => None,
    };
    let to_meter = match p.get("units").copied() {
        Some("ft") => 0.3048,
        Some("us-ft") => 1200.0 / 3937.0,
        _ => num("to_meter", 1.0),
    };
    let mut s = format!("PROJCS[\"{}\",{geogcs},", quote(name));
    match method {
        Some(m) => {
            let _ = write!(s, "PROJECTION[\"{m}\"],");
            for (k, v) in params {
                // WKT1 lengths are in the CRS unit.
                let v = if k.starts_with("false_") { v / to_meter } else { v };
                let _ = write!(s, "PARAMETER[\"{k}\",{v}],");
            }
        }
        None => {
            // Mercator_1SP placeholder plus the PROJ string, as GDAL does for Web Mercator.
            s.push_str("PROJECTION[\"Mercator_1SP\"],PARAMETER[\"central_meridian\",0],PARAMETER[\"scale_factor\",1],PARAMETER[\"false_easting\",0],PARAMETER[\"false_northing\",0],");
        }
    }
    if (to_meter - 1.0).abs() < 1e-12 {
        s.push_str("UNIT[\"metre\",1,AUTHORITY[\"EPSG\",\"9001\"]],");
    } else {
        let _ = write!(s, "UNIT[\"unknown\",{to_meter}],");
    }
    s.push_str("AXIS[\"Easting\",EAST],AXIS[\"Northing\",NORTH]");
    if method.is_none() {
        let _ = write!(s, ",EXTENSION[\"PROJ4\",\"{}\"]", quote(proj4));
    }
    s.push(']');
    s
}

fn geogcs(p: &HashMap<&str, &str>) -> String {
    let num = |k: &str| p.get(k).and_then(|v| v.parse::<f64>().ok());
    if p.get("datum") == Some(&"WGS84") {
        return "GEOGCS[\"unknown\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]]]".into();
    }
    let (ename, a, rf) = match p.get("ellps").copied() {
        Some("GRS80") => ("GRS 1980", 6_378_137.0, 298.257_222_101),
        Some("WGS84") => ("WGS 84", 6_378_137.0, 298.257_223_563),
        Some("krass") => ("Krassowsky 1940", 6_378_245.0, 298.3),
        Some("bessel") => ("Bessel 1841", 6_377_397.155, 299.152_812_8),
        Some("intl") => ("International 1924", 6_378_388.0, 297.0),
        Some("clrk66") => ("Clarke 1866", 6_378_206.4, 294.978_698_213_898),
        Some("airy") => ("Airy 1830", 6_377_563.396, 299.324_964_6),
        _ => {
            let a = num("a").or(num("R")).unwrap_or(6_378_137.0);
            let rf = match (num("rf"), num("b"), num("f")) {
                (Some(rf), _, _) => rf,
                (None, Some(b), _) if (a - b).abs() > 1e-9 => a / (a - b),
                (None, None, Some(f)) if f > 0.0 => 1.0 / f,
                _ => 0.0,
            };
            ("unknown", a, rf)
        }
    };
    let towgs84 = p
        .get("towgs84")
        .map(|t| format!(",TOWGS84[{t}]"))
        .unwrap_or_default();
    let pm = num("pm").unwrap_or(0.0);
    format!(
        "GEOGCS[\"unknown\",DATUM[\"unknown\",SPHEROID[\"{ename}\",{a},{rf}]{towgs84}],PRIMEM[\"Greenwich\",{pm}],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]]]"
    )
}
