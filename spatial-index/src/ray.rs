//! Ray picking: the first solid a 3D ray hits, tested against the solid itself.
//!
//! The tree is walked nearest-first: a min-heap of nodes keyed by the parameter at which the
//! ray enters their box. Leaves whose box is entered before the best hit so far get the exact
//! test; the walk stops when the next node is entered after the best hit.
//!
//! Exact test for a prism (`footprint × [base_z, top_z]`): clip the ray to the z slab, giving
//! `[t0, t1]`. If the ray's x, y at `t0` lies in the footprint (closed, holes respected) the
//! hit is on the top or bottom face at `t0` (or the origin is inside the solid). Otherwise the
//! ray can only enter through a wall, so the hit is the smallest crossing of the ray's x, y
//! with a footprint edge (outer ring or hole) for `t` in `[t0, t1]`; the wall's normal is the
//! edge's perpendicular facing the ray.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use geo::Intersects;
use rstar::RTreeNode;

use crate::packed::NodeRef;
use crate::{Aabb3, ItemId, Shape, SpatialIndex};

/// Relative slack for box pruning, so rays that graze a box within rounding error are kept.
const PRUNE_SLACK: f64 = 1e-9;
/// Slack on the edge parameter, so a ray through a shared vertex hits one of its two edges.
const EDGE_SLACK: f64 = 1e-12;

/// The first item hit by [`SpatialIndex::ray_pick`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The item hit.
    pub id: ItemId,
    /// Distance from the ray origin to `point`, in metres (the direction is normalised).
    pub distance: f64,
    /// Where the ray meets the solid's surface.
    pub point: [f64; 3],
    /// Unit outward normal of the face hit; `-dir` when the origin is inside the solid. For a
    /// mesh, the triangle's normal turned to face the ray.
    pub normal: [f64; 3],
    /// For a [`Shape::Mesh`], the tag of the triangle hit; `None` for other shapes.
    pub tag: Option<u32>,
}

/// Where a ray meets one shape: [`Shape::ray_hit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurfaceHit {
    /// Distance from the ray origin, in metres.
    pub distance: f64,
    /// The point on the surface.
    pub point: [f64; 3],
    /// Unit outward normal there; `-dir` when the origin is inside. For a mesh, the triangle's
    /// normal turned to face the ray.
    pub normal: [f64; 3],
    /// For a [`Shape::Mesh`], the tag of the triangle hit; `None` for other shapes.
    pub tag: Option<u32>,
}

/// A ray with a unit direction and its componentwise inverse.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ray {
    origin: [f64; 3],
    dir: [f64; 3],
    inv_dir: [f64; 3],
}

impl Ray {
    /// `None` for a non-finite origin or a zero or non-finite direction.
    pub(crate) fn new(origin: [f64; 3], dir: [f64; 3]) -> Option<Ray> {
        let len = (dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]).sqrt();
        if !(len > 0.0 && len.is_finite() && origin.iter().all(|v| v.is_finite())) {
            return None;
        }
        let dir = dir.map(|c| c / len);
        Some(Ray {
            origin,
            dir,
            inv_dir: dir.map(|c| 1.0 / c),
        })
    }

    pub(crate) fn origin(&self) -> [f64; 3] {
        self.origin
    }

    /// The direction, of unit length.
    pub(crate) fn dir(&self) -> [f64; 3] {
        self.dir
    }

    fn at(&self, t: f64) -> [f64; 3] {
        [0, 1, 2].map(|a| self.origin[a] + t * self.dir[a])
    }

    fn inside(&self) -> SurfaceHit {
        SurfaceHit {
            distance: 0.0,
            point: self.origin,
            normal: self.dir.map(|c| -c),
            tag: None,
        }
    }

    /// Parameter at which the ray enters `b` (conservatively), if it does.
    fn enters(&self, b: &Aabb3) -> Option<f64> {
        b.ray_interval(self.origin, self.dir, self.inv_dir, PRUNE_SLACK)
            .map(|(t0, _, _)| t0)
    }
}

