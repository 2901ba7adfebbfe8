//! Demand from an origin–destination table between zones: the polygons of a project layer
//! are the zones, a CSV gives the trips from zone to zone, and a departure profile spreads
//! them over time.
//!
//! - The CSV has a header naming its columns: origin (`origin`, `from`, `o`), destination
//!   (`destination`, `to`, `d`) and trips (`trips`, `count`, `flow`, `n`); comma, semicolon or
//!   tab separated; zones by the value of the layer's zone field (or by city code).
//! - A zone's roads are the network edges whose middle lies in its polygon; each trip starts
//!   on one of its origin zone's edges and ends on one of its destination's, drawn by length
//!   from (seed, row, trip), until a route joins them. A pair with no route is kept without
//!   one (undelivered in the run).
//! - Departures: the profile's shares over equal slices of the time window, each trip drawn
//!   inside its stratum of the profile's distribution (so counts per slice follow it closely).
//!
//! A zone named in the table that the layer does not have, or one without a road cars may use,
//! is an error naming the file, its line and the zone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cim_engine::network::Network;
use cim_engine::{AttrValue, FeatureFilter, Project};
use geo::{Contains, Geometry, Point};

use super::demand::{mix, TripSpec};
use super::route::Router;
use crate::ScenarioError;

/// An OD table and how to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct OdDemand {
    pub file: PathBuf,
    /// The polygon layer of the zones.
    pub zones: String,
    /// The attribute that names each zone in the table (`None`: the feature's city code).
    pub zone_field: Option<String>,
    pub begin_s: f64,
    pub end_s: f64,
    /// Shares of the trips in equal slices of the window (empty: even).
    pub profile: Vec<f64>,
    /// Every count is multiplied by this (then rounded).
    pub scale: f64,
    pub seed: u64,
}

/// Splits a CSV line on `sep`, honouring double quotes.
fn split(line: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// One row of the table: origin zone, destination zone, trips, and its line number.
/// One row of an OD table.
#[derive(Clone, Debug, PartialEq)]
pub struct OdRow {
    /// Its line in the file (from 1).
    pub line: usize,
    pub origin: String,
    pub destination: String,
    pub trips: f64,
}

/// The rows of the OD table at `path`: a clear error naming the file and the line where a
/// column is missing or a count is not a number of trips.
pub fn read_od_table(path: &Path) -> Result<Vec<OdRow>, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::invalid(format!("{}: cannot read: {e}", path.display())))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(ScenarioError::invalid(format!(
            "{}: empty (needs a header: origin,destination,trips)",
            path.display()
        )));
    };
    let sep = [',', ';', '\t']
        .into_iter()
        .max_by_key(|&c| header.matches(c).count())
        .unwrap_or(',');
    let names: Vec<String> = split(header, sep).into_iter().map(|h| h.to_lowercase()).collect();
    let col = |keys: &[&str]| names.iter().position(|n| keys.contains(&n.as_str()));
    let (Some(o), Some(d), Some(n)) = (
        col(&["origin", "from", "o", "orig"]),
        col(&["destination", "to", "d", "dest"]),
        col(&["trips", "count", "flow", "n", "volume"]),
    ) else {
        return Err(ScenarioError::invalid(format!(
            "{}: the header '{header}' needs origin, destination and trips columns",
            path.display()
        )));
    };
    let mut rows = Vec::new();
    for (k, line) in lines {
        let f = split(line, sep);
        let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
        let trips: f64 = get(n)
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                ScenarioError::invalid(format!(
                    "{} line {}: trips '{}' is not a number of trips (0 or more)",
                    path.display(),
                    k + 1,
                    get(n)
                ))
            })?;
        if get(o).is_empty() || get(d).is_empty() {
            return Err(ScenarioError::invalid(format!(
                "{} line {}: no origin or destination zone",
                path.display(),
                k + 1
            )));
        }
        rows.push(OdRow {
            line: k + 1,
            origin: get(o).to_string(),
            destination: get(d).to_string(),
            trips,
        });
    }
    Ok(rows)
}

