//! Regular grids (terrain DEMs) in a projected CRS.

/// A north-up grid of `f32` values. Cell `(col, row)` covers
/// `[origin_x + col·cell_w, origin_x + (col+1)·cell_w]` × `[origin_y − (row+1)·cell_h, origin_y − row·cell_h]`:
/// `origin_*` is the top-left corner and rows run south. Missing cells are `NaN`.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub origin_x: f64,
    pub origin_y: f64,
    pub cell_w: f64,
    pub cell_h: f64,
    /// Row-major, `width * height` values, `NaN` where there is no data.
    pub data: Vec<f32>,
}

impl Raster {
    /// A grid filled with `NaN`.
    pub fn empty(
        width: usize,
        height: usize,
        origin_x: f64,
        origin_y: f64,
        cell_w: f64,
        cell_h: f64,
    ) -> Self {
        Raster {
            width,
            height,
            origin_x,
            origin_y,
            cell_w,
            cell_h,
            data: vec![f32::NAN; width * height],
        }
    }

    pub fn get(&self, col: usize, row: usize) -> Option<f32> {
        if col < self.width && row < self.height {
            let v = self.data[row * self.width + col];
            (!v.is_nan()).then_some(v)
        } else {
            None
        }
    }

    /// `(min_x, min_y, max_x, max_y)` of the whole grid.
    pub fn extent(&self) -> [f64; 4] {
        [
            self.origin_x,
            self.origin_y - self.height as f64 * self.cell_h,
            self.origin_x + self.width as f64 * self.cell_w,
            self.origin_y,
        ]
    }

    /// The value at a point by bilinear interpolation between cell centres; `None` outside or
    /// where a neighbour is missing (falls back to the nearest cell then).
    ///
    /// # Examples
    /// ```
    /// use cim_engine::Raster;
    /// let r = Raster { width: 2, height: 1, origin_x: 0.0, origin_y: 1.0, cell_w: 1.0, cell_h: 1.0, data: vec![10.0, 20.0] };
    /// assert_eq!(r.sample(1.0, 0.5), Some(15.0));
    /// assert_eq!(r.sample(0.25, 0.5), Some(10.0));
    /// assert_eq!(r.sample(5.0, 0.5), None);
    /// ```
    pub fn sample(&self, x: f64, y: f64) -> Option<f64> {
        let fc = (x - self.origin_x) / self.cell_w - 0.5;
        let fr = (self.origin_y - y) / self.cell_h - 0.5;
        if !(fc >= -0.5 && fr >= -0.5 && fc < self.width as f64 - 0.5 && fr < self.height as f64 - 0.5) {
            return None;
        }
        let c0 = fc.floor().clamp(0.0, (self.width - 1) as f64) as usize;
        let r0 = fr.floor().clamp(0.0, (self.height - 1) as f64) as usize;
        let c1 = (c0 + 1).min(self.width - 1);
        let r1 = (r0 + 1).min(self.height - 1);
        let tx = (fc - c0 as f64).clamp(0.0, 1.0);
        let ty = (fr - r0 as f64).clamp(0.0, 1.0);
        match (
            self.get(c0, r0),
            self.get(c1, r0),
            self.get(c0, r1),
            self.get(c1, r1),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => {
                let top = f64::from(a) * (1.0 - tx) + f64::from(b) * tx;
                let bottom = f64::from(c) * (1.0 - tx) + f64::from(d) * tx;
                Some(top * (1.0 - ty) + bottom * ty)
            }
            _ => {
                let col = (fc + 0.5).floor().clamp(0.0, (self.width - 1) as f64) as usize;
                let row = (fr + 0.5).floor().clamp(0.0, (self.height - 1) as f64) as usize;
                self.get(col, row).map(f64::from)
            }
        }
    }

    /// Number of cells with data.
    pub fn valid_count(&self) -> usize {
        self.data.iter().filter(|v| !v.is_nan()).count()
    }

    /// `(min, max)` over the cells with data; `None` if there are none.
    pub fn min_max(&self) -> Option<(f32, f32)> {
        self.data
            .iter()
            .filter(|v| !v.is_nan())
            .fold(None, |acc, &v| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
    }
}
