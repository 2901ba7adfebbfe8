#!/usr/bin/env bash
# Fuzzes cim's parsers for a stated time each (a mutation fuzzer on stable Rust:
# benches/src/bin/fuzz_parsers.rs). Inputs that panic are saved under fuzz-crashes/<target>/;
# each one found becomes a test. Usage: benches/fuzz.sh [SECONDS per target, default 60] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
seed="${2:-1}"
cargo build --release -p cim-benches --bin fuzz_parsers
bin="${CARGO_TARGET_DIR:-target}/release/fuzz_parsers"
status=0
for target in cityjson citygml step mesh sumo_net sumo_routes od_csv las tiles3d subtree osgb sniff; do
  "$bin" "$target" "$secs" "$seed" || status=1
done
exit $status
