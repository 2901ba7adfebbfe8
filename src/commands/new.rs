use anyhow::{Context, Result};
use cim_engine::{Crs, Project};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct NewArgs {
    /// The project file to create, e.g. city.cim.gpkg.
    pub project: PathBuf,
    /// Project CRS: projected, in metres (EPSG:4547 for CGCS2000 3-degree GK CM 114E, EPSG:32650 for UTM 50N, ...).
    #[arg(long)]
    pub crs: String,
    /// Administrative division code (GB/T 2260, e.g. 110105) that prefixes every city code.
    #[arg(long, default_value = "000000")]
    pub region: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: NewArgs) -> Result<()> {
    let crs = Crs::parse(&a.crs).with_context(|| format!("--crs {}", a.crs))?;
    if a.region.is_empty() || !a.region.chars().all(|c| c.is_ascii_alphanumeric()) {
        anyhow::bail!("--region '{}' must be letters or digits, e.g. 110105", a.region);
    }
    let project = Project::create(&a.project, &crs, &a.region)?;
    if a.json {
        let v = serde_json::json!({
            "project": project.path().display().to_string(),
            "crs": crs.name(),
            "crs_name": crs.display_name(),
            "epsg": crs.epsg(),
            "region": a.region,
        });
        println!("{v}");
    } else {
        println!(
            "created {} (CRS {} {}, region {})",
            project.path().display(),
            crs.name(),
            crs.display_name(),
            a.region
        );
    }
    Ok(())
}
