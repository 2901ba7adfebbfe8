//! A normalised CRS description (what a WKT text or a set of GeoTIFF keys says), its
//! identification as an EPSG code, and its translation into a PROJ string.

use std::fmt::Write as _;

/// Lower-cases and keeps only ASCII letters and digits: `"Gauss_Kruger"` → `"gausskruger"`.
pub(crate) fn norm(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ellipsoid {
    pub name: String,
    pub a: f64,
    /// Inverse flattening; 0 for a sphere.
    pub rf: f64,
}

/// Geodetic datums the engine recognises by name (and checks against their ellipsoid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DatumFamily {
    Wgs84,
    Cgcs2000,
    Xian1980,
    Beijing1954,
    SJtsk,
    #[default]
    Other,
}

impl DatumFamily {
    /// (semi-major axis, inverse flattening) of the family's ellipsoid.
    pub fn ellipsoid(self) -> Option<(f64, f64)> {
        match self {
            DatumFamily::Wgs84 => Some((6_378_137.0, 298.257_223_563)),
            DatumFamily::Cgcs2000 => Some((6_378_137.0, 298.257_222_101)),
            DatumFamily::Xian1980 => Some((6_378_140.0, 298.257)),
            DatumFamily::Beijing1954 => Some((6_378_245.0, 298.3)),
            DatumFamily::SJtsk => Some((6_377_397.155, 299.152_812_8)),
            DatumFamily::Other => None,
        }
    }

    /// The EPSG geographic CRS of the family.
    pub fn geographic_epsg(self) -> Option<u32> {
        match self {
            DatumFamily::Wgs84 => Some(4326),
            DatumFamily::Cgcs2000 => Some(4490),
            DatumFamily::Xian1980 => Some(4610),
            DatumFamily::Beijing1954 => Some(4214),
            DatumFamily::SJtsk => Some(4156),
            DatumFamily::Other => None,
        }
    }

    fn from_name(n: &str) -> DatumFamily {
        let n = norm(n);
        let has = |k: &[&str]| k.iter().any(|k| n.contains(k));
        if has(&["wgs1984", "wgs84", "worldgeodeticsystem1984"]) {
            DatumFamily::Wgs84
        } else if has(&["china2000", "chinageodeticcoordinatesystem2000", "cgcs2000"]) {
            DatumFamily::Cgcs2000
        } else if has(&["xian1980", "xian80"]) {
            DatumFamily::Xian1980
        } else if has(&["beijing1954", "beijing54"]) {
            DatumFamily::Beijing1954
        } else if has(&[
            "sjtsk",
            "jednotnetrigonometrickesitekatastralni",
            "unifiedtrigonometricalcadastralnetwork",
        ]) {
            DatumFamily::SJtsk
        } else {
            DatumFamily::Other
        }
    }

    /// The first name that names a known datum wins, provided the ellipsoid (when given) agrees.
    pub fn detect(names: [Option<&str>; 3], ell: Option<&Ellipsoid>) -> DatumFamily {
        for n in names.into_iter().flatten() {
            let fam = DatumFamily::from_name(n);
            if fam == DatumFamily::Other {
                continue;
            }
            return match (ell, fam.ellipsoid()) {
                (Some(e), Some((a, rf))) if (e.a - a).abs() > 0.5 || (e.rf - rf).abs() > 1e-6 => {
                    DatumFamily::Other
                }
                _ => fam,
            };
        }
        DatumFamily::Other
    }

    /// From an EPSG geodetic datum code (GeoTIFF `GeogGeodeticDatumGeoKey`).
    pub fn from_datum_code(code: u16) -> DatumFamily {
        match code {
            6326 => DatumFamily::Wgs84,
            1043 => DatumFamily::Cgcs2000,
            6610 => DatumFamily::Xian1980,
            6214 => DatumFamily::Beijing1954,
            6156 => DatumFamily::SJtsk,
            _ => DatumFamily::Other,
        }
    }
}

/// Projection methods with a pure-Rust implementation in proj4rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    TransverseMercator,
    /// Mercator; 1SP (scale factor) or 2SP (standard parallel).
    Mercator,
    /// Web / pseudo Mercator (spherical formulas on the WGS 84 axis).
    WebMercator,
    LambertConformalConic2Sp,
    LambertConformalConic1Sp,
    Albers,
    Krovak,
    LambertAzimuthalEqualArea,
}

