#![allow(clippy::unwrap_used)]

use super::*;

/// A closed box of `w` × `d` × `h` at (x, y, z), its faces outward: ground, roof, four walls.
fn boxed(x: f64, y: f64, z: f64, w: f64, d: f64, h: f64) -> Mesh3 {
    let c = |i: usize| -> [f64; 3] {
        let (dx, dy, dz) = ((i & 1) as f64, ((i >> 1) & 1) as f64, ((i >> 2) & 1) as f64);
        [x + dx * w, y + dy * d, z + dz * h]
    };
    let faces: [([usize; 4], SurfaceClass); 6] = [
        ([0, 2, 3, 1], SurfaceClass::Ground),
        ([4, 5, 7, 6], SurfaceClass::Roof),
        ([0, 1, 5, 4], SurfaceClass::Wall),
        ([1, 3, 7, 5], SurfaceClass::Wall),
        ([3, 2, 6, 7], SurfaceClass::Wall),
        ([2, 0, 4, 6], SurfaceClass::Wall),
    ];
    let mut b = MeshBuilder::new([x, y, z]);
    for (f, class) in faces {
        b.add_polygon(&[f.iter().map(|&i| c(i)).collect()], class, None, None)
            .unwrap();
    }
    b.finish()
}

#[test]
fn a_box_has_its_volume_areas_and_faces() {
    let m = boxed(85_000.0, 447_500.0, 2.0, 10.0, 20.0, 6.0);
    assert_eq!(m.vertex_count(), 8, "corners are welded");
    assert_eq!(m.triangle_count(), 12);
    assert_eq!(m.face_count(), 6);
    assert!((m.volume() - 1200.0).abs() < 1e-6, "{}", m.volume());
    assert!((m.area(Some(SurfaceClass::Roof)) - 200.0).abs() < 1e-6);
    assert!((m.area(Some(SurfaceClass::Wall)) - 360.0).abs() < 1e-6);
    let (lo, hi) = m.bounds().unwrap();
    assert_eq!(lo, [85_000.0, 447_500.0, 2.0]);
    assert_eq!(hi, [85_010.0, 447_520.0, 8.0]);
    // Each face's outline comes back as one ring of its four corners.
    let rings = m.face_rings();
    assert_eq!(rings.len(), 6);
    assert!(rings.iter().all(|f| f.len() == 1 && f[0].len() == 4), "{rings:?}");
}

#[test]
fn a_polygon_with_a_hole_keeps_the_hole_and_its_facing() {
    // A wall in the x–z plane facing −y (counter-clockwise seen from −y), with a window hole.
    let outer = vec![
        [0.0, 0.0, 0.0],
        [10.0, 0.0, 0.0],
        [10.0, 0.0, 5.0],
        [0.0, 0.0, 5.0],
        [0.0, 0.0, 0.0],
    ];
    let hole = vec![[4.0, 0.0, 1.0], [4.0, 0.0, 3.0], [6.0, 0.0, 3.0], [6.0, 0.0, 1.0]];
    let mut b = MeshBuilder::new([0.0; 3]);
    b.add_polygon(&[outer, hole], SurfaceClass::Wall, None, None)
        .unwrap();
    let m = b.finish();
    assert!((m.area(None) - 46.0).abs() < 1e-9, "{}", m.area(None));
    for t in &m.triangles {
        let [a, b, c] = t.map(|v| m.world(v));
        let n = cross(sub(b, a), sub(c, a));
        assert!(n[1] < 0.0, "a triangle faces the wrong way: {n:?}");
    }
    assert_eq!(
        plane_normal(&[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]),
        Some([0.0, 0.0, 1.0])
    );
    // Its outline: the outer ring and the hole.
    let rings = &m.face_rings()[0];
    assert_eq!(rings.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4]);
    // The outer ring first: its corners are the outer corners.
    let outer: Vec<[f64; 3]> = rings[0].iter().map(|&v| m.world(v)).collect();
    assert!(outer.iter().all(|p| p[0] == 0.0 || p[0] == 10.0), "{outer:?}");
}

