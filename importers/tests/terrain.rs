//! GeoTIFF DEMs: the shared fixtures (real DEMs) and small files written here for each
//! encoding the reader must handle. Pixel values of the fixtures were read once with GDAL
//! (`gdallocationinfo -valonly FILE COL ROW`, `gdalinfo -stats`) and are recorded as literals.

#![allow(clippy::unwrap_used)]

use cim_engine::Raster;
use cim_importers::{read_geotiff, ImportError};
use std::io::Write;
use std::path::{Path, PathBuf};
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::{Compression, DeflateLevel, Predictor, TiffEncoder, TiffValue};
use tiff::tags::Tag;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/dem")
        .join(name)
}

fn at(r: &Raster, col: usize, row: usize) -> f32 {
    r.data[row * r.width + col]
}

#[test]
fn bubenec_float32_deflate_tiled_pixel_is_point() {
    let dem = read_geotiff(&fixture("bubenec_dtm_1m_utm33n.tif")).unwrap();
    let r = &dem.raster;
    assert_eq!((r.width, r.height), (670, 718));
    assert_eq!(dem.crs.as_ref().and_then(|c| c.epsg()), Some(32633));
    assert_eq!(dem.nodata, Some(-9999.0));
    assert!(dem.warnings.is_empty(), "{:?}", dem.warnings);
    // The file is PixelIsPoint with its tiepoint at 456967.188, 5550590.541 (a pixel centre);
    // GDAL reports the corner half a cell up-left, and so must we.
    assert!((r.origin_x - 456966.688267077).abs() < 1e-6, "{}", r.origin_x);
    assert!((r.origin_y - 5550591.041125356).abs() < 1e-6, "{}", r.origin_y);
    assert_eq!((r.cell_w, r.cell_h), (1.0, 1.0));
    let [x0, y0, x1, y1] = r.extent();
    assert!((x1 - x0 - 670.0).abs() < 1e-9 && (y1 - y0 - 718.0).abs() < 1e-9);
    // 382,805 valid and 98,255 nodata cells (gdal_translate -of XYZ, counted with awk).
    assert_eq!(r.valid_count(), 382_805);
    assert_eq!(r.data.len() - r.valid_count(), 98_255);
    let (lo, hi) = r.min_max().unwrap();
    assert!(
        (lo - 188.410).abs() < 1e-3 && (hi - 222.118).abs() < 1e-3,
        "{lo} {hi}"
    );
    assert!(at(r, 0, 0).is_nan() && at(r, 669, 717).is_nan());
    assert_eq!(at(r, 335, 359), 215.446_01_f32);
    assert_eq!(at(r, 300, 100), 207.519_47_f32);
}

#[test]
fn osmnx_int16_geographic_dems() {
    let deg = 1.0 / 3600.0;
    for (name, width, num_nodata, (lo, hi), origin_x, known) in [
        (
            "osmnx_elevation1.tif",
            24,
            96,
            (10.0, 98.0),
            -122.409_305_555_555_55,
            [(12, 18, 26.0), (5, 30, 69.0)],
        ),
        (
            "osmnx_elevation2.tif",
            23,
            23,
            (-35.0, 118.0),
            -122.402_916_666_666_66,
            [(11, 20, 55.0), (22, 36, 5.0)],
        ),
    ] {
        let dem = read_geotiff(&fixture(name)).unwrap();
        let r = &dem.raster;
        assert_eq!((r.width, r.height), (width, 37), "{name}");
        assert_eq!(dem.crs.as_ref().and_then(|c| c.epsg()), Some(4326), "{name}");
        assert_eq!(dem.nodata, Some(-32768.0));
        assert_eq!(r.data.len() - r.valid_count(), num_nodata, "{name}");
        assert_eq!(r.min_max(), Some((lo, hi)), "{name}");
        assert!((r.origin_x - origin_x).abs() < 1e-9 && (r.origin_y - 37.800_416_666_666_67).abs() < 1e-9);
        assert!((r.cell_w - deg).abs() < 1e-12 && (r.cell_h - deg).abs() < 1e-12);
        assert!(at(r, 0, 0).is_nan(), "{name}: (0,0) is nodata in the file");
        for (c, row, v) in known {
            assert_eq!(at(r, c, row), v, "{name} ({c},{row})");
        }
    }
}

