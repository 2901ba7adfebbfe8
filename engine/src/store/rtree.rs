//! Filling a layer's GeoPackage R-tree (an SQLite `rtree` virtual table).
//!
//! Small imports go through the virtual table, row by row. Large ones rebuild the tree
//! bottom-up (sort-tile-recursive packing) and write SQLite's shadow tables directly, as
//! GDAL's bulk loader does: inserting a million rows one at a time rewrites a node per
//! insert and costs several times the rest of the import.
//!
//! Shadow-table format (SQLite `ext/rtree`, 2-D, 32-bit float coordinates):
//! - `<name>_node(nodeno INTEGER PRIMARY KEY, data)`: node 1 is the root. `data` is
//!   `node_size` bytes: a big-endian u16 tree depth (root only, 0 = the root is a leaf), a
//!   big-endian u16 cell count, then cells of 24 bytes: big-endian i64 (row id in a leaf,
//!   child node number otherwise) and big-endian f32 `minx, maxx, miny, maxy`.
//! - `<name>_rowid(rowid INTEGER PRIMARY KEY, nodeno)`: the leaf that holds each row id.
//! - `<name>_parent(nodeno INTEGER PRIMARY KEY, parentnode)`: every non-root node's parent.

use super::schema::q;
use super::SqlContext;
use crate::error::Result;
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::path::Path;

const CELL_BYTES: usize = 24;
/// SQLite's cap on cells per node.
const MAX_CELLS: usize = 51;

/// One R-tree entry: an id and its box `[minx, maxx, miny, maxy]` (the rtree column order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) id: i64,
    pub(crate) b: [f32; 4],
}

/// The largest f32 not above `x`.
pub(crate) fn f32_down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        f.next_down()
    } else {
        f
    }
}

/// The smallest f32 not below `x`.
pub(crate) fn f32_up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f.next_up()
    } else {
        f
    }
}

/// An envelope `[min_x, min_y, max_x, max_y]` as an R-tree box rounded outwards.
pub(crate) fn rtree_box(env: [f64; 4]) -> [f32; 4] {
    [f32_down(env[0]), f32_up(env[2]), f32_down(env[1]), f32_up(env[3])]
}

/// Changes to apply to the R-tree: `Some(box)` inserts or replaces, `None` deletes.
pub(crate) type Pending = Vec<(i64, Option<[f32; 4]>)>;

/// Applies `pending` (in order; the last change of an id wins) to the R-tree `rtree`.
#[cfg(test)]
pub(crate) fn apply(conn: &Connection, path: &Path, rtree: &str, pending: &Pending) -> Result<()> {
    let plan = plan(conn, path, rtree, pending)?;
    let packed = plan.pack(pending);
    plan.write(conn, path, rtree, pending, packed)
}

/// How `pending` goes into a tree: decided, and the database read, on the connection's thread;
/// the packing itself ([`Plan::pack`]) may run on another thread meanwhile.
pub(crate) enum Plan {
    Nothing,
    /// Few changes: through the virtual table, row by row.
    Rows,
    /// Rebuild the whole tree from the existing entries and the changes.
    Bulk {
        existing: Vec<Entry>,
        node_size: usize,
    },
}

/// Nodes level by level, bottom-up (level 0 holds the entries).
pub(crate) struct Packed(Vec<Vec<Node>>);

pub(crate) fn plan(conn: &Connection, path: &Path, rtree: &str, pending: &Pending) -> Result<Plan> {
    if pending.is_empty() {
        return Ok(Plan::Nothing);
    }
    let existing: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {}", q(&format!("{rtree}_rowid"))),
            [],
            |r| r.get(0),
        )
        .ctx(path)?;
    let existing = usize::try_from(existing).unwrap_or(usize::MAX);
    if pending.len() < 2_000 || pending.len() < existing / 4 {
        return Ok(Plan::Rows);
    }
    let mut all = Vec::with_capacity(existing);
    {
        let mut stmt = conn
            .prepare(&format!("SELECT id, minx, maxx, miny, maxy FROM {}", q(rtree)))
            .ctx(path)?;
        let mut rows = stmt.query([]).ctx(path)?;
        while let Some(r) = rows.next().ctx(path)? {
            // The values are f32 widened to f64: narrowing them back is exact.
            let b = [
                r.get::<_, f64>(1).ctx(path)? as f32,
                r.get::<_, f64>(2).ctx(path)? as f32,
                r.get::<_, f64>(3).ctx(path)? as f32,
                r.get::<_, f64>(4).ctx(path)? as f32,
            ];
            all.push(Entry {
                id: r.get(0).ctx(path)?,
                b,
            });
        }
    }
    Ok(Plan::Bulk {
        existing: all,
        node_size: node_size(conn, path, rtree)?,
    })
}

