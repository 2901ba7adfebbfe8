//! Vector readers: GeoJSON, Shapefile, GeoPackage and FlatGeobuf files into [`VectorSource`]s;
//! with the `gdal` feature, any other vector format GDAL reads.
//!
//! Every reader returns features in the source CRS, in source order, with a key that is stable
//! across reads (`fid:12` for GeoPackage, `id:abc` for GeoJSON features that carry an id,
//! `rec:7` otherwise). A record that cannot be read becomes an `Err` item naming the file and the
//! 1-based record; the other records still come through. Problems found while opening (an
//! unknown text encoding, a missing `.prj`) are [`Warning`]s on the source.

mod crs;
mod dbf;
mod fgb;
#[cfg(feature = "gdal")]
mod gdal;
mod geojson;
mod gpkg;
mod prefetch;
mod rings;
mod shapefile;
mod shp;

pub use fgb::read_fgb;
#[cfg(feature = "gdal")]
pub use gdal::{list_gdal_layers, read_gdal};
pub use geojson::read_geojson;
pub use gpkg::read_gpkg;
pub use shapefile::read_shapefile;

use crate::error::{ImportError, Result, Warning};
use crate::source::VectorSource;
use geo::CoordsIter;
use std::path::Path;

/// The vector formats [`open_vector`] recognises by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorFormat {
    GeoJson,
    Shapefile,
    GeoPackage,
    FlatGeobuf,
}

impl VectorFormat {
    /// The format a path's extension names (`.geojson`/`.json`, `.shp`, `.gpkg`, `.fgb`),
    /// compared case-insensitively.
    pub fn from_path(path: &Path) -> Option<VectorFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Some(VectorFormat::GeoJson),
            "shp" => Some(VectorFormat::Shapefile),
            "gpkg" => Some(VectorFormat::GeoPackage),
            "fgb" => Some(VectorFormat::FlatGeobuf),
            _ => None,
        }
    }
}

/// Every format `cim import` reads, for error messages.
pub const SUPPORTED_FORMATS: &str = ".geojson/.json, .shp, .gpkg and .fgb (vector), .tif/.tiff \
     (terrain), .osm and .osm.pbf (OpenStreetMap), .city.json/.city.jsonl (CityJSON), .gml (CityGML), .ifc (IFC 2x3, 4, 4.3), \
     .net.xml (SUMO), .las/.laz (point clouds), a 3D Tiles tileset.json or its folder, an OSGB oblique photography folder \
     (with metadata.xml), .glb/.gltf/.obj (models)";

/// Extensions of 3-D formats that cim does not read yet and GDAL cannot read either (so the
/// `gdal` feature would not help).
const NOT_YET_3D: &[&str] = &["ifczip", "ifcxml", "osgb", "b3dm", "i3dm", "pnts", "ply", "e57"];

/// The error for a 3-D format that no reader (ours or GDAL's) imports yet, or that is a 3-D model
/// rather than a vector layer (IFC, CityGML: `import_file` reads them), if `path` is one.
fn not_yet_3d(path: &Path) -> Option<ImportError> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if matches!(ext.as_str(), "ifc" | "citygml" | "glb" | "gltf" | "obj") {
        return Some(ImportError::file(
            path,
            format!("a .{ext} file is a 3-D model, not a vector layer: `cim import` reads it as one"),
        ));
    }
    if matches!(ext.as_str(), "las" | "laz") {
        return Some(ImportError::file(
            path,
            format!("a .{ext} file is a point cloud, not a vector layer: `cim import` reads it as one"),
        ));
    }
    NOT_YET_3D.contains(&ext.as_str()).then(|| {
        ImportError::file(
            path,
            format!("the .{ext} format is not imported (yet); cim reads {SUPPORTED_FORMATS}"),
        )
    })
}

/// The error for an extension none of the native readers knows (without the `gdal` feature).
#[cfg(not(feature = "gdal"))]
fn unknown_format(path: &Path) -> ImportError {
    not_yet_3d(path).unwrap_or_else(|| {
        ImportError::file(
            path,
            format!(
                "unknown format: cim reads {SUPPORTED_FORMATS}; other vector formats GDAL reads \
                 (KML, GML, DXF, MapInfo TAB, …) import with a build with --features gdal"
            ),
        )
    })
}

/// Opens a vector file by its extension. `layer` picks a GeoPackage feature table; a GeoPackage
/// with several feature tables needs it. For single-layer formats `layer` may be omitted or must
/// be the file's one layer (its file stem). Other extensions go to GDAL where the `gdal` feature
/// is on (`layer` then picks one of the layers GDAL lists).
pub fn open_vector(path: &Path, layer: Option<&str>) -> Result<VectorSource> {
    if let Some(e) = not_yet_3d(path) {
        return Err(e);
    }
    let Some(format) = VectorFormat::from_path(path) else {
        #[cfg(feature = "gdal")]
        return read_gdal(path, layer);
        #[cfg(not(feature = "gdal"))]
        return Err(unknown_format(path));
    };
    open_format(path, layer, format)
}

/// The vector format of a format found by content ([`crate::file::detect`]), if it is one.
fn vector_format(f: crate::file::Format) -> Option<VectorFormat> {
    use crate::file::Format;
    match f {
        Format::GeoJson => Some(VectorFormat::GeoJson),
        Format::Shapefile => Some(VectorFormat::Shapefile),
        Format::GeoPackage => Some(VectorFormat::GeoPackage),
        Format::FlatGeobuf => Some(VectorFormat::FlatGeobuf),
        _ => None,
    }
}