/// How to write a test GeoTIFF.
struct Spec {
    compression: Compression,
    predictor: Predictor,
    rows_per_strip: u32,
    epsg: u16,
    nodata: Option<&'static str>,
    pixel_is_point: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            compression: Compression::Uncompressed,
            predictor: Predictor::None,
            rows_per_strip: 3,
            epsg: 32650,
            nodata: Some("-9999"),
            pixel_is_point: false,
        }
    }
}

const ORIGIN: (f64, f64) = (500_000.0, 4_400_000.0);
const CELL: f64 = 5.0;

/// GeoKeyDirectory for `epsg` (geographic if 4326, else projected) and the raster type.
fn geokeys(epsg: u16, pixel_is_point: bool) -> Vec<u16> {
    let geographic = epsg == 4326;
    vec![
        1,
        1,
        0,
        3,
        1024,
        0,
        1,
        if geographic { 2 } else { 1 },
        1025,
        0,
        1,
        if pixel_is_point { 2 } else { 1 },
        if geographic { 2048 } else { 3072 },
        0,
        1,
        epsg,
    ]
}

fn write_dem<C: ColorType>(path: &Path, w: u32, h: u32, data: &[C::Inner], spec: &Spec)
where
    [C::Inner]: TiffValue,
{
    let file = std::fs::File::create(path).unwrap();
    let mut tiff = TiffEncoder::new(file)
        .unwrap()
        .with_compression(spec.compression)
        .with_predictor(spec.predictor);
    let mut image = tiff.new_image::<C>(w, h).unwrap();
    image.rows_per_strip(spec.rows_per_strip).unwrap();
    let enc = image.encoder();
    enc.write_tag(Tag::ModelPixelScaleTag, &[CELL, CELL, 0.0][..])
        .unwrap();
    enc.write_tag(
        Tag::ModelTiepointTag,
        &[0.0, 0.0, 0.0, ORIGIN.0, ORIGIN.1, 0.0][..],
    )
    .unwrap();
    enc.write_tag(
        Tag::GeoKeyDirectoryTag,
        &geokeys(spec.epsg, spec.pixel_is_point)[..],
    )
    .unwrap();
    if let Some(nd) = spec.nodata {
        enc.write_tag(Tag::GdalNodata, nd).unwrap();
    }
    image.write_data(data).unwrap();
}

/// A terrain-like test surface with a few nodata cells, as i16 metres.
fn surface(w: u32, h: u32) -> Vec<i16> {
    (0..h)
        .flat_map(|r| (0..w).map(move |c| (r, c)))
        .map(|(r, c)| {
            if (r + c) % 17 == 0 {
                -9999
            } else {
                (100 + 3 * r as i32 - 2 * c as i32) as i16
            }
        })
        .collect()
}

fn check_surface(r: &Raster, w: usize, h: usize) {
    assert_eq!((r.width, r.height), (w, h));
    assert_eq!(
        (r.origin_x, r.origin_y, r.cell_w, r.cell_h),
        (ORIGIN.0, ORIGIN.1, CELL, CELL)
    );
    for row in 0..h {
        for col in 0..w {
            let v = at(r, col, row);
            if (row + col) % 17 == 0 {
                assert!(v.is_nan(), "({col},{row}) should be nodata");
            } else {
                assert_eq!(v, (100 + 3 * row as i32 - 2 * col as i32) as f32, "({col},{row})");
            }
        }
    }
}

#[test]
fn stripped_uncompressed_int16() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strips.tif");
    let (w, h) = (31, 20);
    write_dem::<colortype::GrayI16>(&path, w, h, &surface(w, h), &Spec::default());
    let dem = read_geotiff(&path).unwrap();
    check_surface(&dem.raster, 31, 20);
    assert_eq!(dem.crs.unwrap().epsg(), Some(32650));
}

