//! A stored flood run over the city: the water depth at a time as a translucent surface coloured
//! by depth, and buildings coloured by how deep they flooded. Plain data (read from the run's
//! rasters and tables), so it is tested without a GPU.

use cim_engine::{Raster, RunBuilding, RunRaster, RunRoad};

use crate::model::source::{run_named, DataSource};

use crate::model::load::SceneData;
use crate::model::scene::{ground, LocalOrigin, MeshData};

/// Shallower water is not drawn, m.
pub const MIN_DRAWN_DEPTH_M: f32 = 0.01;

/// A run's depth frames: (time s, where the raster is), in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFrames {
    pub name: String,
    pub frames: Vec<(f64, RunRaster)>,
}

impl RunFrames {
    /// The frames of run `name`: a clear error naming the run (and the runs there are) when it
    /// is missing or has no depth frames.
    pub async fn load(source: &dyn DataSource, name: &str) -> anyhow::Result<RunFrames> {
        run_named(source, name).await?;
        let frames: Vec<(f64, RunRaster)> = source
            .run_rasters(name.to_string())
            .await?
            .into_iter()
            .filter(|r| r.quantity == "depth")
            .filter_map(|r| Some((r.time_s?, r)))
            .collect();
        if frames.is_empty() {
            anyhow::bail!(
                "run '{name}' has no depth frames in {} (it may have stopped before its first output time)",
                source.label()
            );
        }
        Ok(RunFrames {
            name: name.to_string(),
            frames,
        })
    }

    /// Frames at `times` that no project holds (for tests of what does not read them).
    #[cfg(test)]
    pub(crate) fn fake(name: &str, times: &[f64]) -> RunFrames {
        RunFrames {
            name: name.into(),
            frames: times
                .iter()
                .map(|&t| {
                    let raster = RunRaster {
                        quantity: "depth".into(),
                        time_s: Some(t),
                        at: cim_engine::RunRasterAt::Coverage(format!("t{t}")),
                    };
                    (t, raster)
                })
                .collect(),
        }
    }

    /// The frame shown at time `t_s`: the last one at or before it (the first before any).
    pub fn index_at(&self, t_s: f64) -> usize {
        self.frames.iter().rposition(|f| f.0 <= t_s).unwrap_or(0)
    }

    /// The depth raster of frame `k`.
    pub async fn depth(&self, source: &dyn DataSource, k: usize) -> anyhow::Result<Raster> {
        let (_, raster) = self
            .frames
            .get(k)
            .ok_or_else(|| anyhow::anyhow!("run '{}': no frame {k}", self.name))?;
        source
            .run_raster(raster.clone())
            .await
            .map_err(|e| anyhow::anyhow!("run '{}': {e:#}", self.name))
    }
}

/// Why run `name`'s water may not fit the scene now, if it may not: one line for the UI. The run
/// records the terrain it was made on; the project's terrain may since have been re-imported
/// or removed, or the run's domain may lie outside what the scene shows. `None` when it fits
/// (or when the run is older than that record and its domain overlaps the scene).
pub async fn terrain_notice(
    source: &dyn DataSource,
    scene: &SceneData,
    frames: &RunFrames,
) -> anyhow::Result<Option<String>> {
    let name = &frames.name;
    let run = run_named(source, name).await?;
    let recorded = cim_engine::RunSummary::of(&run).terrain;
    if let Some(was) = recorded {
        let now = source.terrains().await?.into_iter().find(|t| t.name == was.name);
        match now {
            None => {
                return Ok(Some(format!(
                    "run '{name}' was made on terrain '{}', which is no longer in the project: its water is drawn over the ground shown",
                    was.name
                )))
            }
            Some(now) if !now.same_cells(&was) => {
                return Ok(Some(format!(
                    "terrain '{}' has changed since run '{name}' was made: its water is drawn on the new ground and may not fit it",
                    was.name
                )))
            }
            Some(_) => {}
        }
    }
    let e = frames.depth(source, 0).await?.extent();
    let s = scene.extent;
    if e[2] < s[0] || e[0] > s[2] || e[3] < s[1] || e[1] > s[3] {
        return Ok(Some(format!(
            "run '{name}' covers {:.0},{:.0} .. {:.0},{:.0}, outside the scene: its water is not in view",
            e[0], e[1], e[2], e[3]
        )));
    }
    Ok(None)
}

