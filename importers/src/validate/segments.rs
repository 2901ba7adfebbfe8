//! Segment-intersection tests in near-linear time: the validity checks of huge polygons (a
//! coastline, a district boundary of millions of vertices).
//!
//! Every segment of the rings is registered in the cells of a uniform grid that it passes
//! through (about one cell per segment, so most cells hold a handful); two segments can only
//! meet where they share a cell, so only pairs within a cell are tested exactly. Building the
//! grid is linear in the segments plus the cells they cross; the pair tests are linear for any
//! ring whose vertices are not all bunched into a tiny part of its box. A long segment crosses
//! O(√n) cells, never its whole box.

use geo::{Coord, Line};

/// A segment: ring `ring`, from vertex `i` to `i + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seg {
    pub ring: u32,
    pub i: u32,
}

/// The rings' segments bucketed by grid cell (compressed rows: `starts[c]..starts[c + 1]` of
/// `items` are cell `c`'s segments, in ring and vertex order).
pub(crate) struct SegmentGrid<'a> {
    rings: &'a [&'a [Coord<f64>]],
    x0: f64,
    y0: f64,
    cell: f64,
    nx: usize,
    ny: usize,
    starts: Vec<u32>,
    items: Vec<Seg>,
}

impl<'a> SegmentGrid<'a> {
    /// Builds the grid over every segment of `rings` (their coordinates must be finite).
    pub fn new(rings: &'a [&'a [Coord<f64>]]) -> SegmentGrid<'a> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut n_seg = 0usize;
        for r in rings {
            n_seg += r.len().saturating_sub(1);
            for c in r.iter() {
                x0 = x0.min(c.x);
                y0 = y0.min(c.y);
                x1 = x1.max(c.x);
                y1 = y1.max(c.y);
            }
        }
        let (w, h) = ((x1 - x0).max(0.0), (y1 - y0).max(0.0));
        // About one cell per segment, square cells; a flat box gets one row or one column.
        let target = n_seg.max(1) as f64;
        let cell = if w > 0.0 && h > 0.0 {
            (w * h / target).sqrt()
        } else {
            w.max(h) / target
        };
        let cell = if cell > 0.0 && cell.is_finite() { cell } else { 1.0 };
        let dim = |extent: f64| ((extent / cell).floor() as usize + 1).clamp(1, 1 << 16);
        let (nx, ny) = (dim(w), dim(h));
        let mut grid = SegmentGrid {
            rings,
            x0,
            y0,
            cell,
            nx,
            ny,
            starts: Vec::new(),
            items: Vec::new(),
        };
        // Two passes over the same cell walk: count, then place.
        let mut counts = vec![0u32; nx * ny + 1];
        grid.each_segment_cell(|c, _| counts[c] += 1);
        let mut total = 0u32;
        for c in counts.iter_mut() {
            let n = *c;
            *c = total;
            total += n;
        }
        let mut next = counts.clone();
        let mut items = vec![Seg { ring: 0, i: 0 }; total as usize];
        grid.each_segment_cell(|c, s| {
            items[next[c] as usize] = s;
            next[c] += 1;
        });
        grid.starts = counts;
        grid.items = items;
        grid
    }

    fn col(&self, x: f64) -> usize {
        (((x - self.x0) / self.cell).floor().max(0.0) as usize).min(self.nx - 1)
    }

    fn row(&self, y: f64) -> usize {
        (((y - self.y0) / self.cell).floor().max(0.0) as usize).min(self.ny - 1)
    }

    /// Calls `f(cell, segment)` for every cell each segment passes through (conservatively: a
    /// segment on a cell border is in both cells).
    fn each_segment_cell(&self, mut f: impl FnMut(usize, Seg)) {
        for (ring, pts) in self.rings.iter().enumerate() {
            for i in 0..pts.len().saturating_sub(1) {
                let s = Seg {
                    ring: ring as u32,
                    i: i as u32,
                };
                let (a, b) = (pts[i], pts[i + 1]);
                let (a, b) = if a.x <= b.x { (a, b) } else { (b, a) };
                let (c0, c1) = (self.col(a.x), self.col(b.x));
                let slope = if b.x > a.x { (b.y - a.y) / (b.x - a.x) } else { 0.0 };
                for cx in c0..=c1 {
                    // The segment's y range within this column (the whole of it if vertical).
                    let (ya, yb) = if c0 == c1 {
                        (a.y, b.y)
                    } else {
                        let col_x0 = self.x0 + cx as f64 * self.cell;
                        let xa = a.x.max(col_x0);
                        let xb = b.x.min(col_x0 + self.cell);
                        (a.y + slope * (xa - a.x), a.y + slope * (xb - a.x))
                    };
                    // Widen by a hair so that rounding never drops a cell the segment touches.
                    let eps = self.cell * 1e-9;
                    let (r0, r1) = (self.row(ya.min(yb) - eps), self.row(ya.max(yb) + eps));
                    for cy in r0..=r1 {
                        f(cy * self.nx + cx, s);
                    }
                }
            }
        }
    }

    fn line(&self, s: Seg) -> (Coord<f64>, Coord<f64>) {
        let r = self.rings[s.ring as usize];
        (r[s.i as usize], r[s.i as usize + 1])
    }

    /// The first pair of segments (in cell order) whose boxes overlap and for which `pred`
    /// holds; `pred` gets `a` before `b` in ring and vertex order, each with its line.
    pub fn find_pair(
        &self,
        mut pred: impl FnMut(Seg, Line<f64>, Seg, Line<f64>) -> bool,
    ) -> Option<(Seg, Seg)> {
        for c in 0..self.nx * self.ny {
            let cell = &self.items[self.starts[c] as usize..self.starts[c + 1] as usize];
            for (k, &a) in cell.iter().enumerate() {
                let (a0, a1) = self.line(a);
                let (ax0, ax1) = (a0.x.min(a1.x), a0.x.max(a1.x));
                let (ay0, ay1) = (a0.y.min(a1.y), a0.y.max(a1.y));
                for &b in &cell[k + 1..] {
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
        }
        None
    }
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
}
