use super::{open_project, parse_date};
use anyhow::{bail, Context, Result};
use cim_engine::{CityIndex, FeatureFilter};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct PickArgs {
    pub project: PathBuf,
    /// Ray origin x,y,z in the project CRS (metres).
    #[arg(long, allow_hyphen_values = true)]
    pub from: String,
    /// Ray direction dx,dy,dz (any length), e.g. 0,0,-1 to look straight down.
    #[arg(long, allow_hyphen_values = true)]
    pub dir: String,
    /// Only these layers (repeatable).
    #[arg(long)]
    pub layer: Vec<String>,
    /// The city as it was on this date.
    #[arg(long)]
    pub as_of: Option<String>,
    #[arg(long)]
    pub json: bool,
}

fn triple(text: &str, what: &str) -> Result<[f64; 3]> {
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what} '{text}': expected x,y,z"))?;
    match v.as_slice() {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([*x, *y, *z]),
        _ => bail!("{what} '{text}': expected three finite numbers x,y,z"),
    }
}

pub fn run(a: PickArgs) -> Result<()> {
    let origin = triple(&a.from, "--from")?;
    let dir = triple(&a.dir, "--dir")?;
    if dir.iter().all(|c| *c == 0.0) {
        bail!("--dir must not be the zero vector");
    }
    let project = open_project(&a.project)?;
    let filter = FeatureFilter {
        layers: (!a.layer.is_empty()).then(|| a.layer.clone()),
        as_of: parse_date(&a.as_of)?,
        ..Default::default()
    };
    let index = CityIndex::load(&project, &filter)?;
    let hit = index.pick(origin, dir);
    match (&hit, a.json) {
        (Some(h), true) => {
            let mut v = serde_json::json!({"code": h.code.as_str(), "layer": h.layer, "kind": h.kind.name(),
                "distance_m": h.distance_m, "point": h.point, "normal": h.normal});
            if let Some(s) = &h.surface {
                v["surface"] = serde_json::json!({"class": s.class.name(), "lod": s.lod, "face": s.face});
            }
            println!("{v}");
        }
        (None, true) => println!("null"),
        (Some(h), false) => {
            println!(
                "hit {} (layer '{}', {}) at {:.2},{:.2},{:.2}, {:.2} m along the ray",
                h.code,
                h.layer,
                h.kind.name(),
                h.point[0],
                h.point[1],
                h.point[2],
                h.distance_m
            );
            if let Some(s) = &h.surface {
                println!("  surface: {} (LoD {}, face {})", s.class.name(), s.lod, s.face);
            }
        }
        (None, false) => println!("no feature along the ray ({} features indexed)", index.len()),
    }
    Ok(())
}
