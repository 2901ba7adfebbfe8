//! Coordinate reference systems and transforms (pure Rust, on proj4rs).
//!
//! A [`Crs`] comes from an EPSG code ([`Crs::from_epsg`], [`Crs::parse`]), a WKT text of any
//! common dialect ([`Crs::from_wkt`]: OGC WKT1, ESRI `.prj`, WKT2), a GeoPackage
//! `gpkg_spatial_ref_sys` row ([`Crs::from_gpkg_srs`]) or GeoTIFF geokeys
//! ([`Crs::from_geokeys`]). Texts without an authority code are identified by their parameters
//! (UTM, CGCS2000 / Xian 1980 / Beijing 1954 Gauss-Krüger zones, Web Mercator, Krovak) or
//! their well-known name, and otherwise turned into a PROJ string.
//!
//! Axis order is always x = longitude / easting, y = latitude / northing, whatever the EPSG
//! axis order says; geographic coordinates are in degrees.
//!
//! Datum shifts follow the PROJ 4 rules of proj4rs: a shift is applied only when both sides
//! carry a datum (`+datum=` or `+towgs84=`). CGCS2000 (EPSG:4490 and its Gauss-Krüger zones)
//! has none, so WGS 84 ↔ CGCS2000 is a null transformation, as in PROJ (the two agree to a few
//! centimetres). S-JTSK (EPSG:5514, 4156) uses the 7-parameter "S-JTSK to WGS 84 (1)" Helmert
//! transformation (about 1 m) instead of the 3-parameter one (about 6 m) in the built-in table.

mod area;
mod geokeys;
mod spec;
mod wkt;
mod write;

pub use area::{crs_fitting, haversine_km, AreaOfUse};
pub use geokeys::GeoKeys;

use crate::error::{EngineError, Result};
use proj4rs::Proj;
use std::fmt;

/// The 3-parameter S-JTSK shift in the built-in EPSG table, and the 7-parameter one (EPSG
/// "S-JTSK to WGS 84 (1)", position-vector convention) used instead.
const SJTSK_TOWGS84_3: &str = "589,76,480,0,0,0,0";
pub(crate) const SJTSK_TOWGS84: &str = "570.8,85.7,462.8,4.998,1.587,5.261,3.56";

/// A coordinate reference system.
#[derive(Clone)]
pub struct Crs {
    epsg: Option<u32>,
    name: String,
    display: String,
    proj4: String,
    proj: Proj,
}

/// Whether a Transverse Mercator spec's central meridian, origin latitude, scale and false
/// origin are those of `crs` (read from its PROJ string; missing parameters take PROJ's
/// defaults).
fn tm_agrees(spec: &spec::Spec, crs: &Crs) -> bool {
    let param = |key: &str| -> Option<f64> {
        crs.proj4()
            .split_whitespace()
            .find_map(|t| t.strip_prefix(&format!("+{key}=")))
            .and_then(|v| v.parse().ok())
    };
    let same = |a: Option<f64>, b: Option<f64>, default: f64, tol: f64| {
        (a.unwrap_or(default) - b.unwrap_or(default)).abs() <= tol
    };
    let p4 = crs.proj4();
    let (lon_0, lat_0, k, x_0, y_0) = if p4.contains("+proj=utm") {
        let Some(zone) = param("zone") else {
            return false;
        };
        let south = p4.contains("+south");
        (
            Some(zone * 6.0 - 183.0),
            Some(0.0),
            Some(0.9996),
            Some(500_000.0),
            Some(if south { 10_000_000.0 } else { 0.0 }),
        )
    } else if p4.contains("+proj=tmerc") || p4.contains("+proj=etmerc") {
        (
            param("lon_0"),
            param("lat_0"),
            param("k").or(param("k_0")),
            param("x_0"),
            param("y_0"),
        )
    } else {
        return false;
    };
    same(spec.lon_0, lon_0, 0.0, 1e-9)
        && same(spec.lat_0, lat_0, 0.0, 1e-9)
        && same(spec.k, k, 1.0, 1e-12)
        && same(spec.x_0, x_0, 0.0, 1e-4)
        && same(spec.y_0, y_0, 0.0, 1e-4)
}

