//! GeoTIFF reader: the first band of the first image as a [`Raster`].

use super::Dem;
use crate::error::{ImportError, Result, Warning};
use cim_engine::crs::GeoKeys;
use cim_engine::{Crs, Raster};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;

/// Largest decoded image accepted, in bytes (a 32k × 32k Float32 DEM).
const MAX_IMAGE_BYTES: usize = 4 << 30;

/// Reads a GeoTIFF DEM: band 1, with its georeferencing, nodata and CRS.
///
/// Errors name the file: not a TIFF, truncated or corrupt image data, no georeferencing, a
/// rotated grid, or no valid cell at all ("contains no valid elevation (all cells are nodata)").
/// A missing or non-EPSG CRS is not an error: `crs` is `None` and a warning says why.
pub fn read_geotiff(path: &Path) -> Result<Dem> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| ImportError::io(path, e))?.len();
    // The decoder is third-party code fed untrusted bytes: should it panic on some malformed
    // input, report that as a bad file rather than taking the whole import down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_tiff(path, BufReader::new(file), file_len)
    }))
    .unwrap_or_else(|_| Err(ImportError::file(path, "malformed TIFF (the decoder failed)")))
}

/// Most bytes of image data one byte of file can decode to: DEFLATE's limit is about 1032:1,
/// LZW's and PackBits' are lower. A header declaring more is corrupt, and is rejected before the
/// decoder allocates for it.
const MAX_COMPRESSION_RATIO: u64 = 1100;

fn read_tiff<R: Read + Seek>(path: &Path, reader: R, file_len: u64) -> Result<Dem> {
    let bad = |what: &str, e: tiff::TiffError| ImportError::file(path, format!("{what} ({e})"));
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_IMAGE_BYTES;
    let mut dec = Decoder::new(reader)
        .map_err(|e| bad("not a readable TIFF file", e))?
        .with_limits(limits);
    let (width, height) = dec.dimensions().map_err(|e| bad("bad image header", e))?;
    let (width, height) = (width as usize, height as usize);
    let mut warnings = Vec::new();
    let mut warn = |message: String| {
        warnings.push(Warning {
            path: path.to_path_buf(),
            record: None,
            message,
        })
    };

    let tags = read_geo_tags(&mut dec).map_err(|e| bad("unreadable GeoTIFF tags", e))?;
    let geokeys = match &tags.geokey_directory {
        Some(dir) => Some(
            GeoKeys::from_tiff_tags(dir, &tags.geo_doubles, &tags.geo_ascii)
                .map_err(|reason| ImportError::file(path, reason))?,
        ),
        None => None,
    };
    // GTRasterTypeGeoKey 2 = RasterPixelIsPoint: the tiepoint names a pixel centre.
    let pixel_is_point = geokeys.as_ref().is_some_and(|k| k.raster_type == Some(2));
    let grid = Grid::from_tags(&tags, pixel_is_point).map_err(|reason| ImportError::file(path, reason))?;

    let samples_per_pixel = dec
        .find_tag_unsigned::<usize>(Tag::SamplesPerPixel)
        .map_err(|e| bad("bad SamplesPerPixel", e))?
        .unwrap_or(1)
        .max(1);
    let planar = dec
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(|e| bad("bad PlanarConfiguration", e))?
        .unwrap_or(1);
    if samples_per_pixel > 1 {
        warn(format!("{samples_per_pixel} bands; band 1 read as elevation"));
    }
    // Chunky (interleaved) data holds band 1 at every n-th sample; planar data is read one
    // plane at a time, so the decoded buffer is band 1 alone.
    let stride = if planar == 2 { 1 } else { samples_per_pixel };
    let bits = dec
        .find_tag_unsigned_vec::<u64>(Tag::BitsPerSample)
        .map_err(|e| bad("bad BitsPerSample", e))?
        .and_then(|b| b.first().copied())
        .unwrap_or(1);
    let declared_bytes = (width as u64)
        .saturating_mul(height as u64)
        .saturating_mul(stride as u64)
        .saturating_mul(bits.div_ceil(8));
    if declared_bytes > file_len.saturating_mul(MAX_COMPRESSION_RATIO) {
        return Err(ImportError::file(
            path,
            format!("declares {width} × {height} cells but holds only {file_len} bytes; the file is truncated or corrupt"),
        ));
    }

    check_supported(&mut dec).map_err(|reason| ImportError::file(path, reason))?;
    let nodata = match &tags.nodata {
        Some(text) => Some(
            text.trim()
                .parse::<f64>()
                .map_err(|_| ImportError::file(path, format!("GDAL_NODATA '{text}' is not a number")))?,
        ),
        None => None,
    };
    let image = dec.read_image().map_err(|e| {
        bad(
            "cannot decode the image data; the file may be truncated or corrupt",
            e,
        )
    })?;
    let data = band_to_f32(image, width * height, stride, nodata)
        .map_err(|reason| ImportError::file(path, reason))?;

    let mut raster = Raster {
        width,
        height,
        origin_x: grid.origin_x,
        origin_y: grid.origin_y,
        cell_w: grid.cell_w,
        cell_h: grid.cell_h,
        data,
    };
    if grid.south_up {
        flip_rows(&mut raster);
    }
    if raster.valid_count() == 0 {
        return Err(ImportError::file(
            path,
            "contains no valid elevation (all cells are nodata)",
        ));
    }

    let crs = match &geokeys {
        Some(keys) => match Crs::from_geokeys(keys) {
            Ok(crs) => Some(crs),
            Err(e) => {
                warn(format!("no usable CRS in the GeoKeys ({e})"));
                None
            }
        },
        None => {
            warn("no CRS: the file has no GeoKeyDirectory".into());
            None
        }
    };
    Ok(Dem {
        raster,
        crs,
        nodata,
        warnings,
    })
}