impl Method {
    pub fn from_name(name: &str) -> Option<Method> {
        let n = norm(name);
        Some(match n.as_str() {
            "transversemercator" | "gausskruger" | "gaussschreibertransversemercator" => {
                Method::TransverseMercator
            }
            "mercator" | "mercator1sp" | "mercator2sp" | "mercatorvarianta" | "mercatorvariantb" => {
                Method::Mercator
            }
            "popularvisualisationpseudomercator"
            | "mercatorauxiliarysphere"
            | "pseudomercator"
            | "webmercator" => Method::WebMercator,
            "lambertconformalconic" | "lambertconformalconic2sp" | "lambertconicconformal2sp" => {
                Method::LambertConformalConic2Sp
            }
            "lambertconformalconic1sp" | "lambertconicconformal1sp" => Method::LambertConformalConic1Sp,
            "albers" | "albersconicequalarea" | "albersequalarea" => Method::Albers,
            "krovak" | "krovaknorthorientated" | "krovakeastnorth" => Method::Krovak,
            "lambertazimuthalequalarea" => Method::LambertAzimuthalEqualArea,
            _ => return None,
        })
    }
}

/// What a WKT text or GeoTIFF key set says about a CRS, normalised (angles in degrees, lengths
/// in metres).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub name: Option<String>,
    pub geographic: bool,
    pub geog_name: Option<String>,
    pub geog_epsg: Option<u32>,
    pub datum_name: Option<String>,
    pub family: DatumFamily,
    pub ellipsoid: Option<Ellipsoid>,
    pub towgs84: Option<Vec<f64>>,
    /// Prime meridian, degrees east of Greenwich.
    pub pm: f64,
    /// Degrees per unit of the geographic CRS's angular unit.
    pub angle_to_deg: f64,
    pub method: Option<Method>,
    pub method_name: Option<String>,
    pub lon_0: Option<f64>,
    pub lat_0: Option<f64>,
    pub k: Option<f64>,
    pub x_0: Option<f64>,
    pub y_0: Option<f64>,
    pub lat_1: Option<f64>,
    pub lat_2: Option<f64>,
    pub alpha: Option<f64>,
    pub pseudo_parallel: Option<f64>,
    pub esri_x_scale: Option<f64>,
    pub esri_rotation: Option<f64>,
    pub esri_aux_sphere: Option<f64>,
    /// Metres per projected unit.
    pub to_meter: f64,
    /// From AXIS nodes; `None` when the text has none (ESRI).
    pub axis_east_north: Option<bool>,
    /// Parameters seen but not understood (reported when the CRS cannot be built).
    pub other_params: Vec<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            name: None,
            geographic: false,
            geog_name: None,
            geog_epsg: None,
            datum_name: None,
            family: DatumFamily::Other,
            ellipsoid: None,
            towgs84: None,
            pm: 0.0,
            angle_to_deg: 1.0,
            method: None,
            method_name: None,
            lon_0: None,
            lat_0: None,
            k: None,
            x_0: None,
            y_0: None,
            lat_1: None,
            lat_2: None,
            alpha: None,
            pseudo_parallel: None,
            esri_x_scale: None,
            esri_rotation: None,
            esri_aux_sphere: None,
            to_meter: 1.0,
            axis_east_north: None,
            other_params: Vec::new(),
        }
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    (a.unwrap_or(0.0) - b).abs() < 1e-9 * b.abs().max(1.0)
}

/// An integer value, if `v` is one (within 1e-9).
fn int(v: Option<f64>) -> Option<i64> {
    let v = v.unwrap_or(0.0);
    let r = v.round();
    ((v - r).abs() < 1e-9).then_some(r as i64)
}

