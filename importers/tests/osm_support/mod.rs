//! A tiny OSM dataset and writers for it as OSM XML and as OSM PBF. osmpbf has no writer, so
//! the PBF is encoded here by hand: the format is a sequence of (BlobHeader, Blob) pairs whose
//! payloads are the protobuf messages HeaderBlock and PrimitiveBlock (see the OSM wiki page
//! "PBF Format"); only the fields this dataset needs are written.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;

pub type Tags = Vec<(&'static str, &'static str)>;
/// type ("node" | "way" | "relation"), ref, role
pub type Members = Vec<(&'static str, i64, &'static str)>;

pub struct Dataset {
    /// id, lat, lon (at most 7 decimals, so XML text and PBF integers agree exactly)
    pub nodes: Vec<(i64, f64, f64)>,
    pub ways: Vec<(i64, Vec<i64>, Tags)>,
    pub relations: Vec<(i64, Members, Tags)>,
}

/// Roads, buildings and the cases around them, near Tian'anmen (Beijing).
pub fn tiny() -> Dataset {
    let (lat0, lon0) = (39.9, 116.39);
    // A grid of nodes 1..=22, six to a row, 0.001° apart; node 1 at the south-west corner.
    let mut nodes: Vec<(i64, f64, f64)> = (1..=22)
        .map(|i: i64| {
            let (row, col) = ((i - 1) / 6, (i - 1) % 6);
            (i, lat0 + row as f64 * 0.001, lon0 + col as f64 * 0.001)
        })
        .collect();
    // A triangle inside the square 13-14-20-19, for relation 400's inner ring.
    nodes.extend([
        (23, lat0 + 0.0022, lon0 + 0.0002),
        (24, lat0 + 0.0022, lon0 + 0.0008),
        (25, lat0 + 0.0028, lon0 + 0.0005),
    ]);
    // Round to 7 decimals as OSM stores them.
    let nodes = nodes
        .into_iter()
        .map(|(i, lat, lon)| (i, (lat * 1e7).round() / 1e7, (lon * 1e7).round() / 1e7))
        .collect();
    let ways = vec![
        (
            100,
            vec![1, 2, 3],
            vec![
                ("highway", "primary"),
                ("name", "长安街"),
                ("name:zh", "长安街"),
                ("name:en", "Chang'an Avenue"),
                ("lanes", "4"),
                ("maxspeed", "30 mph"),
                ("oneway", "-1"),
                ("bridge", "yes"),
                ("layer", "1"),
                ("ref", "G1"),
            ],
        ),
        (
            101,
            vec![3, 4],
            vec![("highway", "footway"), ("maxspeed", "walk"), ("tunnel", "no")],
        ),
        (
            102,
            vec![1, 2, 8, 7, 1],
            vec![("highway", "pedestrian"), ("area", "yes")],
        ),
        (103, vec![4, 999, 5], vec![("highway", "residential")]),
        (
            200,
            vec![7, 8, 14, 13, 7],
            vec![("building", "yes"), ("height", "12 m"), ("building:levels", "4")],
        ),
        (
            201,
            vec![9, 10, 16, 15, 9],
            vec![
                ("building", "apartments"),
                ("building:levels", "3"),
                ("name", "A & B <楼>"),
            ],
        ),
        (
            202,
            vec![11, 12, 17, 11],
            vec![("building", "house"), ("height", "40'")],
        ),
        (203, vec![7, 8, 9], vec![("building", "yes")]),
        // Relation 400's outer ring in two halves, one drawn against the other's direction,
        // its inner ring, and a tagged way that is neither road nor building.
        (300, vec![13, 14, 20], vec![]),
        (301, vec![13, 19, 20], vec![]),
        (302, vec![23, 24, 25, 23], vec![]),
        (303, vec![18, 21, 22, 18], vec![("barrier", "fence")]),
    ];
    let relations = vec![
        (
            400,
            vec![
                ("way", 300, "outer"),
                ("way", 302, "inner"),
                ("way", 301, "outer"),
                ("node", 1, "label"),
            ],
            vec![
                ("type", "multipolygon"),
                ("building", "office"),
                ("name", "Hall"),
                ("height", "20"),
            ],
        ),
        (
            401,
            vec![("way", 9999, "outer")],
            vec![("type", "multipolygon"), ("building", "yes")],
        ),
        (
            402,
            vec![("way", 300, "outer")],
            vec![("type", "multipolygon"), ("landuse", "grass")],
        ),
    ];
    Dataset {
        nodes,
        ways,
        relations,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn to_xml(d: &Dataset) -> String {
    let mut s = String::from(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"cim test\">\n",
    );
    s += "  <bounds minlat=\"39.9\" minlon=\"116.39\" maxlat=\"39.904\" maxlon=\"116.396\"/>\n";
    for (id, lat, lon) in &d.nodes {
        s += &format!("  <node id=\"{id}\" lat=\"{lat}\" lon=\"{lon}\"/>\n");
    }
    let tags = |s: &mut String, tags: &Tags| {
        for (k, v) in tags {
            *s += &format!("    <tag k=\"{}\" v=\"{}\"/>\n", esc(k), esc(v));
        }
    };
    for (id, refs, t) in &d.ways {
        s += &format!("  <way id=\"{id}\">\n");
        for r in refs {
            s += &format!("    <nd ref=\"{r}\"/>\n");
        }
        tags(&mut s, t);
        s += "  </way>\n";
    }
    for (id, members, t) in &d.relations {
        s += &format!("  <relation id=\"{id}\">\n");
        for (ty, r, role) in members {
            s += &format!("    <member type=\"{ty}\" ref=\"{r}\" role=\"{role}\"/>\n");
        }
        tags(&mut s, t);
        s += "  </relation>\n";
    }
    s + "</osm>\n"
}

// ---- protobuf wire format ----

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn uint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field) << 3);
    varint(out, v);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn packed(out: &mut Vec<u8>, field: u32, vals: impl IntoIterator<Item = u64>) {
    let mut buf = Vec::new();
    for v in vals {
        varint(&mut buf, v);
    }
    bytes_field(out, field, &buf);
}

