//! What the XML and PBF parsers collect: node positions, the ways and relations that can become
//! roads or buildings, and the node lists of every way (a multipolygon's member ways are often
//! untagged).

/// A node position in 1e-7 degrees, OSM's own precision: XML and PBF give identical values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodePos {
    pub lat_e7: i32,
    pub lon_e7: i32,
}

impl NodePos {
    /// `(lon, lat)` in degrees.
    pub fn lon_lat(self) -> (f64, f64) {
        (f64::from(self.lon_e7) / 1e7, f64::from(self.lat_e7) / 1e7)
    }
}

/// Degrees to 1e-7 degrees; `None` outside the valid range.
pub(crate) fn degrees_to_e7(deg: f64, limit: f64) -> Option<i32> {
    (deg.is_finite() && deg.abs() <= limit).then(|| (deg * 1e7).round() as i32)
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Way {
    pub id: i64,
    /// 1-based position of the element in the file (nodes, ways and relations counted).
    pub record: u64,
    pub refs: Vec<i64>,
    /// Only kept for ways that can be a road or a building; empty otherwise.
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemberKind {
    Node,
    Way,
    Relation,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    pub kind: MemberKind,
    pub id: i64,
    pub role: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Relation {
    pub id: i64,
    pub record: u64,
    pub members: Vec<Member>,
    pub tags: Vec<(String, String)>,
}

/// How a node controls the traffic through it (`highway=traffic_signals|stop|give_way`, or a
/// crossing with `crossing=traffic_signals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ControlKind {
    Signals,
    Stop,
    /// `highway=stop` with `stop=all`.
    AllWayStop,
    GiveWay,
}

impl ControlKind {
    pub fn name(self) -> &'static str {
        match self {
            ControlKind::Signals => "signals",
            ControlKind::Stop => "stop",
            ControlKind::AllWayStop => "all_stop",
            ControlKind::GiveWay => "give_way",
        }
    }
}

/// Which way along its way a node's control faces (`direction=forward|backward`, or
/// `traffic_signals:direction`); `Both` where untagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Facing {
    Both,
    Forward,
    Backward,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeControl {
    pub kind: ControlKind,
    pub facing: Facing,
}

/// A turn restriction (`type=restriction`, or `restriction:motorcar`) through a node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Restriction {
    pub id: i64,
    pub record: u64,
    /// `no_left_turn`, `only_straight_on`…
    pub kind: String,
    pub from: i64,
    pub via: i64,
    pub to: i64,
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub(crate) struct OsmData {
    /// Sorted by id after [`OsmData::finish`].
    nodes: Vec<(i64, NodePos)>,
    nodes_sorted: bool,
    pub ways: Vec<Way>,
    pub relations: Vec<Relation>,
    /// Nodes that control traffic, sorted by id after [`OsmData::finish`].
    controls: Vec<(i64, NodeControl)>,
    pub restrictions: Vec<Restriction>,
    /// Restrictions that could not be kept (a via way, members missing), with why.
    pub restriction_notes: Vec<(u64, String)>,
}

pub(crate) fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Whether an element with these tags can become a feature (a road or a building).
fn is_wanted(tags: &[(String, String)]) -> bool {
    tags.iter().any(|(k, _)| k == "highway" || k == "building")
}

impl OsmData {
    pub fn add_node(&mut self, id: i64, pos: NodePos) {
        if self.nodes.last().is_some_and(|&(last, _)| last >= id) {
            self.nodes_sorted = false;
        }
        self.nodes.push((id, pos));
    }

    pub fn add_way(&mut self, id: i64, record: u64, refs: Vec<i64>, mut tags: Vec<(String, String)>) {
        if !is_wanted(&tags) {
            tags = Vec::new();
        }
        self.ways.push(Way {
            id,
            record,
            refs,
            tags,
        });
    }

    /// Keeps a node's traffic control, if its tags state one.
    pub fn add_node_tags(&mut self, id: i64, tags: &[(String, String)]) {
        let kind = match tag(tags, "highway") {
            Some("traffic_signals") => ControlKind::Signals,
            Some("stop") if tag(tags, "stop") == Some("all") => ControlKind::AllWayStop,
            Some("stop") => ControlKind::Stop,
            Some("give_way") => ControlKind::GiveWay,
            Some("crossing") if tag(tags, "crossing") == Some("traffic_signals") => ControlKind::Signals,
            _ => return,
        };
        let facing = match tag(tags, "traffic_signals:direction").or_else(|| tag(tags, "direction")) {
            Some("forward") => Facing::Forward,
            Some("backward") => Facing::Backward,
            _ => Facing::Both,
        };
        self.controls.push((id, NodeControl { kind, facing }));
    }

    pub fn control(&self, id: i64) -> Option<NodeControl> {
        self.controls
            .binary_search_by_key(&id, |&(n, _)| n)
            .ok()
            .map(|i| self.controls[i].1)
    }

    pub fn add_relation(&mut self, id: i64, record: u64, members: Vec<Member>, tags: Vec<(String, String)>) {
        if tag(&tags, "type") == Some("restriction") {
            self.add_restriction(id, record, &members, &tags);
            return;
        }
        // Only building multipolygons are turned into features.
        if tag(&tags, "type") == Some("multipolygon") && tag(&tags, "building").is_some() {
            self.relations.push(Relation {
                id,
                record,
                members,
                tags,
            });
        }
    }

    /// A turn restriction for cars: from way, via node, to way. Restrictions through a way,
    /// with several members of a role, or for other vehicles are noted and left out.
    fn add_restriction(&mut self, id: i64, record: u64, members: &[Member], tags: &[(String, String)]) {
        let Some(kind) = tag(tags, "restriction").or_else(|| tag(tags, "restriction:motorcar")) else {
            // restriction:hgv, :bus… do not apply to cars.
            return;
        };
        if let Some(except) = tag(tags, "except") {
            if except.split(';').any(|v| v.trim() == "motorcar") {
                return;
            }
        }
        let of = |role: &str| members.iter().filter(move |m| m.role == role).collect::<Vec<_>>();
        let (from, via, to) = (of("from"), of("via"), of("to"));
        let note = |reason: &str| format!("turn restriction relation {id} ({kind}): {reason}; left out");
        match (from.as_slice(), via.as_slice(), to.as_slice()) {
            ([f], [v], [t]) if f.kind == MemberKind::Way && t.kind == MemberKind::Way => {
                if v.kind != MemberKind::Node {
                    self.restriction_notes.push((
                        record,
                        note("it runs through a way, which cim does not apply yet"),
                    ));
                    return;
                }
                self.restrictions.push(Restriction {
                    id,
                    record,
                    kind: kind.to_string(),
                    from: f.id,
                    via: v.id,
                    to: t.id,
                });
            }
            _ => self.restriction_notes.push((
                record,
                note(&format!(
                    "it needs one 'from' way, one 'via' node and one 'to' way (has {} from, {} via, {} to)",
                    from.len(),
                    via.len(),
                    to.len()
                )),
            )),
        }
    }

    /// Sorts the node index (files are usually sorted already) so that lookups can bisect.
    pub fn finish(&mut self) {
        self.controls.sort_by_key(|&(id, _)| id);
        if !self.nodes_sorted {
            self.nodes.sort_by_key(|&(id, _)| id);
            self.nodes_sorted = true;
        }
        self.nodes.shrink_to_fit();
    }

    pub fn node(&self, id: i64) -> Option<NodePos> {
        debug_assert!(self.nodes_sorted || self.nodes.is_empty());
        self.nodes
            .binary_search_by_key(&id, |&(n, _)| n)
            .ok()
            .map(|i| self.nodes[i].1)
    }

    pub fn new() -> Self {
        OsmData {
            nodes_sorted: true,
            ..OsmData::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unsorted_nodes_are_found_after_finish() {
        let mut d = OsmData::new();
        for id in [5, 2, 9] {
            d.add_node(
                id,
                NodePos {
                    lat_e7: id as i32,
                    lon_e7: -(id as i32),
                },
            );
        }
        d.finish();
        assert_eq!(
            d.node(2),
            Some(NodePos {
                lat_e7: 2,
                lon_e7: -2
            })
        );
        assert_eq!(d.node(3), None);
    }

    #[test]
    fn e7_conversion_round_trips_the_text() {
        let e7 = degrees_to_e7("37.8057878".parse().unwrap(), 90.0).unwrap();
        assert_eq!(e7, 378_057_878);
        assert_eq!(
            NodePos {
                lat_e7: e7,
                lon_e7: 0
            }
            .lon_lat()
            .1,
            37.8057878
        );
        assert_eq!(degrees_to_e7(91.0, 90.0), None);
        assert_eq!(degrees_to_e7(f64::NAN, 180.0), None);
    }
}
