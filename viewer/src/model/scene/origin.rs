//! The viewer's local frame: projected coordinates of millions of metres become small `f32`s.
//!
//! Bevy works in `f32` with y up. A CGCS2000 Gauss-Krüger northing of 5,000,000 m has a
//! resolution of 0.5 m in `f32`, so vertices would jitter by that much; relative to an origin in
//! the middle of the city they keep millimetres across 50 km. The frame: x east, y up, z south
//! (so that −z is north and the frame stays right-handed).

/// A point in the project CRS that the viewer's `f32` coordinates are relative to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalOrigin {
    /// Easting, northing and height of the origin in the project CRS, m.
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl LocalOrigin {
    /// The origin at the middle of `[min_x, min_y, max_x, max_y]`, at height `z`.
    pub fn centre_of(extent: [f64; 4], z: f64) -> Self {
        LocalOrigin {
            x: 0.5 * (extent[0] + extent[2]),
            y: 0.5 * (extent[1] + extent[3]),
            z,
        }
    }

    /// Viewer coordinates of project point `(x, y, z)`.
    pub fn to_local(&self, x: f64, y: f64, z: f64) -> [f32; 3] {
        [(x - self.x) as f32, (z - self.z) as f32, (self.y - y) as f32]
    }

    /// A direction (no translation) in viewer coordinates.
    pub fn dir_to_local(d: [f64; 3]) -> [f32; 3] {
        [d[0] as f32, d[2] as f32, -d[1] as f32]
    }

    /// Project coordinates `[x, y, z]` of a viewer point.
    pub fn to_project(&self, p: [f32; 3]) -> [f64; 3] {
        [
            self.x + f64::from(p[0]),
            self.y - f64::from(p[2]),
            self.z + f64::from(p[1]),
        ]
    }

    /// A viewer direction in project axes.
    pub fn dir_to_project(d: [f32; 3]) -> [f64; 3] {
        [f64::from(d[0]), -f64::from(d[2]), f64::from(d[1])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_million_metre_northings_keep_millimetres() {
        // A GK zone 38 point (false easting with the zone number) far up north.
        let o = LocalOrigin::centre_of([38_500_000.0, 5_000_000.0, 38_510_000.0, 5_010_000.0], 100.0);
        for (x, y, z) in [
            (38_500_000.123, 5_000_000.456, 80.0),
            (38_509_999.999, 5_009_999.001, 312.25),
            (38_505_000.0, 5_005_000.0, 100.0),
        ] {
            let back = o.to_project(o.to_local(x, y, z));
            assert!((back[0] - x).abs() < 1e-3, "x {} vs {x}", back[0]);
            assert!((back[1] - y).abs() < 1e-3, "y {} vs {y}", back[1]);
            assert!((back[2] - z).abs() < 1e-4, "z {} vs {z}", back[2]);
        }
        // Two points 1 cm apart stay 1 cm apart (to a tenth of a millimetre).
        let a = o.to_local(38_509_000.0, 5_009_000.0, 0.0);
        let b = o.to_local(38_509_000.01, 5_009_000.0, 0.0);
        assert!(((b[0] - a[0]) - 0.01).abs() < 1e-4);
    }

    #[test]
    fn north_is_minus_z_and_up_is_y() {
        let o = LocalOrigin {
            x: 0.0,
            y: 0.0,
            z: 0.0,
        };
        assert_eq!(o.to_local(0.0, 10.0, 0.0), [0.0, 0.0, -10.0]);
        assert_eq!(o.to_local(5.0, 0.0, 2.0), [5.0, 2.0, 0.0]);
        assert_eq!(LocalOrigin::dir_to_local([0.0, 1.0, 0.0]), [0.0, 0.0, -1.0]);
        let d = LocalOrigin::dir_to_project([0.0, -1.0, -1.0]);
        assert_eq!(d, [0.0, 1.0, -1.0]);
    }
}