/// Each zone's edges (and their lengths, the weights they are drawn by), by zone name.
fn zone_edges(
    project: &Project,
    net: &Network,
    od: &OdDemand,
) -> Result<HashMap<String, Vec<u32>>, ScenarioError> {
    let info = project.layer(&od.zones).map_err(|_| {
        ScenarioError::invalid(format!(
            "demand.od.zones '{}' is not a layer of {}",
            od.zones,
            project.path().display()
        ))
    })?;
    if let Some(f) = &od.zone_field {
        if !info.fields.iter().any(|x| &x.name == f) {
            return Err(ScenarioError::invalid(format!(
                "demand.od.zone_field '{f}' is not a field of layer '{}' (fields: {})",
                od.zones,
                info.fields
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let filter = FeatureFilter {
        layers: Some(vec![od.zones.clone()]),
        ..Default::default()
    };
    let mids: Vec<Point> = net
        .edges
        .iter()
        .map(|e| {
            let half = e.length_m / 2.0;
            let mut acc = 0.0;
            for w in e.shape.windows(2) {
                let l = (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]);
                if acc + l >= half && l > 0.0 {
                    let f = (half - acc) / l;
                    return Point::new(
                        w[0][0] + f * (w[1][0] - w[0][0]),
                        w[0][1] + f * (w[1][1] - w[0][1]),
                    );
                }
                acc += l;
            }
            let p = e.shape[e.shape.len() / 2];
            Point::new(p[0], p[1])
        })
        .collect();
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    for s in project.features(&filter)? {
        let name = match &od.zone_field {
            None => s.feature.code.as_str().to_string(),
            Some(f) => match s.feature.attributes.get(f) {
                Some(AttrValue::Text(t)) => t.trim().to_string(),
                Some(AttrValue::Int(i)) => i.to_string(),
                Some(AttrValue::Real(r)) => r.to_string(),
                _ => continue,
            },
        };
        let edges = out.entry(name).or_default();
        if !matches!(
            s.feature.geometry,
            Geometry::Polygon(_) | Geometry::MultiPolygon(_)
        ) {
            continue;
        }
        for (k, m) in mids.iter().enumerate() {
            if s.feature.geometry.contains(m) {
                edges.push(k as u32);
            }
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    Ok(out)
}

/// The departure time of trip `i` of `n` drawn with `u` in [0, 1): inside its stratum of the
/// profile's distribution.
fn depart(od: &OdDemand, cumulative: &[f64], i: usize, n: usize, u: f64) -> f64 {
    let q = (i as f64 + u) / n as f64;
    let slices = cumulative.len();
    let k = cumulative.partition_point(|&c| c <= q).min(slices - 1);
    let below = if k == 0 { 0.0 } else { cumulative[k - 1] };
    let share = (cumulative[k] - below).max(1e-12);
    let width = (od.end_s - od.begin_s) / slices as f64;
    od.begin_s + (k as f64 + ((q - below) / share).clamp(0.0, 1.0 - 1e-9)) * width
}

/// The trips of an OD table over `net`, and notes on what was assumed.
pub fn od_trips(
    project: &Project,
    net: &Network,
    router: &Router,
    od: &OdDemand,
) -> Result<(Vec<TripSpec>, Vec<String>), ScenarioError> {
    let rows = read_od_table(&od.file)?;
    let zones = zone_edges(project, net, od)?;
    let shown = od.file.display();
    for r in &rows {
        for z in [&r.origin, &r.destination] {
            match zones.get(z) {
                None => {
                    return Err(ScenarioError::invalid(format!(
                        "{shown} line {}: zone '{z}' is not in layer '{}'{}",
                        r.line,
                        od.zones,
                        od.zone_field
                            .as_ref()
                            .map(|f| format!(" (by its field '{f}')"))
                            .unwrap_or_default()
                    )))
                }
                Some(e) if e.is_empty() && r.trips > 0.0 => {
                    return Err(ScenarioError::invalid(format!(
                        "{shown} line {}: zone '{z}' of layer '{}' has no road cars may use in it",
                        r.line, od.zones
                    )))
                }
                _ => {}
            }
        }
    }
    let profile: Vec<f64> = if od.profile.is_empty() {
        vec![1.0]
    } else {
        od.profile.clone()
    };
    let total: f64 = profile.iter().sum();
    let mut acc = 0.0;
    let cumulative: Vec<f64> = profile
        .iter()
        .map(|p| {
            acc += p / total;
            acc
        })
        .collect();
    let mut trips = Vec::new();
    let mut unrouted = 0usize;
    let mut rounded = false;
    for (row, r) in rows.iter().enumerate() {
        let want = r.trips * od.scale;
        let n = want.round() as usize;
        rounded |= (want - n as f64).abs() > 1e-9;
        if n == 0 {
            continue;
        }
        let (from_edges, to_edges) = (&zones[&r.origin], &zones[&r.destination]);
        let weights = |edges: &[u32]| {
            let mut a = 0.0;
            edges
                .iter()
                .map(|&e| {
                    a += net.edges[e as usize].length_m.max(0.1);
                    a
                })
                .collect::<Vec<f64>>()
        };
        let (wf, wt) = (weights(from_edges), weights(to_edges));
        let pick = |edges: &[u32], w: &[f64], u: f64| {
            let x = u * w[w.len() - 1];
            edges[w.partition_point(|&c| c <= x).min(edges.len() - 1)]
        };
        for i in 0..n {
            let key = ((row as u64) << 32) | i as u64;
            let t = depart(od, &cumulative, i, n, mix(od.seed, key, 0));
            let mut found = None;
            for attempt in 0..20u64 {
                let a = pick(from_edges, &wf, mix(od.seed, key, 1 + 2 * attempt));
                let b = pick(to_edges, &wt, mix(od.seed, key, 2 + 2 * attempt));
                if a == b {
                    continue;
                }
                if let Some(route) = router.route(a, b, None) {
                    found = Some((a, b, route));
                    break;
                }
            }
            let (from, to, route) = match found {
                Some((a, b, r)) => (a, b, Some(r)),
                None => {
                    unrouted += 1;
                    (
                        pick(from_edges, &wf, mix(od.seed, key, 1)),
                        pick(to_edges, &wt, mix(od.seed, key, 2)),
                        None,
                    )
                }
            };
            trips.push(TripSpec {
                id: format!("od{}_{}_{}", r.line, r.origin, i),
                depart_s: t,
                from,
                to,
                route,
            });
        }
    }
    let mut notes = vec![format!(
        "{}: {} trips between {} zones of layer '{}'",
        shown,
        trips.len(),
        zones.values().filter(|e| !e.is_empty()).count(),
        od.zones
    )];
    if rounded {
        notes.push(format!("{shown}: trip counts rounded to whole trips"));
    }
    if unrouted > 0 {
        notes.push(format!(
            "{shown}: {unrouted} trip(s) between zones no route joins (parts of the network not connected); counted undelivered"
        ));
    }
    trips.sort_by(|a, b| a.depart_s.total_cmp(&b.depart_s));
    Ok((trips, notes))
}
