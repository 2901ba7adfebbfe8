//! The cim side of `benches/peer/spatial_shapely.py`: builds the synthetic city, times bulk
//! load and window queries on one core, writes the same boxes for shapely, and prints one JSON
//! object with the figures. Times are `[wall, cpu]` pairs: CPU time of the thread is the fairer
//! figure on a machine shared with other jobs.
//!
//! Usage: `spatial_peer_compare OUT_DIR [N_BUILDINGS] [N_QUERIES]`. Writes `OUT_DIR/boxes.f64`
//! (xmin, ymin, xmax, ymax per building) and `OUT_DIR/queries.f64` (the same layout per query
//! window), raw little-endian f64.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use cim_benches::footprints::{lod1_items, synthetic_footprints, window_queries};
use cim_spatial_index::{Aabb3, Item, Shape, SpatialIndex};

fn write_f64s(path: &Path, values: impl Iterator<Item = f64>) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
}

/// Resident set size in bytes (Linux), for a check of `memory_bytes` that does not trust it.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU time of this thread in seconds (Linux schedstat), so that figures stay meaningful on
/// a machine shared with other jobs; falls back to 0 elsewhere.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (t, c) = (Instant::now(), cpu_s());
    let out = f();
    (out, t.elapsed().as_secs_f64(), cpu_s() - c)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(
        args.get(1)
            .ok_or("usage: spatial_peer_compare OUT_DIR [N] [QUERIES]")?,
    );
    let n: usize = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let num_queries: usize = args.get(3).map_or(Ok(1_000_000), |s| s.parse())?;
    std::fs::create_dir_all(out)?;

    let city = synthetic_footprints(n, 42);
    let queries = window_queries(num_queries, 43, &city, 10.0);
    let items = lod1_items(&city);
    let boxes: Vec<Aabb3> = items.iter().filter_map(|it| it.shape.bounds()).collect();
    drop(city);
    write_f64s(
        &out.join("boxes.f64"),
        boxes
            .iter()
            .flat_map(|b| [b.min[0], b.min[1], b.max[0], b.max[1]]),
    )?;
    write_f64s(
        &out.join("queries.f64"),
        queries.iter().flat_map(|(a, b)| [a[0], a[1], b[0], b[1]]),
    )?;

    // Bulk load of the same boxes shapely gets.
    let box_items: Vec<Item> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| Item::new(i as u64, Shape::Box(*b)))
        .collect();
    let (box_index, bulk_boxes_wall, bulk_boxes_cpu) = timed(|| SpatialIndex::bulk_load(box_items));
    drop(box_index);

    // Bulk load of the real thing: LOD1 prisms.
    let (index, bulk_prisms_wall, bulk_prisms_cpu) = timed(|| SpatialIndex::bulk_load(items));
    drop(index);

    // Memory, measured from outside: RSS with the footprints alone, then with them moved into
    // an index. The big temporary arrays are mmapped by glibc and go back to the OS when freed.
    let city = synthetic_footprints(n, 42);
    let rss_footprints = rss_bytes();
    let input_array = city.len() * std::mem::size_of::<(geo::Polygon<f64>, f64)>();
    let index = SpatialIndex::bulk_load(
        city.into_iter()
            .enumerate()
            .map(|(i, (f, h))| Item::new(i as u64, Shape::prism(f, 0.0, h)))
            .collect(),
    );
    let rss_per_building = rss_footprints
        .zip(rss_bytes())
        .map(|(a, b)| (b + input_array).saturating_sub(a) as f64 / n as f64);

    let (hits, for_each_wall, for_each_cpu) = timed(|| {
        let mut hits = 0usize;
        for (min, max) in &queries {
            index.for_each_in_window_2d(*min, *max, |_| hits += 1);
        }
        hits
    });
    let (hits_vec, window_wall, window_cpu) = timed(|| {
        let mut hits = 0usize;
        for (min, max) in &queries {
            hits += index.window_2d(*min, *max).len();
        }
        hits
    });
    if hits != hits_vec {
        return Err(format!("query paths disagree: {hits} vs {hits_vec} hits").into());
    }

    let ns = |s: f64| s / queries.len() as f64 * 1e9;
    println!(
        "{{\"buildings\": {n}, \"queries\": {}, \"hits\": {hits}, \
         \"bulk_load_boxes_s\": [{bulk_boxes_wall:.4}, {bulk_boxes_cpu:.4}], \
         \"bulk_load_prisms_s\": [{bulk_prisms_wall:.4}, {bulk_prisms_cpu:.4}], \
         \"for_each_ns_per_query\": [{:.1}, {:.1}], \"window_2d_ns_per_query\": [{:.1}, {:.1}], \
         \"memory_bytes_per_building\": {:.1}, \"rss_bytes_per_building_beyond_coords\": {}}}",
        queries.len(),
        ns(for_each_wall),
        ns(for_each_cpu),
        ns(window_wall),
        ns(window_cpu),
        index.memory_bytes() as f64 / n as f64,
        rss_per_building.map_or("null".to_string(), |v| format!("{v:.1}")),
    );
    Ok(())
}
