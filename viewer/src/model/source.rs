//! Where the viewer's data comes from: one interface ([`DataSource`]) for every read and write
//! of project data — the scene, features and search, viewpoints, stored runs with their frames
//! and classes — so the frame loop never opens a file, and a browser build can later answer the
//! same calls over HTTP.
//!
//! Every call returns a [`Fetch`], a future: the native source ([`ProjectSource`]) runs SQLite
//! when the future is polled, which the viewer does on Bevy's async compute pool, off the frame
//! loop; code outside the frame loop (the CLI, tests) waits for it with [`wait`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use cim_engine::{
    CityCode, CityIndex, FeatureFilter, FeatureKind, LayerInfo, Project, Raster, ResultTable, RunBuilding,
    RunRaster, RunRecord, RunRoad, StoredFeature, TerrainInfo, Tile, Tileset, Viewpoint,
};

use crate::model::load::SceneData;

/// An answer on its way.
pub type Fetch<T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'static>>;

/// The project data the viewer reads and writes.
pub trait DataSource: Send + Sync + 'static {
    /// What it reads, for titles and messages (the project file's path).
    fn label(&self) -> String;
    /// The scene to show: terrain, buildings in tiles, draped lines.
    fn scene(&self) -> Fetch<SceneData>;
    /// The project's layers (their fields, for colouring by attribute).
    fn layers(&self) -> Fetch<Vec<LayerInfo>>;
    /// The project's terrains as stored now.
    fn terrains(&self) -> Fetch<Vec<TerrainInfo>>;
    /// The feature of that city code, if any.
    fn feature(&self, code: CityCode) -> Fetch<Option<StoredFeature>>;
    /// The features of these codes that exist, in no particular order.
    fn features_by_code(&self, codes: Vec<CityCode>) -> Fetch<Vec<StoredFeature>>;
    /// The features `filter` selects.
    fn features(&self, filter: FeatureFilter) -> Fetch<Vec<StoredFeature>>;
    /// Features whose code, name or attributes match `text`, best first.
    fn search(&self, text: String, limit: usize) -> Fetch<Vec<StoredFeature>>;
    /// The index clicks on the ground are picked against: every feature but buildings.
    fn ground_index(&self) -> Fetch<CityIndex>;
    /// Saved viewpoints, in tour order.
    fn viewpoints(&self) -> Fetch<Vec<Viewpoint>>;
    /// Saves a viewpoint (replacing one of its name).
    fn save_viewpoint(&self, v: Viewpoint) -> Fetch<()>;
    /// Stored runs, oldest first.
    fn runs(&self) -> Fetch<Vec<RunRecord>>;
    /// Run `name`'s rasters (frames in time order).
    fn run_rasters(&self, name: String) -> Fetch<Vec<RunRaster>>;
    /// The cells of one of a run's rasters.
    fn run_raster(&self, raster: RunRaster) -> Fetch<Raster>;
    /// Run `name`'s buildings, with their classes over time.
    fn run_buildings(&self, name: String) -> Fetch<Vec<RunBuilding>>;
    /// Run `name`'s roads, with when they closed and reopened.
    fn run_roads(&self, name: String) -> Fetch<Vec<RunRoad>>;
    /// Run `name`'s rows of one of its result tables (`None` where there is no such table).
    fn run_table(&self, name: String, table: String) -> Fetch<Option<ResultTable>>;
    /// The project's tilesets (real-scene 3D, point clouds, models).
    fn tilesets(&self) -> Fetch<Vec<Tileset>>;
    /// Tileset `name`'s tiles in id order, without their content.
    fn tiles(&self, name: String) -> Fetch<Vec<Tile>>;
    /// One tile's content as stored (packed or read from where it lies); `None` for a tile
    /// without content. Decode it with `tiles::decode` off the frame loop.
    fn tile_bytes(&self, name: String, tile: u32) -> Fetch<Option<Vec<u8>>>;
}

/// A shared source.
pub type Source = Arc<dyn DataSource>;

/// A project file, opened once and kept open; calls run one at a time.
pub struct ProjectSource {
    path: PathBuf,
    project: Arc<Mutex<Option<Project>>>,
}

impl ProjectSource {
    /// The project at `path` (opened on the first call, so a missing file is that call's error).
    pub fn new(path: &Path) -> ProjectSource {
        ProjectSource {
            path: path.to_path_buf(),
            project: Arc::default(),
        }
    }

    /// The same, shared.
    pub fn shared(path: &Path) -> Source {
        Arc::new(ProjectSource::new(path))
    }

    /// A call on the open project (opening it the first time).
    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Project) -> anyhow::Result<T> + Send + 'static,
    ) -> Fetch<T> {
        let (path, shared) = (self.path.clone(), self.project.clone());
        Box::pin(async move {
            let mut guard = shared
                .lock()
                .map_err(|_| anyhow::anyhow!("{}: an earlier read failed midway", path.display()))?;
            if guard.is_none() {
                *guard = Some(Project::open(&path)?);
            }
            match guard.as_mut() {
                Some(p) => f(p),
                None => anyhow::bail!("{}: not open", path.display()),
            }
        })
    }
}

