//! The stored form of a [`Mesh3`]: compact and lossless. Positions stay f32 (relative to the f64
//! origin) with their bytes regrouped by significance (the sign-and-exponent bytes repeat and
//! compress well); vertex indices are coded against the count of vertices seen so far (a vertex
//! used for the first time costs one zero byte); classes, materials and faces as runs and
//! deltas; then all of it deflated. `cim_meshes.encoding` names the form ([`MESH_ENCODING`]).

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::{Mesh3, SurfaceClass};

/// The name of this encoding, stored beside each blob.
pub const MESH_ENCODING: &str = "cim-mesh-1";

const MAGIC: &[u8; 4] = b"CM3\x01";

/// Why a stored mesh cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MeshCodecError {
    #[error("not a cim mesh (bad header)")]
    BadHeader,
    #[error("the mesh data is cut short or damaged: {0}")]
    Damaged(String),
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// f32 values with their bytes regrouped: all first bytes, then all second bytes…
fn put_planes(out: &mut Vec<u8>, values: &[f32]) {
    let bits: Vec<[u8; 4]> = values.iter().map(|v| v.to_le_bytes()).collect();
    for b in (0..4).rev() {
        out.extend(bits.iter().map(|x| x[b]));
    }
}

/// Encodes `mesh` ([`MESH_ENCODING`]).
pub fn encode_mesh(mesh: &Mesh3) -> Vec<u8> {
    let mut body = Vec::with_capacity(mesh.positions.len() * 12 + mesh.triangles.len() * 4);
    for o in mesh.origin {
        body.extend_from_slice(&o.to_le_bytes());
    }
    put_varint(&mut body, mesh.positions.len() as u64);
    put_varint(&mut body, mesh.triangles.len() as u64);
    for axis in 0..3 {
        let values: Vec<f32> = mesh.positions.iter().map(|p| p[axis]).collect();
        put_planes(&mut body, &values);
    }
    let mut seen = 0u64;
    for t in &mesh.triangles {
        for &v in t {
            let v = u64::from(v);
            // 0: the next new vertex; 1..=seen: the vertex that many before the next new one;
            // a vertex beyond the next new one (not in first-use order): its number + 1, which
            // is then more than `seen` + 1.
            if v == seen {
                put_varint(&mut body, 0);
                seen += 1;
            } else if v < seen {
                put_varint(&mut body, seen - v);
            } else {
                put_varint(&mut body, v + 1);
            }
        }
    }
    let runs = |body: &mut Vec<u8>, values: &mut dyn Iterator<Item = u64>| {
        let mut current: Option<(u64, u64)> = None;
        for v in values {
            match &mut current {
                Some((c, n)) if *c == v => *n += 1,
                _ => {
                    if let Some((c, n)) = current {
                        put_varint(body, c);
                        put_varint(body, n);
                    }
                    current = Some((v, 1));
                }
            }
        }
        if let Some((c, n)) = current {
            put_varint(body, c);
            put_varint(body, n);
        }
    };
    runs(&mut body, &mut mesh.classes.iter().map(|c| *c as u64));
    let mut prev = 0i64;
    for &f in &mesh.faces {
        put_varint(&mut body, zigzag(i64::from(f) - prev));
        prev = i64::from(f);
    }
    let mut flags = 0u8;
    if let Some(uvs) = &mesh.uvs {
        flags |= 1;
        for axis in 0..2 {
            let values: Vec<f32> = uvs.iter().map(|p| p[axis]).collect();
            put_planes(&mut body, &values);
        }
    }
    if let Some(m) = &mesh.materials {
        flags |= 2;
        runs(&mut body, &mut m.iter().map(|&x| u64::from(x)));
    }
    let mut out = MAGIC.to_vec();
    out.push(flags);
    deflate_into(&body, &mut out);
    out
}

thread_local! {
    /// One compressor a thread, reset between meshes (a new one allocates and clears its
    /// tables, which costs more than compressing a small mesh).
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(Compression::fast(), false));
}

