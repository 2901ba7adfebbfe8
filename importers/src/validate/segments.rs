//! Segment-intersection tests in near-linear time: the validity checks of huge polygons (a
//! coastline, a district boundary of millions of vertices).
//!
//! Segments are bucketed into the cells of a grid whose cells are about twice the mean segment
//! length (so a ring, a curve, fills few cells of its box, each with a handful of segments);
//! only segments sharing a cell can meet, so only pairs within a cell are tested exactly. Each
//! segment is walked through the cells it crosses, column by column; consecutive segments of a
//! ring in one cell make one run, and (cell, run) pairs are sorted by cell: no dense array over
//! the box. A cell that still holds many segments (a
//! cluster of tiny ones) gets a finer grid of its own, recursively, so dense spots do not turn
//! the test quadratic. Cost: O(n log n) for n segments, plus the cells long segments cross.

use geo::{Coord, Line};

/// A segment: ring `ring`, from vertex `i` to `i + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Seg {
    pub ring: u32,
    pub i: u32,
}

/// Up to this many segments, a cell's pairs are all tested.
const SMALL_CELL: usize = 48;
/// Finer grids within a crowded cell go at most this deep.
const MAX_DEPTH: u32 = 12;

/// The segments of some rings, for finding a pair that meets.
pub(crate) struct SegmentGrid<'a> {
    rings: &'a [&'a [Coord<f64>]],
}

/// A box: `[min_x, min_y, max_x, max_y]`.
type Bounds = [f64; 4];

impl<'a> SegmentGrid<'a> {
    /// The segments of `rings` (their coordinates must be finite).
    pub fn new(rings: &'a [&'a [Coord<f64>]]) -> SegmentGrid<'a> {
        SegmentGrid { rings }
    }

    fn line(&self, s: Seg) -> (Coord<f64>, Coord<f64>) {
        let r = self.rings[s.ring as usize];
        (r[s.i as usize], r[s.i as usize + 1])
    }

    /// The first pair of segments found whose boxes overlap and for which `pred` holds; `pred`
    /// gets `a` before `b` in ring and vertex order, each with its line. A pair may be offered
    /// more than once (it shares several cells).
    pub fn find_pair(
        &self,
        mut pred: impl FnMut(Seg, Line<f64>, Seg, Line<f64>) -> bool,
    ) -> Option<(Seg, Seg)> {
        let mut segs = Vec::new();
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for (ring, pts) in self.rings.iter().enumerate() {
            for i in 0..pts.len().saturating_sub(1) {
                segs.push(Seg {
                    ring: ring as u32,
                    i: i as u32,
                });
            }
            for c in pts.iter() {
                b = [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)];
            }
        }
        if segs.len() < 2 {
            return None;
        }
        self.solve(&segs, b, 0, &mut pred)
    }

    /// Tests every pair of `segs` (in order) whose boxes overlap.
    fn all_pairs(
        &self,
        segs: &[Seg],
        pred: &mut impl FnMut(Seg, Line<f64>, Seg, Line<f64>) -> bool,
    ) -> Option<(Seg, Seg)> {
        for (k, &a) in segs.iter().enumerate() {
            let (a0, a1) = self.line(a);
            let (ax0, ax1) = (a0.x.min(a1.x), a0.x.max(a1.x));
            let (ay0, ay1) = (a0.y.min(a1.y), a0.y.max(a1.y));
            for &b in &segs[k + 1..] {
                let (b0, b1) = self.line(b);
                if b0.x.max(b1.x) < ax0
                    || b0.x.min(b1.x) > ax1
                    || b0.y.max(b1.y) < ay0
                    || b0.y.min(b1.y) > ay1
                {
                    continue;
                }
                if pred(a, Line::new(a0, a1), b, Line::new(b0, b1)) {
                    return Some((a, b));
                }
            }
        }
        None
    }

    /// Finds a pair among `segs` (sorted), all of which touch `bounds`, with a grid over
    /// `bounds`; crowded cells recurse.
    fn solve(
        &self,
        segs: &[Seg],
        bounds: Bounds,
        depth: u32,
        pred: &mut impl FnMut(Seg, Line<f64>, Seg, Line<f64>) -> bool,
    ) -> Option<(Seg, Seg)> {
        let (w, h) = (bounds[2] - bounds[0], bounds[3] - bounds[1]);
        if segs.len() <= SMALL_CELL || depth > MAX_DEPTH || w.max(h).is_nan() || w.max(h) <= 0.0 {
            return self.all_pairs(segs, pred);
        }
        // Cells about twice the mean length of the segments' parts inside the box, and no more
        // than ~4 cells a segment across the box.
        let total: f64 = segs
            .iter()
            .map(|&s| {
                let (a, b) = self.line(s);
                inside(a, b, bounds)
                    .or_else(|| clip(a, b, bounds))
                    .map_or(0.0, |(a, b)| (b.x - a.x).hypot(b.y - a.y))
            })
            .sum();
        let n = segs.len() as f64;
        let floor = w.max(h) / (4.0 * n).sqrt().max(1.0) / 64.0;
        let cell = (8.0 * total / n).max(floor).max(w.max(h) * 1e-12);
        let nx = ((w / cell).floor() as u64 + 1).min(1 << 31);
        let ny = ((h / cell).floor() as u64 + 1).min(1 << 31);
        if nx * ny <= 1 {
            return self.all_pairs(segs, pred);
        }
        let grid = Grid {
            x0: bounds[0],
            y0: bounds[1],
            cell,
            nx,
            ny,
        };
        // (cell, first segment, segments): consecutive segments of a ring in the same cell make
        // one run, so a curve gives about one entry per cell it crosses, not one per segment.
        let mut entries: Vec<(u64, Seg, u32)> = Vec::with_capacity(segs.len() / 2 + 16);
        for &s in segs {
            let (a, b) = self.line(s);
            if let Some((a, b)) = inside(a, b, bounds).or_else(|| clip(a, b, bounds)) {
                grid.walk(a, b, |key| {
                    // The run this segment continues is among the last few entries (the
                    // previous segment's cells).
                    let recent = entries.len().saturating_sub(6);
                    let run = entries[recent..]
                        .iter_mut()
                        .rev()
                        .find(|(k, first, n)| *k == key && first.ring == s.ring && first.i + *n == s.i);
                    match run {
                        Some((_, _, n)) => *n += 1,
                        None => entries.push((key, s, 1)),
                    }
                });
            }
        }
        // By cell, and within a cell in ring and vertex order.
        entries.sort_unstable();
        let mut start = 0;
        let mut cell_segs: Vec<Seg> = Vec::new();
        while start < entries.len() {
            let key = entries[start].0;
            let end = start + entries[start..].iter().take_while(|e| e.0 == key).count();
            if end - start == 1 && entries[start].2 == 1 {
                start = end;
                continue;
            }
            cell_segs.clear();
            for &(_, first, n) in &entries[start..end] {
                cell_segs.extend((0..n).map(|k| Seg {
                    ring: first.ring,
                    i: first.i + k,
                }));
            }
            let found = if cell_segs.len() <= SMALL_CELL || cell_segs.len() == segs.len() {
                self.all_pairs(&cell_segs, pred)
            } else {
                self.solve(&cell_segs, grid.bounds(key), depth + 1, pred)
            };
            if found.is_some() {
                return found;
            }
            start = end;
        }
        None
    }
}

