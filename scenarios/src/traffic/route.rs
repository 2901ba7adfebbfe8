//! Fastest routes over the edge graph: an edge may follow another where a lane connection
//! joins them (so turn restrictions hold), each costing its travel time at its speed limit.
//! Closed edges (a mask) are never entered.
//!
//! Routes come from Dijkstra's search until enough have been asked to pay for contraction
//! hierarchies over the same edge graph (`fast_paths`; costs in milliseconds): on networks of
//! [`CH_MIN_EDGES`] edges or more, once the routes asked reach a quarter of the edge count
//! (measured on a 39,600-edge grid: preparing costs about as much as 10,000 searches, a route
//! then costs a fifth). After the costs change (periodic rerouting) they are prepared again in
//! the same node order, on the same rule. A route the hierarchies give that meets a closed edge
//! is searched again by Dijkstra with the mask.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use cim_engine::network::Network;

/// Networks with this many edges or more may be routed by contraction hierarchies.
pub const CH_MIN_EDGES: usize = 2_000;

/// When a router prepares contraction hierarchies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchies {
    /// When the routes asked pay for them (see the module).
    Auto,
    /// Now (and again after costs change).
    Always,
    /// Never: Dijkstra's search answers every route.
    Never,
}

/// The graph a router searches.
#[derive(Debug)]
pub struct Router {
    /// Successor edges of each edge, sorted.
    succ: Vec<Vec<u32>>,
    /// Travel time of each edge at its speed limit, s.
    cost: Vec<f64>,
    length: Vec<f64>,
    mode: Hierarchies,
    /// The contraction hierarchies, once prepared.
    ch: OnceLock<Ch>,
    /// The node order of the first preparation, for the next ones.
    order: Option<Arc<Vec<usize>>>,
    /// Routes searched by Dijkstra since the costs were set.
    searched: AtomicUsize,
}

impl Clone for Router {
    fn clone(&self) -> Router {
        Router {
            succ: self.succ.clone(),
            cost: self.cost.clone(),
            length: self.length.clone(),
            mode: self.mode,
            ch: self.ch.clone(),
            order: self.order.clone(),
            searched: AtomicUsize::new(self.searched.load(Ordering::Relaxed)),
        }
    }
}

/// Contraction hierarchies over the edge graph: the prepared graph, its node order (to prepare
/// it again after the costs change) and a path calculator (its search space, kept between
/// queries).
struct Ch {
    graph: Arc<fast_paths::FastGraph>,
    order: Arc<Vec<usize>>,
    calc: Mutex<fast_paths::PathCalculator>,
}

impl Clone for Ch {
    fn clone(&self) -> Ch {
        Ch {
            graph: self.graph.clone(),
            order: self.order.clone(),
            calc: Mutex::new(fast_paths::create_calculator(&self.graph)),
        }
    }
}

impl std::fmt::Debug for Ch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ch({} nodes)", self.graph.get_num_nodes())
    }
}

/// The edge graph with `cost` as `fast_paths` takes it: an arc from each edge to each of its
/// successors weighing the successor's travel time in ms (at least 1).
fn input_graph(succ: &[Vec<u32>], cost: &[f64]) -> fast_paths::InputGraph {
    let mut g = fast_paths::InputGraph::new();
    for (e, next) in succ.iter().enumerate() {
        for &o in next {
            let ms = (cost[o as usize] * 1000.0).round();
            let w = if ms.is_finite() {
                ms.clamp(1.0, 1e12) as usize
            } else {
                1_000_000_000_000
            };
            g.add_edge(e, o as usize, w);
        }
    }
    g.freeze();
    g
}

impl Ch {
    /// Prepared for `cost`, in `order` where given (else finding one).
    fn prepare(succ: &[Vec<u32>], cost: &[f64], order: Option<&Arc<Vec<usize>>>) -> Ch {
        let input = input_graph(succ, cost);
        let (graph, order) =
            match order.and_then(|o| Some((fast_paths::prepare_with_order(&input, o).ok()?, o))) {
                Some((g, o)) => (g, o.clone()),
                None => {
                    let g = fast_paths::prepare(&input);
                    let o = Arc::new(fast_paths::get_node_ordering(&g));
                    (g, o)
                }
            };
        Ch {
            calc: Mutex::new(fast_paths::create_calculator(&graph)),
            graph: Arc::new(graph),
            order,
        }
    }

    /// The fastest route from `from` to `to` (both included): `Some(None)` where there is none,
    /// `None` where the hierarchies cannot say (the calculator was lost to a panic).
    fn route(&self, from: u32, to: u32) -> Option<Option<Vec<u32>>> {
        let n = self.graph.get_num_nodes();
        if from as usize >= n || to as usize >= n {
            // An edge with no arc at all (the graph's last ids): no way between it and another.
            return Some(None);
        }
        let mut calc = self.calc.lock().ok()?;
        let path = calc.calc_path(&self.graph, from as usize, to as usize);
        Some(path.map(|p| p.get_nodes().iter().map(|&e| e as u32).collect()))
    }
}

