//! From a scenario and its project to a ready model: the grid cut from the terrain and
//! resampled, buildings burnt in, roughness, forcing in cells, the what-if modifications, and
//! the buildings and roads to report on.

use std::collections::BTreeMap;

use cim_engine::{AttrValue, Date, FeatureFilter, FeatureKind, Project, Raster};
use geo::{
    Contains, Coord, Distance, Euclidean, Geometry, InteriorPoint, Length, LineString, Point, Polygon,
};

use super::config::{EdgeConfig, Modification, ScenarioConfig};
use super::{
    Boundaries, Boundary, FloodGrid, FloodParams, Forcing, Inflow, Inlet, Interp, Manning, Rain, RoofSewer,
};
use crate::ScenarioError;

/// Bytes a cell of the run needs (see [`Simulation`](super::Simulation)), with a margin for the
/// grid being built and an output step being written.
pub const BYTES_PER_CELL: u64 = 32 + 8;

/// A building to report on: the open cells around its footprint (or the cell it stands in,
/// when it is smaller than a cell).
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedBuilding {
    pub code: String,
    pub cells: Vec<usize>,
}

/// A road (segment) to report on: the cells along it and its length.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedRoad {
    pub code: String,
    pub length_m: f64,
    pub cells: Vec<usize>,
}

/// Everything a flood run needs, in grid terms.
#[derive(Clone, Debug)]
pub struct PreparedFlood {
    pub config: ScenarioConfig,
    pub terrain: String,
    /// The terrain as stored when the run was prepared (recorded in the run's summary).
    pub terrain_info: cim_engine::TerrainInfo,
    pub grid: FloodGrid,
    pub forcing: Forcing,
    pub params: FloodParams,
    pub duration_s: f64,
    /// Times at which depth and velocity are written (the last is the end).
    pub output_times_s: Vec<f64>,
    pub buildings: Vec<WatchedBuilding>,
    pub roads: Vec<WatchedRoad>,
}

