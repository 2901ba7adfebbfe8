//! CRS declarations found in vector files: `.prj` WKT, GeoPackage SRS rows, GeoJSON names.

use cim_engine::Crs;

/// A CRS from a `.prj` / FlatGeobuf WKT string; the error is the reason for a warning.
pub(super) fn crs_from_wkt(wkt: &str) -> Result<Crs, String> {
    let wkt = wkt.trim_start_matches('\u{feff}').trim();
    if wkt.is_empty() {
        return Err("the CRS definition is empty".into());
    }
    Crs::from_wkt(wkt).map_err(|e| e.to_string())
}

/// A CRS from a `gpkg_spatial_ref_sys` row.
pub(super) fn crs_from_gpkg(org: &str, org_id: i64, definition: &str) -> Result<Crs, String> {
    Crs::from_gpkg_srs(org, org_id, definition).map_err(|e| e.to_string())
}

/// A CRS from an authority and code (FlatGeobuf header), `None` authority meaning EPSG.
pub(super) fn crs_from_code(org: Option<&str>, code: i64) -> Result<Crs, String> {
    match org {
        None | Some("") => from_epsg(code),
        Some(o) if o.eq_ignore_ascii_case("EPSG") => from_epsg(code),
        Some(o) if o.eq_ignore_ascii_case("OGC") && code == 84 => from_epsg(4326),
        Some(o) => Err(format!("unknown CRS authority {o}:{code}")),
    }
}

fn from_epsg(code: i64) -> Result<Crs, String> {
    let code = u32::try_from(code).map_err(|_| format!("invalid EPSG code {code}"))?;
    Crs::from_epsg(code).map_err(|e| e.to_string())
}

/// A CRS from a name as GeoJSON's legacy `crs` member or JSON-FG write it:
/// `urn:ogc:def:crs:EPSG::3857`, `EPSG:3857`, `http://www.opengis.net/def/crs/EPSG/0/3857`,
/// `urn:ogc:def:crs:OGC:1.3:CRS84`.
pub(super) fn crs_from_name(name: &str) -> Result<Crs, String> {
    let n = name.trim();
    let upper = n.to_ascii_uppercase();
    if upper.ends_with("CRS84") || upper.ends_with("CRS:84") {
        return from_epsg(4326);
    }
    let code = if let Some(rest) = upper.strip_prefix("URN:OGC:DEF:CRS:EPSG:") {
        // `urn:ogc:def:crs:EPSG::3857` or `urn:ogc:def:crs:EPSG:6.6:3857`
        rest.rsplit(':').next()
    } else if let Some(rest) = upper
        .strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/")
        .or_else(|| upper.strip_prefix("HTTPS://WWW.OPENGIS.NET/DEF/CRS/EPSG/"))
    {
        rest.rsplit('/').next()
    } else {
        upper.strip_prefix("EPSG:")
    };
    match code.and_then(|c| c.trim().parse::<i64>().ok()) {
        Some(c) => from_epsg(c),
        None => Err(format!("unrecognised CRS name '{n}'")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn geojson_crs_names() {
        for name in [
            "urn:ogc:def:crs:EPSG::3857",
            "EPSG:3857",
            "http://www.opengis.net/def/crs/EPSG/0/3857",
        ] {
            assert_eq!(crs_from_name(name).unwrap().epsg(), Some(3857), "{name}");
        }
        assert_eq!(
            crs_from_name("urn:ogc:def:crs:OGC:1.3:CRS84").unwrap().epsg(),
            Some(4326)
        );
        assert!(crs_from_name("my-local-grid").is_err());
    }
}