/// Raw deflate of `data`, appended to `out`.
fn deflate_into(data: &[u8], out: &mut Vec<u8>) {
    DEFLATE.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        out.reserve(data.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            let status = c.compress_vec(&data[consumed..], out, flate2::FlushCompress::Finish);
            match status {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_) => out.reserve(out.capacity().max(256)),
                Err(_) => {
                    // Not expected of a Vec; fall back to the one-shot encoder.
                    let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
                    let _ = enc.write_all(data);
                    out.extend(enc.finish().unwrap_or_default());
                    break;
                }
            }
        }
    });
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], MeshCodecError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end =
            end.ok_or_else(|| MeshCodecError::Damaged(format!("{n} bytes wanted at byte {}", self.at)))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, MeshCodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes(1)?.first().unwrap_or(&0);
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(MeshCodecError::Damaged("a number runs past 64 bits".into()))
    }

    fn f64(&mut self) -> Result<f64, MeshCodecError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    fn planes(&mut self, n: usize) -> Result<Vec<f32>, MeshCodecError> {
        let planes = self.bytes(
            n.checked_mul(4)
                .ok_or_else(|| MeshCodecError::Damaged("too many values".into()))?,
        )?;
        Ok((0..n)
            .map(|k| {
                let b = [planes[3 * n + k], planes[2 * n + k], planes[n + k], planes[k]];
                f32::from_le_bytes(b)
            })
            .collect())
    }

    fn runs(&mut self, n: usize) -> Result<Vec<u64>, MeshCodecError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let (v, count) = (self.varint()?, self.varint()?);
            if count == 0 || out.len() as u64 + count > n as u64 {
                return Err(MeshCodecError::Damaged(
                    "a run of classes overruns the triangles".into(),
                ));
            }
            out.extend(std::iter::repeat_n(v, count as usize));
        }
        Ok(out)
    }
}

/// Decodes a mesh written by [`encode_mesh`]; damaged data is an error, never a panic.
pub fn decode_mesh(blob: &[u8]) -> Result<Mesh3, MeshCodecError> {
    if blob.len() < 5 || &blob[..4] != MAGIC {
        return Err(MeshCodecError::BadHeader);
    }
    let flags = blob[4];
    let mut body = Vec::new();
    DeflateDecoder::new(&blob[5..])
        .read_to_end(&mut body)
        .map_err(|e| MeshCodecError::Damaged(e.to_string()))?;
    let mut r = Reader { data: &body, at: 0 };
    let origin = [r.f64()?, r.f64()?, r.f64()?];
    let nv = r.varint()?;
    let nt = r.varint()?;
    // Each vertex takes 12 bytes and each triangle at least 3: more than the data holds is damage.
    if nv.saturating_mul(12) > body.len() as u64 || nt.saturating_mul(3) > body.len() as u64 {
        return Err(MeshCodecError::Damaged(format!(
            "{nv} vertices and {nt} triangles in {} bytes",
            body.len()
        )));
    }
    let (nv, nt) = (nv as usize, nt as usize);
    let xs = r.planes(nv)?;
    let ys = r.planes(nv)?;
    let zs = r.planes(nv)?;
    let positions: Vec<[f32; 3]> = (0..nv).map(|k| [xs[k], ys[k], zs[k]]).collect();
    let mut seen = 0u64;
    let mut triangles = Vec::with_capacity(nt);
    for _ in 0..nt {
        let mut t = [0u32; 3];
        for slot in &mut t {
            let code = r.varint()?;
            let v = if code == 0 {
                seen += 1;
                seen - 1
            } else if code <= seen {
                seen - code
            } else {
                code - 1
            };
            if v >= nv as u64 {
                return Err(MeshCodecError::Damaged(format!("vertex {v} of {nv}")));
            }
            *slot = v as u32;
        }
        triangles.push(t);
    }
    let classes = r
        .runs(nt)?
        .into_iter()
        .map(|c| {
            u8::try_from(c)
                .ok()
                .and_then(SurfaceClass::from_code)
                .ok_or_else(|| MeshCodecError::Damaged(format!("unknown surface class {c}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut faces = Vec::with_capacity(nt);
    let mut prev = 0i64;
    for _ in 0..nt {
        prev += unzigzag(r.varint()?);
        faces.push(u32::try_from(prev).map_err(|_| MeshCodecError::Damaged("a bad face number".into()))?);
    }
    let uvs = if flags & 1 != 0 {
        let us = r.planes(nv)?;
        let vs = r.planes(nv)?;
        Some((0..nv).map(|k| [us[k], vs[k]]).collect())
    } else {
        None
    };
    let materials = if flags & 2 != 0 {
        Some(
            r.runs(nt)?
                .into_iter()
                .map(|m| m.min(u64::from(u16::MAX)) as u16)
                .collect(),
        )
    } else {
        None
    };
    Ok(Mesh3 {
        origin,
        positions,
        triangles,
        classes,
        faces,
        uvs,
        materials,
    })
}