fn unknown(crs: impl Into<String>, reason: impl Into<String>) -> EngineError {
    EngineError::UnknownCrs {
        crs: crs.into(),
        reason: reason.into(),
        path: None,
    }
}

/// The first quoted string of a WKT text (the CRS name).
fn wkt_name(wkt: &str) -> Option<&str> {
    let start = wkt.find('"')? + 1;
    let len = wkt[start..].find('"')?;
    Some(&wkt[start..start + len])
}

/// A short excerpt of a text for error messages.
fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

/// Compound CRSs newer than the built-in EPSG table that BIM models name, each as its
/// horizontal CRS (heights pass through unchanged): (code, horizontal code, name).
const COMPOUND: &[(u32, u16, &str)] = &[(9897, 2169, "LUREF / Luxembourg TM + NG95 height")];

impl Crs {
    /// A CRS from the built-in EPSG table (about 6000 codes, all CGCS2000 zones included).
    pub fn from_epsg(code: u32) -> Result<Crs> {
        let crs = format!("EPSG:{code}");
        let code16 = u16::try_from(code).map_err(|_| unknown(&crs, "code out of range"))?;
        if let Some((_, horizontal, name)) = COMPOUND.iter().find(|c| c.0 == code) {
            let def = crs_definitions::from_code(*horizontal)
                .ok_or_else(|| unknown(&crs, "its horizontal CRS is not in the built-in EPSG table"))?;
            let proj = Proj::from_proj_string(def.proj4).map_err(|e| unknown(&crs, e.to_string()))?;
            return Ok(Crs {
                epsg: Some(code),
                display: name.to_string(),
                name: crs,
                proj4: def.proj4.to_string(),
                proj,
            });
        }
        let def = crs_definitions::from_code(code16)
            .ok_or_else(|| unknown(&crs, "not in the built-in EPSG table"))?;
        let proj4 = def.proj4.replace(SJTSK_TOWGS84_3, SJTSK_TOWGS84);
        let proj = Proj::from_proj_string(&proj4).map_err(|e| unknown(&crs, e.to_string()))?;
        Ok(Crs {
            epsg: Some(code),
            display: wkt_name(def.wkt).unwrap_or(&crs).to_string(),
            name: crs,
            proj4,
            proj,
        })
    }

    fn from_proj4(proj4: &str, name: &str) -> Result<Crs> {
        let proj = Proj::from_proj_string(proj4)
            .map_err(|e| unknown(name, format!("PROJ string '{proj4}' was rejected: {e}")))?;
        Ok(Crs {
            epsg: None,
            name: name.to_string(),
            display: name.to_string(),
            proj4: proj4.to_string(),
            proj,
        })
    }

    /// Parses `EPSG:4547`, `4547`, `urn:ogc:def:crs:EPSG::4547`,
    /// `http://www.opengis.net/def/crs/EPSG/0/4547`, `CRS84` / `urn:ogc:def:crs:OGC:1.3:CRS84`
    /// (GeoJSON), a PROJ string (`+proj=...`) or a WKT text.
    pub fn parse(text: &str) -> Result<Crs> {
        let t = text.trim();
        let upper = t.to_ascii_uppercase();
        if upper.ends_with("CRS84") || upper.ends_with("CRS:84") {
            return Crs::from_epsg(4326);
        }
        let digits = if let Some(rest) = upper.strip_prefix("EPSG:") {
            rest.trim_start_matches(':')
        } else if upper.starts_with("URN:OGC:DEF:CRS:EPSG:") || upper.contains("OPENGIS.NET/DEF/CRS/EPSG/") {
            upper.rsplit([':', '/']).next().unwrap_or("")
        } else {
            upper.as_str()
        };
        if let Ok(code) = digits.parse::<u32>() {
            return Crs::from_epsg(code);
        }
        if t.starts_with('+') {
            return Crs::from_proj4(t, t);
        }
        if t.contains('[') {
            return Crs::from_wkt(t);
        }
        Err(unknown(
            t,
            "expected EPSG:code, a PROJ string (+proj=...) or a WKT text",
        ))
    }

