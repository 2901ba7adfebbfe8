//! Solids as triangle soups, the transforms IFC places them with, and the booleans IFC asks
//! for (openings cut from walls, half-spaces clipping a roof line, CSG trees).
//!
//! A boolean splits each triangle of one solid by the planes of the other's triangles that come
//! near it, so every piece lies wholly inside, outside or on the other's surface, then keeps the
//! pieces the operation wants: its centre is classified by where it lies on the other's surface
//! (and which way that faces) or, off it, by counting crossings of rays (the solids must be
//! closed). Exact up to the tolerance, for any closed solids, convex or not.

use cim_engine::mesh::triangulate_polygon;

use super::geometry::Face;
use super::placement::Frame;
pub(crate) use super::placement::{cross, dot, sub};

/// A triangle, counter-clockwise seen from outside.
pub type Tri = [[f64; 3]; 3];

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// An affine map: the images of the unit axes (columns) and of the origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub m: [[f64; 3]; 3],
    pub t: [f64; 3],
}

impl Affine {
    pub const IDENTITY: Affine = Affine {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        t: [0.0, 0.0, 0.0],
    };

    pub fn from_frame(f: &Frame) -> Affine {
        Affine {
            m: [f.x, f.y, f.z],
            t: f.origin,
        }
    }

    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|k| self.m[0][k] * p[0] + self.m[1][k] * p[1] + self.m[2][k] * p[2] + self.t[k])
    }

    fn rotate(&self, v: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|k| self.m[0][k] * v[0] + self.m[1][k] * v[1] + self.m[2][k] * v[2])
    }

    /// `inner` then this.
    pub fn then_inner(&self, inner: &Affine) -> Affine {
        Affine {
            m: inner.m.map(|c| self.rotate(c)),
            t: self.apply(inner.t),
        }
    }

    pub fn det(&self) -> f64 {
        dot(self.m[0], cross(self.m[1], self.m[2]))
    }

    /// The triangles moved; a mirroring map turns them round so they still face out.
    pub fn apply_tris(&self, tris: &mut [Tri]) {
        let flip = self.det() < 0.0;
        for t in tris {
            *t = t.map(|p| self.apply(p));
            if flip {
                t.swap(1, 2);
            }
        }
    }
}

/// Faces (outer ring then holes) as triangles; how many faces had no area or too few points.
pub fn triangulate_faces(faces: &[Face], out: &mut Vec<Tri>) -> usize {
    let mut skipped = 0;
    for f in faces {
        if f.len() == 1 && f[0].len() == 3 {
            let t = [f[0][0], f[0][1], f[0][2]];
            if norm(cross(sub(t[1], t[0]), sub(t[2], t[0]))) > 0.0 {
                out.push(t);
            } else {
                skipped += 1;
            }
            continue;
        }
        match triangulate_polygon(f) {
            Ok((pts, idx)) => out.extend(idx.iter().map(|t| t.map(|k| pts[k]))),
            Err(_) => skipped += 1,
        }
    }
    skipped
}

