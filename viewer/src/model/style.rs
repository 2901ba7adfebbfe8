//! Layers and styling as plain data: which layers show and how opaque, buildings coloured by an
//! attribute (categorised or graduated, with a legend), and the "as of" date that hides buildings
//! not standing then. The window's systems apply it to the meshes; everything here is tested
//! without a GPU.

use std::collections::HashMap;

use cim_engine::AttrValue;

use crate::model::load::SceneData;

/// What a building's colour says.
#[derive(Clone, Debug, PartialEq)]
pub enum ColorBy {
    /// One colour for all.
    Plain,
    /// Its LOD1 height, graduated.
    Height,
    /// Its layer, categorised.
    Layer,
    /// An attribute, categorised (text) or graduated (numbers).
    Attribute(String),
    /// How deep it flooded in the run being played (categorised by class).
    FloodClass,
}

/// How a colour is chosen from values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classing {
    /// A colour per distinct value (the commonest; the rest grey as "other").
    Categorised,
    /// Equal-count classes of a number, light to dark.
    Graduated,
}

/// A legend: title and (label, linear RGBA) rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Legend {
    pub title: String,
    pub rows: Vec<(String, [f32; 4])>,
}

/// A colour for each building (by id) and its legend.
#[derive(Clone, Debug, PartialEq)]
pub struct Coloring {
    pub colors: Vec<[f32; 4]>,
    pub legend: Legend,
}

/// At most this many categories get their own colour.
pub const MAX_CATEGORIES: usize = 10;
/// Graduated classes.
pub const GRADUATED_CLASSES: usize = 5;
/// Colour of buildings without a value ("no value"), linear RGBA.
pub const NO_VALUE_COLOR: [f32; 4] = [0.30, 0.30, 0.30, 1.0];
/// Colour of the categories past [`MAX_CATEGORIES`] ("other").
pub const OTHER_COLOR: [f32; 4] = [0.78, 0.78, 0.78, 1.0];

/// Qualitative colours (linear RGB), distinct from one another and from the highlight.
const CATEGORY_COLORS: [[f32; 3]; MAX_CATEGORIES] = [
    [0.05, 0.30, 0.65],
    [0.10, 0.55, 0.12],
    [0.75, 0.08, 0.10],
    [0.45, 0.18, 0.60],
    [0.00, 0.50, 0.50],
    [0.85, 0.70, 0.05],
    [0.55, 0.30, 0.10],
    [0.90, 0.35, 0.60],
    [0.25, 0.25, 0.25],
    [0.50, 0.80, 0.95],
];

/// Light yellow to dark red (linear RGB), for graduated classes.
const RAMP: [[f32; 3]; 2] = [[0.95, 0.90, 0.45], [0.45, 0.02, 0.02]];

fn ramp(t: f32) -> [f32; 4] {
    let t = t.clamp(0.0, 1.0);
    let [a, b] = RAMP;
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
        1.0,
    ]
}

/// A value to colour by.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
}

impl Value {
    fn of(v: &AttrValue) -> Value {
        match v.as_f64() {
            Some(x) if !matches!(v, AttrValue::Text(_)) && x.is_finite() => Value::Number(x),
            _ => Value::Text(v.to_string()),
        }
    }
}

/// Colours by category: the [`MAX_CATEGORIES`] commonest values (ties by value) get a colour
/// each, in that order; the rest are "other", and missing values "no value".
pub fn categorise(values: &[Option<Value>], title: &str, other: &str, none: &str) -> Coloring {
    let key = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        Value::Number(x) => format_number(*x),
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values.iter().flatten() {
        *counts.entry(key(v)).or_default() += 1;
    }
    let mut order: Vec<(String, usize)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let colour_of: HashMap<&str, [f32; 4]> = order
        .iter()
        .take(MAX_CATEGORIES)
        .enumerate()
        .map(|(i, (k, _))| {
            let c = CATEGORY_COLORS[i];
            (k.as_str(), [c[0], c[1], c[2], 1.0])
        })
        .collect();
    let colors = values
        .iter()
        .map(|v| match v {
            None => NO_VALUE_COLOR,
            Some(v) => colour_of.get(key(v).as_str()).copied().unwrap_or(OTHER_COLOR),
        })
        .collect();
    let mut rows: Vec<(String, [f32; 4])> = order
        .iter()
        .take(MAX_CATEGORIES)
        .map(|(k, n)| (format!("{k} ({n})"), colour_of[k.as_str()]))
        .collect();
    let others: usize = order.iter().skip(MAX_CATEGORIES).map(|o| o.1).sum();
    if others > 0 {
        rows.push((format!("{other} ({others})"), OTHER_COLOR));
    }
    let missing = values.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        rows.push((format!("{none} ({missing})"), NO_VALUE_COLOR));
    }
    Coloring {
        colors,
        legend: Legend {
            title: title.to_string(),
            rows,
        },
    }
}