/// Builds the model of `config` on `project`. `memory_limit_bytes` bounds the grid (a domain
/// too fine for it is an error saying how much it would need).
pub fn prepare(
    config: &ScenarioConfig,
    project: &Project,
    memory_limit_bytes: u64,
) -> Result<PreparedFlood, ScenarioError> {
    let invalid = ScenarioError::invalid;
    let terrains = project.terrains()?;
    let terrain_name = match &config.domain.terrain {
        Some(t) => {
            if !terrains.iter().any(|x| &x.name == t) {
                return Err(invalid(format!(
                    "domain.terrain '{t}' is not in the project (terrains: {})",
                    names(terrains.iter().map(|x| x.name.as_str()))
                )));
            }
            t.clone()
        }
        None => match terrains.as_slice() {
            [one] => one.name.clone(),
            [] => {
                return Err(invalid(
                    "the project has no terrain: import a DEM first (cim import PROJECT dem.tif)".into(),
                ))
            }
            _ => {
                return Err(invalid(format!(
                    "the project has several terrains; name one in domain.terrain ({})",
                    names(terrains.iter().map(|x| x.name.as_str()))
                )))
            }
        },
    };
    let info = terrains
        .iter()
        .find(|t| t.name == terrain_name)
        .ok_or_else(|| invalid("terrain vanished".into()))?;
    let res = config.domain.resolution_m.unwrap_or(info.cell_w.min(info.cell_h));
    let extent = match config.domain.bbox {
        Some(b) => {
            let e = info.extent;
            if b[0] < e[0] - res || b[1] < e[1] - res || b[2] > e[2] + res || b[3] > e[3] + res {
                return Err(invalid(format!(
                    "domain.bbox {b:?} reaches outside terrain '{terrain_name}' ({:.1},{:.1} .. {:.1},{:.1})",
                    e[0], e[1], e[2], e[3]
                )));
            }
            b
        }
        None => info.extent,
    };
    let width = ((extent[2] - extent[0]) / res).round().max(1.0) as u64;
    let height = ((extent[3] - extent[1]) / res).round().max(1.0) as u64;
    let need = width * height * BYTES_PER_CELL;
    if need > memory_limit_bytes {
        return Err(invalid(format!(
            "a {res} m grid over the domain is {width}×{height} cells and would need {:.1} GiB; {:.1} GiB is available. \
             Choose a coarser domain.resolution_m or a smaller domain.bbox",
            need as f64 / (1u64 << 30) as f64,
            memory_limit_bytes as f64 / (1u64 << 30) as f64
        )));
    }
    let (width, height) = (width as usize, height as usize);
    let dem = project.terrain(&terrain_name)?;
    let z = resample(&dem, extent[0], extent[3], res, width, height);
    let mut grid = FloodGrid::new(
        width,
        height,
        (extent[0], extent[3]),
        (res, res),
        z,
        config.parameters.manning_n,
    );

    let as_of = match &config.domain.as_of {
        Some(d) => Some(Date::parse(d).map_err(|e| invalid(format!("domain.as_of: {e}")))?),
        None => None,
    };
    let layers = project.layers()?;
    let pick_layers =
        |given: &Option<Vec<String>>, kind: FeatureKind, what: &str| -> Result<Vec<String>, ScenarioError> {
            match given {
                Some(names) => {
                    for n in names {
                        if !layers.iter().any(|l| &l.name == n) {
                            return Err(invalid(format!(
                            "domain.{what} names layer '{n}', which the project does not have (layers: {})",
                            self::names(layers.iter().map(|l| l.name.as_str()))
                        )));
                        }
                    }
                    Ok(names.clone())
                }
                None => Ok(layers
                    .iter()
                    .filter(|l| l.kind == kind)
                    .map(|l| l.name.clone())
                    .collect()),
            }
        };
    let filter = |names: Vec<String>| FeatureFilter {
        layers: Some(names),
        bbox: Some(extent),
        as_of,
        ..Default::default()
    };

    // Buildings: project footprints less the removed ones, plus the added ones.
    let building_layers = pick_layers(
        &config.domain.building_layers,
        FeatureKind::Building,
        "building_layers",
    )?;
    // A BIM model's elements block water where they stand on the ground: those that reach
    // from at most 1 m above the terrain under them (its mean) to at least 0.5 m below it —
    // walls, doors, ground slabs — not the windows and roofs above them nor the footings below.
    // Each model is one watched building, reported by its largest element on the ground.
    let bim_layers: Vec<String> = project.bim_models()?.into_iter().map(|m| m.layer).collect();
    let mut model_of: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut footprints: Vec<(String, Geometry<f64>)> = if building_layers.is_empty() {
        Vec::new()
    } else {
        project
            .features(&filter(building_layers))?
            .into_iter()
            .filter(|s| {
                let Some(l) = s.feature.lod1.as_ref().filter(|_| bim_layers.contains(&s.layer)) else {
                    return true;
                };
                let under = cells_inside_geometry(&grid, &s.feature.geometry);
                let ground = under.iter().map(|&c| f64::from(grid.z[c])).sum::<f64>() / under.len() as f64;
                // Too small to cover a cell: by the cell it stands in.
                let ground = if ground.is_finite() {
                    ground
                } else {
                    match geo::Centroid::centroid(&s.feature.geometry)
                        .and_then(|c| grid.cell_at(c.x(), c.y()))
                    {
                        Some(c) => f64::from(grid.z[c]),
                        None => return false,
                    }
                };
                l.base_m <= ground + 1.0 && l.top_m() >= ground - 0.5
            })
            .map(|s| {
                if bim_layers.contains(&s.layer) {
                    model_of.insert(s.feature.code.as_str().to_string(), s.layer.clone());
                }
                (s.feature.code.as_str().to_string(), s.feature.geometry)
            })
            .collect()
    };
    let mut drainage = config.drainage.capacity_mm_per_h;
    let mut added = 0;
    for (k, m) in config.modify.iter().enumerate() {
        match m {
            Modification::RemoveBuilding { code } => {
                let before = footprints.len();
                footprints.retain(|(c, _)| c != code);
                if footprints.len() == before {
                    return Err(invalid(format!(
                        "modify #{}: remove_building '{code}': no building with that code in the domain",
                        k + 1
                    )));
                }
            }
            Modification::AddBuilding { polygon } => {
                added += 1;
                footprints.push((
                    format!("new-building-{added}"),
                    Geometry::Polygon(parse_polygon(polygon, k)?),
                ));
            }
            Modification::Drainage { capacity_mm_per_h } => drainage = *capacity_mm_per_h,
            Modification::Levee {
                line,
                width_m,
                raise_m,
                crest_m,
            } => {
                let ls = LineString::from(line.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>());
                let mut cells = cells_along(&grid, &ls);
                cells.extend(cells_near(&grid, &ls, width_m / 2.0));
                cells.sort_unstable();
                cells.dedup();
                if cells.is_empty() {
                    return Err(invalid(format!(
                        "modify #{}: the levee line is outside the domain",
                        k + 1
                    )));
                }
                for c in cells {
                    let z = &mut grid.z[c];
                    *z = match (raise_m, crest_m) {
                        (Some(r), _) => *z + *r as f32,
                        (None, Some(crest)) => z.max(*crest as f32),
                        (None, None) => *z,
                    };
                }
            }
            Modification::Pond {
                polygon,
                depth_m,
                bottom_m,
            } => {
                let poly = parse_polygon(polygon, k)?;
                let cells = cells_inside(&grid, &poly);
                if cells.is_empty() {
                    return Err(invalid(format!(
                        "modify #{}: the pond covers no cell centre of the domain",
                        k + 1
                    )));
                }
                for c in cells {
                    let z = &mut grid.z[c];
                    *z = match (depth_m, bottom_m) {
                        (Some(d), _) => *z - *d as f32,
                        (None, Some(b)) => z.min(*b as f32),
                        (None, None) => *z,
                    };
                }
            }
        }
    }
    let mut building_cells: Vec<(String, Vec<usize>)> = Vec::with_capacity(footprints.len());
    for (code, g) in &footprints {
        let cells = cells_inside_geometry(&grid, g);
        for &c in &cells {
            grid.blocked[c] = true;
        }
        building_cells.push((code.clone(), cells));
    }
    // A BIM model's elements: their cells together, under the code of the one covering most.
    let mut models: std::collections::BTreeMap<String, (String, usize, Vec<usize>)> =
        std::collections::BTreeMap::new();
    building_cells.retain(|(code, cells)| {
        let Some(layer) = model_of.get(code) else {
            return true;
        };
        let m = models
            .entry(layer.clone())
            .or_insert_with(|| (code.clone(), 0, Vec::new()));
        if cells.len() > m.1 {
            m.0 = code.clone();
            m.1 = cells.len();
        }
        m.2.extend(cells.iter().copied());
        false
    });
    footprints.retain(|(code, _)| !model_of.contains_key(code));
    let mut model_buildings: Vec<WatchedBuilding> = Vec::new();
    for (_, (code, _, mut cells)) in models {
        cells.sort_unstable();
        cells.dedup();
        let watch = ring_around(&grid, &cells);
        if !watch.is_empty() {
            model_buildings.push(WatchedBuilding { code, cells: watch });
        }
    }
    let buildings = building_cells
        .into_iter()
        .zip(&footprints)
        .filter_map(|((code, cells), (_, g))| {
            let watch = if cells.is_empty() {
                g.interior_point()
                    .and_then(|p| grid.cell_at(p.x(), p.y()))
                    .into_iter()
                    .collect()
            } else {
                ring_around(&grid, &cells)
            };
            (!watch.is_empty()).then_some(WatchedBuilding { code, cells: watch })
        })
        .chain(model_buildings)
        .collect();

    // Roughness from polygons, if asked.
    if let (Some(layer), Some(attr)) = (
        &config.parameters.manning_layer,
        &config.parameters.manning_attribute,
    ) {
        grid.manning = manning_classes(project, &grid, layer, attr, config.parameters.manning_n, &filter)?;
    }

    // Roads.
    let road_layers = pick_layers(&config.domain.road_layers, FeatureKind::Road, "road_layers")?;
    let mut roads = Vec::new();
    if !road_layers.is_empty() {
        for s in project.features(&filter(road_layers))? {
            let (cells, length_m) = match &s.feature.geometry {
                Geometry::LineString(l) => (cells_along(&grid, l), Euclidean.length(l)),
                Geometry::MultiLineString(ml) => (
                    ml.0.iter().flat_map(|l| cells_along(&grid, l)).collect(),
                    ml.0.iter().map(|l| Euclidean.length(l)).sum(),
                ),
                g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_)) => {
                    (cells_inside_geometry(&grid, g), 0.0)
                }
                _ => continue,
            };
            let mut cells: Vec<usize> = cells.into_iter().filter(|&c| !grid.blocked[c]).collect();
            cells.sort_unstable();
            cells.dedup();
            if !cells.is_empty() {
                roads.push(WatchedRoad {
                    code: s.feature.code.as_str().to_string(),
                    length_m,
                    cells,
                });
            }
        }
    }

    let forcing = forcing(config, &grid, drainage)?;
    let p = &config.parameters;
    let params = FloodParams {
        alpha: p.alpha,
        theta: p.theta,
        dt_max_s: p.dt_max_s,
        h_dry_m: p.wet_dry_m,
        threads: p.threads,
    };
    let duration_s = config.time.duration_min * 60.0;
    let every = config.time.output_interval_min * 60.0;
    let mut output_times_s: Vec<f64> = (1..)
        .map(|k| k as f64 * every)
        .take_while(|&t| t < duration_s - 1e-6)
        .collect();
    output_times_s.push(duration_s);
    grid.validate()?;
    Ok(PreparedFlood {
        config: config.clone(),
        terrain: terrain_name,
        terrain_info: info.clone(),
        grid,
        forcing,
        params,
        duration_s,
        output_times_s,
        buildings,
        roads,
    })
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The terrain on the model grid: the mean of the DEM cells inside each model cell when the
/// model is as coarse as the DEM or coarser, bilinear in between DEM cells when finer.
fn resample(dem: &Raster, origin_x: f64, origin_y: f64, res: f64, width: usize, height: usize) -> Vec<f32> {
    let mut z = Vec::with_capacity(width * height);
    let coarse = res >= dem.cell_w.min(dem.cell_h) * 0.999;
    for j in 0..height {
        for i in 0..width {
            let (x0, y1) = (origin_x + i as f64 * res, origin_y - j as f64 * res);
            let v = if coarse {
                block_mean(dem, x0, y1 - res, x0 + res, y1)
            } else {
                dem.sample(x0 + 0.5 * res, y1 - 0.5 * res).map(|v| v as f32)
            };
            z.push(v.unwrap_or(f32::NAN));
        }
    }
    z
}