/// The smallest box holding the triangles (`None` for none).
pub fn bounds(tris: &[Tri]) -> Option<([f64; 3], [f64; 3])> {
    let mut it = tris.iter().flatten();
    let first = *it.next()?;
    let (mut lo, mut hi) = (first, first);
    for p in it {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    Some((lo, hi))
}

/// The volume a closed, outward-facing soup encloses.
pub fn volume(tris: &[Tri]) -> f64 {
    let Some((lo, _)) = bounds(tris) else { return 0.0 };
    tris.iter()
        .map(|t| {
            let [a, b, c] = t.map(|p| sub(p, lo));
            dot(a, cross(b, c)) / 6.0
        })
        .sum()
}

/// The volume a soup encloses whichever way its pieces face: the sizes of the signed volumes of
/// its pieces (triangles joined through points at the same place, to `eps`).
pub fn enclosed_volume(tris: &[Tri], eps: f64) -> f64 {
    use std::collections::HashMap;
    let key = |p: [f64; 3]| p.map(|v| (v / eps).round() as i64);
    let mut parent: HashMap<[i64; 3], [i64; 3]> = HashMap::new();
    fn find(parent: &mut HashMap<[i64; 3], [i64; 3]>, mut a: [i64; 3]) -> [i64; 3] {
        loop {
            let p = *parent.entry(a).or_insert(a);
            if p == a {
                return a;
            }
            let gp = *parent.entry(p).or_insert(p);
            parent.insert(a, gp);
            a = gp;
        }
    }
    for t in tris {
        let a = find(&mut parent, key(t[0]));
        for p in &t[1..] {
            let b = find(&mut parent, key(*p));
            parent.insert(b, a);
        }
    }
    let Some((lo, _)) = bounds(tris) else { return 0.0 };
    let mut pieces: HashMap<[i64; 3], f64> = HashMap::new();
    for t in tris {
        let [a, b, c] = t.map(|p| sub(p, lo));
        let r = find(&mut parent, key(t[0]));
        *pieces.entry(r).or_insert(0.0) += dot(a, cross(b, c)) / 6.0;
    }
    pieces.values().map(|v| v.abs()).sum()
}

/// The area of a soup's triangles.
pub fn area(tris: &[Tri]) -> f64 {
    tris.iter()
        .map(|t| norm(cross(sub(t[1], t[0]), sub(t[2], t[0]))) / 2.0)
        .sum()
}

fn tri_bounds(t: &Tri) -> ([f64; 3], [f64; 3]) {
    let mut lo = t[0];
    let mut hi = t[0];
    for p in &t[1..] {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

fn overlap(a: &([f64; 3], [f64; 3]), b: &([f64; 3], [f64; 3]), eps: f64) -> bool {
    (0..3).all(|k| a.0[k] <= b.1[k] + eps && b.0[k] <= a.1[k] + eps)
}

#[derive(Clone, Copy, Debug)]
struct Plane {
    n: [f64; 3],
    d: f64,
}

impl Plane {
    fn of(t: &Tri) -> Option<Plane> {
        let c = cross(sub(t[1], t[0]), sub(t[2], t[0]));
        let l = norm(c);
        if !(l > 0.0 && l.is_finite()) {
            return None;
        }
        let n = c.map(|v| v / l);
        Some(Plane { n, d: dot(n, t[0]) })
    }

    fn dist(&self, p: [f64; 3]) -> f64 {
        dot(self.n, p) - self.d
    }
}

fn lerp(a: [f64; 3], b: [f64; 3], s: f64) -> [f64; 3] {
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * s)
}

/// Splits a triangle by a plane into the pieces in front of it and behind it (a triangle within
/// `eps` of one side stays whole there).
fn split(t: &Tri, pl: &Plane, eps: f64, front: &mut Vec<Tri>, back: &mut Vec<Tri>) {
    let d = t.map(|p| pl.dist(p));
    if d.iter().all(|&v| v >= -eps) {
        front.push(*t);
        return;
    }
    if d.iter().all(|&v| v <= eps) {
        back.push(*t);
        return;
    }
    let mut f: Vec<[f64; 3]> = Vec::with_capacity(4);
    let mut b: Vec<[f64; 3]> = Vec::with_capacity(4);
    for k in 0..3 {
        let (p, q) = (t[k], t[(k + 1) % 3]);
        let (dp, dq) = (d[k], d[(k + 1) % 3]);
        if dp >= -eps {
            f.push(p);
        }
        if dp <= eps {
            b.push(p);
        }
        if (dp > eps && dq < -eps) || (dp < -eps && dq > eps) {
            let x = lerp(p, q, dp / (dp - dq));
            f.push(x);
            b.push(x);
        }
    }
    for (poly, out) in [(f, front), (b, back)] {
        for k in 1..poly.len().saturating_sub(1) {
            out.push([poly[0], poly[k], poly[k + 1]]);
        }
    }
}

/// Where a point lies against a closed solid.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Inside,
    Outside,
    /// On its surface, which faces the same way as the piece tested.
    OnSame,
    /// On its surface, facing the other way.
    OnOpposite,
}

/// The solid a boolean works against: its triangles, their planes and boxes.
struct Other<'a> {
    tris: &'a [Tri],
    planes: Vec<Option<Plane>>,
    boxes: Vec<([f64; 3], [f64; 3])>,
    bounds: ([f64; 3], [f64; 3]),
}