impl Plan {
    /// The packed tree for a bulk plan (pure computation: any thread).
    pub(crate) fn pack(&self, pending: &Pending) -> Option<Packed> {
        let Plan::Bulk { existing, node_size } = self else {
            return None;
        };
        let entries = if existing.is_empty() && pending.windows(2).all(|w| w[0].0 < w[1].0) {
            // A fresh tree from new rows only (fids ascending, so each id once).
            pending
                .iter()
                .filter_map(|&(id, b)| b.map(|b| Entry { id, b }))
                .collect()
        } else {
            let mut all: HashMap<i64, [f32; 4]> = HashMap::with_capacity(existing.len() + pending.len());
            all.extend(existing.iter().map(|e| (e.id, e.b)));
            for (id, b) in pending {
                match b {
                    Some(b) => all.insert(*id, *b),
                    None => all.remove(id),
                };
            }
            all.into_iter().map(|(id, b)| Entry { id, b }).collect()
        };
        Some(pack(entries, cells_per_node(*node_size)))
    }

    /// Writes the changes: row by row, or the packed tree.
    pub(crate) fn write(
        &self,
        conn: &Connection,
        path: &Path,
        rtree: &str,
        pending: &Pending,
        packed: Option<Packed>,
    ) -> Result<()> {
        match (self, packed) {
            (Plan::Nothing, _) => Ok(()),
            (Plan::Bulk { node_size, .. }, Some(p)) => write_packed(conn, path, rtree, *node_size, p),
            _ => apply_rows(conn, path, rtree, pending),
        }
    }
}

fn apply_rows(conn: &Connection, path: &Path, rtree: &str, pending: &Pending) -> Result<()> {
    let r = q(rtree);
    let mut upsert = conn
        .prepare_cached(&format!("INSERT OR REPLACE INTO {r} VALUES (?1, ?2, ?3, ?4, ?5)"))
        .ctx(path)?;
    let mut delete = conn
        .prepare_cached(&format!("DELETE FROM {r} WHERE id = ?1"))
        .ctx(path)?;
    for (id, b) in pending {
        match b {
            Some([a, b, c, d]) => upsert.execute(params![id, a, b, c, d]).ctx(path)?,
            None => delete.execute([id]).ctx(path)?,
        };
    }
    Ok(())
}

/// A node being built: its box and its cells (entries, or child nodes one level down).
pub(crate) struct Node {
    b: [f32; 4],
    cells: Vec<Entry>,
}

fn union(cells: &[Entry]) -> [f32; 4] {
    cells.iter().fold(
        [f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY],
        |u, e| {
            [
                u[0].min(e.b[0]),
                u[1].max(e.b[1]),
                u[2].min(e.b[2]),
                u[3].max(e.b[3]),
            ]
        },
    )
}

fn centre(b: &[f32; 4], axis: usize) -> f32 {
    let (lo, hi) = if axis == 0 { (b[0], b[1]) } else { (b[2], b[3]) };
    lo * 0.5 + hi * 0.5
}

/// Sort-tile-recursive packing of `items` into groups of at most `m`, in tile order.
fn str_pack(mut items: Vec<Entry>, m: usize) -> Vec<Vec<Entry>> {
    let n = items.len();
    let groups = n.div_ceil(m);
    let slabs = (groups as f64).sqrt().ceil().max(1.0) as usize;
    let per_slab = n.div_ceil(slabs).div_ceil(m) * m;
    items.sort_by(|a, b| centre(&a.b, 0).total_cmp(&centre(&b.b, 0)).then(a.id.cmp(&b.id)));
    let mut out = Vec::with_capacity(groups);
    for slab in items.chunks_mut(per_slab.max(1)) {
        slab.sort_by(|a, b| centre(&a.b, 1).total_cmp(&centre(&b.b, 1)).then(a.id.cmp(&b.id)));
        out.extend(slab.chunks(m).map(<[Entry]>::to_vec));
    }
    out
}

/// The node size the tree was created with (it follows the page size).
fn node_size(conn: &Connection, path: &Path, rtree: &str) -> Result<usize> {
    let node_size: i64 = conn
        .query_row(
            &format!(
                "SELECT length(data) FROM {} WHERE nodeno = 1",
                q(&format!("{rtree}_node"))
            ),
            [],
            |r| r.get(0),
        )
        .ctx(path)?;
    Ok(usize::try_from(node_size).unwrap_or(0).max(4 + CELL_BYTES))
}