/// Depth bands of the water's colours: their upper bounds, m, and their sRGB colours (light
/// sky blue to purple, each band plainly apart from the next, so a report can be read by them).
const DEPTH_BANDS: [(f32, [u8; 3]); 5] = [
    (0.15, [110, 190, 255]),
    (0.30, [40, 130, 245]),
    (0.50, [20, 70, 200]),
    (1.00, [45, 30, 160]),
    (f32::INFINITY, [100, 10, 115]),
];

/// An sRGB channel as linear light.
pub(crate) fn linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear RGBA of water `depth_m` deep: its band's colour ([`DEPTH_BANDS`]), more opaque the
/// deeper.
pub fn depth_color(depth_m: f32) -> [f32; 4] {
    let k = DEPTH_BANDS
        .iter()
        .position(|(top, _)| depth_m < *top)
        .unwrap_or(DEPTH_BANDS.len() - 1);
    let [r, g, b] = DEPTH_BANDS[k].1;
    [linear(r), linear(g), linear(b), 0.6 + 0.075 * k as f32]
}

/// The legend of [`depth_color`]: (label, colour) for each band.
pub fn depth_legend() -> Vec<(String, [f32; 4])> {
    let mut bottom = 0.0f32;
    DEPTH_BANDS
        .iter()
        .map(|&(top, _)| {
            let label = if top.is_finite() {
                format!("{bottom:.2}–{top:.2} m")
            } else {
                format!("> {bottom:.2} m")
            };
            let colour = depth_color(bottom);
            bottom = top;
            (label, colour)
        })
        .collect()
}

/// The flood classes of buildings in a run's table, dry (below the run's flooded threshold,
/// 0.10 m by default) to deep.
pub const CLASSES: [&str; 4] = ["dry", "<0.3 m", "0.3-0.5 m", ">0.5 m"];

/// The class labels of runs stored before the classes were judged by a percentile of the wall
/// cells with a flooded threshold (dry under 1 cm, shallow to 0.15 m).
const LEGACY_CLASSES: [&str; 4] = ["dry", "<0.15 m", "0.15-0.5 m", ">0.5 m"];

/// A stored class label as one of [`CLASSES`] (older runs' labels included).
fn class_of_label(label: &str) -> Option<&'static str> {
    let k = CLASSES
        .iter()
        .position(|c| *c == label)
        .or_else(|| LEGACY_CLASSES.iter().position(|c| *c == label))?;
    Some(CLASSES[k])
}

/// Linear RGBA of a building by its flood class in a run (one of [`CLASSES`]).
pub fn class_color(class: &str) -> [f32; 4] {
    match class_of_label(class) {
        Some("<0.3 m") => [0.95, 0.85, 0.25, 1.0],
        Some("0.3-0.5 m") => [0.95, 0.5, 0.1, 1.0],
        Some(">0.5 m") => [0.8, 0.1, 0.1, 1.0],
        _ => crate::model::load::BUILDING_COLOR,
    }
}

/// The lowest a water surface is drawn over the ground, m: over the draped lines
/// ([`crate::model::scene::DRAPE_LIFT_M`]).
pub const WATER_OVER_DRAPE_M: f64 = crate::model::scene::DRAPE_LIFT_M + 0.05;