#[test]
fn polygons_without_area_are_refused_by_name() {
    let mut b = MeshBuilder::new([0.0; 3]);
    let line = vec![[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]];
    assert_eq!(
        b.add_polygon(&[line], SurfaceClass::Roof, None, None),
        Err(TriangulateError::NoArea)
    );
    let two = vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]];
    assert_eq!(
        b.add_polygon(&[two], SurfaceClass::Roof, None, None),
        Err(TriangulateError::TooFewPoints(2))
    );
    let nan = vec![[0.0, 0.0, 0.0], [1.0, f64::NAN, 0.0], [1.0, 1.0, 0.0]];
    assert_eq!(
        b.add_polygon(&[nan], SurfaceClass::Roof, None, None),
        Err(TriangulateError::NotFinite)
    );
    // Too far from the mesh's origin for f32: refused, not stored as infinities.
    let far = vec![[0.0, 0.0, 0.0], [1e300, 0.0, 0.0], [0.0, 1.0, 0.0]];
    assert_eq!(
        b.add_polygon(&[far], SurfaceClass::Roof, None, None),
        Err(TriangulateError::NotFinite)
    );
    assert_eq!(b.triangle_count(), 0);
}

#[test]
fn meshes_survive_encoding_bit_for_bit_and_damage_is_an_error() {
    let mut m = boxed(85_000.0, 447_500.0, 2.0, 10.0, 20.0, 6.0);
    let blob = encode_mesh(&m);
    assert_eq!(decode_mesh(&blob).unwrap(), m);
    // With texture coordinates and materials, and a triangle out of first-use order.
    m.uvs = Some(
        (0..m.vertex_count())
            .map(|k| [k as f32 * 0.1, 1.0 - k as f32 * 0.05])
            .collect(),
    );
    m.materials = Some(
        (0..m.triangle_count())
            .map(|k| if k < 4 { 0 } else { u16::MAX })
            .collect(),
    );
    m.triangles.push([7, 0, 3]);
    m.classes.push(SurfaceClass::Closure);
    m.faces.push(6);
    if let Some(mats) = &mut m.materials {
        mats.push(2);
    }
    let blob = encode_mesh(&m);
    assert_eq!(decode_mesh(&blob).unwrap(), m);
    assert_eq!(decode_mesh(b"nope"), Err(MeshCodecError::BadHeader));
    // Every cut and every flipped byte is an error or another mesh, never a panic.
    for cut in 0..blob.len() {
        let _ = decode_mesh(&blob[..cut]);
    }
    for k in 5..blob.len() {
        let mut bad = blob.clone();
        bad[k] ^= 0x5a;
        let _ = decode_mesh(&bad);
    }
}

#[test]
fn surface_classes_round_trip_by_name_and_code() {
    for c in SurfaceClass::ALL {
        assert_eq!(SurfaceClass::from_name(c.name()), Some(c));
        assert_eq!(SurfaceClass::from_code(c as u8), Some(c));
    }
    assert_eq!(SurfaceClass::from_name("+RoofSurface"), Some(SurfaceClass::Roof));
    assert_eq!(SurfaceClass::from_name("Balcony"), None);
}

