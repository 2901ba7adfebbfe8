//! The import pipeline: source features → project CRS → validation → heights and city codes →
//! one store transaction.
//!
//! Everything one `cim import` reads is written in a single transaction: if any step fails
//! (a bad file, a strict-mode warning, a crash, `kill -9`), the project stays exactly as it was.

use crate::error::{ImportError, Result, Warning};
use crate::placement::{Misplaced, PlaceCheck};
use crate::source::{HeightHint, SourceFeature, VectorSource};
use crate::validate::{check_coordinates, check_shape, Verdict};
use cim_engine::{
    AttrValue, CityCode, Classification, Crs, Date, Feature, FeatureKind, GeometryType, HeightSource,
    LayerSpec, Lod1, Project, Raster, Transform, Validity, Written,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

/// How building heights are found, in this order: `height_attr`, `floors_attr` × `storey_m`,
/// a height the source states (OSM `height` / `building:levels`), `default_height_m`.
#[derive(Clone, Debug)]
pub struct HeightOptions {
    pub height_attr: Option<String>,
    pub floors_attr: Option<String>,
    pub storey_m: f64,
    pub default_height_m: Option<f64>,
}

impl Default for HeightOptions {
    fn default() -> Self {
        HeightOptions {
            height_attr: None,
            floors_attr: None,
            storey_m: 3.0,
            default_height_m: None,
        }
    }
}

/// Options of one import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Target layer name; default: the source layer's name.
    pub layer: Option<String>,
    /// Kind of every feature; default: what the source states, else guessed from the layer name.
    pub kind: Option<FeatureKind>,
    pub classification: Classification,
    /// Overrides (or supplies) the source CRS.
    pub src_crs: Option<Crs>,
    pub heights: HeightOptions,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    /// Read validity from these attributes (a date or `YYYY-MM-DD` text) where present.
    pub valid_from_attr: Option<String>,
    pub valid_to_attr: Option<String>,
    /// Any warning aborts the import (and nothing is written).
    pub strict: bool,
    /// An import that stores no feature succeeds (for scripts); by default it fails with
    /// [`ImportError::NothingStored`] naming the commonest reason.
    pub allow_empty: bool,
    /// Which layer of a multi-layer source (GeoPackage table) to read; default: all of them.
    pub source_layer: Option<String>,
    /// A DEM's cell size in the project CRS, m (default: the source's; 1 m for lidar ground).
    pub cell_size: Option<f64>,
    /// A point cloud's ground (class 2) becomes the project's terrain instead of a tileset.
    pub as_terrain: bool,
    /// Real-scene tilesets (3D Tiles): leave the content where it lies and reference it rather
    /// than pack it into the project.
    pub reference: bool,
    /// 3D Tiles heights are ellipsoidal: the geoid's height above the ellipsoid there, m,
    /// taken off them into the project's heights.
    pub geoid_offset_m: f64,
    /// A point cloud's surface (the highest point a cell, noise left out) becomes a terrain
    /// named `surface` (a DSM) instead of a tileset.
    pub as_surface: bool,
    /// Where a BIM model goes, overriding its georeferencing: easting, northing and height in
    /// the project CRS of the model's origin, and the rotation of its x axis from east (degrees
    /// anticlockwise).
    pub origin: Option<[f64; 4]>,
}

/// What one layer's import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerReport {
    pub layer: String,
    pub kind: Option<FeatureKind>,
    pub read: u64,
    pub inserted: u64,
    pub replaced: u64,
    pub skipped: u64,
    /// Buildings by where their height came from: (source, count), sorted.
    pub height_sources: Vec<(String, u64)>,
    pub without_height: u64,
}

/// What a whole `cim import` did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    pub layers: Vec<LayerReport>,
    pub warnings: Vec<Warning>,
    /// What the user should know that is not a problem (how a BIM model was placed).
    pub notes: Vec<String>,
    /// The road network, rebuilt from the project's road layers when roads were imported.
    pub network: Option<cim_engine::network::NetworkStats>,
}

/// Adds a warning about `path` (and `record`), or with `strict` fails with it instead.
pub(crate) fn warn_or_fail(
    warnings: &mut Vec<Warning>,
    path: &Path,
    strict: bool,
    record: Option<u64>,
    message: String,
) -> Result<()> {
    if strict {
        return Err(match record {
            Some(r) => ImportError::record(path, r, format!("{message} (--strict)")),
            None => ImportError::file(path, format!("{message} (--strict)")),
        });
    }
    warnings.push(Warning {
        path: path.to_path_buf(),
        record,
        message,
    });
    Ok(())
}