impl DataSource for ProjectSource {
    fn label(&self) -> String {
        self.path.display().to_string()
    }

    fn scene(&self) -> Fetch<SceneData> {
        self.with(|p| crate::model::load::scene_of(p))
    }

    fn layers(&self) -> Fetch<Vec<LayerInfo>> {
        self.with(|p| Ok(p.layers()?))
    }

    fn terrains(&self) -> Fetch<Vec<TerrainInfo>> {
        self.with(|p| Ok(p.terrains()?))
    }

    fn feature(&self, code: CityCode) -> Fetch<Option<StoredFeature>> {
        self.with(move |p| Ok(p.feature(&code)?))
    }

    fn features_by_code(&self, codes: Vec<CityCode>) -> Fetch<Vec<StoredFeature>> {
        self.with(move |p| {
            let mut out = Vec::with_capacity(codes.len());
            for c in &codes {
                if let Some(f) = p.feature(c)? {
                    out.push(f);
                }
            }
            Ok(out)
        })
    }

    fn features(&self, filter: FeatureFilter) -> Fetch<Vec<StoredFeature>> {
        self.with(move |p| Ok(p.features(&filter)?))
    }

    fn search(&self, text: String, limit: usize) -> Fetch<Vec<StoredFeature>> {
        self.with(move |p| Ok(p.search(&text, limit)?))
    }

    fn ground_index(&self) -> Fetch<CityIndex> {
        self.with(|p| {
            let filter = FeatureFilter {
                kinds: Some(
                    FeatureKind::ALL
                        .into_iter()
                        .filter(|k| *k != FeatureKind::Building)
                        .collect(),
                ),
                ..FeatureFilter::default()
            };
            Ok(CityIndex::load(p, &filter)?)
        })
    }

    fn viewpoints(&self) -> Fetch<Vec<Viewpoint>> {
        self.with(|p| Ok(p.viewpoints()?))
    }

    fn save_viewpoint(&self, v: Viewpoint) -> Fetch<()> {
        self.with(move |p| Ok(p.save_viewpoint(&v)?))
    }

    fn runs(&self) -> Fetch<Vec<RunRecord>> {
        self.with(|p| Ok(p.runs()?))
    }

    fn run_rasters(&self, name: String) -> Fetch<Vec<RunRaster>> {
        self.with(move |p| Ok(p.run_rasters(&name)?))
    }

    fn run_raster(&self, raster: RunRaster) -> Fetch<Raster> {
        match &raster.at {
            // An older run's GeoTIFF beside the project: no need to open the project.
            cim_engine::RunRasterAt::GeoTiff(path) => {
                let path = path.clone();
                Box::pin(async move { Ok(cim_importers::read_geotiff(&path)?.raster) })
            }
            cim_engine::RunRasterAt::Coverage(table) => {
                let table = table.clone();
                self.with(move |p| Ok(p.run_coverage(&table)?))
            }
        }
    }

    fn run_buildings(&self, name: String) -> Fetch<Vec<RunBuilding>> {
        self.with(move |p| Ok(p.run_buildings(&name)?))
    }

    fn run_roads(&self, name: String) -> Fetch<Vec<RunRoad>> {
        self.with(move |p| Ok(p.run_roads(&name)?))
    }

    fn run_table(&self, name: String, table: String) -> Fetch<Option<ResultTable>> {
        self.with(move |p| Ok(p.run_table(&name, &table)?))
    }

    fn tilesets(&self) -> Fetch<Vec<Tileset>> {
        self.with(|p| Ok(p.tilesets()?))
    }

    fn tiles(&self, name: String) -> Fetch<Vec<Tile>> {
        self.with(move |p| Ok(p.tiles(&name)?.into_iter().map(|(t, _)| t).collect()))
    }

    fn tile_bytes(&self, name: String, tile: u32) -> Fetch<Option<Vec<u8>>> {
        self.with(move |p| Ok(p.tile_bytes(&name, tile)?))
    }
}

/// Waits for `fetch` here (outside the frame loop: the CLI, tests, start-up).
pub fn wait<F: Future>(fetch: F) -> F::Output {
    let mut fetch = std::pin::pin!(fetch);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        match fetch.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => return r,
            // A source that answers over a network: look again shortly.
            std::task::Poll::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

/// The run of that name, or an error naming the runs there are.
pub async fn run_named(source: &dyn DataSource, name: &str) -> anyhow::Result<RunRecord> {
    let runs = source.runs().await?;
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    if let Some(r) = runs.into_iter().find(|r| r.name == name) {
        return Ok(r);
    }
    anyhow::bail!(
        "no run '{name}' in {} (runs: {})",
        source.label(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )
}
