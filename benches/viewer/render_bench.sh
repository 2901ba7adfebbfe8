#!/usr/bin/env bash
# Frame times of the viewer, rendering offscreen at 1920x1080 on whatever Vulkan device is present
# (a GPU, or Mesa's lavapipe on the CPU): the demo district, and generated cities of 100k and 1M
# LOD1 buildings (the seeded synthetic city of the import bench, ~30 x 30 km, on a flat ground).
# Prints `cim render --bench` for each: time to the first frame and the median frame time.
#
#   cargo build --release --bin cim -p cim-benches --bins
#   bash benches/viewer/render_bench.sh [SIZES...]        # default: 100000 1000000
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cim="${CIM:-$target/release/cim}"
gen="${GEN:-$target/release/gen_buildings_gpkg}"
sizes=("${@:-100000 1000000}")
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