/// Guesses a kind from a layer name (English and Chinese), for when neither the user nor the
/// source says.
///
/// # Examples
/// ```
/// use cim_engine::FeatureKind;
/// use cim_importers::pipeline::guess_kind;
/// assert_eq!(guess_kind("buildings"), FeatureKind::Building);
/// assert_eq!(guess_kind("宗地"), FeatureKind::Parcel);
/// assert_eq!(guess_kind("streets"), FeatureKind::Road);
/// assert_eq!(guess_kind("misc"), FeatureKind::Other);
/// ```
pub fn guess_kind(layer: &str) -> FeatureKind {
    let l = layer.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if has(&["build", "bldg", "house", "建筑", "房屋"]) {
        FeatureKind::Building
    } else if has(&["parcel", "plot", "cadast", "lot", "宗地", "地块", "地籍"]) {
        FeatureKind::Parcel
    } else if has(&["road", "street", "highway", "道路", "街"]) {
        FeatureKind::Road
    } else if has(&["water", "river", "lake", "水"]) {
        FeatureKind::Water
    } else if has(&["tree", "veget", "park", "green", "绿"]) {
        FeatureKind::Vegetation
    } else if has(&["dem", "dtm", "terrain", "地形"]) {
        FeatureKind::Terrain
    } else {
        FeatureKind::Other
    }
}

