//! Scene geometry built without Bevy: the local frame, terrain chunks, merged building tiles.

pub mod atlas;
mod buildings;
mod drape;
mod mesh;
mod origin;
mod terrain;

pub use buildings::{
    box_distance, build_tiles, extrude, ray_box, ray_triangle, tile_near, BuildingInput, BuildingTile,
    NEAR_PX,
};
pub use drape::{drape_ribbon, ground, DRAPE_LIFT_M};
pub use mesh::{bounds_of, normalised, triangle_normal, MeshData};
pub use origin::LocalOrigin;
pub use terrain::{
    chunk_extent, chunk_grid, chunk_mesh, lod_step, lod_step_for, step_errors, ChunkKey, ElevationRamp,
    CHUNK_CELLS, MAX_STEP, STEPS,
};