    /// A CRS from WKT: OGC WKT1 (GDAL, GeoPackage), ESRI WKT (`.prj`) or WKT2 (ISO 19162).
    ///
    /// In order: the top-level `AUTHORITY["EPSG",..]`/`ID["EPSG",..]`; the parameters, when
    /// they match a known family (UTM, Chinese Gauss-Krüger zones, Web Mercator, Krovak East
    /// North, the geographic CRSs of WGS 84, CGCS2000, Xian 1980, Beijing 1954, S-JTSK); the
    /// well-known name (ESRI names such as `CGCS2000_3_Degree_GK_CM_114E`); and otherwise a
    /// PROJ string built from PROJECTION + PARAMETERs + SPHEROID/TOWGS84.
    pub fn from_wkt(wkt: &str) -> Result<Crs> {
        let top = wkt::parse(wkt).map_err(|r| unknown(excerpt(wkt), r))?;
        let node = wkt::horizontal(&top);
        let label = node.name().map(str::to_string).unwrap_or_else(|| excerpt(wkt));
        if let Some(code) = node.epsg() {
            if let Ok(c) = Crs::from_epsg(code) {
                // A Transverse Mercator WKT whose parameters say otherwise than its own EPSG code
                // (a local Gauss-Krüger zone labelled with a standard one, as photogrammetry
                // tools write): its parameters win.
                if let Ok(spec) = wkt::to_spec(node) {
                    if spec.method == Some(spec::Method::TransverseMercator) && !tm_agrees(&spec, &c) {
                        if let Some(own) = spec.identify() {
                            return Crs::from_epsg(own);
                        }
                        if let Ok(proj4) = spec.to_proj4() {
                            return Crs::from_proj4(
                                &proj4,
                                &format!("{label} (its parameters, not EPSG:{code})"),
                            );
                        }
                    }
                }
                return Ok(c);
            }
        }
        if let Some((org, code)) = node.authority() {
            // ESRI's own codes for Web Mercator.
            if org.eq_ignore_ascii_case("ESRI") && (code == "102100" || code == "102113") {
                return Crs::from_epsg(3857);
            }
        }
        // GDAL writes EXTENSION["PROJ4",...] where WKT1 cannot say it (Web Mercator).
        if let Some(ext) = node
            .child(&["EXTENSION"])
            .filter(|e| e.name().is_some_and(|n| n.eq_ignore_ascii_case("PROJ4")))
            .and_then(|e| match e.args.get(1) {
                Some(wkt::Value::Str(s)) => Some(s.clone()),
                _ => None,
            })
        {
            if let Some(code) = node.name().and_then(spec::code_from_name) {
                return Crs::from_epsg(code);
            }
            return Crs::from_proj4(ext.trim(), &label);
        }
        let spec = wkt::to_spec(node);
        if let Ok(spec) = &spec {
            if let Some(code) = spec.identify() {
                return Crs::from_epsg(code);
            }
        }
        if let Some(code) = node.name().and_then(spec::code_from_name) {
            return Crs::from_epsg(code);
        }
        let spec = spec.map_err(|r| unknown(&label, r))?;
        if !spec.geographic && spec.method.is_none() {
            return Err(unknown(
                &label,
                format!(
                    "a {} without projection parameters and with an unrecognised name",
                    node.key
                ),
            ));
        }
        let proj4 = spec.to_proj4().map_err(|r| unknown(&label, r))?;
        Crs::from_proj4(&proj4, &label)
    }

