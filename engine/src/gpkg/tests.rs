#![allow(clippy::unwrap_used)]

use super::*;
use geo::{
    line_string, point, polygon, Geometry, GeometryCollection, MultiLineString, MultiPoint, MultiPolygon,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn samples() -> Vec<Geometry<f64>> {
    let poly = polygon![
        exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
        interiors: [[(x: 2.0, y: 2.0), (x: 4.0, y: 2.0), (x: 4.0, y: 4.0)]],
    ];
    let ls = line_string![(x: -1.5, y: 2.25), (x: 3e6, y: 4.5e6), (x: 7.0, y: -8.0)];
    vec![
        point!(x: 500_000.125, y: 3_000_000.5).into(),
        ls.clone().into(),
        poly.clone().into(),
        MultiPoint::from(vec![(1.0, 2.0), (3.0, 4.0)]).into(),
        MultiLineString(vec![ls.clone(), line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)]]).into(),
        MultiPolygon(vec![poly.clone(), poly.clone()]).into(),
        Geometry::GeometryCollection(GeometryCollection(vec![
            point!(x: 1.0, y: 1.0).into(),
            Geometry::GeometryCollection(GeometryCollection(vec![ls.into()])),
            poly.into(),
        ])),
    ]
}

#[test]
fn round_trips_every_type() {
    for g in samples() {
        let blob = encode_geometry(&g, 4547);
        assert_eq!(&blob[..4], &[b'G', b'P', 0, 0b0000_0011]);
        assert_eq!(srs_id(&blob).unwrap(), 4547);
        assert_eq!(decode_geometry(&blob).unwrap().as_ref(), Some(&g), "{g:?}");
        assert_eq!(envelope(&blob), geometry_envelope(&g));
        let (decoded, _) = read_wkb(&blob[40..]).unwrap();
        assert_eq!(geometry_type_name(&decoded), geometry_type_name(&g));
    }
}

#[test]
fn header_envelope_is_minx_maxx_miny_maxy() {
    let g: Geometry<f64> = line_string![(x: 1.0, y: 20.0), (x: 3.0, y: 10.0)].into();
    let blob = encode_geometry(&g, 1);
    let f = |i: usize| f64::from_le_bytes(blob[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    assert_eq!([f(0), f(1), f(2), f(3)], [1.0, 3.0, 10.0, 20.0]);
    assert_eq!(envelope(&blob), Some([1.0, 10.0, 3.0, 20.0]));
}

#[test]
fn empty_geometries_set_the_empty_flag() {
    for g in [
        Geometry::MultiPolygon(MultiPolygon::<f64>(vec![])),
        Geometry::GeometryCollection(GeometryCollection::<f64>(vec![])),
        Geometry::Point(point!(x: f64::NAN, y: f64::NAN)),
    ] {
        let blob = encode_geometry(&g, 3857);
        assert_eq!(blob[3], 0b0001_0001, "{g:?}");
        assert_eq!(
            blob.len(),
            8 + if matches!(g, Geometry::Point(_)) { 21 } else { 9 }
        );
        assert_eq!(decode_geometry(&blob).unwrap(), None);
        assert_eq!(envelope(&blob), None);
    }
}

fn be_point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![0u8];
    w.extend_from_slice(&1u32.to_be_bytes());
    w.extend_from_slice(&x.to_be_bytes());
    w.extend_from_slice(&y.to_be_bytes());
    w
}

#[test]
fn reads_big_endian_header_and_wkb() {
    let mut blob = b"GP".to_vec();
    blob.push(0);
    blob.push(1 << 1); // big-endian, XY envelope
    blob.extend_from_slice(&4326i32.to_be_bytes());
    for v in [5.0f64, 5.0, 6.0, 6.0] {
        blob.extend_from_slice(&v.to_be_bytes());
    }
    blob.extend_from_slice(&be_point_wkb(5.0, 6.0));
    assert_eq!(srs_id(&blob).unwrap(), 4326);
    assert_eq!(envelope(&blob), Some([5.0, 6.0, 5.0, 6.0]));
    assert_eq!(
        decode_geometry(&blob).unwrap(),
        Some(point!(x: 5.0, y: 6.0).into())
    );
}

/// A little-endian blob with the given envelope indicator (filled with zeros) and WKB.
fn blob_with(indicator: u8, wkb: &[u8]) -> Vec<u8> {
    let mut blob = vec![b'G', b'P', 0, 1 | (indicator << 1)];
    blob.extend_from_slice(&0i32.to_le_bytes());
    let n = [0, 4, 6, 6, 8][usize::from(indicator)];
    for _ in 0..n {
        blob.extend_from_slice(&0f64.to_le_bytes());
    }
    blob.extend_from_slice(wkb);
    blob
}

fn le_linestring(type_code: u32, dims: usize) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend_from_slice(&type_code.to_le_bytes());
    w.extend_from_slice(&2u32.to_le_bytes());
    for i in 0..2 {
        for d in 0..dims {
            w.extend_from_slice(&((i * 10 + d) as f64).to_le_bytes());
        }
    }
    w
}

