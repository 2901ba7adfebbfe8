//! [`TriangleMesh`]: a triangle mesh as an indexable shape, with its own bounding-volume
//! hierarchy (BVH), so that a ray finds the triangle actually hit (a dormer, a balcony) without
//! testing every triangle of the mesh.
//!
//! Layout: positions are `f32` relative to an `f64` origin (millimetres stay exact for a
//! building a few kilometres across), and everything else lives in one `u32` buffer, so a mesh
//! costs one allocation:
//!
//! ```text
//! [ local bounds: 6 f32 | positions: 3 f32 per vertex | triangles: 3 u32 each
//!   | tags: 1 u32 per triangle | BVH nodes: 4 words each ]
//! ```
//!
//! The BVH is built top-down by splitting each node's triangles at the median of their
//! centroids along the longest axis, down to leaves of at most [`LEAF`] triangles; triangles
//! are stored in leaf order (their tags move with them). Nodes are laid out depth first (a
//! node's left child follows it) in 16 bytes: the box quantised to 16 bits per coordinate
//! within the mesh's bounds (rounded outwards) and one link word (a leaf's first triangle and
//! count, or an inner node's right child). A mesh of at most [`LEAF`] triangles has no nodes:
//! its bounds are its only box.

use geo::Intersects;

/// Most triangles in one BVH leaf (and in a mesh that has no BVH).
pub const LEAF: usize = 16;
/// Bits of a leaf's link word that hold its triangle count.
const COUNT_BITS: u32 = 5;

/// Words before the positions: the local bounds.
const HEADER: usize = 6;
/// Words per BVH node.
const NODE: usize = 4;
/// Set in a leaf's link word.
const LEAF_BIT: u32 = 1 << 31;
/// Quantisation steps per axis.
const STEPS: f32 = 65535.0;

/// Why a mesh could not be made a [`TriangleMesh`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeshError {
    /// A triangle names a vertex that does not exist.
    VertexOutOfRange { triangle: usize, vertex: u32 },
    /// A position or the origin is not finite.
    NotFinite,
    /// More triangles than the BVH can address (2²⁶).
    TooLarge,
    /// `tags` does not have one entry per triangle.
    TagCount,
}

impl std::fmt::Display for MeshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeshError::VertexOutOfRange { triangle, vertex } => {
                write!(
                    f,
                    "triangle {triangle} names vertex {vertex}, which does not exist"
                )
            }
            MeshError::NotFinite => write!(f, "a coordinate is not finite"),
            MeshError::TooLarge => write!(f, "more than 2^26 triangles"),
            MeshError::TagCount => write!(f, "the tags are not one per triangle"),
        }
    }
}

impl std::error::Error for MeshError {}

/// A triangle mesh with a BVH: the indexed form of a feature's 3-D geometry (an LoD2 building).
///
/// Each triangle carries a caller's `u32` tag (the engine packs the surface class and the
/// source face into it), returned with a ray hit so that the caller can name the surface hit.
/// It is not taken to be closed: a ray meets its surfaces, and a ray starting inside meets the
/// first surface ahead, not the origin.
///
/// # Examples
///
/// ```
/// use cim_spatial_index::TriangleMesh;
///
/// // A 10 m × 10 m flat roof at 6 m, two triangles tagged 1 and 2.
/// let mesh = TriangleMesh::new(
///     [500_000.0, 4_000_000.0, 0.0],
///     &[[0.0, 0.0, 6.0], [10.0, 0.0, 6.0], [10.0, 10.0, 6.0], [0.0, 10.0, 6.0]],
///     &[[0, 1, 2], [0, 2, 3]],
///     &[1, 2],
/// )
/// .unwrap();
/// let hit = mesh.ray_hit([500_002.0, 4_000_007.0, 50.0], [0.0, 0.0, -1.0]).unwrap();
/// assert_eq!((hit.distance, hit.tag), (44.0, Some(2)));
/// assert_eq!(hit.point, [500_002.0, 4_000_007.0, 6.0]);
/// ```
#[derive(Clone, PartialEq)]
pub struct TriangleMesh {
    origin: [f64; 3],
    n_vertices: u32,
    n_triangles: u32,
    data: Box<[u32]>,
}

