//! A stored traffic run played back: vehicles placed on their lanes between the stored frames,
//! roads coloured by the speed or the congestion of their 5-minute flows, and the run's KPIs
//! over time. Plain data read from the run's tables (`cim_run_edges`, `cim_run_vehicles`,
//! `cim_run_road_flows`) and summary, so it is tested without a GPU.

use std::collections::HashMap;

use cim_engine::network::frames::{decode_frame, VehiclePos};
use cim_engine::{Cell, Raster, ResultTable, RunRecord, RunSummary};

use crate::model::flood::linear;
use crate::model::load::LANE_WIDTH_M;
use crate::model::scene::{ground, LocalOrigin, MeshData, DRAPE_LIFT_M};
use crate::model::source::{run_named, DataSource};

/// A vehicle as drawn: a box this long behind its front, this wide and high, m.
pub const VEHICLE_LENGTH_M: f64 = 4.5;
pub const VEHICLE_WIDTH_M: f64 = 1.8;
pub const VEHICLE_HEIGHT_M: f64 = 1.5;

/// One directed edge of the run's network, as the run stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEdge {
    pub code: String,
    pub backward: bool,
    pub part: i64,
    pub lanes: u8,
    /// Its length in the model, m (positions along it are in these metres).
    pub length_m: f64,
    /// Its speed limit, m/s (runs stored before it was kept: the fastest mean speed seen on it).
    pub speed_m_s: Option<f64>,
    /// Its line in the project CRS, in the direction of travel.
    pub shape: Vec<[f64; 2]>,
    /// Distance along the shape at each of its points, m.
    along: Vec<f64>,
    /// Whether the same road runs the other way too: its lanes then lie right of the line
    /// (the road's centre); else they lie either side of it.
    pub two_way: bool,
}

impl RunEdge {
    fn shape_length(&self) -> f64 {
        self.along.last().copied().unwrap_or(0.0)
    }

    /// How far right of the edge's line the middle of lane `lane` (counted from the right,
    /// fractional while a vehicle changes lanes) lies, m.
    pub fn lane_offset_m(&self, lane: f64) -> f64 {
        let n = f64::from(self.lanes.max(1));
        if self.two_way {
            (n - lane - 0.5) * LANE_WIDTH_M
        } else {
            (0.5 * n - lane - 0.5) * LANE_WIDTH_M
        }
    }

    /// Where a vehicle whose front is `pos_m` along the edge (model metres, clamped to the
    /// edge) in lane `lane` is: its point in the project CRS and its unit direction of travel.
    /// `None` for an edge without a line.
    pub fn place(&self, pos_m: f64, lane: f64) -> Option<([f64; 2], [f64; 2])> {
        let total = self.shape_length();
        if self.shape.len() < 2 || total <= 0.0 {
            return None;
        }
        // The model's length and the drawn line's may differ a little (junction areas cut).
        let s = (pos_m.max(0.0) * total / self.length_m.max(1e-9)).min(total);
        let k = self
            .along
            .partition_point(|&a| a <= s)
            .clamp(1, self.shape.len() - 1);
        let (a, b) = (self.shape[k - 1], self.shape[k]);
        let seg = self.along[k] - self.along[k - 1];
        let f = if seg > 0.0 {
            (s - self.along[k - 1]) / seg
        } else {
            0.0
        };
        let d = [(b[0] - a[0]) / seg.max(1e-12), (b[1] - a[1]) / seg.max(1e-12)];
        let off = self.lane_offset_m(lane);
        // Right of the direction of travel.
        let right = [d[1], -d[0]];
        Some((
            [
                a[0] + (b[0] - a[0]) * f + right[0] * off,
                a[1] + (b[1] - a[1]) * f + right[1] * off,
            ],
            d,
        ))
    }
}

/// The state of the traffic at one output time of a run (its summary's snapshots).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficKpi {
    pub time_s: f64,
    /// Vehicles on the roads.
    pub running: u64,
    pub arrived: u64,
    /// Vehicles that have not moved for the stuck time.
    pub stuck: u64,
    /// Trips left without a route so far (runs stored before it was kept: 0).
    pub undelivered: u64,
    /// Mean speed of the vehicles on the roads, m/s.
    pub mean_speed_m_s: f64,
}

/// [`TrafficKpi`]s from a traffic run's typed summary, in time order.
pub fn traffic_kpis(summary: &RunSummary) -> Vec<TrafficKpi> {
    summary
        .snapshots
        .iter()
        .map(|s| {
            let v = |k: &str| s.values.get(k).copied().unwrap_or(0.0);
            TrafficKpi {
                time_s: s.time_s,
                running: v("running") as u64,
                arrived: v("arrived") as u64,
                stuck: v("stuck") as u64,
                undelivered: v("undelivered") as u64,
                mean_speed_m_s: v("mean_speed_m_s"),
            }
        })
        .collect()
}

/// The alerts the command hall shows for the traffic state `k`.
pub fn traffic_alerts(k: &TrafficKpi, lang: crate::model::i18n::Lang) -> Vec<String> {
    let mut out = Vec::new();
    if k.undelivered > 0 {
        out.push(format!("{} {}", k.undelivered, lang.t("alert_undelivered")));
    }
    if k.stuck > 0 {
        out.push(format!("{} {}", k.stuck, lang.t("alert_stuck")));
    }
    if k.running > 0 && k.mean_speed_m_s < 15.0 / 3.6 {
        out.push(format!(
            "{}: {:.0} km/h",
            lang.t("alert_slow"),
            k.mean_speed_m_s * 3.6
        ));
    }
    out
}

/// A road's state over one flow interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowCell {
    /// Mean speed of the vehicles on it, m/s (`None`: vehicles entered or left, none was
    /// seen on it).
    pub mean_speed_m_s: Option<f32>,
    /// Vehicles per km (all lanes).
    pub density_veh_km: f32,
}

