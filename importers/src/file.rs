//! One entry point for `cim import`: [`detect`] recognises a file's format by its content (a
//! `.json` may be GeoJSON, JSON-FG or CityJSON; a `.gpkg` is checked to be SQLite; a renamed
//! GeoTIFF is still a GeoTIFF), falling back to its extension, and [`import_file`] hands it to
//! its reader and the pipeline that suits it.

use std::io::Read;
use std::path::Path;

use cim_engine::Project;

use crate::error::{ImportError, Result, Warning};
use crate::pipeline::{self, ImportOptions, ImportReport, TerrainReport};
use crate::vector::{self, SUPPORTED_FORMATS};

/// What a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    CityJson,
    /// JSON-FG with solid places (Polyhedron, MultiPolyhedron, Prism).
    JsonFg,
    CityGml,
    Shapefile,
    GeoPackage,
    FlatGeobuf,
    GeoTiff,
    OsmXml,
    OsmPbf,
    /// IFC in its STEP physical file form (IFC 2x3, 4, 4.3).
    Ifc,
    /// A SUMO road network (`.net.xml`, or gzipped).
    SumoNet,
    /// A LAS or LAZ point cloud.
    PointCloud,
    /// A 3D Tiles tileset (`tileset.json`, 1.0 or 1.1).
    Tiles3d,
    /// Oblique photography: a folder with `metadata.xml` and `Data/Tile_*/*.osgb`.
    Osgb,
    /// A glTF 2.0 model (`.glb`, or `.gltf` with its files), or an OBJ model with its MTL.
    Gltf,
    /// A 3-D format cim does not read yet (its name).
    NotYet(&'static str),
    /// Nothing cim knows (GDAL may, with the `gdal` feature).
    Unknown,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "GeoJSON",
            Format::CityJson => "CityJSON",
            Format::JsonFg => "JSON-FG",
            Format::CityGml => "CityGML",
            Format::Shapefile => "Shapefile",
            Format::GeoPackage => "GeoPackage",
            Format::FlatGeobuf => "FlatGeobuf",
            Format::GeoTiff => "GeoTIFF",
            Format::OsmXml => "OSM XML",
            Format::OsmPbf => "OSM PBF",
            Format::Ifc => "IFC",
            Format::SumoNet => "SUMO network",
            Format::PointCloud => "LAS/LAZ point cloud",
            Format::Tiles3d => "3D Tiles tileset",
            Format::Osgb => "OSGB oblique photography",
            Format::Gltf => "glTF/OBJ model",
            Format::NotYet(n) => n,
            Format::Unknown => "unknown",
        }
    }
}

/// The format of the file at `path`, by its first bytes and then its extension.
pub fn detect(path: &Path) -> Result<Format> {
    // Up to 1 MiB: a JSON file's "type" may follow a long metadata or appearance member.
    let mut head = Vec::with_capacity(1 << 20);
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .map_err(|e| ImportError::io(path, e))?;
    let by_content = sniff(&head);
    if by_content != Format::Unknown {
        return Ok(by_content);
    }
    Ok(by_extension(path))
}

/// The format the first bytes of a file show, or [`Format::Unknown`].
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"II+\0")
        || head.starts_with(b"MM\0+")
    {
        return Format::GeoTiff;
    }
    if head.starts_with(b"SQLite format 3\0") {
        return Format::GeoPackage;
    }
    if head.starts_with(b"fgb\x03") {
        return Format::FlatGeobuf;
    }
    if head.len() >= 4 && head[..4] == [0x00, 0x00, 0x27, 0x0a] {
        return Format::Shapefile;
    }
    if head.starts_with(b"LASF") {
        return Format::PointCloud;
    }
    if head.starts_with(b"glTF") {
        return Format::Gltf;
    }
    if head.starts_with(b"b3dm")
        || head.starts_with(b"i3dm")
        || head.starts_with(b"pnts")
        || head.starts_with(b"cmpt")
    {
        return Format::NotYet("3D Tiles content");
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        // Gzipped: what is inside (SUMO writes .net.xml.gz).
        let mut inner = Vec::with_capacity(8192);
        let _ = flate2::read::GzDecoder::new(head)
            .take(8192)
            .read_to_end(&mut inner);
        if crate::sumo::looks_like(&inner) {
            return Format::SumoNet;
        }
    }
    if head.windows(9).take(64).any(|w| w == b"OSMHeader") {
        return Format::OsmPbf;
    }
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("ISO-10303-21") {
        return Format::Ifc;
    }
    if t.starts_with('<') {
        if t.contains("<osm") {
            return Format::OsmXml;
        }
        if crate::sumo::looks_like(head) {
            return Format::SumoNet;
        }
        if crate::citymodel::citygml::looks_like(head) {
            return Format::CityGml;
        }
        if t.contains("<ifcXML") || t.contains("ifcXML") {
            return Format::NotYet("ifcXML");
        }
        return Format::Unknown;
    }
    if t.starts_with('{') || t.starts_with('[') {
        if crate::citymodel::cityjson::looks_like(head) {
            return Format::CityJson;
        }
        if crate::citymodel::jsonfg::looks_like(head) {
            return Format::JsonFg;
        }
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("\"asset\":{") && compact.contains("\"geometricError\"") {
            return Format::Tiles3d;
        }
        if compact.contains("\"asset\":{") && compact.contains("\"accessors\":[") {
            return Format::Gltf;
        }
        if compact.contains("\"type\":\"Feature")
            || compact.contains("\"features\":")
            || compact.contains("\"coordinates\":")
        {
            return Format::GeoJson;
        }
        return Format::GeoJson;
    }
    Format::Unknown
}

