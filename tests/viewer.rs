//! The viewer on the demo district: what it loads, and what it renders offscreen (with Mesa's
//! software Vulkan where there is no GPU).
#![allow(clippy::unwrap_used)]

mod common;
use cim_viewer::model::source::{wait, ProjectSource};

use common::*;
use std::path::Path;

#[test]
fn the_demo_district_loads_as_terrain_and_merged_building_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let scene = cim_viewer::load_scene(&project).unwrap();
    let info = cim_json(&["info", p(&project), "--json"]);
    let layers = info["layers"].as_array().unwrap();
    // The district's buildings and the BIM model's elements beside it.
    let buildings: u64 = ["buildings", "duplex"]
        .iter()
        .map(|n| {
            layers.iter().find(|l| l["name"] == *n).unwrap()["features"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(scene.bim.layers.len(), 1);
    assert_eq!(scene.buildings.len() as u64, buildings);
    assert!(scene.notices.is_empty(), "{:?}", scene.notices);
    // Every building is in exactly one tile, and tiles are few (one draw call each).
    let mut ids: Vec<u32> = scene
        .tiles
        .iter()
        .flat_map(|t| t.buildings.iter().map(|b| b.0))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..buildings as u32).collect::<Vec<_>>());
    assert!(scene.tiles.len() < 40, "{} tiles", scene.tiles.len());
    // Streets and parcel boundaries are draped: one mesh a layer, on the ground.
    let mut layers: Vec<&str> = scene.overlays.iter().map(|o| o.layer.as_str()).collect();
    layers.sort_unstable();
    assert_eq!(layers, ["parcels", "streets"]);
    // Local coordinates stay small (the district is about 1 km across) and buildings stand on
    // the terrain: their lowest vertex is within a few metres of the DEM's range.
    let terrain = scene.terrain.as_ref().unwrap();
    let (zmin, zmax) = terrain.min_max().unwrap();
    for t in &scene.tiles {
        let (lo, hi) = t.mesh.bounds().unwrap();
        assert!(
            lo.iter().chain(hi.iter()).all(|v| v.abs() < 3000.0),
            "{lo:?} {hi:?}"
        );
        assert!(
            lo[1] >= -5.0 && lo[1] <= zmax - zmin + 5.0,
            "tile floor {}",
            lo[1]
        );
    }
}

#[test]
fn a_project_with_nothing_to_show_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("empty.cim.gpkg");
    cim(&["new", p(&project), "--crs", "EPSG:4547"]);
    let out = dir.path().join("x.png");
    let err = cim_err(&["render", p(&project), "--out", p(&out)]);
    assert!(err.contains("nothing to show"), "{err}");
    assert!(!out.exists());
    let err = cim_err(&["render", p(&project), "--out", p(&out), "--size", "12x9000"]);
    assert!(err.contains("--size"), "{err}");
}

/// Whether this machine can render; where CI installed a Vulkan driver, it must.
fn can_render() -> bool {
    match cim_viewer::find_gpu() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CIM_REQUIRE_GPU_TESTS").is_none(),
                "no renderer: {e}"
            );
            eprintln!("skipped: {e}");
            false
        }
    }
}

fn read_png(path: &Path) -> image::RgbaImage {
    image::open(path).unwrap().to_rgba8()
}

#[test]
fn render_draws_the_demo_like_the_reference_image() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let out = dir.path().join("demo.png");
    let v = cim_json(&[
        "render",
        p(&project),
        "--size",
        "320x180",
        "--out",
        p(&out),
        "--json",
    ]);
    assert_eq!(v["width"], 320);
    // The 670 × 718 m DEM in chunks of 64 cells, each drawn at the level of detail it needs:
    // from this far, far fewer triangles than two a cell.
    let (chunks, triangles) = (
        v["terrain_chunks"].as_u64().unwrap(),
        v["terrain_triangles"].as_u64().unwrap(),
    );
    assert!((100..=132).contains(&chunks), "{v}");
    assert!(triangles > 0 && triangles < 2 * 670 * 718, "{v}");
    let img = read_png(&out);
    assert_eq!(img.dimensions(), (320, 180));
    // Sky round the edge (blue above red), the district in the middle (not sky).
    let is_sky = |p: &image::Rgba<u8>| p[2] > p[0] + 20 && p[2] > 150;
    for (x, y) in [(160, 2), (2, 90), (317, 90)] {
        assert!(
            is_sky(img.get_pixel(x, y)),
            "({x}, {y}): {:?}",
            img.get_pixel(x, y)
        );
    }
    let middle = (110..210).flat_map(|x| (60..120).map(move |y| (x, y)));
    let ground = middle.filter(|&(x, y)| !is_sky(img.get_pixel(x, y))).count();
    assert!(
        ground > 100 * 60 * 3 / 4,
        "only {ground} of the 6000 middle pixels show the district"
    );
    // Against the stored reference (CIM_UPDATE_REFERENCE=1 rewrites it).
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/render_demo_320x180.png");
    if std::env::var_os("CIM_UPDATE_REFERENCE").is_some() {
        std::fs::copy(&out, &reference).unwrap();
    }
    let want = read_png(&reference);
    let (mut sum, mut far) = (0u64, 0usize);
    for (a, b) in img.pixels().zip(want.pixels()) {
        let d: u32 = (0..3).map(|k| u32::from(a[k].abs_diff(b[k]))).max().unwrap();
        sum += u64::from(d);
        far += usize::from(d > 40);
    }
    let mean = sum as f64 / (320.0 * 180.0);
    assert!(mean < 4.0, "mean difference {mean:.2} from the reference");
    assert!(
        far < 320 * 180 / 50,
        "{far} pixels differ by more than 40 from the reference"
    );
}

#[test]
fn a_selected_building_is_drawn_highlighted() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let scene = cim_viewer::load_scene(&project).unwrap();
    // The district's building with the most vertices, and where it is.
    let (tile, (id, range)) = scene
        .tiles
        .iter()
        .flat_map(|t| t.buildings.iter().map(move |b| (t, b.clone())))
        .filter(|(_, (id, _))| scene.layers[usize::from(scene.buildings[*id as usize].layer)] == "buildings")
        .max_by_key(|(_, (_, r))| r.end - r.start)
        .unwrap();
    let pts = &tile.mesh.positions[range.start as usize..range.end as usize];
    let mid = |k: usize| pts.iter().map(|p| p[k]).sum::<f32>() / pts.len() as f32;
    let centre = scene.origin.to_project([mid(0), mid(1), mid(2)]);
    let code = scene.buildings[id as usize].code.to_string();
    let camera = format!("{},{},{},20,55,120", centre[0], centre[1], centre[2]);
    let cyan = |path: &Path| {
        read_png(path)
            .pixels()
            .filter(|p| p[1] > 150 && p[2] > 150 && i32::from(p[0]) + 80 < i32::from(p[1]))
            .count()
    };
    let plain = dir.path().join("plain.png");
    let picked = dir.path().join("picked.png");
    cim_json(&[
        "render",
        p(&project),
        "--size",
        "320x180",
        "--camera",
        &camera,
        "--out",
        p(&plain),
        "--json",
    ]);
    cim_json(&[
        "render",
        p(&project),
        "--size",
        "320x180",
        "--camera",
        &camera,
        "--select",
        &code,
        "--out",
        p(&picked),
        "--json",
    ]);
    assert_eq!(cyan(&plain), 0);
    assert!(cyan(&picked) > 500, "{} cyan pixels", cyan(&picked));
    let err = cim_err(&[
        "render",
        p(&project),
        "--out",
        p(&plain),
        "--select",
        "000000-BU-0000000000",
    ]);
    assert!(err.contains("--select"), "{err}");
}

