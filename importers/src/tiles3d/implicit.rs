//! Implicit tiling (3D Tiles 1.1, and the 1.0 extension `3DTILES_implicit_tiling`): a quadtree
//! or octree whose tiles, contents and child subtrees are flagged in subtree files, expanded
//! here into explicit tiles with their volumes subdivided and their errors halved a level.

use std::path::Path;

use serde_json::Value;

use super::gltf::Mat4;
use super::tileset::{RawTile, Tree, Volume, MAX_TILES};

/// One availability: all the same, or a bitstream (bit `i` is bit `i % 8` of byte `i / 8`).
#[derive(Clone, Debug, PartialEq)]
pub enum Availability {
    Constant(bool),
    Bits(Vec<u8>),
}

impl Availability {
    pub fn get(&self, i: usize) -> bool {
        match self {
            Availability::Constant(c) => *c,
            Availability::Bits(b) => b.get(i / 8).is_some_and(|byte| byte >> (i % 8) & 1 == 1),
        }
    }
}

/// A subtree file read.
#[derive(Clone, Debug, PartialEq)]
pub struct Subtree {
    pub tiles: Availability,
    pub content: Availability,
    pub children: Availability,
}

/// Reads a subtree (binary `.subtree` or JSON) with `levels` levels of an `arity`-ary tree
/// (4 or 8). Lengths that do not fit the file, or bitstreams too short for the levels, are
/// errors saying which.
pub fn read_subtree(bytes: &[u8], levels: u32, arity: usize, dir: &Path) -> Result<Subtree, String> {
    let (json, bin): (Value, &[u8]) = if bytes.starts_with(b"subt") {
        if bytes.len() < 24 {
            return Err(format!(
                "truncated: {} bytes, shorter than the subtree header",
                bytes.len()
            ));
        }
        let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if version != 1 {
            return Err(format!("subtree version {version} (1 is read)"));
        }
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let (jl, bl) = (u64_at(8), u64_at(16));
        let end = jl.checked_add(bl).and_then(|l| l.checked_add(24));
        if end.is_none_or(|e| e > bytes.len() as u64) {
            return Err(format!(
                "wrong length: its header says 24 + {jl} + {bl} bytes, the file has {}",
                bytes.len()
            ));
        }
        let (jl, bl) = (jl as usize, bl as usize);
        let text = &bytes[24..24 + jl];
        let trimmed = &text[..text
            .iter()
            .rposition(|c| *c != 0 && *c != b' ')
            .map_or(0, |e| e + 1)];
        (
            serde_json::from_slice(trimmed).map_err(|e| format!("its JSON does not read: {e}"))?,
            &bytes[24 + jl..24 + jl + bl],
        )
    } else {
        (
            serde_json::from_slice(bytes).map_err(|e| format!("neither a binary subtree nor JSON: {e}"))?,
            &[],
        )
    };
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    for (k, b) in json
        .get("buffers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let want = b.get("byteLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let data = match b.get("uri").and_then(Value::as_str) {
            Some(uri) => {
                let p = dir.join(super::gltf::percent_decode(uri));
                std::fs::read(&p).map_err(|e| format!("buffer {k}: cannot read {}: {e}", p.display()))?
            }
            None => bin.to_vec(),
        };
        if data.len() < want {
            return Err(format!(
                "wrong length: buffer {k} has {} bytes where {want} are declared",
                data.len()
            ));
        }
        buffers.push(data);
    }
    let views = json
        .get("bufferViews")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let per_level: usize = (0..levels).map(|l| arity.pow(l)).sum();
    let read = |key: &str, v: Option<&Value>, bits: usize| -> Result<Availability, String> {
        let v = v.ok_or_else(|| format!("it has no {key}"))?;
        if let Some(c) = v.get("constant").and_then(Value::as_u64) {
            return Ok(Availability::Constant(c == 1));
        }
        let view = v
            .get("bitstream")
            .or_else(|| v.get("bufferView"))
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("its {key} is neither constant nor a bitstream"))?
            as usize;
        let bv = views
            .get(view)
            .ok_or_else(|| format!("its {key} names bufferView {view}, which does not exist"))?;
        let buf = bv.get("buffer").and_then(Value::as_u64).unwrap_or(0) as usize;
        let off = bv.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let len = bv.get("byteLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let data = buffers
            .get(buf)
            .ok_or_else(|| format!("bufferView {view} names buffer {buf}, which does not exist"))?;
        let end = off.checked_add(len).filter(|e| *e <= data.len()).ok_or_else(|| {
            format!(
                "wrong length: bufferView {view} ({off} + {len}) runs past its buffer of {} bytes",
                data.len()
            )
        })?;
        if len * 8 < bits {
            return Err(format!(
                "wrong length: its {key} has {len} bytes for {bits} tiles"
            ));
        }
        Ok(Availability::Bits(data[off..end].to_vec()))
    };
    let content = json
        .get("contentAvailability")
        .and_then(|c| c.as_array().and_then(|a| a.first()).or(Some(c)))
        .map(|c| read("contentAvailability", Some(c), per_level))
        .transpose()?
        .unwrap_or(Availability::Constant(false));
    Ok(Subtree {
        tiles: read("tileAvailability", json.get("tileAvailability"), per_level)?,
        content,
        children: read(
            "childSubtreeAvailability",
            json.get("childSubtreeAvailability"),
            arity.pow(levels),
        )?,
    })
}

