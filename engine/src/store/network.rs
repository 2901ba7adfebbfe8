//! The road network in the project: built from the road layers ([`Project::build_network`]),
//! stored as GeoPackage tables QGIS opens beside the layers — `cim_net_edges` (lines, one per
//! direction), `cim_net_junctions` (points with their control), `cim_net_signals` (one point
//! per signal controller), `cim_net_connections` (lane to lane, a plain table) — and a summary
//! row in `cim_network` (when, from which layers, with what options, the counts and notes).
//! Saving replaces the tables whole in one transaction.

use super::{Project, SqlContext};
use crate::error::Result;
use crate::network::{
    ban_turns, build, change_roads, new_roads, Network, NetworkEdits, NetworkOptions, NetworkStats, RoadIn,
};
use crate::{FeatureFilter, FeatureKind};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::Path;

/// What `cim info` shows of a stored network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkSummary {
    /// ISO 8601, UTC.
    pub built: String,
    pub layers: Vec<String>,
    pub stats: NetworkStats,
    /// Junctions by control (`traffic_signals`, `priority`…), sorted.
    pub controls: Vec<(String, u64)>,
    pub notes: Vec<String>,
}

const TABLES: [&str; 4] = [
    "cim_net_edges",
    "cim_net_junctions",
    "cim_net_signals",
    "cim_net_connections",
];

fn drop_table(tx: &Connection, path: &Path, t: &str) -> Result<()> {
    for sql in [
        "DELETE FROM gpkg_geometry_columns WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
    ] {
        tx.execute(sql, [t]).ctx(path)?;
    }
    tx.execute_batch(&format!("DROP TABLE IF EXISTS {t}")).ctx(path)
}

/// Creates a table registered in `gpkg_contents`, with a geometry column where `geom` names
/// its type.
fn create_table(
    tx: &Connection,
    path: &Path,
    t: &str,
    geom: Option<&str>,
    columns: &str,
    srs_id: i32,
    what: &str,
) -> Result<()> {
    let g = geom.map_or(String::new(), |g| format!("geom {g}, "));
    tx.execute_batch(&format!(
        "CREATE TABLE {t} (fid INTEGER PRIMARY KEY, {g}{columns})"
    ))
    .ctx(path)?;
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
         VALUES (?1, ?2, ?1, ?3, ?4)",
        params![
            t,
            if geom.is_some() { "features" } else { "attributes" },
            what,
            srs_id
        ],
    )
    .ctx(path)?;
    if let Some(g) = geom {
        tx.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
            params![t, g, srs_id],
        )
        .ctx(path)?;
    }
    Ok(())
}

fn set_extent(tx: &Connection, path: &Path, t: &str, e: Option<[f64; 4]>) -> Result<()> {
    if let Some([x0, y0, x1, y1]) = e {
        tx.execute(
            "UPDATE gpkg_contents SET min_x = ?2, min_y = ?3, max_x = ?4, max_y = ?5 WHERE table_name = ?1",
            params![t, x0, y0, x1, y1],
        )
        .ctx(path)?;
    }
    Ok(())
}

fn widen(e: &mut Option<[f64; 4]>, x: f64, y: f64) {
    let b = e.get_or_insert([x, y, x, y]);
    *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
}

impl Project {
    /// Builds the road network from the project's road layers (or those `opts` names): every
    /// road feature cars may use, read in layer and feature order.
    pub fn build_network(&self, opts: &NetworkOptions) -> Result<Network> {
        self.build_network_edited(opts, &NetworkEdits::default())
    }

