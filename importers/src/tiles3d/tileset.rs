//! The tile tree of a `tileset.json` (3D Tiles 1.0 and 1.1): transforms multiplied down the
//! tree, bounding volumes (region, box, sphere), refinement inherited, external tilesets
//! followed (their root a child of the tile naming them), implicit tiling expanded from its
//! subtree files. Problems that leave the rest usable (a content file missing, a subtree that
//! does not read) are warnings naming the file; the tree itself not reading is an error.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::gltf::{mul, Mat4, IDENTITY};

/// A bounding volume as the tileset states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Volume {
    /// West, south, east, north (radians), minimum and maximum height (m above the ellipsoid).
    Region([f64; 6]),
    /// Centre and three half axes, in the tile's coordinates.
    Box([f64; 12]),
    /// Centre and radius, in the tile's coordinates.
    Sphere([f64; 4]),
}

/// One tile as read.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTile {
    pub parent: Option<u32>,
    pub volume: Volume,
    /// From the tile's coordinates into the root's frame (ECEF for georeferenced data).
    pub transform: Mat4,
    pub geometric_error: f64,
    pub add: bool,
    /// The content file (absolute, or as named under the tileset's folder).
    pub content: Option<PathBuf>,
}

/// A tileset's tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tree {
    pub version: String,
    pub tiles: Vec<RawTile>,
    /// (file, reason) of what was left out.
    pub warnings: Vec<(PathBuf, String)>,
}

/// Most tiles a tileset may expand to (implicit tiling with constant availability can claim
/// billions).
pub const MAX_TILES: usize = 5_000_000;

fn nums(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

fn volume(v: Option<&Value>) -> Result<Volume, String> {
    let v = v.ok_or("it has no boundingVolume")?;
    if let Some(r) = v.get("region").and_then(nums) {
        if r.len() == 6 {
            return Ok(Volume::Region([r[0], r[1], r[2], r[3], r[4], r[5]]));
        }
    }
    if let Some(b) = v.get("box").and_then(nums) {
        if b.len() == 12 {
            let mut a = [0.0; 12];
            a.copy_from_slice(&b);
            return Ok(Volume::Box(a));
        }
    }
    if let Some(s) = v.get("sphere").and_then(nums) {
        if s.len() == 4 {
            return Ok(Volume::Sphere([s[0], s[1], s[2], s[3]]));
        }
    }
    // 1.1 extensions (S2 cells, …) are not read.
    Err(format!("its boundingVolume {v} is none of region, box or sphere"))
}

/// Reads the tileset at `path` and everything it leads to.
pub fn read_tree(path: &Path) -> Result<Tree, String> {
    let mut tree = Tree::default();
    let mut stack = vec![canonical(path)];
    let json = read_json(path)?;
    tree.version = json
        .pointer("/asset/version")
        .and_then(Value::as_str)
        .ok_or("it has no asset.version (not a 3D Tiles tileset)")?
        .to_string();
    let root = json.get("root").ok_or("it has no root tile")?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    walk(&mut tree, root, None, IDENTITY, false, &base, path, &mut stack, 0)?;
    Ok(tree)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("its JSON does not read: {e}"))
}

/// A content URI as a path under `base` (query and fragment dropped, %-escapes decoded);
/// `None` for one on the network.
fn resolve(base: &Path, uri: &str) -> Option<PathBuf> {
    if uri.contains("://") {
        return None;
    }
    let plain = uri.split(['?', '#']).next().unwrap_or_default();
    Some(base.join(super::gltf::percent_decode(plain)))
}

#[allow(clippy::too_many_arguments)]
fn walk(
    tree: &mut Tree,
    tile: &Value,
    parent: Option<u32>,
    parent_transform: Mat4,
    parent_add: bool,
    base: &Path,
    file: &Path,
    stack: &mut Vec<PathBuf>,
    depth: u32,
) -> Result<(), String> {
    if depth > 256 {
        return Err("its tiles nest more than 256 deep".into());
    }
    if tree.tiles.len() >= MAX_TILES {
        return Err(format!("it has more than {MAX_TILES} tiles"));
    }
    let id = tree.tiles.len() as u32;
    let here = format!("tile {id}");
    let transform = match tile.get("transform").and_then(nums) {
        Some(m) if m.len() == 16 => {
            let mut a = [0.0; 16];
            a.copy_from_slice(&m);
            mul(&parent_transform, &a)
        }
        _ => parent_transform,
    };
    let vol = volume(tile.get("boundingVolume")).map_err(|e| format!("{here}: {e}"))?;
    let add = match tile.get("refine").and_then(Value::as_str) {
        Some(r) => r.eq_ignore_ascii_case("ADD"),
        None => parent_add,
    };
    let error = tile
        .get("geometricError")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .max(0.0);
    // 1.1 `contents` (several) or `content`; 1.0 `content.url` in old files.
    let mut uris: Vec<String> = Vec::new();
    if let Some(c) = tile.get("content") {
        if let Some(u) = c.get("uri").or_else(|| c.get("url")).and_then(Value::as_str) {
            uris.push(u.to_string());
        }
    }
    for c in tile
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(u) = c.get("uri").and_then(Value::as_str) {
            uris.push(u.to_string());
        }
    }
    let implicit = tile
        .get("implicitTiling")
        .or_else(|| tile.pointer("/extensions/3DTILES_implicit_tiling"));
    if let Some(imp) = implicit {
        return super::implicit::expand(
            tree,
            imp,
            &vol,
            transform,
            error,
            add,
            uris.first().map(String::as_str),
            base,
            file,
            parent,
        );
    }
    tree.tiles.push(RawTile {
        parent,
        volume: vol,
        transform,
        geometric_error: error,
        add,
        content: None,
    });
    let mut externals = Vec::new();
    for (k, uri) in uris.iter().enumerate() {
        let Some(path) = resolve(base, uri) else {
            tree.warnings.push((
                file.to_path_buf(),
                format!("{here}: content '{uri}' is on the network; cim reads local files only"),
            ));
            continue;
        };
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            externals.push(path);
        } else if k == 0 || tree.tiles[id as usize].content.is_none() {
            tree.tiles[id as usize].content = Some(path);
        } else {
            tree.warnings.push((
                file.to_path_buf(),
                format!("{here}: content '{uri}' left out: cim keeps one content a tile"),
            ));
        }
    }
    for ext in externals {
        let c = canonical(&ext);
        if stack.contains(&c) {
            tree.warnings.push((
                ext.clone(),
                format!("{here}: the external tileset refers back to itself; left out"),
            ));
            continue;
        }
        match read_json(&ext) {
            Ok(json) => {
                let Some(root) = json.get("root") else {
                    tree.warnings
                        .push((ext, "an external tileset without a root; left out".into()));
                    continue;
                };
                stack.push(c);
                let sub_base = ext.parent().unwrap_or(Path::new(".")).to_path_buf();
                walk(
                    tree,
                    root,
                    Some(id),
                    transform,
                    add,
                    &sub_base,
                    &ext,
                    stack,
                    depth + 1,
                )
                .map_err(|e| format!("{}: {e}", ext.display()))?;
                stack.pop();
            }
            Err(e) => tree
                .warnings
                .push((ext, format!("external tileset left out: {e}"))),
        }
    }
    for child in tile
        .get("children")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(
            tree,
            child,
            Some(id),
            transform,
            add,
            base,
            file,
            stack,
            depth + 1,
        )?;
    }
    Ok(())
}
