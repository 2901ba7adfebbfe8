"""IfcOpenShell's geometry of every product, for cim to compare with: one JSON line a shape,
{"id", "class", "lo": [x, y, z], "hi": [x, y, z] (world coordinates, metres), "volume" (m³, the
enclosed volume: the sizes of the signed volumes of its
pieces, a piece the triangles joined by shared points, so that a surface model's faces count the
same whichever way its file turns them), "area" (m², of all its triangles), "closed" (whether
every edge, points welded to a micrometre, is shared by exactly two triangles running it opposite
ways: where not, the signed volumes mean nothing and the area is the measure to compare), "triangles"}, then a last line {"cpu_s": CPU seconds the
iteration took}.

Usage: python ifc_geometry.py FILE.ifc [KERNEL] (ifcopenshell 0.9; KERNEL as
ifcopenshell.geom.iterator's geometry_library, default opencascade)."""

import json
import sys
import time

import ifcopenshell
import ifcopenshell.geom

path = sys.argv[1]
kernel = sys.argv[2] if len(sys.argv) > 2 else "opencascade"
t0 = time.process_time()
f = ifcopenshell.open(path)
s = ifcopenshell.geom.settings()
s.set("use-world-coords", True)
it = ifcopenshell.geom.iterator(s, f, 1, geometry_library=kernel)
out = []
if it.initialize():
    while True:
        shape = it.get()
        g = shape.geometry
        v = g.verts
        fc = g.faces
        xs, ys, zs = v[0::3], v[1::3], v[2::3]
        # Pieces: triangles joined through points at the same place (to a micrometre).
        key = [(round(xs[k] * 1e6), round(ys[k] * 1e6), round(zs[k] * 1e6)) for k in range(len(xs))]
        parent = {}

        def find(a):
            while parent.setdefault(a, a) != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for k in range(0, len(fc), 3):
            a, b, c = find(key[fc[k]]), find(key[fc[k + 1]]), find(key[fc[k + 2]])
            parent[b] = a
            parent[find(c)] = a
        pieces = {}
        for k in range(0, len(fc), 3):
            a, b, c = fc[k], fc[k + 1], fc[k + 2]
            ax, ay, az = xs[a], ys[a], zs[a]
            bx, by, bz = xs[b], ys[b], zs[b]
            cx, cy, cz = xs[c], ys[c], zs[c]
            v = (ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx)) / 6.0
            r = find(key[a])
            pieces[r] = pieces.get(r, 0.0) + v
        vol = sum(abs(v) for v in pieces.values())
        area = 0.0
        edges = {}
        for k in range(0, len(fc), 3):
            t = [fc[k], fc[k + 1], fc[k + 2]]
            p = [(xs[i], ys[i], zs[i]) for i in t]
            u = [p[1][j] - p[0][j] for j in range(3)]
            w = [p[2][j] - p[0][j] for j in range(3)]
            cx = (u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0])
            area += (cx[0] ** 2 + cx[1] ** 2 + cx[2] ** 2) ** 0.5 / 2.0
            for j in range(3):
                a, b = key[t[j]], key[t[(j + 1) % 3]]
                if a != b:
                    e = (min(a, b), max(a, b))
                    edges.setdefault(e, []).append(a < b)
        closed = all(len(n) == 2 and n[0] != n[1] for n in edges.values())
        if xs:
            out.append({"id": shape.id, "class": f.by_id(shape.id).is_a(),
                        "lo": [min(xs), min(ys), min(zs)], "hi": [max(xs), max(ys), max(zs)],
                        "volume": vol, "area": area, "closed": closed,
                        "triangles": len(fc) // 3})
        if not it.next():
            break
cpu = time.process_time() - t0
for o in out:
    print(json.dumps(o))
print(json.dumps({"cpu_s": cpu}))
