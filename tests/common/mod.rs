//! Helpers for the CLI integration tests: run the real `cim` binary, parse its JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

pub fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

pub fn cim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cim"))
        .args(args)
        .output()
        .expect("run cim")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs cim, asserts success, parses stdout as JSON.
pub fn cim_json(args: &[&str]) -> serde_json::Value {
    let o = cim(args);
    assert!(o.status.success(), "cim {args:?} failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("cim {args:?}: not JSON ({e}): {}", stdout(&o)))
}

/// Runs cim, asserts failure with a one-line error on stderr, and returns that line.
pub fn cim_err(args: &[&str]) -> String {
    let o = cim(args);
    assert!(
        !o.status.success(),
        "cim {args:?} should have failed; stdout: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    lines[0].to_string()
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A new project in `dir` with the given CRS.
pub fn new_project(dir: &Path, epsg: u32) -> PathBuf {
    let path = dir.join("test.cim.gpkg");
    let crs = format!("EPSG:{epsg}");
    cim_json(&["new", p(&path), "--crs", &crs, "--region", "110105", "--json"]);
    path
}

/// Layer name → feature count, from `cim info --json`.
pub fn layer_counts(project: &Path) -> Vec<(String, u64)> {
    let info = cim_json(&["info", p(project), "--json"]);
    let mut v: Vec<(String, u64)> = info["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["name"].as_str().expect("name").to_string(),
                l["features"].as_u64().expect("count"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Builds the demo district (without its flood runs) into `dir/demo` and returns the project.
pub fn build_demo(dir: &Path) -> PathBuf {
    let out = dir.join("demo");
    cim_json(&[
        "demo",
        "--out",
        p(&out),
        "--assets",
        p(&assets()),
        "--no-flood",
        "--json",
    ]);
    out.join("bubenec.cim.gpkg")
}

/// CesiumJS's drawing of the 3D Tiles in `dir` (`tests/peers/cesium_tileset.js`: headless
/// Chromium, the tileset unlit red on black from above): its report, or `None` where CesiumJS or
/// Chromium is not installed (a failure where `.ci/test` installed them).
pub fn cesium_draw(dir: &Path) -> Option<serde_json::Value> {
    let modules = std::env::var_os("CIM_PEERS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/cim-peers/node/node_modules")
        });
    let ready = modules.join("cesium").is_dir() && Path::new("/usr/bin/chromium").exists();
    if !ready {
        assert!(
            std::env::var_os("CIM_REQUIRE_PEER_TESTS").is_none(),
            "CesiumJS or Chromium missing"
        );
        eprintln!("note: CesiumJS or Chromium not installed; the tileset is not drawn");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/cesium_tileset.js");
    let out = Command::new("node")
        .arg(script)
        .arg(dir)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    serde_json::from_slice(String::from_utf8_lossy(&out.stdout).trim().as_bytes()).ok()
}
