//! Shared, seeded data generators for the criterion benches and the peer-tool scripts.
pub mod flood_case;
pub mod footprints;
pub mod gpkg_gen;
pub mod huge_polygon;
pub mod lod2;
pub mod points;

/// The allocator the `cim` binary uses (see its `main.rs`), so that the benches measure what it
/// does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