/// The GeoTIFF tags of the first image, raw.
#[derive(Default)]
struct GeoTags {
    pixel_scale: Option<Vec<f64>>,
    tiepoints: Option<Vec<f64>>,
    transformation: Option<Vec<f64>>,
    geokey_directory: Option<Vec<u16>>,
    geo_doubles: Vec<f64>,
    geo_ascii: String,
    nodata: Option<String>,
}

/// Refuses, by name, what the reader cannot decode (rather than calling the file corrupt when
/// decoding fails): compressions other than none, LZW, Deflate, PackBits and JPEG; complex or
/// untyped samples.
fn check_supported<R: Read + Seek>(dec: &mut Decoder<R>) -> std::result::Result<(), String> {
    let compression = dec
        .find_tag_unsigned::<u16>(Tag::Compression)
        .ok()
        .flatten()
        .unwrap_or(1);
    let name = match compression {
        1 | 5 | 8 | 32946 | 32773 | 7 => None,
        50000 => Some("ZSTD"),
        34887 => Some("LERC"),
        34925 => Some("LZMA"),
        50001 => Some("WebP"),
        50002 => Some("JPEG XL"),
        2..=4 => Some("CCITT fax"),
        6 => Some("old-style JPEG"),
        _ => Some("an unknown method"),
    };
    if let Some(name) = name {
        return Err(format!(
            "compressed with {name} (TIFF compression {compression}), which cim cannot read: \
             re-save it with `gdal_translate -co COMPRESS=DEFLATE in.tif out.tif`"
        ));
    }
    let formats = dec
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .ok()
        .flatten()
        .unwrap_or_default();
    match formats.first().copied().unwrap_or(1) {
        1..=3 => Ok(()),
        f @ (5 | 6) => Err(format!(
            "holds complex-valued samples (SampleFormat {f}); an elevation model needs real numbers: \
             convert it with `gdal_translate -ot Float32` (or take the band you mean)"
        )),
        f => Err(format!("has samples of an unknown type (SampleFormat {f})")),
    }
}

fn read_geo_tags<R: Read + Seek>(dec: &mut Decoder<R>) -> tiff::TiffResult<GeoTags> {
    let f64s = |v: Option<tiff::decoder::ifd::Value>| v.map(|v| v.into_f64_vec()).transpose();
    let ascii = |v: Option<tiff::decoder::ifd::Value>| {
        v.map(|v| v.into_string().map(|s| s.trim_end_matches('\0').to_string()))
            .transpose()
    };
    Ok(GeoTags {
        pixel_scale: f64s(dec.find_tag(Tag::ModelPixelScaleTag)?)?,
        tiepoints: f64s(dec.find_tag(Tag::ModelTiepointTag)?)?,
        transformation: f64s(dec.find_tag(Tag::ModelTransformationTag)?)?,
        geokey_directory: dec
            .find_tag(Tag::GeoKeyDirectoryTag)?
            .map(|v| v.into_u16_vec())
            .transpose()?,
        geo_doubles: f64s(dec.find_tag(Tag::GeoDoubleParamsTag)?)?.unwrap_or_default(),
        geo_ascii: ascii(dec.find_tag(Tag::GeoAsciiParamsTag)?)?.unwrap_or_default(),
        nodata: ascii(dec.find_tag(Tag::GdalNodata)?)?,
    })
}