    /// The network with a scenario's what-if `edits`: roads' lanes and speeds changed before it
    /// is built, roads added (ending on the junctions of the network as it was), turns banned.
    /// A road code that is not there, an added road far from any junction, or a ban that bans
    /// nothing is an error naming it.
    pub fn build_network_edited(&self, opts: &NetworkOptions, edits: &NetworkEdits) -> Result<Network> {
        let filter = FeatureFilter {
            layers: opts.layers.clone(),
            kinds: if opts.layers.is_some() {
                None
            } else {
                Some(vec![FeatureKind::Road])
            },
            ..FeatureFilter::default()
        };
        let mut roads = Vec::new();
        let (mut total, mut not_drivable, mut no_line) = (0u64, 0u64, 0u64);
        self.for_each_feature(&filter, |f| {
            total += 1;
            let a = &f.feature.attributes;
            match RoadIn::read(
                f.feature.code.to_string(),
                f.feature.source_key.clone(),
                f.layer.clone(),
                &f.feature.geometry,
                a,
            ) {
                None => no_line += 1,
                Some(r) if !r.drivable(a) => not_drivable += 1,
                Some(r) => roads.push(r),
            }
            Ok(())
        })?;
        change_roads(&mut roads, edits)?;
        if !edits.add.is_empty() {
            let base = build(roads.clone(), opts);
            roads.extend(new_roads(&base, edits, "what-if")?);
        }
        let mut net = build(roads, opts);
        ban_turns(&mut net, edits)?;
        for a in &edits.add {
            net.notes.push(format!(
                "what-if: road {} added ({} lane(s) a direction, {:.0} km/h{})",
                a.code,
                a.lanes,
                a.speed_m_s * 3.6,
                if a.oneway { ", one way" } else { "" }
            ));
        }
        for c in &edits.change {
            net.notes.push(format!(
                "what-if: road {} changed{}{}",
                c.code,
                c.lanes
                    .map(|n| format!(", {n} lane(s) a direction"))
                    .unwrap_or_default(),
                c.speed_m_s
                    .map(|v| format!(", {:.0} km/h", v * 3.6))
                    .unwrap_or_default()
            ));
        }
        net.stats.roads = total;
        net.stats.roads_not_drivable = not_drivable;
        net.stats.roads_without_line = no_line;
        Ok(net)
    }

