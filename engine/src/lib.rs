//! # cim-engine — the city model
//!
//! Entry types: [`Project`] (one GeoPackage file), [`Feature`], [`CityCode`], [`Crs`] and
//! [`Transform`], [`Raster`] (terrain).
//!
//! ## Glossary
//! - **city code** (落图+赋码): a feature's stable, unique identifier, see [`CityCode`].
//! - **layer**: a named set of features of one kind, stored as one GeoPackage feature table.
//! - **LOD1**: a building as its footprint extruded from a base height to a top height.
//! - **classification**: who may see a layer or feature: public, internal, restricted.
//! - **validity**: the dates between which a feature exists; queries "as of" a date use it.
//! - **project CRS**: the one projected CRS, in metres, that every feature is stored in.

mod city_index;
mod code;
pub mod crs;
mod date;
mod error;
mod feature;
pub mod gpkg;
pub mod mesh;
pub mod network;
pub mod points;
mod raster;
mod store;

pub use city_index::{CityIndex, PickHit, PickSurface};
pub use code::CityCode;
pub use crs::{crs_fitting, haversine_km, AreaOfUse, Crs, Transform};
pub use date::Date;
pub use error::{EngineError, Result};
pub use feature::{
    AttrValue, Attributes, Classification, Feature, FeatureKind, FieldDef, FieldType, HeightSource, Lod1,
    Validity,
};
pub use raster::Raster;
// store re-exports (owned by the store engineer):
pub use store::{
    flood_kpis, image_mime, parse_conditions, run_raster_table, BimModel, Cell, CmpOp, ColumnKind, Condition,
    ContentFrame, FeatureFilter, GeometryType, ImportStats, ImportTx, Kpi, KpiSnapshot, LayerInfo, LayerSpec,
    MeshSummary, NetworkSummary, Project, Refine, ResultColumn, ResultTable, RunBuilding, RunRaster,
    RunRasterAt, RunRecord, RunRoad, RunSpool, RunSummary, StoredFeature, TerrainInfo, Texture, Tile,
    TileContent, Tileset, TilesetHead, TilesetKind, Viewpoint, Written, COVERAGE_TILE, DATA_NULL,
    FLOOD_CLASSES, FORMAT_VERSION,
};