#[test]
fn lzw_with_horizontal_predictor_int16() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lzw.tif");
    let (w, h) = (64, 45);
    let spec = Spec {
        compression: Compression::Lzw,
        predictor: Predictor::Horizontal,
        rows_per_strip: 8,
        ..Spec::default()
    };
    write_dem::<colortype::GrayI16>(&path, w, h, &surface(w, h), &spec);
    check_surface(&read_geotiff(&path).unwrap().raster, 64, 45);
}

#[test]
fn every_sample_format_reads_with_its_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let spec = |nodata| Spec {
        compression: Compression::Deflate(DeflateLevel::Fast),
        nodata: Some(nodata),
        ..Spec::default()
    };
    write_dem::<colortype::Gray8>(&p("u8.tif"), 3, 2, &[0, 1, 2, 255, 4, 5], &spec("255"));
    write_dem::<colortype::Gray16>(&p("u16.tif"), 3, 2, &[0, 1, 2, 65535, 4, 5], &spec("65535"));
    write_dem::<colortype::GrayI32>(&p("i32.tif"), 3, 2, &[0, -1, 2, -99999, 4, 5], &spec("-99999"));
    write_dem::<colortype::Gray32Float>(
        &p("f32.tif"),
        3,
        2,
        &[0.5, -1.5, 2.5, f32::MIN, 4.5, 5.5],
        &spec("-3.4028234663852886e+38"),
    );
    write_dem::<colortype::Gray64Float>(
        &p("f64.tif"),
        3,
        2,
        &[0.25, -1.0, 2.0, -1e30, 4.0, 5.0],
        &spec("-1e30"),
    );
    for (name, expect) in [
        ("u8.tif", [0.0, 1.0, 2.0, 4.0, 5.0]),
        ("u16.tif", [0.0, 1.0, 2.0, 4.0, 5.0]),
        ("i32.tif", [0.0, -1.0, 2.0, 4.0, 5.0]),
        ("f32.tif", [0.5, -1.5, 2.5, 4.5, 5.5]),
        ("f64.tif", [0.25, -1.0, 2.0, 4.0, 5.0]),
    ] {
        let r = read_geotiff(&p(name)).unwrap().raster;
        assert!(r.data[3].is_nan(), "{name}: nodata cell");
        let valid: Vec<f32> = r.data.iter().copied().filter(|v| !v.is_nan()).collect();
        assert_eq!(valid, expect, "{name}");
    }
}

/// The `tiff` encoder cannot write the floating-point predictor (its decoder reads it), so this
/// writes the strip by hand: per row, the big-endian bytes of the values split into byte planes
/// and differenced, then DEFLATE.
#[test]
fn float32_deflate_with_floating_point_predictor_and_pixel_is_point() {
    let (w, h) = (7usize, 5usize);
    let values: Vec<f32> = (0..w * h)
        .map(|i| if i == 8 { -9999.0 } else { 180.25 + i as f32 * 0.5 })
        .collect();
    let mut predicted = Vec::new();
    for row in values.chunks(w) {
        let be: Vec<[u8; 4]> = row.iter().map(|v| v.to_be_bytes()).collect();
        let mut planes: Vec<u8> = (0..4).flat_map(|k| be.iter().map(move |b| b[k])).collect();
        for i in (1..planes.len()).rev() {
            planes[i] = planes[i].wrapping_sub(planes[i - 1]);
        }
        predicted.extend(planes);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&predicted).unwrap();
    let strip = z.finish().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fp.tif");
    let mut tiff = TiffEncoder::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut d = tiff.image_directory().unwrap();
    let offset = d.write_data(&strip[..]).unwrap();
    d.write_tag(Tag::ImageWidth, w as u32).unwrap();
    d.write_tag(Tag::ImageLength, h as u32).unwrap();
    d.write_tag(Tag::BitsPerSample, 32u16).unwrap();
    d.write_tag(Tag::Compression, 8u16).unwrap();
    d.write_tag(Tag::PhotometricInterpretation, 1u16).unwrap();
    d.write_tag(Tag::StripOffsets, offset as u32).unwrap();
    d.write_tag(Tag::SamplesPerPixel, 1u16).unwrap();
    d.write_tag(Tag::RowsPerStrip, h as u32).unwrap();
    d.write_tag(Tag::StripByteCounts, strip.len() as u32).unwrap();
    d.write_tag(Tag::Predictor, 3u16).unwrap();
    d.write_tag(Tag::SampleFormat, 3u16).unwrap();
    d.write_tag(Tag::ModelPixelScaleTag, &[CELL, CELL, 0.0][..])
        .unwrap();
    d.write_tag(
        Tag::ModelTiepointTag,
        &[0.0, 0.0, 0.0, ORIGIN.0, ORIGIN.1, 0.0][..],
    )
    .unwrap();
    d.write_tag(Tag::GeoKeyDirectoryTag, &geokeys(32650, true)[..])
        .unwrap();
    d.write_tag(Tag::GdalNodata, "-9999").unwrap();
    d.finish().unwrap();

    let r = read_geotiff(&path).unwrap().raster;
    assert_eq!(
        (r.origin_x, r.origin_y),
        (ORIGIN.0 - CELL / 2.0, ORIGIN.1 + CELL / 2.0)
    );
    for (i, (&got, &want)) in r.data.iter().zip(&values).enumerate() {
        if i == 8 {
            assert!(got.is_nan());
        } else {
            assert_eq!(got, want, "cell {i}");
        }
    }
}

