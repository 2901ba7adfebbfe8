//! `cim demo`: builds the Bubeneč (Prague) sample district into a ready project, and a 3-D
//! district of real LoD2 buildings with their photo textures (Project PLATEAU, Tokyo).

use anyhow::{bail, Context, Result};
use cim_engine::{CityIndex, Classification, Crs, FeatureFilter, FeatureKind, Project};
use cim_importers::pipeline::{self, HeightOptions, ImportOptions};
use cim_importers::{terrain, vector};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The demo's project CRS: WGS 84 / UTM 33N, the CRS of the demo DEM.
const DEMO_EPSG: u32 = 32633;
/// The demo's BIM model (the buildingSMART Duplex, georeferenced beside the district).
const DEMO_BIM: &str = "bim/duplex_bubenec.ifc";
/// Prague's municipality code (OBEC_KOD in the demo parcels), used as the city-code region.
const DEMO_REGION: &str = "554782";
/// Storey-typical height for the demo buildings, whose source has no height: recorded as
/// `default` on every building so nobody mistakes it for a measurement.
const DEMO_BUILDING_HEIGHT_M: f64 = 15.0;
/// The 3-D district's project CRS: JGD2011 / Japan Plane Rectangular CS IX (Tokyo).
const TOKYO_EPSG: u32 = 6677;
/// Ōta-ku's local government code (with its check digit), as the city-code region.
const TOKYO_REGION: &str = "131113";
/// The geoid's height above the ellipsoid at Haneda (GSIGEO2011), m: PLATEAU heights are
/// orthometric (Tokyo Peil), 3D Tiles heights ellipsoidal.
const TOKYO_GEOID_M: f64 = 36.7;

#[derive(Args)]
pub struct DemoArgs {
    /// Folder to write the project into.
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// The assets folder (default: $CIM_ASSETS, ./assets, or the assets/ of this source tree).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Skip the flood runs (storm and what-if), and the traffic runs that take their closures,
    /// that the demo adds to the project.
    #[arg(long)]
    pub no_flood: bool,
    #[arg(long)]
    pub json: bool,
}