/// Where the grid lies: the outer corner of pixel (0, 0) and the cell size, north-up after
/// `flip_rows` when the file stores rows south to north.
#[derive(Debug, PartialEq)]
struct Grid {
    origin_x: f64,
    origin_y: f64,
    cell_w: f64,
    cell_h: f64,
    south_up: bool,
}

impl Grid {
    fn from_tags(tags: &GeoTags, pixel_is_point: bool) -> std::result::Result<Grid, String> {
        // (x of pixel (0,0)'s reference point, its y, x step per column, y step per row)
        let (x0, y0, col_step, row_step) = if let Some(m) = &tags.transformation {
            if m.len() < 8 {
                return Err("ModelTransformation has fewer than 8 values".into());
            }
            if m[1] != 0.0 || m[4] != 0.0 {
                return Err("rotated or sheared grids (ModelTransformation) are not supported".into());
            }
            (m[3], m[7], m[0], m[5])
        } else if let (Some(tp), Some(scale)) = (&tags.tiepoints, &tags.pixel_scale) {
            if tp.len() < 6 || scale.len() < 2 {
                return Err("ModelTiepoint or ModelPixelScale is too short".into());
            }
            if tp.len() > 6 {
                return Err("several tiepoints (ground control points) are not supported".into());
            }
            (
                tp[3] - tp[0] * scale[0],
                tp[4] + tp[1] * scale[1],
                scale[0],
                -scale[1],
            )
        } else {
            return Err(
                "no georeferencing (neither ModelTiepoint + ModelPixelScale nor ModelTransformation)".into(),
            );
        };
        if !(col_step.is_finite() && col_step > 0.0 && row_step.is_finite() && row_step != 0.0) {
            return Err(format!("bad cell size {col_step} × {}", -row_step));
        }
        if !(x0.is_finite() && y0.is_finite()) {
            return Err("georeferencing is not finite".into());
        }
        // PixelIsPoint: the reference point is the centre of pixel (0, 0); move to its corner.
        let (x0, y0) = if pixel_is_point {
            (x0 - 0.5 * col_step, y0 - 0.5 * row_step)
        } else {
            (x0, y0)
        };
        Ok(Grid {
            origin_x: x0,
            origin_y: y0,
            cell_w: col_step,
            cell_h: row_step.abs(),
            south_up: row_step > 0.0,
        })
    }
}

/// Turns a south-up grid (rows running north from `origin_y`) into a north-up one.
fn flip_rows(r: &mut Raster) {
    let w = r.width;
    let rows: Vec<f32> = r.data.chunks(w.max(1)).rev().flatten().copied().collect();
    r.data = rows;
    r.origin_y += r.height as f64 * r.cell_h;
}

