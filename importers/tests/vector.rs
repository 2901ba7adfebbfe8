//! Vector and city model readers against real fixtures (../shared/fixtures/vector) and the small generated
//! files in tests/data (see `vector/support.rs`; regenerate with
//! `cargo test -p cim-importers --test vector -- --ignored regenerate_test_data`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "vector/bad_input.rs"]
mod bad_input;
#[path = "vector/citygml.rs"]
mod citygml;
#[path = "vector/cityjson.rs"]
mod cityjson;
#[path = "vector/export.rs"]
mod export;
#[path = "vector/fgb.rs"]
mod fgb;
#[path = "vector/geojson.rs"]
mod geojson;
#[path = "vector/gpkg.rs"]
mod gpkg;
#[path = "vector/ifc.rs"]
mod ifc;
#[path = "vector/shapefile.rs"]
mod shapefile;
#[path = "vector/support.rs"]
mod support;

use cim_importers::{SourceFeature, VectorSource};

/// Drains a source, panicking with the error text on the first bad record.
pub fn all_ok(src: VectorSource) -> Vec<SourceFeature> {
    src.features
        .map(|f| f.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
#[ignore = "writes tests/data; run by hand after changing support.rs"]
fn regenerate_test_data() {
    support::write_test_data(&support::data_dir());
}

#[test]
fn committed_test_data_matches_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    support::write_test_data(dir.path());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let committed = std::fs::read(support::data(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            std::fs::read(&p).unwrap(),
            committed,
            "{name} differs; regenerate test data"
        );
    }
}
