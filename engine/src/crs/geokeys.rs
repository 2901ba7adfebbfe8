//! GeoTIFF geokeys (tags 34735 GeoKeyDirectory, 34736 GeoDoubleParams, 34737 GeoAsciiParams)
//! as a plain struct, and their interpretation as a [`Spec`](super::spec::Spec).

use super::spec::{DatumFamily, Ellipsoid, Method, Spec};

/// GeoTIFF "user-defined" marker value.
pub const USER_DEFINED: u16 = 32767;

/// The CRS-related GeoTIFF keys (GeoTIFF 1.0/1.1). Key numbers are in the field docs.
/// Fill it by hand or with [`GeoKeys::from_tiff_tags`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoKeys {
    /// 1024 GTModelTypeGeoKey: 1 projected, 2 geographic, 3 geocentric.
    pub model_type: Option<u16>,
    /// 1025 GTRasterTypeGeoKey: 1 PixelIsArea, 2 PixelIsPoint.
    pub raster_type: Option<u16>,
    /// 1026 GTCitationGeoKey.
    pub citation: Option<String>,
    /// 2048 GeographicTypeGeoKey (EPSG geographic CRS code, or 32767).
    pub geographic_cs: Option<u16>,
    /// 2049 GeogCitationGeoKey.
    pub geog_citation: Option<String>,
    /// 2050 GeogGeodeticDatumGeoKey (EPSG datum code, e.g. 6326 WGS 84, 1043 China 2000).
    pub geodetic_datum: Option<u16>,
    /// 2051 GeogPrimeMeridianGeoKey (8901 Greenwich).
    pub prime_meridian: Option<u16>,
    /// 2054 GeogAngularUnitsGeoKey (9102 degree, 9101 radian).
    pub angular_units: Option<u16>,
    /// 2056 GeogEllipsoidGeoKey (EPSG ellipsoid code, e.g. 7030 WGS 84, 7019 GRS 1980).
    pub ellipsoid: Option<u16>,
    /// 2057 GeogSemiMajorAxisGeoKey (metres).
    pub semi_major_axis: Option<f64>,
    /// 2058 GeogSemiMinorAxisGeoKey (metres).
    pub semi_minor_axis: Option<f64>,
    /// 2059 GeogInvFlatteningGeoKey.
    pub inv_flattening: Option<f64>,
    /// 2061 GeogPrimeMeridianLongGeoKey (degrees).
    pub prime_meridian_long: Option<f64>,
    /// 2062 GeogTOWGS84GeoKey (3 or 7 values).
    pub towgs84: Option<Vec<f64>>,
    /// 3072 ProjectedCSTypeGeoKey (EPSG projected CRS code, or 32767).
    pub projected_cs: Option<u16>,
    /// 3073 PCSCitationGeoKey.
    pub pcs_citation: Option<String>,
    /// 3074 ProjectionGeoKey (EPSG conversion code, e.g. 16033 UTM zone 33N, or 32767).
    pub projection: Option<u16>,
    /// 3075 ProjCoordTransGeoKey: 1 TransverseMercator, 7 Mercator, 8 LambertConfConic_2SP,
    /// 9 LambertConfConic_Helmert (1SP), 10 LambertAzimEqualArea, 11 AlbersEqualArea.
    pub coord_trans: Option<u16>,
    /// 3076 ProjLinearUnitsGeoKey (9001 metre, 9002 foot, 9003 US survey foot).
    pub linear_units: Option<u16>,
    /// 3077 ProjLinearUnitSizeGeoKey (metres per unit).
    pub linear_unit_size: Option<f64>,
    /// 3078 ProjStdParallel1GeoKey.
    pub std_parallel1: Option<f64>,
    /// 3079 ProjStdParallel2GeoKey.
    pub std_parallel2: Option<f64>,
    /// 3080 ProjNatOriginLongGeoKey.
    pub nat_origin_long: Option<f64>,
    /// 3081 ProjNatOriginLatGeoKey.
    pub nat_origin_lat: Option<f64>,
    /// 3082 ProjFalseEastingGeoKey.
    pub false_easting: Option<f64>,
    /// 3083 ProjFalseNorthingGeoKey.
    pub false_northing: Option<f64>,
    /// 3084 ProjFalseOriginLongGeoKey.
    pub false_origin_long: Option<f64>,
    /// 3085 ProjFalseOriginLatGeoKey.
    pub false_origin_lat: Option<f64>,
    /// 3086 ProjFalseOriginEastingGeoKey.
    pub false_origin_easting: Option<f64>,
    /// 3087 ProjFalseOriginNorthingGeoKey.
    pub false_origin_northing: Option<f64>,
    /// 3088 ProjCenterLongGeoKey.
    pub center_long: Option<f64>,
    /// 3089 ProjCenterLatGeoKey.
    pub center_lat: Option<f64>,
    /// 3092 ProjScaleAtNatOriginGeoKey.
    pub scale_at_nat_origin: Option<f64>,
    /// 3093 ProjScaleAtCenterGeoKey.
    pub scale_at_center: Option<f64>,
    /// 3094 ProjAzimuthAngleGeoKey.
    pub azimuth: Option<f64>,
}

