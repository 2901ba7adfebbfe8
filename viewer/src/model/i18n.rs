//! The viewer's words in English and Chinese (简体中文). The language comes from the system
//! locale (`LC_ALL`, `LC_MESSAGES`, `LANG`: `zh…` gives Chinese) and can be switched at run time.

/// A UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The language of a locale name such as `zh_CN.UTF-8` or `en_GB`.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The other language.
    pub fn toggled(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The text of `key` in this language (the key itself if it has none).
    pub fn t(self, key: &'static str) -> &'static str {
        let Some(&(_, en, zh)) = WORDS.iter().find(|w| w.0 == key) else {
            return key;
        };
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// Every key that has words.
pub fn keys() -> impl Iterator<Item = &'static str> {
    WORDS.iter().map(|w| w.0)
}

/// (key, English, Chinese).
const WORDS: &[(&str, &str, &str)] = &[
    ("city_code", "City code", "城市编码"),
    ("layer", "Layer", "图层"),
    ("ifc_class", "IFC class", "IFC 类"),
    ("storey", "Storey", "楼层"),
    ("global_id", "GlobalId", "全局标识 GlobalId"),
    ("bim", "BIM", "BIM 模型"),
    ("all_storeys", "All storeys", "全部楼层"),
    ("only_storey", "Only this storey", "仅此楼层"),
    ("cut_above", "Cut away above", "剖切其上楼层"),
    ("classes", "IFC classes", "IFC 类"),
    ("kind", "Kind", "类型"),
    ("surface", "Surface", "表面"),
    ("height", "Height", "高度"),
    ("height_source", "Height from", "高度来源"),
    ("classification", "Classification", "密级"),
    ("valid", "Valid", "有效期"),
    ("attributes", "Attributes", "属性"),
    (
        "nothing_selected",
        "Click a building to see its attributes",
        "点击建筑查看属性",
    ),
    ("buildings", "Buildings", "建筑"),
    ("terrain", "Terrain", "地形"),
    ("tilesets", "Real-scene 3D", "实景三维"),
    ("tileset_feature", "Tileset feature", "实景要素"),
    ("tile", "tile", "瓦片"),
    ("no_properties", "no properties", "无属性"),
    ("tile_detail", "Detail (max. error, px)", "精细度（最大误差，像素）"),
    ("points_by", "Points by", "点云着色"),
    ("points_rgb", "colour", "真彩色"),
    ("points_class", "class", "分类"),
    ("points_height", "height", "高程"),
    ("points_intensity", "intensity", "强度"),
    ("north", "N", "北"),
    ("language", "中文", "English"),
    ("building", "building", "建筑"),
    ("parcel", "parcel", "地块"),
    ("road", "road", "道路"),
    ("water", "water", "水体"),
    ("vegetation", "vegetation", "植被"),
    ("other", "other", "其他"),
    ("run", "Run", "模拟"),
    ("playing", "playing", "播放中"),
    ("paused", "paused", "暂停"),
    ("water_depth", "Water depth", "水深"),
    ("flood_help", "Space: play/pause · ←/→: step · +/-: speed", "空格：播放/暂停 · ←/→：逐帧 · +/-：速度"),
    ("search_hint", "City code or attribute value", "城市编码或属性值"),
    ("find", "Find", "查找"),
    ("no_results", "Nothing found", "未找到"),
    ("results", "found", "个结果"),
    ("fly_to", "Fly to", "飞至"),
    ("feature", "Feature", "要素"),
    ("layers", "Layers", "图层"),
    ("opacity", "opacity", "不透明度"),
    ("color_by", "Colour buildings by", "建筑着色"),
    ("plain", "one colour", "单一颜色"),
    ("flood_class", "flood class", "受淹等级"),
    ("flood_class_worst", "flood class (worst in the run)", "受淹等级（全过程最重）"),
    ("categorised", "categories", "分类"),
    ("graduated", "classes", "分级"),
    ("as_of", "As of", "时点"),
    ("other_values", "other", "其他"),
    ("no_value", "no value", "无值"),
    ("water_layer", "Water", "积水"),
    ("closed_roads", "Closed roads", "封闭道路"),
    ("play", "Play", "播放"),
    ("pause", "Pause", "暂停"),
    ("speed", "Speed", "速度"),
    ("time", "Time", "时间"),
    ("flooded_buildings", "Flooded buildings", "受淹建筑"),
    ("closed_road_length", "Closed roads", "封闭道路"),
    ("max_depth", "Max depth", "最大水深"),
    ("rain_so_far", "Rain so far", "累计降雨"),
    ("dashboard", "City situation", "城市运行态势"),
    ("alerts", "Alerts", "警报"),
    ("alert_deep", "buildings flooded deeper than 0.5 m", "栋建筑水深超过 0.5 m"),
    ("alert_roads", "roads closed", "条道路封闭"),
    ("alert_depth", "Water deeper than 1 m", "水深超过 1 m"),
    ("no_alerts", "No alerts", "无警报"),
    ("vehicles", "Vehicles", "车辆"),
    ("road_traffic", "Road traffic", "道路交通"),
    ("by_speed", "Speed / limit", "车速 / 限速"),
    ("by_congestion", "Vehicles per km and lane", "每车道每公里车辆数"),
    ("running", "On the roads", "在途车辆"),
    ("arrived", "Arrived", "已到达"),
    ("stuck", "Stuck", "滞留"),
    ("undelivered", "Undelivered", "无法到达"),
    ("mean_speed", "Mean speed", "平均车速"),
    ("traffic", "Traffic", "交通"),
    ("alert_undelivered", "trips cannot reach their destination", "次出行无法到达目的地"),
    ("alert_stuck", "vehicles stuck", "辆车滞留"),
    ("alert_slow", "Traffic slow", "交通缓慢"),
    ("over_time", "over time", "随时间变化"),
    ("left_axis", "left axis", "左轴"),
    ("right_axis", "right axis", "右轴"),
    (
        "help",
        "Left drag: pan · right drag: turn, tilt · wheel: zoom · click: pick · F: fly to it · G: fly mode · B: save view · 1–9: saved views · T: tour · L: 中文",
        "左键拖动：平移 · 右键拖动：旋转倾斜 · 滚轮：缩放 · 点击：拾取 · F：飞至所选 · G：飞行模式 · B：保存视点 · 1–9：视点 · T：巡游 · L：English",
    ),
    (
        "help_fly",
        "Fly mode · W/S: ahead, back · A/D: sideways · Q/E: down, up · Shift: faster · drag: look round · wheel: speed · G: back to orbit · L: 中文",
        "飞行模式 · W/S：前进后退 · A/D：左右平移 · Q/E：下降上升 · Shift：加速 · 拖动：环视 · 滚轮：速度 · G：返回环绕 · L：English",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_pick_the_language() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("zh_TW"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_GB.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::Zh.toggled(), Lang::En);
    }

    #[test]
    fn every_word_has_both_languages() {
        for (key, en, zh) in WORDS {
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
            assert_eq!(Lang::En.t(key), *en);
            assert_eq!(Lang::Zh.t(key), *zh);
        }
        assert_eq!(Lang::Zh.t("city_code"), "城市编码");
        assert_eq!(Lang::En.t("no such key"), "no such key");
        // Keys are unique.
        let mut keys: Vec<&str> = WORDS.iter().map(|w| w.0).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), WORDS.len());
    }
}