/// Band 1 of the decoded image as `f32`, `NaN` where the value equals `nodata` (compared in the
/// file's own sample type) or is `NaN`.
fn band_to_f32(
    image: DecodingResult,
    num_cells: usize,
    stride: usize,
    nodata: Option<f64>,
) -> std::result::Result<Vec<f32>, String> {
    fn convert<T: Copy>(
        v: &[T],
        num_cells: usize,
        stride: usize,
        nodata: Option<f64>,
        to_f64: impl Fn(T) -> f64,
    ) -> std::result::Result<Vec<f32>, String> {
        let needed = (num_cells.saturating_sub(1))
            .saturating_mul(stride)
            .saturating_add(1);
        if num_cells > 0 && v.len() < needed {
            return Err(format!(
                "image data holds {} samples, {num_cells} cells need {needed}",
                v.len()
            ));
        }
        Ok(v.iter()
            .step_by(stride)
            .take(num_cells)
            .map(|&x| {
                let d = to_f64(x);
                if d.is_nan() || Some(d) == nodata {
                    f32::NAN
                } else {
                    d as f32
                }
            })
            .collect())
    }
    let (n, s, nd) = (num_cells, stride, nodata);
    match image {
        DecodingResult::U8(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::I8(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::U16(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::I16(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::U32(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::I32(v) => convert(&v, n, s, nd, f64::from),
        DecodingResult::U64(v) => convert(&v, n, s, nd, |x| x as f64),
        DecodingResult::I64(v) => convert(&v, n, s, nd, |x| x as f64),
        // Float nodata is compared after rounding it to the file's precision: GDAL writes the
        // f32 value -3.4028234663852886e+38 as text, which is not exactly an f32 once parsed.
        DecodingResult::F32(v) => convert(&v, n, s, nd.map(|x| f64::from(x as f32)), f64::from),
        DecodingResult::F64(v) => convert(&v, n, s, nd, |x| x),
        DecodingResult::F16(v) => convert(&v, n, s, nd.map(|x| f64::from(x as f32)), |x| {
            f64::from(x.to_f32())
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tags(tp: &[f64], scale: &[f64]) -> GeoTags {
        GeoTags {
            tiepoints: Some(tp.to_vec()),
            pixel_scale: Some(scale.to_vec()),
            ..GeoTags::default()
        }
    }

    #[test]
    fn tiepoint_and_scale_give_the_corner_of_pixel_zero() {
        let g = Grid::from_tags(
            &tags(&[0.0, 0.0, 0.0, 100.0, 200.0, 0.0], &[2.0, 3.0, 0.0]),
            false,
        )
        .unwrap();
        assert_eq!(
            (g.origin_x, g.origin_y, g.cell_w, g.cell_h),
            (100.0, 200.0, 2.0, 3.0)
        );
        // A tiepoint at pixel (10, 5), and PixelIsPoint moving the origin by half a cell.
        let g = Grid::from_tags(
            &tags(&[10.0, 5.0, 0.0, 100.0, 200.0, 0.0], &[2.0, 3.0, 0.0]),
            true,
        )
        .unwrap();
        assert_eq!((g.origin_x, g.origin_y), (100.0 - 20.0 - 1.0, 200.0 + 15.0 + 1.5));
        assert!(!g.south_up);
    }

    #[test]
    fn transformation_matrix_and_rotation() {
        let mut m = vec![0.0; 16];
        (m[0], m[3], m[5], m[7]) = (5.0, 1000.0, -5.0, 2000.0);
        let t = GeoTags {
            transformation: Some(m.clone()),
            ..GeoTags::default()
        };
        let g = Grid::from_tags(&t, false).unwrap();
        assert_eq!(
            (g.origin_x, g.origin_y, g.cell_w, g.cell_h),
            (1000.0, 2000.0, 5.0, 5.0)
        );
        m[1] = 0.1;
        let t = GeoTags {
            transformation: Some(m),
            ..GeoTags::default()
        };
        assert!(Grid::from_tags(&t, false).unwrap_err().contains("rotated"));
        assert!(Grid::from_tags(&GeoTags::default(), false)
            .unwrap_err()
            .contains("no georeferencing"));
    }

    #[test]
    fn south_up_rows_are_flipped() {
        let g = Grid::from_tags(&tags(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[1.0, -1.0, 0.0]), false).unwrap();
        assert!(g.south_up);
        let mut r = Raster {
            width: 2,
            height: 2,
            origin_x: g.origin_x,
            origin_y: g.origin_y,
            cell_w: 1.0,
            cell_h: 1.0,
            data: vec![1.0, 2.0, 3.0, 4.0],
        };
        flip_rows(&mut r);
        assert_eq!(r.data, vec![3.0, 4.0, 1.0, 2.0]);
        assert_eq!(r.origin_y, 2.0);
    }

    #[test]
    fn nodata_is_compared_in_the_sample_type() {
        let v = band_to_f32(
            DecodingResult::F32(vec![f32::MIN, 1.5, f32::NAN]),
            3,
            1,
            Some(-3.4028234663852886e38),
        )
        .unwrap();
        assert!(v[0].is_nan() && v[2].is_nan());
        assert_eq!(v[1], 1.5);
        let v = band_to_f32(DecodingResult::I16(vec![-32768, 7, 0, 9]), 2, 2, Some(-32768.0)).unwrap();
        assert!(v[0].is_nan());
        assert_eq!(v[1], 0.0);
        assert!(band_to_f32(DecodingResult::U8(vec![1]), 4, 1, None).is_err());
    }
}
