//! [`Aabb3`]: the axis-aligned 3D box every indexed item is filed under.

/// An axis-aligned box in project coordinates (metres, Z up).
///
/// Both faces are inclusive: two boxes that only touch intersect. A box whose `min` exceeds its
/// `max` on some axis is empty and intersects nothing.
///
/// # Examples
///
/// ```
/// use cim_spatial_index::Aabb3;
///
/// let a = Aabb3::new([0.0, 0.0, 0.0], [10.0, 10.0, 30.0]);
/// let b = Aabb3::new([10.0, 5.0, 30.0], [20.0, 6.0, 40.0]);
/// assert!(a.intersects(&b)); // touching faces count
/// assert!(!a.intersects(&Aabb3::new([0.0, 0.0, 31.0], [1.0, 1.0, 32.0])));
/// assert!(a.intersects_2d([5.0, 5.0], [6.0, 6.0]));
/// assert_eq!(a.union(&b).max, [20.0, 10.0, 40.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb3 {
    /// Lower corner (x, y, z).
    pub min: [f64; 3],
    /// Upper corner (x, y, z).
    pub max: [f64; 3],
}

impl Aabb3 {
    /// A box from its lower and upper corners (taken as given, not reordered).
    pub fn new(min: [f64; 3], max: [f64; 3]) -> Self {
        Self { min, max }
    }

    /// The box that contains nothing; the identity of [`Aabb3::union`].
    ///
    /// Uses `f64::MAX` rather than infinity so that its centre and size stay finite.
    pub const EMPTY: Aabb3 = Aabb3 {
        min: [f64::MAX; 3],
        max: [f64::MIN; 3],
    };

    /// True when every coordinate is finite and `min <= max` on every axis.
    pub fn is_valid(&self) -> bool {
        (0..3).all(|a| self.min[a].is_finite() && self.max[a].is_finite() && self.min[a] <= self.max[a])
    }

    /// True when the two closed boxes share at least one point. NaN never intersects.
    #[inline]
    pub fn intersects(&self, other: &Aabb3) -> bool {
        self.intersects_2d([other.min[0], other.min[1]], [other.max[0], other.max[1]])
            & (self.min[2] <= other.max[2])
            & (self.max[2] >= other.min[2])
    }

    /// True when the box's footprint (x, y) meets the closed rectangle `min..=max`.
    #[inline]
    pub fn intersects_2d(&self, min: [f64; 2], max: [f64; 2]) -> bool {
        // Non-short-circuit `&`: one predictable branch instead of four unpredictable ones
        // (the hot test of window queries; measured faster).
        (self.min[0] <= max[0]) & (self.max[0] >= min[0]) & (self.min[1] <= max[1]) & (self.max[1] >= min[1])
    }

    /// The smallest box containing both.
    pub fn union(&self, other: &Aabb3) -> Aabb3 {
        let mut out = *self;
        out.expand(other);
        out
    }

    /// Grows `self` to contain `other`.
    pub fn expand(&mut self, other: &Aabb3) {
        for a in 0..3 {
            self.min[a] = self.min[a].min(other.min[a]);
            self.max[a] = self.max[a].max(other.max[a]);
        }
    }

    /// Squared distance in x, y from a point to the box's footprint (0 inside).
    pub fn distance_2d_squared(&self, xy: [f64; 2]) -> f64 {
        let dx = (self.min[0] - xy[0]).max(0.0).max(xy[0] - self.max[0]);
        let dy = (self.min[1] - xy[1]).max(0.0).max(xy[1] - self.max[1]);
        dx * dx + dy * dy
    }

    /// The parameter interval `[t_enter, t_exit]`, clipped to `t >= 0`, over which the ray
    /// `origin + t * dir` lies in the box, and the axis it enters through (`None` when the
    /// origin is inside). `inv_dir` is `1 / dir` per component.
    ///
    /// With `slack > 0` the test is conservative: rays that graze the box within rounding
    /// error are kept. Node pruning uses that; exact box shapes use `slack = 0`.
    pub(crate) fn ray_interval(
        &self,
        origin: [f64; 3],
        dir: [f64; 3],
        inv_dir: [f64; 3],
        slack: f64,
    ) -> Option<(f64, f64, Option<usize>)> {
        let mut t_enter = 0.0_f64;
        let mut t_exit = f64::INFINITY;
        let mut axis = None;
        for a in 0..3 {
            if dir[a] == 0.0 {
                // Parallel to the slab: inside it or never.
                if origin[a] < self.min[a] || origin[a] > self.max[a] {
                    return None;
                }
                continue;
            }
            let t_lo = (self.min[a] - origin[a]) * inv_dir[a];
            let t_hi = (self.max[a] - origin[a]) * inv_dir[a];
            let (near, far) = if t_lo <= t_hi { (t_lo, t_hi) } else { (t_hi, t_lo) };
            if near > t_enter {
                t_enter = near;
                axis = Some(a);
            }
            t_exit = t_exit.min(far);
        }
        // NaN comparisons fall through to `None`.
        if t_enter <= t_exit + slack * (1.0 + t_exit.abs().min(t_enter.abs())) {
            Some((t_enter, t_exit, axis))
        } else {
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_box_intersects_nothing_and_is_union_identity() {
        let a = Aabb3::new([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
        assert!(!Aabb3::EMPTY.intersects(&a));
        assert!(!Aabb3::EMPTY.is_valid());
        assert_eq!(Aabb3::EMPTY.union(&a), a);
    }

    #[test]
    fn nan_box_is_invalid_and_intersects_nothing() {
        let a = Aabb3::new([f64::NAN, 0.0, 0.0], [1.0, 1.0, 1.0]);
        assert!(!a.is_valid());
        assert!(!a.intersects(&Aabb3::new([-9.0; 3], [9.0; 3])));
    }

    #[test]
    fn ray_interval_enters_through_the_near_face() {
        let b = Aabb3::new([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]);
        let dir = [1.0, 0.0, 0.0];
        let inv = [1.0, f64::INFINITY, f64::INFINITY];
        let (t0, t1, axis) = b.ray_interval([-5.0, 5.0, 5.0], dir, inv, 0.0).unwrap();
        assert_eq!((t0, t1, axis), (5.0, 15.0, Some(0)));
        // Parallel and outside the y slab: miss.
        assert!(b.ray_interval([-5.0, 11.0, 5.0], dir, inv, 0.0).is_none());
        // Pointing away: miss.
        let back = [-1.0, 0.0, 0.0];
        let inv_back = [-1.0, f64::INFINITY, f64::INFINITY];
        assert!(b.ray_interval([-5.0, 5.0, 5.0], back, inv_back, 0.0).is_none());
        // Origin inside: enters at 0 through no face.
        let (t0, _, axis) = b.ray_interval([5.0, 5.0, 5.0], dir, inv, 0.0).unwrap();
        assert_eq!((t0, axis), (0.0, None));
    }
}
