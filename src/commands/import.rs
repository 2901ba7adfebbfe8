use super::{open_project, parse_date};
use crate::output::print_import_report;
use crate::progress::counter;
use anyhow::{bail, Context, Result};
use cim_engine::{Classification, Crs, FeatureKind};
use cim_importers::pipeline::{self, HeightOptions, ImportOptions};
use cim_importers::{osm, terrain, vector, ImportError, VectorSource};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ImportArgs {
    /// The project to import into.
    pub project: PathBuf,
    /// The file: .geojson/.json, .shp, .gpkg, .fgb, .tif/.tiff (terrain), .osm/.osm.pbf/.pbf.
    pub file: PathBuf,
    /// Target layer name (default: the source layer's name; for a DEM, "terrain").
    #[arg(long)]
    pub layer: Option<String>,
    /// Which layer of a multi-layer source (GeoPackage table) to read; default: all of them.
    #[arg(long)]
    pub source_layer: Option<String>,
    /// Feature kind: parcel, building, road, terrain, water, vegetation, other (default: guessed from the layer name).
    #[arg(long)]
    pub kind: Option<FeatureKind>,
    /// Source CRS, overriding what the file says (EPSG:4490, EPSG:4547, a PROJ string).
    #[arg(long)]
    pub src_crs: Option<String>,
    /// Classification of the layer and its features: public, internal, restricted.
    #[arg(long, default_value = "public")]
    pub classification: Classification,
    /// Attribute holding building height in metres.
    #[arg(long)]
    pub height_attr: Option<String>,
    /// Attribute holding the number of floors (height = floors × --storey-height).
    #[arg(long)]
    pub floors_attr: Option<String>,
    /// Storey height in metres for --floors-attr and OSM building:levels.
    #[arg(long, default_value_t = 3.0)]
    pub storey_height: f64,
    /// Height in metres for buildings with none in the source.
    #[arg(long)]
    pub default_height: Option<f64>,
    /// Features are valid from this date (YYYY-MM-DD).
    #[arg(long)]
    pub valid_from: Option<String>,
    /// Features are valid until (not including) this date.
    #[arg(long)]
    pub valid_to: Option<String>,
    /// Attribute with each feature's valid-from date.
    #[arg(long)]
    pub valid_from_attr: Option<String>,
    /// Attribute with each feature's valid-to date.
    #[arg(long)]
    pub valid_to_attr: Option<String>,
    /// DEM cell size in metres in the project CRS (default: the source's).
    #[arg(long)]
    pub cell_size: Option<f64>,
    /// Treat every warning as an error (nothing is written then).
    #[arg(long)]
    pub strict: bool,
    /// Succeed even when nothing is stored (by default an import that stores no feature fails).
    #[arg(long)]
    pub allow_empty: bool,
    #[arg(long)]
    pub json: bool,
}

enum SourceKind {
    Terrain,
    Osm,
    Vector,
}

fn source_kind(path: &Path) -> SourceKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".tif") || name.ends_with(".tiff") {
        SourceKind::Terrain
    } else if name.ends_with(".osm") || name.ends_with(".pbf") {
        SourceKind::Osm
    } else {
        SourceKind::Vector
    }
}

pub fn run(a: ImportArgs) -> Result<()> {
    if !a.file.exists() {
        bail!("{}: no such file", a.file.display());
    }
    let src_crs = a
        .src_crs
        .as_deref()
        .map(|s| Crs::parse(s).with_context(|| format!("--src-crs {s}")))
        .transpose()?;
    let mut project = open_project(&a.project)?;
    match source_kind(&a.file) {
        SourceKind::Terrain => import_dem(&mut project, &a, src_crs),
        SourceKind::Osm => {
            let sources = osm::read_osm(&a.file, &osm::OsmOptions::default())?;
            import_sources(&mut project, &a, sources, src_crs)
        }
        SourceKind::Vector => {
            let sources = match &a.source_layer {
                Some(l) => vec![vector::open_vector(&a.file, Some(l))?],
                None => {
                    let layers = vector::list_layers(&a.file)?;
                    if layers.len() > 1 && a.layer.is_some() {
                        bail!(
                            "{}: has {} layers ({}); --layer needs --source-layer to pick one",
                            a.file.display(),
                            layers.len(),
                            layers.join(", ")
                        );
                    }
                    let mut v = Vec::new();
                    for l in &layers {
                        v.push(vector::open_vector(&a.file, Some(l))?);
                    }
                    v
                }
            };
            import_sources(&mut project, &a, sources, src_crs)
        }
    }
}

fn import_sources(
    project: &mut cim_engine::Project,
    a: &ImportArgs,
    sources: Vec<VectorSource>,
    src_crs: Option<Crs>,
) -> Result<()> {
    let opts = ImportOptions {
        layer: a.layer.clone(),
        kind: a.kind,
        classification: a.classification,
        src_crs,
        heights: HeightOptions {
            height_attr: a.height_attr.clone(),
            floors_attr: a.floors_attr.clone(),
            storey_m: a.storey_height,
            default_height_m: a.default_height,
        },
        valid_from: parse_date(&a.valid_from)?,
        valid_to: parse_date(&a.valid_to)?,
        valid_from_attr: a.valid_from_attr.clone(),
        valid_to_attr: a.valid_to_attr.clone(),
        strict: a.strict,
        allow_empty: a.allow_empty,
    };
    if !(a.storey_height > 0.0 && a.storey_height < 20.0) {
        bail!("--storey-height {} must be between 0 and 20 m", a.storey_height);
    }
    let bar = counter(&format!("importing {}", a.file.display()), a.json);
    let result = pipeline::import_vectors(project, sources, &opts, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            print_import_report(&report, a.json);
            Ok(())
        }
        Err(ImportError::NothingStored { path, reason, report }) => {
            // What was read and skipped, then the error: the summary is never hidden.
            if !a.json {
                print_import_report(&report, false);
            }
            Err(ImportError::NothingStored { path, reason, report }.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn import_dem(project: &mut cim_engine::Project, a: &ImportArgs, src_crs: Option<Crs>) -> Result<()> {
    let dem = terrain::read_geotiff(&a.file)?;
    let crs = match (src_crs, dem.crs) {
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => bail!(
            "{}: no coordinate reference system in the GeoTIFF geokeys; pass --src-crs EPSG:xxxx",
            a.file.display()
        ),
    };
    let name = a.layer.clone().unwrap_or_else(|| "terrain".to_string());
    let r = pipeline::import_terrain(project, &a.file, dem.raster, &crs, &name, a.cell_size)?;
    if a.json {
        let v = serde_json::json!({
            "terrain": r.name, "width": r.width, "height": r.height, "cell_m": r.cell_m,
            "min_m": r.min_m, "max_m": r.max_m, "valid_cells": r.valid_cells, "reprojected": r.reprojected,
            "warnings": dem.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        for w in &dem.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "terrain '{}': {}×{} cells of {:.2} m, {:.1}–{:.1} m, {} cells with data{}",
            r.name,
            r.width,
            r.height,
            r.cell_m,
            r.min_m,
            r.max_m,
            r.valid_cells,
            if r.reprojected {
                " (reprojected into the project CRS)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