#[test]
fn a_ray_through_a_building_picks_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let scene = cim_viewer::load_scene(&project).unwrap();
    let index = wait(cim_viewer::pick::PickIndex::load(&ProjectSource::new(&project))).unwrap();
    // Straight down onto the roof centre of a few buildings (roof vertices: the highest ones).
    let mut checked = 0;
    for t in scene.tiles.iter().take(5) {
        let (id, range) = &t.buildings[0];
        let pts = &t.mesh.positions[range.start as usize..range.end as usize];
        let top = pts.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
        let roof: Vec<&[f32; 3]> = pts.iter().filter(|p| p[1] == top).collect();
        // A roof vertex nudged towards the roof's centroid stays inside a convex-ish footprint.
        let cx = roof.iter().map(|p| p[0]).sum::<f32>() / roof.len() as f32;
        let cz = roof.iter().map(|p| p[2]).sum::<f32>() / roof.len() as f32;
        let from = bevy_vec(cx, top + 50.0, cz);
        let Some((hit, building)) = cim_viewer::pick::pick_ray(
            &scene,
            &index,
            from,
            bevy_vec(0.0, -1.0, 0.0),
            1.0,
            &|_| true,
            &|_| false,
            None,
        ) else {
            continue;
        };
        if building == Some(*id) {
            assert!((hit.distance_m - 50.0).abs() < 0.05, "{}", hit.distance_m);
            // Hidden (its layer off, or not standing on the "as of" day): clicked through.
            let through = cim_viewer::pick::pick_ray(
                &scene,
                &index,
                from,
                bevy_vec(0.0, -1.0, 0.0),
                1.0,
                &|b| b != *id,
                &|_| false,
                None,
            );
            assert!(
                through
                    .as_ref()
                    .is_none_or(|(h, b)| *b != Some(*id) && h.distance_m > 50.0),
                "{through:?}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "only {checked} of 5 roof centres picked their building"
    );
}

/// A feature and a point on it to click.
type Target = (cim_engine::CityCode, [f64; 2]);

/// Roads and parcels of the demo, with a point on each to click: a road's middle vertex, and a
/// parcel's interior point where no road or building is near.
fn ground_targets(project: &Path) -> (Vec<Target>, Vec<Target>) {
    use geo::{Distance, Euclidean, InteriorPoint, Intersects};
    let p = cim_engine::Project::open(project).unwrap();
    let all = |kind| {
        let mut out = Vec::new();
        let filter = cim_engine::FeatureFilter {
            kinds: Some(vec![kind]),
            ..Default::default()
        };
        p.for_each_feature(&filter, |s| {
            out.push(s.feature);
            Ok(())
        })
        .unwrap();
        out
    };
    let (roads, parcels, buildings) = (
        all(cim_engine::FeatureKind::Road),
        all(cim_engine::FeatureKind::Parcel),
        all(cim_engine::FeatureKind::Building),
    );
    let road_points = roads
        .iter()
        .filter_map(|r| match &r.geometry {
            geo::Geometry::LineString(l) if l.0.len() >= 3 => {
                let c = l.0[l.0.len() / 2];
                Some((r.code.clone(), [c.x, c.y]))
            }
            _ => None,
        })
        .collect();
    let parcel_points = parcels
        .iter()
        .filter_map(|f| {
            let pt = f.geometry.interior_point()?;
            let clear = roads.iter().all(|r| Euclidean.distance(&pt, &r.geometry) > 15.0)
                && buildings
                    .iter()
                    .all(|b| Euclidean.distance(&pt, &b.geometry) > 5.0)
                && !buildings.iter().any(|b| b.geometry.intersects(&pt));
            clear.then(|| (f.code.clone(), [pt.x(), pt.y()]))
        })
        .collect();
    (road_points, parcel_points)
}

#[test]
fn a_click_on_the_ground_picks_the_road_or_the_parcel_there() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let scene = cim_viewer::load_scene(&project).unwrap();
    let index = wait(cim_viewer::pick::PickIndex::load(&ProjectSource::new(&project))).unwrap();
    let (roads, parcels) = ground_targets(&project);
    assert!(
        roads.len() >= 5 && parcels.len() >= 5,
        "{} roads, {} parcels",
        roads.len(),
        parcels.len()
    );
    let down = |xy: [f64; 2]| {
        let z = cim_viewer::model::scene::ground(scene.terrain.as_ref(), xy[0], xy[1], 0.0);
        let from = scene.origin.to_local(xy[0], xy[1], z + 300.0);
        let hit = cim_viewer::pick::pick_ray(
            &scene,
            &index,
            bevy_vec(from[0], from[1], from[2]),
            bevy_vec(0.0, -1.0, 0.0),
            1.0,
            &|_| true,
            &|_| false,
            None,
        );
        (z, hit)
    };
    for (code, xy) in roads.iter().take(5) {
        let (z, hit) = down(*xy);
        let (hit, building) = hit.unwrap_or_else(|| panic!("nothing picked on road {code}"));
        assert_eq!(
            (hit.kind, building),
            (cim_engine::FeatureKind::Road, None),
            "{code}: {hit:?}"
        );
        // Where the ray met the ground: the terrain under the road, 300 m down.
        assert!(
            (hit.point[2] - z).abs() < 0.05 && (hit.distance_m - 300.0).abs() < 0.05,
            "{hit:?}"
        );
    }
    for (code, xy) in parcels.iter().take(5) {
        let (hit, _) = down(*xy)
            .1
            .unwrap_or_else(|| panic!("nothing picked on parcel {code}"));
        assert_eq!(hit.kind, cim_engine::FeatureKind::Parcel, "{code}: {hit:?}");
        let f = cim_engine::Project::open(&project)
            .unwrap()
            .feature(&hit.code)
            .unwrap()
            .unwrap();
        assert!(geo::Intersects::intersects(
            &f.feature.geometry,
            &geo::Point::new(xy[0], xy[1])
        ));
        // Its outline is draped in the highlight colour round its boundary.
        let outline = cim_viewer::pick::outline_mesh(&scene, &f.feature);
        assert!(outline.vertex_count() > 8, "{}", outline.vertex_count());
        assert!(outline
            .colors
            .iter()
            .all(|c| *c == cim_viewer::model::style::HIGHLIGHT));
    }
    // Looking up at the sky picks nothing.
    let from = scene.origin.to_local(roads[0].1[0], roads[0].1[1], 400.0);
    assert!(cim_viewer::pick::pick_ray(
        &scene,
        &index,
        bevy_vec(from[0], from[1], from[2]),
        bevy_vec(0.0, 1.0, 0.2),
        1.0,
        &|_| true,
        &|_| false,
        None,
    )
    .is_none());
}

#[test]
fn a_selected_road_is_drawn_outlined() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let scene = cim_viewer::load_scene(&project).unwrap();
    let (roads, _) = ground_targets(&project);
    let (code, xy) = &roads[0];
    let z = cim_viewer::model::scene::ground(scene.terrain.as_ref(), xy[0], xy[1], 0.0);
    let camera = format!("{},{},{z},0,80,150", xy[0], xy[1]);
    let cyan = |path: &Path| {
        read_png(path)
            .pixels()
            .filter(|p| p[1] > 150 && p[2] > 150 && i32::from(p[0]) + 80 < i32::from(p[1]))
            .count()
    };
    let (plain, picked) = (dir.path().join("plain.png"), dir.path().join("road.png"));
    for (out, select) in [(&plain, None), (&picked, Some(code.to_string()))] {
        let mut args = vec![
            "render",
            p(&project),
            "--size",
            "320x180",
            "--camera",
            &camera,
            "--out",
            p(out),
            "--json",
        ];
        if let Some(c) = &select {
            args.extend(["--select", c.as_str()]);
        }
        cim_json(&args);
    }
    assert_eq!(cyan(&plain), 0);
    assert!(cyan(&picked) > 300, "{} cyan pixels", cyan(&picked));
}

fn bevy_vec(x: f32, y: f32, z: f32) -> cim_viewer::Vec3 {
    cim_viewer::Vec3::new(x, y, z)
}

