#!/usr/bin/env bash
# CityGML is imported in constant memory: the PLATEAU fixture (9 buildings, 1.2 MB) copied
# N times into one file (gml:ids and xlink:hrefs suffixed in every copy but the first, which the
# file's appearance paints), imported with `cim import`,
# peak RSS and wall time printed for each size. Usage: benches/citygml_memory.sh [N...]
# (default 1 10 100). Needs a built `cim` (cargo build) in $CARGO_TARGET_DIR or target/.
set -euo pipefail
cd "$(dirname "$0")/.."
cim="${CARGO_TARGET_DIR:-target}/debug/cim"
src=../shared/fixtures/citygml/plateau_53392633/53392633_bldg_6697_2_op.gml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for n in "${@:-1 10 100}"; do
  for copies in $n; do
    python3 - "$src" "$work/big_$copies.gml" "$copies" <<'PY'
import re, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src, encoding="utf-8").read()
first = text.index("<core:cityObjectMember>")
last = text.rindex("</core:cityObjectMember>") + len("</core:cityObjectMember>")
head, body, tail = text[:first], text[first:last], text[last:]
with open(out, "w", encoding="utf-8") as f:
    f.write(head)
    for c in range(n):
        # The first copy as it is (the file's appearance, before the buildings, paints it).
        f.write(body if c == 0 else re.sub(r'(gml:id="|xlink:href="#)([^"]+)"', lambda m: f'{m.group(1)}{m.group(2)}_{c}"', body))
    f.write(tail)
PY
    rm -f "$work/p.gpkg"
    "$cim" new "$work/p.gpkg" --crs EPSG:6677 --region 000000 >/dev/null
    size=$(stat -c %s "$work/big_$copies.gml")
    /usr/bin/time -f "%M %e" -o "$work/t" "$cim" import "$work/p.gpkg" "$work/big_$copies.gml" >/dev/null
    read -r rss secs <"$work/t"
    echo "copies=$copies file=$((size / 1048576)) MiB buildings=$((9 * copies)) peak_rss=$((rss / 1024)) MiB wall=${secs} s"
  done
done
