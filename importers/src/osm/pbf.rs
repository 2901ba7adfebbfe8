//! OSM PBF (`.osm.pbf`), read with osmpbf.

use super::data::{Member, MemberKind, NodePos, OsmData};
use crate::error::{ImportError, Result};
use osmpbf::{Element, ElementReader, RelMemberType};
use std::io::BufReader;
use std::path::Path;

fn tags<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    it.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub(crate) fn read(path: &Path) -> Result<OsmData> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let reader = ElementReader::new(BufReader::new(file));
    let mut data = OsmData::new();
    let mut record = 0u64;
    // The first element that could not be read, with where it was.
    let mut element_error: Option<String> = None;
    // osmpbf is fed untrusted bytes and has at least one panicking path on malformed input (an
    // unknown relation member type): report a panic as a bad file.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reader.for_each(|element| {
            record += 1;
            match element {
                Element::Node(n) => {
                    let pos = NodePos {
                        lat_e7: n.decimicro_lat(),
                        lon_e7: n.decimicro_lon(),
                    };
                    data.add_node(n.id(), pos);
                    data.add_node_tags(n.id(), &tags(n.tags()));
                }
                Element::DenseNode(n) => {
                    let pos = NodePos {
                        lat_e7: n.decimicro_lat(),
                        lon_e7: n.decimicro_lon(),
                    };
                    data.add_node(n.id(), pos);
                    let mut t = n.tags().peekable();
                    if t.peek().is_some() {
                        data.add_node_tags(n.id(), &tags(t));
                    }
                }
                Element::Way(w) => {
                    data.add_way(w.id(), record, w.refs().collect(), tags(w.tags()));
                }
                Element::Relation(r) => {
                    let mut members = Vec::new();
                    for m in r.members() {
                        let role = match m.role() {
                            Ok(role) => role.to_string(),
                            Err(e) => {
                                element_error
                                    .get_or_insert(format!("relation {}: bad member role ({e})", r.id()));
                                String::new()
                            }
                        };
                        let kind = match m.member_type {
                            RelMemberType::Node => MemberKind::Node,
                            RelMemberType::Way => MemberKind::Way,
                            RelMemberType::Relation => MemberKind::Relation,
                        };
                        members.push(Member {
                            kind,
                            id: m.member_id,
                            role,
                        });
                    }
                    data.add_relation(r.id(), record, members, tags(r.tags()));
                }
            }
        })
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(ImportError::file(
                path,
                format!("cannot read OSM PBF after {record} elements: {e}; the file is truncated or corrupt"),
            ))
        }
        Err(_) => {
            return Err(ImportError::file(
                path,
                format!("malformed OSM PBF after {record} elements (the decoder failed)"),
            ))
        }
    }
    if let Some(reason) = element_error {
        return Err(ImportError::file(path, reason));
    }
    if record == 0 {
        return Err(ImportError::file(
            path,
            "holds no OSM elements (not an OSM PBF file?)",
        ));
    }
    data.finish();
    Ok(data)
}
