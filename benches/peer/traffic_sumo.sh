#!/bin/bash
# Issue 14's speed targets against SUMO 1.28 (PyPI eclipse-sumo, installed into
# ~/.cache/cim-peers/sumo when missing), each on the same case for both tools:
# 1. SUMO's 10x10 grid with SUMO's routes for 3,600 random trips (tests/data/sumo), read by cim;
# 2. a real OSM network (Essen, ../shared/fixtures/osm/graphhopper_edge_based_subnetwork.osm, or
#    $CIM_OSM) imported by cim, with 2,160 random trips over three hours, exported by
#    `cim export --format sumo` (cim's network, signal programs and routes) and run by SUMO.
# Prints each tool's trip statistics, its vehicle updates per second (simulation loop, and the
# whole command on the wall clock) and the ratios.
# Usage: benches/peer/traffic_sumo.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
peers="$HOME/.cache/cim-peers"
target="${CARGO_TARGET_DIR:-$here/target}"
osm="${CIM_OSM:-$here/../shared/fixtures/osm/graphhopper_edge_based_subnetwork.osm}"
if [ ! -x "$peers/sumo/bin/sumo" ]; then
  python3 -m venv "$peers/sumo" && "$peers/sumo/bin/pip" install --quiet eclipse-sumo==1.28.0
fi
sumo="$peers/sumo/bin/sumo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here" && cargo build --release -q --bin cim)
cim="$target/release/cim"
echo "SUMO $("$sumo" --version | head -1 | awk '{print $NF}'), cim $("$cim" --version | awk '{print $NF}')"

# time_cmd OUTVAR command...: runs it, stores the wall seconds.
time_cmd() {
  local var=$1; shift
  local start; start=$(date +%s.%N)
  "$@"
  printf -v "$var" '%s' "$(echo "$(date +%s.%N) - $start" | bc)"
}

compare() { # label sumo-stats.xml cim.json sumo-wall cim-wall
python3 - "$@" <<'PY'
import json, sys, xml.etree.ElementTree as ET
label, stats, cimj, sumo_wall, cim_wall = sys.argv[1:6]
st = ET.parse(stats).getroot()
perf, trips, veh = st.find("performance"), st.find("vehicleTripStatistics"), st.find("vehicles")
c = json.load(open(cimj))
k = {x["key"]: x["value"] for x in c["kpis"]}
sumo_wall, cim_wall = float(sumo_wall), float(cim_wall)
sumo_steps = float(trips.get("totalTravelTime"))
cim_steps = c["run"]["vehicle_steps"]
print(f"\n== {label}")
print(f"{'':34} {'SUMO':>12} {'cim':>12}")
for name, a, b in [
    ("trips", veh.get("loaded"), k["trips"]),
    ("trips arrived", float(veh.get("inserted")) - float(veh.get("running")), k["arrived"]),
    ("mean trip duration, s", trips.get("duration"), k["mean_trip_s"]),
    ("mean waiting time, s", trips.get("waitingTime"), k["mean_waiting_s"]),
    ("mean time loss, s", trips.get("timeLoss"), k["mean_time_loss_s"]),
    ("vehicle-steps", sumo_steps, cim_steps),
]:
    print(f"{name:34} {float(a):12.1f} {float(b):12.1f}")
sumo_loop = float(perf.get("vehicleUpdatesPerSecond"))
cim_loop = c["vehicle_updates_per_s"]
print(f"{'vehicle updates/s, simulation':34} {sumo_loop:12.3e} {cim_loop:12.3e}   ratio {cim_loop / sumo_loop:.1f}x")
print(f"{'vehicle updates/s, whole command':34} {sumo_steps / sumo_wall:12.3e} {cim_steps / cim_wall:12.3e}   ratio {(cim_steps / cim_wall) / (sumo_steps / sumo_wall):.1f}x")
print(f"{'wall, s':34} {sumo_wall:12.2f} {cim_wall:12.2f}")
PY
}

sumo_opts=(--statistic-output stats.xml --duration-log.statistics --no-step-log)

# 1. The grid: SUMO's network and routes.
mkdir "$work/grid" && cd "$work/grid"
gunzip -c "$here/tests/data/sumo/grid.net.xml.gz" > grid.net.xml
gunzip -c "$here/tests/data/sumo/grid.rou.xml.gz" > grid.rou.xml
time_cmd sumo_wall "$sumo" -n grid.net.xml -r grid.rou.xml "${sumo_opts[@]}" --seed 42 > sumo.log 2>&1
"$cim" new grid.cim.gpkg --crs EPSG:32633 > /dev/null
"$cim" import grid.cim.gpkg grid.net.xml --origin 500000,5500000,0 > /dev/null
cat > grid.toml <<TOML
name = "grid"
model = "traffic"
project = "grid.cim.gpkg"
[time]
duration_min = 120
[demand]
sumo = ["grid.rou.xml"]
TOML
time_cmd cim_wall "$cim" run grid.toml --json > cim.json
compare "SUMO's 10x10 grid, 3,600 trips (SUMO's network and routes)" stats.xml cim.json "$sumo_wall" "$cim_wall"

# 2. A real OSM network: cim's import, exported to SUMO.
mkdir "$work/osm" && cd "$work/osm"
"$cim" new osm.gpkg --crs EPSG:32632 > /dev/null
"$cim" import osm.gpkg "$osm" > /dev/null 2>&1
cat > osm.toml <<TOML
name = "osm"
model = "traffic"
project = "osm.gpkg"
seed = 42
[time]
duration_min = 200
[demand.random]
begin_s = 0
end_s = 10800
period_s = 5
TOML
"$cim" export osm.gpkg sumo --format sumo --scenario osm.toml > /dev/null 2>&1
(cd sumo && "$peers/sumo/bin/netconvert" -c cim.netccfg > netconvert.log 2>&1)
time_cmd sumo_wall "$sumo" -c sumo/cim.sumocfg "${sumo_opts[@]}" > sumo.log 2>&1
time_cmd cim_wall "$cim" run osm.toml --json > cim.json
compare "OSM network ($(basename "$osm")), 2,160 random trips (cim's network and routes, exported)" stats.xml cim.json "$sumo_wall" "$cim_wall"