impl std::fmt::Debug for TriangleMesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriangleMesh")
            .field("origin", &self.origin)
            .field("vertices", &self.n_vertices)
            .field("triangles", &self.n_triangles)
            .field("nodes", &self.node_count())
            .finish()
    }
}

/// A box in the mesh's local frame.
#[derive(Clone, Copy, Debug)]
struct LocalBox {
    lo: [f32; 3],
    hi: [f32; 3],
}

impl LocalBox {
    const EMPTY: LocalBox = LocalBox {
        lo: [f32::INFINITY; 3],
        hi: [f32::NEG_INFINITY; 3],
    };

    fn add(&mut self, p: [f32; 3]) {
        for ((lo, hi), v) in self.lo.iter_mut().zip(&mut self.hi).zip(p) {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    }
}

/// A ray in a mesh's local frame.
#[derive(Clone, Copy)]
struct LocalRay {
    o: [f32; 3],
    d: [f32; 3],
    inv: [f32; 3],
}

impl LocalRay {
    /// Where the ray enters `b` (t ≥ 0), if before `max_t`.
    fn enters(&self, b: &LocalBox, max_t: f32) -> Option<f32> {
        let (mut t0, mut t1) = (0.0f32, max_t);
        for a in 0..3 {
            let (mut n, mut f) = (
                (b.lo[a] - self.o[a]) * self.inv[a],
                (b.hi[a] - self.o[a]) * self.inv[a],
            );
            if n > f {
                std::mem::swap(&mut n, &mut f);
            }
            // NaN (0 · ∞ for a ray in the box's face plane) keeps the interval as it is.
            t0 = if n > t0 { n } else { t0 };
            t1 = if f < t1 { f } else { t1 };
        }
        (t0 <= t1).then_some(t0)
    }
}

/// Möller–Trumbore in the mesh frame, with a hair of slack on the barycentric tests so a ray
/// through a shared edge meets one of its two triangles. `t` within `[0, max_t)`.
fn ray_triangle(r: &LocalRay, a: [f32; 3], b: [f32; 3], c: [f32; 3], max_t: f32) -> Option<f32> {
    const SLACK: f32 = 1e-6;
    let e1 = sub(b, a);
    let e2 = sub(c, a);
    let p = cross(r.d, e2);
    let det = dot(e1, p);
    if det.abs() <= f32::MIN_POSITIVE || !det.is_finite() {
        return None;
    }
    let inv = 1.0 / det;
    let s = sub(r.o, a);
    let u = dot(s, p) * inv;
    if !(-SLACK..=1.0 + SLACK).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(r.d, q) * inv;
    if v < -SLACK || u + v > 1.0 + SLACK {
        return None;
    }
    let t = dot(e2, q) * inv;
    (t >= 0.0 && t < max_t).then_some(t)
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Where a ray met a [`TriangleMesh`]: [`TriangleMesh::ray_hit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeshHit {
    /// Distance from the ray origin, metres (along the normalised direction).
    pub distance: f64,
    /// The point hit.
    pub point: [f64; 3],
    /// The triangle's unit normal, turned to face the ray.
    pub normal: [f64; 3],
    /// The tag of the triangle hit (always `Some` for a mesh).
    pub tag: Option<u32>,
}

/// Builds the BVH over triangles `tris[range]` (reordering them), appending nodes to `nodes`
/// depth first. `boxes[k]` and `centroids[k]` belong to `tris[k]`, and move with it.
struct Builder<'a> {
    tris: &'a mut [(u32, [u32; 3])],
    boxes: Vec<LocalBox>,
    bounds: LocalBox,
    nodes: Vec<[u32; NODE]>,
}

impl Builder<'_> {
    fn quantise(&self, b: &LocalBox) -> [u32; 3] {
        let mut q = [0u16; 6];
        for a in 0..3 {
            let ext = self.bounds.hi[a] - self.bounds.lo[a];
            let scale = if ext > 0.0 { STEPS / ext } else { 0.0 };
            let lo = ((b.lo[a] - self.bounds.lo[a]) * scale).floor().clamp(0.0, STEPS);
            let hi = ((b.hi[a] - self.bounds.lo[a]) * scale).ceil().clamp(0.0, STEPS);
            q[a] = lo as u16;
            q[a + 3] = hi as u16;
        }
        [
            u32::from(q[0]) | u32::from(q[1]) << 16,
            u32::from(q[2]) | u32::from(q[3]) << 16,
            u32::from(q[4]) | u32::from(q[5]) << 16,
        ]
    }

    fn build(&mut self, start: usize, end: usize) {
        let mut b = LocalBox::EMPTY;
        let mut c = LocalBox::EMPTY;
        for k in start..end {
            let t = self.boxes[k];
            b.add(t.lo);
            b.add(t.hi);
            c.add([0, 1, 2].map(|a| 0.5 * (t.lo[a] + t.hi[a])));
        }
        let at = self.nodes.len();
        let q = self.quantise(&b);
        self.nodes.push([q[0], q[1], q[2], 0]);
        if end - start <= LEAF {
            // start < 2^26 (checked by the caller), count ≤ LEAF < 2^COUNT_BITS.
            self.nodes[at][3] = LEAF_BIT | (start as u32) << COUNT_BITS | (end - start) as u32;
            return;
        }
        let ext = [0, 1, 2].map(|a| c.hi[a] - c.lo[a]);
        let axis = if ext[0] >= ext[1] && ext[0] >= ext[2] {
            0
        } else if ext[1] >= ext[2] {
            1
        } else {
            2
        };
        let mid = start + (end - start) / 2;
        // Sort the range's (triangle, box) pairs by centroid on the axis, splitting at the median.
        let mut pairs: Vec<((u32, [u32; 3]), LocalBox)> =
            (start..end).map(|k| (self.tris[k], self.boxes[k])).collect();
        let key = |p: &((u32, [u32; 3]), LocalBox)| p.1.lo[axis] + p.1.hi[axis];
        pairs.select_nth_unstable_by(mid - start, |x, y| key(x).total_cmp(&key(y)));
        for (k, (t, bx)) in pairs.into_iter().enumerate() {
            self.tris[start + k] = t;
            self.boxes[start + k] = bx;
        }
        self.build(start, mid);
        self.nodes[at][3] = self.nodes.len() as u32;
        self.build(mid, end);
    }
}

impl TriangleMesh {
    /// A mesh from its origin (project CRS), positions relative to it, triangles (indices into
    /// `positions`) and one caller's tag per triangle. Builds the BVH.
    ///
    /// Errors on a vertex index out of range, a non-finite coordinate, a tag list of the wrong
    /// length, or more than 2²⁶ triangles. Degenerate triangles are kept (a ray never hits them).
    pub fn new(
        origin: [f64; 3],
        positions: &[[f32; 3]],
        triangles: &[[u32; 3]],
        tags: &[u32],
    ) -> Result<TriangleMesh, MeshError> {
        if tags.len() != triangles.len() {
            return Err(MeshError::TagCount);
        }
        if triangles.len() >= 1 << 26 || positions.len() >= 1 << 30 {
            return Err(MeshError::TooLarge);
        }
        if !origin.iter().all(|v| v.is_finite()) || !positions.iter().flatten().all(|v| v.is_finite()) {
            return Err(MeshError::NotFinite);
        }
        let mut bounds = LocalBox::EMPTY;
        let mut boxes = Vec::with_capacity(triangles.len());
        for (k, t) in triangles.iter().enumerate() {
            let mut b = LocalBox::EMPTY;
            for &v in t {
                let p = positions.get(v as usize).ok_or(MeshError::VertexOutOfRange {
                    triangle: k,
                    vertex: v,
                })?;
                b.add(*p);
            }
            bounds.add(b.lo);
            bounds.add(b.hi);
            boxes.push(b);
        }
        if triangles.is_empty() {
            bounds = LocalBox {
                lo: [0.0; 3],
                hi: [0.0; 3],
            };
        }
        let mut tris: Vec<(u32, [u32; 3])> = tags.iter().copied().zip(triangles.iter().copied()).collect();
        let nodes = if triangles.len() > LEAF {
            let mut b = Builder {
                tris: &mut tris,
                boxes,
                bounds,
                nodes: Vec::with_capacity(triangles.len() / 2),
            };
            let n = b.tris.len();
            b.build(0, n);
            b.nodes
        } else {
            Vec::new()
        };
        let words = HEADER + 3 * positions.len() + 4 * tris.len() + NODE * nodes.len();
        let mut data = Vec::with_capacity(words);
        data.extend(bounds.lo.iter().chain(&bounds.hi).map(|v| v.to_bits()));
        data.extend(positions.iter().flatten().map(|v| v.to_bits()));
        data.extend(tris.iter().flat_map(|(_, t)| *t));
        data.extend(tris.iter().map(|(tag, _)| *tag));
        data.extend(nodes.iter().flatten());
        Ok(TriangleMesh {
            origin,
            n_vertices: positions.len() as u32,
            n_triangles: tris.len() as u32,
            data: data.into_boxed_slice(),
        })
    }

    /// The origin positions are relative to.
    pub fn origin(&self) -> [f64; 3] {
        self.origin
    }

    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.n_triangles as usize
    }

    /// Number of vertices.
    pub fn vertex_count(&self) -> usize {
        self.n_vertices as usize
    }

    /// Number of BVH nodes (0 for a mesh of at most [`LEAF`] triangles).
    pub fn node_count(&self) -> usize {
        (self.data.len() - self.nodes_at()) / NODE
    }

    /// Bytes on the heap: positions, triangles and tags (`12·V + 16·T`), the BVH nodes
    /// (16 each) and 24 bytes of local bounds.
    pub fn heap_bytes(&self) -> usize {
        self.data.len() * 4
    }

    /// Bytes of the BVH nodes and local bounds: what the mesh costs beyond its vertices,
    /// triangles and tags.
    pub fn index_bytes(&self) -> usize {
        (HEADER + NODE * self.node_count()) * 4
    }

    fn local_bounds(&self) -> LocalBox {
        let f = |k: usize| f32::from_bits(self.data[k]);
        LocalBox {
            lo: [f(0), f(1), f(2)],
            hi: [f(3), f(4), f(5)],
        }
    }

    /// The mesh's box in project coordinates, rounded outwards.
    pub fn bounds(&self) -> crate::Aabb3 {
        let b = self.local_bounds();
        let lo = [0, 1, 2].map(|a| (self.origin[a] + f64::from(b.lo[a])).next_down());
        let hi = [0, 1, 2].map(|a| (self.origin[a] + f64::from(b.hi[a])).next_up());
        crate::Aabb3::new(lo, hi)
    }

    fn position(&self, v: u32) -> [f32; 3] {
        let k = HEADER + 3 * v as usize;
        [0, 1, 2].map(|a| f32::from_bits(self.data[k + a]))
    }

    fn tris_at(&self) -> usize {
        HEADER + 3 * self.n_vertices as usize
    }

    fn tags_at(&self) -> usize {
        self.tris_at() + 3 * self.n_triangles as usize
    }

    fn nodes_at(&self) -> usize {
        self.tags_at() + self.n_triangles as usize
    }

    /// Triangle `k` (in stored order) as its three corners, local frame.
    fn corners(&self, k: usize) -> [[f32; 3]; 3] {
        let at = self.tris_at() + 3 * k;
        [0, 1, 2].map(|i| self.position(self.data[at + i]))
    }

    /// Each triangle's corners in project coordinates, with its tag (stored order).
    pub fn triangles(&self) -> impl Iterator<Item = ([[f64; 3]; 3], u32)> + '_ {
        (0..self.triangle_count()).map(move |k| {
            let c = self
                .corners(k)
                .map(|p| [0, 1, 2].map(|a| self.origin[a] + f64::from(p[a])));
            (c, self.data[self.tags_at() + k])
        })
    }

    fn node(&self, i: usize) -> (LocalBox, u32) {
        let at = self.nodes_at() + NODE * i;
        let w = &self.data[at..at + NODE];
        let q = [
            w[0] & 0xffff,
            w[0] >> 16,
            w[1] & 0xffff,
            w[1] >> 16,
            w[2] & 0xffff,
            w[2] >> 16,
        ];
        let b = self.local_bounds();
        let mut out = LocalBox::EMPTY;
        for a in 0..3 {
            let step = (b.hi[a] - b.lo[a]) / STEPS;
            // A hair outwards, for rounding in the dequantisation.
            let pad = (b.hi[a] - b.lo[a]).abs() * 1e-6 + 1e-5;
            out.lo[a] = b.lo[a] + q[a] as f32 * step - pad;
            out.hi[a] = b.lo[a] + q[a + 3] as f32 * step + pad;
        }
        (out, w[3])
    }

    /// Where the ray `origin + t·dir` (project CRS, `dir` any non-zero length) first meets a
    /// triangle, with that triangle's tag; `None` if it misses or the ray is zero or not finite.
    pub fn ray_hit(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<MeshHit> {
        let ray = crate::ray::Ray::new(origin, dir)?;
        self.hit(&ray, f64::INFINITY)
    }

    /// The nearest triangle hit before `max_t`.
    pub(crate) fn hit(&self, ray: &crate::ray::Ray, max_t: f64) -> Option<MeshHit> {
        let (o, d) = (ray.origin(), ray.dir());
        let lo = [0, 1, 2].map(|a| (o[a] - self.origin[a]) as f32);
        let dl = d.map(|c| c as f32);
        let r = LocalRay {
            o: lo,
            d: dl,
            inv: dl.map(|c| 1.0 / c),
        };
        let mut best_t = if max_t.is_finite() {
            max_t as f32
        } else {
            f32::INFINITY
        };
        let mut best: Option<usize> = None;
        let mut test = |k: usize, best_t: &mut f32| {
            let [a, b, c] = self.corners(k);
            if let Some(t) = ray_triangle(&r, a, b, c, *best_t) {
                *best_t = t;
                best = Some(k);
            }
        };
        if self.node_count() == 0 {
            let b = self.local_bounds();
            let pad = LocalBox {
                lo: b.lo.map(|v| v - (v.abs() * 1e-6 + 1e-5)),
                hi: b.hi.map(|v| v + (v.abs() * 1e-6 + 1e-5)),
            };
            if r.enters(&pad, best_t).is_some() {
                for k in 0..self.triangle_count() {
                    test(k, &mut best_t);
                }
            }
        } else {
            let mut stack: Vec<usize> = Vec::with_capacity(32);
            if r.enters(&self.node(0).0, best_t).is_some() {
                stack.push(0);
            }
            while let Some(i) = stack.pop() {
                let (b, link) = self.node(i);
                if r.enters(&b, best_t).is_none() {
                    continue;
                }
                if link & LEAF_BIT != 0 {
                    let first = ((link & !LEAF_BIT) >> COUNT_BITS) as usize;
                    for k in first..first + (link & ((1 << COUNT_BITS) - 1)) as usize {
                        test(k, &mut best_t);
                    }
                    continue;
                }
                let (l, rt) = (i + 1, link as usize);
                let tl = r.enters(&self.node(l).0, best_t);
                let tr = r.enters(&self.node(rt).0, best_t);
                // Nearer child on top of the stack.
                match (tl, tr) {
                    (Some(a), Some(b)) if a <= b => stack.extend([rt, l]),
                    (Some(_), Some(_)) => stack.extend([l, rt]),
                    (Some(_), None) => stack.push(l),
                    (None, Some(_)) => stack.push(rt),
                    (None, None) => {}
                }
            }
        }
        let k = best?;
        let t = f64::from(best_t);
        let [a, b, c] = self.corners(k).map(|p| p.map(f64::from));
        let (e1, e2) = ([0, 1, 2].map(|i| b[i] - a[i]), [0, 1, 2].map(|i| c[i] - a[i]));
        let mut n = [
            e1[1] * e2[2] - e1[2] * e2[1],
            e1[2] * e2[0] - e1[0] * e2[2],
            e1[0] * e2[1] - e1[1] * e2[0],
        ];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        n = n.map(|v| v / len);
        if n[0] * d[0] + n[1] * d[1] + n[2] * d[2] > 0.0 {
            n = n.map(|v| -v);
        }
        Some(MeshHit {
            distance: t,
            point: [0, 1, 2].map(|a| o[a] + t * d[a]),
            normal: n,
            tag: Some(self.data[self.tags_at() + k]),
        })
    }

    /// Exact 2-D distance from `xy` to the mesh's footprint (the union of its triangles seen
    /// from above; 0 over it).
    pub fn distance_2d(&self, xy: [f64; 2]) -> f64 {
        let p = [xy[0] - self.origin[0], xy[1] - self.origin[1]];
        let mut best = f64::INFINITY;
        for k in 0..self.triangle_count() {
            let c = self.corners(k).map(|v| [f64::from(v[0]), f64::from(v[1])]);
            let d = triangle_distance_2d(p, c);
            if d < best {
                best = d;
                if d == 0.0 {
                    break;
                }
            }
        }
        best
    }

    /// Whether the mesh's footprint meets `poly` (boundaries included).
    pub fn intersects_polygon(&self, poly: &geo::Polygon<f64>) -> bool {
        self.triangles().any(|(c, _)| {
            let t = geo::Triangle::new(
                geo::coord! { x: c[0][0], y: c[0][1] },
                geo::coord! { x: c[1][0], y: c[1][1] },
                geo::coord! { x: c[2][0], y: c[2][1] },
            );
            t.intersects(poly)
        })
    }
}

/// Distance from `p` to the triangle `c` in the plane: 0 inside (or on) it.
fn triangle_distance_2d(p: [f64; 2], c: [[f64; 2]; 3]) -> f64 {
    let side = |a: [f64; 2], b: [f64; 2]| (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    let s = [side(c[0], c[1]), side(c[1], c[2]), side(c[2], c[0])];
    let inside = (s.iter().all(|v| *v >= 0.0) || s.iter().all(|v| *v <= 0.0)) && s.iter().any(|v| *v != 0.0);
    if inside {
        return 0.0;
    }
    let seg = |a: [f64; 2], b: [f64; 2]| {
        let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
        let len2 = ex * ex + ey * ey;
        let t = if len2 > 0.0 {
            (((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (p[0] - a[0] - t * ex).hypot(p[1] - a[1] - t * ey)
    };
    seg(c[0], c[1]).min(seg(c[1], c[2])).min(seg(c[2], c[0]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo::polygon;

    /// A grid of `n × n` unit squares (2 triangles each) at height `z`, tags = triangle index.
    fn sheet(n: u32, z: f32) -> TriangleMesh {
        let mut p = Vec::new();
        for j in 0..=n {
            for i in 0..=n {
                p.push([i as f32, j as f32, z]);
            }
        }
        let mut t = Vec::new();
        let v = |i: u32, j: u32| j * (n + 1) + i;
        for j in 0..n {
            for i in 0..n {
                t.push([v(i, j), v(i + 1, j), v(i + 1, j + 1)]);
                t.push([v(i, j), v(i + 1, j + 1), v(i, j + 1)]);
            }
        }
        let tags: Vec<u32> = (0..t.len() as u32).collect();
        TriangleMesh::new([1000.0, 2000.0, 0.0], &p, &t, &tags).unwrap()
    }

    #[test]
    fn every_triangle_of_a_sheet_is_found_through_the_bvh() {
        let m = sheet(20, 3.0);
        assert!(m.node_count() > 0);
        for j in 0..20 {
            for i in 0..20 {
                // Centre of the lower-right triangle of cell (i, j): tag 2·(20j + i).
                let x = 1000.0 + f64::from(i) + 0.7;
                let y = 2000.0 + f64::from(j) + 0.2;
                let h = m.ray_hit([x, y, 10.0], [0.0, 0.0, -1.0]).unwrap();
                assert_eq!(h.tag, Some(2 * (20 * j + i)), "cell {i},{j}");
                assert_eq!(h.distance, 7.0);
                assert_eq!(h.normal, [0.0, 0.0, 1.0]);
            }
        }
        // Beside the sheet, and looking away from it.
        assert!(m.ray_hit([1030.0, 2005.0, 10.0], [0.0, 0.0, -1.0]).is_none());
        assert!(m.ray_hit([1005.0, 2005.0, 10.0], [0.0, 0.0, 1.0]).is_none());
    }

    #[test]
    fn the_bvh_agrees_with_testing_every_triangle() {
        // Two stacked sheets: rays from many directions must find the same nearest triangle
        // through the BVH as by brute force.
        let a = sheet(12, 0.0);
        let mut state = 12345u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let o = [
                1000.0 + rnd() * 14.0 - 1.0,
                2000.0 + rnd() * 14.0 - 1.0,
                5.0 * rnd() + 0.5,
            ];
            let d = [rnd() - 0.5, rnd() - 0.5, -rnd()];
            let ray = crate::ray::Ray::new(o, d).unwrap();
            let got = a.hit(&ray, f64::INFINITY).map(|h| h.distance);
            // Brute force, in f64.
            let mut best: Option<f64> = None;
            for (c, _) in a.triangles() {
                if let Some(t) = brute(o, ray.dir(), c) {
                    best = Some(best.map_or(t, |b: f64| b.min(t)));
                }
            }
            match (got, best) {
                (Some(g), Some(b)) => assert!((g - b).abs() < 1e-4, "{g} vs {b}"),
                (None, None) => {}
                // A ray through an edge or corner may land on either side of the slack.
                (g, b) => panic!("bvh {g:?}, brute force {b:?} for {o:?} {d:?}"),
            }
        }
    }

    fn brute(o: [f64; 3], d: [f64; 3], c: [[f64; 3]; 3]) -> Option<f64> {
        let s = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        let x = |a: [f64; 3], b: [f64; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        let dt = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let (e1, e2) = (s(c[1], c[0]), s(c[2], c[0]));
        let p = x(d, e2);
        let det = dt(e1, p);
        if det.abs() < 1e-12 {
            return None;
        }
        let tv = s(o, c[0]);
        let u = dt(tv, p) / det;
        let q = x(tv, e1);
        let v = dt(d, q) / det;
        let t = dt(e2, q) / det;
        (u >= 0.0 && v >= 0.0 && u + v <= 1.0 && t >= 0.0).then_some(t)
    }

    #[test]
    fn bad_meshes_are_refused() {
        let p = [[0.0f32; 3]; 3];
        assert_eq!(
            TriangleMesh::new([0.0; 3], &p, &[[0, 1, 3]], &[0]),
            Err(MeshError::VertexOutOfRange {
                triangle: 0,
                vertex: 3
            })
        );
        assert_eq!(
            TriangleMesh::new([0.0; 3], &p, &[[0, 1, 2]], &[]),
            Err(MeshError::TagCount)
        );
        assert_eq!(
            TriangleMesh::new([f64::NAN, 0.0, 0.0], &p, &[[0, 1, 2]], &[0]),
            Err(MeshError::NotFinite)
        );
    }

    #[test]
    fn footprint_distance_and_polygon_test() {
        let m = sheet(4, 2.0);
        assert_eq!(m.distance_2d([1002.0, 2002.0]), 0.0);
        assert_eq!(m.distance_2d([1007.0, 2002.0]), 3.0);
        let far = polygon![(x: 1010.0, y: 2010.0), (x: 1011.0, y: 2010.0), (x: 1011.0, y: 2011.0)];
        let near = polygon![(x: 1003.5, y: 2003.5), (x: 1011.0, y: 2003.5), (x: 1011.0, y: 2011.0)];
        assert!(!m.intersects_polygon(&far));
        assert!(m.intersects_polygon(&near));
        let b = m.bounds();
        assert!(b.min[0] <= 1000.0 && b.max[0] >= 1004.0 && b.min[2] <= 2.0 && b.max[2] >= 2.0);
    }

    #[test]
    fn small_meshes_have_no_nodes_and_sizes_add_up() {
        let m = sheet(2, 0.0); // 8 triangles < LEAF
        assert_eq!(m.node_count(), 0);
        assert_eq!(m.heap_bytes(), 24 + 12 * 9 + 16 * 8);
        let big = sheet(10, 0.0); // 200 triangles
        assert!(
            big.node_count() >= 200 / LEAF && big.node_count() < 200 / 2,
            "{}",
            big.node_count()
        );
        assert_eq!(big.index_bytes(), 24 + 16 * big.node_count());
    }
}