/// Opens a vector file whose format was found by its content (falling back to its extension).
pub fn open_vector_as(path: &Path, layer: Option<&str>, format: crate::file::Format) -> Result<VectorSource> {
    match vector_format(format) {
        Some(f) => open_format(path, layer, f),
        None => open_vector(path, layer),
    }
}

/// The layers of a vector file whose format was found by its content.
pub fn list_layers_as(path: &Path, format: crate::file::Format) -> Result<Vec<String>> {
    match vector_format(format) {
        Some(f) => list_format_layers(path, f),
        None => list_layers(path),
    }
}

fn open_format(path: &Path, layer: Option<&str>, format: VectorFormat) -> Result<VectorSource> {
    if format == VectorFormat::GeoPackage {
        return read_gpkg(path, layer);
    }
    if let Some(wanted) = layer {
        let own = layer_name(path);
        if wanted != own {
            return Err(ImportError::file(
                path,
                format!("no layer '{wanted}'; the only layer is '{own}'"),
            ));
        }
    }
    match format {
        VectorFormat::GeoJson => read_geojson(path),
        VectorFormat::Shapefile => read_shapefile(path),
        VectorFormat::FlatGeobuf => read_fgb(path),
        VectorFormat::GeoPackage => read_gpkg(path, layer),
    }
}

/// The layers of a vector file, sorted: the feature tables of a GeoPackage, the file stem for
/// single-layer formats, what GDAL lists for other formats (with the `gdal` feature).
pub fn list_layers(path: &Path) -> Result<Vec<String>> {
    if let Some(e) = not_yet_3d(path) {
        return Err(e);
    }
    let Some(format) = VectorFormat::from_path(path) else {
        #[cfg(feature = "gdal")]
        return list_gdal_layers(path);
        #[cfg(not(feature = "gdal"))]
        return Err(unknown_format(path));
    };
    list_format_layers(path, format)
}

fn list_format_layers(path: &Path, format: VectorFormat) -> Result<Vec<String>> {
    match format {
        VectorFormat::GeoPackage => {
            let layers = gpkg::list_layers(path)?;
            if layers.is_empty() {
                return Err(ImportError::file(
                    path,
                    "holds no feature tables (only tiles or attributes?): nothing to import",
                ));
            }
            Ok(layers)
        }
        _ => {
            if !path.is_file() {
                return Err(ImportError::file(path, "file not found"));
            }
            Ok(vec![layer_name(path)])
        }
    }
}

/// The layer name of a single-layer file: its stem.
fn layer_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Coordinates beyond this magnitude are garbage in any CRS (the largest projected coordinates,
/// Gauss-Krüger with a zone prefix, stay below 1e8 m).
const MAX_ABS_COORD: f64 = 1.0e9;

/// Checks that every coordinate is finite and plausible; the reason names the first bad one.
fn check_coords(g: &geo::Geometry<f64>) -> std::result::Result<(), String> {
    for c in g.coords_iter() {
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(format!("coordinate ({}, {}) is not a number", c.x, c.y));
        }
        if c.x.abs() > MAX_ABS_COORD || c.y.abs() > MAX_ABS_COORD {
            return Err(format!(
                "coordinate ({:e}, {:e}) is out of range (|value| > {MAX_ABS_COORD:e})",
                c.x, c.y
            ));
        }
    }
    Ok(())
}

/// Closes a ring whose last position differs from its first, returning whether it had to: geo
/// closes rings silently, and a reader must say so (the record gets a warning).
fn close_ring(ring: &mut Vec<geo::Coord<f64>>) -> bool {
    match (ring.first(), ring.last()) {
        (Some(&first), Some(&last)) if ring.len() > 1 && first != last => {
            ring.push(first);
            true
        }
        _ => false,
    }
}

fn warning(path: &Path, record: Option<u64>, message: impl Into<String>) -> Warning {
    Warning {
        path: path.to_path_buf(),
        record,
        message: message.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension_ignore_case() {
        assert_eq!(
            VectorFormat::from_path(Path::new("a/b.GeoJSON")),
            Some(VectorFormat::GeoJson)
        );
        assert_eq!(
            VectorFormat::from_path(Path::new("x.SHP")),
            Some(VectorFormat::Shapefile)
        );
        assert_eq!(
            VectorFormat::from_path(Path::new("x.gpkg")),
            Some(VectorFormat::GeoPackage)
        );
        assert_eq!(
            VectorFormat::from_path(Path::new("x.fgb")),
            Some(VectorFormat::FlatGeobuf)
        );
        assert_eq!(VectorFormat::from_path(Path::new("x.tif")), None);
        assert_eq!(VectorFormat::from_path(Path::new("noext")), None);
    }

    #[test]
    fn absurd_and_nan_coordinates_are_rejected() {
        let ok: geo::Geometry<f64> = geo::point!(x: 500000.0, y: 4.0e6).into();
        assert!(check_coords(&ok).is_ok());
        let far: geo::Geometry<f64> = geo::point!(x: 1e308, y: 0.0).into();
        assert!(check_coords(&far).unwrap_err().contains("out of range"));
        let nan: geo::Geometry<f64> = geo::point!(x: f64::NAN, y: 0.0).into();
        assert!(check_coords(&nan).unwrap_err().contains("not a number"));
    }
}
