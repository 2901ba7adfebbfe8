//! Any vector format GDAL/OGR reads (KML, GML, DXF, MapInfo TAB, CSV with geometry, SpatiaLite,
//! ...), behind the `gdal` feature, into the same [`VectorSource`] the native readers give.
//!
//! Keys are `fid:{fid}` (OGR's feature id; `rec:{n}` where a driver assigns none), records are
//! numbered from 1 in reading order, fields are typed from the OGR field types, the CRS comes
//! from the layer's spatial reference (its EPSG code, else its WKT), and geometries go through
//! WKB into the engine's own decoder. Features are read one at a time on the prefetch thread,
//! never collected.

use super::crs::{crs_from_code, crs_from_wkt};
use super::prefetch::prefetch;
use super::{check_coords, warning};
use crate::error::{ImportError, Result, Warning};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::{AttrValue, Attributes, Crs, Date, FieldDef, FieldType};
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{Feature, FieldValue, LayerAccess, OGRFieldType, OwnedFeatureIterator};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use std::path::{Path, PathBuf};

/// Opens `path` read-only as vector data.
fn open(path: &Path) -> Result<Dataset> {
    if !path.exists() {
        return Err(ImportError::file(path, "file not found"));
    }
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        ..Default::default()
    };
    Dataset::open_ex(path, options)
        .map_err(|e| ImportError::file(path, format!("GDAL cannot read it as vector data: {e}")))
}

fn layer_names(dataset: &Dataset) -> Vec<String> {
    dataset.layers().map(|l| l.name()).collect()
}

/// The layers GDAL finds in a vector file, sorted.
pub fn list_gdal_layers(path: &Path) -> Result<Vec<String>> {
    let mut names = layer_names(&open(path)?);
    names.sort();
    Ok(names)
}

/// Reads one layer of any vector file GDAL opens. `layer` may be omitted where the file has
/// exactly one layer.
pub fn read_gdal(path: &Path, layer: Option<&str>) -> Result<VectorSource> {
    let dataset = open(path)?;
    let names = layer_names(&dataset);
    let listed = || format!("available: {}", names.join(", "));
    let index = match layer {
        Some(l) => names
            .iter()
            .position(|n| n == l)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(l)))
            .ok_or_else(|| ImportError::file(path, format!("no layer '{l}'; {}", listed())))?,
        None => match names.len() {
            1 => 0,
            0 => return Err(ImportError::file(path, "GDAL finds no vector layers in it")),
            n => {
                return Err(ImportError::file(
                    path,
                    format!("{n} layers, choose one with --source-layer; {}", listed()),
                ))
            }
        },
    };
    let owned = dataset
        .into_layer(index)
        .map_err(|e| ImportError::file(path, format!("cannot open layer {index}: {e}")))?;
    let layer_name = owned.name();
    let mut warnings = Vec::new();
    let crs = layer_crs(path, &layer_name, owned.spatial_ref(), &mut warnings);
    let mut fields = Vec::new();
    for f in owned.defn().fields() {
        let field_type = field_type(f.field_type());
        fields.push(FieldDef {
            name: f.name(),
            field_type,
        });
    }
    let features = GdalFeatures {
        path: path.to_path_buf(),
        features: owned.owned_features(),
        fields: fields.clone(),
        record: 0,
    };
    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name,
        crs,
        fields,
        features: prefetch(path, features),
        warnings,
    })
}

/// The layer's CRS: its authority code where the engine knows it, else its WKT.
fn layer_crs(path: &Path, layer: &str, srs: Option<SpatialRef>, warnings: &mut Vec<Warning>) -> Option<Crs> {
    let Some(srs) = srs else {
        warnings.push(warning(
            path,
            None,
            format!("layer '{layer}' declares no CRS (pass --src-crs)"),
        ));
        return None;
    };
    if let (Some(auth), Ok(code)) = (srs.auth_name(), srs.auth_code()) {
        if let Ok(crs) = crs_from_code(Some(&auth), i64::from(code)) {
            return Some(crs);
        }
    }
    let from_wkt = srs
        .to_wkt()
        .map_err(|e| e.to_string())
        .and_then(|wkt| crs_from_wkt(&wkt));
    match from_wkt {
        Ok(crs) => Some(crs),
        Err(reason) => {
            warnings.push(warning(
                path,
                None,
                format!("layer '{layer}': {reason}; the CRS is unknown (pass --src-crs)"),
            ));
            None
        }
    }
}

