#!/usr/bin/env bash
# Frame times of the viewer, rendering offscreen at 1920x1080 on whatever Vulkan device is present
# (a GPU, or Mesa's lavapipe on the CPU): the demo district, and generated cities of 100k and 1M
# LOD1 buildings (the seeded synthetic city of the import bench, ~30 x 30 km, on a flat ground).
# Prints `cim render --bench` for each: time to the first frame and the median frame time.
# With TERRAIN_KM=10 it also renders a synthetic DEM of 10 × 10 km at 1 m (100 km², 10⁸ cells),
# once over the whole of it and once from a street-level view, to show terrain levels of detail.
#
#   cargo build --release --bin cim && cargo build --release -p cim-benches --bins
#   bash benches/viewer/render_bench.sh [SIZES...]        # default: 100000 1000000
#   TERRAIN_KM=10 bash benches/viewer/render_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cim="${CIM:-$target/release/cim}"
gen="${GEN:-$target/release/gen_buildings_gpkg}"
gen_dem="${GEN_DEM:-$target/release/gen_dem_tif}"
if [ -n "${TERRAIN_KM:-}" ] && [ "$#" -eq 0 ]; then sizes=(); else sizes=("${@:-100000 1000000}"); fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== demo district"
"$cim" demo --out "$tmp/demo" --no-flood --json >/dev/null
"$cim" render "$tmp/demo/bubenec.cim.gpkg" --size 1920x1080 --out "$tmp/demo.png" --bench 20

for n in ${sizes[@]}; do
  echo "== generated city, $n buildings"
  "$gen" "$tmp/b$n.gpkg" "$n" >/dev/null
  "$cim" new "$tmp/c$n.cim.gpkg" --crs EPSG:32650 >/dev/null
  "$cim" import "$tmp/c$n.cim.gpkg" "$tmp/b$n.gpkg" --kind building --default-height 15 >/dev/null
  /usr/bin/time -f "   peak memory %M KiB" "$cim" render "$tmp/c$n.cim.gpkg" --size 1920x1080 --out "$tmp/c$n.png" --bench 5
done

if [ -n "${TERRAIN_KM:-}" ]; then
  side=$((TERRAIN_KM * 1000))
  echo "== terrain, ${TERRAIN_KM} × ${TERRAIN_KM} km at 1 m"
  "$gen_dem" "$tmp/dem.tif" "$side" 1
  "$cim" new "$tmp/t.cim.gpkg" --crs EPSG:32650 >/dev/null
  /usr/bin/time -f "   import: %e s, peak memory %M KiB" "$cim" import "$tmp/t.cim.gpkg" "$tmp/dem.tif" >/dev/null
  echo "-- the whole of it"
  /usr/bin/time -f "   peak memory %M KiB" "$cim" render "$tmp/t.cim.gpkg" --size 1920x1080 --out "$tmp/t_all.png" --bench 5
  echo "-- from 300 m away, looking along the ground"
  mid_x=$((400000 + side / 2)); mid_y=$((2500000 + side / 2))
  /usr/bin/time -f "   peak memory %M KiB" "$cim" render "$tmp/t.cim.gpkg" --size 1920x1080 --out "$tmp/t_near.png" \
    --camera "$mid_x,$mid_y,60,30,20,300" --bench 5
fi