#[test]
fn viewpoints_are_saved_listed_used_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let pr = p(&project);
    let list = cim_json(&[
        "viewpoint",
        pr,
        "东门",
        "--camera",
        "457290,5550250,200,30,45,400",
        "--json",
    ]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "东门");
    assert_eq!(list[0]["distance_m"], 400.0);
    let list = cim_json(&[
        "viewpoint",
        pr,
        "north",
        "--camera",
        "457290,5550400,200,180,60,300",
        "--json",
    ]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["东门", "north"]);
    let err = cim_err(&["viewpoint", pr, "bad", "--camera", "457290,5550250,200,30,45,0"]);
    assert!(err.contains("'bad'") && err.contains("distance"), "{err}");
    let out = dir.path().join("v.png");
    let err = cim_err(&["render", pr, "--out", p(&out), "--view", "nope"]);
    assert!(err.contains("东门, north"), "{err}");
    if can_render() {
        let v = cim_json(&[
            "render",
            pr,
            "--size",
            "160x90",
            "--out",
            p(&out),
            "--view",
            "东门",
            "--json",
        ]);
        assert_eq!(v["height"], 90);
        assert!(out.exists());
    }
    let list = cim_json(&["viewpoint", pr, "东门", "--delete", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let err = cim_err(&["viewpoint", pr, "东门", "--delete"]);
    assert!(err.contains("no viewpoint"), "{err}");
}

#[test]
fn view_without_a_display_says_so_and_points_to_render() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cim"))
        .args(["view", p(&project)])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("no display") && lines[0].contains("cim render"),
        "{err}"
    );
}

/// Runs a quick storm, named "storm", on a 200 m box in the middle of the demo district built in
/// `dir`: `minutes` is (duration, output interval).
fn run_storm(dir: &Path, resolution_m: f64, minutes: (u32, u32), mm_per_h: u32) {
    let scenario = dir.join("storm.toml");
    let (duration, every) = minutes;
    std::fs::write(
        &scenario,
        format!(
            r#"
name = "storm"
project = "demo/bubenec.cim.gpkg"
[domain]
bbox = [457150.0, 5550200.0, 457350.0, 5550400.0]
resolution_m = {resolution_m:.1}
[time]
duration_min = {duration}
output_interval_min = {every}
[rain]
mm_per_h = [[0, {mm_per_h}]]
[boundary]
default = "closed"
"#
        ),
    )
    .unwrap();
    cim_json(&["run", p(&scenario), "--json"]);
}

#[test]
fn a_flood_run_is_drawn_as_water_over_the_district() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    run_storm(dir.path(), 4.0, (10, 5), 300);
    let pr = p(&project);
    let err = cim_err(&[
        "render",
        pr,
        "--out",
        p(&dir.path().join("x.png")),
        "--run",
        "nope",
    ]);
    assert!(err.contains("no run 'nope'") && err.contains("storm"), "{err}");
    // Each building's class at each snapshot: the playback's colours add up to the snapshot's
    // counts, and the water rising shows (no building drier later in a steady storm).
    let project_db = cim_engine::Project::open(&project).unwrap();
    let run = project_db.run("storm").unwrap().unwrap();
    let snaps = run.summary["run"]["snapshots"].as_array().unwrap().clone();
    assert_eq!(snaps.len(), 2);
    let count = |classes: &[(String, &str)]| {
        cim_viewer::model::flood::CLASSES.map(|c| classes.iter().filter(|(_, x)| *x == c).count() as u64)
    };
    let mut wet_before = 0;
    for s in &snaps {
        let t = s["time_s"].as_f64().unwrap();
        let (classes, timeline) = wait(cim_viewer::model::flood::run_building_classes(
            &ProjectSource::new(&project),
            "storm",
            Some(t),
        ))
        .unwrap();
        assert!(timeline);
        let by_class: Vec<u64> = s["buildings_by_class"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(count(&classes).to_vec(), by_class, "at {t} s");
        let wet = classes.len() as u64 - by_class[0];
        assert!(
            wet > 0 && wet >= wet_before,
            "{wet} wet at {t} s, {wet_before} before"
        );
        wet_before = wet;
        // Between two snapshots the earlier one stands.
        let later = wait(cim_viewer::model::flood::run_building_classes(
            &ProjectSource::new(&project),
            "storm",
            Some(t + 200.0),
        ))
        .unwrap()
        .0;
        assert_eq!(count(&later), count(&classes));
    }
    // Without a time: the worst of the run, as stored.
    let (worst, timeline) = wait(cim_viewer::model::flood::run_building_classes(
        &ProjectSource::new(&project),
        "storm",
        None,
    ))
    .unwrap();
    assert!(!timeline);
    let stored = project_db.run_buildings("storm").unwrap();
    assert!(worst
        .iter()
        .zip(&stored)
        .all(|((code, c), b)| *code == b.code && *c == b.class));
    drop(project_db);
    if !can_render() {
        return;
    }
    let camera = "457250,5550300,200,0,60,350";
    let blue = |path: &Path| {
        read_png(path)
            .pixels()
            .filter(|p| {
                p[2] > 150 && i32::from(p[2]) > i32::from(p[0]) + 80 && i32::from(p[1]) + 20 < i32::from(p[2])
            })
            .count()
    };
    let dry = dir.path().join("dry.png");
    let wet = dir.path().join("wet.png");
    // Looking down (tilt 60°), the sky is out of the picture: blue is water.
    cim_json(&[
        "render",
        pr,
        "--size",
        "320x180",
        "--camera",
        camera,
        "--out",
        p(&dry),
        "--json",
    ]);
    let shown = |time: &str, out: &Path| {
        let mut args = vec!["render", pr, "--size", "320x180", "--camera", camera];
        args.extend(["--run", "storm", "--time", time, "--out", p(out), "--json"]);
        cim_json(&args)["run_frame_s"].as_f64().unwrap()
    };
    // Frames are stored every 5 minutes: a time between two shows the earlier, one before the
    // first shows the first.
    assert_eq!(shown("10min", &wet), 600.0);
    assert_eq!(shown("7min", &dir.path().join("7.png")), 300.0);
    assert_eq!(shown("90s", &dir.path().join("90s.png")), 300.0);
    assert!(blue(&dry) < 50, "{} blue pixels without the run", blue(&dry));
    // Water turns the ground bluer (its shallowest band is light, so compare with the dry
    // image pixel by pixel).
    let (d, w) = (read_png(&dry), read_png(&wet));
    let bluer = d
        .pixels()
        .zip(w.pixels())
        .filter(|(d, w)| {
            let tint = |p: &image::Rgba<u8>| i32::from(p[2]) - i32::from(p[0]);
            tint(w) - tint(d) > 40
        })
        .count();
    assert!(bluer > 500, "{bluer} pixels turned bluer with the run");
    // The project file alone, copied elsewhere, draws the same water: the run is inside it.
    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("copy.cim.gpkg");
    std::fs::copy(pr, &copy).unwrap();
    let copied = alone.path().join("wet.png");
    let mut args = vec!["render", p(&copy), "--size", "320x180", "--camera", camera];
    args.extend(["--run", "storm", "--time", "10min", "--out", p(&copied), "--json"]);
    assert_eq!(cim_json(&args)["run_frame_s"].as_f64(), Some(600.0));
    assert!(
        read_png(&copied) == w,
        "the copied project draws the run differently"
    );

    // --overlay: a title panel top left, a legend bottom left, a white scale bar bottom right;
    // the middle as without it.
    let report = dir.path().join("report.png");
    let mut args = vec!["render", pr, "--size", "640x360", "--camera", camera, "--overlay"];
    args.extend(["--run", "storm", "--time", "10min", "--out", p(&report), "--json"]);
    cim_json(&args);
    let plain = dir.path().join("plain.png");
    let mut args = vec!["render", pr, "--size", "640x360", "--camera", camera];
    args.extend(["--run", "storm", "--time", "10min", "--out", p(&plain), "--json"]);
    cim_json(&args);
    let (a, b) = (read_png(&report), read_png(&plain));
    let differ = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let (pa, pb) = (a.get_pixel(x, y), b.get_pixel(x, y));
                n += usize::from((0..3).any(|k| pa[k].abs_diff(pb[k]) > 40));
            }
        }
        n
    };
    assert!(differ(8, 8, 120, 30) > 300, "no title panel top left");
    assert!(differ(8, 200, 60, 352) > 1000, "no legend bottom left");
    let white = (560..632)
        .flat_map(|x| (330..356).map(move |y| (x, y)))
        .filter(|&(x, y)| a.get_pixel(x, y).0[..3].iter().all(|&c| c > 235))
        .count();
    assert!(white > 30, "no scale bar bottom right ({white} white pixels)");
    assert!(differ(220, 120, 420, 240) < 200, "the overlay covers the middle");
}

