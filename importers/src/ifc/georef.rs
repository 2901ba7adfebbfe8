//! Where an IFC model lies on the map, as its file says: the project's length unit, and its
//! georeferencing in order of precedence (see ../shared/design.md, "Placing a BIM model"):
//!
//! 1. `IfcMapConversion` with `IfcProjectedCRS` (IFC4, 4.3), or the IFC2x3 property sets
//!    `ePSet_MapConversion` and `ePSet_ProjectedCRS` on the site: eastings, northings,
//!    orthogonal height, the rotation of the local x axis (abscissa and ordinate), and the
//!    scale. Where `Scale` is missing and the project's length unit is not the map's, the ratio
//!    of the units is the scale (a millimetre project on a metre CRS: 1000 local units are one
//!    metre, where a tool that takes a missing scale as 1 puts them a kilometre away).
//! 2. Else the site's `RefLatitude`, `RefLongitude` and `RefElevation` (a last resort, warned).
//! 3. Else nothing: the caller's `--origin` places it.

use crate::error::{ImportError, Result};

use super::step::{StepFile, Value};

/// How the model was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeorefMethod {
    /// IfcMapConversion + IfcProjectedCRS.
    MapConversion,
    /// ePSet_MapConversion + ePSet_ProjectedCRS (IFC2x3).
    PropertySets,
    /// IfcSite's reference latitude, longitude and elevation only.
    SiteLocation,
    /// Nothing in the file.
    None,
}

impl GeorefMethod {
    pub fn name(self) -> &'static str {
        match self {
            GeorefMethod::MapConversion => "IfcMapConversion",
            GeorefMethod::PropertySets => "ePSet_MapConversion",
            GeorefMethod::SiteLocation => "IfcSite latitude/longitude",
            GeorefMethod::None => "none",
        }
    }
}

/// A map conversion: local project coordinates (project length units) to map coordinates
/// (the CRS's units).
#[derive(Clone, Debug, PartialEq)]
pub struct MapConversion {
    /// The target CRS as named (`EPSG:25832`).
    pub crs: Option<String>,
    pub eastings: f64,
    pub northings: f64,
    pub height: f64,
    /// The local x axis's direction on the map (unit length): abscissa, ordinate.
    pub x_axis: [f64; 2],
    /// Local units to map units, per axis (x, y, z).
    pub scale: [f64; 3],
    /// Whether the scale came from the units because the file gives none.
    pub scale_from_units: bool,
}

impl MapConversion {
    /// Map coordinates of a local point (project length units).
    pub fn to_map(&self, p: [f64; 3]) -> [f64; 3] {
        let (x, y) = (p[0] * self.scale[0], p[1] * self.scale[1]);
        let [a, b] = self.x_axis;
        [
            self.eastings + a * x - b * y,
            self.northings + b * x + a * y,
            self.height + p[2] * self.scale[2],
        ]
    }

    /// The rotation of the local x axis from the map's east, degrees anticlockwise.
    pub fn rotation_deg(&self) -> f64 {
        self.x_axis[1].atan2(self.x_axis[0]).to_degrees()
    }
}

/// What the file says about where it lies.
#[derive(Clone, Debug, PartialEq)]
pub struct Georef {
    pub method: GeorefMethod,
    pub conversion: Option<MapConversion>,
    /// The site's reference latitude, longitude (degrees) and elevation (project units), where
    /// it gives them.
    pub site: Option<[f64; 3]>,
    /// The project's length unit in metres (0.001 for millimetres).
    pub unit_m: f64,
}

fn bad(f: &StepFile, reason: impl Into<String>) -> ImportError {
    ImportError::file(&f.path, reason)
}

/// Metres in one length unit named by an `IfcSIUnit` or `IfcConversionBasedUnit`.
fn unit_metres(f: &StepFile, id: u64, depth: usize) -> Result<Option<f64>> {
    if depth > 8 {
        return Err(bad(f, format!("#{id}: a unit defined in terms of itself")));
    }
    let u = f.get(id)?;
    match u.ty.as_str() {
        "IFCSIUNIT" => {
            let prefix = match u.params.get(2).and_then(Value::as_enum) {
                None => 1.0,
                Some("MILLI") => 1e-3,
                Some("CENTI") => 1e-2,
                Some("DECI") => 1e-1,
                Some("KILO") => 1e3,
                Some("MICRO") => 1e-6,
                Some(other) => {
                    return Err(bad(
                        f,
                        format!("#{id}: the length unit prefix {other} is not one cim knows"),
                    ))
                }
            };
            Ok(Some(prefix))
        }
        "IFCCONVERSIONBASEDUNIT" | "IFCCONVERSIONBASEDUNITWITHOFFSET" => {
            // Name, and a measure with its unit: 'FOOT' = 0.3048 × METRE.
            let Some(m) = u.params.get(3).and_then(Value::as_ref_id) else {
                return Ok(None);
            };
            let measure = f.get(m)?;
            let factor = measure.params.first().and_then(Value::as_f64);
            let base = match measure.params.get(1).and_then(Value::as_ref_id) {
                Some(b) => unit_metres(f, b, depth + 1)?,
                None => Some(1.0),
            };
            Ok(factor.zip(base).map(|(a, b)| a * b))
        }
        _ => Ok(None),
    }
}