/// Imports vector sources into the project in one transaction. `progress` is called with the
/// number of records read so far (every few thousand records).
pub fn import_vectors(
    project: &mut Project,
    sources: Vec<VectorSource>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    let project_path = project.path().to_path_buf();
    let engine_err = |source| ImportError::engine(project_path.clone(), source);
    let region = project.region_code().to_string();
    let project_crs = project.crs().clone();
    let srs_id = project.srs_id();
    let terrain = first_terrain(project)?;
    let extent = project_extent(project)?;
    let mut report = ImportReport::default();
    // Features outside the project CRS's area of use, and the first one's warning.
    let (mut outside, mut first_outside) = (0u64, None::<String>);
    let mut tx = project.import().map_err(engine_err)?;
    let mut total_read = 0u64;
    let mut first_path: Option<PathBuf> = None;
    for mut source in sources {
        let path = source.path.clone();
        first_path.get_or_insert_with(|| path.clone());
        report.warnings.append(&mut source.warnings);
        let src_crs = match (&opts.src_crs, &source.crs) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => {
                // A CRS the file declares but that could not be used was warned about by the
                // reader: that is the reason, not "declares none".
                let said = report.warnings.iter().rev().find(|w| {
                    w.path == path
                        && (w.message.contains("CRS") || w.message.contains("coordinate reference system"))
                });
                return Err(match said {
                    Some(w) => ImportError::file(path, w.message.clone()),
                    None => ImportError::MissingCrs {
                        path,
                        reason: "the file declares none (no .prj, no srs)".into(),
                    },
                });
            }
        };
        let project_from_source = Transform::new(&project_crs, &src_crs);
        let layer_name = opts.layer.clone().unwrap_or_else(|| source.layer_name.clone());
        let source_label = source_label(&path, &source.layer_name);
        let layer_kind = opts.kind.unwrap_or_else(|| guess_kind(&layer_name));
        let mut spec = LayerSpec {
            name: layer_name.clone(),
            kind: layer_kind,
            classification: opts.classification,
            geometry_type: GeometryType::Geometry,
            fields: source.fields.clone(),
            source: path.display().to_string(),
        };
        let mut layer_ready: Option<GeometryType> = None;
        let mut lr = LayerReport {
            layer: layer_name.clone(),
            kind: Some(layer_kind),
            ..Default::default()
        };
        // Few distinct sources: a short list, turned into sorted names at the end.
        let mut heights: Vec<(HeightSource, u64)> = Vec::new();
        let warn = |warnings: &mut Vec<Warning>, record: Option<u64>, message: String| {
            warn_or_fail(warnings, &path, opts.strict, record, message)
        };
        let prep = Prep {
            place: PlaceCheck::new(&project_crs, &src_crs, extent),
            transform: project_from_source.clone(),
            geographic: src_crs.is_geographic(),
            region: region.clone(),
            layer_name: layer_name.clone(),
            source_label,
            kind: opts.kind,
            layer_kind,
            heights: opts.heights.clone(),
            srs_id,
        };
        let features = source.features;
        std::thread::scope(|scope| -> Result<()> {
            let mut stage = Stage::start(scope, &path, features, prep);
            while let Some(PreparedBatch { items, blobs }) = stage.next_batch()? {
                let mut written = Vec::with_capacity(items.len());
                for prepared in items {
                    let (sf, shape_warning, outcome) = match prepared {
                        Prepared::Record {
                            sf,
                            shape_warning,
                            outcome,
                        } => (sf, shape_warning, outcome),
                        // One unusable record: skip it, keep reading (ogr2ogr -skipfailures, but said).
                        Prepared::Unreadable(ImportError::Record { record, reason, .. }) => {
                            lr.read += 1;
                            total_read += 1;
                            warn(&mut report.warnings, Some(record), format!("{reason}; skipped"))?;
                            lr.skipped += 1;
                            continue;
                        }
                        Prepared::Unreadable(e) => return Err(e),
                    };
                    lr.read += 1;
                    total_read += 1;
                    if total_read.is_multiple_of(4096) {
                        progress(total_read);
                    }
                    let record = sf.record;
                    for message in &sf.warnings {
                        warn(&mut report.warnings, Some(record), message.clone())?;
                    }
                    if let Some(m) = shape_warning {
                        warn(&mut report.warnings, Some(record), m)?;
                    }
                    let Ready {
                        geometry,
                        kind,
                        code,
                        source_key,
                        height,
                        gtype,
                        blob,
                        envelope,
                        misplaced,
                    } = match outcome {
                        Ok(ready) => ready,
                        Err(skipped) => {
                            warn(&mut report.warnings, Some(record), skipped)?;
                            lr.skipped += 1;
                            continue;
                        }
                    };
                    match misplaced {
                        Some(Misplaced::OutsideArea(m)) => {
                            outside += 1;
                            first_outside.get_or_insert_with(|| format!("record {record}: {m}"));
                            warn(&mut report.warnings, Some(record), m)?;
                        }
                        Some(Misplaced::FarFromProject(m)) => warn(&mut report.warnings, Some(record), m)?,
                        None => {}
                    }
                    match layer_ready {
                        Some(t) if t == gtype || t == GeometryType::Geometry => {}
                        Some(_) => {
                            spec.geometry_type = GeometryType::Geometry;
                            tx.ensure_layer(&spec).map_err(engine_err)?;
                            layer_ready = Some(GeometryType::Geometry);
                        }
                        None => {
                            spec.geometry_type = gtype;
                            tx.ensure_layer(&spec).map_err(engine_err)?;
                            layer_ready = Some(gtype);
                        }
                    }
                    let lod1 = if kind == FeatureKind::Building {
                        match height {
                            Some((height_m, height_source)) => {
                                match heights.iter_mut().find(|(s, _)| *s == height_source) {
                                    Some((_, n)) => *n += 1,
                                    None => heights.push((height_source.clone(), 1)),
                                }
                                let base_m = terrain
                                    .as_ref()
                                    .and_then(|t| ground_under(t, &geometry))
                                    .unwrap_or(0.0);
                                Some(Lod1 {
                                    base_m,
                                    height_m,
                                    height_source,
                                })
                            }
                            None => {
                                lr.without_height += 1;
                                None
                            }
                        }
                    } else {
                        None
                    };
                    let validity = validity_of(&sf, opts, &mut report.warnings, &path)?;
                    let feature = Feature {
                        code,
                        kind,
                        geometry,
                        lod1,
                        attributes: sf.attributes,
                        validity,
                        classification: opts.classification,
                        source_key,
                    };
                    match tx
                        .write_encoded(&layer_name, &feature, &blobs[blob], envelope)
                        .map_err(engine_err)?
                    {
                        Written::Inserted => lr.inserted += 1,
                        Written::Replaced => lr.replaced += 1,
                    }
                    written.push(feature);
                }
                stage.discard(written, blobs);
            }
            stage.finish()
        })?;
        if layer_ready.is_none() && lr.read == 0 {
            warn(&mut report.warnings, None, "the source has no features".into())?;
        }
        if lr.replaced > 0 {
            report.warnings.push(Warning {
                path: path.clone(),
                record: None,
                message: format!(
                    "{} feature(s) were already in layer '{layer_name}' (same source objects): updated in place, city codes kept",
                    lr.replaced
                ),
            });
        }
        if lr.without_height > 0 {
            report.warnings.push(Warning {
                path: path.clone(),
                record: None,
                message: format!(
                    "{} building(s) have no height (give --height-attr, --floors-attr or --default-height): stored without an LOD1 solid",
                    lr.without_height
                ),
            });
        }
        let mut by_name: std::collections::BTreeMap<String, u64> = Default::default();
        for (source, n) in heights {
            *by_name.entry(source.to_string()).or_default() += n;
        }
        lr.height_sources = by_name.into_iter().collect();
        report.layers.push(lr);
    }
    progress(total_read);
    let stored: u64 = report.layers.iter().map(|l| l.inserted + l.replaced).sum();
    if stored == 0 && !opts.allow_empty {
        if let Some(path) = first_path.clone() {
            // Nothing was written; dropping the transaction leaves the project as it was.
            return Err(nothing_stored(path, report));
        }
    }
    if stored > 0 && outside == stored {
        if let (Some(path), Some(first)) = (first_path, first_outside) {
            return Err(ImportError::file(
                path,
                format!(
                    "nothing stored: all {stored} feature(s) lie outside where the project CRS is used \
                     (--allow-empty does not change this); the first, {first}"
                ),
            ));
        }
    }
    tx.commit().map_err(engine_err)?;
    // Roads changed: the network traffic drives on follows, with what it assumed.
    if report
        .layers
        .iter()
        .any(|l| l.kind == Some(FeatureKind::Road) && l.inserted + l.replaced > 0)
    {
        let opts = cim_engine::network::NetworkOptions::default();
        let net = project.build_network(&opts).map_err(engine_err)?;
        let layers: Vec<String> = project
            .layers()
            .map_err(engine_err)?
            .into_iter()
            .filter(|l| l.kind == FeatureKind::Road)
            .map(|l| l.name)
            .collect();
        project.save_network(&net, &layers).map_err(engine_err)?;
        report.notes.extend(net.notes.iter().take(20).cloned());
        if net.notes.len() > 20 {
            report
                .notes
                .push(format!("… and {} more network notes", net.notes.len() - 20));
        }
        report.network = Some(net.stats);
    }
    Ok(report)
}

