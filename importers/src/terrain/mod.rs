//! Terrain: GeoTIFF DEMs read into a [`Raster`] and warped into the project CRS.
//!
//! - [`read_geotiff`]: one band of a GeoTIFF (Int8/16/32, UInt8/16/32, Float32/64; stripped or
//!   tiled; uncompressed, LZW, DEFLATE; horizontal and floating-point predictors), its
//!   georeferencing (ModelTiepoint + ModelPixelScale or ModelTransformation, PixelIsArea or
//!   PixelIsPoint), nodata (GDAL_NODATA) and CRS (GeoKeys).
//! - [`reproject_dem`]: the DEM resampled (bilinear) onto a north-up grid in another CRS.

mod geotiff;
mod reproject;

pub use geotiff::read_geotiff;
pub use reproject::reproject_dem;

use crate::error::Warning;
use cim_engine::{Crs, Raster};

/// A DEM read from a file, still in its own CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct Dem {
    /// Elevations; `NaN` where the file has nodata. Cell `(0, 0)` is the north-west corner.
    pub raster: Raster,
    /// The CRS the file declares; `None` if it declares none or one without an EPSG code
    /// (a warning then says why, and the caller needs `--src-crs`).
    pub crs: Option<Crs>,
    /// The nodata value the file declares (GDAL_NODATA), as written there.
    pub nodata: Option<f64>,
    pub warnings: Vec<Warning>,
}
