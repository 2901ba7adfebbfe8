//! The orbit camera: a point it looks at, a heading, a tilt and a distance. Plain maths here
//! (tested without a window); the Bevy systems that drive it from the mouse are in
//! [`crate::camera`].

use std::f32::consts::FRAC_PI_2;

/// Vertical field of view of the camera, radians.
pub const FOV_Y: f32 = 0.7;

/// Closest and farthest the camera may be from its focus, m.
pub const MIN_DISTANCE_M: f32 = 2.0;
pub const MAX_DISTANCE_M: f32 = 200_000.0;
/// Lowest and steepest look-down angles (just above the horizon, just short of straight down).
pub const MIN_PITCH: f32 = 0.03;
pub const MAX_PITCH: f32 = FRAC_PI_2 - 0.01;

/// Where the camera is, in the viewer's local frame (x east, y up, z south).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrbitCamera {
    /// The point looked at.
    pub focus: [f32; 3],
    /// Heading the camera looks along, radians clockwise from north.
    pub yaw: f32,
    /// Angle below the horizon, radians.
    pub pitch: f32,
    /// From the eye to the focus, m.
    pub distance: f32,
}

impl OrbitCamera {
    /// The unit vector from the eye towards the focus.
    pub fn forward(&self) -> [f32; 3] {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        [sy * cp, -sp, -cy * cp]
    }

    /// The eye position.
    pub fn eye(&self) -> [f32; 3] {
        let f = self.forward();
        [
            self.focus[0] - f[0] * self.distance,
            self.focus[1] - f[1] * self.distance,
            self.focus[2] - f[2] * self.distance,
        ]
    }

    /// Turns round the focus by `d_yaw` and tilts by `d_pitch` (radians), within the limits.
    pub fn orbit(&mut self, d_yaw: f32, d_pitch: f32) {
        self.yaw = (self.yaw + d_yaw).rem_euclid(std::f32::consts::TAU);
        self.pitch = (self.pitch + d_pitch).clamp(MIN_PITCH, MAX_PITCH);
    }

    /// Moves closer (`factor` < 1) or away, within the limits.
    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            self.distance = (self.distance * factor).clamp(MIN_DISTANCE_M, MAX_DISTANCE_M);
        }
    }

    /// Drags the ground: the focus moves so the point under the cursor follows it, for a drag of
    /// `(dx_px, dy_px)` (screen pixels, y down) on a view `viewport_h_px` high with vertical field
    /// of view `fov_y`. Moves in the horizontal plane only.
    pub fn pan(&mut self, dx_px: f32, dy_px: f32, viewport_h_px: f32, fov_y: f32) {
        let m_per_px = 2.0 * self.distance * (0.5 * fov_y).tan() / viewport_h_px.max(1.0);
        let (sy, cy) = self.yaw.sin_cos();
        // Screen right on the ground, and screen up projected on the ground (ahead).
        let right = [cy, 0.0, sy];
        let ahead = [sy, 0.0, -cy];
        // Dragging up on a tilted view moves farther: stretch by 1/sin(pitch).
        let stretch = 1.0 / self.pitch.sin().max(0.2);
        for k in 0..3 {
            self.focus[k] += -dx_px * m_per_px * right[k] + dy_px * m_per_px * stretch * ahead[k];
        }
    }

    /// A view of a whole box (local frame) from the south-south-west, looking down at 43°, as
    /// close as it can be with every corner inside the view (`fov_y` vertical, `aspect`
    /// width/height), with a 5 % margin.
    pub fn framing(min: [f32; 3], max: [f32; 3], fov_y: f32, aspect: f32) -> Self {
        let focus = [0.5 * (min[0] + max[0]), min[1], 0.5 * (min[2] + max[2])];
        let mut c = OrbitCamera {
            focus,
            yaw: 0.35,
            pitch: 0.75,
            distance: MAX_DISTANCE_M,
        };
        let corners: Vec<[f32; 3]> = (0..8)
            .map(|k| {
                [
                    if k & 1 == 0 { min[0] } else { max[0] },
                    if k & 2 == 0 { min[1] } else { max[1] },
                    if k & 4 == 0 { min[2] } else { max[2] },
                ]
            })
            .collect();
        // Bisect on the distance: the nearest at which every corner is in view.
        let (mut lo, mut hi) = (MIN_DISTANCE_M, MAX_DISTANCE_M);
        for _ in 0..60 {
            c.distance = 0.5 * (lo + hi);
            if corners.iter().all(|p| c.in_view(*p, fov_y, aspect, 0.95)) {
                hi = c.distance;
            } else {
                lo = c.distance;
            }
        }
        c.distance = hi;
        c
    }

    /// Whether point `p` is in front of the camera and inside `fraction` of the view's half
    /// width and half height.
    pub fn in_view(&self, p: [f32; 3], fov_y: f32, aspect: f32, fraction: f32) -> bool {
        let f = self.forward();
        let eye = self.eye();
        // Camera axes: right = forward × up, up' = right × forward.
        let right = normalise([-f[2], 0.0, f[0]]);
        let up = [
            right[1] * f[2] - right[2] * f[1],
            right[2] * f[0] - right[0] * f[2],
            right[0] * f[1] - right[1] * f[0],
        ];
        let v = [p[0] - eye[0], p[1] - eye[1], p[2] - eye[2]];
        let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let depth = dot(v, f);
        if depth <= 0.0 {
            return false;
        }
        let t = (0.5 * fov_y).tan();
        let (x, y) = (dot(v, right) / (depth * t * aspect), dot(v, up) / (depth * t));
        x.abs() <= fraction && y.abs() <= fraction
    }
}