fn cells_per_node(node_size: usize) -> usize {
    ((node_size - 4) / CELL_BYTES).clamp(2, MAX_CELLS)
}

/// Replaces the whole tree with one packed from `entries`.
#[cfg(test)]
fn bulk_load(conn: &Connection, path: &Path, rtree: &str, entries: Vec<Entry>) -> Result<()> {
    let node_size = node_size(conn, path, rtree)?;
    let packed = pack(entries, cells_per_node(node_size));
    write_packed(conn, path, rtree, node_size, packed)
}

/// Packs `entries` into a tree of nodes of at most `m` cells.
fn pack(entries: Vec<Entry>, m: usize) -> Packed {
    // Levels bottom-up; level 0 holds the entries.
    let mut levels: Vec<Vec<Node>> = Vec::new();
    let mut items = entries;
    loop {
        let mut nodes: Vec<Node> = str_pack(items, m)
            .into_iter()
            .map(|cells| Node {
                b: union(&cells),
                cells,
            })
            .collect();
        if nodes.is_empty() {
            // An empty tree still has its root.
            nodes.push(Node {
                b: union(&[]),
                cells: Vec::new(),
            });
        }
        if nodes.len() <= 1 {
            levels.push(nodes);
            break;
        }
        // Children are numbered later; for now a cell's id is the child's index in its level.
        items = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Entry { id: i as i64, b: n.b })
            .collect();
        levels.push(nodes);
    }
    Packed(levels)
}