/// The water surface of a depth raster: a quad a wet cell at the ground plus the depth (at
/// least [`WATER_OVER_DRAPE_M`]), coloured by depth. Ground is the terrain at the cell centre
/// (`fallback_z` off it).
pub fn water_mesh(
    depth: &Raster,
    terrain: Option<&Raster>,
    origin: &LocalOrigin,
    fallback_z: f64,
) -> MeshData {
    let mut m = MeshData::default();
    let (hw, hh) = (0.5 * depth.cell_w, 0.5 * depth.cell_h);
    for row in 0..depth.height {
        for col in 0..depth.width {
            let d = depth.data[row * depth.width + col];
            if d.is_nan() || d < MIN_DRAWN_DEPTH_M {
                continue;
            }
            let x = depth.origin_x + (col as f64 + 0.5) * depth.cell_w;
            let y = depth.origin_y - (row as f64 + 0.5) * depth.cell_h;
            // At least just over the draped roads and parcel lines, so water that covers a road
            // is drawn over it (the road shows through); the colour still says the depth.
            let z = ground(terrain, x, y, fallback_z) + f64::from(d).max(WATER_OVER_DRAPE_M);
            let c = depth_color(d);
            let up = [0.0, 1.0, 0.0];
            // North-west, south-west, south-east, north-east: counter-clockwise from above.
            let nw = m.push(origin.to_local(x - hw, y + hh, z), up, c);
            let sw = m.push(origin.to_local(x - hw, y - hh, z), up, c);
            let se = m.push(origin.to_local(x + hw, y - hh, z), up, c);
            let ne = m.push(origin.to_local(x + hw, y + hh, z), up, c);
            m.indices.extend([nw, sw, se, nw, se, ne]);
        }
    }
    m
}

/// Each building's flood class in run `name` (its city code and one of [`CLASSES`]): at the
/// run's snapshot for `at_s` (the last at or before it, else the first; the times the depth
/// frames are stored at), or the worst of the run where `at_s` is `None` or the run kept no
/// timeline (stored before it did). The flag says whether the classes are of a time.
pub fn building_classes(
    buildings: &[RunBuilding],
    summary: &cim_engine::RunSummary,
    at_s: Option<f64>,
) -> (Vec<(String, &'static str)>, bool) {
    let snapshot = match at_s {
        Some(t) => {
            let times: Vec<f64> = summary.snapshots.iter().map(|s| s.time_s).collect();
            (!times.is_empty()).then(|| times.iter().rposition(|&x| x <= t).unwrap_or(0))
        }
        None => None,
    };
    let at = |b: &cim_engine::RunBuilding| -> Option<&'static str> {
        let digit = b.classes.as_bytes().get(snapshot?)?;
        CLASSES.get(usize::from(digit.checked_sub(b'0')?)).copied()
    };
    let timeline = snapshot.is_some() && buildings.iter().all(|b| at(b).is_some());
    let classes = buildings
        .iter()
        .map(|b| {
            let class = if timeline { at(b) } else { None }
                .or_else(|| class_of_label(&b.class))
                .unwrap_or(CLASSES[0]);
            (b.code.clone(), class)
        })
        .collect();
    (classes, timeline)
}

