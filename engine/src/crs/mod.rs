//! Coordinate reference systems and transforms (pure Rust, on proj4rs).
//!
//! Minimal first cut: EPSG codes via proj4rs' `crs-definitions`. To be extended with WKT (.prj,
//! GeoPackage), GeoTIFF geokeys and CGCS2000 Gauss-Krüger names.

use crate::error::{EngineError, Result};
use proj4rs::Proj;
use std::fmt;

/// A coordinate reference system.
pub struct Crs {
    epsg: Option<u32>,
    name: String,
    proj4: String,
    proj: Proj,
}

impl Crs {
    pub fn from_epsg(code: u32) -> Result<Crs> {
        let unknown = |reason: String| EngineError::UnknownCrs {
            crs: format!("EPSG:{code}"),
            reason,
            path: None,
        };
        let code16 = u16::try_from(code).map_err(|_| unknown("code out of range".into()))?;
        let def = crs_definitions::from_code(code16)
            .ok_or_else(|| unknown("not in the built-in EPSG table".into()))?;
        let proj = Proj::from_proj_string(def.proj4).map_err(|e| unknown(e.to_string()))?;
        Ok(Crs {
            epsg: Some(code),
            name: format!("EPSG:{code}"),
            proj4: def.proj4.to_string(),
            proj,
        })
    }

    /// Parses `EPSG:4547`, `4547`, or a PROJ string (`+proj=...`).
    pub fn parse(text: &str) -> Result<Crs> {
        let t = text.trim();
        let digits = t
            .strip_prefix("EPSG:")
            .or_else(|| t.strip_prefix("epsg:"))
            .unwrap_or(t);
        if let Ok(code) = digits.parse::<u32>() {
            return Crs::from_epsg(code);
        }
        if t.starts_with('+') {
            let proj = Proj::from_proj_string(t).map_err(|e| EngineError::UnknownCrs {
                crs: t.to_string(),
                reason: e.to_string(),
                path: None,
            })?;
            return Ok(Crs {
                epsg: None,
                name: t.to_string(),
                proj4: t.to_string(),
                proj,
            });
        }
        Err(EngineError::UnknownCrs {
            crs: t.to_string(),
            reason: "expected EPSG:code or a PROJ string".into(),
            path: None,
        })
    }

    pub fn epsg(&self) -> Option<u32> {
        self.epsg
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn proj4(&self) -> &str {
        &self.proj4
    }
    pub fn is_geographic(&self) -> bool {
        self.proj.is_latlong()
    }
}

impl Clone for Crs {
    fn clone(&self) -> Self {
        match &self.epsg {
            Some(c) => Crs::from_epsg(*c).unwrap_or_else(|_| unreachable_clone(self)),
            None => unreachable_clone(self),
        }
    }
}

fn unreachable_clone(c: &Crs) -> Crs {
    // A Crs was built from this same PROJ string once, so building it again cannot fail.
    #[allow(clippy::expect_used)]
    let proj = Proj::from_proj_string(&c.proj4).expect("PROJ string parsed before");
    Crs {
        epsg: c.epsg,
        name: c.name.clone(),
        proj4: c.proj4.clone(),
        proj,
    }
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Crs({})", self.name)
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Self) -> bool {
        self.proj4 == other.proj4
    }
}

/// A transform `target_from_source`.
pub struct Transform {
    source: Crs,
    target: Crs,
    identity: bool,
}

impl Transform {
    pub fn new(target: &Crs, source: &Crs) -> Transform {
        Transform {
            identity: target == source,
            source: source.clone(),
            target: target.clone(),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// Transforms one point; geographic coordinates are in degrees (x = longitude).
    pub fn apply(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        if self.identity {
            return Ok((x, y));
        }
        let (mut px, mut py) = (x, y);
        if self.source.proj.is_latlong() {
            px = px.to_radians();
            py = py.to_radians();
        }
        let mut p = (px, py, 0.0);
        proj4rs::transform::transform(&self.source.proj, &self.target.proj, &mut p).map_err(|e| {
            EngineError::Transform {
                x,
                y,
                reason: e.to_string(),
            }
        })?;
        let (mut ox, mut oy) = (p.0, p.1);
        if self.target.proj.is_latlong() {
            ox = ox.to_degrees();
            oy = oy.to_degrees();
        }
        if !ox.is_finite() || !oy.is_finite() {
            return Err(EngineError::Transform {
                x,
                y,
                reason: "result is not finite".into(),
            });
        }
        Ok((ox, oy))
    }

    /// Transforms every coordinate of a geometry in place.
    pub fn apply_geometry(&self, g: &mut geo::Geometry<f64>) -> Result<()> {
        use geo::MapCoordsInPlace;
        if self.identity {
            return Ok(());
        }
        // `map_coords_in_place` wants a `Fn + Copy` closure: record the first failure in a Cell.
        let failed: std::cell::Cell<Option<(f64, f64)>> = std::cell::Cell::new(None);
        let failed_ref = &failed;
        g.map_coords_in_place(move |c| match self.apply(c.x, c.y) {
            Ok((x, y)) => geo::Coord { x, y },
            Err(_) => {
                if failed_ref.get().is_none() {
                    failed_ref.set(Some((c.x, c.y)));
                }
                c
            }
        });
        match failed.get() {
            Some((x, y)) => self.apply(x, y).map(|_| ()),
            None => Ok(()),
        }
    }
}
