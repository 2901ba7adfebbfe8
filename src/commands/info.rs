use super::open_project;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct InfoArgs {
    pub project: PathBuf,
    #[arg(long)]
    pub json: bool,
}

fn extent_text(e: Option<[f64; 4]>) -> String {
    match e {
        Some([a, b, c, d]) => format!("{a:.1},{b:.1} .. {c:.1},{d:.1}"),
        None => "-".into(),
    }
}

pub fn run(a: InfoArgs) -> Result<()> {
    let project = open_project(&a.project)?;
    let layers = project.layers()?;
    let terrains = project.terrains()?;
    let meshes = project.mesh_summary()?;
    let (textures, texture_bytes) = project.texture_summary()?;
    let bim = project.bim_models()?;
    let tilesets = project.tilesets()?;
    let network = project.network_summary()?;
    let crs = project.crs();
    if a.json {
        let v = json!({
            "project": project.path().display().to_string(),
            "crs": crs.name(),
            "crs_name": crs.display_name(),
            "epsg": crs.epsg(),
            "region": project.region_code(),
            "layers": layers.iter().map(|l| json!({
                "name": l.name, "kind": l.kind.name(), "classification": l.classification.name(),
                "geometry_type": l.geometry_type.name(), "features": l.feature_count,
                "extent": l.extent, "source": l.source,
                "fields": l.fields.iter().map(|f| json!({"name": f.name, "type": f.field_type.sql()})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "meshes": meshes.iter().map(|m| json!({
                "layer": m.layer, "lod": m.lod, "kind": m.kind, "features": m.features,
                "triangles": m.triangles, "bytes": m.bytes,
                "bytes_per_triangle": m.bytes as f64 / m.triangles.max(1) as f64,
            })).collect::<Vec<_>>(),
            "textures": {"images": textures, "bytes": texture_bytes},
            "bim_models": bim.iter().map(|m| json!({
                "layer": m.layer, "file": m.file, "schema": m.schema, "georeferencing": m.method,
                "crs": m.crs, "origin": m.origin, "rotation_deg": m.rotation_deg, "scale": m.scale,
                "elements": m.elements, "skipped": m.skipped,
                "classes": m.classes.iter().map(|(c, n)| json!({"class": c, "count": n})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "tilesets": tilesets.iter().map(|t| json!({
                "name": t.name, "kind": t.kind.name(), "source": t.source, "placement": t.placement,
                "content": if t.root.is_some() { "referenced" } else { "packed" }, "root": t.root,
                "tiles": t.tiles, "triangles": t.triangles, "points": t.points, "bounds": t.bounds,
                "frame": t.frame,
            })).collect::<Vec<_>>(),
            "terrain": terrains.iter().map(|t| json!({
                "name": t.name, "width": t.width, "height": t.height, "cell_w": t.cell_w, "cell_h": t.cell_h,
                "extent": t.extent, "min_m": t.min_m, "max_m": t.max_m, "valid_cells": t.valid_cells, "source": t.source,
            })).collect::<Vec<_>>(),
            "network": network,
        });
        println!("{v}");
        return Ok(());
    }
    println!("project  {}", project.path().display());
    println!("crs      {} ({})", crs.name(), crs.display_name());
    println!("region   {}", project.region_code());
    println!();
    println!(
        "{:<16} {:<10} {:<11} {:<16} {:>9}  extent",
        "layer", "kind", "class", "geometry", "features"
    );
    for l in &layers {
        println!(
            "{:<16} {:<10} {:<11} {:<16} {:>9}  {}",
            l.name,
            l.kind.name(),
            l.classification.name(),
            l.geometry_type.name(),
            l.feature_count,
            extent_text(l.extent)
        );
    }
    if layers.is_empty() {
        println!("(no layers yet: cim import {} FILE)", project.path().display());
    }
    if !meshes.is_empty() {
        println!();
        println!(
            "{:<16} {:<6} {:<16} {:>9} {:>10} {:>10}  B/triangle",
            "3-D geometry", "LoD", "kind", "features", "triangles", "bytes"
        );
        for m in &meshes {
            println!(
                "{:<16} {:<6} {:<16} {:>9} {:>10} {:>10}  {:.1}",
                m.layer,
                if m.lod.is_empty() { "-" } else { m.lod.as_str() },
                m.kind,
                m.features,
                m.triangles,
                m.bytes,
                m.bytes as f64 / m.triangles.max(1) as f64
            );
        }
        if textures > 0 {
            println!("texture images: {textures} ({texture_bytes} bytes, as delivered)");
        }
    }
    for m in &bim {
        println!();
        println!(
            "BIM model '{}': {} from {}, {} elements{}",
            m.layer,
            m.schema,
            m.file,
            m.elements,
            if m.skipped > 0 {
                format!(" ({} left out: geometry failed)", m.skipped)
            } else {
                String::new()
            }
        );
        println!(
            "  placed by {}: origin E {:.3}, N {:.3}, H {:.3} in {}, rotated {:.4}°, scale {}",
            m.method, m.origin[0], m.origin[1], m.origin[2], m.crs, m.rotation_deg, m.scale
        );
        let mut classes = m.classes.clone();
        classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Vec<String> = classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!("  {}", list.join(", "));
    }
    for t in &tilesets {
        let b = t.bounds;
        println!();
        println!(
            "tileset '{}': {} from {}, {} tiles, {} ({}), placed by {}",
            t.name,
            t.kind.name(),
            t.source,
            t.tiles,
            match (t.triangles, t.points) {
                (0, p) => format!("{p} points"),
                (n, 0) => format!("{n} triangles"),
                (n, p) => format!("{n} triangles and {p} points"),
            },
            match &t.root {
                Some(r) => format!("content referenced in {r}"),
                None => "content in the project".into(),
            },
            t.placement
        );
        println!(
            "  bounds {:.3},{:.3},{:.3} .. {:.3},{:.3},{:.3} (project CRS)",
            b[0], b[1], b[2], b[3], b[4], b[5]
        );
    }
    for t in &terrains {
        println!();
        println!(
            "terrain '{}': {}×{} cells of {:.2}×{:.2} m, elevation {}–{} m, {} cells with data, extent {}",
            t.name,
            t.width,
            t.height,
            t.cell_w,
            t.cell_h,
            t.min_m.map(|v| format!("{v:.1}")).unwrap_or("-".into()),
            t.max_m.map(|v| format!("{v:.1}")).unwrap_or("-".into()),
            t.valid_cells,
            extent_text(Some(t.extent))
        );
    }
    if let Some(n) = &network {
        println!();
        println!(
            "{} (built {} from {})",
            crate::output::network_line(&n.stats),
            n.built,
            n.layers.join(", ")
        );
        let controls: Vec<String> = n.controls.iter().map(|(c, k)| format!("{c} {k}")).collect();
        println!("  junctions: {}", controls.join(", "));
        println!("  tables: cim_net_edges, cim_net_junctions, cim_net_signals, cim_net_connections");
        if !n.notes.is_empty() {
            println!(
                "  {} notes (cim info --json lists them), the first: {}",
                n.notes.len(),
                n.notes[0]
            );
        }
    }
    Ok(())
}
