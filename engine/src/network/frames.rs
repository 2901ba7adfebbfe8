//! Vehicle positions for playback, in a compact form: one frame per stored time, a blob of
//! zlib-deflated records. The traffic model writes them (`cim_run_vehicles`), the viewer reads
//! them; edges are the run's network edges (`cim_run_edges`).
//!
//! A frame, inflated: `CVF1`, the vehicle count (u32), then per vehicle 14 bytes, little
//! endian: trip index (u32), edge (u32), lane from the right (u8), speed in 0.25 m/s (u8,
//! saturating), front position along the edge in metres (f32).

use std::io::{Read, Write};

/// One vehicle in a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehiclePos {
    pub trip: u32,
    pub edge: u32,
    pub lane: u8,
    pub pos_m: f32,
    pub speed_m_s: f32,
}

const MAGIC: &[u8; 4] = b"CVF1";
const RECORD: usize = 14;

/// The frame of `vehicles`, deflated.
pub fn encode_frame(vehicles: &[VehiclePos]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(8 + vehicles.len() * RECORD);
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&(vehicles.len() as u32).to_le_bytes());
    for v in vehicles {
        raw.extend_from_slice(&v.trip.to_le_bytes());
        raw.extend_from_slice(&v.edge.to_le_bytes());
        raw.push(v.lane);
        raw.push((v.speed_m_s * 4.0).round().clamp(0.0, 255.0) as u8);
        raw.extend_from_slice(&v.pos_m.to_le_bytes());
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&raw);
    z.finish().unwrap_or_default()
}

/// The vehicles of a frame; a frame that is not one is an error saying why.
pub fn decode_frame(bytes: &[u8]) -> Result<Vec<VehiclePos>, String> {
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .take(1 << 30)
        .read_to_end(&mut raw)
        .map_err(|e| format!("not a deflated vehicle frame: {e}"))?;
    if raw.len() < 8 || &raw[..4] != MAGIC {
        return Err("not a vehicle frame (no CVF1 header)".into());
    }
    let n = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
    if raw.len() != 8 + n * RECORD {
        return Err(format!(
            "a vehicle frame of {n} vehicles needs {} bytes, it has {}",
            8 + n * RECORD,
            raw.len()
        ));
    }
    Ok(raw[8..]
        .chunks_exact(RECORD)
        .map(|r| VehiclePos {
            trip: u32::from_le_bytes([r[0], r[1], r[2], r[3]]),
            edge: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            lane: r[8],
            speed_m_s: f32::from(r[9]) / 4.0,
            pos_m: f32::from_le_bytes([r[10], r[11], r[12], r[13]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_a_bad_one_is_refused() {
        let v = vec![
            VehiclePos {
                trip: 7,
                edge: 3,
                lane: 1,
                pos_m: 12.5,
                speed_m_s: 13.75,
            },
            VehiclePos {
                trip: 9,
                edge: 360,
                lane: 0,
                pos_m: 199.9,
                speed_m_s: 0.0,
            },
        ];
        let b = encode_frame(&v);
        assert_eq!(decode_frame(&b), Ok(v));
        assert!(decode_frame(b"junk").is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"CVF1\x05\0\0\0short").unwrap_or_default();
        let e = decode_frame(&z.finish().unwrap_or_default()).unwrap_err();
        assert!(e.contains("needs 78 bytes"), "{e}");
    }
}
