//! OpenStreetMap XML (`.osm`) and PBF (`.osm.pbf`): roads and buildings.
//!
//! [`read_osm`] reads the whole file once (nodes into a compact sorted index of 1e-7° positions,
//! ways, building multipolygon relations) and returns up to two layers in EPSG:4326:
//!
//! - **roads**: ways with `highway=*` as LineStrings (not `area=yes`, not
//!   `highway=proposed|abandoned|razed`), with `highway`, `name`, `name:zh`, `name:en`, `ref`,
//!   `lanes`, `maxspeed` (km/h; `maxspeed_raw` keeps the text), `oneway` (`-1` reverses the
//!   line), `bridge`, `tunnel`, `layer`, and what a road network needs: `lanes:forward`,
//!   `lanes:backward`, `turn:lanes` (and `:forward`/`:backward`), `access`, `motor_vehicle`,
//!   `junction`, the way's node ids (`osm_nodes`), the signals, stops and give-ways on its
//!   nodes (`osm_controls`) and the turn restrictions from it (`osm_restrictions`), all in the
//!   direction of the stored line;
//! - **buildings**: closed ways and multipolygon relations with `building=*` as Polygons (or
//!   MultiPolygons), with `building`, `name`, `height` (m), `building:levels`, `min_height`, and a
//!   height hint from `height` or else `building:levels`.
//!
//! Keys are `osm:way/{id}` and `osm:relation/{id}`; records are 1-based element positions in the
//! file. Ways with nodes missing from the file, or too few nodes, are skipped with a warning.

mod build;
mod data;
mod pbf;
mod rings;
mod tags;
mod xml;

pub use build::DEFAULT_STOREY_M;
pub use tags::{parse_length_m, parse_maxspeed_kmh};

use crate::error::{ImportError, Result};
use crate::source::VectorSource;
use build::Layer;
use cim_engine::Crs;
use std::io::{BufReader, Read};
use std::path::Path;

/// Which feature families to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsmOptions {
    pub roads: bool,
    pub buildings: bool,
}

impl Default for OsmOptions {
    fn default() -> Self {
        OsmOptions {
            roads: true,
            buildings: true,
        }
    }
}

/// Reads roads and buildings from an OSM XML or PBF file: one [`VectorSource`] per family asked
/// for in `opts`, roads first, each in EPSG:4326 with its features in file order.
///
/// The format is taken from the content (PBF files start with a 4-byte length, XML with `<`),
/// so a misnamed file still reads.
///
/// # Errors
/// A file that cannot be opened, is neither format, or is truncated or malformed: the message
/// names the file and, where known, the element and byte offset.
pub fn read_osm(path: &Path, opts: &OsmOptions) -> Result<Vec<VectorSource>> {
    let data = if is_xml(path)? {
        let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
        let len = file.metadata().map_err(|e| ImportError::io(path, e))?.len();
        xml::read(path, BufReader::new(file), len)?
    } else {
        pbf::read(path)?
    };
    let wgs84 = Crs::from_epsg(4326).map_err(|source| ImportError::engine(path, source))?;
    let mut sources = Vec::new();
    if opts.roads {
        let layer = build::roads(path, &data);
        sources.push(source(path, "roads", wgs84.clone(), build::road_fields(), layer));
    }
    if opts.buildings {
        let layer = build::buildings(path, &data);
        sources.push(source(path, "buildings", wgs84, build::building_fields(), layer));
    }
    Ok(sources)
}

fn source(
    path: &Path,
    name: &str,
    crs: Crs,
    fields: Vec<cim_engine::FieldDef>,
    layer: Layer,
) -> VectorSource {
    VectorSource {
        path: path.to_path_buf(),
        layer_name: name.to_string(),
        crs: Some(crs),
        fields,
        features: Box::new(layer.features.into_iter().map(Ok)),
        warnings: layer.warnings,
    }
}

/// Whether the file is XML: its first non-blank byte (after a UTF-8 BOM) is `<`.
fn is_xml(path: &Path) -> Result<bool> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut head = Vec::with_capacity(64);
    BufReader::new(file)
        .take(64)
        .read_to_end(&mut head)
        .map_err(|e| ImportError::io(path, e))?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    Ok(head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<'))
}