impl Spec {
    /// The EPSG code this description is equivalent to, if it is one of the families the
    /// engine knows (UTM on WGS 84, CGCS2000 / Xian 1980 / Beijing 1954 Gauss-Krüger zones,
    /// Web Mercator, Krovak East North, and the geographic CRSs of those datums).
    pub fn identify(&self) -> Option<u32> {
        if self.geographic {
            if self.pm != 0.0 {
                return None;
            }
            return self.family.geographic_epsg().or(self.geog_epsg);
        }
        if (self.to_meter - 1.0).abs() > 1e-12 || self.pm != 0.0 {
            return None;
        }
        match self.method? {
            Method::TransverseMercator => self.identify_tm(),
            Method::WebMercator => {
                let wgs = self.family == DatumFamily::Wgs84 || self.ellipsoid.is_none();
                (wgs && close(self.x_0, 0.0) && close(self.y_0, 0.0) && close(self.lon_0, 0.0))
                    .then_some(3857)
            }
            Method::Krovak => {
                let en = self.is_krovak_east_north();
                (self.family == DatumFamily::SJtsk
                    && en
                    && close(self.lat_0, 49.5)
                    && (self.lon_0.unwrap_or(0.0) - 24.833_333_333_333_33).abs() < 1e-6
                    && close(self.k, 0.9999)
                    && close(self.x_0, 0.0)
                    && close(self.y_0, 0.0))
                .then_some(5514)
            }
            _ => None,
        }
    }

    /// Krovak east-north: ESRI's `X_Scale=-1` + `XY_Plane_Rotation=90`, or AXIS east/north;
    /// without either, an ESRI text (datum `D_...`) is east-north only when its name says so
    /// (`S-JTSK_Krovak` is the Czech south-west convention), and any other text is east-north
    /// (what PROJ's `+proj=krovak` gives).
    pub fn is_krovak_east_north(&self) -> bool {
        if self.esri_x_scale.is_some() || self.esri_rotation.is_some() {
            return close(self.esri_x_scale, -1.0) && close(self.esri_rotation, 90.0);
        }
        if let Some(en) = self.axis_east_north {
            return en;
        }
        let esri = self.datum_name.as_deref().is_some_and(|d| d.starts_with("D_"));
        !esri
            || self
                .name
                .as_deref()
                .is_some_and(|n| norm(n).contains("eastnorth"))
    }

    fn identify_tm(&self) -> Option<u32> {
        let lon = int(self.lon_0)?;
        if !close(self.lat_0, 0.0) {
            return None;
        }
        let x0 = int(self.x_0)?;
        let y0 = int(self.y_0)?;
        match self.family {
            DatumFamily::Wgs84 => {
                if !close(self.k, 0.9996) || x0 != 500_000 || (lon + 183) % 6 != 0 {
                    return None;
                }
                let zone = (lon + 183) / 6;
                if !(1..=60).contains(&zone) {
                    return None;
                }
                match y0 {
                    0 => Some(32600 + zone as u32),
                    10_000_000 => Some(32700 + zone as u32),
                    _ => None,
                }
            }
            fam @ (DatumFamily::Cgcs2000 | DatumFamily::Xian1980 | DatumFamily::Beijing1954) => {
                if !close(self.k, 1.0) || y0 != 0 {
                    return None;
                }
                let hint = self.name.as_deref().map(norm).unwrap_or_default();
                let three_hint = hint.contains("3degree") || hint.contains("3deg");
                china_gk(fam, lon, x0, three_hint)
            }
            _ => None,
        }
    }

