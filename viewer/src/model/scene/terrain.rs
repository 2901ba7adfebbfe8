//! Terrain as chunks of the project DEM, each meshed at the level of detail its distance needs.
//!
//! A chunk is [`CHUNK_CELLS`]² cells; its vertices sit on the cell centres, every `step`-th
//! one (a power of two), and neighbouring chunks share their border column or row, so at the
//! same step they meet exactly. Where steps differ, a skirt (a strip hanging down from each
//! edge) hides the gap. Cells without data leave a hole.

use cim_engine::Raster;

use super::mesh::{normalised, MeshData};
use super::LocalOrigin;

/// Cells along a chunk's side.
pub const CHUNK_CELLS: usize = 64;

/// The coarsest step (vertices every 32 cells: 2×2 quads a chunk).
pub const MAX_STEP: usize = 32;

/// Which chunk: column and row of chunks, from the north-west corner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey {
    pub cx: usize,
    pub cy: usize,
}

/// Number of chunks across and down a DEM.
pub fn chunk_grid(raster: &Raster) -> (usize, usize) {
    let n = |cells: usize| cells.saturating_sub(1).div_ceil(CHUNK_CELLS).max(1);
    (n(raster.width), n(raster.height))
}

/// The project-CRS box `[min_x, min_y, max_x, max_y]` of a chunk's vertices.
pub fn chunk_extent(raster: &Raster, key: ChunkKey) -> [f64; 4] {
    let (c0, c1) = span(key.cx, raster.width);
    let (r0, r1) = span(key.cy, raster.height);
    let x = |c: usize| raster.origin_x + (c as f64 + 0.5) * raster.cell_w;
    let y = |r: usize| raster.origin_y - (r as f64 + 0.5) * raster.cell_h;
    [x(c0), y(r1), x(c1), y(r0)]
}

/// First and last vertex column (or row) of chunk `k` along a side of `cells` cells.
fn span(k: usize, cells: usize) -> (usize, usize) {
    let first = k * CHUNK_CELLS;
    (
        first.min(cells.saturating_sub(1)),
        (first + CHUNK_CELLS).min(cells.saturating_sub(1)),
    )
}

/// Vertex positions along a span at `step`: every `step`-th one and always the last.
fn samples(first: usize, last: usize, step: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (first..=last).step_by(step.max(1)).collect();
    if v.last() != Some(&last) {
        v.push(last);
    }
    v
}

/// Colours of the ground by height: low green, middle ochre, high grey.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElevationRamp {
    pub min_m: f32,
    pub max_m: f32,
}

impl ElevationRamp {
    /// Linear RGBA at elevation `z`.
    pub fn color(&self, z: f32) -> [f32; 4] {
        const STOPS: [[f32; 3]; 3] = [[0.20, 0.33, 0.14], [0.45, 0.40, 0.22], [0.55, 0.55, 0.52]];
        let span = (self.max_m - self.min_m).max(1e-3);
        let t = ((z - self.min_m) / span).clamp(0.0, 1.0) * 2.0;
        let (a, b, f) = if t < 1.0 {
            (STOPS[0], STOPS[1], t)
        } else {
            (STOPS[1], STOPS[2], t - 1.0)
        };
        [
            a[0] + (b[0] - a[0]) * f,
            a[1] + (b[1] - a[1]) * f,
            a[2] + (b[2] - a[2]) * f,
            1.0,
        ]
    }
}

