//! The project's road network, and a traffic scenario's demand, as SUMO files, so SUMO runs
//! the case cim runs:
//! - `cim.nod.xml`, `cim.edg.xml`, `cim.con.xml`, `cim.tll.xml`: the network in SUMO's plain
//!   XML (junctions with their control, edges with lanes, speed, length and shape, every lane
//!   connection, the fixed-time signal programs cim drives), with a `<location>` that places
//!   it in the project CRS; `netconvert -c cim.netccfg` builds `cim.net.xml` from them;
//! - with a scenario: `cim.rou.xml` (the vehicle type and every trip on the route cim gives it
//!   at departure), `cim.closures.add.xml` (a rerouter for each closed road) and
//!   `cim.sumocfg` (`sumo -c cim.sumocfg`).
//!
//! Everything is written into a folder beside the target and renamed into place at the end,
//! so a failed export leaves nothing half-written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cim_engine::network::{Control, Network, NetworkOptions, Yield};
use cim_engine::Project;

use super::config::TrafficConfig;
use super::net::SimNet;
use super::run::prepare;
use crate::ScenarioError;

/// What was written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SumoExport {
    pub dir: PathBuf,
    /// File names written, in the folder.
    pub files: Vec<String>,
    pub junctions: usize,
    pub edges: usize,
    pub connections: usize,
    pub programs: usize,
    /// Vehicles written to the route file (with a scenario).
    pub vehicles: usize,
    /// Roads with a closure written as rerouters.
    pub closed_edges: usize,
    /// What SUMO will do differently, or what was left out.
    pub notes: Vec<String>,
}

/// XML attribute text.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// Junction ids: the OSM node (or SUMO junction) number where the junction stands on one,
/// else `j<index>`.
fn junction_ids(net: &Network) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    net.junctions
        .iter()
        .enumerate()
        .map(|(k, j)| match j.osm_node {
            Some(n) if seen.insert(n) => n.to_string(),
            _ => format!("j{k}"),
        })
        .collect()
}