fn by_extension(path: &Path) -> Format {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let ends = |e: &str| name.ends_with(e);
    if ends(".tif") || ends(".tiff") {
        Format::GeoTiff
    } else if ends(".osm") {
        Format::OsmXml
    } else if ends(".pbf") {
        Format::OsmPbf
    } else if ends(".city.json") || ends(".city.jsonl") || ends(".jsonl") {
        Format::CityJson
    } else if ends(".geojson") || ends(".json") {
        Format::GeoJson
    } else if ends(".shp") {
        Format::Shapefile
    } else if ends(".gpkg") {
        Format::GeoPackage
    } else if ends(".fgb") {
        Format::FlatGeobuf
    } else if ends(".citygml") {
        // A `.gml` that is CityGML was recognised by its content; other GML is GDAL's.
        Format::CityGml
    } else if ends(".ifc") {
        Format::Ifc
    } else if ends(".ifczip") {
        Format::NotYet("ifcZIP (unzip it: cim reads the .ifc inside)")
    } else if ends(".las") || ends(".laz") {
        Format::PointCloud
    } else if ends(".osgb") {
        Format::NotYet("a single OSGB file (import its dataset's folder, the one with metadata.xml)")
    } else if ends(".glb") || ends(".gltf") || ends(".obj") {
        Format::Gltf
    } else if ends(".ply") || ends(".e57") {
        Format::NotYet("mesh")
    } else {
        Format::Unknown
    }
}

/// What an import did.
#[derive(Debug)]
pub enum Imported {
    /// Features (and their 3-D geometry) into layers.
    Features(ImportReport),
    /// A DEM into a terrain; the reader's warnings.
    Terrain(TerrainReport, Vec<Warning>),
    /// A point cloud into a tileset.
    Points(crate::pointcloud::PointCloudReport),
    /// A 3D Tiles tileset into a tileset.
    Tiles(crate::tiles3d::Tiles3dReport),
    /// Oblique photography into a tileset.
    Photo(crate::osgb::OsgbReport),
    /// A glTF model into a one-tile tileset.
    Model(crate::tiles3d::model::ModelReport),
}