/// Colours by [`GRADUATED_CLASSES`] equal-count classes of the numbers (fewer where there are
/// fewer distinct values); text and missing values are "no value".
pub fn graduate(values: &[Option<Value>], title: &str, none: &str) -> Coloring {
    let num = |v: &Option<Value>| match v {
        Some(Value::Number(x)) => Some(*x),
        _ => None,
    };
    let mut sorted: Vec<f64> = values.iter().filter_map(num).collect();
    sorted.sort_by(f64::total_cmp);
    // Class upper bounds (inclusive): the last value of each equal-count run, without repeats.
    let mut bounds: Vec<f64> = Vec::new();
    if let Some(&max) = sorted.last() {
        for k in 1..GRADUATED_CLASSES {
            let end = (k * sorted.len()).div_ceil(GRADUATED_CLASSES);
            let b = sorted[end.saturating_sub(1).min(sorted.len() - 1)];
            if bounds.last().is_none_or(|l| b > *l) && b < max {
                bounds.push(b);
            }
        }
        bounds.push(max);
    }
    let classes = bounds.len();
    let colour = |k: usize| {
        ramp(if classes > 1 {
            k as f32 / (classes - 1) as f32
        } else {
            0.5
        })
    };
    // A value belongs to the first class whose upper bound it does not pass.
    let class_of = |x: f64| {
        bounds
            .iter()
            .position(|b| x <= *b)
            .unwrap_or(classes.saturating_sub(1))
    };
    let colors = values
        .iter()
        .map(|v| num(v).map_or(NO_VALUE_COLOR, |x| colour(class_of(x))))
        .collect();
    let mut rows = Vec::new();
    let mut lo = sorted.first().copied().unwrap_or(0.0);
    for (k, b) in bounds.iter().enumerate() {
        rows.push((
            format!("{} – {}", format_number(lo), format_number(*b)),
            colour(k),
        ));
        lo = *b;
    }
    let missing = values.iter().filter(|v| num(v).is_none()).count();
    if missing > 0 {
        rows.push((format!("{none} ({missing})"), NO_VALUE_COLOR));
    }
    Coloring {
        colors,
        legend: Legend {
            title: title.to_string(),
            rows,
        },
    }
}

/// A number as a legend shows it: whole where whole, else up to two decimals.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The attribute names buildings of the scene have (from their layers' fields), sorted.
pub fn building_attributes(layers: Vec<cim_engine::LayerInfo>, scene: &SceneData) -> Vec<String> {
    let mut names: Vec<String> = layers
        .into_iter()
        .filter(|l| scene.layers.contains(&l.name))
        .flat_map(|l| l.fields.into_iter().map(|f| f.name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Words the legends use, in the UI's language.
#[derive(Clone, Copy, Debug)]
pub struct LegendWords<'a> {
    pub height: &'a str,
    pub layer: &'a str,
    pub flood_class: &'a str,
    /// The title where a run kept no classes over time: its worst.
    pub flood_class_worst: &'a str,
    pub other: &'a str,
    pub none: &'a str,
}

impl LegendWords<'static> {
    /// The words in `lang`.
    pub fn of(lang: crate::model::i18n::Lang) -> LegendWords<'static> {
        LegendWords {
            height: lang.t("height"),
            layer: lang.t("layer"),
            flood_class: lang.t("flood_class"),
            flood_class_worst: lang.t("flood_class_worst"),
            other: lang.t("other_values"),
            none: lang.t("no_value"),
        }
    }
}

