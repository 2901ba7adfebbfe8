#!/bin/bash
# Issue 13's IFC targets against the peers, on the same file: IfcOpenShell 0.9 (PyPI, default
# OpenCASCADE kernel) and web-ifc 0.0.78 (npm), each installed into ~/.cache/cim-peers when
# missing. Prints the geometry agreement (boxes within 1 mm, volumes within 1 %), the times and
# the ratios.
# Usage: benches/peer/ifc_peers.sh [FILE.ifc]   (default: the duplex fixture)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
file="${1:-$here/../shared/fixtures/ifc/duplex.ifc}"
peers="$HOME/.cache/cim-peers"
target="${CARGO_TARGET_DIR:-$here/target}"
py="${CIM_PEERS_IFC:-$peers/ifc/bin/python}"
if [ ! -x "$py" ]; then
  python3 -m venv "$peers/ifc" && "$peers/ifc/bin/pip" install --quiet ifcopenshell==0.9.0.post1
  py="$peers/ifc/bin/python"
fi
if [ ! -d "$peers/webifc/node_modules/web-ifc" ]; then
  mkdir -p "$peers/webifc"
  (cd "$peers/webifc" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund web-ifc@0.0.78)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== IfcOpenShell 0.9 (default kernel) on $file"
"$py" "$here/tests/peers/ifc_geometry.py" "$file" > "$work/ios.jsonl"
echo "== web-ifc 0.0.78"
NODE_PATH="$peers/webifc/node_modules" node "$here/benches/peer/ifc_webifc.js" "$file" > "$work/webifc.json"
echo "== cim"
(cd "$here" && cargo build --release -q -p cim-benches --bin ifc_peer_compare)
"$target/release/ifc_peer_compare" "$file" "$work/ios.jsonl" "$work/webifc.json"
