//! `cim` — the command line over the city information model engine.
//!
//! Every subcommand prints a human summary by default and JSON with `--json`; progress bars go to
//! stderr; any error is one line on stderr and a non-zero exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// `println!`/`print!` for the whole binary: std's panic when stdout is a closed pipe
// (`cim query … | head -1`); these end the process quietly instead, as Unix tools do.
macro_rules! println {
    () => { $crate::output::print_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::print_out(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::print_out(format_args!($($arg)*)) };
}

mod commands;
mod output;
mod progress;

/// mimalloc: imports build and free millions of small rings and meshes on several threads, where
/// glibc's allocator spent a third of a CityJSON import (benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cim",
    version,
    about = "City information model engine: import, store, query and export a city"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty project (one GeoPackage file) in a projected CRS.
    New(commands::new::NewArgs),
    /// Import a file (GeoJSON, Shapefile, GeoPackage, FlatGeobuf, GeoTIFF DEM, OSM XML/PBF).
    Import(commands::import::ImportArgs),
    /// Show a project's CRS, layers, counts, extents, classification and terrain.
    Info(commands::info::InfoArgs),
    /// Remove or rename a layer.
    Layer(commands::layer::LayerArgs),
    /// Find features by box, point and radius, polygon, city code, nearest, or as of a date.
    Query(commands::query::QueryArgs),
    /// Pick the first building or feature hit along a 3D ray.
    Pick(commands::pick::PickArgs),
    /// Export features (GeoJSON, GeoPackage) or terrain (GeoTIFF).
    Export(commands::export::ExportArgs),
    /// Run a what-if scenario (flood) on its project and store the run.
    Run(commands::run::RunArgs),
    /// List a project's stored runs, or remove one (--remove).
    Runs(commands::runs::RunsArgs),
    /// Compare two runs: a difference map and a side-by-side summary.
    Compare(commands::runs::CompareArgs),
    /// Build the demo project (Bubeneč, Prague) from assets/ and print what it built.
    Demo(commands::demo::DemoArgs),
    /// Open the 3D viewer on a project (terrain, buildings; orbit, pan, zoom).
    View(commands::view::ViewArgs),
    /// Render the 3D view of a project to a PNG, offscreen (no display needed).
    Render(commands::view::RenderArgs),
    /// Save (--camera), remove (--delete) or list the viewer's saved viewpoints.
    Viewpoint(commands::view::ViewpointArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CIM_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New(a) => commands::new::run(a),
        Command::Import(a) => commands::import::run(a),
        Command::Info(a) => commands::info::run(a),
        Command::Layer(a) => commands::layer::run(a),
        Command::Query(a) => commands::query::run(a),
        Command::Pick(a) => commands::pick::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Runs(a) => commands::runs::list(a),
        Command::Compare(a) => commands::runs::compare(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::View(a) => commands::view::view(a),
        Command::Render(a) => commands::view::render(a),
        Command::Viewpoint(a) => commands::view::viewpoint(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined by ": "; with --json, a JSON object.
            let message = one_line(&e);
            if std::env::args_os().any(|a| a == "--json") {
                eprintln!("{}", serde_json::json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, joined by ": ", each said once: a cause whose words the
/// line already holds (an error that prints its source, a context naming the same path) is
/// left out.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        let words = words.trim();
        if words.is_empty() || line.contains(words) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(words);
    }
    line.replace('\n', " ")
}