/// Writes the network of `project` (and the demand and closures of `scenario`, when given)
/// into the new folder `dir`.
pub fn export_sumo(
    project: &Project,
    scenario: Option<&TrafficConfig>,
    dir: &Path,
) -> Result<SumoExport, ScenarioError> {
    if dir.exists() {
        return Err(ScenarioError::invalid(format!(
            "{}: already exists",
            dir.display()
        )));
    }
    let prepared = match scenario {
        Some(c) => Some(prepare(c, project)?),
        None => None,
    };
    let owned;
    let net = match &prepared {
        Some(p) => &p.network,
        None => {
            owned = project.build_network(&NetworkOptions::default())?;
            &owned
        }
    };
    if net.edges.is_empty() {
        return Err(ScenarioError::invalid(format!(
            "{}: no road cars may use in the project's road layers (import OSM or a road layer first)",
            project.path().display()
        )));
    }
    let sim = match &prepared {
        Some(p) => p.sim_net.clone(),
        None => SimNet::new(net),
    };
    let ids = junction_ids(net);
    let edge_ids: Vec<String> = net.edges.iter().map(|e| esc(&e.sumo_id())).collect();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    let header = |what: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- {what} of {}, written by cim {} -->\n",
            esc(&project.path().display().to_string()),
            env!("CARGO_PKG_VERSION")
        )
    };

    // Nodes, in net coordinates: the project CRS less the network's lower-left corner.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for e in &net.edges {
        for p in &e.shape {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
    }
    let crs = project.crs();
    let proj = if crs.is_projected_metres() && !crs.proj4().is_empty() {
        crs.proj4().to_string()
    } else {
        notes.push(format!(
            "the project CRS ({}) is not a projected CRS in metres that SUMO can take: the network is written unprojected",
            crs.display_name()
        ));
        "!".to_string()
    };
    let mut nod = header("Junctions");
    nod.push_str("<nodes>\n");
    let _ = writeln!(
        nod,
        "    <location netOffset=\"{:.2},{:.2}\" convBoundary=\"0.00,0.00,{:.2},{:.2}\" origBoundary=\"{:.2},{:.2},{:.2},{:.2}\" projParameter=\"{}\"/>",
        -x0,
        -y0,
        x1 - x0,
        y1 - y0,
        x0,
        y0,
        x1,
        y1,
        esc(&proj)
    );
    for (k, j) in net.junctions.iter().enumerate() {
        let signalled = j
            .controller
            .is_some_and(|c| !sim.programs[c as usize].links.is_empty());
        let (kind, tl) = match j.control {
            Control::Signals if signalled => (
                "traffic_light",
                j.controller.map(|c| format!(" tl=\"c{c}\"")).unwrap_or_default(),
            ),
            Control::AllWayStop => ("allway_stop", String::new()),
            Control::DeadEnd => ("dead_end", String::new()),
            Control::Priority | Control::Signals => {
                let stop = j
                    .incoming
                    .iter()
                    .any(|&e| net.edges[e as usize].yields == Yield::Stop);
                (if stop { "priority_stop" } else { "priority" }, String::new())
            }
        };
        let _ = writeln!(
            nod,
            "    <node id=\"{}\" x=\"{:.2}\" y=\"{:.2}\" type=\"{kind}\"{tl}/>",
            esc(&ids[k]),
            j.x - x0,
            j.y - y0
        );
    }
    nod.push_str("</nodes>\n");
    files.push(("cim.nod.xml".into(), nod));

    // Edges: lanes spread to the right of the line, as cim drives them.
    let mut edg = header("Edges");
    edg.push_str("<edges>\n");
    for (k, e) in net.edges.iter().enumerate() {
        let shape: Vec<String> = e
            .shape
            .iter()
            .map(|p| format!("{:.2},{:.2}", p[0] - x0, p[1] - y0))
            .collect();
        let _ = writeln!(
            edg,
            "    <edge id=\"{}\" from=\"{}\" to=\"{}\" priority=\"{}\" numLanes=\"{}\" speed=\"{:.2}\" length=\"{:.2}\" shape=\"{}\" spreadType=\"right\" name=\"{}\"/>",
            edge_ids[k],
            esc(&ids[e.from as usize]),
            esc(&ids[e.to as usize]),
            e.priority,
            e.lanes.max(1),
            e.speed_m_s,
            e.length_m.max(0.1),
            shape.join(" "),
            esc(&e.code)
        );
    }
    edg.push_str("</edges>\n");
    files.push(("cim.edg.xml".into(), edg));

    // Connections, every one, so netconvert guesses none.
    let mut con = header("Lane connections");
    con.push_str("<connections>\n");
    let mut has_out = vec![false; net.edges.len()];
    for c in &net.connections {
        has_out[c.from_edge as usize] = true;
        let _ = writeln!(
            con,
            "    <connection from=\"{}\" to=\"{}\" fromLane=\"{}\" toLane=\"{}\"/>",
            edge_ids[c.from_edge as usize], edge_ids[c.to_edge as usize], c.from_lane, c.to_lane
        );
    }
    con.push_str("</connections>\n");
    files.push(("cim.con.xml".into(), con));
    // Edges cim gives no way on from, though their junction has roads leaving it.
    let dead = (0..net.edges.len())
        .filter(|&e| !has_out[e] && !net.junctions[net.edges[e].to as usize].outgoing.is_empty())
        .count();
    if dead > 0 {
        notes.push(format!(
            "{dead} edge(s) lead nowhere in cim; netconvert adds its own connections to them"
        ));
    }

    // Signal programs: the states cim drives, linked connection by connection.
    let mut tll = header("Signal programs");
    tll.push_str("<tlLogics>\n");
    for (ci, p) in sim.programs.iter().enumerate() {
        if p.links.is_empty() {
            continue;
        }
        let _ = writeln!(
            tll,
            "    <tlLogic id=\"c{ci}\" type=\"{}\" programID=\"0\" offset=\"{:.0}\">",
            if p.actuated.is_some() {
                "actuated"
            } else {
                "static"
            },
            p.offset_s
        );
        if let Some(a) = p.actuated {
            let _ = writeln!(tll, "        <param key=\"max-gap\" value=\"{}\"/>", a.gap_s);
        }
        for (k, (d, s)) in p.phases.iter().enumerate() {
            match p.actuated {
                Some(a) if p.is_green(k) => {
                    let _ = writeln!(
                        tll,
                        "        <phase duration=\"{d}\" minDur=\"{}\" maxDur=\"{}\" state=\"{s}\"/>",
                        a.min_s, a.max_s
                    );
                }
                _ => {
                    let _ = writeln!(tll, "        <phase duration=\"{d}\" state=\"{s}\"/>");
                }
            }
        }
        tll.push_str("    </tlLogic>\n");
    }
    for (ci, p) in sim.programs.iter().enumerate() {
        for (k, &l) in p.links.iter().enumerate() {
            let c = &net.connections[l as usize];
            let _ = writeln!(
                tll,
                "    <connection from=\"{}\" to=\"{}\" fromLane=\"{}\" toLane=\"{}\" tl=\"c{ci}\" linkIndex=\"{k}\"/>",
                edge_ids[c.from_edge as usize], edge_ids[c.to_edge as usize], c.from_lane, c.to_lane
            );
        }
    }
    tll.push_str("</tlLogics>\n");
    files.push(("cim.tll.xml".into(), tll));
    files.push((
        "cim.netccfg".into(),
        format!(
            "{}<netconvertConfiguration>\n    <input>\n        <node-files value=\"cim.nod.xml\"/>\n        <edge-files value=\"cim.edg.xml\"/>\n        <connection-files value=\"cim.con.xml\"/>\n        <tllogic-files value=\"cim.tll.xml\"/>\n    </input>\n    <output>\n        <output-file value=\"cim.net.xml\"/>\n    </output>\n    <processing>\n        <offset.disable-normalization value=\"true\"/>\n    </processing>\n</netconvertConfiguration>\n",
            header("netconvert: build cim.net.xml")
        ),
    ));

    let mut vehicles = 0;
    let mut closed_edges = 0;
    if let (Some(c), Some(p)) = (scenario, &prepared) {
        let d = &c.driver;
        let mut rou = header(&format!("Demand of scenario '{}'", c.name));
        rou.push_str("<routes>\n");
        let _ = writeln!(
            rou,
            "    <vType id=\"cim\" carFollowModel=\"{}\" length=\"{}\" minGap=\"{}\" accel=\"{}\" decel=\"{}\" sigma=\"{}\" tau=\"{}\" speedDev=\"{}\"/>",
            if d.car_following == "idm" { "IDM" } else { "Krauss" },
            d.length_m,
            d.min_gap_m,
            d.accel,
            d.decel,
            d.sigma,
            d.tau_s,
            d.speed_dev
        );
        let mut order: Vec<usize> = (0..p.trips.len()).collect();
        order.sort_by(|&a, &b| {
            p.trips[a]
                .depart_s
                .total_cmp(&p.trips[b].depart_s)
                .then(a.cmp(&b))
        });
        let mut unrouted = 0;
        for k in order {
            let t = &p.trips[k];
            if t.route.is_empty() {
                unrouted += 1;
                continue;
            }
            let edges: Vec<&str> = t.route.iter().map(|&e| edge_ids[e as usize].as_str()).collect();
            let _ = writeln!(
                rou,
                "    <vehicle id=\"{}\" type=\"cim\" depart=\"{:.2}\" departLane=\"best\" departPos=\"last\" departSpeed=\"max\">\n        <route edges=\"{}\"/>\n    </vehicle>",
                esc(&t.id),
                t.depart_s,
                edges.join(" ")
            );
            vehicles += 1;
        }
        rou.push_str("</routes>\n");
        files.push(("cim.rou.xml".into(), rou));
        if unrouted > 0 {
            notes.push(format!(
                "{unrouted} trip(s) have no route in this network (undelivered in cim); left out of cim.rou.xml"
            ));
        }
        let end = p.duration_s;
        let all: Vec<&str> = edge_ids.iter().map(String::as_str).collect();
        let mut add = header("Closures as rerouters");
        add.push_str("<additional>\n");
        for (e, iv) in p.closures.iter().enumerate() {
            if iv.is_empty() {
                continue;
            }
            closed_edges += 1;
            let _ = writeln!(
                add,
                "    <rerouter id=\"closed_{}\" edges=\"{}\">",
                edge_ids[e],
                all.join(" ")
            );
            for &(a, b) in iv {
                let _ = writeln!(
                    add,
                    "        <interval begin=\"{a:.0}\" end=\"{:.0}\"><closingReroute id=\"{}\"/></interval>",
                    b.unwrap_or(end).min(end),
                    edge_ids[e]
                );
            }
            add.push_str("    </rerouter>\n");
        }
        add.push_str("</additional>\n");
        files.push(("cim.closures.add.xml".into(), add));
        files.push((
            "cim.sumocfg".into(),
            format!(
                "{}<sumoConfiguration>\n    <input>\n        <net-file value=\"cim.net.xml\"/>\n        <route-files value=\"cim.rou.xml\"/>\n        <additional-files value=\"cim.closures.add.xml\"/>\n    </input>\n    <time>\n        <begin value=\"0\"/>\n        <end value=\"{end:.0}\"/>\n        <step-length value=\"{}\"/>\n    </time>\n    <processing>\n        <time-to-teleport value=\"{}\"/>\n    </processing>\n    <random_number>\n        <seed value=\"{}\"/>\n    </random_number>\n</sumoConfiguration>\n",
                header(&format!("SUMO: scenario '{}' (build cim.net.xml first: netconvert -c cim.netccfg)", c.name)),
                c.parameters.step_s,
                // cim's teleporting, as SUMO's (off: -1).
                if c.parameters.teleport_after_s > 0.0 {
                    format!("{}", c.parameters.teleport_after_s)
                } else {
                    "-1".into()
                },
                c.seed % (1 << 31)
            ),
        ));
    }

    // Written beside the target, then renamed into place.
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.with_file_name(format!(".{name}.cim-tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&tmp)?;
        for (f, text) in &files {
            std::fs::write(tmp.join(f), text)?;
        }
        std::fs::rename(&tmp, dir)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(ScenarioError::io(dir, e));
    }
    Ok(SumoExport {
        dir: dir.to_path_buf(),
        files: files.into_iter().map(|f| f.0).collect(),
        junctions: net.junctions.len(),
        edges: net.edges.len(),
        connections: net.connections.len(),
        programs: sim.programs.iter().filter(|p| !p.links.is_empty()).count(),
        vehicles,
        closed_edges,
        notes,
    })
}