#[test]
fn the_window_shows_the_city_and_the_panels_under_xvfb() {
    if !can_render() {
        return;
    }
    if std::process::Command::new("xvfb-run")
        .arg("--help")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CIM_REQUIRE_GPU_TESTS").is_none(),
            "xvfb-run is missing"
        );
        eprintln!("skipped: no xvfb-run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let shot = dir.path().join("window.png");
    let o = std::process::Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            env!("CARGO_BIN_EXE_cim"),
            "view",
            p(&project),
            "--screenshot",
            p(&shot),
        ])
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let img = read_png(&shot);
    assert_eq!(img.dimensions(), (1280, 720));
    // The attribute panel (dark, translucent) in the top-right corner; sky in the top middle;
    // the city in the middle.
    let panel = img.get_pixel(1262, 16);
    assert!(panel[0] < 120 && panel[1] < 120, "top right {panel:?}");
    let sky = img.get_pixel(640, 60);
    assert!(sky[2] > sky[0] + 20, "top middle {sky:?}");
    let centre = img.get_pixel(640, 360);
    assert!(
        !(centre[2] > centre[0] + 20 && centre[2] > 150),
        "centre {centre:?}"
    );

    // The hall on a 1920×1080 screen: the window (and its screenshot) takes the whole screen,
    // the feature panel and the dashboard in the right column, the middle left to the city.
    let hall = dir.path().join("hall.png");
    let o = std::process::Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1920x1080x24",
            env!("CARGO_BIN_EXE_cim"),
            "view",
            p(&project),
            "--hall",
            "--screenshot",
            p(&hall),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let img = read_png(&hall);
    assert_eq!(img.dimensions(), (1920, 1080));
    let dark = |x: u32, y: u32| {
        let p = img.get_pixel(x, y);
        p[0] < 90 && p[1] < 90 && p[2] < 110
    };
    // Dark panels in the right column, top (feature) and under it (dashboard, from 42 % of the
    // column's height); none in the middle.
    assert!(dark(1600, 60), "no feature panel top right");
    assert!(dark(1600, 470), "no dashboard under it");
    assert!(!dark(960, 540), "a panel covers the middle");

    // Two runs side by side (one camera a half, the panels over both): the water of each half
    // is read off the frame loop, and the screenshot waits for it.
    run_storm(dir.path(), 4.0, (10, 5), 300);
    let split = dir.path().join("split.png");
    let o = std::process::Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            env!("CARGO_BIN_EXE_cim"),
            "view",
            p(&project),
            "--run",
            "storm",
            "--compare",
            "storm",
            "--size",
            "1280x720",
            "--screenshot",
            p(&split),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let img = read_png(&split);
    assert_eq!(img.dimensions(), (1280, 720));
    // The divide between the halves is drawn white, and the playback panel sits bottom middle.
    let line = img.get_pixel(640, 200);
    assert!(line.0[..3].iter().all(|&c| c > 200), "no divide {line:?}");
    let panel = img.get_pixel(640, 640);
    assert!(panel[0] < 90 && panel[1] < 90, "no playback panel {panel:?}");
}

