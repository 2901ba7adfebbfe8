//! # cim-importers — files into the city model
//!
//! Each format family has a reader that yields [`VectorSource`] (features in the source CRS) or a
//! [`cim_engine::Raster`] (terrain); [`pipeline`] transforms them into the project CRS, validates
//! them, derives heights and city codes, and writes them to the project in one transaction.

pub mod citymodel;
mod error;
pub mod export;
pub mod file;
pub mod ifc;
pub mod osgb;
pub mod osm;
pub mod pipeline;
mod placement;
pub mod pointcloud;
mod run_raster;
mod source;
pub mod sumo;
pub mod terrain;
pub mod tiles3d;
pub mod validate;
pub mod vector;

pub use error::{group_warnings, ImportError, Result, Warning, WarningGroup};
pub use file::{detect, import_file, Format, Imported};
pub use osm::{read_osm, OsmOptions};
pub use run_raster::read_run_raster;
pub use source::{HeightHint, SourceFeature, VectorSource};
pub use terrain::{read_geotiff, reproject_dem, Dem};
#[cfg(feature = "gdal")]
pub use vector::read_gdal;
pub use vector::{list_layers, open_vector, read_fgb, read_geojson, read_gpkg, read_shapefile, VectorFormat};
