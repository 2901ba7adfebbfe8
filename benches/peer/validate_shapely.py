#!/usr/bin/env python3
"""Peer benchmark for the validity check of one huge polygon: GEOS (shapely.is_valid) vs cim.

Builds and runs `gen_huge_polygon` (release), which writes a simple polygon of N vertices (a
coastline-like ring, seeded) as GeoJSON and times cim's check (`validate::check_shape`, best of
3). This script loads the same file, times shapely's `is_valid` (GEOS; best of 3, building the
polygon not counted), then times a whole `cim import` of the file into a new project (reading,
checking, transforming, storing), and prints the figures and the ratio.

    pip install shapely
    python3 benches/peer/validate_shapely.py [--n 2000000]

Set CIM_BIN_DIR to a folder with prebuilt release `cim` and `gen_huge_polygon` to skip cargo.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import shapely


def build(bins):
    d = os.environ.get("CIM_BIN_DIR")
    if d:
        return d
    subprocess.run(["cargo", "build", "--release", "-p", "cim-benches", "--bin", "gen_huge_polygon",
                    "-p", "cim", "--bin", "cim"], check=True)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2_000_000)
    args = ap.parse_args()
    bins = build(["gen_huge_polygon", "cim"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "district.geojson")
        out = subprocess.run([os.path.join(bins, "gen_huge_polygon"), str(args.n), path],
                             check=True, capture_output=True, text=True).stdout
        cim = json.loads(out)
        with open(path) as f:
            ring = json.load(f)["features"][0]["geometry"]["coordinates"][0]
        poly = shapely.Polygon(ring)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            valid = shapely.is_valid(poly)
            best = min(best, time.perf_counter() - t)
        project = os.path.join(tmp, "p.cim.gpkg")
        cim_bin = os.path.join(bins, "cim")
        subprocess.run([cim_bin, "new", project, "--crs", "EPSG:4547", "--region", "440106"],
                       check=True, capture_output=True)
        t = time.perf_counter()
        subprocess.run([cim_bin, "import", project, path, "--kind", "other"], check=True, capture_output=True)
        import_s = time.perf_counter() - t
    print(f"polygon of {args.n} vertices")
    print(f"  cim check_shape   {cim['check_s']:.3f} s  ({cim['verdict']})")
    print(f"  GEOS is_valid     {best:.3f} s  (valid: {valid})")
    print(f"  ratio (GEOS / cim) {best / cim['check_s']:.2f}x")
    print(f"  cim import, whole {import_s:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
