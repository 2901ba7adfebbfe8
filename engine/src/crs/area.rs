//! Where a projected CRS is meant to be used, and which CRS fits data found elsewhere.
//!
//! A transverse Mercator zone (UTM, Gauss-Krüger) distorts fast away from its central meridian:
//! data more than a few degrees of longitude from it was almost always imported with the wrong
//! CRS (a .prj off by a zone, degrees taken for metres) or into the wrong project. The areas
//! here are generous (±6° around the meridian, a zone's hemisphere) so that real data near a
//! zone's edge is never flagged.

use super::Crs;

/// A box in degrees of longitude and latitude where a CRS is usable.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaOfUse {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
    /// The box in words: "within 6° of the central meridian 15°E, northern hemisphere".
    pub description: String,
}

/// How far from a transverse Mercator zone's central meridian data is still plausible.
const TM_HALF_WIDTH_DEG: f64 = 6.0;
const EARTH_RADIUS_KM: f64 = 6371.0;

impl AreaOfUse {
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let dlon = wrap180(lon - (self.west + self.east) / 2.0).abs();
        dlon <= (self.east - self.west) / 2.0 && (self.south..=self.north).contains(&lat)
    }

    /// Great-circle distance in km from (lon, lat) to the nearest point of the box (0 inside).
    pub fn distance_km(&self, lon: f64, lat: f64) -> f64 {
        let mid = (self.west + self.east) / 2.0;
        let half = (self.east - self.west) / 2.0;
        let dlon = wrap180(lon - mid);
        let near_lon = mid + dlon.clamp(-half, half);
        let near_lat = lat.clamp(self.south, self.north);
        haversine_km(lon, lat, near_lon, near_lat)
    }
}

fn wrap180(d: f64) -> f64 {
    let w = (d + 180.0).rem_euclid(360.0) - 180.0;
    if w == -180.0 {
        180.0
    } else {
        w
    }
}

/// Great-circle distance in km between two points given in degrees.
pub fn haversine_km(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// A `+key=value` parameter of a PROJ string.
fn param<'a>(proj4: &'a str, key: &str) -> Option<&'a str> {
    proj4.split_whitespace().find_map(|p| {
        let p = p.strip_prefix('+')?;
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == key).then_some(v)
    })
}