/// The colours of the scene's buildings by `by` (`None` for [`ColorBy::Plain`]). Attributes and
/// heights are read from the project; flood classes from run `run`, at the time `at_s` of a
/// playback (`None`: the worst of the run).
pub async fn color_buildings(
    source: &dyn crate::model::source::DataSource,
    scene: &SceneData,
    by: &ColorBy,
    classing: Classing,
    run: Option<&str>,
    at_s: Option<f64>,
    words: LegendWords<'_>,
) -> anyhow::Result<Option<Coloring>> {
    let n = scene.buildings.len();
    // Each building's feature, in the order of the scene's buildings (read only when needed).
    let features = match by {
        ColorBy::Height | ColorBy::Attribute(_) => {
            let filter = cim_engine::FeatureFilter {
                layers: Some(scene.layers.clone()),
                ..Default::default()
            };
            let ids = scene.ids_by_code();
            let mut in_order = vec![None; n];
            for s in source.features(filter).await? {
                if let Some(&id) = ids.get(&s.feature.code) {
                    in_order[id as usize] = Some(s.feature);
                }
            }
            in_order
        }
        _ => Vec::new(),
    };
    let read = |attr: &dyn Fn(&cim_engine::Feature) -> Option<Value>| -> anyhow::Result<Vec<Option<Value>>> {
        Ok(features.iter().map(|f| f.as_ref().and_then(attr)).collect())
    };
    let coloring = match by {
        ColorBy::Plain => return Ok(None),
        ColorBy::Height => {
            let values = read(&|f| f.lod1.as_ref().map(|l| Value::Number(l.height_m)))?;
            graduate(&values, &format!("{} (m)", words.height), words.none)
        }
        ColorBy::Layer => {
            let values: Vec<Option<Value>> = scene
                .buildings
                .iter()
                .map(|b| scene.layers.get(b.layer as usize).map(|l| Value::Text(l.clone())))
                .collect();
            categorise(&values, words.layer, words.other, words.none)
        }
        ColorBy::Attribute(key) => {
            let values = read(&|f| f.attributes.get(key).map(Value::of))?;
            match classing {
                Classing::Categorised => categorise(&values, key, words.other, words.none),
                Classing::Graduated => graduate(&values, key, words.none),
            }
        }
        ColorBy::FloodClass => {
            let Some(run) = run else {
                anyhow::bail!("no run is loaded: start the viewer with --run to colour by flood class");
            };
            let ids = scene.ids_by_code();
            let mut colors = vec![crate::model::flood::class_color("dry"); n];
            let mut counts: HashMap<&str, usize> = HashMap::new();
            let (classes, timeline) = crate::model::flood::run_building_classes(source, run, at_s).await?;
            // A BIM model is one building in a run (reported by one of its elements): all its
            // elements take that class.
            let mut model_class: HashMap<u16, &str> = HashMap::new();
            for (code, class) in classes {
                let Ok(code) = cim_engine::CityCode::parse(&code) else {
                    continue;
                };
                if let Some(&id) = ids.get(&code) {
                    colors[id as usize] = crate::model::flood::class_color(class);
                    *counts.entry(class).or_default() += 1;
                    let layer = scene.buildings[id as usize].layer;
                    if scene.bim.layers.contains(&layer) {
                        model_class.insert(layer, class);
                    }
                }
            }
            for (id, b) in scene.buildings.iter().enumerate() {
                if let Some(class) = model_class.get(&b.layer) {
                    colors[id] = crate::model::flood::class_color(class);
                }
            }
            let rows = crate::model::flood::CLASSES
                .iter()
                .map(|c| {
                    (
                        format!("{c} ({})", counts.get(*c).copied().unwrap_or(0)),
                        crate::model::flood::class_color(c),
                    )
                })
                .collect();
            Coloring {
                colors,
                legend: Legend {
                    title: if timeline || at_s.is_none() {
                        words.flood_class
                    } else {
                        words.flood_class_worst
                    }
                    .to_string(),
                    rows,
                },
            }
        }
    };
    Ok(Some(coloring))
}

