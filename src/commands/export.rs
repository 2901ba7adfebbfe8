use super::{open_project, parse_date};
use crate::output::feature_collection;
use anyhow::{bail, Context, Result};
use cim_engine::{Classification, Crs, FeatureFilter, Project, Transform};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExportArgs {
    pub project: PathBuf,
    /// Output file: .city.json (CityJSON 2.0: 3-D city objects), .glb (glTF of the 3-D city),
    /// .geojson/.json (features), .gpkg (a GeoPackage project), .tif/.tiff (a terrain, or a
    /// run's raster with --run); a folder with --format 3dtiles.
    pub out: PathBuf,
    /// The output format where the name does not say it: cityjson, glb, 3dtiles, or sumo (a
    /// folder: the road network as SUMO plain XML, and with --scenario its demand).
    #[arg(long)]
    pub format: Option<String>,
    /// With --format sumo: a traffic scenario whose trips (on cim's routes), closures and
    /// settings are written too, with a SUMO configuration to run them.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// 3D Tiles version: 1.1 (glb content with metadata; default) or 1.0 (b3dm, for older
    /// clients such as QGIS).
    #[arg(long, default_value = "1.1")]
    pub tiles: String,
    /// 3D Tiles heights are ellipsoidal: metres to add to the project's heights (the geoid's
    /// height above the ellipsoid there, where the heights are above sea level).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub geoid_offset: f64,
    /// Only these layers (repeatable); for .tif, the terrain name (default: the first terrain).
    #[arg(long)]
    pub layer: Vec<String>,
    /// To .tif: a raster of this stored run (see `cim runs`) instead of a terrain.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// With --run: which raster: max_depth (default), max_speed, time_of_max_depth, a frame such
    /// as depth_t003600 or speed_t003600, or a difference map such as max_depth_minus_<run>.
    #[arg(long, value_name = "RASTER", requires = "run")]
    pub raster: Option<String>,
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
    let version = match a.tiles.as_str() {
        "1.1" => cim_importers::export::tiles::TilesVersion::V1_1,
        "1.0" => cim_importers::export::tiles::TilesVersion::V1_0,
        other => bail!("--tiles {other}: use 1.1 or 1.0"),
    };
    if !a.geoid_offset.is_finite() || a.geoid_offset.abs() > 200.0 {
        bail!(
            "--geoid-offset {}: the geoid is within ±110 m of the ellipsoid everywhere",
            a.geoid_offset
        );
    }
    if a.format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("sumo"))
    {
        return sumo(&a);
    }
    if a.scenario.is_some() {
        bail!("--scenario goes with --format sumo");
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
    if a.run.is_some() && !(name.ends_with(".tif") || name.ends_with(".tiff")) {
        bail!(
            "{}: a run's raster is exported as GeoTIFF: give an output file ending in .tif",
            a.out.display()
        );
    }
    let city_format = match &a.format {
        Some(f) => Some(cim_importers::export::ExportFormat::parse(f).with_context(|| {
            format!("--format {f}: unknown (use cityjson, or name the output .geojson, .gpkg or .tif)")
        })?),
        None => cim_importers::export::ExportFormat::of_path(&a.out),
    };
    if let Some(format) = city_format {
        if a.force && a.out.exists() {
            let removed = if a.out.is_dir() {
                std::fs::remove_dir_all(&a.out)
            } else {
                std::fs::remove_file(&a.out)
            };
            removed.with_context(|| format!("cannot replace {}", a.out.display()))?;
        }
        let tiles = cim_importers::export::tiles::TilesOptions {
            version,
            geoid_offset_m: a.geoid_offset,
            ..Default::default()
        };
        let done = cim_importers::export::export_file(&project, &filter, &a.out, format, &tiles)?;
        for w in &done.warnings {
            eprintln!("warning: {w}");
        }
        if a.json {
            println!(
                "{}",
                serde_json::json!({"out": a.out.display().to_string(), "what": done.what, "count": done.count,
                    "details": done.details, "warnings": done.warnings})
            );
        } else {
            let more = if done.details.is_empty() {
                String::new()
            } else {
                format!(" ({})", done.details.join(", "))
            };
            println!("wrote {} {}{more} to {}", done.count, done.what, a.out.display());
        }
        return Ok(());
    }
    let mut raster_label = None;
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
        ("features", project.export_copy(&a.out, &filter)?)
    } else if name.ends_with(".tif") || name.ends_with(".tiff") {
        let (raster, label) = match &a.run {
            Some(run) => run_raster(&project, run, a.raster.as_deref().unwrap_or("max_depth"))?,
            None => {
                let terrain_name = match a.layer.first() {
                    Some(n) => n.clone(),
                    None => match project.terrains()?.first() {
                        Some(t) => t.name.clone(),
                        None => bail!(
                            "{}: the project has no terrain to export",
                            project.path().display()
                        ),
                    },
                };
                (project.terrain(&terrain_name)?, terrain_name)
            }
        };
        if a.force && a.out.exists() {
            std::fs::remove_file(&a.out).with_context(|| format!("cannot replace {}", a.out.display()))?;
        }
        cim_importers::export::write_geotiff(&a.out, &raster, project.crs())?;
        raster_label = Some(label);
        ("raster cells", raster.width * raster.height)
    } else {
        bail!(
            "{}: unknown output format (use .city.json, .geojson, .gpkg or .tif, or --format)",
            a.out.display()
        );
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({"out": a.out.display().to_string(), "what": what, "count": count, "raster": raster_label})
        );
    } else {
        match &raster_label {
            Some(l) => println!("wrote {l} ({count} {what}) to {}", a.out.display()),
            None => println!("wrote {count} {what} to {}", a.out.display()),
        }
    }
    Ok(())
}