/// The engine type of an OGR field type; lists, times, binaries and date-times become text.
fn field_type(t: OGRFieldType::Type) -> FieldType {
    match t {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => FieldType::Int,
        OGRFieldType::OFTReal => FieldType::Real,
        OGRFieldType::OFTDate => FieldType::Date,
        _ => FieldType::Text,
    }
}

struct GdalFeatures {
    path: PathBuf,
    features: OwnedFeatureIterator,
    fields: Vec<FieldDef>,
    /// The 1-based number of the last record read.
    record: u64,
}

impl Iterator for GdalFeatures {
    type Item = Result<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        let feature = (&mut self.features).next()?;
        self.record += 1;
        let n = self.record;
        Some(convert(&feature, n, &self.fields).map_err(|reason| ImportError::record(&self.path, n, reason)))
    }
}

fn convert(feature: &Feature<'_>, n: u64, fields: &[FieldDef]) -> std::result::Result<SourceFeature, String> {
    let key = match feature.fid() {
        Some(fid) => format!("fid:{fid}"),
        None => format!("rec:{n}"),
    };
    let geometry = match feature.geometry() {
        None => None,
        Some(g) if g.is_empty() => None,
        Some(g) => {
            let wkb = g.wkb().map_err(|e| format!("cannot export the geometry: {e}"))?;
            let (geom, _) = cim_engine::gpkg::read_wkb(&wkb)
                .map_err(|e| format!("unsupported geometry ({}): {e}", g.geometry_name()))?;
            Some(geom)
        }
    };
    if let Some(g) = &geometry {
        check_coords(g)?;
    }
    let mut attributes = Attributes::new();
    for (i, f) in fields.iter().enumerate() {
        let value = match feature.field(i) {
            Ok(v) => attr(v),
            // Types the gdal crate does not decode (time, binary): OGR's own text for them.
            Err(_) => feature
                .field_as_string(i)
                .ok()
                .flatten()
                .map_or(AttrValue::Null, AttrValue::Text),
        };
        attributes.insert(f.name.clone(), value);
    }
    Ok(SourceFeature {
        record: n,
        key,
        geometry,
        attributes,
        kind: None,
        height_hint: None,
        warnings: Vec::new(),
    })
}

/// An OGR field value as the engine type of its field (see [`field_type`]).
fn attr(v: Option<FieldValue>) -> AttrValue {
    match v {
        None => AttrValue::Null,
        Some(FieldValue::IntegerValue(i)) => AttrValue::Int(i64::from(i)),
        Some(FieldValue::Integer64Value(i)) => AttrValue::Int(i),
        Some(FieldValue::RealValue(r)) => AttrValue::Real(r),
        Some(FieldValue::DateValue(d)) => {
            Date::parse(&d.to_string()).map_or(AttrValue::Null, AttrValue::Date)
        }
        Some(FieldValue::StringValue(s)) => AttrValue::Text(s),
        Some(FieldValue::DateTimeValue(d)) => AttrValue::Text(d.to_string()),
        Some(FieldValue::IntegerListValue(l)) => list(&l),
        Some(FieldValue::Integer64ListValue(l)) => list(&l),
        Some(FieldValue::RealListValue(l)) => list(&l),
        Some(FieldValue::StringListValue(l)) => AttrValue::Text(serde_json::Value::from(l).to_string()),
    }
}

/// A list field as text: `[1,2,3]`.
fn list<T: ToString>(items: &[T]) -> AttrValue {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    AttrValue::Text(format!("[{}]", parts.join(",")))
}
