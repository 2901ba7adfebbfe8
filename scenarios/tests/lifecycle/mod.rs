//! One lifecycle for every model (`cim_scenarios::run`): a scenario read by its model, run on
//! its project with progress, stopped when asked keeping what it reached, stored.

use std::sync::atomic::AtomicBool;

use cim_engine::{Crs, Project, Raster};
use cim_scenarios::run::{execute, Finished, Scenario};

/// A project of a 200 × 200 m tilted plane of 2 m cells, and a scenario file for it.
fn setup(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let project = dir.join("p.cim.gpkg");
    let mut p = Project::create(&project, &Crs::from_epsg(32633).unwrap(), "000000").unwrap();
    let mut r = Raster::empty(100, 100, 500_000.0, 5_000_200.0, 2.0, 2.0);
    for row in 0..100 {
        for col in 0..100 {
            r.data[row * 100 + col] = 100.0 - 0.01 * col as f32;
        }
    }
    let mut tx = p.import().unwrap();
    tx.put_terrain("terrain", &r, "test").unwrap();
    tx.commit().unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "s"
project = "p.cim.gpkg"
{extra}
[domain]
resolution_m = 4.0
[time]
duration_min = 10
output_interval_min = 5
[rain]
mm_per_h = [[0, 60], [5, 0]]
[boundary]
default = "free"
"#
        ),
    )
    .unwrap();
    scenario
}

#[test]
fn a_scenario_runs_through_the_one_lifecycle_reporting_progress_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(dir.path(), "");
    let s = Scenario::load(&path).unwrap();
    assert_eq!((s.model(), s.name(), s.duration_s()), ("flood", "s", 600.0));
    let mut seen = Vec::new();
    let done = execute(&s, String::new(), &AtomicBool::new(false), &mut |p| {
        seen.push(p.clone())
    })
    .unwrap();
    assert!(done.completed());
    assert!(matches!(done, Finished::Flood(_)));
    // Progress rises, and the last report is the end.
    assert!(seen
        .windows(2)
        .all(|w| w[0].time_s <= w[1].time_s && w[0].steps <= w[1].steps));
    let last = seen.last().unwrap();
    assert!(
        (last.time_s - 600.0).abs() < 1e-6 && last.duration_s == 600.0 && last.steps > 0,
        "{last:?}"
    );
    let p = Project::open(&dir.path().join("p.cim.gpkg")).unwrap();
    let run = p.run("s").unwrap().unwrap();
    assert_eq!((run.model.as_str(), run.completed), ("flood", true));
    assert_eq!(run.summary["run"]["steps"], done.summary()["run"]["steps"]);
    assert_eq!(run.summary["rasters"], done.summary()["rasters"]);
    // The tables the flood declares, written through the lifecycle and listed with the run;
    // its peaks beside its frames; the quantity compare maps.
    assert_eq!(p.run_tables("s").unwrap(), ["cim_run_buildings", "cim_run_roads"]);
    let buildings = p.run_table("s", "cim_run_buildings").unwrap().unwrap();
    assert_eq!(buildings.rows.len(), p.run_buildings("s").unwrap().len());
    let rasters = p.run_rasters("s").unwrap();
    for q in ["max_depth", "max_speed", "time_of_max_depth"] {
        assert_eq!(rasters.iter().filter(|r| r.quantity == q).count(), 1, "{q}");
    }
    assert_eq!(
        rasters.iter().filter(|r| r.quantity == "depth").count(),
        rasters.len() / 2 - 1
    );
    let summary = cim_engine::RunSummary::of(&run);
    assert_eq!(summary.compare_raster, Some(("max_depth".into(), "m".into())));
    assert!(run.summary["wall_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_run_asked_to_stop_keeps_what_it_reached() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(dir.path(), "");
    let s = Scenario::load(&path).unwrap();
    let done = execute(&s, String::new(), &AtomicBool::new(true), &mut |_| {}).unwrap();
    assert!(!done.completed());
    let p = Project::open(&dir.path().join("p.cim.gpkg")).unwrap();
    let run = p.run("s").unwrap().unwrap();
    assert!(!run.completed && run.time_reached_s > 0.0 && run.time_reached_s < 600.0);
}

#[test]
fn a_model_cim_does_not_know_is_an_error_naming_the_file_and_the_models() {
    for (extra, words) in [
        (
            "model = \"traffic-x\"",
            "model 'traffic-x' is not known (known: flood, traffic)",
        ),
        ("model = 3", "model must be text"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = setup(dir.path(), extra);
        let e = Scenario::load(&path).unwrap_err().to_string();
        assert!(e.contains("s.toml") && e.contains(words), "{e}");
    }
}

#[test]
fn a_run_declares_its_kpis_as_older_runs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(dir.path(), "");
    let s = Scenario::load(&path).unwrap();
    execute(&s, String::new(), &AtomicBool::new(false), &mut |_| {}).unwrap();
    let p = Project::open(&dir.path().join("p.cim.gpkg")).unwrap();
    let mut record = p.run("s").unwrap().unwrap();
    assert!(record.summary.get("kpis").is_some() && record.summary.get("kpi_snapshots").is_some());
    let declared = cim_engine::RunSummary::of(&record);
    assert_eq!(declared.kpis.len(), 9);
    assert_eq!(declared.snapshots.len(), 2);
    // The same run as a run stored before models declared them.
    let obj = record.summary.as_object_mut().unwrap();
    obj.remove("kpis");
    obj.remove("kpi_snapshots");
    let legacy = cim_engine::RunSummary::of(&record);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
    assert_eq!(legacy.kpis.len(), declared.kpis.len());
    for (a, b) in declared.kpis.iter().zip(&legacy.kpis) {
        assert_eq!((&a.key, &a.label, &a.unit), (&b.key, &b.label, &b.unit));
        assert!(close(a.value, b.value), "{a:?} {b:?}");
    }
    for (a, b) in declared.snapshots.iter().zip(&legacy.snapshots) {
        assert_eq!(a.time_s, b.time_s);
        assert_eq!(
            a.values.keys().collect::<Vec<_>>(),
            b.values.keys().collect::<Vec<_>>()
        );
        assert!(
            a.values.iter().all(|(k, v)| close(*v, b.values[k])),
            "{a:?} {b:?}"
        );
    }
}