/// Steepest look upwards in fly mode (radians below the horizon; negative is above it).
pub const FLY_MIN_PITCH: f32 = -1.2;

impl OrbitCamera {
    /// Fly mode: turns the view about the eye, which stays where it is (the focus swings round
    /// it). Looking up is allowed, down to [`FLY_MIN_PITCH`].
    pub fn look(&mut self, d_yaw: f32, d_pitch: f32) {
        let yaw = (self.yaw + d_yaw).rem_euclid(std::f32::consts::TAU);
        self.turn_about_eye(yaw, (self.pitch + d_pitch).clamp(FLY_MIN_PITCH, MAX_PITCH));
    }

    fn turn_about_eye(&mut self, yaw: f32, pitch: f32) {
        let eye = self.eye();
        (self.yaw, self.pitch) = (yaw, pitch);
        let f = self.forward();
        for k in 0..3 {
            self.focus[k] = eye[k] + f[k] * self.distance;
        }
    }

    /// Fly mode: moves eye and focus together, `ahead_m` along the view (climbing or diving
    /// with it), `right_m` level to the right and `up_m` straight up.
    pub fn fly(&mut self, ahead_m: f32, right_m: f32, up_m: f32) {
        let f = self.forward();
        let (sy, cy) = self.yaw.sin_cos();
        let right = [cy, 0.0, sy];
        for k in 0..3 {
            self.focus[k] += f[k] * ahead_m + right[k] * right_m;
        }
        self.focus[1] += up_m;
    }

    /// Back from fly mode to orbiting: a view above the horizon is tilted down to the orbit's
    /// limit, about the eye.
    pub fn level_for_orbit(&mut self) {
        if self.pitch < MIN_PITCH {
            self.turn_about_eye(self.yaw, MIN_PITCH);
        }
    }
}

fn normalise(v: [f32; 3]) -> [f32; 3] {
    let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    [v[0] / l, v[1] / l, v[2] / l]
}

impl OrbitCamera {
    /// The camera `t` (0‥1) of the way from `a` to `b`: focus and tilt linearly, heading the
    /// short way round, distance geometrically (so zooming feels even), eased in and out.
    pub fn between(a: &OrbitCamera, b: &OrbitCamera, t: f32) -> OrbitCamera {
        // Exactly at the ends (no round-off through the logarithms).
        if t.is_nan() || t <= 0.0 {
            return *a;
        }
        if t >= 1.0 {
            return *b;
        }
        let s = t * t * (3.0 - 2.0 * t);
        let lerp = |x: f32, y: f32| x + (y - x) * s;
        let tau = std::f32::consts::TAU;
        let mut d_yaw = (b.yaw - a.yaw).rem_euclid(tau);
        if d_yaw > std::f32::consts::PI {
            d_yaw -= tau;
        }
        OrbitCamera {
            focus: [
                lerp(a.focus[0], b.focus[0]),
                lerp(a.focus[1], b.focus[1]),
                lerp(a.focus[2], b.focus[2]),
            ],
            yaw: (a.yaw + d_yaw * s).rem_euclid(tau),
            pitch: lerp(a.pitch, b.pitch),
            distance: (a.distance.ln() + (b.distance.ln() - a.distance.ln()) * s).exp(),
        }
    }