/// Highlight colour of the selected feature (linear RGBA): a strong cyan, as GIS selections
/// are, and far from the flood classes' yellow to red and from the graduated ramp.
pub const HIGHLIGHT: [f32; 4] = [0.0, 0.85, 1.0, 1.0];
/// How the layers show: per building layer visible and opacity; the terrain, each overlay, the
/// water; buildings' colour; the "as of" day.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerState {
    /// Per [`SceneData::layers`]: (visible, opacity 0–1).
    pub buildings: Vec<(bool, f32)>,
    /// Per [`SceneData::overlays`].
    pub overlays: Vec<(bool, f32)>,
    pub terrain: (bool, f32),
    pub water: (bool, f32),
    pub closed_roads: bool,
    /// A traffic run's vehicles.
    pub vehicles: bool,
    /// A traffic run's roads coloured by their traffic, and by what.
    pub road_traffic: bool,
    pub road_colour: crate::model::traffic::RoadColour,
    /// Show only buildings standing on this day (days since 1970-01-01); `None`: all.
    pub as_of: Option<i32>,
    /// Which BIM elements show: by IFC class and storey.
    pub bim: BimFilter,
}

/// Which storeys of BIM models show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreyFilter {
    #[default]
    All,
    /// Only this storey (index into [`crate::model::load::BimScene::storeys`]).
    Only(u16),
    /// This storey and those below: everything above is cut away, to look inside.
    UpTo(u16),
}

/// BIM elements shown: their class on, their storey let through.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BimFilter {
    /// Per [`crate::model::load::BimScene::classes`]: whether it shows.
    pub classes: Vec<bool>,
    pub storey: StoreyFilter,
}

impl BimFilter {
    /// Every class and storey shown.
    pub fn all(scene: &SceneData) -> BimFilter {
        BimFilter {
            classes: vec![true; scene.bim.classes.len()],
            storey: StoreyFilter::All,
        }
    }

    /// Whether an element so tagged shows (anything not in a BIM model does). Elements in no
    /// storey show unless one storey alone is asked for.
    pub fn shows(&self, tag: Option<crate::model::load::BimTag>) -> bool {
        let Some(t) = tag else { return true };
        if !self.classes.get(usize::from(t.class)).copied().unwrap_or(true) {
            return false;
        }
        match self.storey {
            StoreyFilter::All => true,
            StoreyFilter::Only(s) => t.storey == s,
            StoreyFilter::UpTo(s) => t.storey == u16::MAX || t.storey <= s,
        }
    }
}

/// The plain colour of a BIM element by its IFC class (linear RGBA): glass for windows, timber
/// for doors, concrete for slabs and the structure, light walls.
pub fn ifc_class_color(class: &str) -> [f32; 4] {
    let c = class.strip_suffix("StandardCase").unwrap_or(class);
    match c {
        "IfcWindow" | "IfcCurtainWall" | "IfcPlate" => [0.35, 0.55, 0.75, 1.0],
        "IfcDoor" => [0.45, 0.28, 0.15, 1.0],
        "IfcSlab" | "IfcFooting" | "IfcPile" => [0.55, 0.55, 0.55, 1.0],
        "IfcRoof" => [0.55, 0.25, 0.2, 1.0],
        "IfcBeam" | "IfcColumn" | "IfcMember" => [0.5, 0.45, 0.4, 1.0],
        "IfcStair" | "IfcStairFlight" | "IfcRamp" | "IfcRampFlight" | "IfcRailing" => [0.6, 0.5, 0.35, 1.0],
        "IfcFurnishingElement" | "IfcFurniture" => [0.7, 0.6, 0.45, 1.0],
        "IfcCovering" => [0.85, 0.83, 0.78, 1.0],
        "IfcWall" => [0.88, 0.86, 0.82, 1.0],
        _ => [0.75, 0.75, 0.72, 1.0],
    }
}

impl LayerState {
    /// Everything shown, opaque (water as drawn).
    pub fn all_shown(scene: &SceneData) -> LayerState {
        LayerState {
            buildings: vec![(true, 1.0); scene.layers.len()],
            overlays: vec![(true, 1.0); scene.overlays.len()],
            terrain: (true, 1.0),
            water: (true, 1.0),
            closed_roads: true,
            vehicles: true,
            road_traffic: true,
            road_colour: crate::model::traffic::RoadColour::Speed,
            as_of: None,
            bim: BimFilter::all(scene),
        }
    }

    /// Whether building `id` shows: its layer is on and it stands on the "as of" day.
    pub fn building_shown(&self, scene: &SceneData, id: u32) -> bool {
        let Some(b) = scene.buildings.get(id as usize) else {
            return false;
        };
        self.buildings.get(b.layer as usize).is_none_or(|l| l.0)
            && self.as_of.is_none_or(|d| b.exists_on(d))
            && self.bim.shows(b.bim)
    }