impl<'a> Other<'a> {
    fn new(tris: &'a [Tri]) -> Option<Other<'a>> {
        Some(Other {
            tris,
            planes: tris.iter().map(Plane::of).collect(),
            boxes: tris.iter().map(tri_bounds).collect(),
            bounds: bounds(tris)?,
        })
    }

    /// `t` cut by the planes of this solid's triangles that come near it.
    fn pieces(&self, t: &Tri, eps: f64) -> Vec<Tri> {
        let tb = tri_bounds(t);
        let mut pieces = vec![*t];
        let mut used: Vec<Plane> = Vec::new();
        for (k, b) in self.boxes.iter().enumerate() {
            if !overlap(&tb, b, eps) {
                continue;
            }
            let Some(pl) = self.planes[k] else { continue };
            if used
                .iter()
                .any(|u| dot(u.n, pl.n) > 1.0 - 1e-12 && (u.d - pl.d).abs() < eps)
            {
                continue;
            }
            used.push(pl);
            let mut next = Vec::with_capacity(pieces.len() + 2);
            for p in &pieces {
                let mut back = Vec::new();
                split(p, &pl, eps, &mut next, &mut back);
                next.append(&mut back);
            }
            pieces = next;
        }
        pieces.retain(|p| norm(cross(sub(p[1], p[0]), sub(p[2], p[0]))) > eps * eps);
        pieces
    }

    /// Where the centre of a piece facing `n` lies.
    fn side(&self, c: [f64; 3], n: [f64; 3], eps: f64) -> Side {
        if (0..3).any(|k| c[k] < self.bounds.0[k] - eps || c[k] > self.bounds.1[k] + eps) {
            return Side::Outside;
        }
        for (k, t) in self.tris.iter().enumerate() {
            let Some(pl) = self.planes[k] else { continue };
            if pl.dist(c).abs() > eps || !within(t, &pl, c, eps) {
                continue;
            }
            return if dot(pl.n, n) > 0.0 {
                Side::OnSame
            } else {
                Side::OnOpposite
            };
        }
        // Rays in directions no model lines up with; the first that meets no edge decides.
        const DIRS: [[f64; 3]; 3] = [
            [0.542_937, 0.634_791, 0.549_825],
            [-0.612_3, 0.413_9, -0.673_6],
            [0.285_1, -0.873_9, 0.393_7],
        ];
        for d in DIRS {
            if let Some(n) = self.crossings(c, d) {
                return if n % 2 == 1 { Side::Inside } else { Side::Outside };
            }
        }
        Side::Outside
    }

    /// How many triangles a ray from `o` along `d` crosses; `None` where it grazes an edge.
    fn crossings(&self, o: [f64; 3], d: [f64; 3]) -> Option<usize> {
        let mut n = 0;
        for t in self.tris {
            let e1 = sub(t[1], t[0]);
            let e2 = sub(t[2], t[0]);
            let p = cross(d, e2);
            let det = dot(e1, p);
            if det.abs() < 1e-300 {
                continue;
            }
            let inv = 1.0 / det;
            let s = sub(o, t[0]);
            let u = dot(s, p) * inv;
            let q = cross(s, e1);
            let v = dot(d, q) * inv;
            let w = dot(e2, q) * inv;
            if w <= 0.0 {
                continue;
            }
            const EDGE: f64 = 1e-9;
            if u < -EDGE || v < -EDGE || u + v > 1.0 + EDGE {
                continue;
            }
            if u < EDGE || v < EDGE || u + v > 1.0 - EDGE {
                return None;
            }
            n += 1;
        }
        Some(n)
    }
}

/// Whether `c`, on the plane of `t`, lies within `t` (to `eps`).
fn within(t: &Tri, pl: &Plane, c: [f64; 3], eps: f64) -> bool {
    for k in 0..3 {
        let (a, b) = (t[k], t[(k + 1) % 3]);
        let e = sub(b, a);
        let l = norm(e);
        if l == 0.0 {
            return false;
        }
        // Distance of c to the left of edge a→b, in the triangle's plane.
        let side = dot(cross(e, sub(c, a)), pl.n) / l;
        if side < -eps {
            return false;
        }
    }
    true
}

fn centre(t: &Tri) -> [f64; 3] {
    [0, 1, 2].map(|k| (t[0][k] + t[1][k] + t[2][k]) / 3.0)
}

fn normal(t: &Tri) -> [f64; 3] {
    cross(sub(t[1], t[0]), sub(t[2], t[0]))
}

/// A boolean operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Difference,
    Intersection,
    Union,
}

