//! ESRI Shapefile: `.shp` geometry + `.dbf` attributes (+ `.prj` CRS, `.cpg` code page).
//!
//! Records are read in lockstep from the `.shp` and the `.dbf`, one at a time. Keys are
//! `rec:{n}` with `n` the 1-based record number, which is stable as long as the file is.
//! Rows marked deleted in the `.dbf` are skipped (their numbers are not reused).

use super::crs::crs_from_wkt;
use super::dbf::{DbfReader, DbfRow};
use super::prefetch::prefetch;
use super::shp::{self, ShpRecord};
use super::{check_coords, layer_name, warning};
use crate::error::{ImportError, Result};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::Attributes;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Reads a shapefile given the path of its `.shp`.
pub fn read_shapefile(path: &Path) -> Result<VectorSource> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let actual_len = file.metadata().map_err(|e| ImportError::io(path, e))?.len();
    let mut shp = BufReader::with_capacity(1 << 16, file);
    let header = shp::read_header(&mut shp, actual_len).map_err(|r| ImportError::file(path, r))?;
    // Trust the header's length where the file holds it; a shorter file is truncated and
    // shows up as a record error on the record it cuts.
    let data_end = if (shp::HEADER_LEN..=actual_len).contains(&header.file_len) {
        header.file_len
    } else {
        actual_len
    };
    let mut warnings = Vec::new();

    let crs = match sibling(path, "prj") {
        None => {
            warnings.push(warning(
                path,
                None,
                "no .prj file: the CRS is unknown (pass --src-crs)",
            ));
            None
        }
        Some(prj) => match std::fs::read(&prj) {
            Ok(bytes) => match crs_from_wkt(&String::from_utf8_lossy(&bytes)) {
                Ok(crs) => Some(crs),
                Err(reason) => {
                    warnings.push(warning(
                        &prj,
                        None,
                        format!("cannot use the CRS in the .prj ({reason}); pass --src-crs"),
                    ));
                    None
                }
            },
            Err(e) => {
                warnings.push(warning(&prj, None, format!("cannot read the .prj: {e}")));
                None
            }
        },
    };

    let dbf = match sibling(path, "dbf") {
        Some(dbf_path) => {
            let cpg = sibling(path, "cpg");
            Some(DbfReader::open(&dbf_path, cpg.as_deref(), &mut warnings)?)
        }
        None => {
            warnings.push(warning(
                path,
                None,
                "no .dbf file: the features have no attributes",
            ));
            None
        }
    };
    let fields = dbf.as_ref().map(DbfReader::field_defs).unwrap_or_default();
    if header.shape_type == 31 {
        warnings.push(warning(
            path,
            None,
            "MultiPatch shapes are not supported; every record will fail",
        ));
    }

    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name: layer_name(path),
        crs,
        fields,
        features: prefetch(
            path,
            ShapefileFeatures {
                path: path.to_path_buf(),
                shp,
                remaining: data_end - shp::HEADER_LEN,
                dbf,
                record: 0,
                done: false,
            },
        ),
        warnings,
    })
}

/// A sidecar file next to `path` with extension `ext`, in lower or upper case.
fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_string(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.is_file())
}

struct ShapefileFeatures {
    path: PathBuf,
    shp: BufReader<File>,
    /// Bytes of records left in the `.shp`.
    remaining: u64,
    dbf: Option<DbfReader>,
    /// The 1-based number of the last record read.
    record: u64,
    done: bool,
}

impl ShapefileFeatures {
    fn fail(&mut self, path: PathBuf, reason: String) -> Option<Result<SourceFeature>> {
        self.done = true;
        Some(Err(ImportError::Damaged {
            path,
            record: self.record,
            reason,
        }))
    }
}

impl Iterator for ShapefileFeatures {
    type Item = Result<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.record += 1;
            let n = self.record;
            let (geometry, mut repairs) = match shp::read_record(&mut self.shp, &mut self.remaining) {
                Ok(ShpRecord::Shape(g, repairs)) => (g, repairs),
                Ok(ShpRecord::End) => {
                    self.done = true;
                    let dbf = self.dbf.as_ref()?;
                    if dbf.num_records() >= n {
                        let reason = format!(
                            "the .shp ends after {} records but the .dbf has {}",
                            n - 1,
                            dbf.num_records()
                        );
                        return self.fail(self.path.clone(), reason);
                    }
                    return None;
                }
                Err(reason) => return self.fail(self.path.clone(), reason),
            };
            let attributes = match self.dbf.as_mut().map(DbfReader::read_next) {
                None => Attributes::new(),
                Some(Ok(Some(DbfRow::Row(a, problems)))) => {
                    repairs.extend(problems);
                    a
                }
                Some(Ok(Some(DbfRow::Deleted))) => continue,
                Some(Ok(None)) => {
                    let (p, total) = self.dbf_info();
                    let reason = format!("the .dbf has only {total} records; the .shp has more");
                    return self.fail(p, reason);
                }
                Some(Err(reason)) => {
                    let (p, _) = self.dbf_info();
                    return self.fail(p, reason);
                }
            };
            if let Some(g) = &geometry {
                if let Err(reason) = check_coords(g) {
                    return Some(Err(ImportError::record(&self.path, n, reason)));
                }
            }
            return Some(Ok(SourceFeature {
                record: n,
                key: format!("rec:{n}"),
                geometry,
                attributes,
                kind: None,
                height_hint: None,
                warnings: repairs,
            }));
        }
    }
}

impl ShapefileFeatures {
    fn dbf_info(&self) -> (PathBuf, u64) {
        match &self.dbf {
            Some(d) => (d.path().to_path_buf(), d.num_records()),
            None => (self.path.clone(), 0),
        }
    }
}
