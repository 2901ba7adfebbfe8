//! `gen_buildings_gpkg OUT.gpkg N [SEED]`: writes the import bench's input GeoPackage, so the peer
//! script can run `ogr2ogr` and `cim import` on the very same file.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: gen_buildings_gpkg OUT.gpkg N [SEED]");
        return ExitCode::FAILURE;
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7);
    match cim_benches::gpkg_gen::write_buildings_gpkg(std::path::Path::new(out), n, seed) {
        Ok(()) => {
            println!("wrote {n} buildings to {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
