use super::{open_project, parse_date};
use crate::output::{feature_collection, print_table};
use anyhow::{bail, Context, Result};
use cim_engine::{
    CityCode, Classification, Crs, FeatureFilter, FeatureKind, Project, StoredFeature, Transform,
};
use clap::{Args, ValueEnum};
use geo::{Distance, Euclidean, Intersects};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Geojson,
}

#[derive(Args)]
pub struct QueryArgs {
    pub project: PathBuf,
    /// Box: minx,miny,maxx,maxy.
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// Point x,y: with --radius, features within that distance; with --nearest, the k nearest.
    #[arg(long, allow_hyphen_values = true)]
    pub point: Option<String>,
    /// Radius in metres around --point.
    #[arg(long)]
    pub radius: Option<f64>,
    /// The k nearest features to --point (exact distance to their geometry).
    #[arg(long)]
    pub nearest: Option<usize>,
    /// Polygon in WKT: features intersecting it.
    #[arg(long)]
    pub polygon: Option<String>,
    /// A city code.
    #[arg(long)]
    pub code: Option<String>,
    /// CRS of --bbox/--point/--polygon (default: the project CRS), e.g. EPSG:4326.
    #[arg(long)]
    pub query_crs: Option<String>,
    /// Only these layers (repeatable).
    #[arg(long)]
    pub layer: Vec<String>,
    /// Only this kind (repeatable).
    #[arg(long)]
    pub kind: Vec<FeatureKind>,
    /// The city as it was on this date (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Attribute conditions joined by AND: "ifc_class = 'IfcWindow' AND storey = 'Level 1'",
    /// "height > 20", "name LIKE 'Wall%'", "storey IS NULL".
    #[arg(long = "where")]
    pub where_: Option<String>,
    /// Highest classification to show: public, internal or restricted (default: all).
    #[arg(long)]
    pub max_class: Option<Classification>,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Same as --format geojson.
    #[arg(long)]
    pub json: bool,
    /// GeoJSON coordinates in WGS 84 longitude/latitude (RFC 7946) instead of the project CRS.
    #[arg(long)]
    pub wgs84: bool,
}

fn numbers(text: &str, n: usize, what: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what} '{text}': expected {n} comma-separated numbers"))?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        bail!("{what} '{text}': expected {n} comma-separated finite numbers");
    }
    Ok(v)
}

/// The query region in the project CRS.
enum Region {
    All,
    Bbox([f64; 4]),
    Circle([f64; 2], f64),
    Nearest([f64; 2], usize),
    Polygon(geo::Polygon<f64>),
}

