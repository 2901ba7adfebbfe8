//! Warping a DEM into another CRS (the project CRS).

use crate::error::{ImportError, Result};
use cim_engine::{Raster, Transform};

/// Most cells an output grid may have (a 40k × 40k grid, 6.4 GB of f32).
const MAX_OUTPUT_CELLS: usize = 1_600_000_000;
/// Points per edge used to find the output extent.
const EDGE_SAMPLES: usize = 64;

/// Resamples `dem` onto a north-up grid in the target CRS of `target_from_source`.
///
/// The output grid covers the transformed extent of the source grid, its origin snapped to a
/// multiple of the cell size. The cell size (square, in target units) is `cell_m`, or by default
/// the source cell's size measured in the target CRS at the centre of the grid; when that is
/// within 5 % of the source cell size (a source in metres into a target in metres), the source
/// cell size itself. A 1″ geographic DEM at 38° N thus gets ≈ 27 m cells. Each output cell centre
/// is mapped back with `source_from_target` and sampled bilinearly ([`Raster::sample`]); cells
/// that fall outside the source, on nodata, or fail to transform are `NaN`.
///
/// An identity transform with no `cell_m` returns a clone.
///
/// # Errors
/// No point of the source grid transforms, a cell size that is not positive, or an output grid
/// of more than 1.6·10⁹ cells.
///
/// # Examples
/// ```
/// use cim_engine::{Crs, Raster, Transform};
/// use cim_importers::terrain::reproject_dem;
/// let utm33 = Crs::from_epsg(32633).unwrap();
/// let utm34 = Crs::from_epsg(32634).unwrap();
/// let mut dem = Raster::empty(40, 30, 700_000.0, 5_550_000.0, 10.0, 10.0);
/// dem.data.iter_mut().for_each(|v| *v = 200.0);
/// let out = reproject_dem(&dem, &Transform::new(&utm34, &utm33), &Transform::new(&utm33, &utm34), None).unwrap();
/// assert_eq!(out.cell_w, 10.0);
/// assert_eq!(out.min_max(), Some((200.0, 200.0)));
/// ```
pub fn reproject_dem(
    dem: &Raster,
    target_from_source: &Transform,
    source_from_target: &Transform,
    cell_m: Option<f64>,
) -> Result<Raster> {
    if target_from_source.is_identity() && cell_m.is_none() {
        return Ok(dem.clone());
    }
    let fail = |reason: String| ImportError::file("DEM reprojection", reason);
    if dem.width == 0 || dem.height == 0 {
        return Ok(dem.clone());
    }
    let [min_x, min_y, max_x, max_y] = transformed_extent(dem, target_from_source)
        .ok_or_else(|| fail("no point of the DEM's grid could be transformed".into()))?;
    let cell = match cell_m {
        Some(c) => c,
        None => default_cell_size(dem, target_from_source)
            .ok_or_else(|| fail("cannot measure the DEM's cell size in the target CRS".into()))?,
    };
    if !(cell.is_finite() && cell > 0.0) {
        return Err(fail(format!("cell size {cell} is not positive")));
    }
    let origin_x = (min_x / cell).floor() * cell;
    let origin_y = (max_y / cell).ceil() * cell;
    let width = ((max_x - origin_x) / cell).ceil().max(1.0);
    let height = ((origin_y - min_y) / cell).ceil().max(1.0);
    if width * height > MAX_OUTPUT_CELLS as f64 {
        return Err(fail(format!(
            "output grid of {width} × {height} cells at {cell} is too large; pass a larger cell size"
        )));
    }
    let mut out = Raster::empty(width as usize, height as usize, origin_x, origin_y, cell, cell);
    for row in 0..out.height {
        let y = origin_y - (row as f64 + 0.5) * cell;
        let line = &mut out.data[row * out.width..(row + 1) * out.width];
        for (col, v) in line.iter_mut().enumerate() {
            let x = origin_x + (col as f64 + 0.5) * cell;
            if let Ok((sx, sy)) = source_from_target.apply(x, y) {
                if let Some(z) = dem.sample(sx, sy) {
                    *v = z as f32;
                }
            }
        }
    }
    Ok(out)
}

/// Bounding box in the target CRS of points along the edges and across the source grid.
fn transformed_extent(dem: &Raster, target_from_source: &Transform) -> Option<[f64; 4]> {
    let [x0, y0, x1, y1] = dem.extent();
    let mut bbox: Option<[f64; 4]> = None;
    let n = EDGE_SAMPLES;
    for i in 0..=n {
        for j in 0..=n {
            // The edges densely; the interior on a coarser lattice (every 8th line) to catch
            // extremes inside (e.g. a grid spanning a UTM zone's central meridian).
            let on_edge = i == 0 || i == n || j == 0 || j == n;
            if !on_edge && (i % 8 != 0 || j % 8 != 0) {
                continue;
            }
            let x = x0 + (x1 - x0) * i as f64 / n as f64;
            let y = y0 + (y1 - y0) * j as f64 / n as f64;
            if let Ok((tx, ty)) = target_from_source.apply(x, y) {
                let b = bbox.get_or_insert([tx, ty, tx, ty]);
                *b = [b[0].min(tx), b[1].min(ty), b[2].max(tx), b[3].max(ty)];
            }
        }
    }
    bbox
}

/// The source cell's size in the target CRS, as the geometric mean of its transformed width and
/// height at the grid centre (square output cells keep the cell count about the same).
fn default_cell_size(dem: &Raster, target_from_source: &Transform) -> Option<f64> {
    let [x0, y0, x1, y1] = dem.extent();
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let t = |x, y| target_from_source.apply(x, y).ok();
    let (ax, ay) = t(cx, cy)?;
    let (bx, by) = t(cx + dem.cell_w, cy)?;
    let (dx, dy) = t(cx, cy + dem.cell_h)?;
    let along_row = (bx - ax).hypot(by - ay);
    let along_col = (dx - ax).hypot(dy - ay);
    let measured = (along_row * along_col).sqrt();
    let source = (dem.cell_w * dem.cell_h).sqrt();
    if !(measured.is_finite() && measured > 0.0) {
        return None;
    }
    Some(if (measured / source - 1.0).abs() < 0.05 {
        source
    } else {
        measured
    })
}