/// Stored run `run`'s raster `which` (`max_depth`, `depth_t003600`, …) and how it is named.
fn run_raster(project: &Project, run: &str, which: &str) -> Result<(cim_engine::Raster, String)> {
    super::run::require_run(project, run)?;
    let rasters = project.run_rasters(run)?;
    let name = |r: &cim_engine::RunRaster| match r.time_s {
        Some(t) => format!("{}_t{:06}", r.quantity, t.round() as u64),
        None => r.quantity.clone(),
    };
    let Some(found) = rasters.iter().find(|r| name(r) == which) else {
        // Peaks and maps first, then the frames.
        let mut names: Vec<String> = rasters.iter().filter(|r| r.time_s.is_none()).map(name).collect();
        names.extend(rasters.iter().filter(|r| r.time_s.is_some()).map(name));
        if names.len() > 12 {
            let more = names.len() - 12;
            names.truncate(12);
            names.push(format!("and {more} more"));
        }
        bail!(
            "run '{run}' has no raster '{which}' (it has: {})",
            names.join(", ")
        );
    };
    let raster = cim_importers::read_run_raster(project.path(), found)?;
    Ok((raster, found.label()))
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `--format sumo`: the network (and a scenario's demand) as SUMO files in a new folder.
fn sumo(a: &ExportArgs) -> Result<()> {
    if a.force && a.out.exists() {
        std::fs::remove_dir_all(&a.out).with_context(|| format!("cannot replace {}", a.out.display()))?;
    }
    let project = open_project(&a.project)?;
    let config = match &a.scenario {
        Some(s) => {
            let c = cim_scenarios::traffic::TrafficConfig::load(s)?;
            let same = |p: &std::path::Path| std::fs::canonicalize(p).ok();
            if same(&c.project) != same(&a.project) {
                bail!(
                    "{}: its project is {}, not {}",
                    s.display(),
                    c.project.display(),
                    a.project.display()
                );
            }
            Some(c)
        }
        None => None,
    };
    let done = cim_scenarios::traffic::export_sumo(&project, config.as_ref(), &a.out)?;
    for n in &done.notes {
        eprintln!("note: {n}");
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({"out": a.out.display().to_string(), "files": done.files,
                "junctions": done.junctions, "edges": done.edges, "connections": done.connections,
                "programs": done.programs, "vehicles": done.vehicles, "closed_edges": done.closed_edges,
                "notes": done.notes})
        );
    } else {
        println!(
            "wrote the road network ({} junctions, {} edges, {} lane connections, {} signal programs){} to {}",
            done.junctions,
            done.edges,
            done.connections,
            done.programs,
            if config.is_some() {
                format!(" and {} vehicles, {} closed roads", done.vehicles, done.closed_edges)
            } else {
                String::new()
            },
            a.out.display()
        );
        println!(
            "  build the SUMO network: cd {} && netconvert -c cim.netccfg",
            a.out.display()
        );
        if config.is_some() {
            println!("  then run it: sumo -c cim.sumocfg");
        }
    }
    Ok(())
}