/// Morton index `m` into coordinates (x, y[, z]).
fn demorton(m: usize, dims: usize) -> [u64; 3] {
    let mut c = [0u64; 3];
    for bit in 0..(usize::BITS as usize / dims) {
        for (d, v) in c.iter_mut().enumerate().take(dims) {
            *v |= (((m >> (bit * dims + d)) & 1) as u64) << bit;
        }
    }
    c
}

/// The volume of tile (`level`, x, y, z) of a root volume.
fn subdivide(root: &Volume, level: u32, c: [u64; 3], octree: bool) -> Volume {
    let d = (1u64 << level) as f64;
    match *root {
        Volume::Region([w, s, e, n, lo, hi]) => {
            let (x, y, z) = (c[0] as f64, c[1] as f64, c[2] as f64);
            let (h0, h1) = if octree {
                (lo + (hi - lo) * z / d, lo + (hi - lo) * (z + 1.0) / d)
            } else {
                (lo, hi)
            };
            Volume::Region([
                w + (e - w) * x / d,
                s + (n - s) * y / d,
                w + (e - w) * (x + 1.0) / d,
                s + (n - s) * (y + 1.0) / d,
                h0,
                h1,
            ])
        }
        Volume::Box(b) => {
            let mut out = b;
            let f = |k: u64| (2.0 * k as f64 + 1.0) / d - 1.0;
            let (fx, fy, fz) = (f(c[0]), f(c[1]), if octree { f(c[2]) } else { 0.0 });
            for i in 0..3 {
                out[i] = b[i] + b[3 + i] * fx + b[6 + i] * fy + b[9 + i] * fz;
                out[3 + i] = b[3 + i] / d;
                out[6 + i] = b[6 + i] / d;
                out[9 + i] = if octree { b[9 + i] / d } else { b[9 + i] };
            }
            Volume::Box(out)
        }
        s @ Volume::Sphere(_) => s,
    }
}

fn fill(template: &str, level: u32, c: [u64; 3]) -> String {
    template
        .replace("{level}", &level.to_string())
        .replace("{x}", &c[0].to_string())
        .replace("{y}", &c[1].to_string())
        .replace("{z}", &c[2].to_string())
}

