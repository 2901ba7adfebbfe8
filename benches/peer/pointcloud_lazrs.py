#!/usr/bin/env python3
"""Peer benchmark for point clouds: lazrs (through laspy, the same LAZ engine as cim's `laz`
crate) against cim's `pointcloud::read_las`, and py3dtiles against cim's octree tiling.

Decoding is timed on the Autzen fixture and on a bigger LAZ made from it (COPIES copies side by
side, 2.2M points for 20, written by lazrs), best of 5 each:
  - lazrs single-threaded and parallel: `laspy.read` plus the columns cim produces
    (x, y, z as float64, classification, intensity, return number, number of returns);
  - cim: `pointcloud_peer_time` (decode into the same columns, then tiling, timed apart).
Tiling: `py3dtiles convert --jobs 2` on the bigger file, once (it also writes the tiles), when
py3dtiles is installed; cim's tiling time is the octree alone (packing and storing are timed by
`cim import`).

    python3 -m venv /tmp/pc && /tmp/pc/bin/pip install laspy==2.7.0 lazrs py3dtiles
    /tmp/pc/bin/python benches/peer/pointcloud_lazrs.py [COPIES]

Set CIM_PC_TIME to a release `pointcloud_peer_time` (default: built with cargo if missing).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import laspy
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
AUTZEN = os.path.join(ROOT, "..", "shared", "fixtures", "pointcloud", "autzen_trim.laz")


def cim_bin():
    b = os.environ.get("CIM_PC_TIME")
    if b:
        return b
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "pointcloud_peer_time")
    subprocess.run(["cargo", "build", "--release", "-p", "cim-benches", "--bin", "pointcloud_peer_time"],
                   cwd=ROOT, check=True)
    return path


def lazrs_read(path, backend):
    las = laspy.read(path, laz_backend=backend)
    cols = (np.asarray(las.x), np.asarray(las.y), np.asarray(las.z), np.asarray(las.classification),
            np.asarray(las.intensity), np.asarray(las.return_number), np.asarray(las.number_of_returns))
    return len(cols[0])


def best_of(n, f):
    best, out = None, None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, out


def bigger(path, copies, out):
    src = laspy.read(path)
    side = int(np.ceil(np.sqrt(copies)))
    span_x = src.header.maxs[0] - src.header.mins[0] + 10
    span_y = src.header.maxs[1] - src.header.mins[1] + 10
    header = laspy.LasHeader(point_format=src.header.point_format, version=src.header.version)
    header.scales = src.header.scales
    header.offsets = src.header.offsets
    with laspy.open(out, mode="w", header=header, laz_backend=laspy.LazBackend.Lazrs) as w:
        for c in range(copies):
            pts = src.points.copy()
            pts.x = src.x + span_x * (c % side)
            pts.y = src.y + span_y * (c // side)
            w.write_points(pts)


def main():
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    cim = cim_bin()
    with tempfile.TemporaryDirectory() as d:
        big = os.path.join(d, f"autzen_x{copies}.laz")
        bigger(AUTZEN, copies, big)
        for path in (AUTZEN, big):
            mb = os.path.getsize(path) / 1e6
            t1, n = best_of(5, lambda: lazrs_read(path, laspy.LazBackend.Lazrs))
            tp, _ = best_of(5, lambda: lazrs_read(path, laspy.LazBackend.LazrsParallel))
            r = json.loads(subprocess.run([cim, path, "5"], check=True, capture_output=True,
                                          text=True).stdout)
            assert r["points"] == n, (r["points"], n)
            print(f"{os.path.basename(path)}: {n:,} points, {mb:.1f} MB")
            print(f"  decode  cim {r['decode_s']*1e3:8.1f} ms ({n/r['decode_s']/1e6:.2f} M points/s)")
            print(f"          lazrs parallel {tp*1e3:8.1f} ms  ratio {tp/r['decode_s']:.2f}x")
            print(f"          lazrs one thread {t1*1e3:6.1f} ms  ratio {t1/r['decode_s']:.2f}x")
            print(f"  tiling  cim {r['tile_s']*1e3:8.1f} ms ({n/r['tile_s']/1e6:.2f} M points/s, "
                  f"{r['tiles']} tiles; target >= 1 M points/s)")
        if shutil.which("py3dtiles"):
            out = os.path.join(d, "py3dtiles")
            t = time.perf_counter()
            subprocess.run(["py3dtiles", "convert", big, "--out", out, "--jobs", "2", "--overwrite"],
                           check=True, capture_output=True)
            dt = time.perf_counter() - t
            n = laspy.open(big).header.point_count
            print(f"  py3dtiles convert --jobs 2 on the bigger file: {dt:.1f} s "
                  f"({n/dt/1e6:.2f} M points/s, decode, tiling and writing)")


if __name__ == "__main__":
    main()
