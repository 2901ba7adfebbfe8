//! What every vector reader hands to the import pipeline.

use crate::error::{Result, Warning};
use cim_engine::{Attributes, Crs, FeatureKind, FieldDef};
use std::path::PathBuf;

/// One object read from a source file, still in the source CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFeature {
    /// 1-based record number in the source, for messages.
    pub record: u64,
    /// Stable key of the object in its source (`fid:12`, `id:abc`, `osm:way/123`), from which
    /// the city code is derived: the same object must give the same key on every read.
    pub key: String,
    /// `None` when the record has no geometry (the pipeline warns and skips it).
    pub geometry: Option<geo::Geometry<f64>>,
    pub attributes: Attributes,
    /// A kind the source itself states (OSM `highway=*` → road); overrides the layer's kind.
    pub kind: Option<FeatureKind>,
    /// A height in metres the source itself states, with the tag it came from (OSM `height`).
    pub height_hint: Option<(f64, HeightHint)>,
    /// Problems the reader found and repaired in this record (an unclosed ring it closed); the
    /// pipeline reports each as a [`Warning`] naming the file and this record.
    pub warnings: Vec<String>,
}

/// How a source-stated height was derived.
#[derive(Clone, Debug, PartialEq)]
pub enum HeightHint {
    /// Read from an attribute/tag in metres.
    Attribute(String),
    /// Floors read from an attribute/tag; the value is floors × the storey height.
    Floors { name: String, floors: f64 },
}

/// A readable vector layer: its schema, CRS and a streaming iterator over its records.
pub struct VectorSource {
    pub path: PathBuf,
    /// The layer's name in the source (GeoPackage table, file stem, ...).
    pub layer_name: String,
    /// The CRS the source declares, or `None` if it declares none (the caller then needs `--src-crs`).
    pub crs: Option<Crs>,
    pub fields: Vec<FieldDef>,
    /// Records in source order. An `Err` item is a record that could not be read at all.
    pub features: Box<dyn Iterator<Item = Result<SourceFeature>>>,
    /// Problems found while opening (e.g. an unknown encoding, falling back to another).
    pub warnings: Vec<Warning>,
}
