//! `cim runs PROJECT` and `cim compare PROJECT RUN_A RUN_B`.

use super::open_project;
use super::run::require_run;
use anyhow::{bail, Context, Result};
use cim_engine::{Project, Raster, RunRecord, RunSummary, FLOOD_CLASSES};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct RunsArgs {
    pub project: PathBuf,
    /// Remove this run: its records and rasters.
    #[arg(long, value_name = "RUN")]
    pub remove: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CompareArgs {
    pub project: PathBuf,
    /// The baseline run.
    pub run_a: String,
    /// The variant run.
    pub run_b: String,
    /// Write the difference of maximum depth, B − A, to this GeoTIFF (default: store it in the
    /// project as run B's raster `max_depth_minus_<A>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// A run's figures by key (0 where its summary lacks one).
fn kpi(s: &RunSummary, key: &str) -> f64 {
    s.value(key).unwrap_or(0.0)
}

pub fn list(a: RunsArgs) -> Result<()> {
    if let Some(name) = &a.remove {
        let mut project = open_project(&a.project)?;
        if !project.delete_run(name)? {
            require_run(&project, name)?;
        }
        if a.json {
            println!("{}", serde_json::json!({ "removed": name }));
        } else {
            println!("removed run '{name}'");
        }
        return Ok(());
    }
    let project = open_project(&a.project)?;
    let runs = project.runs()?;
    if a.json {
        let v = runs
            .iter()
            .map(|r| {
                // The headline numbers as the model declared them, beside the whole summary.
                let kpis: serde_json::Map<String, serde_json::Value> = RunSummary::of(r)
                    .kpis
                    .iter()
                    .map(|k| (k.key.clone(), serde_json::json!(k.value)))
                    .collect();
                // Where its results are: the tables it wrote and its rasters.
                let rasters: Vec<String> = project.run_rasters(&r.name)?.iter().map(|x| x.label()).collect();
                Ok(serde_json::json!({
                    "name": r.name, "model": r.model, "created": r.created, "completed": r.completed,
                    "time_reached_s": r.time_reached_s, "outputs": r.outputs, "kpis": kpis,
                    "tables": project.run_tables(&r.name)?, "rasters": rasters, "summary": r.summary,
                }))
            })
            .collect::<Result<Vec<serde_json::Value>>>()?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!(
            "no runs in {} (cim run SCENARIO.toml makes one)",
            a.project.display()
        );
        return Ok(());
    }
    if runs.iter().any(|r| r.model != "flood") {
        println!(
            "{:<24} {:<20} {:>9}  model: headline numbers",
            "run", "created", "time"
        );
    }
    for r in runs.iter().filter(|r| r.model != "flood") {
        // Other models: their first headline numbers, as they declared them.
        let k = RunSummary::of(r);
        let heads: Vec<String> = k
            .kpis
            .iter()
            .take(6)
            .map(|x| {
                if x.unit.is_empty() {
                    format!("{} {}", x.label, x.value)
                } else {
                    format!("{} {:.1} {}", x.label, x.value, x.unit)
                }
            })
            .collect();
        println!(
            "{:<24} {:<20} {:>9}  {}: {}",
            r.name,
            r.created,
            format!("{:.0} s{}", r.time_reached_s, if k.completed { "" } else { "*" }),
            r.model,
            heads.join(" · ")
        );
    }
    if runs.iter().any(|r| r.model == "flood") {
        println!(
            "{:<24} {:<20} {:>9} {:>9}  {:>22}  {:>14}  rasters",
            "run", "created", "time", "max m", "buildings dry/<.3/.3-.5/>.5", "roads closed"
        );
    }
    for r in runs.iter().filter(|r| r.model == "flood") {
        let k = RunSummary::of(r);
        let time = if k.completed {
            format!("{:.0} s", r.time_reached_s)
        } else {
            format!("{:.0} s*", r.time_reached_s)
        };
        println!(
            "{:<24} {:<20} {:>9} {:>9.2}  {:>22}  {:>5} {:>6.0} m  {}",
            r.name,
            r.created,
            time,
            kpi(&k, "max_depth_m"),
            FLOOD_CLASSES
                .iter()
                .map(|(key, _)| kpi(&k, key).to_string())
                .collect::<Vec<_>>()
                .join("/"),
            kpi(&k, "roads_closed"),
            kpi(&k, "road_closed_length_m"),
            if r.outputs.is_empty() {
                format!("{} in the project", project.run_rasters(&r.name)?.len())
            } else {
                format!("{} (GeoTIFFs of an older cim)", r.outputs)
            }
        );
    }
    if runs.iter().any(|r| !r.completed) {
        println!("* stopped before its end (results up to that time)");
    }
    Ok(())
}

/// A run's raster of `quantity` (its peak: the coverage with no time).
fn read_peak(project: &Project, r: &RunRecord, quantity: &str) -> Result<Raster> {
    let rasters = project.run_rasters(&r.name)?;
    let Some(peak) = rasters
        .iter()
        .find(|x| x.quantity == quantity && x.time_s.is_none())
    else {
        bail!(
            "run '{}' has no {} raster in {}{}",
            r.name,
            quantity.replace('_', " "),
            project.path().display(),
            if r.outputs.is_empty() {
                String::new()
            } else {
                format!(" nor in {} beside it", r.outputs)
            }
        );
    };
    cim_importers::read_run_raster(project.path(), peak).with_context(|| format!("run '{}'", r.name))
}

/// The difference map of the quantity both runs' model names: the raster, B − A, with the
/// cells that rose or fell by more than `step`.
struct Difference {
    quantity: String,
    unit: String,
    raster: Raster,
    higher: u64,
    lower: u64,
}

fn difference(
    project: &Project,
    ra: &RunRecord,
    rb: &RunRecord,
    (ka, kb): (&RunSummary, &RunSummary),
) -> Result<Option<Difference>> {
    let (Some((qa, unit)), Some((qb, _))) = (&ka.compare_raster, &kb.compare_raster) else {
        return Ok(None);
    };
    if qa != qb {
        bail!(
            "runs '{}' and '{}' map different quantities ({qa}, {qb}); compare runs of one model",
            ra.name,
            rb.name
        );
    }
    let (da, db) = (read_peak(project, ra, qa)?, read_peak(project, rb, qa)?);
    if (da.width, da.height) != (db.width, db.height)
        || (da.origin_x - db.origin_x).abs() > 1e-6
        || (da.origin_y - db.origin_y).abs() > 1e-6
        || (da.cell_w - db.cell_w).abs() > 1e-9
    {
        bail!(
            "runs '{}' and '{}' are on different grids ({}×{} vs {}×{} cells); compare runs of the same domain and resolution",
            ra.name, rb.name, da.width, da.height, db.width, db.height
        );
    }
    let diff: Vec<f32> = da
        .data
        .iter()
        .zip(&db.data)
        .map(|(x, y)| if x.is_nan() || y.is_nan() { f32::NAN } else { y - x })
        .collect();
    let (higher, lower) = diff.iter().fold((0u64, 0u64), |(w, d), &v| {
        (w + u64::from(v > 0.01), d + u64::from(v < -0.01))
    });
    Ok(Some(Difference {
        quantity: qa.clone(),
        unit: unit.clone(),
        raster: Raster {
            data: diff,
            ..db.clone()
        },
        higher,
        lower,
    }))
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let v = compare_runs(&a.project, &a.run_a, &a.run_b, a.out.clone(), a.json)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(())
}

/// Writes the difference map of two stored runs; prints their side-by-side summary unless
/// `json`, and returns it as JSON.
pub fn compare_runs(
    project: &std::path::Path,
    run_a: &str,
    run_b: &str,
    out: Option<PathBuf>,
    json: bool,
) -> Result<serde_json::Value> {
    let a = CompareArgs {
        project: project.to_path_buf(),
        run_a: run_a.to_string(),
        run_b: run_b.to_string(),
        out,
        json,
    };
    let mut project = open_project(&a.project)?;
    let (ra, rb) = (require_run(&project, &a.run_a)?, require_run(&project, &a.run_b)?);
    let (ka, kb) = (RunSummary::of(&ra), RunSummary::of(&rb));
    if ka.model != kb.model {
        bail!(
            "run '{}' is a {} run and '{}' a {} run; compare runs of one model",
            ra.name,
            ka.model,
            rb.name,
            kb.model
        );
    }
    let diff = difference(&project, &ra, &rb, (&ka, &kb))?;
    let out = match (&diff, &a.out) {
        (None, _) => None,
        (Some(d), Some(p)) => {
            cim_importers::export::write_geotiff(p, &d.raster, project.crs())?;
            Some(p.display().to_string())
        }
        (Some(d), None) => {
            let table = project.put_run_raster(
                &rb.name,
                &format!("{}_minus_{}", d.quantity, ra.name),
                &d.raster,
                &d.unit,
            )?;
            Some(format!("GPKG:{}:{table}", project.path().display()))
        }
    };

    // Buildings that change class.
    let classes_a: BTreeMap<String, String> = project
        .run_buildings(&ra.name)?
        .into_iter()
        .map(|b| (b.code, b.class))
        .collect();
    let rank = |c: &str| FLOOD_CLASSES.iter().position(|x| x.1 == c).unwrap_or(0);
    let (mut worse, mut better) = (0u64, 0u64);
    for b in project.run_buildings(&rb.name)? {
        if let Some(ca) = classes_a.get(&b.code) {
            match rank(&b.class).cmp(&rank(ca)) {
                std::cmp::Ordering::Greater => worse += 1,
                std::cmp::Ordering::Less => better += 1,
                std::cmp::Ordering::Equal => {}
            }
        }
    }
    let side = |k: &RunSummary| {
        let by_class: Vec<u64> = FLOOD_CLASSES.iter().map(|(key, _)| kpi(k, key) as u64).collect();
        serde_json::json!({
            "buildings_by_class": by_class, "roads_closed": kpi(k, "roads_closed") as u64,
            "road_closed_length_m": kpi(k, "road_closed_length_m"), "max_depth_m": kpi(k, "max_depth_m"),
            "stored_m3": kpi(k, "stored_m3"), "boundary_out_m3": kpi(k, "boundary_out_m3"), "completed": k.completed,
            "kpis": k.kpis.iter().map(|x| serde_json::json!({"key": x.key, "label": x.label, "unit": x.unit, "value": x.value})).collect::<Vec<_>>(),
        })
    };
    let v = serde_json::json!({
        "a": ra.name, "b": rb.name, "summary_a": side(&ka), "summary_b": side(&kb),
        "model": ka.model,
        "buildings_worse": worse, "buildings_better": better,
        "cells_deeper_by_1cm": diff.as_ref().map(|d| d.higher),
        "cells_shallower_by_1cm": diff.as_ref().map(|d| d.lower),
        "difference_map": out,
    });
    if a.json {
        return Ok(v);
    }
    println!("{:<34} {:>14} {:>14} {:>10}", "", ra.name, rb.name, "change");
    // Every KPI of the first run that the second has too, as the model names them (the water
    // that left over the boundary is in the JSON only).
    for x in ka.kpis.iter().filter(|x| x.key != "boundary_out_m3") {
        let Some(y) = kb.value(&x.key) else { continue };
        let label = if x.unit.is_empty() {
            x.label.clone()
        } else {
            format!("{}, {}", x.label, x.unit)
        };
        let digits = match x.unit.as_str() {
            "" | "m" | "m³" if x.key != "max_depth_m" => 0,
            _ => 2,
        };
        println!(
            "{:<34} {:>14.digits$} {:>14.digits$} {:>+10.digits$}",
            label,
            x.value,
            y,
            y - x.value
        );
    }
    if ka.model == "flood" {
        println!("buildings in a worse class: {worse}, in a better class: {better}");
    }
    if let (Some(d), Some(out)) = (&diff, &out) {
        println!(
            "cells at least 0.01 {} higher: {}, at least 0.01 {} lower: {}",
            d.unit, d.higher, d.unit, d.lower
        );
        println!(
            "difference map ({} {} − {}): {}",
            d.quantity.replace('_', " "),
            rb.name,
            ra.name,
            out
        );
    }
    if !(ka.completed && kb.completed) {
        println!("note: a run was stopped before its end; its figures cover the time it reached");
    }
    Ok(v)
}