#[test]
fn roads_are_marked_closed_only_while_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    let mut pr = cim_engine::Project::open(&project).unwrap();
    let street = pr
        .features(&cim_engine::FeatureFilter {
            layers: Some(vec!["streets".into()]),
            limit: Some(1),
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    let road = |closed_s, reopened_s| cim_engine::RunRoad {
        code: street.feature.code.to_string(),
        length_m: 100.0,
        max_depth_m: 0.4,
        closed_s,
        reopened_s,
        closed_for_s: 400.0,
        closed_intervals: vec![],
    };
    let record = cim_engine::RunRecord {
        name: "hand".into(),
        model: "flood".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: 900.0,
        outputs: "none".into(),
        summary: serde_json::json!({}),
    };
    pr.save_run(
        &record,
        &[cim_engine::RunRoad::table(&[road(Some(100.0), Some(500.0))])],
        None,
    )
    .unwrap();
    drop(pr);
    let scene = cim_viewer::load_scene(&project).unwrap();
    let (mesh, n) = wait(cim_viewer::model::flood::closed_roads(
        &ProjectSource::new(&project),
        &scene,
        "hand",
        300.0,
    ))
    .unwrap();
    assert_eq!(n, 1);
    // The ribbon follows the street: every vertex within a few metres of its bounding box.
    let bbox = geo::BoundingRect::bounding_rect(&street.feature.geometry).unwrap();
    for p in &mesh.positions {
        let q = scene.origin.to_project(*p);
        assert!(q[0] > bbox.min().x - 10.0 && q[0] < bbox.max().x + 10.0, "{q:?}");
        assert!(q[1] > bbox.min().y - 10.0 && q[1] < bbox.max().y + 10.0, "{q:?}");
    }
    assert!(mesh.triangle_count() > 0);
    for t in [50.0, 500.0, 800.0] {
        assert_eq!(
            wait(cim_viewer::model::flood::closed_roads(
                &ProjectSource::new(&project),
                &scene,
                "hand",
                t
            ))
            .unwrap()
            .1,
            0,
            "at {t} s"
        );
    }
}

#[test]
fn a_run_on_terrain_that_has_since_changed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    run_storm(dir.path(), 8.0, (2, 1), 100);
    let render_notes = || {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_cim"))
            .args(["render", p(&project), "--size", "64x36", "--out"])
            .arg(dir.path().join("x.png"))
            .args(["--run", "storm"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let notes = render_notes();
    assert!(!notes.contains("terrain"), "{notes}");
    // The run records the terrain it was made on.
    let p0 = cim_engine::Project::open(&project).unwrap();
    let run = p0.run("storm").unwrap().unwrap();
    let terrain = p0.terrains().unwrap().remove(0);
    assert_eq!(run.summary["run"]["terrain"]["name"], terrain.name.as_str());
    assert_eq!(run.summary["run"]["terrain"]["width"], terrain.width as u64);
    // No road closes in so short a storm: a closed length of +0 (an empty f64 sum is -0).
    let closed_m = |s: &serde_json::Value| s["road_closed_length_m"].as_f64().unwrap();
    assert!(closed_m(&run.summary["run"]).is_sign_positive());
    assert!(closed_m(&run.summary["run"]["snapshots"][0]).is_sign_positive());
    // The playback panel's KPIs come from the stored run: one a minute, rain accumulating.
    let kpis = wait(cim_viewer::model::flood::run_kpis(
        &ProjectSource::new(&project),
        "storm",
    ))
    .unwrap();
    assert_eq!(
        kpis.iter().map(|k| k.time_s).collect::<Vec<_>>(),
        vec![60.0, 120.0]
    );
    assert!(
        kpis[1].rain_mm > kpis[0].rain_mm && kpis[0].rain_mm > 0.0,
        "{kpis:?}"
    );
    // The DEM is imported again, a metre higher: the run's water no longer fits it.
    let mut raised = p0.terrain(&terrain.name).unwrap();
    drop(p0);
    raised.data.iter_mut().for_each(|z| *z += 1.0);
    let mut p1 = cim_engine::Project::open(&project).unwrap();
    let mut tx = p1.import().unwrap();
    tx.put_terrain(&terrain.name, &raised, "raised").unwrap();
    tx.commit().unwrap();
    drop(p1);
    let notes = render_notes();
    assert!(
        notes.contains(&format!(
            "terrain '{}' has changed since run 'storm'",
            terrain.name
        )),
        "{notes}"
    );
}

#[test]
fn a_city_model_is_drawn_by_its_finest_3d_geometry_and_info_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("bag.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:28992",
        "--region",
        "000000",
        "--json",
    ]);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/cityjson/3dbag_multi_lod.city.json");
    cim_json(&[
        "import",
        p(&project),
        p(&file),
        "--src-crs",
        "EPSG:7415",
        "--json",
    ]);
    // `cim info` lists each level of detail with its size.
    let info = cim_json(&["info", p(&project), "--json"]);
    let lods: Vec<(&str, u64)> = info["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["lod"].as_str().unwrap(), m["features"].as_u64().unwrap()))
        .collect();
    assert_eq!(lods, vec![("1.2", 10), ("1.3", 10), ("2.2", 10)]);
    // The viewer draws LoD 2.2, less the ground no one sees.
    let pr = cim_engine::Project::open(&project).unwrap();
    let mut want = 0;
    pr.for_each_representation("3dbag_multi_lod", Some("2.2"), |_, r| {
        want += r
            .mesh
            .classes
            .iter()
            .filter(|c| **c != cim_engine::mesh::SurfaceClass::Ground)
            .count();
        Ok(())
    })
    .unwrap();
    let scene = cim_viewer::load_scene(&project).unwrap();
    let drawn: usize = scene.tiles.iter().map(|t| t.mesh.triangle_count()).sum();
    assert_eq!(scene.buildings.len(), 10);
    assert!(want > 100);
    assert_eq!(drawn, want);
    // Far, the tiles draw LoD 1.3, the finest below LoD 2 (less its ground too).
    let mut want_far = 0;
    pr.for_each_representation("3dbag_multi_lod", Some("1.3"), |_, r| {
        want_far += r
            .mesh
            .classes
            .iter()
            .filter(|c| **c != cim_engine::mesh::SurfaceClass::Ground)
            .count();
        Ok(())
    })
    .unwrap();
    let drawn_far: usize = scene
        .tiles
        .iter()
        .map(|t| t.far.as_ref().expect("a far level").mesh.triangle_count())
        .sum();
    assert!(want_far > 50 && want_far < want, "{want_far} {want}");
    assert_eq!(drawn_far, want_far);
}

#[test]
fn every_city_object_with_3d_geometry_is_drawn_and_picked_not_only_buildings() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("delft.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:28992",
        "--region",
        "000000",
        "--json",
    ]);
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/cityjson/delft.city.json");
    cim_json(&["import", p(&project), p(&file), "--json"]);
    let scene = cim_viewer::load_scene(&project).unwrap();
    // delft.city.json: 160 buildings, 138 other objects (bridges, land use, furniture…), 143
    // roads, 126 vegetation objects and 3 water bodies, all with LoD1 geometry.
    let count = |k: cim_engine::FeatureKind| scene.buildings.iter().filter(|b| b.kind == k).count();
    use cim_engine::FeatureKind as K;
    assert_eq!(
        [K::Building, K::Other, K::Road, K::Vegetation, K::Water].map(count),
        [160, 138, 143, 126, 3]
    );
    assert_eq!(scene.layers.len(), 5);
    // Every one is in a tile, in its kind's colour unless its surfaces have their own.
    for (id, b) in scene.buildings.iter().enumerate() {
        let tile = &scene.tiles[b.tile as usize];
        let r = tile
            .range_of(id as u32)
            .unwrap_or_else(|| panic!("{} not drawn", b.code));
        assert!(r.end > r.start);
        assert_eq!(
            tile.mesh.colors[r.start as usize],
            cim_viewer::model::load::plain_color(b.kind),
            "{}",
            b.code
        );
    }
    // Roads drawn by their surfaces are not draped again.
    assert!(
        scene.overlays.iter().all(|o| o.kind != K::Road),
        "{:?}",
        scene.overlays.len()
    );
    // A ray straight down on a water body picks it, as water.
    let water = scene.buildings.iter().position(|b| b.kind == K::Water).unwrap();
    let pr = cim_engine::Project::open(&project).unwrap();
    let f = pr.feature(&scene.buildings[water].code).unwrap().unwrap();
    let inside = geo::InteriorPoint::interior_point(&f.feature.geometry).unwrap();
    let index = cim_viewer::data::wait(cim_viewer::pick::PickIndex::load(
        &cim_viewer::data::ProjectSource::new(&project),
    ))
    .unwrap();
    let mut hits = std::collections::HashMap::new();
    for dx in [-1.0, 0.0, 1.0] {
        let from = scene.origin.to_local(inside.x() + dx, inside.y(), 200.0);
        let (hit, id) = cim_viewer::pick::pick_ray(
            &scene,
            &index,
            bevy_vec(from[0], from[1], from[2]),
            bevy_vec(0.0, -1.0, 0.0),
            1.0,
            &|_| true,
            &|_| false,
            None,
        )
        .unwrap();
        *hits.entry((hit.kind, id.is_some())).or_insert(0) += 1;
    }
    // Something may stand over the water (a bridge); most rays land on it.
    assert!(hits.get(&(K::Water, true)).copied().unwrap_or(0) >= 2, "{hits:?}");
}

#[test]
fn a_click_on_a_3d_building_names_the_surface_under_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("dh.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:28992",
        "--region",
        "000000",
        "--json",
    ]);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/cityjson/DH_01_subs.city.json");
    cim_json(&[
        "import",
        p(&project),
        p(&file),
        "--src-crs",
        "EPSG:28992",
        "--json",
    ]);
    let scene = cim_viewer::load_scene(&project).unwrap();
    // Straight down at (78691.9, 457791.5): a part's roof; from the south at 8 m up: a wall.
    let o = scene.origin.to_local(78_691.901_6, 457_791.500_2, 100.0);
    let class = |tag: Option<u32>| tag.map(|t| cim_engine::PickSurface::from_tag(t, "").class);
    let (id, t_near, _, tag) =
        cim_viewer::pick::ray_building(&scene, o, [0.0, -1.0, 0.0], f32::INFINITY, &|_| true, &|_| false)
            .unwrap();
    assert_eq!(class(tag), Some(cim_engine::mesh::SurfaceClass::Roof));
    assert_eq!(scene.buildings[id as usize].lod.as_deref(), Some("2"));
    // Far, the same building is drawn as its LOD1 prism: the ray meets its flat roof at the
    // building's top, above the sloped LoD2 roof.
    let tile = &scene.tiles[scene.buildings[id as usize].tile as usize];
    let far = tile.far.as_ref().expect("a far level for the LoD2 tile");
    assert_eq!(far.buildings.len(), tile.buildings.len());
    let (far_id, t_far, n, tag) =
        cim_viewer::pick::ray_building(&scene, o, [0.0, -1.0, 0.0], f32::INFINITY, &|_| true, &|_| true)
            .unwrap();
    assert_eq!(far_id, id);
    assert!(
        t_far < t_near - 0.1,
        "prism roof {t_far} m below the eye, LoD2 roof {t_near} m"
    );
    assert!(n[1] > 0.999, "a flat roof: {n:?}");
    assert_eq!(class(tag), Some(cim_engine::mesh::SurfaceClass::Roof));
    let o = scene.origin.to_local(78_691.9, 457_750.0, 8.0);
    let south_to_north = cim_viewer::model::scene::LocalOrigin::dir_to_local([0.0, 1.0, 0.0]);
    let (_, _, _, tag) =
        cim_viewer::pick::ray_building(&scene, o, south_to_north, f32::INFINITY, &|_| true, &|_| false)
            .unwrap();
    assert_eq!(class(tag), Some(cim_engine::mesh::SurfaceClass::Wall));
    // Every drawn triangle has its surface.
    for t in &scene.tiles {
        assert_eq!(t.surfaces.len(), t.mesh.triangle_count());
    }
}

