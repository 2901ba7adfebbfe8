use super::{open_project, parse_date};
use crate::output::feature_collection;
use anyhow::{bail, Context, Result};
use cim_engine::{Classification, Crs, FeatureFilter, LayerSpec, Project, Transform};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExportArgs {
    pub project: PathBuf,
    /// Output file: .geojson/.json (features), .gpkg (a GeoPackage project), .tif/.tiff (terrain).
    pub out: PathBuf,
    /// Only these layers (repeatable); for .tif, the terrain name (default: the first terrain).
    #[arg(long)]
    pub layer: Vec<String>,
    /// The city as it was on this date.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Highest classification to include (default: all).
    #[arg(long)]
    pub max_class: Option<Classification>,
    /// GeoJSON in WGS 84 longitude/latitude (RFC 7946) instead of the project CRS.
    #[arg(long)]
    pub wgs84: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ExportArgs) -> Result<()> {
    if a.out.exists() && !a.force {
        bail!("{}: already exists (use --force to replace it)", a.out.display());
    }
    let project = open_project(&a.project)?;
    let filter = FeatureFilter {
        layers: (!a.layer.is_empty()).then(|| a.layer.clone()),
        as_of: parse_date(&a.as_of)?,
        max_classification: a.max_class,
        ..Default::default()
    };
    for l in filter.layers.iter().flatten() {
        if !a.out.to_string_lossy().to_lowercase().ends_with(".tif") {
            project.layer(l)?;
        }
    }
    let name = a
        .out
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (what, count) = if name.ends_with(".geojson") || name.ends_with(".json") {
        let features = project.features(&filter)?;
        let to_wgs84 = if a.wgs84 {
            Some(Transform::new(&Crs::from_epsg(4326)?, project.crs()))
        } else {
            None
        };
        let fc = feature_collection(&features, project.crs().epsg(), to_wgs84.as_ref())?;
        write_atomically(&a.out, fc.to_string().as_bytes())?;
        ("features", features.len())
    } else if name.ends_with(".gpkg") {
        ("features", export_gpkg(&project, &filter, &a)?)
    } else if name.ends_with(".tif") || name.ends_with(".tiff") {
        let terrains = project.terrains()?;
        let terrain_name = match a.layer.first() {
            Some(n) => n.clone(),
            None => match terrains.first() {
                Some(t) => t.name.clone(),
                None => bail!(
                    "{}: the project has no terrain to export",
                    project.path().display()
                ),
            },
        };
        let raster = project.terrain(&terrain_name)?;
        if a.force && a.out.exists() {
            std::fs::remove_file(&a.out).with_context(|| format!("cannot replace {}", a.out.display()))?;
        }
        cim_importers::export::write_geotiff(&a.out, &raster, project.crs())?;
        ("terrain cells", raster.width * raster.height)
    } else {
        bail!(
            "{}: unknown output format (use .geojson, .gpkg or .tif)",
            a.out.display()
        );
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({"out": a.out.display().to_string(), "what": what, "count": count})
        );
    } else {
        println!("wrote {count} {what} to {}", a.out.display());
    }
    Ok(())
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Copies the selected features (and all terrain) into a new GeoPackage project in the same CRS,
/// built beside the target and renamed into place when complete.
fn export_gpkg(project: &Project, filter: &FeatureFilter, a: &ExportArgs) -> Result<usize> {
    let tmp = a.out.with_extension("gpkg.partial");
    if tmp.exists() {
        std::fs::remove_file(&tmp).ok();
    }
    let mut out = Project::create(&tmp, project.crs(), project.region_code())?;
    let mut n = 0usize;
    let result = (|| -> Result<()> {
        let mut tx = out.import()?;
        for l in project.layers()? {
            if filter.layers.as_ref().is_some_and(|ls| !ls.contains(&l.name)) {
                continue;
            }
            tx.ensure_layer(&LayerSpec {
                name: l.name.clone(),
                kind: l.kind,
                classification: l.classification,
                geometry_type: l.geometry_type,
                fields: l.fields.clone(),
                source: format!("{} (exported)", project.path().display()),
            })?;
            let f = FeatureFilter {
                layers: Some(vec![l.name.clone()]),
                ..filter.clone()
            };
            project.for_each_feature(&f, |s| {
                tx.write(&s.layer, &s.feature)?;
                n += 1;
                Ok(())
            })?;
        }
        for t in project.terrains()? {
            tx.put_terrain(&t.name, &project.terrain(&t.name)?, &t.source)?;
        }
        tx.commit()?;
        Ok(())
    })();
    drop(out);
    if let Err(e) = result {
        std::fs::remove_file(&tmp).ok();
        return Err(e);
    }
    if a.out.exists() {
        std::fs::remove_file(&a.out).with_context(|| format!("cannot replace {}", a.out.display()))?;
    }
    std::fs::rename(&tmp, &a.out).with_context(|| format!("cannot write {}", a.out.display()))?;
    Ok(n)
}