/// The project's units of type `kind` (`LENGTHUNIT`, `PLANEANGLEUNIT`) as assigned, in order.
fn assigned_units(f: &StepFile, kind: &str) -> Result<Vec<super::step::Instance>> {
    let Some(&project) = f.ids_of("IFCPROJECT").first() else {
        return Err(bad(f, "no IfcProject: not an IFC model"));
    };
    let p = f.get(project)?;
    let Some(units) = p.params.get(8).and_then(Value::as_ref_id) else {
        return Ok(Vec::new());
    };
    let assignment = f.get_typed(units, &["IFCUNITASSIGNMENT"], project)?;
    let mut out = Vec::new();
    for u in assignment.params.first().and_then(Value::as_list).unwrap_or(&[]) {
        let Some(id) = u.as_ref_id() else { continue };
        let unit = f.get(id)?;
        if unit.params.get(1).and_then(Value::as_enum) == Some(kind) {
            out.push(unit);
        }
    }
    Ok(out)
}

/// The project's length unit in metres (1 where it states none).
pub fn project_length_unit_m(f: &StepFile) -> Result<f64> {
    for unit in assigned_units(f, "LENGTHUNIT")? {
        if let Some(m) = unit_metres(f, unit.id, 0)? {
            return Ok(m);
        }
    }
    Ok(1.0)
}

/// Radians in the project's plane angle unit (1 where it states none; π/180 for degrees).
pub fn plane_angle_unit_rad(f: &StepFile) -> Result<f64> {
    let Some(unit) = assigned_units(f, "PLANEANGLEUNIT")?.into_iter().next() else {
        return Ok(1.0);
    };
    if unit.ty == "IFCSIUNIT" {
        return Ok(1.0);
    }
    // A conversion-based unit: by its name, else its factor (to radians).
    let factor = unit
        .params
        .get(3)
        .and_then(Value::as_ref_id)
        .and_then(|m| f.get(m).ok())
        .and_then(|m| m.params.first().and_then(Value::as_f64))
        .filter(|v| *v > 0.0 && v.is_finite());
    let name = unit
        .params
        .get(2)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    Ok(match (factor, name.as_str()) {
        (_, "DEGREE") => std::f64::consts::PI / 180.0,
        (_, "GRAD" | "GON") => std::f64::consts::PI / 200.0,
        (Some(v), _) => v,
        (None, _) => 1.0,
    })
}

/// A compound plane angle (degrees, minutes, seconds, millionths of a second; all of one sign)
/// in degrees.
fn compound_angle(v: &Value) -> Option<f64> {
    let parts: Vec<f64> = v.as_list()?.iter().filter_map(Value::as_f64).collect();
    let at = |k: usize| parts.get(k).copied().unwrap_or(0.0);
    (!parts.is_empty()).then(|| at(0) + at(1) / 60.0 + (at(2) + at(3) / 1e6) / 3600.0)
}

/// The properties of the property set named `name` attached to instance `to`, by name.
fn property_set(f: &StepFile, to: u64, name: &str) -> Result<Option<Vec<(String, Value)>>> {
    for rel in f.ids_of("IFCRELDEFINESBYPROPERTIES") {
        let r = f.get(rel)?;
        let objects = r.params.get(4).and_then(Value::as_list).unwrap_or(&[]);
        if !objects.iter().any(|o| o.as_ref_id() == Some(to)) {
            continue;
        }
        let Some(set) = r.params.get(5).and_then(Value::as_ref_id) else {
            continue;
        };
        let s = f.get(set)?;
        if s.ty != "IFCPROPERTYSET" || s.params.get(2).and_then(Value::as_str) != Some(name) {
            continue;
        }
        return Ok(Some(set_values(f, &s)));
    }
    Ok(None)
}

/// The values of an `IfcPropertySet`'s single-value, enumerated and list properties, by name
/// (properties that cannot be read are left out).
pub(crate) fn set_values(f: &StepFile, set: &super::step::Instance) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for p in set.params.get(4).and_then(Value::as_list).unwrap_or(&[]) {
        let Some(prop) = p.as_ref_id().and_then(|id| f.get(id).ok()) else {
            continue;
        };
        if matches!(
            prop.ty.as_str(),
            "IFCPROPERTYSINGLEVALUE" | "IFCPROPERTYENUMERATEDVALUE" | "IFCPROPERTYLISTVALUE"
        ) {
            let key = prop
                .params
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            out.push((key, prop.params.get(2).cloned().unwrap_or(Value::Null)));
        }
    }
    out
}