    /// A view of a box (say a building) from `yaw`, tilted 35°, filling about half the view.
    pub fn looking_at_box(min: [f32; 3], max: [f32; 3], yaw: f32, fov_y: f32) -> OrbitCamera {
        let size = (0..3).map(|k| max[k] - min[k]).fold(0.0f32, f32::max).max(5.0);
        OrbitCamera {
            focus: [
                0.5 * (min[0] + max[0]),
                0.5 * (min[1] + max[1]),
                0.5 * (min[2] + max[2]),
            ],
            yaw,
            pitch: 35f32.to_radians(),
            distance: (size / (0.5 * fov_y).tan()).clamp(MIN_DISTANCE_M, MAX_DISTANCE_M),
        }
    }
}

/// A tour over saved views (the command hall's idle mode): each view is held for `dwell_s`,
/// then the camera flies to the next in `travel_s`, round and round.
#[derive(Clone, Debug, PartialEq)]
pub struct Tour {
    pub stops: Vec<OrbitCamera>,
    pub dwell_s: f32,
    pub travel_s: f32,
}

impl Tour {
    /// Where the camera is `t_s` seconds into the tour (`None` without stops).
    pub fn at(&self, t_s: f32) -> Option<OrbitCamera> {
        let n = self.stops.len();
        if n == 0 {
            return None;
        }
        if n == 1 {
            return Some(self.stops[0]);
        }
        let leg = (self.dwell_s + self.travel_s).max(1e-3);
        let t = t_s.max(0.0) % (leg * n as f32);
        let k = (t / leg) as usize % n;
        let into = t - k as f32 * leg;
        let (a, b) = (&self.stops[k], &self.stops[(k + 1) % n]);
        Some(if into <= self.dwell_s {
            *a
        } else {
            OrbitCamera::between(a, b, (into - self.dwell_s) / self.travel_s.max(1e-3))
        })
    }
}

/// Heading (radians clockwise from north) the north arrow points when the camera looks along
/// `yaw`: north is `−yaw` from screen up.
pub fn north_arrow_angle(yaw: f32) -> f32 {
    -yaw
}

/// The scale bar of a view `height_px` tall from `distance` metres off its focus, at most
/// `max_px` long: its label ("50 m", "2 km") and its length in pixels.
pub fn scale_bar_for(distance: f32, height_px: f32, max_px: f32) -> (String, f32) {
    let m_per_px = 2.0 * distance * (0.5 * FOV_Y).tan() / height_px.max(1.0);
    let (m, px) = scale_bar(m_per_px, max_px);
    let label = if m >= 1000.0 {
        format!("{} km", m / 1000.0)
    } else {
        format!("{m} m")
    };
    (label, px)
}

