//! Demand: who drives from where to where, when. Random trips (as SUMO's `randomTrips.py`), and
//! SUMO route files (`<vehicle>` with a route, `<trip>`, `<flow>`, `<route>` by id), their edges
//! named as [`cim_engine::network::Edge::sumo_id`] names them.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;

use cim_engine::network::Network;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::route::Router;
use crate::ScenarioError;

/// A trip asked for: an explicit route, or origin and destination edges to route between.
#[derive(Clone, Debug, PartialEq)]
pub struct TripSpec {
    pub id: String,
    pub depart_s: f64,
    pub from: u32,
    pub to: u32,
    pub route: Option<Vec<u32>>,
}

/// How random trips are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomTrips {
    pub begin_s: f64,
    pub end_s: f64,
    /// One trip every `period_s` (SUMO's `-p`).
    pub period_s: f64,
    pub seed: u64,
    /// Weight of edges at the network's edge (no way in, or no way on) against inner ones.
    pub fringe_factor: f64,
    /// Origin and destination at least this far apart (straight line), m.
    pub min_distance_m: f64,
}

impl Default for RandomTrips {
    fn default() -> Self {
        RandomTrips {
            begin_s: 0.0,
            end_s: 3600.0,
            period_s: 1.0,
            seed: 42,
            fringe_factor: 1.0,
            min_distance_m: 0.0,
        }
    }
}

/// A number in [0, 1) from (seed, a, b): SplitMix64, as the simulation draws.
pub(super) fn mix(seed: u64, a: u64, b: u64) -> f64 {
    super::sim::unit(
        seed.wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(b.wrapping_mul(0xD6E8_FEB8_6659_FD93))
            .wrapping_add(0x632B_E59B_D9B4_E019),
    )
}

/// Trips every `period_s` from `begin_s` to before `end_s`, origin and destination edges drawn
/// by weight (fringe edges `fringe_factor`, others 1), each pair redrawn (up to 100 times)
/// until a route joins them, as `randomTrips.py --validate` does.
pub fn random_trips(net: &Network, router: &Router, r: &RandomTrips) -> Vec<TripSpec> {
    let n = net.edges.len();
    if n == 0 || r.period_s <= 0.0 {
        return Vec::new();
    }
    // Fringe: an edge with no way into it (a source) or no way on from it (a sink).
    let mut has_pred = vec![false; n];
    for c in &net.connections {
        has_pred[c.to_edge as usize] = true;
    }
    let weight = |e: usize, origin: bool| {
        let fringe = if origin {
            !has_pred[e]
        } else {
            router.successors(e as u32).is_empty()
        };
        if fringe {
            r.fringe_factor
        } else {
            1.0
        }
    };
    let cumulative = |origin: bool| {
        let mut acc = 0.0;
        (0..n)
            .map(|e| {
                acc += weight(e, origin);
                acc
            })
            .collect::<Vec<f64>>()
    };
    let (co, cd) = (cumulative(true), cumulative(false));
    let pick = |c: &[f64], u: f64| {
        let x = u * c[n - 1];
        c.partition_point(|&v| v <= x).min(n - 1) as u32
    };
    let mid = |e: u32| {
        let s = &net.edges[e as usize].shape;
        s[s.len() / 2]
    };
    let mut out = Vec::new();
    let mut k = 0u64;
    let mut t = r.begin_s;
    while t < r.end_s - 1e-9 {
        for attempt in 0..100u64 {
            let from = pick(&co, mix(r.seed, k, 2 * attempt));
            let to = pick(&cd, mix(r.seed, k, 2 * attempt + 1));
            if from == to {
                continue;
            }
            let (a, b) = (mid(from), mid(to));
            if (a[0] - b[0]).hypot(a[1] - b[1]) < r.min_distance_m {
                continue;
            }
            if let Some(route) = router.route(from, to, None) {
                out.push(TripSpec {
                    id: k.to_string(),
                    depart_s: t,
                    from,
                    to,
                    route: Some(route),
                });
                break;
            }
        }
        k += 1;
        t = r.begin_s + k as f64 * r.period_s;
    }
    out
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// The most trips one demand may hold (a flow's numbers gone astray must not fill the memory).
pub const MAX_TRIPS: usize = 20_000_000;

/// What a SUMO route file asks for, and what in it cim left aside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SumoDemand {
    pub trips: Vec<TripSpec>,
    pub notes: Vec<String>,
}