/// Expands an implicit tile (the root of its tree at level 0) into `tree`.
#[allow(clippy::too_many_arguments)]
pub fn expand(
    tree: &mut Tree,
    imp: &Value,
    root: &Volume,
    transform: Mat4,
    error: f64,
    add: bool,
    content: Option<&str>,
    base: &Path,
    file: &Path,
    parent: Option<u32>,
) -> Result<(), String> {
    if matches!(root, Volume::Sphere(_)) {
        return Err("implicit tiling needs a region or box volume, not a sphere".into());
    }
    let octree = match imp.get("subdivisionScheme").and_then(Value::as_str) {
        Some("QUADTREE") => false,
        Some("OCTREE") => true,
        s => return Err(format!("implicit tiling's subdivisionScheme is {s:?}")),
    };
    let (arity, dims) = if octree { (8usize, 3usize) } else { (4, 2) };
    let levels = imp
        .get("subtreeLevels")
        .and_then(Value::as_u64)
        .filter(|l| (1..=16).contains(l))
        .ok_or("implicit tiling's subtreeLevels is not 1–16")? as u32;
    let available = imp
        .get("availableLevels")
        .and_then(Value::as_u64)
        .or_else(|| imp.get("maximumLevel").and_then(Value::as_u64).map(|m| m + 1))
        .filter(|l| (1..=30).contains(l))
        .ok_or("implicit tiling's availableLevels is not 1–30")? as u32;
    let template = imp
        .pointer("/subtrees/uri")
        .and_then(Value::as_str)
        .ok_or("implicit tiling names no subtrees.uri")?;
    let mut ids: std::collections::HashMap<(u32, [u64; 3]), u32> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([(0u32, [0u64; 3])]);
    while let Some((root_level, rc)) = queue.pop_front() {
        let rel = fill(template, root_level, rc);
        let path = base.join(super::gltf::percent_decode(&rel));
        let sub = match std::fs::read(&path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|b| read_subtree(&b, levels, arity, path.parent().unwrap_or(base)))
        {
            Ok(s) => s,
            Err(e) => {
                if root_level == 0 {
                    return Err(format!("subtree {}: {e}", path.display()));
                }
                tree.warnings
                    .push((path, format!("subtree left out with the tiles below it: {e}")));
                continue;
            }
        };
        let mut offset = 0usize;
        for l in 0..levels {
            let level = root_level + l;
            let n = arity.pow(l);
            if level >= available {
                break;
            }
            for m in 0..n {
                if !sub.tiles.get(offset + m) {
                    continue;
                }
                let lc = demorton(m, dims);
                let c = [0, 1, 2].map(|k| (rc[k] << l) + lc[k]);
                let up = if level == 0 {
                    parent
                } else {
                    match ids.get(&(level - 1, c.map(|v| v >> 1))) {
                        Some(p) => Some(*p),
                        None => {
                            tree.warnings.push((
                                file.to_path_buf(),
                                format!(
                                    "implicit tile {level}/{}/{}/{} has no parent tile; left out",
                                    c[0], c[1], c[2]
                                ),
                            ));
                            continue;
                        }
                    }
                };
                if tree.tiles.len() >= MAX_TILES {
                    return Err(format!("it has more than {MAX_TILES} tiles"));
                }
                let id = tree.tiles.len() as u32;
                ids.insert((level, c), id);
                let content = content
                    .filter(|_| sub.content.get(offset + m))
                    .map(|t| base.join(super::gltf::percent_decode(&fill(t, level, c))));
                tree.tiles.push(RawTile {
                    parent: up,
                    volume: subdivide(root, level, c, octree),
                    transform,
                    geometric_error: error / f64::from(1u32 << level.min(31)),
                    add,
                    content,
                });
            }
            offset += n;
        }
        let child_level = root_level + levels;
        if child_level < available {
            for m in 0..arity.pow(levels) {
                if sub.children.get(m) {
                    let lc = demorton(m, dims);
                    queue.push_back((child_level, [0, 1, 2].map(|k| (rc[k] << levels) + lc[k])));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morton_order_interleaves_x_first() {
        assert_eq!(demorton(0b01, 2), [1, 0, 0]);
        assert_eq!(demorton(0b10, 2), [0, 1, 0]);
        assert_eq!(demorton(0b1101, 2), [3, 2, 0]);
        assert_eq!(demorton(0b100, 3), [0, 0, 1]);
    }

    #[test]
    fn a_box_halves_a_level() {
        let root = Volume::Box([0.5, 0.5, 0.1, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.1]);
        let Volume::Box(b) = subdivide(&root, 1, [1, 0, 0], false) else {
            unreachable!()
        };
        assert_eq!(&b[..6], &[0.75, 0.25, 0.1, 0.25, 0.0, 0.0]);
        assert_eq!(b[11], 0.1);
    }
}
