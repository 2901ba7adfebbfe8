//! Ray picking: hand-computed cases, then every kind of ray against a scan of all items with an
//! independent exact oracle.
#![allow(clippy::unwrap_used)]

mod common;

use cim_spatial_index::{Hit, Item, ItemId, Shape, SpatialIndex, TriangleMesh};
use common::*;
use geo::{line_string, polygon, Polygon};
use rand::Rng;

fn square(x0: f64, y0: f64, side: f64) -> Polygon<f64> {
    polygon![(x: x0, y: y0), (x: x0 + side, y: y0), (x: x0 + side, y: y0 + side), (x: x0, y: y0 + side)]
}

/// A 30 m square with a 10 m square courtyard in the middle, 20 m tall, at the origin.
fn courtyard() -> Polygon<f64> {
    polygon!(
        exterior: [(x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0), (x: 0.0, y: 30.0)],
        interiors: [[(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]],
    )
}

fn close(a: [f64; 3], b: [f64; 3]) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() < 1e-9)
}

#[test]
fn straight_down_onto_a_10m_building_hits_the_roof() {
    let index = SpatialIndex::bulk_load(vec![Item::new(
        5,
        Shape::prism(square(0.0, 0.0, 10.0), 0.0, 10.0),
    )]);
    let hit = index.ray_pick([4.0, 6.0, 100.0], [0.0, 0.0, -1.0]).unwrap();
    assert_eq!(
        hit,
        Hit {
            id: 5,
            distance: 90.0,
            point: [4.0, 6.0, 10.0],
            normal: [0.0, 0.0, 1.0],
            tag: None
        }
    );
    // Just beside it: nothing.
    assert!(index.ray_pick([10.5, 6.0, 100.0], [0.0, 0.0, -1.0]).is_none());
}

#[test]
fn horizontal_ray_hits_the_wall_with_the_wall_normal() {
    // A square rotated 45°: the wall facing south-west has normal (-1, -1, 0)/√2.
    let h = 10.0 / 2f64.sqrt();
    let diamond = polygon![(x: 0.0, y: -h), (x: h, y: 0.0), (x: 0.0, y: h), (x: -h, y: 0.0)];
    let index = SpatialIndex::bulk_load(vec![Item::new(1, Shape::prism(diamond, 0.0, 30.0))]);
    let hit = index.ray_pick([-20.0, -20.0, 12.0], [1.0, 1.0, 0.0]).unwrap();
    let s = 1.0 / 2f64.sqrt();
    assert!(close(hit.normal, [-s, -s, 0.0]), "{hit:?}");
    assert!(close(hit.point, [-h / 2.0, -h / 2.0, 12.0]), "{hit:?}");
    assert!((hit.distance - (20.0 * 2f64.sqrt() - 5.0)).abs() < 1e-9);
    // From the east, level: the east corner is hit first... at the vertex (h, 0).
    let east = index.ray_pick([50.0, 0.0, 1.0], [-1.0, 0.0, 0.0]).unwrap();
    assert!((east.distance - (50.0 - h)).abs() < 1e-9);
}

#[test]
fn ray_through_the_courtyard_hits_the_inner_wall() {
    let index = SpatialIndex::bulk_load(vec![Item::new(3, Shape::prism(courtyard(), 0.0, 20.0))]);
    // Straight down into the hole: it reaches the ground without touching the building.
    assert!(index.ray_pick([15.0, 15.0, 100.0], [0.0, 0.0, -1.0]).is_none());
    // Down and east through the hole: passes roof level at x=17 (inside the hole), descends
    // 1 m per metre east, meets the inner east wall x=20 at z=17, normal facing west.
    let hit = index.ray_pick([12.0, 15.0, 25.0], [1.0, 0.0, -1.0]).unwrap();
    assert_eq!(hit.id, 3);
    assert!(close(hit.point, [20.0, 15.0, 17.0]), "{hit:?}");
    assert!((hit.distance - 8.0 * 2f64.sqrt()).abs() < 1e-9);
    // Starting 5 m higher, the same heading passes over the hole and lands on the far roof.
    let roof = index.ray_pick([12.0, 15.0, 30.0], [1.0, 0.0, -1.0]).unwrap();
    assert!(
        close(roof.point, [22.0, 15.0, 20.0]) && roof.normal == [0.0, 0.0, 1.0],
        "{roof:?}"
    );
    assert!(close(hit.normal, [-1.0, 0.0, 0.0]), "{hit:?}");
    // The same, with the hole ring wound clockwise: orientation must not matter.
    let cw = Polygon::new(
        courtyard().exterior().clone(),
        vec![courtyard().interiors()[0]
            .0
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .into()],
    );
    let cw_hit = Shape::prism(cw, 0.0, 20.0)
        .ray_hit([12.0, 15.0, 25.0], [1.0, 0.0, -1.0])
        .unwrap();
    assert_eq!(cw_hit.normal, hit.normal);
}