    /// Stores `net` (built from `layers`) as the project's network, replacing the one before.
    pub fn save_network(&mut self, net: &Network, layers: &[String]) -> Result<()> {
        let path = self.meta.path.clone();
        let srs = self.meta.srs_id;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(&path)?;
        for t in TABLES {
            drop_table(&tx, &path, t)?;
        }
        create_table(
            &tx,
            &path,
            "cim_net_edges",
            Some("LINESTRING"),
            "edge INTEGER NOT NULL, code TEXT NOT NULL, direction TEXT NOT NULL, from_junction INTEGER NOT NULL,
             to_junction INTEGER NOT NULL, lanes INTEGER NOT NULL, speed_m_s REAL NOT NULL, speed_kmh REAL NOT NULL,
             length_m REAL NOT NULL, class TEXT NOT NULL, priority INTEGER NOT NULL, yields TEXT NOT NULL,
             lanes_from TEXT NOT NULL, speed_from TEXT NOT NULL, turn_lanes TEXT",
            srs,
            "road network: one line per direction of each road piece between junctions",
        )?;
        create_table(
            &tx,
            &path,
            "cim_net_junctions",
            Some("POINT"),
            "junction INTEGER NOT NULL, control TEXT NOT NULL, controller INTEGER, osm_node INTEGER,
             incoming INTEGER NOT NULL, outgoing INTEGER NOT NULL",
            srs,
            "road network: junctions and their control",
        )?;
        create_table(
            &tx,
            &path,
            "cim_net_signals",
            Some("POINT"),
            "controller INTEGER NOT NULL, junctions TEXT NOT NULL, approaches INTEGER NOT NULL",
            srs,
            "road network: signal controllers (junctions close together share one)",
        )?;
        create_table(
            &tx,
            &path,
            "cim_net_connections",
            None,
            "from_edge INTEGER NOT NULL, from_lane INTEGER NOT NULL, to_edge INTEGER NOT NULL,
             to_lane INTEGER NOT NULL, turn TEXT NOT NULL, junction INTEGER NOT NULL",
            srs,
            "road network: lane-to-lane connections (turn: s straight, r right, l left, t U-turn)",
        )?;
        let mut extent = None;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO cim_net_edges VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )
                .ctx(&path)?;
            for (k, e) in net.edges.iter().enumerate() {
                let line = geo::LineString::from(e.shape.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>());
                for p in &e.shape {
                    widen(&mut extent, p[0], p[1]);
                }
                let blob = crate::gpkg::encode_geometry(&geo::Geometry::LineString(line), srs);
                let from = |d: bool| if d { "class" } else { "road" };
                ins.execute(params![
                    k as i64 + 1,
                    blob,
                    k as i64,
                    e.code,
                    if e.backward { "backward" } else { "forward" },
                    e.from,
                    e.to,
                    e.lanes,
                    e.speed_m_s,
                    (e.speed_m_s * 3.6 * 100.0).round() / 100.0,
                    e.length_m,
                    e.class,
                    e.priority,
                    e.yields.name(),
                    from(e.lanes_default),
                    from(e.speed_default),
                    e.turn_lanes.as_ref().map(|t| t.join("|")),
                ])
                .ctx(&path)?;
            }
            let mut ins = tx
                .prepare("INSERT INTO cim_net_junctions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .ctx(&path)?;
            for (k, j) in net.junctions.iter().enumerate() {
                let blob =
                    crate::gpkg::encode_geometry(&geo::Geometry::Point(geo::Point::new(j.x, j.y)), srs);
                ins.execute(params![
                    k as i64 + 1,
                    blob,
                    k as i64,
                    j.control.name(),
                    j.controller,
                    j.osm_node,
                    j.incoming.len() as i64,
                    j.outgoing.len() as i64
                ])
                .ctx(&path)?;
            }
            let mut ins = tx
                .prepare("INSERT INTO cim_net_signals VALUES (?1, ?2, ?3, ?4, ?5)")
                .ctx(&path)?;
            for (k, c) in net.controllers.iter().enumerate() {
                let blob =
                    crate::gpkg::encode_geometry(&geo::Geometry::Point(geo::Point::new(c.x, c.y)), srs);
                let ids: Vec<String> = c.junctions.iter().map(u32::to_string).collect();
                let approaches: usize = c
                    .junctions
                    .iter()
                    .map(|&j| net.junctions[j as usize].incoming.len())
                    .sum();
                ins.execute(params![
                    k as i64 + 1,
                    blob,
                    k as i64,
                    ids.join(" "),
                    approaches as i64
                ])
                .ctx(&path)?;
            }
            let mut ins = tx
                .prepare("INSERT INTO cim_net_connections VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6)")
                .ctx(&path)?;
            for c in &net.connections {
                ins.execute(params![
                    c.from_edge,
                    c.from_lane,
                    c.to_edge,
                    c.to_lane,
                    c.turn.letter(),
                    net.edges[c.from_edge as usize].to
                ])
                .ctx(&path)?;
            }
        }
        for t in ["cim_net_edges", "cim_net_junctions", "cim_net_signals"] {
            set_extent(&tx, &path, t, extent)?;
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS cim_network (id INTEGER PRIMARY KEY CHECK (id = 1), built TEXT NOT NULL,
               layers TEXT NOT NULL, stats TEXT NOT NULL, controls TEXT NOT NULL, notes TEXT NOT NULL)",
        )
        .ctx(&path)?;
        let mut controls: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for j in &net.junctions {
            *controls.entry(j.control.name()).or_default() += 1;
        }
        let json = |v: serde_json::Value| v.to_string();
        tx.execute(
            "INSERT OR REPLACE INTO cim_network VALUES (1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?1, ?2, ?3, ?4)",
            params![
                json(serde_json::json!(layers)),
                json(serde_json::to_value(&net.stats).unwrap_or_default()),
                json(serde_json::json!(controls)),
                json(serde_json::json!(net.notes)),
            ],
        )
        .ctx(&path)?;
        tx.commit().ctx(&path)
    }

    /// The stored network's summary, if the project has one.
    pub fn network_summary(&self) -> Result<Option<NetworkSummary>> {
        let path = &self.meta.path;
        if !super::manage::table_exists(&self.conn, path, "cim_network")? {
            return Ok(None);
        }
        let row = self
            .conn
            .query_row(
                "SELECT built, layers, stats, controls, notes FROM cim_network WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .ctx(path)?;
        let Some((built, layers, stats, controls, notes)) = row else {
            return Ok(None);
        };
        let controls: std::collections::BTreeMap<String, u64> =
            serde_json::from_str(&controls).unwrap_or_default();
        Ok(Some(NetworkSummary {
            built,
            layers: serde_json::from_str(&layers).unwrap_or_default(),
            stats: serde_json::from_str(&stats).unwrap_or_default(),
            controls: controls.into_iter().collect(),
            notes: serde_json::from_str(&notes).unwrap_or_default(),
        }))
    }
}
