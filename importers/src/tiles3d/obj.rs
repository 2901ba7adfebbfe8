//! OBJ + MTL models (read by `tobj`, positions in f64) turned into a GLB for the project: OBJ
//! is taken z up (x east, y north), as photogrammetry and GIS tools write it; diffuse colours
//! and `map_Kd` textures (JPEG/PNG, embedded as delivered) come along.

use std::path::Path;

use super::gltf::{self, Image, Material, Part};

/// What the OBJ held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjStats {
    pub triangles: u64,
    pub images: usize,
    /// Textures named but missing or not JPEG/PNG, and materials that did not read.
    pub notes: Vec<String>,
}

/// Reads the OBJ at `path` (and its MTL and textures) as a GLB, y up.
pub fn obj_to_glb(path: &Path) -> Result<(Vec<u8>, ObjStats), String> {
    let opts = tobj::LoadOptions {
        triangulate: true,
        single_index: true,
        ..Default::default()
    };
    let (models, mats) = tobj::load_obj(path, &opts).map_err(|e| format!("cannot read it as OBJ: {e}"))?;
    let mut stats = ObjStats::default();
    let mats = match mats {
        Ok(m) => m,
        Err(e) => {
            stats
                .notes
                .push(format!("its materials did not read ({e}); drawn plain"));
            Vec::new()
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut images: Vec<Image> = Vec::new();
    let mut materials: Vec<Material> = Vec::new();
    for m in &mats {
        let color = m
            .diffuse
            .map(|d| {
                [
                    d[0] as f32,
                    d[1] as f32,
                    d[2] as f32,
                    m.dissolve.unwrap_or(1.0) as f32,
                ]
            })
            .unwrap_or([1.0; 4]);
        let image = m.diffuse_texture.as_ref().and_then(|t| {
            let file = dir.join(t.replace('\\', "/"));
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let mime = gltf::sniff_image(&bytes);
                    if mime == "image/jpeg" || mime == "image/png" {
                        images.push(Image {
                            mime: mime.into(),
                            bytes,
                        });
                        Some(images.len() - 1)
                    } else {
                        stats.notes.push(format!(
                            "texture {} is not JPEG or PNG; drawn plain",
                            file.display()
                        ));
                        None
                    }
                }
                Err(e) => {
                    stats
                        .notes
                        .push(format!("texture {}: {e}; drawn plain", file.display()));
                    None
                }
            }
        });
        materials.push(Material { color, image });
    }
    // z up → glTF's y up: (x, y, z) → (x, z, −y).
    let mut parts = Vec::new();
    let (mut lo, mut hi) = ([f64::MAX; 3], [f64::MIN; 3]);
    for m in &models {
        let mesh = &m.mesh;
        let positions: Vec<[f64; 3]> = mesh
            .positions
            .chunks_exact(3)
            .map(|p| [p[0], p[2], -p[1]])
            .collect();
        if positions.iter().flatten().any(|v| !v.is_finite()) {
            return Err(format!(
                "object '{}' has coordinates that are not numbers",
                m.name
            ));
        }
        for q in &positions {
            for i in 0..3 {
                lo[i] = lo[i].min(q[i]);
                hi[i] = hi[i].max(q[i]);
            }
        }
        let n = positions.len() as u32;
        let triangles: Vec<[u32; 3]> = mesh.indices.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
        if let Some(bad) = triangles.iter().flatten().find(|i| **i >= n) {
            return Err(format!("object '{}' names vertex {bad} of {n}", m.name));
        }
        let uvs = (mesh.texcoords.len() == positions.len() * 2).then(|| {
            mesh.texcoords
                .chunks_exact(2)
                .map(|t| [t[0] as f32, 1.0 - t[1] as f32])
                .collect()
        });
        stats.triangles += triangles.len() as u64;
        parts.push(Part {
            positions,
            triangles,
            uvs,
            feature_ids: None,
            material: mesh.material_id.filter(|i| *i < materials.len()),
        });
    }
    if stats.triangles == 0 {
        return Err("it has no faces".into());
    }
    stats.images = images.len();
    let centre = [0, 1, 2].map(|i| ((lo[i] + hi[i]) / 2.0).round());
    Ok((gltf::write_glb(&parts, &materials, &images, centre), stats))
}
