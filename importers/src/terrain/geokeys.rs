//! GeoTIFF GeoKey directory (tags 34735/34736/34737) and the CRS it names.
//!
//! Only what a DEM import needs: the model type, the raster type (PixelIsArea/PixelIsPoint) and
//! the EPSG code of the projected or geographic CRS. User-defined CRSs (code 32767) are reported
//! as "no EPSG code" so that the caller can ask for `--src-crs`.
// TODO(crs): switch to `cim_engine::crs::GeoKeys` + `Crs::from_geokeys` once the CRS module has them.

use std::collections::BTreeMap;

pub(crate) const GT_MODEL_TYPE: u16 = 1024;
pub(crate) const GT_RASTER_TYPE: u16 = 1025;
pub(crate) const GEOGRAPHIC_TYPE: u16 = 2048;
pub(crate) const PROJECTED_CS_TYPE: u16 = 3072;
/// The GeoTIFF code for "user-defined" (no EPSG code).
const USER_DEFINED: u16 = 32767;

/// `RasterPixelIsPoint`: the tiepoint names the centre of a pixel, not its top-left corner.
pub(crate) const RASTER_PIXEL_IS_POINT: u16 = 2;

/// One GeoKey value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GeoKeyValue {
    Short(u16),
    Doubles(Vec<f64>),
    Ascii(String),
}

/// The GeoKeys of one image, by key id.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GeoKeySet {
    keys: BTreeMap<u16, GeoKeyValue>,
}

impl GeoKeySet {
    /// Parses the directory. `Err` names what is malformed; keys that point outside their
    /// parameter arrays are an error too, since the file is then not what it claims.
    pub(crate) fn parse(directory: &[u16], doubles: &[f64], ascii: &str) -> Result<GeoKeySet, String> {
        let header = directory
            .get(..4)
            .ok_or("GeoKeyDirectory is shorter than its 4-value header")?;
        let num_keys = usize::from(header[3]);
        let entries = directory
            .get(4..4 + 4 * num_keys)
            .ok_or_else(|| format!("GeoKeyDirectory declares {num_keys} keys but holds fewer"))?;
        let mut keys = BTreeMap::new();
        for e in entries.chunks_exact(4) {
            let (id, location, count, value) = (e[0], e[1], usize::from(e[2]), usize::from(e[3]));
            let v = match location {
                0 => GeoKeyValue::Short(e[3]),
                34736 => GeoKeyValue::Doubles(
                    doubles
                        .get(value..value + count)
                        .ok_or_else(|| format!("GeoKey {id} points outside GeoDoubleParams"))?
                        .to_vec(),
                ),
                34737 => {
                    let s = ascii
                        .get(value..value + count)
                        .ok_or_else(|| format!("GeoKey {id} points outside GeoAsciiParams"))?;
                    GeoKeyValue::Ascii(s.trim_end_matches(['|', '\0']).to_string())
                }
                // A key stored in the directory itself (tag 34735) with count > 1 or any other
                // tag: rare and not needed here.
                _ => continue,
            };
            keys.insert(id, v);
        }
        Ok(GeoKeySet { keys })
    }

    pub(crate) fn short(&self, id: u16) -> Option<u16> {
        match self.keys.get(&id) {
            Some(GeoKeyValue::Short(v)) => Some(*v),
            _ => None,
        }
    }

    pub(crate) fn ascii(&self, id: u16) -> Option<&str> {
        match self.keys.get(&id) {
            Some(GeoKeyValue::Ascii(v)) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn pixel_is_point(&self) -> bool {
        self.short(GT_RASTER_TYPE) == Some(RASTER_PIXEL_IS_POINT)
    }

    /// The EPSG code of the CRS: the projected one if the model is projected, else the
    /// geographic one. `Err` says why there is none.
    pub(crate) fn epsg(&self) -> Result<u32, String> {
        let model = self.short(GT_MODEL_TYPE);
        let (key, what) = match model {
            Some(2) => (GEOGRAPHIC_TYPE, "GeographicTypeGeoKey"),
            _ if self.short(PROJECTED_CS_TYPE).is_some() => (PROJECTED_CS_TYPE, "ProjectedCSTypeGeoKey"),
            _ => (GEOGRAPHIC_TYPE, "GeographicTypeGeoKey"),
        };
        match self.short(key) {
            Some(USER_DEFINED) => {
                let citation = self
                    .ascii(if key == PROJECTED_CS_TYPE { 3073 } else { 2049 })
                    .or_else(|| self.ascii(1026))
                    .map(|c| format!(" ('{c}')"))
                    .unwrap_or_default();
                Err(format!("{what} is user-defined{citation}, not an EPSG code"))
            }
            Some(code) => Ok(u32::from(code)),
            None => Err(format!("GeoKeys carry no {what}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn projected_code_is_read_from_the_directory() {
        let dir = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 2, 3072, 0, 1, 32633];
        let k = GeoKeySet::parse(&dir, &[], "").unwrap();
        assert_eq!(k.epsg(), Ok(32633));
        assert!(k.pixel_is_point());
    }

    #[test]
    fn geographic_code_and_ascii_citation() {
        let dir = [1, 1, 0, 3, 1024, 0, 1, 2, 2048, 0, 1, 4326, 2049, 34737, 7, 0];
        let k = GeoKeySet::parse(&dir, &[], "WGS 84|").unwrap();
        assert_eq!(k.epsg(), Ok(4326));
        assert_eq!(k.ascii(2049), Some("WGS 84"));
        assert!(!k.pixel_is_point());
    }

    #[test]
    fn user_defined_and_malformed_directories_are_reported() {
        let dir = [1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 32767];
        let err = GeoKeySet::parse(&dir, &[], "").unwrap().epsg().unwrap_err();
        assert!(err.contains("user-defined"), "{err}");
        assert!(GeoKeySet::parse(&[1, 1, 0, 5, 1024], &[], "").is_err());
        assert!(GeoKeySet::parse(&[1, 1, 0, 1, 2049, 34737, 50, 0], &[], "abc").is_err());
    }
}