/// The box around every layer's features, in the project CRS (`None` for an empty project).
fn project_extent(project: &Project) -> Result<Option<[f64; 4]>> {
    let layers = project
        .layers()
        .map_err(|e| ImportError::engine(project.path(), e))?;
    Ok(layers
        .iter()
        .filter_map(|l| l.extent)
        .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]))
}

/// The error for an import that stored nothing: the commonest warning says why.
pub(crate) fn nothing_stored(path: PathBuf, report: ImportReport) -> ImportError {
    let read: u64 = report.layers.iter().map(|l| l.read).sum();
    let reason = match crate::error::group_warnings(&report.warnings).first() {
        Some(g) if read > 0 => format!(
            "{read} record(s) read, none usable; the commonest problem: {}",
            g.describe()
        ),
        Some(g) => format!("no records; {}", g.describe()),
        None => "the source has no features".to_string(),
    };
    ImportError::NothingStored {
        path,
        reason: format!("{reason} (pass --allow-empty to accept an empty import)"),
        report: Box::new(report),
    }
}

/// Names a source for its keys: the file name, plus the layer where a file holds several
/// (`city.gpkg:plots`). Directories are left out so that importing the same file from another
/// folder gives the same codes.
fn source_label(path: &Path, layer: &str) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if layer.is_empty() || layer == stem {
        file
    } else {
        format!("{file}:{layer}")
    }
}

/// The key a city code is derived from. Record numbers and fids only mean something within
/// their file, so they are qualified by the source (two parcel files imported into one layer
/// must not overwrite each other); OSM ids are global and stay as they are, so an updated
/// extract keeps every object's code.
fn qualified_key(source_label: &str, key: &str) -> String {
    if key.starts_with("osm:") {
        key.to_string()
    } else {
        format!("{source_label}#{key}")
    }
}

/// Records per batch handed to the preparing thread.
const PREP_BATCH: usize = 1024;
/// Batches in flight between the main thread and the preparing thread.
const PREP_DEPTH: usize = 4;

/// What the preparing thread needs to know about a source. The per-record work that does not
/// touch the project (checks, CRS transform, kind, city code, geometry encoding) runs there,
/// overlapping with the store writes on the main thread; the results come back in source
/// order, so the output does not depend on thread timing.
struct Prep {
    place: PlaceCheck,
    transform: Transform,
    geographic: bool,
    region: String,
    layer_name: String,
    source_label: String,
    kind: Option<FeatureKind>,
    layer_kind: FeatureKind,
    heights: HeightOptions,
    srs_id: i32,
}