/// Reads a SUMO route file against `net`. An edge id the network does not have is an error
/// naming the file, the element and the id; so is a flow that says neither how many nor how
/// often.
pub fn read_sumo_routes(path: &Path, net: &Network) -> Result<SumoDemand, ScenarioError> {
    let ids: HashMap<String, u32> = net
        .edges
        .iter()
        .enumerate()
        .map(|(k, e)| (e.sumo_id(), k as u32))
        .collect();
    let file = std::fs::File::open(path).map_err(|e| ScenarioError::io(path, e))?;
    // Gzipped files (SUMO writes .rou.xml.gz) are read through.
    let mut magic = [0u8; 2];
    let gz = std::io::Read::read_exact(
        &mut std::fs::File::open(path).map_err(|e| ScenarioError::io(path, e))?,
        &mut magic,
    )
    .is_ok()
        && magic == [0x1f, 0x8b];
    let input: Box<dyn std::io::BufRead> = if gz {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut reader = Reader::from_reader(input);
    let bad = |what: &str, id: &str, reason: String| {
        ScenarioError::invalid(format!("{}: {what} '{id}': {reason}", path.display()))
    };
    // The edge a `from` or `to` attribute names (an empty one is an error naming the element).
    let one_edge = |edges: Vec<u32>, what: &str, id: &str, key: &str| -> Result<u32, ScenarioError> {
        edges
            .first()
            .copied()
            .ok_or_else(|| bad(what, id, format!("{key} names no edge")))
    };
    let edges_of = |text: &str, what: &str, id: &str| -> Result<Vec<u32>, ScenarioError> {
        text.split_whitespace()
            .map(|e| {
                ids.get(e).copied().ok_or_else(|| {
                    bad(
                        what,
                        id,
                        format!("edge '{e}' is not in the project's road network"),
                    )
                })
            })
            .collect()
    };
    let mut routes: HashMap<String, Vec<u32>> = HashMap::new();
    let mut out = SumoDemand::default();
    // The vehicle whose <route> child is being read: (id, depart).
    let mut open_vehicle: Option<(String, f64)> = None;
    let mut buf = Vec::new();
    let mut ignored: HashMap<String, u64> = HashMap::new();
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            ScenarioError::invalid(format!(
                "{}: XML error at byte {}: {e}",
                path.display(),
                reader.error_position()
            ))
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = e.local_name();
                let id = attr(e, b"id").unwrap_or_default();
                let num = |k: &[u8], what: &str| -> Result<Option<f64>, ScenarioError> {
                    match attr(e, k) {
                        None => Ok(None),
                        Some(s) => s.trim().parse::<f64>().map(Some).map_err(|_| {
                            bad(
                                what,
                                &id,
                                format!("{} '{s}' is not a number", String::from_utf8_lossy(k)),
                            )
                        }),
                    }
                };
                match name.as_ref() {
                    b"route" => {
                        // A vehicle's own route is named by the vehicle.
                        let (what, who) = match &open_vehicle {
                            Some((vid, _)) => ("vehicle", vid.clone()),
                            None => ("route", id.clone()),
                        };
                        let edges = edges_of(&attr(e, b"edges").unwrap_or_default(), what, &who)?;
                        match open_vehicle.take() {
                            Some((vid, depart)) => {
                                if edges.is_empty() {
                                    return Err(bad("vehicle", &vid, "its route has no edges".into()));
                                }
                                out.trips.push(TripSpec {
                                    id: vid,
                                    depart_s: depart,
                                    from: edges[0],
                                    to: edges[edges.len() - 1],
                                    route: Some(edges),
                                });
                            }
                            None => {
                                if edges.is_empty() {
                                    return Err(bad("route", &id, "has no edges".into()));
                                }
                                routes.insert(id, edges);
                            }
                        }
                    }
                    b"vehicle" => {
                        let depart = depart_of(e).map_err(|r| bad("vehicle", &id, r))?;
                        match attr(e, b"route") {
                            Some(r) => {
                                let edges = routes.get(&r).cloned().ok_or_else(|| {
                                    bad("vehicle", &id, format!("route '{r}' is not defined before it"))
                                })?;
                                out.trips.push(TripSpec {
                                    id,
                                    depart_s: depart,
                                    from: edges[0],
                                    to: edges[edges.len() - 1],
                                    route: Some(edges),
                                });
                            }
                            None if !empty => open_vehicle = Some((id, depart)),
                            None => return Err(bad("vehicle", &id, "has no route".into())),
                        }
                    }
                    b"trip" => {
                        let depart = depart_of(e).map_err(|r| bad("trip", &id, r))?;
                        let ends = (attr(e, b"from"), attr(e, b"to"));
                        let (Some(f), Some(t)) = ends else {
                            return Err(bad("trip", &id, "needs from and to edges".into()));
                        };
                        let from = one_edge(edges_of(&f, "trip", &id)?, "trip", &id, "from")?;
                        let to = one_edge(edges_of(&t, "trip", &id)?, "trip", &id, "to")?;
                        out.trips.push(TripSpec {
                            id,
                            depart_s: depart,
                            from,
                            to,
                            route: None,
                        });
                    }
                    b"flow" => {
                        let begin = num(b"begin", "flow")?.unwrap_or(0.0);
                        let end = num(b"end", "flow")?.unwrap_or(begin + 3600.0);
                        let number = num(b"number", "flow")?;
                        let period =
                            match (num(b"period", "flow")?, num(b"vehsPerHour", "flow")?, number) {
                                (Some(p), _, _) if p > 0.0 => p,
                                (_, Some(v), _) if v > 0.0 => 3600.0 / v,
                                (_, _, Some(n)) if n >= 1.0 => (end - begin) / n,
                                _ => return Err(bad(
                                    "flow",
                                    &id,
                                    "needs period, vehsPerHour or number (probability flows are not read)"
                                        .into(),
                                )),
                            };
                        let (route, from, to) = match (attr(e, b"route"), attr(e, b"from"), attr(e, b"to")) {
                            (Some(r), _, _) => {
                                let edges = routes.get(&r).cloned().ok_or_else(|| {
                                    bad("flow", &id, format!("route '{r}' is not defined before it"))
                                })?;
                                (Some(edges.clone()), edges[0], edges[edges.len() - 1])
                            }
                            (None, Some(f), Some(t)) => (
                                None,
                                one_edge(edges_of(&f, "flow", &id)?, "flow", &id, "from")?,
                                one_edge(edges_of(&t, "flow", &id)?, "flow", &id, "to")?,
                            ),
                            _ => return Err(bad("flow", &id, "needs a route or from and to edges".into())),
                        };
                        if !(begin.is_finite() && end.is_finite() && end >= begin) {
                            return Err(bad(
                                "flow",
                                &id,
                                format!("begin {begin} and end {end}: end must not be before begin"),
                            ));
                        }
                        let count = number.map_or(((end - begin) / period).ceil(), |n| n.floor());
                        if count > (MAX_TRIPS - out.trips.len()) as f64 {
                            return Err(bad(
                                "flow",
                                &id,
                                format!(
                                    "would make {count} vehicles; a demand holds at most {MAX_TRIPS} trips"
                                ),
                            ));
                        }
                        let count = count as u64;
                        for k in 0..count {
                            let t = begin + k as f64 * period;
                            if t >= end {
                                break;
                            }
                            out.trips.push(TripSpec {
                                id: format!("{id}.{k}"),
                                depart_s: t,
                                from,
                                to,
                                route: route.clone(),
                            });
                        }
                    }
                    b"vType" | b"vTypeDistribution" | b"personTrip" | b"person" | b"stop" | b"param" => {
                        *ignored
                            .entry(String::from_utf8_lossy(name.as_ref()).into_owned())
                            .or_default() += 1;
                    }
                    _ => {}
                }
            }
            Event::End(ref e) if e.local_name().as_ref() == b"vehicle" => {
                if let Some((vid, _)) = open_vehicle.take() {
                    return Err(bad("vehicle", &vid, "has no route".into()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let mut ignored: Vec<_> = ignored.into_iter().collect();
    ignored.sort();
    for (what, n) in ignored {
        out.notes.push(format!(
            "{}: {n} <{what}> element(s) not read (cim drives one passenger car type)",
            path.display()
        ));
    }
    Ok(out)
}

/// A `depart` attribute: seconds, or `HH:MM:SS`.
fn depart_of(e: &BytesStart) -> Result<f64, String> {
    let d = attr(e, b"depart").ok_or("has no depart time")?;
    let d = d.trim();
    if let Ok(v) = d.parse::<f64>() {
        return Ok(v);
    }
    let parts: Vec<f64> = d.split(':').filter_map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [h, m, s] => Ok(h * 3600.0 + m * 60.0 + s),
        [m, s] => Ok(m * 60.0 + s),
        _ => Err(format!("depart '{d}' is not a time (seconds or HH:MM:SS)")),
    }
}
