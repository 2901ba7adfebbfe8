//! Reading a stored run's rasters, wherever the project keeps them: coverages inside it, or the
//! GeoTIFFs beside it of runs stored before the rasters moved inside.

use std::path::Path;

use crate::error::{ImportError, Result};
use cim_engine::{Project, Raster, RunRaster, RunRasterAt};

/// The cells of run raster `r` of the project at `project` (NaN where there is no data).
pub fn read_run_raster(project: &Path, r: &RunRaster) -> Result<Raster> {
    match &r.at {
        RunRasterAt::Coverage(table) => Project::open(project)
            .and_then(|p| p.run_coverage(table))
            .map_err(|e| ImportError::engine(project, e)),
        RunRasterAt::GeoTiff(path) => Ok(crate::terrain::read_geotiff(path)?.raster),
    }
}
