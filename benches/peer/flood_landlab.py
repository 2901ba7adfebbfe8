#!/usr/bin/env python3
"""Peer benchmark for the flood model: landlab's OverlandFlow vs cim on the same case.

The case: a seeded synthetic catchment (N x N cells of DX m, from cim-benches' flood_case),
closed edges, Manning's n = 0.03, 100 mm/h of rain for the whole run, 1e-5 m of water
everywhere at the start (landlab skips the rain on a grid that starts dry), theta = 0.8 and
alpha = 0.7 (landlab's defaults, set the same in cim), g = 9.81, time steps capped at 10 s in
both. cim runs first (`flood_peer_case`, which writes the DEM and its
end depths); landlab then runs the very same DEM. Printed: cell-updates per second of both, the
ratio, and the RMSE between the end depths.

    python3.12 -m pip install landlab      # landlab 2.11 needs Python >= 3.12
    python3.12 benches/peer/flood_landlab.py [--n 400] [--dx 2] [--minutes 20] [--threads 0]

Set CIM_FLOOD_PEER_BIN to a prebuilt `flood_peer_case` to skip the cargo build.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# Both models cap the time step at this (s): without a cap, the first step on a 1e-5 m film
# is minutes long.
DT_MAX_S = 10.0


def run_cim(d, n, dx, minutes, threads):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    exe = os.environ.get("CIM_FLOOD_PEER_BIN")
    if exe:
        cmd = [exe]
    else:
        cmd = ["cargo", "run", "--quiet", "--release", "-p", "cim-benches", "--bin", "flood_peer_case", "--"]
    cmd += [d, str(n), str(dx), str(minutes), str(threads)]
    print("running:", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_landlab(d, n, dx, minutes):
    from landlab import RasterModelGrid
    from landlab.components import OverlandFlow

    z = np.fromfile(os.path.join(d, "dem.f32"), dtype="<f4").astype(np.float64).reshape(n, n)
    # landlab's perimeter nodes are boundary nodes: pad by one so its core nodes are cim's cells;
    # landlab's rows run south to north, cim's north to south.
    zp = np.pad(z[::-1, :], 1, mode="edge")
    grid = RasterModelGrid((n + 2, n + 2), xy_spacing=dx)
    grid.set_closed_boundaries_at_grid_edges(True, True, True, True)
    grid.add_field("topographic__elevation", zp.ravel(), at="node")
    h = grid.add_zeros("surface_water__depth", at="node")
    h[grid.core_nodes] = 1e-5
    of = OverlandFlow(grid, mannings_n=0.03, rainfall_intensity=0.1 / 3600.0, alpha=0.7, theta=0.8, g=9.81)
    duration = minutes * 60.0
    elapsed, steps = 0.0, 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while elapsed < duration:
        dt = min(of.calc_time_step(), DT_MAX_S, duration - elapsed)
        of.overland_flow(dt=dt)
        elapsed += dt
        steps += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    depth = h.reshape(n + 2, n + 2)[1:-1, 1:-1][::-1, :]
    return {"steps": steps, "seconds": wall, "cpu_seconds": cpu, "depth": depth}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--dx", type=float, default=2.0)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cim = run_cim(d, args.n, args.dx, args.minutes, args.threads)
        ll = run_landlab(d, args.n, args.dx, args.minutes)
        ours = np.fromfile(os.path.join(d, "cim_depth.f64"), dtype="<f8").reshape(args.n, args.n)
    cells = args.n * args.n
    ll_rate = cells * ll["steps"] / ll["seconds"]
    rmse = float(np.sqrt(np.mean((ours - ll["depth"]) ** 2)))
    wet = ll["depth"] > 0.01
    print(f"flood case: {args.n}x{args.n} cells of {args.dx} m, {args.minutes} min of 100 mm/h, n = 0.03")
    print(f"  cim      {cim['steps']:7d} steps {cim['seconds']:9.2f} s  {cim['cell_updates_per_s']:.3e} cell-updates/s  (volume error {cim['volume_error']:.1e})")
    print(f"  landlab  {ll['steps']:7d} steps {ll['seconds']:9.2f} s  {ll_rate:.3e} cell-updates/s  (cpu {ll['cpu_seconds']:.1f} s)")
    print(f"  ratio cim/landlab: {cim['cell_updates_per_s'] / ll_rate:.1f}x  (target >= 100x)")
    print(f"  end depth RMSE: {rmse * 100:.2f} cm over all cells  (target <= 5 cm)")
    print(f"  depth mean / max / min: cim {ours.mean():.4f} / {ours.max():.3f} / {ours.min():.2e} m, landlab {ll['depth'].mean():.4f} / {ll['depth'].max():.3f} / {ll['depth'].min():.2e} m")
    diff = np.abs(ours - ll["depth"])
    print(f"  |difference| median {np.median(diff) * 100:.2f} cm, 99th percentile {np.percentile(diff, 99) * 100:.1f} cm; cells wetter than 1 cm in landlab: {int(wet.sum())}")


if __name__ == "__main__":
    main()
