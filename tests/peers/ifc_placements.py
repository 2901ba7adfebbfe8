"""IfcOpenShell's reading of every product, for cim's tests to compare with: one JSON line a
product, {"id": its #id, "class", "guid", "container": the #id of its spatial container (direct
or through its whole) or null, "m": its placement's 4x4 matrix (rows) or null where it has no
IfcLocalPlacement}.

Usage: python ifc_placements.py FILE.ifc (with ifcopenshell 0.9 installed)."""

import json
import sys

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.placement

f = ifcopenshell.open(sys.argv[1])
for p in f.by_type("IfcProduct"):
    pl = p.ObjectPlacement
    m = None
    if pl is not None and pl.is_a("IfcLocalPlacement"):
        m = [[float(v) for v in row] for row in ifcopenshell.util.placement.get_local_placement(pl)]
    c = ifcopenshell.util.element.get_container(p)
    print(json.dumps({"id": p.id(), "class": p.is_a(), "guid": p.GlobalId,
                      "container": c.id() if c is not None else None, "m": m}))
