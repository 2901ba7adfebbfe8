//! Writers: what leaves a project for other tools.
//!
//! - [`export_file`]: the one entry point for the 3-D city formats, chosen by [`ExportFormat`]
//!   (from the output's name or asked for): CityJSON 2.0 ([`cityjson`]), GLB and 3D Tiles 1.1
//!   or 1.0 ([`tiles`], over the GLB writer [`gltf`]).
//! - [`write_geotiff`]: a terrain or run raster to GeoTIFF (readable by GDAL/QGIS and by
//!   [`crate::terrain::read_geotiff`]).

pub mod cityjson;
mod geotiff;
pub mod gltf;
pub mod terrain;
pub mod tiles;
pub mod tilesets;

pub use geotiff::{write_geotiff, GEOTIFF_NODATA};

use std::path::Path;

use cim_engine::mesh::{extrude, Mesh3, Representation};
use cim_engine::{Feature, FeatureFilter, Project, StoredFeature};

use crate::error::{ImportError, Result};

/// A 3-D city format [`export_file`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// CityJSON 2.0 (`.city.json`).
    CityJson,
    /// glTF 2.0 binary (`.glb`), in the project CRS about the data's centre.
    Glb,
    /// A 3D Tiles tileset (a folder).
    Tiles3d,
}

impl ExportFormat {
    /// The format a file name asks for, if it is one of these (`.city.json`).
    pub fn of_path(path: &Path) -> Option<ExportFormat> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".city.json") {
            return Some(ExportFormat::CityJson);
        }
        if name.ends_with(".glb") {
            return Some(ExportFormat::Glb);
        }
        None
    }

    /// The format named `name` (`cityjson`, `glb`, `3dtiles`).
    pub fn parse(name: &str) -> Option<ExportFormat> {
        match name.to_lowercase().as_str() {
            "cityjson" => Some(ExportFormat::CityJson),
            "glb" | "gltf" => Some(ExportFormat::Glb),
            "3dtiles" | "3d-tiles" | "tiles" => Some(ExportFormat::Tiles3d),
            _ => None,
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// What `count` counts ("city objects").
    pub what: &'static str,
    pub count: usize,
    /// Further figures, one phrase each ("57 geometries").
    pub details: Vec<String>,
    /// What was left out or changed, one line each.
    pub warnings: Vec<String>,
}

/// The features `filter` chooses, and their 3-D representations, each handed to
/// `on_rep(index of its feature, representation)`.
pub(crate) fn chosen(
    project: &Project,
    filter: &FeatureFilter,
    mut on_rep: impl FnMut(usize, Representation),
) -> Result<Vec<StoredFeature>> {
    let eng = |e| ImportError::engine(project.path(), e);
    let mut features: Vec<StoredFeature> = Vec::new();
    project
        .for_each_feature(filter, |s| {
            features.push(s);
            Ok(())
        })
        .map_err(eng)?;
    let index: std::collections::HashMap<String, usize> = features
        .iter()
        .enumerate()
        .map(|(k, s)| (s.feature.code.to_string(), k))
        .collect();
    let mut layers: Vec<&str> = features.iter().map(|s| s.layer.as_str()).collect();
    layers.sort_unstable();
    layers.dedup();
    for layer in layers {
        project
            .for_each_representation(layer, None, |code, rep| {
                if let Some(&k) = index.get(code) {
                    on_rep(k, rep);
                }
                Ok(())
            })
            .map_err(eng)?;
    }
    Ok(features)
}

/// A feature's LOD1 prism (its footprint from base to top), where it has a height and polygons.
pub(crate) fn lod1_prism(f: &Feature) -> Option<Mesh3> {
    let l = f.lod1.as_ref()?;
    let footprint = match &f.geometry {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p.clone()]),
        geo::Geometry::MultiPolygon(m) => m.clone(),
        _ => return None,
    };
    Some(extrude(&footprint, l.base_m, l.top_m()))
}

/// The error of an export with nothing to write, out of `chosen` features.
pub(crate) fn nothing_to_export(out: &Path, chosen: usize) -> ImportError {
    ImportError::file(
        out,
        format!("nothing to export: none of the {chosen} features chosen has 3-D geometry or an LOD1 height"),
    )
}

/// The warning for `n` features an export left out.
pub(crate) fn left_out_warning(n: usize) -> String {
    format!(
        "{n} features without 3-D geometry or an LOD1 height were left out (2-D features export to .geojson or .gpkg)"
    )
}

/// Exports the features of `project` that `filter` chooses to `out` in `format` (`tiling`:
/// how, for 3D Tiles). The output appears complete or not at all.
pub fn export_file(
    project: &Project,
    filter: &FeatureFilter,
    out: &Path,
    format: ExportFormat,
    tiling: &tiles::TilesOptions,
) -> Result<Exported> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(ImportError::file(out, "its folder does not exist"));
        }
    }
    match format {
        ExportFormat::CityJson => cityjson::write_cityjson(project, filter, out),
        ExportFormat::Glb => tiles::write_glb(project, filter, out),
        ExportFormat::Tiles3d => tiles::write_3dtiles(project, filter, out, tiling),
    }
}
