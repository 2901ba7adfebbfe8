#!/bin/bash
# Issue 14's speed target against SUMO 1.28 (PyPI eclipse-sumo, installed into
# ~/.cache/cim-peers/sumo when missing), on the same case: SUMO's 10x10 grid with SUMO's routes
# for 3,600 random trips (tests/data/sumo). Prints each tool's trip statistics, its vehicle
# updates per second (simulation loop, and whole command on the wall clock) and the ratios.
# Usage: benches/peer/traffic_sumo.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
peers="$HOME/.cache/cim-peers"
target="${CARGO_TARGET_DIR:-$here/target}"
if [ ! -x "$peers/sumo/bin/sumo" ]; then
  python3 -m venv "$peers/sumo" && "$peers/sumo/bin/pip" install --quiet eclipse-sumo==1.28.0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gunzip -c "$here/tests/data/sumo/grid.net.xml.gz" > "$work/grid.net.xml"
gunzip -c "$here/tests/data/sumo/grid.rou.xml.gz" > "$work/grid.rou.xml"

echo "== SUMO $("$peers/sumo/bin/sumo" --version | head -1 | awk '{print $NF}')"
start=$(date +%s.%N)
"$peers/sumo/bin/sumo" -n "$work/grid.net.xml" -r "$work/grid.rou.xml" --statistic-output "$work/stats.xml" \
  --duration-log.statistics --no-step-log --seed 42 > "$work/sumo.log" 2>&1
sumo_wall=$(echo "$(date +%s.%N) - $start" | bc)

echo "== cim"
(cd "$here" && cargo build --release -q --bin cim)
cim="$target/release/cim"
"$cim" new "$work/grid.cim.gpkg" --crs EPSG:32633 > /dev/null
"$cim" import "$work/grid.cim.gpkg" "$work/grid.net.xml" --origin 500000,5500000,0 > /dev/null
cat > "$work/grid.toml" <<TOML
name = "grid"
model = "traffic"
project = "grid.cim.gpkg"
[time]
duration_min = 120
[demand]
sumo = ["grid.rou.xml"]
TOML
start=$(date +%s.%N)
"$cim" run "$work/grid.toml" --json > "$work/cim.json"
cim_wall=$(echo "$(date +%s.%N) - $start" | bc)

python3 - "$work/stats.xml" "$work/cim.json" "$sumo_wall" "$cim_wall" <<'PY'
import json, sys, xml.etree.ElementTree as ET
st = ET.parse(sys.argv[1]).getroot()
perf, trips = st.find("performance"), st.find("vehicleTripStatistics")
c = json.load(open(sys.argv[2]))
k = {x["key"]: x["value"] for x in c["kpis"]}
sumo_wall, cim_wall = float(sys.argv[3]), float(sys.argv[4])
sumo_steps = float(trips.get("totalTravelTime"))
cim_steps = c["run"]["vehicle_steps"]
print(f"{'':34} {'SUMO':>12} {'cim':>12}")
for label, a, b in [
    ("trips arrived", float(st.find("vehicles").get("inserted")) - float(st.find("vehicles").get("running")), k["arrived"]),
    ("mean trip duration, s", trips.get("duration"), k["mean_trip_s"]),
    ("mean waiting time, s", trips.get("waitingTime"), k["mean_waiting_s"]),
    ("mean time loss, s", trips.get("timeLoss"), k["mean_time_loss_s"]),
    ("vehicle-steps", sumo_steps, cim_steps),
]:
    print(f"{label:34} {float(a):12.1f} {float(b):12.1f}")
sumo_loop = float(perf.get("vehicleUpdatesPerSecond"))
cim_loop = c["vehicle_updates_per_s"]
print(f"{'vehicle updates/s, simulation':34} {sumo_loop:12.3e} {cim_loop:12.3e}   ratio {cim_loop / sumo_loop:.1f}x")
print(f"{'vehicle updates/s, whole command':34} {sumo_steps / sumo_wall:12.3e} {cim_steps / cim_wall:12.3e}   ratio {(cim_steps / cim_wall) / (sumo_steps / sumo_wall):.1f}x")
print(f"{'wall, s':34} {sumo_wall:12.2f} {cim_wall:12.2f}")
PY
