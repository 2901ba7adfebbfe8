//! Is the data where the project is? Each feature is checked against the area of use of the
//! project CRS (in longitude and latitude) and against the project's data so far, so that a
//! wrong .prj, a Gauss-Krüger zone off by one or data from another city is caught at import,
//! not found later a thousand kilometres away.

use cim_engine::{crs_fitting, AreaOfUse, Crs, Transform};
use geo::Coord;

/// Data further than this from the project's other data is warned about.
pub const FAR_FROM_PROJECT_KM: f64 = 100.0;

/// What one source's features are checked against.
pub(crate) struct PlaceCheck {
    area: Option<AreaOfUse>,
    project_crs: String,
    /// Source → WGS 84; `None` where the source is geographic (its x, y are lon, lat).
    wgs84_from_source: Option<Transform>,
    /// The source's false easting, where it is a transverse Mercator CRS (zone prefix hints).
    source_false_easting: Option<f64>,
    /// The project's data so far (layers' extents), in the project CRS.
    extent: Option<[f64; 4]>,
}

/// Where a feature lies, if it is not where it should be.
pub(crate) enum Misplaced {
    /// Outside the project CRS's area of use: the import fails if every feature is.
    OutsideArea(String),
    /// Far from the project's other data: a warning.
    FarFromProject(String),
}

/// No transverse Mercator zone reaches further from its meridian than this (UTM's 6° zones
/// are about 670 km wide at the equator; 3-degree Gauss-Krüger zones half that).
const MAX_TM_OFFSET_M: f64 = 2_000_000.0;

impl PlaceCheck {
    /// A zone-prefixed easting (38 500 000) read with an unprefixed CRS (x_0 = 500 000).
    fn prefix_cause(&self, first: Coord<f64>) -> Option<String> {
        let fe = self.source_false_easting?;
        if !(fe < 1.0e6 && (1.0e7..1.0e8).contains(&first.x.abs())) {
            return None;
        }
        let zone = (first.x / 1.0e6).floor();
        Some(format!(
            "the eastings ({:.0}) look like they carry a Gauss-Krüger zone number ({zone}) that the source CRS \
             does not: pass --src-crs with the zone-prefixed CRS (false easting {zone}500000)",
            first.x
        ))
    }

    pub fn new(project_crs: &Crs, source_crs: &Crs, extent: Option<[f64; 4]>) -> PlaceCheck {
        let wgs84 = Crs::from_epsg(4326).ok();
        let wgs84_from_source = match (&wgs84, source_crs.is_geographic()) {
            (Some(w), false) => Some(Transform::new(w, source_crs)),
            _ => None,
        };
        let tm = matches!(source_crs.proj_param("proj"), Some("tmerc" | "etmerc" | "utm"));
        PlaceCheck {
            area: project_crs.area_of_use(),
            project_crs: project_crs.to_string(),
            wgs84_from_source,
            source_false_easting: if tm {
                Some(
                    source_crs
                        .proj_param("x_0")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0),
                )
            } else {
                None
            },
            extent,
        }
    }

    fn lon_lat(&self, c: Coord<f64>) -> Option<(f64, f64)> {
        match &self.wgs84_from_source {
            None => Some((c.x, c.y)),
            Some(t) => t.apply(c.x, c.y).ok(),
        }
    }

    /// Checks a feature by its first coordinate in the source CRS (`first`) and its box in the
    /// project CRS (`envelope`).
    pub fn check(&self, first: Coord<f64>, envelope: Option<[f64; 4]>) -> Option<Misplaced> {
        // An easting further from its zone's meridian than any zone reaches cannot be placed
        // (the projection's inverse gives nonsense there, or nothing).
        if let Some(fe) = self.source_false_easting {
            if (first.x - fe).abs() > MAX_TM_OFFSET_M {
                return Some(Misplaced::OutsideArea(format!(
                    "its easting {:.0} lies {:.0} km from the source CRS's central meridian, beyond any \
                     transverse Mercator zone; {}",
                    first.x,
                    (first.x - fe).abs() / 1000.0,
                    self.prefix_cause(first)
                        .unwrap_or_else(|| "is the source CRS right? (pass --src-crs)".to_string())
                )));
            }
        }
        let Some((lon, lat)) = self
            .lon_lat(first)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        else {
            return Some(Misplaced::OutsideArea(format!(
                "({}, {}) cannot be placed on the Earth in the source CRS (is it right? pass --src-crs)",
                first.x, first.y
            )));
        };
        if let Some(area) = &self.area {
            if !area.contains(lon, lat) {
                let km = area.distance_km(lon, lat);
                return Some(Misplaced::OutsideArea(format!(
                    "lies at {lon:.4}°, {lat:.4}° (longitude, latitude), {km:.0} km outside where the project CRS \
                     {} is used ({}); {}",
                    self.project_crs,
                    area.description,
                    self.cause(first, lon, lat)
                )));
            }
        }
        let (Some(e), Some(f)) = (self.extent, envelope) else {
            return None;
        };
        // Gap between the boxes, in the project CRS (metres).
        let dx = (e[0] - f[2]).max(f[0] - e[2]).max(0.0);
        let dy = (e[1] - f[3]).max(f[1] - e[3]).max(0.0);
        let km = dx.hypot(dy) / 1000.0;
        (km > FAR_FROM_PROJECT_KM).then(|| {
            Misplaced::FarFromProject(format!(
                "lies {km:.0} km from the project's other data (is the source CRS right?)"
            ))
        })
    }

    /// The likely cause of data outside the project CRS's area, in words.
    fn cause(&self, first: Coord<f64>, lon: f64, lat: f64) -> String {
        if let Some(c) = self.prefix_cause(first) {
            return c;
        }
        format!(
            "data there fits {}: if it really lies there, it belongs in a project in that CRS; if not, \
             the source CRS is wrong (a zone off by one? pass --src-crs)",
            crs_fitting(lon, lat)
        )
    }
}