#[test]
fn ray_through_the_notch_of_an_l_passes_to_the_building_behind() {
    // An L whose missing corner is the north-east quarter; a tower behind it to the north-east.
    let l = polygon![(x: 0.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.0, y: 20.0), (x: 0.0, y: 20.0)];
    let index = SpatialIndex::bulk_load(vec![
        Item::new(1, Shape::prism(l, 0.0, 30.0)),
        Item::new(2, Shape::prism(square(40.0, 0.0, 10.0), 0.0, 30.0)),
    ]);
    // Eastward at y=15 crosses the L's bounding box only through the notch.
    let hit = index.ray_pick([-5.0, 15.0, 5.0], [1.0, 0.0, 0.0]).unwrap();
    assert_eq!((hit.id, hit.distance), (1, 5.0)); // the west wall of the L at x=0 first
    let from_inside_box = index.ray_pick([12.0, 15.0, 5.0], [1.0, -0.5, 0.0]).unwrap();
    // From inside the notch heading east-south-east: reaches y=5 at x=32 (outside the L),
    // so the first solid is the tower's west wall at x=40, y=1.
    assert_eq!(from_inside_box.id, 2);
    assert!(
        close(from_inside_box.point, [40.0, 1.0, 5.0]),
        "{from_inside_box:?}"
    );
}

