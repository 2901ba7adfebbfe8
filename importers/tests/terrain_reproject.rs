//! Warping DEMs into a project CRS.

#![allow(clippy::unwrap_used)]

use cim_engine::{Crs, Raster, Transform};
use cim_importers::{read_geotiff, reproject_dem};
use std::path::Path;

fn transforms(target: u32, source: u32) -> (Transform, Transform) {
    let t = Crs::from_epsg(target).unwrap();
    let s = Crs::from_epsg(source).unwrap();
    (Transform::new(&t, &s), Transform::new(&s, &t))
}

#[test]
fn osmnx_geographic_dem_into_utm_10n() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/dem/osmnx_elevation1.tif");
    let dem = read_geotiff(&path).unwrap();
    let (utm_from_wgs84, wgs84_from_utm) = transforms(32610, 4326);
    let out = reproject_dem(&dem.raster, &utm_from_wgs84, &wgs84_from_utm, None).unwrap();

    // 1″ at 37.8° N is 24.4 m east-west and 30.9 m north-south: square cells of their
    // geometric mean.
    assert!(out.cell_w > 25.0 && out.cell_w < 30.0, "cell {}", out.cell_w);
    assert_eq!(out.cell_w, out.cell_h);
    // The source covers 24 × 37 cells of 24.4 × 30.9 m: about 590 m × 1140 m.
    let [x0, y0, x1, y1] = out.extent();
    assert!((x1 - x0 - 590.0).abs() < 2.0 * out.cell_w, "width {}", x1 - x0);
    assert!((y1 - y0 - 1140.0).abs() < 2.0 * out.cell_w, "height {}", y1 - y0);
    // UTM 10N around San Francisco's North Beach.
    assert!(
        x0 > 550_000.0 && x1 < 553_000.0 && y0 > 4_182_000.0 && y1 < 4_185_000.0,
        "{:?}",
        out.extent()
    );

    let (lo, hi) = out.min_max().unwrap();
    assert!(
        lo >= 10.0 && hi <= 98.0,
        "values {lo}..{hi} outside the source's 10..98"
    );
    // Roughly as many valid cells as the source's 792 valid cells scaled by the area ratio,
    // less the nodata edge and the slanted borders.
    let src_cell_area = 24.4 * 30.9;
    let expected = 792.0 * src_cell_area / (out.cell_w * out.cell_h);
    let valid = out.valid_count() as f64;
    assert!(
        valid > 0.8 * expected && valid < 1.1 * expected,
        "{valid} valid cells, ~{expected} expected"
    );

    // Each output cell centre holds the source's bilinear sample at the same ground point.
    let mut checked = 0;
    for row in (0..out.height).step_by(5) {
        for col in (0..out.width).step_by(3) {
            let x = out.origin_x + (col as f64 + 0.5) * out.cell_w;
            let y = out.origin_y - (row as f64 + 0.5) * out.cell_h;
            let (lon, lat) = wgs84_from_utm.apply(x, y).unwrap();
            let v = out.data[row * out.width + col];
            match dem.raster.sample(lon, lat) {
                Some(z) => {
                    assert!((f64::from(v) - z).abs() < 1e-3, "({col},{row}) {v} vs {z}");
                    checked += 1;
                }
                None => assert!(v.is_nan()),
            }
        }
    }
    assert!(checked > 20);
    eprintln!(
        "osmnx → UTM 10N: {} × {} cells of {:.2} m, {} valid",
        out.width,
        out.height,
        out.cell_w,
        out.valid_count()
    );
}

/// z = a·x + b·y over a grid in UTM 33N; bilinear interpolation reproduces a plane exactly, so
/// after UTM 33N → WGS 84 → UTM 33N every valid cell must hold the plane's value at its centre.
#[test]
fn plane_survives_a_round_trip_through_geographic() {
    let (x0, y0, cell) = (455_000.0, 5_552_000.0, 10.0);
    let (a, b) = (0.02, -0.015);
    let plane = |x: f64, y: f64| 200.0 + a * (x - x0) + b * (y - y0);
    let mut dem = Raster::empty(120, 90, x0, y0, cell, cell);
    for row in 0..dem.height {
        for col in 0..dem.width {
            let x = x0 + (col as f64 + 0.5) * cell;
            let y = y0 - (row as f64 + 0.5) * cell;
            dem.data[row * dem.width + col] = plane(x, y) as f32;
        }
    }
    let (wgs84_from_utm, utm_from_wgs84) = transforms(4326, 32633);
    let geo = reproject_dem(&dem, &wgs84_from_utm, &utm_from_wgs84, None).unwrap();
    assert!(
        geo.cell_w > 5e-5 && geo.cell_w < 2e-4,
        "geographic cell {}",
        geo.cell_w
    );
    let back = reproject_dem(&geo, &utm_from_wgs84, &wgs84_from_utm, Some(cell)).unwrap();
    assert_eq!(back.cell_w, cell);

    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for row in 0..back.height {
        for col in 0..back.width {
            let v = back.data[row * back.width + col];
            if v.is_nan() {
                continue;
            }
            let x = back.origin_x + (col as f64 + 0.5) * cell;
            let y = back.origin_y - (row as f64 + 0.5) * cell;
            // Cells next to the source's edge fall back to the nearest cell: skip a 3-cell rim.
            if x < x0 + 3.0 * cell || x > x0 + 117.0 * cell || y > y0 - 3.0 * cell || y < y0 - 87.0 * cell {
                continue;
            }
            let rel = ((f64::from(v) - plane(x, y)) / plane(x, y)).abs();
            worst = worst.max(rel);
            checked += 1;
        }
    }
    eprintln!("plane round trip: {checked} cells, worst relative error {worst:e}");
    assert!(worst < 1e-3, "worst relative error {worst}");
    // The interior is 114 × 84 cells; nearly all of it is covered after the round trip.
    assert!(checked > 9000, "{checked} cells checked");
}

#[test]
fn identity_transform_clones() {
    let mut dem = Raster::empty(3, 2, 10.0, 20.0, 1.0, 1.0);
    dem.data[0] = 5.0;
    let (t, s) = transforms(32633, 32633);
    let out = reproject_dem(&dem, &t, &s, None).unwrap();
    assert_eq!(
        (out.width, out.height, out.origin_x, out.origin_y),
        (3, 2, 10.0, 20.0)
    );
    let bits = |r: &Raster| r.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&out), bits(&dem));
}