/// The mesh of one chunk at `step` (a power of two up to [`MAX_STEP`]), with skirts
/// `skirt_m` deep.
pub fn chunk_mesh(
    raster: &Raster,
    origin: &LocalOrigin,
    key: ChunkKey,
    step: usize,
    ramp: &ElevationRamp,
    skirt_m: f32,
) -> MeshData {
    let (c0, c1) = span(key.cx, raster.width);
    let (r0, r1) = span(key.cy, raster.height);
    let cols = samples(c0, c1, step);
    let rows = samples(r0, r1, step);
    let (nc, nr) = (cols.len(), rows.len());
    let z_at = |c: usize, r: usize| raster.data[r * raster.width + c];
    let mut m = MeshData::default();
    // Vertices (a hole's are kept, unused, so the grid indexing stays simple).
    for &r in &rows {
        for &c in &cols {
            let z = z_at(c, r);
            let x = raster.origin_x + (c as f64 + 0.5) * raster.cell_w;
            let y = raster.origin_y - (r as f64 + 0.5) * raster.cell_h;
            let zz = if z.is_nan() { 0.0 } else { f64::from(z) };
            let n = grid_normal(raster, c, r, step);
            m.push(origin.to_local(x, y, zz), n, ramp.color(zz as f32));
        }
    }
    let at = |i: usize, j: usize| (j * nc + i) as u32;
    let valid = |i: usize, j: usize| !z_at(cols[i], rows[j]).is_nan();
    for j in 0..nr.saturating_sub(1) {
        for i in 0..nc.saturating_sub(1) {
            // Counter-clockwise from above: north-west, south-west, south-east (rows run south,
            // which is +z).
            let (nw, ne, sw, se) = (at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1));
            if valid(i, j) && valid(i, j + 1) && valid(i + 1, j + 1) {
                m.indices.extend([nw, sw, se]);
            }
            if valid(i, j) && valid(i + 1, j + 1) && valid(i + 1, j) {
                m.indices.extend([nw, se, ne]);
            }
        }
    }
    if skirt_m > 0.0 {
        let north: Vec<(usize, usize)> = (0..nc).map(|i| (i, 0)).collect();
        let east: Vec<(usize, usize)> = (0..nr).map(|j| (nc - 1, j)).collect();
        let south: Vec<(usize, usize)> = (0..nc).rev().map(|i| (i, nr - 1)).collect();
        let west: Vec<(usize, usize)> = (0..nr).rev().map(|j| (0, j)).collect();
        // Only where another chunk joins: the DEM's own border has nothing to hide.
        let joins = [r0 > 0, c1 + 1 < raster.width, r1 + 1 < raster.height, c0 > 0];
        for (edge, joined) in [north, east, south, west].into_iter().zip(joins) {
            if joined {
                add_skirt(&mut m, &edge, nc, skirt_m, &valid);
            }
        }
    }
    m
}

/// A strip hanging `depth` below the edge vertices `edge`, given in order walking clockwise round
/// the chunk seen from above (so outside is on the left), facing outwards.
fn add_skirt(
    m: &mut MeshData,
    edge: &[(usize, usize)],
    nc: usize,
    depth: f32,
    valid: &impl Fn(usize, usize) -> bool,
) {
    let mut prev: Option<(u32, u32)> = None;
    for &(i, j) in edge {
        if !valid(i, j) {
            prev = None;
            continue;
        }
        let top = (j * nc + i) as u32;
        let p = m.positions[top as usize];
        let bottom = m.push(
            [p[0], p[1] - depth, p[2]],
            m.normals[top as usize],
            m.colors[top as usize],
        );
        if let Some((pt, pb)) = prev {
            // Seen from outside, the clockwise walk goes from right to left, so these two are
            // counter-clockwise from there.
            m.indices.extend([pt, bottom, pb, pt, top, bottom]);
        }
        prev = Some((top, bottom));
    }
}

/// The unit normal at a cell from central differences `step` cells apart (up where unknown).
fn grid_normal(raster: &Raster, c: usize, r: usize, step: usize) -> [f32; 3] {
    let w = raster.width;
    let h = raster.height;
    let z = |c: usize, r: usize| raster.data[r * w + c];
    let (cl, cr) = (c.saturating_sub(step), (c + step).min(w - 1));
    let (ru, rd) = (r.saturating_sub(step), (r + step).min(h - 1));
    let dzdx = (z(cr, r) - z(cl, r)) / (((cr - cl).max(1)) as f32 * raster.cell_w as f32);
    // Rows run south (+z in the viewer).
    let dzdz = (z(c, rd) - z(c, ru)) / (((rd - ru).max(1)) as f32 * raster.cell_h as f32);
    if !(dzdx.is_finite() && dzdz.is_finite()) {
        return [0.0, 1.0, 0.0];
    }
    normalised([-dzdx, 1.0, -dzdz])
}

/// Steps a chunk can be meshed at: 1, 2, 4, … [`MAX_STEP`].
pub const STEPS: [usize; 6] = [1, 2, 4, 8, 16, 32];

