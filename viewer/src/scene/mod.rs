//! Scene geometry built without Bevy: the local frame, terrain chunks, merged building tiles.

mod buildings;
mod mesh;
mod origin;
mod terrain;

pub use buildings::{build_tiles, extrude, BuildingInput, BuildingTile};
pub use mesh::{normalised, triangle_normal, MeshData};
pub use origin::LocalOrigin;
pub use terrain::{
    chunk_extent, chunk_grid, chunk_mesh, lod_step, ChunkKey, ElevationRamp, CHUNK_CELLS, MAX_STEP,
};