    /// A building's opacity (its layer's).
    pub fn building_opacity(&self, scene: &SceneData, id: u32) -> f32 {
        scene
            .buildings
            .get(id as usize)
            .and_then(|b| self.buildings.get(b.layer as usize))
            .map_or(1.0, |l| l.1)
    }

    /// Whether any building is drawn see-through.
    pub fn buildings_translucent(&self) -> bool {
        self.buildings.iter().any(|l| l.0 && l.1 < 1.0)
    }
}

/// A building's colour as drawn: its styled colour (or `plain`, the colour it was loaded with),
/// with its layer's opacity.
pub fn building_color(
    coloring: Option<&Coloring>,
    layers: &LayerState,
    scene: &SceneData,
    id: u32,
    plain: [f32; 4],
) -> [f32; 4] {
    let mut c = coloring
        .and_then(|c| c.colors.get(id as usize).copied())
        .unwrap_or(plain);
    c[3] *= layers.building_opacity(scene, id);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<Value> {
        Some(Value::Text(s.into()))
    }
    fn n(x: f64) -> Option<Value> {
        Some(Value::Number(x))
    }

    #[test]
    fn categories_by_frequency_with_other_and_no_value() {
        let mut values = vec![
            t("住宅"),
            t("商业"),
            t("住宅"),
            None,
            t("住宅"),
            t("商业"),
            t("学校"),
        ];
        let c = categorise(&values, "用途", "other", "no value");
        assert_eq!(c.colors.len(), values.len());
        assert_eq!(c.colors[0], c.colors[2]);
        assert_ne!(c.colors[0], c.colors[1]);
        assert_eq!(c.colors[3], NO_VALUE_COLOR);
        let labels: Vec<&str> = c.legend.rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(labels, vec!["住宅 (3)", "商业 (2)", "学校 (1)", "no value (1)"]);
        // Past the palette, the rarest share "other".
        values = (0..14).map(|i| t(&format!("v{i:02}"))).collect();
        values.extend((0..3).map(|_| t("v13")));
        let c = categorise(&values, "k", "other", "none");
        assert_eq!(c.legend.rows.len(), MAX_CATEGORIES + 1);
        assert_eq!(c.legend.rows[0].0, "v13 (4)");
        assert_eq!(c.legend.rows[MAX_CATEGORIES].0, "other (4)");
        assert_eq!(c.colors[12], OTHER_COLOR);
        // Every legend colour is a colour some building has.
        for (_, col) in &c.legend.rows {
            assert!(c.colors.contains(col));
        }
    }

    #[test]
    fn graduated_classes_have_equal_counts_and_darken() {
        let values: Vec<Option<Value>> = (1..=100).map(|i| n(f64::from(i))).chain([None, t("x")]).collect();
        let c = graduate(&values, "height", "no value");
        assert_eq!(c.legend.rows.len(), GRADUATED_CLASSES + 1);
        assert_eq!(c.legend.rows[0].0, "1 – 20");
        assert_eq!(c.legend.rows[4].0, "80 – 100");
        assert_eq!(c.legend.rows[5].0, "no value (2)");
        // 20 each.
        for (k, (_, col)) in c.legend.rows.iter().take(GRADUATED_CLASSES).enumerate() {
            let count = c.colors.iter().filter(|x| *x == col).count();
            assert_eq!(count, 20, "class {k}");
        }
        // Darker as the values grow.
        let lum = |c: [f32; 4]| c[0] + c[1] + c[2];
        assert!(lum(c.colors[0]) > lum(c.colors[50]) && lum(c.colors[50]) > lum(c.colors[99]));
        // Few distinct values: no empty classes.
        let c = graduate(&[n(3.0), n(3.0), n(7.0)], "k", "none");
        assert_eq!(c.legend.rows.len(), 2);
        assert_ne!(c.colors[0], c.colors[2]);
        let c = graduate(&[n(3.0), n(3.0)], "k", "none");
        assert_eq!(c.legend.rows.len(), 1);
        assert!(graduate(&[None], "k", "none").legend.rows.len() == 1);
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(format_number(21.0), "21");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(1.0 / 3.0), "0.33");
        assert_eq!(Value::of(&AttrValue::Int(7)), Value::Number(7.0));
        assert_eq!(Value::of(&AttrValue::Text("7".into())), Value::Text("7".into()));
    }
}