/// A uniform grid over a box, cells keyed `row << 32 | column`.
struct Grid {
    x0: f64,
    y0: f64,
    cell: f64,
    nx: u64,
    ny: u64,
}

impl Grid {
    fn col(&self, x: f64) -> u64 {
        (((x - self.x0) / self.cell).floor().max(0.0) as u64).min(self.nx - 1)
    }

    fn row(&self, y: f64) -> u64 {
        (((y - self.y0) / self.cell).floor().max(0.0) as u64).min(self.ny - 1)
    }

    fn bounds(&self, key: u64) -> Bounds {
        let (row, col) = (key >> 32, key & 0xffff_ffff);
        let x = self.x0 + col as f64 * self.cell;
        let y = self.y0 + row as f64 * self.cell;
        [x, y, x + self.cell, y + self.cell]
    }

    /// Calls `f(key)` for every cell the segment a–b passes through (conservatively: a segment
    /// on a cell border is in both cells).
    fn walk(&self, a: Coord<f64>, b: Coord<f64>, mut f: impl FnMut(u64)) {
        let (a, b) = if a.x <= b.x { (a, b) } else { (b, a) };
        let (c0, c1) = (self.col(a.x), self.col(b.x));
        let slope = if b.x > a.x { (b.y - a.y) / (b.x - a.x) } else { 0.0 };
        // Widen by a hair so that rounding never drops a cell the segment touches.
        let eps = self.cell * 1e-9;
        for cx in c0..=c1 {
            // The segment's y range within this column (the whole of it if in one column).
            let (ya, yb) = if c0 == c1 {
                (a.y, b.y)
            } else {
                let col_x0 = self.x0 + cx as f64 * self.cell;
                let xa = a.x.max(col_x0);
                let xb = b.x.min(col_x0 + self.cell);
                (a.y + slope * (xa - a.x), a.y + slope * (xb - a.x))
            };
            let (r0, r1) = (self.row(ya.min(yb) - eps), self.row(ya.max(yb) + eps));
            for cy in r0..=r1 {
                f(cy << 32 | cx);
            }
        }
    }
}

/// The segment itself where it lies wholly inside `bounds` (most do: no clipping needed).
fn inside(a: Coord<f64>, b: Coord<f64>, bounds: Bounds) -> Option<(Coord<f64>, Coord<f64>)> {
    let within = |c: Coord<f64>| c.x >= bounds[0] && c.x <= bounds[2] && c.y >= bounds[1] && c.y <= bounds[3];
    (within(a) && within(b)).then_some((a, b))
}