#[test]
fn reads_every_envelope_kind_and_drops_z_m() {
    let expect: Geometry<f64> = line_string![(x: 0.0, y: 1.0), (x: 10.0, y: 11.0)].into();
    for indicator in 0..=4u8 {
        for (type_code, dims) in [
            (2u32, 2usize),
            (1002, 3),
            (2002, 3),
            (3002, 4),
            (0x8000_0002, 3),
            (0x4000_0002, 3),
            (0xC000_0002, 4),
        ] {
            let blob = blob_with(indicator, &le_linestring(type_code, dims));
            assert_eq!(
                decode_geometry(&blob).unwrap().as_ref(),
                Some(&expect),
                "indicator {indicator} type {type_code:#x}"
            );
            let env = envelope(&blob).unwrap();
            if indicator == 0 {
                assert_eq!(env, [0.0, 1.0, 10.0, 11.0]);
            }
        }
    }
}

#[test]
fn reads_ewkb_with_embedded_srid() {
    let mut w = vec![1u8];
    w.extend_from_slice(&(0x2000_0001u32 | 0x8000_0000).to_le_bytes());
    w.extend_from_slice(&4490u32.to_le_bytes());
    for v in [1.0f64, 2.0, 3.0] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(
        decode_geometry(&blob_with(0, &w)).unwrap(),
        Some(point!(x: 1.0, y: 2.0).into())
    );
}

#[test]
fn rejects_garbled_headers_clearly() {
    let good = encode_geometry(&samples()[2], 1);
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(decode_geometry(&bad), Err(GpkgError::BadMagic));
    let mut bad = good.clone();
    bad[2] = 1;
    assert_eq!(
        decode_geometry(&bad),
        Err(GpkgError::UnsupportedVersion { version: 1 })
    );
    let mut bad = good.clone();
    bad[3] = 1 | (5 << 1);
    assert_eq!(
        decode_geometry(&bad),
        Err(GpkgError::BadEnvelope { indicator: 5 })
    );
    let mut bad = good.clone();
    bad.push(0);
    assert_eq!(decode_geometry(&bad), Err(GpkgError::Trailing { trailing: 1 }));
    let mut bad = good;
    bad[40] = 7;
    assert!(matches!(
        decode_geometry(&bad),
        Err(GpkgError::BadByteOrder { marker: 7, .. })
    ));
    let msg = decode_geometry(b"GP").unwrap_err().to_string();
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn every_truncation_is_an_error() {
    for g in samples() {
        let blob = encode_geometry(&g, 1);
        for len in 0..blob.len() {
            assert!(decode_geometry(&blob[..len]).is_err(), "{g:?} cut at {len}");
        }
    }
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(20240601);
    let blobs: Vec<Vec<u8>> = samples().iter().map(|g| encode_geometry(g, 1)).collect();
    let mut errors = 0;
    for i in 0..50_000 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            let n = rng.random_range(0..200);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            if n >= 4 && rng.random_bool(0.7) {
                b[..4].copy_from_slice(&[b'G', b'P', 0, rng.random_range(0..16)]);
            }
            b
        } else {
            let mut b = blobs[rng.random_range(0..blobs.len())].clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            b
        };
        if decode_geometry(&bytes).is_err() {
            errors += 1;
        }
        let _ = envelope(&bytes);
    }
    assert!(errors > 25_000, "only {errors} errors");
}

#[test]
fn huge_counts_do_not_allocate() {
    let mut w = vec![1u8];
    w.extend_from_slice(&7u32.to_le_bytes());
    w.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode_geometry(&blob_with(0, &w)),
        Err(GpkgError::BadCount { .. })
    ));
}

#[test]
fn deep_nesting_is_rejected() {
    let mut w = Vec::new();
    for _ in 0..10_000 {
        w.push(1u8);
        w.extend_from_slice(&7u32.to_le_bytes());
        w.extend_from_slice(&1u32.to_le_bytes());
    }
    assert!(matches!(
        decode_geometry(&blob_with(0, &w)),
        Err(GpkgError::TooDeep { .. }) | Err(GpkgError::BadCount { .. })
    ));
}