fn find_assets(given: &Option<PathBuf>) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(given.clone());
    candidates.extend(std::env::var_os("CIM_ASSETS").map(PathBuf::from));
    candidates.push(PathBuf::from("assets"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"));
    for c in &candidates {
        if c.join("demo/bubenec.gpkg").is_file() {
            return Ok(c.clone());
        }
    }
    bail!(
        "demo data not found (looked for demo/bubenec.gpkg in {}); pass --assets DIR",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub fn run(a: DemoArgs) -> Result<()> {
    let assets = find_assets(&a.assets)?.join("demo");
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let final_path = a.out.join("bubenec.cim.gpkg");
    let building = a.out.join("bubenec.cim.gpkg.building");
    if building.exists() {
        std::fs::remove_file(&building).ok();
    }
    let built = build(&assets, &building, a.json);
    if let Err(e) = built {
        std::fs::remove_file(&building).ok();
        return Err(e);
    }
    std::fs::rename(&building, &final_path)
        .with_context(|| format!("cannot move the demo project to {}", final_path.display()))?;
    let mut v = summarise(&final_path, a.json)?;
    v["district_3d"] = district_3d(&assets, &a.out, a.json)?;
    if !a.no_flood {
        v["flood"] = flood(&assets, &final_path, a.json)?;
        v["traffic"] = traffic(&assets, &final_path, a.json)?;
    }
    if a.json {
        println!("{v}");
    }
    Ok(())
}

/// The 3-D district: the PLATEAU tile imported into `out/tokyo.cim.gpkg` (LoD0–LoD2 with
/// semantics and textures), a roof picked, and the commands to look at it and hand it on.
fn district_3d(assets: &Path, out: &Path, json: bool) -> Result<serde_json::Value> {
    let file = assets.join("tokyo/53392633_bldg_6697_2_op.gml");
    let path = out.join("tokyo.cim.gpkg");
    let building = out.join("tokyo.cim.gpkg.building");
    std::fs::remove_file(&building).ok();
    let made = (|| -> Result<()> {
        let mut project = Project::create(&building, &Crs::from_epsg(TOKYO_EPSG)?, TOKYO_REGION)?;
        let opts = ImportOptions {
            layer: Some("buildings".into()),
            classification: Classification::Public,
            ..Default::default()
        };
        let report = match cim_importers::import_file(&mut project, &file, &opts, &mut |_| {})? {
            cim_importers::Imported::Features(r) => r,
            cim_importers::Imported::Terrain(..) => bail!("{}: read as terrain", file.display()),
            cim_importers::Imported::Points(..)
            | cim_importers::Imported::Tiles(..)
            | cim_importers::Imported::Photo(..)
            | cim_importers::Imported::Model(..) => {
                bail!("{}: read as a tileset", file.display())
            }
        };
        if !json {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
        }
        Ok(())
    })();
    if let Err(e) = made {
        std::fs::remove_file(&building).ok();
        return Err(e);
    }
    std::fs::rename(&building, &path)
        .with_context(|| format!("cannot move the project to {}", path.display()))?;
    let project = Project::open(&path)?;
    let index = CityIndex::load(&project, &FeatureFilter::default())?;
    let meshes = project.mesh_summary()?;
    let (textures, _) = project.texture_summary()?;
    let buildings = project.features(&FeatureFilter::default())?;
    // Straight down onto the tallest building's roof.
    let tallest = buildings
        .iter()
        .filter_map(|b| b.feature.lod1.as_ref().map(|l| (l.top_m(), b)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, b)| b);
    let pick = tallest.and_then(|b| {
        use geo::InteriorPoint;
        let c = b.feature.geometry.interior_point()?;
        index
            .pick([c.x(), c.y(), 500.0], [0.0, 0.0, -1.0])
            .map(|h| (c, h))
    });
    if json {
        return Ok(json!({
            "project": path.display().to_string(),
            "buildings": buildings.len(),
            "meshes": meshes.iter().map(|m| json!({"lod": m.lod, "features": m.features, "triangles": m.triangles})).collect::<Vec<_>>(),
            "textures": textures,
            "pick": pick.as_ref().map(|(_, h)| json!({"code": h.code.as_str(), "point": h.point,
                "surface": h.surface.as_ref().map(|s| s.class.name())})),
        }));
    }
    println!();
    println!(
        "Built a 3-D district near Haneda, Tokyo (Project PLATEAU, MLIT, CC BY 4.0): {}",
        path.display()
    );
    println!(
        "  {} buildings · {} · {} texture images",
        buildings.len(),
        meshes
            .iter()
            .map(|m| format!("LoD{} {} triangles", m.lod, m.triangles))
            .collect::<Vec<_>>()
            .join(", "),
        textures
    );
    if let Some((c, h)) = &pick {
        println!(
            "  a ray straight down onto the tallest building hits its {} at z = {:.2} m",
            h.surface.as_ref().map_or("roof", |s| s.class.name()),
            h.point[2]
        );
        println!();
        println!("Try:");
        println!(
            "  cim pick {} --from {:.1},{:.1},500 --dir 0,0,-1",
            path.display(),
            c.x(),
            c.y()
        );
    } else {
        println!();
        println!("Try:");
    }
    println!("  cim view {}", path.display());
    println!("  cim export {} tokyo.city.json", path.display());
    println!(
        "  cim export {} tokyo-tiles --format 3dtiles --geoid-offset {TOKYO_GEOID_M}   (for CesiumJS)",
        path.display()
    );
    Ok(json!({"project": path.display().to_string(), "buildings": buildings.len(), "textures": textures}))
}

/// The demo storm and its what-if variant (scenarios/demo-storm*.toml), run on the demo project
/// and compared.
fn flood(assets: &Path, project: &Path, json: bool) -> Result<serde_json::Value> {
    use cim_scenarios::flood::config::ScenarioConfig;
    let (names, runs) = run_all(
        &scenarios_dir(assets),
        &["demo-storm.toml", "demo-storm-pond.toml"],
        json,
        &|path| {
            let mut config = ScenarioConfig::load(path)?;
            config.project = project.to_path_buf();
            Ok(cim_scenarios::run::Scenario::Flood(Box::new(config)))
        },
    )?;
    if !json {
        println!();
        println!("What if? {} against {}:", names[1], names[0]);
    }
    let comparison = super::runs::compare_runs(project, &names[0], &names[1], None, json)?;
    if !json {
        println!();
        println!("Try:");
        println!("  cim runs {}", project.display());
        println!("  cim run scenarios/demo-storm.toml        (edit it, or write a variant with `extends`)");
    }
    Ok(json!({"runs": runs, "comparison": comparison}))
}

/// Runs the scenario `files` of `dir` (each loaded by `load`, onto the demo project), printing
/// each; their run names and summaries.
fn run_all(
    dir: &Path,
    files: &[&str],
    json: bool,
    load: &dyn Fn(&Path) -> Result<cim_scenarios::run::Scenario, cim_scenarios::ScenarioError>,
) -> Result<(Vec<String>, Vec<serde_json::Value>)> {
    let (mut names, mut runs) = (Vec::new(), Vec::new());
    for file in files {
        let path = dir.join(file);
        let scenario = load(&path)?;
        let name = scenario.name().to_string();
        if !json {
            println!();
            println!("Running {name} ({}) ...", path.display());
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let done = super::run::execute(&scenario, text, json)
            .with_context(|| format!("scenario {}", path.display()))?;
        if !json {
            super::run::print_summary(&scenario, &done);
        }
        runs.push(json!({"name": name, "summary": done.summary()}));
        names.push(name);
    }
    Ok((names, runs))
}

/// The scenarios folder beside the assets (a source tree), else the one this binary was built from.
fn scenarios_dir(assets: &Path) -> PathBuf {
    assets
        .parent()
        .and_then(Path::parent)
        .map(|root| root.join("scenarios"))
        .filter(|d| d.join("demo-storm.toml").is_file())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
}

/// Morning traffic on the demo streets, the same morning with the storm closing the streets it
/// floods, and a what-if (a link road opened): run and compared, the storm against the plain
/// morning, and the link road against the storm.
fn traffic(assets: &Path, project: &Path, json: bool) -> Result<serde_json::Value> {
    use cim_scenarios::traffic::TrafficConfig;
    let (names, runs) = run_all(
        &scenarios_dir(assets),
        &[
            "demo-traffic.toml",
            "demo-traffic-storm.toml",
            "demo-traffic-storm-link.toml",
        ],
        json,
        &|path| {
            let mut config = TrafficConfig::load(path)?;
            config.project = project.to_path_buf();
            Ok(cim_scenarios::run::Scenario::Traffic(Box::new(config)))
        },
    )?;
    let mut comparisons = Vec::new();
    for (a, b, what) in [
        (0, 1, "the storm closes streets"),
        (1, 2, "a link road is opened in the storm"),
    ] {
        if !json {
            println!();
            println!("What if {what}? {} against {}:", names[b], names[a]);
        }
        comparisons.push(super::runs::compare_runs(
            project, &names[a], &names[b], None, json,
        )?);
    }
    if !json {
        println!();
        println!("Try:");
        println!(
            "  cim view {} --run {} --compare {}   (the vehicles, roads by speed, and the storm's water)",
            project.display(),
            names[0],
            names[1]
        );
        println!("  cim run scenarios/demo-traffic-storm-link.toml   (edit the what-if: add or change roads, ban turns, signal plans)");
        println!(
            "  cim export {} sumo-case --format sumo --scenario scenarios/demo-traffic-storm.toml",
            project.display()
        );
    }
    Ok(json!({"runs": runs, "comparisons": comparisons}))
}

fn build(assets: &Path, path: &Path, quiet: bool) -> Result<()> {
    let crs = Crs::from_epsg(DEMO_EPSG)?;
    let mut project = Project::create(path, &crs, DEMO_REGION)?;
    let dem_path = assets.join("bubenec_dtm_1m_utm33n.tif");
    let dem = terrain::read_geotiff(&dem_path)?;
    let dem_crs = dem
        .crs
        .clone()
        .with_context(|| format!("{}: no CRS", dem_path.display()))?;
    pipeline::import_terrain(&mut project, &dem_path, dem.raster, &dem_crs, "terrain", None)?;
    let gpkg = assets.join("bubenec.gpkg");
    let layers: [(&str, &str, FeatureKind); 3] = [
        ("plots", "parcels", FeatureKind::Parcel),
        ("buildings", "buildings", FeatureKind::Building),
        ("streets", "streets", FeatureKind::Road),
    ];
    for (source_layer, layer, kind) in layers {
        let source = vector::open_vector(&gpkg, Some(source_layer))?;
        let opts = ImportOptions {
            layer: Some(layer.to_string()),
            kind: Some(kind),
            classification: Classification::Public,
            heights: HeightOptions {
                default_height_m: Some(DEMO_BUILDING_HEIGHT_M),
                ..Default::default()
            },
            ..Default::default()
        };
        let report = pipeline::import_vectors(&mut project, vec![source], &opts, &mut |_| {})?;
        if !quiet {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    // A BIM model beside the district, placed by its own georeferencing (IFC2x3 property sets).
    let ifc = assets.join(DEMO_BIM);
    let opts = ImportOptions {
        layer: Some("duplex".into()),
        ..Default::default()
    };
    if let cim_importers::Imported::Features(report) =
        cim_importers::import_file(&mut project, &ifc, &opts, &mut |_| {})?
    {
        if !quiet {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    Ok(())
}

fn summarise(path: &Path, as_json: bool) -> Result<serde_json::Value> {
    let project = Project::open(path)?;
    let layers = project.layers()?;
    let terrains = project.terrains()?;
    let buildings = project.features(&FeatureFilter {
        layers: Some(vec!["buildings".into()]),
        limit: Some(1),
        ..Default::default()
    })?;
    let index = CityIndex::load(&project, &FeatureFilter::default())?;
    // Look straight down onto the first building's centroid from 500 m above it.
    let pick = buildings.first().and_then(|b| {
        use geo::Centroid;
        let c = b.feature.geometry.centroid()?;
        index.pick([c.x(), c.y(), 1000.0], [0.0, 0.0, -1.0])
    });
    let bim = project.bim_models()?;
    if as_json {
        let v = json!({
            "project": path.display().to_string(),
            "crs": project.crs().name(),
            "layers": layers.iter().map(|l| json!({"name": l.name, "kind": l.kind.name(), "features": l.feature_count})).collect::<Vec<_>>(),
            "terrain": terrains.iter().map(|t| json!({"name": t.name, "width": t.width, "height": t.height, "min_m": t.min_m, "max_m": t.max_m})).collect::<Vec<_>>(),
            "indexed": index.len(),
            "pick": pick.as_ref().map(|h| json!({"code": h.code.as_str(), "layer": h.layer, "point": h.point})),
            "bim_models": bim.iter().map(|m| json!({"layer": m.layer, "schema": m.schema, "elements": m.elements,
                "georeferencing": m.method, "origin": m.origin, "crs": m.crs})).collect::<Vec<_>>(),
        });
        return Ok(v);
    }
    println!("Built the demo district Bubeneč, Prague: {}", path.display());
    println!(
        "  CRS {} · city codes prefixed {}",
        project.crs().display_name(),
        project.region_code()
    );
    for l in &layers {
        println!("  {:<10} {:>5} {}", l.name, l.feature_count, l.kind.name());
    }
    for m in &bim {
        println!(
            "  BIM model '{}': {} elements ({}), placed by {} at E {:.1}, N {:.1}, H {:.1}",
            m.layer, m.elements, m.schema, m.method, m.origin[0], m.origin[1], m.origin[2]
        );
    }
    for t in &terrains {
        println!(
            "  terrain    {}×{} cells of {:.0} m, {:.1}–{:.1} m",
            t.width,
            t.height,
            t.cell_w,
            t.min_m.unwrap_or(f32::NAN),
            t.max_m.unwrap_or(f32::NAN)
        );
    }
    if let (Some(b), Some(h)) = (buildings.first(), &pick) {
        println!(
            "  a ray straight down onto building {} hits {} at z = {:.1} m (roof: ground + {} m, height source: {})",
            b.feature.code,
            h.code,
            h.point[2],
            b.feature.lod1.as_ref().map(|l| l.height_m).unwrap_or(0.0),
            b.feature.lod1.as_ref().map(|l| l.height_source.to_string()).unwrap_or_default()
        );
    }
    println!();
    println!("Try:");
    println!("  cim info {}", path.display());
    if let Some(b) = buildings.first() {
        println!("  cim query {} --code {}", path.display(), b.feature.code);
    }
    if let Some(c) = buildings.first().and_then(|b| {
        use geo::Centroid;
        b.feature.geometry.centroid()
    }) {
        println!(
            "  cim query {} --point {:.0},{:.0} --radius 50 --layer buildings",
            path.display(),
            c.x(),
            c.y()
        );
        println!(
            "  cim pick {} --from {:.0},{:.0},600 --dir 0,0,-1",
            path.display(),
            c.x(),
            c.y()
        );
    }
    println!(
        "  cim export {} buildings.geojson --layer buildings --wgs84",
        path.display()
    );
    Ok(serde_json::Value::Object(Default::default()))
}