impl Shape {
    /// Where the ray `origin + t * dir` (t ≥ 0) first meets this solid; `dir` need not be unit.
    /// Prisms and boxes are closed solids; lines and points have no volume and are never hit.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::Shape;
    /// use geo::polygon;
    ///
    /// let square = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
    /// let house = Shape::prism(square, 0.0, 10.0);
    /// // Straight down onto the roof.
    /// let roof = house.ray_hit([5.0, 5.0, 50.0], [0.0, 0.0, -2.0]).unwrap();
    /// assert_eq!((roof.distance, roof.point, roof.normal), (40.0, [5.0, 5.0, 10.0], [0.0, 0.0, 1.0]));
    /// // Horizontally into the west wall.
    /// let wall = house.ray_hit([-20.0, 5.0, 3.0], [1.0, 0.0, 0.0]).unwrap();
    /// assert_eq!((wall.distance, wall.normal), (20.0, [-1.0, 0.0, 0.0]));
    /// // Passing above it.
    /// assert!(house.ray_hit([-20.0, 5.0, 11.0], [1.0, 0.0, 0.0]).is_none());
    /// ```
    pub fn ray_hit(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<SurfaceHit> {
        self.hit(&Ray::new(origin, dir)?, f64::INFINITY)
    }

    /// The hit nearer than `max_t` (meshes prune their BVH by it; the other shapes ignore it).
    pub(crate) fn hit(&self, ray: &Ray, max_t: f64) -> Option<SurfaceHit> {
        match self {
            Shape::Mesh(m) => m.hit(ray, max_t).map(|h| SurfaceHit {
                distance: h.distance,
                point: h.point,
                normal: h.normal,
                tag: h.tag,
            }),
            Shape::Prism {
                footprint,
                base_z,
                top_z,
            } => prism_hit(ray, footprint, *base_z, *top_z),
            Shape::Box(b) => box_hit(ray, b),
            Shape::Line { .. } | Shape::Point { .. } => None,
        }
    }
}

fn box_hit(ray: &Ray, b: &Aabb3) -> Option<SurfaceHit> {
    let (t, _, axis) = b.ray_interval(ray.origin, ray.dir, ray.inv_dir, 0.0)?;
    let Some(axis) = axis else {
        return Some(ray.inside());
    };
    let mut normal = [0.0; 3];
    normal[axis] = -ray.dir[axis].signum();
    Some(SurfaceHit {
        distance: t,
        point: ray.at(t),
        normal,
        tag: None,
    })
}

fn prism_hit(ray: &Ray, footprint: &geo::Polygon<f64>, base_z: f64, top_z: f64) -> Option<SurfaceHit> {
    let (o, d) = (ray.origin, ray.dir);
    // 1. Clip to the z slab; `cap` is the face normal when the ray enters through top/bottom.
    let (t0, t1, cap) = if d[2] == 0.0 {
        if !(base_z <= o[2] && o[2] <= top_z) {
            return None;
        }
        (0.0, f64::INFINITY, None)
    } else {
        let ta = (base_z - o[2]) * ray.inv_dir[2];
        let tb = (top_z - o[2]) * ray.inv_dir[2];
        let (near, far) = if d[2] < 0.0 { (tb, ta) } else { (ta, tb) };
        if !(far >= 0.0 && near <= far) {
            return None;
        }
        if near > 0.0 {
            (near, far, Some([0.0, 0.0, if d[2] < 0.0 { 1.0 } else { -1.0 }]))
        } else {
            (0.0, far, None)
        }
    };
    // 2. Already over the footprint where the ray enters the slab: a cap hit (or inside).
    let p0 = ray.at(t0);
    if footprint.intersects(&geo::coord! { x: p0[0], y: p0[1] }) {
        return Some(match cap {
            Some(normal) => SurfaceHit {
                distance: t0,
                point: p0,
                normal,
                tag: None,
            },
            None => ray.inside(),
        });
    }
    // 3. Otherwise through a wall: the first edge crossing within the slab.
    if d[0] == 0.0 && d[1] == 0.0 {
        return None;
    }
    let mut best: Option<(f64, [f64; 2])> = None;
    let rings = std::iter::once(footprint.exterior()).chain(footprint.interiors());
    for line in rings.flat_map(|r| r.lines()) {
        // Relative to the origin, to keep precision at UTM-sized coordinates.
        let (px, py) = (line.start.x - o[0], line.start.y - o[1]);
        let (ex, ey) = (line.end.x - line.start.x, line.end.y - line.start.y);
        let denom = d[0] * ey - d[1] * ex;
        if denom == 0.0 {
            continue; // parallel: a grazing ray meets the neighbouring edges at their vertex
        }
        let t = (px * ey - py * ex) / denom;
        let s = (px * d[1] - py * d[0]) / denom;
        if !(t >= t0 && t <= t1 && (-EDGE_SLACK..=1.0 + EDGE_SLACK).contains(&s)) {
            continue;
        }
        if best.is_none_or(|(bt, _)| t < bt) {
            // The edge's perpendicular, turned to face the incoming ray.
            let len = ex.hypot(ey);
            let (mut nx, mut ny) = (ey / len, -ex / len);
            if nx * d[0] + ny * d[1] > 0.0 {
                (nx, ny) = (-nx, -ny);
            }
            best = Some((t, [nx, ny]));
        }
    }
    best.map(|(t, n)| SurfaceHit {
        distance: t,
        point: ray.at(t),
        normal: [n[0], n[1], 0.0],
        tag: None,
    })
}

/// A tree node queued by the ray parameter at which its box is entered; min-first.
struct ByEntry<T>(f64, T);

impl<T> PartialEq for ByEntry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for ByEntry<T> {}
impl<T> PartialOrd for ByEntry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for ByEntry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

/// The nearest hit so far, shared by the walks of both trees.
struct Nearest {
    best: Option<Hit>,
    best_t: f64,
}

impl Nearest {
    /// Tests the item if its box is entered no later than the best hit so far.
    fn offer(&mut self, ray: &Ray, bounds: &Aabb3, id: ItemId, shape: Option<&Shape>) {
        if ray.enters(bounds).is_none_or(|t| t > self.best_t) {
            return;
        }
        let Some(h) = shape.and_then(|s| s.hit(ray, self.best_t)) else {
            return;
        };
        let better =
            h.distance < self.best_t || (h.distance == self.best_t && self.best.is_some_and(|b| id < b.id));
        if better {
            self.best_t = h.distance;
            self.best = Some(Hit {
                id,
                distance: h.distance,
                point: h.point,
                normal: h.normal,
                tag: h.tag,
            });
        }
    }
}

impl SpatialIndex {
    /// The first solid hit by the ray `origin + t * dir` (t ≥ 0), tested against the actual
    /// prism or box (not its bounding box). `dir` need not be unit; [`Hit::distance`] is in
    /// metres. Equal distances go to the smaller id.
    ///
    /// Line and point shapes have no volume and are never picked (pick them with
    /// [`SpatialIndex::nearest_2d`] around the ray's ground point instead). A ray starting
    /// inside a solid hits it at distance 0. A zero, NaN or infinite ray returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cim_spatial_index::{Item, Shape, SpatialIndex};
    /// use geo::polygon;
    ///
    /// let rect = |x0: f64| polygon![(x: x0, y: 0.0), (x: x0 + 10.0, y: 0.0), (x: x0 + 10.0, y: 10.0), (x: x0, y: 10.0)];
    /// let index = SpatialIndex::bulk_load(vec![
    ///     Item::new(1, Shape::prism(rect(0.0), 0.0, 10.0)),
    ///     Item::new(2, Shape::prism(rect(30.0), 0.0, 40.0)),
    /// ]);
    /// // Level at 20 m: passes over the low building, hits the tower's west wall.
    /// let hit = index.ray_pick([-50.0, 5.0, 20.0], [1.0, 0.0, 0.0]).unwrap();
    /// assert_eq!((hit.id, hit.distance, hit.normal), (2, 80.0, [-1.0, 0.0, 0.0]));
    /// // Down at 5 m: the low building is in the way.
    /// assert_eq!(index.ray_pick([-50.0, 5.0, 5.0], [1.0, 0.0, 0.0]).map(|h| h.id), Some(1));
    /// ```
    pub fn ray_pick(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<Hit> {
        let ray = Ray::new(origin, dir)?;
        let mut near = Nearest {
            best: None,
            best_t: f64::INFINITY,
        };
        self.ray_packed(&ray, &mut near);
        self.ray_dynamic(&ray, &mut near);
        near.best
    }

    fn ray_packed(&self, ray: &Ray, near: &mut Nearest) {
        let packed = &self.tree.packed;
        let mut heap: BinaryHeap<ByEntry<NodeRef>> = BinaryHeap::new();
        let expand = |nodes: &mut dyn Iterator<Item = NodeRef>,
                      heap: &mut BinaryHeap<ByEntry<NodeRef>>,
                      near: &mut Nearest| {
            for c in nodes {
                let b = packed.entry_box(c.level, c.index);
                if c.level == 0 {
                    if let Some(id) = packed.id(c.index) {
                        near.offer(ray, &b, id, self.shape_at(c.index));
                    }
                } else if let Some(t) = ray.enters(&b).filter(|&t| t <= near.best_t) {
                    heap.push(ByEntry(t, c));
                }
            }
        };
        expand(&mut packed.roots(), &mut heap, near);
        while let Some(ByEntry(t_node, node)) = heap.pop() {
            if t_node > near.best_t {
                break;
            }
            expand(&mut packed.children(node), &mut heap, near);
        }
    }

    fn ray_dynamic(&self, ray: &Ray, near: &mut Nearest) {
        let root = self.tree.dynamic.root();
        if root.children().is_empty() {
            return;
        }
        let mut heap = BinaryHeap::new();
        let Some(t_root) = ray.enters(&root.envelope().0) else {
            return;
        };
        heap.push(ByEntry(t_root, root));
        while let Some(ByEntry(t_node, node)) = heap.pop() {
            if t_node > near.best_t {
                break;
            }
            for child in node.children() {
                match child {
                    RTreeNode::Parent(p) => {
                        if let Some(t) = ray.enters(&p.envelope().0).filter(|&t| t <= near.best_t) {
                            heap.push(ByEntry(t, p));
                        }
                    }
                    RTreeNode::Leaf(leaf) => {
                        near.offer(ray, &leaf.bounds, leaf.id, self.shape_at(leaf.slot));
                    }
                }
            }
        }
    }
}