/// Imports the file at `path` into `project`: recognises its format, reads it and runs the
/// pipeline that suits it, in one transaction. `progress` gets the records read so far.
pub fn import_file(
    project: &mut Project,
    path: &Path,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported> {
    if !path.exists() {
        return Err(ImportError::file(path, "no such file"));
    }
    // Oblique photography: the dataset's folder or its metadata.xml.
    if crate::osgb::looks_like(path)
        && (path.is_dir() || path.file_name().is_some_and(|n| n == "metadata.xml"))
    {
        if opts.as_terrain || opts.as_surface {
            return Err(ImportError::file(
                path,
                "--as-terrain and --as-surface take a LAS/LAZ point cloud; this is oblique photography",
            ));
        }
        let o = crate::osgb::OsgbOptions {
            name: opts.layer.clone(),
            reference: opts.reference,
            geoid_offset_m: opts.geoid_offset_m,
            strict: opts.strict,
        };
        return crate::osgb::import_osgb(project, path, &o).map(Imported::Photo);
    }
    // A folder: the tileset in it.
    let tileset_json;
    let path = if path.is_dir() {
        tileset_json = path.join("tileset.json");
        if !tileset_json.is_file() {
            return Err(ImportError::file(
                path,
                "a folder without a tileset.json (cim imports a folder as a 3D Tiles tileset)",
            ));
        }
        tileset_json.as_path()
    } else {
        path
    };
    let format = detect(path)?;
    if (opts.as_terrain || opts.as_surface) && format != Format::PointCloud {
        return Err(ImportError::file(
            path,
            "--as-terrain and --as-surface take a LAS/LAZ point cloud; this file is not one",
        ));
    }
    match format {
        Format::GeoTiff => {
            let dem = crate::terrain::read_geotiff(path)?;
            let crs = match (&opts.src_crs, dem.crs) {
                (Some(c), _) => c.clone(),
                (None, Some(c)) => c,
                (None, None) => {
                    return Err(ImportError::MissingCrs {
                        path: path.to_path_buf(),
                        reason: "no coordinate reference system in the GeoTIFF geokeys; pass --src-crs EPSG:xxxx"
                            .into(),
                    })
                }
            };
            let name = opts.layer.clone().unwrap_or_else(|| "terrain".to_string());
            let r = pipeline::import_terrain(project, path, dem.raster, &crs, &name, opts.cell_size)?;
            Ok(Imported::Terrain(r, dem.warnings))
        }
        Format::PointCloud if opts.as_terrain || opts.as_surface => {
            if opts.as_terrain && opts.as_surface {
                return Err(ImportError::file(
                    path,
                    "--as-terrain and --as-surface make two grids: import the file once for each",
                ));
            }
            let model = if opts.as_surface {
                crate::pointcloud::HeightModel::Surface
            } else {
                crate::pointcloud::HeightModel::Ground
            };
            let (r, warnings) = crate::pointcloud::import_height_grid(
                project,
                path,
                model,
                opts.layer.as_deref(),
                opts.src_crs.as_ref(),
                opts.cell_size,
            )?;
            Ok(Imported::Terrain(r, warnings))
        }
        Format::Gltf => crate::tiles3d::model::import_model(
            project,
            path,
            opts.layer.as_deref(),
            opts.origin,
            opts.src_crs.as_ref(),
            opts.reference,
        )
        .map(Imported::Model),
        Format::Osgb => Err(ImportError::file(path, "import the oblique photography dataset's folder (the one with metadata.xml)")),
        Format::Tiles3d => {
            let o = crate::tiles3d::Tiles3dOptions {
                name: opts.layer.clone(),
                reference: opts.reference,
                geoid_offset_m: opts.geoid_offset_m,
                origin: opts.origin,
                strict: opts.strict,
            };
            crate::tiles3d::import_3dtiles(project, path, &o).map(Imported::Tiles)
        }
        Format::PointCloud => {
            crate::pointcloud::import_point_cloud(project, path, opts.layer.as_deref(), opts.src_crs.as_ref())
                .map(Imported::Points)
        }
        Format::SumoNet => {
            let source = crate::sumo::read_sumo_net(path, opts.origin, opts.src_crs.as_ref(), project.crs())?;
            pipeline::import_vectors(project, vec![source], opts, progress).map(Imported::Features)
        }
        Format::OsmXml | Format::OsmPbf => {
            let sources = crate::osm::read_osm(path, &crate::osm::OsmOptions::default())?;
            pipeline::import_vectors(project, sources, opts, progress).map(Imported::Features)
        }
        Format::CityJson => {
            let model = crate::citymodel::cityjson::read_cityjson(path)?;
            crate::citymodel::import_city_model(project, model, opts).map(Imported::Features)
        }
        Format::CityGml => {
            // Streamed: batches of top-level objects go into one transaction as they are read.
            use crate::citymodel::CityModelWriter;
            let mut project = Some(project);
            let mut writer: Option<CityModelWriter> = None;
            let (head, warnings) = crate::citymodel::citygml::stream_citygml(path, &mut |head, objects| {
                if writer.is_none() {
                    if head.crs.is_none() && opts.src_crs.is_none() {
                        return Err(crate::ImportError::MissingCrs {
                            path: path.to_path_buf(),
                            reason: match &head.srs_name {
                                Some(s) => format!("its srsName '{s}' is not a CRS cim knows"),
                                None => "the file has no srsName".into(),
                            },
                        });
                    }
                    let p = project.take().ok_or_else(|| crate::ImportError::file(path, "internal: project taken twice"))?;
                    writer = Some(CityModelWriter::new(p, path, &head.format, head.crs.clone(), opts)?);
                }
                match writer.as_mut() {
                    Some(w) => w.write(objects, &head.paints),
                    None => Ok(()),
                }
            })?;
            let writer = match (writer, project) {
                (Some(w), _) => w,
                // No object at all: the writer reports that nothing was stored.
                (None, Some(p)) => CityModelWriter::new(p, path, &head.format, head.crs.clone(), opts)?,
                (None, None) => return Err(crate::ImportError::file(path, "internal: no project")),
            };
            writer.finish(warnings).map(Imported::Features)
        }
        Format::Ifc => {
            let read = crate::ifc::import::read_ifc(path, project.crs(), opts.origin, opts.src_crs.as_ref())?;
            if read.model.objects.is_empty() && !opts.allow_empty {
                let first = read.model.warnings.iter().find(|w| w.message.contains("left out"));
                return Err(ImportError::file(
                    path,
                    format!(
                        "no product has a 3-D body to import ({} placed by {}; alignments and other curve-only products are not imported yet){}",
                        read.schema,
                        read.placed.method,
                        first.map(|w| format!("; {}", w.message)).unwrap_or_default()
                    ),
                ));
            }
            // The model is placed in its own CRS already.
            let o = ImportOptions {
                src_crs: None,
                ..opts.clone()
            };
            let mut w = crate::citymodel::CityModelWriter::new(project, path, &read.model.format, read.model.crs.clone(), &o)?;
            w.write(read.model.objects, &read.model.paints)?;
            let model = cim_engine::BimModel {
                layer: w.base_layer().to_string(),
                file: path.display().to_string(),
                schema: read.schema.clone(),
                method: read.placed.method.clone(),
                crs: read.placed.crs.display_name().to_string(),
                origin: read.placed.origin,
                rotation_deg: read.placed.rotation_deg,
                scale: read.placed.scale,
                elements: (read.products - read.skipped) as u64,
                skipped: read.skipped as u64,
                classes: read.classes.iter().map(|(c, n)| (c.clone(), *n as u64)).collect(),
            };
            w.put_bim_model(&model)?;
            let mut report = w.finish(read.model.warnings)?;
            // Where that is in the project's CRS too, when the model states another.
            let project_crs = project.crs().clone();
            let there = if read.placed.crs.same_horizontal(&project_crs) {
                String::new()
            } else {
                let [e, n, _] = read.placed.origin;
                match cim_engine::Transform::new(&project_crs, &read.placed.crs).apply(e, n) {
                    Ok((x, y)) => format!(" = E {x:.3}, N {y:.3} in the project's {}", project_crs.display_name()),
                    Err(_) => String::new(),
                }
            };
            report.notes.push(format!("{} ({}): {}{there}", path.display(), read.schema, read.placed));
            report.notes.extend(read.notes.iter().map(|n| format!("{}: {n}", path.display())));
            Ok(Imported::Features(report))
        }
        Format::JsonFg => {
            let model = crate::citymodel::jsonfg::read_jsonfg(path)?;
            crate::citymodel::import_city_model(project, model, opts).map(Imported::Features)
        }
        Format::NotYet(what) => Err(ImportError::file(
            path,
            format!(
                "{what} is not imported yet (more 3-D city models, point clouds and meshes are coming); cim reads {SUPPORTED_FORMATS}"
            ),
        )),
        Format::GeoJson | Format::Shapefile | Format::GeoPackage | Format::FlatGeobuf | Format::Unknown => {
            let sources = match &opts.source_layer {
                Some(l) => vec![vector::open_vector_as(path, Some(l), format)?],
                None => {
                    let layers = vector::list_layers_as(path, format)?;
                    if layers.len() > 1 && opts.layer.is_some() {
                        return Err(ImportError::file(
                            path,
                            format!(
                                "has {} layers ({}); --layer needs --source-layer to pick one",
                                layers.len(),
                                layers.join(", ")
                            ),
                        ));
                    }
                    let mut v = Vec::new();
                    for l in &layers {
                        v.push(vector::open_vector_as(path, Some(l), format)?);
                    }
                    v
                }
            };
            pipeline::import_vectors(project, sources, opts, progress).map(Imported::Features)
        }
    }
}