/// How far (m, vertically) the chunk's mesh at each of [`STEPS`] strays from the DEM: the
/// largest difference between a cell's height and the coarse mesh under it (bilinear between
/// the coarse vertices). 0 at step 1.
pub fn step_errors(raster: &Raster, key: ChunkKey) -> [f32; 6] {
    let (c0, c1) = span(key.cx, raster.width);
    let (r0, r1) = span(key.cy, raster.height);
    let z = |c: usize, r: usize| raster.data[r * raster.width + c];
    let mut out = [0.0f32; 6];
    for (k, &step) in STEPS.iter().enumerate().skip(1) {
        let cols = samples(c0, c1, step);
        let rows = samples(r0, r1, step);
        let mut worst = 0.0f32;
        for j in 0..rows.len().saturating_sub(1) {
            let (ra, rb) = (rows[j], rows[j + 1]);
            for i in 0..cols.len().saturating_sub(1) {
                let (ca, cb) = (cols[i], cols[i + 1]);
                let (za, zb, zc, zd) = (z(ca, ra), z(cb, ra), z(ca, rb), z(cb, rb));
                for r in ra..=rb {
                    let v = (r - ra) as f32 / (rb - ra).max(1) as f32;
                    for c in ca..=cb {
                        let u = (c - ca) as f32 / (cb - ca).max(1) as f32;
                        let mesh = (za * (1.0 - u) + zb * u) * (1.0 - v) + (zc * (1.0 - u) + zd * u) * v;
                        let d = (z(c, r) - mesh).abs();
                        // NaN (no data nearby) never counts.
                        if d > worst {
                            worst = d;
                        }
                    }
                }
            }
        }
        out[k] = worst.max(out[k - 1]);
    }
    out
}

/// The coarsest of [`STEPS`] whose error (`errors`, from [`step_errors`]) seen from
/// `distance_m` is at most `max_error_px` pixels on a view `viewport_px` high with vertical
/// field of view `fov_y_rad`; never coarser than vertices `max_spacing_px` apart on screen
/// (so silhouettes and colours stay smooth).
pub fn lod_step_for(
    errors: &[f32; 6],
    distance_m: f64,
    cell_m: f64,
    viewport_px: f64,
    fov_y_rad: f64,
    max_error_px: f64,
    max_spacing_px: f64,
) -> usize {
    let px_per_m = viewport_px / (2.0 * (0.5 * fov_y_rad).tan() * distance_m.max(1e-6));
    let mut best = 1;
    for (k, &step) in STEPS.iter().enumerate() {
        if f64::from(errors[k]) * px_per_m <= max_error_px
            && step as f64 * cell_m * px_per_m <= max_spacing_px
        {
            best = step;
        } else {
            break;
        }
    }
    best
}

