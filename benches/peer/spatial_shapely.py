#!/usr/bin/env python3
"""Peer benchmark for the spatial index: shapely 2 STRtree vs cim on the same boxes.

Runs the cim side (`cargo run --release -p cim-benches --bin spatial_peer_compare`), which
generates 1M synthetic building footprints and 1M window queries (~10 hits each), times its
own bulk load and queries, and writes the footprint boxes and query windows as raw
little-endian f64 (xmin, ymin, xmax, ymax). This script then builds a shapely STRtree over
exactly those boxes and runs exactly those windows, vectorised (`tree.query(array)`) and one
by one, and prints both sides with the ratio.

Times are taken as wall and as thread CPU time; on a shared machine the CPU figure is the
fairer one, and the ratio is computed from it. Both sides run on one core.

    pip install shapely numpy
    python3 benches/peer/spatial_shapely.py [--n 1000000] [--queries 1000000] [--loop 100000]

Set CIM_SPATIAL_PEER_BIN to a prebuilt `spatial_peer_compare` to skip the cargo build.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import shapely


def timed(f):
    w, c = time.perf_counter(), time.thread_time()
    out = f()
    return out, time.perf_counter() - w, time.thread_time() - c


def run_cim(data_dir, n, queries):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "cim-benches",
           "--bin", "spatial_peer_compare", "--", data_dir, str(n), str(queries)]
    if os.environ.get("CIM_SPATIAL_PEER_BIN"):  # a prebuilt binary, e.g. from another target dir
        cmd = [os.environ["CIM_SPATIAL_PEER_BIN"], data_dir, str(n), str(queries)]
    print("running:", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="buildings")
    ap.add_argument("--queries", type=int, default=1_000_000, help="window queries")
    ap.add_argument("--loop", type=int, default=100_000, help="queries for the one-by-one loop")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        cim = run_cim(d, args.n, args.queries)
        boxes = np.fromfile(os.path.join(d, "boxes.f64"), dtype="<f8").reshape(-1, 4)
        wins = np.fromfile(os.path.join(d, "queries.f64"), dtype="<f8").reshape(-1, 4)

    geoms, box_wall, box_cpu = timed(lambda: shapely.box(*boxes.T))
    # GEOS builds the tree lazily; a first query forces it, so it is included in the build.
    def build():
        t = shapely.STRtree(geoms)
        t.query(shapely.box(0, 0, 1, 1))
        return t
    tree, build_wall, build_cpu = timed(build)

    qgeoms = shapely.box(*wins.T)
    res, vec_wall, vec_cpu = timed(lambda: tree.query(qgeoms))
    hits = res.shape[1]
    loop_n = min(args.loop, len(qgeoms))
    loop_hits, loop_wall, loop_cpu = timed(lambda: sum(len(tree.query(g)) for g in qgeoms[:loop_n]))

    if hits != cim["hits"]:
        print(f"WARNING: hit counts differ: shapely {hits}, cim {cim['hits']}", file=sys.stderr)

    nq = len(qgeoms)
    ns = lambda s, k: s / k * 1e9
    rows = [
        (f"bulk load {args.n} boxes (s)", cim["bulk_load_boxes_s"], (build_wall, build_cpu), 1.0),
        (f"  cim: {args.n} LOD1 prisms (s)", cim["bulk_load_prisms_s"], None, None),
        ("  shapely: + shapely.box() (s)", None, (box_wall + build_wall, box_cpu + build_cpu), None),
        ("window, batch (ns/query)", cim["for_each_ns_per_query"], (ns(vec_wall, nq), ns(vec_cpu, nq)), None),
        ("window, one by one (ns/query)", cim["window_2d_ns_per_query"],
         (ns(loop_wall, loop_n), ns(loop_cpu, loop_n)), None),
    ]
    print(f"\n{args.n} buildings, {nq} windows, {hits / nq:.2f} hits per window "
          f"(cim {cim['hits']}, shapely {hits} hits in all)")
    print("cim batch = for_each_in_window_2d (no allocation); shapely batch = tree.query(array)")
    print("cim one by one = window_2d (sorted Vec); shapely one by one = tree.query(box) in a loop\n")
    print(f"{'':34} {'cim wall':>10} {'cim cpu':>10} {'shapely wall':>13} {'shapely cpu':>12} {'ratio (cpu)':>12}")
    for name, c, s, _ in rows:
        cw, cc = c if c else ("", "")
        sw, sc = s if s else ("", "")
        ratio = f"{sc / cc:.2f}x" if c and s else ""
        fmt = lambda v: f"{v:.4g}" if v != "" else ""
        print(f"{name:34} {fmt(cw):>10} {fmt(cc):>10} {fmt(sw):>13} {fmt(sc):>12} {ratio:>12}")
    print(f"\ncim memory: {cim['memory_bytes_per_building']:.0f} B/building (estimate), "
          f"{cim['rss_bytes_per_building_beyond_coords']:.0f} B/building (RSS, beyond coordinates)")
    print(f"shapely one-by-one loop ran {loop_n} queries, {loop_hits} hits")


if __name__ == "__main__":
    main()