/// How the roads of a traffic run are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoadColour {
    /// Mean speed against the speed limit.
    #[default]
    Speed,
    /// Vehicles per km and lane (the Highway Capacity Manual's levels of service).
    Congestion,
}

/// The four road classes, free to jammed, in sRGB: green, yellow, orange, red.
const ROAD_CLASS_SRGB: [[u8; 3]; 4] = [[40, 170, 70], [235, 200, 40], [245, 125, 25], [200, 25, 30]];

/// Linear RGBA of road class `k` (0 free … 3 jammed).
pub fn road_class_color(k: usize) -> [f32; 4] {
    let [r, g, b] = ROAD_CLASS_SRGB[k.min(3)];
    [linear(r), linear(g), linear(b), 1.0]
}

/// The class (0 free … 3 jammed) of a speed `ratio` of the limit.
pub fn speed_class(ratio: f64) -> usize {
    match ratio {
        r if r >= 0.75 => 0,
        r if r >= 0.5 => 1,
        r if r >= 0.25 => 2,
        _ => 3,
    }
}

/// Density classes' upper bounds, vehicles per km and lane: about the Highway Capacity
/// Manual's levels of service A–B, C, D–E, F.
pub const DENSITY_BOUNDS: [f64; 3] = [11.0, 16.0, 28.0];

/// The class (0 free … 3 jammed) of `veh_km_lane` vehicles per km and lane.
pub fn density_class(veh_km_lane: f64) -> usize {
    DENSITY_BOUNDS.iter().position(|b| veh_km_lane < *b).unwrap_or(3)
}

/// The legend of the roads coloured `by`: (label, colour) free to jammed.
pub fn road_legend(by: RoadColour) -> Vec<(String, [f32; 4])> {
    let labels: [String; 4] = match by {
        RoadColour::Speed => [
            "≥ 75 %".into(),
            "50–75 %".into(),
            "25–50 %".into(),
            "< 25 %".into(),
        ],
        RoadColour::Congestion => {
            let [a, b, c] = DENSITY_BOUNDS;
            [
                format!("< {a:.0}"),
                format!("{a:.0}–{b:.0}"),
                format!("{b:.0}–{c:.0}"),
                format!("≥ {c:.0}"),
            ]
        }
    };
    labels
        .into_iter()
        .enumerate()
        .map(|(k, l)| (l, road_class_color(k)))
        .collect()
}

/// A vehicle placed for drawing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlacedVehicle {
    pub trip: u32,
    /// Its front, in the project CRS.
    pub xy: [f64; 2],
    /// Unit direction of travel.
    pub dir: [f64; 2],
    pub speed_m_s: f64,
    /// The speed limit where it is, m/s (`None`: not known).
    pub limit_m_s: Option<f64>,
}

/// The two frames around the time shown, decoded once (playback asks for every screen frame).
#[derive(Default, Debug)]
pub struct FrameCache {
    k: Option<usize>,
    a: Vec<VehiclePos>,
    b: Vec<VehiclePos>,
    b_of: HashMap<u32, usize>,
}

/// A traffic run for playback.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficRun {
    pub name: String,
    pub edges: Vec<RunEdge>,
    /// (time s, deflated frame), in time order.
    pub frames: Vec<(f64, Vec<u8>)>,
    /// Per frame: vehicles on the roads and their mean speed, m/s (runs stored before the
    /// speed was kept: `None`).
    pub frame_stats: Vec<(u64, Option<f64>)>,
    /// The flow interval, s.
    pub bin_s: f64,
    /// Per flow interval, per edge: its state (`None`: no vehicle there then).
    pub flows: Vec<Vec<Option<FlowCell>>>,
    pub kpis: Vec<TrafficKpi>,
    /// The flood run whose closed roads it drove round (`[closures] flood_run`), and the
    /// delay it closed them after the water, s.
    pub flood_run: Option<String>,
    pub closure_delay_s: f64,
}

/// Column `name` of `t`, or an error naming the run, the table and the column.
fn column(t: &ResultTable, run: &str, name: &str) -> anyhow::Result<usize> {
    t.column(name)
        .ok_or_else(|| anyhow::anyhow!("run '{run}': table {} has no column '{name}'", t.name))
}