#[test]
fn photo_textures_are_drawn_and_unreadable_images_fall_back_to_plain() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("tokyo.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:6677",
        "--region",
        "000000",
        "--json",
    ]);
    let file = fixtures().join("citygml/plateau_53392633/53392633_bldg_6697_2_op.gml");
    cim_json(&["import", p(&project), p(&file), "--json"]);
    // Reddish pixels: the control tower's red and white paint is only in its photo texture
    // (sky, ground and plain buildings have none).
    let reddish = |png: &Path| {
        let img = read_png(png);
        img.pixels()
            .filter(|q| q[0] > q[1] + 40 && q[0] > q[2] + 40)
            .count()
    };
    let textured = dir.path().join("textured.png");
    cim_json(&[
        "render",
        p(&project),
        "--size",
        "480x270",
        "--out",
        p(&textured),
        "--json",
    ]);
    // The same without its images: drawn plain, with a notice.
    let conn = rusqlite::Connection::open(&project).unwrap();
    conn.execute("UPDATE cim_textures SET data = x'00'", []).unwrap();
    drop(conn);
    let plain = dir.path().join("plain.png");
    let o = cim(&[
        "render",
        p(&project),
        "--size",
        "480x270",
        "--out",
        p(&plain),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("9 texture images cannot be read"),
        "{}",
        stderr(&o)
    );
    let (t, pl) = (reddish(&textured), reddish(&plain));
    // Measured: 200 and 0.
    assert!(t > 100 && pl < 10, "reddish pixels: {t} textured, {pl} plain");
}

#[test]
fn a_bim_model_is_drawn_filtered_by_class_and_storey_and_cut_away() {
    use cim_viewer::model::style::{LayerState, StoreyFilter};
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 2169);
    let file = fixtures().join("ifc/Duplex_A_20110907_georeferenced.ifc");
    let o = cim(&["import", p(&project), p(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scene = cim_viewer::load_scene(&project).unwrap();
    // Every element drawn, tagged with its class and storey.
    assert_eq!(scene.buildings.len(), 215);
    assert!(scene
        .buildings
        .iter()
        .all(|b| b.bim.is_some() && b.tile != u32::MAX));
    let class = |name: &str| scene.bim.classes.iter().position(|(c, _)| c == name).unwrap() as u16;
    assert_eq!(scene.bim.classes[usize::from(class("IfcWindow"))].1, 24);
    assert_eq!(scene.bim.classes[usize::from(class("IfcWallStandardCase"))].1, 56);
    // Storeys lowest first, with their elevations.
    let names: Vec<&str> = scene.bim.storeys.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["T/FDN", "Level 1", "Level 2", "Roof"],
        "{:?}",
        scene.bim.storeys
    );
    assert!(scene.bim.storeys.windows(2).all(|w| w[0].1 < w[1].1));
    // Drawn as they are at every distance: no LOD1 boxes for the elements.
    assert!(scene.tiles.iter().all(|t| t.far.is_none()));
    // Windows hidden by class; everything above Level 1 cut away; only Level 2.
    let mut layers = LayerState::all_shown(&scene);
    let windows: Vec<u32> = (0..215u32)
        .filter(|&i| scene.buildings[i as usize].bim.unwrap().class == class("IfcWindow"))
        .collect();
    assert!(windows.iter().all(|&w| layers.building_shown(&scene, w)));
    layers.bim.classes[usize::from(class("IfcWindow"))] = false;
    assert!(windows.iter().all(|&w| !layers.building_shown(&scene, w)));
    let shown = |l: &LayerState| (0..215u32).filter(|&i| l.building_shown(&scene, i)).count();
    assert_eq!(shown(&layers), 215 - 24);
    layers.bim.classes.iter_mut().for_each(|c| *c = true);
    let storey_of = |i: u32| {
        scene
            .bim
            .storeys
            .get(usize::from(scene.buildings[i as usize].bim.unwrap().storey))
    };
    let on = |l: &str| {
        (0..215u32)
            .filter(|&i| storey_of(i).is_some_and(|s| s.0 == l))
            .count()
    };
    layers.bim.storey = StoreyFilter::UpTo(1);
    let unstoreyed = (0..215u32).filter(|&i| storey_of(i).is_none()).count();
    assert_eq!(shown(&layers), on("T/FDN") + on("Level 1") + unstoreyed);
    assert!(
        on("Level 2") > 20 && on("Level 1") > 20,
        "{} {}",
        on("Level 1"),
        on("Level 2")
    );
    layers.bim.storey = StoreyFilter::Only(2);
    assert_eq!(shown(&layers), on("Level 2"));
    // The panel: class, storey and GlobalId first, property sets grouped.
    let code = scene.buildings[windows[0] as usize].code.clone();
    let f = cim_engine::Project::open(&project)
        .unwrap()
        .feature(&code)
        .unwrap()
        .unwrap();
    let rows = cim_viewer::model::text::feature_lines(&f, cim_viewer::model::i18n::Lang::En);
    let at = |k: &str| {
        rows.iter()
            .position(|(a, _)| a == k)
            .unwrap_or_else(|| panic!("{k}: {rows:?}"))
    };
    assert_eq!(rows[at("IFC class")].1, "IfcWindow");
    assert_eq!(rows[at("GlobalId")].1.len(), 22);
    assert!(at("▸ Pset_WindowCommon") > at("Storey"));
    assert_eq!(rows[at("▸ Pset_WindowCommon") + 1].0.trim(), "FireRating");
    assert!(!rows.iter().any(|(k, _)| k == "ifc_properties"));
}

#[test]
fn a_traffic_run_is_drawn_with_its_vehicles_on_their_lanes_and_the_water_it_drove_round() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    run_storm(dir.path(), 4.0, (10, 5), 300);
    let pr = p(&project);
    // Ten minutes of traffic round the storm's closed roads, and the same kept without
    // positions.
    for (name, every) in [("rush", 1), ("blind", 0)] {
        let scenario = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &scenario,
            format!(
                r#"
name = "{name}"
model = "traffic"
project = "demo/bubenec.cim.gpkg"
seed = 7
[time]
duration_min = 10
positions_every_s = {every}
[demand.random]
begin_s = 0
end_s = 540
period_s = 1
[closures]
flood_run = "storm"
delay_min = 1
"#
            ),
        )
        .unwrap();
        cim_json(&["run", p(&scenario), "--json"]);
    }
    let source = ProjectSource::new(&project);
    let side = wait(cim_viewer::model::run::SideRun::load(&source, "rush")).unwrap();
    let traffic = side.traffic.clone().unwrap();
    // The water shown is the storm's, its closures a minute later.
    assert_eq!(side.flood_name(), Some("storm"));
    assert_eq!(side.closures_time(360.0), 300.0);
    assert!(traffic.edges.iter().all(|e| e.speed_m_s.is_some_and(|v| v > 0.0)));
    // Every vehicle of a stored frame is drawn, on its edge's lanes: within its lanes' width
    // of the edge's line.
    let db = cim_engine::Project::open(&project).unwrap();
    let table = db.run_table("rush", "cim_run_vehicles").unwrap().unwrap();
    let row = table.rows.iter().find(|r| r[0].real() == Some(300.0)).unwrap();
    let cim_engine::Cell::Blob(bytes) = &row[table.column("frame").unwrap()] else {
        panic!("no frame")
    };
    let stored = cim_engine::network::frames::decode_frame(bytes).unwrap();
    assert!(stored.len() > 20, "{} vehicles at 5 min", stored.len());
    let mut cache = cim_viewer::model::traffic::FrameCache::default();
    let placed = traffic.vehicles_at(300.0, &mut cache).unwrap();
    assert_eq!(placed.len(), stored.len());
    for (v, s) in placed.iter().zip(&stored) {
        assert_eq!(v.trip, s.trip);
        let e = &traffic.edges[s.edge as usize];
        let line = geo::LineString::from(e.shape.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>());
        use geo::Distance;
        let d = geo::Euclidean.distance(&geo::Point::new(v.xy[0], v.xy[1]), &line);
        let lanes = f64::from(e.lanes) * cim_viewer::model::load::LANE_WIDTH_M;
        assert!(
            d <= lanes + 1e-6,
            "trip {} is {d:.2} m off edge {}",
            v.trip,
            s.edge
        );
    }
    // Between frames vehicles keep within a frame's travel of where they were.
    let later = traffic.vehicles_at(300.5, &mut cache).unwrap();
    for v in &later {
        if let Some(w) = placed.iter().find(|w| w.trip == v.trip) {
            let moved = (v.xy[0] - w.xy[0]).hypot(v.xy[1] - w.xy[1]);
            assert!(
                moved <= 0.5 * 20.0 + 4.0,
                "trip {} moved {moved:.1} m in 0.5 s",
                v.trip
            );
        }
    }
    // A dry baseline beside the storm (`--run rush-dry --compare rush`): the baseline's
    // buildings stay plain, the storm side's take their flood class.
    let scene = cim_viewer::load_scene(&project).unwrap();
    let (main, compared) = wait(cim_viewer::layers::colorings(
        &source,
        &scene,
        &cim_viewer::model::style::ColorBy::FloodClass,
        cim_viewer::model::style::Classing::Categorised,
        &[None, side.flood_name().map(str::to_string)],
        Some(300.0),
        cim_viewer::model::i18n::Lang::En,
    ))
    .unwrap();
    assert!(main.is_none() && compared.is_some());
    // A run kept without positions, and a flood run's vehicles: clear errors.
    let err = cim_err(&[
        "render",
        pr,
        "--out",
        p(&dir.path().join("x.png")),
        "--run",
        "blind",
    ]);
    assert!(err.contains("run 'blind' kept no vehicle positions"), "{err}");
    let err = wait(cim_viewer::model::traffic::TrafficRun::load(&source, "storm"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a flood run, not a traffic run"), "{err}");
    let err = cim_err(&[
        "render",
        pr,
        "--out",
        p(&dir.path().join("x.png")),
        "--run",
        "rush",
        "--roads-by",
        "colour",
    ]);
    assert!(err.contains("--roads-by 'colour'"), "{err}");
    drop(db);
    if !can_render() {
        return;
    }
    let camera = "457250,5550300,200,0,60,300";
    let shot = |run: Option<(&str, &str)>, by: &str, out: &Path| {
        let mut args = vec!["render", pr, "--size", "640x360", "--camera", camera];
        if let Some((name, time)) = run {
            args.extend(["--run", name, "--time", time, "--roads-by", by]);
        }
        args.extend(["--out", p(out), "--json"]);
        cim_json(&args)
    };
    let plain = dir.path().join("plain.png");
    shot(None, "speed", &plain);
    let busy = dir.path().join("busy.png");
    let j = shot(Some(("rush", "5min")), "speed", &busy);
    assert_eq!(j["run_frame_s"].as_f64(), Some(300.0));
    assert_eq!(j["vehicles"].as_u64(), Some(stored.len() as u64));
    assert!(j["roads_coloured"].as_u64().unwrap() > 10, "{j}");
    // The roads' colours (green to red) and the water show where the plain image had neither.
    let (a, b) = (read_png(&plain), read_png(&busy));
    let traffic_coloured = |p: &image::Rgba<u8>| {
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        (g > 110 && g > r + 40 && g > b + 40) || (r > 150 && r > g + 60 && r > b + 60)
    };
    let before = a.pixels().filter(|p| traffic_coloured(p)).count();
    let after = b.pixels().filter(|p| traffic_coloured(p)).count();
    assert!(
        after > before + 300,
        "{before} traffic-coloured pixels without the run, {after} with"
    );
    let bluer = a
        .pixels()
        .zip(b.pixels())
        .filter(|(d, w)| {
            let tint = |p: &image::Rgba<u8>| i32::from(p[2]) - i32::from(p[0]);
            tint(w) - tint(d) > 40
        })
        .count();
    assert!(
        bluer > 200,
        "{bluer} pixels turned bluer: the storm's water is not drawn"
    );
    // By congestion the same roads take other colours.
    let jammed = dir.path().join("jammed.png");
    let j2 = shot(Some(("rush", "5min")), "congestion", &jammed);
    assert_eq!(j2["roads_coloured"], j["roads_coloured"]);
    assert!(read_png(&jammed) != b, "colouring by congestion changed nothing");
    // The window plays it in the hall: the vehicles, the water, the playback panel with the
    // traffic KPIs, the dashboard.
    if std::process::Command::new("xvfb-run")
        .arg("--help")
        .output()
        .is_err()
    {
        return;
    }
    let hall = dir.path().join("hall.png");
    let o = std::process::Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            env!("CARGO_BIN_EXE_cim"),
            "view",
            pr,
        ])
        .args([
            "--run",
            "rush",
            "--hall",
            "--size",
            "1280x720",
            "--screenshot",
            p(&hall),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("with the water of flood run 'storm'"),
        "{}",
        stderr(&o)
    );
    let img = read_png(&hall);
    // The playback panel bottom middle, the dashboard right (the city between them).
    let panel = img.get_pixel(640, 600);
    let dashboard = img.get_pixel(1150, 500);
    assert!(
        dashboard[0] < 90 && dashboard[1] < 90,
        "no dashboard {dashboard:?}"
    );
    assert!(panel[0] < 90 && panel[1] < 90, "no playback panel {panel:?}");
}

