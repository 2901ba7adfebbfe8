"""IfcOpenShell's placement of every product with an IfcLocalPlacement, for cim's tests to
compare with: one JSON line a product, {"id": its #id, "m": the 4x4 matrix, rows}.

Usage: python ifc_placements.py FILE.ifc (with ifcopenshell 0.9 installed)."""

import json
import sys

import ifcopenshell
import ifcopenshell.util.placement

f = ifcopenshell.open(sys.argv[1])
for p in f.by_type("IfcProduct"):
    pl = p.ObjectPlacement
    if pl is None or not pl.is_a("IfcLocalPlacement"):
        continue
    m = ifcopenshell.util.placement.get_local_placement(pl)
    print(json.dumps({"id": p.id(), "m": [[float(v) for v in row] for row in m]}))
