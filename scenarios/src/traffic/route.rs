//! Fastest routes over the edge graph: an edge may follow another where a lane connection
//! joins them (so turn restrictions hold), each costing its travel time at its speed limit.
//! Closed edges (a mask) are never entered.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use cim_engine::network::Network;

/// The graph a router searches.
#[derive(Clone, Debug)]
pub struct Router {
    /// Successor edges of each edge, sorted.
    succ: Vec<Vec<u32>>,
    /// Travel time of each edge at its speed limit, s.
    cost: Vec<f64>,
    length: Vec<f64>,
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
        }
    }

    /// Replaces each edge's cost (travel time, s), as periodic rerouting does.
    pub fn set_costs(&mut self, cost: Vec<f64>) {
        debug_assert_eq!(cost.len(), self.cost.len());
        self.cost = cost;
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