    /// A PROJ string for this description (used when no EPSG code was identified).
    pub fn to_proj4(&self) -> Result<String, String> {
        let mut s = String::new();
        if self.geographic {
            s.push_str("+proj=longlat");
            self.push_datum(&mut s)?;
            s.push_str(" +no_defs");
            return Ok(s);
        }
        let method = self.method.ok_or("no projection method")?;
        let lon_0 = self.lon_0.unwrap_or(0.0);
        let lat_0 = self.lat_0.unwrap_or(0.0);
        let x_0 = self.x_0.unwrap_or(0.0);
        let y_0 = self.y_0.unwrap_or(0.0);
        let k = self.k.unwrap_or(1.0);
        let _ = match method {
            Method::TransverseMercator => write!(
                s,
                "+proj=tmerc +lat_0={lat_0} +lon_0={lon_0} +k={k} +x_0={x_0} +y_0={y_0}"
            ),
            Method::Mercator => match self.lat_1.filter(|v| *v != 0.0) {
                Some(lat_ts) => write!(
                    s,
                    "+proj=merc +lat_ts={lat_ts} +lon_0={lon_0} +x_0={x_0} +y_0={y_0}"
                ),
                None => write!(s, "+proj=merc +lon_0={lon_0} +k={k} +x_0={x_0} +y_0={y_0}"),
            },
            Method::WebMercator => {
                let a = self.ellipsoid.as_ref().map(|e| e.a).unwrap_or(6_378_137.0);
                s = format!(
                    "+proj=merc +a={a} +b={a} +lat_ts=0 +lon_0={lon_0} +x_0={x_0} +y_0={y_0} +k=1 +units=m +nadgrids=@null +no_defs"
                );
                return Ok(s);
            }
            Method::LambertConformalConic2Sp => {
                let lat_1 = self
                    .lat_1
                    .ok_or("Lambert conformal conic without standard_parallel_1")?;
                let lat_2 = self.lat_2.unwrap_or(lat_1);
                write!(
                    s,
                    "+proj=lcc +lat_1={lat_1} +lat_2={lat_2} +lat_0={lat_0} +lon_0={lon_0} +x_0={x_0} +y_0={y_0}"
                )
            }
            Method::LambertConformalConic1Sp => write!(
                s,
                "+proj=lcc +lat_1={lat_0} +lat_0={lat_0} +lon_0={lon_0} +k_0={k} +x_0={x_0} +y_0={y_0}"
            ),
            Method::Albers => {
                let lat_1 = self.lat_1.ok_or("Albers without standard_parallel_1")?;
                let lat_2 = self.lat_2.unwrap_or(lat_1);
                write!(
                    s,
                    "+proj=aea +lat_1={lat_1} +lat_2={lat_2} +lat_0={lat_0} +lon_0={lon_0} +x_0={x_0} +y_0={y_0}"
                )
            }
            Method::Krovak => {
                let alpha = self.alpha.unwrap_or(30.288_139_722_222_22);
                if let Some(p) = self.pseudo_parallel {
                    if (p - 78.5).abs() > 1e-9 {
                        return Err(format!(
                            "Krovak with a pseudo standard parallel of {p} (only 78.5 is supported)"
                        ));
                    }
                }
                let czech = if self.is_krovak_east_north() {
                    ""
                } else {
                    " +czech"
                };
                write!(
                    s,
                    "+proj=krovak +lat_0={lat_0} +lon_0={lon_0} +alpha={alpha} +k={k} +x_0={x_0} +y_0={y_0}{czech}"
                )
            }
            Method::LambertAzimuthalEqualArea => write!(
                s,
                "+proj=laea +lat_0={lat_0} +lon_0={lon_0} +x_0={x_0} +y_0={y_0}"
            ),
        };
        self.push_datum(&mut s)?;
        if (self.to_meter - 1.0).abs() < 1e-12 {
            s.push_str(" +units=m");
        } else {
            let _ = write!(s, " +to_meter={}", self.to_meter);
        }
        s.push_str(" +no_defs");
        Ok(s)
    }

    fn push_datum(&self, s: &mut String) -> Result<(), String> {
        let known_towgs84 = match self.family {
            DatumFamily::SJtsk => Some(super::SJTSK_TOWGS84.to_string()),
            DatumFamily::Beijing1954 => Some("15.8,-154.4,-82.3,0,0,0,0".to_string()),
            _ => None,
        };
        if self.family == DatumFamily::Wgs84 && self.towgs84.is_none() {
            s.push_str(" +datum=WGS84");
        } else {
            let (a, rf) = match (&self.ellipsoid, self.family.ellipsoid()) {
                (Some(e), _) => (e.a, e.rf),
                (None, Some(e)) => e,
                (None, None) => return Err("no ellipsoid (SPHEROID) given".into()),
            };
            if rf == 0.0 {
                let _ = write!(s, " +a={a} +b={a}");
            } else if (a - 6_378_137.0).abs() < 1e-6 && (rf - 298.257_222_101).abs() < 1e-9 {
                s.push_str(" +ellps=GRS80");
            } else {
                let _ = write!(s, " +a={a} +rf={rf}");
            }
            let tw = self
                .towgs84
                .as_ref()
                .map(|v| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(","))
                .or(known_towgs84);
            if let Some(tw) = tw {
                let _ = write!(s, " +towgs84={tw}");
            }
        }
        if self.pm != 0.0 {
            let _ = write!(s, " +pm={}", self.pm);
        }
        Ok(())
    }
}