/// Total order on costs for the heap (costs are finite and non-negative).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Cost(f64);
impl Eq for Cost {}
#[allow(clippy::derive_ord_xor_partial_ord)]
impl Ord for Cost {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Router {
    pub fn new(net: &Network) -> Router {
        let mut succ = vec![Vec::new(); net.edges.len()];
        for c in &net.connections {
            succ[c.from_edge as usize].push(c.to_edge);
        }
        for s in &mut succ {
            s.sort_unstable();
            s.dedup();
        }
        Router {
            succ,
            cost: net
                .edges
                .iter()
                .map(|e| e.length_m / e.speed_m_s.max(0.1))
                .collect(),
            length: net.edges.iter().map(|e| e.length_m).collect(),
            mode: Hierarchies::Auto,
            ch: OnceLock::new(),
            order: None,
            searched: AtomicUsize::new(0),
        }
    }

    /// The same router preparing contraction hierarchies as `mode` says (`Always`: now).
    pub fn with_hierarchies(mut self, mode: Hierarchies) -> Router {
        self.mode = mode;
        self.ch = OnceLock::new();
        if mode == Hierarchies::Always {
            self.prepare_hierarchies();
        }
        self
    }

    /// Whether routes come from contraction hierarchies now.
    pub fn hierarchies(&self) -> bool {
        self.ch.get().is_some()
    }

    fn prepare_hierarchies(&self) -> Option<&Ch> {
        Some(
            self.ch
                .get_or_init(|| Ch::prepare(&self.succ, &self.cost, self.order.as_ref())),
        )
    }

    /// Replaces each edge's cost (travel time, s), as periodic rerouting does; the hierarchies
    /// are prepared again (in their node order) when the rule says.
    pub fn set_costs(&mut self, cost: Vec<f64>) {
        debug_assert_eq!(cost.len(), self.cost.len());
        self.cost = cost;
        if let Some(ch) = self.ch.take() {
            self.order = Some(ch.order);
        }
        self.searched = AtomicUsize::new(0);
        if self.mode == Hierarchies::Always {
            self.prepare_hierarchies();
        }
    }

    /// The hierarchies to route by: prepared already, or now where the routes asked have
    /// reached the rule's count.
    fn hierarchies_now(&self) -> Option<&Ch> {
        if let Some(ch) = self.ch.get() {
            return Some(ch);
        }
        let n = self.succ.len();
        let due = match self.mode {
            Hierarchies::Always => true,
            Hierarchies::Never => false,
            Hierarchies::Auto => n >= CH_MIN_EDGES && self.searched.load(Ordering::Relaxed) >= n / 4,
        };
        if due {
            self.prepare_hierarchies()
        } else {
            None
        }
    }

    /// The travel time of `route` after its first edge, s (what routes are chosen by).
    pub fn cost_of(&self, route: &[u32]) -> f64 {
        route.iter().skip(1).map(|&e| self.cost[e as usize]).sum()
    }

    pub fn edges(&self) -> usize {
        self.succ.len()
    }

    pub fn length(&self, edge: u32) -> f64 {
        self.length[edge as usize]
    }

    pub fn successors(&self, edge: u32) -> &[u32] {
        &self.succ[edge as usize]
    }

    /// The fastest route from `from` to `to` (both included), avoiding `closed` edges (the
    /// start excepted: a vehicle already on it drives on); `None` where there is none.
    pub fn route(&self, from: u32, to: u32, closed: Option<&[bool]>) -> Option<Vec<u32>> {
        let n = self.succ.len();
        if from as usize >= n || to as usize >= n {
            return None;
        }
        if from == to {
            return Some(vec![from]);
        }
        let shut = |e: u32| closed.is_some_and(|c| c[e as usize]);
        if shut(to) {
            return None;
        }
        if let Some(found) = self.hierarchies_now().and_then(|ch| ch.route(from, to)) {
            match found {
                // No way even with every edge open.
                None => return None,
                // The fastest way meets no closed edge: it is the fastest with them.
                Some(r) if !r.iter().skip(1).any(|&e| shut(e)) => return Some(r),
                // Else search round them.
                Some(_) => {}
            }
        }
        self.searched.fetch_add(1, Ordering::Relaxed);
        self.dijkstra(from, to, &shut)
    }

    /// Dijkstra's search from `from` to `to`, never entering an edge `shut` says is closed.
    fn dijkstra(&self, from: u32, to: u32, shut: &dyn Fn(u32) -> bool) -> Option<Vec<u32>> {
        let n = self.succ.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev = vec![u32::MAX; n];
        let mut heap = BinaryHeap::new();
        dist[from as usize] = 0.0;
        heap.push(Reverse((Cost(0.0), from)));
        while let Some(Reverse((Cost(d), e))) = heap.pop() {
            if d > dist[e as usize] {
                continue;
            }
            if e == to {
                break;
            }
            for &o in &self.succ[e as usize] {
                if shut(o) {
                    continue;
                }
                let nd = d + self.cost[o as usize];
                // Ties go to the lower edge id, so routes do not depend on the heap's order.
                if nd < dist[o as usize] || (nd == dist[o as usize] && e < prev[o as usize]) {
                    dist[o as usize] = nd;
                    prev[o as usize] = e;
                    heap.push(Reverse((Cost(nd), o)));
                }
            }
        }
        if !dist[to as usize].is_finite() {
            return None;
        }
        let mut route = vec![to];
        let mut e = to;
        while e != from {
            e = prev[e as usize];
            route.push(e);
        }
        route.reverse();
        Some(route)
    }
}
