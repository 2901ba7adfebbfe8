//! The words the panels show, laid out by plain functions (tested without a window).

use cim_engine::{Feature, StoredFeature};

use crate::model::i18n::Lang;

/// The rows of the attribute panel for a feature: (label, value).
pub fn feature_lines(s: &StoredFeature, lang: Lang) -> Vec<(String, String)> {
    let f: &Feature = &s.feature;
    let mut rows = vec![
        (lang.t("city_code").to_string(), f.code.to_string()),
        (lang.t("layer").to_string(), s.layer.clone()),
        (lang.t("kind").to_string(), lang.t(f.kind.name()).to_string()),
    ];
    if let Some(l) = &f.lod1 {
        rows.push((lang.t("height").to_string(), format!("{:.1} m", l.height_m)));
        rows.push((lang.t("height_source").to_string(), l.height_source.to_string()));
    }
    rows.push((
        lang.t("classification").to_string(),
        f.classification.name().to_string(),
    ));
    if f.validity.from.is_some() || f.validity.to.is_some() {
        let d = |x: &Option<cim_engine::Date>| x.map_or_else(|| "…".to_string(), |d| d.to_string());
        rows.push((
            lang.t("valid").to_string(),
            format!("{} – {}", d(&f.validity.from), d(&f.validity.to)),
        ));
    }
    // A BIM element: its class, storey and GlobalId first, its property sets last, grouped.
    let bim_keys = [
        ("ifc_class", "ifc_class"),
        ("storey", "storey"),
        ("global_id", "global_id"),
    ];
    for (key, label) in bim_keys {
        if let Some(v) = f.attributes.get(key) {
            rows.push((lang.t(label).to_string(), v.to_string()));
        }
    }
    for (k, v) in &f.attributes {
        if bim_keys.iter().any(|(b, _)| b == k) || k == "ifc_properties" {
            continue;
        }
        rows.push((k.clone(), v.to_string()));
    }
    if let Some(cim_engine::AttrValue::Text(t)) = f.attributes.get("ifc_properties") {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t) {
            Ok(sets) => {
                for (set, props) in sets {
                    rows.push((format!("▸ {set}"), String::new()));
                    for (name, value) in props.as_object().into_iter().flatten() {
                        let v = match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        rows.push((format!("    {name}"), v));
                    }
                }
            }
            Err(_) => rows.push(("ifc_properties".into(), t.clone())),
        }
    }
    rows
}

/// The panel's text for `rows`, one `label: value` a line.
pub fn panel_text(rows: &[(String, String)]) -> String {
    rows.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Run storm · 0:10:00 / 1:00:00 · playing ×60`.
pub fn playback_line(p: &crate::model::run::Playback, lang: Lang) -> String {
    let hms = |s: f64| {
        let s = s.max(0.0).round() as u64;
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    let end = p.end_s();
    format!(
        "{} {} · {} / {} · {} ×{}",
        lang.t("run"),
        p.name,
        hms(p.time_s),
        hms(end),
        lang.t(if p.playing { "playing" } else { "paused" }),
        p.speed
    )
}

/// A surface class as the panel names it: CityGML's name in English, in words in Chinese.
pub fn surface_name(c: cim_engine::mesh::SurfaceClass, lang: Lang) -> String {
    use cim_engine::mesh::SurfaceClass as S;
    if lang == Lang::En {
        return c.name().to_string();
    }
    match c {
        S::Roof => "屋顶面",
        S::Wall => "墙面",
        S::Ground => "地面",
        S::Closure => "封闭面",
        S::OuterFloor => "外部楼板",
        S::OuterCeiling => "外部顶棚",
        S::Window => "窗",
        S::Door => "门",
        S::Floor => "楼板",
        S::InteriorWall => "内墙",
        S::Ceiling => "顶棚",
        S::WaterSurface => "水面",
        S::WaterGround => "水底",
        S::WaterClosure => "水体封闭面",
        S::TrafficArea => "交通区",
        S::AuxiliaryTrafficArea => "辅助交通区",
        S::TransportationMarking => "交通标线",
        S::TransportationHole => "交通洞口",
        S::Relief => "地形面",
        S::Unclassified => "未分类",
    }
    .to_string()
}

#[cfg(test)]
mod surface_tests {
    use super::*;

    #[test]
    fn every_surface_has_a_name_in_both_languages() {
        for c in cim_engine::mesh::SurfaceClass::ALL {
            assert!(!surface_name(c, Lang::Zh).is_empty() && surface_name(c, Lang::En) == c.name());
        }
        assert_eq!(
            surface_name(cim_engine::mesh::SurfaceClass::Roof, Lang::Zh),
            "屋顶面"
        );
    }
}
