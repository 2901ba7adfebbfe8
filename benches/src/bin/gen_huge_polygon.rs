//! Writes the bench's huge polygon as GeoJSON (EPSG:4547 metres, around Guangzhou) for the
//! peer script, and times cim's validity check of it: `gen_huge_polygon N OUT.geojson` prints
//! `{"vertices": N, "check_s": …, "verdict": "ok"}`.

use cim_benches::huge_polygon::{huge_polygon_geojson, huge_ring};
use cim_importers::validate::{check_shape, Verdict};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: gen_huge_polygon N OUT.geojson";
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let out = args.next().ok_or(usage)?;
    let ring = huge_ring(n, 500_000.0, 2_550_000.0, 8_000.0, 42);
    std::fs::write(&out, huge_polygon_geojson(&ring, 4547))?;
    let polygon: geo::Geometry<f64> = geo::Polygon::new(geo::LineString::from(ring), vec![]).into();
    let mut best = f64::INFINITY;
    let mut verdict = Verdict::Ok;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        verdict = check_shape(&polygon);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let verdict = match verdict {
        Verdict::Ok => "ok".to_string(),
        Verdict::Warn(m) | Verdict::Reject(m) => m,
    };
    println!("{{\"vertices\": {n}, \"check_s\": {best}, \"verdict\": {verdict:?}}}");
    Ok(())
}
