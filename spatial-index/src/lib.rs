//! The spatial core of cim: an R-tree (on [`rstar`]) over the 3D boxes of city features, with
//! the features' shapes kept beside it so that queries answer exactly, not just by box.
//!
//! Entry types:
//! - [`SpatialIndex`]: build with [`SpatialIndex::bulk_load`] (or [`SpatialIndex::insert`]),
//!   then query: [`window`](SpatialIndex::window) / [`window_2d`](SpatialIndex::window_2d) (box
//!   intersection), [`intersecting_polygon`](SpatialIndex::intersecting_polygon),
//!   [`within_distance_2d`](SpatialIndex::within_distance_2d),
//!   [`nearest_2d`](SpatialIndex::nearest_2d) and [`ray_pick`](SpatialIndex::ray_pick).
//! - [`Item`] = [`ItemId`] + [`Shape`]; [`Aabb3`] is the box everything is filed under.
//! - [`Hit`] is what a ray pick returns; [`Shape::ray_hit`] gives the same for one shape.
//!
//! Every list of ids a query returns is sorted; [`SpatialIndex::for_each_in_window_2d`] is the
//! unsorted, allocation-free variant for hot loops. Queries never panic: an empty index, or a
//! query with NaN in it, simply finds nothing.
//!
//! How it is laid out: [`SpatialIndex::bulk_load`] builds a packed static R-tree in flat
//! arrays (`packed.rs`: Hilbert order, nodes of 16, structure-of-arrays chunks, exact `f64`
//! item boxes, node boxes rounded outwards to `f32`); items inserted later go into an rstar
//! tree beside it (`tree.rs`), removed packed items get a tombstone, and once the changes
//! exceed a quarter of the packed tree everything is repacked. Every query visits both trees.
//! Both are organised on x, y (city data is 2.5D) but every node box also carries its z
//! range. Items are numbered by their slot in a shape arena (packed items: slot = packed
//! position); exact tests read the shape from the arena.
//!
//! # Glossary
//!
//! - **footprint**: a building's or parcel's 2D outline, a polygon, holes allowed.
//! - **LOD1**: level of detail 1 of CityGML: a building as its footprint extruded to one
//!   height, a [`Shape::Prism`].
//! - **parcel** (地块): a cadastral land unit; a prism with `top_z == base_z`.
//! - **prism**: footprint × `[base_z, top_z]`, a closed solid.
//! - **window query**: all items whose box meets a query box.
//! - **ray pick**: the first solid along a ray from the camera, as when clicking in a 3D view.
//! - **kNN**: the k nearest neighbours.
//! - **bulk load**: building the tree from all items at once, instead of one insert each.
//! - **LoD2**: a building with its roof shapes, walls and ground as surfaces; indexed as a
//!   [`Shape::Mesh`], a [`TriangleMesh`] with its own bounding-volume hierarchy (**BVH**), so a
//!   ray finds the triangle (and the surface it belongs to) without testing them all.

mod aabb;
mod index;
mod mesh;
mod nearest;
mod packed;
mod ray;
mod shape;
mod tree;
mod window;

pub use aabb::Aabb3;
pub use index::SpatialIndex;
pub use mesh::{MeshError, MeshHit, TriangleMesh, LEAF};
pub use ray::{Hit, SurfaceHit};
pub use shape::{Item, ItemId, Shape};