/// The part of segment a–b inside `bounds` (widened by a hair), if any (Liang–Barsky).
fn clip(a: Coord<f64>, b: Coord<f64>, bounds: Bounds) -> Option<(Coord<f64>, Coord<f64>)> {
    let eps = (bounds[2] - bounds[0]).max(bounds[3] - bounds[1]) * 1e-9;
    let (d_x, d_y) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-d_x, a.x - (bounds[0] - eps)),
        (d_x, (bounds[2] + eps) - a.x),
        (-d_y, a.y - (bounds[1] - eps)),
        (d_y, (bounds[3] + eps) - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| Coord {
        x: a.x + t * d_x,
        y: a.y + t * d_y,
    };
    Some((
        if t0 == 0.0 { a } else { at(t0) },
        if t1 == 1.0 { b } else { at(t1) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Intersects;

    fn brute(rings: &[&[Coord<f64>]], counts: impl Fn(Seg, Seg) -> bool) -> bool {
        let segs: Vec<Seg> = rings
            .iter()
            .enumerate()
            .flat_map(|(r, p)| {
                (0..p.len().saturating_sub(1)).map(move |i| Seg {
                    ring: r as u32,
                    i: i as u32,
                })
            })
            .collect();
        for (k, &a) in segs.iter().enumerate() {
            for &b in &segs[k + 1..] {
                let ra = rings[a.ring as usize];
                let rb = rings[b.ring as usize];
                let la = Line::new(ra[a.i as usize], ra[a.i as usize + 1]);
                let lb = Line::new(rb[b.i as usize], rb[b.i as usize + 1]);
                if counts(a, b) && la.intersects(&lb) {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn the_grid_finds_what_every_pair_finds() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        // Not the adjacent pair: only pairs that do not share a ring's vertex.
        let apart = |a: Seg, b: Seg| a.ring != b.ring || b.i > a.i + 1;
        for case in 0..3000 {
            // Small integer coordinates (many touches and collinear overlaps), some cases with
            // long segments across the whole box, some on one line.
            let span = [4, 50, 1000][case % 3];
            let n = 3 + next(40) as usize;
            let ring_a: Vec<Coord<f64>> = (0..n)
                .map(|_| Coord {
                    x: next(span) as f64,
                    y: if case % 7 == 0 { 0.0 } else { next(span) as f64 },
                })
                .collect();
            let ring_b: Vec<Coord<f64>> = (0..4)
                .map(|_| Coord {
                    x: next(span) as f64 * 0.5,
                    y: next(span) as f64 * 0.25,
                })
                .collect();
            let rings: Vec<&[Coord<f64>]> = vec![&ring_a, &ring_b];
            let grid = SegmentGrid::new(&rings);
            let found = grid.find_pair(|a, la, b, lb| apart(a, b) && la.intersects(&lb));
            assert_eq!(
                found.is_some(),
                brute(&rings, apart),
                "case {case}: {ring_a:?} {ring_b:?}"
            );
        }
    }

    #[test]
    fn crowded_spots_and_long_edges_are_found_too() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let apart = |a: Seg, b: Seg| a.ring != b.ring || b.i > a.i + 1;
        for case in 0..60 {
            // Half the points bunched in a spot a millionth of the box, the rest spread out,
            // in random order: long edges between the spot and the rest.
            let n = 100 + next(900) as usize;
            let pts: Vec<Coord<f64>> = (0..n)
                .map(|k| {
                    if k % 2 == 0 || case % 3 == 0 {
                        Coord {
                            x: 500.0 + next(1000) as f64 * 1e-3,
                            y: 500.0 + next(1000) as f64 * 1e-3,
                        }
                    } else {
                        Coord {
                            x: next(1000) as f64,
                            y: next(1000) as f64,
                        }
                    }
                })
                .collect();
            let rings: Vec<&[Coord<f64>]> = vec![&pts];
            let grid = SegmentGrid::new(&rings);
            let found = grid.find_pair(|a, la, b, lb| apart(a, b) && la.intersects(&lb));
            assert_eq!(found.is_some(), brute(&rings, apart), "case {case}");
        }
        // A simple ring of 20,000 points, half of them in a tiny stretch: no pair found.
        let n = 20_000;
        let mut ring: Vec<Coord<f64>> = (0..n)
            .map(|k| {
                let t = if k < n / 2 {
                    k as f64 * 1e-7
                } else {
                    1e-3 + (k - n / 2) as f64 / (n / 2) as f64 * (std::f64::consts::TAU - 2e-3)
                };
                Coord {
                    x: 1000.0 * t.cos(),
                    y: 1000.0 * t.sin(),
                }
            })
            .collect();
        ring.push(ring[0]);
        let rings: Vec<&[Coord<f64>]> = vec![&ring];
        let last = (ring.len() - 2) as u32;
        let grid = SegmentGrid::new(&rings);
        let found =
            grid.find_pair(|a, la, b, lb| apart(a, b) && !(a.i == 0 && b.i == last) && la.intersects(&lb));
        assert_eq!(found, None);
    }
}