/// The length unit of an `IfcProjectedCRS`'s `MapUnit` in metres (metres where it has none).
fn map_unit_m(f: &StepFile, crs: &super::step::Instance) -> Result<f64> {
    match crs.params.get(6).and_then(Value::as_ref_id) {
        Some(u) => Ok(unit_metres(f, u, 0)?.unwrap_or(1.0)),
        None => Ok(1.0),
    }
}

/// Reads the model's georeferencing.
pub fn read_georef(f: &StepFile) -> Result<Georef> {
    let unit_m = project_length_unit_m(f)?;
    // The site's location, where given.
    let mut site = None;
    let site_id = f.ids_of("IFCSITE").first().copied();
    if let Some(id) = site_id {
        let s = f.get(id)?;
        let lat = s.params.get(9).and_then(compound_angle);
        let lon = s.params.get(10).and_then(compound_angle);
        if let (Some(lat), Some(lon)) = (lat, lon) {
            let elev = s.params.get(11).and_then(Value::as_f64).unwrap_or(0.0);
            site = Some([lat, lon, elev]);
        }
    }
    // 1. IfcMapConversion (IfcMapConversionScaled in IFC 4.3 ADD2 has factors per axis).
    let conversions: Vec<u64> = ["IFCMAPCONVERSION", "IFCMAPCONVERSIONSCALED"]
        .iter()
        .flat_map(|t| f.ids_of(t))
        .collect();
    if let Some(&id) = conversions.first() {
        let m = f.get(id)?;
        let num = |k: usize| m.params.get(k).and_then(Value::as_f64);
        let (Some(e), Some(n), Some(h)) = (num(2), num(3), num(4)) else {
            return Err(bad(
                f,
                format!("#{id} (IfcMapConversion): eastings, northings or height missing"),
            ));
        };
        let target = m.params.get(1).and_then(Value::as_ref_id);
        let (crs, map_unit) = match target {
            Some(t) => {
                let c = f.get(t)?;
                (
                    c.params.first().and_then(Value::as_str).map(str::to_string),
                    map_unit_m(f, &c)?,
                )
            }
            None => (None, 1.0),
        };
        let axis = normalised(num(5), num(6));
        let units = unit_m / map_unit;
        // Scale (else the ratio of the units); IFC 4.3's scales per axis, or the factors of
        // IfcMapConversionScaled.
        let (s, from_units) = match num(7) {
            Some(s) => (s, false),
            None => (units, (units - 1.0).abs() > 1e-12),
        };
        let scale = if m.ty == "IFCMAPCONVERSIONSCALED" {
            [8, 9, 10].map(|k| s * num(k).unwrap_or(1.0))
        } else {
            [s, num(8).unwrap_or(s), num(9).unwrap_or(s)]
        };
        return Ok(Georef {
            method: GeorefMethod::MapConversion,
            conversion: Some(MapConversion {
                crs,
                eastings: e,
                northings: n,
                height: h,
                x_axis: axis,
                scale,
                scale_from_units: from_units,
            }),
            site,
            unit_m,
        });
    }
    // 2. The IFC2x3 property sets on the site.
    if let Some(id) = site_id {
        if let Some(props) = property_set(f, id, "ePSet_MapConversion")? {
            let num = |k: &str| props.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.as_f64());
            let (Some(e), Some(n)) = (num("Eastings"), num("Northings")) else {
                return Err(bad(f, "ePSet_MapConversion without Eastings and Northings"));
            };
            let crs = property_set(f, id, "ePSet_ProjectedCRS")?.and_then(|p| {
                p.iter()
                    .find(|(n, _)| n == "Name")
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            });
            let (scale, from_units) = match num("Scale") {
                Some(s) => ([s; 3], false),
                None => ([unit_m; 3], (unit_m - 1.0).abs() > 1e-12),
            };
            return Ok(Georef {
                method: GeorefMethod::PropertySets,
                conversion: Some(MapConversion {
                    crs,
                    eastings: e,
                    northings: n,
                    height: num("OrthogonalHeight").unwrap_or(0.0),
                    x_axis: normalised(num("XAxisAbscissa"), num("XAxisOrdinate")),
                    scale,
                    scale_from_units: from_units,
                }),
                site,
                unit_m,
            });
        }
    }
    Ok(Georef {
        method: if site.is_some() {
            GeorefMethod::SiteLocation
        } else {
            GeorefMethod::None
        },
        conversion: None,
        site,
        unit_m,
    })
}

/// The x axis direction (abscissa, ordinate) made unit length; east where not given.
fn normalised(a: Option<f64>, b: Option<f64>) -> [f64; 2] {
    let (a, b) = (a.unwrap_or(1.0), b.unwrap_or(0.0));
    let l = (a * a + b * b).sqrt();
    if l.is_finite() && l > 0.0 {
        [a / l, b / l]
    } else {
        [1.0, 0.0]
    }
}
