//! Texture images of the features' 3-D geometry, kept as delivered (JPEG, PNG…): `cim_textures`,
//! one row an image, shared by every mesh whose [`crate::mesh::Paint::Texture`] names its id.
//! An image imported twice (the same bytes) is stored once.

use rusqlite::{params, OptionalExtension};

use super::{ImportTx, Project, SqlContext};
use crate::error::Result;

const TEXTURE_TABLE: &str = "
CREATE TABLE IF NOT EXISTS cim_textures (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, mime TEXT NOT NULL,
  hash TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS cim_textures_hash ON cim_textures (hash, size);";

/// A stored texture image.
#[derive(Clone, Debug, PartialEq)]
pub struct Texture {
    pub id: i64,
    /// Its file name in the source (`53392633_bldg_6697_appearance/hnap0669.jpg`).
    pub name: String,
    /// `image/jpeg`, `image/png`…
    pub mime: String,
    pub data: Vec<u8>,
}

/// FNV-1a, 64 bits: stable across builds, enough to find candidates that are then compared.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The MIME type of an image, from its first bytes (else from its name).
pub fn image_mime(name: &str, data: &[u8]) -> String {
    let lower = name.to_lowercase();
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg".into()
    } else if data.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png".into()
    } else if data.starts_with(&[0xab, b'K', b'T', b'X']) {
        "image/ktx2".into()
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg".into()
    } else if lower.ends_with(".png") {
        "image/png".into()
    } else {
        "application/octet-stream".into()
    }
}

impl ImportTx<'_> {
    /// Stores a texture image (once for the same bytes) and returns its id.
    pub fn put_texture(&mut self, name: &str, data: &[u8]) -> Result<i64> {
        let path = self.path().to_path_buf();
        let tx = self.connection();
        tx.execute_batch(TEXTURE_TABLE).ctx(&path)?;
        let hash = fnv(data);
        let mut same = tx
            .prepare_cached("SELECT id, data FROM cim_textures WHERE hash = ?1 AND size = ?2")
            .ctx(&path)?;
        let found = same
            .query_map(params![hash, data.len() as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .ctx(&path)?;
        for row in found {
            let (id, bytes) = row.ctx(&path)?;
            if bytes == data {
                return Ok(id);
            }
        }
        tx.prepare_cached(
            "INSERT INTO cim_textures (name, mime, hash, size, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                name,
                image_mime(name, data),
                hash,
                data.len() as i64,
                data
            ])
        })
        .ctx(&path)?;
        Ok(tx.last_insert_rowid())
    }
}

impl Project {
    /// The texture image `id`, if the project has it.
    pub fn texture(&self, id: i64) -> Result<Option<Texture>> {
        let path = &self.meta.path;
        if !super::manage::table_exists(&self.conn, path, "cim_textures")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT id, name, mime, data FROM cim_textures WHERE id = ?1",
                [id],
                |r| {
                    Ok(Texture {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        mime: r.get(2)?,
                        data: r.get(3)?,
                    })
                },
            )
            .optional()
            .ctx(path)
    }

    /// How many texture images the project holds, and their bytes.
    pub fn texture_summary(&self) -> Result<(u64, u64)> {
        let path = &self.meta.path;
        if !super::manage::table_exists(&self.conn, path, "cim_textures")? {
            return Ok((0, 0));
        }
        self.conn
            .query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM cim_textures",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .ctx(path)
    }
}