    /// A CRS from a GeoPackage `gpkg_spatial_ref_sys` row: `organization`,
    /// `organization_coordsys_id` and `definition`. An EPSG organisation gives the code;
    /// otherwise the WKT definition is read. `undefined` definitions (srs_id -1 and 0) are an
    /// error. Callers with the WKT2 extension may retry [`Crs::from_wkt`] on
    /// `definition_12_063` when this fails.
    pub fn from_gpkg_srs(organization: &str, org_id: i64, definition: &str) -> Result<Crs> {
        let label = format!("{organization}:{org_id}");
        let mut epsg_err = None;
        if organization.trim().eq_ignore_ascii_case("EPSG") && org_id > 0 {
            match u32::try_from(org_id).map_err(|_| unknown(&label, "code out of range")) {
                Ok(code) => match Crs::from_epsg(code) {
                    Ok(c) => return Ok(c),
                    Err(e) => epsg_err = Some(e),
                },
                Err(e) => epsg_err = Some(e),
            }
        }
        let def = definition.trim();
        if def.is_empty() || def.eq_ignore_ascii_case("undefined") {
            return Err(epsg_err.unwrap_or_else(|| {
                unknown(
                    &label,
                    "the GeoPackage declares this CRS as undefined (no definition)",
                )
            }));
        }
        Crs::from_wkt(def).map_err(|e| epsg_err.unwrap_or(e))
    }

    /// A CRS from GeoTIFF geokeys: ProjectedCSType / GeographicType EPSG codes, user-defined
    /// projections (ProjectedCSType 32767 with ProjCoordTrans TM, Mercator, LCC, LAEA, Albers,
    /// or a UTM ProjectionGeoKey), and as a last resort an ESRI PE string or well-known name in
    /// the citation.
    pub fn from_geokeys(keys: &GeoKeys) -> Result<Crs> {
        use geokeys::USER_DEFINED;
        let label = keys.describe();
        let citation_crs = || -> Option<Crs> {
            for c in [&keys.pcs_citation, &keys.citation, &keys.geog_citation]
                .into_iter()
                .flatten()
            {
                if let Some(i) = c.find("PROJCS[").or_else(|| c.find("GEOGCS[")) {
                    if let Ok(crs) = Crs::from_wkt(&c[i..]) {
                        return Some(crs);
                    }
                }
                if let Some(code) = spec::code_from_name(c) {
                    return Crs::from_epsg(code).ok();
                }
            }
            None
        };
        let projected = match keys.model_type {
            Some(1) => true,
            Some(2) => false,
            Some(3) => return Err(unknown(label, "geocentric model type is not supported")),
            Some(m) => return Err(unknown(label, format!("unknown model type {m}"))),
            None => keys.projected_cs.is_some(),
        };
        if projected {
            match keys.projected_cs {
                Some(code) if code != USER_DEFINED && code != 0 => return Crs::from_epsg(u32::from(code)),
                _ => {}
            }
            let spec = match keys.projected_spec() {
                Ok(s) => s,
                Err(r) => return citation_crs().ok_or_else(|| unknown(label, r)),
            };
            if let Some(code) = spec.identify() {
                return Crs::from_epsg(code);
            }
            let proj4 = spec.to_proj4().map_err(|r| unknown(&label, r))?;
            let name = spec
                .name
                .clone()
                .unwrap_or_else(|| "user-defined (GeoTIFF)".into());
            return Crs::from_proj4(&proj4, &name);
        }
        match keys.geographic_cs {
            Some(code) if code != USER_DEFINED && code != 0 => Crs::from_epsg(u32::from(code)),
            Some(_) => {
                let mut s = spec::Spec {
                    geographic: true,
                    name: keys.geog_citation.clone(),
                    ..spec::Spec::default()
                };
                if let Err(r) = keys.geographic_spec(&mut s) {
                    return citation_crs().ok_or_else(|| unknown(label, r));
                }
                if let Some(code) = s.identify() {
                    return Crs::from_epsg(code);
                }
                let proj4 = s.to_proj4().map_err(|r| unknown(&label, r))?;
                let name = s.name.clone().unwrap_or_else(|| "user-defined (GeoTIFF)".into());
                Crs::from_proj4(&proj4, &name)
            }
            None => citation_crs().ok_or_else(|| unknown(label, "no ProjectedCSType or GeographicType key")),
        }
    }

