use super::{open_project, parse_date};
use crate::output::print_import_report;
use crate::progress::counter;
use anyhow::{bail, Context, Result};
use cim_engine::{Classification, Crs, FeatureKind};
use cim_importers::pipeline::{HeightOptions, ImportOptions, TerrainReport};
use cim_importers::{ImportError, Imported};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// The project to import into.
    pub project: PathBuf,
    /// The file: .geojson/.json, .shp, .gpkg, .fgb, .tif/.tiff (terrain), .osm/.osm.pbf/.pbf,
    /// .city.json/.city.jsonl (CityJSON), .gml (CityGML), .ifc (BIM: IFC 2x3, 4, 4.3), .las/.laz
    /// (point clouds), a 3D Tiles tileset.json or its folder, an OSGB oblique photography folder
    /// (with metadata.xml), .glb/.gltf/.obj (models); recognised by its content, then its
    /// extension.
    pub file: PathBuf,
    /// Target layer name (default: the source layer's name; for a DEM, "terrain"; for a city
    /// model, the file's stem for buildings and <layer>_<kind> for other objects).
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
    /// Where a BIM model's origin goes, overriding (or standing in for) its georeferencing:
    /// easting, northing and height in the project's CRS, and optionally the rotation of its x
    /// axis from east in degrees anticlockwise ("E,N,H[,rotation]").
    #[arg(long, allow_hyphen_values = true)]
    pub origin: Option<String>,
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
    /// DEM cell size in metres in the project CRS (default: the source's; 1 m for lidar ground).
    #[arg(long, visible_alias = "resolution")]
    pub cell_size: Option<f64>,
    /// A LAS/LAZ point cloud's ground points (class 2) become the project's terrain (a DEM of
    /// --cell-size), so a flood can run on lidar ground.
    #[arg(long)]
    pub as_terrain: bool,
    /// A LAS/LAZ point cloud's surface (the highest point a cell, noise classes 7 and 18 left
    /// out: roofs, trees, ground) becomes a terrain named `surface` (a DSM; --layer renames it).
    #[arg(long)]
    pub as_surface: bool,
    /// Real-scene tilesets (3D Tiles): leave the content where it lies and reference it rather
    /// than pack it into the project (for datasets of hundreds of GB; the folder must stay).
    #[arg(long)]
    pub reference: bool,
    /// 3D Tiles heights are ellipsoidal: the geoid's height above the ellipsoid there, in
    /// metres, taken off them into the project's heights (e.g. 36.7 at Haneda).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub geoid_offset: f64,
    /// Treat every warning as an error (nothing is written then).
    #[arg(long)]
    pub strict: bool,
    /// Succeed even when nothing is stored (by default an import that stores no feature fails).
    #[arg(long)]
    pub allow_empty: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ImportArgs) -> Result<()> {
    let src_crs = a
        .src_crs
        .as_deref()
        .map(|s| Crs::parse(s).with_context(|| format!("--src-crs {s}")))
        .transpose()?;
    if !(a.storey_height > 0.0 && a.storey_height < 20.0) {
        bail!("--storey-height {} must be between 0 and 20 m", a.storey_height);
    }
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
        source_layer: a.source_layer.clone(),
        cell_size: a.cell_size,
        as_terrain: a.as_terrain,
        as_surface: a.as_surface,
        reference: a.reference,
        geoid_offset_m: a.geoid_offset,
        origin: a.origin.as_deref().map(parse_origin).transpose()?,
    };
    if !a.file.exists() {
        bail!("{}: no such file", a.file.display());
    }
    let mut project = open_project(&a.project)?;
    let bar = counter(&format!("importing {}", a.file.display()), a.json);
    let result = cim_importers::import_file(&mut project, &a.file, &opts, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    match result {
        Ok(Imported::Features(report)) => {
            print_import_report(&report, a.json);
            Ok(())
        }
        Ok(Imported::Terrain(r, warnings)) => {
            print_terrain(&r, &warnings, a.json);
            Ok(())
        }
        Ok(Imported::Points(r)) => {
            let t = &r.tileset;
            let b = t.bounds;
            if a.json {
                let v = serde_json::json!({
                    "tileset": t.name, "kind": t.kind.name(), "points": t.points, "tiles": t.tiles,
                    "crs": r.crs, "placement": t.placement, "bounds": b,
                    "points_by_class": r.points_by_class.iter().map(|(c, n)| (c.to_string(), serde_json::Value::from(*n))).collect::<serde_json::Map<String, serde_json::Value>>(),
                });
                println!("{v}");
            } else {
                println!(
                    "tileset '{}': {} points in {} tiles, placed from {}",
                    t.name, t.points, t.tiles, t.placement
                );
                println!(
                    "  bounds {:.3},{:.3},{:.3} .. {:.3},{:.3},{:.3} (project CRS)",
                    b[0], b[1], b[2], b[3], b[4], b[5]
                );
                let classes: Vec<String> = r
                    .points_by_class
                    .iter()
                    .map(|(c, n)| format!("class {c}: {n}"))
                    .collect();
                println!("  {}", classes.join(", "));
            }
            Ok(())
        }
        Ok(Imported::Model(r)) => {
            let t = &r.tileset;
            let b = t.bounds;
            if a.json {
                let v = serde_json::json!({
                    "tileset": t.name, "kind": t.kind.name(), "format": "model", "tiles": t.tiles,
                    "triangles": t.triangles, "images": r.images, "placement": t.placement,
                    "bounds": b, "referenced": t.root.is_some(),
                    "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                });
                println!("{v}");
            } else {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                println!(
                    "tileset '{}': a model, {} triangles, {} images, content {}",
                    t.name,
                    t.triangles,
                    r.images,
                    content_where(t)
                );
                print_placement(t);
            }
            Ok(())
        }
        Ok(Imported::Photo(r)) => {
            let t = &r.tileset;
            let b = t.bounds;
            if a.json {
                let v = serde_json::json!({
                    "tileset": t.name, "kind": t.kind.name(), "format": "osgb", "tiles": t.tiles,
                    "triangles": t.triangles, "blocks": r.blocks, "absent_files": r.absent,
                    "placement": t.placement, "bounds": b, "referenced": t.root.is_some(),
                    "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                });
                println!("{v}");
            } else {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                println!(
                    "tileset '{}': oblique photography, {} block{}, {} tiles, {} triangles, content {}",
                    t.name,
                    r.blocks,
                    if r.blocks == 1 { "" } else { "s" },
                    t.tiles,
                    t.triangles,
                    content_where(t)
                );
                if r.absent > 0 {
                    println!(
                        "  {} finer files named by the pyramid are not there: it ends before them",
                        r.absent
                    );
                }
                print_placement(t);
            }
            Ok(())
        }
        Ok(Imported::Tiles(r)) => {
            let t = &r.tileset;
            let b = t.bounds;
            if a.json {
                let v = serde_json::json!({
                    "tileset": t.name, "kind": t.kind.name(), "version": r.version, "tiles": t.tiles,
                    "triangles": t.triangles, "points": t.points, "contents": r.contents,
                    "placement": t.placement, "bounds": b, "referenced": t.root.is_some(),
                    "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                });
                println!("{v}");
            } else {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                let contents: Vec<String> = r.contents.iter().map(|(k, n)| format!("{n} {k}")).collect();
                println!(
                    "tileset '{}': {} tiles ({}), {} triangles, {} points, content {}",
                    t.name,
                    t.tiles,
                    contents.join(", "),
                    t.triangles,
                    t.points,
                    content_where(t)
                );
                print_placement(t);
            }
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

/// Where a tileset's content is kept, in words.
fn content_where(t: &cim_engine::Tileset) -> &'static str {
    if t.root.is_some() {
        "referenced where it lies"
    } else {
        "packed into the project"
    }
}

/// How a tileset was placed and its bounds, under its summary line.
fn print_placement(t: &cim_engine::Tileset) {
    let b = t.bounds;
    println!("  placed: {}", t.placement);
    println!(
        "  bounds {:.3},{:.3},{:.3} .. {:.3},{:.3},{:.3} (project CRS)",
        b[0], b[1], b[2], b[3], b[4], b[5]
    );
}

/// `E,N,H[,rotation]` as four numbers (rotation 0 where not given).
fn parse_origin(s: &str) -> Result<[f64; 4]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("--origin {s}: expected E,N,H[,rotation] as numbers"))?;
    if !(3..=4).contains(&v.len()) || v.iter().any(|x| !x.is_finite()) {
        bail!("--origin {s}: expected E,N,H[,rotation] (three or four finite numbers)");
    }
    Ok([v[0], v[1], v[2], v.get(3).copied().unwrap_or(0.0)])
}

fn print_terrain(r: &TerrainReport, warnings: &[cim_importers::Warning], json: bool) {
    if json {
        let v = serde_json::json!({
            "terrain": r.name, "width": r.width, "height": r.height, "cell_m": r.cell_m,
            "min_m": r.min_m, "max_m": r.max_m, "valid_cells": r.valid_cells, "reprojected": r.reprojected,
            "warnings": warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        for w in warnings {
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
}
