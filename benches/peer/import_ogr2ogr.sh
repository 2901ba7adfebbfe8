#!/usr/bin/env bash
# Import of the same generated 1M-polygon GeoPackage: `cim import` (into a new project) vs
# `ogr2ogr -f GPKG` (GDAL converting it into a new GeoPackage). Prints both and the ratio.
# Usage: benches/peer/import_ogr2ogr.sh [N=1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cim-target}"
command -v ogr2ogr >/dev/null || { apt-get update -qq && apt-get install -y -qq gdal-bin >/dev/null; }
cargo build --release -q -p cim-benches --bin gen_buildings_gpkg
cargo build --release -q --bin cim
BIN="$CARGO_TARGET_DIR/release"
W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
"$BIN/gen_buildings_gpkg" "$W/in.gpkg" "$N" 7 >/dev/null
now() { date +%s.%N; }

best_cim=1e9; best_ogr=1e9
for run in 1 2 3; do
  rm -f "$W/p.cim.gpkg" "$W/out.gpkg"
  "$BIN/cim" new "$W/p.cim.gpkg" --crs EPSG:32650 >/dev/null
  t0=$(now); "$BIN/cim" import "$W/p.cim.gpkg" "$W/in.gpkg" --height-attr height_m --json >/dev/null; t1=$(now)
  ogr2ogr -f GPKG "$W/out.gpkg" "$W/in.gpkg" >/dev/null; t2=$(now)
  best_cim=$(python3 -c "print(min($best_cim, $t1-$t0))")
  best_ogr=$(python3 -c "print(min($best_ogr, $t2-$t1))")
done
python3 - "$N" "$best_cim" "$best_ogr" <<'PY'
import sys
n, c, o = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"import of {n} polygons from GeoPackage (best of 3)")
print(f"  cim import     {c:8.2f} s  {n/c:12,.0f} polygons/s   (target >= 200,000/s)")
print(f"  ogr2ogr -f GPKG {o:7.2f} s  {n/o:12,.0f} polygons/s")
print(f"  ratio cim/ogr2ogr speed: {o/c:.2f}x  (target >= 1.0)")
PY