/// The EPSG code of a Chinese Gauss-Krüger CRS: datum family, central meridian (degrees),
/// false easting (metres, with or without the zone-number prefix). 3-degree and 6-degree CM
/// codes with the same meridian define the same projection; `three_degree_hint` picks between
/// them (default 3-degree, the common one for city data).
pub(crate) fn china_gk(fam: DatumFamily, lon: i64, x0: i64, three_degree_hint: bool) -> Option<u32> {
    // (6-degree zone base, 6-degree CM base, 3-degree zone base, 3-degree CM base)
    let (z6, cm6, z3, cm3) = match fam {
        DatumFamily::Cgcs2000 => (4491, 4502, 4513, 4534),
        DatumFamily::Xian1980 => (2327, 2338, 2349, 2370),
        DatumFamily::Beijing1954 => (21413, 21453, 2401, 2422),
        _ => return None,
    };
    if !(75..=135).contains(&lon) {
        return None;
    }
    let six = (lon + 3) % 6 == 0;
    let three = lon % 3 == 0;
    if x0 == 500_000 {
        if three && (three_degree_hint || !six) {
            return Some(cm3 + ((lon - 75) / 3) as u32);
        }
        if six {
            return Some(cm6 + ((lon - 75) / 6) as u32);
        }
        return None;
    }
    if (x0 - 500_000) % 1_000_000 != 0 {
        return None;
    }
    let zone = (x0 - 500_000) / 1_000_000;
    if three && zone == lon / 3 && (25..=45).contains(&zone) {
        return Some(z3 + (zone - 25) as u32);
    }
    if six && zone == (lon + 3) / 6 && (13..=23).contains(&zone) {
        return Some(z6 + (zone - 13) as u32);
    }
    None
}