impl GeoKeys {
    /// Parses the raw GeoTIFF tags: `directory` is tag 34735 (u16 array), `doubles` tag 34736
    /// (empty if absent), `ascii` tag 34737 (empty if absent). Unknown keys are skipped.
    pub fn from_tiff_tags(directory: &[u16], doubles: &[f64], ascii: &str) -> Result<GeoKeys, String> {
        if directory.len() < 4 {
            return Err("GeoKeyDirectory is shorter than its 4-value header".into());
        }
        let n = directory[3] as usize;
        if directory.len() < 4 + 4 * n {
            return Err(format!(
                "GeoKeyDirectory announces {n} keys but holds {}",
                (directory.len() - 4) / 4
            ));
        }
        let mut k = GeoKeys::default();
        for e in directory[4..4 + 4 * n].chunks_exact(4) {
            let (id, loc, count, off) = (e[0], e[1], e[2] as usize, e[3] as usize);
            let short = || (loc == 0).then_some(e[3]);
            let dbl = |i: usize| (loc == 34736).then(|| doubles.get(off + i).copied()).flatten();
            let text = || {
                if loc != 34737 {
                    return None;
                }
                let s = ascii.get(off..(off + count).min(ascii.len()))?;
                Some(s.trim_end_matches(['|', '\0']).to_string())
            };
            match id {
                1024 => k.model_type = short(),
                1025 => k.raster_type = short(),
                1026 => k.citation = text(),
                2048 => k.geographic_cs = short(),
                2049 => k.geog_citation = text(),
                2050 => k.geodetic_datum = short(),
                2051 => k.prime_meridian = short(),
                2054 => k.angular_units = short(),
                2056 => k.ellipsoid = short(),
                2057 => k.semi_major_axis = dbl(0),
                2058 => k.semi_minor_axis = dbl(0),
                2059 => k.inv_flattening = dbl(0),
                2061 => k.prime_meridian_long = dbl(0),
                2062 => {
                    let v: Vec<f64> = (0..count).filter_map(dbl).collect();
                    k.towgs84 = (v.len() == 3 || v.len() == 7).then_some(v);
                }
                3072 => k.projected_cs = short(),
                3073 => k.pcs_citation = text(),
                3074 => k.projection = short(),
                3075 => k.coord_trans = short(),
                3076 => k.linear_units = short(),
                3077 => k.linear_unit_size = dbl(0),
                3078 => k.std_parallel1 = dbl(0),
                3079 => k.std_parallel2 = dbl(0),
                3080 => k.nat_origin_long = dbl(0),
                3081 => k.nat_origin_lat = dbl(0),
                3082 => k.false_easting = dbl(0),
                3083 => k.false_northing = dbl(0),
                3084 => k.false_origin_long = dbl(0),
                3085 => k.false_origin_lat = dbl(0),
                3086 => k.false_origin_easting = dbl(0),
                3087 => k.false_origin_northing = dbl(0),
                3088 => k.center_long = dbl(0),
                3089 => k.center_lat = dbl(0),
                3092 => k.scale_at_nat_origin = dbl(0),
                3093 => k.scale_at_center = dbl(0),
                3094 => k.azimuth = dbl(0),
                _ => {}
            }
        }
        Ok(k)
    }

    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.model_type {
            parts.push(format!("model type {v}"));
        }
        if let Some(v) = self.projected_cs {
            parts.push(format!("ProjectedCSType {v}"));
        }
        if let Some(v) = self.geographic_cs {
            parts.push(format!("GeographicType {v}"));
        }
        if let Some(v) = self.coord_trans {
            parts.push(format!("ProjCoordTrans {v}"));
        }
        if let Some(c) = self.pcs_citation.as_ref().or(self.citation.as_ref()) {
            parts.push(format!("citation '{c}'"));
        }
        if parts.is_empty() {
            "GeoTIFF keys (none CRS-related)".into()
        } else {
            format!("GeoTIFF keys: {}", parts.join(", "))
        }
    }

    /// The geographic part of a user-defined CRS.
    pub(crate) fn geographic_spec(&self, spec: &mut Spec) -> Result<(), String> {
        if let Some(code) = self.geographic_cs.filter(|c| *c != USER_DEFINED && *c != 0) {
            let fam = match code {
                4326 => DatumFamily::Wgs84,
                4490 => DatumFamily::Cgcs2000,
                4610 => DatumFamily::Xian1980,
                4214 => DatumFamily::Beijing1954,
                4156 => DatumFamily::SJtsk,
                _ => {
                    return Err(format!(
                        "user-defined projection on GeographicType {code} (only 4326, 4490, 4610, 4214, 4156 are supported)"
                    ));
                }
            };
            spec.family = fam;
            spec.geog_epsg = Some(u32::from(code));
            return Ok(());
        }
        if let Some(u) = self.angular_units.filter(|u| *u != 9102 && *u != USER_DEFINED) {
            return Err(format!("angular unit {u} (only degrees, 9102, are supported)"));
        }
        let fam = self
            .geodetic_datum
            .map(DatumFamily::from_datum_code)
            .unwrap_or_default();
        let ell = match self.ellipsoid {
            Some(7030) => Some((6_378_137.0, 298.257_223_563)),
            Some(7019) | Some(1024) => Some((6_378_137.0, 298.257_222_101)),
            Some(7024) => Some((6_378_245.0, 298.3)),
            Some(7049) => Some((6_378_140.0, 298.257)),
            Some(7004) => Some((6_377_397.155, 299.152_812_8)),
            _ => match (self.semi_major_axis, self.inv_flattening, self.semi_minor_axis) {
                (Some(a), Some(rf), _) => Some((a, rf)),
                (Some(a), None, Some(b)) if (a - b).abs() < 1e-9 => Some((a, 0.0)),
                (Some(a), None, Some(b)) => Some((a, a / (a - b))),
                _ => fam.ellipsoid(),
            },
        };
        let (a, rf) = ell.ok_or("no geodetic datum, ellipsoid or semi-major axis")?;
        spec.ellipsoid = Some(Ellipsoid {
            name: String::new(),
            a,
            rf,
        });
        spec.family = match fam.ellipsoid() {
            Some((fa, frf)) if (fa - a).abs() < 0.5 && (frf - rf).abs() < 1e-6 => fam,
            _ => DatumFamily::Other,
        };
        spec.towgs84 = self.towgs84.clone();
        spec.pm = match self.prime_meridian {
            None | Some(8901) => self.prime_meridian_long.unwrap_or(0.0),
            Some(USER_DEFINED) => self.prime_meridian_long.unwrap_or(0.0),
            Some(p) => return Err(format!("prime meridian {p} (only Greenwich is supported)")),
        };
        Ok(())
    }

    /// A user-defined projected CRS (ProjectedCSType 32767) as a [`Spec`].
    pub(crate) fn projected_spec(&self) -> Result<Spec, String> {
        let mut spec = Spec {
            name: self.pcs_citation.clone().or_else(|| self.citation.clone()),
            ..Spec::default()
        };
        self.geographic_spec(&mut spec)?;
        spec.to_meter = match (self.linear_units, self.linear_unit_size) {
            (None | Some(9001), _) => 1.0,
            (Some(9002), _) => 0.3048,
            (Some(9003), _) => 1200.0 / 3937.0,
            (Some(USER_DEFINED), Some(s)) if s > 0.0 => s,
            (Some(u), _) => return Err(format!("linear unit {u} is not supported")),
        };
        // EPSG conversion codes for UTM: 16001–16060 north, 16101–16160 south.
        if let Some(p) = self.projection.filter(|p| *p != USER_DEFINED) {
            let (zone, south) = match p {
                16001..=16060 => (p - 16000, false),
                16101..=16160 => (p - 16100, true),
                _ => return Err(format!("ProjectionGeoKey {p} is not supported")),
            };
            spec.method = Some(Method::TransverseMercator);
            spec.lon_0 = Some(f64::from(zone) * 6.0 - 183.0);
            spec.lat_0 = Some(0.0);
            spec.k = Some(0.9996);
            spec.x_0 = Some(500_000.0);
            spec.y_0 = Some(if south { 10_000_000.0 } else { 0.0 });
            return Ok(spec);
        }
        let ct = self
            .coord_trans
            .ok_or("user-defined projection without ProjCoordTransGeoKey")?;
        let to_meter = spec.to_meter;
        let m = |v: Option<f64>| v.map(|v| v * to_meter);
        let fe = m(self.false_easting.or(self.false_origin_easting));
        let fn_ = m(self.false_northing.or(self.false_origin_northing));
        spec.x_0 = fe;
        spec.y_0 = fn_;
        let lon = self
            .nat_origin_long
            .or(self.false_origin_long)
            .or(self.center_long);
        let lat = self.nat_origin_lat.or(self.false_origin_lat).or(self.center_lat);
        spec.lon_0 = lon;
        spec.lat_0 = lat;
        spec.k = self.scale_at_nat_origin.or(self.scale_at_center);
        spec.lat_1 = self.std_parallel1;
        spec.lat_2 = self.std_parallel2;
        spec.method = Some(match ct {
            1 => Method::TransverseMercator,
            7 => Method::Mercator,
            8 => Method::LambertConformalConic2Sp,
            9 => Method::LambertConformalConic1Sp,
            10 => Method::LambertAzimuthalEqualArea,
            11 => Method::Albers,
            other => {
                return Err(format!(
                    "ProjCoordTransGeoKey {other} is not supported (supported: 1 TM, 7 Mercator, 8/9 LCC, 10 LAEA, 11 Albers)"
                ));
            }
        });
        Ok(spec)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_key_directory() {
        // version 1.1.0, 5 keys
        let dir = [
            1, 1, 0, 5, //
            1024, 0, 1, 1, //
            1026, 34737, 22, 0, //
            3072, 0, 1, 32767, //
            3075, 0, 1, 1, //
            3080, 34736, 1, 0,
        ];
        let k = GeoKeys::from_tiff_tags(&dir, &[114.0], "CGCS2000 GK CM 114E|").unwrap();
        assert_eq!(k.model_type, Some(1));
        assert_eq!(k.citation.as_deref(), Some("CGCS2000 GK CM 114E"));
        assert_eq!(k.projected_cs, Some(USER_DEFINED));
        assert_eq!(k.coord_trans, Some(1));
        assert_eq!(k.nat_origin_long, Some(114.0));
        assert!(GeoKeys::from_tiff_tags(&[1, 1, 0, 3, 1024, 0, 1, 1], &[], "").is_err());
    }
}
