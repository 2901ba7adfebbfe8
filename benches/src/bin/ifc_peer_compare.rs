//! cim's IFC geometry against IfcOpenShell's (`tests/peers/ifc_geometry.py`): per product, how
//! far the bounding boxes differ (mm) and the volumes (%); prints the distribution, the worst
//! products, the share within 1 mm and 1 %, and both CPU times with their ratio.
//!
//! Usage: ifc_peer_compare FILE.ifc PEER.jsonl [WEBIFC.json] (the scripts' output for the
//! same file: `tests/peers/ifc_geometry.py`, `benches/peer/ifc_webifc.js`).

extern crate cim_benches;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use cim_importers::ifc::georef::read_georef;
use cim_importers::ifc::import::tessellate;
use cim_importers::ifc::solid::{area, bounds, enclosed_volume, Tri};
use cim_importers::ifc::step::StepFile;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ifc_peer_compare FILE.ifc PEER.jsonl");
        return std::process::ExitCode::from(2);
    }
    let path = PathBuf::from(&args[1]);
    // Best of five runs: parse, georeference, tessellate.
    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..5 {
        let t = Instant::now();
        let f = StepFile::open(&path).expect("read");
        let g = read_georef(&f).expect("georef");
        let (geom, warnings) = tessellate(&f, &g).expect("tessellate");
        best = best.min(t.elapsed().as_secs_f64());
        result = Some((geom, warnings, g.unit_m));
    }
    let (geom, warnings, unit) = result.expect("five runs");
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let text = std::fs::read_to_string(&args[2]).expect("peer output");
    let mut theirs: HashMap<u64, serde_json::Value> = HashMap::new();
    let mut peer_cpu = f64::NAN;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        if let Some(c) = v.get("cpu_s").and_then(|c| c.as_f64()) {
            peer_cpu = c;
        } else {
            theirs.insert(v["id"].as_u64().expect("an id"), v);
        }
    }
    let ours: HashMap<u64, &Vec<Tri>> = geom.bodies.iter().map(|(id, t)| (*id, t)).collect();
    let mut rows: Vec<(u64, String, f64, f64)> = Vec::new();
    let mut open_surfaces = 0;
    let mut only_theirs = Vec::new();
    // Openings are cut from their hosts, not shapes of their own (IfcConvert leaves them out too).
    let openings = theirs
        .values()
        .filter(|v| v["class"] == "IfcOpeningElement")
        .count();
    theirs.retain(|_, v| v["class"] != "IfcOpeningElement");
    for (id, v) in &theirs {
        let class = v["class"].as_str().unwrap_or("").to_string();
        let Some(t) = ours.get(id) else {
            only_theirs.push(format!("#{id} {class}"));
            continue;
        };
        let Some((lo, hi)) = bounds(t) else { continue };
        let get = |k: &str, i: usize| v[k][i].as_f64().unwrap_or(f64::NAN);
        let d = (0..3)
            .map(|i| {
                (lo[i] * unit - get("lo", i))
                    .abs()
                    .max((hi[i] * unit - get("hi", i)).abs())
            })
            .fold(0.0, f64::max);
        // Closed: the volumes; open (a surface model), the areas.
        let closed = v["closed"].as_bool().unwrap_or(true);
        let (vo, vt) = if closed {
            (
                enclosed_volume(t, 1e-6 / unit) * unit.powi(3),
                v["volume"].as_f64().unwrap_or(f64::NAN),
            )
        } else {
            open_surfaces += 1;
            (area(t) * unit * unit, v["area"].as_f64().unwrap_or(f64::NAN))
        };
        let rel = if vt.abs() < 1e-9 && vo.abs() < 1e-9 {
            0.0
        } else {
            (vo - vt).abs() / vt.abs().max(1e-9)
        };
        rows.push((*id, class, d * 1000.0, rel * 100.0));
    }
    let only_ours: Vec<String> = geom
        .bodies
        .iter()
        .filter(|(id, _)| !theirs.contains_key(id))
        .map(|(id, _)| format!("#{id}"))
        .collect();
    let n = rows.len();
    let good = rows.iter().filter(|r| r.2 <= 1.0 && r.3 <= 1.0).count();
    let compared = n + only_theirs.len();
    println!(
        "{}: {} products by IfcOpenShell, {} by cim, {} in both",
        path.display(),
        theirs.len(),
        geom.bodies.len(),
        n
    );
    println!("({openings} openings left out: cut from their hosts)");
    println!("({open_surfaces} of them open surfaces in IfcOpenShell's mesh: areas compared, not volumes)");
    println!(
        "agree (box within 1 mm, volume within 1 %): {good} of {compared} = {:.1} %",
        100.0 * good as f64 / compared.max(1) as f64
    );
    for (label, col) in [("box difference, mm", 2), ("volume difference, %", 3)] {
        let mut v: Vec<f64> = rows.iter().map(|r| if col == 2 { r.2 } else { r.3 }).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            v.get(((v.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "{label}: median {:.4}, 90th {:.4}, 99th {:.4}, max {:.4}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0)
        );
    }
    rows.sort_by(|a, b| (b.2 + b.3 * 10.0).total_cmp(&(a.2 + a.3 * 10.0)));
    println!("worst:");
    for r in rows.iter().take(12) {
        println!("  #{} {}: box {:.3} mm, volume {:.3} %", r.0, r.1, r.2, r.3);
    }
    if !only_theirs.is_empty() {
        println!(
            "only IfcOpenShell ({}): {}",
            only_theirs.len(),
            only_theirs.join(", ")
        );
    }
    if !only_ours.is_empty() {
        println!("only cim ({}): {}", only_ours.len(), only_ours.join(", "));
    }
    println!(
        "time: cim {:.3} s (best of 5, parse + georeference + tessellate, one thread), IfcOpenShell {:.3} s CPU (default kernel): {:.1}× faster",
        best,
        peer_cpu,
        peer_cpu / best
    );
    if let Some(w) = args.get(3) {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(w).expect("web-ifc output")).expect("json");
        let cpu = v["cpu_s"].as_f64().unwrap_or(f64::NAN);
        println!(
            "web-ifc 0.0.78: {} meshes, {} triangles, {:.3} s CPU warm ({:.3} s cold): cim {:.1}× faster warm",
            v["meshes"],
            v["triangles"],
            cpu,
            v["first_s"].as_f64().unwrap_or(f64::NAN),
            cpu / best
        );
    }
    let triangles: usize = geom.bodies.iter().map(|(_, t)| t.len()).sum();
    println!("cim: {} products, {triangles} triangles", geom.bodies.len());
    std::process::ExitCode::SUCCESS
}