#[test]
fn bottom_face_parcel_box_and_inside_origin() {
    let index = SpatialIndex::bulk_load(vec![
        // A raised walkway: solid between 5 m and 8 m.
        Item::new(
            1,
            Shape::Prism {
                footprint: square(0.0, 0.0, 10.0),
                base_z: 5.0,
                top_z: 8.0,
            },
        ),
        // A flat parcel at ground level.
        Item::new(2, Shape::prism(square(20.0, 0.0, 10.0), 0.0, 0.0)),
        Item::new(
            3,
            Shape::Box(cim_spatial_index::Aabb3::new(
                [40.0, 0.0, 0.0],
                [50.0, 10.0, 10.0],
            )),
        ),
        // Lines and points are never picked.
        Item::new(4, Shape::Point { xyz: [5.0, 5.0, 2.0] }),
        Item::new(
            5,
            Shape::Line {
                line: line_string![(x: 0.0, y: 5.0), (x: 60.0, y: 5.0)],
                z: 1.0,
            },
        ),
    ]);
    let up = index.ray_pick([5.0, 5.0, 0.0], [0.0, 0.0, 1.0]).unwrap();
    assert_eq!(
        up,
        Hit {
            id: 1,
            distance: 5.0,
            point: [5.0, 5.0, 5.0],
            normal: [0.0, 0.0, -1.0],
            tag: None
        }
    );
    let parcel = index.ray_pick([25.0, 5.0, 10.0], [0.0, 0.0, -3.0]).unwrap();
    assert_eq!(
        parcel,
        Hit {
            id: 2,
            distance: 10.0,
            point: [25.0, 5.0, 0.0],
            normal: [0.0, 0.0, 1.0],
            tag: None
        }
    );
    let side = index.ray_pick([60.0, 5.0, 1.0], [-1.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        side,
        Hit {
            id: 3,
            distance: 10.0,
            point: [50.0, 5.0, 1.0],
            normal: [1.0, 0.0, 0.0],
            tag: None
        }
    );
    let inside = index.ray_pick([5.0, 5.0, 6.0], [1.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        (inside.id, inside.distance, inside.normal),
        (1, 0.0, [-1.0, -0.0, -0.0])
    );
}

#[test]
fn degenerate_rays_and_empty_index_return_none() {
    assert!(SpatialIndex::new().ray_pick([0.0; 3], [0.0, 0.0, -1.0]).is_none());
    let index = SpatialIndex::bulk_load(vec![Item::new(
        1,
        Shape::prism(square(0.0, 0.0, 10.0), 0.0, 10.0),
    )]);
    let o = [5.0, 5.0, 50.0];
    assert!(index.ray_pick(o, [0.0, 0.0, 0.0]).is_none());
    assert!(index.ray_pick(o, [f64::NAN, 0.0, -1.0]).is_none());
    assert!(index.ray_pick([f64::NAN, 5.0, 50.0], [0.0, 0.0, -1.0]).is_none());
    assert!(index.ray_pick(o, [0.0, 0.0, f64::INFINITY]).is_none());
    assert!(index.ray_pick(o, [0.0, 0.0, 1.0]).is_none(), "pointing away");
}

/// The kinds of ray a viewer and the tests care about.
fn random_ray(rng: &mut rand_chacha::ChaCha8Rng, items: &[Item], kind: usize) -> ([f64; 3], [f64; 3]) {
    let p = random_point(rng);
    match kind {
        // Straight down from above.
        0 => ([p[0], p[1], 300.0], [0.0, 0.0, -1.0]),
        // Oblique camera ray from 300 m.
        1 => {
            let (az, pitch) = (
                rng.random_range(0.0..std::f64::consts::TAU),
                rng.random_range(0.1..1.4f64),
            );
            (
                [p[0], p[1], 300.0],
                [az.cos() * pitch.cos(), az.sin() * pitch.cos(), -pitch.sin()],
            )
        }
        // Horizontal at street level, any heading.
        2 => {
            let az = rng.random_range(0.0..std::f64::consts::TAU);
            (
                [p[0], p[1], rng.random_range(0.0..40.0)],
                [az.cos(), az.sin(), 0.0],
            )
        }
        // Into a courtyard: aimed down at a hole's centre, from straight above or obliquely.
        3 => {
            let holes: Vec<&Item> = items
                .iter()
                .filter(|it| matches!(&it.shape, Shape::Prism { footprint, .. } if !footprint.interiors().is_empty()))
                .collect();
            let Shape::Prism { footprint, .. } = &holes[rng.random_range(0..holes.len())].shape else {
                unreachable!()
            };
            let ring = &footprint.interiors()[0].0;
            let n = (ring.len() - 1) as f64;
            let c = ring[..ring.len() - 1]
                .iter()
                .fold([0.0, 0.0], |a, q| [a[0] + q.x / n, a[1] + q.y / n]);
            let off = if rng.random_bool(0.5) {
                [0.0, 0.0]
            } else {
                [rng.random_range(-8.0..8.0), rng.random_range(-8.0..8.0)]
            };
            (
                [c[0] + off[0], c[1] + off[1], 150.0],
                [-off[0] / 20.0, -off[1] / 20.0, -1.0],
            )
        }
        // Grazing: along an axis-aligned wall line, or straight down onto a vertex.
        _ => {
            let prisms: Vec<&Polygon<f64>> = items
                .iter()
                .filter_map(|it| match &it.shape {
                    Shape::Prism { footprint, .. } => Some(footprint),
                    _ => None,
                })
                .collect();
            let f = prisms[rng.random_range(0..prisms.len())];
            let v = f.exterior().0[rng.random_range(0..f.exterior().0.len())];
            if rng.random_bool(0.5) {
                ([v.x, v.y, 200.0], [0.0, 0.0, -1.0])
            } else {
                ([v.x - 100.0, v.y, rng.random_range(0.0..30.0)], [1.0, 0.0, 0.0])
            }
        }
    }
}

#[test]
fn ray_pick_matches_brute_force_on_random_city() {
    let items = items(2500, 21);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(22);
    let mut hits_per_kind = [0usize; 5];
    for i in 0..2500 {
        let kind = i % 5;
        let (o, d) = random_ray(&mut rng, &items, kind);
        let u = unit(d);
        let mut oracle: Vec<(f64, ItemId)> = items
            .iter()
            .filter_map(|it| oracle_ray(&it.shape, o, u).map(|t| (t, it.id)))
            .collect();
        oracle.sort_by(|a, b| a.0.total_cmp(&b.0));
        let got = index.ray_pick(o, d);
        match (got, oracle.first()) {
            (None, None) => {}
            (Some(hit), Some(&(t_best, _))) => {
                hits_per_kind[kind] += 1;
                assert!(
                    (hit.distance - t_best).abs() < 1e-6,
                    "kind {kind} ray {o:?} {d:?}: {hit:?} vs {oracle:?}"
                );
                // Accept any item within rounding of the best (touching buildings tie).
                let tied: Vec<ItemId> = oracle
                    .iter()
                    .filter(|p| p.0 - t_best < 1e-6)
                    .map(|p| p.1)
                    .collect();
                assert!(tied.contains(&hit.id), "kind {kind}: {hit:?} not among {tied:?}");
                let p = [0, 1, 2].map(|a| o[a] + hit.distance * u[a]);
                assert!(close(p, hit.point) || (0..3).all(|a| (p[a] - hit.point[a]).abs() < 1e-6));
                let n = hit.normal;
                assert!(((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() - 1.0).abs() < 1e-9);
                assert!(
                    n[0] * u[0] + n[1] * u[1] + n[2] * u[2] <= 1e-12,
                    "normal faces the ray: {hit:?}"
                );
            }
            (got, want) => panic!("kind {kind} ray {o:?} {d:?}: got {got:?}, oracle {want:?}"),
        }
    }
    // Every kind of ray actually exercised hits (and misses: straight down often finds ground).
    assert!(hits_per_kind.iter().all(|&h| h > 50), "{hits_per_kind:?}");
}

#[test]
fn shape_ray_hit_matches_the_oracle_on_single_prisms() {
    // Many rays at one prism each, so misses, walls, roofs and holes all get exercised.
    let mut rng = rng(23);
    let (mut roofs, mut walls) = (0, 0);
    for _ in 0..4000 {
        let at = random_point(&mut rng);
        let f = footprint(&mut rng, at);
        let top = rng.random_range(0.0..60.0f64).round();
        let shape = Shape::prism(f, 0.0, top);
        let o = [
            at[0] + rng.random_range(-80.0..80.0),
            at[1] + rng.random_range(-80.0..80.0),
            rng.random_range(0.0..120.0),
        ];
        let target = [
            at[0] + rng.random_range(-5.0..45.0),
            at[1] + rng.random_range(-5.0..45.0),
            rng.random_range(-10.0..70.0),
        ];
        let d = unit([target[0] - o[0], target[1] - o[1], target[2] - o[2]]);
        let got = shape.ray_hit(o, d);
        let want = oracle_ray(&shape, o, d);
        match (got, want) {
            (None, None) => {}
            (Some(h), Some(t)) => {
                assert!(
                    (h.distance - t).abs() < 1e-6,
                    "{shape:?} {o:?} {d:?}: {h:?} vs {t}"
                );
                if h.normal[2] != 0.0 {
                    roofs += 1
                } else {
                    walls += 1
                }
            }
            _ => panic!("{shape:?} {o:?} {d:?}: got {got:?}, oracle {want:?}"),
        }
    }
    assert!(roofs > 100 && walls > 100, "roofs {roofs} walls {walls}");
}

/// A gable house at (x0, y0): footprint 10 m × 8 m, eaves at 6 m, ridge along x at 9 m, with a
/// balcony slab sticking out 1.5 m from the south wall at 3.2 m. Tags: 1 wall, 2 roof,
/// 3 balcony, 4 ground.
fn gable_house(x0: f64, y0: f64) -> TriangleMesh {
    let p: Vec<[f32; 3]> = vec![
        [0.0, 0.0, 0.0],
        [10.0, 0.0, 0.0],
        [10.0, 8.0, 0.0],
        [0.0, 8.0, 0.0],
        [0.0, 0.0, 6.0],
        [10.0, 0.0, 6.0],
        [10.0, 8.0, 6.0],
        [0.0, 8.0, 6.0],
        [0.0, 4.0, 9.0],
        [10.0, 4.0, 9.0],
        [3.0, -1.5, 3.2],
        [7.0, -1.5, 3.2],
        [7.0, 0.0, 3.2],
        [3.0, 0.0, 3.2],
    ];
    let walls = [
        [0, 1, 5],
        [0, 5, 4],
        [1, 2, 6],
        [1, 6, 5],
        [5, 6, 9],
        [2, 3, 7],
        [2, 7, 6],
        [3, 0, 4],
        [3, 4, 7],
        [7, 4, 8],
    ];
    let roof = [[4, 5, 9], [4, 9, 8], [6, 7, 8], [6, 8, 9]];
    let balcony = [[10, 11, 12], [10, 12, 13]];
    let ground = [[0, 2, 1], [0, 3, 2]];
    let mut t = Vec::new();
    let mut tags = Vec::new();
    for (tag, list) in [
        (1u32, &walls[..]),
        (2, &roof[..]),
        (3, &balcony[..]),
        (4, &ground[..]),
    ] {
        t.extend_from_slice(list);
        tags.extend(std::iter::repeat_n(tag, list.len()));
    }
    TriangleMesh::new([x0, y0, 0.0], &p, &t, &tags).unwrap()
}

#[test]
fn a_mesh_is_hit_on_the_surface_drawn_not_on_its_lod1_prism() {
    let (x0, y0) = (385_000.0, 2_535_000.0);
    let index = SpatialIndex::bulk_load(vec![
        Item::new(1, Shape::Mesh(gable_house(x0, y0))),
        // A tower behind it.
        Item::new(2, Shape::prism(square(x0, y0 + 20.0, 10.0), 0.0, 30.0)),
    ]);
    // Straight down onto the balcony, outside the footprint an LoD1 prism would have.
    let h = index
        .ray_pick([x0 + 5.0, y0 - 1.0, 50.0], [0.0, 0.0, -1.0])
        .unwrap();
    assert_eq!((h.id, h.tag), (1, Some(3)));
    assert!(
        (h.distance - 46.8).abs() < 1e-5 && close(h.normal, [0.0, 0.0, 1.0]),
        "{h:?}"
    );
    // Level at 8 m from the south: an LoD1 prism 9 m tall would be hit on its wall at y0; the
    // roof slope is 8/3 m further in.
    let h = index
        .ray_pick([x0 + 5.0, y0 - 20.0, 8.0], [0.0, 1.0, 0.0])
        .unwrap();
    assert_eq!((h.id, h.tag), (1, Some(2)));
    assert!((h.distance - (20.0 + 8.0 / 3.0)).abs() < 1e-4, "{h:?}");
    assert!(
        (h.normal[1] + 0.6).abs() < 1e-6 && (h.normal[2] - 0.8).abs() < 1e-6,
        "{h:?}"
    );
    assert!((h.point[2] - 8.0).abs() < 1e-9);
    // Above the ridge the ray passes to the tower's wall, which has no tag.
    let h = index
        .ray_pick([x0 + 5.0, y0 - 20.0, 9.5], [0.0, 1.0, 0.0])
        .unwrap();
    assert_eq!((h.id, h.tag, h.distance), (2, None, 40.0));
    // Between the balcony and the ground under it, looking north: the south wall.
    let h = index
        .ray_pick([x0 + 5.0, y0 - 1.0, 1.0], [0.0, 1.0, 0.0])
        .unwrap();
    assert_eq!((h.id, h.tag), (1, Some(1)));
    assert!((h.distance - 1.0).abs() < 1e-5);
    // The 2-D queries see the mesh from above: the balcony is part of its footprint.
    assert_eq!(index.within_distance_2d([x0 + 5.0, y0 - 3.0], 1.6), vec![1]);
    assert!(index.within_distance_2d([x0 + 5.0, y0 - 3.0], 1.4).is_empty());
    let strip = polygon![(x: x0 + 4.0, y: y0 - 1.4), (x: x0 + 5.0, y: y0 - 1.4), (x: x0 + 5.0, y: y0 - 0.1)];
    assert_eq!(index.intersecting_polygon(&strip), vec![1]);
    assert_eq!(index.nearest_2d([x0 + 5.0, y0 - 3.0], 1)[0].0, 1);
}

/// Every triangle of `mesh` against the ray, in f64: the nearest `t`.
fn brute_mesh(mesh: &TriangleMesh, o: [f64; 3], d: [f64; 3]) -> Option<(f64, u32)> {
    let mut best: Option<(f64, u32)> = None;
    for (c, tag) in mesh.triangles() {
        let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        let cross = |a: [f64; 3], b: [f64; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let (e1, e2) = (sub(c[1], c[0]), sub(c[2], c[0]));
        let p = cross(d, e2);
        let det = dot(e1, p);
        if det.abs() < 1e-12 {
            continue;
        }
        let s = sub(o, c[0]);
        let (u, q) = (dot(s, p) / det, cross(s, e1));
        let (v, t) = (dot(d, q) / det, dot(e2, q) / det);
        if u >= 0.0 && v >= 0.0 && u + v <= 1.0 && t >= 0.0 && best.is_none_or(|b| t < b.0) {
            best = Some((t, tag));
        }
    }
    best
}

#[test]
fn ray_pick_among_many_meshes_matches_brute_force() {
    // 400 houses on a jittered grid, turned by multiples of 90° so they stay apart.
    let mut rng = rng(31);
    let mut items = Vec::new();
    for i in 0..20u32 {
        for j in 0..20u32 {
            let x = 385_000.0 + 25.0 * f64::from(i) + rng.random_range(0.0..5.0);
            let y = 2_535_000.0 + 25.0 * f64::from(j) + rng.random_range(0.0..5.0);
            items.push(Item::new(u64::from(i * 20 + j), Shape::Mesh(gable_house(x, y))));
        }
    }
    let index = SpatialIndex::bulk_load(items.clone());
    let mut hits = 0;
    for k in 0..3000 {
        let p = [
            385_000.0 + rng.random_range(-20.0..520.0),
            2_535_000.0 + rng.random_range(-20.0..520.0),
        ];
        let (o, d) = match k % 3 {
            0 => ([p[0], p[1], 100.0], [0.0, 0.0, -1.0]),
            1 => {
                let az = rng.random_range(0.0..std::f64::consts::TAU);
                (
                    [p[0], p[1], rng.random_range(0.5..10.0)],
                    [az.cos(), az.sin(), 0.0],
                )
            }
            _ => {
                let az = rng.random_range(0.0..std::f64::consts::TAU);
                let pitch = rng.random_range(0.1..1.4f64);
                (
                    [p[0], p[1], 200.0],
                    [az.cos() * pitch.cos(), az.sin() * pitch.cos(), -pitch.sin()],
                )
            }
        };
        let u = unit(d);
        let mut oracle: Vec<(f64, ItemId, u32)> = items
            .iter()
            .filter_map(|it| match &it.shape {
                Shape::Mesh(m) => brute_mesh(m, o, u).map(|(t, tag)| (t, it.id, tag)),
                _ => None,
            })
            .collect();
        oracle.sort_by(|a, b| a.0.total_cmp(&b.0));
        match (index.ray_pick(o, d), oracle.first()) {
            (None, None) => {}
            (Some(h), Some(&(t, id, tag))) => {
                hits += 1;
                assert!(
                    (h.distance - t).abs() < 1e-3,
                    "ray {o:?} {d:?}: {h:?} vs {oracle:?}"
                );
                // Where two surfaces are within rounding of each other (an edge), either will do.
                let tied = oracle
                    .iter()
                    .filter(|x| x.0 - t < 1e-3)
                    .any(|x| (x.1, Some(x.2)) == (h.id, h.tag));
                assert!(
                    tied || (h.id, h.tag) == (id, Some(tag)),
                    "ray {o:?} {d:?}: {h:?} vs {oracle:?}"
                );
            }
            (got, want) => panic!("ray {o:?} {d:?}: index {got:?}, brute force {want:?}"),
        }
    }
    assert!(hits > 600, "{hits} of 3000 rays hit a house");
}
