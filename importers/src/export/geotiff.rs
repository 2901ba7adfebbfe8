//! Writers: terrain to GeoTIFF (readable by GDAL/QGIS and by [`crate::terrain::read_geotiff`]).

use crate::error::{ImportError, Result};
use cim_engine::{Crs, Raster};
use std::path::Path;
use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};
use tiff::tags::Tag;

/// The nodata value written for `NaN` cells.
pub const GEOTIFF_NODATA: f32 = -9999.0;

const MODEL_PIXEL_SCALE: u16 = 33550;
const MODEL_TIEPOINT: u16 = 33922;
const GEO_KEY_DIRECTORY: u16 = 34735;
const GDAL_NODATA: u16 = 42113;

/// GeoKey directory: version 1.1.0, then (key, location, count, value) entries sorted by key.
fn geokeys(crs: &Crs) -> Vec<u16> {
    let epsg = crs.epsg().and_then(|c| u16::try_from(c).ok()).unwrap_or(32767);
    let geographic = crs.is_geographic();
    let model_type = if geographic { 2 } else { 1 };
    let cs_key = if geographic { 2048 } else { 3072 };
    vec![
        1, 1, 0, 3, // header: 3 keys
        1024, 0, 1, model_type, // GTModelTypeGeoKey
        1025, 0, 1, 1, // GTRasterTypeGeoKey = PixelIsArea
        cs_key, 0, 1, epsg,
    ]
}

/// Writes a single-band Float32 GeoTIFF, DEFLATE-compressed, NaN as nodata −9999.
pub fn write_geotiff(path: &Path, raster: &Raster, crs: &Crs) -> Result<()> {
    let err = |e: tiff::TiffError| ImportError::file(path, format!("cannot write GeoTIFF: {e}"));
    if raster.width == 0 || raster.height == 0 {
        return Err(ImportError::file(path, "cannot write an empty raster"));
    }
    let (w, h) = (
        u32::try_from(raster.width).map_err(|_| ImportError::file(path, "raster too wide for TIFF"))?,
        u32::try_from(raster.height).map_err(|_| ImportError::file(path, "raster too tall for TIFF"))?,
    );
    let data: Vec<f32> = raster
        .data
        .iter()
        .map(|v| if v.is_nan() { GEOTIFF_NODATA } else { *v })
        .collect();
    let tmp = path.with_extension("tif.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| ImportError::io(&tmp, e))?;
    let write = || -> Result<()> {
        let mut enc = TiffEncoder::new(std::io::BufWriter::new(file))
            .map_err(err)?
            .with_compression(Compression::Deflate(DeflateLevel::Balanced));
        let mut image = enc.new_image::<colortype::Gray32Float>(w, h).map_err(err)?;
        let d = image.encoder();
        d.write_tag(
            Tag::Unknown(MODEL_PIXEL_SCALE),
            &[raster.cell_w, raster.cell_h, 0.0][..],
        )
        .map_err(err)?;
        d.write_tag(
            Tag::Unknown(MODEL_TIEPOINT),
            &[0.0, 0.0, 0.0, raster.origin_x, raster.origin_y, 0.0][..],
        )
        .map_err(err)?;
        d.write_tag(Tag::Unknown(GEO_KEY_DIRECTORY), &geokeys(crs)[..])
            .map_err(err)?;
        d.write_tag(Tag::Unknown(GDAL_NODATA), &*format!("{GEOTIFF_NODATA}"))
            .map_err(err)?;
        image.write_data(&data).map_err(err)?;
        Ok(())
    };
    match write() {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| ImportError::io(path, e)),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            Err(e)
        }
    }
}