/// A project in CGCS2000 / 3-degree GK CM 114E with the oblique photography fixture imported.
fn osgb_project(dir: &Path) -> std::path::PathBuf {
    let project = dir.join("zhongshan.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:4547",
        "--region",
        "442000",
        "--json",
    ]);
    cim_json(&[
        "import",
        p(&project),
        p(&fixtures().join("osgb/scially_Production_5")),
        "--json",
    ]);
    project
}

/// The mean and spread of the luminance of the pixels in a box, and how many are not sky.
fn patch(img: &image::RgbaImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> (f64, f64, usize) {
    let is_sky = |p: &image::Rgba<u8>| p[2] > p[0] + 20 && p[2] > 150;
    let mut l = Vec::new();
    let mut ground = 0;
    for yy in y {
        for xx in x.clone() {
            let px = img.get_pixel(xx, yy);
            l.push(0.3 * f64::from(px[0]) + 0.59 * f64::from(px[1]) + 0.11 * f64::from(px[2]));
            ground += usize::from(!is_sky(px));
        }
    }
    let mean = l.iter().sum::<f64>() / l.len() as f64;
    let var = l.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / l.len() as f64;
    (mean, var.sqrt(), ground)
}

/// Oblique photography as a new user sees it: imported, then rendered: its tiles chosen by
/// screen-space error (a finer error draws finer tiles, more triangles), drawn with their
/// photos (a textured surface, not one flat colour), every tile it needs in the image.
#[test]
fn oblique_photography_is_streamed_into_the_image_with_its_photos() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = osgb_project(dir.path());
    let render = |sse: &str, name: &str| {
        let out = dir.path().join(name);
        let v = cim_json(&[
            "render",
            p(&project),
            "--size",
            "320x240",
            "--out",
            p(&out),
            "--sse",
            sse,
            "--json",
        ]);
        (v, read_png(&out))
    };
    let (fine, img) = render("2", "fine.png");
    let (coarse, _) = render("1000", "coarse.png");
    assert_eq!(fine["tiles_failed"].as_array().map(Vec::len), Some(0), "{fine}");
    let (tf, tc) = (
        fine["tile_triangles"].as_u64().unwrap(),
        coarse["tile_triangles"].as_u64().unwrap(),
    );
    assert!(tc > 0 && tf > tc, "fine {tf} triangles, coarse {tc}");
    assert!(fine["tiles_drawn"].as_u64().unwrap() > coarse["tiles_drawn"].as_u64().unwrap() - 1);
    // The photo mesh fills the middle of the framed view, and is textured.
    let (mean, spread, ground) = patch(&img, 110..210, 80..160);
    assert!(
        ground > 100 * 80 * 3 / 4,
        "only {ground} of 8000 middle pixels show the mesh"
    );
    assert!(
        spread > 12.0,
        "a flat surface (luminance {mean:.0} ± {spread:.1}): no photos?"
    );
    let err = cim_err(&[
        "render",
        p(&project),
        "--out",
        p(&dir.path().join("x.png")),
        "--sse",
        "0",
    ]);
    assert!(err.contains("--sse"), "{err}");
    let err = cim_err(&[
        "render",
        p(&project),
        "--out",
        p(&dir.path().join("x.png")),
        "--points",
        "rainbow",
    ]);
    assert!(err.contains("--points") && err.contains("class"), "{err}");
}

