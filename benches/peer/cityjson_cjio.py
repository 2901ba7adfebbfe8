#!/usr/bin/env python3
"""Peer benchmark for CityJSON: cjio (the CityJSON reference tool) against `cim import`.

Times `cjio FILE info` (it parses the whole file and counts objects: the least a reader does)
and a whole `cim import FILE` into a new project (parse, place, triangulate every surface,
footprints, store features and meshes), best of 3 each, and prints both and the ratio. Also
prints cim's object count beside cjio's, so the two readings can be compared.

    python3 -m venv /tmp/cj && /tmp/cj/bin/pip install cjio==0.10.1
    PATH=/tmp/cj/bin:$PATH python3 benches/peer/cityjson_cjio.py [FILE]

FILE defaults to ../shared/fixtures/cityjson/delft.city.json. Set CIM_BIN to a release `cim`
(default: target/release/cim under CARGO_TARGET_DIR, built if missing).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def cim_bin():
    b = os.environ.get("CIM_BIN")
    if b:
        return b
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "cim")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release", "--bin", "cim"], cwd=ROOT, check=True)
    return path


def best_of(n, f):
    best = None
    out = None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "fixtures", "cityjson", "delft.city.json")
    size_mb = os.path.getsize(src) / 1e6
    cim = cim_bin()
    with tempfile.TemporaryDirectory() as d:
        def run_cim():
            p = os.path.join(d, "p.cim.gpkg")
            if os.path.exists(p):
                os.remove(p)
            subprocess.run([cim, "new", p, "--crs", "EPSG:28992", "--region", "000000"], check=True, capture_output=True)
            t = time.perf_counter()
            r = subprocess.run([cim, "import", p, src, "--json"], check=True, capture_output=True, text=True)
            return time.perf_counter() - t, json.loads(r.stdout)

        times = [run_cim() for _ in range(3)]
        cim_s = min(t for t, _ in times)
        report = times[0][1]
        objects = sum(l.get("read", 0) for l in report.get("layers", []))
    print(f"file: {src} ({size_mb:.2f} MB)")
    print(f"cim import: {cim_s * 1000:.0f} ms, {size_mb / cim_s:.1f} MB/s, {objects} objects")
    cjio = shutil.which("cjio")
    if not cjio:
        print("cjio not found (pip install cjio==0.10.1): no ratio")
        return
    cj_s, out = best_of(3, lambda: subprocess.run([cjio, src, "info"], check=True, capture_output=True, text=True).stdout)
    import re
    count = sum(int(n) for n in re.findall(r"^\|-- \w+ \((\d+)\)", out, re.M))
    print(f"cjio info: {cj_s * 1000:.0f} ms, {count} objects")
    if count != objects:
        print(f"note: cjio counts {count} objects, cim read {objects}")
    print(f"cjio info / cim import: {cj_s / cim_s:.1f}x")


if __name__ == "__main__":
    main()
