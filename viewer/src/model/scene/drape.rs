//! Lines draped on the terrain: roads as ribbons of their width, parcel boundaries as thin
//! ribbons, each densified so that it follows the ground between DEM cells and lifted a little
//! so it is not hidden in it.

use cim_engine::Raster;
use geo::LineString;

use super::mesh::MeshData;
use super::LocalOrigin;

/// How far above the ground a draped ribbon floats, m.
pub const DRAPE_LIFT_M: f64 = 0.3;

/// Ground height at `(x, y)`: the DEM where it has data, else `fallback`.
pub fn ground(terrain: Option<&Raster>, x: f64, y: f64, fallback: f64) -> f64 {
    terrain.and_then(|t| t.sample(x, y)).unwrap_or(fallback)
}

/// Adds a ribbon `width_m` wide along `line`, its vertices at most `max_step_m` apart along
/// the line, each at the ground plus [`DRAPE_LIFT_M`], facing up. With a terrain, the parts of
/// the line beyond its data are left out; without one, the ribbon lies at `fallback_z`.
/// Segments of zero length are skipped; a line of fewer than two distinct points adds nothing.
#[allow(clippy::too_many_arguments)]
pub fn drape_ribbon(
    line: &LineString<f64>,
    width_m: f64,
    max_step_m: f64,
    terrain: Option<&Raster>,
    fallback_z: f64,
    color: [f32; 4],
    origin: &LocalOrigin,
    mesh: &mut MeshData,
) {
    // Densify.
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for seg in line.lines() {
        let (a, b) = (seg.start, seg.end);
        let len = (b.x - a.x).hypot(b.y - a.y);
        if len.is_nan() || len <= 1e-9 {
            continue;
        }
        let n = (len / max_step_m.max(0.1)).ceil().max(1.0) as usize;
        if pts.is_empty() {
            pts.push((a.x, a.y));
        }
        for k in 1..=n {
            let t = k as f64 / n as f64;
            pts.push((a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t));
        }
    }
    if pts.len() < 2 {
        return;
    }
    let half = 0.5 * width_m;
    let mut prev: Option<(u32, u32)> = None;
    for k in 0..pts.len() {
        // Direction: along the neighbouring points (averaged at inner points).
        let (p0, p1) = (pts[k.saturating_sub(1)], pts[(k + 1).min(pts.len() - 1)]);
        let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
        let len = dx.hypot(dy).max(1e-12);
        // Left of the direction of travel.
        let (nx, ny) = (-dy / len * half, dx / len * half);
        let (x, y) = pts[k];
        // Where there is a DEM but no ground under this point (beyond the terrain's edge), the
        // ribbon stops: a line would otherwise hang in the air at the fallback height.
        let z = match terrain {
            Some(t) => match t.sample(x, y) {
                Some(z) => z,
                None => {
                    prev = None;
                    continue;
                }
            },
            None => fallback_z,
        } + DRAPE_LIFT_M;
        let left = mesh.push(origin.to_local(x + nx, y + ny, z), [0.0, 1.0, 0.0], color);
        let right = mesh.push(origin.to_local(x - nx, y - ny, z), [0.0, 1.0, 0.0], color);
        if let Some((pl, pr)) = prev {
            // Counter-clockwise seen from above: previous right, right, left / previous right,
            // left, previous left.
            mesh.indices.extend([pr, right, left, pr, left, pl]);
        }
        prev = Some((left, right));
    }
}

#[cfg(test)]
mod tests {
    use super::super::mesh::triangle_normal;
    use super::*;
    use geo::line_string;

    /// 100 × 100 cells of 1 m, height = x (a ramp rising eastwards), at (1000, 2000)..(1100, 2100).
    fn ramp() -> Raster {
        let mut r = Raster::empty(100, 100, 1000.0, 2100.0, 1.0, 1.0);
        for row in 0..100 {
            for col in 0..100 {
                r.data[row * 100 + col] = col as f32 + 0.5;
            }
        }
        r
    }

    #[test]
    fn a_road_follows_the_ground_and_faces_up() {
        let r = ramp();
        let o = LocalOrigin {
            x: 1000.0,
            y: 2000.0,
            z: 0.0,
        };
        let line = line_string![(x: 1010.0, y: 2050.0), (x: 1090.0, y: 2050.0)];
        let mut m = MeshData::default();
        drape_ribbon(&line, 6.0, 2.0, Some(&r), 0.0, [0.2; 4], &o, &mut m);
        // 80 m in steps of 2 m: 41 points, two vertices each, 40 quads.
        assert_eq!(m.vertex_count(), 82);
        assert_eq!(m.triangle_count(), 80);
        for p in &m.positions {
            let x = o.x + f64::from(p[0]);
            // Height = the ramp (x − 1000) plus the lift; the road is 6 m wide (z ±3 about y 2050).
            assert!(
                (f64::from(p[1]) - (x - 1000.0) - DRAPE_LIFT_M).abs() < 1e-3,
                "{p:?}"
            );
            assert!(
                (f64::from(p[2].abs()) - 53.0).abs() < 1e-4 || (f64::from(p[2].abs()) - 47.0).abs() < 1e-4,
                "{p:?}"
            );
        }
        for t in m.indices.chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
            assert!(triangle_normal(a, b, c)[1] > 0.5);
        }
    }

    #[test]
    fn a_line_leaving_the_terrain_stops_at_its_edge() {
        let r = ramp();
        let o = LocalOrigin {
            x: 1000.0,
            y: 2000.0,
            z: 0.0,
        };
        // From x = 1050 to 1150: the DEM ends at 1100.
        let line = line_string![(x: 1050.0, y: 2050.0), (x: 1150.0, y: 2050.0)];
        let mut m = MeshData::default();
        drape_ribbon(&line, 2.0, 1.0, Some(&r), 500.0, [0.2; 4], &o, &mut m);
        assert!(m.vertex_count() > 0);
        for p in &m.positions {
            assert!(o.x + f64::from(p[0]) <= 1100.0 + 1e-3, "{p:?}");
            assert!(f64::from(p[1]) < 101.0, "hangs in the air: {p:?}");
        }
        // Every triangle joins neighbouring points (no strip across the gap).
        for t in m.indices.chunks(3) {
            let xs = [t[0], t[1], t[2]].map(|i| m.positions[i as usize][0]);
            assert!(xs.iter().fold(0.0f32, |a, &x| a.max((x - xs[0]).abs())) <= 1.0 + 1e-3);
        }
    }

    #[test]
    fn off_the_terrain_lines_lie_at_the_fallback_and_degenerate_lines_add_nothing() {
        let o = LocalOrigin {
            x: 0.0,
            y: 0.0,
            z: 0.0,
        };
        let mut m = MeshData::default();
        drape_ribbon(
            &line_string![(x: 0.0, y: 0.0), (x: 0.0, y: 0.0)],
            1.0,
            1.0,
            None,
            5.0,
            [1.0; 4],
            &o,
            &mut m,
        );
        assert!(m.is_empty() && m.vertex_count() == 0);
        drape_ribbon(
            &line_string![(x: 0.0, y: 0.0), (x: 3.0, y: 4.0)],
            1.0,
            10.0,
            None,
            5.0,
            [1.0; 4],
            &o,
            &mut m,
        );
        assert_eq!(m.vertex_count(), 4);
        assert!(m
            .positions
            .iter()
            .all(|p| (f64::from(p[1]) - 5.0 - DRAPE_LIFT_M).abs() < 1e-6));
    }
}
