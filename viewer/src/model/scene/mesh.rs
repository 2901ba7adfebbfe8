//! Triangle meshes in plain arrays, built without Bevy and handed to it as they are.

/// Indexed triangles in the viewer's local frame ([`LocalOrigin`](super::LocalOrigin)),
/// counter-clockwise seen from the front.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeshData {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    /// Linear RGBA.
    pub colors: Vec<[f32; 4]>,
    pub indices: Vec<u32>,
    /// Texture coordinates, one a vertex, where the mesh is textured (a building tile with a
    /// texture atlas).
    pub uvs: Option<Vec<[f32; 2]>>,
}

impl MeshData {
    pub fn vertex_count(&self) -> usize {
        self.positions.len()
    }

    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Adds a vertex and returns its index.
    pub fn push(&mut self, p: [f32; 3], n: [f32; 3], c: [f32; 4]) -> u32 {
        let i = self.positions.len() as u32;
        self.positions.push(p);
        self.normals.push(n);
        self.colors.push(c);
        i
    }

    /// Adds the engine mesh `m` flat-shaded (each source face its own vertices and normal) in
    /// the local frame, coloured `color`, leaving out the faces of the classes in `skip` (the
    /// ground under a building, which no one sees).
    pub fn push_mesh3(
        &mut self,
        m: &cim_engine::mesh::Mesh3,
        origin: &super::LocalOrigin,
        color: [f32; 4],
        skip: &[cim_engine::mesh::SurfaceClass],
    ) {
        self.push_mesh3_painted(m, origin, skip, &|_| color, None);
    }

    /// [`MeshData::push_mesh3`] with each face coloured by `color_of(triangle)` and, where
    /// `uv_of` is given, texture coordinates `uv_of(triangle, vertex)` (the mesh's `uvs` then
    /// holds one a vertex).
    pub fn push_mesh3_painted(
        &mut self,
        m: &cim_engine::mesh::Mesh3,
        origin: &super::LocalOrigin,
        skip: &[cim_engine::mesh::SurfaceClass],
        color_of: &dyn Fn(usize) -> [f32; 4],
        uv_of: Option<&dyn Fn(usize, u32) -> [f32; 2]>,
    ) {
        let mut t = 0;
        while t < m.triangles.len() {
            let face = m.faces[t];
            let end = (t..m.triangles.len())
                .find(|&k| m.faces[k] != face)
                .unwrap_or(m.triangles.len());
            if !skip.contains(&m.classes[t]) {
                // The face's normal: the sum of its triangles' (area-weighted) normals.
                let mut n = [0.0f64; 3];
                for tri in &m.triangles[t..end] {
                    let [a, b, c] = tri.map(|v| m.world(v));
                    let (u, w) = (
                        [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
                        [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
                    );
                    n[0] += u[1] * w[2] - u[2] * w[1];
                    n[1] += u[2] * w[0] - u[0] * w[2];
                    n[2] += u[0] * w[1] - u[1] * w[0];
                }
                let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt().max(1e-12);
                let normal = super::LocalOrigin::dir_to_local([n[0] / len, n[1] / len, n[2] / len]);
                let color = color_of(t);
                let mut local: Vec<(u32, u32)> = Vec::new();
                for tri in &m.triangles[t..end] {
                    for &v in tri {
                        let i = match local.iter().find(|(src, _)| *src == v) {
                            Some(&(_, i)) => i,
                            None => {
                                let p = m.world(v);
                                let i = self.push(origin.to_local(p[0], p[1], p[2]), normal, color);
                                if let Some(uv_of) = uv_of {
                                    self.uvs.get_or_insert_with(Vec::new).push(uv_of(t, v));
                                }
                                local.push((v, i));
                                i
                            }
                        };
                        self.indices.push(i);
                    }
                }
            }
            t = end;
        }
    }

    /// Smallest and largest corner of the vertices; `None` without vertices.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        bounds_of(&self.positions)
    }

    /// Gives back the room the arrays grew into but do not use.
    pub fn shrink_to_fit(&mut self) {
        self.positions.shrink_to_fit();
        self.normals.shrink_to_fit();
        self.colors.shrink_to_fit();
        self.indices.shrink_to_fit();
        if let Some(u) = &mut self.uvs {
            u.shrink_to_fit();
        }
    }

    /// Bytes the arrays hold.
    pub fn heap_bytes(&self) -> usize {
        self.positions.capacity() * 12
            + self.normals.capacity() * 12
            + self.colors.capacity() * 16
            + self.indices.capacity() * 4
            + self.uvs.as_ref().map_or(0, |u| u.capacity() * 8)
    }
}

/// Smallest and largest corner of some points; `None` without points.
pub fn bounds_of(points: &[[f32; 3]]) -> Option<([f32; 3], [f32; 3])> {
    let first = *points.first()?;
    Some(points.iter().fold((first, first), |(lo, hi), p| {
        (
            [lo[0].min(p[0]), lo[1].min(p[1]), lo[2].min(p[2])],
            [hi[0].max(p[0]), hi[1].max(p[1]), hi[2].max(p[2])],
        )
    }))
}

/// The unit normal of triangle `a, b, c` (counter-clockwise), or up for a degenerate one.
pub fn triangle_normal(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> [f32; 3] {
    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    normalised([
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ])
}

/// `v` scaled to length 1, or up for a zero vector.
pub fn normalised(v: [f32; 3]) -> [f32; 3] {
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if len > 0.0 && len.is_finite() {
        [v[0] / len, v[1] / len, v[2] / len]
    } else {
        [0.0, 1.0, 0.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_clockwise_from_above_faces_up() {
        // x east, z south: east, then north (−z) is counter-clockwise seen from +y.
        let n = triangle_normal([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]);
        assert_eq!(n, [0.0, 1.0, 0.0]);
        assert_eq!(triangle_normal([0.0; 3], [0.0; 3], [0.0; 3]), [0.0, 1.0, 0.0]);
    }

    #[test]
    fn bounds_cover_every_vertex() {
        let mut m = MeshData::default();
        assert_eq!(m.bounds(), None);
        m.push([1.0, -2.0, 3.0], [0.0, 1.0, 0.0], [1.0; 4]);
        m.push([-1.0, 5.0, 0.5], [0.0, 1.0, 0.0], [1.0; 4]);
        assert_eq!(m.bounds(), Some(([-1.0, -2.0, 0.5], [1.0, 5.0, 3.0])));
    }
}