fn deg(v: f64) -> String {
    let hemi = if v < 0.0 { 'W' } else { 'E' };
    format!("{}°{hemi}", fmt_num(v.abs()))
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

impl Crs {
    /// A `+key=value` parameter of the CRS's PROJ string (`"x_0"` → `"500000"`); `""` for a
    /// flag such as `+south`.
    pub fn proj_param(&self, key: &str) -> Option<&str> {
        param(self.proj4(), key)
    }

    /// Where this CRS is meant to be used, for the projections whose area follows from their
    /// parameters (UTM, transverse Mercator / Gauss-Krüger, Krovak); `None` for others
    /// (geographic CRSs and projections whose area cannot be judged from their parameters).
    ///
    /// # Examples
    /// ```
    /// use cim_engine::Crs;
    /// let utm33n = Crs::from_epsg(32633).unwrap().area_of_use().unwrap();
    /// assert!(utm33n.contains(14.4, 50.1)); // Prague
    /// assert!(!utm33n.contains(151.2, -33.9)); // Sydney
    /// let gk114 = Crs::from_epsg(4547).unwrap().area_of_use().unwrap();
    /// assert!(gk114.contains(113.3, 23.1)); // Guangzhou
    /// assert!(!gk114.contains(14.4, 50.1));
    /// ```
    pub fn area_of_use(&self) -> Option<AreaOfUse> {
        let p = self.proj4();
        match param(p, "proj")? {
            "utm" => {
                let zone: f64 = param(p, "zone")?.parse().ok()?;
                let lon0 = -183.0 + 6.0 * zone;
                let south = param(p, "south").is_some();
                Some(tm_area(
                    lon0,
                    Some(south),
                    &format!("UTM zone {zone}{}", if south { 'S' } else { 'N' }),
                ))
            }
            "tmerc" | "etmerc" => {
                let lon0: f64 = param(p, "lon_0").map_or(Some(0.0), |v| v.parse().ok())?;
                Some(tm_area(lon0, None, "this transverse Mercator zone"))
            }
            "krovak" => Some(AreaOfUse {
                west: 10.0,
                south: 46.0,
                east: 25.0,
                north: 53.0,
                description: "Czechia and Slovakia (Krovak)".into(),
            }),
            _ => None,
        }
    }
}

/// A transverse Mercator zone's area: ±6° of longitude around `lon0`; for UTM its hemisphere
/// (with 1° beyond the equator).
fn tm_area(lon0: f64, south: Option<bool>, name: &str) -> AreaOfUse {
    let (s, n, hemi) = match south {
        Some(true) => (-80.0, 1.0, ", southern hemisphere"),
        Some(false) => (-1.0, 84.0, ", northern hemisphere"),
        None => (-85.0, 85.0, ""),
    };
    AreaOfUse {
        west: lon0 - TM_HALF_WIDTH_DEG,
        south: s,
        east: lon0 + TM_HALF_WIDTH_DEG,
        north: n,
        description: format!(
            "{name}: within {}° of its central meridian {}{hemi}",
            fmt_num(TM_HALF_WIDTH_DEG),
            deg(lon0)
        ),
    }
}

/// The CRS that fits data at (lon, lat): a CGCS2000 3-degree Gauss-Krüger zone in China
/// (EPSG:4534–4554), a UTM zone elsewhere; as "EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger
/// CM 114E)".
///
/// # Examples
/// ```
/// use cim_engine::crs_fitting;
/// assert!(crs_fitting(113.3, 23.1).starts_with("EPSG:4547"));
/// assert!(crs_fitting(14.4, 50.1).starts_with("EPSG:32633"));
/// assert!(crs_fitting(151.2, -33.9).starts_with("EPSG:32756"));
/// ```
pub fn crs_fitting(lon: f64, lat: f64) -> String {
    let in_china = (73.0..=136.0).contains(&lon) && (3.0..=54.0).contains(&lat);
    let code = if in_china {
        let cm = ((lon / 3.0).round() * 3.0).clamp(75.0, 135.0);
        4534 + ((cm - 75.0) / 3.0) as u32
    } else {
        let zone = (((lon + 180.0) / 6.0).floor() as i64).rem_euclid(60) as u32 + 1;
        if lat < 0.0 {
            32700 + zone
        } else {
            32600 + zone
        }
    };
    match Crs::from_epsg(code) {
        Ok(c) => format!("EPSG:{code} ({})", c.display_name()),
        Err(_) => format!("EPSG:{code}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_distances() {
        let a = Crs::from_epsg(32633).unwrap().area_of_use().unwrap();
        assert_eq!((a.west, a.east), (9.0, 21.0));
        assert!(a.description.contains("15°E"), "{}", a.description);
        assert_eq!(a.distance_km(15.0, 50.0), 0.0);
        // One degree of latitude south of the hemisphere's edge (-1°): about 111 km.
        assert!((a.distance_km(15.0, -2.0) - 111.2).abs() < 0.5);
        let south = Crs::from_epsg(32756).unwrap().area_of_use().unwrap();
        assert!(south.contains(151.2, -33.9) && !south.contains(151.2, 33.9));
        // Across the antimeridian.
        let z1 = Crs::from_epsg(32601).unwrap().area_of_use().unwrap();
        assert!(z1.contains(179.5, 10.0) && z1.contains(-179.5, 10.0));
        let gk = Crs::from_epsg(4526).unwrap().area_of_use().unwrap(); // zone 38, 114E
        assert!(gk.contains(114.0, 30.0));
        assert_eq!(crs_fitting(116.4, 39.9).split(' ').next(), Some("EPSG:4548"));
    }
}