/// A round length for a scale bar at most `max_px` pixels long, given `m_per_px` at the focus:
/// 1, 2 or 5 × 10ⁿ m, and its length in pixels.
pub fn scale_bar(m_per_px: f32, max_px: f32) -> (f32, f32) {
    let max_m = (m_per_px * max_px).max(1e-3);
    let mag = 10f32.powf(max_m.log10().floor());
    let m = [5.0, 2.0, 1.0]
        .iter()
        .map(|k| k * mag)
        .find(|&m| m <= max_m)
        .unwrap_or(mag);
    (m, m / m_per_px)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 3], b: [f32; 3]) -> bool {
        (0..3).all(|k| (a[k] - b[k]).abs() < 1e-3)
    }

    #[test]
    fn looking_north_at_45_degrees_the_eye_is_south_and_up() {
        let c = OrbitCamera {
            focus: [0.0, 0.0, 0.0],
            yaw: 0.0,
            pitch: std::f32::consts::FRAC_PI_4,
            distance: 100.0,
        };
        // South is +z.
        assert!(close(c.eye(), [0.0, 70.711, 70.711]), "{:?}", c.eye());
        // Heading east: the eye is west.
        let east = OrbitCamera { yaw: FRAC_PI_2, ..c };
        assert!(close(east.eye(), [-70.711, 70.711, 0.0]), "{:?}", east.eye());
    }

    #[test]
    fn orbit_and_zoom_stay_within_limits() {
        let mut c = OrbitCamera {
            focus: [1.0, 2.0, 3.0],
            yaw: 0.0,
            pitch: 0.5,
            distance: 100.0,
        };
        c.orbit(-0.5, 10.0);
        assert_eq!(c.pitch, MAX_PITCH);
        assert!((c.yaw - (std::f32::consts::TAU - 0.5)).abs() < 1e-6);
        c.zoom(1e-9);
        assert_eq!(c.distance, MIN_DISTANCE_M);
        c.zoom(1e12);
        assert_eq!(c.distance, MAX_DISTANCE_M);
        c.zoom(f32::NAN);
        assert_eq!(c.distance, MAX_DISTANCE_M);
        // The focus never moves by orbiting or zooming.
        assert_eq!(c.focus, [1.0, 2.0, 3.0]);
    }

    #[test]
    fn dragging_right_moves_the_focus_left_on_the_ground() {
        let mut c = OrbitCamera {
            focus: [0.0, 0.0, 0.0],
            yaw: 0.0,
            pitch: FRAC_PI_2 - 0.01,
            distance: 1000.0,
        };
        let fov = 45f32.to_radians();
        // Looking straight down from 1 km on a 1000 px view: 0.828 m a pixel.
        c.pan(100.0, 0.0, 1000.0, fov);
        assert!((c.focus[0] + 82.84).abs() < 0.1, "{:?}", c.focus);
        assert_eq!(c.focus[1], 0.0);
        // Dragging up moves the focus south (towards the viewer: +z when looking north).
        let mut d = OrbitCamera { focus: [0.0; 3], ..c };
        d.pan(0.0, -100.0, 1000.0, fov);
        assert!(d.focus[2] > 80.0, "{:?}", d.focus);
    }

    #[test]
    fn framing_shows_the_whole_box_and_no_more_than_needed() {
        let fov = 45f32.to_radians();
        let (min, max) = ([-500.0, 0.0, -500.0], [500.0, 50.0, 500.0]);
        let c = OrbitCamera::framing(min, max, fov, 16.0 / 9.0);
        let corners = [
            [-500.0, 0.0, -500.0],
            [500.0, 0.0, -500.0],
            [-500.0, 50.0, 500.0],
            [500.0, 50.0, 500.0],
        ];
        assert!(corners.iter().all(|p| c.in_view(*p, fov, 16.0 / 9.0, 0.95)));
        // 5 % nearer, some corner leaves the view.
        let nearer = OrbitCamera {
            distance: c.distance * 0.95,
            ..c
        };
        assert!(!corners.iter().all(|p| nearer.in_view(*p, fov, 16.0 / 9.0, 0.95)));
        // The focus is dead centre; a point behind the camera is never in view.
        assert!(c.in_view(c.focus, fov, 1.0, 0.01));
        let (e, f) = (c.eye(), c.forward());
        assert!(!c.in_view([e[0] - f[0], e[1] - f[1], e[2] - f[2]], fov, 1.0, 1.0));
    }

    #[test]
    fn flights_go_the_short_way_and_end_where_asked() {
        let a = OrbitCamera {
            focus: [0.0; 3],
            yaw: 0.2,
            pitch: 0.5,
            distance: 100.0,
        };
        let b = OrbitCamera {
            focus: [100.0, 10.0, -50.0],
            yaw: 6.0,
            pitch: 1.0,
            distance: 10_000.0,
        };
        assert_eq!(OrbitCamera::between(&a, &b, 0.0), a);
        let end = OrbitCamera::between(&a, &b, 1.0);
        assert!(
            (end.yaw - b.yaw).abs() < 1e-4 && (end.distance - b.distance).abs() < 0.1 && end.focus == b.focus
        );
        // Halfway: heading through north (0.2 → 6.0 is −0.48 rad the short way), distance the
        // geometric mean.
        let mid = OrbitCamera::between(&a, &b, 0.5);
        let d = (mid.yaw - (0.2 - 0.2416)).rem_euclid(std::f32::consts::TAU);
        assert!(!(1e-3..=std::f32::consts::TAU - 1e-3).contains(&d), "{}", mid.yaw);
        assert!((mid.distance - 1000.0).abs() < 1.0, "{}", mid.distance);
    }

    #[test]
    fn a_tour_holds_each_view_then_flies_to_the_next() {
        let stop = |x: f32| OrbitCamera {
            focus: [x, 0.0, 0.0],
            yaw: 0.0,
            pitch: 0.5,
            distance: 100.0,
        };
        let tour = Tour {
            stops: vec![stop(0.0), stop(100.0), stop(200.0)],
            dwell_s: 10.0,
            travel_s: 5.0,
        };
        assert_eq!(tour.at(3.0).unwrap().focus[0], 0.0);
        assert_eq!(tour.at(10.0).unwrap().focus[0], 0.0);
        assert!((tour.at(12.5).unwrap().focus[0] - 50.0).abs() < 1e-3);
        assert_eq!(tour.at(16.0).unwrap().focus[0], 100.0);
        // After the last stop it flies back to the first, then starts over.
        assert!((tour.at(42.5).unwrap().focus[0] - 100.0).abs() < 1e-3);
        assert_eq!(tour.at(45.0 + 3.0).unwrap().focus[0], 0.0);
        assert_eq!(
            Tour {
                stops: vec![],
                dwell_s: 1.0,
                travel_s: 1.0
            }
            .at(5.0),
            None
        );
    }

    #[test]
    fn fly_mode_looks_about_the_eye_and_moves_it() {
        let mut c = OrbitCamera {
            focus: [100.0, 0.0, -50.0],
            yaw: 0.0,
            pitch: 0.5,
            distance: 200.0,
        };
        let eye = c.eye();
        // Looking round and up keeps the eye where it is; the focus swings round it.
        c.look(1.0, -1.0);
        assert!(close(c.eye(), eye), "{:?} {:?}", c.eye(), eye);
        assert!((c.pitch + 0.5).abs() < 1e-6 && (c.yaw - 1.0).abs() < 1e-6);
        assert!(c.focus[1] > eye[1], "looking up: the focus is above the eye");
        c.look(0.0, -5.0);
        assert_eq!(c.pitch, FLY_MIN_PITCH);
        // Level, heading east: ahead is +x, right is +z (south), up is +y.
        let mut c = OrbitCamera {
            focus: [0.0; 3],
            yaw: std::f32::consts::FRAC_PI_2,
            pitch: 0.0,
            distance: 10.0,
        };
        let eye = c.eye();
        c.fly(5.0, 2.0, 3.0);
        assert!(
            close(c.eye(), [eye[0] + 5.0, eye[1] + 3.0, eye[2] + 2.0]),
            "{:?}",
            c.eye()
        );
        assert!(close(c.focus, [5.0, 3.0, 2.0]));
        // Back to orbiting: a view above the horizon tilts down to the orbit's limit.
        c.look(0.0, -0.8);
        let eye = c.eye();
        c.level_for_orbit();
        assert_eq!(c.pitch, MIN_PITCH);
        assert!(close(c.eye(), eye));
    }

    #[test]
    fn scale_bars_are_round() {
        assert_eq!(scale_bar(1.0, 150.0), (100.0, 100.0));
        let (m, px) = scale_bar(3.7, 150.0);
        assert_eq!(m, 500.0);
        assert!((px - 135.1).abs() < 0.1);
        assert_eq!(scale_bar(0.01, 150.0).0, 1.0);
        assert_eq!(north_arrow_angle(0.3), -0.3);
    }
}
