//! # cim-importers — files into the city model
//!
//! Each format family has a reader that yields [`VectorSource`] (features in the source CRS) or a
//! [`cim_engine::Raster`] (terrain); [`pipeline`] transforms them into the project CRS, validates
//! them, derives heights and city codes, and writes them to the project in one transaction.

mod error;
mod source;

pub use error::{ImportError, Result, Warning};
pub use source::{HeightHint, SourceFeature, VectorSource};