#[test]
fn a_footprint_extrudes_to_a_closed_prism_with_its_hole() {
    use geo::{polygon, MultiPolygon};
    // A 20 × 20 m courtyard block with a 10 × 10 m courtyard, clockwise (orientation is fixed).
    let outer = polygon!(
        exterior: [(x: 0.0, y: 0.0), (x: 0.0, y: 20.0), (x: 20.0, y: 20.0), (x: 20.0, y: 0.0)],
        interiors: [[(x: 5.0, y: 5.0), (x: 15.0, y: 5.0), (x: 15.0, y: 15.0), (x: 5.0, y: 15.0)]],
    );
    let m = extrude(&MultiPolygon(vec![outer]), 2.0, 12.0);
    // Volume (400 − 100) × 10, all faces outward; roof and ground 300 m² each; 8 walls.
    assert!((m.volume() - 3000.0).abs() < 1e-6, "{}", m.volume());
    assert!((m.area(Some(SurfaceClass::Roof)) - 300.0).abs() < 1e-6);
    assert!((m.area(Some(SurfaceClass::Ground)) - 300.0).abs() < 1e-6);
    assert!((m.area(Some(SurfaceClass::Wall)) - 8.0 * 10.0 * 10.0 - 4.0 * 10.0 * 10.0).abs() < 1e-6);
    assert_eq!(m.face_count(), 8 + 2);
    assert!(extrude(&MultiPolygon(vec![]), 0.0, 1.0).triangles.is_empty());
    let unit = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
    assert!(extrude(&MultiPolygon(vec![unit]), 3.0, 3.0).triangles.is_empty());
}

#[test]
fn areas_are_given_per_class_in_class_order() {
    let m = boxed(1000.0, 2000.0, 0.0, 10.0, 10.0, 5.0);
    let areas = m.areas_by_class();
    assert_eq!(
        areas.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![SurfaceClass::Roof, SurfaceClass::Wall, SurfaceClass::Ground]
    );
}

#[test]
fn quadrilaterals_convex_or_not_triangulate_to_their_area_facing_their_ring() {
    use super::triangulate::triangulate_polygon;
    let area_and_facing = |pts: &[[f64; 3]], tris: &[[usize; 3]]| {
        let mut area = 0.0;
        let mut n = [0.0; 3];
        for t in tris {
            let (a, b, c) = (pts[t[0]], pts[t[1]], pts[t[2]]);
            let (u, w) = (
                [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
                [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
            );
            let x = [
                u[1] * w[2] - u[2] * w[1],
                u[2] * w[0] - u[0] * w[2],
                u[0] * w[1] - u[1] * w[0],
            ];
            area += 0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt();
            for k in 0..3 {
                n[k] += x[k];
            }
        }
        (area, n)
    };
    // A wall 10 m long and 6 m high, far from the origin, facing south (−y), ring closed.
    let wall = vec![
        [500_000.0, 2_500_000.0, 0.0],
        [500_010.0, 2_500_000.0, 0.0],
        [500_010.0, 2_500_000.0, 6.0],
        [500_000.0, 2_500_000.0, 6.0],
        [500_000.0, 2_500_000.0, 0.0],
    ];
    let (pts, tris) = triangulate_polygon(&[wall]).unwrap();
    assert_eq!((pts.len(), tris.len()), (4, 2));
    let (area, n) = area_and_facing(&pts, &tris);
    assert!((area - 60.0).abs() < 1e-9, "{area}");
    assert!(n[1] < 0.0 && n[0].abs() < 1e-9 && n[2].abs() < 1e-9, "{n:?}");
    // A dart (concave at its third corner): not a fan about the first point, but its own area.
    let dart = vec![[0.0, 0.0, 0.0], [4.0, 2.0, 0.0], [1.0, 2.0, 0.0], [0.0, 4.0, 0.0]];
    let (pts, tris) = triangulate_polygon(&[dart]).unwrap();
    let (area, n) = area_and_facing(&pts, &tris);
    // Shoelace: (0·2 − 4·0) + (4·2 − 1·2) + (1·4 − 0·2) + (0·0 − 0·4) = 10 → 5.
    assert!((area - 5.0).abs() < 1e-9, "{area}");
    assert!(n[2] > 0.0);
    // Three points in a row and a fourth: a triangle, whatever the path.
    let (pts, tris) = triangulate_polygon(&[vec![
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [2.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
    ]])
    .unwrap();
    assert!((area_and_facing(&pts, &tris).0 - 1.0).abs() < 1e-9);
}