/// A record after the preparing thread. Nearly every item is a `Record`, stored inline in its
/// batch: boxing it would cost an allocation per feature to save space on rare errors.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    /// The reader could not read it (an `Err` item of the source).
    Unreadable(ImportError),
    Record {
        /// The record, its geometry moved into `outcome`.
        sf: SourceFeature,
        /// An OGC validity problem: warned, and the feature is kept.
        shape_warning: Option<String>,
        /// Ready to write, or the warning saying why it is skipped.
        outcome: std::result::Result<Ready, String>,
    },
}

/// A feature ready to write: its geometry in the project CRS, and encoded.
struct Ready {
    geometry: geo::Geometry<f64>,
    kind: FeatureKind,
    code: CityCode,
    /// The source key qualified by the source (see [`qualified_key`]).
    source_key: String,
    /// A building's height and where it came from ([`building_height`]).
    height: Option<(f64, HeightSource)>,
    gtype: GeometryType,
    /// The GeoPackage blob's range in its batch's `blobs`.
    blob: std::ops::Range<usize>,
    envelope: Option<[f64; 4]>,
    /// Not where the project is (see [`PlaceCheck`]).
    misplaced: Option<Misplaced>,
}

struct PreparedBatch {
    items: Vec<Prepared>,
    blobs: Vec<u8>,
}

impl Prep {
    fn batch(&self, items: Vec<Result<SourceFeature>>) -> PreparedBatch {
        let mut blobs = Vec::with_capacity(items.len() * 160);
        let mut scratch = Vec::with_capacity(1024);
        let items = items
            .into_iter()
            .map(|item| match item {
                Ok(mut sf) => {
                    let mut shape_warning = None;
                    let outcome = match sf.geometry.take() {
                        None => Err("no geometry; skipped".to_string()),
                        Some(g) => self.ready(&mut sf, g, &mut shape_warning, &mut scratch, &mut blobs),
                    };
                    Prepared::Record {
                        sf,
                        shape_warning,
                        outcome,
                    }
                }
                Err(e) => Prepared::Unreadable(e),
            })
            .collect();
        PreparedBatch { items, blobs }
    }

    fn ready(
        &self,
        sf: &mut SourceFeature,
        mut geometry: geo::Geometry<f64>,
        shape_warning: &mut Option<String>,
        scratch: &mut Vec<u8>,
        blobs: &mut Vec<u8>,
    ) -> std::result::Result<Ready, String> {
        if let Verdict::Reject(m) = check_coordinates(&geometry, self.geographic) {
            return Err(format!("{m}; skipped"));
        }
        match check_shape(&geometry) {
            Verdict::Ok => {}
            Verdict::Warn(m) => *shape_warning = Some(m),
            Verdict::Reject(m) => return Err(format!("{m}; skipped")),
        }
        let first = geo::CoordsIter::coords_iter(&geometry).next();
        if let Err(e) = self.transform.apply_geometry(&mut geometry) {
            return Err(format!("{e}; skipped"));
        }
        let kind = self.kind.or(sf.kind).unwrap_or(self.layer_kind);
        let envelope = cim_engine::gpkg::encode_geometry_into(&geometry, self.srs_id, scratch);
        let start = blobs.len();
        blobs.extend_from_slice(scratch);
        let source_key = qualified_key(&self.source_label, &std::mem::take(&mut sf.key));
        let height = if kind == FeatureKind::Building {
            building_height(sf, &self.heights)
        } else {
            None
        };
        let misplaced = first.and_then(|c| self.place.check(c, envelope));
        Ok(Ready {
            misplaced,
            code: CityCode::derive(&self.region, kind, &self.layer_name, &source_key),
            source_key,
            height,
            gtype: GeometryType::of(&geometry),
            geometry,
            kind,
            blob: start..blobs.len(),
            envelope,
        })
    }
}

type RawBatch = Vec<Result<SourceFeature>>;

/// What the main thread sends the preparing thread.
enum ToWorker {
    Prepare(RawBatch),
    /// Written features, to be freed there: that thread allocated most of their memory, and
    /// the main thread is the busier one.
    Discard(Vec<Feature>, Vec<u8>),
}

/// The preparing thread and the batches in flight to and from it. The main thread pulls the
/// source (its iterator need not be `Send`) and hands the records over in batches; they come
/// back prepared, in the same order. Where no thread can be started, batches are prepared
/// inline.
struct Stage<'scope> {
    path: PathBuf,
    source: Box<dyn Iterator<Item = Result<SourceFeature>>>,
    source_done: bool,
    worker: Option<Worker<'scope>>,
    inline: Option<Prep>,
}

struct Worker<'scope> {
    to: Option<SyncSender<ToWorker>>,
    from: Receiver<PreparedBatch>,
    handle: Option<ScopedJoinHandle<'scope, ()>>,
    in_flight: usize,
}