/// Run `name`'s building classes at `at_s` ([`building_classes`]), read from `source`.
pub async fn run_building_classes(
    source: &dyn DataSource,
    name: &str,
    at_s: Option<f64>,
) -> anyhow::Result<(Vec<(String, &'static str)>, bool)> {
    let run = run_named(source, name).await?;
    let buildings = source.run_buildings(name.to_string()).await?;
    Ok(building_classes(
        &buildings,
        &cim_engine::RunSummary::of(&run),
        at_s,
    ))
}

/// Colours the scene's buildings by their class in run `name` at `at_s` (see
/// [`building_classes`]); returns how many were coloured.
pub async fn color_buildings_by_class(
    source: &dyn DataSource,
    scene: &mut SceneData,
    name: &str,
    at_s: Option<f64>,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for (code, class) in run_building_classes(source, name, at_s).await?.0 {
        let Ok(code) = cim_engine::CityCode::parse(&code) else {
            continue;
        };
        let Some(id) = scene.building_by_code(&code) else {
            continue;
        };
        let tile = scene.buildings[id as usize].tile as usize;
        if let Some(t) = scene.tiles.get_mut(tile) {
            if t.set_color(id, class_color(class)) {
                n += 1;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_road_is_closed_within_its_intervals_only() {
        let mut r = RunRoad {
            code: "r".into(),
            length_m: 1.0,
            max_depth_m: 0.5,
            closed_s: Some(10.0),
            reopened_s: None,
            closed_for_s: 70.0,
            closed_intervals: vec![(10.0, Some(30.0)), (50.0, None)],
        };
        let at = |r: &RunRoad| [5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 99.0].map(|t| is_closed(r, t));
        assert_eq!(at(&r), [false, true, true, false, false, true, true]);
        // A run stored before intervals: first closing to last reopening.
        r.closed_intervals.clear();
        assert_eq!(at(&r), [false, true, true, true, true, true, true]);
    }

    #[test]
    fn deeper_water_is_darker_and_more_opaque() {
        let (a, b) = (depth_color(0.05), depth_color(0.8));
        assert!(b[0] + b[1] + b[2] < a[0] + a[1] + a[2]);
        assert!(b[3] > a[3]);
        assert_eq!(depth_color(5.0), depth_color(1.0));
        assert_eq!(depth_legend().len(), 5);
        // Neighbouring bands are plainly apart (in sRGB, more than a fifth of the range).
        for w in DEPTH_BANDS.windows(2) {
            let d: f32 = (0..3)
                .map(|k| (f32::from(w[0].1[k]) - f32::from(w[1].1[k])).powi(2))
                .sum::<f32>()
                .sqrt();
            assert!(d > 0.2 * 255.0, "{w:?}: {d}");
        }
        assert_eq!(depth_legend()[0].0, "0.00–0.15 m");
        assert_eq!(depth_legend()[4].0, "> 1.00 m");
        assert_ne!(depth_color(0.05), depth_color(0.2));
        assert_eq!(class_color("dry"), crate::model::load::BUILDING_COLOR);
        assert_ne!(class_color(">0.5 m"), class_color("<0.3 m"));
        // Runs stored before today's classes keep their colours.
        assert_eq!(class_color("<0.15 m"), class_color("<0.3 m"));
    }

    #[test]
    fn wet_cells_become_quads_at_ground_plus_depth() {
        let mut d = Raster::empty(3, 2, 100.0, 208.0, 4.0, 4.0);
        d.data = vec![0.0, 0.5, f32::NAN, 0.005, 1.2, 0.02];
        let o = LocalOrigin {
            x: 100.0,
            y: 200.0,
            z: 0.0,
        };
        let m = water_mesh(&d, None, &o, 10.0);
        // Wet: 0.5, 1.2, 0.02 (0.005 is under the threshold).
        assert_eq!(m.vertex_count(), 12);
        assert_eq!(m.triangle_count(), 6);
        // The 0.5 m cell (row 0, column 1): x 104..108, y 204..208, at 10.5 m.
        let q = &m.positions[0..4];
        assert!(q.iter().all(|p| (p[1] - 10.5).abs() < 1e-6));
        // The 2 cm cell is drawn over the draped roads (at 10 m + 0.35 m), not under them.
        let shallow = &m.positions[8..12];
        assert!(shallow
            .iter()
            .all(|p| (f64::from(p[1]) - 10.0 - WATER_OVER_DRAPE_M).abs() < 1e-6));
        let xs: Vec<f32> = q.iter().map(|p| p[0]).collect();
        assert_eq!(
            (
                xs.iter().cloned().fold(f32::MAX, f32::min),
                xs.iter().cloned().fold(f32::MIN, f32::max)
            ),
            (4.0, 8.0)
        );
        for t in m.indices.chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
            assert!(crate::model::scene::triangle_normal(a, b, c)[1] > 0.99);
        }
    }

    #[test]
    fn the_frame_shown_is_the_last_at_or_before_the_time() {
        let f = RunFrames::fake("r", &[300.0, 600.0, 900.0]);
        assert_eq!(f.index_at(0.0), 0);
        assert_eq!(f.index_at(300.0), 0);
        assert_eq!(f.index_at(899.0), 1);
        assert_eq!(f.index_at(5000.0), 2);
    }
}

/// Linear RGBA of a road closed by water (deeper than 0.3 m on it, as the run's table says).
pub const CLOSED_ROAD_COLOR: [f32; 4] = [0.9, 0.05, 0.05, 1.0];

/// The roads of run `name` closed at `t_s` ([`closed_roads_mesh`]), read from `source`.
pub async fn closed_roads(
    source: &dyn DataSource,
    scene: &SceneData,
    name: &str,
    t_s: f64,
) -> anyhow::Result<(MeshData, usize)> {
    let roads = source.run_roads(name.to_string()).await?;
    let codes: Vec<cim_engine::CityCode> = roads
        .iter()
        .filter(|r| is_closed(r, t_s))
        .filter_map(|r| cim_engine::CityCode::parse(&r.code).ok())
        .collect();
    let features = if codes.is_empty() {
        Vec::new()
    } else {
        source.features_by_code(codes).await?
    };
    Ok(closed_roads_mesh(scene, &roads, &features, t_s))
}

/// Whether road `r` is closed at `t_s`: within one of its closed intervals (runs stored before
/// intervals were kept: between its first closing and its last reopening).
pub fn is_closed(r: &RunRoad, t_s: f64) -> bool {
    if !r.closed_intervals.is_empty() {
        return r
            .closed_intervals
            .iter()
            .any(|(a, b)| *a <= t_s && b.is_none_or(|b| b > t_s));
    }
    r.closed_s.is_some_and(|c| c <= t_s) && r.reopened_s.is_none_or(|o| o > t_s)
}

/// The roads of `roads` closed at `t_s` (their geometry among `features`), draped as red
/// ribbons a little wider than roads, and how many there are.
pub fn closed_roads_mesh(
    scene: &SceneData,
    roads: &[RunRoad],
    features: &[cim_engine::StoredFeature],
    t_s: f64,
) -> (MeshData, usize) {
    let by_code: std::collections::HashMap<String, &cim_engine::StoredFeature> =
        features.iter().map(|f| (f.feature.code.to_string(), f)).collect();
    let step = scene
        .terrain
        .as_ref()
        .map_or(5.0, |t| t.cell_w.min(t.cell_h).max(0.25));
    let mut mesh = MeshData::default();
    let mut n = 0;
    for r in roads.iter().filter(|r| is_closed(r, t_s)) {
        let Some(f) = by_code.get(&r.code) else {
            continue;
        };
        let width = crate::model::load::road_width_m(&f.feature.attributes) + 2.0;
        for l in crate::model::load::lines_of(&f.feature.geometry) {
            crate::model::scene::drape_ribbon(
                l,
                width,
                step,
                scene.terrain.as_ref(),
                f64::from(scene.ramp.min_m),
                CLOSED_ROAD_COLOR,
                &scene.origin,
                &mut mesh,
            );
        }
        n += 1;
    }
    // Over the road's own ribbon.
    for p in &mut mesh.positions {
        p[1] += 0.1;
    }
    (mesh, n)
}

/// The state of the city at one output time of a run (from the run's stored summary).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kpi {
    pub time_s: f64,
    /// Buildings with water at them (any class but dry), and those deeper than 0.5 m.
    pub flooded_buildings: u64,
    pub deep_buildings: u64,
    pub roads_closed: u64,
    pub closed_road_m: f64,
    pub max_depth_m: f64,
    /// Rain fallen so far over the domain, mm.
    pub rain_mm: f64,
}

/// The KPIs of run `name` at each of its output times, in time order (from its summary's
/// snapshots; empty for a run stored without them).
pub async fn run_kpis(source: &dyn DataSource, name: &str) -> anyhow::Result<Vec<Kpi>> {
    let run = run_named(source, name).await?;
    Ok(kpis_of_run(&cim_engine::RunSummary::of(&run)))
}

/// [`Kpi`]s from a run's typed summary, at each of its snapshots in time order.
pub fn kpis_of_run(summary: &cim_engine::RunSummary) -> Vec<Kpi> {
    summary
        .snapshots
        .iter()
        .map(|s| {
            let v = |k: &str| s.values.get(k).copied().unwrap_or(0.0);
            Kpi {
                time_s: s.time_s,
                flooded_buildings: (v("buildings_shallow") + v("buildings_moderate") + v("buildings_deep"))
                    as u64,
                deep_buildings: v("buildings_deep") as u64,
                roads_closed: v("roads_closed") as u64,
                closed_road_m: v("road_closed_length_m"),
                max_depth_m: v("max_depth_m"),
                rain_mm: v("rain_mm"),
            }
        })
        .collect()
}

/// The KPIs shown at time `t_s`: the last at or before it.
pub fn kpi_at(kpis: &[Kpi], t_s: f64) -> Option<&Kpi> {
    kpis.iter().rev().find(|k| k.time_s <= t_s).or(kpis.first())
}

/// The alerts the command hall shows for the state `k`, most serious first.
pub fn alerts(k: &Kpi, lang: crate::model::i18n::Lang) -> Vec<String> {
    let mut out = Vec::new();
    if k.deep_buildings > 0 {
        out.push(format!("{} {}", k.deep_buildings, lang.t("alert_deep")));
    }
    if k.roads_closed > 0 {
        out.push(format!(
            "{} {} ({:.1} km)",
            k.roads_closed,
            lang.t("alert_roads"),
            k.closed_road_m / 1000.0
        ));
    }
    if k.max_depth_m > 1.0 {
        out.push(format!("{}: {:.2} m", lang.t("alert_depth"), k.max_depth_m));
    }
    out
}

#[cfg(test)]
mod kpi_tests {
    use super::*;
    use crate::model::i18n::Lang;

    fn record(summary: serde_json::Value) -> cim_engine::RunSummary {
        cim_engine::RunSummary::of(&cim_engine::RunRecord {
            name: "r".into(),
            model: "flood".into(),
            scenario: String::new(),
            created: String::new(),
            completed: true,
            time_reached_s: 600.0,
            outputs: String::new(),
            summary,
        })
    }

    #[test]
    fn kpis_come_from_the_summary_snapshots() {
        let summary = serde_json::json!({
            "snapshots": [
                {"time_s": 600.0, "max_depth_m": 1.4, "wet_cells": 10, "buildings_by_class": [5, 2, 1, 3],
                 "roads_closed": 2, "road_closed_length_m": 1300.0, "rain_mm": 40.0},
                {"time_s": 300.0, "max_depth_m": 0.2, "wet_cells": 3, "buildings_by_class": [11, 0, 0, 0],
                 "roads_closed": 0, "road_closed_length_m": -0.0, "rain_mm": 20.0}
            ]
        });
        let k = kpis_of_run(&record(summary));
        assert_eq!(k.len(), 2);
        assert_eq!(k[0].time_s, 300.0);
        // Runs stored before the fix kept an empty sum's -0 ("-0.0 km" in the panel).
        assert!(k[0].closed_road_m == 0.0 && k[0].closed_road_m.is_sign_positive());
        assert_eq!((k[1].flooded_buildings, k[1].deep_buildings), (6, 3));
        assert_eq!(kpi_at(&k, 0.0).map(|x| x.time_s), Some(300.0));
        assert_eq!(kpi_at(&k, 599.0).map(|x| x.time_s), Some(300.0));
        assert_eq!(kpi_at(&k, 900.0).map(|x| x.time_s), Some(600.0));
        assert!(kpi_at(&[], 1.0).is_none());
        assert!(alerts(&k[0], Lang::En).is_empty());
        assert_eq!(
            alerts(&k[1], Lang::En),
            vec![
                "3 buildings flooded deeper than 0.5 m".to_string(),
                "2 roads closed (1.3 km)".to_string(),
                "Water deeper than 1 m: 1.40 m".to_string()
            ]
        );
        assert_eq!(alerts(&k[1], Lang::Zh)[0], "3 栋建筑水深超过 0.5 m");
        assert!(kpis_of_run(&record(serde_json::json!({}))).is_empty());
    }
}