fn file_error(path: &Path) -> String {
    let err = read_geotiff(path).unwrap_err();
    assert!(matches!(err, ImportError::File { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "error names the file: {msg}"
    );
    msg
}

#[test]
fn all_nodata_dem_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.tif");
    write_dem::<colortype::GrayI16>(&path, 4, 4, &[-9999; 16], &Spec::default());
    let msg = file_error(&path);
    assert!(
        msg.contains("contains no valid elevation (all cells are nodata)"),
        "{msg}"
    );
}

#[test]
fn truncated_and_garbage_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("bubenec_dtm_1m_utm33n.tif")).unwrap();
    let half = dir.path().join("half.tif");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let msg = file_error(&half);
    assert!(msg.contains("truncated or corrupt"), "{msg}");

    let garbage = dir.path().join("garbage.tif");
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &noise).unwrap();
    assert!(file_error(&garbage).contains("not a readable TIFF"));

    // A valid TIFF header with nonsense after it, and every prefix of a small real file.
    let small = std::fs::read(fixture("osmnx_elevation1.tif")).unwrap();
    for cut in (0..small.len()).step_by(37) {
        let p = dir.path().join("cut.tif");
        std::fs::write(&p, &small[..cut]).unwrap();
        assert!(read_geotiff(&p).is_err(), "prefix of {cut} bytes");
    }
    let mut flipped = small.clone();
    for i in (8..flipped.len()).step_by(11) {
        flipped[i] ^= 0x5a;
    }
    let p = dir.path().join("flipped.tif");
    std::fs::write(&p, &flipped).unwrap();
    let _ = read_geotiff(&p); // any Result, but no panic

    let missing = dir.path().join("missing.tif");
    assert!(matches!(read_geotiff(&missing), Err(ImportError::Io { .. })));
}

#[test]
fn file_without_georeferencing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.tif");
    let mut tiff = TiffEncoder::new(std::fs::File::create(&path).unwrap()).unwrap();
    tiff.write_image::<colortype::GrayI16>(2, 2, &[1, 2, 3, 4])
        .unwrap();
    assert!(file_error(&path).contains("no georeferencing"));
}

#[test]
fn user_defined_crs_without_parameters_is_a_warning_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nocrs.tif");
    let spec = Spec {
        epsg: 32767,
        ..Spec::default()
    };
    write_dem::<colortype::GrayI16>(&path, 3, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9], &spec);
    let dem = read_geotiff(&path).unwrap();
    assert_eq!(dem.crs, None);
    assert_eq!(dem.warnings.len(), 1);
    assert!(
        dem.warnings[0].message.contains("no usable CRS"),
        "{}",
        dem.warnings[0]
    );
    assert_eq!(dem.raster.valid_count(), 9);
}
