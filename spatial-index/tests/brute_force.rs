//! Every range and nearest query checked against a scan of all items, on seeded random data.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use cim_spatial_index::{Aabb3, Item, ItemId, Shape, SpatialIndex};
use common::*;
use geo::Intersects;
use rand::Rng;

const N: usize = 3000;

fn brute_knn(items: &[Item], xy: [f64; 2], k: usize) -> Vec<(ItemId, f64)> {
    let mut all: Vec<(ItemId, f64)> = items
        .iter()
        .filter(|it| it.shape.bounds().is_some())
        .map(|it| (it.id, brute_distance(&it.shape, xy)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

/// Same ids in the same order and distances equal to rounding (box distances are computed by
/// a different formula in the oracle).
#[track_caller]
fn assert_knn_eq(got: Vec<(ItemId, f64)>, want: Vec<(ItemId, f64)>) {
    let ids = |v: &[(ItemId, f64)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(ids(&got), ids(&want), "got {got:?}\nwant {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!((g.1 - w.1).abs() <= 1e-9 * (1.0 + w.1), "{g:?} vs {w:?}");
    }
}

fn random_polygon(rng: &mut rand_chacha::ChaCha8Rng) -> geo::Polygon<f64> {
    // A star-ish polygon (often concave) around a random centre, sometimes with a hole.
    let c = random_point(rng);
    let r = rng.random_range(5.0..150.0);
    let n = rng.random_range(3..9);
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let ri = r * rng.random_range(0.3..1.0);
            (c[0] + ri * a.cos(), c[1] + ri * a.sin())
        })
        .collect();
    let holes = if rng.random_bool(0.3) {
        let h = 0.2 * r;
        vec![vec![
            (c[0] - h, c[1] - h),
            (c[0] + h, c[1] - h),
            (c[0] + h, c[1] + h),
            (c[0] - h, c[1] + h),
        ]
        .into()]
    } else {
        vec![]
    };
    geo::Polygon::new(pts.into(), holes)
}

#[test]
fn window_2d_matches_brute_force() {
    let items = items(N, 1);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(11);
    let mut total = 0;
    for _ in 0..300 {
        let (min, max) = query_rect(&mut rng, 120.0);
        let want = brute_window_2d(&items, min, max);
        total += want.len();
        assert_eq!(index.window_2d(min, max), want, "window {min:?} {max:?}");
        let mut unsorted = Vec::new();
        index.for_each_in_window_2d(min, max, |id| unsorted.push(id));
        assert_eq!(sorted(unsorted), want);
    }
    assert!(total > 1000, "queries should hit things: {total}");
}

#[test]
fn window_3d_matches_brute_force() {
    let items = items(N, 2);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(12);
    for _ in 0..300 {
        let (min, max) = query_rect(&mut rng, 150.0);
        let z0 = rng.random_range(-10.0..110.0);
        let q = Aabb3::new(
            [min[0], min[1], z0],
            [max[0], max[1], z0 + rng.random_range(0.0..40.0)],
        );
        assert_eq!(index.window(&q), brute_window(&items, &q), "window {q:?}");
    }
}

#[test]
fn polygon_intersection_matches_brute_force() {
    let items = items(N, 3);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(13);
    let mut filtered_out = 0;
    for _ in 0..200 {
        let poly = random_polygon(&mut rng);
        let want: Vec<ItemId> = sorted(
            items
                .iter()
                .filter(|it| {
                    it.shape.bounds().is_some()
                        && match &it.shape {
                            Shape::Prism { footprint, .. } => footprint.intersects(&poly),
                            Shape::Line { line, .. } => line.intersects(&poly),
                            Shape::Point { xyz } => geo::Point::new(xyz[0], xyz[1]).intersects(&poly),
                            Shape::Box(b) => geo::Rect::new((b.min[0], b.min[1]), (b.max[0], b.max[1]))
                                .to_polygon()
                                .intersects(&poly),
                            Shape::Mesh(m) => m.triangles().any(|(c, _)| {
                                geo::Polygon::new(c.iter().map(|p| (p[0], p[1])).collect(), vec![])
                                    .intersects(&poly)
                            }),
                        }
                })
                .map(|it| it.id)
                .collect(),
        );
        let rect = geo::BoundingRect::bounding_rect(&poly).unwrap();
        filtered_out += brute_window_2d(&items, [rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
            .len()
            - want.len();
        assert_eq!(index.intersecting_polygon(&poly), want);
    }
    assert!(
        filtered_out > 50,
        "the exact test should reject box-only candidates: {filtered_out}"
    );
}

#[test]
fn within_distance_matches_brute_force() {
    let items = items(N, 4);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(14);
    for _ in 0..300 {
        let xy = random_point(&mut rng);
        let r = rng.random_range(0.0..80.0);
        let want: Vec<ItemId> = sorted(
            items
                .iter()
                .filter(|it| it.shape.bounds().is_some() && brute_distance(&it.shape, xy) <= r)
                .map(|it| it.id)
                .collect(),
        );
        assert_eq!(index.within_distance_2d(xy, r), want, "at {xy:?} r {r}");
    }
}

#[test]
fn knn_matches_brute_force() {
    let items = items(N, 5);
    let index = SpatialIndex::bulk_load(items.clone());
    let mut rng = rng(15);
    for i in 0..300 {
        // Some queries from outside the region, where everything is far.
        let mut xy = random_point(&mut rng);
        if i % 10 == 0 {
            xy[0] -= 3000.0;
        }
        let k = [1, 2, 5, 10, 50][i % 5];
        assert_knn_eq(index.nearest_2d(xy, k), brute_knn(&items, xy, k));
    }
    // k = everything: the whole index, sorted by distance.
    let xy = random_point(&mut rng);
    assert_knn_eq(index.nearest_2d(xy, N), brute_knn(&items, xy, N));
    // k beyond the number of items returns all indexed ones.
    let small = SpatialIndex::bulk_load(items[..7].to_vec());
    assert_knn_eq(small.nearest_2d(ORIGIN, 100), brute_knn(&items[..7], ORIGIN, 100));
}

#[test]
fn knn_ties_on_a_grid_break_by_id() {
    // Unit grid of points, query at a cell centre: four at exactly the same distance.
    let items: Vec<Item> = (0..400u64)
        .map(|i| {
            Item::new(
                1000 - i,
                Shape::Point {
                    xyz: [(i % 20) as f64, (i / 20) as f64, 0.0],
                },
            )
        })
        .collect();
    let index = SpatialIndex::bulk_load(items.clone());
    for k in 1..=12 {
        assert_knn_eq(index.nearest_2d([7.5, 7.5], k), brute_knn(&items, [7.5, 7.5], k));
    }
}

#[test]
fn insert_and_remove_then_queries_match_brute_force() {
    let initial = items(800, 6);
    let mut index = SpatialIndex::bulk_load(initial.clone());
    let mut model: BTreeMap<ItemId, Shape> = initial.into_iter().map(|it| (it.id, it.shape)).collect();
    let mut rng = rng(16);
    for step in 0..3000 {
        match rng.random_range(0..3) {
            // Insert a fresh id or replace an existing one.
            0 | 1 => {
                let id = if rng.random_bool(0.2) && !model.is_empty() {
                    *model.keys().nth(rng.random_range(0..model.len())).unwrap()
                } else {
                    rng.random_range(0..5_000_000)
                };
                let shape = common::shape(&mut rng);
                index.insert(Item::new(id, shape.clone()));
                model.insert(id, shape);
            }
            _ => {
                let id = if rng.random_bool(0.9) && !model.is_empty() {
                    *model.keys().nth(rng.random_range(0..model.len())).unwrap()
                } else {
                    rng.random_range(0..5_000_000)
                };
                assert_eq!(index.remove(id), model.remove(&id).is_some(), "remove {id}");
            }
        }
        assert_eq!(index.len(), model.len());
        if step % 100 == 99 {
            let now: Vec<Item> = model.iter().map(|(&id, s)| Item::new(id, s.clone())).collect();
            for _ in 0..20 {
                let (min, max) = query_rect(&mut rng, 200.0);
                assert_eq!(index.window_2d(min, max), brute_window_2d(&now, min, max));
                let xy = random_point(&mut rng);
                assert_knn_eq(index.nearest_2d(xy, 5), brute_knn(&now, xy, 5));
            }
            for (id, s) in model.iter().take(50) {
                assert_eq!(index.get(*id), Some(s));
            }
        }
    }
    // Remove everything: the index is empty and finds nothing.
    let ids: Vec<ItemId> = model.keys().copied().collect();
    for id in ids {
        assert!(index.remove(id));
    }
    assert!(index.is_empty());
    assert!(index.window_2d([-1e12; 2], [1e12; 2]).is_empty());
    assert!(index.nearest_2d(ORIGIN, 3).is_empty());
    assert!(index
        .ray_pick([ORIGIN[0], ORIGIN[1], 100.0], [0.0, 0.0, -1.0])
        .is_none());
}

#[test]
fn bulk_load_and_inserts_give_the_same_answers() {
    let items = items(1500, 7);
    let bulk = SpatialIndex::bulk_load(items.clone());
    let mut one_by_one = SpatialIndex::new();
    for it in items {
        one_by_one.insert(it);
    }
    let mut rng = rng(17);
    for _ in 0..100 {
        let (min, max) = query_rect(&mut rng, 150.0);
        assert_eq!(bulk.window_2d(min, max), one_by_one.window_2d(min, max));
    }
}
