//! OSM XML (`.osm`), read as a stream with quick-xml.

use super::data::{degrees_to_e7, Member, MemberKind, NodePos, OsmData};
use crate::error::{ImportError, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::io::BufRead;
use std::path::Path;

/// The element being read, for its children (`nd`, `tag`, `member`) and for messages.
enum Open {
    None,
    Node {
        id: i64,
        tags: Vec<(String, String)>,
    },
    Way {
        id: i64,
        refs: Vec<i64>,
        tags: Vec<(String, String)>,
    },
    Relation {
        id: i64,
        members: Vec<Member>,
        tags: Vec<(String, String)>,
    },
}

impl Open {
    fn describe(&self) -> String {
        match self {
            Open::None => String::new(),
            Open::Node { id, .. } => format!(" (in node {id})"),
            Open::Way { id, .. } => format!(" (in way {id})"),
            Open::Relation { id, .. } => format!(" (in relation {id})"),
        }
    }
}

struct Parser {
    data: OsmData,
    open: Open,
    record: u64,
    osm_closed: bool,
}

/// Reads OSM XML from `input`, `file_len` bytes long (to tell a truncated file from a garbled one).
pub(crate) fn read<R: BufRead>(path: &Path, input: R, file_len: u64) -> Result<OsmData> {
    let mut reader = Reader::from_reader(input);
    let mut p = Parser {
        data: OsmData::new(),
        open: Open::None,
        record: 0,
        osm_closed: false,
    };
    let mut saw_osm = false;
    let mut buf = Vec::new();
    loop {
        let decoder = reader.decoder();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            let hint = if reader.buffer_position() >= file_len {
                "; the file is truncated"
            } else {
                ""
            };
            let (at, within) = (reader.error_position(), p.open.describe());
            ImportError::file(path, format!("XML error at byte {at}{within}: {e}{hint}"))
        })?;
        let at = reader.buffer_position();
        let result = match event {
            Event::Start(e) => {
                saw_osm |= e.local_name().as_ref() == b"osm";
                p.start(&e, decoder)
            }
            Event::Empty(e) => {
                saw_osm |= e.local_name().as_ref() == b"osm";
                p.start(&e, decoder).and_then(|()| p.end(e.local_name().as_ref()))
            }
            Event::End(e) => p.end(e.local_name().as_ref()),
            Event::Eof => break,
            _ => Ok(()),
        };
        result.map_err(|reason| {
            ImportError::file(path, format!("at byte {at}{}: {reason}", p.open.describe()))
        })?;
        buf.clear();
    }
    if !saw_osm {
        return Err(ImportError::file(path, "not an OSM XML file (no <osm> element)"));
    }
    if !p.osm_closed {
        return Err(ImportError::file(
            path,
            format!(
                "unexpected end of file{}; the file is truncated",
                p.open.describe()
            ),
        ));
    }
    p.data.finish();
    Ok(p.data)
}

fn attr(
    e: &BytesStart,
    name: &[u8],
    decoder: quick_xml::encoding::Decoder,
) -> std::result::Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .decode_and_unescape_value(decoder)
                .map_err(|err| err.to_string())?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn required(
    e: &BytesStart,
    name: &str,
    decoder: quick_xml::encoding::Decoder,
) -> std::result::Result<String, String> {
    attr(e, name.as_bytes(), decoder)?.ok_or_else(|| {
        format!(
            "<{}> without '{name}'",
            String::from_utf8_lossy(e.local_name().as_ref())
        )
    })
}

fn int(
    e: &BytesStart,
    name: &str,
    decoder: quick_xml::encoding::Decoder,
) -> std::result::Result<i64, String> {
    let v = required(e, name, decoder)?;
    v.trim()
        .parse()
        .map_err(|_| format!("{name}='{v}' is not an integer"))
}

fn degrees(
    e: &BytesStart,
    name: &str,
    limit: f64,
    decoder: quick_xml::encoding::Decoder,
) -> std::result::Result<i32, String> {
    let v = required(e, name, decoder)?;
    v.trim()
        .parse()
        .ok()
        .and_then(|d| degrees_to_e7(d, limit))
        .ok_or_else(|| format!("{name}='{v}' is not a valid coordinate"))
}

impl Parser {
    fn start(&mut self, e: &BytesStart, d: quick_xml::encoding::Decoder) -> std::result::Result<(), String> {
        match e.local_name().as_ref() {
            b"node" => {
                self.record += 1;
                let id = int(e, "id", d)?;
                self.open = Open::Node { id, tags: Vec::new() };
                // Deleted or position-less nodes (osmChange, history files) have no lat/lon.
                if attr(e, b"lat", d)?.is_some() {
                    let pos = NodePos {
                        lat_e7: degrees(e, "lat", 90.0, d)?,
                        lon_e7: degrees(e, "lon", 180.0, d)?,
                    };
                    self.data.add_node(id, pos);
                }
            }
            b"way" => {
                self.record += 1;
                self.open = Open::Way {
                    id: int(e, "id", d)?,
                    refs: Vec::new(),
                    tags: Vec::new(),
                };
            }
            b"relation" => {
                self.record += 1;
                self.open = Open::Relation {
                    id: int(e, "id", d)?,
                    members: Vec::new(),
                    tags: Vec::new(),
                };
            }
            b"nd" => {
                if let Open::Way { refs, .. } = &mut self.open {
                    refs.push(int(e, "ref", d)?);
                }
            }
            b"tag" => {
                let kv = || Ok::<_, String>((required(e, "k", d)?, required(e, "v", d)?));
                match &mut self.open {
                    Open::Way { tags, .. } | Open::Relation { tags, .. } | Open::Node { tags, .. } => {
                        tags.push(kv()?)
                    }
                    Open::None => {}
                }
            }
            b"member" => {
                if let Open::Relation { members, .. } = &mut self.open {
                    let kind = match required(e, "type", d)?.as_str() {
                        "node" => MemberKind::Node,
                        "way" => MemberKind::Way,
                        "relation" => MemberKind::Relation,
                        other => return Err(format!("unknown member type '{other}'")),
                    };
                    let role = attr(e, b"role", d)?.unwrap_or_default();
                    members.push(Member {
                        kind,
                        id: int(e, "ref", d)?,
                        role,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &[u8]) -> std::result::Result<(), String> {
        match name {
            b"node" => {
                if let Open::Node { id, tags } = std::mem::replace(&mut self.open, Open::None) {
                    self.data.add_node_tags(id, &tags);
                }
            }
            b"way" => {
                if let Open::Way { id, refs, tags } = std::mem::replace(&mut self.open, Open::None) {
                    self.data.add_way(id, self.record, refs, tags);
                }
            }
            b"relation" => {
                if let Open::Relation { id, members, tags } = std::mem::replace(&mut self.open, Open::None) {
                    self.data.add_relation(id, self.record, members, tags);
                }
            }
            b"osm" => self.osm_closed = true,
            _ => {}
        }
        Ok(())
    }
}