/// Well-known ESRI names (and a few other spellings) → EPSG, for CRSs whose text carries no
/// parameters (e.g. `LOCAL_CS["S-JTSK_Krovak_East_North"]`) or as a cross-check.
pub(crate) fn code_from_name(name: &str) -> Option<u32> {
    let n = norm(name);
    let fixed = match n.as_str() {
        "gcswgs1984" | "wgs84" | "wgs1984" | "crs84" => Some(4326),
        "gcschinageodeticcoordinatesystem2000" | "chinageodeticcoordinatesystem2000" | "cgcs2000" => {
            Some(4490)
        }
        "gcsxian1980" | "xian1980" => Some(4610),
        "gcsbeijing1954" | "beijing1954" => Some(4214),
        "gcssjtsk" | "sjtsk" => Some(4156),
        "wgs1984webmercatorauxiliarysphere"
        | "wgs1984webmercator"
        | "webmercator"
        | "wgs84pseudomercator"
        | "pseudomercator" => Some(3857),
        "sjtskkrovakeastnorth" | "sjtskkrovakeastnorthgreenwich" => Some(5514),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    // WGS_1984_UTM_Zone_33S / WGS 84 / UTM zone 33N
    for prefix in ["wgs1984utmzone", "wgs84utmzone"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            let (num, hemi) = rest.split_at(rest.len().saturating_sub(1));
            let zone: u32 = num.parse().ok()?;
            if !(1..=60).contains(&zone) {
                return None;
            }
            return match hemi {
                "n" => Some(32600 + zone),
                "s" => Some(32700 + zone),
                _ => None,
            };
        }
    }
    // CGCS2000_3_Degree_GK_Zone_38, CGCS2000_3_Degree_GK_CM_114E, CGCS2000_GK_CM_117E,
    // CGCS2000_GK_Zone_20, Xian_1980_..., Beijing_1954_..., and the EPSG spellings
    // "CGCS2000 / 3-degree Gauss-Kruger CM 114E".
    let (fam, rest) = [
        ("cgcs2000", DatumFamily::Cgcs2000),
        ("xian1980", DatumFamily::Xian1980),
        ("beijing1954", DatumFamily::Beijing1954),
    ]
    .into_iter()
    .find_map(|(p, f)| n.strip_prefix(p).map(|r| (f, r)))?;
    let (three, rest) = match rest.strip_prefix("3degree") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest
        .strip_prefix("gk")
        .or_else(|| rest.strip_prefix("gausskruger"))?;
    if let Some(cm) = rest.strip_prefix("cm") {
        let lon: i64 = cm.strip_suffix('e')?.parse().ok()?;
        if !three && (lon + 3) % 6 != 0 {
            return None;
        }
        return china_gk(fam, lon, 500_000, three);
    }
    let zone: i64 = rest.strip_prefix("zone")?.parse().ok()?;
    let lon = if three { zone * 3 } else { zone * 6 - 3 };
    china_gk(fam, lon, zone * 1_000_000 + 500_000, three)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every code the family tables produce must exist in the built-in EPSG table with the
    /// expected central meridian and false easting.
    #[test]
    fn china_gk_tables_match_the_epsg_definitions() {
        for fam in [
            DatumFamily::Cgcs2000,
            DatumFamily::Xian1980,
            DatumFamily::Beijing1954,
        ] {
            for lon in (75..=135).step_by(3) {
                for (x0, three) in [
                    (500_000, true),
                    (500_000, false),
                    ((lon / 3) * 1_000_000 + 500_000, true),
                    (((lon + 3) / 6) * 1_000_000 + 500_000, false),
                ] {
                    let Some(code) = china_gk(fam, lon, x0, three) else {
                        continue;
                    };
                    let def = crs_definitions::from_code(code as u16).unwrap();
                    assert!(
                        def.proj4.contains(&format!("+lon_0={lon} ")),
                        "{fam:?} {lon} {x0} -> {code}: {}",
                        def.proj4
                    );
                    assert!(
                        def.proj4.contains(&format!("+x_0={x0} ")),
                        "{fam:?} {lon} {x0} -> {code}: {}",
                        def.proj4
                    );
                    assert!(def.proj4.contains("+k=1 "), "{code}");
                    let deg3 = def.wkt.contains("3-degree");
                    if (lon + 3) % 6 != 0 || three {
                        assert!(deg3, "{code} should be a 3-degree zone: {}", &def.wkt[..80]);
                    }
                }
            }
        }
        // Spot checks against EPSG names.
        assert_eq!(china_gk(DatumFamily::Cgcs2000, 114, 500_000, true), Some(4547));
        assert_eq!(china_gk(DatumFamily::Cgcs2000, 114, 38_500_000, true), Some(4526));
        assert_eq!(china_gk(DatumFamily::Cgcs2000, 117, 500_000, false), Some(4509));
        assert_eq!(
            china_gk(DatumFamily::Cgcs2000, 117, 20_500_000, false),
            Some(4498)
        );
        assert_eq!(china_gk(DatumFamily::Cgcs2000, 75, 25_500_000, true), Some(4513));
        assert_eq!(china_gk(DatumFamily::Cgcs2000, 135, 500_000, true), Some(4554));
    }

    #[test]
    fn names_map_to_codes() {
        assert_eq!(code_from_name("WGS_1984_UTM_Zone_33S"), Some(32733));
        assert_eq!(code_from_name("WGS 84 / UTM zone 50N"), Some(32650));
        assert_eq!(code_from_name("CGCS2000_3_Degree_GK_Zone_38"), Some(4526));
        assert_eq!(code_from_name("CGCS2000_3_Degree_GK_CM_114E"), Some(4547));
        assert_eq!(code_from_name("CGCS2000_GK_CM_117E"), Some(4509));
        assert_eq!(code_from_name("CGCS2000_GK_Zone_20"), Some(4498));
        assert_eq!(
            code_from_name("CGCS2000 / 3-degree Gauss-Kruger CM 114E"),
            Some(4547)
        );
        assert_eq!(code_from_name("Xian_1980_3_Degree_GK_CM_114E"), Some(2383));
        assert_eq!(code_from_name("Beijing_1954_3_Degree_GK_CM_114E"), Some(2435));
        assert_eq!(
            code_from_name("GCS_China_Geodetic_Coordinate_System_2000"),
            Some(4490)
        );
        assert_eq!(
            code_from_name("WGS_1984_Web_Mercator_Auxiliary_Sphere"),
            Some(3857)
        );
        assert_eq!(code_from_name("S-JTSK_Krovak_East_North"), Some(5514));
        assert_eq!(code_from_name("CGCS2000_GK_CM_114E"), None);
        assert_eq!(code_from_name("My local grid"), None);
    }
}
