//! The packed tree plus the rstar tree for later changes, and the repack between them: bulk
//! load, then inserts, removes and replacements (past the repack threshold), then every query
//! checked against a scan of the live items.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use cim_spatial_index::{Aabb3, Item, ItemId, Shape, SpatialIndex};
use common::*;
use rand::Rng;

fn brute_polygon(items: &[Item], poly: &geo::Polygon<f64>) -> Vec<ItemId> {
    sorted(
        items
            .iter()
            .filter(|it| it.shape.bounds().is_some() && it.shape.intersects_polygon(poly))
            .map(|it| it.id)
            .collect(),
    )
}

fn brute_ray(items: &[Item], o: [f64; 3], d: [f64; 3]) -> Option<(ItemId, f64)> {
    items
        .iter()
        .filter(|it| it.shape.bounds().is_some())
        .filter_map(|it| it.shape.ray_hit(o, d).map(|h| (it.id, h.distance)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
}

fn brute_knn(items: &[Item], xy: [f64; 2], k: usize) -> Vec<ItemId> {
    let mut all: Vec<(ItemId, f64)> = items
        .iter()
        .filter(|it| it.shape.bounds().is_some())
        .map(|it| (it.id, it.shape.distance_2d(xy)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.into_iter().take(k).map(|p| p.0).collect()
}

#[track_caller]
fn check_all_queries(
    index: &SpatialIndex,
    model: &BTreeMap<ItemId, Shape>,
    rng: &mut rand_chacha::ChaCha8Rng,
) {
    let now: Vec<Item> = model.iter().map(|(&id, s)| Item::new(id, s.clone())).collect();
    assert_eq!(index.len(), now.len());
    for _ in 0..30 {
        let (min, max) = query_rect(rng, 150.0);
        let want = brute_window_2d(&now, min, max);
        assert_eq!(index.window_2d(min, max), want);
        let mut unsorted = Vec::new();
        index.for_each_in_window_2d(min, max, |id| unsorted.push(id));
        assert_eq!(sorted(unsorted), want);
        let z0 = rng.random_range(-10.0..110.0);
        let q = Aabb3::new(
            [min[0], min[1], z0],
            [max[0], max[1], z0 + rng.random_range(0.0..40.0)],
        );
        assert_eq!(index.window(&q), brute_window(&now, &q));
        let (c, r) = (min, rng.random_range(0.0..60.0));
        let poly = geo::Polygon::new(
            vec![(c[0], c[1]), (c[0] + r, c[1]), (c[0], c[1] + r)].into(),
            vec![],
        );
        assert_eq!(index.intersecting_polygon(&poly), brute_polygon(&now, &poly));
        let want_d: Vec<ItemId> = sorted(
            now.iter()
                .filter(|it| it.shape.bounds().is_some() && it.shape.distance_2d(max) <= r)
                .map(|it| it.id)
                .collect(),
        );
        assert_eq!(index.within_distance_2d(max, r), want_d);
        let k = rng.random_range(1..12);
        let got: Vec<ItemId> = index.nearest_2d(min, k).into_iter().map(|p| p.0).collect();
        assert_eq!(got, brute_knn(&now, min, k));
        let o = [min[0], min[1], rng.random_range(20.0..200.0)];
        let d = [
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            -rng.random_range(0.1..1.0),
        ];
        let got = index.ray_pick(o, d).map(|h| (h.id, h.distance));
        assert_eq!(got, brute_ray(&now, o, d), "ray {o:?} {d:?}");
    }
    let inf = f64::INFINITY;
    assert_eq!(
        index.window_2d([-inf; 2], [inf; 2]),
        brute_window_2d(&now, [-inf; 2], [inf; 2])
    );
    for (id, s) in model.iter().step_by(37) {
        // Debug text, since a NaN shape is not equal to itself.
        assert_eq!(format!("{:?}", index.get(*id)), format!("{:?}", Some(s)));
    }
}

#[test]
fn bulk_load_then_changes_then_every_query_matches_brute_force() {
    let initial = items(3000, 21);
    let mut index = SpatialIndex::bulk_load(initial.clone());
    let mut model: BTreeMap<ItemId, Shape> = initial.into_iter().map(|it| (it.id, it.shape)).collect();
    let mut rng = rng(22);
    check_all_queries(&index, &model, &mut rng);
    // 2500 changes: more than the 1024 at which the index repacks, so the queries below see
    // a packed tree with tombstones and an rstar tree beside it, before and after a repack.
    for step in 0..2500 {
        let existing = *model.keys().nth(rng.random_range(0..model.len())).unwrap();
        match rng.random_range(0..4) {
            0 => {
                let id = rng.random_range(0..5_000_000);
                let shape = common::shape(&mut rng);
                index.insert(Item::new(id, shape.clone()));
                model.insert(id, shape);
            }
            1 => {
                // Replace a (probably bulk-loaded) item, sometimes by one without bounds.
                let shape = if rng.random_bool(0.05) {
                    Shape::Point {
                        xyz: [f64::NAN, 0.0, 0.0],
                    }
                } else {
                    common::shape(&mut rng)
                };
                index.insert(Item::new(existing, shape.clone()));
                model.insert(existing, shape);
            }
            _ => {
                assert!(index.remove(existing));
                model.remove(&existing);
            }
        }
        if step % 250 == 0 {
            check_all_queries(&index, &model, &mut rng);
        }
    }
    check_all_queries(&index, &model, &mut rng);
    // Removing and re-adding the same id in a freed packed slot.
    let id = *model.keys().next().unwrap();
    let shape = model[&id].clone();
    assert!(index.remove(id));
    index.insert(Item::new(id, shape.clone()));
    assert!(index.remove(id));
    assert!(!index.remove(id));
    index.insert(Item::new(id, shape));
    check_all_queries(&index, &model, &mut rng);
}

#[test]
fn small_packed_tree_of_one_chunk() {
    // At most 16 items: the packed tree is a single chunk of items, no node level.
    let initial = items(13, 23);
    let mut index = SpatialIndex::bulk_load(initial.clone());
    let mut model: BTreeMap<ItemId, Shape> = initial.into_iter().map(|it| (it.id, it.shape)).collect();
    let mut rng = rng(24);
    check_all_queries(&index, &model, &mut rng);
    let id = *model.keys().nth(3).unwrap();
    assert!(index.remove(id));
    model.remove(&id);
    check_all_queries(&index, &model, &mut rng);
}