fn region(a: &QueryArgs, project: &Project) -> Result<Region> {
    let to_project = match &a.query_crs {
        Some(c) => Some(Transform::new(
            project.crs(),
            &Crs::parse(c).with_context(|| format!("--query-crs {c}"))?,
        )),
        None => None,
    };
    let tr = |x: f64, y: f64| -> Result<[f64; 2]> {
        match &to_project {
            Some(t) => t.apply(x, y).map(|(x, y)| [x, y]).map_err(Into::into),
            None => Ok([x, y]),
        }
    };
    let given = [a.bbox.is_some(), a.point.is_some(), a.polygon.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given > 1 {
        bail!("give only one of --bbox, --point, --polygon");
    }
    if let Some(b) = &a.bbox {
        let v = numbers(b, 4, "--bbox")?;
        let (p, q) = (tr(v[0], v[1])?, tr(v[2], v[3])?);
        if v[0] > v[2] || v[1] > v[3] {
            bail!("--bbox '{b}': expected minx,miny,maxx,maxy with min ≤ max");
        }
        return Ok(Region::Bbox([
            p[0].min(q[0]),
            p[1].min(q[1]),
            p[0].max(q[0]),
            p[1].max(q[1]),
        ]));
    }
    if let Some(p) = &a.point {
        let v = numbers(p, 2, "--point")?;
        let xy = tr(v[0], v[1])?;
        return match (a.radius, a.nearest) {
            (Some(r), None) if r >= 0.0 => Ok(Region::Circle(xy, r)),
            (None, Some(k)) if k > 0 => Ok(Region::Nearest(xy, k)),
            _ => bail!("--point needs either --radius R (metres, ≥ 0) or --nearest K (K ≥ 1)"),
        };
    }
    if let Some(w) = &a.polygon {
        use wkt::TryFromWkt;
        let mut poly = geo::Polygon::<f64>::try_from_wkt_str(w)
            .map_err(|e| anyhow::anyhow!("--polygon: not a WKT POLYGON: {e}"))?;
        if let Some(t) = &to_project {
            let mut g = geo::Geometry::Polygon(poly);
            t.apply_geometry(&mut g)?;
            poly = match g {
                geo::Geometry::Polygon(p) => p,
                _ => bail!("--polygon: transform changed the geometry type"),
            };
        }
        return Ok(Region::Polygon(poly));
    }
    if a.radius.is_some() || a.nearest.is_some() {
        bail!("--radius and --nearest need --point");
    }
    Ok(Region::All)
}

pub fn run(a: QueryArgs) -> Result<()> {
    let project = open_project(&a.project)?;
    let mut filter = FeatureFilter {
        layers: (!a.layer.is_empty()).then(|| a.layer.clone()),
        kinds: (!a.kind.is_empty()).then(|| a.kind.clone()),
        as_of: parse_date(&a.as_of)?,
        max_classification: a.max_class,
        conditions: match &a.where_ {
            Some(w) => cim_engine::parse_conditions(w)?,
            None => Vec::new(),
        },
        ..Default::default()
    };
    for l in &a.layer {
        project.layer(l)?;
    }
    let features = if let Some(code) = &a.code {
        let code = CityCode::parse(code)?;
        let found = project.feature(&code)?;
        let Some(f) = found else {
            bail!("no feature with city code {code}")
        };
        let as_of_ok = filter.as_of.is_none_or(|d| f.feature.validity.contains(d));
        if as_of_ok {
            vec![f]
        } else {
            Vec::new()
        }
    } else {
        let region = region(&a, &project)?;
        match region {
            Region::All => {
                filter.limit = a.limit;
                project.features(&filter)?
            }
            Region::Bbox(b) => {
                filter.bbox = Some(b);
                filter.limit = a.limit;
                project.features(&filter)?
            }
            Region::Circle(c, r) => {
                filter.bbox = Some([c[0] - r, c[1] - r, c[0] + r, c[1] + r]);
                let p = geo::Geometry::Point(geo::Point::new(c[0], c[1]));
                let mut v: Vec<StoredFeature> = project
                    .features(&filter)?
                    .into_iter()
                    .filter(|s| Euclidean.distance(&p, &s.feature.geometry) <= r)
                    .collect();
                v.truncate(a.limit.unwrap_or(usize::MAX));
                v
            }
            Region::Polygon(poly) => {
                use geo::BoundingRect;
                let Some(r) = poly.bounding_rect() else {
                    bail!("--polygon is empty")
                };
                filter.bbox = Some([r.min().x, r.min().y, r.max().x, r.max().y]);
                let mut v: Vec<StoredFeature> = project
                    .features(&filter)?
                    .into_iter()
                    .filter(|s| poly.intersects(&s.feature.geometry))
                    .collect();
                v.truncate(a.limit.unwrap_or(usize::MAX));
                v
            }
            Region::Nearest(c, k) => nearest(&project, &filter, c, k)?,
        }
    };
    // One feature asked for by its code: its 3-D geometry too, surface by surface.
    let reps = match (&a.code, features.first()) {
        (Some(_), Some(f)) => project.representations(&f.feature.code)?,
        _ => Vec::new(),
    };
    match (a.json, a.format) {
        (true, _) | (_, Format::Geojson) => {
            let to_wgs84 = if a.wgs84 {
                Some(Transform::new(&Crs::from_epsg(4326)?, project.crs()))
            } else {
                None
            };
            let mut fc = feature_collection(&features, project.crs().epsg(), to_wgs84.as_ref())?;
            if !reps.is_empty() {
                // A foreign member (RFC 7946 §6.1): readers that do not know it skip it.
                fc["cim_representations"] = serde_json::Value::Array(
                    reps.iter()
                        .map(|r| {
                            let surfaces: serde_json::Map<String, serde_json::Value> = r
                                .mesh
                                .areas_by_class()
                                .into_iter()
                                .map(|(c, area)| (c.name().to_string(), serde_json::json!(area)))
                                .collect();
                            serde_json::json!({"lod": r.lod, "kind": r.kind.name(), "faces": r.mesh.face_count(),
                                "triangles": r.mesh.triangle_count(), "surface_area_m2": surfaces})
                        })
                        .collect(),
                );
            }
            println!("{fc}");
        }
        (false, Format::Table) => {
            print_table(&features);
            for r in &reps {
                let areas: Vec<String> = r
                    .mesh
                    .areas_by_class()
                    .into_iter()
                    .map(|(c, area)| format!("{} {area:.1} m²", c.name()))
                    .collect();
                println!(
                    "3-D: LoD {} {}: {} faces, {} triangles; {}",
                    if r.lod.is_empty() { "-" } else { r.lod.as_str() },
                    r.kind.name(),
                    r.mesh.face_count(),
                    r.mesh.triangle_count(),
                    areas.join(", ")
                );
            }
            eprintln!("{} feature(s)", features.len());
        }
    }
    Ok(())
}

/// The k nearest features by exact distance, searching boxes that grow ×4 until k are found
/// within the searched radius (so the answer is exact, not box-approximate). Ties: by code.
fn nearest(project: &Project, base: &FeatureFilter, c: [f64; 2], k: usize) -> Result<Vec<StoredFeature>> {
    let p = geo::Geometry::Point(geo::Point::new(c[0], c[1]));
    let total = project.count(base)?;
    let mut r = 50.0;
    loop {
        let filter = FeatureFilter {
            bbox: Some([c[0] - r, c[1] - r, c[0] + r, c[1] + r]),
            ..base.clone()
        };
        let mut v: Vec<(f64, StoredFeature)> = project
            .features(&filter)?
            .into_iter()
            .map(|s| (Euclidean.distance(&p, &s.feature.geometry), s))
            .collect();
        v.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| a.1.feature.code.cmp(&b.1.feature.code))
        });
        let enough = v.len() >= k && v[k - 1].0 <= r;
        if enough || v.len() as u64 >= total || r > 1.0e8 {
            v.truncate(k);
            return Ok(v.into_iter().map(|(_, s)| s).collect());
        }
        r *= 4.0;
    }
}
