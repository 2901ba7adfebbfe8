//! `gen_dem_tif OUT.tif SIDE_M [CELL_M]`: writes a synthetic DEM GeoTIFF (Float32, EPSG:32650), a
//! square `SIDE_M` metres on a side at `CELL_M` (default 1 m): rolling hills, valleys and
//! metre-scale bumps, so that terrain levels of detail have something to keep and to drop. For
//! the viewer's bench of a 100 km² city at 1 m (`render_bench.sh`, `TERRAIN_KM=10`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parse = |k: usize| args.get(k).and_then(|v| v.parse::<f64>().ok());
    let (Some(out), Some(side_m)) = (args.get(1), parse(2)) else {
        eprintln!("usage: gen_dem_tif OUT.tif SIDE_M [CELL_M]");
        return ExitCode::FAILURE;
    };
    let cell_m = parse(3).unwrap_or(1.0);
    if !(side_m > 0.0 && cell_m > 0.0) {
        eprintln!("error: SIDE_M and CELL_M must be positive");
        return ExitCode::FAILURE;
    }
    let n = (side_m / cell_m).round().max(2.0) as usize;
    let (x0, y0) = (400_000.0, 2_500_000.0 + side_m);
    let mut dem = cim_engine::Raster::empty(n, n, x0, y0, cell_m, cell_m);
    for row in 0..n {
        for col in 0..n {
            let (x, y) = (col as f64 * cell_m, row as f64 * cell_m);
            let hills = 40.0 * (x / 1700.0).sin() * (y / 2300.0).cos() + 15.0 * ((x + y) / 610.0).sin();
            let bumps = 1.5 * (x / 7.0).sin() * (y / 11.0).cos();
            dem.data[row * n + col] = (60.0 + hills + bumps) as f32;
        }
    }
    let crs = match cim_engine::Crs::parse("EPSG:32650") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cim_importers::export::write_geotiff(std::path::Path::new(out), &dem, &crs) {
        Ok(()) => {
            println!("wrote {n}×{n} cells of {cell_m} m to {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
