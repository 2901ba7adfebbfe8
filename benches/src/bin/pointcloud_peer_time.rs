//! Times cim's LAS/LAZ decode (`pointcloud::read_las`: points, classes, intensity, returns and
//! colour into columns, heights as read) and octree tiling (`pointcloud::tile_points`) of a file,
//! best of `RUNS`, for `benches/peer/pointcloud_lazrs.py`. Prints one JSON line.
//!
//!     cargo run --release -p cim-benches --bin pointcloud_peer_time -- FILE [RUNS]

use std::time::Instant;

use cim_importers::pointcloud::{read_las, tile_points, MAX_TILE_POINTS};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: pointcloud_peer_time FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let (mut decode, mut tile) = (f64::INFINITY, f64::INFINITY);
    let (mut points, mut tiles) = (0, 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let cloud = match read_las(std::path::Path::new(&path)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        decode = decode.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        tiles = tile_points(&cloud, MAX_TILE_POINTS).len();
        tile = tile.min(t.elapsed().as_secs_f64());
        points = cloud.xyz.len();
    }
    println!("{{\"points\": {points}, \"decode_s\": {decode}, \"tile_s\": {tile}, \"tiles\": {tiles}}}");
}