fn int(c: &Cell) -> Option<i64> {
    match c {
        Cell::Integer(v) => Some(*v),
        Cell::Real(v) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

impl TrafficRun {
    /// Run `name` from `source`: a clear error where it is not a traffic run or kept no vehicle
    /// positions.
    pub async fn load(source: &dyn DataSource, name: &str) -> anyhow::Result<TrafficRun> {
        let record = run_named(source, name).await?;
        if record.model != "traffic" {
            anyhow::bail!("run '{name}' is a {} run, not a traffic run", record.model);
        }
        let table = |t: &'static str| source.run_table(name.to_string(), t.to_string());
        let edges = table("cim_run_edges").await?;
        let vehicles = table("cim_run_vehicles").await?;
        let flows = table("cim_run_road_flows").await?;
        let (Some(edges), Some(vehicles)) = (edges, vehicles.filter(|v| !v.rows.is_empty())) else {
            anyhow::bail!(
                "run '{name}' kept no vehicle positions in {} (`positions_every_s = 0` under [time], or a run stored before they were kept): run it again to play it back",
                source.label()
            );
        };
        TrafficRun::from_tables(&record, &edges, &vehicles, flows.as_ref())
    }

    /// The run from its record and tables.
    pub fn from_tables(
        record: &RunRecord,
        edges: &ResultTable,
        vehicles: &ResultTable,
        flows: Option<&ResultTable>,
    ) -> anyhow::Result<TrafficRun> {
        let name = record.name.as_str();
        let bad = |table: &str, row: usize, what: &str| {
            anyhow::anyhow!("run '{name}': {table} row {}: {what}", row + 1)
        };
        let [e_edge, e_code, e_dir, e_part, e_lanes, e_len, e_shape] =
            ["edge", "code", "direction", "part", "lanes", "length_m", "shape"]
                .map(|c| column(edges, name, c));
        let (e_edge, e_code, e_dir, e_part, e_lanes, e_len, e_shape) =
            (e_edge?, e_code?, e_dir?, e_part?, e_lanes?, e_len?, e_shape?);
        let e_speed = edges.column("speed_m_s");
        let mut out: Vec<Option<RunEdge>> = vec![None; edges.rows.len()];
        for (r, row) in edges.rows.iter().enumerate() {
            let t = "cim_run_edges";
            let k = int(&row[e_edge])
                .and_then(|k| usize::try_from(k).ok())
                .filter(|k| *k < out.len())
                .ok_or_else(|| bad(t, r, "edge number missing or out of range"))?;
            let Cell::Blob(shape) = &row[e_shape] else {
                return Err(bad(t, r, "shape is not a blob"));
            };
            if shape.len() % 16 != 0 {
                return Err(bad(t, r, "shape is not x, y pairs of 8-byte floats"));
            }
            let f = |b: &[u8]| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_le_bytes(a)
            };
            let shape: Vec<[f64; 2]> = shape.chunks_exact(16).map(|p| [f(&p[..8]), f(&p[8..])]).collect();
            let mut along = Vec::with_capacity(shape.len());
            let mut s = 0.0;
            for (i, p) in shape.iter().enumerate() {
                if i > 0 {
                    s += (p[0] - shape[i - 1][0]).hypot(p[1] - shape[i - 1][1]);
                }
                along.push(s);
            }
            let lanes = int(&row[e_lanes])
                .and_then(|l| u8::try_from(l).ok())
                .ok_or_else(|| bad(t, r, "lanes missing or out of range"))?;
            out[k] = Some(RunEdge {
                code: row[e_code].text().unwrap_or_default().to_string(),
                backward: row[e_dir].text() == Some("backward"),
                part: int(&row[e_part]).unwrap_or(0),
                lanes,
                length_m: row[e_len].real().unwrap_or(0.0),
                speed_m_s: e_speed.and_then(|c| row[c].real()),
                shape,
                along,
                two_way: false,
            });
        }
        let mut edges_out = Vec::with_capacity(out.len());
        for (k, e) in out.into_iter().enumerate() {
            edges_out.push(e.ok_or_else(|| anyhow::anyhow!("run '{name}': cim_run_edges has no edge {k}"))?);
        }
        let mut edges = edges_out;
        let by_road: HashMap<(String, bool, i64), usize> = edges
            .iter()
            .enumerate()
            .map(|(k, e)| ((e.code.clone(), e.backward, e.part), k))
            .collect();
        for e in &mut edges {
            e.two_way = by_road.contains_key(&(e.code.clone(), !e.backward, e.part));
        }
        // Frames.
        let (v_t, v_frame) = (column(vehicles, name, "t")?, column(vehicles, name, "frame")?);
        let (v_n, v_speed) = (vehicles.column("vehicles"), vehicles.column("mean_speed_m_s"));
        let mut frames = Vec::with_capacity(vehicles.rows.len());
        for (r, row) in vehicles.rows.iter().enumerate() {
            let t = row[v_t]
                .real()
                .filter(|t| t.is_finite())
                .ok_or_else(|| bad("cim_run_vehicles", r, "no time"))?;
            let Cell::Blob(b) = &row[v_frame] else {
                return Err(bad("cim_run_vehicles", r, "frame is not a blob"));
            };
            let n = v_n.and_then(|c| int(&row[c])).unwrap_or(0).max(0) as u64;
            frames.push((t, b.clone(), (n, v_speed.and_then(|c| row[c].real()))));
        }
        frames.sort_by(|a, b| a.0.total_cmp(&b.0));
        let frame_stats = frames.iter().map(|f| f.2).collect();
        let frames: Vec<(f64, Vec<u8>)> = frames.into_iter().map(|(t, b, _)| (t, b)).collect();
        if frames.is_empty() {
            anyhow::bail!("run '{name}' kept no vehicle frames (it may have stopped before its first)");
        }
        let summary = RunSummary::of(record);
        let run = record.summary.get("run");
        let num = |k: &str| run.and_then(|r| r.get(k)).and_then(serde_json::Value::as_f64);
        let bin_s = num("flow_bin_s").filter(|b| *b > 0.0).unwrap_or(300.0);
        let flood_run = run
            .and_then(|r| r.get("flood_run"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let mut traffic = TrafficRun {
            name: name.to_string(),
            edges,
            frames,
            frame_stats,
            bin_s,
            flows: Vec::new(),
            kpis: traffic_kpis(&summary),
            flood_run,
            closure_delay_s: num("closure_delay_s").unwrap_or(0.0),
        };
        if let Some(flows) = flows {
            traffic.read_flows(flows, &by_road)?;
        }
        Ok(traffic)
    }

    fn read_flows(
        &mut self,
        flows: &ResultTable,
        by_road: &HashMap<(String, bool, i64), usize>,
    ) -> anyhow::Result<()> {
        let name = self.name.clone();
        let [code, dir, part, from, speed, density] = [
            "code",
            "direction",
            "part",
            "from_s",
            "mean_speed_m_s",
            "density_veh_km",
        ]
        .map(|c| column(flows, &name, c));
        let (code, dir, part, from, speed, density) = (code?, dir?, part?, from?, speed?, density?);
        let mut fastest = vec![0.0f64; self.edges.len()];
        for row in &flows.rows {
            let key = (
                row[code].text().unwrap_or_default().to_string(),
                row[dir].text() == Some("backward"),
                int(&row[part]).unwrap_or(0),
            );
            // Flows of roads the run's edges do not have cannot be drawn.
            let Some(&e) = by_road.get(&key) else { continue };
            let Some(bin) = row[from]
                .real()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| (t / self.bin_s).round() as usize)
            else {
                continue;
            };
            if bin >= 1 << 20 {
                continue;
            }
            if self.flows.len() <= bin {
                self.flows.resize(bin + 1, vec![None; self.edges.len()]);
            }
            let v = row[speed].real();
            if let Some(v) = v {
                fastest[e] = fastest[e].max(v);
            }
            self.flows[bin][e] = Some(FlowCell {
                mean_speed_m_s: v.map(|v| v as f32),
                density_veh_km: row[density].real().unwrap_or(0.0) as f32,
            });
        }
        // Runs stored before edges kept their limit: the fastest mean speed seen on each.
        for (e, f) in self.edges.iter_mut().zip(fastest) {
            if e.speed_m_s.is_none() && f > 0.0 {
                e.speed_m_s = Some(f);
            }
        }
        Ok(())
    }

    /// Start and end of the playback, s.
    pub fn span(&self) -> (f64, f64) {
        (
            self.frames.first().map_or(0.0, |f| f.0),
            self.frames.last().map_or(0.0, |f| f.0),
        )
    }

    /// The times the playback stops at when stepped: the KPI snapshots' (within the frames),
    /// else every frame's.
    pub fn stops(&self) -> Vec<f64> {
        let (a, b) = self.span();
        let mut t: Vec<f64> = self
            .kpis
            .iter()
            .map(|k| k.time_s)
            .filter(|t| *t >= a && *t <= b)
            .collect();
        if t.is_empty() {
            return self.frames.iter().map(|f| f.0).collect();
        }
        if t[0] > a {
            t.insert(0, a);
        }
        if t.last().is_some_and(|l| *l < b) {
            t.push(b);
        }
        t
    }

    /// The frame at or before `t_s` (the first before any).
    pub fn frame_at(&self, t_s: f64) -> usize {
        self.frames.partition_point(|f| f.0 <= t_s).saturating_sub(1)
    }

    /// The vehicles at `t_s`, moved on from the frame before it towards the frame after:
    /// along their edge, onto the next edge where they crossed a junction, across lanes where
    /// they changed. A frame that does not decode, or names an edge the run does not have, is
    /// an error naming the run and the time.
    pub fn vehicles_at(&self, t_s: f64, cache: &mut FrameCache) -> anyhow::Result<Vec<PlacedVehicle>> {
        let k = self.frame_at(t_s);
        if cache.k != Some(k) {
            let decode = |i: usize| -> anyhow::Result<Vec<VehiclePos>> {
                let (t, bytes) = &self.frames[i];
                let v = decode_frame(bytes)
                    .map_err(|e| anyhow::anyhow!("run '{}': vehicle frame at {t} s: {e}", self.name))?;
                if let Some(bad) = v.iter().find(|v| v.edge as usize >= self.edges.len()) {
                    anyhow::bail!(
                        "run '{}': vehicle frame at {t} s names edge {}, the run has {}",
                        self.name,
                        bad.edge,
                        self.edges.len()
                    );
                }
                Ok(v)
            };
            cache.k = None;
            cache.a = decode(k)?;
            cache.b = if k + 1 < self.frames.len() {
                decode(k + 1)?
            } else {
                Vec::new()
            };
            cache.b_of = cache.b.iter().enumerate().map(|(i, v)| (v.trip, i)).collect();
            cache.k = Some(k);
        }
        let ta = self.frames[k].0;
        let dt = self.frames.get(k + 1).map_or(0.0, |f| f.0 - ta);
        let f = if dt > 0.0 {
            ((t_s - ta) / dt).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut out = Vec::with_capacity(cache.a.len());
        let mut put = |trip: u32, edge: u32, pos: f64, lane: f64, speed: f64| {
            let e = &self.edges[edge as usize];
            if let Some((xy, dir)) = e.place(pos, lane) {
                out.push(PlacedVehicle {
                    trip,
                    xy,
                    dir,
                    speed_m_s: speed,
                    limit_m_s: e.speed_m_s,
                });
            }
        };
        let mut seen = 0usize;
        for a in &cache.a {
            let (pa, la, va) = (f64::from(a.pos_m), f64::from(a.lane), f64::from(a.speed_m_s));
            let Some(b) = cache.b_of.get(&a.trip).map(|&i| cache.b[i]) else {
                // Arrived (or taken off) before the next frame: on at its speed, to the edge's end.
                let len = self.edges[a.edge as usize].length_m;
                put(a.trip, a.edge, (pa + va * f * dt).min(len), la, va);
                continue;
            };
            seen += 1;
            let (pb, lb, vb) = (f64::from(b.pos_m), f64::from(b.lane), f64::from(b.speed_m_s));
            let v = va + (vb - va) * f;
            if a.edge == b.edge {
                put(a.trip, a.edge, pa + (pb - pa) * f, la + (lb - la) * f, v);
            } else {
                // Over a junction: the rest of its edge, then the next one's start.
                let rest = (self.edges[a.edge as usize].length_m - pa).max(0.0);
                let s = f * (rest + pb);
                if s < rest {
                    put(a.trip, a.edge, pa + s, la, v);
                } else {
                    put(a.trip, b.edge, s - rest, lb, v);
                }
            }
        }
        // Departed since the frame before: shown once the time is nearer the frame they are in.
        if f >= 0.5 && seen < cache.b.len() {
            let known: std::collections::HashSet<u32> = cache.a.iter().map(|v| v.trip).collect();
            for b in cache.b.iter().filter(|b| !known.contains(&b.trip)) {
                put(
                    b.trip,
                    b.edge,
                    f64::from(b.pos_m),
                    f64::from(b.lane),
                    f64::from(b.speed_m_s),
                );
            }
        }
        Ok(out)
    }

    /// The traffic KPIs at `t_s`: vehicles on the roads and their mean speed at the frame
    /// shown (from the last KPI snapshot at or before it where the run did not keep them),
    /// arrived, stuck and undelivered at the last snapshot at or before it (none before the
    /// first).
    pub fn kpi_at(&self, t_s: f64) -> TrafficKpi {
        let mut k = self
            .kpis
            .iter()
            .rev()
            .find(|k| k.time_s <= t_s)
            .cloned()
            .unwrap_or_default();
        if let Some(&(n, speed)) = self.frame_stats.get(self.frame_at(t_s)) {
            k.running = n;
            if let Some(v) = speed {
                k.mean_speed_m_s = v;
            }
        }
        k.time_s = t_s;
        k
    }

    /// The flow interval at `t_s`.
    pub fn bin_at(&self, t_s: f64) -> usize {
        (t_s.max(0.0) / self.bin_s).floor() as usize
    }

    /// Road class (0 free … 3 jammed) of edge `e` in flow interval `bin`, coloured `by`
    /// (`None`: no vehicle there then, or its speed is not known).
    pub fn road_class(&self, bin: usize, e: usize, by: RoadColour) -> Option<usize> {
        let c = (*self.flows.get(bin)?.get(e)?)?;
        let edge = &self.edges[e];
        match by {
            RoadColour::Speed => {
                let v = f64::from(c.mean_speed_m_s?);
                Some(speed_class(v / edge.speed_m_s.filter(|l| *l > 0.0)?))
            }
            RoadColour::Congestion => Some(density_class(
                f64::from(c.density_veh_km) / f64::from(edge.lanes.max(1)),
            )),
        }
    }
}

/// A unit-box's faces for [`vehicle_mesh`]: four corners each (of the 8: bit 0 front, bit 1
/// left, bit 2 top) and the normal in (along, left, up).
const BOX_FACES: [([usize; 4], [f64; 3]); 5] = [
    ([4, 5, 7, 6], [0.0, 0.0, 1.0]),
    ([1, 3, 7, 5], [1.0, 0.0, 0.0]),
    ([2, 0, 4, 6], [-1.0, 0.0, 0.0]),
    ([3, 2, 6, 7], [0.0, 1.0, 0.0]),
    ([0, 1, 5, 4], [0.0, -1.0, 0.0]),
];

/// The vehicles as boxes standing on the ground (over the draped roads), coloured by their
/// speed against the limit where they are ([`road_class_color`] of [`speed_class`]; white
/// where the limit is not known).
pub fn vehicle_mesh(
    vehicles: &[PlacedVehicle],
    terrain: Option<&Raster>,
    fallback_z: f64,
    origin: &LocalOrigin,
) -> MeshData {
    let mut m = MeshData::default();
    let (hl, hw, h) = (0.5 * VEHICLE_LENGTH_M, 0.5 * VEHICLE_WIDTH_M, VEHICLE_HEIGHT_M);
    for v in vehicles {
        let [dx, dy] = v.dir;
        let (lx, ly) = (-dy, dx);
        let c = [v.xy[0] - dx * hl, v.xy[1] - dy * hl];
        let z0 = ground(terrain, c[0], c[1], fallback_z) + DRAPE_LIFT_M + 0.05;
        let colour = match v.limit_m_s.filter(|l| *l > 0.0) {
            Some(l) => road_class_color(speed_class(v.speed_m_s / l)),
            None => [0.9, 0.9, 0.9, 1.0],
        };
        let corner = |i: usize| {
            let a = if i & 1 != 0 { hl } else { -hl };
            let s = if i & 2 != 0 { hw } else { -hw };
            let z = if i & 4 != 0 { z0 + h } else { z0 };
            origin.to_local(c[0] + dx * a + lx * s, c[1] + dy * a + ly * s, z)
        };
        for (q, n) in BOX_FACES {
            let nw = [dx * n[0] + lx * n[1], dy * n[0] + ly * n[1], n[2]];
            let normal = LocalOrigin::dir_to_local(nw);
            let i = q.map(|k| m.push(corner(k), normal, colour));
            m.indices.extend([i[0], i[1], i[2], i[0], i[2], i[3]]);
        }
    }
    m
}

/// The roads with traffic in flow interval `bin`, each direction a ribbon over its own lanes,
/// coloured `by` ([`road_class_color`]); and how many edges were drawn.
pub fn road_state_mesh(
    run: &TrafficRun,
    bin: usize,
    by: RoadColour,
    terrain: Option<&Raster>,
    fallback_z: f64,
    origin: &LocalOrigin,
) -> (MeshData, usize) {
    let step = terrain.map_or(5.0, |t| t.cell_w.min(t.cell_h).max(0.25));
    let mut mesh = MeshData::default();
    let mut n = 0;
    for (e, edge) in run.edges.iter().enumerate() {
        let Some(class) = run.road_class(bin, e, by) else {
            continue;
        };
        let lanes = f64::from(edge.lanes.max(1));
        // The middle of the edge's lanes, right of its line on a two-way road.
        let off = if edge.two_way {
            0.5 * lanes * LANE_WIDTH_M
        } else {
            0.0
        };
        let line = offset_line(&edge.shape, off);
        crate::model::scene::drape_ribbon(
            &line,
            0.8 * lanes * LANE_WIDTH_M,
            step,
            terrain,
            fallback_z,
            road_class_color(class),
            origin,
            &mut mesh,
        );
        n += 1;
    }
    // Over the roads' own ribbons, under the closed roads'.
    for p in &mut mesh.positions {
        p[1] += 0.05;
    }
    (mesh, n)
}

/// `shape` moved `off` m to the right of its direction (each point along the mean of its
/// segments' directions).
fn offset_line(shape: &[[f64; 2]], off: f64) -> geo::LineString<f64> {
    let n = shape.len();
    let dir = |a: [f64; 2], b: [f64; 2]| {
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l = dx.hypot(dy);
        if l > 1e-12 {
            [dx / l, dy / l]
        } else {
            [0.0, 0.0]
        }
    };
    (0..n)
        .map(|k| {
            let p = shape[k];
            let d0 = if k > 0 { dir(shape[k - 1], p) } else { [0.0, 0.0] };
            let d1 = if k + 1 < n {
                dir(p, shape[k + 1])
            } else {
                [0.0, 0.0]
            };
            let (mut dx, mut dy) = (d0[0] + d1[0], d0[1] + d1[1]);
            let l = dx.hypot(dy);
            if l > 1e-12 {
                dx /= l;
                dy /= l;
            }
            geo::coord! { x: p[0] + dy * off, y: p[1] - dx * off }
        })
        .collect::<Vec<_>>()
        .into()
}

/// An edge for [`test_tables`]: code, backward, lanes, length m, speed m/s, shape.
#[doc(hidden)]
pub type TestEdge<'a> = (&'a str, bool, u8, f64, f64, Vec<[f64; 2]>);

/// A traffic run's record and tables as the traffic model stores them, for tests: `edges` are
/// (code, backward, lanes, length m, speed m/s, shape); `frames` are (time, vehicles); one
/// flow interval of `bin_s` per entry of `flows`, each (edge, mean speed, density).
#[doc(hidden)]
pub fn test_tables(
    edges: &[TestEdge],
    frames: &[(f64, Vec<VehiclePos>)],
    flows: &[Vec<(usize, Option<f64>, f64)>],
    bin_s: f64,
) -> (RunRecord, ResultTable, ResultTable, ResultTable) {
    use cim_engine::{ColumnKind::*, ResultColumn};
    let mut e = ResultTable::new(
        "cim_run_edges",
        [
            "edge",
            "code",
            "direction",
            "part",
            "lanes",
            "length_m",
            "speed_m_s",
            "shape",
        ]
        .iter()
        .zip([Integer, Text, Text, Integer, Integer, Real, Real, Blob])
        .map(|(n, k)| ResultColumn::new(n, k))
        .collect(),
        &["edge"],
    );
    for (k, (code, back, lanes, len, speed, shape)) in edges.iter().enumerate() {
        let blob = shape
            .iter()
            .flat_map(|p| p[0].to_le_bytes().into_iter().chain(p[1].to_le_bytes()))
            .collect();
        e.rows.push(vec![
            (k as u64).into(),
            (*code).into(),
            (if *back { "backward" } else { "forward" }).into(),
            0i64.into(),
            i64::from(*lanes).into(),
            (*len).into(),
            (*speed).into(),
            Cell::Blob(blob),
        ]);
    }
    let mut v = ResultTable::new(
        "cim_run_vehicles",
        vec![
            ResultColumn::new("t", Real),
            ResultColumn::new("vehicles", Integer),
            ResultColumn::new("mean_speed_m_s", Real),
            ResultColumn::new("frame", Blob),
        ],
        &["t"],
    );
    for (t, vs) in frames {
        let mean = vs.iter().map(|x| f64::from(x.speed_m_s)).sum::<f64>() / vs.len().max(1) as f64;
        v.rows.push(vec![
            (*t).into(),
            (vs.len() as u64).into(),
            mean.into(),
            Cell::Blob(cim_engine::network::frames::encode_frame(vs)),
        ]);
    }
    let mut f = ResultTable::new(
        "cim_run_road_flows",
        [
            "code",
            "direction",
            "part",
            "from_s",
            "mean_speed_m_s",
            "density_veh_km",
        ]
        .iter()
        .zip([Text, Text, Integer, Real, Real, Real])
        .map(|(n, k)| ResultColumn::nullable(n, k))
        .collect(),
        &[],
    );
    for (b, cells) in flows.iter().enumerate() {
        for &(k, speed, density) in cells {
            let (code, back, ..) = &edges[k];
            f.rows.push(vec![
                (*code).into(),
                (if *back { "backward" } else { "forward" }).into(),
                0i64.into(),
                (b as f64 * bin_s).into(),
                speed.into(),
                density.into(),
            ]);
        }
    }
    let record = RunRecord {
        name: "rush".into(),
        model: "traffic".into(),
        scenario: String::new(),
        created: String::new(),
        completed: true,
        time_reached_s: frames.last().map_or(0.0, |f| f.0),
        outputs: String::new(),
        summary: serde_json::json!({
            "run": {"flow_bin_s": bin_s, "flood_run": "storm", "closure_delay_s": 120.0},
            "kpis": [],
            "kpi_snapshots": [
                {"time_s": 60.0, "values": {"running": 2.0, "arrived": 0.0, "stuck": 0.0, "mean_speed_m_s": 9.0}},
                {"time_s": 120.0, "values": {"running": 1.0, "arrived": 1.0, "stuck": 1.0, "undelivered": 3.0, "mean_speed_m_s": 3.0}}
            ]
        }),
    };
    (record, e, v, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: LocalOrigin = LocalOrigin {
        x: 0.0,
        y: 0.0,
        z: 0.0,
    };

    fn pos(trip: u32, edge: u32, lane: u8, pos_m: f32, speed_m_s: f32) -> VehiclePos {
        VehiclePos {
            trip,
            edge,
            lane,
            pos_m,
            speed_m_s,
        }
    }

    /// East along y = 0: road "a" two-way (edge 0 east, edge 1 west, 2 lanes each way), then
    /// road "b" one-way east, 1 lane, drawn 100 m long but 90 m in the model.
    fn run() -> TrafficRun {
        let edges = [
            (
                "a",
                false,
                2,
                100.0,
                10.0,
                vec![[0.0, 0.0], [60.0, 0.0], [100.0, 0.0]],
            ),
            ("a", true, 2, 100.0, 10.0, vec![[100.0, 0.0], [0.0, 0.0]]),
            ("b", false, 1, 90.0, 20.0, vec![[100.0, 0.0], [200.0, 0.0]]),
        ];
        let frames = [
            (
                0.0,
                vec![
                    pos(1, 0, 0, 90.0, 10.0),
                    pos(2, 0, 1, 20.0, 4.0),
                    pos(3, 1, 0, 50.0, 1.0),
                ],
            ),
            (
                1.0,
                vec![
                    pos(1, 2, 0, 5.0, 10.0),
                    pos(2, 0, 0, 24.0, 4.0),
                    pos(4, 0, 0, 1.0, 2.0),
                ],
            ),
        ];
        let flows = [
            vec![(0, Some(9.0), 10.0), (2, Some(4.0), 40.0)],
            vec![(0, Some(2.0), 60.0), (1, None, 0.0)],
        ];
        let (r, e, v, f) = test_tables(&edges, &frames, &flows, 300.0);
        TrafficRun::from_tables(&r, &e, &v, Some(&f)).unwrap()
    }

    fn near(a: [f64; 2], b: [f64; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3
    }

    #[test]
    fn vehicles_stand_on_their_lanes_to_the_millimetre() {
        let r = run();
        assert!(r.edges[0].two_way && r.edges[1].two_way && !r.edges[2].two_way);
        let w = LANE_WIDTH_M;
        // Driving east on a two-way road with two lanes each way: the right lane's middle is
        // 1.5 lanes south of the line, the left lane's half a lane.
        let (p, d) = r.edges[0].place(50.0, 0.0).unwrap();
        assert!(near(p, [50.0, -1.5 * w]) && near(d, [1.0, 0.0]), "{p:?} {d:?}");
        assert!(near(r.edges[0].place(70.0, 1.0).unwrap().0, [70.0, -0.5 * w]));
        // Driving west: north of the line.
        assert!(near(r.edges[1].place(25.0, 0.0).unwrap().0, [75.0, 1.5 * w]));
        // One-way with one lane: on the line; the model's 90 m stretch over the 100 m drawn.
        assert!(near(r.edges[2].place(45.0, 0.0).unwrap().0, [150.0, 0.0]));
        // Beyond the ends: at the ends.
        assert!(near(r.edges[2].place(500.0, 0.0).unwrap().0, [200.0, 0.0]));
        assert!(near(r.edges[2].place(-3.0, 0.0).unwrap().0, [100.0, 0.0]));
    }

    #[test]
    fn between_frames_vehicles_move_on_over_junctions_and_across_lanes() {
        let r = run();
        let mut cache = FrameCache::default();
        let at = |t: f64, cache: &mut FrameCache| -> HashMap<u32, PlacedVehicle> {
            r.vehicles_at(t, cache)
                .unwrap()
                .into_iter()
                .map(|v| (v.trip, v))
                .collect()
        };
        let w = LANE_WIDTH_M;
        // At a frame's time: where the frame says.
        let v = at(0.0, &mut cache);
        assert_eq!(v.len(), 3);
        assert!(near(v[&1].xy, [90.0, -1.5 * w]));
        assert!(near(v[&3].xy, [50.0, 1.5 * w]));
        // Trip 1 drove the last 10 m of edge 0 and 5 m of edge 2 in the second: at 0.5 s it
        // has gone 7.5 m, still on edge 0; at 0.8 s, 12 m: 2 m into edge 2 (drawn 2.22 m).
        let v = at(0.5, &mut cache);
        assert!(near(v[&1].xy, [97.5, -1.5 * w]), "{:?}", v[&1].xy);
        // Trip 2 moves from the left lane to the right one: halfway across at 0.5 s.
        assert!(near(v[&2].xy, [22.0, -w]), "{:?}", v[&2].xy);
        // Trip 3 is gone at the next frame (arrived): on at its speed meanwhile.
        assert!(near(v[&3].xy, [49.5, 1.5 * w]), "{:?}", v[&3].xy);
        // Trip 4 departs: shown from halfway on.
        assert!(v.contains_key(&4));
        assert!(!at(0.4, &mut cache).contains_key(&4));
        let v = at(0.8, &mut cache);
        assert!(
            near(v[&1].xy, [100.0 + 2.0 * 100.0 / 90.0, 0.0]),
            "{:?}",
            v[&1].xy
        );
        assert_eq!(v[&1].limit_m_s, Some(20.0));
        // The last frame holds at and after its time.
        let v = at(5.0, &mut cache);
        assert_eq!(v.len(), 3);
        assert!(near(v[&4].xy, [1.0, -1.5 * w]));
    }

    #[test]
    fn roads_are_classed_by_speed_or_by_vehicles_per_lane() {
        let r = run();
        assert_eq!((r.bin_at(0.0), r.bin_at(299.0), r.bin_at(300.0)), (0, 0, 1));
        // 9 of 10 m/s: free; 4 of 20 m/s: 20 %, jammed.
        assert_eq!(r.road_class(0, 0, RoadColour::Speed), Some(0));
        assert_eq!(r.road_class(0, 2, RoadColour::Speed), Some(3));
        assert_eq!(r.road_class(1, 0, RoadColour::Speed), Some(3));
        // 10 veh/km over 2 lanes: 5 a lane, free; 40 on one lane: jammed; 60 over 2: 30, jammed.
        assert_eq!(r.road_class(0, 0, RoadColour::Congestion), Some(0));
        assert_eq!(r.road_class(0, 2, RoadColour::Congestion), Some(3));
        // Vehicles entered but none was seen: no speed to colour by, density 0.
        assert_eq!(r.road_class(1, 1, RoadColour::Speed), None);
        assert_eq!(r.road_class(1, 1, RoadColour::Congestion), Some(0));
        // No flow there then, or an interval past the run.
        assert_eq!(r.road_class(0, 1, RoadColour::Speed), None);
        assert_eq!(r.road_class(7, 0, RoadColour::Speed), None);
        assert_eq!([5.0, 11.0, 15.9, 16.0, 28.0].map(density_class), [0, 1, 1, 2, 3]);
        assert_eq!([1.0, 0.75, 0.6, 0.3, 0.1].map(speed_class), [0, 0, 1, 2, 3]);
        let (m, n) = road_state_mesh(&r, 0, RoadColour::Speed, None, 0.0, &ZERO);
        assert_eq!(n, 2);
        // Edge 0's ribbon lies over its own lanes, south of the line (two lanes: 0..6.5 m;
        // local z is south).
        let zs: Vec<f32> = m.positions.iter().filter(|p| p[0] < 99.0).map(|p| p[2]).collect();
        assert!(!zs.is_empty());
        assert!(zs.iter().all(|z| *z >= 0.5 && *z <= 6.0), "{zs:?}");
        assert!(m.colors.contains(&road_class_color(0)) && m.colors.contains(&road_class_color(3)));
        assert_eq!(road_legend(RoadColour::Congestion)[3].0, "≥ 28");
    }

    #[test]
    fn a_vehicle_is_a_box_behind_its_front_coloured_by_its_speed() {
        let v = PlacedVehicle {
            trip: 1,
            xy: [10.0, 0.0],
            dir: [1.0, 0.0],
            speed_m_s: 2.0,
            limit_m_s: Some(10.0),
        };
        let m = vehicle_mesh(&[v], None, 5.0, &ZERO);
        assert_eq!((m.vertex_count(), m.triangle_count()), (20, 10));
        let xs: Vec<f32> = m.positions.iter().map(|p| p[0]).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f32::MAX, f32::MIN), |a, x| (a.0.min(*x), a.1.max(*x)));
        assert!((lo - 5.5).abs() < 1e-4 && (hi - 10.0).abs() < 1e-4, "{lo} {hi}");
        let top = m.positions.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
        assert!((f64::from(top) - (5.0 + DRAPE_LIFT_M + 0.05 + VEHICLE_HEIGHT_M)).abs() < 1e-4);
        assert!(m.colors.iter().all(|c| *c == road_class_color(3)));
        // Every face looks outwards (its normal away from the box's middle).
        for t in m.indices.chunks(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
            let n = crate::model::scene::triangle_normal(a, b, c);
            let mid = [(a[0] + b[0] + c[0]) / 3.0 - 7.75, (a[2] + b[2] + c[2]) / 3.0];
            let up = (a[1] + b[1] + c[1]) / 3.0 - (5.0 + DRAPE_LIFT_M as f32 + 0.05 + 0.75);
            assert!(n[0] * mid[0] + n[1] * up + n[2] * mid[1] > 0.0, "{n:?}");
            let stored = m.normals[t[0] as usize];
            assert!(
                (0..3).all(|k| (stored[k] - n[k]).abs() < 1e-4),
                "{stored:?} {n:?}"
            );
        }
    }

    #[test]
    fn the_summary_gives_kpis_the_flood_and_the_delay() {
        let r = run();
        assert_eq!(r.flood_run.as_deref(), Some("storm"));
        assert_eq!(r.closure_delay_s, 120.0);
        assert_eq!(r.bin_s, 300.0);
        assert_eq!(r.kpis.len(), 2);
        let k = &r.kpis[1];
        assert_eq!((k.running, k.arrived, k.stuck, k.undelivered), (1, 1, 1, 3));
        use crate::model::i18n::Lang;
        assert_eq!(
            traffic_alerts(k, Lang::En),
            vec![
                "3 trips cannot reach their destination".to_string(),
                "1 vehicles stuck".to_string(),
                "Traffic slow: 11 km/h".to_string()
            ]
        );
        assert!(traffic_alerts(&r.kpis[0], Lang::Zh).is_empty());
        // At the time shown: those on the road and their speed from the frame, the rest from
        // the snapshot before (none before the first).
        let now = r.kpi_at(0.5);
        assert_eq!((now.running, now.arrived, now.time_s), (3, 0, 0.5));
        assert!((now.mean_speed_m_s - 5.0).abs() < 1e-9, "{}", now.mean_speed_m_s);
        let later = r.kpi_at(130.0);
        assert_eq!((later.running, later.arrived, later.undelivered), (3, 1, 3));
        // Stepping stops: the run's first frame, its KPI times within its frames, its last.
        assert_eq!(r.stops(), vec![0.0, 1.0]);
        assert_eq!(r.span(), (0.0, 1.0));
    }

    #[test]
    fn bad_tables_are_clear_errors_naming_the_run() {
        let edges = [("a", false, 1, 10.0, 10.0, vec![[0.0, 0.0], [10.0, 0.0]])];
        let frames = [(0.0, vec![pos(1, 3, 0, 1.0, 1.0)])];
        let (rec, e, v, f) = test_tables(&edges, &frames, &[], 300.0);
        // A frame naming an edge the run does not have.
        let r = TrafficRun::from_tables(&rec, &e, &v, Some(&f)).unwrap();
        let err = r
            .vehicles_at(0.0, &mut FrameCache::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run 'rush'") && err.contains("edge 3, the run has 1"),
            "{err}"
        );
        // A frame that is not one.
        let mut junk = v.clone();
        junk.rows[0][3] = Cell::Blob(b"junk".to_vec());
        let r = TrafficRun::from_tables(&rec, &e, &junk, None).unwrap();
        let err = r
            .vehicles_at(0.0, &mut FrameCache::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("frame at 0 s"), "{err}");
        // A shape that is not x, y pairs; a table without its column; no frames.
        let mut bad = e.clone();
        bad.rows[0][7] = Cell::Blob(vec![0; 12]);
        let err = TrafficRun::from_tables(&rec, &bad, &v, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cim_run_edges row 1") && err.contains("shape"),
            "{err}"
        );
        let mut bad = e.clone();
        bad.columns.remove(7);
        for r in &mut bad.rows {
            r.remove(7);
        }
        let err = TrafficRun::from_tables(&rec, &bad, &v, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no column 'shape'"), "{err}");
        let mut none = v.clone();
        none.rows.clear();
        let err = TrafficRun::from_tables(&rec, &e, &none, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no vehicle frames"), "{err}");
    }
}