impl<'scope> Stage<'scope> {
    fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        path: &Path,
        source: Box<dyn Iterator<Item = Result<SourceFeature>>>,
        prep: Prep,
    ) -> Stage<'scope> {
        let (to, worker_in) = sync_channel::<ToWorker>(2 * PREP_DEPTH);
        let (worker_out, from) = sync_channel::<PreparedBatch>(PREP_DEPTH);
        // `prep` moves into the thread; if the thread cannot start we get it back via `slot`.
        let slot = Arc::new(Mutex::new(Some(prep)));
        let in_thread = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("cim-import-prep".into())
            .spawn_scoped(scope, move || {
                let Some(prep) = in_thread.lock().ok().and_then(|mut p| p.take()) else {
                    return;
                };
                for message in worker_in {
                    match message {
                        ToWorker::Prepare(batch) => {
                            if worker_out.send(prep.batch(batch)).is_err() {
                                return; // the main thread stopped early
                            }
                        }
                        ToWorker::Discard(features, blobs) => drop((features, blobs)),
                    }
                }
            });
        let (worker, inline) = match spawned {
            Ok(handle) => (
                Some(Worker {
                    to: Some(to),
                    from,
                    handle: Some(handle),
                    in_flight: 0,
                }),
                None,
            ),
            Err(_) => (None, slot.lock().ok().and_then(|mut p| p.take())),
        };
        Stage {
            path: path.to_path_buf(),
            source,
            source_done: false,
            worker,
            inline,
        }
    }

    fn pull(&mut self) -> Option<RawBatch> {
        if self.source_done {
            return None;
        }
        let batch: RawBatch = self.source.by_ref().take(PREP_BATCH).collect();
        if batch.len() < PREP_BATCH {
            self.source_done = true;
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// The next prepared batch, `None` at the end of the source.
    fn next_batch(&mut self) -> Result<Option<PreparedBatch>> {
        if self.worker.is_none() {
            let batch = self.pull();
            return match &self.inline {
                Some(prep) => Ok(batch.map(|b| prep.batch(b))),
                None => Err(self.failed()),
            };
        }
        // Keep the worker fed: up to PREP_DEPTH batches ahead of the one written now.
        while self.worker.as_ref().is_some_and(|w| w.in_flight < PREP_DEPTH) {
            let Some(batch) = self.pull() else { break };
            let sent = self
                .worker
                .as_mut()
                .and_then(|w| {
                    w.to.as_ref()
                        .map(|to| to.send(ToWorker::Prepare(batch)).is_ok())
                        .map(|ok| (w, ok))
                })
                .map(|(w, ok)| {
                    w.in_flight += usize::from(ok);
                    ok
                });
            if sent != Some(true) {
                return Err(self.failed());
            }
        }
        let Some(w) = self.worker.as_mut() else {
            return Err(self.failed());
        };
        if w.in_flight == 0 {
            return Ok(None);
        }
        match w.from.recv() {
            Ok(batch) => {
                w.in_flight -= 1;
                Ok(Some(batch))
            }
            Err(_) => Err(self.failed()),
        }
    }

    /// Hands written features to the worker to free (or frees them here without one).
    fn discard(&mut self, features: Vec<Feature>, blobs: Vec<u8>) {
        if let Some(to) = self.worker.as_ref().and_then(|w| w.to.as_ref()) {
            // If the worker is gone the message comes back in the error and is dropped here;
            // the next `next_batch` reports the failure.
            let _ = to.send(ToWorker::Discard(features, blobs));
        }
    }

    /// Stops the worker (joining it, so that a panic there is reported as an error here).
    fn failed(&mut self) -> ImportError {
        if let Some(mut w) = self.worker.take() {
            w.to = None;
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
        ImportError::file(
            &self.path,
            "the import's preparing thread failed (internal error)",
        )
    }

    /// Ends a source read to its end: the worker must have stopped cleanly.
    fn finish(mut self) -> Result<()> {
        if let Some(mut w) = self.worker.take() {
            w.to = None;
            if let Some(h) = w.handle.take() {
                if h.join().is_err() {
                    return Err(self.failed());
                }
            }
        }
        Ok(())
    }
}

fn first_terrain(project: &Project) -> Result<Option<Raster>> {
    let engine_err = |source| ImportError::engine(project.path(), source);
    let terrains = project.terrains().map_err(engine_err)?;
    match terrains.first() {
        Some(t) => Ok(Some(project.terrain(&t.name).map_err(engine_err)?)),
        None => Ok(None),
    }
}

/// The lowest terrain elevation under a footprint (sampled at its vertices and centroid), where
/// the building stands.
fn ground_under(terrain: &Raster, g: &geo::Geometry<f64>) -> Option<f64> {
    use geo::{Centroid, CoordsIter};
    let mut lowest: Option<f64> = None;
    let centroid = g.centroid().map(|p| p.0);
    for c in g.exterior_coords_iter().chain(centroid) {
        if let Some(z) = terrain.sample(c.x, c.y) {
            lowest = Some(lowest.map_or(z, |l: f64| l.min(z)));
        }
    }
    lowest
}

fn attr_f64(sf: &SourceFeature, name: &str) -> Option<f64> {
    sf.attributes
        .get(name)
        .and_then(AttrValue::as_f64)
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// Plausible building height: above 0 and below the tallest buildings on Earth (with margin).
const MAX_BUILDING_HEIGHT_M: f64 = 1000.0;

fn building_height(sf: &SourceFeature, h: &HeightOptions) -> Option<(f64, HeightSource)> {
    let ok = |v: f64| v > 0.0 && v < MAX_BUILDING_HEIGHT_M;
    if let Some(name) = &h.height_attr {
        if let Some(v) = attr_f64(sf, name).filter(|v| ok(*v)) {
            return Some((v, HeightSource::Attribute { name: name.clone() }));
        }
    }
    if let Some(name) = &h.floors_attr {
        if let Some(f) = attr_f64(sf, name) {
            let v = f * h.storey_m;
            if ok(v) {
                return Some((
                    v,
                    HeightSource::Floors {
                        name: name.clone(),
                        storey_m: h.storey_m,
                    },
                ));
            }
        }
    }
    match &sf.height_hint {
        Some((v, HeightHint::Attribute(name))) if ok(*v) => {
            return Some((*v, HeightSource::Attribute { name: name.clone() }));
        }
        Some((_, HeightHint::Floors { name, floors })) if ok(floors * h.storey_m) => {
            return Some((
                floors * h.storey_m,
                HeightSource::Floors {
                    name: name.clone(),
                    storey_m: h.storey_m,
                },
            ));
        }
        _ => {}
    }
    h.default_height_m
        .filter(|v| ok(*v))
        .map(|v| (v, HeightSource::Default))
}

fn validity_of(
    sf: &SourceFeature,
    opts: &ImportOptions,
    warnings: &mut Vec<Warning>,
    path: &Path,
) -> Result<Validity> {
    let mut v = Validity {
        from: opts.valid_from,
        to: opts.valid_to,
    };
    let mut read = |attr: &Option<String>, slot: &mut Option<Date>| -> Result<()> {
        let Some(name) = attr else { return Ok(()) };
        match sf.attributes.get(name) {
            Some(AttrValue::Date(d)) => *slot = Some(*d),
            Some(AttrValue::Text(t)) if !t.trim().is_empty() => match Date::parse(t) {
                Ok(d) => *slot = Some(d),
                Err(e) => {
                    let message = format!("attribute '{name}': {e}; validity left open");
                    if opts.strict {
                        return Err(ImportError::record(path, sf.record, message));
                    }
                    warnings.push(Warning {
                        path: path.to_path_buf(),
                        record: Some(sf.record),
                        message,
                    });
                }
            },
            _ => {}
        }
        Ok(())
    };
    read(&opts.valid_from_attr, &mut v.from)?;
    read(&opts.valid_to_attr, &mut v.to)?;
    if let (Some(f), Some(t)) = (v.from, v.to) {
        if t <= f {
            return Err(ImportError::record(
                path,
                sf.record,
                format!("valid-to {t} is not after valid-from {f}"),
            ));
        }
    }
    Ok(v)
}

/// What a terrain import did.
#[derive(Clone, Debug, PartialEq)]
pub struct TerrainReport {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub cell_m: f64,
    pub min_m: f32,
    pub max_m: f32,
    pub valid_cells: usize,
    pub reprojected: bool,
}

/// Imports a DEM raster (already read, in `src_crs`) as terrain `name`, reprojected into the
/// project CRS where needed, in one transaction.
pub fn import_terrain(
    project: &mut Project,
    path: &Path,
    raster: Raster,
    src_crs: &Crs,
    name: &str,
    cell_m: Option<f64>,
) -> Result<TerrainReport> {
    let project_path = project.path().to_path_buf();
    let engine_err = |source| ImportError::engine(project_path.clone(), source);
    let project_crs = project.crs().clone();
    let project_from_source = Transform::new(&project_crs, src_crs);
    let reprojected = !project_from_source.is_identity() || cell_m.is_some();
    let grid = if reprojected {
        let source_from_project = Transform::new(src_crs, &project_crs);
        crate::terrain::reproject_dem(&raster, &project_from_source, &source_from_project, cell_m).map_err(
            |e| match e {
                ImportError::File { reason, .. } => ImportError::file(
                    path,
                    format!(
                        "cannot reproject the DEM from {src_crs} into the project CRS {project_crs}: {reason}"
                    ),
                ),
                e => e,
            },
        )?
    } else {
        raster
    };
    let Some((min_m, max_m)) = grid.min_max() else {
        return Err(ImportError::file(
            path,
            "contains no valid elevation (all cells are nodata)",
        ));
    };
    let report = TerrainReport {
        name: name.to_string(),
        width: grid.width,
        height: grid.height,
        cell_m: grid.cell_w,
        min_m,
        max_m,
        valid_cells: grid.valid_count(),
        reprojected,
    };
    let mut tx = project.import().map_err(engine_err)?;
    tx.put_terrain(name, &grid, &path.display().to_string())
        .map_err(engine_err)?;
    tx.commit().map_err(engine_err)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cim_engine::Attributes;

    fn sf(attrs: &[(&str, AttrValue)], hint: Option<(f64, HeightHint)>) -> SourceFeature {
        let mut attributes = Attributes::new();
        for (k, v) in attrs {
            attributes.insert(k.to_string(), v.clone());
        }
        SourceFeature {
            record: 1,
            key: "rec:1".into(),
            geometry: None,
            attributes,
            kind: None,
            height_hint: hint,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn keys_are_qualified_by_source_except_osm() {
        let shp = source_label(Path::new("/data/a/parcels.shp"), "parcels");
        assert_eq!(shp, "parcels.shp");
        assert_eq!(source_label(Path::new("x/city.gpkg"), "plots"), "city.gpkg:plots");
        assert_eq!(qualified_key(&shp, "rec:3"), "parcels.shp#rec:3");
        assert_ne!(qualified_key("a.shp", "rec:3"), qualified_key("b.shp", "rec:3"));
        assert_eq!(qualified_key("berlin.osm.pbf", "osm:way/42"), "osm:way/42");
    }

    #[test]
    fn height_order_is_attr_then_floors_then_source_then_default() {
        let opts = HeightOptions {
            height_attr: Some("h".into()),
            floors_attr: Some("floors".into()),
            storey_m: 3.0,
            default_height_m: Some(9.0),
        };
        let both = sf(
            &[("h", AttrValue::Real(12.5)), ("floors", AttrValue::Int(5))],
            None,
        );
        assert_eq!(
            building_height(&both, &opts),
            Some((12.5, HeightSource::Attribute { name: "h".into() }))
        );
        let floors = sf(&[("floors", AttrValue::Text("4".into()))], None);
        assert_eq!(
            building_height(&floors, &opts),
            Some((
                12.0,
                HeightSource::Floors {
                    name: "floors".into(),
                    storey_m: 3.0
                }
            ))
        );
        let osm = sf(
            &[],
            Some((
                7.0,
                HeightHint::Floors {
                    name: "building:levels".into(),
                    floors: 7.0,
                },
            )),
        );
        assert_eq!(building_height(&osm, &opts).map(|h| h.0), Some(21.0));
        let nothing = sf(&[("h", AttrValue::Real(-3.0))], None);
        assert_eq!(
            building_height(&nothing, &opts),
            Some((9.0, HeightSource::Default))
        );
        let no_default = HeightOptions {
            default_height_m: None,
            ..opts
        };
        assert_eq!(building_height(&nothing, &no_default), None);
    }

    #[test]
    fn validity_from_attributes_and_options() {
        let opts = ImportOptions {
            valid_from: Date::parse("2000-01-01").ok(),
            valid_to_attr: Some("demolished".into()),
            ..Default::default()
        };
        let f = sf(&[("demolished", AttrValue::Text("2015-06-30".into()))], None);
        let mut w = Vec::new();
        let v = validity_of(&f, &opts, &mut w, Path::new("x.shp")).unwrap();
        assert_eq!(v.from, Date::parse("2000-01-01").ok());
        assert_eq!(v.to, Date::parse("2015-06-30").ok());
        let bad = sf(&[("demolished", AttrValue::Text("1990-01-01".into()))], None);
        let e = validity_of(&bad, &opts, &mut w, Path::new("x.shp")).unwrap_err();
        assert!(e.to_string().contains("x.shp: record 1"), "{e}");
    }
}