    /// OGC WKT1 for `gpkg_spatial_ref_sys.definition` and `.prj` files. Carries
    /// `AUTHORITY["EPSG",code]` when the code is known, so GDAL and QGIS recognise it.
    pub fn to_wkt(&self) -> String {
        if let Some(def) = self
            .epsg
            .and_then(|c| u16::try_from(c).ok())
            .and_then(crs_definitions::from_code)
        {
            return def.wkt.replace(
                "TOWGS84[589,76,480,0,0,0,0]",
                &format!("TOWGS84[{SJTSK_TOWGS84}]"),
            );
        }
        write::wkt_from_proj4(&self.display, &self.proj4, self.is_geographic())
    }

    pub fn epsg(&self) -> Option<u32> {
        self.epsg
    }
    /// `EPSG:4547` for EPSG CRSs, otherwise the CRS's own name (WKT name, PROJ string).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// A human name: the EPSG name (`CGCS2000 / 3-degree Gauss-Kruger CM 114E`,
    /// `WGS 84 / UTM zone 33N`) or the CRS's own name.
    pub fn display_name(&self) -> &str {
        &self.display
    }
    pub fn proj4(&self) -> &str {
        &self.proj4
    }
    pub fn is_geographic(&self) -> bool {
        self.proj.is_latlong()
    }
    /// True for a projected CRS whose unit is the metre (what a project CRS must be).
    pub fn is_projected_metres(&self) -> bool {
        !self.proj.is_latlong() && !self.proj.is_geocent() && (self.proj.to_meter() - 1.0).abs() < 1e-12
    }
    /// Metres in the CRS's linear unit (0.3048 for international feet); 1 for a geographic CRS,
    /// whose heights are in metres.
    pub fn to_meter(&self) -> f64 {
        if self.proj.is_latlong() {
            1.0
        } else {
            self.proj.to_meter()
        }
    }
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Crs({})", self.name)
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.epsg {
            Some(c) => write!(f, "EPSG:{c} ({})", self.display),
            None => f.write_str(&self.display),
        }
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Self) -> bool {
        self.proj4 == other.proj4
    }
}

impl Crs {
    /// Whether the two place points alike on the map: the same projection and datum, whatever
    /// their heights (a compound CRS such as EPSG:7415, RD New + NAP, and its horizontal CRS
    /// EPSG:28992).
    pub fn same_horizontal(&self, other: &Crs) -> bool {
        fn horizontal(p: &str) -> Vec<&str> {
            let mut t: Vec<&str> = p
                .split_whitespace()
                .filter(|t| {
                    !(t.starts_with("+vunits")
                        || t.starts_with("+geoidgrids")
                        || *t == "+no_defs"
                        || t.starts_with("+type"))
                })
                .collect();
            t.sort_unstable();
            t
        }
        self == other || horizontal(&self.proj4) == horizontal(&other.proj4)
    }
}

/// Points per batch in the bulk paths (kept on the stack so a failed batch leaves the input
/// untouched and the failing coordinate can be reported with its original value).
const CHUNK: usize = 128;

struct Batch {
    x: [f64; CHUNK],
    y: [f64; CHUNK],
    z: [f64; CHUNK],
    n: usize,
    failed: Option<usize>,
}

impl Batch {
    fn new(n: usize) -> Batch {
        Batch {
            x: [0.0; CHUNK],
            y: [0.0; CHUNK],
            z: [0.0; CHUNK],
            n,
            failed: None,
        }
    }
}

