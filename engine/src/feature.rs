//! Features: the unit of the city model.

use crate::code::CityCode;
use crate::date::Date;
use crate::error::{EngineError, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What a feature is. The two-letter [`code`](FeatureKind::code) appears in its city code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureKind {
    Parcel,
    Building,
    Road,
    Terrain,
    Water,
    Vegetation,
    Other,
}

impl FeatureKind {
    pub const ALL: [FeatureKind; 7] = [
        FeatureKind::Parcel,
        FeatureKind::Building,
        FeatureKind::Road,
        FeatureKind::Terrain,
        FeatureKind::Water,
        FeatureKind::Vegetation,
        FeatureKind::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FeatureKind::Parcel => "PA",
            FeatureKind::Building => "BU",
            FeatureKind::Road => "RO",
            FeatureKind::Terrain => "TE",
            FeatureKind::Water => "WA",
            FeatureKind::Vegetation => "VE",
            FeatureKind::Other => "OT",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Parcel => "parcel",
            FeatureKind::Building => "building",
            FeatureKind::Road => "road",
            FeatureKind::Terrain => "terrain",
            FeatureKind::Water => "water",
            FeatureKind::Vegetation => "vegetation",
            FeatureKind::Other => "other",
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FeatureKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let l = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == l || k.code().eq_ignore_ascii_case(&l))
            .ok_or_else(|| {
                format!("unknown kind '{s}' (expected parcel, building, road, terrain, water, vegetation or other)")
            })
    }
}

/// Who may see a layer or feature. Ordered: `Public < Internal < Restricted`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Classification {
    #[default]
    Public,
    Internal,
    Restricted,
}

impl Classification {
    pub fn name(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Classification {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "公开" => Ok(Classification::Public),
            "internal" | "内部" => Ok(Classification::Internal),
            "restricted" | "受限" | "涉密" => Ok(Classification::Restricted),
            _ => Err(format!(
                "unknown classification '{s}' (expected public, internal or restricted)"
            )),
        }
    }
}

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
    Date(Date),
}

impl AttrValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Real(r) => Some(*r),
            AttrValue::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Null => serde_json::Value::Null,
            AttrValue::Bool(b) => (*b).into(),
            AttrValue::Int(i) => (*i).into(),
            AttrValue::Real(r) => serde_json::Number::from_f64(*r)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            AttrValue::Text(t) => t.clone().into(),
            AttrValue::Date(d) => d.to_string().into(),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Null => Ok(()),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Real(r) => write!(f, "{r}"),
            AttrValue::Text(t) => f.write_str(t),
            AttrValue::Date(d) => write!(f, "{d}"),
        }
    }
}

/// The declared type of an attribute column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Int,
    Real,
    Text,
    Date,
}

impl FieldType {
    pub fn sql(self) -> &'static str {
        match self {
            FieldType::Bool => "BOOLEAN",
            FieldType::Int => "INTEGER",
            FieldType::Real => "REAL",
            FieldType::Text => "TEXT",
            FieldType::Date => "DATE",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub field_type: FieldType,
}

/// Attributes of one feature, sorted by name for deterministic output.
pub type Attributes = BTreeMap<String, AttrValue>;

/// Where a building's height came from, recorded on every LOD1 solid.
#[derive(Clone, Debug, PartialEq)]
pub enum HeightSource {
    /// A height attribute in metres (`--height-attr NAME`, or OSM `height`).
    Attribute { name: String },
    /// Number of floors × storey height (`--floors-attr NAME`, or OSM `building:levels`).
    Floors { name: String, storey_m: f64 },
    /// `--default-height`: nothing in the source said.
    Default,
    /// The z-range of the feature's 3-D geometry at this level of detail (CityJSON, CityGML,
    /// IFC).
    Geometry { lod: String },
}

impl fmt::Display for HeightSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeightSource::Attribute { name } => write!(f, "attribute:{name}"),
            HeightSource::Floors { name, storey_m } => write!(f, "floors:{name}*{storey_m}"),
            HeightSource::Default => f.write_str("default"),
            HeightSource::Geometry { lod } if lod.is_empty() => f.write_str("geometry"),
            HeightSource::Geometry { lod } => write!(f, "geometry:lod{lod}"),
        }
    }
}

impl FromStr for HeightSource {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        if s == "default" {
            return Ok(HeightSource::Default);
        }
        if s == "geometry" {
            return Ok(HeightSource::Geometry { lod: String::new() });
        }
        if let Some(lod) = s.strip_prefix("geometry:lod") {
            return Ok(HeightSource::Geometry { lod: lod.to_string() });
        }
        if let Some(name) = s.strip_prefix("attribute:") {
            return Ok(HeightSource::Attribute {
                name: name.to_string(),
            });
        }
        if let Some(rest) = s.strip_prefix("floors:") {
            if let Some((name, storey)) = rest.rsplit_once('*') {
                if let Ok(storey_m) = storey.parse() {
                    return Ok(HeightSource::Floors {
                        name: name.to_string(),
                        storey_m,
                    });
                }
            }
        }
        Err(EngineError::Geometry {
            reason: format!("unknown height source '{s}'"),
        })
    }
}

/// An LOD1 solid: the 2D footprint extruded from `base_m` to `base_m + height_m`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lod1 {
    pub base_m: f64,
    pub height_m: f64,
    pub height_source: HeightSource,
}

impl Lod1 {
    pub fn top_m(&self) -> f64 {
        self.base_m + self.height_m
    }
}

/// When a feature exists: `from` inclusive, `to` exclusive; `None` is open-ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validity {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Validity {
    /// Whether the feature existed on `date`.
    ///
    /// # Examples
    /// ```
    /// use cim_engine::{Date, Validity};
    /// let v = Validity { from: Some(Date::parse("2000-01-01").unwrap()), to: Some(Date::parse("2010-01-01").unwrap()) };
    /// assert!(v.contains(Date::parse("2005-06-01").unwrap()));
    /// assert!(!v.contains(Date::parse("2010-01-01").unwrap()));
    /// assert!(!v.contains(Date::parse("1999-12-31").unwrap()));
    /// ```
    pub fn contains(&self, date: Date) -> bool {
        self.from.is_none_or(|f| f <= date) && self.to.is_none_or(|t| date < t)
    }
}

/// A city feature in the project CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub code: CityCode,
    pub kind: FeatureKind,
    pub geometry: geo::Geometry<f64>,
    pub lod1: Option<Lod1>,
    pub attributes: Attributes,
    pub validity: Validity,
    pub classification: Classification,
    /// The object's key in its source (`fid:12`, `osm:way/123`), from which the code was derived.
    pub source_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name_and_code() {
        for k in FeatureKind::ALL {
            assert_eq!(k.name().parse::<FeatureKind>().unwrap(), k);
            assert_eq!(FeatureKind::from_code(k.code()), Some(k));
        }
        assert!("house".parse::<FeatureKind>().is_err());
    }

    #[test]
    fn height_source_round_trips() {
        for h in [
            HeightSource::Default,
            HeightSource::Attribute {
                name: "height".into(),
            },
            HeightSource::Floors {
                name: "building:levels".into(),
                storey_m: 3.0,
            },
        ] {
            assert_eq!(h.to_string().parse::<HeightSource>().unwrap(), h);
        }
    }

    #[test]
    fn classification_orders_and_parses_chinese() {
        assert!(Classification::Public < Classification::Restricted);
        assert_eq!(
            "内部".parse::<Classification>().unwrap(),
            Classification::Internal
        );
    }
}