/// Replaces the tree's shadow tables with `packed`.
fn write_packed(conn: &Connection, path: &Path, rtree: &str, node_size: usize, packed: Packed) -> Result<()> {
    let (node_t, rowid_t, parent_t) = (
        q(&format!("{rtree}_node")),
        q(&format!("{rtree}_rowid")),
        q(&format!("{rtree}_parent")),
    );
    conn.execute_batch(&format!(
        "DELETE FROM {node_t}; DELETE FROM {rowid_t}; DELETE FROM {parent_t};"
    ))
    .ctx(path)?;
    let levels = packed.0;
    let depth = levels.len() - 1;

    // Number nodes top-down: the root is 1, then level by level.
    let mut numbers: Vec<Vec<i64>> = vec![Vec::new(); levels.len()];
    let mut next = 1i64;
    for (li, level) in levels.iter().enumerate().rev() {
        numbers[li] = (next..next + level.len() as i64).collect();
        next += level.len() as i64;
    }
    let mut write_node = conn
        .prepare(&format!("INSERT INTO {node_t} (nodeno, data) VALUES (?1, ?2)"))
        .ctx(path)?;
    let mut write_parent = conn
        .prepare(&format!(
            "INSERT INTO {parent_t} (nodeno, parentnode) VALUES (?1, ?2)"
        ))
        .ctx(path)?;
    let mut leaf_of: Vec<(i64, i64)> = Vec::new();
    let mut data = vec![0u8; node_size];
    for (li, level) in levels.iter().enumerate() {
        for (i, node) in level.iter().enumerate() {
            let nodeno = numbers[li][i];
            data.fill(0);
            if nodeno == 1 {
                data[0..2].copy_from_slice(&(depth as u16).to_be_bytes());
            }
            data[2..4].copy_from_slice(&(node.cells.len() as u16).to_be_bytes());
            for (ci, cell) in node.cells.iter().enumerate() {
                let id = if li == 0 {
                    leaf_of.push((cell.id, nodeno));
                    cell.id
                } else {
                    // Index into the level below (set when that level was packed).
                    let child = usize::try_from(cell.id).unwrap_or(0);
                    write_parent
                        .execute(params![numbers[li - 1][child], nodeno])
                        .ctx(path)?;
                    numbers[li - 1][child]
                };
                let at = 4 + ci * CELL_BYTES;
                data[at..at + 8].copy_from_slice(&id.to_be_bytes());
                for (k, v) in cell.b.iter().enumerate() {
                    let o = at + 8 + 4 * k;
                    data[o..o + 4].copy_from_slice(&v.to_bits().to_be_bytes());
                }
            }
            write_node.execute(params![nodeno, &data[..]]).ctx(path)?;
        }
    }
    // In rowid order, so the inserts append.
    leaf_of.sort_unstable();
    let mut write_rowid = conn
        .prepare(&format!("INSERT INTO {rowid_t} (rowid, nodeno) VALUES (?1, ?2)"))
        .ctx(path)?;
    for (id, nodeno) in leaf_of {
        write_rowid.execute([id, nodeno]).ctx(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn rounding_is_outward() {
        for x in [0.1f64, -0.1, 4_400_000.123, -3.3e7, 1e-40, 0.0, 500_000.0] {
            assert!(f64::from(f32_down(x)) <= x && f64::from(f32_up(x)) >= x, "{x}");
            assert!(f32_up(x) - f32_down(x) <= f32_up(x).abs() * 2.0 * f32::EPSILON + f32::MIN_POSITIVE);
        }
    }

    fn tree_with(n: usize, seed: u64) -> (Connection, Vec<Entry>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
            .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let entries: Vec<Entry> = (0..n)
            .map(|i| {
                let (x, y) = (rng.random_range(0.0..1e4), rng.random_range(0.0..1e4));
                Entry {
                    id: i as i64 * 3 + 1,
                    b: rtree_box([
                        x,
                        y,
                        x + rng.random_range(0.0..50.0),
                        y + rng.random_range(0.0..50.0),
                    ]),
                }
            })
            .collect();
        let pending: Pending = entries.iter().map(|e| (e.id, Some(e.b))).collect();
        apply(&conn, Path::new(":memory:"), "r", &pending).unwrap();
        (conn, entries)
    }

    fn check(conn: &Connection, entries: &[Entry]) {
        let ok: String = conn
            .query_row("SELECT rtreecheck('r')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM r", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, entries.len());
        let (a, b, c, d) = (2000.0f32, 2500.0f32, 7000.0f32, 7300.0f32);
        let mut want: Vec<i64> = entries
            .iter()
            .filter(|e| e.b[0] <= b && e.b[1] >= a && e.b[2] <= d && e.b[3] >= c)
            .map(|e| e.id)
            .collect();
        want.sort();
        let mut stmt = conn
            .prepare(
                "SELECT id FROM r WHERE minx <= ?2 AND maxx >= ?1 AND miny <= ?4 AND maxy >= ?3 ORDER BY id",
            )
            .unwrap();
        let got: Vec<i64> = stmt
            .query_map(params![a, b, c, d], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn bulk_loaded_trees_pass_rtreecheck_and_answer_queries() {
        for n in [0usize, 1, 51, 52, 2_000, 2_601, 30_000] {
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
                .unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
            let entries: Vec<Entry> = (0..n)
                .map(|i| {
                    let (x, y) = (rng.random_range(0.0..1e4), rng.random_range(0.0..1e4));
                    Entry {
                        id: i as i64 + 10,
                        b: rtree_box([x, y, x + 30.0, y + 10.0]),
                    }
                })
                .collect();
            bulk_load(&conn, Path::new(":memory:"), "r", entries.clone()).unwrap();
            check(&conn, &entries);
            // The virtual table keeps working on a bulk-loaded tree.
            conn.execute("INSERT INTO r VALUES (1, 2100, 2200, 7100, 7200)", [])
                .unwrap();
            conn.execute("DELETE FROM r WHERE id = 10", []).unwrap();
            let mut after: Vec<Entry> = entries.into_iter().filter(|e| e.id != 10).collect();
            after.push(Entry {
                id: 1,
                b: [2100.0, 2200.0, 7100.0, 7200.0],
            });
            check(&conn, &after);
        }
    }

    #[test]
    fn apply_merges_changes_into_an_existing_tree() {
        let (conn, mut entries) = tree_with(5_000, 9);
        check(&conn, &entries);
        // Move half of them, delete a few, add many: the bulk path.
        let mut pending: Pending = Vec::new();
        for e in entries.iter_mut().step_by(2) {
            e.b = rtree_box([2200.0, 7100.0, 2210.0, 7110.0]);
            pending.push((e.id, Some(e.b)));
        }
        for e in entries.iter().skip(1).step_by(97) {
            pending.push((e.id, None));
        }
        let gone: Vec<i64> = pending.iter().filter(|p| p.1.is_none()).map(|p| p.0).collect();
        entries.retain(|e| !gone.contains(&e.id));
        for i in 0..3_000 {
            let e = Entry {
                id: 100_000 + i,
                b: rtree_box([i as f64, 7000.0, i as f64 + 1.0, 7001.0]),
            };
            pending.push((e.id, Some(e.b)));
            entries.push(e);
        }
        apply(&conn, Path::new(":memory:"), "r", &pending).unwrap();
        check(&conn, &entries);
    }
}