impl proj4rs::transform::Transform for Batch {
    fn transform_coordinates<F: proj4rs::transform::TransformClosure>(
        &mut self,
        f: &mut F,
    ) -> proj4rs::errors::Result<()> {
        for i in 0..self.n {
            match f(self.x[i], self.y[i], self.z[i]) {
                Ok((x, y, z)) => {
                    self.x[i] = x;
                    self.y[i] = y;
                    self.z[i] = z;
                }
                Err(e) => {
                    self.failed = Some(i);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// A transform `target_from_source`.
#[derive(Clone)]
pub struct Transform {
    source: Crs,
    target: Crs,
    identity: bool,
    src_deg: bool,
    dst_deg: bool,
}

impl Transform {
    pub fn new(target: &Crs, source: &Crs) -> Transform {
        Transform {
            identity: target.same_horizontal(source),
            src_deg: source.proj.is_latlong(),
            dst_deg: target.proj.is_latlong(),
            source: source.clone(),
            target: target.clone(),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.identity
    }
    pub fn source(&self) -> &Crs {
        &self.source
    }
    pub fn target(&self) -> &Crs {
        &self.target
    }

    fn fail(x: f64, y: f64, reason: impl Into<String>) -> EngineError {
        EngineError::Transform {
            x,
            y,
            reason: reason.into(),
        }
    }

    /// Transforms one point; geographic coordinates are in degrees (x = longitude).
    pub fn apply(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        if self.identity {
            return Ok((x, y));
        }
        let mut p = if self.src_deg {
            (x.to_radians(), y.to_radians(), 0.0)
        } else {
            (x, y, 0.0)
        };
        proj4rs::transform::transform(&self.source.proj, &self.target.proj, &mut p)
            .map_err(|e| Transform::fail(x, y, e.to_string()))?;
        let (ox, oy) = if self.dst_deg {
            (p.0.to_degrees(), p.1.to_degrees())
        } else {
            (p.0, p.1)
        };
        if !ox.is_finite() || !oy.is_finite() {
            return Err(Transform::fail(x, y, "result is not finite"));
        }
        Ok((ox, oy))
    }

    /// Transforms parallel coordinate arrays in place (the bulk path: about one proj4rs
    /// pipeline pass per 128 points). On error the arrays are partly transformed and the error
    /// names the index and original value of the first failing point.
    pub fn apply_slice(&self, xs: &mut [f64], ys: &mut [f64]) -> Result<()> {
        if xs.len() != ys.len() {
            return Err(Transform::fail(
                f64::NAN,
                f64::NAN,
                format!("x and y arrays differ in length ({} vs {})", xs.len(), ys.len()),
            ));
        }
        if self.identity {
            return Ok(());
        }
        for (c, (xc, yc)) in xs.chunks_mut(CHUNK).zip(ys.chunks_mut(CHUNK)).enumerate() {
            let mut b = Batch::new(xc.len());
            b.x[..xc.len()].copy_from_slice(xc);
            b.y[..yc.len()].copy_from_slice(yc);
            self.run_batch(&mut b, c * CHUNK, |i| (xc[i], yc[i]))?;
            xc.copy_from_slice(&b.x[..xc.len()]);
            yc.copy_from_slice(&b.y[..yc.len()]);
        }
        Ok(())
    }

    /// Transforms a slice of coordinates in place; see [`Transform::apply_slice`].
    pub fn apply_coords(&self, coords: &mut [geo::Coord<f64>]) -> Result<()> {
        self.apply_coords_from(coords, 0)
    }

    fn apply_coords_from(&self, coords: &mut [geo::Coord<f64>], first_index: usize) -> Result<()> {
        if self.identity {
            return Ok(());
        }
        for (c, chunk) in coords.chunks_mut(CHUNK).enumerate() {
            let mut b = Batch::new(chunk.len());
            for (i, p) in chunk.iter().enumerate() {
                b.x[i] = p.x;
                b.y[i] = p.y;
            }
            self.run_batch(&mut b, first_index + c * CHUNK, |i| (chunk[i].x, chunk[i].y))?;
            for (i, p) in chunk.iter_mut().enumerate() {
                *p = geo::Coord { x: b.x[i], y: b.y[i] };
            }
        }
        Ok(())
    }

    /// Runs a batch (input in degrees or source units) through proj4rs, leaving the output in
    /// degrees or target units. `orig(i)` gives point i's original value for error messages;
    /// `base` is the index of the batch's first point.
    fn run_batch(&self, b: &mut Batch, base: usize, orig: impl Fn(usize) -> (f64, f64)) -> Result<()> {
        let n = b.n;
        if self.src_deg {
            for i in 0..n {
                b.x[i] = b.x[i].to_radians();
                b.y[i] = b.y[i].to_radians();
            }
        }
        if let Err(e) = proj4rs::transform::transform(&self.source.proj, &self.target.proj, b) {
            let i = b.failed.unwrap_or(0);
            let (x, y) = orig(i);
            return Err(Transform::fail(x, y, format!("coordinate #{}: {e}", base + i)));
        }
        if self.dst_deg {
            for i in 0..n {
                b.x[i] = b.x[i].to_degrees();
                b.y[i] = b.y[i].to_degrees();
            }
        }
        for i in 0..n {
            if !b.x[i].is_finite() || !b.y[i].is_finite() {
                let (x, y) = orig(i);
                return Err(Transform::fail(
                    x,
                    y,
                    format!("coordinate #{}: result is not finite", base + i),
                ));
            }
        }
        Ok(())
    }

    /// Transforms every coordinate of a geometry in place. On error the geometry is partly
    /// transformed; the error gives the original value and the index of the failing
    /// coordinate in the geometry's coordinate order (as `geo`'s `coords_iter` visits them).
    pub fn apply_geometry(&self, g: &mut geo::Geometry<f64>) -> Result<()> {
        if self.identity {
            return Ok(());
        }
        let mut next = 0usize;
        self.walk(g, &mut next)
    }

    fn line(&self, ls: &mut geo::LineString<f64>, next: &mut usize) -> Result<()> {
        let first = *next;
        *next += ls.0.len();
        self.apply_coords_from(&mut ls.0, first)
    }

    fn polygon(&self, p: &mut geo::Polygon<f64>, next: &mut usize) -> Result<()> {
        let mut res = Ok(());
        p.exterior_mut(|ls| res = self.line(ls, next));
        res?;
        let mut res = Ok(());
        p.interiors_mut(|rings| {
            for r in rings {
                if res.is_ok() {
                    res = self.line(r, next);
                }
            }
        });
        res
    }

    fn walk(&self, g: &mut geo::Geometry<f64>, next: &mut usize) -> Result<()> {
        use geo::Geometry as G;
        match g {
            G::Point(p) => {
                let mut c = [p.0];
                self.apply_coords_from(&mut c, *next)?;
                *next += 1;
                p.0 = c[0];
                Ok(())
            }
            G::Line(l) => {
                let mut c = [l.start, l.end];
                self.apply_coords_from(&mut c, *next)?;
                *next += 2;
                l.start = c[0];
                l.end = c[1];
                Ok(())
            }
            G::LineString(ls) => self.line(ls, next),
            G::Polygon(p) => self.polygon(p, next),
            G::MultiPoint(mp) => {
                let mut c: Vec<geo::Coord<f64>> = mp.0.iter().map(|p| p.0).collect();
                self.apply_coords_from(&mut c, *next)?;
                *next += c.len();
                for (p, c) in mp.0.iter_mut().zip(c) {
                    p.0 = c;
                }
                Ok(())
            }
            G::MultiLineString(m) => m.0.iter_mut().try_for_each(|ls| self.line(ls, next)),
            G::MultiPolygon(m) => m.0.iter_mut().try_for_each(|p| self.polygon(p, next)),
            G::GeometryCollection(gc) => gc.0.iter_mut().try_for_each(|g| self.walk(g, next)),
            G::Rect(r) => {
                // A transformed rectangle is not axis-aligned in general: keep its bounds.
                let mut c = [
                    r.min(),
                    geo::Coord {
                        x: r.max().x,
                        y: r.min().y,
                    },
                    r.max(),
                    geo::Coord {
                        x: r.min().x,
                        y: r.max().y,
                    },
                ];
                self.apply_coords_from(&mut c, *next)?;
                *next += 2;
                let (mut lo, mut hi) = (c[0], c[0]);
                for p in &c[1..] {
                    lo = geo::Coord {
                        x: lo.x.min(p.x),
                        y: lo.y.min(p.y),
                    };
                    hi = geo::Coord {
                        x: hi.x.max(p.x),
                        y: hi.y.max(p.y),
                    };
                }
                *r = geo::Rect::new(lo, hi);
                Ok(())
            }
            G::Triangle(t) => {
                let mut c = [t.v1(), t.v2(), t.v3()];
                self.apply_coords_from(&mut c, *next)?;
                *next += 3;
                *t = geo::Triangle::new(c[0], c[1], c[2]);
                Ok(())
            }
        }
    }
}
