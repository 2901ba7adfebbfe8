//! IFC: the STEP reader's throughput (issue 13: parsing ≥ 100 MB/s, memory ≤ 2× the file), on
//! `duplex.ifc` and on a bigger file made of it (the data section 20 times, ids renumbered).
//! Each iteration indexes the file and parses every instance's parameters. And the whole of
//! `duplex.ifc` parsed, georeferenced and tessellated (openings cut), against the issue's
//! 0.15 s (IfcOpenShell's default kernel 2.6 s CPU; `benches/peer/ifc_peers.sh` prints the
//! ratios).

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_importers::ifc::step::StepFile;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;
use std::time::Duration;

fn duplex() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/ifc/duplex.ifc"))
        .expect("duplex.ifc")
}

/// The data section `copies` times, each copy's ids (and references) moved past the last's.
fn bigger(src: &[u8], copies: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(src);
    let data = text.find("DATA;").expect("DATA") + "DATA;".len();
    let end = text.rfind("ENDSEC;").expect("ENDSEC");
    let (head, body, tail) = (&text[..data], &text[data..end], &text[end..]);
    let mut out = String::with_capacity(src.len() * copies);
    out.push_str(head);
    for c in 0..copies {
        let shift = c as u64 * 10_000_000;
        // Every '#digits' outside strings (ids and references alike).
        let b = body.as_bytes();
        let mut k = 0;
        let mut in_string = false;
        while k < b.len() {
            let ch = b[k];
            if ch == b'\'' {
                in_string = !in_string;
            }
            if ch == b'#' && !in_string {
                let n = b[k + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if n > 0 {
                    let id: u64 = body[k + 1..k + 1 + n].parse().unwrap_or(0);
                    out.push_str(&format!("#{}", id + shift));
                    k += 1 + n;
                    continue;
                }
            }
            out.push(ch as char);
            k += 1;
        }
    }
    out.push_str(tail);
    out.into_bytes()
}

fn parse_all(bytes: &[u8]) -> usize {
    let f = StepFile::from_bytes(Path::new("bench.ifc"), bytes.to_vec()).expect("parses");
    let mut n = 0;
    for (ty, _) in f.type_counts() {
        for id in f.ids_of(&ty) {
            n += f.get(id).map(|i| i.params.len()).unwrap_or(0);
        }
    }
    n
}

fn bench_step(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let src = duplex();
    let mut files = vec![("duplex.ifc".to_string(), src.clone())];
    if full {
        files.push(("duplex_x20.ifc".to_string(), bigger(&src, 20)));
    }
    let mut group = c.benchmark_group("ifc");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, bytes) in &files {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("step_parse_{name}"), |b| b.iter(|| parse_all(bytes)));
    }
    group.finish();
}

fn bench_tessellate(c: &mut Criterion) {
    use cim_importers::ifc::georef::read_georef;
    use cim_importers::ifc::import::tessellate;
    let src = duplex();
    let mut group = c.benchmark_group("ifc");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function("duplex_parse_and_tessellate", |b| {
        b.iter(|| {
            let f = StepFile::from_bytes(Path::new("duplex.ifc"), src.clone()).expect("parses");
            let g = read_georef(&f).expect("georef");
            let (geom, _) = tessellate(&f, &g).expect("tessellates");
            geom.bodies.iter().map(|(_, t)| t.len()).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_step, bench_tessellate);
criterion_main!(benches);
