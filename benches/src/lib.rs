//! Shared, seeded data generators for the criterion benches and the peer-tool scripts.
pub mod flood_case;
pub mod footprints;
pub mod gpkg_gen;
pub mod huge_polygon;
pub mod lod2;