/// Delta-coded, zigzagged (`sint64`) packed values.
fn packed_delta(out: &mut Vec<u8>, field: u32, vals: &[i64]) {
    let mut prev = 0;
    packed(
        out,
        field,
        vals.iter().map(|&v| {
            let d = zigzag(v - prev);
            prev = v;
            d
        }),
    );
}

#[derive(Default)]
struct StringTable {
    index: HashMap<String, u64>,
    strings: Vec<String>,
}

impl StringTable {
    fn new() -> Self {
        let mut t = StringTable::default();
        t.id(""); // index 0 is reserved
        t
    }
    fn id(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u64;
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for s in &self.strings {
            bytes_field(&mut out, 1, s.as_bytes());
        }
        out
    }
}

fn e7(deg: f64) -> i64 {
    (deg * 1e7).round() as i64
}

/// PrimitiveBlock holding the nodes as DenseNodes.
fn nodes_block(d: &Dataset) -> Vec<u8> {
    let mut dense = Vec::new();
    let ids: Vec<i64> = d.nodes.iter().map(|n| n.0).collect();
    let lats: Vec<i64> = d.nodes.iter().map(|n| e7(n.1)).collect();
    let lons: Vec<i64> = d.nodes.iter().map(|n| e7(n.2)).collect();
    packed_delta(&mut dense, 1, &ids);
    packed_delta(&mut dense, 8, &lats);
    packed_delta(&mut dense, 9, &lons);
    let mut group = Vec::new();
    bytes_field(&mut group, 2, &dense);
    let mut block = Vec::new();
    bytes_field(&mut block, 1, &StringTable::new().encode());
    bytes_field(&mut block, 2, &group);
    block
}

/// PrimitiveBlock holding the ways in one group and the relations in another.
fn ways_block(d: &Dataset) -> Vec<u8> {
    let mut st = StringTable::new();
    let mut ways_group = Vec::new();
    for (id, refs, tags) in &d.ways {
        let mut w = Vec::new();
        uint_field(&mut w, 1, *id as u64);
        packed(&mut w, 2, tags.iter().map(|(k, _)| st.id(k)).collect::<Vec<_>>());
        packed(&mut w, 3, tags.iter().map(|(_, v)| st.id(v)).collect::<Vec<_>>());
        packed_delta(&mut w, 8, refs);
        bytes_field(&mut ways_group, 3, &w);
    }
    let mut rel_group = Vec::new();
    for (id, members, tags) in &d.relations {
        let mut r = Vec::new();
        uint_field(&mut r, 1, *id as u64);
        packed(&mut r, 2, tags.iter().map(|(k, _)| st.id(k)).collect::<Vec<_>>());
        packed(&mut r, 3, tags.iter().map(|(_, v)| st.id(v)).collect::<Vec<_>>());
        packed(&mut r, 8, members.iter().map(|m| st.id(m.2)).collect::<Vec<_>>());
        packed_delta(&mut r, 9, &members.iter().map(|m| m.1).collect::<Vec<_>>());
        let types = members.iter().map(|m| match m.0 {
            "node" => 0,
            "way" => 1,
            _ => 2,
        });
        packed(&mut r, 10, types);
        bytes_field(&mut rel_group, 4, &r);
    }
    let mut block = Vec::new();
    bytes_field(&mut block, 1, &st.encode());
    bytes_field(&mut block, 2, &ways_group);
    bytes_field(&mut block, 2, &rel_group);
    block
}

fn blob(out: &mut Vec<u8>, kind: &str, payload: &[u8], zlib: bool) {
    let mut blob = Vec::new();
    if zlib {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(payload).unwrap();
        uint_field(&mut blob, 2, payload.len() as u64);
        bytes_field(&mut blob, 3, &z.finish().unwrap());
    } else {
        bytes_field(&mut blob, 1, payload);
        uint_field(&mut blob, 2, payload.len() as u64);
    }
    let mut header = Vec::new();
    bytes_field(&mut header, 1, kind.as_bytes());
    uint_field(&mut header, 3, blob.len() as u64);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&blob);
}

/// The dataset as OSM PBF: a raw OSMHeader blob, the nodes in a raw blob, the ways and
/// relations in a zlib blob.
pub fn to_pbf(d: &Dataset) -> Vec<u8> {
    let mut header_block = Vec::new();
    bytes_field(&mut header_block, 4, b"OsmSchema-V0.6");
    bytes_field(&mut header_block, 4, b"DenseNodes");
    bytes_field(&mut header_block, 16, b"cim test");
    let mut out = Vec::new();
    blob(&mut out, "OSMHeader", &header_block, false);
    blob(&mut out, "OSMData", &nodes_block(d), false);
    blob(&mut out, "OSMData", &ways_block(d), true);
    out
}