/// A lidar cloud drawn as dots in the image, coloured by class (ground brown, vegetation green,
/// buildings orange) or by height.
#[test]
fn a_lidar_cloud_is_drawn_coloured_by_class_or_height() {
    if !can_render() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("lidar.cim.gpkg");
    cim_json(&["new", p(&project), "--crs", "EPSG:3740", "--json"]);
    cim_json(&[
        "import",
        p(&project),
        p(&fixtures().join("pointcloud/autzen_trim.laz")),
        "--json",
    ]);
    let render = |points: &str| {
        let out = dir.path().join(format!("{points}.png"));
        let v = cim_json(&[
            "render",
            p(&project),
            "--size",
            "320x240",
            "--out",
            p(&out),
            "--points",
            points,
            // Finer than the default: the cloud's overview is its root alone.
            "--sse",
            "2",
            "--json",
        ]);
        (v, read_png(&out))
    };
    let (v, by_class) = render("class");
    assert!(v["tile_points"].as_u64().unwrap() > 10_000, "{v}");
    let (_, by_height) = render("height");
    // Class colours: this cloud's ground (class 2) brown, the rest unclassified (1) grey.
    let count =
        |img: &image::RgbaImage, f: &dyn Fn(&image::Rgba<u8>) -> bool| img.pixels().filter(|p| f(p)).count();
    let brown = |p: &image::Rgba<u8>| {
        let [r, g, b] = [p[0], p[1], p[2]].map(i32::from);
        r > g + 15 && g > b + 10 && r < 230
    };
    let grey = |p: &image::Rgba<u8>| p[0].abs_diff(p[1]) < 12 && p[1].abs_diff(p[2]) < 12 && p[0] > 120;
    // Saturated blue to cyan, as low points are by height (the sky is far paler).
    let deep = |p: &image::Rgba<u8>| i32::from(p[2]) > i32::from(p[0]) + 100;
    let (b, g) = (count(&by_class, &brown), count(&by_class, &grey));
    assert!(
        b > 500 && g > 2000 && count(&by_class, &deep) == 0,
        "brown {b}, grey {g}"
    );
    let (b, d) = (count(&by_height, &brown), count(&by_height, &deep));
    assert!(d > 5000 && b < 100, "by height: blue {d}, brown {b}");
}

/// 单体化 as a new user meets it: oblique photography and the buildings' footprints (no
/// heights) in one project. A click on the photo mesh picks the building whose footprint holds
/// the point hit; selected, its volume is drawn over the mesh in the highlight colour; with
/// nothing selected the photo shows as it is.
#[test]
fn a_click_on_the_photo_mesh_picks_the_building_whose_footprint_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = osgb_project(dir.path());
    // The slab in the south (roof about 34 m) and the towers in the north (about 50 m), as a
    // cadastre draws them (CGCS2000 / 3-degree Gauss-Krüger CM 114E).
    let square = |x0: f64, y0: f64, x1: f64, y1: f64, name: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#
        )
    };
    let footprints = dir.path().join("footprints.geojson");
    std::fs::write(
        &footprints,
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::4547"}}}},"features":[{},{}]}}"#,
            square(436218.0, 2489972.0, 436262.0, 2489988.0, "slab"),
            square(436240.0, 2490042.0, 436290.0, 2490058.0, "towers")
        ),
    )
    .unwrap();
    cim_json(&[
        "import",
        p(&project),
        p(&footprints),
        "--kind",
        "building",
        "--json",
    ]);
    let scene = cim_viewer::load_scene(&project).unwrap();
    // Both lie under the photo mesh; without heights, their volumes reach the photo tile's top.
    assert_eq!(scene.under_photo, vec![true, true]);
    assert!(
        scene
            .notices
            .iter()
            .any(|n| n.contains("2 buildings without a height")),
        "{:?}",
        scene.notices
    );
    // The photo mesh as the viewer draws it (its finest tile).
    let set = &scene.tilesets[0];
    let placer = cim_viewer::model::tiles::placer(&set.set, &set.project_crs).unwrap();
    let source = ProjectSource::new(&project);
    let leaf = set
        .tiles
        .iter()
        .max_by(|a, b| b.geometric_error.total_cmp(&a.geometric_error))
        .unwrap();
    let bytes = wait(cim_viewer::data::DataSource::tile_bytes(
        &source,
        set.set.name.clone(),
        leaf.id,
    ))
    .unwrap()
    .unwrap();
    let content = cim_viewer::model::tiles::decode(&set.set, leaf, &bytes, &placer).unwrap();
    let prepared = cim_viewer::model::tiles::prepare(&content, &scene.origin);
    let meshes: Vec<_> = prepared
        .meshes
        .iter()
        .map(|m| cim_viewer::state::to_bevy_mesh(&m.mesh, Default::default()))
        .collect();
    let index = wait(cim_viewer::pick::PickIndex::load(&source)).unwrap();
    // A click 45° down onto the slab's roof, from the south.
    let aim = scene.origin.to_local(436240.0, 2489980.0, 34.0);
    let from = bevy_vec(aim[0], aim[1] + 100.0, aim[2] + 100.0);
    let slant = bevy_vec(0.0, -1.0, -1.0).normalize();
    let photo_t = cim_viewer::pick::ray_meshes(meshes.iter(), from.to_array(), slant.to_array());
    let t = photo_t.expect("the ray meets the photo mesh");
    let (hit, building) = cim_viewer::pick::pick_ray(
        &scene,
        &index,
        from,
        slant,
        1.0,
        &|id| !scene.under_photo[id as usize],
        &|_| false,
        photo_t,
    )
    .unwrap();
    let id = building.expect("a building picked");
    let feature = cim_json(&["query", p(&project), "--code", hit.code.as_str(), "--json"]);
    assert!(feature.to_string().contains("slab"), "{feature}");
    assert_eq!(scene.buildings[id as usize].code, hit.code);
    // The point hit is the photo's roof, about 34 m up, inside the footprint.
    assert!((hit.distance_m - f64::from(t)).abs() < 1e-3);
    let q = hit.point;
    assert!(
        (436218.0..436262.0).contains(&q[0]) && (2489972.0..2489988.0).contains(&q[1]),
        "{q:?}"
    );
    assert!((q[2] - 34.0).abs() < 4.0, "{q:?}");
    // Over the road between them: no building.
    let road = scene.origin.to_local(436250.0, 2490022.0, 3.0);
    let from = bevy_vec(road[0], road[1] + 100.0, road[2]);
    let down = bevy_vec(0.0, -1.0, 0.0);
    let photo_t = cim_viewer::pick::ray_meshes(meshes.iter(), from.to_array(), down.to_array());
    assert!(photo_t.is_some());
    let picked = cim_viewer::pick::pick_ray(&scene, &index, from, down, 1.0, &|_| true, &|_| false, photo_t);
    assert!(picked.as_ref().is_none_or(|(_, b)| b.is_none()), "{picked:?}");
    if !can_render() {
        return;
    }
    // Rendered: selected, the slab's volume in the highlight colour over the photo; not
    // selected, no highlight anywhere.
    let cyan = |img: &image::RgbaImage| {
        img.pixels()
            .filter(|p| i32::from(p[1]) > i32::from(p[0]) + 60 && i32::from(p[2]) > i32::from(p[0]) + 60)
            .count()
    };
    let shot = |name: &str, select: Option<&str>| {
        let out = dir.path().join(name);
        let mut args = vec![
            "render",
            p(&project),
            "--size",
            "320x240",
            "--out",
            p(&out),
            "--json",
        ];
        if let Some(code) = select {
            args.extend(["--select", code]);
        }
        cim_json(&args);
        read_png(&out)
    };
    let plain = shot("plain.png", None);
    let picked = shot("picked.png", Some(hit.code.as_str()));
    assert_eq!(cyan(&plain), 0);
    assert!(cyan(&picked) > 300, "{} highlighted pixels", cyan(&picked));
}
