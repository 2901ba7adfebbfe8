//! A city of real LoD2 buildings for the picking benches: the 3D BAG sample's LoD 2.2 solids
//! (`../shared/fixtures/cityjson/3dbag_multi_lod.city.json`, 10 buildings reconstructed by
//! geoflow, MIT) imported through cim, then laid out again and again on a grid.

use cim_engine::mesh::Mesh3;
use cim_engine::{Crs, PickSurface, Project};
use cim_importers::pipeline::ImportOptions;
use cim_spatial_index::{Item, Shape, TriangleMesh};

/// The sample's LoD 2.2 meshes, each moved to have its box's south-west-bottom corner at 0.
pub fn sample_meshes() -> Vec<Mesh3> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/cityjson/3dbag_multi_lod.city.json");
    let dir = tempfile::tempdir().expect("temp dir");
    let crs = Crs::from_epsg(28992).expect("crs");
    let mut project = Project::create(&dir.path().join("bag.gpkg"), &crs, "000000").expect("project");
    let opts = ImportOptions {
        src_crs: Some(crs.clone()),
        ..ImportOptions::default()
    };
    cim_importers::import_file(&mut project, &file, &opts, &mut |_| {}).expect("import 3D BAG sample");
    let mut out = Vec::new();
    for layer in project.layers().expect("layers") {
        project
            .for_each_representation(&layer.name, Some("2.2"), |_, rep| {
                let mut m = rep.mesh;
                let lo = m.positions.iter().fold([f32::INFINITY; 3], |a, p| {
                    [a[0].min(p[0]), a[1].min(p[1]), a[2].min(p[2])]
                });
                for p in &mut m.positions {
                    *p = [p[0] - lo[0], p[1] - lo[1], p[2] - lo[2]];
                }
                m.origin = [0.0; 3];
                out.push(m);
                Ok(())
            })
            .expect("meshes");
    }
    out
}

/// What [`lod2_city`] laid out.
pub struct Lod2City {
    pub items: Vec<Item>,
    /// South-west and north-east corners.
    pub extent: ([f64; 2], [f64; 2]),
    pub triangles: usize,
    pub vertices: usize,
}

/// `n` LoD2 buildings: the sample's meshes in turn, on a square grid in RD New coordinates,
/// each in a cell as wide as the largest of them plus 5 m, as [`Shape::Mesh`] items tagged as
/// the engine tags them (surface class and face).
pub fn lod2_city(n: usize) -> Lod2City {
    let meshes = sample_meshes();
    assert!(!meshes.is_empty(), "the 3D BAG sample has LoD 2.2 meshes");
    let cell = meshes
        .iter()
        .flat_map(|m| m.positions.iter().map(|p| p[0].max(p[1])))
        .fold(0.0f32, f32::max) as f64
        + 5.0;
    let side = (n as f64).sqrt().ceil() as usize;
    let origin = [150_000.0, 410_000.0];
    let (mut triangles, mut vertices) = (0, 0);
    let items = (0..n)
        .map(|i| {
            let m = &meshes[i % meshes.len()];
            let at = [
                origin[0] + (i % side) as f64 * cell,
                origin[1] + (i / side) as f64 * cell,
                0.0,
            ];
            triangles += m.triangles.len();
            vertices += m.positions.len();
            let mesh =
                TriangleMesh::new(at, &m.positions, &m.triangles, &PickSurface::tags(m)).expect("mesh");
            Item::new(i as u64, Shape::Mesh(mesh))
        })
        .collect();
    let rows = n.div_ceil(side);
    Lod2City {
        items,
        extent: (
            origin,
            [origin[0] + side as f64 * cell, origin[1] + rows as f64 * cell],
        ),
        triangles,
        vertices,
    }
}