/// `a` op `b`, both closed and facing out, to `eps`.
pub fn boolean(a: &[Tri], b: &[Tri], op: Op, eps: f64) -> Vec<Tri> {
    let (Some(oa), Some(ob)) = (Other::new(a), Other::new(b)) else {
        return match op {
            Op::Difference => a.to_vec(),
            Op::Intersection => Vec::new(),
            Op::Union => [a, b].concat(),
        };
    };
    if !overlap(&oa.bounds, &ob.bounds, eps) {
        return match op {
            Op::Difference => a.to_vec(),
            Op::Intersection => Vec::new(),
            Op::Union => [a, b].concat(),
        };
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    // The pieces of a: kept outside b (difference, union) or inside it (intersection); on b's
    // surface, kept where b faces the same way (union, intersection) or the other (difference).
    for t in a {
        if !overlap(&tri_bounds(t), &ob.bounds, eps) {
            if op != Op::Intersection {
                out.push(*t);
            }
            continue;
        }
        let n = normal(t);
        for p in ob.pieces(t, eps) {
            let keep = matches!(
                (op, ob.side(centre(&p), n, eps)),
                (Op::Difference, Side::Outside | Side::OnOpposite)
                    | (Op::Union, Side::Outside | Side::OnSame)
                    | (Op::Intersection, Side::Inside | Side::OnSame)
            );
            if keep {
                out.push(p);
            }
        }
    }
    // The pieces of b off a's surface: inside a (difference, turned round; intersection) or
    // outside it (union).
    for t in b {
        if !overlap(&tri_bounds(t), &oa.bounds, eps) {
            if op == Op::Union {
                out.push(*t);
            }
            continue;
        }
        let n = normal(t);
        for mut p in oa.pieces(t, eps) {
            match (op, oa.side(centre(&p), n, eps)) {
                (Op::Difference, Side::Inside) => {
                    p.swap(1, 2);
                    out.push(p);
                }
                (Op::Intersection, Side::Inside) | (Op::Union, Side::Outside) => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// Turns the triangles of every closed piece of a soup (every edge shared by two triangles) the
/// same way round and outward, as a surface model's faces may come either way; pieces that are
/// not closed are left as they are. `eps` welds points.
pub fn orient_closed(tris: &mut [Tri], eps: f64) {
    use std::collections::HashMap;
    let key = |p: [f64; 3]| p.map(|v| (v / eps).round() as i64);
    let mut ids: HashMap<[i64; 3], u32> = HashMap::new();
    let tv: Vec<[u32; 3]> = tris
        .iter()
        .map(|t| {
            t.map(|p| {
                let n = ids.len() as u32;
                *ids.entry(key(p)).or_insert(n)
            })
        })
        .collect();
    // Undirected edge -> the triangles using it.
    let mut edges: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for (k, t) in tv.iter().enumerate() {
        for j in 0..3 {
            let (a, b) = (t[j], t[(j + 1) % 3]);
            edges.entry((a.min(b), a.max(b))).or_default().push(k);
        }
    }
    let has = |t: &[u32; 3], a: u32, b: u32| (0..3).any(|j| t[j] == a && t[(j + 1) % 3] == b);
    let mut seen = vec![false; tris.len()];
    let mut flip = vec![false; tris.len()];
    for start in 0..tris.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut piece = vec![start];
        let mut stack = vec![start];
        let mut closed = true;
        let mut consistent = true;
        while let Some(k) = stack.pop() {
            let t = tv[k];
            for j in 0..3 {
                // The edge as this triangle runs it, once turned as decided.
                let (mut a, mut b) = (t[j], t[(j + 1) % 3]);
                if flip[k] {
                    std::mem::swap(&mut a, &mut b);
                }
                let users = &edges[&(a.min(b), a.max(b))];
                if users.len() != 2 {
                    closed = false;
                }
                for &o in users {
                    if o == k {
                        continue;
                    }
                    // The neighbour should run the edge the other way.
                    let runs_same = has(&tv[o], a, b);
                    let want_flip = runs_same;
                    if !seen[o] {
                        seen[o] = true;
                        flip[o] = want_flip;
                        piece.push(o);
                        stack.push(o);
                    } else if (flip[o] != want_flip) && users.len() == 2 {
                        consistent = false;
                    }
                }
            }
        }
        if !(closed && consistent) {
            piece.iter().for_each(|&k| flip[k] = false);
            continue;
        }
        let mut v = 0.0;
        let o = tris[piece[0]][0];
        for &k in &piece {
            let mut t = tris[k];
            if flip[k] {
                t.swap(1, 2);
            }
            let [a, b, c] = t.map(|p| sub(p, o));
            v += dot(a, cross(b, c));
        }
        if v < 0.0 {
            piece.iter().for_each(|&k| flip[k] = !flip[k]);
        }
    }
    for (t, f) in tris.iter_mut().zip(flip) {
        if f {
            t.swap(1, 2);
        }
    }
}

/// A box from `lo` to `hi` as twelve outward triangles.
pub fn cuboid(lo: [f64; 3], hi: [f64; 3]) -> Vec<Tri> {
    let p = |i: usize| {
        [
            if i & 1 == 0 { lo[0] } else { hi[0] },
            if i & 2 == 0 { lo[1] } else { hi[1] },
            if i & 4 == 0 { lo[2] } else { hi[2] },
        ]
    };
    // Quads counter-clockwise from outside.
    const QUADS: [[usize; 4]; 6] = [
        [0, 2, 3, 1], // bottom
        [4, 5, 7, 6], // top
        [0, 1, 5, 4], // y = lo
        [2, 6, 7, 3], // y = hi
        [0, 4, 6, 2], // x = lo
        [1, 3, 7, 5], // x = hi
    ];
    QUADS
        .iter()
        .flat_map(|q| [[p(q[0]), p(q[1]), p(q[2])], [p(q[0]), p(q[2]), p(q[3])]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn a_cube_has_its_volume_and_a_mirror_keeps_it_outward() {
        let mut c = cuboid([0.0; 3], [2.0, 3.0, 4.0]);
        assert!(close(volume(&c), 24.0, 1e-12));
        let m = Affine {
            m: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            t: [5.0, 0.0, 0.0],
        };
        m.apply_tris(&mut c);
        assert!(close(volume(&c), 24.0, 1e-12));
        // Faces turned every which way are put right, inside out too.
        let mut messy = cuboid([0.0; 3], [1.0, 1.0, 1.0]);
        for k in [1, 4, 5, 9] {
            messy[k].swap(1, 2);
        }
        orient_closed(&mut messy, 1e-9);
        assert!(close(volume(&messy), 1.0, 1e-12));
        messy.iter_mut().for_each(|t| t.swap(1, 2));
        orient_closed(&mut messy, 1e-9);
        assert!(close(volume(&messy), 1.0, 1e-12));
    }

    #[test]
    fn a_hole_through_a_wall() {
        // A wall 4 × 0.2 × 3 with a window 1 × 1.2, the opening box flush with both faces.
        let wall = cuboid([0.0, 0.0, 0.0], [4.0, 0.2, 3.0]);
        let opening = cuboid([1.0, 0.0, 1.0], [2.0, 0.2, 2.2]);
        let cut = boolean(&wall, &opening, Op::Difference, 1e-9);
        assert!(
            close(volume(&cut), 4.0 * 0.2 * 3.0 - 1.0 * 0.2 * 1.2, 1e-9),
            "{}",
            volume(&cut)
        );
        // An opening sticking out both sides cuts the same.
        let through = cuboid([1.0, -0.5, 1.0], [2.0, 0.7, 2.2]);
        let cut2 = boolean(&wall, &through, Op::Difference, 1e-9);
        assert!(close(volume(&cut2), volume(&cut), 1e-9));
        let ((lo, hi), (wlo, whi)) = (bounds(&cut2).unwrap(), bounds(&wall).unwrap());
        assert!((0..3).all(|k| close(lo[k], wlo[k], 1e-12) && close(hi[k], whi[k], 1e-12)));
        // The window is empty, the wall beside it solid.
        let o = Other::new(&cut2).unwrap();
        assert_eq!(o.side([1.5, 0.1, 1.6], [0.0, 1.0, 0.0], 1e-9), Side::Outside);
        assert_eq!(o.side([0.5, 0.1, 1.6], [0.0, 1.0, 0.0], 1e-9), Side::Inside);
        assert_eq!(o.side([1.5, 0.0, 0.5], [0.0, -1.0, 0.0], 1e-9), Side::OnSame);
    }

    #[test]
    fn intersection_and_union_of_overlapping_boxes() {
        let a = cuboid([0.0; 3], [2.0, 2.0, 2.0]);
        let b = cuboid([1.0, 1.0, 1.0], [3.0, 3.0, 3.0]);
        assert!(close(volume(&boolean(&a, &b, Op::Intersection, 1e-9)), 1.0, 1e-9));
        assert!(close(volume(&boolean(&a, &b, Op::Union, 1e-9)), 15.0, 1e-9));
        assert!(close(volume(&boolean(&a, &b, Op::Difference, 1e-9)), 7.0, 1e-9));
        // Apart: a difference leaves a alone.
        let far = cuboid([5.0; 3], [6.0; 3]);
        assert_eq!(boolean(&a, &far, Op::Difference, 1e-9), a);
    }
}