/// The step for a chunk seen from `distance_m`, so its vertices are at most `max_error_px`
/// pixels apart on a screen `viewport_px` high with vertical field of view `fov_y_rad`:
/// the largest power of two up to [`MAX_STEP`] that keeps the error.
pub fn lod_step(distance_m: f64, cell_m: f64, viewport_px: f64, fov_y_rad: f64, max_error_px: f64) -> usize {
    // Spacing alone: [`lod_step_for`] with no vertical error.
    lod_step_for(
        &[0.0; 6],
        distance_m,
        cell_m,
        viewport_px,
        fov_y_rad,
        f64::INFINITY,
        max_error_px,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> ElevationRamp {
        ElevationRamp {
            min_m: 0.0,
            max_m: 100.0,
        }
    }

    /// A 130×70 DEM of 2 m cells, a plane rising 1 m a cell eastwards, at GK-like coordinates.
    fn plane() -> Raster {
        let mut r = Raster::empty(130, 70, 500_000.0, 3_000_000.0, 2.0, 2.0);
        for row in 0..70 {
            for col in 0..130 {
                r.data[row * 130 + col] = col as f32;
            }
        }
        r
    }

    #[test]
    fn chunks_cover_the_dem_and_share_their_borders() {
        let r = plane();
        assert_eq!(chunk_grid(&r), (3, 2));
        let o = LocalOrigin::centre_of(r.extent(), 0.0);
        let a = chunk_mesh(&r, &o, ChunkKey { cx: 0, cy: 0 }, 1, &ramp(), 0.0);
        let b = chunk_mesh(&r, &o, ChunkKey { cx: 1, cy: 0 }, 1, &ramp(), 0.0);
        // 65 × 65 vertices, 64 × 64 × 2 triangles.
        assert_eq!(a.vertex_count(), 65 * 65);
        assert_eq!(a.triangle_count(), 64 * 64 * 2);
        // The east column of chunk 0 is the west column of chunk 1.
        let east_a: Vec<[f32; 3]> = (0..65).map(|j| a.positions[j * 65 + 64]).collect();
        let west_b: Vec<[f32; 3]> = (0..65).map(|j| b.positions[j * 65]).collect();
        assert_eq!(east_a, west_b);
        // The last chunk across has 130 − 1 − 128 = 1 cell: 2 vertex columns.
        let c = chunk_mesh(&r, &o, ChunkKey { cx: 2, cy: 1 }, 1, &ramp(), 0.0);
        assert_eq!(c.vertex_count(), 2 * 6);
        // Heights: the plane's value at each vertex, relative to the origin's height.
        let (lo, hi) = a.bounds().unwrap();
        assert_eq!((lo[1], hi[1]), (0.0, 64.0));
    }

    #[test]
    fn coarser_steps_keep_the_corners_and_face_up() {
        let r = plane();
        let o = LocalOrigin::centre_of(r.extent(), 0.0);
        let k = ChunkKey { cx: 0, cy: 0 };
        let fine = chunk_mesh(&r, &o, k, 1, &ramp(), 0.0);
        let coarse = chunk_mesh(&r, &o, k, 16, &ramp(), 0.0);
        assert_eq!(coarse.vertex_count(), 5 * 5);
        assert_eq!(fine.bounds(), coarse.bounds());
        // Every triangle faces up; the plane tilts up to the east, so normals lean west.
        for t in coarse.indices.chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| coarse.positions[i as usize]);
            let n = super::super::mesh::triangle_normal(a, b, c);
            assert!(n[1] > 0.0 && n[0] < 0.0, "{n:?}");
        }
        let n = coarse.normals[12];
        assert!(
            (n[0] + 0.447).abs() < 1e-3 && (n[1] - 0.894).abs() < 1e-3,
            "{n:?}"
        );
    }

    #[test]
    fn holes_and_skirts() {
        let mut r = plane();
        r.data[10 * 130 + 10] = f32::NAN;
        let o = LocalOrigin::centre_of(r.extent(), 0.0);
        let k = ChunkKey { cx: 0, cy: 0 };
        let m = chunk_mesh(&r, &o, k, 1, &ramp(), 0.0);
        // The 6 triangles touching the missing vertex are gone.
        assert_eq!(m.triangle_count(), 64 * 64 * 2 - 6);
        let s = chunk_mesh(&r, &o, k, 1, &ramp(), 5.0);
        // Skirts only where chunks join: east and south of the north-west chunk, 65 vertices
        // and 64 quads each.
        assert_eq!(s.vertex_count(), m.vertex_count() + 2 * 65);
        assert_eq!(s.triangle_count(), m.triangle_count() + 2 * 64 * 2);
        assert_eq!(s.bounds().unwrap().0[1], -5.0);
        // The first skirt quad hangs from the east edge and faces east (+x).
        let first = m.indices.len();
        for t in s.indices[first..first + 6].chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| s.positions[i as usize]);
            let n = super::super::mesh::triangle_normal(a, b, c);
            assert!(n[0] > 0.99, "{n:?}");
        }
    }

    #[test]
    fn step_errors_measure_how_far_the_coarse_mesh_strays() {
        // A plane is exact at every step.
        let r = plane();
        let e = step_errors(&r, ChunkKey { cx: 0, cy: 0 });
        assert!(e.iter().all(|&x| x < 1e-3), "{e:?}");
        // One 3 m spike in the middle of chunk (0, 0) at cell (33, 33): any step that skips it
        // misses it by 3 m; steps 1 (and none other: 33 is odd) keep it.
        let mut r = plane();
        r.data[33 * 130 + 33] += 3.0;
        let e = step_errors(&r, ChunkKey { cx: 0, cy: 0 });
        assert_eq!(e[0], 0.0);
        assert!(e[1..].iter().all(|&x| (x - 3.0).abs() < 1e-3), "{e:?}");
        // Errors never fall with coarser steps.
        assert!(e.windows(2).all(|w| w[0] <= w[1]));
        // Near: the spike must show, step 1; far: it is under a pixel, and the coarsest step
        // whose vertex spacing still fits 64 px is chosen.
        let fov = 45f64.to_radians();
        assert_eq!(lod_step_for(&e, 100.0, 1.0, 1080.0, fov, 2.0, 64.0), 1);
        assert_eq!(lod_step_for(&e, 5000.0, 1.0, 1080.0, fov, 2.0, 64.0), 32);
        let flat = [0.0; 6];
        // Flat ground near the camera: limited by the vertex spacing (1 m at 50 m is 26 px).
        assert_eq!(lod_step_for(&flat, 50.0, 1.0, 1080.0, fov, 2.0, 64.0), 2);
    }

    #[test]
    fn nearer_chunks_get_finer_steps() {
        let fov = 45f64.to_radians();
        let near = lod_step(50.0, 1.0, 1080.0, fov, 2.0);
        let mid = lod_step(2000.0, 1.0, 1080.0, fov, 2.0);
        let far = lod_step(100_000.0, 1.0, 1080.0, fov, 2.0);
        assert_eq!(near, 1);
        assert!(mid > near && mid < far, "{near} {mid} {far}");
        assert_eq!(far, MAX_STEP);
        // At 2 km a 1 m grid at 1080 px and 45°: 0.65 px a metre, so 2 px allows a 3 m gap: step 2.
        assert_eq!(mid, 2);
    }
}