/// Mean of the DEM cells whose centres fall in `[x0, x1) × [y0, y1)`; the nearest cell when
/// none does; `None` when all are missing.
fn block_mean(dem: &Raster, x0: f64, y0: f64, x1: f64, y1: f64) -> Option<f32> {
    let c0 = ((x0 - dem.origin_x) / dem.cell_w - 0.5).ceil().max(0.0) as usize;
    let c1 = ((x1 - dem.origin_x) / dem.cell_w - 0.5).ceil().max(0.0) as usize;
    let r0 = ((dem.origin_y - y1) / dem.cell_h - 0.5).ceil().max(0.0) as usize;
    let r1 = ((dem.origin_y - y0) / dem.cell_h - 0.5).ceil().max(0.0) as usize;
    let (mut sum, mut n) = (0.0f64, 0u32);
    for r in r0..r1.min(dem.height) {
        for c in c0..c1.min(dem.width) {
            if let Some(v) = dem.get(c, r) {
                sum += f64::from(v);
                n += 1;
            }
        }
    }
    if n > 0 {
        Some((sum / f64::from(n)) as f32)
    } else {
        dem.sample(0.5 * (x0 + x1), 0.5 * (y0 + y1)).map(|v| v as f32)
    }
}

fn parse_polygon(text: &str, k: usize) -> Result<Polygon<f64>, ScenarioError> {
    let bad = |why: String| ScenarioError::invalid(format!("modify #{}: polygon '{text}': {why}", k + 1));
    let parsed: wkt::Wkt<f64> = text.parse().map_err(|e: &str| bad(e.to_string()))?;
    match Geometry::try_from(parsed) {
        Ok(Geometry::Polygon(p)) => Ok(p),
        Ok(_) => Err(bad("not a POLYGON".into())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The cells of the grid whose centre lies in a polygon.
fn cells_inside(grid: &FloodGrid, poly: &Polygon<f64>) -> Vec<usize> {
    cells_inside_geometry(grid, &Geometry::Polygon(poly.clone()))
}

fn cells_inside_geometry(grid: &FloodGrid, g: &Geometry<f64>) -> Vec<usize> {
    use geo::BoundingRect;
    let Some(b) = g.bounding_rect() else {
        return Vec::new();
    };
    let (i0, i1) = col_range(grid, b.min().x, b.max().x);
    let (j0, j1) = row_range(grid, b.min().y, b.max().y);
    let mut out = Vec::new();
    for j in j0..j1 {
        for i in i0..i1 {
            let c = j * grid.width + i;
            let (x, y) = grid.cell_centre(c);
            if g.contains(&Point::new(x, y)) {
                out.push(c);
            }
        }
    }
    out
}

fn col_range(grid: &FloodGrid, x0: f64, x1: f64) -> (usize, usize) {
    let a = ((x0 - grid.origin_x) / grid.dx - 0.5).ceil().max(0.0) as usize;
    let b = (((x1 - grid.origin_x) / grid.dx - 0.5).floor() + 1.0).max(0.0) as usize;
    (a.min(grid.width), b.min(grid.width))
}

fn row_range(grid: &FloodGrid, y0: f64, y1: f64) -> (usize, usize) {
    let a = ((grid.origin_y - y1) / grid.dy - 0.5).ceil().max(0.0) as usize;
    let b = (((grid.origin_y - y0) / grid.dy - 0.5).floor() + 1.0).max(0.0) as usize;
    (a.min(grid.height), b.min(grid.height))
}

/// The cells a line passes through (sampled every quarter cell), in order, without repeats.
fn cells_along(grid: &FloodGrid, line: &LineString<f64>) -> Vec<usize> {
    let step = 0.25 * grid.dx.min(grid.dy);
    let mut out: Vec<usize> = Vec::new();
    for seg in line.lines() {
        let (a, b) = (seg.start, seg.end);
        let len = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 0..=n {
            let t = k as f64 / n as f64;
            if let Some(c) = grid.cell_at(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)) {
                if out.last() != Some(&c) && !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The cells whose centre is within `dist` of a line.
fn cells_near(grid: &FloodGrid, line: &LineString<f64>, dist: f64) -> Vec<usize> {
    use geo::BoundingRect;
    if dist <= 0.0 {
        return Vec::new();
    }
    let Some(b) = line.bounding_rect() else {
        return Vec::new();
    };
    let (i0, i1) = col_range(grid, b.min().x - dist, b.max().x + dist);
    let (j0, j1) = row_range(grid, b.min().y - dist, b.max().y + dist);
    let mut out = Vec::new();
    for j in j0..j1 {
        for i in i0..i1 {
            let c = j * grid.width + i;
            let (x, y) = grid.cell_centre(c);
            if Euclidean.distance(&Point::new(x, y), line) <= dist {
                out.push(c);
            }
        }
    }
    out
}

/// The open cells that touch a set of building cells (4-neighbours), sorted.
fn ring_around(grid: &FloodGrid, cells: &[usize]) -> Vec<usize> {
    let (w, h) = (grid.width, grid.height);
    let mut out = Vec::new();
    for &c in cells {
        let (i, j) = (c % w, c / w);
        let mut near = |n: usize| {
            if !grid.blocked[n] {
                out.push(n);
            }
        };
        if i > 0 {
            near(c - 1);
        }
        if i + 1 < w {
            near(c + 1);
        }
        if j > 0 {
            near(c - w);
        }
        if j + 1 < h {
            near(c + w);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn manning_classes(
    project: &Project,
    grid: &FloodGrid,
    layer: &str,
    attr: &str,
    default_n: f64,
    filter: &dyn Fn(Vec<String>) -> FeatureFilter,
) -> Result<Manning, ScenarioError> {
    let info = project.layer(layer).map_err(|_| {
        ScenarioError::invalid(format!(
            "parameters.manning_layer '{layer}' is not in the project"
        ))
    })?;
    if !info.fields.iter().any(|f| f.name == attr) {
        return Err(ScenarioError::invalid(format!(
            "parameters.manning_attribute '{attr}' is not a field of layer '{layer}' (fields: {})",
            names(info.fields.iter().map(|f| f.name.as_str()))
        )));
    }
    let mut n_of_class = vec![default_n];
    let mut class_of_value = BTreeMap::<u64, u8>::new();
    let mut class_of_cell = vec![0u8; grid.num_cells()];
    for s in project.features(&filter(vec![layer.to_string()]))? {
        let n = match s.feature.attributes.get(attr) {
            Some(AttrValue::Real(v)) => *v,
            Some(AttrValue::Int(v)) => *v as f64,
            Some(AttrValue::Null) | None => continue,
            Some(other) => {
                return Err(ScenarioError::invalid(format!(
                "parameters.manning_attribute '{attr}' of {} in layer '{layer}' is not a number ({other:?})",
                s.feature.code.as_str()
            )))
            }
        };
        let class = match class_of_value.get(&n.to_bits()) {
            Some(&c) => c,
            None => {
                if n_of_class.len() == 256 {
                    return Err(ScenarioError::invalid(format!(
                        "layer '{layer}' gives more than 255 different values of '{attr}'; round them"
                    )));
                }
                n_of_class.push(n);
                let c = (n_of_class.len() - 1) as u8;
                class_of_value.insert(n.to_bits(), c);
                c
            }
        };
        for c in cells_inside_geometry(grid, &s.feature.geometry) {
            class_of_cell[c] = class;
        }
    }
    Ok(Manning::Classes {
        class_of_cell,
        n_of_class,
    })
}

fn forcing(config: &ScenarioConfig, grid: &FloodGrid, drainage: f64) -> Result<Forcing, ScenarioError> {
    let invalid = ScenarioError::invalid;
    let outside = |what: &str, x: f64, y: f64| {
        let e = [
            grid.origin_x,
            grid.origin_y - grid.height as f64 * grid.dy,
            grid.origin_x + grid.width as f64 * grid.dx,
            grid.origin_y,
        ];
        invalid(format!(
            "{what} at ({x}, {y}) is outside the domain ({:.1},{:.1} .. {:.1},{:.1})",
            e[0], e[1], e[2], e[3]
        ))
    };
    let rain = match &config.rain {
        None => Rain::none(),
        Some(r) => {
            let mut series = vec![r.hyetograph()?.to_series(Interp::Step, "rain.mm_per_h")?];
            let mut zone_of_cell = None;
            for (k, z) in r.zone.iter().enumerate() {
                if k >= 255 {
                    return Err(invalid("at most 255 rain zones".into()));
                }
                let poly = parse_polygon(&z.polygon, k)
                    .map_err(|e| invalid(format!("rain zone '{}': {e}", z.name)))?;
                series.push(
                    z.mm_per_h
                        .to_series(Interp::Step, &format!("rain zone '{}'", z.name))?,
                );
                let zones = zone_of_cell.get_or_insert_with(|| vec![0u8; grid.num_cells()]);
                for c in cells_inside(grid, &poly) {
                    zones[c] = (k + 1) as u8;
                }
            }
            Rain {
                zone_of_cell,
                mm_per_h: series,
            }
        }
    };
    let mut inflows = Vec::new();
    for f in &config.inflow {
        let what = format!("inflow '{}'", f.name);
        let cells: Vec<usize> = match (&f.point, &f.line) {
            (Some([x, y]), None) => vec![grid.cell_at(*x, *y).ok_or_else(|| outside(&what, *x, *y))?],
            (None, Some(line)) if line.len() >= 2 => {
                let ls = LineString::from(
                    line.iter()
                        .map(|p| Coord { x: p[0], y: p[1] })
                        .collect::<Vec<_>>(),
                );
                let cells: Vec<usize> = cells_along(grid, &ls)
                    .into_iter()
                    .filter(|&c| !grid.blocked[c])
                    .collect();
                if cells.is_empty() {
                    return Err(outside(&what, line[0][0], line[0][1]));
                }
                cells
            }
            _ => {
                return Err(invalid(format!(
                    "{what} needs a point or a line of at least two points"
                )))
            }
        };
        if cells.iter().any(|&c| grid.blocked[c]) {
            return Err(invalid(format!("{what} falls inside a building")));
        }
        let series = f.m3_per_s.to_series(Interp::Linear, &what)?;
        if series.min_value() < 0.0 {
            return Err(invalid(format!("{what} has a negative discharge")));
        }
        inflows.push(Inflow {
            name: f.name.clone(),
            cells,
            m3_per_s: series,
        });
    }
    let mut inlets = Vec::new();
    for i in &config.drainage.inlet {
        let [x, y] = i.point;
        let cell = grid
            .cell_at(x, y)
            .ok_or_else(|| outside(&format!("inlet '{}'", i.name), x, y))?;
        inlets.push(Inlet {
            name: i.name.clone(),
            cell,
            capacity_m3_per_s: i.capacity_m3_per_s,
        });
    }
    let b = &config.boundary;
    let edge = |e: &Option<EdgeConfig>, name: &str| -> Result<Boundary, ScenarioError> {
        match e.as_ref().unwrap_or(&b.default) {
            EdgeConfig::Named(n) if n == "closed" => Ok(Boundary::Closed),
            EdgeConfig::Named(n) if n == "free" => Ok(Boundary::Free { slope: b.free_slope }),
            EdgeConfig::Named(n) => Err(invalid(format!(
                "boundary.{name} '{n}' is not known (closed, free, or {{ level = ... }})"
            ))),
            EdgeConfig::Level { level } => Ok(Boundary::Level(
                level.to_series(Interp::Linear, &format!("boundary.{name}.level"))?,
            )),
        }
    };
    let boundaries = Boundaries {
        north: edge(&b.north, "north")?,
        south: edge(&b.south, "south")?,
        east: edge(&b.east, "east")?,
        west: edge(&b.west, "west")?,
    };
    let forcing = Forcing {
        rain,
        inflows,
        drainage_mm_per_h: drainage,
        inlets,
        boundaries,
        roof_sewer: RoofSewer {
            share: config.drainage.roofs_to_sewer,
            capacity_mm_per_h: config.drainage.roof_capacity_mm_per_h.unwrap_or(drainage),
        },
    };
    forcing.validate(grid.num_cells())?;
    Ok(forcing)
}
